/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "manager-internal.h"
#include "manager-reassert.h"
#include "policy/units.h"

/* How often VMs whose cgroup is missing are looked for, and managed ones
 * checked to still be the directory they were: 1 s.  A VM's cgroup appears
 * when the VM starts, and a second of start-up without enforcement costs
 * nothing anyone would notice; one stat() per VM per second costs nothing. */
#define MANAGER_SCAN_INTERVAL_USEC (1 * USEC_PER_SEC)

/* The scan may run this late: a quarter of a second late is still "every second". */
#define MANAGER_SCAN_ACCURACY_USEC (USEC_PER_SEC / 4)

/* STATUS= at most once a second: it is for people reading `systemctl
 * status`, and each message wakes the service manager. */
#define MANAGER_STATUS_INTERVAL_USEC (1 * USEC_PER_SEC)

/* The tick timer may fire this fraction of a tick late (sd-event batches
 * wake-ups within the accuracy): 1/20, 0.5 ms of a 10 ms tick, is well
 * inside the jitter of the kernel's own accounting. */
#define MANAGER_TICK_ACCURACY_DIVISOR 20

/* WATCHDOG=1 every half of WatchdogSec=, as sd_watchdog_enabled(3) advises:
 * one late ping must not be a missed one. */
#define MANAGER_WATCHDOG_DIVISOR 2

static int usage_prepare(Manager *m, const Sched *s) {
        size_t n = sched_slots(s);

        if (n > m->n_usage) {
                SchedUsage *u = realloc(m->usage, n * sizeof(*u));
                if (!u)
                        return -ENOMEM;
                m->usage = u;
                m->n_usage = n;
        }
        memset(m->usage, 0, m->n_usage * sizeof(*m->usage));
        return 0;
}

/* One tick of every core.  Only out of memory is fatal. */
static int tick_cores(Manager *m, uint64_t now) {
        int r;

        r = usage_prepare(m, m->cpu);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->n_vms; i++) {
                const ManagerVm *v = m->vms[i];

                if (v->state == MANAGER_VM_MANAGED)
                        m->usage[v->cpu_slot] = (SchedUsage){.used = v->cpu_used_usec, .throttled = v->cpu_throttled};
        }
        manager_reassert_usage(m, now);
        r = sched_tick(m->cpu, now, m->usage);
        if (r < 0)
                log_error_errno(r, "The CPU core refused the tick at %" PRIu64 " us: %m", now);

        for (size_t j = 0; j < m->n_devices; j++)
                for (int k = 0; k < _IO_DIR_MAX; k++) {
                        Sched *s = m->devices[j].sched[k];

                        if (!s)
                                continue;
                        r = usage_prepare(m, s);
                        if (r < 0)
                                return r;
                        for (size_t i = 0; i < m->n_vms; i++) {
                                const ManagerVm *v = m->vms[i];

                                if (v->state == MANAGER_VM_MANAGED && v->io[j].slot[k] >= 0)
                                        m->usage[v->io[j].slot[k]].used = v->io[j].used[k];
                        }
                        r = sched_tick(s, now, m->usage);
                        if (r < 0)
                                log_error_errno(r, "The I/O core of %s %s refused the tick: %m", m->devices[j].name,
                                                io_dir_to_string(k));
                }
        return 0;
}

static void tick_notify(Manager *m, uint64_t now) {
        if (!m->ready || now - m->last_status_usec >= MANAGER_STATUS_INTERVAL_USEC || m->last_status_usec == 0) {
                char status[sizeof(m->status)];

                manager_format_status(m, status, sizeof(status));
                if (!m->ready || strcmp(status, m->status) != 0) {
                        (void)sd_notifyf(0, "%sSTATUS=%s", m->ready ? "" : "READY=1\n", status);
                        memcpy(m->status, status, sizeof(status));
                }
                m->ready = true;
                m->last_status_usec = now;
        }

        if (m->watchdog_usec > 0 && now - m->last_watchdog_usec >= m->watchdog_usec / MANAGER_WATCHDOG_DIVISOR) {
                (void)sd_notify(0, "WATCHDOG=1");
                m->last_watchdog_usec = now;
        }
}

static int manager_tick(Manager *m, uint64_t now) {
        int r;

        m->elapsed_usec = m->last_tick_usec > 0 && now > m->last_tick_usec ? now - m->last_tick_usec : 0;
        m->last_tick_usec = now;

        if (m->config->schedule_cpu)
                manager_read_cpu(m);
        manager_read_io(m);
        r = tick_cores(m, now);
        if (r < 0)
                return log_error_errno(r, "Out of memory");
        r = manager_net_tick(m, now);
        if (r < 0)
                return r;
        manager_reassert_tick(m, now);
        manager_enforce(m);
        manager_hierarchy_sync(m);
        manager_release_gone(m);
        manager_account_host(m);
        m->ticks++;

        if (m->options.stats_file) {
                r = manager_write_stats(m, now);
                if (r < 0)
                        log_warning_errno(r, "Cannot write %s: %m", m->options.stats_file);
        }
        tick_notify(m, now);
        manager_bus_tick(m, now);
        return 0;
}

/* The clock now, for how long a tick takes (sd_event_now() is the time the
 * loop woke up). */
static uint64_t monotonic_usec(void) {
        struct timespec ts;

        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

static void manager_fail(Manager *m, int r) {
        if (m->exit_error == 0)
                m->exit_error = r;
        (void)sd_event_exit(m->event, r);
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        uint64_t now, start_usec;
        int r;

        r = sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        if (r < 0) {
                manager_fail(m, r);
                return 0;
        }
        /* `usec` is this tick's deadline: every whole interval the loop is
         * late by is a deadline that passed without a tick. */
        if (now > usec && m->tick_usec > 0)
                m->ticks_missed += (now - usec) / m->tick_usec;

        start_usec = monotonic_usec();
        r = manager_tick(m, now);
        if (r < 0) {
                manager_fail(m, r);
                return 0;
        }
        manager_metrics_tick(m, now, monotonic_usec() - start_usec);
        if (m->options.after_tick)
                m->options.after_tick(m->ticks, m->options.userdata);
        if (m->options.max_ticks > 0 && m->ticks >= m->options.max_ticks) {
                log_info("Done after %" PRIu64 " ticks", m->ticks);
                (void)sd_event_exit(m->event, 0);
                return 0;
        }

        /* The next deadline follows the last one, so ticks do not drift; after
         * a stall, it starts again from now instead of catching up. */
        m->next_tick_usec += m->tick_usec;
        if (m->next_tick_usec <= now)
                m->next_tick_usec = now + m->tick_usec;
        r = sd_event_source_set_time(s, m->next_tick_usec);
        if (r >= 0)
                r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        if (r < 0)
                manager_fail(m, log_error_errno(r, "Cannot re-arm the tick timer: %m"));
        return 0;
}

static int on_scan(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        int r;

        (void)s;
        (void)usec;

        /* Managed VMs: still the same directory?  (cgroupfs also says so on
         * the next read; this catches a cgroup made anew between ticks.) */
        for (size_t i = 0; i < m->n_vms; i++) {
                ManagerVm *v = m->vms[i];

                if (v->state == MANAGER_VM_MANAGED && !v->gone)
                        (void)manager_vm_check_gone(v, cgroup_vm_check(v->cg));
        }
        manager_release_gone(m);

        r = manager_attach_waiting(m, false);
        if (r >= 0)
                r = manager_net_sync(m, true);
        if (r < 0)
                manager_fail(m, r);
        manager_scan_update(m);
        return 0;
}

/* The scan runs while there are VMs, every MANAGER_SCAN_INTERVAL_USEC. */
void manager_scan_update(Manager *m) {
        uint64_t now;
        int r;

        if (!m->scan_source)
                return;
        if (m->n_vms == 0) {
                (void)sd_event_source_set_enabled(m->scan_source, SD_EVENT_OFF);
                return;
        }
        r = sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        if (r >= 0)
                r = sd_event_source_set_time(m->scan_source, now + MANAGER_SCAN_INTERVAL_USEC);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->scan_source, SD_EVENT_ONESHOT);
        if (r < 0)
                log_warning_errno(r, "Cannot arm the scan timer: %m");
}

static int on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        (void)s;
        log_info("Received %s; restoring the cgroups and exiting", si->ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
        (void)sd_event_exit(m->event, 0);
        return 0;
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        int r;

        (void)s;
        (void)si;
        r = manager_reload(m);
        if (r == -ENOMEM)
                manager_fail(m, r);
        return 0;
}

int manager_new(const Config *config, const ManagerOptions *options, Manager **ret) {
        Manager *m = calloc(1, sizeof(*m));

        if (!m)
                return -ENOMEM;
        m->config = config;
        if (options)
                m->options = *options;
        m->root_fd = -1;
        m->state_fd = -1;
        m->tick_usec = config->tick_usec;
        policy_init(&m->policy);
        *ret = m;
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        manager_metrics_stop(m); /* its thread first */
        manager_bus_stop(m);
        manager_net_stop(m);
        manager_hierarchy_release(m, false); /* the records stay on disk, as after a crash */
        manager_reassert_release(m, false);
        for (size_t i = 0; i < m->n_vms; i++)
                manager_vm_free(m->vms[i]);
        free(m->vms);
        manager_devices_free(m->devices, m->n_devices);
        sched_free(m->cpu);
        free(m->usage);
        if (m->have_policy)
                resolved_policy_done(&m->resolved);
        policy_done(&m->policy);
        policy_done(&m->runtime);
        sd_event_source_disable_unref(m->tick_source);
        sd_event_source_disable_unref(m->scan_source);
        sd_event_source_disable_unref(m->sigterm_source);
        sd_event_source_disable_unref(m->sigint_source);
        sd_event_source_disable_unref(m->sighup_source);
        sd_event_unref(m->event);
        if (m->root_fd >= 0)
                close(m->root_fd);
        if (m->state_fd >= 0)
                close(m->state_fd);
        free(m);
        return NULL;
}

/* mkdir -p, 0755. */
static int mkdir_p(const char *path) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1;; s++) {
                if (*s != '/' && *s != '\0')
                        continue;
                char c = *s;
                *s = '\0';
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return -errno;
                if (c == '\0')
                        return 0;
                *s = c;
        }
}

static void host_facts(HostFacts *ret) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);

        *ret = (HostFacts){
                .cpus_ucpu = cpus > 0 ? (uint64_t)cpus * UNIT_UCPU_PER_CPU : 0,
                .memory_bytes = pages > 0 && page_size > 0 ? (uint64_t)pages * (uint64_t)page_size : 0,
        };
}

static int manager_open_dirs(Manager *m) {
        struct statfs sfs;
        RestoreReconcile res;
        int r;

        m->root_fd = open(m->config->cgroup_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (m->root_fd < 0)
                return log_error_errno(errno, "Cannot open the cgroup root %s: %m", m->config->cgroup_root);
        if (fstatfs(m->root_fd, &sfs) < 0)
                return log_error_errno(errno, "Cannot stat the cgroup root %s: %m", m->config->cgroup_root);
        if (sfs.f_type != CGROUP2_SUPER_MAGIC && !m->config->fake_cgroup_root)
                return log_error_errno(EMEDIUMTYPE,
                                       "The cgroup root %s is not a cgroup2 file system: mount one there "
                                       "(mount -t cgroup2 cgroup2 %s) or point [schedd] cgroup_root at one",
                                       m->config->cgroup_root, m->config->cgroup_root);
        if (sfs.f_type != CGROUP2_SUPER_MAGIC)
                log_notice("The cgroup root %s is a tree of plain files ([schedd] fake_cgroup_root = yes)",
                           m->config->cgroup_root);

        r = mkdir_p(m->config->state_dir);
        if (r < 0)
                return log_error_errno(r, "Cannot make the state directory %s: %m", m->config->state_dir);
        m->state_fd = open(m->config->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (m->state_fd < 0)
                return log_error_errno(errno, "Cannot open the state directory %s: %m", m->config->state_dir);

        /* What a previous run changed and did not restore goes back first,
         * so that the originals recorded from now on are schedd-free. */
        r = restore_reconcile(m->state_fd, m->root_fd, &res);
        if (r < 0)
                return log_error_errno(r, "Cannot read the state directory %s: %m", m->config->state_dir);
        if (res.files > 0)
                log_notice("Found the state of %u cgroup%s left by a previous run: %u file%s restored, %u cgroup%s "
                           "gone, %u kept",
                           res.files, res.files == 1 ? "" : "s", res.restored, res.restored == 1 ? "" : "s", res.gone,
                           res.gone == 1 ? "" : "s", res.failed);
        if (res.failed > 0)
                log_warning("%s", res.message);
        return 0;
}

static int manager_add_sources(Manager *m) {
        uint64_t now;
        int r;

        r = sd_event_default(&m->event);
        if (r < 0)
                return log_error_errno(r, "Cannot make the event loop: %m");

        r = sd_event_add_signal(m->event, &m->sigterm_source, SIGTERM | SD_EVENT_SIGNAL_PROCMASK, on_exit_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, &m->sigint_source, SIGINT | SD_EVENT_SIGNAL_PROCMASK, on_exit_signal,
                                        m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, &m->sighup_source, SIGHUP | SD_EVENT_SIGNAL_PROCMASK, on_sighup, m);
        if (r < 0)
                return log_error_errno(r, "Cannot watch signals: %m");
        (void)sd_event_source_set_description(m->sigterm_source, "sigterm");
        (void)sd_event_source_set_description(m->sigint_source, "sigint");
        (void)sd_event_source_set_description(m->sighup_source, "sighup-reload");

        r = sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        if (r < 0)
                return log_error_errno(r, "Cannot read the clock: %m");

        /* The first tick at once: it only records the time, and READY=1 follows it. */
        m->next_tick_usec = now;
        r = sd_event_add_time(m->event, &m->tick_source, CLOCK_MONOTONIC, now,
                              m->tick_usec / MANAGER_TICK_ACCURACY_DIVISOR ?: 1, on_tick, m);
        if (r < 0)
                return log_error_errno(r, "Cannot add the tick timer: %m");
        (void)sd_event_source_set_description(m->tick_source, "tick");

        r = sd_event_add_time(m->event, &m->scan_source, CLOCK_MONOTONIC, now + MANAGER_SCAN_INTERVAL_USEC,
                              MANAGER_SCAN_ACCURACY_USEC, on_scan, m);
        if (r < 0)
                return log_error_errno(r, "Cannot add the scan timer: %m");
        (void)sd_event_source_set_description(m->scan_source, "scan-cgroups");

        if (sd_watchdog_enabled(0, &m->watchdog_usec) <= 0)
                m->watchdog_usec = 0;
        return 0;
}

/* Gives every managed VM its files back, then the VMs' parents theirs. */
static void manager_restore_all(Manager *m) {
        for (size_t i = 0; i < m->n_vms; i++)
                manager_vm_release(m, m->vms[i], true);
        manager_hierarchy_release(m, true);
        manager_reassert_release(m, true);
}

int manager_start(Manager *m) {
        int r;

        host_facts(&m->facts);
        if (!m->config->schedule_cpu)
                log_notice("CPU is not scheduled ([schedd] schedule_cpu = no): cpu.weight and cpu.max are left as "
                           "they are, and the cgroup root needs no cpu controller");

        r = manager_open_dirs(m);
        if (r < 0)
                return r;
        r = manager_net_start(m);
        if (r < 0)
                return r;
        r = manager_add_sources(m);
        if (r < 0)
                return r;
        /* After the signals are blocked: the endpoint's thread inherits the mask. */
        r = manager_metrics_start(m);
        if (r < 0)
                return r;
        if (m->options.bus) {
                r = manager_bus_start(m);
                if (r < 0)
                        return r;
        }

        r = manager_apply_policy_files(m, "Running");
        if (r < 0)
                manager_restore_all(m); /* attaching may have written memory.* */
        return r;
}

int manager_run(Manager *m) {
        int r;

        r = sd_event_loop(m->event);
        (void)sd_notify(0, "STOPPING=1\nSTATUS=Restoring the cgroups");

        manager_restore_all(m);
        manager_net_stop(m);

        if (m->exit_error < 0)
                return m->exit_error;
        return r < 0 ? r : 0;
}
