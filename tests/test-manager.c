/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The whole daemon (manager.c with config, cgroup, restore and the core)
 * on a fake cgroup tree, for a few 1 ms ticks of its event loop.
 */

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "fake-tree.h"
#include "schedd/config.h"
#include "schedd/log.h"
#include "schedd/manager.h"

static char dir[PATH_MAX];   /* policy, stats, block devices */
static char tree[PATH_MAX];  /* the cgroup root */
static char state[PATH_MAX]; /* the state directory */
static char stats[PATH_MAX * 2];
static char block[PATH_MAX * 2];
static Config config;

static const char policy_a[] = "host:\n"
                               "  cpus: 2\n"
                               "  devices:\n"
                               "    vda: { rbps: 100MB, wbps: 100MB }\n"
                               "vms:\n"
                               "  web:\n"
                               "    cpu: { reserve: 50%, limit: 75%, burst: 200ms }\n"
                               "    io:\n"
                               "      vda:\n"
                               "        rbps: { reserve: 10MB, limit: 50MB }\n"
                               "    memory: { reserve: 256MiB, limit: 1GiB }\n"
                               "  db:\n"
                               "    cpu: { share: 2 }\n";

/* web gets a lower limit, loses its I/O and memory settings; db leaves. */
static const char policy_b[] = "host:\n"
                               "  cpus: 2\n"
                               "vms:\n"
                               "  web:\n"
                               "    cpu: { reserve: 25%, limit: 50%, burst: 100ms }\n";

static void write_policy(const char *text) {
        fake_put(dir, "policy.yaml", text);
}

static void setup(void) {

        fake_dirs_make(dir, tree, state, "/tmp/test-manager");
        fake_vm(tree, "web");
        fake_vm(tree, "db");
        fake_mkdir(dir, "block");
        fake_mkdir(dir, "block/vda");
        fake_put(dir, "block/vda/dev", "254:0\n");
        write_policy(policy_a);
        snprintf(stats, sizeof(stats), "%s/stats", dir);
        snprintf(block, sizeof(block), "%s/block", dir);

        fake_config(&config, dir, tree, state);
        log_set_max_level(LOG_WARNING);
}

static void teardown(void) {
        config_done(&config);
        fake_dirs_remove(dir, tree, state);
}

TestSuite(manager, .init = setup, .fini = teardown);

static Manager *start(uint64_t ticks) {
        ManagerOptions o = {.max_ticks = ticks, .stats_file = stats, .sys_class_block = block};
        Manager *m;

        cr_assert_eq(manager_new(&config, &o, &m), 0);
        cr_assert_eq(manager_start(m), 0);
        return m;
}

/* The stats line that starts with `prefix`, or NULL. */
static const char *stats_line(const char *prefix) {
        static char line[4096];
        const char *text = fake_get(dir, "stats");

        cr_assert_not_null(text, "no stats file");
        for (const char *p = text; *p;) {
                size_t len = strcspn(p, "\n");

                if (strncmp(p, prefix, strlen(prefix)) == 0 && len < sizeof(line)) {
                        memcpy(line, p, len);
                        line[len] = '\0';
                        return line;
                }
                p += len + (p[len] == '\n');
        }
        return NULL;
}

static void expect_in(const char *line, const char *word) {
        cr_assert_not_null(line);
        cr_assert(strstr(line, word), "'%s' not in: %s", word, line);
}

static void expect_pristine(const char *vm) {
        char p[PATH_MAX];

        snprintf(p, sizeof(p), "%s/cpu.max", vm);
        cr_assert_str_eq(fake_get(tree, p), "max 100000\n", "%s", p);
        snprintf(p, sizeof(p), "%s/cpu.weight", vm);
        cr_assert_str_eq(fake_get(tree, p), "100\n", "%s", p);
        snprintf(p, sizeof(p), "%s/memory.min", vm);
        cr_assert_str_eq(fake_get(tree, p), "0\n", "%s", p);
        snprintf(p, sizeof(p), "%s/memory.max", vm);
        cr_assert_str_eq(fake_get(tree, p), "max\n", "%s", p);
}

Test(manager, ticks_enforce_and_restore) {
        Manager *m = start(5);

        /* The root passes the controllers the policy needs on. */
        cr_assert_str_eq(fake_get(tree, "cgroup.subtree_control"), "+cpu +io +memory\n");

        cr_assert_eq(manager_run(m), 0);
        manager_free(m);

        expect_in(stats_line("ticks="), "ticks=5 ");
        expect_in(stats_line("ticks="), "cpu_capacity=2000000");
        cr_assert_not_null(stats_line("host cpu_used_usec="));

        /* web: limit 75% of 2 CPUs = 1.5 CPUs = 150 ms per 100 ms period. */
        const char *web = stats_line("vm web ");
        expect_in(web, "state=managed");
        expect_in(web, "ceiling=1500000");
        expect_in(web, "quota_usec=150000");
        expect_in(web, "bucket=200000");
        /* cpu.weight, cpu.max, io.max, memory.min, memory.max were changed. */
        expect_in(web, "restore_entries=5");
        expect_in(stats_line("io web vda rbps "), "rate=");

        /* db: no limit, so cpu.max stays "max"; only cpu.weight and cpu.max recorded. */
        const char *db = stats_line("vm db ");
        expect_in(db, "state=managed");
        expect_in(db, "quota_usec=0 ");
        expect_in(db, "restore_entries=2");

        /* Everything back as it was, and no state left. */
        expect_pristine("web");
        expect_pristine("db");
        cr_assert_str_eq(fake_get(tree, "web/io.max"), "254:0 rbps=max wbps=max riops=max wiops=max\n");
        cr_assert_eq(fake_count_files(state), 0);
}

/* What the hook saw while schedd ran. */
static struct {
        uint64_t usage_usec, nr_throttled;
        char cpu_max[64], cpu_weight[64], memory_min[64], memory_max[64], io_max[256];
} seen;

static void copy_file(char *buf, size_t size, const char *rel) {
        const char *text = fake_get(tree, rel);

        snprintf(buf, size, "%s", text ? text : "(missing)");
}

/* web runs 2 ms per tick and is throttled in each; the files are looked at
 * after the third tick, before schedd restores them on exit. */
static void hook(uint64_t ticks, void *userdata) {
        char text[128];

        (void)userdata;
        seen.usage_usec += 2000;
        seen.nr_throttled++;
        snprintf(text, sizeof(text), "usage_usec %llu\nnr_throttled %llu\n", (unsigned long long)seen.usage_usec,
                 (unsigned long long)seen.nr_throttled);
        fake_put(tree, "web/cpu.stat", text);
        fake_put(tree, "web/io.stat", "254:0 rbytes=0 wbytes=0 rios=0 wios=0\n8:0 rbytes=1 wbytes=1 rios=1 wios=1\n");

        if (ticks == 3) {
                copy_file(seen.cpu_max, sizeof(seen.cpu_max), "web/cpu.max");
                copy_file(seen.cpu_weight, sizeof(seen.cpu_weight), "web/cpu.weight");
                copy_file(seen.memory_min, sizeof(seen.memory_min), "web/memory.min");
                copy_file(seen.memory_max, sizeof(seen.memory_max), "web/memory.max");
                copy_file(seen.io_max, sizeof(seen.io_max), "web/io.max");
        }
}

Test(manager, writes_what_the_core_decides_and_reads_usage) {
        ManagerOptions o = {.max_ticks = 3, .stats_file = stats, .sys_class_block = block, .after_tick = hook};
        Manager *m;
        char want[64];

        cr_assert_eq(manager_new(&config, &o, &m), 0);
        cr_assert_eq(manager_start(m), 0);
        cr_assert_eq(manager_run(m), 0);
        manager_free(m);

        /* While it ran: the limit, the decision's weight, the memory settings, io.max. */
        cr_assert_str_eq(seen.cpu_max, "150000 100000\n");
        cr_assert_str_eq(seen.memory_min, "268435456\n");
        cr_assert_str_eq(seen.memory_max, "1073741824\n");
        cr_assert(strncmp(seen.io_max, "254:0 rbps=", 11) == 0, "%s", seen.io_max);
        cr_assert(strstr(seen.io_max, " riops=max wiops=max\n"), "%s", seen.io_max);
        const char *web = stats_line("vm web ");
        const char *w = strstr(web, " weight=");
        cr_assert_not_null(w);
        snprintf(want, sizeof(want), "%.*s\n", (int)strcspn(w + 8, " "), w + 8);
        cr_assert_str_eq(seen.cpu_weight, want);

        /* The usage the hook fed after tick 2 was read in tick 3. */
        expect_in(web, "cpu_used_usec=2000 ");
        expect_in(web, "throttled=1 ");

        /* And restored on exit. */
        expect_pristine("web");
}

Test(manager, reconciles_a_crashed_run) {
        Manager *m;

        /* A previous run changed cpu.max and died. */
        fake_put(tree, "web/cpu.max", "20000 100000\n");
        fake_put(state, "web.state",
                 "# schedd: original values of the cgroup files it changed\n"
                 "cgroup web\n"
                 "cpu.max max 100000\n");
        /* And one whose cgroup is gone since. */
        fake_put(state, "old.state", "cgroup old\ncpu.weight 100\n");

        m = start(2);
        cr_assert_str_eq(fake_get(tree, "web/cpu.max"), "max 100000\n", "restored before starting over");
        cr_assert_null(fake_get(state, "old.state"));
        cr_assert_eq(manager_run(m), 0);
        manager_free(m);

        /* The original recorded by this run was the pre-schedd one. */
        expect_pristine("web");
        cr_assert_eq(fake_count_files(state), 0);
}

Test(manager, reload_applies_a_good_policy) {
        Manager *m = start(4);

        write_policy(policy_b);
        cr_assert_eq(manager_reload(m), 0);
        cr_assert_eq(manager_run(m), 0);
        manager_free(m);

        const char *web = stats_line("vm web ");
        expect_in(web, "ceiling=1000000");
        expect_in(web, "quota_usec=100000");
        expect_in(web, "bucket=100000");
        /* No I/O nor memory any more: only cpu.weight and cpu.max recorded. */
        expect_in(web, "restore_entries=2");
        cr_assert_null(stats_line("vm db "), "db left the policy");
        cr_assert_null(stats_line("io web "));

        expect_pristine("web");
        expect_pristine("db");
        cr_assert_eq(fake_count_files(state), 0);
}

/* Reloads policy B after the third tick, looks at the files after the fifth. */
static struct {
        Manager *m;
        int reload;
        char web_io_max[256], web_memory_min[64], web_cpu_max[64], db_cpu_weight[64], db_cpu_max[64];
} midrun;

static void reload_hook(uint64_t ticks, void *userdata) {
        (void)userdata;
        if (ticks == 3) {
                cr_assert_str_eq(fake_get(tree, "web/cpu.max"), "150000 100000\n", "policy A enforced");
                cr_assert_str_eq(fake_get(tree, "web/memory.min"), "268435456\n");
                cr_assert_neq(strncmp(fake_get(tree, "web/io.max"), "254:0 rbps=max", 14), 0, "io.max limited");
                write_policy(policy_b);
                midrun.reload = manager_reload(midrun.m);
        }
        if (ticks == 5) {
                copy_file(midrun.web_io_max, sizeof(midrun.web_io_max), "web/io.max");
                copy_file(midrun.web_memory_min, sizeof(midrun.web_memory_min), "web/memory.min");
                copy_file(midrun.web_cpu_max, sizeof(midrun.web_cpu_max), "web/cpu.max");
                copy_file(midrun.db_cpu_weight, sizeof(midrun.db_cpu_weight), "db/cpu.weight");
                copy_file(midrun.db_cpu_max, sizeof(midrun.db_cpu_max), "db/cpu.max");
        }
}

Test(manager, reload_while_running_restores_what_the_policy_drops) {
        ManagerOptions o = {.max_ticks = 5, .stats_file = stats, .sys_class_block = block, .after_tick = reload_hook};

        cr_assert_eq(manager_new(&config, &o, &midrun.m), 0);
        cr_assert_eq(manager_start(midrun.m), 0);
        cr_assert_eq(manager_run(midrun.m), 0);
        manager_free(midrun.m);

        cr_assert_eq(midrun.reload, 0);
        /* web: the new limit (50% of 2 CPUs); no I/O or memory policy: originals back. */
        cr_assert_str_eq(midrun.web_cpu_max, "100000 100000\n");
        cr_assert_str_eq(midrun.web_io_max, "254:0 rbps=max wbps=max riops=max wiops=max\n");
        cr_assert_str_eq(midrun.web_memory_min, "0\n");
        /* db left the policy: its files are back while schedd runs on. */
        cr_assert_str_eq(midrun.db_cpu_weight, "100\n");
        cr_assert_str_eq(midrun.db_cpu_max, "max 100000\n");
        expect_in(stats_line("vm web "), "restore_entries=2");
        expect_pristine("web");
}

static char moved_cpu_max[64];
static Manager *moving;

static void move_hook(uint64_t ticks, void *userdata) {
        (void)userdata;
        if (ticks == 2) {
                cr_assert_str_eq(fake_get(tree, "web/cpu.max"), "150000 100000\n");
                write_policy("host: { cpus: 2 }\n"
                             "vms:\n"
                             "  web: { cgroup: web2, cpu: { limit: 25% } }\n");
                cr_assert_eq(manager_reload(moving), 0);
        }
        if (ticks == 4)
                copy_file(moved_cpu_max, sizeof(moved_cpu_max), "web2/cpu.max");
}

Test(manager, reload_moves_a_vm_to_another_cgroup) {
        ManagerOptions o = {.max_ticks = 4, .stats_file = stats, .sys_class_block = block, .after_tick = move_hook};

        fake_vm(tree, "web2");
        cr_assert_eq(manager_new(&config, &o, &moving), 0);
        cr_assert_eq(manager_start(moving), 0);
        cr_assert_eq(manager_run(moving), 0);
        manager_free(moving);

        /* The old cgroup got its files back at the reload, the new one the new limit. */
        cr_assert_str_eq(moved_cpu_max, "50000 100000\n");
        expect_in(stats_line("vm web "), "cgroup=web2 state=managed");
        expect_pristine("web");
        expect_pristine("web2");
        expect_pristine("db");
}

Test(manager, reload_via_sighup) {
        Manager *m = start(20);

        write_policy(policy_b);
        cr_assert_eq(raise(SIGHUP), 0, "blocked by the manager: handled by its loop");
        cr_assert_eq(manager_run(m), 0);
        manager_free(m);

        expect_in(stats_line("vm web "), "ceiling=1000000");
        cr_assert_null(stats_line("vm db "));
}

Test(manager, reload_keeps_the_running_policy_when_the_new_one_is_bad) {
        Manager *m = start(3);

        write_policy("vms: { web: { cpu: { reserve: 150% } } }\n");
        cr_assert_lt(manager_reload(m), 0);
        write_policy("vms: [ not, a, mapping ]\n");
        cr_assert_lt(manager_reload(m), 0);
        cr_assert_eq(manager_run(m), 0);
        manager_free(m);

        expect_in(stats_line("vm web "), "ceiling=1500000");
        expect_in(stats_line("vm db "), "state=managed");
}

Test(manager, sigterm_ends_the_run_and_restores) {
        Manager *m = start(0); /* no tick limit: only the signal ends it */

        cr_assert_eq(raise(SIGTERM), 0);
        cr_assert_eq(manager_run(m), 0);
        manager_free(m);
        expect_pristine("web");
        cr_assert_eq(fake_count_files(state), 0);
}

Test(manager, missing_vm_waits_and_create_makes_it) {
        Manager *m;

        write_policy("host: { cpus: 2 }\n"
                     "vms:\n"
                     "  web: {}\n"
                     "  later: { cgroup: machine.slice/later }\n"
                     "  made: { cgroup: machine.slice/made, create: true }\n");
        m = start(2);
        cr_assert_eq(manager_run(m), 0);
        manager_free(m);

        expect_in(stats_line("vm web "), "state=managed");
        expect_in(stats_line("vm later "), "state=waiting");
        /* Made, but a fake tree has no kernel to fill it with files: it waits too. */
        expect_in(stats_line("vm made "), "state=waiting");
        char path[PATH_MAX * 2];
        struct stat st;
        snprintf(path, sizeof(path), "%s/machine.slice/made", tree);
        cr_assert_eq(stat(path, &st), 0, "machine.slice/made was made: %m");
        cr_assert(S_ISDIR(st.st_mode));
        snprintf(path, sizeof(path), "%s/machine.slice/later", tree);
        cr_assert_neq(stat(path, &st), 0, "only where create: true");
}

Test(manager, unknown_device_is_not_enforced) {
        Manager *m;

        write_policy("host:\n"
                     "  cpus: 2\n"
                     "  devices: { vdz: { wbps: 10MB } }\n"
                     "vms:\n"
                     "  web: { io: { vdz: { wbps: { limit: 5MB } } } }\n");
        m = start(2);
        cr_assert_eq(manager_run(m), 0);
        manager_free(m);

        expect_in(stats_line("vm web "), "state=managed");
        cr_assert_null(stats_line("io web "));
        cr_assert_str_eq(fake_get(tree, "web/io.max"), "", "never touched");
}

Test(manager, missing_controller_stops_the_start) {
        ManagerOptions o = {.max_ticks = 1, .stats_file = stats, .sys_class_block = block};
        Manager *m;

        fake_put(tree, "cgroup.controllers", "cpu pids\n"); /* no io, no memory */
        cr_assert_eq(manager_new(&config, &o, &m), 0);
        cr_assert_eq(manager_start(m), -EOPNOTSUPP);
        manager_free(m);
        cr_assert_str_eq(fake_get(tree, "cgroup.subtree_control"), "");
}

Test(manager, bad_policy_stops_the_start) {
        ManagerOptions o = {.max_ticks = 1};
        Manager *m;

        write_policy("vms: { web: { cpu: { share: 20000 } } }\n");
        cr_assert_eq(manager_new(&config, &o, &m), 0);
        cr_assert_lt(manager_start(m), 0);
        manager_free(m);
        expect_pristine("web");
}
