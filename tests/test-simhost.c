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

/* The nested-cgroups layout: slots 0 web, 1 db under 3 machine.slice; 2 late
 * under 4 other.slice; two threads each on 2 CPUs. */
static void nested_host(SimHost *h) {
        cr_assert_eq(simhost_init(h, 2 * CPU, 5), 0);
        cr_assert_eq(simhost_set_parent(h, 0, 3), 0);
        cr_assert_eq(simhost_set_parent(h, 1, 3), 0);
        cr_assert_eq(simhost_set_parent(h, 2, 4), 0);
        cr_assert_eq(simhost_cgroup_create(h, 3), 0);
        cr_assert_eq(simhost_cgroup_create(h, 4), 0);
        for (size_t i = 0; i < 3; i++) {
                cr_assert_eq(simhost_cgroup_create(h, i), 0);
                cr_assert_eq(simhost_set_threads(h, i, 2), 0);
        }
}

/* Usage within a nanosecond a step per level of the tree over 1.5 s (rounding). */
static void near_ucpu(const SimHost *h, size_t i, uint64_t expect) {
        uint64_t got = stat_of(h, i).usage_usec;

        cr_assert_leq(llabs((long long)got - (long long)expect), 1 + 3 * STEPS_PER_SEC / 1000,
                      "cgroup %zu: %llu, expected %llu", i, (unsigned long long)got, (unsigned long long)expect);
}

Test(simhost, parents_divide_first) {
        SimHost h;

        /* Weights 3:1:2 on the VMs alone: the kernel splits the parents 1:1
         * first, so web and db share one CPU 3:1 and late has the other. */
        nested_host(&h);
        cr_assert_eq(simhost_set_weight(&h, 0, 300), 0);
        cr_assert_eq(simhost_set_weight(&h, 1, 100), 0);
        cr_assert_eq(simhost_set_weight(&h, 2, 200), 0);
        run_usec(&h, 1000000);
        near_ucpu(&h, 0, 750000);
        near_ucpu(&h, 1, 250000);
        near_ucpu(&h, 2, 1000000);
        /* A parent's usage is its subtree's. */
        near_ucpu(&h, 3, 1000000);
        near_ucpu(&h, 4, 1000000);
        simhost_done(&h);
}

Test(simhost, parent_weights_as_sums_give_the_flat_division) {
        SimHost h;

        nested_host(&h);
        cr_assert_eq(simhost_set_weight(&h, 0, 300), 0);
        cr_assert_eq(simhost_set_weight(&h, 1, 100), 0);
        cr_assert_eq(simhost_set_weight(&h, 2, 200), 0);
        cr_assert_eq(simhost_set_weight(&h, 3, 400), 0);
        cr_assert_eq(simhost_set_weight(&h, 4, 200), 0);
        run_usec(&h, 1500000);
        /* 3:1:2 of 3 CPU-seconds */
        near_ucpu(&h, 0, 1500000);
        near_ucpu(&h, 1, 500000);
        near_ucpu(&h, 2, 1000000);
        simhost_done(&h);
}

Test(simhost, idle_sibling_leaves_its_part_inside_the_parent) {
        SimHost h;

        /* db idle: web takes all machine.slice gets, which is half the host
         * against other.slice (100:100), capped by web's two threads. */
        nested_host(&h);
        cr_assert_eq(simhost_set_threads(&h, 1, 0), 0);
        cr_assert_eq(simhost_set_threads(&h, 2, 1), 0);
        run_usec(&h, 1000000);
        near_ucpu(&h, 0, 1000000);
        near_ucpu(&h, 1, 0);
        near_ucpu(&h, 2, 1000000);
        simhost_done(&h);
}

Test(simhost, parent_quota_holds_its_subtree) {
        SimHost h;

        nested_host(&h);
        /* machine.slice limited to half a CPU: web and db share it. */
        cr_assert_eq(simhost_set_quota(&h, 3, 50000), 0);
        run_usec(&h, 1000000);
        near_ucpu(&h, 3, 500000);
        cr_assert_leq(stat_of(&h, 0).usage_usec + stat_of(&h, 1).usage_usec, 500001);
        near_ucpu(&h, 2, 1500000); /* late: one thread a CPU, up to two */
        cr_assert_gt(stat_of(&h, 3).nr_throttled, 0);
        simhost_done(&h);
}

Test(simhost, own_threads_weigh_as_one_child_of_weight_100) {
        SimHost h;

        /* Slot 1 has two threads of its own and a child (slot 0) of weight
         * 100 with two threads: they split 1:1. */
        cr_assert_eq(simhost_init(&h, 2 * CPU, 2), 0);
        cr_assert_eq(simhost_set_parent(&h, 0, 1), 0);
        cr_assert_eq(simhost_cgroup_create(&h, 1), 0);
        cr_assert_eq(simhost_cgroup_create(&h, 0), 0);
        cr_assert_eq(simhost_set_threads(&h, 0, 2), 0);
        cr_assert_eq(simhost_set_threads(&h, 1, 2), 0);
        run_usec(&h, 1000000);
        near_ucpu(&h, 0, 1000000);
        near_ucpu(&h, 1, 2000000);
        simhost_done(&h);
}

Test(simhost, tree_shape_errors) {
        SimHost h;

        cr_assert_eq(simhost_init(&h, 2 * CPU, 3), 0);
        cr_assert_eq(simhost_set_parent(&h, 3, 0), -ERANGE);
        cr_assert_eq(simhost_set_parent(&h, 0, 3), -ERANGE);
        cr_assert_eq(simhost_set_parent(&h, 0, 0), -ELOOP);
        cr_assert_eq(simhost_set_parent(&h, 0, 1), 0);
        cr_assert_eq(simhost_set_parent(&h, 1, 2), 0);
        cr_assert_eq(simhost_set_parent(&h, 2, 0), -ELOOP);
        /* a child before its parent, and a parent with a child */
        cr_assert_eq(simhost_cgroup_create(&h, 0), -ENOENT);
        cr_assert_eq(simhost_cgroup_create(&h, 2), 0);
        cr_assert_eq(simhost_cgroup_create(&h, 1), 0);
        cr_assert_eq(simhost_cgroup_create(&h, 0), 0);
        cr_assert_eq(simhost_set_parent(&h, 0, SIMHOST_NO_PARENT), -EBUSY);
        cr_assert_eq(simhost_cgroup_remove(&h, 1), -EBUSY);
        cr_assert_eq(simhost_cgroup_remove(&h, 0), 0);
        cr_assert_eq(simhost_cgroup_remove(&h, 1), 0);
        /* the shape stays when the cgroup goes */
        cr_assert_eq(h.cgroups[0].parent, 1);
        cr_assert_eq(simhost_cgroup_create(&h, 0), -ENOENT);
        simhost_done(&h);
}

Test(simhost, pressure_counts_waiting_threads) {
        SimHost h;
        uint64_t waited = 1;

        /* Slot 0: two threads, weight 100; slot 1: one thread, weight 900;
         * slot 2 idle; slots 0 and 1 under slot 3.  Slot 1 gets its CPU
         * (never waits), slot 0 gets the other (its two threads wait). */
        cr_assert_eq(simhost_init(&h, 2 * CPU, 4), 0);
        cr_assert_eq(simhost_set_parent(&h, 0, 3), 0);
        cr_assert_eq(simhost_set_parent(&h, 1, 3), 0);
        cr_assert_eq(simhost_cgroup_create(&h, 3), 0);
        for (size_t i = 0; i < 3; i++)
                cr_assert_eq(simhost_cgroup_create(&h, i), 0);
        cr_assert_eq(simhost_set_threads(&h, 0, 2), 0);
        cr_assert_eq(simhost_set_threads(&h, 1, 1), 0);
        cr_assert_eq(simhost_set_weight(&h, 1, 900), 0);
        run_usec(&h, 100000);
        cr_assert_eq(simhost_read_pressure(&h, 0, &waited), 0);
        cr_assert_eq(waited, 100000);
        cr_assert_eq(simhost_read_pressure(&h, 1, &waited), 0);
        cr_assert_eq(waited, 0);
        cr_assert_eq(simhost_read_pressure(&h, 2, &waited), 0);
        cr_assert_eq(waited, 0);
        cr_assert_eq(simhost_read_pressure(&h, 3, &waited), 0);
        cr_assert_eq(waited, 100000, "a parent waits when a child does");

        /* Throttled counts as waiting. */
        cr_assert_eq(simhost_set_quota(&h, 1, 10000), 0);
        run_usec(&h, 100000);
        cr_assert_eq(simhost_read_pressure(&h, 1, &waited), 0);
        cr_assert_geq(waited, 80000);
        cr_assert_eq(simhost_read_pressure(&h, 4, &waited), -ERANGE);
        cr_assert_eq(simhost_cgroup_remove(&h, 2), 0);
        cr_assert_eq(simhost_read_pressure(&h, 2, &waited), -ENOENT);
        simhost_done(&h);
}
