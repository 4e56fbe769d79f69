/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <assert.h>

#include "bucket.h"

bool bucket_invariant(const TokenBucket *b) {
        if (b->tokens > b->size)
                return false;
        if (b->debt > b->size || (b->debt > 0 && b->tokens > 0))
                return false;
        if (b->carry >= USEC_PER_SEC)
                return false;
        if (b->size == 0 && (b->tokens != 0 || b->carry != 0 || b->debt != 0))
                return false;
        return true;
}

void bucket_init(TokenBucket *b, uint64_t size) {
        *b = (TokenBucket){.size = size};
        assert(bucket_invariant(b));
}

void bucket_refill(TokenBucket *b, uint64_t rate_per_sec, uint64_t elapsed_usec) {
        if (!bucket_enabled(b))
                return;

        /* rate * elapsed is in token-microseconds; whole tokens are that over
         * 1e6, and the remainder is carried to the next refill, so nothing is
         * lost however fine the ticks are.  128 bits cannot overflow: both
         * factors are below 2^64 and the carry below 2^20. */
        unsigned __int128 acc = (unsigned __int128)rate_per_sec * elapsed_usec + b->carry;
        unsigned __int128 whole = acc / USEC_PER_SEC;
        uint64_t room = b->size - b->tokens;

        /* Debt first. */
        if (whole <= b->debt) {
                b->debt -= (uint64_t)whole;
                b->carry = (uint64_t)(acc % USEC_PER_SEC);
                assert(bucket_invariant(b));
                return;
        }
        whole -= b->debt;
        b->debt = 0;

        if (whole >= room) {
                /* Full: what does not fit, carry included, is gone. */
                b->tokens = b->size;
                b->carry = 0;
        } else {
                b->tokens += (uint64_t)whole;
                b->carry = (uint64_t)(acc % USEC_PER_SEC);
        }
        assert(bucket_invariant(b));
}

BucketResult bucket_consume(TokenBucket *b, uint64_t amount, uint64_t *ret_missing) {
        if (!bucket_enabled(b))
                return BUCKET_DISABLED;

        if (amount <= b->tokens) {
                b->tokens -= amount;
                assert(bucket_invariant(b));
                return BUCKET_OK;
        }

        uint64_t missing = amount - b->tokens;
        if (ret_missing)
                *ret_missing = missing;
        b->tokens = 0;
        b->debt = missing >= b->size - b->debt ? b->size : b->debt + missing;
        assert(bucket_invariant(b));
        return BUCKET_OVERCONSUMED;
}

void bucket_resize(TokenBucket *b, uint64_t size) {
        b->size = size;
        if (b->tokens > size)
                b->tokens = size;
        if (b->debt > size)
                b->debt = size;
        if (size == 0 || b->tokens == size)
                b->carry = 0;
        assert(bucket_invariant(b));
}

uint64_t bucket_time_to(const TokenBucket *b, uint64_t want, uint64_t rate_per_sec) {
        if (want <= b->tokens)
                return 0;
        if (want > b->size || rate_per_sec == 0)
                return UINT64_MAX;

        /* Token-microseconds still needed (debt first), less the carried fraction, rounded up. */
        unsigned __int128 need = ((unsigned __int128)(want - b->tokens) + b->debt) * USEC_PER_SEC - b->carry;
        unsigned __int128 usec = (need + rate_per_sec - 1) / rate_per_sec;
        return usec > UINT64_MAX ? UINT64_MAX : (uint64_t)usec;
}
