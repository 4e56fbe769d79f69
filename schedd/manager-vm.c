/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "fileio.h"
#include "log.h"
#include "manager-internal.h"

ManagerVm *manager_vm_free(ManagerVm *v) {
        if (!v)
                return NULL;
        cgroup_vm_free(v->cg);
        restore_vm_free(v->restore);
        free(v->io);
        free(v->cgroup);
        free(v->name);
        free(v);
        return NULL;
}

ManagerVmIo *manager_vm_io_new(size_t n_devices) {
        ManagerVmIo *io = calloc(n_devices ?: 1, sizeof(*io));

        for (size_t j = 0; io && j < n_devices; j++)
                for (int k = 0; k < _IO_DIR_MAX; k++)
                        io[j].slot[k] = -1;
        return io;
}

bool manager_vm_in_device(const ManagerVm *v, size_t dev) {
        for (int k = 0; k < _IO_DIR_MAX; k++)
                if (v->io[dev].slot[k] >= 0)
                        return true;
        return false;
}

static bool vm_has_io(const Manager *m, const ManagerVm *v) {
        for (size_t j = 0; j < m->n_devices; j++)
                if (manager_vm_in_device(v, j))
                        return true;
        return false;
}

/* Takes the VM out of every core. */
static void vm_leave_cores(Manager *m, ManagerVm *v) {
        if (v->cpu_slot >= 0)
                (void)sched_remove(m->cpu, v->cpu_slot);
        v->cpu_slot = -1;
        for (size_t j = 0; j < m->n_devices; j++) {
                for (int k = 0; k < _IO_DIR_MAX; k++) {
                        if (v->io[j].slot[k] >= 0)
                                (void)sched_remove(m->devices[j].sched[k], v->io[j].slot[k]);
                        v->io[j].slot[k] = -1;
                }
                v->io[j].have_last = false;
        }
}

/*
 * Ends management of a VM.  `restore`: write back what schedd changed (the
 * VM left the policy, or schedd exits); otherwise its cgroup is gone and
 * the record is dropped.  The VM waits for its cgroup afterwards.
 */
void manager_vm_release(Manager *m, ManagerVm *v, bool restore) {
        int r;

        if (v->state != MANAGER_VM_MANAGED)
                return;

        vm_leave_cores(m, v);
        if (restore && !v->gone) {
                r = restore_vm_undo(v->restore, v->cg);
                if (r < 0)
                        log_warning_errno(r,
                                          "VM %s: cannot restore every file of cgroup %s (what is left is kept in "
                                          "%s for the next start): %m",
                                          v->name, v->cgroup, m->config->state_dir);
        } else {
                r = restore_vm_discard(v->restore);
                if (r < 0)
                        log_warning_errno(r, "VM %s: cannot remove its restore state: %m", v->name);
        }
        v->cg = cgroup_vm_free(v->cg);
        v->restore = restore_vm_free(v->restore);
        v->state = MANAGER_VM_WAITING;
        v->gone = false;
        v->have_last_cpu = false;
        v->have_last_waited = false;
        v->no_pressure = false;
        v->cpu_enforced = false;
        v->idle_ticks = 0;
        v->cpu_used_usec = 0;
        v->cpu_throttled = false;
        v->usage = (UsagePlan){};
        v->warned_files = 0;
        v->warned_attach = false;
}

/* Releases the VMs found gone since the last safe point. */
void manager_release_gone(Manager *m) {
        bool any = false;

        for (size_t i = 0; i < m->n_vms; i++) {
                ManagerVm *v = m->vms[i];

                if (v->state != MANAGER_VM_MANAGED || !v->gone)
                        continue;
                log_info("VM %s: cgroup %s is gone; waiting for it to come back", v->name, v->cgroup);
                manager_vm_release(m, v, false);
                any = true;
        }
        if (any)
                manager_scan_update(m);
}

/* -ENODEV marks the VM gone (released at the next safe point). */
int manager_vm_check_gone(ManagerVm *v, int r) {
        if (r == -ENODEV)
                v->gone = true;
        return r;
}

/* Logs a failed read or write of f once, until it works again. */
static void vm_warn_file(ManagerVm *v, CgroupFile f, int r, const char *what) {
        if (!(v->warned_files & (1U << f)))
                log_warning_errno(r, "VM %s: cannot %s %s/%s: %m", v->name, what, v->cgroup, cgroup_file_to_string(f));
        v->warned_files |= 1U << f;
}

/* Writes one knob through the restore record.  A failure is logged once
 * per knob until a write succeeds, and is not fatal.  0, or -ENODEV. */
static int vm_write(ManagerVm *v, CgroupFile f, const char *value) {
        int r;

        if (v->gone)
                return -ENODEV;
        r = restore_vm_write(v->restore, v->cg, f, value);
        if (manager_vm_check_gone(v, r) == -ENODEV)
                return r;
        if (r < 0) {
                if (!(v->warned_files & (1U << f)))
                        log_warning_errno(r, "VM %s: cannot write \"%s\" to %s/%s: %m", v->name, value, v->cgroup,
                                          cgroup_file_to_string(f));
                v->warned_files |= 1U << f;
                return 0;
        }
        v->warned_files &= ~(1U << f);
        return 0;
}

/* Writes back the original of one knob (io.max: of `device`). */
int manager_vm_undo(ManagerVm *v, CgroupFile f, const char *device) {
        int r;

        if (v->gone)
                return -ENODEV;
        r = restore_vm_undo_file(v->restore, v->cg, f, device);
        if (manager_vm_check_gone(v, r) == -ENODEV)
                return r;
        if (r < 0)
                log_warning_errno(r, "VM %s: cannot restore %s/%s: %m", v->name, v->cgroup, cgroup_file_to_string(f));
        return 0;
}

/* memory.min and memory.max from the policy, or their originals back where
 * the policy names none. */
void manager_vm_apply_memory(ManagerVm *v) {
        char buf[32];

        if (v->rv->mem_min > 0) {
                (void)cgroup_format_u64_or_max(v->rv->mem_min, buf, sizeof(buf));
                (void)vm_write(v, CGROUP_FILE_MEMORY_MIN, buf);
        } else
                (void)manager_vm_undo(v, CGROUP_FILE_MEMORY_MIN, NULL);

        if (v->rv->mem_max > 0) {
                (void)cgroup_format_u64_or_max(v->rv->mem_max, buf, sizeof(buf));
                (void)vm_write(v, CGROUP_FILE_MEMORY_MAX, buf);
        } else
                (void)manager_vm_undo(v, CGROUP_FILE_MEMORY_MAX, NULL);
}

/* Puts a managed VM into the I/O cores its policy names, where it is not
 * yet.  Only out of memory is fatal. */
int manager_vm_join_io(Manager *m, ManagerVm *v) {
        for (size_t j = 0; j < m->n_devices; j++)
                for (int k = 0; k < _IO_DIR_MAX; k++) {
                        const ResolvedResource *rr = &v->rv->io[j * _IO_DIR_MAX + (size_t)k];
                        SchedParams p = manager_params_of(rr);
                        int r;

                        if (!m->devices[j].sched[k] || !m->devices[j].resolved || !rr->configured ||
                            v->io[j].slot[k] >= 0)
                                continue;
                        r = sched_add(m->devices[j].sched[k], &p);
                        if (r == -ENOMEM)
                                return log_error_errno(r, "Out of memory");
                        if (r < 0) {
                                log_error_errno(r, "VM %s: the I/O core of %s %s refused its settings: %m", v->name,
                                                m->devices[j].name, io_dir_to_string(k));
                                continue;
                        }
                        v->io[j].slot[k] = r;
                }
        return 0;
}

/* Ancestors of a nested VM cgroup pass the controllers on, where we may. */
static void vm_enable_ancestors(Manager *m, ManagerVm *v) {
        _cleanup_free_ char *path = strdup(v->cgroup);

        if (!path)
                return;
        for (char *p = path; (p = strchr(p, '/')); p++) {
                int r;

                *p = '\0';
                r = cgroup_enable_subtree(m->root_fd, path, m->controllers);
                if (r < 0 && !v->warned_attach)
                        log_warning_errno(r,
                                          "VM %s: cannot enable the controllers in %s/%s/cgroup.subtree_control: "
                                          "%m",
                                          v->name, m->config->cgroup_root, path);
                *p = '/';
        }
}

/*
 * Starts managing a waiting VM if its cgroup is there (made, with
 * `create: true`).  0 also when it keeps waiting; -errno only for what must
 * stop schedd (out of memory).
 */
static int vm_attach(Manager *m, ManagerVm *v, bool create) {
        CgroupVm *cg = NULL;
        RestoreVm *restore = NULL;
        SchedParams p;
        CpuStat st;
        int r;

        if (v->state == MANAGER_VM_MANAGED)
                return 0;

        r = cgroup_vm_open(m->root_fd, v->cgroup, create && v->rv->create, &cg);
        if (r == -ENOMEM)
                return log_error_errno(r, "Out of memory");
        if (r < 0) {
                if (v->warned_attach)
                        return 0;
                v->warned_attach = true;
                if (r == -ENODEV)
                        log_info("VM %s: waiting for cgroup %s/%s", v->name, m->config->cgroup_root, v->cgroup);
                else
                        log_warning_errno(r, "VM %s: cannot open cgroup %s/%s (will retry): %m", v->name,
                                          m->config->cgroup_root, v->cgroup);
                return 0;
        }

        if (strchr(v->cgroup, '/'))
                vm_enable_ancestors(m, v);

        r = cgroup_vm_read_cpu_stat(cg, &st);
        if (r >= 0)
                r = restore_vm_new(m->state_fd, v->cgroup, &restore);
        if (r < 0) {
                cgroup_vm_free(cg);
                if (r == -ENOMEM)
                        return log_error_errno(r, "Out of memory");
                if (r != -ENODEV && !v->warned_attach)
                        log_warning_errno(r, "VM %s: cannot start managing cgroup %s (will retry): %m", v->name,
                                          v->cgroup);
                v->warned_attach = true;
                return 0;
        }

        p = manager_params_of(&v->rv->cpu);
        r = sched_add(m->cpu, &p);
        if (r < 0) {
                cgroup_vm_free(cg);
                restore_vm_free(restore);
                if (r == -ENOMEM)
                        return log_error_errno(r, "Out of memory");
                log_error_errno(r, "VM %s: the CPU core refused its settings: %m", v->name);
                v->warned_attach = true;
                return 0;
        }

        v->cpu_slot = r;
        v->cg = cg;
        v->restore = restore;
        v->state = MANAGER_VM_MANAGED;
        v->gone = false;
        v->last_cpu = st;
        v->have_last_cpu = true;
        v->cpu_enforced = false;
        v->idle_ticks = 0;
        v->usage = (UsagePlan){};
        v->warned_attach = false;
        log_info("VM %s: managing cgroup %s/%s", v->name, m->config->cgroup_root, v->cgroup);

        r = manager_vm_join_io(m, v);
        if (r < 0)
                return r;
        manager_vm_apply_memory(v);
        return 0;
}

/* Attaches every waiting VM whose cgroup is there.  0 or a fatal -errno. */
int manager_attach_waiting(Manager *m, bool create) {
        manager_hierarchy_yield(m);
        for (size_t i = 0; i < m->n_vms; i++) {
                int r = vm_attach(m, m->vms[i], create);
                if (r < 0)
                        return r;
        }
        manager_release_gone(m);
        return 0;
}

/* A counter that went back (a cgroup made anew under the same name) counts from zero. */
static uint64_t counter_delta(uint64_t now, uint64_t before) {
        return now >= before ? now - before : 0;
}

/* cpu.stat of every managed VM: what it used, whether it was throttled. */
/* A VM that used no CPU for this long counts as idle... */
#define IDLE_AFTER_USEC 100000ULL
/* ...and its cpu.stat is read only about this often (spread over the ticks
 * by the VM's index).  Reading is most of what a tick costs (a pread of
 * cpu.stat is about 2 us), and on a host most VMs are idle at any moment.
 * An idle VM's weight already gives it its entitlement the moment it wakes
 * (the kernel does that between ticks), so reading it late costs it
 * nothing; when it is read, the delta covers every tick since, and it is
 * read every tick again.  With a tick of this length or longer, every VM is
 * read every tick. */
#define IDLE_POLL_USEC 100000ULL

/*
 * cpu.pressure: a VM whose threads waited for a CPU was held back by the
 * others, whatever its use shows.  The kernel's division by weight is not
 * exact from moment to moment (a cgroup that wakes up, threads the load
 * balancer has not spread yet): a busy VM can get much less than its
 * weight for a few ticks, and its use alone would read as wanting less,
 * handing its part to the others.  Without PSI the file is missing, and
 * use alone has to do.
 *
 * An idle VM (read only every IDLE_POLL_USEC, and still without use) is
 * not waiting for a CPU: a runnable thread gets some CPU time within a
 * tick whatever its weight, or shows a throttle.  Its cpu.pressure is not
 * read, which halves what polling the idle VMs costs; the first read after
 * it wakes only takes a new baseline.
 */
static bool vm_read_pressure(Manager *m, ManagerVm *v, uint64_t elapsed_usec) {
        const char *text;
        uint64_t total;
        bool waited;
        int r;

        if (v->no_pressure)
                return false;
        m->cost.pressure_reads++;
        r = manager_vm_check_gone(v, cgroup_vm_read(v->cg, CGROUP_FILE_CPU_PRESSURE, &text));
        if (r == -EOPNOTSUPP) {
                v->no_pressure = true;
                return false;
        }
        if (r >= 0)
                r = cgroup_parse_pressure_some_usec(text, &total);
        if (r < 0) {
                if (r != -ENODEV)
                        vm_warn_file(v, CGROUP_FILE_CPU_PRESSURE, r, "read");
                v->have_last_waited = false;
                return false;
        }
        waited = v->have_last_waited && sched_cpu_waited(counter_delta(total, v->last_waited_usec), elapsed_usec);
        v->last_waited_usec = total;
        v->have_last_waited = true;
        return waited;
}

/* The thread's CPU time in nanoseconds, for the cost counters: CPU time,
 * not wall time, so that being preempted on a busy host is not counted as a
 * phase's cost (a system call, about 0.3 us, four a tick). */
static uint64_t cost_now_nsec(void) {
        struct timespec ts;

        (void)clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* One read of v's cpu.stat into *ret, counted; a failure other than a
 * cgroup gone is warned about once, a success clears that warning. */
static int vm_read_cpu_stat(Manager *m, ManagerVm *v, CpuStat *ret) {
        int r;

        m->cost.cpu_stat_reads++;
        r = manager_vm_check_gone(v, cgroup_vm_read_cpu_stat(v->cg, ret));
        if (r == -ENODEV)
                return r;
        if (r < 0) {
                vm_warn_file(v, CGROUP_FILE_CPU_STAT, r, "read");
                return r;
        }
        v->warned_files &= ~(1U << CGROUP_FILE_CPU_STAT);
        return 0;
}

/* usage_reads = adaptive (usage.h): a steady VM is read once every
 * USAGE_STEADY_POLL_USEC and told its rate in between; the others every
 * tick.  An idle VM's cpu.pressure is not read (as below). */
static void read_cpu_adaptive(Manager *m) {
        uint64_t now = m->last_tick_usec;

        for (size_t i = 0; i < m->n_vms; i++) {
                ManagerVm *v = m->vms[i];
                const SchedDecision *d;
                uint64_t delta = 0, interval;
                bool throttled = false, idle;
                CpuStat st;
                int r;

                if (v->state != MANAGER_VM_MANAGED || v->gone)
                        continue;
                v->cpu_used_usec = 0;
                v->cpu_throttled = false;
                /* Held or bursting: its decision can change from one tick's use,
                 * so it is read this tick whatever its plan says. */
                d = sched_decision(m->cpu, v->cpu_slot);
                if (!d->held && !d->bursting && !usage_plan_due(&v->usage, now, m->ticks, i, m->tick_usec)) {
                        v->cpu_used_usec = usage_plan_estimate(&v->usage, m->elapsed_usec, &v->cpu_throttled);
                        v->idle_ticks = v->cpu_used_usec > 0 || v->cpu_throttled ? 0 : v->idle_ticks + 1;
                        m->cost.estimates++;
                        continue;
                }
                r = vm_read_cpu_stat(m, v, &st);
                if (r < 0) {
                        if (r != -ENODEV)
                                usage_plan_wake(&v->usage);
                        continue;
                }
                interval = v->usage.last_read_usec > 0 && now > v->usage.last_read_usec ? now - v->usage.last_read_usec
                                                                                        : m->elapsed_usec;
                if (v->have_last_cpu) {
                        delta = counter_delta(st.usage_usec, v->last_cpu.usage_usec);
                        throttled = st.nr_throttled > v->last_cpu.nr_throttled;
                }
                /* Idle: no use for IDLE_AFTER_USEC (its pressure is not read, as below). */
                idle = (uint64_t)v->idle_ticks * m->tick_usec >= IDLE_AFTER_USEC;
                if (!idle || delta > 0 || throttled) {
                        if (vm_read_pressure(m, v, interval))
                                throttled = true;
                } else
                        v->have_last_waited = false;
                v->cpu_used_usec = usage_plan_observe(&v->usage, now, delta, interval, m->elapsed_usec, throttled,
                                                      v->have_last_cpu && !d->held && !d->bursting);
                v->cpu_throttled = throttled;
                v->idle_ticks = delta > 0 || throttled ? 0 : v->idle_ticks + 1;
                v->last_cpu = st;
                v->have_last_cpu = true;
        }
}

void manager_read_cpu(Manager *m) {
        uint64_t start_nsec = cost_now_nsec();

        if (m->config->usage_reads == USAGE_READS_ADAPTIVE) {
                read_cpu_adaptive(m);
                m->cost.read_nsec += cost_now_nsec() - start_nsec;
                return;
        }
        for (size_t i = 0; i < m->n_vms; i++) {
                ManagerVm *v = m->vms[i];
                CpuStat st;

                if (v->state != MANAGER_VM_MANAGED || v->gone)
                        continue;
                v->cpu_used_usec = 0;
                v->cpu_throttled = false;
                uint64_t every = m->tick_usec > 0 ? IDLE_POLL_USEC / m->tick_usec : 1;
                bool polled = every > 1 && (uint64_t)v->idle_ticks * m->tick_usec >= IDLE_AFTER_USEC;
                if (polled && (m->ticks + i) % every != 0) {
                        v->idle_ticks++;
                        continue;
                }
                if (vm_read_cpu_stat(m, v, &st) < 0)
                        continue;
                if (v->have_last_cpu) {
                        v->cpu_used_usec = counter_delta(st.usage_usec, v->last_cpu.usage_usec);
                        v->cpu_throttled = st.nr_throttled > v->last_cpu.nr_throttled;
                }
                if (!polled || v->cpu_used_usec > 0 || v->cpu_throttled) {
                        if (vm_read_pressure(m, v, m->elapsed_usec))
                                v->cpu_throttled = true;
                } else
                        v->have_last_waited = false;
                v->idle_ticks = v->cpu_used_usec > 0 || v->cpu_throttled ? 0 : v->idle_ticks + 1;
                v->last_cpu = st;
                v->have_last_cpu = true;
        }
        m->cost.read_nsec += cost_now_nsec() - start_nsec;
}

/* io.stat of every managed VM with I/O policy, read once, split per device. */
void manager_read_io(Manager *m) {
        uint64_t start_nsec = cost_now_nsec();

        for (size_t i = 0; i < m->n_vms; i++) {
                ManagerVm *v = m->vms[i];
                const char *text;
                int r;

                if (v->state != MANAGER_VM_MANAGED || v->gone || !vm_has_io(m, v))
                        continue;
                for (size_t j = 0; j < m->n_devices; j++)
                        memset(v->io[j].used, 0, sizeof(v->io[j].used));

                r = manager_vm_check_gone(v, cgroup_vm_read(v->cg, CGROUP_FILE_IO_STAT, &text));
                if (r == -ENODEV)
                        continue;
                for (size_t j = 0; r >= 0 && j < m->n_devices; j++) {
                        IoStat st;

                        if (!manager_vm_in_device(v, j))
                                continue;
                        r = cgroup_parse_io_stat(text, m->devices[j].major, m->devices[j].minor, &st);
                        if (r < 0)
                                break;
                        if (v->io[j].have_last)
                                for (int k = 0; k < _IO_DIR_MAX; k++)
                                        v->io[j].used[k] =
                                                counter_delta(io_stat_get(&st, k), io_stat_get(&v->io[j].last, k));
                        v->io[j].last = st;
                        v->io[j].have_last = true;
                }
                if (r < 0)
                        vm_warn_file(v, CGROUP_FILE_IO_STAT, r, "read");
                else
                        v->warned_files &= ~(1U << CGROUP_FILE_IO_STAT);
        }
        m->cost.reads_end_nsec = cost_now_nsec();
        m->cost.read_nsec += m->cost.reads_end_nsec - start_nsec;
}

/* The cost counters at debug level every this many ticks (a second at the
 * default tick): cumulative, so that a benchmark takes the difference
 * between two lines of a window it chooses. */
#define MANAGER_COST_REPORT_TICKS 100

static void cost_report(Manager *m) {
        uint64_t writes = 0;

        if (m->cost.ticks % MANAGER_COST_REPORT_TICKS != 0 || log_get_max_level() < LOG_DEBUG)
                return;
        for (size_t i = 0; i < m->n_vms; i++)
                if (m->vms[i]->state == MANAGER_VM_MANAGED)
                        writes += cgroup_vm_writes(m->vms[i]->cg);
        log_debug("Tick cost: usage_reads=%s ticks=%" PRIu64 " now_usec=%" PRIu64 " vms=%zu read_nsec=%" PRIu64
                  " core_nsec=%" PRIu64 " write_nsec=%" PRIu64 " cpu_stat_reads=%" PRIu64 " pressure_reads=%" PRIu64
                  " estimates=%" PRIu64 " writes=%" PRIu64,
                  usage_reads_to_string(m->config->usage_reads), m->cost.ticks, m->last_tick_usec, m->n_vms,
                  m->cost.read_nsec, m->cost.core_nsec, m->cost.write_nsec, m->cost.cpu_stat_reads,
                  m->cost.pressure_reads, m->cost.estimates, writes);
}

/* cpu.weight, cpu.max and io.max from the decisions, where they changed. */
void manager_enforce(Manager *m) {
        uint64_t start_nsec = cost_now_nsec();

        if (m->cost.reads_end_nsec > 0 && start_nsec > m->cost.reads_end_nsec)
                m->cost.core_nsec += start_nsec - m->cost.reads_end_nsec;
        for (size_t i = 0; i < m->n_vms; i++) {
                ManagerVm *v = m->vms[i];
                const SchedDecision *d;
                char buf[CGROUP_LINE_MAX];

                if (v->state != MANAGER_VM_MANAGED || v->gone)
                        continue;

                d = sched_decision(m->cpu, v->cpu_slot);
                uint64_t quota = sched_cpu_max_quota_usec(d, m->cpu_capacity, CGROUP_CPU_PERIOD_USEC);
                /* Most ticks change nothing: compare numbers before formatting anything.
                 * With [schedd] schedule_cpu = no, nothing at all. */
                if (m->config->schedule_cpu &&
                    (!v->cpu_enforced || v->enforced_weight != d->weight || v->enforced_quota_usec != quota)) {
                        (void)cgroup_format_weight(d->weight, buf, sizeof(buf));
                        if (vm_write(v, CGROUP_FILE_CPU_WEIGHT, buf) < 0) {
                                v->cpu_enforced = false;
                                continue;
                        }
                        (void)cgroup_format_cpu_max(quota, CGROUP_CPU_PERIOD_USEC, buf, sizeof(buf));
                        if (vm_write(v, CGROUP_FILE_CPU_MAX, buf) < 0) {
                                v->cpu_enforced = false;
                                continue;
                        }
                        /* A new ceiling, a new use: read it every tick until it settles.
                         * (A new weight alone moves use only where CPUs are contended, and
                         * the next read shows it.) */
                        if (!v->cpu_enforced || v->enforced_quota_usec != quota)
                                usage_plan_wake(&v->usage);
                        v->cpu_enforced = true;
                        v->enforced_weight = d->weight;
                        v->enforced_quota_usec = quota;
                }

                for (size_t j = 0; j < m->n_devices; j++) {
                        const ManagerDevice *dev = &m->devices[j];
                        uint64_t limit[_IO_DIR_MAX];

                        if (!dev->resolved || !manager_vm_in_device(v, j))
                                continue;
                        for (int k = 0; k < _IO_DIR_MAX; k++) {
                                const SchedDecision *io =
                                        v->io[j].slot[k] >= 0 ? sched_decision(dev->sched[k], v->io[j].slot[k]) : NULL;

                                limit[k] = !io || io->rate >= dev->cap[k] ? CGROUP_LIMIT_MAX : io->rate;
                        }
                        (void)cgroup_format_io_max(dev->major, dev->minor, limit, buf, sizeof(buf));
                        if (vm_write(v, CGROUP_FILE_IO_MAX, buf) < 0)
                                break;
                }
        }
        m->cost.write_nsec += cost_now_nsec() - start_nsec;
        m->cost.ticks++;
        cost_report(m);
}
