/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The manager's side of the metrics: counting what the tick does (its
 * duration, missed deadlines, VMs held), building a snapshot of the state,
 * and handing snapshots to the HTTP endpoint (metrics-http.c), which runs
 * in a thread of its own.  Only this file touches both.
 */

#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "log.h"
#include "manager-internal.h"
#include "manager-reassert.h"
#include "version.h"

/* A fresh snapshot for the endpoint at most every 100 ms (or every tick,
 * when ticks are slower): Prometheus scrapes every few seconds, so what it
 * reads is never more than a tenth of a second old, while building the
 * snapshot of 1000 VMs ten times a second costs the tick thread well under
 * 1 % of a CPU (tools/bench-metrics). */
#define MANAGER_METRICS_PUBLISH_INTERVAL_USEC (100 * 1000ULL)

/* The name the socket unit gives the metrics socket (FileDescriptorName=). */
#define MANAGER_METRICS_FD_NAME "metrics"

static void on_server_log(int level, const char *message, void *userdata) {
        (void)userdata;
        log_full_errno(level, 0, "metrics: %s", message);
}

/* A listening stream socket passed by the service manager for the
 * endpoint: the one named MANAGER_METRICS_FD_NAME, or the only one passed.
 * Others are closed.  The descriptor, or -1. */
static int metrics_listen_fd(void) {
        char **names = NULL;
        int n, fd = -1;

        n = sd_listen_fds_with_names(true, &names);
        if (n < 0) {
                log_warning_errno(n, "Cannot read the sockets passed by the service manager: %m");
                return -1;
        }
        for (int i = 0; i < n; i++) {
                int candidate = SD_LISTEN_FDS_START + i;
                const char *name = names && names[i] ? names[i] : "unknown";

                if (fd < 0 && (strcmp(name, MANAGER_METRICS_FD_NAME) == 0 || n == 1) &&
                    sd_is_socket(candidate, AF_UNSPEC, SOCK_STREAM, 1) > 0)
                        fd = candidate;
                else {
                        log_warning("Ignoring socket %d (\"%s\") passed by the service manager: not a listening "
                                    "stream socket named \"" MANAGER_METRICS_FD_NAME "\"",
                                    candidate, name);
                        (void)close(candidate);
                }
        }
        for (int i = 0; names && i < n; i++)
                free(names[i]);
        free(names);
        return fd;
}

int manager_metrics_start(Manager *m) {
        MetricsServerOptions o = {
                .listen_fd = metrics_listen_fd(),
                .family = m->config->metrics_family,
                .address = m->config->metrics_address,
                .port = m->config->metrics_port,
                .log = on_server_log,
                .userdata = m,
        };
        int r;

        if (o.listen_fd < 0 && !m->config->metrics_listen) {
                log_debug("No metrics endpoint: [metrics] listen is empty");
                return 0;
        }

        /* Not fatal: the VMs' reservations matter more than their graphs. */
        r = metrics_server_new(&o, &m->metrics_server);
        if (r == -ENOMEM)
                return log_error_errno(r, "Out of memory");
        if (r < 0) {
                if (o.listen_fd >= 0) {
                        (void)close(o.listen_fd);
                        log_error_errno(r, "Cannot serve metrics on the socket passed by the service manager: %m; "
                                           "running without the metrics endpoint");
                } else
                        log_error_errno(r, "Cannot serve metrics on %s: %m; running without the metrics endpoint",
                                        m->config->metrics_listen);
                return 0;
        }
        if (o.listen_fd >= 0)
                log_info("Serving metrics at /metrics on the socket passed by the service manager (port %u)",
                         metrics_server_port(m->metrics_server));
        else
                log_info("Serving metrics at http://%s/metrics", m->config->metrics_listen);
        return 0;
}

void manager_metrics_stop(Manager *m) {
        m->metrics_server = metrics_server_free(m->metrics_server);
}

static uint64_t add_sat(uint64_t a, uint64_t b) {
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Counts a tick during which a VM's bucket ended held. */
static void count_held(const Sched *s, int slot, uint64_t elapsed_usec, uint64_t *ticks, uint64_t *usec) {
        if (s && slot >= 0 && sched_decision(s, slot)->held) {
                *ticks = add_sat(*ticks, 1);
                *usec = add_sat(*usec, elapsed_usec);
        }
}

void manager_metrics_tick(Manager *m, uint64_t now, uint64_t duration_usec) {
        MetricsSnapshot *snapshot;
        int r;

        metrics_histogram_observe(&m->tick_duration, duration_usec);
        m->host_cpu_usage_usec = add_sat(m->host_cpu_usage_usec, m->host_used_usec);
        for (size_t i = 0; i < m->n_vms; i++) {
                ManagerVm *v = m->vms[i];

                if (v->state != MANAGER_VM_MANAGED)
                        continue;
                count_held(m->cpu, v->cpu_slot, m->elapsed_usec, &v->cpu_held_ticks, &v->cpu_held_usec);
                for (size_t j = 0; j < m->n_devices; j++)
                        for (int k = 0; k < _IO_DIR_MAX; k++)
                                count_held(m->devices[j].sched[k], v->io[j].slot[k], m->elapsed_usec,
                                           &v->io[j].held_ticks[k], &v->io[j].held_usec[k]);
                count_held(m->net, v->net.joined ? v->net.slot : -1, m->elapsed_usec, &v->net.held_ticks,
                           &v->net.held_usec);
        }

        if (!m->metrics_server)
                return;
        if (m->metrics_published_usec > 0 && now - m->metrics_published_usec < MANAGER_METRICS_PUBLISH_INTERVAL_USEC)
                return;
        r = manager_metrics_snapshot(m, &snapshot);
        if (r >= 0)
                r = metrics_server_publish(m->metrics_server, snapshot);
        if (r < 0) {
                log_warning_errno(r, "Cannot publish the metrics: %m");
                return;
        }
        m->metrics_published_usec = now;
}

/* The snapshot's one block: structures from the front, each aligned;
 * strings in a region of their own behind them. */
typedef struct Arena {
        char *p;
        size_t structs; /* next structure */
        size_t strings; /* next string */
} Arena;

/* Every structure starts where any type may: what malloc() itself promises. */
#define ARENA_ALIGN alignof(max_align_t)

static size_t align_up(size_t n) {
        return (n + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
}

static void *arena_take(Arena *a, size_t n) {
        void *p = a->p + a->structs;

        a->structs += align_up(n);
        return p;
}

static const char *arena_strdup(Arena *a, const char *s) {
        size_t n = strlen(s) + 1;
        char *p = memcpy(a->p + a->strings, s, n);

        a->strings += n;
        return p;
}

static void fill_bucket(MetricsBucket *mb, const Sched *s, int slot, const ResolvedResource *rr, uint64_t held_ticks,
                        uint64_t held_usec) {
        const SchedDecision *d = sched_decision(s, slot);
        const TokenBucket *b = sched_bucket(s, slot);

        *mb = (MetricsBucket){
                .present = true,
                .tokens = b->tokens,
                .size = b->size,
                .entitlement = d->entitlement,
                .allocation = d->allocation,
                .allowed = d->rate,
                .reservation = rr->reserve,
                .limit = rr->limit,
                .share = rr->share,
                .held = d->held,
                .bursting = d->bursting,
                .held_ticks = held_ticks,
                .held_usec = held_usec,
                .transitions = sched_transitions(s, slot),
        };
}

static const char *vm_name_of(const ManagerVm *v) {
        return v->name ?: "";
}

int manager_metrics_snapshot(const Manager *m, MetricsSnapshot **ret) {
        size_t structs, managed = 0, strings = sizeof(SCHEDD_VERSION);
        const char *net_label = NULL;
        MetricsSnapshot *s;
        Arena a;

        /* One block, so that publishing costs one allocation and freeing one free(). */
        for (size_t j = 0; j < m->n_devices; j++)
                strings += strlen(m->devices[j].name) + 1;
        if (m->net_label)
                strings += strlen(m->net_label) + 1;
        for (size_t i = 0; i < m->n_vms; i++) {
                strings += strlen(vm_name_of(m->vms[i])) + 1 + strlen(m->vms[i]->cgroup ?: "") + 1;
                managed += m->vms[i]->state == MANAGER_VM_MANAGED;
        }
        structs = align_up(sizeof(MetricsSnapshot)) + align_up(m->n_devices * sizeof(MetricsDevice)) +
                  align_up(m->n_vms * sizeof(MetricsVm)) + managed * align_up(m->n_devices * sizeof(MetricsVmIo));
        a = (Arena){.p = calloc(1, structs + strings), .strings = structs};
        if (!a.p)
                return -ENOMEM;

        s = arena_take(&a, sizeof(*s));
        *s = (MetricsSnapshot){
                .version = arena_strdup(&a, SCHEDD_VERSION),
                .tick_interval_usec = m->tick_usec,
                .cpu_capacity_ucpu = m->cpu_capacity,
                .ticks = m->ticks,
                .ticks_missed = m->ticks_missed,
                .reloads = m->reloads,
                .reload_failures = m->reload_failures,
                .reasserted = manager_reassert_count(m),
                .host_cpu_usage_usec = m->host_cpu_usage_usec,
                .tick_duration = m->tick_duration,
                .n_devices = m->n_devices,
                .n_vms = m->n_vms,
        };
        if (m->net_label)
                net_label = arena_strdup(&a, m->net_label);
        s->devices = arena_take(&a, m->n_devices * sizeof(MetricsDevice));
        for (size_t j = 0; j < m->n_devices; j++) {
                MetricsDevice *d = &s->devices[j];

                d->name = arena_strdup(&a, m->devices[j].name);
                d->resolved = m->devices[j].resolved;
                for (int k = 0; k < _IO_DIR_MAX; k++)
                        d->cap[k] = m->devices[j].sched[k] ? m->devices[j].cap[k] : 0;
        }

        s->vms = arena_take(&a, m->n_vms * sizeof(MetricsVm));
        for (size_t i = 0; i < m->n_vms; i++) {
                const ManagerVm *v = m->vms[i];
                MetricsVm *mv = &s->vms[i];

                mv->name = arena_strdup(&a, vm_name_of(v));
                mv->cgroup = arena_strdup(&a, v->cgroup ?: "");
                if (v->state != MANAGER_VM_MANAGED)
                        continue;
                mv->managed = true;

                if (v->net.joined) {
                        /* Labelled with the shaped interfaces: egress is one resource over all of them. */
                        mv->net_interface = net_label;
                        fill_bucket(&mv->net, m->net, v->net.slot, &v->rv->net, v->net.held_ticks, v->net.held_usec);
                        mv->have_net_counters = true;
                        mv->net_bytes = v->net.bytes_total;
                        mv->net_packets = v->net.packets_total;
                }

                if (v->cpu_slot >= 0 && m->config->schedule_cpu) {
                        fill_bucket(&mv->cpu, m->cpu, v->cpu_slot, &v->rv->cpu, v->cpu_held_ticks, v->cpu_held_usec);
                        mv->cpu_weight = sched_decision(m->cpu, v->cpu_slot)->weight;
                }
                if (v->have_last_cpu) {
                        mv->have_cpu_counters = true;
                        mv->cpu_usage_usec = v->last_cpu.usage_usec;
                        mv->cpu_throttled_usec = v->last_cpu.throttled_usec;
                        mv->cpu_throttled_periods = v->last_cpu.nr_throttled;
                }

                if (m->n_devices == 0)
                        continue;
                mv->io = arena_take(&a, m->n_devices * sizeof(MetricsVmIo));
                for (size_t j = 0; j < m->n_devices; j++) {
                        const ManagerVmIo *io = &v->io[j];
                        MetricsVmIo *mio = &mv->io[j];

                        for (int k = 0; k < _IO_DIR_MAX; k++)
                                if (io->slot[k] >= 0)
                                        fill_bucket(&mio->dir[k], m->devices[j].sched[k], io->slot[k],
                                                    &v->rv->io[j * _IO_DIR_MAX + (size_t)k], io->held_ticks[k],
                                                    io->held_usec[k]);
                        if (io->have_last) {
                                mio->have_counters = true;
                                for (int k = 0; k < _IO_DIR_MAX; k++)
                                        mio->counter[k] = io_stat_get(&io->last, k);
                        }
                }
        }

        *ret = s;
        return 0;
}
