/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The layers of the policy schedd runs, as `schedctl set` and `reset` change
 * them: the policy file (the scenario's initial policy or its last reload,
 * valid or not: it is what schedd would read), the override file `set`
 * writes, and the runtime changes of `set --runtime` over both.  The policy in
 * force is the last candidate (files + override + runtime) that validated.
 *
 * The rules are schedd's (schedd/manager-control.c): a set writes each key
 * into the override and drops it from the runtime layer; set --runtime writes
 * it into the runtime layer only; reset drops the keys (no key: every key of
 * the VM) from both; a VM entry left setting nothing goes.  A set or reset of
 * a VM the policy in force does not name is refused.  Both the simulator
 * (run.c) and the plan (plan.c) keep their layers here, so that both tiers
 * agree on what each step leaves in force.
 *
 * Pure: no I/O, no clock, no logging.
 */

#include "policy/error.h"
#include "policy/model.h"
#include "scenario.h"

typedef struct SimLayers {
        const Policy *files; /* not owned: a policy of the Scenario */
        Policy override;
        Policy runtime;
} SimLayers;

/* Layers over `files` with nothing set by schedctl. */
void sim_layers_init(SimLayers *l, const Policy *files);
void sim_layers_done(SimLayers *l);

/* files + override + runtime into *ret (policy_init()ed by the caller; replaced
 * on success).  0 or -ENOMEM. */
int sim_layers_candidate(const SimLayers *l, Policy *ret);

/*
 * The layers after schedctl step `e` (a set or reset), given the policy in
 * force `running`: 0 with *ret (free with sim_layers_done()), or -EINVAL with
 * err ("no VM named \"x\" in the policy", a key the parser refuses), -ENOMEM,
 * -EOPNOTSUPP for a step that changes nothing (list, status, get).  Whether
 * the resulting candidate validates is the caller's to check: *l stays as it
 * is until the caller replaces it.
 */
int sim_layers_step(const SimLayers *l, const Policy *running, const ScenarioEvent *e, SimLayers *ret,
                    PolicyError *err);
