/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "fileio.h"
#include "log.h"
#include "manager-internal.h"
#include "policy/parse.h"

static const ResolvedVm *resolved_find_vm(const ResolvedPolicy *rp, const char *name) {
        for (size_t i = 0; i < rp->n_vms; i++)
                if (strcmp(rp->vms[i].name, name) == 0)
                        return &rp->vms[i];
        return NULL;
}

static ManagerVm *manager_find_vm(const Manager *m, const char *name) {
        for (size_t i = 0; i < m->n_vms; i++)
                if (m->vms[i] && strcmp(m->vms[i]->name, name) == 0)
                        return m->vms[i];
        return NULL;
}

/* The controllers a policy needs at the cgroup root. */
static unsigned controllers_needed(const ResolvedPolicy *rp) {
        unsigned mask = CGROUP_CONTROLLER_CPU;

        for (size_t i = 0; i < rp->n_vms; i++) {
                const ResolvedVm *v = &rp->vms[i];

                if (v->mem_min > 0 || v->mem_max > 0)
                        mask |= CGROUP_CONTROLLER_MEMORY;
                for (size_t j = 0; j < rp->n_devices * _IO_DIR_MAX; j++)
                        if (v->io[j].configured)
                                mask |= CGROUP_CONTROLLER_IO;
        }
        return mask;
}

void manager_devices_free(ManagerDevice *d, size_t n) {
        for (size_t j = 0; d && j < n; j++) {
                for (int k = 0; k < _IO_DIR_MAX; k++)
                        sched_free(d[j].sched[k]);
                free(d[j].name);
        }
        free(d);
}

/* The same device in another table: the same name and number. */
static ssize_t device_find(const ManagerDevice *table, size_t n, const ManagerDevice *d) {
        for (size_t j = 0; j < n; j++)
                if (strcmp(table[j].name, d->name) == 0 && table[j].resolved == d->resolved &&
                    strcmp(table[j].devnum, d->devnum) == 0)
                        return (ssize_t)j;
        return -1;
}

/* The device table of a policy: names, capacities and numbers; no cores yet. */
static int devices_resolve(Manager *m, const ResolvedPolicy *rp, ManagerDevice **ret) {
        const char *sys = m->options.sys_class_block ?: CGROUP_SYS_CLASS_BLOCK;
        ManagerDevice *d = calloc(rp->n_devices ?: 1, sizeof(*d));

        if (!d)
                return -ENOMEM;
        for (size_t j = 0; j < rp->n_devices; j++) {
                int r;

                d[j].name = strdup(rp->devices[j].name);
                if (!d[j].name) {
                        manager_devices_free(d, rp->n_devices);
                        return -ENOMEM;
                }
                memcpy(d[j].cap, rp->devices[j].cap, sizeof(d[j].cap));

                r = cgroup_resolve_device(sys, d[j].name, &d[j].major, &d[j].minor);
                if (r < 0) {
                        log_warning_errno(r,
                                          "I/O device %s: cannot find its number in %s/%s/dev, so its limits are "
                                          "not enforced: %m",
                                          d[j].name, sys, d[j].name);
                        continue;
                }
                d[j].resolved = true;
                snprintf(d[j].devnum, sizeof(d[j].devnum), "%u:%u", d[j].major, d[j].minor);
        }
        *ret = d;
        return 0;
}

/* Sets a core's capacity in the right phase: before the VMs' settings change
 * when it grows, after when it shrinks, so that the core never holds a limit
 * over its capacity. */
static void capacity_phase(Sched *s, uint64_t old_cap, uint64_t new_cap, bool growing_phase, const char *what) {
        int r;

        if (!s || old_cap == new_cap || (new_cap > old_cap) != growing_phase)
                return;
        r = sched_set_capacity(s, new_cap);
        if (r < 0)
                log_error_errno(r, "The %s core refused its new capacity %" PRIu64 ": %m", what, new_cap);
}

/* What a policy change needs allocated before anything changes. */
typedef struct ApplyPlan {
        ManagerDevice *devices; /* the new device table, cores made where none carry over */
        size_t n_devices;
        ManagerVm **vms; /* the new VM table: staying VMs and new ones, in policy order */
        size_t n_vms;
        ManagerVmIo **io; /* per old VM (m->vms): its per-device state in the new table */
} ApplyPlan;

static void apply_plan_free(Manager *m, ApplyPlan *plan) {
        for (size_t i = 0; plan->vms && i < plan->n_vms; i++) {
                bool staying = false;

                for (size_t k = 0; k < m->n_vms; k++)
                        staying = staying || m->vms[k] == plan->vms[i];
                if (!staying)
                        manager_vm_free(plan->vms[i]);
        }
        free(plan->vms);
        for (size_t i = 0; plan->io && i < m->n_vms; i++)
                free(plan->io[i]);
        free(plan->io);
        manager_devices_free(plan->devices, plan->n_devices);
        *plan = (ApplyPlan){};
}

/* The VM of the running table that stays under the new policy entry: the
 * same name and the same cgroup. */
static ManagerVm *staying_vm(const Manager *m, const ResolvedVm *nrv, const char *cgroup) {
        ManagerVm *v = manager_find_vm(m, nrv->name);

        return v && strcmp(v->cgroup, cgroup) == 0 ? v : NULL;
}

static bool plan_has(const ApplyPlan *plan, const ManagerVm *v) {
        for (size_t i = 0; i < plan->n_vms; i++)
                if (plan->vms[i] == v)
                        return true;
        return false;
}

/* Everything that can fail, with no change to the running tables.  0 or -ENOMEM. */
static int apply_prepare(Manager *m, const ResolvedPolicy *rp, ApplyPlan *plan) {
        int r;

        *plan = (ApplyPlan){};
        r = devices_resolve(m, rp, &plan->devices);
        if (r < 0)
                return r;
        plan->n_devices = rp->n_devices;

        /* New cores where no running one carries over. */
        for (size_t j = 0; j < plan->n_devices; j++) {
                ssize_t o = device_find(m->devices, m->n_devices, &plan->devices[j]);

                for (int k = 0; k < _IO_DIR_MAX; k++) {
                        if (plan->devices[j].cap[k] == 0 || (o >= 0 && m->devices[o].sched[k]))
                                continue;
                        plan->devices[j].sched[k] = sched_new(SCHED_MODE_RATE, plan->devices[j].cap[k]);
                        if (!plan->devices[j].sched[k])
                                return -ENOMEM;
                }
        }

        plan->io = calloc(m->n_vms ?: 1, sizeof(*plan->io));
        if (!plan->io)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_vms; i++) {
                plan->io[i] = manager_vm_io_new(plan->n_devices);
                if (!plan->io[i])
                        return -ENOMEM;
        }

        plan->vms = calloc(rp->n_vms ?: 1, sizeof(*plan->vms));
        if (!plan->vms)
                return -ENOMEM;
        for (size_t i = 0; i < rp->n_vms; i++) {
                _cleanup_free_ char *cgroup = strdup(rp->vms[i].cgroup);
                ManagerVm *v;

                if (!cgroup)
                        return -ENOMEM;
                v = staying_vm(m, &rp->vms[i], cgroup);
                if (!v) {
                        v = calloc(1, sizeof(*v));
                        if (!v)
                                return -ENOMEM;
                        plan->vms[plan->n_vms++] = v;
                        v->cpu_slot = -1;
                        v->state = MANAGER_VM_WAITING;
                        v->name = strdup(rp->vms[i].name);
                        v->cgroup = TAKE_PTR(cgroup);
                        v->io = manager_vm_io_new(plan->n_devices);
                        if (!v->name || !v->io)
                                return -ENOMEM;
                } else
                        plan->vms[plan->n_vms++] = v;
        }
        return 0;
}

/* A staying VM moves to the new device table: its slots where it keeps the
 * device direction, out of the core where it does not, io.max back on
 * devices it no longer uses.  `io` is its prepared new state. */
static void vm_move_io(Manager *m, ManagerVm *v, const ResolvedVm *nrv, const ApplyPlan *plan, ManagerVmIo *io) {
        for (size_t o = 0; o < m->n_devices; o++) {
                ssize_t j = device_find(plan->devices, plan->n_devices, &m->devices[o]);
                bool uses = false;

                for (int k = 0; k < _IO_DIR_MAX; k++) {
                        int slot = v->io[o].slot[k];

                        if (slot < 0)
                                continue;
                        if (j >= 0 && plan->devices[j].cap[k] > 0 && nrv->io[j * _IO_DIR_MAX + (size_t)k].configured) {
                                io[j].slot[k] = slot;
                                uses = true;
                        } else
                                (void)sched_remove(m->devices[o].sched[k], slot);
                }
                if (j >= 0) {
                        io[j].last = v->io[o].last;
                        io[j].have_last = v->io[o].have_last;
                }
                if (!uses && manager_vm_in_device(v, o) && m->devices[o].resolved)
                        (void)manager_vm_undo(v, CGROUP_FILE_IO_MAX, m->devices[o].devnum);
        }
        free(v->io);
        v->io = io;
}

/* Capacities that grow, then the staying VMs' new settings, then
 * capacities that shrink: the cores never hold a limit over their capacity. */
static void apply_settings(Manager *m, const ResolvedPolicy *rp, const ApplyPlan *plan) {
        for (int phase = 0; phase < 3; phase++) {
                if (phase != 1) {
                        bool growing = phase == 0;

                        capacity_phase(m->cpu, m->cpu_capacity, rp->cpu_capacity, growing, "CPU");
                        for (size_t j = 0; j < plan->n_devices; j++) {
                                ssize_t o = device_find(m->devices, m->n_devices, &plan->devices[j]);

                                for (int k = 0; k < _IO_DIR_MAX; k++)
                                        if (o >= 0 && m->devices[o].cap[k] > 0)
                                                capacity_phase(plan->devices[j].sched[k], m->devices[o].cap[k],
                                                               plan->devices[j].cap[k], growing,
                                                               plan->devices[j].name);
                        }
                        continue;
                }

                for (size_t i = 0; i < plan->n_vms; i++) {
                        ManagerVm *v = plan->vms[i];
                        const ResolvedVm *nrv = &rp->vms[i];
                        SchedParams p;
                        int r;

                        if (v->state != MANAGER_VM_MANAGED)
                                continue;
                        p = manager_params_of(&nrv->cpu);
                        r = sched_update(m->cpu, v->cpu_slot, &p);
                        if (r < 0)
                                log_error_errno(r, "VM %s: the CPU core refused its new settings: %m", v->name);
                        for (size_t j = 0; j < plan->n_devices; j++)
                                for (int k = 0; k < _IO_DIR_MAX; k++) {
                                        if (v->io[j].slot[k] < 0)
                                                continue;
                                        p = manager_params_of(&nrv->io[j * _IO_DIR_MAX + (size_t)k]);
                                        r = sched_update(plan->devices[j].sched[k], v->io[j].slot[k], &p);
                                        if (r < 0)
                                                log_error_errno(r,
                                                                "VM %s: the I/O core of %s %s refused its new "
                                                                "settings: %m",
                                                                v->name, plan->devices[j].name, io_dir_to_string(k));
                                }
                }
        }
        m->cpu_capacity = rp->cpu_capacity;
}

/*
 * Makes a validated policy the running one.  VMs that stay keep their
 * tokens; VMs that leave (or move to another cgroup) get their files back;
 * new VMs are attached.  Everything that can fail is allocated first, so
 * that an -ENOMEM leaves the running tables as they were.  Takes over
 * *policy and *rp on success (they are left empty).  Other errors are
 * logged and skipped.
 */
static int manager_apply(Manager *m, Policy *policy, ResolvedPolicy *rp) {
        ApplyPlan plan;
        int r;

        if (!m->cpu) {
                m->cpu = sched_new(SCHED_MODE_WEIGHT, rp->cpu_capacity);
                if (!m->cpu)
                        return log_error_errno(ENOMEM, "Out of memory");
                m->cpu_capacity = rp->cpu_capacity;
        }
        r = apply_prepare(m, rp, &plan);
        if (r < 0) {
                apply_plan_free(m, &plan);
                return log_error_errno(r, "Out of memory");
        }

        /* VMs that leave give their files back and leave the cores, while
         * the tables are the old ones; staying VMs move to the new table. */
        for (size_t i = 0; i < m->n_vms; i++) {
                ManagerVm *v = m->vms[i];

                if (plan_has(&plan, v)) {
                        for (size_t k = 0; k < plan.n_vms; k++)
                                if (plan.vms[k] == v)
                                        vm_move_io(m, v, &rp->vms[k], &plan, TAKE_PTR(plan.io[i]));
                        continue;
                }
                if (v->state == MANAGER_VM_MANAGED)
                        log_info("VM %s: %s; restoring cgroup %s", v->name,
                                 resolved_find_vm(rp, v->name) ? "moved to another cgroup" : "no longer in the policy",
                                 v->cgroup);
                /* Its slots in cores that carry over must go too: release
                 * takes it out of every running core. */
                manager_vm_release(m, v, true);
                manager_net_leave(m, v);
                m->vms[i] = manager_vm_free(v);
        }

        /* Cores that carry over move to the new table; the rest go with the old one. */
        for (size_t j = 0; j < plan.n_devices; j++) {
                ssize_t o = device_find(m->devices, m->n_devices, &plan.devices[j]);

                for (int k = 0; o >= 0 && k < _IO_DIR_MAX; k++)
                        if (plan.devices[j].cap[k] > 0 && m->devices[o].sched[k] && !plan.devices[j].sched[k])
                                plan.devices[j].sched[k] = TAKE_PTR(m->devices[o].sched[k]);
        }

        apply_settings(m, rp, &plan);

        /* The new tables and the new policy; the VMs point into its resolved table. */
        manager_devices_free(m->devices, m->n_devices);
        m->devices = TAKE_PTR(plan.devices);
        m->n_devices = plan.n_devices;
        for (size_t i = 0; i < m->n_vms; i++)
                free(plan.io[i]); /* prepared for VMs that left */
        free(plan.io);
        free(m->vms);
        m->vms = TAKE_PTR(plan.vms);
        m->n_vms = plan.n_vms;

        if (m->have_policy) {
                resolved_policy_done(&m->resolved);
                policy_done(&m->policy);
        }
        m->policy = *policy;
        m->resolved = *rp;
        m->have_policy = true;
        policy_init(policy);
        *rp = (ResolvedPolicy){};
        for (size_t i = 0; i < m->n_vms; i++)
                m->vms[i]->rv = &m->resolved.vms[i];

        /* Managed VMs join the I/O cores they are new to and get their
         * memory settings; waiting ones are looked for. */
        for (size_t i = 0; i < m->n_vms; i++) {
                ManagerVm *v = m->vms[i];

                if (v->state != MANAGER_VM_MANAGED)
                        continue;
                r = manager_vm_join_io(m, v);
                if (r < 0)
                        return r;
                manager_vm_apply_memory(v);
        }
        r = manager_attach_waiting(m, true);
        if (r < 0)
                return r;
        r = manager_net_apply(m);
        if (r < 0)
                return r;
        manager_scan_update(m);
        return 0;
}

/* Loads the policy files, with the runtime overlay (manager-control.c) over them. */
static int manager_load_policy(Manager *m, Policy *ret_policy, PolicyError *err) {
        Policy policy;
        int r;

        policy_init(&policy);
        r = policy_load(m->config->policy_path, m->config->override_dir, &policy, err);
        if (r >= 0 && policy_merge(&policy, &m->runtime) < 0)
                r = policy_error(err, -ENOMEM, NULL, NULL, "out of memory");
        if (r < 0) {
                policy_done(&policy);
                return r;
        }
        *ret_policy = policy;
        return 0;
}

/* Checks (and enables) at the root the controllers a policy needs. */
static int manager_check_controllers(Manager *m, const ResolvedPolicy *rp, PolicyError *err) {
        unsigned needed = controllers_needed(rp);
        int r;

        if (!m->config->schedule_cpu)
                needed &= ~(unsigned)CGROUP_CONTROLLER_CPU;
        if ((m->controllers & needed) == needed)
                return 0;
        r = cgroup_root_check(m->root_fd, m->config->cgroup_root, needed, err->message, sizeof(err->message));
        if (r < 0)
                return r;
        m->controllers |= needed;
        return 0;
}

int manager_check_policy(Manager *m, const Policy *policy, ResolvedPolicy *ret, PolicyError *err) {
        ResolvedPolicy rp = {};
        int r;

        r = policy_validate(policy, &m->facts, &rp, err);
        if (r < 0)
                return r;
        r = manager_check_controllers(m, &rp, err);
        if (r < 0) {
                resolved_policy_done(&rp);
                return r;
        }
        *ret = rp;
        return 0;
}

static void log_policy(const Manager *m, const char *what) {
        char summary[512];

        if (resolved_policy_summary(&m->resolved, summary, sizeof(summary)) < 0)
                summary[0] = '\0';
        log_info("%s %s: %s", what, m->config->policy_path, summary);
}

int manager_commit_policy(Manager *m, Policy *policy, ResolvedPolicy *rp, const char *what) {
        int r;

        r = manager_apply(m, policy, rp);
        resolved_policy_done(rp);
        policy_done(policy);
        if (r < 0)
                return r;
        log_policy(m, what);
        return 0;
}

int manager_apply_files(Manager *m, const char *what, PolicyError *err) {
        Policy policy;
        ResolvedPolicy rp;
        int r;

        r = manager_load_policy(m, &policy, err);
        if (r < 0)
                return r;
        r = manager_check_policy(m, &policy, &rp, err);
        if (r < 0) {
                policy_done(&policy);
                return r;
        }
        r = manager_commit_policy(m, &policy, &rp, what);
        if (r < 0)
                return policy_error(err, r, NULL, NULL, "out of memory");
        return 0;
}

int manager_apply_policy_files(Manager *m, const char *what) {
        int r;

        r = manager_apply_files(m, what, &m->policy_error);
        if (r < 0) {
                log_error_errno(r, "%s", m->policy_error.message);
                if (m->have_policy)
                        log_error("The policy was not applied; the running policy stays");
        }
        return r;
}

int manager_reload(Manager *m) {
        int r;

        (void)sd_notify(0, "RELOADING=1\nSTATUS=Reloading the policy");
        r = manager_apply_policy_files(m, "Reloaded");
        m->reloads++; /* metrics */
        if (r < 0)
                m->reload_failures++;
        (void)sd_notify(0, "READY=1");
        m->last_status_usec = 0; /* a fresh STATUS= at the next tick */
        return r;
}
