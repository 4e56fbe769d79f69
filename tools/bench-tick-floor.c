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
 *
 * With --tree and --feed, it also lays out and drives the fake cgroup tree
 * tools/bench-daemon runs schedd against (in C: a shell loop could not keep
 * 1,000 counters moving every 10 ms):
 *
 *   bench-tick-floor --tree DIR N
 *       DIR/vm1 .. DIR/vmN, each with the files schedd opens, cpu.pressure
 *       among them (real cgroups have it, and schedd reads it).
 *   bench-tick-floor --feed DIR N BUSY SECONDS
 *       vm1 .. vmBUSY busy: each one's usage_usec rises every FEED_PERIOD at
 *       its rate, BUSY_FILL of an equal part of 2 CPUs; every second a tenth
 *       of them (a different tenth each second) halve or restore their rate,
 *       so some demand changes every second.  Stops after SECONDS.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

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

/* The CPUs the busy VMs share between them: the 2 of this machine. */
#define FEED_CPUS 2
/* Busy VMs use this fraction of an equal part of those CPUs: all of them
 * together less than the host has, and clear of the core's test for a VM
 * that used all it was allowed (SATURATION, 0.9 in schedd/sched.c), which a
 * file that is not a cgroup cannot act out (no kernel holds it back). */
#define BUSY_FILL 0.8
/* The counters move every 10 ms (a tick), or every BUSY/FEED_WRITES_PER_PERIOD
 * ticks where that is more: 1,000 writes a period is what this 2-CPU machine
 * can spare beside schedd (10,000 VMs: their counters move every 100 ms). */
#define FEED_PERIOD_USEC       10000ULL
#define FEED_WRITES_PER_PERIOD 1000ULL
/* A tenth of the busy VMs change their demand every second. */
#define FEED_CHANGE_DIVISOR 10

static int put(const char *dir, const char *name, const char *text) {
        char path[4096];
        int fd;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
                close(fd);
                return -EIO;
        }
        return close(fd) < 0 ? -errno : 0;
}

static int make_tree(const char *root, uint64_t n) {
        static const char *const files[][2] = {
                {"cpu.weight", "100\n"},
                {"cpu.max", "max 100000\n"},
                {"cpu.max.burst", "0\n"},
                {"memory.min", "0\n"},
                {"memory.max", "max\n"},
                {"io.max", ""},
                {"io.stat", ""},
                {"io.weight", ""},
                {"cgroup.procs", ""},
                {"cpu.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
                                 "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"},
        };
        char dir[4096], stat[256];
        int r;

        if ((mkdir(root, 0755) < 0 && errno != EEXIST) || put(root, "cgroup.controllers", "cpu io memory\n") < 0 ||
            put(root, "cgroup.subtree_control", "") < 0)
                return -errno ?: -EIO;
        for (uint64_t i = 1; i <= n; i++) {
                snprintf(dir, sizeof(dir), "%s/vm%" PRIu64, root, i);
                if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                        return -errno;
                for (size_t k = 0; k < sizeof(files) / sizeof(files[0]); k++)
                        if ((r = put(dir, files[k][0], files[k][1])) < 0)
                                return r;
                snprintf(stat, sizeof(stat),
                         "usage_usec %015d\nuser_usec 0\nsystem_usec 0\nnr_periods 0\nnr_throttled 0\n"
                         "throttled_usec 0\n",
                         0);
                if ((r = put(dir, "cpu.stat", stat)) < 0)
                        return r;
        }
        return 0;
}

static uint64_t mono_usec(void) {
        struct timespec ts;

        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

/* Rewrites the busy VMs' cpu.stat in place, with a fixed width (schedd keeps
 * the file open: a renamed-over file would never change, a truncated one
 * could be read empty). */
static int feed(const char *root, uint64_t n, uint64_t busy, uint64_t seconds) {
        struct rlimit rl;
        uint64_t period = FEED_PERIOD_USEC, start, next, last_change, last;
        uint64_t full_rate = (uint64_t)(FEED_CPUS * 1000000.0 * BUSY_FILL / (double)(busy ?: 1));
        uint64_t step = 0;
        int *fds;
        double *used;
        bool *half;
        char path[4096], text[256];

        if (busy > n)
                busy = n;
        if (busy > FEED_WRITES_PER_PERIOD)
                period = FEED_PERIOD_USEC * ((busy + FEED_WRITES_PER_PERIOD - 1) / FEED_WRITES_PER_PERIOD);
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < busy + 64) {
                rl.rlim_cur = rl.rlim_max;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
        fds = calloc(busy ?: 1, sizeof(*fds));
        used = calloc(busy ?: 1, sizeof(*used));
        half = calloc(busy ?: 1, sizeof(*half));
        if (!fds || !used || !half)
                return -ENOMEM;
        for (uint64_t i = 0; i < busy; i++) {
                snprintf(path, sizeof(path), "%s/vm%" PRIu64 "/cpu.stat", root, i + 1);
                fds[i] = open(path, O_WRONLY | O_CLOEXEC);
                if (fds[i] < 0)
                        return -errno;
        }
        fprintf(stderr,
                "feed: %" PRIu64 " of %" PRIu64 " VMs busy at %" PRIu64 " us/s each, counters every %" PRIu64 " us\n",
                busy, n, full_rate, period);
        start = last_change = last = mono_usec();
        next = start + period;
        while (mono_usec() < start + seconds * 1000000ULL) {
                uint64_t now = mono_usec();
                double dt = (double)(now - last) / 1e6;

                last = now;

                if (now - last_change >= 1000000ULL) {
                        /* A tenth of them, a different tenth each second. */
                        uint64_t k = busy / FEED_CHANGE_DIVISOR ?: 1;

                        for (uint64_t j = 0; j < k && busy > 0; j++) {
                                uint64_t i = (step * k + j) % busy;
                                half[i] = !half[i];
                        }
                        step++;
                        last_change = now;
                }
                for (uint64_t i = 0; i < busy; i++) {
                        int len;

                        used[i] += (double)(half[i] ? full_rate / 2 : full_rate) * dt;
                        len = snprintf(text, sizeof(text),
                                       "usage_usec %015" PRIu64 "\nuser_usec 0\nsystem_usec 0\nnr_periods 0\n"
                                       "nr_throttled 0\nthrottled_usec 0\n",
                                       (uint64_t)used[i]);
                        if (pwrite(fds[i], text, (size_t)len, 0) != len)
                                return -errno ?: -EIO;
                }
                now = mono_usec();
                if (next > now)
                        usleep((useconds_t)(next - now));
                next += period;
        }
        return 0;
}

int main(int argc, char **argv) {
        Floor f = {.tick_usec = DEFAULT_TICK_USEC};

        if (argc == 4 && strcmp(argv[1], "--tree") == 0) {
                uint64_t n;
                int r = parse_u64(argv[3], 0, &n);

                if (r >= 0)
                        r = make_tree(argv[2], n);
                if (r < 0)
                        fprintf(stderr, "bench-tick-floor --tree %s %s: %s\n", argv[2], argv[3], strerror(-r));
                return r < 0;
        }
        if (argc == 6 && strcmp(argv[1], "--feed") == 0) {
                uint64_t n, busy, seconds;
                int r = parse_u64(argv[3], 1, &n);

                if (r >= 0)
                        r = parse_u64(argv[4], 0, &busy);
                if (r >= 0)
                        r = parse_u64(argv[5], 1, &seconds);
                if (r >= 0)
                        r = feed(argv[2], n, busy, seconds);
                if (r < 0)
                        fprintf(stderr, "bench-tick-floor --feed %s: %s\n", argv[2], strerror(-r));
                return r < 0;
        }

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
                r = sd_event_add_time(e, NULL, CLOCK_MONOTONIC, f.next_usec, f.tick_usec / TICK_ACCURACY_DIVISOR ?: 1,
                                      on_tick, &f);
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
