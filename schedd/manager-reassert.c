/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Other writers of schedd's knobs, and the host context (manager-reassert.h).
 *
 * How a change is noticed: by reading the knobs back at a low rate, not by
 * listening to systemd's Reloading signal alone, because the other writers
 * are not all systemd (an admin's `echo max > cpu.max`, a container
 * manager) and set-property sends no Reloading at all.  A read-back is one
 * open, read and close of a small file per knob: two per VM every half
 * second, which next to the tick's own reads is small (see etc/doc/systemd.md).
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup-format.h"
#include "fileio.h"
#include "hierarchy.h"
#include "log.h"
#include "manager-reassert.h"
#include "restore.h"

/* Half a second: with a 100 ms tick a changed knob is back within about
 * 0.6 s, inside the second an operator would call "at once", at two file
 * reads per VM per half second. */
#define REASSERT_INTERVAL_USEC 500000ULL
/* Findings logged per read-back at most: a writer that fights schedd on
 * every round must not flood the journal (the metric still counts all). */
#define REASSERT_LOG_MAX 8
/* The core's weights are on this scale for the whole host (hierarchy.h):
 * the VMs' weights add up to at most this much. */
#define REASSERT_WEIGHT_SCALE 10000ULL

/* One child of the cgroup root with no VM in it: part of the host context. */
typedef struct HostCgroup {
        char *cgroup;
        CgroupVm *cg;
        RestoreVm *restore;
        uint32_t weight; /* last written; 0: not yet */
        bool seen;       /* still there at the last scan */
        bool warned;
        uint64_t last_usage_usec; /* cpu.stat usage_usec at the previous tick; 0: not read yet */
} HostCgroup;

struct ManagerReassert {
        uint64_t next_usec;
        uint64_t count;
        unsigned logged; /* findings logged in this read-back */
        HostCgroup **host;
        size_t n_host;
        /* The host context's slot in the CPU core, as a VM of its own. */
        const Sched *sched; /* the core the slot is in; NULL: none */
        int slot;
        bool warned_slot;
};

/* Manager.reassert is this file's state; made on first use. */
static ManagerReassert *state_of(Manager *m) {
        if (!m->reassert)
                m->reassert = calloc(1, sizeof(*m->reassert));
        return m->reassert;
}

uint64_t manager_reassert_count(const Manager *m) {
        return m->reassert ? m->reassert->count : 0;
}

/* Switches the cpu controller on again from the root down to the cgroup's
 * parent, where another writer switched it off (systemd does on a
 * daemon-reload for units it was not asked to give cpu to). */
static void enable_cpu_along(Manager *m, const char *cgroup) {
        char dir[4096];
        size_t len = strlen(cgroup);
        int r;

        if (len >= sizeof(dir))
                return;
        r = cgroup_enable_subtree(m->root_fd, ".", CGROUP_CONTROLLER_CPU);
        for (size_t i = 0; r >= 0 && i < len; i++)
                if (cgroup[i] == '/') {
                        memcpy(dir, cgroup, i);
                        dir[i] = '\0';
                        r = cgroup_enable_subtree(m->root_fd, dir, CGROUP_CONTROLLER_CPU);
                }
        if (r < 0)
                log_warning_errno(r, "Cannot switch the cpu controller on again above %s/%s: %m",
                                  m->config->cgroup_root, cgroup);
}

/* Reads one knob back.  True when it no longer holds `want` (it was logged,
 * counted, and forgotten so that the next write goes out). */
static bool knob_changed(Manager *m, ManagerReassert *ra, CgroupVm *cg, const char *cgroup, CgroupFile f,
                         const char *want) {
        _cleanup_free_ char *found = NULL;
        int r;

        r = cgroup_vm_read_knob(cg, f, &found);
        if (r == -ENODEV)
                return false; /* gone: the VM's own reads find out */
        if (r < 0 && r != -EOPNOTSUPP)
                return false;
        if (r >= 0 && strcmp(found, want) == 0)
                return false;

        ra->count++;
        if (ra->logged++ < REASSERT_LOG_MAX) {
                if (r == -EOPNOTSUPP)
                        log_notice("%s/%s/%s is gone (the cpu controller was switched off above it by another "
                                   "writer), where schedd wrote \"%s\": switching cpu on again and writing it back",
                                   m->config->cgroup_root, cgroup, cgroup_file_to_string(f), want);
                else
                        log_notice("%s/%s/%s holds \"%s\", where schedd wrote \"%s\" (another writer: systemctl "
                                   "daemon-reload, set-property, or by hand): writing it back",
                                   m->config->cgroup_root, cgroup, cgroup_file_to_string(f), found, want);
        }
        if (r == -EOPNOTSUPP)
                enable_cpu_along(m, cgroup);
        cgroup_vm_forget(cg, f);
        return true;
}

static void check_vms(Manager *m, ManagerReassert *ra) {
        for (size_t i = 0; i < m->n_vms; i++) {
                ManagerVm *v = m->vms[i];
                char weight[32], max[64];
                bool changed;

                if (v->state != MANAGER_VM_MANAGED || v->gone || !v->cpu_enforced)
                        continue;
                (void)cgroup_format_weight(v->enforced_weight, weight, sizeof(weight));
                (void)cgroup_format_cpu_max(v->enforced_quota_usec, CGROUP_CPU_PERIOD_USEC, max, sizeof(max));
                changed = knob_changed(m, ra, v->cg, v->cgroup, CGROUP_FILE_CPU_WEIGHT, weight);
                changed = knob_changed(m, ra, v->cg, v->cgroup, CGROUP_FILE_CPU_MAX, max) || changed;
                if (changed) {
                        /* Both go out again at this tick's enforcement. */
                        cgroup_vm_forget(v->cg, CGROUP_FILE_CPU_WEIGHT);
                        cgroup_vm_forget(v->cg, CGROUP_FILE_CPU_MAX);
                        v->cpu_enforced = false;
                }
        }
        for (size_t i = 0; i < m->n_ancestors; i++) {
                ManagerAncestor *a = m->ancestors[i];
                char weight[32];

                if (a->weight == 0)
                        continue;
                (void)cgroup_format_weight(a->weight, weight, sizeof(weight));
                if (knob_changed(m, ra, a->cg, a->cgroup, CGROUP_FILE_CPU_WEIGHT, weight))
                        a->weight = 0; /* manager_hierarchy_sync() writes it again */
        }
        for (size_t i = 0; i < ra->n_host; i++) {
                HostCgroup *h = ra->host[i];
                char weight[32];

                if (h->weight == 0)
                        continue;
                (void)cgroup_format_weight(h->weight, weight, sizeof(weight));
                if (knob_changed(m, ra, h->cg, h->cgroup, CGROUP_FILE_CPU_WEIGHT, weight))
                        h->weight = 0;
        }
}

/* ---- the host context ------------------------------------------------------------------------------------------ */

static HostCgroup *host_free(HostCgroup *h) {
        if (!h)
                return NULL;
        cgroup_vm_free(h->cg);
        restore_vm_free(h->restore);
        free(h->cgroup);
        free(h);
        return NULL;
}

static void host_release(Manager *m, ManagerReassert *ra, size_t i, bool restore) {
        HostCgroup *h = ra->host[i];
        int r = 0;

        if (restore)
                r = restore_vm_undo(h->restore, h->cg);
        if (r < 0 && r != -ENODEV)
                log_warning_errno(r,
                                  "Cannot restore cpu.weight of cgroup %s (what is left is kept in %s for the next "
                                  "start): %m",
                                  h->cgroup, m->config->state_dir);
        else if (r == -ENODEV)
                (void)restore_vm_discard(h->restore);
        host_free(h);
        memmove(ra->host + i, ra->host + i + 1, (ra->n_host - i - 1) * sizeof(*ra->host));
        ra->n_host--;
}

/* Whether the root's child `name` holds a VM (or is one). */
static bool holds_vm(const Manager *m, const char *name) {
        size_t len = strlen(name);

        for (size_t i = 0; i < m->n_vms; i++) {
                const char *c = m->vms[i]->cgroup;
                if (strncmp(c, name, len) == 0 && (c[len] == '\0' || c[len] == '/'))
                        return true;
        }
        return false;
}

static ssize_t host_find(const ManagerReassert *ra, const char *name) {
        for (size_t i = 0; i < ra->n_host; i++)
                if (strcmp(ra->host[i]->cgroup, name) == 0)
                        return (ssize_t)i;
        return -1;
}

static int host_add(Manager *m, ManagerReassert *ra, const char *name) {
        HostCgroup *h, **grown;
        int r;

        h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->cgroup = strdup(name);
        r = h->cgroup ? cgroup_vm_open(m->root_fd, name, false, &h->cg) : -ENOMEM;
        if (r >= 0)
                r = restore_vm_new(m->state_fd, name, &h->restore);
        if (r >= 0) {
                grown = realloc(ra->host, (ra->n_host + 1) * sizeof(*grown));
                r = grown ? 0 : -ENOMEM;
                if (grown)
                        ra->host = grown;
        }
        if (r < 0) {
                host_free(h);
                return r;
        }
        h->seen = true;
        ra->host[ra->n_host++] = h;
        return 0;
}

/* The children of the root without VMs, into the table (and out of it when
 * they are gone or now hold a VM). */
static void host_scan(Manager *m, ManagerReassert *ra) {
        DIR *d;
        struct dirent *de;
        int fd;

        for (size_t i = 0; i < ra->n_host; i++)
                ra->host[i]->seen = false;
        fd = openat(m->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return;
        }
        while ((de = readdir(d))) {
                ssize_t i;

                if (de->d_type != DT_DIR || de->d_name[0] == '.' || holds_vm(m, de->d_name))
                        continue;
                i = host_find(ra, de->d_name);
                if (i >= 0)
                        ra->host[i]->seen = true;
                else if (host_add(m, ra, de->d_name) == 0)
                        log_info("Host context: managing cpu.weight of cgroup %s/%s (reserve %u.%u%% of the CPU)",
                                 m->config->cgroup_root, de->d_name, m->config->host_reserve_ppm / 10000,
                                 m->config->host_reserve_ppm / 1000 % 10);
        }
        closedir(d);
        for (size_t i = 0; i < ra->n_host;)
                if (ra->host[i]->seen)
                        i++;
                else
                        host_release(m, ra, i, true); /* gone (then discarded), or a VM's now */
}

/* The host context's parameters in the core: its reservation and share 0,
 * so that beyond its reservation it takes nothing from the VMs' promises (the
 * kernel's weights are work-conserving: what the VMs leave, it still gets;
 * no cpu.max is written for it). */
#define HOST_SHARE 0U

static SchedParams host_params(const Manager *m) {
        return (SchedParams){
                .reserve = (uint64_t)((unsigned __int128)m->cpu_capacity * m->config->host_reserve_ppm / 1000000),
                .limit = m->cpu_capacity,
                .share = HOST_SHARE,
        };
}

static bool host_wanted(const Manager *m) {
        return m->config->schedule_cpu && m->cpu && m->n_vms > 0 && m->config->host_reserve_ppm > 0;
}

/* Takes the host context's slot out of the core (if the core is still the one it is in). */
static void host_slot_drop(Manager *m, ManagerReassert *ra) {
        if (ra->sched && ra->sched == m->cpu && sched_slot_used(m->cpu, ra->slot))
                (void)sched_remove(m->cpu, ra->slot);
        ra->sched = NULL;
}

void manager_reassert_usage(Manager *m, uint64_t now) {
        ManagerReassert *ra = state_of(m);
        uint64_t used = 0;
        int r;

        (void)now;
        if (!ra)
                return;
        /* No host cgroup (every child of the root is a VM's, as in a guest made
         * for the VMs alone): no host context to reserve for. */
        if (!host_wanted(m) || ra->n_host == 0) {
                host_slot_drop(m, ra);
                return;
        }
        if (ra->sched != m->cpu) {
                SchedParams p = host_params(m);

                /* A new core (the first policy, or one made anew): join it. */
                r = sched_add(m->cpu, &p);
                if (r < 0) {
                        if (!ra->warned_slot)
                                log_warning_errno(r, "Host context: the CPU core refused its reservation: %m");
                        ra->warned_slot = true;
                        ra->sched = NULL;
                        return;
                }
                ra->warned_slot = false;
                ra->sched = m->cpu;
                ra->slot = r;
        } else {
                SchedParams p = host_params(m);
                (void)sched_update(m->cpu, ra->slot, &p); /* the capacity may have changed */
        }

        /* What the host context used: its cgroups' cpu.stat. */
        for (size_t i = 0; i < ra->n_host; i++) {
                HostCgroup *h = ra->host[i];
                CpuStat st;

                if (cgroup_vm_read_cpu_stat(h->cg, &st) < 0)
                        continue;
                if (h->last_usage_usec > 0 && st.usage_usec >= h->last_usage_usec)
                        used += st.usage_usec - h->last_usage_usec;
                h->last_usage_usec = st.usage_usec;
        }
        if ((size_t)ra->slot < m->n_usage && sched_slots(m->cpu) <= m->n_usage)
                m->usage[ra->slot] = (SchedUsage){.used = used};
}

/* Each host cgroup's weight: the host context's whole weight from the core,
 * not a part of it.  The host's work is mostly one thread at a time (PID 1
 * re-reading its units, journald, an admin's shell), and a single thread
 * gets, on its CPU, its cgroup's weight against the VMs' weight divided among
 * every CPU they run on: split among init.scope, system.slice and user.slice
 * as well, PID 1 alone would get a fraction of its reservation (measured in
 * the systemd tier: 5 % of the host for a daemon-reload against the 10 %
 * reserved).  The price: when several host cgroups are busy at once, the host
 * context gets up to that many times its reservation (see etc/doc/systemd.md). */
static uint32_t host_weight(const Manager *m, const ManagerReassert *ra) {
        if (!ra->sched || ra->sched != m->cpu || !sched_slot_used(m->cpu, ra->slot))
                return 0;
        return sched_decision(m->cpu, ra->slot)->weight;
}

static void host_write(Manager *m, ManagerReassert *ra) {
        uint32_t weight = host_weight(m, ra);
        char buf[32];

        if (weight == 0)
                return;
        (void)cgroup_format_weight(weight, buf, sizeof(buf));
        for (size_t i = 0; i < ra->n_host;) {
                HostCgroup *h = ra->host[i];
                int r;

                if (h->weight == weight) {
                        i++;
                        continue;
                }
                r = restore_vm_write(h->restore, h->cg, CGROUP_FILE_CPU_WEIGHT, buf);
                if (r == -ENODEV) {
                        host_release(m, ra, i, false);
                        continue;
                }
                if (r < 0) {
                        if (!h->warned)
                                log_warning_errno(r, "Host context: cannot write \"%s\" to %s/%s/cpu.weight: %m", buf,
                                                  m->config->cgroup_root, h->cgroup);
                        h->warned = true;
                } else {
                        h->warned = false;
                        h->weight = weight;
                }
                i++;
        }
}

void manager_reassert_tick(Manager *m, uint64_t now) {
        ManagerReassert *ra = state_of(m);
        bool due;

        if (!ra)
                return;
        due = now >= ra->next_usec;
        if (due)
                ra->next_usec = now + REASSERT_INTERVAL_USEC;

        /* The host context only matters beside scheduled VMs. */
        if (!host_wanted(m)) {
                while (ra->n_host > 0)
                        host_release(m, ra, ra->n_host - 1, true);
        } else if (due) {
                host_scan(m, ra);
        }

        if (due && m->config->reassert) {
                ra->logged = 0;
                check_vms(m, ra);
                if (ra->logged > REASSERT_LOG_MAX)
                        log_notice("... and %u more knobs changed by another writer, written back",
                                   ra->logged - REASSERT_LOG_MAX);
        }
        if (host_wanted(m))
                host_write(m, ra);
}

void manager_reassert_release(Manager *m, bool restore) {
        ManagerReassert *ra = m->reassert;

        if (!ra)
                return;
        host_slot_drop(m, ra);
        while (ra->n_host > 0)
                host_release(m, ra, ra->n_host - 1, restore);
        free(ra->host);
        free(ra);
        m->reassert = NULL;
}
