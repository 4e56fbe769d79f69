/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The cgroups between the cgroup root and the VMs (hierarchy.h): each gets
 * the sum of the cpu.weight of the VMs below it, so that the kernel, which
 * divides the CPU parent by parent, divides it as if the VMs were siblings.
 * Their files go through the same restore records as the VMs' own (state
 * files named after their paths), so SIGTERM gives them back and a start
 * after a crash reconciles them before anything else.
 */

#include <errno.h>
#include <string.h>
#include <sys/types.h>

#include "fileio.h"
#include "hierarchy.h"
#include "log.h"
#include "manager-internal.h"

static ManagerAncestor *ancestor_free(ManagerAncestor *a) {
        if (!a)
                return NULL;
        cgroup_vm_free(a->cg);
        restore_vm_free(a->restore);
        free(a->cgroup);
        free(a);
        return NULL;
}

/* Ends management of table entry i: `restore` writes the original back,
 * otherwise (its cgroup is gone, or schedd stops without restoring) the
 * record is dropped or kept on disk. */
static void ancestor_release(Manager *m, size_t i, bool restore, bool gone) {
        ManagerAncestor *a = m->ancestors[i];
        int r = 0;

        if (gone)
                r = restore_vm_discard(a->restore);
        else if (restore)
                r = restore_vm_undo(a->restore, a->cg);
        if (r < 0)
                log_warning_errno(r,
                                  "Cannot restore cpu.weight of cgroup %s (what is left is kept in %s for the next "
                                  "start): %m",
                                  a->cgroup, m->config->state_dir);
        ancestor_free(a);
        memmove(m->ancestors + i, m->ancestors + i + 1, (m->n_ancestors - i - 1) * sizeof(*m->ancestors));
        m->n_ancestors--;
}

static ssize_t ancestor_find(const Manager *m, const char *cgroup) {
        for (size_t i = 0; i < m->n_ancestors; i++)
                if (strcmp(m->ancestors[i]->cgroup, cgroup) == 0)
                        return (ssize_t)i;
        return -1;
}

/* Opens a parent's cgroup and its restore record, into the table.  0, -ENODEV
 * (not there), -ENOMEM, other -errno. */
static int ancestor_add(Manager *m, const char *cgroup) {
        ManagerAncestor *a, **grown;
        int r;

        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->cgroup = strdup(cgroup);
        if (!a->cgroup) {
                ancestor_free(a);
                return -ENOMEM;
        }
        r = cgroup_vm_open(m->root_fd, cgroup, false, &a->cg);
        if (r >= 0)
                r = restore_vm_new(m->state_fd, cgroup, &a->restore);
        if (r >= 0) {
                grown = realloc(m->ancestors, (m->n_ancestors + 1) * sizeof(*grown));
                r = grown ? 0 : -ENOMEM;
                if (grown)
                        m->ancestors = grown;
        }
        if (r < 0) {
                ancestor_free(a);
                return r;
        }
        m->ancestors[m->n_ancestors++] = a;
        return 0;
}

/* Writes the weight to table entry i.  0, or -ENODEV (its cgroup is gone). */
static int ancestor_write(Manager *m, size_t i, uint32_t weight) {
        ManagerAncestor *a = m->ancestors[i];
        char buf[32];
        int r;

        if (a->weight == weight)
                return 0;
        (void)cgroup_format_weight(weight, buf, sizeof(buf));
        r = restore_vm_write(a->restore, a->cg, CGROUP_FILE_CPU_WEIGHT, buf);
        if (r == -ENODEV)
                return r;
        if (r < 0) {
                if (!a->warned)
                        log_warning_errno(r, "Cannot write \"%s\" to %s/%s/cpu.weight: %m", buf,
                                          m->config->cgroup_root, a->cgroup);
                a->warned = true;
                a->weight = 0;
                return 0;
        }
        a->warned = false;
        a->weight = weight;
        return 0;
}

void manager_hierarchy_sync(Manager *m) {
        _cleanup_free_ HierarchyVm *hv = NULL;
        HierarchyNode *nodes = NULL;
        size_t n_nodes = 0;
        bool any_nested = false;
        int r;

        for (size_t i = 0; i < m->n_vms; i++)
                any_nested = any_nested || strchr(m->vms[i]->cgroup, '/');
        if (!m->config->schedule_cpu || !any_nested) {
                manager_hierarchy_release(m, true);
                return;
        }

        hv = calloc(m->n_vms, sizeof(*hv));
        if (!hv) {
                log_warning_errno(ENOMEM, "Cannot compute the weights of the VMs' parent cgroups: %m");
                return;
        }
        for (size_t i = 0; i < m->n_vms; i++) {
                const ManagerVm *v = m->vms[i];
                bool managed = v->state == MANAGER_VM_MANAGED && !v->gone && v->cpu_slot >= 0;

                hv[i] = (HierarchyVm){
                        .cgroup = v->cgroup,
                        .managed = managed,
                        .weight = !managed          ? 0
                                  : v->cpu_enforced ? v->enforced_weight
                                                    : sched_decision(m->cpu, v->cpu_slot)->weight,
                        .idle_usec = (uint64_t)v->idle_ticks * m->tick_usec,
                };
        }
        r = hierarchy_compute(hv, m->n_vms, &nodes, &n_nodes);
        if (r < 0) {
                log_warning_errno(r, "Cannot compute the weights of the VMs' parent cgroups: %m");
                return;
        }

        /* Parents no managed VM is below any more (or no VM at all) first. */
        for (size_t i = 0; i < m->n_ancestors;) {
                bool keep = false;

                for (size_t k = 0; k < n_nodes && !keep; k++)
                        keep = nodes[k].weight > 0 && strcmp(nodes[k].cgroup, m->ancestors[i]->cgroup) == 0;
                if (keep)
                        i++;
                else
                        ancestor_release(m, i, true, false);
        }

        /* Parents first (the nodes are sorted), so a parent that is gone takes its children with it. */
        for (size_t k = 0; k < n_nodes; k++) {
                ssize_t i;

                if (nodes[k].weight == 0)
                        continue;
                i = ancestor_find(m, nodes[k].cgroup);
                if (i < 0) {
                        r = ancestor_add(m, nodes[k].cgroup);
                        if (r == -ENODEV)
                                continue; /* a VM below is about to be found gone */
                        if (r < 0) {
                                log_warning_errno(r, "Cannot manage cgroup %s/%s: %m", m->config->cgroup_root,
                                                  nodes[k].cgroup);
                                continue;
                        }
                        log_info("Managing cpu.weight of cgroup %s/%s, a parent of VMs", m->config->cgroup_root,
                                 nodes[k].cgroup);
                        i = (ssize_t)m->n_ancestors - 1;
                }
                if (ancestor_write(m, (size_t)i, nodes[k].weight) == -ENODEV)
                        ancestor_release(m, (size_t)i, false, true);
        }
        hierarchy_nodes_free(nodes, n_nodes);
}

void manager_hierarchy_yield(Manager *m) {
        for (size_t i = 0; i < m->n_ancestors;) {
                bool is_vm = false;

                for (size_t j = 0; j < m->n_vms && !is_vm; j++)
                        is_vm = strcmp(m->vms[j]->cgroup, m->ancestors[i]->cgroup) == 0;
                if (is_vm)
                        ancestor_release(m, i, true, false);
                else
                        i++;
        }
}

void manager_hierarchy_release(Manager *m, bool restore) {
        /* Deepest first: the reverse of the order they were added in. */
        while (m->n_ancestors > 0)
                ancestor_release(m, m->n_ancestors - 1, restore, false);
        free(m->ancestors);
        m->ancestors = NULL;
}
