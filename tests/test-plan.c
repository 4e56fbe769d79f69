/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* What the real-kernel tier reads from the simulator: the scenario keys only
 * that tier uses (I/O loads, tiers, cgroup_files, io_bps and restored
 * expectations), the plan (tools/sim/plan.h) and the check of results
 * measured elsewhere (tools/sim/results.h). */

#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/sim/plan.h"
#include "tools/sim/results.h"
#include "tools/sim/scenario.h"

#define SEC 1000000ULL

static int parse(const char *text, Scenario *ret, PolicyError *err) {
        return scenario_parse_string(text, strlen(text), "t.yaml", ret, err);
}

static void expect_error(const char *text, const char *message) {
        Scenario sc = {.duration_usec = 4242};
        PolicyError err = {};

        cr_assert_eq(parse(text, &sc, &err), -EINVAL, "accepted:\n%s", text);
        cr_assert_str_eq(err.message, message);
        cr_assert_eq(sc.duration_usec, 4242, "output written on error");
}

/* The plan of `text`; the caller frees it. */
static char *plan_of(const char *text) {
        Scenario sc;
        PolicyError err = {};
        char *plan = NULL;

        cr_assert_eq(parse(text, &sc, &err), 0, "%s", err.message);
        cr_assert_eq(plan_write_string(&sc, &plan, &err), 0, "%s", err.message);
        scenario_done(&sc);
        return plan;
}

/* `line` is a whole line of `text`. */
static bool has_line(const char *text, const char *line) {
        size_t n = strlen(line);

        for (const char *p = text; (p = strstr(p, line)); p++)
                if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
                        return true;
        return false;
}

#define assert_line(text, line)    cr_assert(has_line(text, line), "no line \"%s\" in:\n%s", line, text)
#define assert_no_line(text, line) cr_assert(!has_line(text, line), "line \"%s\" in:\n%s", line, text)

/* ---- Scenario keys ---- */

static const char io_scenario[] = "duration: 10s\n"
                                  "tiers: [vm]\n"
                                  "host: { cpus: 2 }\n"
                                  "policy:\n"
                                  "  host: { devices: { ram0: { wbps: 40MB } } }\n"
                                  "  vms:\n"
                                  "    a: { io: { ram0: { wbps: { reserve: 30MB } } } }\n"
                                  "    b: { cpu: { share: 2, limit: 25% } }\n"
                                  "cgroup_files:\n"
                                  "  b: { cpu.max: \"30000 100000\", cpu.weight: \"250\" }\n"
                                  "load:\n"
                                  "  - { vm: a, io: ram0, from: 1s }\n"
                                  "  - { vm: b, threads: 2, to: 5s }\n"
                                  "expect:\n"
                                  "  io_bps: { a: 32.5MB }\n"
                                  "  restored: true\n";

Test(scenario_vm, io_loads_tiers_files_and_expectations) {
        Scenario sc;
        PolicyError err = {};

        cr_assert_eq(parse(io_scenario, &sc, &err), 0, "%s", err.message);
        cr_assert_eq(sc.tiers, SCENARIO_TIER_VM);
        cr_assert_eq(sc.n_load, 2);
        cr_assert_eq(sc.load[0].kind, SCENARIO_LOAD_IO);
        cr_assert_str_eq(sc.load[0].device, "ram0");
        cr_assert_eq(sc.load[0].threads, 0);
        cr_assert_eq(sc.load[0].from_usec, 1 * SEC);
        cr_assert_eq(sc.load[1].kind, SCENARIO_LOAD_CPU);
        cr_assert_null(sc.load[1].device);
        cr_assert_eq(sc.n_files, 2);
        cr_assert_str_eq(sc.files[0].vm, "b");
        cr_assert_str_eq(sc.files[0].file, "cpu.max");
        cr_assert_str_eq(sc.files[0].value, "30000 100000");
        cr_assert_eq(sc.files[0].loc.line, 10);
        cr_assert_eq(sc.expect.n_io_bps, 1);
        cr_assert_str_eq(sc.expect.io_bps[0].vm, "a");
        cr_assert_eq(sc.expect.io_bps[0].bytes_per_sec, 32500000);
        cr_assert(sc.expect.expect_restored);
        scenario_done(&sc);
        cr_assert_null(sc.files);

        /* without tiers: both */
        cr_assert_eq(parse("duration: 1s\nhost: { cpus: 1 }\npolicy: { vms: { a: {} } }\n", &sc, &err), 0, "%s",
                     err.message);
        cr_assert_eq(sc.tiers, SCENARIO_TIERS_ALL);
        cr_assert_eq(sc.n_files, 0);
        scenario_done(&sc);
}

#define HEAD                                                                                                          \
        "duration: 10s\nhost: { cpus: 2 }\npolicy: { host: { devices: { ram0: { wbps: 1MB } } }, vms: { a: {} } }\n"

Test(scenario_vm, bad_io_loads) {
        expect_error(HEAD "load: [ { vm: a, io: sda } ]\n",
                     "t.yaml:4:22: load[0].io: \"sda\" is not a device of any policy's host.devices");
        expect_error(HEAD "load: [ { vm: a, io: ram0, threads: 1 } ]\n",
                     "t.yaml:4:18: load[0].io: a load is either busy threads or an I/O writer, not both");
        expect_error(HEAD "load: [ { vm: a, io: [] } ]\n", "t.yaml:4:22: load[0].io: expected a scalar, got a list");
        expect_error(HEAD "load: [ { vm: a } ]\n", "t.yaml:4:9: load[0].threads: required key missing");
}

Test(scenario_vm, bad_tiers) {
        expect_error(HEAD "tiers: vm\n", "t.yaml:4:8: tiers: expected a list, got a scalar");
        expect_error(HEAD "tiers: []\n", "t.yaml:4:8: tiers: a scenario runs in at least one tier (sim, vm)");
        expect_error(HEAD "tiers: [vm, kvm]\n", "t.yaml:4:13: tiers: unknown tier \"kvm\" (expected sim or vm)");
        expect_error(HEAD "tiers: [vm, vm]\n", "t.yaml:4:13: tiers: a tier named twice");
}

Test(scenario_vm, what_the_simulator_cannot_check_needs_tiers_vm) {
        expect_error(HEAD "expect: { io_bps: { a: 1MB } }\n",
                     "t.yaml:4:11: expect.io_bps: the simulator does not model I/O: give the scenario tiers: [vm]");
        expect_error(HEAD "expect: { restored: true }\n",
                     "t.yaml:4:11: expect.restored: the simulator has no cgroup files to restore: give the scenario "
                     "tiers: [vm]");
        expect_error(HEAD "cgroup_files: { a: { cpu.weight: \"5\" } }\n",
                     "t.yaml:4:1: cgroup_files: the simulator does not model cgroup files written before the daemon: "
                     "give the scenario tiers: [vm]");
}

Test(scenario_vm, bad_expectations_and_files) {
        expect_error(HEAD "tiers: [vm]\nexpect: { io_bps: { a: fast } }\n",
                     "t.yaml:5:24: expect.io_bps.a: \"fast\" is not a number (a rate: 20MB, 5MiB)");
        expect_error(HEAD "tiers: [vm]\nexpect: { io_bps: { z: 1MB } }\n",
                     "t.yaml:5:21: expect.io_bps.z: \"z\" is not a VM of the policy");
        expect_error(HEAD "tiers: [vm]\nexpect: { restored: false }\n",
                     "t.yaml:5:21: expect.restored: only \"true\" makes sense here");
        expect_error(HEAD "tiers: [vm]\ncgroup_files: { a: { cpu.stat: \"1\" } }\n",
                     "t.yaml:5:22: cgroup_files.a.cpu.stat: unknown key (expected cpu.weight, cpu.max, cpu.max.burst, "
                     "io.max, memory.min or memory.max)");
        expect_error(HEAD "tiers: [vm]\ncgroup_files: { z: { cpu.weight: \"1\" } }\n",
                     "t.yaml:5:17: cgroup_files.z: \"z\" is not a VM of the policy");
        expect_error(HEAD "tiers: [vm]\ncgroup_files: { a: { cpu.weight: \"\" } }\n",
                     "t.yaml:5:34: cgroup_files.a.cpu.weight: expected a value of one line");
        expect_error(HEAD "tiers: [vm]\ncgroup_files: { a: { cpu.weight: [1] } }\n",
                     "t.yaml:5:34: cgroup_files.a.cpu.weight: expected a scalar, got a list");
}

/* ---- The plan ---- */

Test(plan, header_vms_files_loads_and_measure) {
        char *p = plan_of(io_scenario);

        cr_assert(strncmp(p, "scenario t.yaml\ncpus 2\nduration 10\ntick 10ms\ntiers vm\n", 52) == 0, "%s", p);
        assert_line(p, "vm a a present");
        assert_line(p, "vm b b present");
        assert_line(p, "file b cpu.max 30000 100000");
        assert_line(p, "file b cpu.weight 250");
        assert_line(p, "policy 0 0 valid");
        assert_line(p, "|   a:");
        assert_line(p, "loadgen io a /dev/ram0 1 10");
        assert_line(p, "loadgen cpu b 2 0 5");
        assert_line(p, "measure 0 10 a b");
        assert_line(p, "transitions no");
        free(p);
}

Test(plan, static_settings) {
        char *p = plan_of(io_scenario);

        /* unset share: 1; a reservation writes nothing */
        assert_line(p, "static 0 a cpu.weight 1");
        assert_line(p, "static 0 a cpu.max max 100000");
        assert_line(p, "static 0 a io.max ram0 rbps=max wbps=max riops=max wiops=max");
        /* share 2, limit 25 % of 2 CPUs: half a CPU, 50 ms of each 100 ms */
        assert_line(p, "static 0 b cpu.weight 2");
        assert_line(p, "static 0 b cpu.max 50000 100000");
        free(p);

        p = plan_of("duration: 1s\nhost: { cpus: 4 }\n"
                    "policy:\n"
                    "  host: { devices: { ram0: { wbps: 100MB, riops: 1000 } } }\n"
                    "  vms:\n"
                    "    z: { cpu: { reserve: 10%, share: 0 } }\n"
                    "    tiny: { cpu: { limit: 1m } }\n"
                    "    big: { cpu: { share: 10000, limit: 4 } }\n"
                    "    io: { io: { ram0: { wbps: { limit: 20MB }, riops: { limit: 500, reserve: 100 } } } }\n");
        /* share 0: 1, and its reservation no cap */
        assert_line(p, "static 0 z cpu.weight 1");
        assert_line(p, "static 0 z cpu.max max 100000");
        /* a thousandth of a CPU is 100 us a period: the kernel's minimum quota is 1 ms */
        assert_line(p, "static 0 tiny cpu.max 1000 100000");
        /* a limit of the whole host is no limit */
        assert_line(p, "static 0 big cpu.weight 10000");
        assert_line(p, "static 0 big cpu.max max 100000");
        assert_line(p, "static 0 io io.max ram0 rbps=max wbps=20000000 riops=500 wiops=max");
        free(p);
}

Test(plan, cgroups_that_come_and_go) {
        char *p = plan_of("duration: 10s\nhost: { cpus: 2 }\n"
                          "policy: { vms: { a: {}, late: {}, gone: {}, back: {}, moved: { cgroup: m.slice/x } } }\n"
                          "load:\n"
                          "  - { vm: late, threads: 2 }\n"
                          "  - { vm: gone, threads: 1, from: 1s }\n"
                          "  - { vm: back, threads: 3 }\n"
                          "  - { vm: a, threads: 0 }\n"
                          "events:\n"
                          "  - { at: 2s, cgroup_add: late }\n"
                          "  - { at: 2s, cgroup_remove: back }\n"
                          "  - { at: 2500ms, cgroup_add: a }\n"
                          "  - { at: 4s, cgroup_add: back }\n"
                          "  - { at: 4500ms, cgroup_add: back }\n"
                          "  - { at: 5s, cgroup_remove: gone }\n"
                          "measure: { from: 3s, to: 6s }\n");

        assert_line(p, "vm late late late");
        assert_line(p, "vm a a late");
        assert_line(p, "vm gone gone present");
        assert_line(p, "vm back back present");
        assert_line(p, "vm moved m.slice/x present");
        /* loads only while the cgroup exists; no line for zero threads */
        assert_line(p, "loadgen cpu late 2 2 10");
        assert_line(p, "loadgen cpu gone 1 1 5");
        assert_line(p, "loadgen cpu back 3 0 2");
        assert_line(p, "loadgen cpu back 3 4 10");
        cr_assert_null(strstr(p, "loadgen cpu a "), "%s", p);
        assert_line(p, "loadgen mkdir 2 late");
        assert_line(p, "loadgen rmdir 2 back");
        assert_line(p, "loadgen mkdir 2.5 a");
        assert_line(p, "loadgen mkdir 4 back");
        assert_line(p, "loadgen rmdir 5 gone");
        /* an add of a present cgroup changes nothing */
        assert_no_line(p, "loadgen mkdir 4.5 back");
        /* late from 2s covers [3s, 6s); gone and back change inside it */
        assert_line(p, "measure 3 6 a late m.slice/x");
        assert_line(p, "partial gone");
        assert_line(p, "partial back");
        free(p);

        p = plan_of("duration: 10s\nhost: { cpus: 2 }\npolicy: { vms: { a: {}, b: {} } }\n"
                    "events: [ { at: 1s, cgroup_remove: b }, { at: 7s, cgroup_add: b } ]\n"
                    "measure: { from: 1s, to: 7s }\n");
        /* an event at the window's start acts before it, one at its end after it */
        assert_line(p, "measure 1 7 a");
        assert_line(p, "absent b");
        free(p);
}

Test(plan, reloads_good_and_bad) {
        char *p = plan_of(
                "duration: 10s\nhost: { cpus: 2 }\n"
                "policy: { vms: { a: { cpu: { share: 1 } }, b: {} } }\n"
                "events:\n"
                "  - { at: 1500ms, policy: { vms: { a: { cpu: { reserve: 70% } }, b: { cpu: { reserve: 40% } } } } }\n"
                "  - { at: 3s, policy: { vms: { a: { cpu: { share: 5 } } } } }\n"
                "expect: { max_transitions_per_sec: 1 }\n");

        assert_line(p, "reload 1.5 1");
        assert_line(p, "reload 3 2");
        cr_assert(strstr(p, "\npolicy 1 1.5 invalid t.yaml: admission: cpu reservations total 2.2 CPUs (110%)"), "%s",
                  p);
        cr_assert_null(strstr(p, "static 1 "), "an invalid policy has no static settings:\n%s", p);
        assert_line(p, "policy 2 3 valid");
        assert_line(p, "static 2 a cpu.weight 5");
        /* a VM the reload drops goes back to the kernel's defaults */
        assert_line(p, "static 2 b cpu.weight 100");
        assert_line(p, "static 2 b cpu.max max 100000");
        assert_line(p, "transitions yes");
        free(p);
}

Test(plan, schedctl_steps_and_moves) {
        char *p = plan_of("duration: 6s\nhost: { cpus: 2 }\n"
                          "policy: { vms: { a: {}, b: {} } }\n"
                          "load: [ { vm: a, threads: 2 }, { vm: b, threads: 1 } ]\n"
                          "events:\n"
                          "  - { at: 1s, schedctl: \"set a share=3 limit=60%\" }\n"
                          "  - { at: 1500ms, schedctl: \"set b reserve=90% limit=50%\" }\n"
                          "  - { at: 2s, schedctl: \"set late share=2\" }\n"
                          "  - { at: 3s, policy: { vms: { a: {}, b: { cpu: { share: 2 } }, late: {} } } }\n"
                          "  - { at: 3s, schedctl: [status, a] }\n"
                          "  - { at: 4s, move: { load: 0, to: b } }\n"
                          "  - { at: 5s, schedctl: \"reset a\" }\n");

        /* one policy per set or reset, numbered with the reloads, in time order */
        assert_line(p, "policy 1 1 valid");
        assert_line(p, "static 1 a cpu.weight 3");
        assert_line(p, "static 1 a cpu.max 120000 100000");
        assert_line(p, "schedctl 1 1 ok set a share=3 limit=60%");
        /* a reservation over the limit: the whole policy is refused */
        cr_assert(strstr(p, "\npolicy 2 1.5 invalid schedctl set: vms.b.cpu"), "%s", p);
        assert_line(p, "schedctl 1.5 2 refused set b reserve=90% limit=50%");
        /* `late` is in the policy from 3s on only */
        assert_line(p, "policy 3 2 invalid no VM named \"late\" in the policy");
        assert_line(p, "schedctl 2 3 refused set late share=2");
        /* the reload's text is its file, its static settings keep the override */
        assert_line(p, "reload 3 4");
        assert_line(p, "policy 4 3 valid");
        assert_line(p, "|     cpu: { share: 2 }");
        assert_line(p, "static 4 a cpu.weight 3");
        assert_line(p, "static 4 b cpu.weight 2");
        assert_line(p, "schedctl 3 - ok status a");
        assert_line(p, "move 4 0 a b b");
        assert_line(p, "policy 5 5 valid");
        assert_line(p, "static 5 a cpu.weight 1");
        assert_line(p, "static 5 a cpu.max max 100000");
        assert_line(p, "schedctl 5 5 ok reset a");
        /* the load stays one loadgen line: the move is a line of its own */
        assert_line(p, "loadgen cpu a 2 0 6");
        free(p);
}

Test(plan, refused) {
        Scenario sc;
        PolicyError err = {};
        char *text = (char *)"untouched";

        cr_assert_eq(parse("duration: 1s\nhost: { cpus: 1500m }\npolicy: { vms: { a: {} } }\n", &sc, &err), 0);
        cr_assert_eq(plan_write_string(&sc, &text, &err), -EINVAL);
        cr_assert_str_eq(err.message, "t.yaml: host.cpus: 1.5 is not a whole number of CPUs, which a real host needs");
        cr_assert_str_eq(text, "untouched");
        scenario_done(&sc);

        cr_assert_eq(
                parse("duration: 1s\nhost: { cpus: 1 }\npolicy: { vms: { a: { cpu: { reserve: 2 } } } }\n", &sc, &err),
                0);
        cr_assert_eq(plan_write_string(&sc, &text, &err), -EINVAL);
        cr_assert(strstr(err.message, "vms.a.cpu.reserve"), "%s", err.message);
        cr_assert_str_eq(text, "untouched");
        scenario_done(&sc);
}

/* ---- Results ---- */

static int parse_json(const char *text, Results *ret, PolicyError *err) {
        return results_parse_json(text, strlen(text), "r.json", ret, err);
}

static void expect_json_error(const char *text, const char *message) {
        Results res = {.n_vms = 4242};
        PolicyError err = {};

        cr_assert_eq(parse_json(text, &res, &err), -EINVAL, "accepted: %s", text);
        cr_assert_str_eq(err.message, message);
        cr_assert_eq(res.n_vms, 4242, "output written on error");
}

Test(results, parse) {
        Results res;
        PolicyError err = {};

        cr_assert_eq(
                parse_json(" {\"duration_s\": 10, \"measure\": {\"from_s\": 1, \"x\": [1, [2, {}], \"s\", true]},\n"
                           "  \"utilization\": 9.9e-1, \"vms\": {\"a\": {\"cpu_fraction\": 0.25, \"io_bps\": 2E7,"
                           " \"transitions_per_sec\": null, \"held\": false},"
                           " \"\\u00e9\\ud83d\\ude00\": {}}, \"restored\": false, \"messages\": [\"a\\\"b\\n\"]} ",
                           &res, &err),
                0, "%s", err.message);
        cr_assert_float_eq(res.utilization, 0.99, 1e-12);
        cr_assert_eq(res.n_vms, 2);
        cr_assert_str_eq(res.vms[0].name, "a");
        cr_assert_float_eq(res.vms[0].cpu_fraction, 0.25, 1e-12);
        cr_assert_float_eq(res.vms[0].io_bps, 2e7, 1e-3);
        cr_assert(isnan(res.vms[0].transitions_per_sec));
        cr_assert_str_eq(res.vms[1].name, "\xc3\xa9\xf0\x9f\x98\x80");
        cr_assert(isnan(res.vms[1].cpu_fraction));
        cr_assert_eq(res.restored, 0);
        cr_assert_eq(results_find_vm(&res, "a"), &res.vms[0]);
        cr_assert_null(results_find_vm(&res, "b"));
        results_done(&res);
        cr_assert_eq(res.n_vms, 0);

        /* nothing known: nothing measured */
        cr_assert_eq(parse_json("{}", &res, &err), 0);
        cr_assert(isnan(res.utilization));
        cr_assert_eq(res.restored, -1);
        cr_assert_eq(res.n_vms, 0);
        results_done(&res);
}

Test(results, parse_errors) {
        expect_json_error("", "r.json:1:1: expected a JSON object");
        expect_json_error("[]", "r.json:1:1: expected a JSON object");
        expect_json_error("{\"a\": 1,}", "r.json:1:9: expected a string");
        expect_json_error("{\"a\" 1}", "r.json:1:6: expected ':'");
        expect_json_error("{} {}", "r.json:1:4: text after the JSON object");
        expect_json_error("{\"utilization\": \"1\"}", "r.json:1:17: expected a number");
        expect_json_error("{\"utilization\": 01}", "r.json:1:18: expected '}'");
        expect_json_error("{\"utilization\": 1.}", "r.json:1:17: expected a number");
        expect_json_error("{\"utilization\": 1e999}", "r.json:1:17: 1e999 is out of range");
        expect_json_error("{\"vms\": []}", "r.json:1:9: expected an object of VMs");
        expect_json_error("{\"vms\": {\"a\": 1}}", "r.json:1:15: expected an object of figures for VM \"a\"");
        expect_json_error("{\"vms\": {\"a\": {}, \"a\": {}}}", "r.json:1:24: VM \"a\" twice");
        expect_json_error("{\"restored\": yes}", "r.json:1:14: expected null");
        expect_json_error("{\"s\": \"a\\qb\"}", "r.json:1:9: unknown escape \\q");
        expect_json_error("{\"s\": \"\\ud800\"}", "r.json:1:14: a lone surrogate in a \\u escape");
        expect_json_error("{\"s\": \"\\u0000\"}", "r.json:1:14: a NUL character in a string");
        expect_json_error("{\"s\": \"a\nb\"}", "r.json:1:9: a control character in a string");
        expect_json_error("{\"s\": \"abc", "r.json:1:11: unterminated string");
        expect_json_error("{\n\"x\": tru}", "r.json:2:6: expected true");

        /* nesting is bounded */
        char deep[200] = "{\"x\":";
        for (int i = 0; i < 40; i++)
                strcat(deep, "[");
        expect_json_error(deep, "r.json:1:37: nested too deep");
}

/* The verdict lines of `res` against `scenario_text`. */
static size_t check(const char *scenario_text, const Results *res, double cpu_tol, CheckLine **ret) {
        Scenario sc;
        PolicyError err = {};
        size_t n = 0;

        cr_assert_eq(parse(scenario_text, &sc, &err), 0, "%s", err.message);
        cr_assert_eq(results_check(&sc, res, &(CheckTolerance){.cpu = cpu_tol, .io = 0.1}, ret, &n), 0);
        scenario_done(&sc);
        return n;
}

static const char cpu_scenario[] = "duration: 1s\nhost: { cpus: 2 }\npolicy: { vms: { a: {}, b: {}, c: {} } }\n"
                                   "expect:\n"
                                   "  tolerance: 0.01\n"
                                   "  cpu_fraction: { a: 0.25, b: 0.75, c: 0 }\n"
                                   "  utilization: 1\n"
                                   "  max_transitions_per_sec: 2\n";

Test(results, check_cpu) {
        Results res;
        CheckLine *l;
        size_t n;

        results_init(&res);
        res.utilization = 0.96;
        results_add_vm(&res, "a")->cpu_fraction = 0.29;
        results_add_vm(&res, "b")->cpu_fraction = 0.67;
        res.vms[1].transitions_per_sec = 2.5;
        results_add_vm(&res, "c")->transitions_per_sec = 0.5;

        /* the scenario's own tolerance */
        n = check(cpu_scenario, &res, -1, &l);
        cr_assert_eq(n, 5);
        cr_assert_str_eq(l[0].text, "FAIL cpu_fraction a: expected 0.25 +/- 0.01, got 0.2900");
        cr_assert_str_eq(l[1].text, "FAIL cpu_fraction b: expected 0.75 +/- 0.01, got 0.6700");
        cr_assert_str_eq(l[2].text, "FAIL cpu_fraction c: expected 0 +/- 0.01, not measured");
        cr_assert_str_eq(l[3].text, "FAIL utilization: expected 1 +/- 0.01, got 0.9600");
        cr_assert_str_eq(l[4].text, "FAIL max_transitions_per_sec: expected at most 2 per VM, got 2.500 (b)");
        free(l);

        /* a wider one; exactly at the edge passes */
        res.vms[0].cpu_fraction = 0.30;
        res.vms[1].transitions_per_sec = 2;
        n = check(cpu_scenario, &res, 0.05, &l);
        cr_assert_eq(n, 5);
        cr_assert(l[0].pass, "%s", l[0].text);
        cr_assert_str_eq(l[0].text, "PASS cpu_fraction a: expected 0.25 +/- 0.05, got 0.3000");
        cr_assert(!l[1].pass, "%s", l[1].text);
        cr_assert(!l[2].pass);
        cr_assert(l[3].pass, "%s", l[3].text);
        cr_assert(l[4].pass, "%s", l[4].text);
        free(l);

        /* transitions nowhere measured */
        for (size_t i = 0; i < res.n_vms; i++)
                res.vms[i].transitions_per_sec = NAN;
        n = check(cpu_scenario, &res, 0.05, &l);
        cr_assert_str_eq(l[4].text, "FAIL max_transitions_per_sec: expected at most 2 per VM, not measured");
        free(l);
        results_done(&res);
}

Test(results, check_io_and_restored) {
        static const char text[] = "duration: 1s\ntiers: [vm]\nhost: { cpus: 2 }\n"
                                   "policy: { host: { devices: { d: { wbps: 1G } } }, vms: { a: {}, b: {}, z: {} } }\n"
                                   "expect: { io_bps: { a: 20MB, b: 0, z: 1MB }, restored: true }\n";
        Results res;
        CheckLine *l;
        size_t n;

        results_init(&res);
        results_add_vm(&res, "a")->io_bps = 21999999; /* within 10 % of 20 MB/s */
        results_add_vm(&res, "b")->io_bps = 1;        /* nothing expected: any byte is too many */
        n = check(text, &res, 0.05, &l);
        cr_assert_eq(n, 4);
        cr_assert_str_eq(l[0].text, "PASS io_bps a: expected 20MB/s +/- 10%, got 21999999 B/s (1.100 of it)");
        cr_assert(!l[1].pass, "%s", l[1].text);
        cr_assert_str_eq(l[2].text, "FAIL io_bps z: expected 1MB/s +/- 10%, not measured");
        cr_assert_str_eq(l[3].text, "FAIL restored: expected every cgroup file back, not measured");
        free(l);

        res.vms[0].io_bps = 22000001;
        res.restored = 1;
        n = check(text, &res, 0.05, &l);
        cr_assert(!l[0].pass, "%s", l[0].text);
        cr_assert_str_eq(l[3].text, "PASS restored: expected every cgroup file back, they were");
        cr_assert(l[3].pass);
        free(l);

        /* files left changed fail every scenario that reports them, expected or not */
        res.restored = 0;
        n = check("duration: 1s\nhost: { cpus: 2 }\npolicy: { vms: { a: {} } }\nexpect: {}\n", &res, 0.05, &l);
        cr_assert_eq(n, 1);
        cr_assert_str_eq(l[0].text, "FAIL restored: expected every cgroup file back, some were left changed");
        free(l);
        results_done(&res);
}
