/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

/* cpu.stat shows microseconds; the model counts nanoseconds, the kernel's own unit. */
#define NSEC_PER_USEC 1000ULL
/* Micro-CPUs per CPU: one CPU is one CPU-microsecond per microsecond. */
#define UCPU_PER_CPU 1000000ULL
/* What a cgroup's own threads weigh against its child cgroups: a nice-0
 * task's load weight (1024) is what cpu.weight 100 maps to. */
#define OWN_THREADS_WEIGHT SIMHOST_WEIGHT_DEFAULT

int simhost_init(SimHost *h, uint64_t cpus_ucpu, size_t n_cgroups) {
        SimHost n = {.cpus_ucpu = cpus_ucpu, .n_cgroups = n_cgroups};

        if (cpus_ucpu == 0 || cpus_ucpu > SIMHOST_CPUS_MAX_UCPU || n_cgroups >= SIMHOST_NO_PARENT)
                return -EINVAL;

        /* One more entry in each level's scratch: the cgroup's own threads. */
        n.cgroups = calloc(n_cgroups ?: 1, sizeof(*n.cgroups));
        n.cap_nsec = calloc(n_cgroups ?: 1, sizeof(*n.cap_nsec));
        n.got_nsec = calloc(n_cgroups ?: 1, sizeof(*n.got_nsec));
        n.fill_cap = calloc(n_cgroups + 1, sizeof(*n.fill_cap));
        n.fill_got = calloc(n_cgroups + 1, sizeof(*n.fill_got));
        n.fill_weight = calloc(n_cgroups + 1, sizeof(*n.fill_weight));
        n.fill_index = calloc(n_cgroups + 1, sizeof(*n.fill_index));
        n.settled = calloc(n_cgroups + 1, sizeof(*n.settled));
        if (!n.cgroups || !n.cap_nsec || !n.got_nsec || !n.fill_cap || !n.fill_got || !n.fill_weight ||
            !n.fill_index || !n.settled) {
                simhost_done(&n);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n_cgroups; i++)
                n.cgroups[i].parent = SIMHOST_NO_PARENT;
        *h = n;
        return 0;
}

void simhost_done(SimHost *h) {
        free(h->cgroups);
        free(h->cap_nsec);
        free(h->got_nsec);
        free(h->fill_cap);
        free(h->fill_got);
        free(h->fill_weight);
        free(h->fill_index);
        free(h->settled);
        *h = (SimHost){};
}

int simhost_set_parent(SimHost *h, size_t i, size_t parent) {
        if (i >= h->n_cgroups || (parent != SIMHOST_NO_PARENT && parent >= h->n_cgroups))
                return -ERANGE;
        if (h->cgroups[i].exists)
                return -EBUSY;
        /* Walking up from the new parent must not meet i (each step goes to a
         * slot set earlier, so the walk ends within n_cgroups steps). */
        for (size_t p = parent, steps = 0; p != SIMHOST_NO_PARENT; p = h->cgroups[p].parent, steps++)
                if (p == i || steps > h->n_cgroups)
                        return -ELOOP;
        h->cgroups[i].parent = parent;
        if (parent != SIMHOST_NO_PARENT)
                h->nested = true;
        return 0;
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
        size_t parent;

        if (i >= h->n_cgroups)
                return -ERANGE;
        if (h->cgroups[i].exists)
                return -EEXIST;
        parent = h->cgroups[i].parent;
        if (parent != SIMHOST_NO_PARENT && !h->cgroups[parent].exists)
                return -ENOENT;
        h->cgroups[i] = (SimCgroup){
                .parent = parent,
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
        for (size_t j = 0; j < h->n_cgroups; j++)
                if (h->cgroups[j].exists && h->cgroups[j].parent == i)
                        return -EBUSY;
        *c = (SimCgroup){.parent = c->parent};
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

int simhost_read_pressure(const SimHost *h, size_t i, uint64_t *ret_some_usec) {
        SimCgroup *c;
        int r;

        r = cgroup_get(h, i, &c);
        if (r < 0)
                return r;
        *ret_some_usec = c->waited_usec;
        return 0;
}

/* What is left of the cgroup's quota in this period, capping `cap`. */
static uint64_t quota_cap_nsec(const SimCgroup *c, uint64_t cap) {
        if (c->quota_usec > 0) {
                uint64_t quota_nsec = c->quota_usec * NSEC_PER_USEC;
                uint64_t left = quota_nsec > c->period_usage_nsec ? quota_nsec - c->period_usage_nsec : 0;

                if (left < cap)
                        cap = left;
        }
        return cap;
}

/* What a cgroup's own threads can take in one step. */
static uint64_t own_cap_nsec(const SimCgroup *c) {
        return (uint64_t)c->threads * SIMHOST_STEP_USEC * NSEC_PER_USEC;
}

/* The cap of cgroup i's subtree for this step into cap_nsec[i]: its own
 * threads and its children's caps, within its quota; 0 while throttled.
 * Children are reached by recursion (the tree has no loops: set_parent). */
static uint64_t subtree_cap(SimHost *h, size_t i) {
        SimCgroup *c = &h->cgroups[i];
        uint64_t cap = 0;

        if (!c->throttled) {
                cap = own_cap_nsec(c);
                for (size_t j = 0; h->nested && j < h->n_cgroups; j++)
                        if (h->cgroups[j].exists && h->cgroups[j].parent == i)
                                cap += subtree_cap(h, j);
                cap = quota_cap_nsec(c, cap);
        }
        h->cap_nsec[i] = cap;
        return cap;
}

/*
 * Weighted water-filling of `capacity` among the n entries of the fill_*
 * scratch with fill_cap > 0: each gets capacity * weight / total weight,
 * except that one whose cap is below that gets its cap, and the rest is
 * divided again among the others.  Integer shares are rounded down and the
 * few nanoseconds left over go one each to uncapped entries, so nothing is
 * lost and no cap is exceeded.  Results in fill_got.
 */
static void water_fill(SimHost *h, size_t n, uint64_t capacity) {
        uint64_t remaining = capacity;

        for (size_t i = 0; i < n; i++) {
                h->fill_got[i] = 0;
                h->settled[i] = h->fill_cap[i] == 0;
        }

        for (;;) {
                uint64_t total_weight = 0;
                bool capped_any = false;

                for (size_t i = 0; i < n; i++)
                        if (!h->settled[i])
                                total_weight += h->fill_weight[i];
                if (total_weight == 0)
                        return;

                /* Settle every entry whose cap is within its fair part: that
                 * only leaves more for the others, so one pass may settle many. */
                uint64_t pass_remaining = remaining;
                for (size_t i = 0; i < n; i++) {
                        if (h->settled[i])
                                continue;
                        uint64_t fair = pass_remaining * h->fill_weight[i] / total_weight;
                        if (h->fill_cap[i] <= fair) {
                                h->fill_got[i] = h->fill_cap[i];
                                h->settled[i] = true;
                                remaining -= h->fill_cap[i];
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
                        h->fill_got[i] = remaining * h->fill_weight[i] / total_weight;
                        given += h->fill_got[i];
                }
                for (size_t i = 0; i < n && given < remaining; i++) {
                        if (h->settled[i])
                                continue;
                        h->fill_got[i]++;
                        given++;
                }
                return;
        }
}

/* Divides `capacity` among the children of `parent` (SIMHOST_NO_PARENT: the
 * root's) and, for a cgroup, its own threads; into got_nsec, then each child's
 * part among its own children. */
static void divide(SimHost *h, size_t parent, uint64_t capacity) {
        size_t n = 0;

        for (size_t j = 0; j < h->n_cgroups; j++) {
                const SimCgroup *c = &h->cgroups[j];

                if (!c->exists || c->parent != parent || h->cap_nsec[j] == 0)
                        continue;
                h->fill_index[n] = j;
                h->fill_cap[n] = h->cap_nsec[j];
                h->fill_weight[n] = c->weight;
                n++;
        }
        if (parent != SIMHOST_NO_PARENT && h->cgroups[parent].threads > 0) {
                h->fill_index[n] = SIMHOST_NO_PARENT; /* the cgroup's own threads: nothing to divide further */
                h->fill_cap[n] = own_cap_nsec(&h->cgroups[parent]);
                h->fill_weight[n] = OWN_THREADS_WEIGHT;
                n++;
        }
        if (n == 0)
                return;
        water_fill(h, n, capacity);
        for (size_t k = 0; k < n; k++)
                if (h->fill_index[k] != SIMHOST_NO_PARENT)
                        h->got_nsec[h->fill_index[k]] = h->fill_got[k];

        /* The scratch is reused below: read the results from got_nsec. */
        for (size_t j = 0; h->nested && j < h->n_cgroups; j++)
                if (h->cgroups[j].exists && h->cgroups[j].parent == parent && h->got_nsec[j] > 0)
                        divide(h, j, h->got_nsec[j]);
}

void simhost_step(SimHost *h) {
        uint64_t now = h->now_usec, end = now + SIMHOST_STEP_USEC;
        bool period_start = now % SIMHOST_PERIOD_USEC == 0;

        for (size_t i = 0; i < h->n_cgroups; i++) {
                SimCgroup *c = &h->cgroups[i];

                h->cap_nsec[i] = 0;
                h->got_nsec[i] = 0;
                if (!c->exists)
                        continue;
                if (period_start) {
                        c->period_usage_nsec = 0;
                        c->period_counted = false;
                        cgroup_unthrottle(c, now);
                }
        }
        for (size_t i = 0; i < h->n_cgroups; i++)
                if (h->cgroups[i].exists && h->cgroups[i].parent == SIMHOST_NO_PARENT)
                        (void)subtree_cap(h, i);

        divide(h, SIMHOST_NO_PARENT, h->cpus_ucpu * SIMHOST_STEP_USEC * NSEC_PER_USEC / UCPU_PER_CPU);

        /* cpu.pressure: a cgroup whose threads got less than a CPU each
         * waited, and so did every cgroup above it (once per step). */
        for (size_t i = 0; i < h->n_cgroups; i++)
                h->cap_nsec[i] = 0; /* reused: 1 = waited in this step */
        for (size_t i = 0; i < h->n_cgroups; i++) {
                const SimCgroup *c = &h->cgroups[i];

                if (!c->exists || c->threads == 0 || h->got_nsec[i] >= own_cap_nsec(c))
                        continue;
                for (size_t p = i, steps = 0; p != SIMHOST_NO_PARENT && steps <= h->n_cgroups;
                     p = h->cgroups[p].parent, steps++)
                        h->cap_nsec[p] = 1;
        }
        for (size_t i = 0; i < h->n_cgroups; i++)
                if (h->cap_nsec[i])
                        h->cgroups[i].waited_usec += SIMHOST_STEP_USEC;
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
