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
 *     - { vm: db, io: ram0, from: 1s }   # one writer to a device of host.devices
 *   events:                         # optional, in time order
 *     - { at: 5s, policy: { vms: { ... } } }   # a reload; or policy_file: PATH
 *     - { at: 3s, cgroup_add: late }
 *     - { at: 6s, cgroup_remove: gone }
 *     - { at: 5s, schedctl: "set web share=3 limit=60%" }   # or a list of words
 *     - { at: 7s, move: { load: 0, to: db } }   # load: an index of `load`, or a VM with one load
 *   measure: { from: 3s, to: 10s }  # optional, the whole run by default
 *   expect:                         # optional, for `schedsim --check`
 *     tolerance: 0.02
 *     cpu_fraction: { web: 0.5 }
 *     utilization: 1.0
 *     max_transitions_per_sec: 2
 *     io_bps: { db: 20MB }          # bytes per second written (real kernel only)
 *     restored: true                # schedd gave every file back (real kernel only)
 *   tiers: [sim, vm]                # optional: where the scenario runs (default both)
 *   cgroup_files:                   # optional, real kernel only: written before schedd starts
 *     web: { cpu.weight: "250", cpu.max: "30000 100000" }
 *
 * Tiers: `sim` is schedsim, `vm` a real kernel (tests/vm/run-scenario).  The
 * simulator models CPU only: it runs I/O loads as idle (and says so), and a
 * scenario that expects what only a real kernel shows (io_bps, restored) or
 * sets cgroup_files must leave `sim` out of its tiers.
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
 * Control steps (what an administrator does with schedctl while the load runs):
 *
 *   schedctl: "VERB ARGS..."  the words of a schedctl command line, split at blanks
 *                             (a list of words is the same).  Verbs: `set VM KEY=VALUE...
 *                             [--runtime]` and `reset VM [KEY...]` change the policy as
 *                             schedd does (keys of policy/keys.h, each value checked
 *                             here by the policy parser); `list`, `status [VM]` and
 *                             `get VM [KEY]` change nothing (their output is for the
 *                             real kernel's log).  A set or reset that the policy then
 *                             in force refuses is reported, as schedd refuses it.
 *   move: { load: L, to: VM } the processes of load entry L move into VM's cgroup
 *                             (`schedctl move PID VM` on a real kernel): its threads
 *                             count for VM from then on.  L is the load's index (from
 *                             0) or the name of a VM with exactly one load entry.  The
 *                             load runs then (from < at < to) with busy threads; no
 *                             other load runs in the VM it leaves, so that a real
 *                             kernel can tell its processes; neither VM has cgroup
 *                             events.
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

typedef enum ScenarioLoadKind {
        SCENARIO_LOAD_CPU, /* busy threads */
        SCENARIO_LOAD_IO,  /* one writer to a block device */
} ScenarioLoadKind;

typedef struct ScenarioLoad {
        char *vm;
        ScenarioLoadKind kind;
        unsigned threads; /* SCENARIO_LOAD_CPU; 0 for I/O */
        char *device;     /* SCENARIO_LOAD_IO: a name of host.devices */
        uint64_t from_usec;
        uint64_t to_usec;
        SourceLoc loc;
} ScenarioLoad;

typedef enum ScenarioEventKind {
        SCENARIO_EVENT_POLICY,        /* the policy is replaced (a reload) */
        SCENARIO_EVENT_CGROUP_ADD,    /* the VM's cgroup appears */
        SCENARIO_EVENT_CGROUP_REMOVE, /* the VM's cgroup vanishes */
        SCENARIO_EVENT_SCHEDCTL,      /* a schedctl command */
        SCENARIO_EVENT_MOVE,          /* a load's processes move to another VM */
} ScenarioEventKind;

typedef enum ScenarioSchedctlVerb {
        SCENARIO_SCHEDCTL_SET,   /* set VM KEY=VALUE... [--runtime] */
        SCENARIO_SCHEDCTL_RESET, /* reset VM [KEY...] */
        SCENARIO_SCHEDCTL_QUERY, /* list, status, get: changes nothing */
} ScenarioSchedctlVerb;

typedef struct ScenarioEvent {
        ScenarioEventKind kind;
        uint64_t at_usec;
        Policy policy; /* SCENARIO_EVENT_POLICY */
        char *vm;      /* SCENARIO_EVENT_CGROUP_*; the VM set or reset; a move's destination */
        /* SCENARIO_EVENT_SCHEDCTL */
        char **argv; /* the command's words, the verb first; NULL-terminated */
        size_t argc;
        ScenarioSchedctlVerb verb;
        bool runtime;  /* set --runtime */
        char **keys;   /* set: the keys; reset: the keys named (none: every key of the VM) */
        char **values; /* set: the values, as keys */
        size_t n_keys;
        /* SCENARIO_EVENT_MOVE */
        size_t load; /* index into Scenario.load */
        SourceLoc loc;
} ScenarioEvent;

typedef struct ScenarioFraction {
        char *vm;
        double fraction;
        SourceLoc loc;
} ScenarioFraction;

/* An I/O rate a VM is expected to reach. */
typedef struct ScenarioRate {
        char *vm;
        uint64_t bytes_per_sec;
        SourceLoc loc;
} ScenarioRate;

/* One cgroup file a VM's cgroup holds before schedd starts. */
typedef struct ScenarioFile {
        char *vm;
        char *file;  /* one of SCENARIO_CGROUP_FILES */
        char *value; /* as written to the file */
        SourceLoc loc;
} ScenarioFile;

/* The files cgroup_files may set: those schedd writes and must give back. */
#define SCENARIO_CGROUP_FILES "cpu.weight", "cpu.max", "cpu.max.burst", "io.max", "memory.min", "memory.max"

typedef enum ScenarioTier {
        SCENARIO_TIER_SIM = 1 << 0, /* schedsim */
        SCENARIO_TIER_VM = 1 << 1,  /* a real kernel: tests/vm/run-scenario */
        SCENARIO_TIERS_ALL = SCENARIO_TIER_SIM | SCENARIO_TIER_VM,
} ScenarioTier;

typedef struct ScenarioExpect {
        bool present; /* the scenario has an `expect` */
        double tolerance;
        ScenarioFraction *cpu_fraction;
        size_t n_cpu_fraction;
        ScenarioRate *io_bps;
        size_t n_io_bps;
        bool expect_restored; /* restored: true */
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
        unsigned tiers;      /* ScenarioTier bits, never 0 */
        ScenarioFile *files; /* cgroup_files */
        size_t n_files;
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

/* Whether the event makes a cgroup appear or vanish. */
bool scenario_event_is_cgroup(const ScenarioEvent *e);

/* The VM (an index of s->vms) load entry `load` runs in from time t on: its own, or the
 * destination of its last move at or before t.  -ENOENT if a name is unknown. */
int scenario_load_vm_at(const Scenario *s, size_t load, uint64_t t_usec);

/* Whether the VM's cgroup exists at the start (its first cgroup event is not a cgroup_add). */
bool scenario_vm_starts_present(const Scenario *s, const char *name);
