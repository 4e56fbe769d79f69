/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * egress-test: plays the daemon for the egress program (schedd/egress.h) in
 * network namespaces that tests/net/run sets up, runs real senders and
 * receivers against it, and checks what comes out.
 *
 * Usage: egress-test [options] SCENARIO
 *
 *   -A NETNS    namespace of the senders and of the shaped interface (a name
 *               under /run/netns, or a path)
 *   -B NETNS    namespace of the receiver
 *   -C NETNS    namespace behind the tap (scenario tap)
 *   -d IFACE    the shaped interface in A (a veth toward B)
 *   -T IFACE    the tap in A (a veth toward C)
 *   -a ADDR     the receiver's IPv4 address
 *   -g DIR      the test's cgroup directory, holding vm1, vm1/inner/deeper,
 *               vm2 and plain (not a VM)
 *   -m MODE     pace or drop (default drop)
 *   -r RATE     the VM's rate in bytes per second
 *   -b BURST    its burst in bytes (default 64 KiB)
 *   -t SECONDS  the measuring window (default 10)
 *   -p PORT     the receiver's port (default 5201)
 *   -L LIST     scenario load: the senders' cgroups, comma separated
 *   -v          every sample on stderr
 *
 * Scenarios (each prints one line of figures, then PASS, FAIL or SKIP):
 *   rate      one bulk TCP flow from vm1, limited to RATE: the rate the
 *             program admits over the window is within 5 % of RATE
 *   classify  bounded TCP transfers from vm1/inner/deeper, vm2 and plain:
 *             each is counted for vm1, vm2 and the host respectively
 *   latency   a bulk flow from vm1 at RATE and a request-response flow
 *             from vm1/inner: the round trip's median stays under 20 ms
 *   change    a paced UDP sender in vm1 above its rate; the rate changes
 *             at run time (to a quarter, then back): from 20 ms after each
 *             change on, the admitted rate over 400 ms is at most the new
 *             limit and at least the new limit or what the sender offered,
 *             whichever is less, within 10 %
 *   tap       a bulk TCP flow from namespace C through tap T (tied to a VM
 *             limited to RATE) and forwarded out of d: counted and limited
 *             for that VM, not for the host
 *   split     bulk TCP flows from vm1 and vm2, shares 1 and 3 of an
 *             interface of capacity RATE; the scheduler core (schedd/sched.h,
 *             SCHED_MODE_RATE), fed every 10 ms with the program's counters,
 *             sets their rates: each gets its due (1/4, 3/4) within 5 % of
 *             the capacity
 *   bench     the program's cost per packet (kernel run-time statistics)
 *             and one TCP flow's throughput without and with the program,
 *             alternating in one run
 *   load      only the load, for tests of the daemon (which does the
 *             shaping: nothing is loaded here): a bulk TCP flow from each
 *             cgroup of -L in A ("guest": from namespace C, behind the
 *             tap; "udp:CGROUP": UDP offered at 3/2 of RATE, a sender
 *             that never backs off) to a receiver in B on -p, for SECONDS;
 *             prints what each sent and what the receiver got, then PASS
 *             when every flow ran
 *   hold      only the shaping, for a benchmark's own traffic: each cgroup
 *             of -L a VM at RATE with BURST, until SIGTERM or SECONDS;
 *             prints "ready", then each VM's counters
 *
 * Exit status: 0 pass, 1 fail, 2 bad usage, 77 skipped (not root, or a
 * feature the kernel lacks).  Every load is bounded in time; children end with
 * the parent, and by an alarm in any case.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>
#include <net/if.h>

#include "schedd/egress.h"
#include "schedd/fileio.h"
#include "schedd/sched.h"

#define NSEC_PER_SEC  1000000000ULL
#define NSEC_PER_MSEC 1000000ULL
#define EXIT_SKIP     77

/* A rate is right within 5 % (what the scheduler promises the VM). */
#define RATE_TOLERANCE 0.05
/* A request-response flow's median round trip under a bulk flow of its VM. */
#define RR_MEDIAN_MAX_NSEC (20 * NSEC_PER_MSEC)
/* A change of rate shows within two ticks of 10 ms. */
#define CHANGE_DEADLINE_NSEC (20 * NSEC_PER_MSEC)
/* The window a changed rate is measured over: one tick. */
#define CHANGE_WINDOW_NSEC (10 * NSEC_PER_MSEC)
/* From the deadline on, the admitted rate over this span must be within
 * CHANGE_TOLERANCE of the new rate (the old one is 4 times away).  Single
 * 10 ms windows are reported, not judged: on a machine busy with other work
 * the sender's and the sampler's scheduling jitter moves them by 20 % and
 * more, a sender that pauses refills the bucket, whose burst the next window
 * then carries, and pacing admits packets up to its horizon (20 ms) before
 * they leave.  Over 400 ms a burst of 1 ms at the higher rate is at most 1 %
 * of the lower, and the horizon 5 %. */
#define CHANGE_SPAN_NSEC (400 * NSEC_PER_MSEC)
#define CHANGE_TOLERANCE 0.10
/* Windows reported. */
#define CHANGE_WINDOWS 12
/* Warm-up before a rate is measured: TCP's start and the first burst. */
#define WARMUP_NSEC (1 * NSEC_PER_SEC)
/* How often the daemon loop reads the counters. */
#define SAMPLE_NSEC (2 * NSEC_PER_MSEC)
/* Children die this long after their own end even if nobody stops them. */
#define CHILD_GRACE_SEC 5
/* The most samples kept: 60 s at SAMPLE_NSEC. */
#define SAMPLES_MAX 30000
/* hold: the longest it holds (a benchmark's whole run). */
#define HOLD_SECONDS_MAX 3600
/* The most round trips kept. */
#define RTT_MAX 200000
/* The most slots one scenario watches. */
#define WATCH_MAX 4
/* The UDP sender's step: at the rates used, a batch of 2 to 7 datagrams,
 * well under any bucket the tests give it. */
#define UDP_STEP_NSEC (250 * 1000ULL)
/* A sender retries a refused connection this often, 10 ms apart: the
 * receiver, started at the same time, is listening within 2 s even on a
 * machine busy with other work. */
#define CONNECT_TRIES 200
/* Bulk writes: big enough for full GSO packets. */
#define BULK_CHUNK (256 * 1024)

typedef struct Options {
        const char *ns_a, *ns_b, *ns_c;
        const char *iface, *tap;
        const char *addr;
        const char *cgroup_dir;
        EgressMode mode;
        uint64_t rate;
        uint64_t burst;
        double seconds;
        uint16_t port;
        const char *load; /* -L */
        bool verbose;
} Options;

static Options opt = {
        .mode = EGRESS_MODE_DROP,
        .burst = 64 * 1024,
        .seconds = 10,
        .port = 5201,
};

/* ---- small helpers ---- */

static uint64_t now_nsec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t) {
        struct timespec ts = {.tv_sec = (time_t)(t / NSEC_PER_SEC), .tv_nsec = (long)(t % NSEC_PER_SEC)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                ;
}

static int netns_open(const char *ns) {
        char path[256];
        if (strchr(ns, '/'))
                snprintf(path, sizeof(path), "%s", ns);
        else
                snprintf(path, sizeof(path), "/run/netns/%s", ns);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

static int netns_enter(const char *ns) {
        int fd = netns_open(ns);
        if (fd < 0)
                return fd;
        int r = setns(fd, CLONE_NEWNET) < 0 ? -errno : 0;
        close(fd);
        return r;
}

static void cgroup_path(char *buf, size_t size, const char *sub) {
        snprintf(buf, size, "%s/%s", opt.cgroup_dir, sub);
}

/* The cgroup id: on cgroup2 the inode number of its directory. */
static int cgroup_id(const char *sub, uint64_t *ret) {
        char path[512];
        struct stat st;
        cgroup_path(path, sizeof(path), sub);
        if (stat(path, &st) < 0)
                return -errno;
        *ret = st.st_ino;
        return 0;
}

static int cgroup_join(const char *sub) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s/cgroup.procs", opt.cgroup_dir, sub);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = write(fd, "0\n", 2) < 0 ? -errno : 0;
        close(fd);
        return r;
}

static void die(const char *what, int r) {
        fprintf(stderr, "egress-test: %s: %s\n", what, strerror(r < 0 ? -r : r));
        exit(1);
}

static struct sockaddr_in peer(void) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(opt.port)};
        if (inet_pton(AF_INET, opt.addr, &sa.sin_addr) != 1) {
                fprintf(stderr, "egress-test: bad address %s\n", opt.addr);
                exit(2);
        }
        return sa;
}

static void set_timeouts(int fd, uint64_t nsec) {
        struct timeval tv = {.tv_sec = (time_t)(nsec / NSEC_PER_SEC), .tv_usec = (long)(nsec % NSEC_PER_SEC / 1000)};
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* ---- children: each reports one Result through a pipe ---- */

typedef struct Result {
        uint64_t bytes;     /* sent (senders) or received (server: TCP sink) */
        uint64_t udp_bytes; /* server: received over UDP */
        uint64_t rtts;      /* rr: round trips done */
        uint64_t rtt_p50_nsec, rtt_p90_nsec, rtt_p99_nsec, rtt_max_nsec;
        int error; /* 0 or an errno */
} Result;

typedef struct Child {
        pid_t pid;
        int fd;
} Child;

typedef enum Role {
        ROLE_SERVER, /* in B: TCP sink and echo, UDP sink */
        ROLE_BULK,   /* TCP bulk sender */
        ROLE_AMOUNT, /* TCP sender of exactly `amount` bytes */
        ROLE_RR,     /* request-response client */
        ROLE_UDP,    /* UDP sender paced at `rate` */
} Role;

typedef struct Job {
        Role role;
        const char *ns;     /* namespace to enter */
        const char *cgroup; /* cgroup (under -g) to join first, NULL: stay */
        uint64_t start;     /* absolute CLOCK_MONOTONIC start */
        uint64_t end;       /* ... and end */
        uint64_t amount;    /* ROLE_AMOUNT: bytes */
        uint64_t rate;      /* ROLE_UDP: bytes per second */
        uint64_t interval;  /* ROLE_RR: nsec between requests */
        size_t size;        /* ROLE_RR: request size; ROLE_UDP: datagram size */
} Job;

static int compare_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

static int run_server(const Job *j, Result *res) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(opt.port), .sin_addr.s_addr = INADDR_ANY};
        int one = 1;
        int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int ufd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (lfd < 0 || ufd < 0)
                return -errno;
        (void)setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 64) < 0 ||
            bind(ufd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -errno;

        enum { MAX_CONN = 32 };
        struct pollfd p[2 + MAX_CONN];
        char kind[MAX_CONN];
        size_t n = 2;
        static char buf[BULK_CHUNK];
        p[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
        p[1] = (struct pollfd){.fd = ufd, .events = POLLIN};

        while (now_nsec() < j->end) {
                if (poll(p, n, 50) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (p[0].revents & POLLIN) {
                        int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                        if (c >= 0 && n < 2 + MAX_CONN) {
                                (void)setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                                kind[n - 2] = 0;
                                p[n++] = (struct pollfd){.fd = c, .events = POLLIN};
                        } else if (c >= 0)
                                close(c);
                }
                if (p[1].revents & POLLIN) {
                        ssize_t k = recv(ufd, buf, sizeof(buf), MSG_DONTWAIT);
                        if (k > 0)
                                res->udp_bytes += (uint64_t)k;
                }
                for (size_t i = 2; i < n; i++) {
                        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        ssize_t k = recv(p[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
                        if (k <= 0) {
                                if (k < 0 && (errno == EAGAIN || errno == EINTR))
                                        continue;
                                close(p[i].fd);
                                p[i] = p[n - 1];
                                kind[i - 2] = kind[n - 3];
                                n--;
                                i--;
                                continue;
                        }
                        size_t off = 0;
                        if (kind[i - 2] == 0) {
                                kind[i - 2] = buf[0];
                                off = 1;
                        }
                        if (kind[i - 2] == 'E') {
                                /* Echo; a short write of a small reply would only
                                 * happen with a full send buffer, which an echo
                                 * peer never lets happen. */
                                if (k > (ssize_t)off)
                                        (void)!write(p[i].fd, buf + off, (size_t)k - off);
                        } else
                                res->bytes += (uint64_t)k - off;
                }
        }
        return 0;
}

static int run_sender(const Job *j, Result *res) {
        struct sockaddr_in sa = peer();
        bool udp = j->role == ROLE_UDP;
        int fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
        int one = 1;
        static char buf[BULK_CHUNK];

        if (fd < 0)
                return -errno;
        set_timeouts(fd, 100 * NSEC_PER_MSEC);
        /* The receiver may still be starting on a busy machine. */
        for (int tries = 0;; tries++) {
                if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) >= 0)
                        break;
                if (errno != ECONNREFUSED || tries >= CONNECT_TRIES)
                        return -errno;
                sleep_until(now_nsec() + 10 * NSEC_PER_MSEC);
        }
        memset(buf, 'x', sizeof(buf));

        if (udp) {
                /* Paced in batches every UDP_STEP_NSEC: steady enough for
                 * 10 ms windows.  A sender that falls behind (a slow machine)
                 * does not catch up in a rush: what it could not send within
                 * 10 ms is skipped. */
                uint64_t t = j->start, sent = 0, skipped = 0;
                while (t < j->end) {
                        uint64_t due = (uint64_t)((unsigned __int128)(t - j->start) * j->rate / NSEC_PER_SEC);
                        if (due > sent + skipped + j->rate / 100)
                                skipped = due - sent - j->rate / 100;
                        for (unsigned n = 0; sent + skipped < due; n++) {
                                /* Not waiting for room in the socket's buffer
                                 * (pacing holds packets): a full buffer loses
                                 * the datagram, as a drop would. */
                                if (send(fd, buf, j->size, MSG_DONTWAIT) < 0 && errno != ENOBUFS && errno != EAGAIN &&
                                    errno != ECONNREFUSED)
                                        return -errno;
                                sent += j->size;
                                if (n % 64 == 63 && now_nsec() >= j->end)
                                        break; /* a flood: no rate the machine can reach */
                        }
                        t += UDP_STEP_NSEC;
                        sleep_until(t);
                        if (now_nsec() > t)
                                t = now_nsec();
                }
                res->bytes = sent;
                return 0;
        }

        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        char k = j->role == ROLE_RR ? 'E' : 'S';
        if (write(fd, &k, 1) != 1)
                return -errno;

        if (j->role == ROLE_RR) {
                uint64_t *rtt = calloc(RTT_MAX, sizeof(*rtt));
                size_t n = 0;
                if (!rtt)
                        return -ENOMEM;
                set_timeouts(fd, 1 * NSEC_PER_SEC);
                for (uint64_t t = j->start; t < j->end && n < RTT_MAX; t += j->interval) {
                        sleep_until(t);
                        uint64_t t0 = now_nsec();
                        if (write(fd, buf, j->size) != (ssize_t)j->size)
                                break;
                        size_t got = 0;
                        while (got < j->size) {
                                ssize_t r = read(fd, buf, j->size - got);
                                if (r <= 0)
                                        break;
                                got += (size_t)r;
                        }
                        if (got < j->size)
                                break;
                        rtt[n++] = now_nsec() - t0;
                }
                if (n > 0) {
                        qsort(rtt, n, sizeof(*rtt), compare_u64);
                        res->rtts = n;
                        res->rtt_p50_nsec = rtt[n / 2];
                        res->rtt_p90_nsec = rtt[n * 9 / 10];
                        res->rtt_p99_nsec = rtt[n * 99 / 100];
                        res->rtt_max_nsec = rtt[n - 1];
                }
                free(rtt);
                return 0;
        }

        while (now_nsec() < j->end) {
                size_t want = sizeof(buf);
                if (j->role == ROLE_AMOUNT) {
                        if (res->bytes >= j->amount)
                                break;
                        if (j->amount - res->bytes < want)
                                want = (size_t)(j->amount - res->bytes);
                }
                ssize_t w = write(fd, buf, want);
                if (w < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                continue;
                        return -errno;
                }
                res->bytes += (uint64_t)w;
        }
        /* Let what is queued drain before closing, within the job's time. */
        (void)shutdown(fd, SHUT_WR);
        while (j->role == ROLE_AMOUNT && now_nsec() < j->end && read(fd, buf, sizeof(buf)) > 0)
                ;
        close(fd);
        return 0;
}

static Child child_start(const Job *j) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                die("pipe", -errno);
        pid_t pid = fork();
        if (pid < 0)
                die("fork", -errno);
        if (pid > 0) {
                close(p[1]);
                return (Child){.pid = pid, .fd = p[0]};
        }

        close(p[0]);
        Result res = {0};
        /* Ends with the parent (a killed test leaves no load behind), and in
         * any case by an alarm a little after its own end. */
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1)
                _exit(1);
        uint64_t left = j->end > now_nsec() ? j->end - now_nsec() : 0;
        alarm((unsigned)(left / NSEC_PER_SEC) + CHILD_GRACE_SEC);
        int r = 0;
        /* The cgroup first: its path is under /sys, which is ours in this
         * mount namespace whatever the network namespace. */
        if (j->cgroup)
                r = cgroup_join(j->cgroup);
        if (r >= 0 && j->ns)
                r = netns_enter(j->ns);
        if (r >= 0) {
                sleep_until(j->start);
                r = j->role == ROLE_SERVER ? run_server(j, &res) : run_sender(j, &res);
        }
        res.error = r < 0 ? -r : 0;
        (void)!write(p[1], &res, sizeof(res));
        _exit(r < 0);
}

static Result child_wait(Child c) {
        Result res = {.error = EPIPE};
        if (read(c.fd, &res, sizeof(res)) != sizeof(res))
                res.error = EPIPE;
        close(c.fd);
        (void)waitpid(c.pid, NULL, 0);
        return res;
}

/* ---- the daemon side ---- */

typedef struct Sample {
        uint64_t t;
        EgressCounters c[WATCH_MAX];
} Sample;

typedef struct Change {
        uint64_t at; /* absolute */
        uint32_t slot;
        uint64_t rate, burst;
        bool done;
} Change;

typedef struct Daemon {
        Egress *e;
        uint64_t cgroups[EGRESS_SLOTS]; /* each slot's cgroup id, as set */
        uint32_t watch[WATCH_MAX];
        size_t n_watch;
        Sample *samples;
        size_t n_samples;
} Daemon;

static int daemon_open(Daemon *d) {
        const char *ifaces[] = {opt.iface};
        int r;

        memset(d, 0, sizeof(*d));
        r = netns_enter(opt.ns_a);
        if (r < 0)
                return r;
        r = egress_open(&d->e, ifaces, 1, opt.mode);
        if (r < 0)
                return r;
        if (egress_degraded(d->e))
                fprintf(stderr, "egress-test: %s\n", egress_degraded(d->e));
        d->samples = calloc(SAMPLES_MAX, sizeof(*d->samples));
        return d->samples ? 0 : -ENOMEM;
}

static void daemon_close(Daemon *d) {
        d->e = egress_close(d->e);
        free(d->samples);
        d->samples = NULL;
}

static void daemon_watch(Daemon *d, uint32_t slot) {
        d->watch[d->n_watch++] = slot;
}

/* Samples the watched slots every SAMPLE_NSEC until `end`, applying the
 * changes when due, as the manager would each tick. */
static int daemon_run(Daemon *d, uint64_t end, Change *changes, size_t n_changes) {
        uint64_t t = now_nsec();
        while (t < end && d->n_samples < SAMPLES_MAX) {
                for (size_t i = 0; i < n_changes; i++)
                        if (!changes[i].done && t >= changes[i].at) {
                                int r = egress_set_vm(d->e, changes[i].slot, d->cgroups[changes[i].slot],
                                                      changes[i].rate, changes[i].burst);
                                if (r < 0)
                                        return r;
                                changes[i].done = true;
                        }
                Sample *s = &d->samples[d->n_samples];
                for (size_t i = 0; i < d->n_watch; i++) {
                        int r = egress_read(d->e, d->watch[i], &s->c[i]);
                        if (r < 0)
                                return r;
                }
                s->t = now_nsec();
                if (opt.verbose)
                        fprintf(stderr, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", s->t, s->c[0].bytes,
                                s->c[0].delayed, s->c[0].dropped);
                d->n_samples++;
                t += SAMPLE_NSEC;
                sleep_until(t);
                t = now_nsec();
        }
        return 0;
}

/* The sample nearest to time t (the first at or after it). */
static const Sample *sample_at(const Daemon *d, uint64_t t) {
        for (size_t i = 0; i < d->n_samples; i++)
                if (d->samples[i].t >= t)
                        return &d->samples[i];
        return d->n_samples ? &d->samples[d->n_samples - 1] : NULL;
}

static double rate_between(const Sample *a, const Sample *b, size_t w) {
        if (!a || !b || b->t <= a->t)
                return 0;
        return (double)(b->c[w].bytes - a->c[w].bytes) * NSEC_PER_SEC / (double)(b->t - a->t);
}

static int verdict(bool ok) {
        printf("%s\n", ok ? "PASS" : "FAIL");
        return ok ? 0 : 1;
}

/* ---- scenarios ---- */

/* VM slots the scenarios use. */
enum { VM1 = 0, VM2 = 1, VM_TAP = 2 };

static int set_vm(Daemon *d, uint32_t slot, const char *cg, uint64_t rate, uint64_t burst) {
        uint64_t id = 0;
        if (cg) {
                int r = cgroup_id(cg, &id);
                if (r < 0)
                        return r;
        }
        d->cgroups[slot] = id;
        return egress_set_vm(d->e, slot, id, rate, burst);
}

static int scenario_rate(void) {
        Daemon d;
        int r;

        if ((r = daemon_open(&d)) < 0 || (r = set_vm(&d, VM1, "vm1", opt.rate, opt.burst)) < 0)
                die("open", r);
        daemon_watch(&d, VM1);

        uint64_t t0 = now_nsec() + 200 * NSEC_PER_MSEC;
        uint64_t t_end = t0 + WARMUP_NSEC + (uint64_t)(opt.seconds * NSEC_PER_SEC);
        Child srv = child_start(
                &(Job){.role = ROLE_SERVER, .ns = opt.ns_b, .start = now_nsec(), .end = t_end + NSEC_PER_SEC / 2});
        Child snd = child_start(&(Job){.role = ROLE_BULK, .ns = opt.ns_a, .cgroup = "vm1", .start = t0, .end = t_end});
        r = daemon_run(&d, t_end, NULL, 0);
        Result rs = child_wait(snd), rv = child_wait(srv);
        if (r < 0)
                die("run", r);

        const Sample *a = sample_at(&d, t0 + WARMUP_NSEC), *b = sample_at(&d, t_end);
        const Sample *first = sample_at(&d, t0);
        double rate = rate_between(a, b, 0);
        double whole = rate_between(first, b, 0);
        double goodput = (double)rv.bytes * NSEC_PER_SEC / (double)(t_end - t0);
        double err = rate / (double)opt.rate - 1;
        printf("rate: mode=%s limit=%" PRIu64 " B/s burst=%" PRIu64 " window=%.2f s admitted=%.0f B/s (%+.2f %%) "
               "whole-run=%.0f B/s receiver-goodput=%.0f B/s delayed=%" PRIu64 " dropped=%" PRIu64
               " sender-error=%d\n",
               opt.mode == EGRESS_MODE_PACE ? "pace" : "drop", opt.rate, opt.burst,
               (double)(b->t - a->t) / NSEC_PER_SEC, rate, err * 100, whole, goodput, b->c[0].delayed, b->c[0].dropped,
               rs.error);
        daemon_close(&d);
        return verdict(rs.error == 0 && rv.error == 0 && fabs(err) <= RATE_TOLERANCE);
}

static int scenario_classify(void) {
        /* Amounts differ so a swap between contexts would show. */
        const uint64_t amount_vm1 = 3 << 20, amount_vm2 = 2 << 20, amount_host = 1 << 20;
        /* Headers add about 66 bytes per 1448 (4.6 %), plus the handshake. */
        const double overhead = 0.08;
        const uint64_t slack = 64 * 1024;
        Daemon d;
        int r;

        if ((r = daemon_open(&d)) < 0 || (r = set_vm(&d, VM1, "vm1", EGRESS_RATE_UNLIMITED, 0)) < 0 ||
            (r = set_vm(&d, VM2, "vm2", EGRESS_RATE_UNLIMITED, 0)) < 0)
                die("open", r);
        daemon_watch(&d, VM1);
        daemon_watch(&d, VM2);
        daemon_watch(&d, EGRESS_HOST);

        uint64_t t0 = now_nsec() + 200 * NSEC_PER_MSEC, t_end = t0 + 3 * NSEC_PER_SEC;
        Child srv = child_start(
                &(Job){.role = ROLE_SERVER, .ns = opt.ns_b, .start = now_nsec(), .end = t_end + NSEC_PER_SEC / 2});
        Child s1 = child_start(&(Job){.role = ROLE_AMOUNT,
                                      .ns = opt.ns_a,
                                      .cgroup = "vm1/inner/deeper",
                                      .start = t0,
                                      .end = t_end,
                                      .amount = amount_vm1});
        Child s2 = child_start(&(Job){.role = ROLE_AMOUNT,
                                      .ns = opt.ns_a,
                                      .cgroup = "vm2",
                                      .start = t0,
                                      .end = t_end,
                                      .amount = amount_vm2});
        Child s3 = child_start(&(Job){.role = ROLE_AMOUNT,
                                      .ns = opt.ns_a,
                                      .cgroup = "plain",
                                      .start = t0,
                                      .end = t_end,
                                      .amount = amount_host});
        r = daemon_run(&d, t_end + NSEC_PER_SEC / 4, NULL, 0);
        Result r1 = child_wait(s1), r2 = child_wait(s2), r3 = child_wait(s3), rv = child_wait(srv);
        if (r < 0)
                die("run", r);

        const Sample *b = &d.samples[d.n_samples - 1];
        uint64_t c1 = b->c[0].bytes, c2 = b->c[1].bytes, ch = b->c[2].bytes;
        /* Every byte counted for the right context, and not much more: TCP
         * retransmissions are egress too and are counted (a lost segment
         * shows as up to ~10 % more), while a byte counted for the wrong
         * context would add another sender's whole amount (+50 % or more). */
        double retransmit = 1.20;
        bool ok1 = c1 >= amount_vm1 && c1 <= amount_vm1 * (1 + overhead) * retransmit + slack;
        bool ok2 = c2 >= amount_vm2 && c2 <= amount_vm2 * (1 + overhead) * retransmit + slack;
        bool okh = ch >= amount_host && ch <= amount_host * (1 + overhead) * retransmit + slack;
        printf("classify: vm1 (from vm1/inner/deeper) sent=%" PRIu64 " counted=%" PRIu64 "; vm2 sent=%" PRIu64
               " counted=%" PRIu64 "; host (from plain) sent=%" PRIu64 " counted=%" PRIu64 "; received=%" PRIu64 "\n",
               r1.bytes, c1, r2.bytes, c2, r3.bytes, ch, rv.bytes);
        daemon_close(&d);
        return verdict(r1.error == 0 && r2.error == 0 && r3.error == 0 && r1.bytes == amount_vm1 &&
                       r2.bytes == amount_vm2 && r3.bytes == amount_host && ok1 && ok2 && okh);
}

static int scenario_latency(void) {
        const uint64_t interval = 10 * NSEC_PER_MSEC;
        const size_t request = 64;
        Daemon d;
        int r;

        if ((r = daemon_open(&d)) < 0 || (r = set_vm(&d, VM1, "vm1", opt.rate, opt.burst)) < 0)
                die("open", r);
        daemon_watch(&d, VM1);

        /* 1 s of round trips alone (the baseline), then the bulk flow joins. */
        uint64_t t0 = now_nsec() + 200 * NSEC_PER_MSEC;
        uint64_t t_bulk = t0 + NSEC_PER_SEC;
        uint64_t t_end = t_bulk + (uint64_t)(opt.seconds * NSEC_PER_SEC);
        Child srv = child_start(
                &(Job){.role = ROLE_SERVER, .ns = opt.ns_b, .start = now_nsec(), .end = t_end + NSEC_PER_SEC / 2});
        Child base = child_start(&(Job){.role = ROLE_RR,
                                        .ns = opt.ns_a,
                                        .cgroup = "vm1/inner",
                                        .start = t0,
                                        .end = t_bulk,
                                        .interval = interval,
                                        .size = request});
        Child bulk =
                child_start(&(Job){.role = ROLE_BULK, .ns = opt.ns_a, .cgroup = "vm1", .start = t_bulk, .end = t_end});
        Child rr = child_start(&(Job){.role = ROLE_RR,
                                      .ns = opt.ns_a,
                                      .cgroup = "vm1/inner",
                                      .start = t_bulk + WARMUP_NSEC / 2,
                                      .end = t_end,
                                      .interval = interval,
                                      .size = request});
        r = daemon_run(&d, t_end, NULL, 0);
        Result rb = child_wait(base), rk = child_wait(bulk), rq = child_wait(rr), rv = child_wait(srv);
        if (r < 0)
                die("run", r);

        double rate = rate_between(sample_at(&d, t_bulk + WARMUP_NSEC), sample_at(&d, t_end), 0);
        const Sample *b = &d.samples[d.n_samples - 1];
        printf("latency: mode=%s limit=%" PRIu64 " B/s; alone: n=%" PRIu64 " p50=%.3f ms p99=%.3f ms; "
               "beside bulk: n=%" PRIu64 " p50=%.3f ms p90=%.3f ms p99=%.3f ms max=%.3f ms; bulk admitted=%.0f B/s "
               "(%+.2f %%) delayed=%" PRIu64 " dropped=%" PRIu64 "\n",
               opt.mode == EGRESS_MODE_PACE ? "pace" : "drop", opt.rate, rb.rtts, rb.rtt_p50_nsec / 1e6,
               rb.rtt_p99_nsec / 1e6, rq.rtts, rq.rtt_p50_nsec / 1e6, rq.rtt_p90_nsec / 1e6, rq.rtt_p99_nsec / 1e6,
               rq.rtt_max_nsec / 1e6, rate, (rate / (double)opt.rate - 1) * 100, b->c[0].delayed, b->c[0].dropped);
        daemon_close(&d);
        /* At least half the round trips done: a flow stuck behind the bulk
         * flow would do few, with a median from too few to mean much. */
        uint64_t expected = (t_end - t_bulk - WARMUP_NSEC / 2) / interval;
        return verdict(rb.error == 0 && rk.error == 0 && rq.error == 0 && rv.error == 0 && rq.rtts >= expected / 2 &&
                       rq.rtt_p50_nsec < RR_MEDIAN_MAX_NSEC);
}

/* Whether a change at `at` to `rate` has taken effect by CHANGE_DEADLINE_NSEC
 * later: over the CHANGE_SPAN_NSEC that follow, the program admits no more
 * than the new rate, and as much as the new rate or what the sender offered
 * (admitted and dropped packets), whichever is less, each within
 * CHANGE_TOLERANCE.  A sender starved of CPU by other work on the machine
 * offers less than it means to; then it gets all it offers.  The 10 ms
 * windows' rates from the change on go to ret_windows. */
static bool took_effect(const Daemon *d, uint64_t at, uint64_t rate, double *ret_mean, double *ret_offered,
                        double ret_windows[CHANGE_WINDOWS]) {
        for (int k = 0; k < CHANGE_WINDOWS; k++) {
                const Sample *a = sample_at(d, at + k * CHANGE_WINDOW_NSEC);
                ret_windows[k] = rate_between(a, sample_at(d, a->t + CHANGE_WINDOW_NSEC), 0);
        }
        const Sample *a = sample_at(d, at + CHANGE_DEADLINE_NSEC);
        const Sample *b = sample_at(d, at + CHANGE_DEADLINE_NSEC + CHANGE_SPAN_NSEC);
        double mean = rate_between(a, b, 0);
        uint64_t packets = b->c[0].packets - a->c[0].packets, dropped = b->c[0].dropped - a->c[0].dropped;
        /* All the sender's datagrams are of one size. */
        double per_packet = packets ? (double)(b->c[0].bytes - a->c[0].bytes) / (double)packets : 0;
        double offered =
                b->t > a->t ? (double)(packets + dropped) * per_packet * NSEC_PER_SEC / (double)(b->t - a->t) : 0;
        double due = fmin((double)rate, offered);
        *ret_mean = mean;
        *ret_offered = offered;
        return mean <= (double)rate * (1 + CHANGE_TOLERANCE) && mean >= due * (1 - CHANGE_TOLERANCE);
}

static int scenario_change(void) {
        uint64_t high = opt.rate, low = opt.rate / 4;
        /* The sender offers half again the higher rate: always above the limit. */
        uint64_t offered = high * 3 / 2;
        const size_t datagram = 1400;
        const uint64_t phase = NSEC_PER_SEC;
        Daemon d;
        int r;

        if ((r = daemon_open(&d)) < 0 || (r = set_vm(&d, VM1, "vm1", high, opt.burst)) < 0)
                die("open", r);
        daemon_watch(&d, VM1);

        uint64_t t0 = now_nsec() + 200 * NSEC_PER_MSEC;
        uint64_t t_down = t0 + phase, t_up = t_down + phase, t_end = t_up + phase;
        Change changes[] = {
                {.at = t_down, .slot = VM1, .rate = low, .burst = opt.burst},
                {.at = t_up, .slot = VM1, .rate = high, .burst = opt.burst},
        };
        Child srv = child_start(
                &(Job){.role = ROLE_SERVER, .ns = opt.ns_b, .start = now_nsec(), .end = t_end + NSEC_PER_SEC / 2});
        Child snd = child_start(&(Job){.role = ROLE_UDP,
                                       .ns = opt.ns_a,
                                       .cgroup = "vm1",
                                       .start = t0,
                                       .end = t_end,
                                       .rate = offered,
                                       .size = datagram});
        r = daemon_run(&d, t_end, changes, 2);
        Result rs = child_wait(snd), rv = child_wait(srv);
        if (r < 0)
                die("run", r);

        /* The change is made at the first sample at or after its time. */
        uint64_t down_at = 0, up_at = 0;
        for (size_t i = 0; i < d.n_samples; i++) {
                if (!down_at && d.samples[i].t >= t_down)
                        down_at = d.samples[i].t;
                if (!up_at && d.samples[i].t >= t_up)
                        up_at = d.samples[i].t;
        }
        double before = rate_between(sample_at(&d, t_down - 500 * NSEC_PER_MSEC), sample_at(&d, t_down), 0);
        double mean_down, mean_up, offered_down, offered_up, w_down[CHANGE_WINDOWS], w_up[CHANGE_WINDOWS];
        bool ok_down = took_effect(&d, down_at, low, &mean_down, &offered_down, w_down);
        bool ok_up = took_effect(&d, up_at, high, &mean_up, &offered_up, w_up);
        printf("change: mode=%s %" PRIu64 " -> %" PRIu64 " -> %" PRIu64 " B/s (offered %" PRIu64 ", burst %" PRIu64
               "); %.0f B/s before the first; from %.0f to %.0f ms after each change: down %.0f B/s (%+.2f %% of the "
               "new limit; the sender offered %.0f), up %.0f B/s (%+.2f %%; offered %.0f); sent=%" PRIu64
               " udp-received=%" PRIu64 "\n",
               opt.mode == EGRESS_MODE_PACE ? "pace" : "drop", high, low, high, offered, opt.burst, before,
               CHANGE_DEADLINE_NSEC / 1e6, (CHANGE_DEADLINE_NSEC + CHANGE_SPAN_NSEC) / 1e6, mean_down,
               (mean_down / (double)low - 1) * 100, offered_down, mean_up, (mean_up / (double)high - 1) * 100,
               offered_up, rs.bytes, rv.udp_bytes);
        printf("change: 10 ms windows from the change on, MB/s: down");
        for (int k = 0; k < CHANGE_WINDOWS; k++)
                printf(" %.2f", w_down[k] / 1e6);
        printf("; up");
        for (int k = 0; k < CHANGE_WINDOWS; k++)
                printf(" %.2f", w_up[k] / 1e6);
        printf("\n");
        daemon_close(&d);
        return verdict(rs.error == 0 && rv.error == 0 && ok_down && ok_up);
}

static int scenario_tap(void) {
        Daemon d;
        int r;

        if ((r = daemon_open(&d)) < 0 || (r = set_vm(&d, VM_TAP, NULL, opt.rate, opt.burst)) < 0 ||
            (r = egress_set_tap(d.e, opt.tap, VM_TAP)) < 0)
                die("open", r);
        daemon_watch(&d, VM_TAP);
        daemon_watch(&d, EGRESS_HOST);

        uint64_t t0 = now_nsec() + 200 * NSEC_PER_MSEC;
        uint64_t t_end = t0 + WARMUP_NSEC + (uint64_t)(opt.seconds * NSEC_PER_SEC);
        Child srv = child_start(
                &(Job){.role = ROLE_SERVER, .ns = opt.ns_b, .start = now_nsec(), .end = t_end + NSEC_PER_SEC / 2});
        /* The guest: any cgroup, in namespace C behind the tap. */
        Child snd = child_start(&(Job){.role = ROLE_BULK, .ns = opt.ns_c, .start = t0, .end = t_end});
        /* Until the receiver stops: what the sender had queued at t_end still
         * arrives, and must have been counted. */
        r = daemon_run(&d, t_end + NSEC_PER_SEC / 2, NULL, 0);
        Result rs = child_wait(snd), rv = child_wait(srv);
        if (r < 0)
                die("run", r);

        const Sample *a = sample_at(&d, t0 + WARMUP_NSEC), *b = sample_at(&d, t_end);
        const Sample *last = &d.samples[d.n_samples - 1];
        double rate = rate_between(a, b, 0);
        double err = rate / (double)opt.rate - 1;
        double goodput = (double)rv.bytes * NSEC_PER_SEC / (double)(t_end - t0);
        uint64_t host = last->c[1].bytes;
        /* Everything received passed the program: at most the bucket's
         * burst and its rate from the start to the last sample, and what
         * pacing may have scheduled ahead (the horizons: at most twice the
         * longest). */
        uint64_t bound = opt.rate * (last->t - t0 + 2 * EGRESS_HORIZON_MAX_NSEC) / NSEC_PER_SEC + opt.burst;
        printf("tap: limit=%" PRIu64 " B/s admitted=%.0f B/s (%+.2f %%) receiver-goodput=%.0f B/s dropped=%" PRIu64
               "; counted %" PRIu64 " B in all, received %" PRIu64 " B, sent %" PRIu64 " B; host counted %" PRIu64
               " B (forwarded tap traffic must not count)\n",
               opt.rate, rate, err * 100, goodput, last->c[0].dropped, last->c[0].bytes, rv.bytes, rs.bytes, host);
        /* The host sees the tap's traffic only if it is double-counted; a
         * few ARP packets are its own. */
        bool ok = rs.error == 0 && rv.error == 0 && fabs(err) <= RATE_TOLERANCE && host < 64 * 1024 &&
                  rv.bytes <= last->c[0].bytes && last->c[0].bytes <= bound;
        daemon_close(&d);
        return verdict(ok);
}

/* Two VMs with shares 1 and 3 on an interface of capacity RATE, both with
 * a bulk flow: the scheduler core (SCHED_MODE_RATE), fed each tick with what
 * the program counted, sets their rates; they get a quarter and three
 * quarters of the capacity. */
static int scenario_split(void) {
        /* The manager's tick. */
        const uint64_t tick_nsec = 10 * NSEC_PER_MSEC;
        /* Each VM's fraction of the capacity within this of its due: the
         * core's own precision, a few % of capacity. */
        const double tolerance = 0.05;
        /* A VM whose packets were dropped or delayed counts as held back
         * for this long after, as the daemon has it (NET_THROTTLE_MEMORY_USEC
         * in schedd/manager-net.c): a TCP sender that was dropped sends in
         * lumps some 100 ms apart, and with the core's own 100 ms memory the
         * VM with share 3 looked content now and then, and the other got
         * its part for that tick (vm1 up to 0.318 of the capacity). */
        const uint64_t held_memory_nsec = NSEC_PER_SEC / 2;
        const uint32_t shares[2] = {1, 3};
        const char *cgroups[2] = {"vm1", "vm2"};
        uint64_t ids[2], prev[2] = {0}, prev_held[2] = {0}, held_until[2] = {0};
        Sched *s = sched_new(SCHED_MODE_RATE, opt.rate);
        Daemon d;
        int slots[2], r;

        if (!s)
                die("sched_new", -ENOMEM);
        if ((r = daemon_open(&d)) < 0)
                die("open", r);
        for (int i = 0; i < 2; i++) {
                SchedParams p = {.reserve = 0, .limit = opt.rate, .burst = 0, .share = shares[i]};
                slots[i] = sched_add(s, &p);
                if (slots[i] < 0 || (r = cgroup_id(cgroups[i], &ids[i])) < 0 ||
                    (r = egress_set_vm(d.e, (uint32_t)i, ids[i], opt.rate / 2, opt.burst)) < 0)
                        die("add", slots[i] < 0 ? slots[i] : r);
                daemon_watch(&d, (uint32_t)i);
        }

        uint64_t t0 = now_nsec() + 200 * NSEC_PER_MSEC;
        uint64_t t_measure = t0 + 2 * WARMUP_NSEC, t_end = t_measure + (uint64_t)(opt.seconds * NSEC_PER_SEC);
        Child srv = child_start(
                &(Job){.role = ROLE_SERVER, .ns = opt.ns_b, .start = now_nsec(), .end = t_end + NSEC_PER_SEC / 2});
        Child b1 = child_start(&(Job){.role = ROLE_BULK, .ns = opt.ns_a, .cgroup = "vm1", .start = t0, .end = t_end});
        Child b2 = child_start(&(Job){.role = ROLE_BULK, .ns = opt.ns_a, .cgroup = "vm2", .start = t0, .end = t_end});

        for (uint64_t t = now_nsec(); t < t_end && d.n_samples < SAMPLES_MAX; t += tick_nsec) {
                sleep_until(t);
                Sample *sm = &d.samples[d.n_samples];
                SchedUsage usage[2];
                for (int i = 0; i < 2; i++) {
                        if ((r = egress_read(d.e, (uint32_t)i, &sm->c[i])) < 0)
                                die("read", r);
                        uint64_t held = sm->c[i].dropped + sm->c[i].delayed;
                        if (held > prev_held[i])
                                held_until[i] = t + held_memory_nsec;
                        usage[slots[i]] =
                                (SchedUsage){.used = sm->c[i].bytes - prev[i], .throttled = t < held_until[i]};
                        prev[i] = sm->c[i].bytes;
                        prev_held[i] = held;
                }
                sm->t = now_nsec();
                d.n_samples++;
                if ((r = sched_tick(s, sm->t / 1000, usage)) < 0)
                        die("tick", r);
                for (int i = 0; i < 2; i++)
                        if ((r = egress_set_vm(d.e, (uint32_t)i, ids[i], sched_decision(s, slots[i])->rate,
                                               opt.burst)) < 0)
                                die("set", r);
        }
        Result r1 = child_wait(b1), r2 = child_wait(b2), rv = child_wait(srv);

        const Sample *a = sample_at(&d, t_measure), *b = sample_at(&d, t_end);
        double f[2], total = 0;
        for (int i = 0; i < 2; i++) {
                f[i] = rate_between(a, b, (size_t)i) / (double)opt.rate;
                total += f[i];
        }
        printf("split: mode=%s capacity=%" PRIu64 " B/s shares 1:3; over %.2f s: vm1 %.3f, vm2 %.3f of capacity "
               "(due 0.250, 0.750), together %.3f; received %.0f B/s\n",
               opt.mode == EGRESS_MODE_PACE ? "pace" : "drop", opt.rate, (double)(b->t - a->t) / NSEC_PER_SEC, f[0],
               f[1], total, (double)rv.bytes * NSEC_PER_SEC / (double)(t_end - t0));
        daemon_close(&d);
        sched_free(s);
        return verdict(r1.error == 0 && r2.error == 0 && rv.error == 0 && fabs(f[0] - 0.25) <= tolerance &&
                       fabs(f[1] - 0.75) <= tolerance);
}

static double median(double *v, size_t n) {
        for (size_t i = 1; i < n; i++)
                for (size_t k = i; k > 0 && v[k - 1] > v[k]; k--) {
                        double t = v[k];
                        v[k] = v[k - 1];
                        v[k - 1] = t;
                }
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* An empty tc program ("pass"), attached like ours: what the kernel's
 * run-time statistics report for it is their own cost per run (two clock
 * reads) plus the call, the floor under any program's figure. */
typedef struct EmptyProg {
        int fd;
        bool hook_created;
        struct bpf_tc_hook hook;
        struct bpf_tc_opts opts;
} EmptyProg;

static int empty_attach(EmptyProg *p) {
        struct bpf_insn insns[] = {
                {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = TC_ACT_UNSPEC},
                {.code = BPF_JMP | BPF_EXIT},
        };
        int r;

        *p = (EmptyProg){.hook = {.sz = sizeof(struct bpf_tc_hook)}, .opts = {.sz = sizeof(struct bpf_tc_opts)}};
        p->fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "empty", "GPL", insns, ELEMENTSOF(insns), NULL);
        if (p->fd < 0)
                return p->fd;
        p->hook.ifindex = (int)if_nametoindex(opt.iface);
        p->hook.attach_point = BPF_TC_EGRESS;
        r = bpf_tc_hook_create(&p->hook);
        if (r < 0 && r != -EEXIST)
                return r;
        p->hook_created = r == 0;
        p->opts.prog_fd = p->fd;
        return bpf_tc_attach(&p->hook, &p->opts);
}

static int empty_detach(EmptyProg *p, EgressProgStats *ret) {
        struct bpf_prog_info info = {0};
        __u32 len = sizeof(info);
        int r = bpf_obj_get_info_by_fd(p->fd, &info, &len);
        if (r < 0)
                return r;
        *ret = (EgressProgStats){.run_time_nsec = info.run_time_ns, .run_count = info.run_cnt};
        p->opts.prog_fd = 0;
        p->opts.prog_id = 0;
        p->opts.flags = 0;
        (void)bpf_tc_detach(&p->hook, &p->opts);
        if (p->hook_created) {
                p->hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
                (void)bpf_tc_hook_destroy(&p->hook);
        }
        close(p->fd);
        return 0;
}

typedef enum Attached {
        ATTACHED_NONE,
        ATTACHED_EGRESS, /* the egress program */
        ATTACHED_EMPTY,  /* an empty program */
} Attached;

/* One round of the benchmark: a load from vm1 for round_nsec, with a program
 * attached or not; returns what the receiver got per second, and the
 * program's statistics. */
static double bench_round(Attached attached, Role role, uint64_t round_nsec, EgressProgStats *ret_stats) {
        const char *ifaces[] = {opt.iface};
        Egress *e = NULL;
        EmptyProg empty;
        uint64_t id;
        int r;

        if (attached == ATTACHED_EGRESS &&
            ((r = egress_open(&e, ifaces, 1, opt.mode)) < 0 || (r = cgroup_id("vm1", &id)) < 0 ||
             (r = egress_set_vm(e, VM1, id, opt.rate, opt.burst)) < 0))
                die("open", r);
        if (attached == ATTACHED_EMPTY && (r = empty_attach(&empty)) < 0)
                die("attach", r);
        uint64_t t0 = now_nsec() + 100 * NSEC_PER_MSEC, t1 = t0 + round_nsec;
        Child srv = child_start(
                &(Job){.role = ROLE_SERVER, .ns = opt.ns_b, .start = now_nsec(), .end = t1 + NSEC_PER_SEC / 2});
        /* The UDP sender floods small datagrams: the most packets per byte. */
        Child snd = child_start(&(Job){.role = role,
                                       .ns = opt.ns_a,
                                       .cgroup = "vm1",
                                       .start = t0,
                                       .end = t1,
                                       .rate = UINT64_MAX / NSEC_PER_SEC,
                                       .size = 64});
        Result rs = child_wait(snd), rv = child_wait(srv);
        if (rs.error || rv.error)
                die("load", -(rs.error ? rs.error : rv.error));
        *ret_stats = (EgressProgStats){0};
        if (e && (r = egress_prog_stats(e, ret_stats)) < 0)
                die("stats", r);
        if (attached == ATTACHED_EMPTY && (r = empty_detach(&empty, ret_stats)) < 0)
                die("stats", r);
        EgressCounters c;
        if (e && egress_read(e, VM1, &c) >= 0 && c.dropped + c.delayed > 0)
                printf("bench: the program held back %" PRIu64 " packets (dropped %" PRIu64 ", delayed %" PRIu64 ")\n",
                       c.dropped + c.delayed, c.dropped, c.delayed);
        egress_close(e);
        return (double)(role == ROLE_UDP ? rv.udp_bytes : rv.bytes) * NSEC_PER_SEC / (double)round_nsec;
}

static int scenario_bench(void) {
        /* Rounds of each kind (no program, ours, an empty one), in turn, so
         * drift and the machine's other load hit all alike; medians, so one
         * disturbed round does not. */
        enum { ROUNDS = 8, KINDS = 3 };
        static const Attached kinds[KINDS] = {ATTACHED_NONE, ATTACHED_EGRESS, ATTACHED_EMPTY};
        static const char *const kind_names[KINDS] = {"without a program", "with the program",
                                                      "with an empty program"};
        const uint64_t round_nsec = (uint64_t)(opt.seconds * NSEC_PER_SEC) / (KINDS * ROUNDS + 2);
        double tput[KINDS][ROUNDS];
        EgressProgStats tcp = {0}, tcp_empty = {0}, udp, udp_empty, st;
        int r;

        int stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
        if (stats_fd < 0) {
                printf("bench: cannot enable BPF run-time statistics: %s\nSKIP\n", strerror(-stats_fd));
                return EXIT_SKIP;
        }
        r = netns_enter(opt.ns_a);
        if (r < 0)
                die("netns", r);

        for (int i = 0; i < KINDS * ROUNDS; i++) {
                int k = i % KINDS;
                tput[k][i / KINDS] = bench_round(kinds[k], ROLE_BULK, round_nsec, &st);
                if (kinds[k] != ATTACHED_NONE) {
                        EgressProgStats *sum = kinds[k] == ATTACHED_EGRESS ? &tcp : &tcp_empty;
                        sum->run_time_nsec += st.run_time_nsec;
                        sum->run_count += st.run_count;
                }
                printf("bench: TCP round %d %s: %.1f MB/s\n", i / KINDS + 1, kind_names[k], tput[k][i / KINDS] / 1e6);
        }
        double udp_tput = bench_round(ATTACHED_EGRESS, ROLE_UDP, round_nsec, &udp);
        (void)bench_round(ATTACHED_EMPTY, ROLE_UDP, round_nsec, &udp_empty);
        close(stats_fd);

        double wo = median(tput[0], ROUNDS), w = median(tput[1], ROUNDS), we = median(tput[2], ROUNDS);
        double loss = wo > 0 ? 1 - w / wo : 0;
        double loss_empty = we > 0 ? 1 - w / we : 0;
        double per_tcp = tcp.run_count ? (double)tcp.run_time_nsec / (double)tcp.run_count : 0;
        double per_udp = udp.run_count ? (double)udp.run_time_nsec / (double)udp.run_count : 0;
        double per_empty = udp_empty.run_count ? (double)udp_empty.run_time_nsec / (double)udp_empty.run_count : 0;
        double per_tcp_empty = tcp_empty.run_count ? (double)tcp_empty.run_time_nsec / (double)tcp_empty.run_count : 0;
        printf("bench: mode=%s limit=%" PRIu64 " B/s; one TCP flow, median of %d rounds of %.2f s: without a program "
               "%.1f MB/s, with an empty one %.1f MB/s, with ours %.1f MB/s (loss %.2f %% against none, %.2f %% "
               "against the empty one); program per packet: %.1f ns over %" PRIu64
               " TCP (GSO) packets, %.1f ns over %" PRIu64 " 64-byte UDP packets (%.1f MB/s received); "
               "an empty program under the same loads (what the statistics cost themselves): %.1f ns over %" PRIu64
               " TCP packets, %.1f ns over %" PRIu64
               " UDP packets; ours above the empty one: %.1f ns TCP, %.1f ns UDP\n",
               opt.mode == EGRESS_MODE_PACE ? "pace" : "drop", opt.rate, ROUNDS, round_nsec / 1e9, wo / 1e6, we / 1e6,
               w / 1e6, loss * 100, loss_empty * 100, per_tcp, tcp.run_count, per_udp, udp.run_count, udp_tput / 1e6,
               per_tcp_empty, tcp_empty.run_count, per_empty, udp_empty.run_count, per_tcp - per_tcp_empty,
               per_udp - per_empty);
        return verdict(tcp.run_count > 0 && udp.run_count > 0 && per_tcp < 100 && per_udp < 100 && loss < 0.05);
}

/* Bulk flows from the cgroups of -L; the daemon under test shapes them. */
static int scenario_load(void) {
        char *list = strdup(opt.load), *save = NULL;
        const char *names[WATCH_MAX];
        Child snd[WATCH_MAX];
        Result res[WATCH_MAX];
        size_t n = 0;
        bool ok = true;

        if (!list)
                die("strdup", -ENOMEM);
        uint64_t t0 = now_nsec() + 100 * NSEC_PER_MSEC, t_end = t0 + (uint64_t)(opt.seconds * NSEC_PER_SEC);
        Child srv = child_start(
                &(Job){.role = ROLE_SERVER, .ns = opt.ns_b, .start = now_nsec(), .end = t_end + NSEC_PER_SEC / 2});
        for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                bool guest = strcmp(tok, "guest") == 0;
                bool udp = strncmp(tok, "udp:", 4) == 0;

                if (n >= WATCH_MAX || (guest && !opt.ns_c) || (udp && !opt.rate)) {
                        fprintf(stderr, "egress-test: load: at most %d senders; \"guest\" needs -C, \"udp:\" -r\n",
                                WATCH_MAX);
                        exit(2);
                }
                names[n] = tok;
                snd[n++] = child_start(&(Job){.role = udp ? ROLE_UDP : ROLE_BULK,
                                              .ns = guest ? opt.ns_c : opt.ns_a,
                                              .cgroup = guest ? NULL
                                                        : udp ? tok + 4
                                                              : tok,
                                              .start = t0,
                                              .end = t_end,
                                              .rate = opt.rate * 3 / 2,
                                              .size = 1400});
        }
        for (size_t i = 0; i < n; i++)
                res[i] = child_wait(snd[i]);
        Result rv = child_wait(srv);

        printf("load: %.2f s;", opt.seconds);
        for (size_t i = 0; i < n; i++) {
                printf(" %s sent %" PRIu64 " B%s%s;", names[i], res[i].bytes, res[i].error ? " error " : "",
                       res[i].error ? strerror(res[i].error) : "");
                ok = ok && res[i].error == 0;
        }
        printf(" received %" PRIu64 " B over TCP, %" PRIu64 " B over UDP\n", rv.bytes, rv.udp_bytes);
        free(list);
        return verdict(ok && rv.error == 0 && n > 0);
}

/* Only the shaping, for a benchmark that brings its own traffic
 * (tools/bench-egress): the program on the interface, each cgroup of -L a VM
 * at RATE with BURST, for SECONDS or until SIGTERM or SIGINT; prints "ready"
 * once loaded, then at the end what each VM was admitted, delayed and
 * dropped. */
static volatile sig_atomic_t hold_stop;

static void hold_on_signal(int sig) {
        (void)sig;
        hold_stop = 1;
}

static int scenario_hold(void) {
        char *list = strdup(opt.load), *save = NULL;
        const char *names[WATCH_MAX];
        size_t n = 0;
        Daemon d;
        int r;

        if (!list)
                die("strdup", -ENOMEM);
        if ((r = daemon_open(&d)) < 0)
                die("open", r);
        for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                if (n >= WATCH_MAX) {
                        fprintf(stderr, "egress-test: hold: at most %d VMs\n", WATCH_MAX);
                        exit(2);
                }
                if ((r = set_vm(&d, (uint32_t)n, tok, opt.rate, opt.burst)) < 0)
                        die(tok, r);
                names[n++] = tok;
        }
        signal(SIGTERM, hold_on_signal);
        signal(SIGINT, hold_on_signal);
        printf("ready: mode=%s\n", egress_mode(d.e) == EGRESS_MODE_PACE ? "pace" : "drop");
        fflush(stdout);
        uint64_t end = now_nsec() + (uint64_t)(opt.seconds * NSEC_PER_SEC);
        while (!hold_stop && now_nsec() < end)
                sleep_until(now_nsec() + 10 * NSEC_PER_MSEC);
        for (size_t i = 0; i < n; i++) {
                EgressCounters c;
                if ((r = egress_read(d.e, (uint32_t)i, &c)) < 0)
                        die("read", r);
                printf("hold: %s admitted %" PRIu64 " B %" PRIu64 " packets, delayed %" PRIu64 ", dropped %" PRIu64
                       ", marked %" PRIu64 "\n",
                       names[i], c.bytes, c.packets, c.delayed, c.dropped, c.marked);
        }
        daemon_close(&d);
        free(list);
        return 0;
}

static void usage(FILE *f) {
        fprintf(f, "usage: egress-test -A NETNS -B NETNS -d IFACE -a ADDR -g CGROUP_DIR [-C NETNS -T TAP]\n"
                   "                   [-m pace|drop] [-r RATE] [-b BURST] [-t SECONDS] [-p PORT] [-L CGROUPS] [-v]\n"
                   "                   rate|classify|latency|change|tap|split|bench|load|hold\n");
}

int main(int argc, char **argv) {
        int c;

        while ((c = getopt(argc, argv, "A:B:C:d:T:a:g:m:r:b:t:p:L:vh")) != -1) {
                switch (c) {
                        case 'A':
                                opt.ns_a = optarg;
                                break;
                        case 'B':
                                opt.ns_b = optarg;
                                break;
                        case 'C':
                                opt.ns_c = optarg;
                                break;
                        case 'd':
                                opt.iface = optarg;
                                break;
                        case 'T':
                                opt.tap = optarg;
                                break;
                        case 'a':
                                opt.addr = optarg;
                                break;
                        case 'g':
                                opt.cgroup_dir = optarg;
                                break;
                        case 'm':
                                if (strcmp(optarg, "pace") == 0)
                                        opt.mode = EGRESS_MODE_PACE;
                                else if (strcmp(optarg, "drop") == 0)
                                        opt.mode = EGRESS_MODE_DROP;
                                else {
                                        usage(stderr);
                                        return 2;
                                }
                                break;
                        case 'r':
                                opt.rate = strtoull(optarg, NULL, 0);
                                break;
                        case 'b':
                                opt.burst = strtoull(optarg, NULL, 0);
                                break;
                        case 't':
                                opt.seconds = strtod(optarg, NULL);
                                break;
                        case 'p':
                                opt.port = (uint16_t)strtoul(optarg, NULL, 0);
                                break;
                        case 'L':
                                opt.load = optarg;
                                break;
                        case 'v':
                                opt.verbose = true;
                                break;
                        case 'h':
                                usage(stdout);
                                return 0;
                        default:
                                usage(stderr);
                                return 2;
                }
        }
        if (optind + 1 != argc || !opt.ns_a || !opt.ns_b || !opt.iface || !opt.addr || !opt.cgroup_dir ||
            opt.seconds <= 0 || opt.seconds > (strcmp(argv[argc - 1], "hold") == 0 ? HOLD_SECONDS_MAX : 60)) {
                usage(stderr);
                return 2;
        }
        if (geteuid() != 0) {
                printf("SKIP: needs root\n");
                return EXIT_SKIP;
        }
        setvbuf(stdout, NULL, _IOLBF, 0);
        signal(SIGPIPE, SIG_IGN);

        const char *s = argv[optind];
        if (strcmp(s, "rate") == 0 && opt.rate)
                return scenario_rate();
        if (strcmp(s, "classify") == 0)
                return scenario_classify();
        if (strcmp(s, "latency") == 0 && opt.rate)
                return scenario_latency();
        if (strcmp(s, "change") == 0 && opt.rate)
                return scenario_change();
        if (strcmp(s, "tap") == 0 && opt.rate && opt.ns_c && opt.tap)
                return scenario_tap();
        if (strcmp(s, "bench") == 0 && opt.rate)
                return scenario_bench();
        if (strcmp(s, "split") == 0 && opt.rate)
                return scenario_split();
        if (strcmp(s, "load") == 0 && opt.load)
                return scenario_load();
        if (strcmp(s, "hold") == 0 && opt.load && opt.rate)
                return scenario_hold();
        usage(stderr);
        return 2;
}
