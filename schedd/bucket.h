/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A token bucket as a pure unit, after Firecracker's rate limiter: no clock
 * of its own (elapsed time comes in), exact integer arithmetic (refill
 * multiplies in 128 bits and carries the remainder of every refill, so a
 * million 1 µs refills add exactly what one 1 s refill adds), and a
 * disabled state of its own (size 0).
 *
 * Tokens are whole units of the resource: CPU-microseconds, bytes or I/O
 * operations.  Rates are tokens per second.
 */

#include <stdbool.h>
#include <stdint.h>

#define USEC_PER_SEC 1000000ULL

typedef struct TokenBucket {
        uint64_t size;   /* capacity in tokens; 0 = disabled */
        uint64_t tokens; /* 0..size */
        uint64_t carry;  /* remainder of rate*elapsed not yet a whole token, in token-usec (< USEC_PER_SEC) */
        uint64_t debt;   /* tokens used beyond what there were (0..size), paid back by the next refills */
} TokenBucket;

typedef enum BucketResult {
        BUCKET_OK,           /* the tokens were there and are taken */
        BUCKET_OVERCONSUMED, /* fewer tokens than asked: the bucket is now empty */
        BUCKET_DISABLED,     /* no bucket: nothing to take from */
} BucketResult;

void bucket_init(TokenBucket *b, uint64_t size);
static inline bool bucket_enabled(const TokenBucket *b) {
        return b->size > 0;
}

/* Adds rate_per_sec * elapsed_usec / 1e6 tokens, exactly: first paying
 * back any debt, then filling, capped at size (what is capped away is lost,
 * carry included). */
void bucket_refill(TokenBucket *b, uint64_t rate_per_sec, uint64_t elapsed_usec);

/* Takes `amount` tokens.  BUCKET_OVERCONSUMED when there were fewer: the
 * bucket is emptied, what was lacking becomes debt (up to the bucket's
 * size) and *ret_missing (may be NULL) says how many were lacking.  Use is
 * measured after the fact and sometimes in lumps (a counter that shows
 * nothing for a tick, then two ticks' worth): keeping the debt makes the
 * bucket see the same total however the use was cut into ticks, where
 * flooring at zero would let measurement noise fill it. */
BucketResult bucket_consume(TokenBucket *b, uint64_t amount, uint64_t *ret_missing);

/* Changes the size, keeping the tokens clamped to the new size. */
void bucket_resize(TokenBucket *b, uint64_t size);

/* Microseconds until the bucket holds `want` tokens at `rate_per_sec`
 * (0 if it already does; UINT64_MAX if never: rate 0, or want > size). */
uint64_t bucket_time_to(const TokenBucket *b, uint64_t want, uint64_t rate_per_sec);

/* The invariant, asserted after every operation in debug builds:
 * tokens <= size, debt <= size, no tokens while in debt, carry <
 * USEC_PER_SEC, a disabled bucket holds nothing. */
bool bucket_invariant(const TokenBucket *b);
