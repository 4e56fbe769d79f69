/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "sched.h"

/* min_d(), max_d() and round_i64() without a call into libm each: this runs for
 * every VM every tick, and the calls were a quarter of the core's time.  No
 * value here is a NaN; the rounded ones are rates and weights, well inside
 * int64_t, and never negative. */
static inline double min_d(double a, double b) {
        return b < a ? b : a;
}

static inline double max_d(double a, double b) {
        return b > a ? b : a;
}

static inline int64_t round_i64(double x) {
        return x < 0 ? -(int64_t)(0.5 - x) : (int64_t)(x + 0.5);
}

/* A VM that used at least this fraction of the rate it was allowed is taken
 * to want more: measured use of a saturated VM falls a little short of its
 * rate (tick jitter, the kernel's own granularity), so the test cannot be
 * "used all of it". */
#define SATURATION 0.90

/* A VM that did not use what it was allowed is estimated to want what it
 * used, and is allowed that plus this much, so that it can grow by a
 * quarter per tick before it is seen as saturated.  The headroom is not
 * taken from anyone's allocation (rates may add up to a little over the
 * capacity while a VM grows), so the allocation stays work-conserving. */
#define DEMAND_HEADROOM 0.25

/* Every VM is allowed at least this fraction of the capacity (or its
 * reservation, if larger), so that a VM always has some rate to be seen
 * using. */
#define MIN_RATE_FRACTION 0.005

/* Use is also averaged over about this long, or this many ticks if that
 * is longer (an exponential moving average): some counters move in lumps
 * (io.stat by whole requests of up to hundreds of KiB; cpu.stat on a
 * virtual machine whose clock ticks are late), so one tick can show nothing
 * from a VM that is busy on average.  A tenth of a second, or five ticks,
 * smooths that out while still following a change of load soon. */
#define USE_AVERAGE_USEC  100000.0
#define USE_AVERAGE_TICKS 5.0

/* A released VM is held when its bucket runs dry and released again only
 * when it has refilled to this fraction of its size: VServer's tokens_min,
 * the hysteresis that keeps a VM at the edge from flapping every tick. */
#define TOKENS_MIN_DIVISOR 4

/* A bucket with less than this fraction of its size left counts as dry.  A
 * burst is allowed no more above the entitlement than its tokens pay for in
 * one more tick, and the kernel delivers a little less than it is allowed,
 * so the tokens shrink by a factor each tick and would never reach zero:
 * the VM would stay released, a trace of tokens left, for ever. */
#define TOKENS_DRY_DIVISOR 32

/* How long a VM counts as wanting more after enforcement last held it
 * back: one cpu.max period (the kernel's default 100 ms), the longest a
 * VM at its ceiling can sit throttled without a new throttling event. */
#define THROTTLE_MEMORY_USEC 100000ULL

/* A VM whose threads waited for a CPU for at least this fraction of a tick
 * was held back by the others (sched_cpu_waited()): a VM with more busy
 * threads than it is given CPUs waits nearly all the time, an idle one
 * never, and one with a CPU for each of its threads only for moments. */
#define WAITED_DIVISOR 4

/* A burst takes at most this fraction of what the others get through
 * shares (their reservations it never takes): the rest it leaves them.
 * The kernel follows weights only roughly between ticks, and a VM squeezed
 * to the smallest rate for the length of a burst keeps getting less than
 * its weight for a while after it (its threads carry almost no load in the
 * load balancer's view meanwhile, and bunch up on a few CPUs): the burst
 * would be paid for twice.  Half keeps the weights within 3:1 while a
 * 1-CPU VM bursts on 2 CPUs, and still spends a bucket within a second or so. */
#define BURST_TAKE_FRACTION 0.5

/* Weight mode: the kernel's division by weight is not exact from moment
 * to moment (a cgroup that wakes up is weighed on stale load averages, the
 * load balancer spreads threads late), and a VM can get much more or less
 * than its weight's part for a few ticks.  Each VM that wants more keeps a
 * lag: what it used beyond its weight's part of what all the VMs that
 * wanted more got, forgotten with this time constant... */
#define LAG_DECAY_SEC 0.5
/* ...and its weight leans against the lag so as to pay it back over about
 * this long, */
#define LAG_PAYBACK_SEC 0.3
/* within these factors of the weight its rate gives (never below its
 * reservation's).  On an exact kernel the lag stays zero. */
#define LAG_FACTOR_MIN 0.5
#define LAG_FACTOR_MAX 2.0

/* cpu.weight's range. */
#define WEIGHT_MIN 1
#define WEIGHT_MAX 10000

/* A weight is rewritten only when it would move by more than 1/32 (3 %)
 * of itself: finer than the shares anyone asks for, coarse enough that the
 * jitter of measured use does not rewrite cpu.weight every tick. */
#define WEIGHT_DEADBAND_DIVISOR 32

struct SchedVmState {
        bool used;
        SchedParams params;
        TokenBucket bucket;
        SchedDecision decision;
        double demand;     /* estimated, tokens per second; INFINITY = wants more */
        double static_ent; /* allocation if every VM wanted all it could get */
        double avg_used;   /* moving averages of the used and the allowed rate */
        double avg_allowed;
        uint64_t transitions;
        bool fresh; /* added since the last tick */
        uint64_t throttled_until_usec;
        double lag; /* weight mode: use beyond its weight's part, in tokens (LAG_DECAY_SEC) */
};

struct Sched {
        SchedMode mode;
        uint64_t capacity;
        uint64_t last_usec;
        bool started;
        bool static_dirty;
        SchedVmState *vms;
        size_t n_alloc; /* allocated slots */
        size_t n_slots; /* one past the highest used slot */
        /* Scratch for the allocation, one entry per slot. */
        AllocItem *items;
        AllocKey *keys;
        AllocItem *sub;
        double *x;
        double *x2;
};

static double ceiling_of(const SchedParams *p) {
        /* share 0: reservation-only, never more than the reservation. */
        uint64_t c = p->share == 0 && p->reserve < p->limit ? p->reserve : p->limit;
        return (double)c;
}

static bool params_valid(const Sched *s, const SchedParams *p) {
        return p->share <= WEIGHT_MAX && p->reserve <= p->limit && p->limit <= s->capacity;
}

Sched *sched_new(SchedMode mode, uint64_t capacity) {
        Sched *s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        s->mode = mode;
        s->capacity = capacity;
        s->static_dirty = true;
        return s;
}

Sched *sched_free(Sched *s) {
        if (!s)
                return NULL;
        free(s->vms);
        free(s->items);
        free(s->keys);
        free(s->x);
        free(s->sub);
        free(s->x2);
        free(s);
        return NULL;
}

int sched_set_capacity(Sched *s, uint64_t capacity) {
        for (size_t i = 0; i < s->n_slots; i++)
                if (s->vms[i].used && s->vms[i].params.limit > capacity)
                        return -EINVAL;
        s->capacity = capacity;
        s->static_dirty = true;
        return 0;
}

static int grow(Sched *s) {
        size_t n = s->n_alloc ? s->n_alloc * 2 : 16;
        SchedVmState *vms = realloc(s->vms, n * sizeof(*vms));
        if (!vms)
                return -ENOMEM;
        s->vms = vms;
        memset(vms + s->n_alloc, 0, (n - s->n_alloc) * sizeof(*vms));

        AllocItem *items = realloc(s->items, n * sizeof(*items));
        if (!items)
                return -ENOMEM;
        s->items = items;
        AllocKey *keys = realloc(s->keys, n * sizeof(*keys));
        if (!keys)
                return -ENOMEM;
        s->keys = keys;
        double *x = realloc(s->x, n * sizeof(*x));
        if (!x)
                return -ENOMEM;
        s->x = x;
        AllocItem *sub = realloc(s->sub, n * sizeof(*sub));
        if (!sub)
                return -ENOMEM;
        s->sub = sub;
        double *x2 = realloc(s->x2, n * sizeof(*x2));
        if (!x2)
                return -ENOMEM;
        s->x2 = x2;

        s->n_alloc = n;
        return 0;
}

static void apply_params(SchedVmState *v, const SchedParams *p) {
        bool was_enabled = bucket_enabled(&v->bucket);
        v->params = *p;
        bucket_resize(&v->bucket, p->burst);
        if (!bucket_enabled(&v->bucket))
                v->decision.held = false;
        else if (!was_enabled)
                /* A new bucket starts empty: held until it has earned tokens_min. */
                v->decision.held = true;
}

int sched_add(Sched *s, const SchedParams *p) {
        size_t slot;
        int r;

        if (!params_valid(s, p))
                return -EINVAL;

        for (slot = 0; slot < s->n_slots; slot++)
                if (!s->vms[slot].used)
                        break;
        if (slot >= s->n_alloc) {
                r = grow(s);
                if (r < 0)
                        return r;
        }

        SchedVmState *v = &s->vms[slot];
        *v = (SchedVmState){.used = true, .demand = INFINITY, .fresh = s->started};
        bucket_init(&v->bucket, 0);
        apply_params(v, p);
        if (slot >= s->n_slots)
                s->n_slots = slot + 1;
        s->static_dirty = true;
        return (int)slot;
}

int sched_update(Sched *s, int slot, const SchedParams *p) {
        if (!sched_slot_used(s, slot))
                return -ENOENT;
        if (!params_valid(s, p))
                return -EINVAL;
        apply_params(&s->vms[slot], p);
        s->static_dirty = true;
        return 0;
}

int sched_remove(Sched *s, int slot) {
        if (!sched_slot_used(s, slot))
                return -ENOENT;
        s->vms[slot].used = false;
        while (s->n_slots > 0 && !s->vms[s->n_slots - 1].used)
                s->n_slots--;
        s->static_dirty = true;
        return 0;
}

size_t sched_slots(const Sched *s) {
        return s->n_slots;
}

bool sched_slot_used(const Sched *s, int slot) {
        return slot >= 0 && (size_t)slot < s->n_slots && s->vms[slot].used;
}

const SchedDecision *sched_decision(const Sched *s, int slot) {
        return sched_slot_used(s, slot) ? &s->vms[slot].decision : NULL;
}

const TokenBucket *sched_bucket(const Sched *s, int slot) {
        return sched_slot_used(s, slot) ? &s->vms[slot].bucket : NULL;
}

uint64_t sched_transitions(const Sched *s, int slot) {
        return sched_slot_used(s, slot) ? s->vms[slot].transitions : 0;
}

uint64_t sched_tokens_min(const Sched *s, int slot) {
        if (!sched_slot_used(s, slot))
                return 0;
        uint64_t size = s->vms[slot].bucket.size;
        return size ? (size + TOKENS_MIN_DIVISOR - 1) / TOKENS_MIN_DIVISOR : 0;
}

size_t sched_bytes_per_slot(void) {
        return sizeof(SchedVmState) + 2 * sizeof(AllocItem) + sizeof(AllocKey) + 2 * sizeof(double);
}

bool sched_cpu_waited(uint64_t waited_usec, uint64_t elapsed_usec) {
        return elapsed_usec > 0 && waited_usec > 0 &&
               waited_usec >= elapsed_usec / WAITED_DIVISOR + (elapsed_usec % WAITED_DIVISOR != 0);
}

uint64_t sched_cpu_max_quota_usec(const SchedDecision *d, uint64_t capacity, uint64_t period_usec) {
        if (d->ceiling >= capacity)
                return 0;
        /* Round up: a quota a hair short of the ceiling would hold the VM
         * below what it is promised. The kernel refuses quotas under 1 ms. */
        unsigned __int128 q = ((unsigned __int128)d->ceiling * period_usec + USEC_PER_SEC - 1) / USEC_PER_SEC;
        return q < 1000 ? 1000 : (uint64_t)q;
}

/* The allocation every VM would get if all wanted as much as they can:
 * what a VM is entitled to however busy the others are.  Its bucket fills
 * at least at this rate. */
static void compute_static(Sched *s) {
        for (size_t i = 0; i < s->n_slots; i++) {
                SchedVmState *v = &s->vms[i];
                double ceil = v->used ? ceiling_of(&v->params) : 0;
                s->items[i] = (AllocItem){
                        .floor = v->used ? min_d((double)v->params.reserve, ceil) : 0,
                        .cap = ceil,
                        .weight = v->used ? v->params.share : 0,
                };
        }
        alloc_waterfill((double)s->capacity, s->items, s->n_slots, s->x, s->keys, NULL);
        for (size_t i = 0; i < s->n_slots; i++)
                s->vms[i].static_ent = s->x[i];
        s->static_dirty = false;
}

/* Demand estimate from one tick's use.  `allowed` is the rate the VM
 * could have had: its rate, or its part of the capacity when the VMs that
 * ran were allowed more than the capacity in all. */
static void estimate_demand(SchedVmState *v, const SchedUsage *u, double dt_sec, double allowed, uint64_t now_usec) {
        double used_rate = (double)u->used / dt_sec;
        double window_usec = max_d(USE_AVERAGE_USEC, USE_AVERAGE_TICKS * dt_sec * USEC_PER_SEC);
        double alpha = dt_sec * USEC_PER_SEC / (window_usec + dt_sec * USEC_PER_SEC);

        v->avg_used += alpha * (used_rate - v->avg_used);
        v->avg_allowed += alpha * (allowed - v->avg_allowed);

        /* Held back by enforcement: it wants more, and keeps wanting more
         * for a while after, because a VM throttled by cpu.max for a whole
         * tick shows no use and no new throttling event in that tick. */
        if (u->throttled)
                v->throttled_until_usec = now_usec + THROTTLE_MEMORY_USEC;
        /* A tick that used all it was allowed counts the same way: lumpy
         * accounting makes a saturated VM's use flicker below the line for a
         * tick or two, and reading each of those as "wants only what it used"
         * would move its weight back and forth every few ticks. */
        if (used_rate > 0 && used_rate >= SATURATION * allowed)
                v->throttled_until_usec = now_usec + THROTTLE_MEMORY_USEC;

        v->decision.wants_more =
                now_usec < v->throttled_until_usec || (v->avg_used > 0 && v->avg_used >= SATURATION * v->avg_allowed);
        v->demand = v->decision.wants_more ? INFINITY : max_d(used_rate, v->avg_used);
}

/* Refill at the entitlement that held during the tick, drain by use, and
 * move between held and released. */
static void account_bucket(Sched *s, int slot, const SchedUsage *u, uint64_t dt_usec) {
        SchedVmState *v = &s->vms[slot];

        if (!bucket_enabled(&v->bucket))
                return;

        /* A VM that used all it could have had saves nothing: tokens are
         * what a VM leaves unused of its entitlement by its own choice, not
         * what it could not get because the resource delivered a little
         * less than its nominal capacity (time the host context or the
         * daemon itself took, accounting noise).  Otherwise a VM that
         * never idles would slowly fill its bucket and burst. */
        uint64_t refill = v->decision.entitlement;
        if (v->decision.wants_more) {
                unsigned __int128 used_rate = (unsigned __int128)u->used * USEC_PER_SEC / dt_usec;
                if (used_rate < refill)
                        refill = (uint64_t)used_rate;
        }
        /* Filled and drained together, as they were over the tick: with
         * room for the tick's use, a bucket near full loses to its size
         * only what that use did not take (refilled first into the bare
         * size, a 100 ms tick of a bursting VM would lose up to a tenth of
         * its entitlement's worth each tick). */
        uint64_t size = v->bucket.size;
        bucket_resize(&v->bucket, size + (u->used < UINT64_MAX - size ? u->used : UINT64_MAX - size));
        bucket_refill(&v->bucket, refill, dt_usec);
        BucketResult r = bucket_consume(&v->bucket, u->used, NULL);
        bucket_resize(&v->bucket, size);

        if (!v->decision.held &&
            (r == BUCKET_OVERCONSUMED || v->bucket.tokens * TOKENS_DRY_DIVISOR < size || v->bucket.tokens == 0)) {
                v->decision.held = true;
                v->transitions++;
        } else if (v->decision.held && v->bucket.tokens >= sched_tokens_min(s, slot))
                v->decision.held = false;
}

/* Water-fills `capacity` over the slots whose bursting flag equals
 * `bursting`, with caps from `caps` (or the pass-1 items), into s->x2. */
static double fill_subset(Sched *s, bool bursting, double capacity) {
        for (size_t i = 0; i < s->n_slots; i++) {
                SchedVmState *v = &s->vms[i];
                if (v->used && v->decision.bursting == bursting)
                        s->sub[i] = s->items[i];
                else
                        s->sub[i] = (AllocItem){0};
        }
        return alloc_waterfill(capacity, s->sub, s->n_slots, s->x2, s->keys, NULL);
}

static void allocate(Sched *s, double dt_sec) {
        double cap = (double)s->capacity;
        size_t n = s->n_slots;
        bool any_burst = false;

        /* Pass 1: the fair allocation for the estimated demands. */
        for (size_t i = 0; i < n; i++) {
                SchedVmState *v = &s->vms[i];
                if (!v->used) {
                        s->items[i] = (AllocItem){0};
                        continue;
                }
                double want = min_d(v->demand, ceiling_of(&v->params));
                s->items[i] = (AllocItem){
                        .floor = min_d(want, (double)v->params.reserve),
                        .cap = want,
                        .weight = v->params.share,
                };
        }
        alloc_waterfill(cap, s->items, n, s->x, s->keys, NULL);

        for (size_t i = 0; i < n; i++) {
                SchedVmState *v = &s->vms[i];
                if (!v->used)
                        continue;
                double ceil = ceiling_of(&v->params);
                SchedDecision *d = &v->decision;
                d->allocation = (uint64_t)round_i64(s->x[i]);
                d->entitlement = (uint64_t)round_i64(min_d(max_d(s->x[i], v->static_ent), ceil));
                d->ceiling = (uint64_t)ceil;
                d->bursting = !d->held && bucket_enabled(&v->bucket) && v->bucket.tokens > 0 && d->wants_more &&
                              s->x[i] < ceil;
                /* A burst is measured against what the VM is entitled to
                 * when every VM is busy: a burst squeezes the others, their
                 * use (and so their estimated demand) falls, and the
                 * bursting VM's allocation rises with it; refilling at
                 * that would let a burst pay for itself and never end. */
                if (d->bursting)
                        d->entitlement = (uint64_t)round_i64(min_d(v->static_ent, ceil));
                any_burst = any_burst || d->bursting;
        }

        /* Pass 2: bursting VMs take from what the others get through shares
         * (at most BURST_TAKE_FRACTION of it), never from their
         * reservations, and no faster than their tokens last for one more
         * tick.  The bursting VMs divide what is left after the others'
         * floors; then the others divide what the bursts leave. */
        if (any_burst) {
                double others_floor = 0, burst_sum = 0;
                for (size_t i = 0; i < n; i++) {
                        SchedVmState *v = &s->vms[i];
                        if (!v->used)
                                continue;
                        if (v->decision.bursting)
                                s->items[i].cap =
                                        min_d(ceiling_of(&v->params), s->x[i] + (double)v->bucket.tokens / dt_sec);
                        else
                                others_floor += s->items[i].floor +
                                                (1 - BURST_TAKE_FRACTION) * max_d(s->x[i] - s->items[i].floor, 0);
                }
                fill_subset(s, true, max_d(cap - others_floor, 0));
                for (size_t i = 0; i < n; i++)
                        if (s->vms[i].used && s->vms[i].decision.bursting) {
                                s->x[i] = s->x2[i];
                                burst_sum += s->x2[i];
                        }
                fill_subset(s, false, max_d(cap - burst_sum, 0));
                for (size_t i = 0; i < n; i++)
                        if (s->vms[i].used && !s->vms[i].decision.bursting)
                                s->x[i] = s->x2[i];
        }

        /* The rate each VM may use now; at least its reservation and a
         * little, so that a VM waking up is seen at once. */
        for (size_t i = 0; i < n; i++) {
                SchedVmState *v = &s->vms[i];
                if (!v->used)
                        continue;
                double ceil = ceiling_of(&v->params);
                double floor_rate = max_d((double)v->params.reserve, MIN_RATE_FRACTION * cap);
                /* A VM that does not use all it may is allowed its static
                 * entitlement: it does not use it, so nobody loses, and if
                 * it wakes up it has its part at once instead of a tick
                 * later (the kernel gives a cgroup no more than it uses,
                 * whatever its weight). */
                if (!v->decision.wants_more)
                        floor_rate = max_d(floor_rate, max_d(v->static_ent, v->demand * (1 + DEMAND_HEADROOM)));
                floor_rate = min_d(ceil, floor_rate);
                v->decision.rate = (uint64_t)round_i64(max_d(s->x[i], floor_rate));
        }

        /* Weights proportional to the rates, on a fixed scale (the whole
         * capacity is WEIGHT_MAX), so that one VM's change moves no other
         * VM's weight.  A weight moves only when the rate moved by more
         * than WEIGHT_DEADBAND_DIVISOR-th of it: every change is a write to
         * a cgroup file, and the kernel's sharing cannot tell the
         * difference. */
        for (size_t i = 0; i < n; i++) {
                SchedVmState *v = &s->vms[i];
                if (!v->used)
                        continue;
                double rate = (double)v->decision.rate;
                if (s->mode == SCHED_MODE_WEIGHT && v->decision.wants_more && !v->decision.bursting && rate > 0) {
                        double f = 1 - v->lag / (rate * LAG_PAYBACK_SEC);
                        rate = max_d(rate * min_d(max_d(f, LAG_FACTOR_MIN), LAG_FACTOR_MAX),
                                     min_d((double)v->params.reserve, rate));
                }
                double w = cap > 0 ? (double)round_i64(rate * WEIGHT_MAX / cap) : WEIGHT_MIN;
                uint32_t nw = (uint32_t)min_d(max_d(w, WEIGHT_MIN), WEIGHT_MAX);
                uint32_t ow = v->decision.weight;
                uint32_t diff = nw > ow ? nw - ow : ow - nw;
                if (ow == 0 || (uint64_t)diff * WEIGHT_DEADBAND_DIVISOR > ow)
                        v->decision.weight = nw;
        }
}

/* Weight mode: each VM's lag (LAG_DECAY_SEC) from the tick's use.  The VMs
 * that wanted more and have no ceiling below the capacity divided what they
 * got by the weights in force during the tick; what one got beyond its part
 * adds to its lag, what it got short subtracts.  Others have none. */
static void track_lag(Sched *s, const SchedUsage *usage, double dt_sec) {
        double keep = max_d(0, 1 - dt_sec / LAG_DECAY_SEC), got = 0, weights = 0;

        for (size_t i = 0; i < s->n_slots; i++) {
                const SchedVmState *v = &s->vms[i];
                if (v->used && v->decision.wants_more && v->decision.ceiling >= s->capacity) {
                        got += (double)usage[i].used;
                        weights += v->decision.weight;
                }
        }
        for (size_t i = 0; i < s->n_slots; i++) {
                SchedVmState *v = &s->vms[i];
                if (!v->used)
                        continue;
                if (!v->decision.wants_more || v->decision.ceiling < s->capacity || weights <= 0) {
                        v->lag = 0;
                        continue;
                }
                v->lag = v->lag * keep + (double)usage[i].used - got * v->decision.weight / weights;
        }
}

int sched_tick(Sched *s, uint64_t now_usec, const SchedUsage *usage) {
        if (s->started && now_usec < s->last_usec)
                return -EINVAL;
        if (s->static_dirty)
                compute_static(s);

        if (!s->started) {
                /* Nothing measured yet: start every VM at its entitlement. */
                s->started = true;
                s->last_usec = now_usec;
                for (size_t i = 0; i < s->n_slots; i++)
                        s->vms[i].demand = INFINITY;
                allocate(s, 1);
                return 0;
        }

        uint64_t dt_usec = now_usec - s->last_usec;
        if (dt_usec == 0)
                return 0;
        double dt_sec = (double)dt_usec / USEC_PER_SEC;
        s->last_usec = now_usec;

        /* When the VMs that ran were allowed more than the capacity in all,
         * each could only have had its part of it: in weight mode the
         * kernel divides by weight, in rate mode a saturated device serves
         * everyone more slowly in proportion. */
        double active = 0;
        for (size_t i = 0; i < s->n_slots; i++)
                if (s->vms[i].used && !s->vms[i].fresh && usage[i].used > 0)
                        active += s->mode == SCHED_MODE_WEIGHT ? (double)s->vms[i].decision.weight
                                                               : (double)s->vms[i].decision.rate;
        double active_rate = s->mode == SCHED_MODE_WEIGHT ? 0 : active;

        for (size_t i = 0; i < s->n_slots; i++) {
                SchedVmState *v = &s->vms[i];
                if (!v->used)
                        continue;
                if (v->fresh) {
                        /* Added since the last tick: its use covers less
                         * than the tick, so judge it from the next one. */
                        v->fresh = false;
                        v->demand = INFINITY;
                        continue;
                }
                double allowed = (double)v->decision.rate;
                if (s->mode == SCHED_MODE_WEIGHT && active > 0)
                        allowed = min_d(allowed, (double)s->capacity * v->decision.weight / active);
                else if (active_rate > (double)s->capacity)
                        allowed = allowed * (double)s->capacity / active_rate;
                estimate_demand(v, &usage[i], dt_sec, allowed, now_usec);
                account_bucket(s, (int)i, &usage[i], dt_usec);
        }
        if (s->mode == SCHED_MODE_WEIGHT)
                track_lag(s, usage, dt_sec);

        allocate(s, dt_sec);
        return 0;
}
