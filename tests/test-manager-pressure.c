/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The daemon reading cpu.pressure on a fake cgroup tree: a VM whose
 * threads waited for a CPU wants more, whatever its use shows; a cgroup
 * without the file (PSI off) is judged by its use alone.
 */

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fake-tree.h"
#include "schedd/config.h"
#include "schedd/log.h"
#include "schedd/manager.h"

static char dir[PATH_MAX];
static char tree[PATH_MAX];
static char state[PATH_MAX];
static char stats[PATH_MAX * 2];
static Config config;

static const char policy[] = "host:\n"
                             "  cpus: 2\n"
                             "vms:\n"
                             "  waits: { cpu: { share: 1 } }\n"
                             "  calm: { cpu: { share: 1 } }\n"
                             "  nopsi: { cpu: { share: 1 } }\n";

static void setup(void) {

        fake_dirs_make(dir, tree, state, "/tmp/test-manager-pressure");
        fake_vm(tree, "waits");
        fake_vm(tree, "calm");
        fake_vm(tree, "nopsi");
        fake_put(tree, "waits/cpu.pressure",
                 "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
                 "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
        fake_put(tree, "calm/cpu.pressure",
                 "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
                 "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
        fake_put(dir, "policy.yaml", policy);
        snprintf(stats, sizeof(stats), "%s/stats", dir);
        fake_config(&config, dir, tree, state);
        log_set_max_level(LOG_WARNING);
}

static void teardown(void) {
        config_done(&config);
        fake_dirs_remove(dir, tree, state);
}

TestSuite(manager_pressure, .init = setup, .fini = teardown);

static char lines[3][1024]; /* the stats lines of the three VMs after the last hooked tick */

static void copy_line(const char *vm, char *buf, size_t size) {
        char prefix[64];
        const char *text = fake_get(dir, "stats"), *p;

        cr_assert_not_null(text);
        snprintf(prefix, sizeof(prefix), "vm %s ", vm);
        p = strstr(text, prefix);
        cr_assert_not_null(p, "no line for %s", vm);
        snprintf(buf, size, "%.*s", (int)strcspn(p, "\n"), p);
}

/* Every tick: every VM uses the same little CPU; "waits" also waited a whole second for a CPU. */
static void hook(uint64_t ticks, void *userdata) {
        char text[256];

        (void)userdata;
        snprintf(text, sizeof(text), "usage_usec %" PRIu64 "\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n",
                 1000 + ticks * 10);
        fake_put(tree, "waits/cpu.stat", text);
        fake_put(tree, "calm/cpu.stat", text);
        fake_put(tree, "nopsi/cpu.stat", text);
        snprintf(text, sizeof(text), "some avg10=90.00 avg60=0.00 avg300=0.00 total=%" PRIu64 "\n",
                 (ticks + 1) * 1000000);
        fake_put(tree, "waits/cpu.pressure", text);
        copy_line("waits", lines[0], sizeof(lines[0]));
        copy_line("calm", lines[1], sizeof(lines[1]));
        copy_line("nopsi", lines[2], sizeof(lines[2]));
}

Test(manager_pressure, waiting_means_wanting_more) {
        ManagerOptions o = {.max_ticks = 6, .stats_file = stats, .after_tick = hook};
        Manager *m;

        cr_assert_eq(manager_new(&config, &o, &m), 0);
        cr_assert_eq(manager_start(m), 0);
        cr_assert_eq(manager_run(m), 0);
        manager_free(m);

        /* The same little use each; only the one that waited wants more. */
        cr_assert(strstr(lines[0], " throttled=1 "), "%s", lines[0]);
        cr_assert(strstr(lines[0], " wants_more=1 "), "%s", lines[0]);
        cr_assert(strstr(lines[1], " throttled=0 "), "%s", lines[1]);
        cr_assert(strstr(lines[1], " wants_more=0 "), "%s", lines[1]);
        cr_assert(strstr(lines[2], " throttled=0 "), "%s", lines[2]);
        cr_assert(strstr(lines[2], " wants_more=0 "), "%s", lines[2]);
}

/* "calm" sleeps for its first 300 ticks (1 ms each): after 100 it is an idle VM,
 * read once every 100 ticks.  From tick 150 its cpu.pressure moves although it
 * uses nothing (no kernel would show that; here it tells whether the file was
 * read).  From tick 300 it runs and the pressure stands still.  An idle VM's
 * pressure is not read, and the first read after it wakes is a new baseline,
 * not a delta over its whole sleep: it never counts as held back. */
#define SLEEP_TICKS        300
#define PRESSURE_FROM_TICK 150
static unsigned calm_throttled_ticks;
static unsigned calm_read_after_waking;

static void sleeper_hook(uint64_t ticks, void *userdata) {
        char text[256], line[1024];

        (void)userdata;
        snprintf(text, sizeof(text), "usage_usec %" PRIu64 "\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n",
                 ticks < SLEEP_TICKS ? 5000 : 5000 + (ticks - SLEEP_TICKS + 1) * 10);
        fake_put(tree, "calm/cpu.stat", text);
        snprintf(text, sizeof(text), "some avg10=90.00 avg60=0.00 avg300=0.00 total=%" PRIu64 "\n",
                 ticks < PRESSURE_FROM_TICK
                         ? 0
                         : ((ticks < SLEEP_TICKS ? ticks : SLEEP_TICKS) - PRESSURE_FROM_TICK + 1) * 1000000);
        fake_put(tree, "calm/cpu.pressure", text);
        copy_line("calm", line, sizeof(line));
        if (strstr(line, " throttled=1 "))
                calm_throttled_ticks++;
        if (ticks > SLEEP_TICKS && !strstr(line, " cpu_used_usec=0 "))
                calm_read_after_waking++;
}

Test(manager_pressure, an_idle_vm_is_not_held_back_by_stale_pressure) {
        ManagerOptions o = {.max_ticks = SLEEP_TICKS + 150, .stats_file = stats, .after_tick = sleeper_hook};
        Manager *m;

        cr_assert_eq(manager_new(&config, &o, &m), 0);
        cr_assert_eq(manager_start(m), 0);
        cr_assert_eq(manager_run(m), 0);
        manager_free(m);

        cr_assert_gt(calm_read_after_waking, 0, "the VM's waking was never read");
        cr_assert_eq(calm_throttled_ticks, 0, "an idle VM counted as held back in %u ticks", calm_throttled_ticks);
}
