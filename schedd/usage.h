/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * When to read a VM's cpu.stat, and what to tell the core in between: pure,
 * no I/O, no clock (times come in as arguments).
 *
 * Reading is most of what a tick costs (a pread of cpu.stat, and of
 * cpu.pressure, a few microseconds each; on a real host each read also
 * flushes the kernel's per-CPU statistics), so with [schedd] usage_reads =
 * adaptive a VM is read every tick only while its use is changing or its
 * decision could change (hot: held, bursting, just attached, given a new
 * cpu.max).  Past its first window of USAGE_WINDOW_USEC a VM is warm, read
 * once a window (a throttled one stays warm: held back by cpu.max or
 * waiting for a CPU, it is where decisions change); a VM whose use held
 * still, unthrottled, over two windows is steady (one
 * that used nothing over one window is idle, read every USAGE_IDLE_POLL_USEC):
 * it is read every USAGE_STEADY_POLL_USEC.  On the ticks between reads the
 * core is told the VM used what it used per second over its last window (and
 * the throttled state its last read showed): the core averages use over
 * about a window anyway (sched.c, USE_AVERAGE_USEC).  When it is read, the
 * core gets what the counter says it used since the last read less what it
 * was told on the ticks between, spread over as long as it built up in
 * (told in one tick, it would look like a burst): use it was not told of is
 * never lost; what
 * it was told too much (at most what one interval's estimate was off by) is
 * forgotten, so that the use of a VM waking up is not hidden behind it.
 * A read whose rate differs from the estimate by more than
 * 1/USAGE_TOLERANCE_DIVISOR (and USAGE_SLACK_PER_SEC), or whose throttled
 * state differs, makes a steady VM warm again.
 *
 * With usage_reads = every-tick every VM that used CPU lately is read every
 * tick (idle ones every 100 ms, manager-vm.c), as schedd did before.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum UsageReads {
        /* The default (0): every VM that used CPU lately, every tick. Adaptive reads
         * are opt-in while an idle VM's stale pressure can count as held back under
         * them (test-manager-pressure) and the real-kernel examples vary with them. */
        USAGE_READS_EVERY_TICK,
        USAGE_READS_ADAPTIVE, /* steady VMs read every USAGE_STEADY_POLL_USEC */
        _USAGE_READS_MAX,
} UsageReads;

/* "adaptive", "every-tick"; NULL out of range. */
const char *usage_reads_to_string(UsageReads r);
/* UsageReads, or -EINVAL. */
int usage_reads_from_string(const char *s);

/*
 * The bound on how stale a steady VM's use may be: 1 s.  It is what makes a
 * host of 1,000 busy VMs cost about 1,000 reads a second instead of 100,000
 * at a 10 ms tick.  A change of demand inside it shows at the next read; until
 * then the core accounts the old rate, and the read puts the difference right
 * (a bucket is never off by more than a second of the change).  The kernel
 * shares by cpu.weight between reads as it always does, so a steady VM that
 * wants more gets its weight's part meanwhile.
 */
#define USAGE_STEADY_POLL_USEC 1000000ULL
/* A VM that used nothing over a window (and was not throttled) is idle at
 * once, and read this often: 100 ms, as schedd always read idle VMs.  A VM
 * waking is then counted within 100 ms; its weight gives it its entitlement
 * meanwhile (the kernel does that between reads), and the read's delta
 * covers all it used. */
#define USAGE_IDLE_POLL_USEC 100000ULL
/* The window over which a VM read every tick is judged: 100 ms, ten ticks
 * of 10 ms, long enough that the kernel's lumpy accounting (a tick's use can
 * be off by a scheduler slice) averages out. */
#define USAGE_WINDOW_USEC 100000ULL
/* A hot VM's first window is judged only once it holds this many reads:
 * ten, a window's worth at the default 10 ms tick, so that a window of a
 * few ticks the event loop was late for (a loaded host) does not make a
 * VM warm on a rate measured over a stall. */
#define USAGE_WINDOW_MIN_READS 10

/* Rates within 1/8 of each other are the same rate: the spread of a
 * CPU-bound VM's use from one 100 ms window to the next on a real kernel is
 * a few percent; a change of demand worth acting on is more. */
#define USAGE_TOLERANCE_DIVISOR 8
/* ...or within 0.2 ms of CPU a second of each other (0.02 % of a CPU),
 * below which the relative spread of a nearly idle VM means nothing.  Not
 * more: on a host of 1,000 VMs on 2 CPUs a VM's fair part is 2 ms a second,
 * and a VM going from 1.6 to 0.8 of it must count as a change. */
#define USAGE_SLACK_PER_SEC 200ULL

/* One VM's reading plan.  All zero: read every tick, nothing known yet. */
typedef struct UsagePlan {
        bool steady;                /* read every USAGE_STEADY_POLL_USEC, estimated in between */
        bool warm;                  /* its use changed: read every USAGE_WINDOW_USEC, estimated in between */
        bool throttled;             /* steady, warm: the throttled state of its last reads */
        uint64_t rate_per_sec;      /* steady, warm: CPU-usec a second it used over its last window */
        uint64_t last_read_usec;    /* when its cpu.stat was last read; 0: never */
        uint64_t told_usec;         /* estimates the core was told since the last read */
        uint64_t owed_usec;         /* use the counter showed beyond what the core was told, still to tell... */
        uint64_t owed_at_read_usec; /* ...how much it was at the last read... */
        uint64_t owed_spread_usec;  /* ...and over how long it is told (the interval it built up in) */
        uint64_t window_used_usec;  /* read every tick: use in the window being measured... */
        uint64_t window_usec;       /* ...its length so far... */
        unsigned window_reads;      /* ...and the reads in it */
        bool window_throttled;      /* ...throttled in any of its ticks */
        bool have_window_rate;      /* the previous window's rate is known: */
        uint64_t window_rate_per_sec;
        bool window_rate_throttled;
} UsagePlan;

/* Whether a VM is read this tick (at now_usec): hot, always; warm, once a
 * USAGE_WINDOW_USEC; steady, once every USAGE_STEADY_POLL_USEC (idle:
 * USAGE_IDLE_POLL_USEC) worth of ticks, spread over the ticks by `index`.
 * With a tick that long or longer, every tick. */
bool usage_plan_due(const UsagePlan *p, uint64_t now_usec, uint64_t ticks, size_t index, uint64_t tick_usec);

/* A tick the VM is not read (steady): what the core is told it used over
 * `elapsed_usec`, and *ret_throttled.  Counted for the next read. */
uint64_t usage_plan_estimate(UsagePlan *p, uint64_t elapsed_usec, bool *ret_throttled);

/*
 * A read at `now_usec`, a tick of `elapsed_usec`: `delta_usec` is what the
 * counter rose by since the last read (over `interval_usec`), `throttled`
 * what the read showed.
 * Returns what the core is told the VM used this tick.  `may_settle`: its
 * decision cannot change from its use alone (not held, not bursting); a VM
 * that may not settle is read every tick.
 */
uint64_t usage_plan_observe(UsagePlan *p, uint64_t now_usec, uint64_t delta_usec, uint64_t interval_usec,
                            uint64_t elapsed_usec, bool throttled, bool may_settle);

/* Back to reading every tick (its knobs changed, so will its use). */
void usage_plan_wake(UsagePlan *p);
