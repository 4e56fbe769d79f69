/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

/* cpu.stat shows microseconds; the model counts nanoseconds, the kernel's own unit. */
#define NSEC_PER_USEC 1000ULL
/* Micro-CPUs per CPU: one CPU is one CPU-microsecond per microsecond. */
#define UCPU_PER_CPU 1000000ULL

int simhost_init(SimHost *h, uint64_t cpus_ucpu, size_t n_cgroups) {
        SimCgroup *cgroups = NULL;
        uint64_t *cap = NULL, *got = NULL;
        bool *settled = NULL;

        if (cpus_ucpu == 0 || cpus_ucpu > SIMHOST_CPUS_MAX_UCPU)
                return -EINVAL;

        if (n_cgroups > 0) {
                cgroups = calloc(n_cgroups, sizeof(*cgroups));
                cap = calloc(n_cgroups, sizeof(*cap));
                got = calloc(n_cgroups, sizeof(*got));
                settled = calloc(n_cgroups, sizeof(*settled));
                if (!cgroups || !cap || !got || !settled)
                        goto fail;
        }

        *h = (SimHost){
                .cpus_ucpu = cpus_ucpu,
                .cgroups = cgroups,
                .n_cgroups = n_cgroups,
                .cap_nsec = cap,
                .got_nsec = got,
                .settled = settled,
        };
        return 0;

fail:
        free(cgroups);
        free(cap);
        free(got);
        free(settled);
        return -ENOMEM;
}

void simhost_done(SimHost *h) {
        free(h->cgroups);
        free(h->cap_nsec);
        free(h->got_nsec);
        free(h->settled);
        *h = (SimHost){};
}

static int cgroup_get(const SimHost *h, size_t i, SimCgroup **ret) {
        if (i >= h->n_cgroups)
                return -ERANGE;
        if (!h->cgroups[i].exists)
                return -ENOENT;
        *ret = &h->cgroups[i];
        return 0;
}

int simhost_cgroup_create(SimHost *h, size_t i) {
        if (i >= h->n_cgroups)
                return -ERANGE;
        if (h->cgroups[i].exists)
                return -EEXIST;
        h->cgroups[i] = (SimCgroup){
                .exists = true,
                .weight = SIMHOST_WEIGHT_DEFAULT,
        };
        return 0;
}

int simhost_cgroup_remove(SimHost *h, size_t i) {
        SimCgroup *c;
        int r;

        r = cgroup_get(h, i, &c);
        if (r < 0)
                return r;
        *c = (SimCgroup){};
        return 0;
}

bool simhost_cgroup_exists(const SimHost *h, size_t i) {
        return i < h->n_cgroups && h->cgroups[i].exists;
}

int simhost_set_threads(SimHost *h, size_t i, unsigned threads) {
        SimCgroup *c;
        int r;

        r = cgroup_get(h, i, &c);
        if (r < 0)
                return r;
        if (threads > SIMHOST_THREADS_MAX)
                return -EINVAL;
        c->threads = threads;
        return 0;
}

int simhost_set_weight(SimHost *h, size_t i, uint32_t weight) {
        SimCgroup *c;
        int r;

        r = cgroup_get(h, i, &c);
        if (r < 0)
                return r;
        if (weight < SIMHOST_WEIGHT_MIN || weight > SIMHOST_WEIGHT_MAX)
                return -EINVAL;
        c->weight = weight;
        return 0;
}

static void cgroup_unthrottle(SimCgroup *c, uint64_t now_usec) {
        if (!c->throttled)
                return;
        c->throttled = false;
        c->stat.throttled_usec += now_usec - c->throttled_since_usec;
}

int simhost_set_quota(SimHost *h, size_t i, uint64_t quota_usec) {
        SimCgroup *c;
        int r;

        r = cgroup_get(h, i, &c);
        if (r < 0)
                return r;
        if (quota_usec != 0 && quota_usec < SIMHOST_QUOTA_MIN_USEC)
                return -EINVAL;
        if (quota_usec == c->quota_usec)
                return 0;

        /* A new bandwidth setting refills the period's runtime and lifts a
         * throttle (tg_set_cfs_bandwidth()). */
        c->quota_usec = quota_usec;
        c->period_usage_nsec = 0;
        cgroup_unthrottle(c, h->now_usec);
        return 0;
}

int simhost_read_stat(const SimHost *h, size_t i, SimCpuStat *ret) {
        SimCgroup *c;
        int r;

        r = cgroup_get(h, i, &c);
        if (r < 0)
                return r;
        *ret = c->stat;
        ret->usage_usec = c->usage_nsec / NSEC_PER_USEC;
        return 0;
}

/* The cgroup's cap for this step: its threads, and what is left of its quota. */
static uint64_t cgroup_cap_nsec(const SimCgroup *c) {
        uint64_t cap = (uint64_t)c->threads * SIMHOST_STEP_USEC * NSEC_PER_USEC;

        if (c->quota_usec > 0) {
                uint64_t quota_nsec = c->quota_usec * NSEC_PER_USEC;
                uint64_t left = quota_nsec > c->period_usage_nsec ? quota_nsec - c->period_usage_nsec : 0;

                if (left < cap)
                        cap = left;
        }
        return cap;
}

/*
 * Weighted water-filling of `capacity` among the cgroups with cap_nsec > 0:
 * each gets capacity * weight / total weight, except that one whose cap is
 * below that gets its cap, and the rest is divided again among the others.
 * Integer shares are rounded down and the few nanoseconds left over go one
 * each to uncapped cgroups, so nothing is lost and no cap is exceeded.
 */
static void water_fill(SimHost *h, uint64_t capacity) {
        size_t n = h->n_cgroups;
        uint64_t remaining = capacity;

        for (size_t i = 0; i < n; i++) {
                h->got_nsec[i] = 0;
                h->settled[i] = h->cap_nsec[i] == 0;
        }

        for (;;) {
                uint64_t total_weight = 0;
                bool capped_any = false;

                for (size_t i = 0; i < n; i++)
                        if (!h->settled[i])
                                total_weight += h->cgroups[i].weight;
                if (total_weight == 0)
                        return;

                /* Settle every cgroup whose cap is within its fair part: that
                 * only leaves more for the others, so one pass may settle many. */
                uint64_t pass_remaining = remaining;
                for (size_t i = 0; i < n; i++) {
                        if (h->settled[i])
                                continue;
                        uint64_t fair = pass_remaining * h->cgroups[i].weight / total_weight;
                        if (h->cap_nsec[i] <= fair) {
                                h->got_nsec[i] = h->cap_nsec[i];
                                h->settled[i] = true;
                                remaining -= h->cap_nsec[i];
                                capped_any = true;
                        }
                }
                if (capped_any)
                        continue;

                /* Nobody is capped: everyone left takes its fair part, below
                 * its cap, so one more nanosecond each still fits. */
                uint64_t given = 0;
                for (size_t i = 0; i < n; i++) {
                        if (h->settled[i])
                                continue;
                        h->got_nsec[i] = remaining * h->cgroups[i].weight / total_weight;
                        given += h->got_nsec[i];
                }
                for (size_t i = 0; i < n && given < remaining; i++) {
                        if (h->settled[i])
                                continue;
                        h->got_nsec[i]++;
                        given++;
                }
                return;
        }
}

void simhost_step(SimHost *h) {
        uint64_t now = h->now_usec, end = now + SIMHOST_STEP_USEC;
        bool period_start = now % SIMHOST_PERIOD_USEC == 0;

        for (size_t i = 0; i < h->n_cgroups; i++) {
                SimCgroup *c = &h->cgroups[i];

                h->cap_nsec[i] = 0;
                if (!c->exists)
                        continue;
                if (period_start) {
                        c->period_usage_nsec = 0;
                        c->period_counted = false;
                        cgroup_unthrottle(c, now);
                }
                if (!c->throttled)
                        h->cap_nsec[i] = cgroup_cap_nsec(c);
        }

        water_fill(h, h->cpus_ucpu * SIMHOST_STEP_USEC * NSEC_PER_USEC / UCPU_PER_CPU);

        for (size_t i = 0; i < h->n_cgroups; i++) {
                SimCgroup *c = &h->cgroups[i];
                uint64_t got = h->got_nsec[i];

                if (got == 0)
                        continue;
                c->usage_nsec += got;
                if (c->quota_usec == 0)
                        continue;
                c->period_usage_nsec += got;
                if (!c->period_counted) {
                        c->stat.nr_periods++;
                        c->period_counted = true;
                }
                if (c->period_usage_nsec >= c->quota_usec * NSEC_PER_USEC) {
                        c->throttled = true;
                        c->throttled_since_usec = end;
                        c->stat.nr_throttled++;
                }
        }

        h->now_usec = end;
}
