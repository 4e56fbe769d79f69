/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <string.h>

#include "usage.h"

#define USEC_PER_SEC_U64 1000000ULL

static const char *const usage_reads_names[_USAGE_READS_MAX] = {
        [USAGE_READS_ADAPTIVE] = "adaptive",
        [USAGE_READS_EVERY_TICK] = "every-tick",
};

const char *usage_reads_to_string(UsageReads r) {
        return (unsigned)r < _USAGE_READS_MAX ? usage_reads_names[r] : NULL;
}

int usage_reads_from_string(const char *s) {
        for (int i = 0; s && i < _USAGE_READS_MAX; i++)
                if (strcmp(s, usage_reads_names[i]) == 0)
                        return i;
        return -EINVAL;
}

static uint64_t rate_of(uint64_t used_usec, uint64_t interval_usec) {
        if (interval_usec == 0)
                return 0;
        return (uint64_t)((unsigned __int128)used_usec * USEC_PER_SEC_U64 / interval_usec);
}

static bool same_rate(uint64_t a, uint64_t b) {
        uint64_t diff = a > b ? a - b : b - a;
        uint64_t tolerance = b / USAGE_TOLERANCE_DIVISOR;

        return diff <= (tolerance > USAGE_SLACK_PER_SEC ? tolerance : USAGE_SLACK_PER_SEC);
}

bool usage_plan_due(const UsagePlan *p, uint64_t now_usec, uint64_t ticks, size_t index, uint64_t tick_usec) {
        uint64_t poll = p->rate_per_sec == 0 && !p->throttled ? USAGE_IDLE_POLL_USEC : USAGE_STEADY_POLL_USEC;
        uint64_t every = tick_usec > 0 ? poll / tick_usec : 1;

        /* Warm: a window after the last read, less half a tick so that a
         * tick a little early does not push it a whole tick later. */
        if (p->warm)
                return p->last_read_usec == 0 || now_usec + tick_usec / 2 >= p->last_read_usec + USAGE_WINDOW_USEC;
        if (!p->steady || every <= 1)
                return true;
        return (ticks + index) % every == 0;
}

/* Part of what the core was told too little before the last read, spread
 * over as long as it took to build up (at least USAGE_WINDOW_USEC, the
 * core's own averaging time): told in one tick, a second's difference would
 * look like a burst of use to the core's demand estimate, and even spread
 * over a window a steady VM's one-percent error would lift its demand past
 * the weight's deadband every second (a write up, a write back). */
static uint64_t owed_release(UsagePlan *p, uint64_t elapsed_usec) {
        uint64_t part;

        if (p->owed_usec == 0)
                return 0;
        part = (uint64_t)((unsigned __int128)p->owed_at_read_usec * elapsed_usec / p->owed_spread_usec);
        part = part < 1 ? 1 : part;
        part = part < p->owed_usec ? part : p->owed_usec;
        p->owed_usec -= part;
        return part;
}

uint64_t usage_plan_estimate(UsagePlan *p, uint64_t elapsed_usec, bool *ret_throttled) {
        uint64_t est = (uint64_t)((unsigned __int128)p->rate_per_sec * elapsed_usec / USEC_PER_SEC_U64);

        est += owed_release(p, elapsed_usec);
        p->told_usec += est;
        if (ret_throttled)
                *ret_throttled = p->throttled;
        return est;
}

static void window_reset(UsagePlan *p) {
        p->window_used_usec = 0;
        p->window_usec = 0;
        p->window_reads = 0;
}

void usage_plan_wake(UsagePlan *p) {
        p->steady = false;
        p->warm = false;
        p->have_window_rate = false;
        window_reset(p);
}

/* Read once a window, told `rate` in between. */
static void go_warm(UsagePlan *p, uint64_t rate, bool throttled) {
        p->steady = false;
        p->warm = true;
        p->rate_per_sec = rate;
        p->throttled = throttled;
        p->have_window_rate = true;
        p->window_rate_per_sec = rate;
        p->window_rate_throttled = throttled;
        window_reset(p);
}

uint64_t usage_plan_observe(UsagePlan *p, uint64_t now_usec, uint64_t delta_usec, uint64_t interval_usec,
                            uint64_t elapsed_usec, bool throttled, bool may_settle) {
        uint64_t told, fair, residual;

        /* What the counter shows beyond what the core was told since the
         * last read.  What it was told too much is forgotten, not taken off
         * later ticks: that would hide the use of a VM that wakes up from
         * the core's demand estimate (a VM's bucket is under-credited by at
         * most what one interval's estimate was off by). */
        /* This tick's part of the interval at its average rate, and what the
         * ticks before it were told too little, spread over the ticks after. */
        fair = interval_usec > elapsed_usec ? (uint64_t)((unsigned __int128)delta_usec * elapsed_usec / interval_usec)
                                            : delta_usec;
        residual = delta_usec - fair;
        residual = residual > p->told_usec ? residual - p->told_usec : 0;
        p->told_usec = 0;
        p->owed_usec += residual;
        p->owed_at_read_usec = p->owed_usec;
        p->owed_spread_usec = interval_usec > USAGE_WINDOW_USEC ? interval_usec : USAGE_WINDOW_USEC;
        told = fair + owed_release(p, elapsed_usec);
        p->last_read_usec = now_usec;

        if (!may_settle) {
                usage_plan_wake(p);
                return told;
        }

        if (p->steady) {
                uint64_t rate = rate_of(delta_usec, interval_usec);

                /* An idle VM that used anything is awake. */
                if (interval_usec == 0)
                        usage_plan_wake(p);
                else if (throttled != p->throttled || !same_rate(rate, p->rate_per_sec) ||
                         (p->rate_per_sec == 0 && delta_usec > 0))
                        go_warm(p, rate, throttled);
                else
                        p->rate_per_sec = rate; /* follows a slow drift */
                return told;
        }

        /* Throttled in any tick of the window counts for the window: the core
         * remembers a throttle for about as long (THROTTLE_MEMORY_USEC). */
        if (p->window_usec == 0)
                p->window_throttled = throttled;
        else
                p->window_throttled |= throttled;
        p->window_used_usec += delta_usec;
        p->window_usec += interval_usec;
        p->window_reads++;
        /* A hot VM's first window counts only with USAGE_WINDOW_MIN_READS
         * reads in it: a window of a few ticks the loop was late for says
         * little about a rate. */
        if (p->window_usec >= USAGE_WINDOW_USEC && (p->warm || p->window_reads >= USAGE_WINDOW_MIN_READS)) {
                uint64_t rate = rate_of(p->window_used_usec, p->window_usec);

                bool idle = p->window_used_usec == 0 && !p->window_throttled;

                /* A throttled VM (held back by cpu.max, or waiting for a CPU)
                 * is where the decisions are made: it stays warm, read every
                 * window, never steady. */
                if (idle || (p->have_window_rate && !p->window_throttled && !p->window_rate_throttled &&
                             same_rate(rate, p->window_rate_per_sec))) {
                        p->steady = true;
                        p->warm = false;
                        p->rate_per_sec = rate;
                        p->throttled = p->window_throttled;
                        p->have_window_rate = false;
                        window_reset(p);
                } else
                        go_warm(p, rate, p->window_throttled);
        }
        return told;
}
