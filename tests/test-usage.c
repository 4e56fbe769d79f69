/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The adaptive reading plan (schedd/usage.h): when a VM is read, what the
 * core is told between reads, and that no use the counter shows is lost.
 */

#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>

#include "schedd/usage.h"

#define TICK 10000ULL /* 10 ms */

/* A simulated VM using `rate` CPU-usec a second, read by the plan's rules
 * every tick from `*now` for `ticks` ticks.  Returns the reads made;
 * *told sums what the core was told. */
static unsigned run(UsagePlan *p, uint64_t *now, uint64_t *counter, uint64_t *last_counter, uint64_t rate,
                    unsigned ticks, size_t index, uint64_t *told, bool may_settle) {
        unsigned reads = 0;

        for (unsigned t = 0; t < ticks; t++) {
                *now += TICK;
                *counter += rate * TICK / 1000000;
                if (usage_plan_due(p, *now, *now / TICK, index, TICK)) {
                        uint64_t interval = p->last_read_usec > 0 ? *now - p->last_read_usec : TICK;

                        *told += usage_plan_observe(p, *now, *counter - *last_counter, interval, TICK, false,
                                                    may_settle);
                        *last_counter = *counter;
                        reads++;
                } else
                        *told += usage_plan_estimate(p, TICK, NULL);
        }
        return reads;
}

Test(usage, names) {
        cr_assert_str_eq(usage_reads_to_string(USAGE_READS_ADAPTIVE), "adaptive");
        cr_assert_str_eq(usage_reads_to_string(USAGE_READS_EVERY_TICK), "every-tick");
        cr_assert_null(usage_reads_to_string(_USAGE_READS_MAX));
        cr_assert_eq(usage_reads_from_string("every-tick"), USAGE_READS_EVERY_TICK);
        cr_assert_eq(usage_reads_from_string("adaptive"), USAGE_READS_ADAPTIVE);
        cr_assert_eq(usage_reads_from_string("Adaptive"), -EINVAL);
        cr_assert_eq(usage_reads_from_string(NULL), -EINVAL);
}

Test(usage, a_steady_vm_is_read_once_a_second_and_its_use_is_all_told) {
        UsagePlan p = {};
        uint64_t now = 1000000, counter = 0, last = 0, told = 0;
        unsigned reads;

        /* First 100 ms: every tick (hot), then once a window (warm), then steady. */
        reads = run(&p, &now, &counter, &last, 500000, 10, 0, &told, true);
        cr_assert_eq(reads, 10, "read every tick at first");
        reads = run(&p, &now, &counter, &last, 500000, 20, 0, &told, true);
        cr_assert(p.steady, "steady after two windows alike");
        cr_assert_leq(reads, 3);
        /* Ten seconds steady: about one read a second. */
        reads = run(&p, &now, &counter, &last, 500000, 1000, 0, &told, true);
        cr_assert_geq(reads, 9);
        cr_assert_leq(reads, 11);
        /* Told what it used, to within what is still being spread (none at an exact rate). */
        cr_assert_leq(counter - told, 500000 * USAGE_WINDOW_USEC / 1000000, "told %lu of %lu", (unsigned long)told,
                      (unsigned long)counter);
        cr_assert_leq(told, counter);
}

Test(usage, a_change_of_rate_is_seen_within_the_bound_and_none_of_it_lost) {
        UsagePlan p = {};
        uint64_t now = 1000000, counter = 0, last = 0, told = 0;
        unsigned reads;

        (void)run(&p, &now, &counter, &last, 200000, 300, 3, &told, true);
        cr_assert(p.steady);
        /* The VM doubles its use: within a poll interval it is warm again. */
        reads = run(&p, &now, &counter, &last, 400000, USAGE_STEADY_POLL_USEC / TICK, 3, &told, true);
        cr_assert_geq(reads, 1);
        cr_assert(!p.steady || p.rate_per_sec > 350000, "rate %lu", (unsigned long)p.rate_per_sec);
        /* ...and settles at the new rate. */
        (void)run(&p, &now, &counter, &last, 400000, 100, 3, &told, true);
        cr_assert(p.steady);
        cr_assert_geq(p.rate_per_sec, 350000);
        cr_assert_leq(p.rate_per_sec, 450000);
        /* What it used beyond what the core was told while it was steady at the old rate
         * was told later: after a window more, all of it. */
        (void)run(&p, &now, &counter, &last, 400000, USAGE_WINDOW_USEC / TICK + 1, 3, &told, true);
        cr_assert_leq(counter - told, 400000 * TICK / 1000000 * 2, "told %lu of %lu", (unsigned long)told,
                      (unsigned long)counter);
}

Test(usage, an_idle_vm_is_read_every_100ms_and_its_waking_told) {
        UsagePlan p = {};
        uint64_t now = 1000000, counter = 0, last = 0, told = 0;
        unsigned reads;

        (void)run(&p, &now, &counter, &last, 0, 20, 0, &told, true);
        cr_assert(p.steady, "idle after one window without use");
        reads = run(&p, &now, &counter, &last, 0, 100, 0, &told, true);
        cr_assert_eq(reads, 100 * TICK / USAGE_IDLE_POLL_USEC);
        cr_assert_eq(told, 0);
        /* It wakes: read within USAGE_IDLE_POLL_USEC, and what it used told. */
        reads = run(&p, &now, &counter, &last, 300000, USAGE_IDLE_POLL_USEC / TICK, 0, &told, true);
        cr_assert_eq(reads, 1);
        cr_assert_gt(told, 0);
        cr_assert(!p.steady, "awake: no longer read as idle");
}

Test(usage, a_vm_that_may_not_settle_is_read_every_tick) {
        UsagePlan p = {};
        uint64_t now = 1000000, counter = 0, last = 0, told = 0;
        unsigned reads;

        reads = run(&p, &now, &counter, &last, 500000, 100, 0, &told, false);
        cr_assert_eq(reads, 100, "held or bursting: every tick");
        cr_assert_eq(told, counter, "read every tick: told exactly what it used");
        cr_assert(!p.steady && !p.warm);
}

Test(usage, a_tick_as_long_as_the_poll_reads_every_tick) {
        UsagePlan p = {.steady = true, .rate_per_sec = 1000};

        for (uint64_t t = 0; t < 10; t++)
                cr_assert(usage_plan_due(&p, (t + 1) * USAGE_STEADY_POLL_USEC, t, 0, USAGE_STEADY_POLL_USEC));
}

Test(usage, estimates_told_too_much_are_forgotten_not_taken_off_a_waking_vm) {
        UsagePlan p = {.steady = true, .rate_per_sec = 100000, .last_read_usec = 1000000};
        uint64_t told = 0;

        /* Told 100 ms a second for 99 ticks, but the VM used nothing; then it wakes. */
        for (int i = 0; i < 99; i++)
                told += usage_plan_estimate(&p, TICK, NULL);
        cr_assert_eq(told, 99 * 1000);
        cr_assert_eq(usage_plan_observe(&p, 2000000, 0, 1000000, TICK, false, true), 0);
        cr_assert(!p.steady || p.rate_per_sec == 0);
        /* The next read shows use: it is told, not swallowed by the earlier excess. */
        cr_assert_gt(usage_plan_observe(&p, 2010000, 5000, TICK, TICK, false, true), 0);
}
