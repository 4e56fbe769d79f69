/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The floor under the daemon's cost: an sd-event loop that wakes on a
 * monotonic timer every tick, re-armed the way schedd re-arms its own, and
 * does nothing else.  What a process pays here (the wake-up, the context
 * switches, epoll and the timer's system calls) schedd pays at the same tick
 * whatever it does; tools/bench-daemon and tests/vm/bench-daemon measure it
 * beside schedd so that the rest can be told apart.
 *
 * Usage: bench-tick-floor [TICK_USEC [TICKS]]   (default 10000 us, run until killed)
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-event.h>

/* The daemon's default tick. */
#define DEFAULT_TICK_USEC 10000ULL
/* The timer's accuracy, as a fraction of the tick: schedd's own
 * (MANAGER_TICK_ACCURACY_DIVISOR), so that both are woken alike. */
#define TICK_ACCURACY_DIVISOR 20

typedef struct Floor {
        uint64_t tick_usec;
        uint64_t next_usec;
        uint64_t ticks;
        uint64_t max_ticks;
} Floor;

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Floor *f = userdata;
        int r;

        f->ticks++;
        if (f->max_ticks > 0 && f->ticks >= f->max_ticks)
                return sd_event_exit(sd_event_source_get_event(s), 0);
        f->next_usec = usec + f->tick_usec;
        r = sd_event_source_set_time(s, f->next_usec);
        if (r >= 0)
                r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return r < 0 ? sd_event_exit(sd_event_source_get_event(s), r) : 0;
}

static int parse_u64(const char *s, uint64_t min, uint64_t *ret) {
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min)
                return -EINVAL;
        *ret = v;
        return 0;
}

int main(int argc, char **argv) {
        Floor f = { .tick_usec = DEFAULT_TICK_USEC };
        sd_event *e = NULL;
        uint64_t now;
        int r;

        if (argc > 3 || (argc > 1 && parse_u64(argv[1], 1, &f.tick_usec) < 0) ||
            (argc > 2 && parse_u64(argv[2], 0, &f.max_ticks) < 0)) {
                fprintf(stderr, "usage: %s [TICK_USEC (>= 1) [TICKS]]\n", argv[0]);
                return 2;
        }
        r = sd_event_default(&e);
        if (r >= 0)
                r = sd_event_now(e, CLOCK_MONOTONIC, &now);
        if (r >= 0) {
                f.next_usec = now + f.tick_usec;
                r = sd_event_add_time(e, NULL, CLOCK_MONOTONIC, f.next_usec,
                                      f.tick_usec / TICK_ACCURACY_DIVISOR ?: 1, on_tick, &f);
        }
        if (r >= 0)
                r = sd_event_loop(e);
        sd_event_unref(e);
        if (r < 0) {
                fprintf(stderr, "bench-tick-floor: %s\n", strerror(-r));
                return 1;
        }
        printf("%" PRIu64 " ticks\n", f.ticks);
        return 0;
}
