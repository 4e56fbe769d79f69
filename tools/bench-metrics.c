/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * bench-metrics: what the /metrics endpoint costs, with 10, 100 and 1,000
 * VMs on a fake cgroup tree (plain files; the VMs idle, so a tick reads
 * every cpu.stat and writes nothing new).
 *
 * For each size it prints
 *   - the response size, the time to build a snapshot (tick thread, every
 *     100 ms) and to render it (endpoint thread, once per snapshot);
 *   - the scrape time seen by a client polling as fast as it can over one
 *     keep-alive connection;
 *   - the tick loop without and with that client: tick duration (wake-up
 *     to end of the tick's work) and period (between tick starts), p50 and
 *     p99, and ticks missed.
 *
 * The whole daemon runs in this process (the manager on its loop in the
 * main thread, the endpoint in its thread, the client in a third), with
 * the endpoint's socket handed over as a service manager would.
 *
 * The phases alternate, ROUNDS times, so that a change in the machine's
 * other load hits both alike; each figure is the median over the rounds
 * (missed ticks: the sum).
 *
 * Usage: bench-metrics [SECONDS [ROUNDS]]   (each phase; default 3 s, 3 rounds)
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "schedd/config.h"
#include "schedd/log.h"
#include "schedd/manager-internal.h"
#include "schedd/metrics.h"

/* The daemon's default tick. */
#define TICK_USEC 10000ULL
/* The sizes the brief of this benchmark asks about. */
static const size_t sizes[] = {10, 100, 1000};
/* Repetitions of the snapshot and render timings: enough for a stable
 * median, few enough for 1,000 VMs to take well under a second. */
#define TIMING_RUNS 21
/* Ticks before measuring: the first ticks write every VM's restore record
 * (synced to disk), which is start-up cost, not the steady state measured. */
#define WARMUP_TICKS 100

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

        return x < y ? -1 : x > y;
}

/* The q-th quantile (0..1) of v[0..n), sorting v. */
static uint64_t quantile(uint64_t *v, size_t n, double q) {
        size_t i;

        if (n == 0)
                return 0;
        qsort(v, n, sizeof(*v), cmp_u64);
        i = (size_t)(q * (double)(n - 1) + 0.5);
        return v[i < n ? i : n - 1];
}

static int put(const char *path, const char *text) {
        FILE *f = fopen(path, "w");

        if (!f)
                return -errno;
        fputs(text, f);
        return fclose(f) == 0 ? 0 : -errno;
}

/* A fake tree of n VMs and a policy for them under dir. */
static int make_tree(const char *dir, size_t n) {
        static const char *const files[][2] = {
                {"cgroup.procs", ""},
                {"cgroup.subtree_control", ""},
                {"cpu.stat", "usage_usec 1000\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n"},
                {"cpu.max", "max 100000\n"},
                {"cpu.weight", "100\n"},
                {"cpu.max.burst", "0\n"},
                {"io.stat", ""},
                {"io.max", ""},
                {"memory.min", "0\n"},
                {"memory.max", "max\n"},
        };
        char path[4096];
        FILE *policy;

        snprintf(path, sizeof(path), "%s/cg", dir);
        if (mkdir(path, 0755) < 0)
                return -errno;
        snprintf(path, sizeof(path), "%s/cg/cgroup.controllers", dir);
        if (put(path, "cpu io memory\n") < 0)
                return -EIO;
        snprintf(path, sizeof(path), "%s/cg/cgroup.subtree_control", dir);
        if (put(path, "") < 0)
                return -EIO;

        snprintf(path, sizeof(path), "%s/policy.yaml", dir);
        policy = fopen(path, "w");
        if (!policy)
                return -errno;
        fprintf(policy, "host:\n  cpus: 64\nvms:\n");
        for (size_t i = 0; i < n; i++) {
                fprintf(policy, "  vm%zu:\n    cpu: { share: %zu, limit: 50%%%s }\n", i, 1 + i % 5,
                        i % 10 == 0 ? ", reserve: 0.01, burst: 100ms" : "");
                snprintf(path, sizeof(path), "%s/cg/vm%zu", dir, i);
                if (mkdir(path, 0755) < 0) {
                        fclose(policy);
                        return -errno;
                }
                for (size_t k = 0; k < sizeof(files) / sizeof(files[0]); k++) {
                        snprintf(path, sizeof(path), "%s/cg/vm%zu/%s", dir, i, files[k][0]);
                        if (put(path, files[k][1]) < 0) {
                                fclose(policy);
                                return -EIO;
                        }
                }
        }
        return fclose(policy) == 0 ? 0 : -errno;
}

/* A listening socket on a loopback port the kernel picks, handed over as
 * systemd would (descriptor 3, LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES). */
static int hand_over_socket(uint16_t *ret_port) {
        struct sockaddr_in sa = {.sin_family = AF_INET};
        socklen_t len = sizeof(sa);
        char pid[32];
        int fd = socket(AF_INET, SOCK_STREAM, 0);

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0 ||
            getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
                return -errno;
        if (fd != 3) {
                if (dup2(fd, 3) < 0)
                        return -errno;
                close(fd);
        }
        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        setenv("LISTEN_PID", pid, 1);
        setenv("LISTEN_FDS", "1", 1);
        setenv("LISTEN_FDNAMES", "metrics", 1);
        *ret_port = ntohs(sa.sin_port);
        return 0;
}

/* The client: GET /metrics over one keep-alive connection, as fast as it can. */
typedef struct Scraper {
        uint16_t port;
        atomic_bool stop;
        atomic_bool measuring; /* set by the tick hook after the warm-up */
        uint64_t *latency_usec;
        size_t n, cap;
        size_t last_size;
        unsigned errors;
        uint64_t refused; /* 429 */
} Scraper;

static int scraper_connect(uint16_t port) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
        struct timeval tv = {.tv_sec = 2};
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0)
                return -1;
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

/* One request on fd: the body size and *ret_status, or -1 (the connection
 * is then closed). */
static ssize_t scrape_once(int fd, char *buf, size_t size, int *ret_status) {
        static const char req[] = "GET /metrics HTTP/1.1\r\nHost: bench\r\n\r\n";
        size_t n = 0, body = 0, length;
        char *end = NULL, *cl;

        if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof(req) - 1))
                return -1;
        while (!end) {
                ssize_t k = recv(fd, buf + n, size - 1 - n, 0);

                if (k <= 0)
                        return -1;
                n += (size_t)k;
                buf[n] = '\0';
                end = strstr(buf, "\r\n\r\n");
                if (!end && n >= size - 1)
                        return -1;
        }
        if (sscanf(buf, "HTTP/1.1 %d", ret_status) != 1)
                return -1;
        cl = strcasestr(buf, "\r\nContent-Length: ");
        if (!cl)
                return -1;
        length = strtoul(cl + 18, NULL, 10);
        body = n - (size_t)(end + 4 - buf);
        while (body < length) {
                ssize_t k = recv(fd, buf, size - 1, 0);

                if (k <= 0)
                        return -1;
                body += (size_t)k;
        }
        return (ssize_t)length;
}

static void *scraper_run(void *userdata) {
        Scraper *s = userdata;
        size_t size = 1 << 20;
        char *buf = malloc(size);
        int fd = -1;

        while (buf && !atomic_load(&s->stop)) {
                uint64_t t0 = now_usec();
                ssize_t got;
                int status = 0;

                if (fd < 0)
                        fd = scraper_connect(s->port);
                got = fd >= 0 ? scrape_once(fd, buf, size, &status) : -1;
                if (got >= 0 && status == 429) {
                        if (atomic_load(&s->measuring))
                                s->refused++;
                        continue;
                }
                if (got < 0 || status != 200) {
                        if (atomic_load(&s->measuring))
                                s->errors++;
                        if (fd >= 0)
                                close(fd);
                        fd = -1;
                        usleep(1000); /* no tick yet, or refused: try again shortly */
                        continue;
                }
                s->last_size = (size_t)got;
                if (!atomic_load(&s->measuring))
                        continue;
                if (s->n == s->cap) {
                        size_t cap = s->cap ? s->cap * 2 : 4096;
                        uint64_t *l = realloc(s->latency_usec, cap * sizeof(*l));

                        if (!l)
                                break;
                        s->latency_usec = l;
                        s->cap = cap;
                }
                s->latency_usec[s->n++] = now_usec() - t0;
        }
        if (fd >= 0)
                close(fd);
        free(buf);
        return NULL;
}

/* What the tick loop did: one entry per tick after the warm-up. */
typedef struct Ticks {
        Manager *m;
        Scraper *scraper;
        uint64_t max_ticks;
        uint64_t *duration_usec;
        uint64_t *period_usec;
        size_t n, cap;
        uint64_t last_start_usec;
        uint64_t missed_at_warmup, measure_start_usec, measure_end_usec;
        uint64_t snapshot_usec, render_usec; /* medians, taken at the last tick */
        size_t size;
        int error;
} Ticks;

/* Snapshot and render cost on the state of the last tick (after it, the
 * manager restores and lets go of every VM). */
static void time_snapshot(Ticks *t) {
        uint64_t snap[TIMING_RUNS], rend[TIMING_RUNS];

        for (size_t i = 0; i < TIMING_RUNS; i++) {
                MetricsSnapshot *s;
                char *out;
                uint64_t a = now_usec(), b, c;
                int r;

                r = manager_metrics_snapshot(t->m, &s);
                if (r < 0) {
                        t->error = r;
                        return;
                }
                b = now_usec();
                r = metrics_render(s, &out, &t->size);
                c = now_usec();
                free(s);
                if (r < 0) {
                        t->error = r;
                        return;
                }
                free(out);
                snap[i] = b - a;
                rend[i] = c - b;
        }
        t->snapshot_usec = quantile(snap, TIMING_RUNS, 0.5);
        t->render_usec = quantile(rend, TIMING_RUNS, 0.5);
}

static void on_tick(uint64_t ticks, void *userdata) {
        Ticks *t = userdata;
        uint64_t start = t->m->last_tick_usec; /* when the loop woke up for this tick */

        if (ticks == WARMUP_TICKS) {
                t->missed_at_warmup = t->m->ticks_missed;
                t->measure_start_usec = now_usec();
                atomic_store(&t->scraper->measuring, true);
        } else if (ticks > WARMUP_TICKS && t->n < t->cap) {
                t->duration_usec[t->n] = now_usec() - start;
                t->period_usec[t->n] = start - t->last_start_usec;
                t->n++;
        }
        t->last_start_usec = start;
        if (ticks == t->max_ticks) {
                atomic_store(&t->scraper->measuring, false);
                t->measure_end_usec = now_usec();
                time_snapshot(t);
        }
}

typedef struct Phase {
        uint64_t dur_p50, dur_p99, period_p50, period_p99, missed, ticks;
        uint64_t scrape_p50, scrape_p99, scrapes, size;
        double scrapes_per_sec, refused_per_sec;
        uint64_t snapshot_usec, render_usec;
        unsigned scrape_errors;
} Phase;

/* Runs the daemon on dir's tree for `seconds`, with or without the client. */
static int run_phase(const char *dir, double seconds, bool scrape, Phase *ret) {
        char text[8192];
        Config config;
        ConfigError err;
        Scraper sc = {};
        uint64_t max_ticks = WARMUP_TICKS + (uint64_t)(seconds * 1e6 / (double)TICK_USEC);
        Ticks t = {.scraper = &sc, .max_ticks = max_ticks};
        pthread_t thread;
        ManagerOptions o = {.max_ticks = max_ticks, .after_tick = on_tick, .userdata = &t};
        int r;

        snprintf(text, sizeof(text),
                 "[schedd]\npolicy = %s/policy.yaml\noverride_dir =\ncgroup_root = %s/cg\nfake_cgroup_root = "
                 "yes\ntick = 10ms\n"
                 "state_dir = %s/state\n[bus]\nenable = no\n[metrics]\nlisten =\n",
                 dir, dir, dir);
        r = config_parse_string(text, "bench.conf", &config, &err);
        if (r < 0) {
                fprintf(stderr, "%s\n", err.message);
                return r;
        }
        r = hand_over_socket(&sc.port);
        if (r < 0)
                goto finish;

        t.cap = max_ticks + 16;
        t.duration_usec = calloc(t.cap, sizeof(uint64_t));
        t.period_usec = calloc(t.cap, sizeof(uint64_t));
        r = -ENOMEM;
        if (!t.duration_usec || !t.period_usec)
                goto finish;
        r = manager_new(&config, &o, &t.m);
        if (r < 0)
                goto finish;
        r = manager_start(t.m);
        if (r < 0 || !t.m->metrics_server) {
                fprintf(stderr, "bench-metrics: the daemon did not start (%d)\n", r);
                r = r < 0 ? r : -EIO;
                goto finish;
        }

        if (scrape && pthread_create(&thread, NULL, scraper_run, &sc) != 0) {
                r = -EAGAIN;
                goto finish;
        }
        r = manager_run(t.m);
        if (scrape) {
                atomic_store(&sc.stop, true);
                pthread_join(thread, NULL);
        }
        if (r < 0)
                goto finish;

        if (r >= 0)
                r = t.error;
        if (r < 0)
                goto finish;

        *ret = (Phase){
                .dur_p50 = quantile(t.duration_usec, t.n, 0.5),
                .dur_p99 = quantile(t.duration_usec, t.n, 0.99),
                .period_p50 = quantile(t.period_usec, t.n, 0.5),
                .period_p99 = quantile(t.period_usec, t.n, 0.99),
                .missed = t.m->ticks_missed - t.missed_at_warmup,
                .ticks = t.n,
                .scrapes = sc.n,
                .scrapes_per_sec = (double)sc.n * 1e6 / (double)(t.measure_end_usec - t.measure_start_usec),
                .refused_per_sec = (double)sc.refused * 1e6 / (double)(t.measure_end_usec - t.measure_start_usec),
                .scrape_p50 = quantile(sc.latency_usec, sc.n, 0.5),
                .scrape_p99 = quantile(sc.latency_usec, sc.n, 0.99),
                .scrape_errors = sc.errors,
                .snapshot_usec = t.snapshot_usec,
                .render_usec = t.render_usec,
                .size = t.size,
        };
        r = 0;

finish:
        manager_free(t.m);
        config_done(&config);
        free(t.duration_usec);
        free(t.period_usec);
        free(sc.latency_usec);
        return r;
}

static void print_ticks(const char *what, const Phase *p) {
        printf("  ticks %-16s duration p50 %5llu us p99 %6llu us, period p50 %6llu us p99 %6llu us, "
               "missed %llu of %llu\n",
               what, (unsigned long long)p->dur_p50, (unsigned long long)p->dur_p99, (unsigned long long)p->period_p50,
               (unsigned long long)p->period_p99, (unsigned long long)p->missed, (unsigned long long)p->ticks);
}

/* Rounds at most: 20 rounds of the longest phases already take hours. */
#define ROUNDS_MAX 20

/* The median of one field over the rounds; missed ticks and ticks add up. */
static void merge(const Phase *rounds, size_t n, Phase *ret) {
        uint64_t v[ROUNDS_MAX];
        double sps = 0, rps = 0;

#define MEDIAN(field)                                                                                                 \
        do {                                                                                                          \
                for (size_t k = 0; k < n; k++)                                                                        \
                        v[k] = rounds[k].field;                                                                       \
                ret->field = quantile(v, n, 0.5);                                                                     \
        } while (0)
        MEDIAN(dur_p50);
        MEDIAN(dur_p99);
        MEDIAN(period_p50);
        MEDIAN(period_p99);
        MEDIAN(scrape_p50);
        MEDIAN(scrape_p99);
        MEDIAN(snapshot_usec);
        MEDIAN(render_usec);
        MEDIAN(size);
#undef MEDIAN
        ret->missed = ret->ticks = ret->scrapes = 0;
        ret->scrape_errors = 0;
        for (size_t k = 0; k < n; k++) {
                ret->missed += rounds[k].missed;
                ret->ticks += rounds[k].ticks;
                ret->scrape_errors += rounds[k].scrape_errors;
                sps += rounds[k].scrapes_per_sec;
                rps += rounds[k].refused_per_sec;
        }
        ret->scrapes_per_sec = sps / (double)n;
        ret->refused_per_sec = rps / (double)n;
}

int main(int argc, char *argv[]) {
        double seconds = argc > 1 ? atof(argv[1]) : 3;
        long rounds = argc > 2 ? atol(argv[2]) : 3;

        if (seconds <= 0 || seconds > 600 || rounds < 1 || rounds > ROUNDS_MAX) {
                fprintf(stderr,
                        "Usage: bench-metrics [SECONDS [ROUNDS]]   (each phase, 0 < SECONDS <= 600; "
                        "1 <= ROUNDS <= %d)\n",
                        ROUNDS_MAX);
                return EXIT_FAILURE;
        }
        log_set_max_level(getenv("BENCH_LOG") ? LOG_INFO : LOG_ERR);
        printf("bench-metrics: %ld rounds of %.1f s per phase after a 1 s warm-up, tick %llu ms, a fake cgroup "
               "tree of idle VMs\n\n",
               rounds, seconds, TICK_USEC / 1000);
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                /* /dev/shm where there is one: in memory, as cgroupfs and /run are. */
                char dir[] = "/dev/shm/bench-metrics-XXXXXX", cmd[64];
                Phase quiet = {}, busy = {}, q[ROUNDS_MAX] = {}, b[ROUNDS_MAX] = {};
                int r;

                if (!mkdtemp(dir)) {
                        memcpy(dir, "/tmp/bench-metrics-XXXXXX", sizeof("/tmp/bench-metrics-XXXXXX"));
                        if (!mkdtemp(dir))
                                return EXIT_FAILURE;
                }
                r = make_tree(dir, sizes[i]);
                for (long k = 0; r >= 0 && k < rounds; k++) {
                        r = run_phase(dir, seconds, false, &q[k]);
                        if (r >= 0)
                                r = run_phase(dir, seconds, true, &b[k]);
                }
                if (r >= 0) {
                        merge(q, (size_t)rounds, &quiet);
                        merge(b, (size_t)rounds, &busy);
                }
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
                if (system(cmd) != 0)
                        fprintf(stderr, "bench-metrics: cannot remove %s\n", dir);
                if (r < 0) {
                        fprintf(stderr, "bench-metrics: %zu VMs: %s\n", sizes[i], strerror(-r));
                        return EXIT_FAILURE;
                }
                printf("%zu VMs: response %zu bytes; snapshot %llu us (tick thread, every 100 ms); render %llu us "
                       "(endpoint thread, once per snapshot)\n",
                       sizes[i], busy.size, (unsigned long long)busy.snapshot_usec,
                       (unsigned long long)busy.render_usec);
                printf("  scraper polling flat out: %.0f scrapes/s served (round trip p50 %llu us, p99 %llu us), "
                       "%.0f/s refused with 429, %u failed\n",
                       busy.scrapes_per_sec, (unsigned long long)busy.scrape_p50, (unsigned long long)busy.scrape_p99,
                       busy.refused_per_sec, busy.scrape_errors);
                print_ticks("without scraper", &quiet);
                print_ticks("with scraper", &busy);
                fflush(stdout);
        }
        printf("\nduration: from the loop waking for a tick to the end of its work; period: between tick\n"
               "starts (10000 us when on time); missed: deadlines that passed without a tick.\n");
        return EXIT_SUCCESS;
}
