/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define ELEMENTSOF_(a) (sizeof(a) / sizeof((a)[0]))

const uint64_t metrics_tick_bucket_usec[METRICS_TICK_BUCKETS] = {
        50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
};

static uint64_t add_sat(uint64_t a, uint64_t b) {
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

void metrics_histogram_observe(MetricsHistogram *h, uint64_t usec) {
        size_t i = 0;

        while (i < METRICS_TICK_BUCKETS && usec > metrics_tick_bucket_usec[i])
                i++;
        h->bucket[i] = add_sat(h->bucket[i], 1);
        h->sum_usec = add_sat(h->sum_usec, usec);
        h->count = add_sat(h->count, 1);
}

int metrics_format_micro(uint64_t micro, char *buf) {
        char frac[8];
        uint64_t whole = micro / 1000000, part = micro % 1000000;
        char digits[24];
        size_t n = 0, len = 0;

        do {
                digits[n++] = (char)('0' + whole % 10);
                whole /= 10;
        } while (whole > 0);
        while (n > 0)
                buf[len++] = digits[--n];
        if (part > 0) {
                size_t f = 6;

                for (int i = 5; i >= 0; i--) {
                        frac[i] = (char)('0' + part % 10);
                        part /= 10;
                }
                while (f > 0 && frac[f - 1] == '0')
                        f--;
                buf[len++] = '.';
                memcpy(buf + len, frac, f);
                len += f;
        }
        buf[len] = '\0';
        return (int)len;
}

/* The text being rendered: grows by doubling; after a failed allocation
 * every append is a no-op and `oom` says so. */
typedef struct Buf {
        char *p;
        size_t n, cap;
        bool oom;
} Buf;

static bool buf_reserve(Buf *b, size_t more) {
        size_t cap;
        char *p;

        if (b->oom)
                return false;
        if (b->cap - b->n > more)
                return true;
        cap = b->cap ?: 4096;
        while (cap - b->n <= more) {
                if (cap > SIZE_MAX / 2) {
                        b->oom = true;
                        return false;
                }
                cap *= 2;
        }
        p = realloc(b->p, cap);
        if (!p) {
                b->oom = true;
                return false;
        }
        b->p = p;
        b->cap = cap;
        return true;
}

static void buf_put(Buf *b, const char *s, size_t len) {
        if (!buf_reserve(b, len))
                return;
        memcpy(b->p + b->n, s, len);
        b->n += len;
}

static void buf_puts(Buf *b, const char *s) {
        buf_put(b, s, strlen(s));
}

static void buf_u64(Buf *b, uint64_t v) {
        char digits[24];
        size_t n = 0;

        if (!buf_reserve(b, sizeof(digits)))
                return;
        do {
                digits[n++] = (char)('0' + v % 10);
                v /= 10;
        } while (v > 0);
        while (n > 0)
                b->p[b->n++] = digits[--n];
}

static void buf_micro(Buf *b, uint64_t v) {
        if (!buf_reserve(b, METRICS_DECIMAL_MAX))
                return;
        b->n += (size_t)metrics_format_micro(v, b->p + b->n);
}

/* A label value, escaped, between quotes. */
static void buf_label(Buf *b, const char *name, const char *value, bool first) {
        if (!first)
                buf_put(b, ",", 1);
        buf_puts(b, name);
        buf_put(b, "=\"", 2);
        for (const char *p = value;;) {
                size_t plain = strcspn(p, "\\\"\n");

                buf_put(b, p, plain);
                p += plain;
                if (!*p)
                        break;
                buf_put(b, *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : "\\n", 2);
                p++;
        }
        buf_put(b, "\"", 1);
}

static void buf_family(Buf *b, const char *name, const char *type, const char *help) {
        buf_puts(b, "# HELP ");
        buf_puts(b, name);
        buf_put(b, " ", 1);
        buf_puts(b, help);
        buf_puts(b, "\n# TYPE ");
        buf_puts(b, name);
        buf_put(b, " ", 1);
        buf_puts(b, type);
        buf_put(b, "\n", 1);
}

/* A sample without labels. */
static void buf_sample(Buf *b, const char *name, uint64_t value, bool micro) {
        buf_puts(b, name);
        buf_put(b, " ", 1);
        if (micro)
                buf_micro(b, value);
        else
                buf_u64(b, value);
        buf_put(b, "\n", 1);
}

/* The end of a sample whose labels are open: "} VALUE\n". */
static void buf_value(Buf *b, uint64_t value, bool micro) {
        buf_put(b, "} ", 2);
        if (micro)
                buf_micro(b, value);
        else
                buf_u64(b, value);
        buf_put(b, "\n", 1);
}

/* The kinds of bucket, each with its units. */
typedef enum Kind {
        KIND_CPU,
        KIND_IO_BYTES,
        KIND_IO_OPERATIONS,
        KIND_NET,
        _KIND_MAX,
} Kind;

typedef struct KindInfo {
        const char *prefix;      /* of the family names with a unit */
        const char *amount_unit; /* tokens, bucket size */
        const char *rate_unit;   /* entitlement, reservation, ... */
        const char *resource;    /* the value of the label resource */
        const char *what;        /* in HELP texts */
        bool micro;              /* values are millionths of the unit (usec, micro-CPUs) */
} KindInfo;

static const KindInfo kinds[_KIND_MAX] = {
        [KIND_CPU] = {"schedd_vm_cpu_", "seconds", "cores", "cpu", "CPU", true},
        [KIND_IO_BYTES] = {"schedd_vm_io_", "bytes", "bytes_per_second", "io_bytes", "I/O bytes", false},
        [KIND_IO_OPERATIONS] = {"schedd_vm_io_", "operations", "operations_per_second", "io_operations",
                                "I/O operations", false},
        [KIND_NET] = {"schedd_vm_net_egress_", "bytes", "bytes_per_second", "net_egress", "network egress", false},
};

static Kind kind_of_dir(IoDir d) {
        return d == IO_RBPS || d == IO_WBPS ? KIND_IO_BYTES : KIND_IO_OPERATIONS;
}

static const char *direction_of(IoDir d) {
        return d == IO_RBPS || d == IO_RIOPS ? "read" : "write";
}

/* One bucket of one VM, with what names it. */
typedef struct BucketRef {
        Kind kind;
        const MetricsBucket *b;
        const char *device;    /* io */
        const char *direction; /* io */
        const char *interface; /* net */
} BucketRef;

/* The buckets of a managed VM, in a fixed order: CPU, I/O by device and
 * direction, egress.  `out` holds 2 + 4 * n_devices entries. */
static size_t vm_buckets(const MetricsSnapshot *s, const MetricsVm *v, BucketRef *out) {
        size_t n = 0;

        if (!v->managed)
                return 0;
        if (v->cpu.present)
                out[n++] = (BucketRef){.kind = KIND_CPU, .b = &v->cpu};
        for (size_t j = 0; v->io && j < s->n_devices; j++)
                for (int k = 0; k < _IO_DIR_MAX; k++)
                        if (v->io[j].dir[k].present)
                                out[n++] = (BucketRef){
                                        .kind = kind_of_dir(k),
                                        .b = &v->io[j].dir[k],
                                        .device = s->devices[j].name,
                                        .direction = direction_of(k),
                                };
        if (v->net_interface && v->net.present)
                out[n++] = (BucketRef){.kind = KIND_NET, .b = &v->net, .interface = v->net_interface};
        return n;
}

/* "NAME{vm=..,[resource=..,]device=..,direction=.." without the closing brace. */
static void buf_bucket_labels(Buf *b, const char *name, const MetricsVm *v, const BucketRef *r, bool resource) {
        buf_puts(b, name);
        buf_put(b, "{", 1);
        buf_label(b, "vm", v->name, true);
        if (resource)
                buf_label(b, "resource", kinds[r->kind].resource, false);
        if (r->device) {
                buf_label(b, "device", r->device, false);
                buf_label(b, "direction", r->direction, false);
        }
        if (r->interface)
                buf_label(b, "interface", r->interface, false);
}

/* The families with a unit, one per kind of bucket. */
typedef struct UnitFamily {
        const char *what;   /* the middle of the name */
        bool rate;          /* a rate, or an amount */
        const char *help_a; /* HELP: help_a, the kind, help_b */
        const char *help_b;
        size_t offset; /* of the uint64_t in MetricsBucket */
} UnitFamily;

static const UnitFamily unit_families[] = {
        {"tokens", false, "Tokens in the VM's ", " bucket.", offsetof(MetricsBucket, tokens)},
        {"bucket_size", false, "Size of the VM's ", " bucket, its burst (0: no bucket).",
         offsetof(MetricsBucket, size)},
        {"entitlement", true, "Rate the VM's ", " bucket fills at: its entitlement.",
         offsetof(MetricsBucket, entitlement)},
        {"allocation", true, "The VM's fair ", " allocation for its estimated demand.",
         offsetof(MetricsBucket, allocation)},
        {"allowed", true, "The ", " rate enforcement allows the VM now: its allocation plus any burst.",
         offsetof(MetricsBucket, allowed)},
        {"reservation", true, "The VM's ", " reservation (0: none).", offsetof(MetricsBucket, reservation)},
        {"limit", true, "The VM's ", " limit (the capacity where the policy sets none).",
         offsetof(MetricsBucket, limit)},
};

/* The unitless families, one for every kind (label resource). */
typedef enum Generic {
        GENERIC_SHARE,
        GENERIC_HELD,
        GENERIC_BURSTING,
        GENERIC_HELD_TICKS,
        GENERIC_HELD_SECONDS,
        GENERIC_TRANSITIONS,
        _GENERIC_MAX,
} Generic;

static const struct {
        const char *name, *type, *help;
} generic_families[_GENERIC_MAX] = {
        [GENERIC_SHARE] = {"schedd_vm_share", "gauge",
                           "The VM's share: its weight in dividing what reservations leave (0: none)."},
        [GENERIC_HELD] = {"schedd_vm_held", "gauge",
                          "1 while the VM's bucket ran dry and the VM is held to its entitlement."},
        [GENERIC_BURSTING] = {"schedd_vm_bursting", "gauge", "1 while the VM spends tokens above its allocation."},
        [GENERIC_HELD_TICKS] = {"schedd_vm_held_ticks_total", "counter",
                                "Ticks at whose end the VM was held to its entitlement."},
        [GENERIC_HELD_SECONDS] = {"schedd_vm_held_seconds_total", "counter",
                                  "Time the VM was held to its entitlement."},
        [GENERIC_TRANSITIONS] = {"schedd_vm_throttle_transitions_total", "counter",
                                 "Times the VM went from released to held."},
};

static void render_daemon(Buf *b, const MetricsSnapshot *s) {
        uint64_t managed = 0, cumulative = 0;

        buf_family(b, "schedd_build_info", "gauge", "Always 1; the label version is schedd's version.");
        buf_puts(b, "schedd_build_info{");
        buf_label(b, "version", s->version ?: "", true);
        buf_value(b, 1, false);

        buf_family(b, "schedd_ticks_total", "counter", "Ticks done.");
        buf_sample(b, "schedd_ticks_total", s->ticks, false);
        buf_family(b, "schedd_ticks_missed_total", "counter",
                   "Tick deadlines that passed without a tick (the loop was late by a whole interval or more).");
        buf_sample(b, "schedd_ticks_missed_total", s->ticks_missed, false);
        buf_family(b, "schedd_tick_interval_seconds", "gauge", "The configured tick interval.");
        buf_sample(b, "schedd_tick_interval_seconds", s->tick_interval_usec, true);

        buf_family(b, "schedd_tick_duration_seconds", "histogram",
                   "Time a tick took: reading the counters, deciding, writing the cgroup files.");
        for (size_t i = 0; i <= METRICS_TICK_BUCKETS; i++) {
                cumulative = add_sat(cumulative, s->tick_duration.bucket[i]);
                buf_puts(b, "schedd_tick_duration_seconds_bucket{le=\"");
                if (i < METRICS_TICK_BUCKETS)
                        buf_micro(b, metrics_tick_bucket_usec[i]);
                else
                        buf_puts(b, "+Inf");
                buf_put(b, "\"", 1);
                buf_value(b, cumulative, false);
        }
        buf_sample(b, "schedd_tick_duration_seconds_sum", s->tick_duration.sum_usec, true);
        buf_sample(b, "schedd_tick_duration_seconds_count", s->tick_duration.count, false);

        buf_family(b, "schedd_policy_reloads_total", "counter", "Policy reloads asked for (SIGHUP or the bus).");
        buf_sample(b, "schedd_policy_reloads_total", s->reloads, false);
        buf_family(b, "schedd_policy_reload_failures_total", "counter",
                   "Policy reloads that failed; the running policy stayed.");
        buf_sample(b, "schedd_policy_reload_failures_total", s->reload_failures, false);
        buf_family(
                b, "schedd_reasserted_total", "counter",
                "Knobs schedd owns that another writer changed (systemd re-applying a unit, an admin), written back.");
        buf_sample(b, "schedd_reasserted_total", s->reasserted, false);

        for (size_t i = 0; i < s->n_vms; i++)
                managed += s->vms[i].managed;
        buf_family(b, "schedd_vms", "gauge", "VMs in the policy, by state: managed, or waiting for their cgroup.");
        buf_puts(b, "schedd_vms{state=\"managed\"} ");
        buf_u64(b, managed);
        buf_puts(b, "\nschedd_vms{state=\"waiting\"} ");
        buf_u64(b, s->n_vms - managed);
        buf_put(b, "\n", 1);

        buf_family(b, "schedd_cpu_capacity_cores", "gauge", "CPU capacity the policy divides.");
        buf_sample(b, "schedd_cpu_capacity_cores", s->cpu_capacity_ucpu, true);
        buf_family(b, "schedd_host_cpu_usage_seconds_total", "counter",
                   "CPU time of the host context: the capacity the VMs left, summed over ticks.");
        buf_sample(b, "schedd_host_cpu_usage_seconds_total", s->host_cpu_usage_usec, true);

        buf_family(b, "schedd_io_device_resolved", "gauge",
                   "1 when the policy's I/O device was found (its limits are enforced), 0 otherwise.");
        for (size_t j = 0; j < s->n_devices; j++) {
                buf_puts(b, "schedd_io_device_resolved{");
                buf_label(b, "device", s->devices[j].name, true);
                buf_value(b, s->devices[j].resolved, false);
        }
        for (Kind kind = KIND_IO_BYTES; kind <= KIND_IO_OPERATIONS; kind++) {
                const char *name = kind == KIND_IO_BYTES ? "schedd_io_capacity_bytes_per_second"
                                                         : "schedd_io_capacity_operations_per_second";

                buf_family(b, name, "gauge",
                           kind == KIND_IO_BYTES ? "Declared capacity of the I/O device, bytes."
                                                 : "Declared capacity of the I/O device, operations.");
                for (size_t j = 0; j < s->n_devices; j++)
                        for (int k = 0; k < _IO_DIR_MAX; k++) {
                                if (kind_of_dir(k) != kind || s->devices[j].cap[k] == 0)
                                        continue;
                                buf_puts(b, name);
                                buf_put(b, "{", 1);
                                buf_label(b, "device", s->devices[j].name, true);
                                buf_label(b, "direction", direction_of(k), false);
                                buf_value(b, s->devices[j].cap[k], false);
                        }
        }
}

static void render_vm_counters(Buf *b, const MetricsSnapshot *s) {
        static const struct {
                const char *name, *help;
                size_t offset;
                bool micro;
        } cpu[] = {
                {"schedd_vm_cpu_usage_seconds_total", "CPU time the VM's cgroup used (cpu.stat usage_usec).",
                 offsetof(MetricsVm, cpu_usage_usec), true},
                {"schedd_vm_cpu_throttled_seconds_total",
                 "Time the kernel held the VM's cgroup back at its cpu.max (cpu.stat throttled_usec).",
                 offsetof(MetricsVm, cpu_throttled_usec), true},
                {"schedd_vm_cpu_throttled_periods_total",
                 "Periods in which the kernel held the VM's cgroup back at its cpu.max (cpu.stat nr_throttled).",
                 offsetof(MetricsVm, cpu_throttled_periods), false},
        };

        for (size_t f = 0; f < ELEMENTSOF_(cpu); f++) {
                buf_family(b, cpu[f].name, "counter", cpu[f].help);
                for (size_t i = 0; i < s->n_vms; i++) {
                        const MetricsVm *v = &s->vms[i];

                        if (!v->managed || !v->have_cpu_counters)
                                continue;
                        buf_puts(b, cpu[f].name);
                        buf_put(b, "{", 1);
                        buf_label(b, "vm", v->name, true);
                        buf_value(b, *(const uint64_t *)((const char *)v + cpu[f].offset), cpu[f].micro);
                }
        }

        buf_family(b, "schedd_vm_cpu_weight", "gauge", "The cpu.weight schedd gives the VM's cgroup.");
        for (size_t i = 0; i < s->n_vms; i++) {
                const MetricsVm *v = &s->vms[i];

                if (!v->managed || !v->cpu.present)
                        continue;
                buf_puts(b, "schedd_vm_cpu_weight{");
                buf_label(b, "vm", v->name, true);
                buf_value(b, v->cpu_weight, false);
        }

        for (Kind kind = KIND_IO_BYTES; kind <= KIND_IO_OPERATIONS; kind++) {
                const char *name =
                        kind == KIND_IO_BYTES ? "schedd_vm_io_bytes_total" : "schedd_vm_io_operations_total";

                buf_family(b, name, "counter",
                           kind == KIND_IO_BYTES ? "Bytes the VM's cgroup read or wrote on the device (io.stat)."
                                                 : "I/O operations of the VM's cgroup on the device (io.stat).");
                for (size_t i = 0; i < s->n_vms; i++) {
                        const MetricsVm *v = &s->vms[i];

                        for (size_t j = 0; v->managed && v->io && j < s->n_devices; j++)
                                for (int k = 0; k < _IO_DIR_MAX; k++) {
                                        if (!v->io[j].have_counters || kind_of_dir(k) != kind)
                                                continue;
                                        buf_puts(b, name);
                                        buf_put(b, "{", 1);
                                        buf_label(b, "vm", v->name, true);
                                        buf_label(b, "device", s->devices[j].name, false);
                                        buf_label(b, "direction", direction_of(k), false);
                                        buf_value(b, v->io[j].counter[k], false);
                                }
                }
        }

        for (int f = 0; f < 2; f++) {
                const char *name = f == 0 ? "schedd_vm_net_egress_bytes_total" : "schedd_vm_net_egress_packets_total";

                buf_family(b, name, "counter",
                           f == 0 ? "Bytes the VM sent out of the host interface."
                                  : "Packets the VM sent out of the host interface.");
                for (size_t i = 0; i < s->n_vms; i++) {
                        const MetricsVm *v = &s->vms[i];

                        if (!v->managed || !v->net_interface || !v->have_net_counters)
                                continue;
                        buf_puts(b, name);
                        buf_put(b, "{", 1);
                        buf_label(b, "vm", v->name, true);
                        buf_label(b, "interface", v->net_interface, false);
                        buf_value(b, f == 0 ? v->net_bytes : v->net_packets, false);
                }
        }
}

static void render_vms(Buf *b, const MetricsSnapshot *s, BucketRef *refs) {
        char name[128];

        buf_family(b, "schedd_vm_managed", "gauge",
                   "1 while schedd manages the VM's cgroup, 0 while it waits for the cgroup to appear.");
        for (size_t i = 0; i < s->n_vms; i++) {
                buf_puts(b, "schedd_vm_managed{");
                buf_label(b, "vm", s->vms[i].name, true);
                buf_label(b, "cgroup", s->vms[i].cgroup ?: "", false);
                buf_value(b, s->vms[i].managed, false);
        }

        for (size_t f = 0; f < ELEMENTSOF_(unit_families); f++)
                for (Kind kind = 0; kind < _KIND_MAX; kind++) {
                        const UnitFamily *uf = &unit_families[f];
                        const KindInfo *ki = &kinds[kind];
                        char help[256];

                        /* Both I/O kinds share the prefix: the unit tells them apart. */
                        snprintf(name, sizeof(name), "%s%s_%s", ki->prefix, uf->what,
                                 uf->rate ? ki->rate_unit : ki->amount_unit);
                        snprintf(help, sizeof(help), "%s%s%s", uf->help_a, ki->what, uf->help_b);
                        buf_family(b, name, "gauge", help);
                        for (size_t i = 0; i < s->n_vms; i++) {
                                size_t n = vm_buckets(s, &s->vms[i], refs);

                                for (size_t r = 0; r < n; r++) {
                                        if (refs[r].kind != kind)
                                                continue;
                                        buf_bucket_labels(b, name, &s->vms[i], &refs[r], false);
                                        buf_value(b, *(const uint64_t *)((const char *)refs[r].b + uf->offset),
                                                  ki->micro);
                                }
                        }
                }

        for (Generic g = 0; g < _GENERIC_MAX; g++) {
                buf_family(b, generic_families[g].name, generic_families[g].type, generic_families[g].help);
                for (size_t i = 0; i < s->n_vms; i++) {
                        size_t n = vm_buckets(s, &s->vms[i], refs);

                        for (size_t r = 0; r < n; r++) {
                                const MetricsBucket *bk = refs[r].b;
                                uint64_t value = 0;
                                bool micro = false;

                                switch (g) {
                                        case GENERIC_SHARE:
                                                value = bk->share;
                                                break;
                                        case GENERIC_HELD:
                                                value = bk->held;
                                                break;
                                        case GENERIC_BURSTING:
                                                value = bk->bursting;
                                                break;
                                        case GENERIC_HELD_TICKS:
                                                value = bk->held_ticks;
                                                break;
                                        case GENERIC_HELD_SECONDS:
                                                value = bk->held_usec;
                                                micro = true;
                                                break;
                                        case GENERIC_TRANSITIONS:
                                                value = bk->transitions;
                                                break;
                                        case _GENERIC_MAX:
                                                break;
                                }
                                buf_bucket_labels(b, generic_families[g].name, &s->vms[i], &refs[r], true);
                                buf_value(b, value, micro);
                        }
                }
        }

        render_vm_counters(b, s);
}

int metrics_render(const MetricsSnapshot *s, char **ret_text, size_t *ret_size) {
        Buf b = {};
        BucketRef *refs;

        if (s->n_devices > (SIZE_MAX / sizeof(BucketRef) - 2) / _IO_DIR_MAX)
                return -ENOMEM;
        refs = malloc((2 + (size_t)_IO_DIR_MAX * s->n_devices) * sizeof(BucketRef));
        if (!refs)
                return -ENOMEM;

        /* About 3 KiB per VM with a CPU bucket: one allocation for most. */
        (void)buf_reserve(&b, 8192 + s->n_vms * 3072);
        render_daemon(&b, s);
        render_vms(&b, s, refs);
        free(refs);

        if (!buf_reserve(&b, 1)) {
                free(b.p);
                return -ENOMEM;
        }
        b.p[b.n] = '\0';
        *ret_text = b.p;
        *ret_size = b.n;
        return 0;
}
