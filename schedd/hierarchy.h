/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The cgroups between the cgroup root and the VMs: pure, no I/O.
 *
 * cpu.weight only divides a parent's CPU among its children, so VMs under
 * different parents (machine.slice/web.scope, other.slice/late.scope) get
 * first what their parents get, and weights on the VMs alone cannot give
 * them the division the policy asks for.  The core sets each VM's weight
 * on one scale for the whole host (the capacity is 10000), so giving every
 * intermediate cgroup the sum of the weights of the VMs below it makes the
 * kernel's division level by level the same as if all VMs were siblings:
 * a parent takes, against its siblings, what its VMs would have taken.
 *
 * Only VMs that ran lately count: an idle VM's weight stays at its
 * entitlement (so that it has its part the moment it wakes), and counted
 * in its parent it would hand that part to its busy siblings instead of to
 * everyone.  When no VM below a parent ran lately, all of them count, so
 * that a VM waking alone under its parent finds the parent's part ready.
 *
 * An intermediate cgroup is every proper prefix (at a '/') of a VM's
 * cgroup path that is not itself a VM's cgroup; the cgroup root itself is
 * not one.  Its weight is the sum above, clamped to cpu.weight's range;
 * 0 means no managed VM is below it (the cgroup is left as it was found).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* cpu.weight's range (the kernel's CGROUP_WEIGHT_MIN and _MAX). */
#define HIERARCHY_WEIGHT_MIN 1U
#define HIERARCHY_WEIGHT_MAX 10000U

/* A VM that used no CPU for this long no longer counts in its parents'
 * weights.  Three ticks of 100 ms: under emulation a busy VM sometimes
 * shows no use over a whole tick (its CPU time arrives late, in a lump),
 * and dropping its parent's weight for that would shake its siblings. */
#define HIERARCHY_IDLE_USEC 300000ULL

typedef struct HierarchyVm {
        const char *cgroup; /* relative to the cgroup root, as the policy resolves it */
        bool managed;       /* its cgroup is there and its weight is schedd's */
        uint32_t weight;    /* cpu.weight schedd gives it (managed only) */
        uint64_t idle_usec; /* how long it has used no CPU (managed only) */
} HierarchyVm;

typedef struct HierarchyNode {
        char *cgroup;    /* relative to the cgroup root */
        uint32_t weight; /* 1..10000; 0: no managed VM below */
} HierarchyNode;

/* Whether a VM idle for idle_usec still counts in its parents' weights. */
bool hierarchy_vm_active(uint64_t idle_usec);

/*
 * The intermediate cgroups of `vms` and their weights, sorted by path (a
 * parent before its children).  Paths that are empty, absolute, or end in
 * or hold an empty component are -EINVAL.  0 and *ret_nodes (NULL when
 * there are none), *ret_n; or -EINVAL, -ENOMEM.
 */
int hierarchy_compute(const HierarchyVm *vms, size_t n_vms, HierarchyNode **ret_nodes, size_t *ret_n);
/* Frees what hierarchy_compute() returned; returns NULL. */
HierarchyNode *hierarchy_nodes_free(HierarchyNode *nodes, size_t n);

/* The nearest intermediate cgroup above `cgroup` among `nodes` (as
 * hierarchy_compute() returned them): its index, or -ENOENT (the cgroup is
 * a child of the root, or its parents are not among the nodes). */
int hierarchy_parent(const HierarchyNode *nodes, size_t n, const char *cgroup);
