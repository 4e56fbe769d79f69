/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The daemon on a fake cgroup tree against another writer (manager-reassert.c):
 * a VM's cpu.weight and cpu.max and its parent's cpu.weight changed under it
 * come back within a read-back, and are counted; with [schedd] reassert = no
 * they stay changed.  The host context (a child of the root with no VM) gets
 * the core's weight for [schedd] host_reserve while schedd runs, and its own back after.
 */

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake-tree.h"
#include "schedd/config.h"
#include "schedd/log.h"
#include "schedd/manager-reassert.h"
#include "schedd/manager.h"

static char dir[PATH_MAX];
static char tree[PATH_MAX];
static char state[PATH_MAX];
static Config config;

static const char policy[] = "host:\n"
                             "  cpus: 2\n"
                             "vms:\n"
                             "  web: { cgroup: machine.slice/web.scope, cpu: { share: 3, limit: 50% } }\n"
                             "  db: { cgroup: machine.slice/db.scope, cpu: { share: 1 } }\n";

/* The tick is 1 ms and a read-back comes every 500 ms: this many ticks hold two. */
#define TICKS      1300
#define SPOIL_TICK 100

static void setup(void) {
        fake_dirs_make(dir, tree, state, "/tmp/test-reassert");
        fake_vm(tree, "machine.slice");
        fake_vm(tree, "machine.slice/web.scope");
        fake_vm(tree, "machine.slice/db.scope");
        fake_vm(tree, "system.slice");
        fake_put(dir, "policy.yaml", policy);
        fake_config(&config, dir, tree, state);
        log_set_max_level(LOG_ERR);
}

static void teardown(void) {
        config_done(&config);
        fake_dirs_remove(dir, tree, state);
}

TestSuite(reassert, .init = setup, .fini = teardown);

static struct {
        char web_weight[32], web_max[64], machine[32], system[32]; /* schedd's, before the spoiling */
        char web_weight_end[32], web_max_end[64], machine_end[32];
        uint64_t count;
        Manager *m;
} seen;

static void get(const char *file, char *buf, size_t size) {
        const char *text = fake_get(tree, file);

        cr_assert_not_null(text, "%s", file);
        snprintf(buf, size, "%s", text);
}

static void hook(uint64_t ticks, void *userdata) {
        (void)userdata;
        if (ticks == SPOIL_TICK) {
                get("machine.slice/web.scope/cpu.weight", seen.web_weight, sizeof(seen.web_weight));
                get("machine.slice/web.scope/cpu.max", seen.web_max, sizeof(seen.web_max));
                get("machine.slice/cpu.weight", seen.machine, sizeof(seen.machine));
                get("system.slice/cpu.weight", seen.system, sizeof(seen.system));
                /* What systemd writes when it re-applies the units. */
                fake_put(tree, "machine.slice/web.scope/cpu.weight", "100\n");
                fake_put(tree, "machine.slice/web.scope/cpu.max", "max 100000\n");
                fake_put(tree, "machine.slice/cpu.weight", "100\n");
        }
        if (ticks == TICKS - 1) {
                get("machine.slice/web.scope/cpu.weight", seen.web_weight_end, sizeof(seen.web_weight_end));
                get("machine.slice/web.scope/cpu.max", seen.web_max_end, sizeof(seen.web_max_end));
                get("machine.slice/cpu.weight", seen.machine_end, sizeof(seen.machine_end));
                seen.count = manager_reassert_count(seen.m);
        }
}

static void run(void) {
        ManagerOptions o = {.max_ticks = TICKS, .after_tick = hook};
        Manager *m;

        seen = (typeof(seen)){0};
        cr_assert_eq(manager_new(&config, &o, &m), 0);
        cr_assert_eq(manager_start(m), 0);
        seen.m = m;
        cr_assert_eq(manager_run(m), 0);
        manager_free(m);
}

Test(reassert, knobs_changed_by_another_writer_come_back_and_are_counted) {
        run();
        cr_assert_str_neq(seen.web_weight, "100\n");
        cr_assert_str_eq(seen.web_max, "100000 100000\n", "50%% of 2 CPUs");
        cr_assert_str_neq(seen.machine, "100\n");
        cr_assert_str_eq(seen.web_weight_end, seen.web_weight);
        cr_assert_str_eq(seen.web_max_end, seen.web_max);
        cr_assert_str_eq(seen.machine_end, seen.machine);
        cr_assert_eq(seen.count, 3, "web's two knobs and machine.slice's weight: %lu", (unsigned long)seen.count);
        /* Everything back as it was found after the exit. */
        cr_assert_str_eq(fake_get(tree, "machine.slice/web.scope/cpu.max"), "max 100000\n");
        cr_assert_str_eq(fake_get(tree, "machine.slice/cpu.weight"), "100\n");
}

Test(reassert, switched_off_the_changes_stay) {
        config.reassert = false;
        run();
        cr_assert_str_eq(seen.web_weight_end, "100\n");
        cr_assert_str_eq(seen.web_max_end, "max 100000\n");
        cr_assert_eq(seen.count, 0);
}

Test(reassert, the_host_context_keeps_its_reserve_and_gets_its_weight_back) {
        run();
        /* A slot of the core with 10 % reserved and share 0: 10 % of the core's scale of 10000. */
        cr_assert_str_eq(seen.system, "1000\n");
        cr_assert_str_eq(fake_get(tree, "system.slice/cpu.weight"), "100\n");
        cr_assert_eq(fake_count_files(state), 0);
}

Test(reassert, host_reserve_zero_leaves_the_host_alone) {
        config.host_reserve_ppm = 0;
        run();
        cr_assert_str_eq(seen.system, "100\n");
}
