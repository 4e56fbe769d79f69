/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * bench-bus-client: the figures of tools/bench-bus, against a running
 * schedd on a fake cgroup tree.
 *
 *   bench-bus-client ADDRESS CGROUP_ROOT VM ROUNDS
 *
 * 1. `schedctl get VM` on the bus: GetVM then GetAll of the VM's object,
 *    ROUNDS times; and ListVMs (every VM, with its live state).
 * 2. From SetPolicy returning to the new cpu.max in VM's cgroup: the limit
 *    is moved between two values, and cpu.max polled until it shows the
 *    new quota; in microseconds and in ticks.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#define BUS_NAME     "org.schedd.Scheduler1"
#define BUS_PATH     "/org/schedd/Scheduler1"
#define IFACE        "org.schedd.Scheduler1.Manager"
#define IFACE_VM     "org.schedd.Scheduler1.VM"
#define CALL_TIMEOUT (10ULL * 1000000ULL)

/* Changes of the limit timed: enough for a median and a maximum that mean
 * something, few enough that the override file's fsync()s stay quick. */
#define SET_ROUNDS 20

/* cpu.max is polled this often: well under a tick (1 ms and up), so the
 * figure is the daemon's delay, not ours. */
#define POLL_INTERVAL_NSEC 20000L

/* Give up on a change that never shows: a thousand ticks of the slowest tick. */
#define POLL_GIVE_UP_USEC (10ULL * 1000000ULL)

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000ULL;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

        return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *v, size_t n) {
        uint64_t sum = 0;

        qsort(v, n, sizeof(*v), cmp_u64);
        for (size_t i = 0; i < n; i++)
                sum += v[i];
        printf("%-44s median %7" PRIu64 " us   p99 %7" PRIu64 " us   max %7" PRIu64 " us   mean %7" PRIu64
               " us  (%zu rounds)\n",
               what, v[n / 2], v[n * 99 / 100 < n ? n * 99 / 100 : n - 1], v[n - 1], sum / n, n);
}

static int fail(int r, const char *what, const sd_bus_error *e) {
        fprintf(stderr, "bench-bus-client: %s: %s\n", what,
                e && sd_bus_error_is_set(e) ? e->message : strerror(r < 0 ? -r : r));
        return EXIT_FAILURE;
}

static int get_vm(sd_bus *bus, const char *vm, sd_bus_error *e) {
        sd_bus_message *reply = NULL, *all = NULL;
        char *path = NULL;
        const char *p;
        int r;

        r = sd_bus_call_method(bus, BUS_NAME, BUS_PATH, IFACE, "GetVM", e, &reply, "s", vm);
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &p);
        if (r >= 0) {
                path = strdup(p);
                r = path ? 0 : -ENOMEM;
        }
        if (r >= 0)
                r = sd_bus_call_method(bus, BUS_NAME, path, "org.freedesktop.DBus.Properties", "GetAll", e, &all, "s",
                                       IFACE_VM);
        free(path);
        sd_bus_message_unref(reply);
        sd_bus_message_unref(all);
        return r;
}

static int set_limit(sd_bus *bus, const char *vm, const char *limit, sd_bus_error *e) {
        sd_bus_message *call = NULL, *reply = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &call, BUS_NAME, BUS_PATH, IFACE, "SetPolicy");
        if (r >= 0)
                r = sd_bus_message_append(call, "sa{ss}b", vm, 1, "cpu.limit", limit, 0);
        if (r >= 0)
                r = sd_bus_call(bus, call, CALL_TIMEOUT, e, &reply);
        sd_bus_message_unref(call);
        sd_bus_message_unref(reply);
        return r;
}

/* Waits until the file starts with `want`; 0, or -ETIMEDOUT. */
static int wait_file(int fd, const char *want) {
        uint64_t start = now_usec();
        char buf[128];

        for (;;) {
                ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

                if (n >= 0) {
                        buf[n] = '\0';
                        if (strncmp(buf, want, strlen(want)) == 0)
                                return 0;
                }
                if (now_usec() - start > POLL_GIVE_UP_USEC)
                        return -ETIMEDOUT;
                nanosleep(&(struct timespec){.tv_nsec = POLL_INTERVAL_NSEC}, NULL);
        }
}

int main(int argc, char *argv[]) {
        /* Two limits and the cpu.max each gives on a 2-CPU host. */
        static const char *const limits[2] = {"30%", "40%"};
        static const char *const quotas[2] = {"60000 100000", "80000 100000"};
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus *bus = NULL;
        uint64_t *lat, tick_usec = 0, set_call[SET_ROUNDS], to_file[SET_ROUNDS], ticks_x100[SET_ROUNDS];
        unsigned long rounds;
        char path[4096];
        int fd, r;

        if (argc != 5 || (rounds = strtoul(argv[4], NULL, 10)) == 0) {
                fprintf(stderr, "usage: bench-bus-client ADDRESS CGROUP_ROOT VM ROUNDS\n");
                return 2;
        }
        r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, argv[1]);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, 1);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0)
                return fail(r, "cannot connect", NULL);
        r = sd_bus_get_property_trivial(bus, BUS_NAME, BUS_PATH, IFACE, "TickUSec", &e, 't', &tick_usec);
        if (r < 0 || tick_usec == 0)
                return fail(r, "TickUSec", &e);

        lat = calloc(rounds, sizeof(*lat));
        if (!lat)
                return fail(-ENOMEM, "memory", NULL);
        for (unsigned long i = 0; i < rounds; i++) {
                uint64_t t = now_usec();

                r = get_vm(bus, argv[3], &e);
                if (r < 0)
                        return fail(r, "GetVM/GetAll", &e);
                lat[i] = now_usec() - t;
        }
        report("get VM (GetVM + GetAll)", lat, rounds);
        for (unsigned long i = 0; i < rounds; i++) {
                sd_bus_message *reply = NULL;
                uint64_t t = now_usec();

                r = sd_bus_call_method(bus, BUS_NAME, BUS_PATH, IFACE, "ListVMs", &e, &reply, "");
                sd_bus_message_unref(reply);
                if (r < 0)
                        return fail(r, "ListVMs", &e);
                lat[i] = now_usec() - t;
        }
        report("ListVMs (every VM)", lat, rounds);
        free(lat);

        snprintf(path, sizeof(path), "%s/%s/cpu.max", argv[2], argv[3]);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return fail(errno, path, NULL);
        for (int i = 0; i < SET_ROUNDS; i++) {
                int k = i % 2;
                uint64_t t0 = now_usec(), t1;

                r = set_limit(bus, argv[3], limits[k], &e);
                if (r < 0)
                        return fail(r, "SetPolicy", &e);
                t1 = now_usec();
                r = wait_file(fd, quotas[k]);
                if (r < 0)
                        return fail(r, "cpu.max never showed the new limit", NULL);
                set_call[i] = t1 - t0;
                to_file[i] = now_usec() - t1;
                ticks_x100[i] = to_file[i] * 100 / tick_usec;
        }
        close(fd);
        report("set: the SetPolicy call (validate, fsync)", set_call, SET_ROUNDS);
        report("set returned -> cpu.max in place", to_file, SET_ROUNDS);
        qsort(ticks_x100, SET_ROUNDS, sizeof(uint64_t), cmp_u64);
        printf("%-44s median %4" PRIu64 ".%02" PRIu64 " ticks   max %4" PRIu64 ".%02" PRIu64 " ticks   (tick %" PRIu64
               " us)\n",
               "set returned -> cpu.max in place", ticks_x100[SET_ROUNDS / 2] / 100, ticks_x100[SET_ROUNDS / 2] % 100,
               ticks_x100[SET_ROUNDS - 1] / 100, ticks_x100[SET_ROUNDS - 1] % 100, tick_usec);

        /* Leave the VM as the policy file has it. */
        r = sd_bus_call_method(bus, BUS_NAME, BUS_PATH, IFACE, "ResetPolicy", &e, NULL, "sas", argv[3], 0);
        if (r < 0)
                return fail(r, "ResetPolicy", &e);
        sd_bus_flush_close_unref(bus);
        printf("%-44s %s\n", "target (every change within 2 ticks)",
               ticks_x100[SET_ROUNDS - 1] <= 200 ? "met" : "MISSED");
        return EXIT_SUCCESS;
}
