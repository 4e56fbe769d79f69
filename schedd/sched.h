/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The scheduler core for one resource (CPU, one direction of one disk, or
 * network egress): pure, no I/O, no clock.  Time comes in as an argument.
 *
 * Each tick the caller passes what each VM used since the previous tick and
 * whether the enforcement held it back; the core
 *   1. estimates each VM's demand (what it used, or "more" if it used all it
 *      was allowed or was throttled),
 *   2. computes the weighted max-min fair allocation with reservations as
 *      floors, shares dividing the rest by water-filling, limits as
 *      ceilings (alloc.h),
 *   3. refills each VM's bucket at its entitlement and drains it by its use;
 *      a VM with tokens that wants more may burst above its allocation (taken
 *      from what others get through shares, never from their reservations);
 *      one that ran dry is held until it has refilled to tokens_min,
 *   4. derives what enforcement should apply: a rate (I/O and network), or a
 *      weight plus a ceiling (CPU: cpu.weight and cpu.max); a weight leans
 *      against what the kernel recently gave the VM beyond (or short of)
 *      its weight's part, so that it is paid back within a few ticks.
 *
 * VMs live in slots; a slot index stays valid until the VM is removed.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bucket.h"

/* How enforcement realises the allocation. */
typedef enum SchedMode {
        /* The kernel shares by weight (cpu.weight), work-conserving on its
         * own; the core sets weights proportional to the allocation and a
         * hard ceiling (cpu.max) for limits and share-0 VMs. */
        SCHED_MODE_WEIGHT,
        /* Enforcement is a rate limit (io.max, the eBPF egress bucket); the
         * core hands out spare capacity to VMs that use what they are given. */
        SCHED_MODE_RATE,
} SchedMode;

/* Per-VM settings, resolved (validate.h): rates in tokens per second. */
typedef struct SchedParams {
        uint64_t reserve; /* guaranteed rate */
        uint64_t limit;   /* hard ceiling rate (>= reserve); capacity if none */
        uint64_t burst;   /* bucket size in tokens; 0: no bucket */
        uint32_t share;   /* 0..10000 */
} SchedParams;

/* What happened to one VM since the previous tick. */
typedef struct SchedUsage {
        uint64_t used;  /* tokens used (CPU-usec, bytes, ops) */
        bool throttled; /* it was held back: by enforcement (cpu.stat nr_throttled rose, ...), or by
                         * the others (its threads waited for a CPU: sched_cpu_waited()) */
} SchedUsage;

/* What enforcement should apply to one VM, and why. */
typedef struct SchedDecision {
        uint64_t rate;        /* allowed rate now (allocation, plus burst) */
        uint64_t allocation;  /* the fair allocation for the estimated demand */
        uint64_t entitlement; /* what the bucket fills at */
        uint64_t ceiling;     /* hard ceiling: limit, or reserve for share 0 */
        uint32_t weight;      /* 1..10000, proportional to rate (weight mode) */
        bool held;            /* ran dry and not yet refilled to tokens_min */
        bool bursting;        /* spending tokens above its allocation */
        bool wants_more;      /* demand estimate: used all it was given */
} SchedDecision;

typedef struct SchedVmState SchedVmState; /* opaque per-slot state */
typedef struct Sched Sched;

/* NULL on OOM.  capacity: tokens per second of the whole resource. */
Sched *sched_new(SchedMode mode, uint64_t capacity);
Sched *sched_free(Sched *s); /* returns NULL */

int sched_set_capacity(Sched *s, uint64_t capacity);

/* Adds a VM; returns its slot (>= 0) or -ENOMEM / -EINVAL (bad params). */
int sched_add(Sched *s, const SchedParams *p);
/* Changes a VM's settings; its tokens are kept, clamped to the new size.
 * 0, -EINVAL (bad params) or -ENOENT (no such slot). */
int sched_update(Sched *s, int slot, const SchedParams *p);
/* 0 or -ENOENT.  The slot may be reused by a later sched_add(). */
int sched_remove(Sched *s, int slot);

/* One tick at monotonic time now_usec.  usage[slot] for every slot up to
 * sched_slots() (entries of free slots are ignored).  The first tick only
 * records the time.  0, or -EINVAL if time went backwards. */
int sched_tick(Sched *s, uint64_t now_usec, const SchedUsage *usage);

size_t sched_slots(const Sched *s); /* one past the highest slot in use */
bool sched_slot_used(const Sched *s, int slot);
const SchedDecision *sched_decision(const Sched *s, int slot);
const TokenBucket *sched_bucket(const Sched *s, int slot);
uint64_t sched_transitions(const Sched *s, int slot); /* released->held changes so far */
uint64_t sched_tokens_min(const Sched *s, int slot);

/* Whether a VM whose threads waited `waited_usec` for a CPU (cpu.pressure's
 * "some" total) over `elapsed_usec` was held back by the others: then it
 * wanted more than it got, whatever its use shows.  False if elapsed_usec
 * is 0. */
bool sched_cpu_waited(uint64_t waited_usec, uint64_t elapsed_usec);

/* cpu.max for a decision: the quota for `period_usec`, or 0 for "max"
 * (ceiling at or over capacity). */
uint64_t sched_cpu_max_quota_usec(const SchedDecision *d, uint64_t capacity, uint64_t period_usec);

/* Memory the core holds per VM slot, for the benchmark. */
size_t sched_bytes_per_slot(void);
