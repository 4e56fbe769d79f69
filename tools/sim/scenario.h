/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Scenario files: a simulated host, a policy, the load each VM puts on the
 * host over time, events (policy reloads, cgroups appearing and vanishing),
 * the window to measure and what to expect there.
 *
 *   duration: 10s
 *   tick: 10ms                      # optional, the daemon's tick
 *   host: { cpus: 2 }
 *   policy: { vms: { ... } }        # or policy_file: PATH (relative to the scenario)
 *   load:
 *     - { vm: web, threads: 2 }     # from: 0s and to: duration by default
 *   events:                         # optional, in time order
 *     - { at: 5s, policy: { vms: { ... } } }   # a reload; or policy_file: PATH
 *     - { at: 3s, cgroup_add: late }
 *     - { at: 6s, cgroup_remove: gone }
 *   measure: { from: 3s, to: 10s }  # optional, the whole run by default
 *   expect:                         # optional, for `schedsim --check`
 *     tolerance: 0.02
 *     cpu_fraction: { web: 0.5 }
 *     utilization: 1.0
 *     max_transitions_per_sec: 2
 *
 * Parsing is strict, like the policy's: unknown keys, duplicate keys, wrong
 * types, bad durations and numbers, a VM named in `load`, an event or
 * `expect` that no policy of the scenario names, `from` not before `to`,
 * times outside the run or off the simulation step: each is an error
 * "file:line:column: key: what".
 *
 * A VM whose first cgroup event is `cgroup_add` starts without its cgroup;
 * every other VM's cgroup exists from the start.
 *
 * Policies are parsed here (an inline policy with a syntax error is an error
 * of the scenario); they are validated when the run applies them, as the
 * daemon does, so a reload whose policy does not validate is part of what a
 * scenario can show.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/error.h"
#include "policy/model.h"

/* The daemon's tick when the scenario names none: the daemon's default. */
#define SCENARIO_TICK_DEFAULT_USEC 10000ULL
/* The default and the largest tolerance of an expectation: two hundredths of
 * the host keep expectations meaningful on a 2-CPU host (0.04 CPUs). */
#define SCENARIO_TOLERANCE_MAX 0.02
/* The longest run: an hour of simulated time is 36 million steps, some
 * seconds of computing; anything longer is a mistake in a scenario. */
#define SCENARIO_DURATION_MAX_USEC (3600ULL * 1000000ULL)

typedef struct ScenarioLoad {
        char *vm;
        unsigned threads;
        uint64_t from_usec;
        uint64_t to_usec;
        SourceLoc loc;
} ScenarioLoad;

typedef enum ScenarioEventKind {
        SCENARIO_EVENT_POLICY,        /* the policy is replaced (a reload) */
        SCENARIO_EVENT_CGROUP_ADD,    /* the VM's cgroup appears */
        SCENARIO_EVENT_CGROUP_REMOVE, /* the VM's cgroup vanishes */
} ScenarioEventKind;

typedef struct ScenarioEvent {
        ScenarioEventKind kind;
        uint64_t at_usec;
        Policy policy; /* SCENARIO_EVENT_POLICY */
        char *vm;      /* SCENARIO_EVENT_CGROUP_* */
        SourceLoc loc;
} ScenarioEvent;

typedef struct ScenarioFraction {
        char *vm;
        double fraction;
        SourceLoc loc;
} ScenarioFraction;

typedef struct ScenarioExpect {
        bool present; /* the scenario has an `expect` */
        double tolerance;
        ScenarioFraction *cpu_fraction;
        size_t n_cpu_fraction;
        bool has_utilization;
        double utilization;
        bool has_max_transitions;
        double max_transitions_per_sec;
} ScenarioExpect;

typedef struct Scenario {
        char *file; /* as given, for messages */
        uint64_t duration_usec;
        uint64_t tick_usec;
        uint64_t cpus_ucpu; /* the simulated host's CPUs, in micro-CPUs */
        Policy policy;      /* the initial policy */
        ScenarioLoad *load;
        size_t n_load;
        ScenarioEvent *events; /* in time order */
        size_t n_events;
        uint64_t measure_from_usec;
        uint64_t measure_to_usec;
        ScenarioExpect expect;
        char **vms; /* every VM any policy of the scenario names, in order of appearance */
        size_t n_vms;
} Scenario;

/* Parse `len` bytes of scenario text; `file` names it in errors, and its
 * directory is where policy_file paths are looked up.  0 and *ret filled
 * (free with scenario_done()), or a negative errno with err filled and
 * *ret untouched. */
int scenario_parse_string(const char *text, size_t len, const char *file, Scenario *ret, PolicyError *err);

/* Read and parse a file: "file: cannot read: ..." when it cannot be read. */
int scenario_parse_file(const char *path, Scenario *ret, PolicyError *err);

void scenario_done(Scenario *s);

/* Index of a VM in s->vms, or -ENOENT. */
int scenario_vm_index(const Scenario *s, const char *name);
