/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Runs a scenario: the real scheduler core (schedd/sched.h) against the
 * simulated host (host.h), over simulated time, and collects what each VM
 * got.  Pure: no I/O, no clock; what the daemon would have logged (a reload
 * rejected, a write the kernel refused) is kept in the result's messages.
 *
 * At each instant t, in steps of SIMHOST_STEP_USEC, in this order:
 *   1. every tick, the daemon: for each VM in the core, SchedUsage.used is
 *      cpu.stat usage_usec since its previous tick and .throttled whether
 *      nr_throttled rose or its threads waited for a CPU (cpu.pressure,
 *      sched_cpu_waited()); sched_tick(); then each decision is written:
 *      cpu.weight = d->weight, cpu.max = sched_cpu_max_quota_usec() for the
 *      100 ms period (0: "max"), each only when it changes, and the
 *      cpu.weight of the cgroups above the VMs as schedd/hierarchy.h says;
 *   2. the end of the measure window (and of a timeline segment) is taken;
 *   3. the scenario's events at t: a policy reload (validated; an invalid
 *      one is reported and the old policy kept, as a bad reload is), a
 *      cgroup appearing or vanishing, a schedctl set or reset (the layers
 *      of layers.h; a refused one is reported), a load moving to another
 *      VM (its threads count there from this step on).  The daemon acts on them at its next
 *      tick, as it would: until then a new cgroup runs with the kernel's
 *      defaults and a changed VM with what was last written;
 *   4. the start of the measure window (and of a segment) is taken;
 *   5. the load at t sets each cgroup's runnable threads, and the host
 *      advances one step.
 *
 * The mapping from policy to core: one Sched in SCHED_MODE_WEIGHT with the
 * resolved cpu_capacity; per VM the resolved cpu reserve, limit, burst and
 * share.  A VM is in the core while the policy names it and its cgroup
 * exists.  A VM that a reload drops while its cgroup stays is handed back
 * to the kernel's defaults (cpu.weight 100, cpu.max "max").  The host's
 * cgroup tree follows the VMs' cgroup paths in the initial policy (a VM it
 * does not name: its name); the cgroups above them exist from the start.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/error.h"
#include "policy/model.h"
#include "scenario.h"

typedef struct SimVmResult {
        const char *name;       /* points into the Scenario */
        const VmPolicy *policy; /* as written, in SimResult.policy; NULL if not named */
        bool managed;           /* in the core at the window's end */
        /* over the measure window */
        uint64_t usage_usec;
        double cpu_fraction;     /* usage / (CPUs * window) */
        uint64_t nr_throttled;   /* cpu.max throttles (cpu.stat), over the window */
        uint64_t throttle_count; /* released->held transitions of the core, over the window */
        double transitions_per_sec;
        /* the core's state and what was written, at the window's end (0 when not managed) */
        uint64_t tokens;
        uint64_t bucket_size;
        uint64_t allocation;  /* micro-CPUs */
        uint64_t entitlement; /* micro-CPUs */
        uint64_t rate;        /* micro-CPUs */
        bool held;
        uint32_t weight;     /* cpu.weight */
        uint64_t quota_usec; /* cpu.max quota per 100 ms, 0 = "max" */
} SimVmResult;

/* One VM over one segment of the run. */
typedef struct SimSegmentVm {
        unsigned threads; /* the load during the segment */
        bool present;     /* its cgroup existed at the segment's end */
        bool managed;     /* in the core at the segment's end */
        double cpu_fraction;
        double promised; /* the core's allocation at the segment's end, as a fraction of the host */
} SimSegmentVm;

/* The run cut at the measure window, every change of load and every event: what a timeline shows. */
typedef struct SimSegment {
        uint64_t from_usec;
        uint64_t to_usec;
        SimSegmentVm *vms; /* n_vms entries, in the Scenario's order */
} SimSegment;

typedef struct SimResult {
        uint64_t duration_usec;
        uint64_t cpus_ucpu;
        uint64_t capacity; /* the core's capacity at the window's end, micro-CPUs */
        uint64_t measure_from_usec;
        uint64_t measure_to_usec;
        Policy policy;      /* the policy in force at the window's end: files, override, runtime */
        double utilization; /* sum of the VMs' cpu_fraction */
        SimVmResult *vms;   /* in the Scenario's order of VMs */
        size_t n_vms;
        SimSegment *segments;
        size_t n_segments;
        char **messages; /* what the daemon would have logged, "2.5s: ..." */
        size_t n_messages;
} SimResult;

/* 0 and *ret filled (free with sim_result_done(); it points into `sc`,
 * which must outlive it), or a negative errno with err filled: the
 * initial policy does not validate (policy_validate()'s error), or -ENOMEM. */
int sim_run(const Scenario *sc, SimResult *ret, PolicyError *err);
void sim_result_done(SimResult *r);

/* The result for a VM by name, or NULL. */
const SimVmResult *sim_result_vm(const SimResult *r, const char *name);
