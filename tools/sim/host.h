/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A simulated host: a fluid model of what the kernel's CFS does with the
 * cgroup v2 files `cpu.weight` and `cpu.max`, close enough that the figures
 * schedsim prints mean something.  Pure: no I/O, no clock; time advances
 * only through simhost_step().
 *
 * The model, per step of SIMHOST_STEP_USEC:
 *   - a cgroup runs if it exists, has runnable threads and is not throttled
 *     in the current cpu.max period;
 *   - cgroups form a tree under the root: the host's CPUs are divided among
 *     the root's running children by weighted water-filling (weights =
 *     cpu.weight), then what each got among its own running children the
 *     same way, level by level, as the kernel's group scheduling does (a
 *     weight divides only its parent's CPU among siblings).  A cgroup's own
 *     threads take part in its division as one more child of weight 100
 *     (a nice-0 task weighs as much as cpu.weight 100).  Each is capped at
 *     min(threads below it, remaining quota / step): a thread runs on at
 *     most one CPU, and what a capped cgroup cannot take goes to its
 *     siblings by weight;
 *   - cpu.max periods are global and aligned (they start at every multiple of
 *     SIMHOST_PERIOD_USEC of simulated time), like one period timer per
 *     cgroup that was started at time 0; usage within a period accumulates,
 *     and a cgroup that has used its quota is throttled until the period
 *     ends, incrementing nr_throttled;
 *   - writing a different cpu.max refills the quota of the current period
 *     and lifts a throttle, as the kernel's tg_set_cfs_bandwidth() does;
 *     writing the value already set changes nothing here (the daemon
 *     writes only changes, so the difference never shows);
 *   - cpu.pressure's "some" total counts the steps in which some thread of
 *     the cgroup's subtree was runnable but not given all of a CPU (its
 *     threads got less than one CPU each, or it was throttled);
 *   - the counters are those of cpu.stat: usage_usec (of the whole subtree,
 *     as the kernel counts it), nr_periods (periods in which a cgroup with
 *     a quota ran), nr_throttled, throttled_usec; a parent's quota holds
 *     back its whole subtree.
 *
 * Cgroups are numbered 0..n-1 by the caller; each one exists or not, and
 * each has a parent (another slot, or the root) that the caller sets once,
 * before making them.
 * Usage is kept in nanoseconds (the kernel's own unit) so that dividing a
 * step among cgroups loses nothing measurable; cpu.stat shows microseconds.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The simulation step.  It must be much shorter than the daemon's tick
 * (10 ms by default: 100 steps per tick) and than the cpu.max period (1,000
 * steps), so that the moment a cgroup runs out of quota is placed within
 * 0.1 % of a period; and long enough that a 10 s run is 100,000 steps,
 * fast to compute.  It is also the kernel's order of magnitude for the time
 * a CPU-bound thread runs before CFS reconsiders (sched_min_granularity). */
#define SIMHOST_STEP_USEC 100ULL

/* The cpu.max period: the kernel's default (100 ms), which the daemon keeps. */
#define SIMHOST_PERIOD_USEC 100000ULL

/* The kernel's cpu.max rejects quotas under 1 ms (min_cfs_quota_period). */
#define SIMHOST_QUOTA_MIN_USEC 1000ULL

/* cpu.weight: the kernel's default and range (CGROUP_WEIGHT_DFL/MIN/MAX). */
#define SIMHOST_WEIGHT_DEFAULT 100U
#define SIMHOST_WEIGHT_MIN     1U
#define SIMHOST_WEIGHT_MAX     10000U

/* The parent of a child of the root. */
#define SIMHOST_NO_PARENT SIZE_MAX

/* Bounds that keep every product below 2^64: more CPUs or threads than
 * any real host has make no sense to simulate. */
#define SIMHOST_CPUS_MAX_UCPU (4096ULL * 1000000ULL)
#define SIMHOST_THREADS_MAX   100000U

/* What cpu.stat shows. */
typedef struct SimCpuStat {
        uint64_t usage_usec;
        uint64_t nr_periods;
        uint64_t nr_throttled;
        uint64_t throttled_usec;
} SimCpuStat;

typedef struct SimCgroup {
        size_t parent; /* another slot, or SIMHOST_NO_PARENT; kept when the cgroup is removed */
        bool exists;
        unsigned threads;    /* runnable threads, each wanting one full CPU */
        uint32_t weight;     /* cpu.weight */
        uint64_t quota_usec; /* cpu.max quota per period; 0 = "max" */
        uint64_t usage_nsec; /* since the cgroup was created */
        uint64_t period_usage_nsec;
        bool period_counted; /* nr_periods already counts the current period */
        bool throttled;
        uint64_t throttled_since_usec;
        uint64_t waited_usec; /* cpu.pressure's "some" total */
        SimCpuStat stat;      /* usage_usec is derived from usage_nsec */
} SimCgroup;

typedef struct SimHost {
        uint64_t cpus_ucpu; /* micro-CPUs: 2,000,000 = two CPUs */
        uint64_t now_usec;
        SimCgroup *cgroups;
        size_t n_cgroups;
        bool nested; /* some cgroup has a parent other than the root */
        /* scratch for simhost_step() */
        uint64_t *cap_nsec; /* per cgroup: what its subtree can take in this step */
        uint64_t *got_nsec; /* per cgroup: what its subtree got */
        uint64_t *fill_cap; /* one level's division, n_cgroups + 1 (a cgroup's own threads) */
        uint64_t *fill_got;
        uint32_t *fill_weight;
        size_t *fill_index;
        bool *settled;
} SimHost;

/* A host of `cpus_ucpu` micro-CPUs at time 0 with `n_cgroups` cgroup slots,
 * none existing yet.  0, -EINVAL (no CPUs, too many) or -ENOMEM. */
int simhost_init(SimHost *h, uint64_t cpus_ucpu, size_t n_cgroups);
void simhost_done(SimHost *h);

/* Makes slot i a child of slot `parent` (SIMHOST_NO_PARENT: of the root).
 * Set before either is made.  0, -ERANGE (no such slot), -EBUSY (i exists),
 * or -ELOOP (i would be its own ancestor). */
int simhost_set_parent(SimHost *h, size_t i, size_t parent);

/* Creates cgroup i fresh (zero counters, weight 100, cpu.max "max").
 * 0, -EEXIST, -ERANGE (no such slot) or -ENOENT (its parent does not exist). */
int simhost_cgroup_create(SimHost *h, size_t i);
/* Removes cgroup i; its counters are gone.  0, -ENOENT, -ERANGE, or -EBUSY
 * (a child of it exists, as rmdir refuses). */
int simhost_cgroup_remove(SimHost *h, size_t i);
bool simhost_cgroup_exists(const SimHost *h, size_t i);

/* The cgroup's runnable threads (its load).  0, -ENOENT, -ERANGE or -EINVAL
 * (over SIMHOST_THREADS_MAX). */
int simhost_set_threads(SimHost *h, size_t i, unsigned threads);

/* Writing cpu.weight: 0, -ENOENT, -ERANGE, or -EINVAL (outside 1..10000). */
int simhost_set_weight(SimHost *h, size_t i, uint32_t weight);
/* Writing cpu.max with the period SIMHOST_PERIOD_USEC: quota_usec 0 is
 * "max".  0, -ENOENT, -ERANGE, or -EINVAL (a quota under 1 ms, as the
 * kernel refuses it). */
int simhost_set_quota(SimHost *h, size_t i, uint64_t quota_usec);

/* Reading cpu.pressure's "some" total: 0 and *ret, -ENOENT or -ERANGE. */
int simhost_read_pressure(const SimHost *h, size_t i, uint64_t *ret_some_usec);

/* Reading cpu.stat: 0 and *ret filled, -ENOENT or -ERANGE. */
int simhost_read_stat(const SimHost *h, size_t i, SimCpuStat *ret);

/* Advances simulated time by one step. */
void simhost_step(SimHost *h);
