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
                     "cgroup_add or cgroup_remove");
        expect_error(HEAD "events: [ { at: 1s } ]\n",
                     "t.yaml:4:11: events[0]: an event needs one of policy, policy_file, cgroup_add, cgroup_remove");
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
        cr_assert_eq(res.vms[0].policy, &sc.policy.vms[0]);
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
