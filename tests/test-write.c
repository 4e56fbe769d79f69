/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/parse.h"
#include "policy/units.h"
#include "policy/write.h"

static const char example[] =
        "host:\n"
        "  cpus: auto                 # or CPUs: 2, 0.5, 1500m\n"
        "  memory: auto               # or bytes: 16GiB\n"
        "  devices:\n"
        "    vda: { rbps: 500MB, wbps: 300MB, riops: 20000, wiops: 10000 }\n"
        "  interfaces:\n"
        "    eth0: { egress: 1Gbit }\n"
        "vms:\n"
        "  web:\n"
        "    cgroup: machine.slice/web.scope\n"
        "    create: true\n"
        "    cpu:    { reserve: 10%, share: 2, limit: 50%, burst: 200ms }\n"
        "    io:     { vda: { wbps: { reserve: 50MB, limit: 100MB, burst: 10MB }, "
        "riops: { limit: 500 }, share: 1 } }\n"
        "    net:    { interface: tap-web, egress: { reserve: 100Mbit, share: 1, limit: 500Mbit, burst: 1MB } }\n"
        "    memory: { reserve: 1G, limit: 2G }\n"
        "  batch:\n"
        "    cpu: { share: 1 }\n"
        "  idle:\n";

/* What the writer makes of it: block structure, flow leaves, only what was set. */
static const char example_written[] = "host:\n"
                                      "  cpus: auto\n"
                                      "  memory: auto\n"
                                      "  devices:\n"
                                      "    vda: { rbps: 500MB, wbps: 300MB, riops: 20k, wiops: 10k }\n"
                                      "  interfaces:\n"
                                      "    eth0: { egress: 1Gbit }\n"
                                      "vms:\n"
                                      "  web:\n"
                                      "    cgroup: machine.slice/web.scope\n"
                                      "    create: true\n"
                                      "    cpu: { reserve: 10%, share: 2, limit: 50%, burst: 200ms }\n"
                                      "    io:\n"
                                      "      vda:\n"
                                      "        share: 1\n"
                                      "        wbps: { reserve: 50MB, limit: 100MB, burst: 10MB }\n"
                                      "        riops: { limit: 500 }\n"
                                      "    net:\n"
                                      "      interface: tap-web\n"
                                      "      egress: { reserve: 100Mbit, share: 1, limit: 500Mbit, burst: 1MB }\n"
                                      "    memory: { reserve: 1GiB, limit: 2GiB }\n"
                                      "  batch:\n"
                                      "    cpu: { share: 1 }\n"
                                      "  idle: {}\n";

static void parse_ok(const char *text, const char *file, Policy *p) {
        PolicyError err = {};
        int r;

        policy_init(p);
        r = policy_parse_string(text, strlen(text), file, p, &err);
        cr_assert_eq(r, 0, "parse failed (%d): %s\n%s", r, err.message, text);
}

static char *write_ok(const Policy *p) {
        char *text = NULL;
        int r = policy_write_string(p, &text);

        cr_assert_eq(r, 0, "write failed: %d", r);
        cr_assert_not_null(text);
        return text;
}

/* write, parse back, compare; and writing the result again gives the same text. */
static void expect_round_trip(const Policy *p) {
        char *text = write_ok(p), *again;
        Policy q;

        parse_ok(text, "written.yaml", &q);
        cr_assert(policy_equal(p, &q), "round trip changed the policy:\n%s", text);
        cr_assert(policy_equal(&q, p));
        again = write_ok(&q);
        cr_assert_str_eq(again, text);

        free(again);
        free(text);
        policy_done(&q);
}

static Amount absolute(uint64_t v) {
        return (Amount){.kind = AMOUNT_ABSOLUTE, .value = v};
}

static Amount percent(uint64_t ppm) {
        return (Amount){.kind = AMOUNT_PERCENT, .value = ppm};
}

Test(write, example_text) {
        Policy p;
        char *text;

        parse_ok(example, "example.yaml", &p);
        text = write_ok(&p);
        cr_assert_str_eq(text, example_written);
        free(text);
        policy_done(&p);
}

Test(write, example_round_trip) {
        Policy p;

        parse_ok(example, "example.yaml", &p);
        expect_round_trip(&p);
        policy_done(&p);
}

Test(write, empty_policy) {
        Policy p, q;
        char *text;

        policy_init(&p);
        text = write_ok(&p);
        cr_assert_str_eq(text, "{}\n");
        parse_ok(text, "empty.yaml", &q);
        cr_assert(policy_equal(&p, &q));
        cr_assert_eq(q.n_vms, 0);
        free(text);
        policy_done(&q);
}

Test(write, overlay_writes_only_its_fields) {
        Policy p;
        VmPolicy *vm;
        char *text;

        policy_init(&p);
        vm = policy_add_vm(&p, "web");
        vm->cpu.share = absolute(3);
        text = write_ok(&p);
        cr_assert_str_eq(text, "vms:\n  web:\n    cpu: { share: 3 }\n");
        free(text);
        expect_round_trip(&p);
        policy_done(&p);

        policy_init(&p);
        p.host.cpus = absolute(1500000);
        text = write_ok(&p);
        cr_assert_str_eq(text, "host:\n  cpus: 1.5\n");
        free(text);
        expect_round_trip(&p);
        policy_done(&p);

        policy_init(&p);
        vm = policy_add_vm(&p, "db");
        vm->mem_limit = percent(25 * UNIT_PPM_PER_PERCENT);
        vm_add_io(vm, "vda")->dir[IO_WIOPS].burst = absolute(64);
        text = write_ok(&p);
        cr_assert_str_eq(text, "vms:\n"
                               "  db:\n"
                               "    io:\n"
                               "      vda:\n"
                               "        wiops: { burst: 64 }\n"
                               "    memory: { limit: 25% }\n");
        free(text);
        expect_round_trip(&p);
        policy_done(&p);
}

Test(write, empty_entries_are_kept) {
        Policy p;
        VmPolicy *vm;
        char *text;

        policy_init(&p);
        policy_add_device(&p, "vda");
        policy_add_interface(&p, "eth0");
        vm = policy_add_vm(&p, "idle");
        vm_add_io(vm, "vda");
        policy_add_vm(&p, "bare");
        text = write_ok(&p);
        cr_assert_str_eq(text, "host:\n"
                               "  devices:\n"
                               "    vda: {}\n"
                               "  interfaces:\n"
                               "    eth0: {}\n"
                               "vms:\n"
                               "  idle:\n"
                               "    io:\n"
                               "      vda: {}\n"
                               "  bare: {}\n");
        free(text);
        expect_round_trip(&p);
        policy_done(&p);
}

Test(write, percent_stays_percent) {
        Policy p, q;
        VmPolicy *vm;
        char *text;

        policy_init(&p);
        vm = policy_add_vm(&p, "a");
        vm->cpu.reserve = percent(UNIT_PPM_FULL / 2);
        vm->cpu.limit = absolute(UNIT_UCPU_PER_CPU / 2);
        text = write_ok(&p);
        cr_assert_str_eq(text, "vms:\n  a:\n    cpu: { reserve: 50%, limit: 500m }\n");

        parse_ok(text, "t.yaml", &q);
        cr_assert_eq(q.vms[0].cpu.reserve.kind, AMOUNT_PERCENT);
        cr_assert_eq(q.vms[0].cpu.reserve.value, UNIT_PPM_FULL / 2);
        cr_assert_eq(q.vms[0].cpu.limit.kind, AMOUNT_ABSOLUTE);
        cr_assert_eq(q.vms[0].cpu.limit.value, UNIT_UCPU_PER_CPU / 2);

        free(text);
        policy_done(&q);
        policy_done(&p);
}

/* Values at the edges of every kind of amount: each must come back exactly. */
static const uint64_t odd_values[] = {
        0,           1,          7,          999,        1000,           1001,       1023,       1024,
        1025,        1536,       999999,     1000000,    1000001,        1048576,    1073741824, 1610612736,
        12345678901, 1ULL << 40, 1ULL << 50, 1ULL << 63, UINT64_MAX - 1, UINT64_MAX,
};

static const uint64_t odd_ppm[] = {0, 1, 5, 9999, 10000, 125000, 333333, 999999, 1000000};

static const uint64_t odd_shares[] = {0, 1, 2, 9999, 10000};

#define ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

static void fill_all(Policy *p, Amount (*make)(uint64_t), uint64_t v, uint64_t share) {
        VmPolicy *vm = policy_add_vm(p, "v");
        VmIoDevice *io = vm_add_io(vm, "d");
        HostDevice *d = policy_add_device(p, "d");
        HostInterface *iface = policy_add_interface(p, "eth0");

        cr_assert(vm && io && d && iface);
        vm->cpu = (ResourcePolicy){make(v), absolute(share), make(v), {0}};
        vm->net_egress = (ResourcePolicy){make(v), absolute(share), make(v), {0}};
        vm->mem_reserve = make(v);
        vm->mem_limit = make(v);
        io->share = absolute(share);
        for (int dir = 0; dir < _IO_DIR_MAX; dir++)
                io->dir[dir] = (ResourcePolicy){make(v), absolute(share), make(v), {0}};

        /* Bursts and capacities are never percentages. */
        vm->cpu.burst = absolute(v);
        vm->net_egress.burst = absolute(v);
        for (int dir = 0; dir < _IO_DIR_MAX; dir++) {
                io->dir[dir].burst = absolute(v);
                d->cap[dir] = absolute(v);
        }
        iface->egress = absolute(v);
        p->host.memory = absolute(v);
        p->host.cpus = absolute(v);
}

Test(write, odd_absolute_values_round_trip) {
        for (size_t i = 0; i < ELEMENTS(odd_values); i++) {
                Policy p;

                policy_init(&p);
                fill_all(&p, absolute, odd_values[i], odd_shares[i % ELEMENTS(odd_shares)]);
                expect_round_trip(&p);
                policy_done(&p);
        }
}

Test(write, odd_percentages_round_trip) {
        for (size_t i = 0; i < ELEMENTS(odd_ppm); i++) {
                Policy p;

                policy_init(&p);
                fill_all(&p, percent, odd_ppm[i], odd_shares[i % ELEMENTS(odd_shares)]);
                expect_round_trip(&p);
                policy_done(&p);
        }
}

Test(write, auto_and_booleans) {
        Policy p;
        char *text;

        policy_init(&p);
        p.host.cpus = (Amount){.kind = AMOUNT_AUTO};
        p.host.memory = absolute(16ULL << 30);
        policy_add_vm(&p, "a")->create = 0;
        policy_add_vm(&p, "b")->create = 1;
        text = write_ok(&p);
        cr_assert_str_eq(text, "host:\n"
                               "  cpus: auto\n"
                               "  memory: 16GiB\n"
                               "vms:\n"
                               "  a:\n"
                               "    create: false\n"
                               "  b:\n"
                               "    create: true\n");
        free(text);
        expect_round_trip(&p);
        policy_done(&p);
}

Test(write, names_and_strings_quoted_when_needed) {
        Policy p;
        VmPolicy *vm;
        char *text;

        policy_init(&p);
        vm = policy_add_vm(&p, "null");
        vm->cgroup = strdup("machine.slice/my vm#1.scope");
        vm->net_interface = strdup("eth0:1");
        vm_add_io(vm, "8:16")->share = absolute(1);
        vm = policy_add_vm(&p, "true");
        vm->cgroup = strdup("a\"b\\c");
        policy_add_vm(&p, "-x");
        policy_add_vm(&p, "plain_name-1.0");
        policy_add_device(&p, "8:16")->cap[IO_RBPS] = absolute(1000);

        text = write_ok(&p);
        cr_assert_not_null(strstr(text, "\n  \"null\":\n"), "%s", text);
        cr_assert_not_null(strstr(text, "cgroup: \"machine.slice/my vm#1.scope\"\n"), "%s", text);
        cr_assert_not_null(strstr(text, "interface: \"eth0:1\"\n"), "%s", text);
        cr_assert_not_null(strstr(text, "\"8:16\":"), "%s", text);
        cr_assert_not_null(strstr(text, "\n  \"true\":\n"), "%s", text);
        cr_assert_not_null(strstr(text, "cgroup: \"a\\\"b\\\\c\"\n"), "%s", text);
        cr_assert_not_null(strstr(text, "\n  \"-x\": {}\n"), "%s", text);
        cr_assert_not_null(strstr(text, "\n  plain_name-1.0: {}\n"), "%s", text);
        free(text);

        /* "-x" is not a valid VM name: round trip the rest. */
        cr_assert_eq(policy_remove_vm(&p, "-x"), 0);
        expect_round_trip(&p);
        policy_done(&p);
}

Test(write, equal_ignores_locations_and_order) {
        static const char one[] = "vms:\n  a: { cpu: { share: 2 } }\n  b: { memory: { limit: 1G } }\n";
        static const char two[] = "vms:\n"
                                  "  b:\n"
                                  "    memory:\n"
                                  "      limit: 1GiB\n"
                                  "  a:\n"
                                  "    cpu: { share: 2 }\n";
        Policy p, q;

        parse_ok(one, "one.yaml", &p);
        parse_ok(two, "two.yaml", &q);
        cr_assert(policy_equal(&p, &q));
        cr_assert(policy_equal(&q, &p));
        policy_done(&p);
        policy_done(&q);
}

Test(write, equal_sees_every_difference) {
        static const char base[] = "host:\n"
                                   "  cpus: 2\n"
                                   "  devices: { vda: { rbps: 1MB } }\n"
                                   "  interfaces: { eth0: { egress: 1Gbit } }\n"
                                   "vms:\n"
                                   "  a:\n"
                                   "    cgroup: x/a\n"
                                   "    create: false\n"
                                   "    cpu: { reserve: 10%, share: 2 }\n"
                                   "    io: { vda: { share: 1, wbps: { limit: 5MB } } }\n"
                                   "    net: { interface: tap0, egress: { burst: 1MB } }\n"
                                   "    memory: { limit: 1G }\n";
        static const char *const changed[] = {
                "host: { cpus: 3 }\n",
                "host: { cpus: auto }\n",
                "host: { memory: auto }\n",
                "host: { devices: { vda: { rbps: 2MB } } }\n",
                "host: { devices: { vda: { wbps: 1MB } } }\n",
                "host: { devices: { vdb: {} } }\n",
                "host: { interfaces: { eth0: { egress: 2Gbit } } }\n",
                "host: { interfaces: { eth1: {} } }\n",
                "vms: { b: {} }\n",
                "vms: { a: { cgroup: x/b } }\n",
                "vms: { a: { create: true } }\n",
                "vms: { a: { cpu: { reserve: 0.1 } } }\n",
                "vms: { a: { cpu: { reserve: 11% } } }\n",
                "vms: { a: { cpu: { share: 0 } } }\n",
                "vms: { a: { cpu: { limit: 1 } } }\n",
                "vms: { a: { cpu: { burst: 1s } } }\n",
                "vms: { a: { io: { vda: { share: 2 } } } }\n",
                "vms: { a: { io: { vda: { wbps: { limit: 10% } } } } }\n",
                "vms: { a: { io: { vda: { rbps: { limit: 5MB } } } } }\n",
                "vms: { a: { io: { vdb: {} } } }\n",
                "vms: { a: { net: { interface: tap1 } } }\n",
                "vms: { a: { net: { egress: { burst: 2MB } } } }\n",
                "vms: { a: { memory: { limit: 2G } } }\n",
                "vms: { a: { memory: { reserve: 1G } } }\n",
        };

        for (size_t i = 0; i < ELEMENTS(changed); i++) {
                Policy p, q;
                PolicyError err;

                parse_ok(base, "base.yaml", &p);
                parse_ok(base, "base.yaml", &q);
                cr_assert(policy_equal(&p, &q));
                cr_assert_eq(policy_parse_string(changed[i], strlen(changed[i]), "o.yaml", &q, &err), 0, "%s",
                             err.message);
                cr_assert(!policy_equal(&p, &q), "not seen: %s", changed[i]);
                cr_assert(!policy_equal(&q, &p), "not seen: %s", changed[i]);
                policy_done(&p);
                policy_done(&q);
        }
}

Test(write, write_file_matches_string) {
        Policy p;
        char *text, buf[4096];
        FILE *f;
        size_t n;

        parse_ok(example, "example.yaml", &p);
        text = write_ok(&p);

        f = tmpfile();
        cr_assert_not_null(f);
        cr_assert_eq(policy_write_file(&p, f), 0);
        rewind(f);
        n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        cr_assert_str_eq(buf, text);

        fclose(f);
        free(text);
        policy_done(&p);
}

Test(write, write_file_reports_errors) {
        Policy p;
        FILE *f;

        f = fopen("/dev/full", "we");
        if (!f)
                cr_skip_test("no /dev/full here");

        parse_ok(example, "example.yaml", &p);
        cr_assert_eq(policy_write_file(&p, f), -ENOSPC);
        fclose(f);
        policy_done(&p);
}
