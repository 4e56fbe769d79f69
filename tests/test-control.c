/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The changes the bus asks for (manager-control.c), on a manager started
 * over a fake cgroup tree, without a bus: set (persistent and runtime),
 * reset, reload, move, validate, and that a refused change changes nothing.
 */

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fake-tree.h"
#include "policy/keys.h"
#include "policy/write.h"
#include "schedd/config.h"
#include "schedd/log.h"
#include "schedd/manager-control.h"
#include "schedd/override.h"

static char dir[PATH_MAX];   /* policy, override directory */
static char tree[PATH_MAX];  /* the cgroup root */
static char state[PATH_MAX]; /* the state directory */
static char override[PATH_MAX * 2];
static Config config;
static Manager *m;

static const char policy[] = "host:\n"
                             "  cpus: 2\n"
                             "  memory: 8GiB\n"
                             "vms:\n"
                             "  web:\n"
                             "    cpu: { reserve: 10%, limit: 50% }\n"
                             "  db:\n"
                             "    cpu: { share: 2 }\n"
                             "  ghost:\n"
                             "    cgroup: not/there\n";

static void start(bool with_override_dir) {
        char text[PATH_MAX * 6];
        ConfigError err;

        snprintf(text, sizeof(text),
                 "[schedd]\n"
                 "policy = %s/policy.yaml\n"
                 "override_dir = %s%s\n"
                 "cgroup_root = %s\n"
                 "fake_cgroup_root = yes\n"
                 "tick = 1ms\n"
                 "state_dir = %s\n"
                 "[metrics]\n"
                 "listen =\n",
                 dir, with_override_dir ? dir : "", with_override_dir ? "/policy.d" : "", tree, state);
        cr_assert_eq(config_parse_string(text, "test.conf", &config, &err), 0, "%s", err.message);
        cr_assert_eq(manager_new(&config, &(ManagerOptions){}, &m), 0);
        cr_assert_eq(manager_start(m), 0);
}

static void setup(void) {
        fake_dirs_make(dir, tree, state, "/tmp/test-control");
        fake_vm(tree, "web");
        fake_vm(tree, "db");
        fake_put(dir, "policy.yaml", policy);
        snprintf(override, sizeof(override), "%s/policy.d/%s", dir, OVERRIDE_FILE_NAME);
        log_set_max_level(LOG_CRIT); /* refusals and the fake tree are expected */
        m = NULL;
}

static void teardown(void) {
        manager_free(m);
        config_done(&config);
        fake_dirs_remove(dir, tree, state);
}

TestSuite(control, .init = setup, .fini = teardown);

/* The running policy's value of a key ("" if unset). */
static const char *running(const char *vm, const char *key) {
        static char buf[64];
        PolicyError err;
        PolicyKey k;

        cr_assert_eq(policy_key_parse(vm, key, &k, &err), 0, "%s", err.message);
        if (policy_get_key(&m->policy, vm, &k, buf, sizeof(buf)) < 0)
                buf[0] = '\0';
        return buf;
}

static int set1(const char *vm, const char *key, const char *value, bool runtime, ManagerError *err) {
        char *keys[] = {(char *)key}, *values[] = {(char *)value};

        return manager_set_policy(m, vm, keys, values, 1, runtime, err);
}

/* The override file's text, or "" if there is none. */
static const char *override_text(void) {
        const char *t = fake_get(dir, "policy.d/" OVERRIDE_FILE_NAME);

        return t ? t : "";
}

/* Everything a refused change must leave alone, as text. */
static char *snapshot(void) {
        char *policy_text = NULL, *runtime_text = NULL, *s = NULL;

        cr_assert_eq(policy_write_string(&m->policy, &policy_text), 0);
        cr_assert_eq(policy_write_string(&m->runtime, &runtime_text), 0);
        cr_assert_neq(asprintf(&s, "%s\n--\n%s\n--\n%s", policy_text, runtime_text, override_text()), -1);
        free(policy_text);
        free(runtime_text);
        return s;
}

Test(control, set_persistent) {
        ManagerError err;
        char *keys[] = {"limit", "cpu.burst"}, *values[] = {"40%", "100ms"};

        start(true);
        cr_assert_eq(manager_set_policy(m, "web", keys, values, 2, false, &err), 0, "%s", err.message);
        cr_assert_str_eq(running("web", "cpu.limit"), "40%");
        cr_assert_str_eq(running("web", "cpu.burst"), "100ms");
        cr_assert_str_eq(running("web", "cpu.reserve"), "10%", "the policy file's keys stay");
        cr_assert(strstr(override_text(), "  web:\n    cpu: { limit: 40%, burst: 100ms }\n"), "%s", override_text());
        cr_assert_eq(m->vms[0]->rv->cpu.limit, 800000, "the resolved table follows");
        cr_assert_str_eq(fake_get(dir, "policy.yaml"), policy, "the policy file is never rewritten");
}

Test(control, refusals_change_nothing) {
        static const struct {
                const char *vm, *key, *value;
                ManagerErrorKind kind;
                const char *message; /* a format: "%s" is where the value came from */
        } cases[] = {
                {"web", "limit", "150%", MANAGER_ERROR_INVALID_POLICY, "vms.web.cpu.limit: 150%% is over 100%%"},
                {"web", "cpu.reserv", "1", MANAGER_ERROR_INVALID_POLICY,
                 "vms.web.cpu.reserv: unknown key (expected cpu.reserve, share, limit or burst)"},
                {"web", "limit", "5%", MANAGER_ERROR_INVALID_POLICY,
                 "%s: vms.web.cpu.limit: 5%% is below the reservation 10%%"},
                {"db", "memory.reserve", "9GiB", MANAGER_ERROR_INVALID_POLICY, NULL},
                {"nope", "limit", "10%", MANAGER_ERROR_NO_SUCH_VM, "no VM named \"nope\" in the policy"},
        };
        ManagerError err;

        start(true);
        cr_assert_eq(set1("web", "burst", "50ms", false, &err), 0, "%s", err.message);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                for (int runtime = 0; runtime < 2; runtime++) {
                        char *before = snapshot(), *after, want[PATH_MAX * 4];

                        cr_assert_lt(set1(cases[i].vm, cases[i].key, cases[i].value, runtime, &err), 0, "%s=%s",
                                     cases[i].key, cases[i].value);
                        cr_assert_eq(err.kind, cases[i].kind, "%s: %s", cases[i].key, err.message);
                        if (cases[i].message) {
                                snprintf(want, sizeof(want), cases[i].message,
                                         runtime ? "runtime override" : override);
                                cr_assert_str_eq(err.message, want);
                        }
                        after = snapshot();
                        cr_assert_str_eq(after, before, "%s=%s changed something", cases[i].key, cases[i].value);
                        free(before);
                        free(after);
                }
}

/* Several keys: the later invalid one stops the earlier valid one too. */
Test(control, all_or_nothing) {
        char *keys[] = {"limit", "reserve"}, *values[] = {"30%", "200%"};
        ManagerError err;
        char *before, *after;

        start(true);
        before = snapshot();
        cr_assert_lt(manager_set_policy(m, "web", keys, values, 2, false, &err), 0);
        cr_assert_str_eq(err.message, "vms.web.cpu.reserve: 200% is over 100%");
        after = snapshot();
        cr_assert_str_eq(after, before);
        cr_assert_str_eq(running("web", "cpu.limit"), "50%");
        free(before);
        free(after);

        cr_assert_lt(manager_set_policy(m, "web", keys, values, 0, false, &err), 0);
        cr_assert_str_eq(err.message, "no KEY=VALUE given");
}

Test(control, runtime_over_persistent) {
        ManagerError err;

        start(true);
        cr_assert_eq(set1("web", "limit", "40%", false, &err), 0, "%s", err.message);
        cr_assert_eq(set1("web", "limit", "45%", true, &err), 0, "%s", err.message);
        cr_assert_eq(set1("web", "share", "5", true, &err), 0, "%s", err.message);
        cr_assert_str_eq(running("web", "cpu.limit"), "45%", "runtime wins");
        cr_assert(strstr(override_text(), "limit: 40%"), "%s", override_text());
        cr_assert_null(strstr(override_text(), "share"), "%s", override_text());

        /* A reload keeps the runtime overlay. */
        cr_assert_eq(manager_reload_policy(m, &err), 0, "%s", err.message);
        cr_assert_str_eq(running("web", "cpu.limit"), "45%");

        /* A persistent set of the same key takes it out of the runtime overlay. */
        cr_assert_eq(set1("web", "limit", "35%", false, &err), 0, "%s", err.message);
        cr_assert_str_eq(running("web", "cpu.limit"), "35%");
        cr_assert_str_eq(running("web", "cpu.share"), "5");
}

Test(control, reset) {
        ManagerError err;
        char *limit[] = {"limit"}, *bad[] = {"cpu.lim"};

        start(true);
        cr_assert_eq(set1("web", "limit", "40%", false, &err), 0, "%s", err.message);
        cr_assert_eq(set1("web", "burst", "10ms", false, &err), 0, "%s", err.message);
        cr_assert_eq(set1("web", "share", "4", true, &err), 0, "%s", err.message);

        cr_assert_lt(manager_reset_policy(m, "web", bad, 1, &err), 0);
        cr_assert_eq(err.kind, MANAGER_ERROR_INVALID_POLICY);
        cr_assert_str_eq(err.message, "vms.web.cpu.lim: unknown key (expected cpu.reserve, share, limit or burst)");
        cr_assert_lt(manager_reset_policy(m, "nope", NULL, 0, &err), 0);
        cr_assert_eq(err.kind, MANAGER_ERROR_NO_SUCH_VM);

        cr_assert_eq(manager_reset_policy(m, "web", limit, 1, &err), 0, "%s", err.message);
        cr_assert_str_eq(running("web", "cpu.limit"), "50%", "back to the policy file");
        cr_assert_str_eq(running("web", "cpu.burst"), "10ms");
        cr_assert_eq(manager_reset_policy(m, "web", NULL, 0, &err), 0, "%s", err.message);
        cr_assert_str_eq(running("web", "cpu.burst"), "");
        cr_assert_str_eq(running("web", "cpu.share"), "", "the runtime overlay is reset too");
        cr_assert_null(fake_get(dir, "policy.d/" OVERRIDE_FILE_NAME), "an empty override is removed");
}

/* Resetting can be refused too: the files' own values may not fit together with the rest. */
Test(control, reset_refused_when_invalid) {
        ManagerError err;
        char *keys[] = {"reserve", "limit"}, *values[] = {"60%", "70%"}, *limit[] = {"limit"};

        start(true);
        cr_assert_eq(manager_set_policy(m, "web", keys, values, 2, false, &err), 0, "%s", err.message);
        cr_assert_lt(manager_reset_policy(m, "web", limit, 1, &err), 0);
        cr_assert(strstr(err.message, "vms.web.cpu.limit: 50% is below the reservation 60%"), "%s", err.message);
        cr_assert_str_eq(running("web", "cpu.limit"), "70%");
        cr_assert(strstr(override_text(), "limit: 70%"));
}

Test(control, no_override_directory) {
        ManagerError err;

        start(false);
        cr_assert_lt(set1("web", "limit", "40%", false, &err), 0);
        cr_assert_eq(err.kind, MANAGER_ERROR_NOT_SUPPORTED);
        cr_assert_eq(set1("web", "limit", "40%", true, &err), 0, "%s", err.message);
        cr_assert_str_eq(running("web", "cpu.limit"), "40%");
        cr_assert_eq(manager_reset_policy(m, "web", NULL, 0, &err), 0, "%s", err.message);
        cr_assert_str_eq(running("web", "cpu.limit"), "50%");
}

Test(control, reload_refused) {
        ManagerError err;

        start(true);
        fake_put(dir, "policy.yaml", "vms:\n  web: { cpu: { reserve: 120% } }\n");
        cr_assert_lt(manager_reload_policy(m, &err), 0);
        cr_assert_eq(err.kind, MANAGER_ERROR_INVALID_POLICY);
        cr_assert(strstr(err.message, "policy.yaml:2:26: vms.web.cpu.reserve: 120% is over 100%"), "%s", err.message);
        cr_assert_str_eq(running("db", "cpu.share"), "2", "the running policy stays");
}

Test(control, move) {
        ManagerError err;
        char pid[32];

        start(true);
        cr_assert_eq(manager_move_process(m, getpid(), "web", &err), 0, "%s", err.message);
        snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
        cr_assert_str_eq(fake_get(tree, "web/cgroup.procs"), pid);

        cr_assert_lt(manager_move_process(m, 0, "web", &err), 0);
        cr_assert_eq(err.kind, MANAGER_ERROR_NO_SUCH_PROCESS);
        cr_assert_lt(manager_move_process(m, 2147483647, "web", &err), 0);
        cr_assert_eq(err.kind, MANAGER_ERROR_NO_SUCH_PROCESS);
        cr_assert_str_eq(err.message, "no process 2147483647");
        cr_assert_lt(manager_move_process(m, getpid(), "ghost", &err), 0);
        cr_assert_eq(err.kind, MANAGER_ERROR_VM_NOT_RUNNING);
        cr_assert_lt(manager_move_process(m, getpid(), "nope", &err), 0);
        cr_assert_eq(err.kind, MANAGER_ERROR_NO_SUCH_VM);

        /* A cgroup that vanished under a managed VM. */
        fake_rm_rf(tree, "db");
        cr_assert_lt(manager_move_process(m, getpid(), "db", &err), 0);
        cr_assert_eq(err.kind, MANAGER_ERROR_VM_NOT_RUNNING, "%s", err.message);
}

Test(control, validate_text) {
        char summary[256];
        ManagerError err;

        start(true);
        cr_assert_eq(manager_validate_text(m, policy, summary, sizeof(summary), &err), 0, "%s", err.message);
        cr_assert(strncmp(summary, "3 VMs; cpu: 2 CPUs, 10% reserved", 32) == 0, "%s", summary);
        cr_assert_lt(manager_validate_text(m, "vms: [", summary, sizeof(summary), &err), 0);
        cr_assert_eq(err.kind, MANAGER_ERROR_INVALID_POLICY);
        cr_assert(strncmp(err.message, "<text>:", 7) == 0, "%s", err.message);
        /* As it would load: the override directory's changes count. */
        cr_assert_eq(set1("web", "reserve", "50%", false, &err), 0, "%s", err.message);
        cr_assert_eq(manager_validate_text(m, policy, summary, sizeof(summary), &err), 0, "%s", err.message);
        cr_assert(strstr(summary, "50% reserved"), "%s", summary);
}

Test(control, live_state) {
        ManagerVmLive l;

        start(true);
        manager_vm_live(m, manager_vm_by_name(m, "web"), &l);
        cr_assert(l.managed);
        manager_vm_live(m, manager_vm_by_name(m, "ghost"), &l);
        cr_assert_not(l.managed);
        cr_assert_eq(l.entitlement_ucpu, 0);
        cr_assert_null(manager_vm_by_name(m, "nope"));
        cr_assert_not_null(manager_vm_policy(m, manager_vm_by_name(m, "web")));
}
