/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Scenario files: what parses, and the exact error for what does not; then
 * the runner's own bookkeeping (cgroups appearing and vanishing, a rejected
 * reload), which holds whatever numbers the core decides. */

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/keys.h"
#include "tools/sim/run.h"
#include "tools/sim/scenario.h"

/* Units for reading the figures below: micro-CPUs per CPU, microseconds per second. */
#define CPU 1000000ULL
#define SEC 1000000ULL

static const char good[] =
        "duration: 10s\n"
        "tick: 20ms\n"
        "host: { cpus: 2 }\n"
        "policy:\n"
        "  vms:\n"
        "    web: { cpu: { reserve: 50%, share: 0 } }\n"
        "    batch: { cpu: { share: 1 } }\n"
        "load:\n"
        "  - { vm: web, threads: 2 }\n"
        "  - { vm: batch, threads: 4, from: 2s, to: 10s }\n"
        "events:\n"
        "  - { at: 3s, cgroup_add: late }\n"
        "  - { at: 5s, policy: { vms: { web: { cpu: { share: 1 } }, late: { cpu: { share: 2 } } } } }\n"
        "  - { at: 6s, cgroup_remove: batch }\n"
        "measure: { from: 3s, to: 10s }\n"
        "expect:\n"
        "  tolerance: 0.01\n"
        "  cpu_fraction: { web: 0.5, batch: 0.5 }\n"
        "  utilization: 1.0\n"
        "  max_transitions_per_sec: 2\n";

static int parse(const char *text, Scenario *ret, PolicyError *err) {
        return scenario_parse_string(text, strlen(text), "t.yaml", ret, err);
}

/* Parsing `text` fails with exactly `message`, leaving the output alone.
 * Errors of the scenario are -EINVAL; those of an embedded policy are the
 * policy parser's (any_code). */
static void expect_error_code(const char *text, bool any_code, const char *message) {
        Scenario sc = {.duration_usec = 4242};
        PolicyError err = {};
        int r = parse(text, &sc, &err);

        if (any_code)
                cr_assert(r < 0 && r != -ENOMEM, "got %d for:\n%s", r, text);
        else
                cr_assert_eq(r, -EINVAL, "got %d for:\n%s", r, text);
        cr_assert_str_eq(err.message, message);
        cr_assert_eq(sc.duration_usec, 4242, "output written on error");
}

static void expect_error(const char *text, const char *message) {
        expect_error_code(text, false, message);
}

Test(scenario, good_scenario_parses) {
        Scenario sc;
        PolicyError err = {};

        cr_assert_eq(parse(good, &sc, &err), 0, "%s", err.message);
        cr_assert_str_eq(sc.file, "t.yaml");
        cr_assert_eq(sc.duration_usec, 10 * SEC);
        cr_assert_eq(sc.tick_usec, 20000);
        cr_assert_eq(sc.cpus_ucpu, 2 * CPU);
        cr_assert_eq(sc.policy.n_vms, 2);

        /* every VM any policy names, in order of appearance */
        cr_assert_eq(sc.n_vms, 3);
        cr_assert_str_eq(sc.vms[0], "web");
        cr_assert_str_eq(sc.vms[1], "batch");
        cr_assert_str_eq(sc.vms[2], "late");
        cr_assert_eq(scenario_vm_index(&sc, "late"), 2);
        cr_assert_eq(scenario_vm_index(&sc, "nope"), -ENOENT);

        cr_assert_eq(sc.n_load, 2);
        cr_assert_str_eq(sc.load[0].vm, "web");
        cr_assert_eq(sc.load[0].threads, 2);
        cr_assert_eq(sc.load[0].from_usec, 0);
        cr_assert_eq(sc.load[0].to_usec, 10 * SEC);
        cr_assert_eq(sc.load[1].threads, 4);
        cr_assert_eq(sc.load[1].from_usec, 2 * SEC);
        cr_assert_eq(sc.load[1].loc.line, 10);
        cr_assert_eq(sc.load[1].loc.column, 5);

        cr_assert_eq(sc.n_events, 3);
        cr_assert_eq(sc.events[0].kind, SCENARIO_EVENT_CGROUP_ADD);
        cr_assert_str_eq(sc.events[0].vm, "late");
        cr_assert_eq(sc.events[0].at_usec, 3 * SEC);
        cr_assert_eq(sc.events[1].kind, SCENARIO_EVENT_POLICY);
        cr_assert_eq(sc.events[1].policy.n_vms, 2);
        cr_assert_eq(sc.events[2].kind, SCENARIO_EVENT_CGROUP_REMOVE);

        cr_assert_eq(sc.measure_from_usec, 3 * SEC);
        cr_assert_eq(sc.measure_to_usec, 10 * SEC);
        cr_assert(sc.expect.present);
        cr_assert_float_eq(sc.expect.tolerance, 0.01, 1e-12);
        cr_assert_eq(sc.expect.n_cpu_fraction, 2);
        cr_assert_str_eq(sc.expect.cpu_fraction[1].vm, "batch");
        cr_assert_float_eq(sc.expect.cpu_fraction[1].fraction, 0.5, 1e-12);
        cr_assert(sc.expect.has_utilization);
        cr_assert(sc.expect.has_max_transitions);
        cr_assert_float_eq(sc.expect.max_transitions_per_sec, 2.0, 1e-12);
        scenario_done(&sc);
        cr_assert_null(sc.file);
}

Test(scenario, defaults) {
        Scenario sc;
        PolicyError err = {};

        cr_assert_eq(parse("duration: 2s\nhost: { cpus: 500m }\npolicy: { vms: { a: {} } }\n", &sc, &err), 0, "%s",
                     err.message);
        cr_assert_eq(sc.tick_usec, SCENARIO_TICK_DEFAULT_USEC);
        cr_assert_eq(sc.cpus_ucpu, CPU / 2);
        cr_assert_eq(sc.measure_from_usec, 0);
        cr_assert_eq(sc.measure_to_usec, 2 * SEC);
        cr_assert(!sc.expect.present);
        cr_assert_eq(sc.n_load, 0);
        cr_assert_eq(sc.n_events, 0);
        scenario_done(&sc);

        cr_assert_eq(parse("duration: 2s\nhost: { cpus: 1 }\npolicy: { vms: { a: {} } }\nexpect: {}\n", &sc, &err), 0,
                     "%s", err.message);
        cr_assert(sc.expect.present);
        cr_assert_float_eq(sc.expect.tolerance, SCENARIO_TOLERANCE_MAX, 1e-12);
        scenario_done(&sc);
}

/* The head of a valid scenario, for the errors that come after it. */
#define HEAD "duration: 10s\nhost: { cpus: 2 }\npolicy: { vms: { web: {}, db: {} } }\n"

Test(scenario, unknown_and_duplicate_keys) {
        expect_error("durtion: 10s\n", "t.yaml:1:1: durtion: unknown key (expected duration, tick, host, policy, "
                                       "policy_file, load, events, measure, expect, tiers or cgroup_files)");
        expect_error(HEAD "measure: { from: 1s, unto: 2s }\n",
                     "t.yaml:4:22: measure.unto: unknown key (expected from or to)");
        expect_error(HEAD "duration: 5s\n", "t.yaml:4:1: duration: duplicate key");
        expect_error(HEAD "load:\n  - { vm: web, threads: 1, vm: db }\n", "t.yaml:5:28: load[0].vm: duplicate key");
}

Test(scenario, wrong_types) {
        expect_error("duration: 10s\nhost: 2\n", "t.yaml:2:7: host: expected a mapping, got a scalar");
        expect_error(HEAD "load: { vm: web }\n", "t.yaml:4:7: load: expected a list, got a mapping");
        expect_error(HEAD "load: [ 3 ]\n", "t.yaml:4:9: load[0]: expected a mapping, got a scalar");
        expect_error(HEAD "events: [ { at: [1s], cgroup_add: web } ]\n",
                     "t.yaml:4:17: events[0].at: expected a scalar, got a list");
        expect_error("duration: 10s\nhost: { cpus: 2 }\npolicy: [ a ]\n",
                     "t.yaml:3:9: policy: expected a mapping, got a list");
}

Test(scenario, missing_keys) {
        expect_error("host: { cpus: 2 }\n", "t.yaml:1:1: duration: required key missing");
        expect_error("duration: 1s\npolicy: { vms: {} }\n", "t.yaml:1:1: host: required key missing");
        expect_error("duration: 1s\nhost: {}\n", "t.yaml:2:7: host.cpus: required key missing");
        expect_error("duration: 1s\nhost: { cpus: 1 }\n",
                     "t.yaml:1:1: policy: a scenario needs a policy (policy: or policy_file:)");
        expect_error(HEAD "load: [ { vm: web } ]\n", "t.yaml:4:9: load[0].threads: required key missing");
        expect_error(HEAD "events: [ { cgroup_add: web } ]\n", "t.yaml:4:11: events[0].at: required key missing");
}

Test(scenario, bad_durations) {
        expect_error("duration: 10x\n", "t.yaml:1:11: duration: \"10x\" is not a duration (like 10s, 250ms, 500us)");
        expect_error("duration: 10\n", "t.yaml:1:11: duration: \"10\" is not a duration (like 10s, 250ms, 500us)");
        expect_error("duration: -1s\n", "t.yaml:1:11: duration: \"-1s\" is negative");
        expect_error("duration: 0s\n", "t.yaml:1:11: duration: 0s is outside 100us..1h");
        expect_error("duration: 2h\n", "t.yaml:1:11: duration: 2h is outside 100us..1h");
        expect_error("duration: 99999999999999999999s\n",
                     "t.yaml:1:11: duration: \"99999999999999999999s\" is too large or too precise");
        expect_error("duration: 10s\ntick: 150us\n",
                     "t.yaml:2:7: tick: 150us is not a multiple of the simulation step (100us)");
        expect_error("duration: 10s\ntick: 0s\n",
                     "t.yaml:2:7: tick: a tick is longer than zero and no longer than the run");
        expect_error("duration: 10s\ntick: 11s\n",
                     "t.yaml:2:7: tick: a tick is longer than zero and no longer than the run");
}

Test(scenario, bad_host) {
        expect_error("duration: 1s\nhost: { cpus: 0 }\n", "t.yaml:2:15: host.cpus: 0 is outside 1m..4096");
        expect_error("duration: 1s\nhost: { cpus: two }\n", "t.yaml:2:15: host.cpus: \"two\" is not a number");
        expect_error("duration: 1s\nhost: { cpus: 2, memory: 1G }\n",
                     "t.yaml:2:18: host.memory: unknown key (expected cpus)");
}

Test(scenario, vms_not_in_the_policy) {
        expect_error(HEAD "load:\n  - { vm: web, threads: 1 }\n  - { vm: nope, threads: 1 }\n",
                     "t.yaml:6:11: load[1].vm: \"nope\" is not a VM of the policy");
        expect_error(HEAD "events: [ { at: 1s, cgroup_add: nope } ]\n",
                     "t.yaml:4:33: events[0].cgroup_add: \"nope\" is not a VM of the policy");
        expect_error(HEAD "events: [ { at: 1s, cgroup_remove: nope } ]\n",
                     "t.yaml:4:36: events[0].cgroup_remove: \"nope\" is not a VM of the policy");
        expect_error(HEAD "expect: { cpu_fraction: { nope: 0.5 } }\n",
                     "t.yaml:4:27: expect.cpu_fraction.nope: \"nope\" is not a VM of the policy");
}

Test(scenario, a_vm_of_a_later_policy_is_known) {
        Scenario sc;
        PolicyError err = {};

        cr_assert_eq(parse(HEAD "load: [ { vm: late, threads: 1 } ]\n"
                                "events: [ { at: 1s, policy: { vms: { late: {} } } } ]\n",
                           &sc, &err),
                     0, "%s", err.message);
        cr_assert_eq(sc.n_vms, 3);
        scenario_done(&sc);
}

Test(scenario, bad_windows) {
        expect_error(HEAD "load: [ { vm: web, threads: 1, from: 5s, to: 2s } ]\n",
                     "t.yaml:4:38: load[0]: from 5s is not before to 2s");
        expect_error(HEAD "load: [ { vm: web, threads: 1, from: 5s, to: 5s } ]\n",
                     "t.yaml:4:38: load[0]: from 5s is not before to 5s");
        expect_error(HEAD "load: [ { vm: web, threads: 1, to: 11s } ]\n",
                     "t.yaml:4:36: load[0].to: 11s is after the end of the run (10s)");
        expect_error(HEAD "measure: { from: 3s, to: 12s }\n",
                     "t.yaml:4:26: measure.to: 12s is after the end of the run (10s)");
        expect_error(HEAD "measure: { from: 10s }\n", "t.yaml:4:18: measure: from 10s is not before to 10s");
        expect_error(HEAD "measure: { from: 1050us }\n",
                     "t.yaml:4:18: measure.from: 1050us is not a multiple of the simulation step (100us)");
}

Test(scenario, bad_load) {
        expect_error(HEAD "load: [ { vm: web, threads: 2.5 } ]\n",
                     "t.yaml:4:29: load[0].threads: a number of threads is a whole number");
        expect_error(HEAD "load: [ { vm: web, threads: -1 } ]\n",
                     "t.yaml:4:29: load[0].threads: -1 is outside 0..100000");
        expect_error(HEAD "load: [ { vm: web, threads: many } ]\n",
                     "t.yaml:4:29: load[0].threads: \"many\" is not a number");
        expect_error(HEAD "load: [ { vm: '', threads: 1 } ]\n", "t.yaml:4:15: load[0].vm: expected a VM name");
}

Test(scenario, bad_events) {
        expect_error(HEAD "events:\n  - { at: 5s, cgroup_add: web }\n  - { at: 2s, cgroup_remove: web }\n",
                     "t.yaml:6:11: events[1].at: 2s is before the previous event (5s)");
        expect_error(HEAD "events: [ { at: 11s, cgroup_add: web } ]\n",
                     "t.yaml:4:17: events[0].at: 11s is after the end of the run (10s)");
        expect_error(HEAD "events: [ { at: 1s, cgroup_add: web, cgroup_remove: db } ]\n",
                     "t.yaml:4:38: events[0].cgroup_remove: an event does one thing: policy, policy_file, "
                     "cgroup_add, cgroup_remove, schedctl or move");
        expect_error(HEAD "events: [ { at: 1s } ]\n",
                     "t.yaml:4:11: events[0]: an event needs one of policy, policy_file, cgroup_add, cgroup_remove, "
                     "schedctl, move");
        expect_error_code(HEAD "events: [ { at: 1s, policy: { vms: { web: { cpu: { reserve: 150% } } } } } ]\n", true,
                          "t.yaml:4:61: events[0].policy.vms.web.cpu.reserve: 150% is over 100%");
}

Test(scenario, bad_policies) {
        expect_error_code(
                "duration: 10s\nhost: { cpus: 2 }\npolicy:\n  vms:\n    web: { cpu: { reserv: 50% } }\n", true,
                "t.yaml:5:19: policy.vms.web.cpu.reserv: unknown key (expected reserve, share, limit or burst)");
        expect_error("duration: 10s\nhost: { cpus: 2 }\npolicy: { vms: {} }\npolicy_file: p.yaml\n",
                     "t.yaml:4:14: policy_file: give either policy or policy_file, not both");
}

Test(scenario, bad_expect) {
        expect_error(HEAD "expect: { tolerance: 0.05 }\n", "t.yaml:4:22: expect.tolerance: 0.05 is outside 0..0.02");
        expect_error(HEAD "expect: { utilization: 1.5 }\n", "t.yaml:4:24: expect.utilization: 1.5 is outside 0..1");
        expect_error(HEAD "expect: { cpu_fraction: { web: nan } }\n",
                     "t.yaml:4:32: expect.cpu_fraction.web: \"nan\" is not a number");
        expect_error(HEAD "expect: { cpu_fraction: { web: 0x1 } }\n",
                     "t.yaml:4:32: expect.cpu_fraction.web: \"0x1\" is not a number");
        expect_error(HEAD "expect: { cpu_fraction: { web: 0.5, web: 0.5 } }\n",
                     "t.yaml:4:37: expect.cpu_fraction.web: duplicate key");
        expect_error(HEAD "expect: { max_transitions_per_sec: -1 }\n",
                     "t.yaml:4:36: expect.max_transitions_per_sec: -1 is outside 0..1e+06");
}

Test(scenario, not_a_scenario) {
        Scenario sc = {};
        PolicyError err = {};

        expect_error("", "t.yaml: empty scenario");
        cr_assert_eq(parse("duration: [10s\n", &sc, &err), -EINVAL);
        cr_assert_eq(strncmp(err.message, "t.yaml:2:1: ", 12), 0, "%s", err.message);
        expect_error("- 1\n- 2\n", "t.yaml:1:1: expected a mapping, got a list");
}

Test(scenario, files) {
        char dir[] = "/tmp/test-scenario-XXXXXX", path[512], policy_path[512];
        Scenario sc;
        PolicyError err = {};
        FILE *f;

        cr_assert_eq(scenario_parse_file("/nonexistent/s.yaml", &sc, &err), -ENOENT);
        cr_assert_str_eq(err.message, "/nonexistent/s.yaml: cannot read: No such file or directory");

        cr_assert_not_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/s.yaml", dir);
        snprintf(policy_path, sizeof(policy_path), "%s/p.yaml", dir);

        /* policy_file is relative to the scenario's directory, not to the working directory */
        f = fopen(policy_path, "we");
        cr_assert_not_null(f);
        fputs("vms:\n  web: { cpu: { share: 3 } }\n", f);
        fclose(f);
        f = fopen(path, "we");
        cr_assert_not_null(f);
        fputs("duration: 1s\nhost: { cpus: 2 }\npolicy_file: p.yaml\n"
              "events: [ { at: 500ms, policy_file: missing.yaml } ]\n",
              f);
        fclose(f);

        cr_assert_eq(scenario_parse_file(path, &sc, &err), -ENOENT);
        char want[1024];
        snprintf(want, sizeof(want), "%s:4:37: events[0].policy_file: %s/missing.yaml: cannot read: ", path, dir);
        cr_assert_eq(strncmp(err.message, want, strlen(want)), 0, "%s", err.message);

        f = fopen(path, "we");
        cr_assert_not_null(f);
        fputs("duration: 1s\nhost: { cpus: 2 }\npolicy_file: p.yaml\n", f);
        fclose(f);
        cr_assert_eq(scenario_parse_file(path, &sc, &err), 0, "%s", err.message);
        cr_assert_eq(sc.n_vms, 1);
        cr_assert_str_eq(sc.vms[0], "web");
        scenario_done(&sc);

        unlink(path);
        unlink(policy_path);
        rmdir(dir);
}

/* ---- the runner's bookkeeping ------------------------------------------------------------------------------------
 */

static void run_text(const char *text, Scenario *sc, SimResult *res) {
        PolicyError err = {};

        cr_assert_eq(parse(text, sc, &err), 0, "%s", err.message);
        cr_assert_eq(sim_run(sc, res, &err), 0, "%s", err.message);
}

Test(run, initial_policy_must_validate) {
        Scenario sc;
        SimResult res = {.n_vms = 42};
        PolicyError err = {};

        cr_assert_eq(parse("duration: 1s\nhost: { cpus: 2 }\n"
                           "policy: { vms: { a: { cpu: { reserve: 70% } }, b: { cpu: { reserve: 40% } } } }\n",
                           &sc, &err),
                     0, "%s", err.message);
        cr_assert_lt(sim_run(&sc, &res, &err), 0);
        cr_assert_eq(strncmp(err.message, "t.yaml: admission: ", 19), 0, "%s", err.message);
        cr_assert_eq(res.n_vms, 42, "output written on error");
        scenario_done(&sc);
}

Test(run, bad_reload_is_reported_and_the_old_policy_stays) {
        Scenario sc;
        SimResult res;

        run_text("duration: 2s\nhost: { cpus: 2 }\n"
                 "policy: { vms: { a: { cpu: { limit: 25% } } } }\n"
                 "load: [ { vm: a, threads: 2 } ]\n"
                 "events: [ { at: 1s, policy: { vms: { a: { cpu: { reserve: 70%, limit: 50% } } } } } ]\n",
                 &sc, &res);
        cr_assert_eq(res.n_messages, 1);
        cr_assert_eq(strncmp(res.messages[0], "1s: policy reload rejected, the previous policy stays: t.yaml:5:",
                             strlen("1s: policy reload rejected, the previous policy stays: t.yaml:5:")),
                     0, "%s", res.messages[0]);
        /* the policy in force at the end is the first one */
        char limit[32];
        PolicyKey k;
        cr_assert_eq(policy_key_parse("a", "limit", &k, NULL), 0);
        cr_assert_eq(policy_get_key(&res.policy, "a", &k, limit, sizeof(limit)), 0);
        cr_assert_str_eq(limit, "25%");
        cr_assert_eq(res.vms[0].policy, policy_find_vm(&res.policy, "a"));
        cr_assert(res.vms[0].managed);
        sim_result_done(&res);
        scenario_done(&sc);
}

Test(run, cgroups_appear_and_vanish) {
        Scenario sc;
        SimResult res;

        /* `late` has no cgroup until 2s, so before that its load runs nowhere;
         * `gone` loses its cgroup at 1s: nothing of it runs after. */
        run_text("duration: 3s\nhost: { cpus: 2 }\n"
                 "policy: { vms: { late: {}, gone: {} } }\n"
                 "load: [ { vm: late, threads: 1 }, { vm: gone, threads: 1 } ]\n"
                 "events: [ { at: 1s, cgroup_remove: gone }, { at: 2s, cgroup_add: late } ]\n"
                 "measure: { from: 1s, to: 2s }\n",
                 &sc, &res);
        cr_assert_eq(res.vms[0].usage_usec, 0);
        cr_assert(!res.vms[0].managed);
        cr_assert_eq(res.vms[1].usage_usec, 0);
        cr_assert(!res.vms[1].managed);
        cr_assert_float_eq(res.utilization, 0.0, 1e-12);

        /* the timeline: 0-1s gone runs alone, 2-3s late does */
        cr_assert_eq(res.n_segments, 3);
        cr_assert(!res.segments[0].vms[0].present);
        cr_assert(res.segments[0].vms[1].present);
        cr_assert_gt(res.segments[0].vms[1].cpu_fraction, 0.4);
        cr_assert(res.segments[2].vms[0].present);
        cr_assert(res.segments[2].vms[0].managed);
        cr_assert_gt(res.segments[2].vms[0].cpu_fraction, 0.4);
        cr_assert(!res.segments[2].vms[1].present);
        cr_assert_float_eq(res.segments[2].vms[1].cpu_fraction, 0.0, 1e-12);
        sim_result_done(&res);
        scenario_done(&sc);
}

Test(run, a_dropped_vm_returns_to_the_kernel_defaults) {
        Scenario sc;
        SimResult res;

        run_text("duration: 2s\nhost: { cpus: 2 }\n"
                 "policy: { vms: { a: { cpu: { limit: 25% } }, b: {} } }\n"
                 "load: [ { vm: a, threads: 2 } ]\n"
                 "events: [ { at: 1s, policy: { vms: { b: {} } } } ]\n"
                 "measure: { from: 1500ms, to: 2s }\n",
                 &sc, &res);
        cr_assert(!res.vms[0].managed);
        cr_assert_null(res.vms[0].policy);
        cr_assert_eq(res.vms[0].weight, 100);
        cr_assert_eq(res.vms[0].quota_usec, 0);
        /* unlimited again, alone with two threads: the whole host */
        cr_assert_float_eq(res.vms[0].cpu_fraction, 1.0, 1e-3);
        sim_result_done(&res);
        scenario_done(&sc);
}

/* ---- control steps: schedctl and move ---------------------------------------------------------------------------
 */

Test(scenario, schedctl_steps_parse) {
        Scenario sc;
        PolicyError err = {};

        cr_assert_eq(parse(HEAD "events:\n"
                                "  - { at: 1s, schedctl: \"set web  share=3 limit=60%\" }\n"
                                "  - { at: 2s, schedctl: [set, db, burst=200ms, --runtime] }\n"
                                "  - { at: 3s, schedctl: \"reset web limit\" }\n"
                                "  - { at: 4s, schedctl: \"reset db\" }\n"
                                "  - { at: 5s, schedctl: status }\n"
                                "  - { at: 5s, schedctl: \"get web share\" }\n",
                           &sc, &err),
                     0, "%s", err.message);
        cr_assert_eq(sc.n_events, 6);
        const ScenarioEvent *e = &sc.events[0];
        cr_assert_eq(e->kind, SCENARIO_EVENT_SCHEDCTL);
        cr_assert_eq(e->verb, SCENARIO_SCHEDCTL_SET);
        cr_assert_eq(e->argc, 4);
        cr_assert_str_eq(e->argv[0], "set");
        cr_assert_str_eq(e->argv[3], "limit=60%");
        cr_assert_null(e->argv[4]);
        cr_assert_str_eq(e->vm, "web");
        cr_assert_eq(e->n_keys, 2);
        cr_assert_str_eq(e->keys[1], "limit");
        cr_assert_str_eq(e->values[1], "60%");
        cr_assert(!e->runtime);
        e = &sc.events[1];
        cr_assert_eq(e->argc, 4);
        cr_assert(e->runtime);
        cr_assert_eq(e->n_keys, 1);
        cr_assert_str_eq(e->keys[0], "burst");
        e = &sc.events[2];
        cr_assert_eq(e->verb, SCENARIO_SCHEDCTL_RESET);
        cr_assert_eq(e->n_keys, 1);
        cr_assert_str_eq(e->keys[0], "limit");
        cr_assert_eq(sc.events[3].n_keys, 0, "reset VM: every key");
        cr_assert_eq(sc.events[4].verb, SCENARIO_SCHEDCTL_QUERY);
        cr_assert_null(sc.events[4].vm);
        cr_assert_eq(sc.events[5].verb, SCENARIO_SCHEDCTL_QUERY);
        scenario_done(&sc);
}

Test(scenario, bad_schedctl_steps) {
        expect_error(HEAD "events: [ { at: 1s, schedctl: \"stop web\" } ]\n",
                     "t.yaml:4:31: events[0].schedctl: \"stop\" is not a verb a scenario runs (set, reset, list, "
                     "status or get)");
        expect_error(HEAD "events: [ { at: 1s, schedctl: \"move 42 web\" } ]\n",
                     "t.yaml:4:31: events[0].schedctl: a scenario names no process IDs: move a load with { at: ..., "
                     "move: { load: L, to: VM } }");
        expect_error(HEAD "events: [ { at: 1s, schedctl: \"  \" } ]\n",
                     "t.yaml:4:31: events[0].schedctl: an empty command");
        expect_error(HEAD "events: [ { at: 1s, schedctl: { set: web } } ]\n",
                     "t.yaml:4:31: events[0].schedctl: expected a command line (a string, or a list of words)");
        expect_error(HEAD "events: [ { at: 1s, schedctl: [set, \"web db\"] } ]\n",
                     "t.yaml:4:37: events[0].schedctl: a word is not empty and holds no blanks");
        expect_error(HEAD "events: [ { at: 1s, schedctl: set } ]\n",
                     "t.yaml:4:31: events[0].schedctl: set: missing VM");
        expect_error(HEAD "events: [ { at: 1s, schedctl: \"set web\" } ]\n",
                     "t.yaml:4:31: events[0].schedctl: set: no KEY=VALUE given");
        expect_error(HEAD "events: [ { at: 1s, schedctl: [set, web, share] } ]\n",
                     "t.yaml:4:42: events[0].schedctl: set: \"share\" is not KEY=VALUE");
        expect_error(HEAD "events: [ { at: 1s, schedctl: [set, web, limit=150%] } ]\n",
                     "t.yaml:4:42: events[0].schedctl: vms.web.cpu.limit: 150% is over 100%");
        expect_error(HEAD "events: [ { at: 1s, schedctl: \"set web shares=3\" } ]\n",
                     "t.yaml:4:31: events[0].schedctl: vms.web.shares: unknown key (expected cgroup, create, cpu, io, "
                     "net or memory; reserve, share, limit and burst stand for the CPU's)");
        expect_error(HEAD "events: [ { at: 1s, schedctl: \"set web share=3 --now\" } ]\n",
                     "t.yaml:4:31: events[0].schedctl: set: unknown option \"--now\"");
        expect_error(
                HEAD "events: [ { at: 1s, schedctl: \"reset web share=3\" } ]\n",
                "t.yaml:4:31: events[0].schedctl: vms.web.share=3: unknown key (expected cgroup, create, cpu, io, "
                "net or memory; reserve, share, limit and burst stand for the CPU's)");
        expect_error(HEAD "events: [ { at: 1s, schedctl: \"set nope share=3\" } ]\n",
                     "t.yaml:4:31: events[0].schedctl: \"nope\" is not a VM of the policy");
        expect_error(HEAD "events: [ { at: 1s, schedctl: [get, web, share, limit] } ]\n",
                     "t.yaml:4:49: events[0].schedctl: get takes a VM and at most one key");
        expect_error(HEAD "events: [ { at: 1s, schedctl: \"list web\" } ]\n",
                     "t.yaml:4:31: events[0].schedctl: list takes no arguments");
}

#define MOVE_HEAD                                                                                                     \
        "duration: 10s\nhost: { cpus: 2 }\npolicy: { vms: { a: {}, b: {}, c: {} } }\n"                                \
        "load: [ { vm: a, threads: 2, from: 1s }, { vm: b, threads: 1 }, { vm: b, threads: 1, to: 3s } ]\n"

Test(scenario, moves_parse) {
        Scenario sc;
        PolicyError err = {};

        cr_assert_eq(parse(MOVE_HEAD "events:\n"
                                     "  - { at: 4s, move: { load: 2, to: c } }\n"
                                     "  - { at: 5s, move: { load: a, to: b } }\n"
                                     "  - { at: 6s, move: { load: 0, to: c } }\n",
                           &sc, &err),
                     -EINVAL, "load 2 ends at 3s");
        cr_assert_eq(parse(MOVE_HEAD "events:\n"
                                     "  - { at: 5s, move: { load: a, to: c } }\n"
                                     "  - { at: 6s, move: { load: 0, to: b } }\n",
                           &sc, &err),
                     0, "%s", err.message);
        cr_assert_eq(sc.events[0].kind, SCENARIO_EVENT_MOVE);
        cr_assert_eq(sc.events[0].load, 0);
        cr_assert_str_eq(sc.events[0].vm, "c");
        cr_assert_eq(sc.events[1].load, 0);
        /* where load 0 runs: a, then c from 5s, then b from 6s */
        cr_assert_eq(scenario_load_vm_at(&sc, 0, 5 * SEC - 1), 0);
        cr_assert_eq(scenario_load_vm_at(&sc, 0, 5 * SEC), 2);
        cr_assert_eq(scenario_load_vm_at(&sc, 0, 6 * SEC), 1);
        cr_assert_eq(scenario_load_vm_at(&sc, 1, 10 * SEC), 1);
        scenario_done(&sc);
}

Test(scenario, bad_moves) {
        expect_error(MOVE_HEAD "events: [ { at: 5s, move: { load: 3, to: c } } ]\n",
                     "t.yaml:5:35: events[0].move.load: 3 is not an index of load (3 entries, from 0)");
        expect_error(MOVE_HEAD "events: [ { at: 5s, move: { load: b, to: c } } ]\n",
                     "t.yaml:5:35: events[0].move.load: \"b\" is neither an index of load nor a VM with one load "
                     "entry (it has 2)");
        expect_error(MOVE_HEAD "events: [ { at: 5s, move: { load: 0, to: nope } } ]\n",
                     "t.yaml:5:42: events[0].move.to: \"nope\" is not a VM of the policy");
        expect_error(MOVE_HEAD "events: [ { at: 5s, move: { load: 0, to: a } } ]\n",
                     "t.yaml:5:42: events[0].move.load: the load is in a already");
        expect_error(
                MOVE_HEAD "events: [ { at: 1s, move: { load: 0, to: c } } ]\n",
                "t.yaml:5:35: events[0].move.load: the load runs from 1s to 10s, so it has nothing to move at 1s");
        expect_error(MOVE_HEAD "events: [ { at: 2s, move: { load: 1, to: c } } ]\n",
                     "t.yaml:5:35: events[0].move.load: load[2] runs in b too: a real kernel could not tell which "
                     "processes to move");
        expect_error(MOVE_HEAD "events: [ { at: 2s, cgroup_remove: c }, { at: 5s, move: { load: 0, to: c } } ]\n",
                     "t.yaml:5:65: events[1].move.load: c has cgroup events: a move needs both cgroups there all "
                     "along");
        expect_error(MOVE_HEAD "events: [ { at: 5s, move: { load: 0 } } ]\n",
                     "t.yaml:5:27: events[0].move.to: required key missing");
        expect_error(MOVE_HEAD "events: [ { at: 5s, move: { load: 0, to: c, threads: 1 } } ]\n",
                     "t.yaml:5:45: events[0].move.threads: unknown key (expected load or to)");
        expect_error("duration: 10s\nhost: { cpus: 2 }\npolicy: { vms: { a: {}, b: {} } }\n"
                     "load: [ { vm: a, threads: 0 } ]\nevents: [ { at: 5s, move: { load: 0, to: b } } ]\n",
                     "t.yaml:5:35: events[0].move.load: only a load of busy threads has processes to move");
}

/* A VM's fraction of the host in segment `seg`. */
static double seg_fraction(const SimResult *res, size_t seg, size_t vm) {
        cr_assert_lt(seg, res->n_segments);
        return res->segments[seg].vms[vm].cpu_fraction;
}

Test(run, schedctl_set_changes_the_allocation_and_a_reload_keeps_it) {
        Scenario sc;
        SimResult res;

        /* a and b share 1:1 until 2s; a limit of 20% for a then; at 4s the policy file is
         * reloaded (a share of 3 for b), and the override stays: a keeps its limit. */
        run_text("duration: 6s\ntick: 100ms\nhost: { cpus: 2 }\n"
                 "policy: { vms: { a: {}, b: {} } }\n"
                 "load: [ { vm: a, threads: 2 }, { vm: b, threads: 2 } ]\n"
                 "events:\n"
                 "  - { at: 2s, schedctl: \"set a limit=20%\" }\n"
                 "  - { at: 4s, policy: { vms: { a: {}, b: { cpu: { share: 3 } } } } }\n",
                 &sc, &res);
        cr_assert_eq(res.n_messages, 0, "%s", res.n_messages ? res.messages[0] : "");
        cr_assert_eq(res.n_segments, 3);
        cr_assert_float_eq(seg_fraction(&res, 0, 0), 0.5, 0.02);
        cr_assert_float_eq(seg_fraction(&res, 1, 0), 0.2, 0.02);
        cr_assert_float_eq(seg_fraction(&res, 1, 1), 0.8, 0.02);
        cr_assert_float_eq(seg_fraction(&res, 2, 0), 0.2, 0.02);
        char v[32];
        PolicyKey k;
        cr_assert_eq(policy_key_parse("b", "share", &k, NULL), 0);
        cr_assert_eq(policy_get_key(&res.policy, "b", &k, v, sizeof(v)), 0);
        cr_assert_str_eq(v, "3");
        cr_assert_eq(policy_key_parse("a", "limit", &k, NULL), 0);
        cr_assert_eq(policy_get_key(&res.policy, "a", &k, v, sizeof(v)), 0);
        cr_assert_str_eq(v, "20%");
        sim_result_done(&res);
        scenario_done(&sc);
}

Test(run, refused_steps_are_reported_and_change_nothing) {
        Scenario sc;
        SimResult res;

        /* b's reservation of 70% with a's 50% is over the host; `late` is named only by the
         * reload at 3s, so a set before it is refused as schedd refuses it. */
        run_text("duration: 4s\ntick: 100ms\nhost: { cpus: 2 }\n"
                 "policy: { vms: { a: { cpu: { reserve: 50% } }, b: {} } }\n"
                 "load: [ { vm: a, threads: 2 }, { vm: b, threads: 2 } ]\n"
                 "events:\n"
                 "  - { at: 1s, schedctl: \"set b reserve=70%\" }\n"
                 "  - { at: 2s, schedctl: \"set late share=2\" }\n"
                 "  - { at: 3s, policy: { vms: { a: { cpu: { reserve: 50% } }, b: {}, late: {} } } }\n"
                 "measure: { from: 2s, to: 3s }\n",
                 &sc, &res);
        cr_assert_eq(res.n_messages, 2);
        cr_assert(strstr(res.messages[0], "1s: schedctl set b reserve=70%: refused: "), "%s", res.messages[0]);
        cr_assert(strstr(res.messages[0], "admission"), "%s", res.messages[0]);
        cr_assert_str_eq(res.messages[1],
                         "2s: schedctl set late share=2: refused: no VM named \"late\" in the policy");
        /* a: its reservation plus half of the rest */
        cr_assert_float_eq(res.vms[0].cpu_fraction, 0.75, 0.02);
        sim_result_done(&res);
        scenario_done(&sc);
}

Test(run, runtime_set_and_reset) {
        Scenario sc;
        SimResult res;

        /* a persistent limit of 20%, a runtime one of 40% over it, a reset of the
         * runtime one's key drops both: a is free again. */
        run_text("duration: 4s\ntick: 100ms\nhost: { cpus: 2 }\n"
                 "policy: { vms: { a: {}, b: {} } }\n"
                 "load: [ { vm: a, threads: 2 }, { vm: b, threads: 2 } ]\n"
                 "events:\n"
                 "  - { at: 1s, schedctl: \"set a limit=20%\" }\n"
                 "  - { at: 2s, schedctl: \"set a limit=40% --runtime\" }\n"
                 "  - { at: 3s, schedctl: \"reset a limit\" }\n",
                 &sc, &res);
        cr_assert_eq(res.n_messages, 0, "%s", res.n_messages ? res.messages[0] : "");
        cr_assert_eq(res.n_segments, 4);
        /* each segment lasts 1s, and the change takes a tick or two of it */
        cr_assert_float_eq(seg_fraction(&res, 1, 0), 0.2, 0.04);
        cr_assert_float_eq(seg_fraction(&res, 2, 0), 0.4, 0.04);
        cr_assert_float_eq(seg_fraction(&res, 3, 0), 0.5, 0.04);
        sim_result_done(&res);
        scenario_done(&sc);
}

Test(run, a_move_takes_the_load_to_the_other_vm) {
        Scenario sc;
        SimResult res;

        /* a: two threads, b: one; b's share is 3.  After the move all three threads run in b. */
        run_text("duration: 4s\ntick: 100ms\nhost: { cpus: 2 }\n"
                 "policy: { vms: { a: {}, b: { cpu: { share: 3 } } } }\n"
                 "load: [ { vm: a, threads: 2 }, { vm: b, threads: 1 } ]\n"
                 "events: [ { at: 2s, move: { load: a, to: b } } ]\n"
                 "measure: { from: 3s, to: 4s }\n",
                 &sc, &res);
        cr_assert_eq(res.n_messages, 1);
        cr_assert_str_eq(res.messages[0], "2s: load[0]: moved from a to b");
        cr_assert_eq(res.n_segments, 3);
        /* before: b has one thread (half the host), a the rest */
        cr_assert_float_eq(seg_fraction(&res, 0, 0), 0.5, 0.02);
        cr_assert_float_eq(seg_fraction(&res, 0, 1), 0.5, 0.02);
        cr_assert_eq(res.segments[0].vms[0].threads, 2);
        cr_assert_eq(res.segments[1].vms[0].threads, 0);
        cr_assert_eq(res.segments[1].vms[1].threads, 3);
        cr_assert_float_eq(res.vms[0].cpu_fraction, 0.0, 0.001);
        cr_assert_float_eq(res.vms[1].cpu_fraction, 1.0, 0.02);
        sim_result_done(&res);
        scenario_done(&sc);
}
