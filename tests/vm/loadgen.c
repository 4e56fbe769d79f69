/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * loadgen: a bounded load generator and cgroup meter for the real-kernel tests.
 *
 * It runs a plan: lines of
 *
 *   cpu     CGROUP THREADS FROM TO           THREADS busy threads in CGROUP from FROM to TO
 *   io      CGROUP DEVICE FROM TO [block=B] [max=B]
 *                                            O_DIRECT writes of B bytes (default 64 KiB) to the
 *                                            block device DEVICE from CGROUP, at most max= bytes
 *   measure FROM TO CGROUP...                sample cpu.stat and io.stat of each CGROUP at FROM
 *                                            and TO, print one JSON line at TO
 *   mkdir   AT CGROUP                        create CGROUP (an existing one is fine)
 *   rmdir   AT CGROUP                        kill every process in CGROUP, then remove it
 *   exec    AT COMMAND...                    run COMMAND with /bin/sh -c, its stdout on
 *                                            loadgen's stderr (stdout carries only reports)
 *
 * Times are seconds (decimals allowed) from the start of the plan; CGROUP is a path under
 * the cgroup2 mount (-r, default /sys/fs/cgroup), "." for the root, or an absolute path.
 * Every cgroup a line uses must exist at the start, or be made by a mkdir line no later
 * than that line's FROM.  '#' starts a comment.  The plan comes from -e LINE (repeated), or
 * from a file ("-" for stdin).
 *
 * Each cpu and io line runs in its own child process, which moves itself into its cgroup
 * before the plan starts (at FROM where the cgroup comes later or goes before FROM), so
 * its threads are all accounted there.  With -w the plan starts at SIGUSR1 (once every
 * child is ready), so that a harness can start something between.  The parent sleeps, samples, and runs
 * the mkdir, rmdir and exec lines at their times.  Everything is bounded: no time may
 * exceed LOADGEN_MAX_TIME_USEC, every loop ends at its TO, commands run under an alarm,
 * and alarms end the parent and every child a few seconds after the plan's end even if
 * something blocks.
 *
 * A measure line prints, on stdout:
 *   {"from":F,"to":T,"window_usec":W,"cpus":N,"utilization":U,
 *    "vms":{"CGROUP":{"cpu_fraction":X,"usage_usec":..,"nr_periods":..,"nr_throttled":..,
 *                     "throttled_usec":..,"io_wbytes":..,"io_rbytes":..,"io_wbps":..},..}}
 * cpu_fraction is usage over the window divided by the host's capacity (window times CPUs,
 * -c overrides the CPU count); utilization is the sum over the listed cgroups (list no
 * cgroup twice, nor one inside another).  The "vms" key matches the simulator's report.
 * (The root's cpu.stat is no measure of the whole host here: the kernel samples it on
 * timer ticks, and an emulated guest loses ticks; per-cgroup usage is exact.)
 *
 * Exit status: 0 when every line ran to its end (a load killed by its cgroup's rmdir line
 * counts as ended) and every command exited 0, 1 otherwise, 2 on a bad plan.
 */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Unit conversions. */
#define USEC_PER_SEC  1000000ULL
#define NSEC_PER_USEC 1000ULL

/* Tests keep guest runs to seconds; ten minutes is far above any of them and still bounds a
 * mistyped plan. */
#define LOADGEN_MAX_TIME_USEC (600ULL * USEC_PER_SEC)
/* Several times the CPUs a test guest has, enough to oversubscribe it, small enough that
 * a typo does not fork-bomb it. */
#define LOADGEN_MAX_THREADS 256
/* Plans are short lists written by tests; this bounds the table. */
#define LOADGEN_MAX_LINES 128
/* A scenario names a handful of VMs. */
#define LOADGEN_MAX_MEASURE_CGROUPS 32
/* Default size of one direct write: large enough to keep a RAM disk busy with few system
 * calls, small enough that a throttled write (at 1 MiB/s, 62 ms) overruns TO by little. */
#define LOADGEN_IO_BLOCK_DEFAULT_BYTES (64ULL * 1024)
/* O_DIRECT wants buffers, sizes and offsets aligned to the logical block size; 4 KiB covers
 * every device a test uses. */
#define LOADGEN_IO_ALIGN_BYTES 4096ULL
/* One write at most: 16 MiB is far above any useful block and bounds the buffer. */
#define LOADGEN_IO_BLOCK_MAX_BYTES (16ULL * 1024 * 1024)
/* Busy threads read the clock once per this many iterations: a few hundred microseconds
 * of spinning natively, some milliseconds under emulation, so the clock costs nothing
 * measurable and a thread stops within milliseconds of its TO. */
#define LOADGEN_SPIN_ITERATIONS 200000
/* How long a load waits at its FROM for its cgroup to appear: a mkdir line at the same
 * time runs in the parent, a moment later. */
#define LOADGEN_JOIN_WAIT_USEC (1ULL * USEC_PER_SEC)
/* How long rmdir waits for the killed processes to leave the cgroup: exiting takes
 * milliseconds even in an emulated guest. */
#define LOADGEN_RMDIR_WAIT_USEC (2ULL * USEC_PER_SEC)
/* The polling step of both waits above. */
#define LOADGEN_POLL_USEC (10ULL * 1000)
/* Seconds after the plan's end at which alarms kill whatever still runs (a write blocked
 * by a throttle, a wedged child): room for a slow emulated guest, still bounded. */
#define LOADGEN_GRACE_SEC 10
/* How long -w waits for SIGUSR1 before it starts the plan anyway: a daemon starting
 * under emulation is ready in well under a second, and a harness waits 20 s at most. */
#define LOADGEN_GO_WAIT_SEC 30

typedef enum LoadgenKind {
        LOADGEN_CPU,
        LOADGEN_IO,
        LOADGEN_MEASURE,
        LOADGEN_MKDIR,
        LOADGEN_RMDIR,
        LOADGEN_EXEC,
} LoadgenKind;

typedef struct LoadgenLine {
        LoadgenKind kind;
        uint64_t from_usec;
        uint64_t to_usec;
        char *cgroup;     /* cpu, io, mkdir, rmdir */
        unsigned threads; /* cpu */
        char *device;     /* io */
        uint64_t block_bytes;
        uint64_t max_bytes;                         /* io; 0: no bound but time */
        char *cgroups[LOADGEN_MAX_MEASURE_CGROUPS]; /* measure */
        unsigned n_cgroups;
        char *command; /* exec */
} LoadgenLine;

typedef struct LoadgenPlan {
        LoadgenLine lines[LOADGEN_MAX_LINES];
        unsigned n_lines;
} LoadgenPlan;

typedef struct LoadgenSample {
        uint64_t usage_usec;
        uint64_t nr_periods;
        uint64_t nr_throttled;
        uint64_t throttled_usec;
        uint64_t rbytes;
        uint64_t wbytes;
} LoadgenSample;

static const char *arg_cgroup_root = "/sys/fs/cgroup";
static long arg_cpus = 0;
static bool arg_wait_go = false; /* -w */

static uint64_t loadgen_now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}

static void loadgen_sleep_until_usec(uint64_t when_usec) {
        struct timespec ts = {
                .tv_sec = (time_t)(when_usec / USEC_PER_SEC),
                .tv_nsec = (long)((when_usec % USEC_PER_SEC) * NSEC_PER_USEC),
        };

        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                ;
}

/* "1.5" seconds -> 1500000 usec; at most LOADGEN_MAX_TIME_USEC. */
static int loadgen_parse_time(const char *s, uint64_t *ret_usec) {
        char *end;
        double sec;

        errno = 0;
        sec = strtod(s, &end);
        if (errno != 0 || end == s || *end != '\0' || !isfinite(sec))
                return -EINVAL;
        if (sec < 0)
                return -EDOM;
        if (sec * USEC_PER_SEC > (double)LOADGEN_MAX_TIME_USEC)
                return -ERANGE;
        *ret_usec = (uint64_t)llround(sec * USEC_PER_SEC);
        return 0;
}

/* Decimal bytes with an optional K, M or G suffix (powers of 1024). */
static int loadgen_parse_bytes(const char *s, uint64_t *ret_bytes) {
        unsigned long long v;
        uint64_t mult = 1;
        char *end;

        if (!isdigit((unsigned char)*s))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0)
                return -ERANGE;
        if (*end == 'K')
                mult = 1024, end++;
        else if (*end == 'M')
                mult = 1024 * 1024, end++;
        else if (*end == 'G')
                mult = 1024 * 1024 * 1024, end++;
        if (*end != '\0')
                return -EINVAL;
        if (v > UINT64_MAX / mult)
                return -ERANGE;
        *ret_bytes = v * mult;
        return 0;
}

static int loadgen_parse_unsigned(const char *s, unsigned max, unsigned *ret) {
        unsigned long v;
        char *end;

        if (!isdigit((unsigned char)*s))
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || *end != '\0')
                return -EINVAL;
        if (v > max)
                return -ERANGE;
        *ret = (unsigned)v;
        return 0;
}

/* Splits line in place into at most max_words words; returns their count or -E2BIG. */
static int loadgen_split(char *line, char **words, int max_words) {
        int n = 0;
        char *p = line;

        for (;;) {
                while (*p != '\0' && isspace((unsigned char)*p))
                        p++;
                if (*p == '\0' || *p == '#')
                        return n;
                if (n == max_words)
                        return -E2BIG;
                words[n++] = p;
                while (*p != '\0' && !isspace((unsigned char)*p))
                        p++;
                if (*p != '\0')
                        *p++ = '\0';
        }
}

static int loadgen_parse_window(char **words, LoadgenLine *l) {
        int r;

        r = loadgen_parse_time(words[0], &l->from_usec);
        if (r < 0)
                return r;
        r = loadgen_parse_time(words[1], &l->to_usec);
        if (r < 0)
                return r;
        return l->to_usec > l->from_usec ? 0 : -EINVAL;
}

/* Parses one plan line into plan; blank and comment lines add nothing.  Returns 0, or
 * -EINVAL with a message on stderr. */
static int loadgen_parse_line(LoadgenPlan *plan, const char *text, unsigned lineno) {
        char *words[LOADGEN_MAX_MEASURE_CGROUPS + 3];
        LoadgenLine *l;
        char *copy;
        int n, r;

        copy = strdup(text);
        if (!copy)
                return -ENOMEM;
        n = loadgen_split(copy, words, (int)(sizeof(words) / sizeof(words[0])));
        if (n == 0) {
                free(copy);
                return 0;
        }
        /* A command may have more words than the table holds: it is taken from text whole. */
        if (n == -E2BIG && strcmp(words[0], "exec") == 0)
                n = (int)(sizeof(words) / sizeof(words[0]));
        if (n < 0 || plan->n_lines == LOADGEN_MAX_LINES)
                goto bad;

        /* The words stay in copy, which the plan keeps for the program's lifetime. */
        l = &plan->lines[plan->n_lines];
        *l = (LoadgenLine){0};
        if (strcmp(words[0], "cpu") == 0) {
                if (n != 5)
                        goto bad;
                l->kind = LOADGEN_CPU;
                l->cgroup = words[1];
                r = loadgen_parse_unsigned(words[2], LOADGEN_MAX_THREADS, &l->threads);
                if (r < 0 || l->threads == 0)
                        goto bad;
                if (loadgen_parse_window(words + 3, l) < 0)
                        goto bad;
        } else if (strcmp(words[0], "io") == 0) {
                if (n < 5)
                        goto bad;
                l->kind = LOADGEN_IO;
                l->cgroup = words[1];
                l->device = words[2];
                l->block_bytes = LOADGEN_IO_BLOCK_DEFAULT_BYTES;
                if (loadgen_parse_window(words + 3, l) < 0)
                        goto bad;
                for (int i = 5; i < n; i++) {
                        if (strncmp(words[i], "block=", 6) == 0)
                                r = loadgen_parse_bytes(words[i] + 6, &l->block_bytes);
                        else if (strncmp(words[i], "max=", 4) == 0)
                                r = loadgen_parse_bytes(words[i] + 4, &l->max_bytes);
                        else
                                r = -EINVAL;
                        if (r < 0)
                                goto bad;
                }
                if (l->block_bytes == 0 || l->block_bytes % LOADGEN_IO_ALIGN_BYTES != 0 ||
                    l->block_bytes > LOADGEN_IO_BLOCK_MAX_BYTES)
                        goto bad;
        } else if (strcmp(words[0], "measure") == 0) {
                if (n < 4)
                        goto bad;
                l->kind = LOADGEN_MEASURE;
                if (loadgen_parse_window(words + 1, l) < 0)
                        goto bad;
                for (int i = 3; i < n; i++)
                        l->cgroups[l->n_cgroups++] = words[i];
        } else if (strcmp(words[0], "mkdir") == 0 || strcmp(words[0], "rmdir") == 0) {
                if (n != 3)
                        goto bad;
                l->kind = words[0][0] == 'm' ? LOADGEN_MKDIR : LOADGEN_RMDIR;
                if (loadgen_parse_time(words[1], &l->from_usec) < 0)
                        goto bad;
                l->to_usec = l->from_usec;
                l->cgroup = words[2];
        } else if (strcmp(words[0], "exec") == 0) {
                const char *rest = text;

                if (n < 3)
                        goto bad;
                l->kind = LOADGEN_EXEC;
                if (loadgen_parse_time(words[1], &l->from_usec) < 0)
                        goto bad;
                l->to_usec = l->from_usec;
                /* The command is the text after the first two words, as written. */
                for (int w = 0; w < 2; w++) {
                        rest += strspn(rest, " \t");
                        rest += strcspn(rest, " \t");
                }
                l->command = strdup(rest + strspn(rest, " \t"));
                if (!l->command) {
                        free(copy);
                        return -ENOMEM;
                }
        } else
                goto bad;

        plan->n_lines++;
        return 0;
bad:
        fprintf(stderr, "loadgen: plan line %u: cannot use \"%s\"\n", lineno, text);
        free(copy);
        return -EINVAL;
}

static int loadgen_parse_file(LoadgenPlan *plan, const char *path) {
        FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
        char buf[4096];
        unsigned lineno = 0;
        int r = 0;

        if (!f) {
                r = -errno;
                fprintf(stderr, "loadgen: %s: %s\n", path, strerror(-r));
                return r;
        }
        while (r >= 0 && fgets(buf, sizeof(buf), f)) {
                buf[strcspn(buf, "\n")] = '\0';
                r = loadgen_parse_line(plan, buf, ++lineno);
        }
        if (f != stdin)
                fclose(f);
        return r;
}

/* The cgroup's directory: absolute as given, else under the cgroup root. */
static void loadgen_cgroup_path(const char *cgroup, const char *file, char *buf, size_t size) {
        if (cgroup[0] == '/')
                snprintf(buf, size, "%s/%s", cgroup, file);
        else
                snprintf(buf, size, "%s/%s/%s", arg_cgroup_root, cgroup, file);
}

/* Reads a whole small cgroup file into buf (NUL-terminated).  Returns 0 or -errno. */
static int loadgen_read_file(const char *path, char *buf, size_t size) {
        ssize_t n;
        int fd;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, size - 1);
        close(fd);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        return 0;
}

/* The value of "key N" in a flat-keyed file such as cpu.stat; 0 when absent. */
static uint64_t loadgen_flat_key(const char *text, const char *key) {
        size_t len = strlen(key);
        const char *p = text;

        while (*p) {
                const char *nl = strchr(p, '\n');

                if (strncmp(p, key, len) == 0 && p[len] == ' ')
                        return strtoull(p + len + 1, NULL, 10);
                if (!nl)
                        break;
                p = nl + 1;
        }
        return 0;
}

/* Sum of "key=N" over every device line of a nested-keyed file such as io.stat. */
static uint64_t loadgen_nested_key_sum(const char *text, const char *key) {
        size_t len = strlen(key);
        uint64_t sum = 0;

        for (const char *p = text; *p; p++)
                if ((p == text || p[-1] == ' ') && strncmp(p, key, len) == 0 && p[len] == '=')
                        sum += strtoull(p + len + 1, NULL, 10);
        return sum;
}

static int loadgen_sample(const char *cgroup, LoadgenSample *ret) {
        char path[4096], buf[8192];
        LoadgenSample s = {0};
        int r;

        loadgen_cgroup_path(cgroup, "cpu.stat", path, sizeof(path));
        r = loadgen_read_file(path, buf, sizeof(buf));
        if (r < 0)
                return r;
        s.usage_usec = loadgen_flat_key(buf, "usage_usec");
        s.nr_periods = loadgen_flat_key(buf, "nr_periods");
        s.nr_throttled = loadgen_flat_key(buf, "nr_throttled");
        s.throttled_usec = loadgen_flat_key(buf, "throttled_usec");

        /* io.stat exists only where the io controller is enabled: no file, no bytes. */
        loadgen_cgroup_path(cgroup, "io.stat", path, sizeof(path));
        if (loadgen_read_file(path, buf, sizeof(buf)) >= 0) {
                s.rbytes = loadgen_nested_key_sum(buf, "rbytes");
                s.wbytes = loadgen_nested_key_sum(buf, "wbytes");
        }
        *ret = s;
        return 0;
}

/* Moves the calling process into cgroup.  Returns 0 or -errno. */
static int loadgen_join_once(const char *cgroup) {
        char path[4096], pid[32];
        int fd, len, r = 0;

        loadgen_cgroup_path(cgroup, "cgroup.procs", path, sizeof(path));
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
        if (write(fd, pid, (size_t)len) != len)
                r = -errno;
        close(fd);
        return r;
}

/* Joins cgroup, waiting up to LOADGEN_JOIN_WAIT_USEC for it to appear. */
static int loadgen_join(const char *cgroup) {
        uint64_t give_up_usec = loadgen_now_usec() + LOADGEN_JOIN_WAIT_USEC;
        int r;

        while ((r = loadgen_join_once(cgroup)) == -ENOENT && loadgen_now_usec() < give_up_usec)
                usleep(LOADGEN_POLL_USEC);
        return r;
}

static void loadgen_print_json_string(const char *s) {
        putchar('"');
        for (; *s; s++) {
                if (*s == '"' || *s == '\\')
                        printf("\\%c", *s);
                else if ((unsigned char)*s < 0x20)
                        printf("\\u%04x", (unsigned char)*s);
                else
                        putchar(*s);
        }
        putchar('"');
}

typedef struct LoadgenSpin {
        uint64_t end_usec;
} LoadgenSpin;

static void *loadgen_spin_thread(void *userdata) {
        const LoadgenSpin *spin = userdata;

        while (loadgen_now_usec() < spin->end_usec)
                for (volatile unsigned i = 0; i < LOADGEN_SPIN_ITERATIONS; i++)
                        ;
        return NULL;
}

/* Child of a cpu line, at its FROM: start the threads, all stop at TO. */
static int loadgen_run_cpu(const LoadgenLine *l, uint64_t start_usec) {
        pthread_t threads[LOADGEN_MAX_THREADS];
        LoadgenSpin spin = {.end_usec = start_usec + l->to_usec};
        unsigned started = 0;
        int r = 0;

        for (; started < l->threads; started++) {
                r = -pthread_create(&threads[started], NULL, loadgen_spin_thread, &spin);
                if (r < 0) {
                        fprintf(stderr, "loadgen: cpu %s: thread %u: %s\n", l->cgroup, started, strerror(-r));
                        break;
                }
        }
        for (unsigned i = 0; i < started; i++)
                pthread_join(threads[i], NULL);
        return r;
}

/* Child of an io line, at its FROM: direct writes, wrapping at the device's end, until TO. */
static int loadgen_run_io(const LoadgenLine *l, uint64_t start_usec) {
        uint64_t end_usec = start_usec + l->to_usec, size_bytes = 0, offset = 0, written = 0, began_usec;
        void *buf = NULL;
        int fd, r = 0;

        fd = open(l->device, O_WRONLY | O_DIRECT | O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                fprintf(stderr, "loadgen: io %s: %s\n", l->device, strerror(-r));
                return r;
        }
        if (ioctl(fd, BLKGETSIZE64, &size_bytes) < 0 || size_bytes < l->block_bytes) {
                r = size_bytes < l->block_bytes ? -ENOSPC : -errno;
                fprintf(stderr, "loadgen: io %s: size: %s\n", l->device, strerror(-r));
                goto finish;
        }
        r = -posix_memalign(&buf, LOADGEN_IO_ALIGN_BYTES, l->block_bytes);
        if (r < 0)
                goto finish;
        memset(buf, 0x5a, l->block_bytes);

        began_usec = loadgen_now_usec();
        while (loadgen_now_usec() < end_usec && (l->max_bytes == 0 || written < l->max_bytes)) {
                ssize_t n;

                if (offset + l->block_bytes > size_bytes)
                        offset = 0;
                n = pwrite(fd, buf, l->block_bytes, (off_t)offset);
                if (n < 0) {
                        r = -errno;
                        fprintf(stderr, "loadgen: io %s: write: %s\n", l->device, strerror(-r));
                        goto finish;
                }
                offset += (uint64_t)n;
                written += (uint64_t)n;
        }
        fprintf(stderr, "loadgen: io %s %s: %" PRIu64 " bytes in %.3f s\n", l->cgroup, l->device, written,
                (double)(loadgen_now_usec() - began_usec) / USEC_PER_SEC);
finish:
        free(buf);
        close(fd);
        return r;
}

/*
 * Whether a load may join its cgroup before the plan starts: the cgroup is there now and
 * no rmdir line removes it before the load's FROM.  Moving a process between cgroups
 * waits for an RCU grace period, which an emulated guest can stretch to a large part of
 * a second: joined at FROM, loads that start at the same moment would start that far
 * apart (the first one alone on the host meanwhile).
 */
static bool loadgen_joins_early(const LoadgenPlan *plan, const LoadgenLine *l) {
        char path[4096];

        for (unsigned i = 0; i < plan->n_lines; i++)
                if (plan->lines[i].kind == LOADGEN_RMDIR && plan->lines[i].from_usec <= l->from_usec &&
                    strcmp(plan->lines[i].cgroup, l->cgroup) == 0)
                        return false;
        loadgen_cgroup_path(l->cgroup, "cgroup.procs", path, sizeof(path));
        return access(path, F_OK) >= 0;
}

/*
 * Child for a cpu or io line: joins its cgroup early where it may, says so on ready_fd,
 * reads the plan's start time (8 bytes) from go_fd, and runs the load from FROM.
 */
static pid_t loadgen_spawn(const LoadgenPlan *plan, const LoadgenLine *l, int ready_fd, int go_fd) {
        uint64_t start_usec;
        bool joined;
        pid_t pid;
        int r;

        fflush(NULL);
        pid = fork();
        if (pid != 0)
                return pid;

        alarm(LOADGEN_GO_WAIT_SEC + (unsigned)(l->to_usec / USEC_PER_SEC) + LOADGEN_GRACE_SEC);
        joined = loadgen_joins_early(plan, l) && loadgen_join_once(l->cgroup) >= 0;
        if (write(ready_fd, "r", 1) != 1 || read(go_fd, &start_usec, sizeof(start_usec)) != sizeof(start_usec)) {
                fprintf(stderr, "loadgen: %s: no start time from the parent\n", l->cgroup);
                _exit(1);
        }
        close(ready_fd);
        close(go_fd);
        alarm((unsigned)(l->to_usec / USEC_PER_SEC) + LOADGEN_GRACE_SEC);
        loadgen_sleep_until_usec(start_usec + l->from_usec);
        r = joined ? 0 : loadgen_join(l->cgroup);
        if (r < 0) {
                fprintf(stderr, "loadgen: cannot join cgroup %s: %s\n", l->cgroup, strerror(-r));
                _exit(1);
        }
        r = l->kind == LOADGEN_CPU ? loadgen_run_cpu(l, start_usec) : loadgen_run_io(l, start_usec);
        _exit(r < 0 ? 1 : 0);
}

/* What the parent does at one moment; the order of the values is the order of things at
 * the same moment: a window ends before a cgroup goes, a cgroup appears before a window on
 * it begins. */
typedef enum LoadgenEventKind {
        LOADGEN_EVENT_MEASURE_END,
        LOADGEN_EVENT_MKDIR,
        LOADGEN_EVENT_EXEC,
        LOADGEN_EVENT_RMDIR,
        LOADGEN_EVENT_MEASURE_START,
} LoadgenEventKind;

typedef struct LoadgenEvent {
        uint64_t at_usec;
        LoadgenEventKind kind;
        LoadgenLine *line;
} LoadgenEvent;

typedef struct LoadgenChild {
        pid_t pid;
        const LoadgenLine *line;
} LoadgenChild;

typedef struct LoadgenRun {
        LoadgenPlan *plan;
        uint64_t start_usec;
        uint64_t end_usec; /* the latest time of the plan */
        LoadgenChild children[LOADGEN_MAX_LINES];
        unsigned n_children;
        const char *removed[LOADGEN_MAX_LINES]; /* cgroups rmdir removed */
        unsigned n_removed;
} LoadgenRun;

static int loadgen_event_compare(const void *a, const void *b) {
        const LoadgenEvent *x = a, *y = b;

        if (x->at_usec != y->at_usec)
                return x->at_usec < y->at_usec ? -1 : 1;
        return (int)x->kind - (int)y->kind;
}

static void loadgen_report(const LoadgenLine *l, const LoadgenSample *first, const LoadgenSample *last,
                           uint64_t window_usec) {
        double capacity_usec = (double)window_usec * (double)arg_cpus, sum = 0;

        for (unsigned i = 0; i < l->n_cgroups; i++)
                sum += (double)(last[i].usage_usec - first[i].usage_usec);
        printf("{\"from\":%.3f,\"to\":%.3f,\"window_usec\":%" PRIu64 ",\"cpus\":%ld,\"utilization\":%.4f,\"vms\":{",
               (double)l->from_usec / USEC_PER_SEC, (double)l->to_usec / USEC_PER_SEC, window_usec, arg_cpus,
               sum / capacity_usec);
        for (unsigned i = 0; i < l->n_cgroups; i++) {
                uint64_t usage = last[i].usage_usec - first[i].usage_usec;
                uint64_t wbytes = last[i].wbytes - first[i].wbytes;

                printf(i ? "," : "");
                loadgen_print_json_string(l->cgroups[i]);
                printf(":{\"cpu_fraction\":%.4f,\"usage_usec\":%" PRIu64 ",\"nr_periods\":%" PRIu64
                       ",\"nr_throttled\":%" PRIu64 ",\"throttled_usec\":%" PRIu64 ",\"io_wbytes\":%" PRIu64
                       ",\"io_rbytes\":%" PRIu64 ",\"io_wbps\":%.0f}",
                       (double)usage / capacity_usec, usage, last[i].nr_periods - first[i].nr_periods,
                       last[i].nr_throttled - first[i].nr_throttled, last[i].throttled_usec - first[i].throttled_usec,
                       wbytes, last[i].rbytes - first[i].rbytes, (double)wbytes * USEC_PER_SEC / (double)window_usec);
        }
        printf("}}\n");
        fflush(stdout);
}

static int loadgen_mkdir(const char *cgroup) {
        char path[4096];

        loadgen_cgroup_path(cgroup, "", path, sizeof(path));
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* Kills everything in cgroup, waits for it to empty, removes it.  Returns 0 or -errno. */
static int loadgen_rmdir(const char *cgroup) {
        uint64_t give_up_usec = loadgen_now_usec() + LOADGEN_RMDIR_WAIT_USEC;
        char path[4096], buf[4096];
        int fd;

        /* cgroup.kill (Linux 5.14) kills the whole subtree at once, forks included. */
        loadgen_cgroup_path(cgroup, "cgroup.kill", path, sizeof(path));
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
                if (write(fd, "1", 1) != 1) {
                        int r = -errno;

                        close(fd);
                        return r;
                }
                close(fd);
        } else {
                loadgen_cgroup_path(cgroup, "cgroup.procs", path, sizeof(path));
                if (loadgen_read_file(path, buf, sizeof(buf)) >= 0) {
                        char *save = NULL;

                        for (char *pid = strtok_r(buf, "\n", &save); pid; pid = strtok_r(NULL, "\n", &save))
                                kill((pid_t)strtol(pid, NULL, 10), SIGKILL);
                }
        }

        loadgen_cgroup_path(cgroup, "", path, sizeof(path));
        while (rmdir(path) < 0) {
                if (errno != EBUSY || loadgen_now_usec() >= give_up_usec)
                        return -errno;
                usleep(LOADGEN_POLL_USEC);
        }
        return 0;
}

static pid_t loadgen_spawn_exec(const LoadgenLine *l, uint64_t start_usec, uint64_t end_usec) {
        uint64_t elapsed_usec = loadgen_now_usec() - start_usec;
        uint64_t left_usec = end_usec > elapsed_usec ? end_usec - elapsed_usec : 0;
        pid_t pid;

        fflush(NULL);
        pid = fork();
        if (pid != 0)
                return pid;

        /* Bounded like every load: until the plan's end and the grace after it.  An alarm
         * survives exec, so it bounds the command itself. */
        alarm((unsigned)(left_usec / USEC_PER_SEC) + LOADGEN_GRACE_SEC);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL); /* the command gets the usual signals */
        if (dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
                _exit(127);
        execl("/bin/sh", "sh", "-c", l->command, (char *)NULL);
        fprintf(stderr, "loadgen: exec /bin/sh: %s\n", strerror(errno));
        _exit(127);
}

/* Runs the measure, mkdir, rmdir and exec lines in time order.  Returns 0 or -errno. */
static int loadgen_run_events(LoadgenRun *run) {
        LoadgenEvent events[2 * LOADGEN_MAX_LINES];
        static LoadgenSample first[LOADGEN_MAX_LINES][LOADGEN_MAX_MEASURE_CGROUPS];
        static uint64_t first_usec[LOADGEN_MAX_LINES];
        LoadgenPlan *plan = run->plan;
        unsigned n = 0;
        int r = 0;

        for (unsigned i = 0; i < plan->n_lines; i++) {
                LoadgenLine *l = &plan->lines[i];

                switch (l->kind) {
                        case LOADGEN_MEASURE:
                                events[n++] = (LoadgenEvent){l->from_usec, LOADGEN_EVENT_MEASURE_START, l};
                                events[n++] = (LoadgenEvent){l->to_usec, LOADGEN_EVENT_MEASURE_END, l};
                                break;
                        case LOADGEN_MKDIR:
                                events[n++] = (LoadgenEvent){l->from_usec, LOADGEN_EVENT_MKDIR, l};
                                break;
                        case LOADGEN_RMDIR:
                                events[n++] = (LoadgenEvent){l->from_usec, LOADGEN_EVENT_RMDIR, l};
                                break;
                        case LOADGEN_EXEC:
                                events[n++] = (LoadgenEvent){l->from_usec, LOADGEN_EVENT_EXEC, l};
                                break;
                        default:
                                break;
                }
        }
        qsort(events, n, sizeof(events[0]), loadgen_event_compare);

        for (unsigned e = 0; e < n; e++) {
                LoadgenLine *l = events[e].line;
                unsigned idx = (unsigned)(l - plan->lines);
                LoadgenSample last[LOADGEN_MAX_MEASURE_CGROUPS];
                bool is_end = events[e].kind == LOADGEN_EVENT_MEASURE_END;
                uint64_t now_usec;
                int k = 0;

                loadgen_sleep_until_usec(run->start_usec + events[e].at_usec);
                now_usec = loadgen_now_usec();
                switch (events[e].kind) {
                        case LOADGEN_EVENT_MKDIR:
                                k = loadgen_mkdir(l->cgroup);
                                if (k < 0)
                                        fprintf(stderr, "loadgen: mkdir %s: %s\n", l->cgroup, strerror(-k));
                                break;
                        case LOADGEN_EVENT_RMDIR:
                                /* Recorded first: loads killed while it fails still died of it. */
                                run->removed[run->n_removed++] = l->cgroup;
                                k = loadgen_rmdir(l->cgroup);
                                if (k < 0)
                                        fprintf(stderr, "loadgen: rmdir %s: %s\n", l->cgroup, strerror(-k));
                                break;
                        case LOADGEN_EVENT_EXEC: {
                                pid_t pid = loadgen_spawn_exec(l, run->start_usec, run->end_usec);

                                if (pid < 0) {
                                        k = -errno;
                                        fprintf(stderr, "loadgen: fork: %s\n", strerror(-k));
                                } else
                                        run->children[run->n_children++] = (LoadgenChild){pid, l};
                                break;
                        }
                        case LOADGEN_EVENT_MEASURE_START:
                        case LOADGEN_EVENT_MEASURE_END:
                                for (unsigned i = 0; i < l->n_cgroups; i++) {
                                        int q = loadgen_sample(l->cgroups[i], is_end ? &last[i] : &first[idx][i]);

                                        if (q < 0) {
                                                fprintf(stderr, "loadgen: cgroup %s: %s\n", l->cgroups[i],
                                                        strerror(-q));
                                                k = q;
                                        }
                                }
                                if (!is_end)
                                        first_usec[idx] = now_usec;
                                else if (k >= 0)
                                        loadgen_report(l, first[idx], last, now_usec - first_usec[idx]);
                                break;
                }
                if (k < 0)
                        r = k;
        }
        return r;
}

/* Whether cgroup exists now or a mkdir line makes it by at_usec. */
static bool loadgen_cgroup_available(const LoadgenPlan *plan, const char *cgroup, uint64_t at_usec) {
        char path[4096];

        for (unsigned i = 0; i < plan->n_lines; i++)
                if (plan->lines[i].kind == LOADGEN_MKDIR && plan->lines[i].from_usec <= at_usec &&
                    strcmp(plan->lines[i].cgroup, cgroup) == 0)
                        return true;
        loadgen_cgroup_path(cgroup, "cgroup.procs", path, sizeof(path));
        return access(path, F_OK) >= 0;
}

/* Whether a child ended as its line should: exit 0, or a load killed by its cgroup's rmdir. */
static bool loadgen_child_ok(const LoadgenRun *run, const LoadgenChild *c, int status) {
        if (WIFEXITED(status))
                return WEXITSTATUS(status) == 0;
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL || c->line->kind == LOADGEN_EXEC)
                return false;
        for (unsigned i = 0; i < run->n_removed; i++)
                if (strcmp(run->removed[i], c->line->cgroup) == 0)
                        return true;
        return false;
}

static void loadgen_usage(FILE *f) {
        fputs("Usage: loadgen [-r CGROUP_ROOT] [-c CPUS] [-w] {-e LINE... | PLAN_FILE | -}\n"
              "  -w  start the plan at SIGUSR1\n"
              "Plan lines (times in seconds from the start):\n"
              "  cpu CGROUP THREADS FROM TO\n"
              "  io CGROUP DEVICE FROM TO [block=BYTES] [max=BYTES]\n"
              "  measure FROM TO CGROUP...\n"
              "  mkdir AT CGROUP\n"
              "  rmdir AT CGROUP\n"
              "  exec AT COMMAND...\n",
              f);
}

int main(int argc, char **argv) {
        static LoadgenPlan plan;
        static LoadgenRun run = {.plan = &plan};
        int ready_pipe[2], go_pipe[2];
        sigset_t go_set;
        unsigned lineno = 0;
        bool failed = false;
        int opt;

        /* SIGUSR1 is blocked from the first instruction on (its default action would kill
         * us): one sent early waits for sigtimedwait() under -w, and is ignored without. */
        sigemptyset(&go_set);
        sigaddset(&go_set, SIGUSR1);
        sigprocmask(SIG_BLOCK, &go_set, NULL);

        while ((opt = getopt(argc, argv, "r:c:e:hw")) >= 0)
                switch (opt) {
                        case 'r':
                                arg_cgroup_root = optarg;
                                break;
                        case 'c':
                                arg_cpus = strtol(optarg, NULL, 10);
                                if (arg_cpus <= 0 || arg_cpus > 4096) {
                                        fprintf(stderr, "loadgen: bad CPU count %s\n", optarg);
                                        return 2;
                                }
                                break;
                        case 'e':
                                if (loadgen_parse_line(&plan, optarg, ++lineno) < 0)
                                        return 2;
                                break;
                        case 'w':
                                arg_wait_go = true;
                                break;
                        case 'h':
                                loadgen_usage(stdout);
                                return 0;
                        default:
                                loadgen_usage(stderr);
                                return 2;
                }
        if (optind < argc && loadgen_parse_file(&plan, argv[optind]) < 0)
                return 2;
        if (plan.n_lines == 0) {
                loadgen_usage(stderr);
                return 2;
        }
        if (arg_cpus == 0)
                arg_cpus = sysconf(_SC_NPROCESSORS_ONLN);

        /* Check every cgroup before starting anything, so a typo fails at once. */
        for (unsigned i = 0; i < plan.n_lines; i++) {
                LoadgenLine *l = &plan.lines[i];
                unsigned n = l->kind == LOADGEN_MEASURE ? l->n_cgroups : l->kind == LOADGEN_EXEC ? 0 : 1;

                for (unsigned j = 0; j < n; j++) {
                        const char *cg = l->kind == LOADGEN_MEASURE ? l->cgroups[j] : l->cgroup;

                        if (l->kind != LOADGEN_MKDIR && !loadgen_cgroup_available(&plan, cg, l->from_usec)) {
                                fprintf(stderr, "loadgen: no cgroup %s under %s\n", cg, arg_cgroup_root);
                                return 2;
                        }
                }
                if (l->to_usec > run.end_usec)
                        run.end_usec = l->to_usec;
        }
        alarm(LOADGEN_GO_WAIT_SEC + (unsigned)(run.end_usec / USEC_PER_SEC) + 2 * LOADGEN_GRACE_SEC);

        /* The loads' children first, each in its cgroup where it may be; the plan's clock
         * starts when all are ready, and they learn its start through a pipe (one write of
         * at most LOADGEN_MAX_LINES * 8 bytes, under PIPE_BUF: atomic). */
        if (pipe2(ready_pipe, O_CLOEXEC) < 0 || pipe2(go_pipe, O_CLOEXEC) < 0) {
                fprintf(stderr, "loadgen: pipe: %s\n", strerror(errno));
                return 1;
        }
        for (unsigned i = 0; i < plan.n_lines; i++) {
                LoadgenLine *l = &plan.lines[i];
                pid_t pid;

                if (l->kind != LOADGEN_CPU && l->kind != LOADGEN_IO)
                        continue;
                pid = loadgen_spawn(&plan, l, ready_pipe[1], go_pipe[0]);
                if (pid < 0) {
                        fprintf(stderr, "loadgen: fork: %s\n", strerror(errno));
                        failed = true;
                        break;
                }
                run.children[run.n_children++] = (LoadgenChild){pid, l};
        }
        close(ready_pipe[1]);
        close(go_pipe[0]);
        for (unsigned ready = 0; ready < run.n_children;) {
                char c[LOADGEN_MAX_LINES];
                ssize_t n = read(ready_pipe[0], c, run.n_children - ready);

                if (n <= 0)
                        break; /* a child died: waitpid() below reports it */
                ready += (unsigned)n;
        }
        if (arg_wait_go) {
                struct timespec timeout = {.tv_sec = LOADGEN_GO_WAIT_SEC};

                if (sigtimedwait(&go_set, NULL, &timeout) < 0)
                        fprintf(stderr, "loadgen: no SIGUSR1 within %d s, starting anyway\n", LOADGEN_GO_WAIT_SEC);
        }
        alarm((unsigned)(run.end_usec / USEC_PER_SEC) + 2 * LOADGEN_GRACE_SEC);
        run.start_usec = loadgen_now_usec();
        {
                uint64_t starts[LOADGEN_MAX_LINES];

                for (unsigned i = 0; i < run.n_children; i++)
                        starts[i] = run.start_usec;
                if (run.n_children > 0 && write(go_pipe[1], starts, run.n_children * sizeof(starts[0])) !=
                                                  (ssize_t)(run.n_children * sizeof(starts[0])))
                        failed = true;
        }
        close(ready_pipe[0]);
        close(go_pipe[1]);

        if (!failed && loadgen_run_events(&run) < 0)
                failed = true;

        for (unsigned i = 0; i < run.n_children; i++) {
                int status;

                if (waitpid(run.children[i].pid, &status, 0) < 0 || !loadgen_child_ok(&run, &run.children[i], status))
                        failed = true;
        }
        return failed ? 1 : 0;
}
