/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* schedctl's layers over the policy file in scenarios (tools/sim/layers.h):
 * nothing set, set and set --runtime, reset, what is refused. */

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "policy/keys.h"
#include "policy/parse.h"
#include "tools/sim/layers.h"

#define FILES "vms: { a: { cpu: { share: 2 } }, b: {} }\n"

static Policy files;

static void setup(void) {
        PolicyError err = {};

        policy_init(&files);
        cr_assert_eq(policy_parse_string(FILES, strlen(FILES), "p.yaml", &files, &err), 0, "%s", err.message);
}

static void teardown(void) {
        policy_done(&files);
}

/* A schedctl step as the scenario parser makes it (the keys only; argv is for messages). */
static ScenarioEvent step(ScenarioSchedctlVerb verb, const char *vm, bool runtime, char **keys, char **values,
                          size_t n) {
        return (ScenarioEvent){
                .kind = SCENARIO_EVENT_SCHEDCTL,
                .verb = verb,
                .vm = (char *)vm,
                .runtime = runtime,
                .keys = keys,
                .values = values,
                .n_keys = n,
        };
}

/* The value of vm's key in p, "" when unset. */
static const char *get(const Policy *p, const char *vm, const char *key) {
        static char buf[64];
        PolicyKey k;

        cr_assert_eq(policy_key_parse(vm, key, &k, NULL), 0);
        if (policy_get_key(p, vm, &k, buf, sizeof(buf)) < 0)
                buf[0] = '\0';
        return buf;
}

/* Applies e to *l (replaced on success); returns sim_layers_step()'s result. */
static int apply(SimLayers *l, const Policy *running, ScenarioEvent e, PolicyError *err) {
        SimLayers next;
        int r = sim_layers_step(l, running, &e, &next, err);

        if (r >= 0) {
                sim_layers_done(l);
                *l = next;
        }
        return r;
}

static void candidate(const SimLayers *l, Policy *ret) {
        policy_init(ret);
        cr_assert_eq(sim_layers_candidate(l, ret), 0);
}

Test(layers, nothing_set_is_the_file, .init = setup, .fini = teardown) {
        SimLayers l;
        Policy c;

        sim_layers_init(&l, &files);
        candidate(&l, &c);
        cr_assert_eq(c.n_vms, 2);
        cr_assert_str_eq(get(&c, "a", "share"), "2");
        cr_assert_str_eq(get(&c, "b", "share"), "");
        policy_done(&c);
        sim_layers_done(&l);
}

Test(layers, set_runtime_and_reset, .init = setup, .fini = teardown) {
        char *limit[] = {"limit"}, *twenty[] = {"20%"}, *forty[] = {"40%"}, *share[] = {"share"}, *five[] = {"5"};
        PolicyError err = {};
        SimLayers l;
        Policy c;

        sim_layers_init(&l, &files);
        cr_assert_eq(apply(&l, &files, step(SCENARIO_SCHEDCTL_SET, "a", false, limit, twenty, 1), &err), 0, "%s",
                     err.message);
        cr_assert_eq(apply(&l, &files, step(SCENARIO_SCHEDCTL_SET, "a", true, limit, forty, 1), &err), 0);
        cr_assert_eq(apply(&l, &files, step(SCENARIO_SCHEDCTL_SET, "b", true, share, five, 1), &err), 0);
        candidate(&l, &c);
        /* runtime over override over the file */
        cr_assert_str_eq(get(&c, "a", "limit"), "40%");
        cr_assert_str_eq(get(&c, "a", "share"), "2");
        cr_assert_str_eq(get(&c, "b", "share"), "5");
        cr_assert_str_eq(get(&l.override, "a", "limit"), "20%");
        policy_done(&c);

        /* a persistent set drops the runtime value of its key */
        cr_assert_eq(apply(&l, &files, step(SCENARIO_SCHEDCTL_SET, "a", false, limit, twenty, 1), &err), 0);
        cr_assert_null(policy_find_vm(&l.runtime, "a"), "a runtime entry that sets nothing goes");
        candidate(&l, &c);
        cr_assert_str_eq(get(&c, "a", "limit"), "20%");
        policy_done(&c);

        /* reset of one key, then of a whole VM */
        cr_assert_eq(apply(&l, &files, step(SCENARIO_SCHEDCTL_RESET, "a", false, limit, NULL, 1), &err), 0);
        cr_assert_null(policy_find_vm(&l.override, "a"));
        cr_assert_eq(apply(&l, &files, step(SCENARIO_SCHEDCTL_RESET, "b", false, NULL, NULL, 0), &err), 0);
        cr_assert_eq(l.override.n_vms + l.runtime.n_vms, 0);
        candidate(&l, &c);
        cr_assert_str_eq(get(&c, "a", "limit"), "");
        cr_assert_str_eq(get(&c, "b", "share"), "");
        policy_done(&c);
        sim_layers_done(&l);
}

Test(layers, refused, .init = setup, .fini = teardown) {
        char *share[] = {"share"}, *huge[] = {"10001"}, *bad[] = {"shares"}, *one[] = {"1"};
        PolicyError err = {};
        SimLayers l, untouched = {.files = &files};
        ScenarioEvent e;

        sim_layers_init(&l, &files);
        e = step(SCENARIO_SCHEDCTL_SET, "c", false, share, one, 1);
        cr_assert_eq(sim_layers_step(&l, &files, &e, &untouched, &err), -EINVAL);
        cr_assert_str_eq(err.message, "no VM named \"c\" in the policy");
        e = step(SCENARIO_SCHEDCTL_SET, "a", false, share, huge, 1);
        /* the parser's own code for a value out of range */
        int r = sim_layers_step(&l, &files, &e, &untouched, &err);
        cr_assert(r < 0 && r != -ENOMEM && r != -EOPNOTSUPP, "%d", r);
        cr_assert(strstr(err.message, "vms.a.cpu.share: 10001"), "%s", err.message);
        e = step(SCENARIO_SCHEDCTL_RESET, "a", false, bad, NULL, 1);
        cr_assert_eq(sim_layers_step(&l, &files, &e, &untouched, &err), -EINVAL);
        cr_assert(strstr(err.message, "vms.a.shares: unknown key"), "%s", err.message);
        e = step(SCENARIO_SCHEDCTL_QUERY, "a", false, NULL, NULL, 0);
        cr_assert_eq(sim_layers_step(&l, &files, &e, &untouched, &err), -EOPNOTSUPP);
        e = (ScenarioEvent){.kind = SCENARIO_EVENT_MOVE, .vm = (char *)"a"};
        cr_assert_eq(sim_layers_step(&l, &files, &e, &untouched, &err), -EOPNOTSUPP);
        cr_assert_eq(untouched.override.n_vms, 0, "output written on error");
        cr_assert_eq(l.override.n_vms + l.runtime.n_vms, 0, "the layers changed on error");
        sim_layers_done(&l);
}
