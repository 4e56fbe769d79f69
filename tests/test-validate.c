/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "policy/units.h"
#include "policy/validate.h"

#define CPU  1000000ULL   /* micro-CPUs */
#define MB   1000000ULL   /* bytes */
#define GIB  (1ULL << 30) /* bytes */
#define MBIT 1000000ULL   /* bits per second */
#define PCT  10000ULL     /* ppm */

static const HostFacts facts_2cpu = {.cpus_ucpu = 2 * CPU, .memory_bytes = 4 * GIB};

/* Every amount is placed at a distinct line of "policy.yaml", column 7. */
static unsigned next_line;

static Amount at(Policy *p, AmountKind kind, uint64_t value) {
        return (Amount){
                .kind = kind,
                .value = value,
                .loc = {.file = policy_intern_file(p, "policy.yaml"), .line = ++next_line, .column = 7},
        };
}

static Amount abs_(Policy *p, uint64_t v) {
        return at(p, AMOUNT_ABSOLUTE, v);
}

static Amount pct(Policy *p, uint64_t percent) {
        return at(p, AMOUNT_PERCENT, percent * PCT);
}

static VmPolicy *vm(Policy *p, const char *name) {
        VmPolicy *v = policy_add_vm(p, name);

        cr_assert_not_null(v);
        v->loc = (SourceLoc){policy_intern_file(p, "policy.yaml"), ++next_line, 3};
        return v;
}

static VmIoDevice *io(Policy *p, VmPolicy *v, const char *dev) {
        VmIoDevice *d = vm_add_io(v, dev);

        cr_assert_not_null(d);
        d->loc = (SourceLoc){policy_intern_file(p, "policy.yaml"), ++next_line, 9};
        return d;
}

/* A host of 2 CPUs, 4 GiB, disk vda (wbps 100MB, riops 2000; rbps and wiops not declared) and 1 Gbit of egress. */
static void host(Policy *p) {
        HostDevice *d;

        policy_init(p);
        next_line = 0;
        d = policy_add_device(p, "vda");
        d->cap[IO_WBPS] = abs_(p, 100 * MB);
        d->cap[IO_RIOPS] = abs_(p, 2000);
        policy_add_interface(p, "eth0")->egress = abs_(p, 1000 * MBIT);
}

static const ResolvedVm *rvm(const ResolvedPolicy *r, const char *name) {
        for (size_t i = 0; i < r->n_vms; i++)
                if (strcmp(r->vms[i].name, name) == 0)
                        return &r->vms[i];
        cr_assert_fail("no VM %s", name);
        return NULL;
}

static void validate_ok(const Policy *p, const HostFacts *f, ResolvedPolicy *r) {
        PolicyError err = {};
        int k = policy_validate(p, f, r, &err);

        cr_assert_eq(k, 0, "unexpected error %d: %s", k, err.message);
}

/* Validation fails with exactly `want`, and *ret is untouched. */
static void validate_fails(const Policy *p, const HostFacts *f, const char *want) {
        ResolvedPolicy r, before;
        PolicyError err = {};
        int k;

        memset(&r, 0xa5, sizeof(r));
        before = r;
        k = policy_validate(p, f, &r, &err);
        cr_assert_lt(k, 0, "validated, expected: %s", want);
        cr_assert_str_eq(err.message, want);
        cr_assert_eq(memcmp(&r, &before, sizeof(r)), 0, "*ret written on error");

        /* err may be NULL */
        cr_assert_eq(policy_validate(p, f, &r, NULL), k);
}

Test(validate, empty_policy) {
        Policy p;
        ResolvedPolicy r;

        policy_init(&p);
        validate_ok(&p, &facts_2cpu, &r);
        cr_assert_eq(r.n_vms, 0);
        cr_assert_eq(r.cpu_capacity, 2 * CPU);
        cr_assert_eq(r.memory_capacity, 4 * GIB);
        cr_assert_eq(r.net_capacity, 0);
        cr_assert_eq(r.n_devices, 0);
        resolved_policy_done(&r);
        resolved_policy_done(&r);
        policy_done(&p);
}

Test(validate, capacities) {
        Policy p;
        ResolvedPolicy r;

        host(&p);
        policy_add_interface(&p, "eth1")->egress = abs_(&p, 600 * MBIT);
        validate_ok(&p, &facts_2cpu, &r);
        cr_assert_eq(r.cpu_capacity, 2 * CPU);
        cr_assert_eq(r.net_capacity, 1600 * MBIT / 8); /* bytes per second */
        cr_assert_eq(r.n_devices, 1);
        cr_assert_str_eq(r.devices[0].name, "vda");
        cr_assert_eq(r.devices[0].cap[IO_WBPS], 100 * MB);
        cr_assert_eq(r.devices[0].cap[IO_RIOPS], 2000);
        cr_assert_eq(r.devices[0].cap[IO_RBPS], 0);
        cr_assert_eq(r.devices[0].cap[IO_WIOPS], 0);
        resolved_policy_done(&r);

        /* explicit host.cpus and host.memory win over the facts; auto takes them */
        p.host.cpus = abs_(&p, 1500000);
        p.host.memory = abs_(&p, GIB);
        validate_ok(&p, &facts_2cpu, &r);
        cr_assert_eq(r.cpu_capacity, 1500000);
        cr_assert_eq(r.memory_capacity, GIB);
        resolved_policy_done(&r);
        p.host.cpus = at(&p, AMOUNT_AUTO, 0);
        p.host.memory = at(&p, AMOUNT_AUTO, 0);
        validate_ok(&p, &facts_2cpu, &r);
        cr_assert_eq(r.cpu_capacity, 2 * CPU);
        cr_assert_eq(r.memory_capacity, 4 * GIB);
        resolved_policy_done(&r);
        policy_done(&p);
}

Test(validate, defaults) {
        Policy p;
        ResolvedPolicy r;
        const ResolvedVm *v;

        host(&p);
        vm(&p, "idle");
        validate_ok(&p, &facts_2cpu, &r);
        cr_assert_eq(r.n_vms, 1);
        v = &r.vms[0];
        cr_assert_str_eq(v->name, "idle");
        cr_assert_str_eq(v->cgroup, "idle");
        cr_assert_not(v->create);
        cr_assert_null(v->net_interface);
        /* every VM takes part in CPU scheduling */
        cr_assert(v->cpu.configured);
        cr_assert_eq(v->cpu.reserve, 0);
        cr_assert_eq(v->cpu.limit, 2 * CPU);
        cr_assert_eq(v->cpu.share, 1);
        cr_assert_eq(v->cpu.burst, 0);
        /* devices it does not name: defaults, not configured */
        for (int d = 0; d < _IO_DIR_MAX; d++) {
                cr_assert_not(v->io[d].configured);
                cr_assert_eq(v->io[d].reserve, 0);
                cr_assert_eq(v->io[d].limit, r.devices[0].cap[d]);
                cr_assert_eq(v->io[d].share, 1);
        }
        cr_assert_not(v->net.configured);
        cr_assert_eq(v->net.reserve, 0);
        cr_assert_eq(v->net.limit, 1000 * MBIT / 8);
        cr_assert_eq(v->net.share, 1);
        cr_assert_eq(v->mem_min, 0);
        cr_assert_eq(v->mem_max, 0);
        resolved_policy_done(&r);
        policy_done(&p);
}

Test(validate, percent_and_absolute) {
        Policy p;
        ResolvedPolicy r;
        VmPolicy *a, *b;
        VmIoDevice *d;
        const ResolvedVm *ra, *rb;

        host(&p);
        a = vm(&p, "a");
        a->cpu.reserve = pct(&p, 25);
        a->cpu.limit = pct(&p, 50);
        a->cpu.share = abs_(&p, 3);
        a->cpu.burst = abs_(&p, 200000); /* 200ms of CPU time */
        d = io(&p, a, "vda");
        d->dir[IO_WBPS].reserve = pct(&p, 30);
        d->dir[IO_WBPS].limit = pct(&p, 60);
        d->dir[IO_WBPS].burst = abs_(&p, 10 * MB);
        d->dir[IO_RIOPS].reserve = pct(&p, 10);
        a->net_egress.reserve = pct(&p, 10);
        a->net_egress.burst = abs_(&p, MB);
        a->mem_reserve = pct(&p, 25);
        a->mem_limit = pct(&p, 50);
        a->net_interface = strdup("tap-a");
        a->cgroup = strdup("machine.slice/a.scope");
        a->create = 1;

        b = vm(&p, "b");
        b->cpu.reserve = abs_(&p, 500000);
        b->cpu.limit = abs_(&p, 1500000);
        d = io(&p, b, "vda");
        d->dir[IO_WBPS].reserve = abs_(&p, 30 * MB);
        d->dir[IO_RIOPS].limit = abs_(&p, 1500);
        b->net_egress.reserve = abs_(&p, 100 * MBIT);
        b->net_egress.limit = abs_(&p, 500 * MBIT);
        b->mem_reserve = abs_(&p, GIB);
        b->mem_limit = abs_(&p, 2 * GIB);

        validate_ok(&p, &facts_2cpu, &r);
        ra = rvm(&r, "a");
        rb = rvm(&r, "b");

        cr_assert_eq(ra->cpu.reserve, 500000);
        cr_assert_eq(rb->cpu.reserve, 500000);
        cr_assert_eq(ra->cpu.limit, 1 * CPU);
        cr_assert_eq(rb->cpu.limit, 1500000);
        cr_assert_eq(ra->cpu.share, 3);
        cr_assert_eq(ra->cpu.burst, 200000);

        cr_assert(ra->io[IO_WBPS].configured);
        cr_assert_eq(ra->io[IO_WBPS].reserve, 30 * MB);
        cr_assert_eq(rb->io[IO_WBPS].reserve, 30 * MB);
        cr_assert_eq(ra->io[IO_WBPS].limit, 60 * MB);
        cr_assert_eq(rb->io[IO_WBPS].limit, 100 * MB);
        cr_assert_eq(ra->io[IO_WBPS].burst, 10 * MB);
        cr_assert(ra->io[IO_RIOPS].configured);
        cr_assert_eq(ra->io[IO_RIOPS].reserve, 200);
        cr_assert_eq(rb->io[IO_RIOPS].limit, 1500);
        /* directions the host does not declare are not configured, even on a named device */
        cr_assert_not(ra->io[IO_RBPS].configured);
        cr_assert_not(ra->io[IO_WIOPS].configured);

        cr_assert(ra->net.configured);
        cr_assert(rb->net.configured);
        cr_assert_eq(ra->net.reserve, 12500000); /* 10% of 1 Gbit, in bytes per second */
        cr_assert_eq(rb->net.reserve, 12500000); /* 100 Mbit */
        cr_assert_eq(rb->net.limit, 62500000);
        cr_assert_eq(ra->net.limit, 125000000);
        cr_assert_eq(ra->net.burst, MB); /* already bytes */
        cr_assert_str_eq(ra->net_interface, "tap-a");

        cr_assert_eq(ra->mem_min, GIB);
        cr_assert_eq(ra->mem_max, 2 * GIB);
        cr_assert_eq(rb->mem_min, GIB);
        cr_assert_eq(rb->mem_max, 2 * GIB);

        cr_assert_str_eq(ra->cgroup, "machine.slice/a.scope");
        cr_assert(ra->create);
        cr_assert_str_eq(rb->cgroup, rb->name);
        cr_assert_not(rb->create);
        resolved_policy_done(&r);
        policy_done(&p);
}

Test(validate, percent_burst_is_a_share_of_one_second) {
        Policy p;
        ResolvedPolicy r;
        VmPolicy *a;

        host(&p);
        a = vm(&p, "a");
        a->cpu.burst = pct(&p, 50);                         /* 1 CPU-second on 2 CPUs */
        io(&p, a, "vda")->dir[IO_WBPS].burst = pct(&p, 10); /* 10 MB */
        a->net_egress.burst = pct(&p, 1);                   /* 1% of 125 MB/s */
        validate_ok(&p, &facts_2cpu, &r);
        cr_assert_eq(r.vms[0].cpu.burst, 1 * CPU);
        cr_assert_eq(r.vms[0].io[IO_WBPS].burst, 10 * MB);
        cr_assert_eq(r.vms[0].net.burst, 1250000);
        resolved_policy_done(&r);
        policy_done(&p);
}

Test(validate, io_share_direction_wins_over_device) {
        Policy p;
        ResolvedPolicy r;
        VmIoDevice *d;

        host(&p);
        d = io(&p, vm(&p, "a"), "vda");
        d->share = abs_(&p, 5);
        d->dir[IO_WBPS].share = abs_(&p, 9);
        validate_ok(&p, &facts_2cpu, &r);
        cr_assert_eq(r.vms[0].io[IO_WBPS].share, 9);
        cr_assert_eq(r.vms[0].io[IO_RIOPS].share, 5);
        cr_assert_eq(r.vms[0].io[IO_RBPS].share, 5);
        cr_assert_eq(r.vms[0].cpu.share, 1);
        resolved_policy_done(&r);
        policy_done(&p);
}

Test(validate, net_configured_only_where_named) {
        Policy p;
        ResolvedPolicy r;

        host(&p);
        vm(&p, "a")->net_egress.share = abs_(&p, 2);
        vm(&p, "b")->net_interface = strdup("tap-b"); /* an interface alone sets no egress entry */
        validate_ok(&p, &facts_2cpu, &r);
        cr_assert(rvm(&r, "a")->net.configured);
        cr_assert_eq(rvm(&r, "a")->net.share, 2);
        cr_assert_not(rvm(&r, "b")->net.configured);
        resolved_policy_done(&r);
        policy_done(&p);

        /* without interfaces, a share alone resolves but has nothing to divide */
        policy_init(&p);
        vm(&p, "a")->net_egress.share = abs_(&p, 2);
        validate_ok(&p, &facts_2cpu, &r);
        cr_assert_not(r.vms[0].net.configured);
        resolved_policy_done(&r);
        policy_done(&p);
}

Test(validate, error_percent_needs_capacity) {
        Policy p;
        VmIoDevice *d;
        VmPolicy *v;

        host(&p);
        next_line = 11;
        d = io(&p, vm(&p, "web"), "vda"); /* lines 12, 13 */
        d->dir[IO_WBPS].reserve = pct(&p, 10);
        d->dir[IO_RBPS].reserve = pct(&p, 10); /* line 15 */
        validate_fails(&p, &facts_2cpu,
                       "policy.yaml:15:7: vms.web.io.vda.rbps.reserve: a percentage needs host.devices.vda.rbps");
        d->dir[IO_RBPS].reserve = (Amount){};
        d->dir[IO_WIOPS].limit = abs_(&p, 100);
        validate_fails(&p, &facts_2cpu,
                       "policy.yaml:16:7: vms.web.io.vda.wiops.limit: 100 IOPS needs host.devices.vda.wiops");
        policy_done(&p);

        policy_init(&p);
        next_line = 0;
        v = vm(&p, "web");
        v->net_egress.reserve = pct(&p, 10);
        validate_fails(&p, &facts_2cpu,
                       "policy.yaml:2:7: vms.web.net.egress.reserve: a percentage needs host.interfaces");
        v->net_egress.reserve = abs_(&p, 100 * MBIT);
        validate_fails(&p, &facts_2cpu, "policy.yaml:3:7: vms.web.net.egress.reserve: 100Mbit needs host.interfaces");
        v->net_egress.reserve = (Amount){};
        v->mem_reserve = pct(&p, 10);
        validate_fails(&p, &(HostFacts){.cpus_ucpu = 2 * CPU},
                       "policy.yaml:4:7: vms.web.memory.reserve: a percentage needs host.memory");
        policy_done(&p);
}

Test(validate, error_over_capacity) {
        Policy p;
        VmPolicy *v;

        host(&p);
        next_line = 0;
        v = vm(&p, "web");
        v->cpu.reserve = abs_(&p, 3 * CPU);
        validate_fails(&p, &facts_2cpu, "policy.yaml:2:7: vms.web.cpu.reserve: 3 CPUs is more than the host's 2 CPUs");
        v->cpu.reserve = abs_(&p, 2 * CPU + 1);
        validate_fails(&p, &facts_2cpu,
                       "policy.yaml:3:7: vms.web.cpu.reserve: 2.000001 CPUs is more than the host's 2 CPUs");
        v->cpu.reserve = abs_(&p, 2 * CPU); /* exactly the capacity */
        v->cpu.limit = pct(&p, 150);
        validate_fails(&p, &facts_2cpu,
                       "policy.yaml:5:7: vms.web.cpu.limit: 150% (3 CPUs) is more than the host's 2 CPUs");
        v->cpu.limit = at(&p, AMOUNT_PERCENT, UINT64_MAX); /* resolves past 64 bits: saturated */
        validate_fails(&p, &facts_2cpu,
                       "policy.yaml:6:7: vms.web.cpu.limit: 1844674407370955.1615% (18446744073709.551615 CPUs) is "
                       "more than the host's 2 CPUs");
        v->cpu.limit = (Amount){};
        p.host.cpus = abs_(&p, CPU);
        validate_fails(&p, &facts_2cpu, "policy.yaml:4:7: vms.web.cpu.reserve: 2 CPUs is more than the host's 1 CPU");
        p.host.cpus = (Amount){};

        v->cpu.reserve = (Amount){};
        io(&p, v, "vda")->dir[IO_WBPS].limit = abs_(&p, 100 * MB + 1);
        validate_fails(&p, &facts_2cpu,
                       "policy.yaml:9:7: vms.web.io.vda.wbps.limit: 100000001B/s is more than the host's 100MB/s");
        v->io[0].dir[IO_WBPS].limit = (Amount){};
        v->io[0].dir[IO_RIOPS].reserve = abs_(&p, 2001);
        validate_fails(&p, &facts_2cpu,
                       "policy.yaml:10:7: vms.web.io.vda.riops.reserve: 2001 IOPS is more than the host's 2k IOPS");
        v->io[0].dir[IO_RIOPS].reserve = (Amount){};
        v->net_egress.limit = abs_(&p, 2000 * MBIT);
        validate_fails(&p, &facts_2cpu,
                       "policy.yaml:11:7: vms.web.net.egress.limit: 2Gbit is more than the host's 1Gbit");
        v->net_egress.limit = (Amount){};
        v->mem_reserve = abs_(&p, 8 * GIB);
        validate_fails(&p, &facts_2cpu, "policy.yaml:12:7: vms.web.memory.reserve: 8GiB is more than the host's 4GiB");
        /* a memory limit over the host's memory is allowed (memory.max above RAM is harmless) */
        v->mem_reserve = abs_(&p, GIB);
        v->mem_limit = abs_(&p, 8 * GIB);
        ResolvedPolicy r;
        validate_ok(&p, &facts_2cpu, &r);
        cr_assert_eq(r.vms[0].mem_max, 8 * GIB);
        resolved_policy_done(&r);
        policy_done(&p);
}

Test(validate, error_limit_below_reserve) {
        Policy p;
        VmPolicy *v;

        host(&p);
        next_line = 0;
        v = vm(&p, "web");
        v->cpu.reserve = pct(&p, 50);
        v->cpu.limit = pct(&p, 20);
        validate_fails(&p, &facts_2cpu, "policy.yaml:3:7: vms.web.cpu.limit: 20% is below the reservation 50%");
        /* mixed kinds: resolved numbers */
        v->cpu.limit = abs_(&p, 200000);
        validate_fails(&p, &facts_2cpu, "policy.yaml:4:7: vms.web.cpu.limit: 0.2 CPUs is below the reservation 1 CPU");
        v->cpu.reserve = abs_(&p, 500000);
        validate_fails(&p, &facts_2cpu,
                       "policy.yaml:4:7: vms.web.cpu.limit: 0.2 CPUs is below the reservation 0.5 CPUs");
        /* equal is fine */
        v->cpu.limit = pct(&p, 25);
        ResolvedPolicy r;
        validate_ok(&p, &facts_2cpu, &r);
        cr_assert_eq(r.vms[0].cpu.limit, r.vms[0].cpu.reserve);
        resolved_policy_done(&r);

        VmIoDevice *d = io(&p, v, "vda");
        d->dir[IO_WBPS].reserve = abs_(&p, 50 * MB);
        d->dir[IO_WBPS].limit = abs_(&p, 40 * MB);
        validate_fails(&p, &facts_2cpu,
                       "policy.yaml:9:7: vms.web.io.vda.wbps.limit: 40MB/s is below the reservation 50MB/s");
        d->dir[IO_WBPS].limit = (Amount){};

        v->net_egress.reserve = abs_(&p, 100 * MBIT);
        v->net_egress.limit = pct(&p, 5);
        validate_fails(&p, &facts_2cpu,
                       "policy.yaml:11:7: vms.web.net.egress.limit: 50Mbit is below the reservation 100Mbit");

        v->net_egress = (ResourcePolicy){};
        v->mem_reserve = abs_(&p, GIB);
        v->mem_limit = abs_(&p, 512 * 1024 * 1024);
        validate_fails(&p, &facts_2cpu,
                       "policy.yaml:13:7: vms.web.memory.limit: 512MiB is below the reservation 1GiB");
        v->mem_limit = pct(&p, 10);
        validate_fails(&p, &facts_2cpu,
                       "policy.yaml:14:7: vms.web.memory.limit: 429496729B is below the reservation 1GiB");
        policy_done(&p);
}

Test(validate, error_undeclared_device) {
        Policy p;
        VmPolicy *v;

        host(&p);
        next_line = 20;
        v = vm(&p, "web");
        io(&p, v, "vda");
        io(&p, v, "vdb"); /* line 23, column 9 */
        validate_fails(&p, &facts_2cpu,
                       "policy.yaml:23:9: vms.web.io.vdb: device vdb is not declared in host.devices");
        policy_done(&p);
}

Test(validate, error_share_and_kinds) {
        Policy p;
        VmPolicy *v;

        host(&p);
        next_line = 0;
        v = vm(&p, "web");
        v->cpu.share = abs_(&p, 10001);
        validate_fails(&p, &facts_2cpu, "policy.yaml:2:7: vms.web.cpu.share: 10001 is over 10000");
        v->cpu.share = abs_(&p, 10000);
        io(&p, v, "vda")->share = abs_(&p, 20000);
        validate_fails(&p, &facts_2cpu, "policy.yaml:5:7: vms.web.io.vda.share: 20000 is over 10000");
        v->io[0].share = abs_(&p, 0);
        v->cpu.reserve = at(&p, AMOUNT_AUTO, 0);
        validate_fails(&p, &facts_2cpu,
                       "policy.yaml:7:7: vms.web.cpu.reserve: auto is only for host.cpus and host.memory");
        v->cpu.reserve = (Amount){};
        ResolvedPolicy r;
        validate_ok(&p, &facts_2cpu, &r);
        cr_assert_eq(r.vms[0].cpu.share, 10000);
        cr_assert_eq(r.vms[0].io[IO_WBPS].share, 0);
        resolved_policy_done(&r);

        p.host.devices[0].cap[IO_RBPS] = pct(&p, 50);
        validate_fails(&p, &facts_2cpu, "policy.yaml:8:7: host.devices.vda.rbps: must be an absolute amount");
        policy_done(&p);
}

Test(validate, error_no_cpus) {
        Policy p;

        policy_init(&p);
        validate_fails(&p, NULL, "host.cpus: the host has no CPUs");
        validate_fails(&p, &(HostFacts){}, "host.cpus: the host has no CPUs");
        next_line = 0;
        p.host.cpus = abs_(&p, 0);
        validate_fails(&p, &facts_2cpu, "policy.yaml:1:7: host.cpus: the host has no CPUs");
        policy_done(&p);
}

Test(validate, error_duplicate_cgroup) {
        Policy p;
        VmPolicy *v;

        policy_init(&p);
        next_line = 0;
        vm(&p, "web");
        vm(&p, "db");
        v = vm(&p, "batch");
        v->cgroup = strdup("web");
        v->cgroup_loc = (SourceLoc){policy_intern_file(&p, "over.yaml"), 4, 11};
        validate_fails(&p, &facts_2cpu, "over.yaml:4:11: vms.batch.cgroup: vms.web and vms.batch both use cgroup web");

        free(v->cgroup);
        v->cgroup = strdup("machine.slice/batch");
        policy_find_vm(&p, "web")->cgroup = strdup("machine.slice/batch");
        validate_fails(&p, &facts_2cpu,
                       "over.yaml:4:11: vms.batch.cgroup: vms.web and vms.batch both use cgroup machine.slice/batch");

        /* A model built in code (the parser refuses these) with a path that is not relative. */
        free(v->cgroup);
        v->cgroup = strdup("/machine.slice/batch");
        validate_fails(
                &p, &facts_2cpu,
                "over.yaml:4:11: vms.batch.cgroup: \"/machine.slice/batch\" must be relative to the cgroup root");
        free(v->cgroup);
        v->cgroup = strdup("machine.slice/batch/");
        validate_fails(&p, &facts_2cpu,
                       "over.yaml:4:11: vms.batch.cgroup: \"machine.slice/batch/\" has an empty component");
        free(policy_find_vm(&p, "web")->cgroup);
        policy_find_vm(&p, "web")->cgroup = NULL;

        /* Three VMs on one cgroup: the error names the first two, in policy order. */
        free(v->cgroup);
        v->cgroup = strdup("shared");
        free(p.vms[0].cgroup);
        p.vms[0].cgroup = strdup("shared");
        free(p.vms[1].cgroup);
        p.vms[1].cgroup = strdup("shared");
        p.vms[1].cgroup_loc = (SourceLoc){policy_intern_file(&p, "over.yaml"), 9, 11};
        validate_fails(&p, &facts_2cpu, "over.yaml:9:11: vms.db.cgroup: vms.web and vms.db both use cgroup shared");
        free(p.vms[1].cgroup);
        p.vms[1].cgroup = NULL;
        free(p.vms[0].cgroup);
        p.vms[0].cgroup = NULL;

        /* a default (the VM's name) against an explicit one: the VM line is the location */
        free(v->cgroup);
        v->cgroup = NULL;
        free(p.vms[0].cgroup);
        p.vms[0].cgroup = strdup("db");
        validate_fails(&p, &facts_2cpu, "policy.yaml:2:3: vms.db: vms.web and vms.db both use cgroup db");
        policy_done(&p);
}

/* Admission control: exactly the capacity is fine, one unit more is not. */
Test(validate, admission_cpu) {
        Policy p;
        ResolvedPolicy r;
        VmPolicy *web, *db;

        host(&p);
        vm(&p, "web");
        vm(&p, "db");
        vm(&p, "idle");
        /* adding moves the table: look the VMs up once it is complete */
        web = policy_find_vm(&p, "web");
        db = policy_find_vm(&p, "db");
        web->cpu.reserve = abs_(&p, 2 * CPU);
        db->cpu.reserve = abs_(&p, 400000);
        validate_fails(&p, &facts_2cpu,
                       "policy.yaml: admission: cpu reservations total 2.4 CPUs (120%) exceed the host's 2 CPUs: "
                       "web 2 (policy.yaml:7:7), db 0.4 (policy.yaml:8:7)");

        web->cpu.reserve = pct(&p, 80);
        db->cpu.reserve = abs_(&p, 400000);
        validate_ok(&p, &facts_2cpu, &r);
        cr_assert_eq(r.vms[0].cpu.reserve + r.vms[1].cpu.reserve, 2 * CPU);
        resolved_policy_done(&r);

        db->cpu.reserve = abs_(&p, 400001);
        validate_fails(&p, &facts_2cpu,
                       "policy.yaml: admission: cpu reservations total 2.000001 CPUs (100.0001%) exceed the host's 2 "
                       "CPUs: web 1.6 (policy.yaml:9:7), db 0.400001 (policy.yaml:11:7)");
        policy_done(&p);
}

Test(validate, admission_io_net_memory) {
        Policy p;
        ResolvedPolicy r;
        VmPolicy *a, *b;

        host(&p);
        vm(&p, "a");
        vm(&p, "b");
        a = policy_find_vm(&p, "a");
        b = policy_find_vm(&p, "b");
        io(&p, a, "vda")->dir[IO_WBPS].reserve = abs_(&p, 60 * MB);
        io(&p, b, "vda")->dir[IO_WBPS].reserve = pct(&p, 40);
        a->io[0].dir[IO_RIOPS].reserve = abs_(&p, 1000);
        b->io[0].dir[IO_RIOPS].reserve = abs_(&p, 1000);
        a->net_egress.reserve = abs_(&p, 600 * MBIT);
        b->net_egress.reserve = pct(&p, 40);
        a->mem_reserve = abs_(&p, 3 * GIB);
        b->mem_reserve = pct(&p, 25);
        validate_ok(&p, &facts_2cpu, &r); /* everything at exactly the capacity */
        resolved_policy_done(&r);

        b->io[0].dir[IO_WBPS].reserve = abs_(&p, 40 * MB + 1);
        validate_fails(&p, &facts_2cpu,
                       "policy.yaml: admission: io vda wbps reservations total 100000001B/s (100.0001%) exceed the "
                       "host's 100MB/s: a 60MB/s (policy.yaml:7:7), b 40000001B/s (policy.yaml:16:7)");
        b->io[0].dir[IO_WBPS].reserve = (Amount){};

        b->io[0].dir[IO_RIOPS].reserve = abs_(&p, 1001);
        validate_fails(&p, &facts_2cpu,
                       "policy.yaml: admission: io vda riops reservations total 2001 IOPS (100.05%) exceed the "
                       "host's 2k IOPS: a 1k (policy.yaml:10:7), b 1001 (policy.yaml:17:7)");
        b->io[0].dir[IO_RIOPS].reserve = (Amount){};

        b->net_egress.reserve = abs_(&p, 400 * MBIT + 1);
        validate_fails(&p, &facts_2cpu,
                       "policy.yaml: admission: net egress reservations total 1000000001bit (100.0001%) exceed the "
                       "host's 1Gbit: a 600Mbit (policy.yaml:12:7), b 400000001bit (policy.yaml:18:7)");
        b->net_egress.reserve = (Amount){};

        b->mem_reserve = abs_(&p, GIB + 1);
        validate_fails(&p, &facts_2cpu,
                       "policy.yaml: admission: memory reservations total 4294967297B (100.0001%) exceed the host's "
                       "4GiB: a 3GiB (policy.yaml:14:7), b 1073741825B (policy.yaml:19:7)");
        policy_done(&p);
}

Test(validate, admission_names_file_of_first_reserving_vm) {
        Policy p;
        VmPolicy *b, *c;

        policy_init(&p);
        policy_add_vm(&p, "a");
        policy_add_vm(&p, "b");
        policy_add_vm(&p, "c");
        b = policy_find_vm(&p, "b");
        c = policy_find_vm(&p, "c");
        b->cpu.reserve = (Amount){AMOUNT_PERCENT, 60 * PCT, {policy_intern_file(&p, "b.yaml"), 3, 4}};
        c->cpu.reserve = (Amount){AMOUNT_PERCENT, 60 * PCT, {policy_intern_file(&p, "c.yaml"), 3, 4}};
        validate_fails(&p, &facts_2cpu,
                       "b.yaml: admission: cpu reservations total 2.4 CPUs (120%) exceed the host's 2 CPUs: b 1.2 "
                       "(b.yaml:3:4), c 1.2 (c.yaml:3:4)");
        /* no location at all: no file part */
        b->cpu.reserve.loc = (SourceLoc){};
        c->cpu.reserve.loc = (SourceLoc){};
        validate_fails(&p, &facts_2cpu,
                       "admission: cpu reservations total 2.4 CPUs (120%) exceed the host's 2 CPUs: b 1.2, c 1.2");
        policy_done(&p);
}

Test(validate, admission_sum_beyond_64_bits) {
        Policy p;
        VmPolicy *a, *b;
        PolicyError err;

        policy_init(&p);
        next_line = 0;
        p.host.cpus = abs_(&p, UINT64_MAX);
        vm(&p, "a");
        vm(&p, "b");
        a = policy_find_vm(&p, "a");
        b = policy_find_vm(&p, "b");
        a->cpu.reserve = pct(&p, 100);
        b->cpu.reserve = pct(&p, 100);
        ResolvedPolicy r;
        cr_assert_eq(policy_validate(&p, &facts_2cpu, &r, &err), -ENOSPC);
        cr_assert_str_eq(err.message,
                         "policy.yaml: admission: cpu reservations total more than 18446744073709.551615 CPUs (200%) "
                         "exceed the host's 18446744073709.551615 CPUs: a 18446744073709.551615 (policy.yaml:4:7), "
                         "b 18446744073709.551615 (policy.yaml:5:7)");
        policy_done(&p);
}

/* semantics.md's worked examples: what each VM's policy resolves to on a 2-CPU host. */
Test(validate, semantics_examples) {
        Policy p;
        ResolvedPolicy r;

        /* A reserve 50 % (share 1 by default); B..E share 1 */
        policy_init(&p);
        vm(&p, "A")->cpu.reserve = pct(&p, 50);
        const char *others[] = {"B", "C", "D", "E"};
        for (int i = 0; i < 4; i++)
                vm(&p, others[i])->cpu.share = abs_(&p, 1);
        validate_ok(&p, &facts_2cpu, &r);
        cr_assert_eq(r.n_vms, 5);
        cr_assert_eq(rvm(&r, "A")->cpu.reserve, 1 * CPU);
        cr_assert_eq(rvm(&r, "A")->cpu.share, 1);
        cr_assert_eq(rvm(&r, "A")->cpu.limit, 2 * CPU);
        for (int i = 0; i < 4; i++) {
                cr_assert_eq(rvm(&r, others[i])->cpu.reserve, 0);
                cr_assert_eq(rvm(&r, others[i])->cpu.share, 1);
        }
        resolved_policy_done(&r);

        /* A reserve 50 %, share 0 */
        p.vms[0].cpu.share = abs_(&p, 0);
        validate_ok(&p, &facts_2cpu, &r);
        cr_assert_eq(rvm(&r, "A")->cpu.share, 0);
        cr_assert_eq(rvm(&r, "A")->cpu.reserve, 1 * CPU);
        resolved_policy_done(&r);
        policy_done(&p);

        /* A limit 25 %, alone */
        policy_init(&p);
        vm(&p, "A")->cpu.limit = pct(&p, 25);
        validate_ok(&p, &facts_2cpu, &r);
        cr_assert_eq(r.vms[0].cpu.limit, 500000);
        cr_assert_eq(r.vms[0].cpu.reserve, 0);
        resolved_policy_done(&r);
        policy_done(&p);

        /* A reserve 20 %, share 0; B share 1 */
        policy_init(&p);
        VmPolicy *a = vm(&p, "A");
        a->cpu.reserve = pct(&p, 20);
        a->cpu.share = abs_(&p, 0);
        vm(&p, "B")->cpu.share = abs_(&p, 1);
        validate_ok(&p, &facts_2cpu, &r);
        cr_assert_eq(rvm(&r, "A")->cpu.reserve, 400000);
        cr_assert_eq(rvm(&r, "A")->cpu.share, 0);
        cr_assert_eq(rvm(&r, "B")->cpu.share, 1);
        resolved_policy_done(&r);
        policy_done(&p);

        /* A share 3; B share 1 */
        policy_init(&p);
        vm(&p, "A")->cpu.share = abs_(&p, 3);
        vm(&p, "B")->cpu.share = abs_(&p, 1);
        validate_ok(&p, &facts_2cpu, &r);
        cr_assert_eq(rvm(&r, "A")->cpu.share, 3);
        cr_assert_eq(rvm(&r, "B")->cpu.share, 1);
        resolved_policy_done(&r);
        policy_done(&p);
}

Test(validate, summary) {
        Policy p;
        ResolvedPolicy r;
        char buf[256];

        host(&p);
        vm(&p, "web")->cpu.reserve = pct(&p, 50);
        vm(&p, "db")->cpu.reserve = abs_(&p, 200000);
        vm(&p, "batch")->net_egress.reserve = abs_(&p, 100 * MBIT);
        p.vms[0].mem_reserve = abs_(&p, GIB / 2);
        p.vms[1].mem_reserve = abs_(&p, GIB / 2);
        validate_ok(&p, &facts_2cpu, &r);
        cr_assert_eq(resolved_policy_summary(&r, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf,
                         "3 VMs; cpu: 2 CPUs, 60% reserved; io: vda; net: 1Gbit, 10% reserved; memory: 1GiB reserved");

        /* too small a buffer */
        cr_assert_eq(resolved_policy_summary(&r, buf, 10), -ENOBUFS);
        cr_assert_eq(strlen(buf), 9);
        resolved_policy_done(&r);
        policy_done(&p);

        policy_init(&p);
        vm(&p, "solo");
        validate_ok(&p, &(HostFacts){.cpus_ucpu = CPU, .memory_bytes = GIB}, &r);
        cr_assert_eq(resolved_policy_summary(&r, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "1 VM; cpu: 1 CPU, 0% reserved; io: none; net: none; memory: 0B reserved");
        resolved_policy_done(&r);
        policy_done(&p);
}

Test(validate, error_text_layout) {
        PolicyError err;
        SourceLoc full = {"a.yaml", 3, 5}, line_only = {"a.yaml", 3, 0}, file_only = {"a.yaml", 0, 0};

        cr_assert_eq(policy_error(&err, -EINVAL, &full, "vms.x", "bad %d", 1), -EINVAL);
        cr_assert_str_eq(err.message, "a.yaml:3:5: vms.x: bad 1");
        policy_error(&err, -EINVAL, &line_only, "vms.x", "bad");
        cr_assert_str_eq(err.message, "a.yaml:3: vms.x: bad");
        policy_error(&err, -EINVAL, &file_only, "vms.x", "bad");
        cr_assert_str_eq(err.message, "a.yaml: vms.x: bad");
        policy_error(&err, -EINVAL, NULL, "vms.x", "bad");
        cr_assert_str_eq(err.message, "vms.x: bad");
        policy_error(&err, -EINVAL, &(SourceLoc){NULL, 3, 5}, NULL, "bad");
        cr_assert_str_eq(err.message, "bad");
        policy_error(&err, -EINVAL, &full, "", "bad");
        cr_assert_str_eq(err.message, "a.yaml:3:5: bad");
        cr_assert_eq(policy_error(NULL, -ENOENT, &full, "k", "x"), -ENOENT);

        /* a message too long for the buffer is cut, and terminated */
        char longtext[2000];
        memset(longtext, 'x', sizeof(longtext) - 1);
        longtext[sizeof(longtext) - 1] = '\0';
        policy_error(&err, -EINVAL, &full, "k", "%s", longtext);
        cr_assert_eq(strlen(err.message), sizeof(err.message) - 1);
        cr_assert_eq(strncmp(err.message, "a.yaml:3:5: k: xxx", 18), 0);
        char longfile[2000];
        memcpy(longfile, longtext, sizeof(longfile));
        policy_error(&err, -EINVAL, &(SourceLoc){longfile, 1, 1}, "k", "%s", "tail");
        cr_assert_eq(strlen(err.message), sizeof(err.message) - 1);
}

Test(validate, interfaces_total_beyond_64_bits) {
        Policy p;

        policy_init(&p);
        next_line = 0;
        policy_add_interface(&p, "eth0")->egress = abs_(&p, UINT64_MAX);
        policy_add_interface(&p, "eth1")->egress = abs_(&p, 1);
        validate_fails(&p, &facts_2cpu,
                       "policy.yaml:2:7: host.interfaces.eth1.egress: the interfaces' egress totals more than 64 bits "
                       "hold");
        p.host.interfaces[1].egress = (Amount){};
        ResolvedPolicy r;
        validate_ok(&p, &facts_2cpu, &r);
        cr_assert_eq(r.net_capacity, UINT64_MAX / 8);
        resolved_policy_done(&r);
        policy_done(&p);
}

Test(validate, memory_without_known_capacity) {
        Policy p;
        ResolvedPolicy r;
        VmPolicy *v;

        policy_init(&p);
        v = vm(&p, "web");
        v->mem_reserve = abs_(&p, 64 * GIB);
        v->mem_limit = abs_(&p, 128 * GIB);
        /* the facts know no memory: absolute amounts pass, admission is skipped */
        validate_ok(&p, &(HostFacts){.cpus_ucpu = CPU}, &r);
        cr_assert_eq(r.memory_capacity, 0);
        cr_assert_eq(r.vms[0].mem_min, 64 * GIB);
        cr_assert_eq(r.vms[0].mem_max, 128 * GIB);
        resolved_policy_done(&r);
        policy_done(&p);
}
