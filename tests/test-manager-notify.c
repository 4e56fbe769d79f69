/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The daemon's side of systemd's notify protocol, read from a datagram
 * socket of the test's own given as NOTIFY_SOCKET: READY=1 with a one-line
 * STATUS= once the first tick ran, WATCHDOG=1 from the tick loop every half
 * of WATCHDOG_USEC (and none without it), RELOADING=1 then READY=1 around a
 * reload on SIGHUP, STOPPING=1 at the end.
 */

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fake-tree.h"
#include "schedd/config.h"
#include "schedd/log.h"
#include "schedd/manager.h"

static char dir[PATH_MAX];
static char tree[PATH_MAX];
static char state[PATH_MAX];
static Config config;
static int sock = -1;

/* Every message the daemon sent, in order. */
#define MAX_MESSAGES 4096
static char *messages[MAX_MESSAGES];
static size_t n_messages;

/* The tick is 1 ms (fake_config()); WATCHDOG_USEC of 20 ms asks for a ping
 * every 10 ms. */
#define WATCHDOG_USEC  20000
#define TICKS          120
#define RELOAD_AT_TICK 60

static void setup(void) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};

        fake_dirs_make(dir, tree, state, "/tmp/test-manager-notify");
        fake_vm(tree, "web");
        fake_put(dir, "policy.yaml", "host:\n  cpus: 2\nvms:\n  web: { cpu: { share: 1 } }\n");
        fake_config(&config, dir, tree, state);
        log_set_max_level(LOG_WARNING);

        sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        cr_assert_geq(sock, 0);
        cr_assert_lt((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", dir), sizeof(sa.sun_path));
        cr_assert_eq(bind(sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
        cr_assert_eq(setenv("NOTIFY_SOCKET", sa.sun_path, 1), 0);
}

static void teardown(void) {
        for (size_t i = 0; i < n_messages; i++)
                free(messages[i]);
        n_messages = 0;
        if (sock >= 0)
                close(sock);
        config_done(&config);
        fake_dirs_remove(dir, tree, state);
}

TestSuite(manager_notify, .init = setup, .fini = teardown);

static void drain(void) {
        char buf[4096];
        ssize_t n;

        while ((n = recv(sock, buf, sizeof(buf) - 1, 0)) >= 0) {
                cr_assert_lt(n_messages, MAX_MESSAGES);
                buf[n] = '\0';
                messages[n_messages] = strdup(buf);
                cr_assert_not_null(messages[n_messages]);
                n_messages++;
        }
}

/* Whether message i has the line `line` ("KEY=VALUE", or "KEY=" for any value). */
static bool has(size_t i, const char *line) {
        size_t len = strlen(line);

        for (const char *p = messages[i]; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                if (strncmp(p, line, len) == 0 && (line[len - 1] == '=' || p[len] == '\n' || p[len] == '\0'))
                        return true;
        return false;
}

/* The first message from `from` on with `line`; n_messages if none. */
static size_t find(size_t from, const char *line) {
        for (size_t i = from; i < n_messages; i++)
                if (has(i, line))
                        return i;
        return n_messages;
}

static size_t count(const char *line) {
        size_t c = 0;

        for (size_t i = 0; i < n_messages; i++)
                c += has(i, line);
        return c;
}

/* Read as the daemon writes, as the service manager does: a datagram socket
 * queues only a few messages (net.unix.max_dgram_qlen), then sd_notify()
 * blocks. */
static void drain_hook(uint64_t ticks, void *userdata) {
        (void)ticks;
        (void)userdata;
        drain();
}

static void reload_hook(uint64_t ticks, void *userdata) {
        drain_hook(ticks, userdata);
        if (ticks == RELOAD_AT_TICK) {
                fake_put(dir, "policy.yaml", "host:\n  cpus: 2\nvms:\n  web: { cpu: { share: 2, limit: 50% } }\n");
                cr_assert_eq(raise(SIGHUP), 0, "blocked by the manager: handled by its loop");
        }
}

static uint64_t now_usec(void) {
        struct timespec ts;

        cr_assert_eq(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
        return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t run(void (*hook)(uint64_t, void *)) {
        ManagerOptions o = {.max_ticks = TICKS, .after_tick = hook};
        Manager *m;
        uint64_t start;

        cr_assert_eq(manager_new(&config, &o, &m), 0);
        start = now_usec();
        cr_assert_eq(manager_start(m), 0);
        cr_assert_eq(manager_run(m), 0);
        manager_free(m);
        drain();
        return now_usec() - start;
}

Test(manager_notify, ready_status_watchdog_reload_stopping) {
        char pid[32];

        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        cr_assert_eq(setenv("WATCHDOG_USEC", "20000", 1), 0);
        cr_assert_eq(setenv("WATCHDOG_PID", pid, 1), 0);
        uint64_t elapsed_usec = run(reload_hook);

        cr_assert_gt(n_messages, 0, "nothing on NOTIFY_SOCKET");
        size_t ready = find(0, "READY=1");
        cr_assert_lt(ready, n_messages, "no READY=1");
        cr_assert(has(ready, "STATUS="), "READY=1 without a STATUS=: \"%s\"", messages[ready]);
        const char *status = strstr(messages[ready], "STATUS=") + strlen("STATUS=");
        cr_assert(*status != '\0' && *status != '\n', "an empty STATUS=");
        cr_assert(strstr(status, "web") || strstr(status, "1 VM"), "STATUS= does not speak of the VMs: \"%s\"",
                  status);

        /* A ping every 10 ms of the run: at most one per 10 ms that passed, and
         * most of them (a 1 ms tick can make a ping up to one tick late). */
        size_t pings = count("WATCHDOG=1");
        uint64_t most = elapsed_usec / (WATCHDOG_USEC / 2) + 1;
        cr_assert_leq(pings, most, "%zu pings in %llu us", pings, (unsigned long long)elapsed_usec);
        cr_assert_geq(pings, TICKS * 1000 / (WATCHDOG_USEC / 2) / 2, "%zu pings in %llu us", pings,
                      (unsigned long long)elapsed_usec);

        size_t reloading = find(ready + 1, "RELOADING=1");
        cr_assert_lt(reloading, n_messages, "no RELOADING=1 for the SIGHUP");
        cr_assert_lt(find(reloading + 1, "READY=1"), n_messages, "no READY=1 after the reload");
        cr_assert(has(n_messages - 1, "STOPPING=1"), "the last message is not STOPPING=1: \"%s\"",
                  messages[n_messages - 1]);
        cr_assert_lt(ready, reloading);
}

Test(manager_notify, no_watchdog_without_watchdog_usec) {
        cr_assert_eq(unsetenv("WATCHDOG_USEC"), 0);
        cr_assert_eq(unsetenv("WATCHDOG_PID"), 0);
        run(drain_hook);

        cr_assert_lt(find(0, "READY=1"), n_messages, "no READY=1");
        cr_assert_eq(count("WATCHDOG=1"), 0);
        cr_assert_eq(count("RELOADING=1"), 0);
        cr_assert(has(n_messages - 1, "STOPPING=1"));
}
