/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "model.h"

/*
 * Validation: turns a merged Policy into numbers the scheduler core uses,
 * checking everything that needs capacities.  Shared by the daemon, the
 * simulator, the tests and `schedctl validate`.
 *
 * Checks (each error names file:line:column and the dotted key, or for
 * admission control the resource, the total and the VMs):
 *   - a percentage needs a capacity (io percent on a device without that
 *     direction declared; net percent without interfaces);
 *   - reserve <= capacity, limit <= capacity, reserve <= limit;
 *   - an io device a VM names must be declared in host.devices;
 *   - memory: reserve <= limit;
 *   - admission control: for CPU, each device direction, net egress and
 *     memory, the sum of reservations must fit in the capacity:
 *       "f.yaml: admission: cpu reservations total 2.4 CPUs (120%) exceed the host's 2 CPUs: web 2 (f.yaml:7:22), db
 * 0.4 (f.yaml:9:22)"
 *   - two VMs may not name the same cgroup.
 */

/* The most VM-device pairs a policy resolves: each pair takes four
 * ResolvedResources (160 bytes), so this bounds that table at 160 MB; it is
 * 1,000 VMs on 1,000 devices, or 10 devices for 100,000 VMs, far beyond a host. */
#define VALIDATE_VM_DEVICE_PAIRS_MAX 1000000U

/* Facts about the machine, for "auto" capacities (passed in: validation is pure). */
typedef struct HostFacts {
        uint64_t cpus_ucpu;    /* online CPUs, in micro-CPUs */
        uint64_t memory_bytes; /* physical memory */
} HostFacts;

/* One token-bucket resource of one VM, resolved to rates.  "Rate" units:
 * CPU micro-CPUs (= CPU-usec per second), I/O bytes/s or ops/s, net bytes/s.
 * Burst in tokens (CPU-usec, bytes, ops). */
typedef struct ResolvedResource {
        bool configured;  /* the policy names this resource for this VM */
        uint64_t reserve; /* rate, 0 if none */
        uint64_t limit;   /* rate, == capacity if none */
        uint64_t burst;   /* tokens, 0 = no bucket */
        uint32_t share;   /* 0..10000, 1 if not given */
} ResolvedResource;

typedef struct ResolvedDevice {
        const char *name; /* points into the Policy */
        uint64_t cap[4];  /* per IoDir: bytes/s or ops/s, 0 if not declared */
} ResolvedDevice;

typedef struct ResolvedVm {
        const char *name;   /* points into the Policy */
        const char *cgroup; /* relative to the cgroup root (the VM's name if the policy names none); never NULL */
        bool create;
        const char *net_interface; /* NULL if none */
        ResolvedResource cpu;
        ResolvedResource *io; /* n_devices * 4, index [dev * 4 + dir]; configured only where named */
        ResolvedResource net; /* egress */
        uint64_t mem_min;     /* bytes, 0 if none */
        uint64_t mem_max;     /* bytes, 0 if none ("max") */
} ResolvedVm;

typedef struct ResolvedPolicy {
        uint64_t cpu_capacity;    /* micro-CPUs */
        uint64_t memory_capacity; /* bytes */
        uint64_t net_capacity;    /* bytes per second: sum of host.interfaces egress, 0 if none */
        ResolvedDevice *devices;
        size_t n_devices;
        ResolvedVm *vms;
        size_t n_vms;
} ResolvedPolicy;

/* 0 and *ret filled (free with resolved_policy_done()), or a negative errno
 * with err filled and *ret untouched.  The Policy must outlive *ret. */
int policy_validate(const Policy *p, const HostFacts *facts, ResolvedPolicy *ret, PolicyError *err);
void resolved_policy_done(ResolvedPolicy *r);

/* One line for `schedctl validate`: "3 VMs; cpu reserved 60% of 2 CPUs; ..." */
int resolved_policy_summary(const ResolvedPolicy *r, char *buf, size_t buf_size);

/*
 * Whether `path` can name a cgroup below the cgroup root: NULL if it can, or
 * what is wrong, as words that follow the quoted path in an error
 * ("must not contain . or ..").  Refused: an empty path, a leading "/", an
 * empty, "." or ".." component, a control character (the kernel refuses a
 * newline, and /proc/PID/cgroup could not show one), a component over
 * POLICY_CGROUP_COMPONENT_MAX bytes, and a component named like the
 * kernel's interface files, <controller>.<name> ("cpu.max", "cgroup.procs"),
 * which would be that file and not a cgroup.  `buf` holds the text when it
 * needs one.  Shared by the parser (for vms.VM.cgroup) and policy_validate()
 * (for every VM's cgroup, its name where it gives none).
 */
#define POLICY_CGROUP_COMPONENT_MAX 255 /* NAME_MAX: the longest name a directory entry can have */
const char *policy_cgroup_path_problem(const char *path, char *buf, size_t buf_size);

/* `s` in double quotes, with '"', '\\' and bytes below 0x20 or 0x7f
 * escaped (\n, \t, \xNN), cut to fit `buf`: for messages that show a path. */
const char *policy_quote(const char *s, char *buf, size_t buf_size);
