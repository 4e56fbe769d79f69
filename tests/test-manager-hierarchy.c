/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The daemon with VMs under different parent cgroups, on a fake cgroup
 * tree: the parents' cpu.weight follows the VMs' (manager-hierarchy.c),
 * goes back on exit, and is reconciled after a crash.
 */

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake-tree.h"
#include "schedd/config.h"
#include "schedd/log.h"
#include "schedd/manager.h"

static char dir[PATH_MAX];   /* policy, stats */
static char tree[PATH_MAX];  /* the cgroup root */
static char state[PATH_MAX]; /* the state directory */
static char stats[PATH_MAX * 2];
static Config config;

static const char policy_nested[] = "host:\n"
                                    "  cpus: 2\n"
                                    "vms:\n"
                                    "  web: { cgroup: machine.slice/web.scope, cpu: { share: 3 } }\n"
                                    "  db: { cgroup: machine.slice/db.scope, cpu: { share: 1 } }\n"
                                    "  late: { cgroup: other.slice/deep/late.scope, cpu: { share: 2 } }\n";

/* db and late leave; web stays. */
static const char policy_web_only[] = "host:\n"
                                      "  cpus: 2\n"
                                      "vms:\n"
                                      "  web: { cgroup: machine.slice/web.scope, cpu: { share: 3 } }\n";

static void setup(void) {

        fake_dirs_make(dir, tree, state, "/tmp/test-manager-hierarchy");
        /* Parents look like any cgroup with the controllers on. */
        fake_vm(tree, "machine.slice");
        fake_vm(tree, "machine.slice/web.scope");
        fake_vm(tree, "machine.slice/db.scope");
        fake_vm(tree, "other.slice");
        fake_vm(tree, "other.slice/deep");
        fake_vm(tree, "other.slice/deep/late.scope");
        fake_put(dir, "policy.yaml", policy_nested);
        snprintf(stats, sizeof(stats), "%s/stats", dir);

        fake_config(&config, dir, tree, state);
        log_set_max_level(LOG_WARNING);
}

static void teardown(void) {
        config_done(&config);
        fake_dirs_remove(dir, tree, state);
}

TestSuite(manager_hierarchy, .init = setup, .fini = teardown);

static unsigned weight_of(const char *cgroup) {
        char p[PATH_MAX];
        const char *text;

        snprintf(p, sizeof(p), "%s/cpu.weight", cgroup);
        text = fake_get(tree, p);
        cr_assert_not_null(text, "%s", p);
        return (unsigned)strtoul(text, NULL, 10);
}

/* What the files held after the hook's ticks. */
static struct {
        uint64_t at_tick; /* the weights then */
        unsigned web, db, late, machine, other, deep;
        uint64_t reload_tick; /* policy reload_to is loaded after this tick (0: none) */
        const char *reload_to;
        uint64_t late_tick; /* other.slice's weight and the state file then */
        unsigned other_late;
        char state_text[1024];
        Manager *m;
} seen;

static void hook(uint64_t ticks, void *userdata) {
        (void)userdata;
        if (ticks == seen.at_tick) {
                seen.web = weight_of("machine.slice/web.scope");
                seen.db = weight_of("machine.slice/db.scope");
                seen.late = weight_of("other.slice/deep/late.scope");
                seen.machine = weight_of("machine.slice");
                seen.other = weight_of("other.slice");
                seen.deep = weight_of("other.slice/deep");
        }
        if (ticks == seen.reload_tick && seen.reload_to) {
                fake_put(dir, "policy.yaml", seen.reload_to);
                cr_assert_eq(manager_reload(seen.m), 0);
        }
        if (ticks == seen.late_tick) {
                const char *text = fake_get(state, "machine.slice.state"); /* fake_get()'s buffer: copy first */

                snprintf(seen.state_text, sizeof(seen.state_text), "%s", text ? text : "");
                seen.other_late = weight_of("other.slice");
        }
}

static Manager *start(uint64_t ticks) {
        ManagerOptions o = {.max_ticks = ticks, .stats_file = stats, .after_tick = hook};
        Manager *m;

        cr_assert_eq(manager_new(&config, &o, &m), 0);
        cr_assert_eq(manager_start(m), 0);
        seen.m = m;
        return m;
}

static void expect_parents_pristine(void) {
        cr_assert_eq(weight_of("machine.slice"), 100);
        cr_assert_eq(weight_of("other.slice"), 100);
        cr_assert_eq(weight_of("other.slice/deep"), 100);
}

Test(manager_hierarchy, parents_weigh_what_their_vms_weigh_and_get_it_back) {
        Manager *m;

        seen = (typeof(seen)){.at_tick = 3, .late_tick = 3};
        m = start(5);
        cr_assert_eq(manager_run(m), 0);
        manager_free(m);

        /* The VMs got weights of their own (3:1:2), and each parent the sum of those below it. */
        cr_assert_gt(seen.web, seen.late);
        cr_assert_gt(seen.late, seen.db);
        cr_assert_eq(seen.machine, seen.web + seen.db);
        cr_assert_eq(seen.other, seen.late);
        cr_assert_eq(seen.deep, seen.late);

        /* While it ran, the original was on disk, as a crash would leave it. */
        cr_assert(strstr(seen.state_text, "cgroup machine.slice\n"), "%s", seen.state_text);
        cr_assert(strstr(seen.state_text, "cpu.weight 100\n"), "%s", seen.state_text);

        /* SIGTERM's path: every file back, no state left. */
        expect_parents_pristine();
        cr_assert_eq(weight_of("machine.slice/web.scope"), 100);
        cr_assert_eq(fake_count_files(state), 0);
}

Test(manager_hierarchy, original_parent_weights_are_kept) {
        Manager *m;

        /* An admin's weight on a parent is what comes back, not the kernel's default. */
        fake_put(tree, "machine.slice/cpu.weight", "250\n");
        seen = (typeof(seen)){.at_tick = 2};
        m = start(3);
        cr_assert_eq(manager_run(m), 0);
        manager_free(m);
        cr_assert_eq(seen.machine, seen.web + seen.db);
        cr_assert_eq(weight_of("machine.slice"), 250);
}

Test(manager_hierarchy, a_reload_that_drops_vms_gives_their_parents_back) {
        Manager *m;

        seen = (typeof(seen)){.at_tick = 2, .reload_tick = 2, .reload_to = policy_web_only, .late_tick = 4};
        m = start(5);
        cr_assert_eq(manager_run(m), 0);
        manager_free(m);
        cr_assert_eq(seen.other, seen.late, "managed before the reload");
        cr_assert_neq(seen.other, 100);
        cr_assert_eq(seen.other_late, 100, "given back while running on");
        expect_parents_pristine();
        cr_assert_eq(fake_count_files(state), 0);
}

Test(manager_hierarchy, a_crashed_run_is_reconciled) {
        Manager *m;

        /* A previous run set machine.slice's weight and died. */
        fake_put(tree, "machine.slice/cpu.weight", "6667\n");
        fake_put(state, "machine.slice.state",
                 "# schedd: original values of the cgroup files it changed\n"
                 "cgroup machine.slice\n"
                 "cpu.weight 100\n");

        seen = (typeof(seen)){.at_tick = 2};
        m = start(2);
        cr_assert_eq(weight_of("machine.slice"), 100, "restored before starting over");
        cr_assert_eq(manager_run(m), 0);
        manager_free(m);
        /* ... so that the original this run recorded, and gave back, was the true one. */
        cr_assert_eq(seen.machine, seen.web + seen.db);
        expect_parents_pristine();
        cr_assert_eq(fake_count_files(state), 0);
}
