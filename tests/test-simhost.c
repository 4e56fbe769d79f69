/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The simulated kernel alone: water-filling by weight, thread caps, cpu.max
 * quotas and the cpu.stat counters. */

#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "tools/sim/host.h"

/* Units for reading the figures below: micro-CPUs per CPU, and the
 * simulation steps in a second (each may lose a nanosecond to rounding). */
#define CPU           1000000ULL
#define STEPS_PER_SEC (1000000ULL / SIMHOST_STEP_USEC)

static void run_usec(SimHost *h, uint64_t usec) {
        cr_assert_eq(usec % SIMHOST_STEP_USEC, 0);
        for (uint64_t i = 0; i < usec / SIMHOST_STEP_USEC; i++)
                simhost_step(h);
}

static SimCpuStat stat_of(const SimHost *h, size_t i) {
        SimCpuStat st = {};
        cr_assert_eq(simhost_read_stat(h, i, &st), 0);
        return st;
}

/* n cgroups on `cpus` CPUs, all created with `threads` threads each. */
static void host_with(SimHost *h, uint64_t cpus_ucpu, size_t n, unsigned threads) {
        cr_assert_eq(simhost_init(h, cpus_ucpu, n), 0);
        for (size_t i = 0; i < n; i++) {
                cr_assert_eq(simhost_cgroup_create(h, i), 0);
                cr_assert_eq(simhost_set_threads(h, i, threads), 0);
        }
}

Test(simhost, weights_split_one_to_three) {
        SimHost h;

        host_with(&h, 2 * CPU, 2, 2);
        cr_assert_eq(simhost_set_weight(&h, 0, 100), 0);
        cr_assert_eq(simhost_set_weight(&h, 1, 300), 0);
        run_usec(&h, 1000000);

        cr_assert_eq(stat_of(&h, 0).usage_usec, 500000);
        cr_assert_eq(stat_of(&h, 1).usage_usec, 1500000);
        cr_assert_eq(h.now_usec, 1000000);
        simhost_done(&h);
}

Test(simhost, default_weights_split_evenly) {
        SimHost h;

        host_with(&h, 2 * CPU, 4, 3);
        run_usec(&h, 500000);
        for (size_t i = 0; i < 4; i++)
                cr_assert_eq(stat_of(&h, i).usage_usec, 250000, "cgroup %zu", i);
        simhost_done(&h);
}

Test(simhost, thread_cap_gives_the_rest_away) {
        SimHost h;

        /* 3 CPUs; A (weight 300) would get 2.25 CPUs by weight but has one
         * thread: it runs on one CPU and B takes the other two. */
        host_with(&h, 3 * CPU, 2, 4);
        cr_assert_eq(simhost_set_threads(&h, 0, 1), 0);
        cr_assert_eq(simhost_set_weight(&h, 0, 300), 0);
        run_usec(&h, 1000000);

        cr_assert_eq(stat_of(&h, 0).usage_usec, 1000000);
        cr_assert_eq(stat_of(&h, 1).usage_usec, 2000000);
        simhost_done(&h);
}

Test(simhost, threads_bound_a_cgroup_alone) {
        SimHost h;

        /* Alone on 4 CPUs with 3 threads: 3 CPUs, one stays idle. */
        host_with(&h, 4 * CPU, 1, 3);
        run_usec(&h, 1000000);
        cr_assert_eq(stat_of(&h, 0).usage_usec, 3000000);
        simhost_done(&h);
}

Test(simhost, quota_of_a_quarter_throttles) {
        SimHost h;
        SimCpuStat st;

        /* 25 % of a 2-CPU host is half a CPU: 50 ms per 100 ms period.  Two
         * threads burn it in the first 25 ms of each period, then the cgroup
         * is throttled for 75 ms. */
        host_with(&h, 2 * CPU, 1, 2);
        cr_assert_eq(simhost_set_quota(&h, 0, 50000), 0);
        run_usec(&h, 1000000);

        st = stat_of(&h, 0);
        cr_assert_eq(st.usage_usec, 500000);
        cr_assert_eq(st.nr_throttled, 10);
        cr_assert_eq(st.nr_periods, 10);
        /* the tenth throttle is still on: cpu.stat counts a throttle's time when it ends */
        cr_assert_eq(st.throttled_usec, 9 * 75000);

        simhost_step(&h); /* the eleventh period starts: the throttle ends */
        st = stat_of(&h, 0);
        cr_assert_eq(st.throttled_usec, 10 * 75000);
        simhost_done(&h);
}

Test(simhost, quota_leftover_goes_to_the_others) {
        SimHost h;

        /* A is capped at half a CPU per period; B takes one CPU while A runs
         * (50 ms), then both (50 ms): 1.5 CPUs on average. */
        host_with(&h, 2 * CPU, 2, 2);
        cr_assert_eq(simhost_set_quota(&h, 0, 50000), 0);
        run_usec(&h, 1000000);

        cr_assert_eq(stat_of(&h, 0).usage_usec, 500000);
        cr_assert_eq(stat_of(&h, 1).usage_usec, 1500000);
        cr_assert_eq(stat_of(&h, 0).nr_throttled, 10);
        cr_assert_eq(stat_of(&h, 1).nr_throttled, 0);
        simhost_done(&h);
}

Test(simhost, quota_above_demand_never_throttles) {
        SimHost h;

        /* One thread, a quota of 1.5 CPUs: the thread is the bound. */
        host_with(&h, 2 * CPU, 1, 1);
        cr_assert_eq(simhost_set_quota(&h, 0, 150000), 0);
        run_usec(&h, 1000000);
        cr_assert_eq(stat_of(&h, 0).usage_usec, 1000000);
        cr_assert_eq(stat_of(&h, 0).nr_throttled, 0);
        simhost_done(&h);
}

Test(simhost, new_quota_refills_and_unthrottles) {
        SimHost h;

        host_with(&h, 2 * CPU, 1, 2);
        cr_assert_eq(simhost_set_quota(&h, 0, 10000), 0);
        run_usec(&h, 10000); /* 10 ms at 2 CPUs: the 10 ms quota is gone after 5 ms */
        cr_assert(h.cgroups[0].throttled);
        cr_assert_eq(stat_of(&h, 0).usage_usec, 10000);

        /* The same value again changes nothing. */
        cr_assert_eq(simhost_set_quota(&h, 0, 10000), 0);
        cr_assert(h.cgroups[0].throttled);

        /* A new value refills the period and lifts the throttle. */
        cr_assert_eq(simhost_set_quota(&h, 0, 20000), 0);
        cr_assert(!h.cgroups[0].throttled);
        cr_assert_eq(stat_of(&h, 0).throttled_usec, 5000);
        run_usec(&h, 20000);
        cr_assert_eq(stat_of(&h, 0).usage_usec, 30000);
        cr_assert_eq(stat_of(&h, 0).nr_throttled, 2);

        /* "max" lifts every bound. */
        cr_assert_eq(simhost_set_quota(&h, 0, 0), 0);
        run_usec(&h, 10000);
        cr_assert_eq(stat_of(&h, 0).usage_usec, 50000);
        simhost_done(&h);
}

Test(simhost, zero_threads_use_nothing) {
        SimHost h;

        host_with(&h, 2 * CPU, 2, 0);
        cr_assert_eq(simhost_set_threads(&h, 1, 1), 0);
        run_usec(&h, 1000000);
        cr_assert_eq(stat_of(&h, 0).usage_usec, 0);
        cr_assert_eq(stat_of(&h, 1).usage_usec, 1000000);
        simhost_done(&h);
}

Test(simhost, absent_cgroups_do_not_run) {
        SimHost h;

        host_with(&h, 2 * CPU, 2, 2);
        cr_assert_eq(simhost_cgroup_remove(&h, 0), 0);
        cr_assert(!simhost_cgroup_exists(&h, 0));
        run_usec(&h, 100000);
        cr_assert_eq(stat_of(&h, 1).usage_usec, 200000);

        /* It comes back fresh: no counters, no threads, default weight. */
        cr_assert_eq(simhost_cgroup_create(&h, 0), 0);
        cr_assert_eq(stat_of(&h, 0).usage_usec, 0);
        cr_assert_eq(h.cgroups[0].weight, SIMHOST_WEIGHT_DEFAULT);
        cr_assert_eq(h.cgroups[0].threads, 0);
        simhost_done(&h);
}

Test(simhost, no_cgroups) {
        SimHost h;

        cr_assert_eq(simhost_init(&h, 2 * CPU, 0), 0);
        run_usec(&h, 100000);
        cr_assert_eq(h.now_usec, 100000);
        cr_assert(!simhost_cgroup_exists(&h, 0));
        simhost_done(&h);
}

Test(simhost, nothing_is_lost_to_rounding) {
        SimHost h;
        uint64_t total = 0;

        /* Odd weights on 3 CPUs: shares of a step are not whole nanoseconds,
         * yet every nanosecond of the host is handed out. */
        host_with(&h, 3 * CPU, 3, 3);
        cr_assert_eq(simhost_set_weight(&h, 0, 1), 0);
        cr_assert_eq(simhost_set_weight(&h, 1, 7), 0);
        cr_assert_eq(simhost_set_weight(&h, 2, 13), 0);
        run_usec(&h, 1000000);
        for (size_t i = 0; i < 3; i++)
                total += h.cgroups[i].usage_nsec;
        cr_assert_eq(total, 3000000ULL * 1000ULL);
        /* and each gets its weight's part, to a nanosecond per step */
        cr_assert_leq(llabs((long long)h.cgroups[1].usage_nsec - 7LL * 3000000000LL / 21), (long long)STEPS_PER_SEC);
        simhost_done(&h);
}

Test(simhost, largest_host_does_not_overflow) {
        SimHost h;

        host_with(&h, SIMHOST_CPUS_MAX_UCPU, 2, SIMHOST_THREADS_MAX);
        cr_assert_eq(simhost_set_weight(&h, 0, SIMHOST_WEIGHT_MAX), 0);
        cr_assert_eq(simhost_set_weight(&h, 1, SIMHOST_WEIGHT_MIN), 0);
        run_usec(&h, 1000000);
        cr_assert_eq(stat_of(&h, 0).usage_usec + stat_of(&h, 1).usage_usec, SIMHOST_CPUS_MAX_UCPU);
        cr_assert_gt(stat_of(&h, 0).usage_usec, stat_of(&h, 1).usage_usec);
        simhost_done(&h);
}

Test(simhost, bad_input) {
        SimHost h;
        SimCpuStat st;

        cr_assert_eq(simhost_init(&h, 0, 1), -EINVAL);
        cr_assert_eq(simhost_init(&h, SIMHOST_CPUS_MAX_UCPU + 1, 1), -EINVAL);

        cr_assert_eq(simhost_init(&h, 2 * CPU, 1), 0);
        cr_assert_eq(simhost_set_weight(&h, 0, 100), -ENOENT);
        cr_assert_eq(simhost_set_quota(&h, 0, 50000), -ENOENT);
        cr_assert_eq(simhost_set_threads(&h, 0, 1), -ENOENT);
        cr_assert_eq(simhost_read_stat(&h, 0, &st), -ENOENT);
        cr_assert_eq(simhost_cgroup_remove(&h, 0), -ENOENT);
        cr_assert_eq(simhost_cgroup_create(&h, 1), -ERANGE);
        cr_assert_eq(simhost_set_weight(&h, 1, 100), -ERANGE);

        cr_assert_eq(simhost_cgroup_create(&h, 0), 0);
        cr_assert_eq(simhost_cgroup_create(&h, 0), -EEXIST);
        cr_assert_eq(simhost_set_weight(&h, 0, 0), -EINVAL);
        cr_assert_eq(simhost_set_weight(&h, 0, SIMHOST_WEIGHT_MAX + 1), -EINVAL);
        cr_assert_eq(simhost_set_weight(&h, 0, SIMHOST_WEIGHT_MAX), 0);
        cr_assert_eq(simhost_set_quota(&h, 0, SIMHOST_QUOTA_MIN_USEC - 1), -EINVAL);
        cr_assert_eq(simhost_set_quota(&h, 0, SIMHOST_QUOTA_MIN_USEC), 0);
        cr_assert_eq(simhost_set_threads(&h, 0, SIMHOST_THREADS_MAX + 1), -EINVAL);
        cr_assert_eq(h.cgroups[0].threads, 0);
        simhost_done(&h);
}
