/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fileio.h"
#include "manager-internal.h"
#include "policy/units.h"

/* The host context: what the VMs left of the capacity in the last tick. */
void manager_account_host(Manager *m) {
        unsigned __int128 capacity_usec = (unsigned __int128)m->cpu_capacity * m->elapsed_usec / USEC_PER_SEC;
        unsigned __int128 vms_usec = 0;

        for (size_t i = 0; i < m->n_vms; i++)
                if (m->vms[i]->state == MANAGER_VM_MANAGED)
                        vms_usec += m->vms[i]->cpu_used_usec;
        m->host_used_usec = capacity_usec > vms_usec ? (uint64_t)(capacity_usec - vms_usec) : 0;
}

/* "3 VMs, 1 held, tick 10ms" (", 1 waiting" where VMs wait). */
void manager_format_status(const Manager *m, char *buf, size_t size) {
        char tick[UNIT_FORMAT_MAX];
        size_t held = 0, waiting = 0;
        int n;

        for (size_t i = 0; i < m->n_vms; i++) {
                const ManagerVm *v = m->vms[i];

                if (v->state == MANAGER_VM_WAITING)
                        waiting++;
                else if (sched_decision(m->cpu, v->cpu_slot)->held)
                        held++;
        }
        n = snprintf(buf, size, "%zu %s, %zu held, tick %s", m->n_vms, m->n_vms == 1 ? "VM" : "VMs", held,
                     unit_format_duration(m->tick_usec, tick, sizeof(tick)));
        if (n > 0 && (size_t)n < size && waiting > 0)
                snprintf(buf + n, size - (size_t)n, ", %zu waiting", waiting);
}

/* The statistics file (--stats-file), for tests and harnesses: one line
 * per VM of "key=value" words. */
int manager_write_stats(Manager *m, uint64_t now) {
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int dir_fd = -1;
        const char *base;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f,
                "ticks=%" PRIu64 " now_usec=%" PRIu64 " tick_usec=%" PRIu64 " elapsed_usec=%" PRIu64
                " cpu_capacity=%" PRIu64 "\n",
                m->ticks, now, m->tick_usec, m->elapsed_usec, m->cpu_capacity);
        fprintf(f, "host cpu_used_usec=%" PRIu64 "\n", m->host_used_usec);
        for (size_t i = 0; i < m->n_vms; i++) {
                const ManagerVm *v = m->vms[i];

                fprintf(f, "vm %s cgroup=%s state=%s", v->name, v->cgroup,
                        v->state == MANAGER_VM_MANAGED ? "managed" : "waiting");
                if (v->state == MANAGER_VM_MANAGED) {
                        const SchedDecision *d = sched_decision(m->cpu, v->cpu_slot);
                        const TokenBucket *b = sched_bucket(m->cpu, v->cpu_slot);

                        fprintf(f,
                                " cpu_used_usec=%" PRIu64 " throttled=%d rate=%" PRIu64 " allocation=%" PRIu64
                                " entitlement=%" PRIu64 " ceiling=%" PRIu64 " weight=%" PRIu32 " quota_usec=%" PRIu64
                                " held=%d bursting=%d wants_more=%d tokens=%" PRIu64 " bucket=%" PRIu64
                                " transitions=%" PRIu64 " writes=%" PRIu64 " restore_entries=%zu",
                                v->cpu_used_usec, v->cpu_throttled, d->rate, d->allocation, d->entitlement, d->ceiling,
                                d->weight, sched_cpu_max_quota_usec(d, m->cpu_capacity, CGROUP_CPU_PERIOD_USEC),
                                d->held, d->bursting, d->wants_more, b->tokens, b->size,
                                sched_transitions(m->cpu, v->cpu_slot), cgroup_vm_writes(v->cg),
                                restore_vm_entries(v->restore));
                }
                fputc('\n', f);

                for (size_t j = 0; v->state == MANAGER_VM_MANAGED && j < m->n_devices; j++)
                        for (int k = 0; k < _IO_DIR_MAX; k++) {
                                const SchedDecision *d;

                                if (v->io[j].slot[k] < 0)
                                        continue;
                                d = sched_decision(m->devices[j].sched[k], v->io[j].slot[k]);
                                fprintf(f,
                                        "io %s %s %s used=%" PRIu64 " rate=%" PRIu64 " allocation=%" PRIu64
                                        " held=%d\n",
                                        v->name, m->devices[j].name, io_dir_to_string(k), v->io[j].used[k], d->rate,
                                        d->allocation, d->held);
                        }
        }
        for (size_t i = 0; i < m->n_ancestors; i++)
                fprintf(f, "parent %s weight=%" PRIu32 " restore_entries=%zu\n", m->ancestors[i]->cgroup,
                        m->ancestors[i]->weight, restore_vm_entries(m->ancestors[i]->restore));
        if (fclose(f) != 0)
                return -ENOMEM;

        /* Replaced atomically, so a reader never sees half of it; not
         * synced: it is a view, not a record. */
        dir = strdup(m->options.stats_file);
        if (!dir)
                return -ENOMEM;
        base = strrchr(m->options.stats_file, '/');
        if (base) {
                dir[base - m->options.stats_file + (base == m->options.stats_file)] = '\0';
                base++;
        } else {
                strcpy(dir, ".");
                base = m->options.stats_file;
        }
        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return -errno;
        return write_file_atomic_at(dir_fd, base, text, size, false);
}
