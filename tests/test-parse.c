/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "policy/parse.h"
#include "policy/units.h"
#include "policy/write.h"

#define FILE_NAME "f.yaml"
#define MB        1000000ULL
#define GIB       (1024ULL * 1024ULL * 1024ULL)

/* The language's example, with the columns of its values worked out by hand in the tests below. */
static const char example[] = "host:\n"                                                                   /* 1 */
                              "  cpus: auto\n"                                                            /* 2 */
                              "  memory: auto   # or bytes\n"                                             /* 3 */
                              "  devices:\n"                                                              /* 4 */
                              "    vda: { rbps: 500MB, wbps: 300MB, riops: 20000, wiops: 10000 }\n"       /* 5 */
                              "  interfaces:\n"                                                           /* 6 */
                              "    eth0: { egress: 1Gbit }\n"                                             /* 7 */
                              "vms:\n"                                                                    /* 8 */
                              "  web:\n"                                                                  /* 9 */
                              "    cgroup: machine.slice/web.scope\n"                                     /* 10 */
                              "    create: true\n"                                                        /* 11 */
                              "    cpu:    { reserve: 10%, share: 2, limit: 50%, burst: 200ms }\n"        /* 12 */
                              "    io:     { vda: { wbps: { reserve: 50MB, limit: 100MB, burst: 10MB }, " /* 13 */
                              "riops: { limit: 500 }, share: 1 } }\n"                                     /* 13 */
                              "    net:    { interface: tap-web, egress: { reserve: 100Mbit, share: 1, "  /* 14 */
                              "limit: 500Mbit, burst: 1MB } }\n"                                          /* 14 */
                              "    memory: { reserve: 1G, limit: 2G }\n"                                  /* 15 */
                              "  batch:\n"                                                                /* 16 */
                              "    cpu: { share: 1 }\n"                                                   /* 17 */
                              "  idle:   # a VM with no settings\n";                                      /* 18 */

static int parse(const char *text, Policy *p, PolicyError *err) {
        return policy_parse_string(text, strlen(text), FILE_NAME, p, err);
}

static void parse_ok(const char *text, Policy *p) {
        PolicyError err = {};
        int r;

        policy_init(p);
        r = parse(text, p, &err);
        cr_assert_eq(r, 0, "parse failed (%d): %s\n%s", r, err.message, text);
}

static void expect_amount(const Amount *a, AmountKind kind, uint64_t value, unsigned line, unsigned column) {
        cr_assert_eq(a->kind, kind, "kind %d, want %d (at %u:%u)", a->kind, kind, line, column);
        cr_assert_eq(a->value, value, "value %llu, want %llu (at %u:%u)", (unsigned long long)a->value,
                     (unsigned long long)value, line, column);
        cr_assert_str_eq(a->loc.file, FILE_NAME);
        cr_assert_eq(a->loc.line, line, "line %u, want %u", a->loc.line, line);
        cr_assert_eq(a->loc.column, column, "column %u, want %u (line %u)", a->loc.column, column, line);
}

static void expect_loc(const SourceLoc *loc, unsigned line, unsigned column) {
        cr_assert_str_eq(loc->file, FILE_NAME);
        cr_assert_eq(loc->line, line, "line %u, want %u", loc->line, line);
        cr_assert_eq(loc->column, column, "column %u, want %u", loc->column, column);
}

typedef struct ErrorCase {
        const char *text;
        int code;
        const char *message;
} ErrorCase;

/* Each case must fail with exactly its code and message, and leave a non-empty target untouched. */
static void expect_errors(const ErrorCase *cases, size_t n) {
        static const char base[] = "vms:\n  keep:\n    cpu: { share: 7 }\n";

        for (size_t i = 0; i < n; i++) {
                Policy p, before;
                PolicyError err = {};
                int r;

                parse_ok(base, &p);
                parse_ok(base, &before);

                r = parse(cases[i].text, &p, &err);
                cr_expect_eq(r, cases[i].code, "got %d, want %d for:\n%s", r, cases[i].code, cases[i].text);
                cr_expect_str_eq(err.message, cases[i].message, "for:\n%s", cases[i].text);
                cr_expect(policy_equal(&p, &before), "target changed by a failed parse of:\n%s", cases[i].text);
                cr_expect_eq(p.n_vms, 1);

                policy_done(&p);
                policy_done(&before);
        }
}

#define EXPECT_ERRORS(cases) expect_errors(cases, sizeof(cases) / sizeof((cases)[0]))

/* ---- the example ----------------------------------------------------------------------------------------------- */

Test(parse, example_host) {
        Policy p;
        const HostDevice *d;
        const HostInterface *iface;

        parse_ok(example, &p);

        cr_assert_eq(p.host.cpus.kind, AMOUNT_AUTO);
        expect_loc(&p.host.cpus.loc, 2, 9);
        cr_assert_eq(p.host.memory.kind, AMOUNT_AUTO);
        expect_loc(&p.host.memory.loc, 3, 11);

        cr_assert_eq(p.host.n_devices, 1);
        d = policy_find_device(&p, "vda");
        cr_assert_not_null(d);
        expect_loc(&d->loc, 5, 5);
        expect_amount(&d->cap[IO_RBPS], AMOUNT_ABSOLUTE, 500 * MB, 5, 18);
        expect_amount(&d->cap[IO_WBPS], AMOUNT_ABSOLUTE, 300 * MB, 5, 31);
        expect_amount(&d->cap[IO_RIOPS], AMOUNT_ABSOLUTE, 20000, 5, 45);
        expect_amount(&d->cap[IO_WIOPS], AMOUNT_ABSOLUTE, 10000, 5, 59);

        cr_assert_eq(p.host.n_interfaces, 1);
        iface = policy_find_interface(&p, "eth0");
        cr_assert_not_null(iface);
        expect_loc(&iface->loc, 7, 5);
        expect_amount(&iface->egress, AMOUNT_ABSOLUTE, 1000 * MB, 7, 21);

        policy_done(&p);
}

Test(parse, example_vms) {
        Policy p;
        const VmPolicy *web, *batch, *idle;
        const VmIoDevice *io;

        parse_ok(example, &p);
        cr_assert_eq(p.n_vms, 3);

        /* In the order written. */
        cr_assert_str_eq(p.vms[0].name, "web");
        cr_assert_str_eq(p.vms[1].name, "batch");
        cr_assert_str_eq(p.vms[2].name, "idle");

        web = policy_find_vm(&p, "web");
        expect_loc(&web->loc, 9, 3);
        cr_assert_str_eq(web->cgroup, "machine.slice/web.scope");
        expect_loc(&web->cgroup_loc, 10, 13);
        cr_assert_eq(web->create, 1);
        expect_loc(&web->create_loc, 11, 13);

        expect_amount(&web->cpu.reserve, AMOUNT_PERCENT, 10 * UNIT_PPM_PER_PERCENT, 12, 24);
        expect_amount(&web->cpu.share, AMOUNT_ABSOLUTE, 2, 12, 36);
        expect_amount(&web->cpu.limit, AMOUNT_PERCENT, 50 * UNIT_PPM_PER_PERCENT, 12, 46);
        expect_amount(&web->cpu.burst, AMOUNT_ABSOLUTE, 200000, 12, 58);

        cr_assert_eq(web->n_io, 1);
        io = vm_find_io(web, "vda");
        cr_assert_not_null(io);
        expect_loc(&io->loc, 13, 15);
        expect_amount(&io->dir[IO_WBPS].reserve, AMOUNT_ABSOLUTE, 50 * MB, 13, 39);
        expect_amount(&io->dir[IO_WBPS].limit, AMOUNT_ABSOLUTE, 100 * MB, 13, 52);
        expect_amount(&io->dir[IO_WBPS].burst, AMOUNT_ABSOLUTE, 10 * MB, 13, 66);
        cr_assert_eq(io->dir[IO_WBPS].share.kind, AMOUNT_UNSET);
        expect_amount(&io->dir[IO_RIOPS].limit, AMOUNT_ABSOLUTE, 500, 13, 90);
        cr_assert_eq(io->dir[IO_RIOPS].reserve.kind, AMOUNT_UNSET);
        expect_amount(&io->share, AMOUNT_ABSOLUTE, 1, 13, 104);
        cr_assert_eq(io->dir[IO_RBPS].limit.kind, AMOUNT_UNSET);
        cr_assert_eq(io->dir[IO_WIOPS].limit.kind, AMOUNT_UNSET);

        cr_assert_str_eq(web->net_interface, "tap-web");
        expect_loc(&web->net_interface_loc, 14, 26);
        expect_amount(&web->net_egress.reserve, AMOUNT_ABSOLUTE, 100 * MB, 14, 54);
        expect_amount(&web->net_egress.share, AMOUNT_ABSOLUTE, 1, 14, 70);
        expect_amount(&web->net_egress.limit, AMOUNT_ABSOLUTE, 500 * MB, 14, 80);
        expect_amount(&web->net_egress.burst, AMOUNT_ABSOLUTE, 1 * MB, 14, 96);

        expect_amount(&web->mem_reserve, AMOUNT_ABSOLUTE, 1 * GIB, 15, 24);
        expect_amount(&web->mem_limit, AMOUNT_ABSOLUTE, 2 * GIB, 15, 35);

        batch = policy_find_vm(&p, "batch");
        expect_loc(&batch->loc, 16, 3);
        expect_amount(&batch->cpu.share, AMOUNT_ABSOLUTE, 1, 17, 19);
        cr_assert_eq(batch->cpu.reserve.kind, AMOUNT_UNSET);
        cr_assert_null(batch->cgroup);
        cr_assert_eq(batch->create, -1);
        cr_assert_eq(batch->n_io, 0);

        idle = policy_find_vm(&p, "idle");
        cr_assert_not_null(idle);
        expect_loc(&idle->loc, 18, 3);
        cr_assert_eq(idle->cpu.share.kind, AMOUNT_UNSET);
        cr_assert_eq(idle->mem_limit.kind, AMOUNT_UNSET);
        cr_assert_null(idle->net_interface);
        cr_assert_eq(idle->create, -1);

        policy_done(&p);
}

/* ---- empty, null and odd documents ----------------------------------------------------------------------------- */

Test(parse, empty_documents_are_empty_policies) {
        static const char *const texts[] = {"",
                                            "\n",
                                            "# nothing yet\n",
                                            "---\n",
                                            "---\n...\n",
                                            "{}\n",
                                            "~\n",
                                            "host:\nvms:\n",
                                            "vms: {}\nhost: {}\n"};

        for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
                Policy p;

                parse_ok(texts[i], &p);
                cr_assert_eq(p.n_vms, 0, "%s", texts[i]);
                cr_assert_eq(p.host.n_devices, 0);
                cr_assert_eq(p.host.cpus.kind, AMOUNT_UNSET);
                policy_done(&p);
        }
}

Test(parse, null_sections) {
        Policy p;
        const VmPolicy *vm;

        parse_ok("vms:\n  a:\n    cpu:\n    io:\n      vda:\n    net: ~\n    memory: null\n  b: {}\n", &p);
        cr_assert_eq(p.n_vms, 2);
        vm = policy_find_vm(&p, "a");
        cr_assert_not_null(vm);
        cr_assert_eq(vm->cpu.share.kind, AMOUNT_UNSET);
        /* A named device with nothing set is still named. */
        cr_assert_eq(vm->n_io, 1);
        cr_assert_not_null(vm_find_io(vm, "vda"));
        cr_assert_not_null(policy_find_vm(&p, "b"));
        policy_done(&p);
}

Test(parse, quoted_strings_are_values) {
        Policy p;

        /* A quoted "null" is a string, not null; a quoted key is a key. */
        parse_ok("vms:\n  \"web\":\n    cgroup: 'null'\n    net: { interface: \"true\" }\n", &p);
        cr_assert_str_eq(p.vms[0].name, "web");
        cr_assert_str_eq(p.vms[0].cgroup, "null");
        cr_assert_str_eq(p.vms[0].net_interface, "true");
        policy_done(&p);
}

Test(parse, booleans) {
        static const char *const yes[] = {"true", "True", "TRUE"}, *const no[] = {"false", "False", "FALSE"};

        for (size_t i = 0; i < 3; i++) {
                char text[64];
                Policy p;

                snprintf(text, sizeof(text), "vms: { a: { create: %s }, b: { create: %s } }\n", yes[i], no[i]);
                parse_ok(text, &p);
                cr_assert_eq(policy_find_vm(&p, "a")->create, 1, "%s", yes[i]);
                cr_assert_eq(policy_find_vm(&p, "b")->create, 0, "%s", no[i]);
                policy_done(&p);
        }
}

Test(parse, aliases) {
        Policy p;
        const VmPolicy *a, *b;

        parse_ok("vms:\n"
                 "  a:\n"
                 "    cpu: &small { reserve: 5%, share: 3 }\n"
                 "    memory: { limit: &lim 1GiB }\n"
                 "  b:\n"
                 "    cpu: *small\n"
                 "    memory: { limit: *lim }\n",
                 &p);
        a = policy_find_vm(&p, "a");
        b = policy_find_vm(&p, "b");
        expect_amount(&a->cpu.reserve, AMOUNT_PERCENT, 5 * UNIT_PPM_PER_PERCENT, 3, 28);
        /* An alias is the anchored node itself: its location is the anchor's. */
        expect_amount(&b->cpu.reserve, AMOUNT_PERCENT, 5 * UNIT_PPM_PER_PERCENT, 3, 28);
        expect_amount(&b->cpu.share, AMOUNT_ABSOLUTE, 3, 3, 39);
        /* A node's mark starts at its anchor. */
        expect_amount(&b->mem_limit, AMOUNT_ABSOLUTE, GIB, 4, 22);
        policy_done(&p);
}

/* ---- edge values ----------------------------------------------------------------------------------------------- */

Test(parse, edge_values) {
        Policy p;
        const VmPolicy *vm;
        const VmIoDevice *io;
        const HostDevice *d;

        parse_ok("host:\n"
                 "  cpus: 0.000001\n"
                 "  memory: 18446744073709551615\n"
                 "  devices:\n"
                 "    d: { rbps: 18446744073709551615B, riops: 0 }\n"
                 "vms:\n"
                 "  a:\n"
                 "    cpu: { reserve: 0%, limit: 100%, share: 0, burst: 0s }\n"
                 "    io: { d: { rbps: { reserve: 0.0001%, limit: 18446744073709551615, burst: 0 } } }\n"
                 "    net: { egress: { limit: 100.0%, share: 10000 } }\n"
                 "    memory: { reserve: 0, limit: 18446744073709551615B/s }\n",
                 &p);

        expect_amount(&p.host.cpus, AMOUNT_ABSOLUTE, 1, 2, 9);
        expect_amount(&p.host.memory, AMOUNT_ABSOLUTE, UINT64_MAX, 3, 11);
        d = policy_find_device(&p, "d");
        expect_amount(&d->cap[IO_RBPS], AMOUNT_ABSOLUTE, UINT64_MAX, 5, 16);
        expect_amount(&d->cap[IO_RIOPS], AMOUNT_ABSOLUTE, 0, 5, 46);

        vm = policy_find_vm(&p, "a");
        expect_amount(&vm->cpu.reserve, AMOUNT_PERCENT, 0, 8, 21);
        expect_amount(&vm->cpu.limit, AMOUNT_PERCENT, UNIT_PPM_FULL, 8, 32);
        expect_amount(&vm->cpu.share, AMOUNT_ABSOLUTE, 0, 8, 45);
        expect_amount(&vm->cpu.burst, AMOUNT_ABSOLUTE, 0, 8, 55);
        io = vm_find_io(vm, "d");
        expect_amount(&io->dir[IO_RBPS].reserve, AMOUNT_PERCENT, 1, 9, 33);
        expect_amount(&io->dir[IO_RBPS].limit, AMOUNT_ABSOLUTE, UINT64_MAX, 9, 49);
        expect_amount(&io->dir[IO_RBPS].burst, AMOUNT_ABSOLUTE, 0, 9, 78);
        expect_amount(&vm->net_egress.limit, AMOUNT_PERCENT, UNIT_PPM_FULL, 10, 29);
        expect_amount(&vm->net_egress.share, AMOUNT_ABSOLUTE, 10000, 10, 44);
        expect_amount(&vm->mem_reserve, AMOUNT_ABSOLUTE, 0, 11, 24);
        expect_amount(&vm->mem_limit, AMOUNT_ABSOLUTE, UINT64_MAX, 11, 34);

        policy_done(&p);
}

Test(parse, every_amount_kind) {
        Policy p;
        const VmPolicy *vm;
        const VmIoDevice *io;

        parse_ok("host:\n"
                 "  cpus: 1500m\n"
                 "  memory: 16GiB\n"
                 "  devices: { 'sda:1': { wbps: 1.5KiB/s, wiops: 20k } }\n"
                 "  interfaces: { eth0: { egress: 2.5Gbps } }\n"
                 "vms:\n"
                 "  a:\n"
                 "    cpu: { reserve: 0.5, limit: 2, burst: 1.5s }\n"
                 "    io: { 'sda:1': { share: 5, wiops: { reserve: 10%, limit: 1M, burst: 2k } } }\n"
                 "    net: { egress: { reserve: 12.5%, limit: 250kbit, burst: 64KiB } }\n"
                 "    memory: { reserve: 12.5%, limit: 512M }\n",
                 &p);

        cr_assert_eq(p.host.cpus.value, 1500000);
        cr_assert_eq(p.host.memory.value, 16 * GIB);
        cr_assert_eq(policy_find_device(&p, "sda:1")->cap[IO_WBPS].value, 1536);
        cr_assert_eq(policy_find_device(&p, "sda:1")->cap[IO_WIOPS].value, 20000);
        cr_assert_eq(policy_find_interface(&p, "eth0")->egress.value, 2500 * MB);

        vm = policy_find_vm(&p, "a");
        cr_assert_eq(vm->cpu.reserve.kind, AMOUNT_ABSOLUTE);
        cr_assert_eq(vm->cpu.reserve.value, UNIT_UCPU_PER_CPU / 2);
        cr_assert_eq(vm->cpu.limit.value, 2 * UNIT_UCPU_PER_CPU);
        cr_assert_eq(vm->cpu.burst.value, 1500000);
        io = vm_find_io(vm, "sda:1");
        cr_assert_eq(io->share.value, 5);
        cr_assert_eq(io->dir[IO_WIOPS].reserve.kind, AMOUNT_PERCENT);
        cr_assert_eq(io->dir[IO_WIOPS].reserve.value, 10 * UNIT_PPM_PER_PERCENT);
        cr_assert_eq(io->dir[IO_WIOPS].limit.value, 1000000);
        cr_assert_eq(io->dir[IO_WIOPS].burst.value, 2000);
        cr_assert_eq(vm->net_egress.reserve.kind, AMOUNT_PERCENT);
        cr_assert_eq(vm->net_egress.reserve.value, 125000);
        cr_assert_eq(vm->net_egress.limit.value, 250000);
        cr_assert_eq(vm->net_egress.burst.value, 65536);
        cr_assert_eq(vm->mem_reserve.kind, AMOUNT_PERCENT);
        cr_assert_eq(vm->mem_limit.value, 512ULL * 1024 * 1024);

        policy_done(&p);
}

Test(parse, names_at_the_limits) {
        char text[256];
        char name64[65], name65[66];
        Policy p;

        memset(name64, 'v', 64);
        name64[64] = '\0';
        memset(name65, 'v', 65);
        name65[65] = '\0';

        snprintf(text, sizeof(text), "vms:\n  %s: {}\n  A-z_0.9: {}\n", name64);
        parse_ok(text, &p);
        cr_assert_not_null(policy_find_vm(&p, name64));
        cr_assert_not_null(policy_find_vm(&p, "A-z_0.9"));
        policy_done(&p);

        {
                PolicyError err;
                char want[256];

                snprintf(text, sizeof(text), "vms:\n  %s: {}\n", name65);
                snprintf(want, sizeof(want),
                         "f.yaml:2:3: vms.%s: invalid VM name (expected 1 to 64 of A-Z a-z 0-9 _ . -)", name65);
                policy_init(&p);
                cr_assert_eq(parse(text, &p, &err), -EINVAL);
                cr_assert_str_eq(err.message, want);
                policy_done(&p);
        }
}

/* ---- merging into the target ----------------------------------------------------------------------------------- */

Test(parse, second_document_overrides_fields) {
        Policy p;
        PolicyError err;
        const VmPolicy *vm;

        parse_ok("vms:\n  web:\n    cpu: { reserve: 10%, share: 2 }\n", &p);
        static const char overlay[] = "vms:\n  web:\n    cpu: { share: 5 }\n  db: {}\n";

        cr_assert_eq(policy_parse_string(overlay, strlen(overlay), "g.yaml", &p, &err), 0, "%s", err.message);

        cr_assert_eq(p.n_vms, 2);
        vm = policy_find_vm(&p, "web");
        expect_amount(&vm->cpu.reserve, AMOUNT_PERCENT, 10 * UNIT_PPM_PER_PERCENT, 3, 21);
        cr_assert_eq(vm->cpu.share.value, 5);
        cr_assert_str_eq(vm->cpu.share.loc.file, "g.yaml");
        cr_assert_eq(vm->cpu.share.loc.line, 3);
        cr_assert_eq(vm->cpu.share.loc.column, 19);
        policy_done(&p);
}

Test(parse, parse_node_with_prefix) {
        static const char text[] = "name: test\n"
                                   "policy:\n"
                                   "  vms:\n"
                                   "    web: { cpu: { share: 3 } }\n"
                                   "broken:\n"
                                   "  vms:\n"
                                   "    web: { cpu: { sahre: 3 } }\n"
                                   "listy: [1]\n";
        yaml_parser_t parser;
        yaml_document_t doc;
        yaml_node_t *root, *policy = NULL, *broken = NULL, *listy = NULL;
        PolicyError err;
        Policy p;

        cr_assert(yaml_parser_initialize(&parser));
        yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
        cr_assert(yaml_parser_load(&parser, &doc));
        root = yaml_document_get_root_node(&doc);
        for (yaml_node_pair_t *pair = root->data.mapping.pairs.start; pair < root->data.mapping.pairs.top; pair++) {
                const char *k = (const char *)yaml_document_get_node(&doc, pair->key)->data.scalar.value;
                yaml_node_t *v = yaml_document_get_node(&doc, pair->value);

                if (strcmp(k, "policy") == 0)
                        policy = v;
                else if (strcmp(k, "broken") == 0)
                        broken = v;
                else if (strcmp(k, "listy") == 0)
                        listy = v;
        }

        policy_init(&p);
        cr_assert_eq(policy_parse_node(&doc, policy, "s.yaml", "policy.", &p, &err), 0, "%s", err.message);
        cr_assert_eq(policy_find_vm(&p, "web")->cpu.share.value, 3);
        cr_assert_eq(policy_find_vm(&p, "web")->cpu.share.loc.line, 4);

        cr_assert_eq(policy_parse_node(&doc, broken, "s.yaml", "policy.", &p, &err), -EINVAL);
        cr_assert_str_eq(err.message, "s.yaml:7:19: policy.vms.web.cpu.sahre: "
                                      "unknown key (expected reserve, share, limit or burst)");
        cr_assert_eq(policy_parse_node(&doc, listy, "s.yaml", "policy.", &p, &err), -EINVAL);
        cr_assert_str_eq(err.message, "s.yaml:8:8: policy: expected a mapping");
        cr_assert_eq(policy_parse_node(&doc, listy, "s.yaml", "", &p, &err), -EINVAL);
        cr_assert_str_eq(err.message, "s.yaml:8:8: expected a mapping at the top level");

        /* The failures left the first parse alone. */
        cr_assert_eq(p.n_vms, 1);
        cr_assert_eq(policy_find_vm(&p, "web")->cpu.share.value, 3);

        policy_done(&p);
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
}

Test(parse, missing_file) {
        Policy p;
        PolicyError err;

        policy_init(&p);
        cr_assert_eq(policy_parse_file("/nonexistent/policy.yaml", &p, &err), -ENOENT);
        cr_assert_str_eq(err.message, "/nonexistent/policy.yaml: cannot read: No such file or directory");
        cr_assert_eq(policy_parse_file("/", &p, &err), -EISDIR);
        cr_assert_str_eq(err.message, "/: cannot read: Is a directory");
        policy_done(&p);
}

Test(parse, text_with_length_not_nul_terminated) {
        static const char text[] = "vms: { a: {} }GARBAGE";
        Policy p;
        PolicyError err;

        policy_init(&p);
        cr_assert_eq(policy_parse_string(text, 14, "t", &p, &err), 0, "%s", err.message);
        cr_assert_eq(p.n_vms, 1);
        policy_done(&p);
}

/* ---- errors, class by class ------------------------------------------------------------------------------------ */

Test(parse, syntax_errors) {
        static const ErrorCase cases[] = {
                {"vms:\n  web:\n    cpu: { reserve: 10%\n", -EINVAL,
                 "f.yaml:4:1: YAML syntax error: did not find expected ',' or '}'"},
                {"vms:\n\tweb: {}\n", -EINVAL,
                 "f.yaml:2:1: YAML syntax error: found character that cannot start any token"},
                {"vms:\n  a: b: c\n", -EINVAL,
                 "f.yaml:2:7: YAML syntax error: mapping values are not allowed in this context"},
                {"vms:\n  a: *nowhere\n", -EINVAL, "f.yaml:2:6: YAML syntax error: found undefined alias"},
                {"vms: {}\n\x01\n", -EINVAL, "f.yaml:2:1: YAML syntax error: control characters are not allowed"},
                {"vms:\n  a: {}\n---\nvms: {}\n", -EINVAL, "f.yaml:3:1: more than one YAML document (expected one)"},
                {"---\n---\n", -EINVAL, "f.yaml:2:1: more than one YAML document (expected one)"},
        };
        EXPECT_ERRORS(cases);
}

Test(parse, unknown_keys) {
        static const ErrorCase cases[] = {
                {"vm:\n  web: {}\n", -EINVAL, "f.yaml:1:1: vm: unknown key (expected host or vms)"},
                {"host:\n  cpu: 2\n", -EINVAL,
                 "f.yaml:2:3: host.cpu: unknown key (expected cpus, memory, devices or interfaces)"},
                {"host:\n  devices:\n    vda: { rbsp: 1MB }\n", -EINVAL,
                 "f.yaml:3:12: host.devices.vda.rbsp: unknown key (expected rbps, wbps, riops or wiops)"},
                {"host:\n  interfaces:\n    eth0: { ingress: 1Gbit }\n", -EINVAL,
                 "f.yaml:3:13: host.interfaces.eth0.ingress: unknown key (expected egress)"},
                {"vms:\n  web:\n    cpus: {}\n", -EINVAL,
                 "f.yaml:3:5: vms.web.cpus: unknown key (expected cgroup, create, cpu, io, net or memory)"},
                {"vms:\n  web:\n    cpu: { reserv: 10% }\n", -EINVAL,
                 "f.yaml:3:12: vms.web.cpu.reserv: unknown key (expected reserve, share, limit or burst)"},
                {"vms:\n  web:\n    io: { vda: { read: {} } }\n", -EINVAL,
                 "f.yaml:3:18: vms.web.io.vda.read: unknown key (expected rbps, wbps, riops, wiops or share)"},
                {"vms:\n  web:\n    io: { vda: { rbps: { min: 1 } } }\n", -EINVAL,
                 "f.yaml:3:26: vms.web.io.vda.rbps.min: unknown key (expected reserve, share, limit or burst)"},
                {"vms:\n  web:\n    net: { ingress: {} }\n", -EINVAL,
                 "f.yaml:3:12: vms.web.net.ingress: unknown key (expected interface or egress)"},
                {"vms:\n  web:\n    net: { egress: { rate: 1 } }\n", -EINVAL,
                 "f.yaml:3:22: vms.web.net.egress.rate: unknown key (expected reserve, share, limit or burst)"},
                {"vms:\n  web:\n    memory: { share: 1 }\n", -EINVAL,
                 "f.yaml:3:15: vms.web.memory.share: unknown key (expected reserve or limit)"},
        };
        EXPECT_ERRORS(cases);
}

Test(parse, wrong_types) {
        static const ErrorCase cases[] = {
                {"- vms\n", -EINVAL, "f.yaml:1:1: expected a mapping at the top level"},
                {"just a string\n", -EINVAL, "f.yaml:1:1: expected a mapping at the top level"},
                {"vms: [web]\n", -EINVAL, "f.yaml:1:6: vms: expected a mapping"},
                {"vms:\n  web: 5\n", -EINVAL, "f.yaml:2:8: vms.web: expected a mapping"},
                {"vms:\n  web:\n    cpu: 10%\n", -EINVAL, "f.yaml:3:10: vms.web.cpu: expected a mapping"},
                {"host:\n  devices:\n    - vda\n", -EINVAL, "f.yaml:3:5: host.devices: expected a mapping"},
                {"vms:\n  web:\n    cpu: { reserve: { a: 1 } }\n", -EINVAL,
                 "f.yaml:3:21: vms.web.cpu.reserve: expected a value, not a mapping"},
                {"vms:\n  web:\n    cpu: { share: [1, 2] }\n", -EINVAL,
                 "f.yaml:3:19: vms.web.cpu.share: expected a value, not a list"},
                {"vms:\n  web:\n    cgroup: {}\n", -EINVAL,
                 "f.yaml:3:13: vms.web.cgroup: expected a value, not a mapping"},
                {"host:\n  cpus: [2]\n", -EINVAL, "f.yaml:2:9: host.cpus: expected a value, not a list"},
                {"vms:\n  web:\n    cpu: { reserve: }\n", -EINVAL, "f.yaml:3:21: vms.web.cpu.reserve: missing value"},
                {"vms:\n  web:\n    create:\n", -EINVAL, "f.yaml:3:12: vms.web.create: missing value"},
                {"vms:\n  ? [a]\n  : {}\n", -EINVAL, "f.yaml:2:5: vms: expected a name as key, not a list"},
                {"vms:\n  web:\n    cgroup: \"a\\0b\"\n", -EINVAL,
                 "f.yaml:3:13: vms.web.cgroup: value contains a NUL character"},
                {"vms:\n  \"w\\0b\": {}\n", -EINVAL, "f.yaml:2:3: vms: key contains a NUL character"},
                {"vms:\n  web:\n    create: maybe\n", -EINVAL,
                 "f.yaml:3:13: vms.web.create: \"maybe\" is not a boolean (expected true or false)"},
                {"vms:\n  web:\n    create: yes\n", -EINVAL,
                 "f.yaml:3:13: vms.web.create: \"yes\" is not a boolean (expected true or false)"},
        };
        EXPECT_ERRORS(cases);
}

Test(parse, duplicate_keys) {
        static const ErrorCase cases[] = {
                {"vms: {}\nvms: {}\n", -EINVAL, "f.yaml:2:1: vms: duplicate key"},
                {"vms:\n  web: {}\n  db: {}\n  web: {}\n", -EINVAL, "f.yaml:4:3: vms.web: duplicate key"},
                {"vms:\n  web:\n    cpu: { share: 1, share: 2 }\n", -EINVAL,
                 "f.yaml:3:22: vms.web.cpu.share: duplicate key"},
                {"host:\n  devices:\n    vda: {}\n    vda: {}\n", -EINVAL,
                 "f.yaml:4:5: host.devices.vda: duplicate key"},
                /* The first repeat in document order, whichever key came first. */
                {"vms:\n  x: {}\n  y: {}\n  y: {}\n  x: {}\n", -EINVAL, "f.yaml:4:3: vms.y: duplicate key"},
                {"vms:\n  a: {}\n  a: {}\n  a: {}\n", -EINVAL, "f.yaml:3:3: vms.a: duplicate key"},
                {"vms:\n  ab: {}\n  a: {}\n  abc: {}\n  b: {}\n  a: {}\n", -EINVAL,
                 "f.yaml:6:3: vms.a: duplicate key"},
                /* Keys compare by text, however quoted. */
                {"vms:\n  web: {}\n  'web': {}\n", -EINVAL, "f.yaml:3:3: vms.web: duplicate key"},
        };
        EXPECT_ERRORS(cases);
}

Test(parse, bad_amounts) {
        static const ErrorCase cases[] = {
                {"vms:\n  web:\n    cpu: { reserve: ten }\n", -EINVAL,
                 "f.yaml:3:21: vms.web.cpu.reserve: \"ten\" is not a number "
                 "(expected a percentage or CPUs, like 10% or 0.5)"},
                {"vms:\n  web:\n    cpu: { limit: 1GiB }\n", -EINVAL,
                 "f.yaml:3:19: vms.web.cpu.limit: \"1GiB\" is not a number "
                 "(expected a percentage or CPUs, like 10% or 0.5)"},
                {"vms:\n  web:\n    cpu: { reserve: -5% }\n", -EDOM,
                 "f.yaml:3:21: vms.web.cpu.reserve: \"-5%\" is negative"},
                {"vms:\n  web:\n    cpu: { reserve: -0.5 }\n", -EDOM,
                 "f.yaml:3:21: vms.web.cpu.reserve: \"-0.5\" is negative"},
                {"vms:\n  web:\n    cpu: { burst: 200 }\n", -EINVAL,
                 "f.yaml:3:19: vms.web.cpu.burst: \"200\" is not a number (expected a duration, like 200ms)"},
                {"vms:\n  web:\n    cpu: { burst: 10% }\n", -EINVAL,
                 "f.yaml:3:19: vms.web.cpu.burst: \"10%\" is not a number (expected a duration, like 200ms)"},
                {"vms:\n  web:\n    io: { vda: { wbps: { reserve: 50Mbit } } }\n", -EINVAL,
                 "f.yaml:3:35: vms.web.io.vda.wbps.reserve: \"50Mbit\" is not a number "
                 "(expected a percentage or bytes per second, like 10% or 50MB)"},
                {"vms:\n  web:\n    io: { vda: { wbps: { burst: 5% } } }\n", -EINVAL,
                 "f.yaml:3:33: vms.web.io.vda.wbps.burst: \"5%\" is not a number (expected bytes, like 10MB)"},
                {"vms:\n  web:\n    io: { vda: { riops: { limit: 5MB } } }\n", -EINVAL,
                 "f.yaml:3:34: vms.web.io.vda.riops.limit: \"5MB\" is not a number "
                 "(expected a percentage or operations per second, like 10% or 500)"},
                {"vms:\n  web:\n    io: { vda: { riops: { burst: lots } } }\n", -EINVAL,
                 "f.yaml:3:34: vms.web.io.vda.riops.burst: \"lots\" is not a number "
                 "(expected a number of operations, like 500)"},
                {"vms:\n  web:\n    net: { egress: { limit: 100MB } }\n", -EINVAL,
                 "f.yaml:3:29: vms.web.net.egress.limit: \"100MB\" is not a number "
                 "(expected a percentage or a bit rate, like 10% or 100Mbit)"},
                {"vms:\n  web:\n    memory: { limit: 2 GiB }\n", -EINVAL,
                 "f.yaml:3:22: vms.web.memory.limit: \"2 GiB\" is not a number "
                 "(expected a percentage or bytes, like 10% or 1G)"},
                {"host:\n  cpus: all\n", -EINVAL,
                 "f.yaml:2:9: host.cpus: \"all\" is not a number (expected auto or CPUs, like 2)"},
                {"host:\n  cpus: 50%\n", -EINVAL,
                 "f.yaml:2:9: host.cpus: \"50%\" is not a number (expected auto or CPUs, like 2)"},
                {"host:\n  memory: Auto\n", -EINVAL,
                 "f.yaml:2:11: host.memory: \"Auto\" is not a number (expected auto or bytes, like 16GiB)"},
                {"host:\n  devices: { vda: { rbps: auto } }\n", -EINVAL,
                 "f.yaml:2:27: host.devices.vda.rbps: \"auto\" is not a number "
                 "(expected bytes per second, like 500MB)"},
                {"host:\n  devices: { vda: { wiops: 1% } }\n", -EINVAL,
                 "f.yaml:2:28: host.devices.vda.wiops: \"1%\" is not a number "
                 "(expected operations per second, like 20000)"},
                {"host:\n  interfaces: { eth0: { egress: 1000 } }\n", -EINVAL,
                 "f.yaml:2:33: host.interfaces.eth0.egress: \"1000\" is not a number "
                 "(expected a bit rate, like 1Gbit)"},
                {"vms:\n  web:\n    cpu: { reserve: auto }\n", -EINVAL,
                 "f.yaml:3:21: vms.web.cpu.reserve: \"auto\" is not a number "
                 "(expected a percentage or CPUs, like 10% or 0.5)"},
        };
        EXPECT_ERRORS(cases);
}

Test(parse, overflow_by_one) {
        static const ErrorCase cases[] = {
                {"vms:\n  web:\n    memory: { limit: 18446744073709551616 }\n", -ERANGE,
                 "f.yaml:3:22: vms.web.memory.limit: \"18446744073709551616\" is too large or too precise"},
                {"host:\n  devices: { vda: { riops: 18446744073709551616 } }\n", -ERANGE,
                 "f.yaml:2:28: host.devices.vda.riops: \"18446744073709551616\" is too large or too precise"},
                {"host:\n  cpus: 18446744073710\n", -ERANGE,
                 "f.yaml:2:9: host.cpus: \"18446744073710\" is too large or too precise"},
                {"vms:\n  web:\n    cpu: { burst: 0.5us }\n", -ERANGE,
                 "f.yaml:3:19: vms.web.cpu.burst: \"0.5us\" is too large or too precise"},
        };
        EXPECT_ERRORS(cases);
}

Test(parse, percent_over_100) {
        static const ErrorCase cases[] = {
                {"vms:\n  web:\n    cpu: { reserve: 150% }\n", -ERANGE,
                 "f.yaml:3:21: vms.web.cpu.reserve: 150% is over 100%"},
                {"vms:\n  web:\n    cpu: { limit: 100.0001% }\n", -ERANGE,
                 "f.yaml:3:19: vms.web.cpu.limit: 100.0001% is over 100%"},
                {"vms:\n  web:\n    io: { vda: { rbps: { limit: 101% } } }\n", -ERANGE,
                 "f.yaml:3:33: vms.web.io.vda.rbps.limit: 101% is over 100%"},
                {"vms:\n  web:\n    net: { egress: { reserve: 200% } }\n", -ERANGE,
                 "f.yaml:3:31: vms.web.net.egress.reserve: 200% is over 100%"},
                {"vms:\n  web:\n    memory: { reserve: 1000% }\n", -ERANGE,
                 "f.yaml:3:24: vms.web.memory.reserve: 1000% is over 100%"},
        };
        EXPECT_ERRORS(cases);
}

Test(parse, share_out_of_range) {
        static const ErrorCase cases[] = {
                {"vms:\n  web:\n    cpu: { share: 20000 }\n", -ERANGE,
                 "f.yaml:3:19: vms.web.cpu.share: 20000 is out of range (0 to 10000)"},
                {"vms:\n  web:\n    cpu: { share: 10001 }\n", -ERANGE,
                 "f.yaml:3:19: vms.web.cpu.share: 10001 is out of range (0 to 10000)"},
                {"vms:\n  web:\n    cpu: { share: -1 }\n", -ERANGE,
                 "f.yaml:3:19: vms.web.cpu.share: -1 is out of range (0 to 10000)"},
                {"vms:\n  web:\n    cpu: { share: 99999999999999999999999 }\n", -ERANGE,
                 "f.yaml:3:19: vms.web.cpu.share: 99999999999999999999999 is out of range (0 to 10000)"},
                {"vms:\n  web:\n    io: { vda: { share: 10001 } }\n", -ERANGE,
                 "f.yaml:3:25: vms.web.io.vda.share: 10001 is out of range (0 to 10000)"},
                {"vms:\n  web:\n    net: { egress: { share: 10001 } }\n", -ERANGE,
                 "f.yaml:3:29: vms.web.net.egress.share: 10001 is out of range (0 to 10000)"},
                {"vms:\n  web:\n    cpu: { share: 1.5 }\n", -EINVAL,
                 "f.yaml:3:19: vms.web.cpu.share: \"1.5\" is not a number "
                 "(expected a whole number from 0 to 10000)"},
                {"vms:\n  web:\n    cpu: { share: 1k }\n", -EINVAL,
                 "f.yaml:3:19: vms.web.cpu.share: \"1k\" is not a number "
                 "(expected a whole number from 0 to 10000)"},
        };
        EXPECT_ERRORS(cases);
}

Test(parse, bad_names) {
        static const ErrorCase cases[] = {
                {"vms:\n  host: {}\n", -EINVAL, "f.yaml:2:3: vms.host: \"host\" is reserved for the host context"},
                {"vms:\n  web/1: {}\n", -EINVAL,
                 "f.yaml:2:3: vms.web/1: invalid VM name (expected 1 to 64 of A-Z a-z 0-9 _ . -)"},
                {"vms:\n  'a:b': {}\n", -EINVAL,
                 "f.yaml:2:3: vms.a:b: invalid VM name (expected 1 to 64 of A-Z a-z 0-9 _ . -)"},
                {"vms:\n  '': {}\n", -EINVAL,
                 "f.yaml:2:3: vms.: invalid VM name (expected 1 to 64 of A-Z a-z 0-9 _ . -)"},
                {"host:\n  devices:\n    'sd a': {}\n", -EINVAL,
                 "f.yaml:3:5: host.devices.sd a: invalid device name (expected 1 to 64 of A-Z a-z 0-9 _ . : -)"},
                {"host:\n  interfaces:\n    eth/0: {}\n", -EINVAL,
                 "f.yaml:3:5: host.interfaces.eth/0: invalid interface name "
                 "(expected 1 to 64 of A-Z a-z 0-9 _ . : -)"},
                {"vms:\n  web:\n    io: { 'v da': {} }\n", -EINVAL,
                 "f.yaml:3:11: vms.web.io.v da: invalid device name (expected 1 to 64 of A-Z a-z 0-9 _ . : -)"},
                {"vms:\n  web:\n    net: { interface: 'tap web' }\n", -EINVAL,
                 "f.yaml:3:23: vms.web.net.interface: \"tap web\" is not a valid interface name "
                 "(expected 1 to 64 of A-Z a-z 0-9 _ . : -)"},
        };
        EXPECT_ERRORS(cases);
}

Test(parse, bad_cgroup_paths) {
        static const ErrorCase cases[] = {
                {"vms:\n  web:\n    cgroup: /machine.slice/web\n", -EINVAL,
                 "f.yaml:3:13: vms.web.cgroup: \"/machine.slice/web\" must be relative to the cgroup root"},
                {"vms:\n  web:\n    cgroup: machine.slice/../web\n", -EINVAL,
                 "f.yaml:3:13: vms.web.cgroup: \"machine.slice/../web\" must not contain . or .."},
                {"vms:\n  web:\n    cgroup: ..\n", -EINVAL,
                 "f.yaml:3:13: vms.web.cgroup: \"..\" must not contain . or .."},
                {"vms:\n  web:\n    cgroup: a/./b\n", -EINVAL,
                 "f.yaml:3:13: vms.web.cgroup: \"a/./b\" must not contain . or .."},
                {"vms:\n  web:\n    cgroup: a//b\n", -EINVAL,
                 "f.yaml:3:13: vms.web.cgroup: \"a//b\" has an empty component"},
                {"vms:\n  web:\n    cgroup: a/\n", -EINVAL,
                 "f.yaml:3:13: vms.web.cgroup: \"a/\" has an empty component"},
                {"vms:\n  web:\n    cgroup: ''\n", -EINVAL,
                 "f.yaml:3:13: vms.web.cgroup: \"\" is empty (expected a path like machine.slice/web.scope)"},
        };
        EXPECT_ERRORS(cases);
}

Test(parse, good_cgroup_paths) {
        static const char *const paths[] = {"web", "machine.slice/web.scope", "a/b/c/d", "..a/b..", ".hidden"};

        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
                char text[128];
                Policy p;

                snprintf(text, sizeof(text), "vms: { web: { cgroup: '%s' } }\n", paths[i]);
                parse_ok(text, &p);
                cr_assert_str_eq(p.vms[0].cgroup, paths[i]);
                policy_done(&p);
        }
}
