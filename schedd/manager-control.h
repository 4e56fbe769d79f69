/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the bus asks of the manager (manager-control.c): reading a VM's
 * state, and the changes `schedctl` makes.  Each change is checked whole
 * (the merged policy validated, admission control included) before
 * anything changes, and then applied at once; a refused change leaves the
 * running policy, the override file and the runtime overlay as they were.
 *
 * Persistent changes go to the override file (override.h) in the override
 * directory; runtime ones to Manager.runtime, laid over all files (as
 * /run/systemd/system.control is over /etc/systemd/system.control), so they
 * win until they are reset or schedd exits.  A persistent set of a key also
 * drops that key from the runtime overlay, so that the value just set is
 * the one in force.
 *
 * Errors: -errno with a ManagerError saying which kind of refusal it is
 * (the bus turns kinds into error names) and why, in the words of the
 * policy parser where it is about the policy.  Changes are logged; refused
 * requests are not (the caller hears why).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "manager-internal.h"

typedef enum ManagerErrorKind {
        MANAGER_ERROR_FAILED,          /* it could not be done: I/O, out of memory */
        MANAGER_ERROR_INVALID_POLICY,  /* a bad key or value, or a result that does not validate */
        MANAGER_ERROR_NO_SUCH_VM,      /* no VM of that name in the running policy */
        MANAGER_ERROR_NO_SUCH_PROCESS, /* MoveProcess: no such PID */
        MANAGER_ERROR_VM_NOT_RUNNING,  /* MoveProcess: the VM's cgroup is not there */
        MANAGER_ERROR_NOT_SUPPORTED,   /* a persistent change without an override directory */
        _MANAGER_ERROR_MAX,
} ManagerErrorKind;

typedef struct ManagerError {
        ManagerErrorKind kind;
        char message[1024];
} ManagerError;

/* A VM's CPU now, as the last tick left it (zero while it waits). */
typedef struct ManagerVmLive {
        bool managed;
        bool held;                 /* ran dry: held to its entitlement until refilled */
        bool bursting;             /* spending tokens above its allocation */
        uint64_t tokens_usec;      /* in its bucket (CPU-µs) */
        uint64_t bucket_usec;      /* the bucket's size */
        uint64_t entitlement_ucpu; /* what the bucket fills at (micro-CPUs) */
        uint64_t allocation_ucpu;  /* the fair allocation for its demand */
        uint64_t rate_ucpu;        /* allowed now: allocation plus burst */
        uint64_t ceiling_ucpu;     /* the hard ceiling */
        uint32_t weight;           /* cpu.weight written */
        uint64_t quota_usec;       /* cpu.max quota per CGROUP_CPU_PERIOD_USEC; 0: max */
        uint64_t usage_ucpu;       /* what it used in the last tick, as a rate */
        uint64_t throttles;        /* times it was held (released -> held) */
        uint64_t nr_throttled;     /* cpu.stat nr_throttled: the kernel's count of throttled periods */
} ManagerVmLive;

/* NULL if the running policy has no such VM. */
ManagerVm *manager_vm_by_name(const Manager *m, const char *name);
/* The VM's entry of the running (merged) policy. */
const VmPolicy *manager_vm_policy(const Manager *m, const ManagerVm *v);
void manager_vm_live(const Manager *m, const ManagerVm *v, ManagerVmLive *ret);

/* Sets keys[i] to values[i] for VM `vm`, all or none; persistent (the
 * override file) unless `runtime`.  0 or -errno. */
int manager_set_policy(Manager *m, const char *vm, char *const *keys, char *const *values, size_t n, bool runtime,
                       ManagerError *err);
/* Drops `keys` (none: every key) of VM `vm` from the override file and the
 * runtime overlay, back to what the admin's files say.  0 or -errno. */
int manager_reset_policy(Manager *m, const char *vm, char *const *keys, size_t n, ManagerError *err);
/* Loads the files again, as SIGHUP does.  0 or -errno. */
int manager_reload_policy(Manager *m, ManagerError *err);
/* Writes pid to the VM's cgroup.procs.  0 or -errno. */
int manager_move_process(Manager *m, pid_t pid, const char *vm, ManagerError *err);
/* Validates `text` as the policy file, as the running schedd would load it
 * (the override directory and the runtime overlay over it), against this
 * host.  0 and a one-line summary in `summary`, or -errno. */
int manager_validate_text(const Manager *m, const char *text, char *summary, size_t size, ManagerError *err);
