/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Validation: a merged Policy, checked against the host's capacities and
 * turned into rates.  Pure: no I/O, no clock, no logging.
 *
 * Amounts are resolved in the unit they are written in (CPUs in micro-CPUs,
 * I/O in bytes or operations per second, network egress in bits per
 * second, memory in bytes) and checked there; network rates become bytes
 * per second only at the end, the unit of the egress bucket.
 *
 * A burst written as a percentage is that share of one second at full
 * capacity (a CPU burst of 50 % on a 2-CPU host is one CPU-second).
 *
 * I/O and network rates are scheduled against a declared capacity: a
 * reserve or limit (absolute or percent) on a device direction the host
 * does not declare, or on egress without host.interfaces, is an error.
 * Network egress is configured for a VM that names net.egress, when the
 * host declares interfaces.  Memory may go without a known capacity
 * (facts without memory): then only percentages need it.
 *
 * Error codes: -EINVAL for what cannot be resolved (a percentage without
 * capacity, an undeclared device, a shared cgroup), -ERANGE for an amount
 * out of range (over capacity, limit below reserve, share over 10000),
 * -ENOSPC for admission control, -ENOMEM.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "units.h"
#include "validate.h"

/* Shares are weights from 0 to this, as cgroup v2's cpu.weight and io.weight. */
#define VALIDATE_SHARE_MAX 10000U

/* A VM that names no share has this weight (semantics.md). */
#define VALIDATE_SHARE_DEFAULT 1U

/* Bits in a byte: network egress is declared in bits, enforced in bytes. */
#define BITS_PER_BYTE 8U

/* Room for a dotted key with two 64-character names and a field name. */
#define VALIDATE_KEY_MAX 256

/* Room for one bare amount ("18446744073709.551615", "18446744073709551615B/s"). */
#define VALIDATE_BARE_MAX 40

/* Room for one amount with its unit word ("18446744073709.551615 CPUs"). */
#define VALIDATE_AMOUNT_MAX 64

/* The "web 2, db 0.4" list of an admission error: the message holds 1024
 * bytes in all, so a longer list is cut there anyway. */
#define VALIDATE_LIST_MAX 1024

typedef enum ResourceKind {
        RESOURCE_CPU,      /* micro-CPUs */
        RESOURCE_IO_BYTES, /* bytes per second */
        RESOURCE_IO_OPS,   /* operations per second */
        RESOURCE_NET,      /* bits per second (burst: bytes) */
        RESOURCE_MEMORY,   /* bytes */
} ResourceKind;

/* One resource of one VM, as validation sees it. */
typedef struct ResourceSpec {
        ResourceKind kind;
        const char *key;      /* "vms.web.cpu", "vms.web.io.vda.wbps", ... */
        const char *need_key; /* what declares the capacity: "host.devices.vda.wbps" */
        uint64_t capacity;    /* in the unit amounts are written in; 0: none (unknown for memory) */
} ResourceSpec;

static char *format_cpus_decimal(uint64_t ucpu, char *buf, size_t size) {
        uint64_t whole = ucpu / UNIT_UCPU_PER_CPU, frac = ucpu % UNIT_UCPU_PER_CPU;
        int digits = 6;

        if (frac == 0) {
                snprintf(buf, size, "%" PRIu64, whole);
                return buf;
        }
        while (frac % 10 == 0) {
                frac /= 10;
                digits--;
        }
        snprintf(buf, size, "%" PRIu64 ".%0*" PRIu64, whole, digits, frac);
        return buf;
}

/* A resolved amount with no unit word where the context gives it ("2" CPUs,
 * "2k" ops), with its unit where it is part of the spelling ("50MB/s"). */
static char *format_bare(ResourceKind kind, uint64_t v, char *buf, size_t size) {
        char t[UNIT_FORMAT_MAX];

        switch (kind) {
                case RESOURCE_CPU:
                        return format_cpus_decimal(v, buf, size);
                case RESOURCE_IO_BYTES:
                        snprintf(buf, size, "%s/s", unit_format_bytes(v, t, sizeof(t)));
                        return buf;
                case RESOURCE_IO_OPS:
                        unit_format_count(v, buf, size);
                        return buf;
                case RESOURCE_NET:
                        unit_format_bitrate(v, buf, size);
                        return buf;
                case RESOURCE_MEMORY:
                        unit_format_bytes(v, buf, size);
                        return buf;
        }
        return buf;
}

/* A resolved amount with its unit word: "2.4 CPUs", "2k IOPS", "50MB/s". */
static char *format_full(ResourceKind kind, uint64_t v, char *buf, size_t size) {
        char t[VALIDATE_BARE_MAX];

        format_bare(kind, v, t, sizeof(t));
        switch (kind) {
                case RESOURCE_CPU:
                        snprintf(buf, size, "%s %s", t, v == UNIT_UCPU_PER_CPU ? "CPU" : "CPUs");
                        break;
                case RESOURCE_IO_OPS:
                        snprintf(buf, size, "%s IOPS", t);
                        break;
                default:
                        snprintf(buf, size, "%s", t);
                        break;
        }
        return buf;
}

/* An amount as written: "50%", or the absolute value with its unit. */
static char *format_written(ResourceKind kind, const Amount *a, char *buf, size_t size) {
        if (a->kind == AMOUNT_PERCENT)
                return unit_format_percent(a->value, buf, size);
        return format_full(kind, a->value, buf, size);
}

/* value * ppm / 1,000,000, saturated at UINT64_MAX (then over any capacity). */
static uint64_t scale_ppm(uint64_t ppm, uint64_t value) {
        unsigned __int128 v = (unsigned __int128)ppm * value / UNIT_PPM_FULL;
        return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

static int error_at(PolicyError *err, int code, const SourceLoc *loc, const char *key, const char *field,
                    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int error_at(PolicyError *err, int code, const SourceLoc *loc, const char *key, const char *field,
                    const char *fmt, ...) {
        char full_key[VALIDATE_KEY_MAX], what[sizeof(err->message)];
        va_list ap;

        if (!err)
                return code;
        if (field)
                snprintf(full_key, sizeof(full_key), "%s.%s", key, field);
        else
                snprintf(full_key, sizeof(full_key), "%s", key);

        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);

        return policy_error(err, code, loc && loc->file ? loc : NULL, full_key, "%s", what);
}

/*
 * Resolves a rate (reserve or limit) into the written unit.  Unset gives
 * `fallback`.  With check_capacity, more than the capacity is an error.
 */
static int resolve_rate(const ResourceSpec *spec, const Amount *a, const char *field, uint64_t fallback,
                        bool check_capacity, uint64_t *ret, PolicyError *err) {
        char w[VALIDATE_AMOUNT_MAX], r[VALIDATE_AMOUNT_MAX], c[VALIDATE_AMOUNT_MAX];
        uint64_t v;

        switch (a->kind) {
                case AMOUNT_UNSET:
                        *ret = fallback;
                        return 0;
                case AMOUNT_AUTO:
                        return error_at(err, -EINVAL, &a->loc, spec->key, field,
                                        "auto is only for host.cpus and host.memory");
                case AMOUNT_PERCENT:
                        if (spec->capacity == 0)
                                return error_at(err, -EINVAL, &a->loc, spec->key, field, "a percentage needs %s",
                                                spec->need_key);
                        v = scale_ppm(a->value, spec->capacity);
                        break;
                case AMOUNT_ABSOLUTE:
                        /* Memory may go without a known capacity; I/O and network rates are
                         * scheduled against a declared one. */
                        if (spec->capacity == 0 && spec->kind != RESOURCE_MEMORY)
                                return error_at(err, -EINVAL, &a->loc, spec->key, field, "%s needs %s",
                                                format_written(spec->kind, a, w, sizeof(w)), spec->need_key);
                        v = a->value;
                        break;
                default:
                        return error_at(err, -EINVAL, &a->loc, spec->key, field, "is not a valid amount");
        }

        if (check_capacity && spec->capacity > 0 && v > spec->capacity) {
                format_written(spec->kind, a, w, sizeof(w));
                format_full(spec->kind, spec->capacity, c, sizeof(c));
                if (a->kind == AMOUNT_PERCENT)
                        return error_at(err, -ERANGE, &a->loc, spec->key, field, "%s (%s) is more than the host's %s",
                                        w, format_full(spec->kind, v, r, sizeof(r)), c);
                return error_at(err, -ERANGE, &a->loc, spec->key, field, "%s is more than the host's %s", w, c);
        }

        *ret = v;
        return 0;
}

/* "20% is below the reservation 50%": as written when both are of one kind. */
static int error_limit_below_reserve(const ResourceSpec *spec, const Amount *limit, uint64_t limit_v,
                                     const Amount *reserve, uint64_t reserve_v, PolicyError *err) {
        char l[VALIDATE_AMOUNT_MAX], r[VALIDATE_AMOUNT_MAX];

        if (limit->kind == reserve->kind) {
                format_written(spec->kind, limit, l, sizeof(l));
                format_written(spec->kind, reserve, r, sizeof(r));
        } else {
                format_full(spec->kind, limit_v, l, sizeof(l));
                format_full(spec->kind, reserve_v, r, sizeof(r));
        }
        return error_at(err, -ERANGE, &limit->loc, spec->key, "limit", "%s is below the reservation %s", l, r);
}

static int resolve_share(const ResourceSpec *spec, const Amount *share, const Amount *fallback, const char *fb_key,
                         uint32_t *ret, PolicyError *err) {
        const char *key = spec->key;

        if (!amount_is_set(share) && fallback && amount_is_set(fallback)) {
                share = fallback;
                key = fb_key;
        }

        switch (share->kind) {
                case AMOUNT_UNSET:
                        *ret = VALIDATE_SHARE_DEFAULT;
                        return 0;
                case AMOUNT_ABSOLUTE:
                        if (share->value > VALIDATE_SHARE_MAX)
                                return error_at(err, -ERANGE, &share->loc, key, "share", "%" PRIu64 " is over %u",
                                                share->value, VALIDATE_SHARE_MAX);
                        *ret = (uint32_t)share->value;
                        return 0;
                default:
                        return error_at(err, -EINVAL, &share->loc, key, "share", "must be a whole number from 0 to %u",
                                        VALIDATE_SHARE_MAX);
        }
}

/* Burst in tokens; a percentage is that share of one second at full capacity
 * (capacity_tokens: the capacity in the burst's own unit). */
static int resolve_burst(const ResourceSpec *spec, const Amount *a, uint64_t capacity_tokens, uint64_t *ret,
                         PolicyError *err) {
        switch (a->kind) {
                case AMOUNT_UNSET:
                        *ret = 0;
                        return 0;
                case AMOUNT_ABSOLUTE:
                        *ret = a->value;
                        return 0;
                case AMOUNT_PERCENT:
                        if (capacity_tokens == 0)
                                return error_at(err, -EINVAL, &a->loc, spec->key, "burst", "a percentage needs %s",
                                                spec->need_key);
                        *ret = scale_ppm(a->value, capacity_tokens);
                        return 0;
                default:
                        return error_at(err, -EINVAL, &a->loc, spec->key, "burst",
                                        "auto is only for host.cpus and host.memory");
        }
}

static bool resource_named(const ResourcePolicy *rp) {
        return amount_is_set(&rp->reserve) || amount_is_set(&rp->share) || amount_is_set(&rp->limit) ||
               amount_is_set(&rp->burst);
}

/*
 * Resolves reserve, limit, share and burst of one resource.  Rates come out
 * divided by rate_divisor (BITS_PER_BYTE for the network, else 1).
 */
static int resolve_resource(const ResourceSpec *spec, const ResourcePolicy *rp, const Amount *share_fallback,
                            const char *share_fallback_key, uint64_t rate_divisor, ResolvedResource *out,
                            PolicyError *err) {
        uint64_t reserve = 0, limit = 0, burst = 0;
        uint32_t share = 0;
        int r;

        r = resolve_rate(spec, &rp->reserve, "reserve", 0, true, &reserve, err);
        if (r < 0)
                return r;
        r = resolve_rate(spec, &rp->limit, "limit", spec->capacity, true, &limit, err);
        if (r < 0)
                return r;
        if (limit < reserve)
                return error_limit_below_reserve(spec, &rp->limit, limit, &rp->reserve, reserve, err);
        r = resolve_share(spec, &rp->share, share_fallback, share_fallback_key, &share, err);
        if (r < 0)
                return r;
        r = resolve_burst(spec, &rp->burst, spec->capacity / rate_divisor, &burst, err);
        if (r < 0)
                return r;

        out->reserve = reserve / rate_divisor;
        out->limit = limit / rate_divisor;
        out->share = share;
        out->burst = burst;
        return 0;
}

const char *policy_quote(const char *s, char *buf, size_t buf_size) {
        size_t n = 0;

        if (buf_size < 3) {
                if (buf_size > 0)
                        buf[0] = '\0';
                return buf;
        }
        buf[n++] = '"';
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                char e[5];

                if (*p == '"' || *p == '\\')
                        snprintf(e, sizeof(e), "\\%c", *p);
                else if (*p == '\n')
                        snprintf(e, sizeof(e), "\\n");
                else if (*p == '\t')
                        snprintf(e, sizeof(e), "\\t");
                else if (*p < 0x20 || *p == 0x7f)
                        snprintf(e, sizeof(e), "\\x%02x", *p);
                else {
                        e[0] = (char)*p;
                        e[1] = '\0';
                }
                /* Room for this, the closing quote and the NUL. */
                if (n + strlen(e) + 2 > buf_size)
                        break;
                memcpy(buf + n, e, strlen(e));
                n += strlen(e);
        }
        buf[n++] = '"';
        buf[n] = '\0';
        return buf;
}

/* The prefixes of the kernel's cgroup v2 interface files ("cgroup.procs",
 * "cpu.max", "memory.low", ...): the core's and every v2 controller's. */
static const char *const cgroup_file_prefixes[] = {
        "cgroup", "cpu", "cpuset", "io", "memory", "pids", "rdma", "hugetlb", "misc", "irq", "perf_event", NULL,
};

const char *policy_cgroup_path_problem(const char *path, char *buf, size_t buf_size) {
        if (path[0] == '\0')
                return "is empty";
        if (path[0] == '/')
                return "must be relative to the cgroup root";

        for (const char *p = path;;) {
                size_t len = strcspn(p, "/");

                if (len == 0)
                        return "has an empty component";
                if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
                        return "must not contain . or ..";
                for (size_t i = 0; i < len; i++)
                        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) {
                                snprintf(buf, buf_size, "contains a control character (byte 0x%02x)",
                                         (unsigned char)p[i]);
                                return buf;
                        }
                if (len > POLICY_CGROUP_COMPONENT_MAX) {
                        snprintf(buf, buf_size, "has a component of %zu bytes (at most %u)", len,
                                 POLICY_CGROUP_COMPONENT_MAX);
                        return buf;
                }
                const char *dot = memchr(p, '.', len);
                for (size_t i = 0; dot && cgroup_file_prefixes[i]; i++)
                        if ((size_t)(dot - p) == strlen(cgroup_file_prefixes[i]) &&
                            memcmp(p, cgroup_file_prefixes[i], (size_t)(dot - p)) == 0) {
                                snprintf(buf, buf_size,
                                         "has a component \"%.*s\" named like the kernel's %s.* files, not a cgroup",
                                         (int)len, p, cgroup_file_prefixes[i]);
                                return buf;
                        }
                if (p[len] == '\0')
                        return NULL;
                p += len + 1;
        }
}

/* The VM's cgroup, relative to the cgroup root: its own or its name. */
static const char *vm_cgroup(const VmPolicy *vm) {
        return vm->cgroup ? vm->cgroup : vm->name;
}

typedef struct CgroupRef {
        const char *cgroup;
        size_t index;
} CgroupRef;

static int cgroup_ref_compare(const void *a, const void *b) {
        const CgroupRef *x = a, *y = b;
        int c = strcmp(x->cgroup, y->cgroup);
        return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* Every VM's cgroup must be relative, and no two VMs may share one.  The
 * error is the one a walk in policy order meets first: sorting finds every
 * shared cgroup in O(n log n) instead of comparing every pair. */
static int check_cgroups(const Policy *p, PolicyError *err) {
        size_t first_bad = SIZE_MAX, dup_a = SIZE_MAX, dup_b = SIZE_MAX;
        char key[VALIDATE_KEY_MAX], why[2 * VALIDATE_KEY_MAX], quoted[VALIDATE_KEY_MAX];

        /* The parser checks a written cgroup as it reads it; a VM's name
         * (its cgroup where it names none) can still be "." or "..", and a
         * model built in code can hold anything. */
        for (size_t j = 0; j < p->n_vms && first_bad == SIZE_MAX; j++)
                if (policy_cgroup_path_problem(vm_cgroup(&p->vms[j]), why, sizeof(why)))
                        first_bad = j;

        if (p->n_vms > 1) {
                CgroupRef *refs = calloc(p->n_vms, sizeof(*refs));
                if (!refs)
                        return policy_error(err, -ENOMEM, NULL, NULL, "out of memory");
                for (size_t i = 0; i < p->n_vms; i++)
                        refs[i] = (CgroupRef){vm_cgroup(&p->vms[i]), i};
                qsort(refs, p->n_vms, sizeof(*refs), cgroup_ref_compare);
                /* In a run of equal cgroups the first two (by index) are the
                 * pair a walk in order would meet; keep the earliest such. */
                for (size_t i = 1; i < p->n_vms; i++)
                        if (strcmp(refs[i].cgroup, refs[i - 1].cgroup) == 0 &&
                            (i < 2 || strcmp(refs[i - 1].cgroup, refs[i - 2].cgroup) != 0) && refs[i].index < dup_b) {
                                dup_a = refs[i - 1].index;
                                dup_b = refs[i].index;
                        }
                free(refs);
        }

        if (first_bad != SIZE_MAX && first_bad <= dup_b) {
                const VmPolicy *b = &p->vms[first_bad];
                snprintf(key, sizeof(key), "vms.%s", b->name);
                const char *problem = policy_cgroup_path_problem(vm_cgroup(b), why, sizeof(why));
                policy_quote(vm_cgroup(b), quoted, sizeof(quoted));
                if (b->cgroup)
                        return error_at(err, -EINVAL, &b->cgroup_loc, key, "cgroup", "%s %s", quoted, problem);
                return error_at(err, -EINVAL, &b->loc, key, NULL, "the VM's cgroup %s (its name) %s", quoted, problem);
        }
        if (dup_b != SIZE_MAX) {
                const VmPolicy *a = &p->vms[dup_a], *b = &p->vms[dup_b];
                snprintf(key, sizeof(key), "vms.%s", b->name);
                return error_at(err, -EINVAL, b->cgroup ? &b->cgroup_loc : &b->loc, key, b->cgroup ? "cgroup" : NULL,
                                "vms.%s and vms.%s both use cgroup %s", a->name, b->name, vm_cgroup(b));
        }
        return 0;
}

static int host_capacities(const Policy *p, const HostFacts *facts, ResolvedPolicy *rp, uint64_t *ret_net_bits,
                           PolicyError *err) {
        const HostPolicy *h = &p->host;
        unsigned __int128 net_bits = 0;

        switch (h->cpus.kind) {
                case AMOUNT_UNSET:
                case AMOUNT_AUTO:
                        rp->cpu_capacity = facts ? facts->cpus_ucpu : 0;
                        break;
                case AMOUNT_ABSOLUTE:
                        rp->cpu_capacity = h->cpus.value;
                        break;
                default:
                        return error_at(err, -EINVAL, &h->cpus.loc, "host.cpus", NULL,
                                        "must be a number of CPUs or auto");
        }
        if (rp->cpu_capacity == 0)
                return error_at(err, -EINVAL, &h->cpus.loc, "host.cpus", NULL, "the host has no CPUs");

        switch (h->memory.kind) {
                case AMOUNT_UNSET:
                case AMOUNT_AUTO:
                        rp->memory_capacity = facts ? facts->memory_bytes : 0;
                        break;
                case AMOUNT_ABSOLUTE:
                        rp->memory_capacity = h->memory.value;
                        break;
                default:
                        return error_at(err, -EINVAL, &h->memory.loc, "host.memory", NULL, "must be bytes or auto");
        }

        for (size_t i = 0; i < h->n_devices; i++) {
                const HostDevice *d = &h->devices[i];

                for (int dir = 0; dir < _IO_DIR_MAX; dir++) {
                        char key[VALIDATE_KEY_MAX];

                        if (d->cap[dir].kind == AMOUNT_UNSET || d->cap[dir].kind == AMOUNT_ABSOLUTE)
                                continue;
                        snprintf(key, sizeof(key), "host.devices.%s.%s", d->name, io_dir_to_string(dir));
                        return error_at(err, -EINVAL, &d->cap[dir].loc, key, NULL, "must be an absolute amount");
                }
        }

        for (size_t i = 0; i < h->n_interfaces; i++) {
                const HostInterface *iface = &h->interfaces[i];
                char key[VALIDATE_KEY_MAX];

                if (iface->egress.kind == AMOUNT_UNSET)
                        continue;
                snprintf(key, sizeof(key), "host.interfaces.%s", iface->name);
                if (iface->egress.kind != AMOUNT_ABSOLUTE)
                        return error_at(err, -EINVAL, &iface->egress.loc, key, "egress", "must be a bit rate");
                net_bits += iface->egress.value;
                if (net_bits > UINT64_MAX)
                        return error_at(err, -ERANGE, &iface->egress.loc, key, "egress",
                                        "the interfaces' egress totals more than 64 bits hold");
        }

        *ret_net_bits = (uint64_t)net_bits;
        rp->net_capacity = (uint64_t)net_bits / BITS_PER_BYTE;
        return 0;
}

static int resolve_vm(const Policy *p, const VmPolicy *vm, const ResolvedPolicy *rp, uint64_t net_bits,
                      ResolvedVm *out, PolicyError *err) {
        char key[VALIDATE_KEY_MAX], need[VALIDATE_KEY_MAX];
        ResourceSpec spec;
        int r;

        out->name = vm->name;
        out->cgroup = vm_cgroup(vm);
        out->create = vm->create == 1;
        out->net_interface = vm->net_interface;

        /* CPU: every VM takes part. */
        snprintf(key, sizeof(key), "vms.%s.cpu", vm->name);
        spec = (ResourceSpec){RESOURCE_CPU, key, "host.cpus", rp->cpu_capacity};
        r = resolve_resource(&spec, &vm->cpu, NULL, NULL, 1, &out->cpu, err);
        if (r < 0)
                return r;
        out->cpu.configured = true;

        /* I/O: defaults everywhere, then the devices the VM names. */
        for (size_t i = 0; i < rp->n_devices * _IO_DIR_MAX; i++)
                out->io[i] = (ResolvedResource){
                        .limit = rp->devices[i / _IO_DIR_MAX].cap[i % _IO_DIR_MAX],
                        .share = VALIDATE_SHARE_DEFAULT,
                };
        for (size_t i = 0; i < vm->n_io; i++) {
                const VmIoDevice *d = &vm->io[i];
                char share_key[VALIDATE_KEY_MAX];
                size_t dev;

                /* rp->devices[] is p->host.devices[] in order: find it by the index. */
                const HostDevice *hd = policy_find_device(p, d->name);
                dev = hd ? (size_t)(hd - p->host.devices) : rp->n_devices;
                if (dev >= rp->n_devices) {
                        snprintf(key, sizeof(key), "vms.%s.io.%s", vm->name, d->name);
                        return error_at(err, -EINVAL, &d->loc, key, NULL, "device %s is not declared in host.devices",
                                        d->name);
                }

                snprintf(share_key, sizeof(share_key), "vms.%s.io.%s", vm->name, d->name);
                for (int dir = 0; dir < _IO_DIR_MAX; dir++) {
                        ResolvedResource *o = &out->io[dev * _IO_DIR_MAX + (size_t)dir];

                        snprintf(key, sizeof(key), "vms.%s.io.%s.%s", vm->name, d->name, io_dir_to_string(dir));
                        snprintf(need, sizeof(need), "host.devices.%s.%s", d->name, io_dir_to_string(dir));
                        spec = (ResourceSpec){dir == IO_RBPS || dir == IO_WBPS ? RESOURCE_IO_BYTES : RESOURCE_IO_OPS,
                                              key, need, rp->devices[dev].cap[dir]};
                        r = resolve_resource(&spec, &d->dir[dir], &d->share, share_key, 1, o, err);
                        if (r < 0)
                                return r;
                        o->configured = spec.capacity > 0;
                }
        }

        /* Network egress: configured where the VM names it and the host has interfaces. */
        snprintf(key, sizeof(key), "vms.%s.net.egress", vm->name);
        spec = (ResourceSpec){RESOURCE_NET, key, "host.interfaces", net_bits};
        r = resolve_resource(&spec, &vm->net_egress, NULL, NULL, BITS_PER_BYTE, &out->net, err);
        if (r < 0)
                return r;
        out->net.configured = resource_named(&vm->net_egress) && rp->net_capacity > 0;

        /* Memory: a floor (memory.min) and a ceiling (memory.max). */
        snprintf(key, sizeof(key), "vms.%s.memory", vm->name);
        spec = (ResourceSpec){RESOURCE_MEMORY, key, "host.memory", rp->memory_capacity};
        r = resolve_rate(&spec, &vm->mem_reserve, "reserve", 0, true, &out->mem_min, err);
        if (r < 0)
                return r;
        r = resolve_rate(&spec, &vm->mem_limit, "limit", 0, false, &out->mem_max, err);
        if (r < 0)
                return r;
        if (amount_is_set(&vm->mem_limit) && out->mem_max < out->mem_min)
                return error_limit_below_reserve(&spec, &vm->mem_limit, out->mem_max, &vm->mem_reserve, out->mem_min,
                                                 err);

        return 0;
}

/* Where a reservation was written, for an admission error: its file only. */
static SourceLoc admission_loc(const Amount *reserve, const VmPolicy *vm) {
        return (SourceLoc){.file = reserve->loc.file ? reserve->loc.file : vm->loc.file};
}

/*
 * Admission control for one resource: reserves[i] (in the written unit) of
 * every VM must fit in capacity.  amounts[i] points at the VM's reserve.
 */
static int admit(const Policy *p, const char *what, ResourceKind kind, uint64_t capacity, const uint64_t *reserves,
                 const Amount *const *amounts, PolicyError *err) {
        unsigned __int128 total = 0;
        char list[VALIDATE_LIST_MAX], t[VALIDATE_AMOUNT_MAX + 16], c[VALIDATE_AMOUNT_MAX], pct[UNIT_FORMAT_MAX];
        size_t first = SIZE_MAX, n = 0;
        unsigned __int128 ppm;
        SourceLoc loc;

        for (size_t i = 0; i < p->n_vms; i++) {
                if (reserves[i] == 0)
                        continue;
                if (first == SIZE_MAX)
                        first = i;
                total += reserves[i]; /* at most n_vms * 2^64: no wrap in 128 bits */
        }
        if (total <= capacity)
                return 0;

        list[0] = '\0';
        for (size_t i = 0; i < p->n_vms; i++) {
                char a[VALIDATE_AMOUNT_MAX];
                int k;

                if (reserves[i] == 0)
                        continue;
                /* Where each reservation was written (the VM's key where it
                 * has no line: a model built in code, a `schedctl set`). */
                const SourceLoc *at = amounts[i] && amounts[i]->loc.file && amounts[i]->loc.line > 0 ? &amounts[i]->loc
                                                                                                     : &p->vms[i].loc;
                if (at->file && at->line > 0)
                        k = snprintf(list + n, sizeof(list) - n, "%s%s %s (%s:%u:%u)", n > 0 ? ", " : "",
                                     p->vms[i].name, format_bare(kind, reserves[i], a, sizeof(a)), at->file, at->line,
                                     at->column);
                else
                        k = snprintf(list + n, sizeof(list) - n, "%s%s %s", n > 0 ? ", " : "", p->vms[i].name,
                                     format_bare(kind, reserves[i], a, sizeof(a)));
                if (k < 0 || (size_t)k >= sizeof(list) - n)
                        break;
                n += (size_t)k;
        }

        /* Rounded up, so that any excess shows as more than 100 %. */
        ppm = capacity > 0 ? (total * UNIT_PPM_FULL + capacity - 1) / capacity : 0;
        if (total > UINT64_MAX) {
                char m[VALIDATE_BARE_MAX + 16];

                snprintf(t, sizeof(t), "more than %s", format_full(kind, UINT64_MAX, m, sizeof(m)));
        } else
                format_full(kind, (uint64_t)total, t, sizeof(t));
        format_full(kind, capacity, c, sizeof(c));
        unit_format_percent(ppm > UINT64_MAX ? UINT64_MAX : (uint64_t)ppm, pct, sizeof(pct));
        loc = admission_loc(amounts[first], &p->vms[first]);

        return policy_error(err, -ENOSPC, loc.file ? &loc : NULL, "admission",
                            "%s reservations total %s (%s) exceed the host's %s: %s", what, t, pct, c, list);
}

static int admission(const Policy *p, const ResolvedPolicy *rp, uint64_t net_bits, PolicyError *err) {
        uint64_t *reserves = NULL;
        const Amount **amounts = NULL;
        int r = 0;

        if (p->n_vms == 0)
                return 0;
        reserves = calloc(p->n_vms, sizeof(uint64_t));
        amounts = calloc(p->n_vms, sizeof(Amount *));
        if (!reserves || !amounts) {
                r = policy_error(err, -ENOMEM, NULL, NULL, "out of memory");
                goto finish;
        }

        for (size_t i = 0; i < p->n_vms; i++) {
                reserves[i] = rp->vms[i].cpu.reserve;
                amounts[i] = &p->vms[i].cpu.reserve;
        }
        r = admit(p, "cpu", RESOURCE_CPU, rp->cpu_capacity, reserves, amounts, err);
        if (r < 0)
                goto finish;

        for (size_t dev = 0; dev < rp->n_devices; dev++)
                for (int dir = 0; dir < _IO_DIR_MAX; dir++) {
                        char what[VALIDATE_KEY_MAX];
                        static const Amount unset = {};

                        if (rp->devices[dev].cap[dir] == 0)
                                continue;
                        for (size_t i = 0; i < p->n_vms; i++) {
                                const VmIoDevice *d = vm_find_io(&p->vms[i], rp->devices[dev].name);

                                reserves[i] = rp->vms[i].io[dev * _IO_DIR_MAX + (size_t)dir].reserve;
                                amounts[i] = d ? &d->dir[dir].reserve : &unset;
                        }
                        snprintf(what, sizeof(what), "io %s %s", rp->devices[dev].name, io_dir_to_string(dir));
                        r = admit(p, what, dir == IO_RBPS || dir == IO_WBPS ? RESOURCE_IO_BYTES : RESOURCE_IO_OPS,
                                  rp->devices[dev].cap[dir], reserves, amounts, err);
                        if (r < 0)
                                goto finish;
                }

        if (net_bits > 0) {
                /* Checked in bits, the unit the amounts and capacity are declared in. */
                for (size_t i = 0; i < p->n_vms; i++) {
                        const VmPolicy *vm = &p->vms[i];

                        reserves[i] = 0;
                        if (vm->net_egress.reserve.kind == AMOUNT_PERCENT)
                                reserves[i] = scale_ppm(vm->net_egress.reserve.value, net_bits);
                        else if (vm->net_egress.reserve.kind == AMOUNT_ABSOLUTE)
                                reserves[i] = vm->net_egress.reserve.value;
                        amounts[i] = &vm->net_egress.reserve;
                }
                r = admit(p, "net egress", RESOURCE_NET, net_bits, reserves, amounts, err);
                if (r < 0)
                        goto finish;
        }

        if (rp->memory_capacity > 0) {
                for (size_t i = 0; i < p->n_vms; i++) {
                        reserves[i] = rp->vms[i].mem_min;
                        amounts[i] = &p->vms[i].mem_reserve;
                }
                r = admit(p, "memory", RESOURCE_MEMORY, rp->memory_capacity, reserves, amounts, err);
        }

finish:
        free(reserves);
        free(amounts);
        return r;
}

void resolved_policy_done(ResolvedPolicy *r) {
        if (!r)
                return;
        for (size_t i = 0; i < r->n_vms; i++)
                free(r->vms[i].io);
        free(r->vms);
        free(r->devices);
        *r = (ResolvedPolicy){};
}

int policy_validate(const Policy *p, const HostFacts *facts, ResolvedPolicy *ret, PolicyError *err) {
        ResolvedPolicy rp = {};
        uint64_t net_bits = 0;
        int r;

        r = host_capacities(p, facts, &rp, &net_bits, err);
        if (r < 0)
                return r;

        r = check_cgroups(p, err);
        if (r < 0)
                return r;

        if (p->host.n_devices > 0) {
                rp.devices = calloc(p->host.n_devices, sizeof(ResolvedDevice));
                if (!rp.devices) {
                        r = policy_error(err, -ENOMEM, NULL, NULL, "out of memory");
                        goto fail;
                }
                rp.n_devices = p->host.n_devices;
                for (size_t i = 0; i < rp.n_devices; i++) {
                        rp.devices[i].name = p->host.devices[i].name;
                        for (int dir = 0; dir < _IO_DIR_MAX; dir++)
                                rp.devices[i].cap[dir] = p->host.devices[i].cap[dir].kind == AMOUNT_ABSOLUTE
                                                                 ? p->host.devices[i].cap[dir].value
                                                                 : 0;
                }
        }

        /* Every VM resolves every device (four directions each): bound the product. */
        if (p->host.n_devices > 0 && p->n_vms > VALIDATE_VM_DEVICE_PAIRS_MAX / p->host.n_devices) {
                r = policy_error(err, -E2BIG, NULL, "host.devices",
                                 "%zu devices for %zu VMs make more than %u VM-device pairs", p->host.n_devices,
                                 p->n_vms, VALIDATE_VM_DEVICE_PAIRS_MAX);
                goto fail;
        }

        if (p->n_vms > 0) {
                rp.vms = calloc(p->n_vms, sizeof(ResolvedVm));
                if (!rp.vms) {
                        r = policy_error(err, -ENOMEM, NULL, NULL, "out of memory");
                        goto fail;
                }
                rp.n_vms = p->n_vms;
        }
        for (size_t i = 0; i < rp.n_vms; i++) {
                if (rp.n_devices > 0) {
                        rp.vms[i].io = calloc(rp.n_devices * _IO_DIR_MAX, sizeof(ResolvedResource));
                        if (!rp.vms[i].io) {
                                r = policy_error(err, -ENOMEM, NULL, NULL, "out of memory");
                                goto fail;
                        }
                }
                r = resolve_vm(p, &p->vms[i], &rp, net_bits, &rp.vms[i], err);
                if (r < 0)
                        goto fail;
        }

        r = admission(p, &rp, net_bits, err);
        if (r < 0)
                goto fail;

        *ret = rp;
        return 0;

fail:
        resolved_policy_done(&rp);
        return r;
}

int resolved_policy_summary(const ResolvedPolicy *r, char *buf, size_t buf_size) {
        unsigned __int128 cpu_reserved = 0, net_reserved = 0, mem_reserved = 0;
        char cap[VALIDATE_AMOUNT_MAX], pct[UNIT_FORMAT_MAX], mem[UNIT_FORMAT_MAX];
        size_t n = 0;
        int k;

        if (!buf || buf_size == 0)
                return -ENOBUFS;
        buf[0] = '\0';

#define APPEND(...)                                                                                                   \
        do {                                                                                                          \
                k = snprintf(buf + n, buf_size - n, __VA_ARGS__);                                                     \
                if (k < 0 || (size_t)k >= buf_size - n)                                                               \
                        return -ENOBUFS;                                                                              \
                n += (size_t)k;                                                                                       \
        } while (0)

        for (size_t i = 0; i < r->n_vms; i++) {
                cpu_reserved += r->vms[i].cpu.reserve;
                net_reserved += r->vms[i].net.reserve;
                mem_reserved += r->vms[i].mem_min;
        }

        APPEND("%zu %s", r->n_vms, r->n_vms == 1 ? "VM" : "VMs");

        format_full(RESOURCE_CPU, r->cpu_capacity, cap, sizeof(cap));
        unit_format_percent(r->cpu_capacity > 0 ? (uint64_t)(cpu_reserved * UNIT_PPM_FULL / r->cpu_capacity) : 0, pct,
                            sizeof(pct));
        APPEND("; cpu: %s, %s reserved", cap, pct);

        APPEND("; io: ");
        if (r->n_devices == 0)
                APPEND("none");
        for (size_t i = 0; i < r->n_devices; i++)
                APPEND("%s%s", i > 0 ? ", " : "", r->devices[i].name);

        if (r->net_capacity == 0)
                APPEND("; net: none");
        else {
                unsigned __int128 bits = (unsigned __int128)r->net_capacity * BITS_PER_BYTE;

                if (bits > UINT64_MAX)
                        snprintf(cap, sizeof(cap), "%s/s", unit_format_bytes(r->net_capacity, mem, sizeof(mem)));
                else
                        unit_format_bitrate((uint64_t)bits, cap, sizeof(cap));
                unit_format_percent((uint64_t)(net_reserved * UNIT_PPM_FULL / r->net_capacity), pct, sizeof(pct));
                APPEND("; net: %s, %s reserved", cap, pct);
        }

        unit_format_bytes(mem_reserved > UINT64_MAX ? UINT64_MAX : (uint64_t)mem_reserved, mem, sizeof(mem));
        APPEND("; memory: %s reserved", mem);

#undef APPEND
        return 0;
}
