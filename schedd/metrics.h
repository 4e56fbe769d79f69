/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The metrics schedd exports, as a snapshot of plain values, and their
 * rendering in the Prometheus text exposition format (version 0.0.4).
 * Pure: no I/O, no clock, no logging.  The manager fills a snapshot after a
 * tick (manager-metrics.c); the HTTP endpoint renders it on request
 * (metrics-http.c).
 *
 * Names follow Prometheus' conventions and stay close to cAdvisor's: base
 * units (seconds, bytes), "_total" on counters, HELP and TYPE on every
 * family.  Units chosen:
 *   CPU amounts (tokens, bucket size, usage)   seconds of CPU time
 *   CPU rates (entitlement, reservation, ...)  cores (CPU-seconds per second)
 *   I/O amounts and rates                      bytes, operations; per second
 *   network egress                             bytes; bytes per second
 *
 * Per VM (label vm), the families with a unit are per resource:
 *   schedd_vm_cpu_*{vm}, schedd_vm_io_*{vm,device,direction},
 *   schedd_vm_net_*{vm,interface}
 * and the unitless ones (share, held, ...) are one family for every
 * resource, told apart by the label resource ("cpu", "io_bytes",
 * "io_operations", "net_egress"; io adds device and direction).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/model.h"

/* The upper bounds of the tick-duration histogram, microseconds.  From
 * 50 µs (a tick of a few VMs) in 1-2.5-5 steps to 1 s, the longest tick
 * interval the configuration allows: a tick that takes longer than its
 * interval is late whatever the interval, so finer buckets above would
 * tell nothing more. */
#define METRICS_TICK_BUCKETS 14
extern const uint64_t metrics_tick_bucket_usec[METRICS_TICK_BUCKETS];

/* A histogram of durations: per bucket (not cumulative; the last counts
 * what is above every bound), the sum and the count. */
typedef struct MetricsHistogram {
        uint64_t bucket[METRICS_TICK_BUCKETS + 1];
        uint64_t sum_usec;
        uint64_t count;
} MetricsHistogram;

/* Counts one observation.  Counters saturate rather than wrap. */
void metrics_histogram_observe(MetricsHistogram *h, uint64_t usec);

/* One token bucket of a VM: CPU (usec, micro-CPUs), an I/O direction
 * (bytes or operations, per second), or egress (bytes, per second). */
typedef struct MetricsBucket {
        bool present; /* the VM is in this resource's core; nothing else is set otherwise */
        uint64_t tokens;
        uint64_t size;        /* 0: no bucket (no burst) */
        uint64_t entitlement; /* what the bucket fills at, per second */
        uint64_t allocation;  /* the fair allocation for the estimated demand, per second */
        uint64_t allowed;     /* what enforcement allows now: the allocation plus any burst, per second */
        uint64_t reservation; /* per second, 0: none */
        uint64_t limit;       /* per second; the capacity where the policy sets none */
        uint32_t share;
        bool held;     /* ran dry, held to its entitlement */
        bool bursting; /* spending tokens above its allocation */
        /* Counters, since schedd started managing the VM. */
        uint64_t held_ticks;
        uint64_t held_usec;
        uint64_t transitions; /* released -> held */
} MetricsBucket;

/* A VM's part in one I/O device. */
typedef struct MetricsVmIo {
        MetricsBucket dir[_IO_DIR_MAX]; /* per IoDir */
        bool have_counters;
        uint64_t counter[_IO_DIR_MAX]; /* io.stat: rbytes, wbytes, rios, wios */
} MetricsVmIo;

typedef struct MetricsVm {
        const char *name;
        const char *cgroup;
        bool managed; /* false: waiting for its cgroup; no other field is set */

        MetricsBucket cpu;
        uint32_t cpu_weight; /* cpu.weight written */
        bool have_cpu_counters;
        uint64_t cpu_usage_usec;        /* cpu.stat usage_usec */
        uint64_t cpu_throttled_usec;    /* cpu.stat throttled_usec */
        uint64_t cpu_throttled_periods; /* cpu.stat nr_throttled */

        MetricsVmIo *io; /* one per MetricsSnapshot.devices entry; NULL when n_devices is 0 */

        const char *net_interface; /* NULL: no egress part */
        MetricsBucket net;
        bool have_net_counters;
        uint64_t net_bytes;
        uint64_t net_packets;
} MetricsVm;

typedef struct MetricsDevice {
        const char *name;
        bool resolved;             /* its number is known: enforced */
        uint64_t cap[_IO_DIR_MAX]; /* declared capacity per second, 0: none */
} MetricsDevice;

typedef struct MetricsSnapshot {
        const char *version;
        uint64_t tick_interval_usec;
        uint64_t cpu_capacity_ucpu; /* micro-CPUs */
        uint64_t ticks;
        uint64_t ticks_missed;
        uint64_t reloads;
        uint64_t reload_failures;
        uint64_t reasserted;          /* knobs another writer changed, written back */
        uint64_t host_cpu_usage_usec; /* the host context: capacity minus the VMs, summed over ticks */
        MetricsHistogram tick_duration;

        MetricsDevice *devices;
        size_t n_devices;
        MetricsVm *vms;
        size_t n_vms;
} MetricsSnapshot;

/* The content type of what metrics_render() writes. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * Renders `s` in the text exposition format.  0 with *ret_text (NUL-
 * terminated; free() it) and *ret_size (without the NUL), or -ENOMEM.
 * Every family has its HELP and TYPE, even when it has no sample; label
 * values are escaped (\\, \", \n).
 */
int metrics_render(const MetricsSnapshot *s, char **ret_text, size_t *ret_size);

/* A value in millionths (usec, micro-CPUs) as an exact decimal: "1.5",
 * "0.000001", "18446744073709.551615".  Length; buf takes at least
 * METRICS_DECIMAL_MAX bytes: the longest, UINT64_MAX, is 14 digits, the
 * point and 6 digits, 21 characters and the NUL; 32 rounds it up. */
#define METRICS_DECIMAL_MAX 32
int metrics_format_micro(uint64_t micro, char *buf);
