/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <criterion/criterion.h>
#include <stdint.h>

#include "schedd/bucket.h"

Test(bucket, disabled_holds_nothing) {
        TokenBucket b;
        bucket_init(&b, 0);
        cr_assert(!bucket_enabled(&b));
        bucket_refill(&b, 1000000, 1000000);
        cr_assert_eq(b.tokens, 0);
        cr_assert_eq(bucket_consume(&b, 1, NULL), BUCKET_DISABLED);
        cr_assert(bucket_invariant(&b));
}

Test(bucket, refill_is_exact_at_fine_ticks) {
        /* 3 tokens per second refilled every microsecond for one second:
         * each refill is 3e-6 of a token, the carry must add up to exactly 3. */
        TokenBucket b;
        bucket_init(&b, 1000);
        for (int i = 0; i < 1000000; i++)
                bucket_refill(&b, 3, 1);
        cr_assert_eq(b.tokens, 3);
        cr_assert_eq(b.carry, 0);

        /* An odd rate at odd ticks: 7 tokens/s over 7 ticks of 142857 us
         * (999999 us) is 6.999993 tokens: 6 whole, 999993 token-usec carried. */
        bucket_init(&b, 1000);
        for (int i = 0; i < 7; i++)
                bucket_refill(&b, 7, 142857);
        cr_assert_eq(b.tokens, 6);
        cr_assert_eq(b.carry, 999993);
        bucket_refill(&b, 7, 1);
        cr_assert_eq(b.tokens, 7);
        cr_assert_eq(b.carry, 0);
}

Test(bucket, refill_caps_at_size_and_drops_carry) {
        TokenBucket b;
        bucket_init(&b, 10);
        bucket_refill(&b, 1000000, 1000000);
        cr_assert_eq(b.tokens, 10);
        cr_assert_eq(b.carry, 0);
        cr_assert(bucket_invariant(&b));
}

Test(bucket, refill_does_not_overflow_at_maximum) {
        TokenBucket b;
        bucket_init(&b, UINT64_MAX);
        bucket_refill(&b, UINT64_MAX, UINT64_MAX);
        cr_assert_eq(b.tokens, UINT64_MAX);
        cr_assert(bucket_invariant(&b));

        /* Just under full by one token, refilled by less than one. */
        bucket_init(&b, UINT64_MAX);
        b.tokens = UINT64_MAX - 1;
        bucket_refill(&b, 1, 999999);
        cr_assert_eq(b.tokens, UINT64_MAX - 1);
        cr_assert_eq(b.carry, 999999);
        bucket_refill(&b, 1, 1);
        cr_assert_eq(b.tokens, UINT64_MAX);
}

Test(bucket, consume_ok_and_overconsumed) {
        TokenBucket b;
        uint64_t missing = 0;
        bucket_init(&b, 100);
        bucket_refill(&b, 50, 1000000);
        cr_assert_eq(bucket_consume(&b, 20, &missing), BUCKET_OK);
        cr_assert_eq(b.tokens, 30);
        cr_assert_eq(bucket_consume(&b, 30, &missing), BUCKET_OK);
        cr_assert_eq(b.tokens, 0);
        cr_assert_eq(bucket_consume(&b, 0, &missing), BUCKET_OK);
        cr_assert_eq(bucket_consume(&b, 5, &missing), BUCKET_OVERCONSUMED);
        cr_assert_eq(missing, 5);
        cr_assert_eq(b.tokens, 0);
        cr_assert_eq(b.debt, 5);
        /* The next refill pays the debt first. */
        bucket_refill(&b, 50, 1000000);
        cr_assert_eq(b.tokens, 45);
        cr_assert_eq(b.debt, 0);
        /* Debt is bounded by the size. */
        cr_assert_eq(bucket_consume(&b, UINT64_MAX, &missing), BUCKET_OVERCONSUMED);
        cr_assert_eq(missing, UINT64_MAX - 45);
        cr_assert_eq(b.debt, 100);
        cr_assert(bucket_invariant(&b));
}

Test(bucket, lumpy_use_adds_up_like_smooth_use) {
        /* The same use, 10 tokens a tick, measured smoothly or in lumps
         * (nothing, then two ticks' worth), against a refill of 10 a tick:
         * the bucket ends where it started either way. */
        TokenBucket smooth, lumpy;
        bucket_init(&smooth, 100);
        bucket_init(&lumpy, 100);
        for (int t = 0; t < 1000; t++) {
                bucket_refill(&smooth, 1000, 10000);
                bucket_consume(&smooth, 10, NULL);
                bucket_refill(&lumpy, 1000, 10000);
                bucket_consume(&lumpy, t % 2 ? 0 : 20, NULL);
        }
        cr_assert_eq(smooth.tokens, 0);
        cr_assert_eq(lumpy.tokens, 0);
        cr_assert_eq(lumpy.debt, 0);
}

Test(bucket, debt_delays_refill_and_time_to) {
        TokenBucket b;
        bucket_init(&b, 100);
        bucket_consume(&b, 30, NULL);
        cr_assert_eq(b.debt, 30);
        cr_assert_eq(bucket_time_to(&b, 10, 10), 4000000); /* 30 of debt, then 10 */
        bucket_refill(&b, 10, 2000000);
        cr_assert_eq(b.debt, 10);
        cr_assert_eq(b.tokens, 0);
        bucket_resize(&b, 5);
        cr_assert_eq(b.debt, 5);
        bucket_resize(&b, 0);
        cr_assert_eq(b.debt, 0);
        cr_assert(bucket_invariant(&b));
}

Test(bucket, resize_clamps_tokens) {
        TokenBucket b;
        bucket_init(&b, 100);
        bucket_refill(&b, 100, 1000000);
        bucket_resize(&b, 40);
        cr_assert_eq(b.tokens, 40);
        bucket_resize(&b, 400);
        cr_assert_eq(b.tokens, 40);
        bucket_resize(&b, 0);
        cr_assert_eq(b.tokens, 0);
        cr_assert(!bucket_enabled(&b));
        cr_assert(bucket_invariant(&b));
}

Test(bucket, time_to) {
        TokenBucket b;
        bucket_init(&b, 1000);
        cr_assert_eq(bucket_time_to(&b, 0, 10), 0);
        cr_assert_eq(bucket_time_to(&b, 10, 10), 1000000);
        cr_assert_eq(bucket_time_to(&b, 10, 0), UINT64_MAX);
        cr_assert_eq(bucket_time_to(&b, 1001, 10), UINT64_MAX);
        /* Half a token carried: 0.5 s at 1 token/s left to the first token. */
        bucket_refill(&b, 1, 500000);
        cr_assert_eq(bucket_time_to(&b, 1, 1), 500000);
        /* Odd rate: 3 tokens at 7/s take ceil(3e6/7) us. */
        bucket_init(&b, 1000);
        cr_assert_eq(bucket_time_to(&b, 3, 7), 428572);
}

Test(bucket, invariant_catches_bad_states) {
        TokenBucket b = {.size = 5, .tokens = 6};
        cr_assert(!bucket_invariant(&b));
        b = (TokenBucket){.size = 5, .tokens = 1, .carry = USEC_PER_SEC};
        cr_assert(!bucket_invariant(&b));
        b = (TokenBucket){.size = 0, .tokens = 0, .carry = 1};
        cr_assert(!bucket_invariant(&b));
        b = (TokenBucket){.size = 5, .tokens = 1, .debt = 1};
        cr_assert(!bucket_invariant(&b));
        b = (TokenBucket){.size = 5, .debt = 6};
        cr_assert(!bucket_invariant(&b));
}
