/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Hostile and clumsy input: every limit of the policy language at the limit
 * and one past it, lookups at 100,000 entries, cgroup paths the kernel would
 * refuse or misread, and the writer's escapes read back as themselves.
 */

#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/keys.h"
#include "policy/parse.h"
#include "policy/validate.h"
#include "policy/write.h"

static const HostFacts facts = {.cpus_ucpu = 2000000, .memory_bytes = 4ULL << 30};

/* A growing text buffer for generated policies. */
typedef struct Text {
        char *s;
        size_t len, size;
} Text;

static void text_add(Text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_add(Text *t, const char *fmt, ...) {
        va_list ap;
        int n;

        for (;;) {
                va_start(ap, fmt);
                n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->size - t->len : 0, fmt, ap);
                va_end(ap);
                cr_assert_geq(n, 0);
                if (t->s && (size_t)n < t->size - t->len)
                        break;
                t->size = t->size ? 2 * t->size + (size_t)n : 4096 + (size_t)n;
                t->s = realloc(t->s, t->size);
                cr_assert_not_null(t->s);
        }
        t->len += (size_t)n;
}

/* The process's CPU time: the machine may be busy with other work, and
 * the ratios below are of the work done here, not of the wall clock. */
static double now_sec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Parsing fails with exactly `want`. */
static void parse_fails(const char *text, size_t len, const char *want) {
        PolicyError err = {};
        Policy p;
        int r;

        if (len == SIZE_MAX)
                len = strlen(text);
        policy_init(&p);
        r = policy_parse_string(text, len, "f.yaml", &p, &err);
        cr_assert_lt(r, 0, "parsed, expected: %s", want);
        cr_assert_str_eq(err.message, want);
        cr_assert_eq(p.n_vms, 0, "*ret changed on error");
        policy_done(&p);
}

static void parse_ok(const char *text, size_t len, Policy *p) {
        PolicyError err = {};

        if (len == SIZE_MAX)
                len = strlen(text);
        policy_init(p);
        cr_assert_eq(policy_parse_string(text, len, "f.yaml", p, &err), 0, "%s", err.message);
}

static void validate_fails(const char *text, const char *want) {
        PolicyError err = {};
        ResolvedPolicy r;
        Policy p;

        parse_ok(text, strlen(text), &p);
        cr_assert_lt(policy_validate(&p, &facts, &r, &err), 0, "validated, expected: %s", want);
        cr_assert_str_eq(err.message, want);
        policy_done(&p);
}

static void validate_ok(const char *text) {
        PolicyError err = {};
        ResolvedPolicy r;
        Policy p;

        parse_ok(text, strlen(text), &p);
        cr_assert_eq(policy_validate(&p, &facts, &r, &err), 0, "%s", err.message);
        resolved_policy_done(&r);
        policy_done(&p);
}

/* ---- nesting -------------------------------------------------------------------------------------------------------
 */

static char *nested(size_t depth) {
        char *s = malloc(2 * depth + 1);
        cr_assert_not_null(s);
        memset(s, '[', depth);
        memset(s + depth, ']', depth);
        s[2 * depth] = '\0';
        return s;
}

Test(limits, nesting_at_the_limit_and_past_it) {
        char *s = nested(POLICY_DEPTH_MAX), want[128];

        /* At the limit the parser gets to look at it (and refuses a list). */
        parse_fails(s, strlen(s), "f.yaml:1:1: expected a mapping at the top level");
        free(s);

        s = nested(POLICY_DEPTH_MAX + 1);
        snprintf(want, sizeof(want), "f.yaml:1:%u: nested deeper than %u levels", POLICY_DEPTH_MAX + 1,
                 POLICY_DEPTH_MAX);
        parse_fails(s, strlen(s), want);
        free(s);

        /* Block mappings count the same. */
        Text t = {};
        for (unsigned i = 0; i <= POLICY_DEPTH_MAX; i++)
                text_add(&t, "%*sk%u:\n", (int)(2 * i), "", i);
        snprintf(want, sizeof(want), "f.yaml:%u:%u: nested deeper than %u levels", POLICY_DEPTH_MAX + 1,
                 2 * POLICY_DEPTH_MAX + 1, POLICY_DEPTH_MAX);
        parse_fails(t.s, t.len, want);
        free(t.s);
}

/* 100,000 deep took 48 s inside libyaml; now the scan stops at the limit. */
Test(limits, deep_nesting_is_refused_fast) {
        char *s = nested(100000), want[128];
        double t0 = now_sec();

        snprintf(want, sizeof(want), "f.yaml:1:%u: nested deeper than %u levels", POLICY_DEPTH_MAX + 1,
                 POLICY_DEPTH_MAX);
        parse_fails(s, strlen(s), want);
        cr_assert_lt(now_sec() - t0, 2.0, "took %.2f s", now_sec() - t0);
        free(s);
}

/* ---- nodes ---------------------------------------------------------------------------------------------------------
 */

/* "vms: [0,0,...]": the mapping, "vms", the list and n scalars. */
static void node_list(Text *t, size_t n) {
        text_add(t, "vms: [");
        for (size_t i = 0; i < n; i++)
                text_add(t, i ? ",0" : "0");
        text_add(t, "]\n");
}

Test(limits, nodes_at_the_limit_and_past_it) {
        Text t = {};
        char want[128];

        node_list(&t, POLICY_NODES_MAX - 3);
        parse_fails(t.s, t.len, "f.yaml:1:6: vms: expected a mapping");
        free(t.s);

        t = (Text){};
        node_list(&t, POLICY_NODES_MAX - 2);
        /* the last scalar is at column 7 + 2 * (n - 1) */
        snprintf(want, sizeof(want), "f.yaml:1:%u: more than %u nodes", 7 + 2 * (POLICY_NODES_MAX - 3),
                 POLICY_NODES_MAX);
        parse_fails(t.s, t.len, want);
        free(t.s);
}

/* ---- aliases -------------------------------------------------------------------------------------------------------
 */

/* "vms: t: &t { cpu: { share: 1 } }" and n VMs "vK: *t": the document has
 * 9 + n nodes, the walk visits 8 + 6n (each alias walks the block's 4 nodes
 * again), so n = POLICY_ALIAS_NODES_MAX / 5 is the most it takes. */
static void alias_vms(Text *t, size_t n) {
        text_add(t, "vms:\n  t: &t { cpu: { share: 1 } }\n");
        for (size_t i = 0; i < n; i++)
                text_add(t, "  v%zu: *t\n", i);
}

Test(limits, aliases_at_the_limit_and_past_it) {
        const size_t n = POLICY_ALIAS_NODES_MAX / 5;
        Text t = {};
        Policy p;
        char want[256];

        alias_vms(&t, n);
        parse_ok(t.s, t.len, &p);
        cr_assert_eq(p.n_vms, n + 1);
        policy_done(&p);
        free(t.s);

        t = (Text){};
        alias_vms(&t, n + 1);
        size_t own = 9 + n + 1;
        /* the last VM's walk passes the limit inside the anchored block */
        snprintf(want, sizeof(want),
                 "f.yaml:2:11: vms.v%zu: aliases expand the document past %zu nodes (its own %zu and %u more)", n,
                 own + POLICY_ALIAS_NODES_MAX, own, POLICY_ALIAS_NODES_MAX);
        parse_fails(t.s, t.len, want);
        free(t.s);
}

/* The amplification that cost 16-19 s and 1.36 GB: 1,000 VMs alias one VM
 * whose io aliases one device 1,000 times (25 KB of text). */
Test(limits, alias_amplification_is_refused_fast) {
        Text t = {};
        PolicyError err = {};
        Policy p;
        double t0;

        text_add(&t, "host:\n  devices:\n");
        for (int i = 0; i < 1000; i++)
                text_add(&t, "    d%d: { wbps: 1GB }\n", i);
        text_add(&t, "vms:\n  t: &t\n    io:\n      d0: &d { wbps: { reserve: 1 } }\n");
        for (int i = 1; i < 1000; i++)
                text_add(&t, "      d%d: *d\n", i);
        for (int i = 0; i < 1000; i++)
                text_add(&t, "  v%d: *t\n", i);

        t0 = now_sec();
        policy_init(&p);
        cr_assert_eq(policy_parse_string(t.s, t.len, "f.yaml", &p, &err), -E2BIG);
        cr_assert(strstr(err.message, ": vms.v"), "%s", err.message);
        cr_assert(strstr(err.message, "aliases expand the document past"), "%s", err.message);
        cr_assert_lt(now_sec() - t0, 2.0, "took %.2f s", now_sec() - t0);
        policy_done(&p);
        free(t.s);
}

/* Anchors as meant: VMs sharing settings. */
Test(limits, shared_settings_by_alias_are_fine) {
        Policy p;
        parse_ok("vms:\n  web: &w { cpu: { share: 2, limit: 50% } }\n  web2: *w\n  web3: *w\n", SIZE_MAX, &p);
        cr_assert_eq(p.n_vms, 3);
        cr_assert_eq(policy_find_vm(&p, "web3")->cpu.share.value, 2);
        policy_done(&p);
}

/* ---- 100,000 entries -----------------------------------------------------------------------------------------------
 */

typedef enum Table { TABLE_DEVICES, TABLE_VM_IO, TABLE_INTERFACES, TABLE_VMS } Table;

static void table_policy(Text *t, Table which, size_t n) {
        switch (which) {
                case TABLE_DEVICES:
                        text_add(t, "host:\n  devices:\n");
                        for (size_t i = 0; i < n; i++)
                                text_add(t, "    d%zu: { wbps: 1GB }\n", i);
                        text_add(t, "vms:\n  a: { io: { d%zu: { wbps: { limit: 1MB } } } }\n", n - 1);
                        break;
                case TABLE_VM_IO:
                        text_add(t, "host:\n  devices:\n");
                        for (size_t i = 0; i < n; i++)
                                text_add(t, "    d%zu: { wbps: 1GB }\n", i);
                        text_add(t, "vms:\n  a:\n    io:\n");
                        for (size_t i = 0; i < n; i++)
                                text_add(t, "      d%zu: { wbps: { limit: 1MB } }\n", i);
                        break;
                case TABLE_INTERFACES:
                        text_add(t, "host:\n  interfaces:\n");
                        for (size_t i = 0; i < n; i++)
                                text_add(t, "    i%zu: { egress: 1Mbit }\n", i);
                        break;
                case TABLE_VMS:
                        text_add(t, "vms:\n");
                        for (size_t i = 0; i < n; i++)
                                text_add(t, "  v%zu: { cpu: { share: 1 } }\n", i);
                        break;
        }
}

/* Parse, validate, write and read back; the seconds it took. */
static double table_cost(Table which, size_t n) {
        Text t = {};
        PolicyError err = {};
        ResolvedPolicy r;
        Policy p, back;
        char *written;
        double t0;

        table_policy(&t, which, n);
        t0 = now_sec();
        parse_ok(t.s, t.len, &p);
        cr_assert_eq(policy_validate(&p, &facts, &r, &err), 0, "%s", err.message);
        cr_assert_eq(policy_write_string(&p, &written), 0);
        parse_ok(written, strlen(written), &back);
        cr_assert(policy_equal(&p, &back));
        t0 = now_sec() - t0;

        resolved_policy_done(&r);
        policy_done(&back);
        policy_done(&p);
        free(written);
        free(t.s);
        return t0;
}

/* Near-linear: ten times the entries cost well under the hundred times a
 * linear lookup per entry gave (30,000 devices took 7.5-9.9 s).  Under ASan
 * (make check-asan) a tenth of the sizes, which shows the same ratio in a
 * tenth of the time. */
#if defined(__SANITIZE_ADDRESS__)
#define TABLE_LARGE 20000
#else
#define TABLE_LARGE 100000
#endif

static void near_linear(Table which) {
        double small = table_cost(which, TABLE_LARGE / 10), large = table_cost(which, TABLE_LARGE);

        cr_log_info("%d entries: %.3f s, %d: %.3f s (x%.1f)", TABLE_LARGE / 10, small, TABLE_LARGE, large,
                    large / small);
        cr_assert_lt(large, 30 * small + 0.05, "%d entries: %.3f s, %d: %.3f s", TABLE_LARGE / 10, small, TABLE_LARGE,
                     large);
}

Test(limits, devices_100k, .timeout = 60) {
        near_linear(TABLE_DEVICES);
}
Test(limits, vm_io_100k, .timeout = 60) {
        near_linear(TABLE_VM_IO);
}
Test(limits, interfaces_100k, .timeout = 60) {
        near_linear(TABLE_INTERFACES);
}
Test(limits, vms_100k, .timeout = 60) {
        near_linear(TABLE_VMS);
}

/* Every VM resolves every device: the product is bounded. */
Test(limits, vm_device_pairs) {
        Text t = {};
        char want[160];

        text_add(&t, "host:\n  devices:\n");
        for (int i = 0; i < 1000; i++)
                text_add(&t, "    d%d: { wbps: 1GB }\n", i);
        text_add(&t, "vms:\n");
        for (int i = 0; i < 1000; i++)
                text_add(&t, "  v%d:\n", i);
        validate_ok(t.s); /* 1,000 x 1,000: at the limit */

        text_add(&t, "  v1000:\n");
        snprintf(want, sizeof(want), "host.devices: 1000 devices for 1001 VMs make more than %u VM-device pairs",
                 VALIDATE_VM_DEVICE_PAIRS_MAX);
        validate_fails(t.s, want);
        free(t.s);
}

/* ---- cgroups -------------------------------------------------------------------------------------------------------
 */

Test(limits, vm_names_dot_and_dotdot) {
        validate_fails("vms:\n  .:\n", "f.yaml:2:3: vms..: the VM's cgroup \".\" (its name) must not contain . or ..");
        validate_fails("vms:\n  ..: { cpu: { share: 1 } }\n",
                       "f.yaml:2:3: vms...: the VM's cgroup \"..\" (its name) must not contain . or ..");
        /* with a cgroup of its own, the name is only a name */
        validate_ok("vms:\n  ..: { cgroup: machine.slice/dotdot }\n");
        validate_ok("vms:\n  ...:\n  .a:\n");
}

Test(limits, cgroup_paths) {
        parse_fails("vms:\n  a: { cgroup: \"x\\ny\" }\n", SIZE_MAX,
                    "f.yaml:2:16: vms.a.cgroup: \"x\\ny\" contains a control character (byte 0x0a)");
        parse_fails("vms:\n  a: { cgroup: \"x\\ty\" }\n", SIZE_MAX,
                    "f.yaml:2:16: vms.a.cgroup: \"x\\ty\" contains a control character (byte 0x09)");
        parse_fails("vms:\n  a: { cgroup: cpu.max }\n", SIZE_MAX,
                    "f.yaml:2:16: vms.a.cgroup: \"cpu.max\" has a component \"cpu.max\" named like the kernel's "
                    "cpu.* files, not a cgroup");
        parse_fails("vms:\n  a: { cgroup: machine.slice/cgroup.procs }\n", SIZE_MAX,
                    "f.yaml:2:16: vms.a.cgroup: \"machine.slice/cgroup.procs\" has a component \"cgroup.procs\" "
                    "named like the kernel's cgroup.* files, not a cgroup");
        /* a VM named like a knob file */
        validate_fails("vms:\n  memory.high:\n",
                       "f.yaml:2:3: vms.memory.high: the VM's cgroup \"memory.high\" (its name) has a component "
                       "\"memory.high\" named like the kernel's memory.* files, not a cgroup");
        /* names that only start like one are fine */
        validate_ok("vms:\n  a: { cgroup: machine.slice/cpuhog.scope }\n  b: { cgroup: iowait }\n");
}

Test(limits, cgroup_component_length) {
        char text[1024], want[1024], name[300];

        memset(name, 'x', POLICY_CGROUP_COMPONENT_MAX);
        name[POLICY_CGROUP_COMPONENT_MAX] = '\0';
        snprintf(text, sizeof(text), "vms:\n  a: { cgroup: m.slice/%s }\n", name);
        validate_ok(text);

        strcat(name, "x");
        snprintf(text, sizeof(text), "vms:\n  a: { cgroup: m.slice/%s }\n", name);
        snprintf(want, sizeof(want),
                 "f.yaml:2:16: vms.a.cgroup: \"m.slice/%s\" has a component of %u bytes (at most %u)", name,
                 POLICY_CGROUP_COMPONENT_MAX + 1, POLICY_CGROUP_COMPONENT_MAX);
        parse_fails(text, strlen(text), want);
}

/* A model built in code meets the same checks in validation. */
Test(limits, cgroup_checked_by_validate) {
        PolicyError err = {};
        ResolvedPolicy r;
        Policy p;
        VmPolicy *vm;

        policy_init(&p);
        vm = policy_add_vm(&p, "a");
        vm->cgroup = strdup("m.slice/x\ny");
        vm->cgroup_loc = (SourceLoc){policy_intern_file(&p, "o.yaml"), 4, 11};
        cr_assert_eq(policy_validate(&p, &facts, &r, &err), -EINVAL);
        cr_assert_str_eq(err.message,
                         "o.yaml:4:11: vms.a.cgroup: \"m.slice/x\\ny\" contains a control character (byte 0x0a)");
        policy_done(&p);
}

/* ---- the writer ----------------------------------------------------------------------------------------------------
 */

/* The cgroup `escaped` (YAML double-quoted) reads as `bytes`, is written as `written`, and reads back the same. */
static void round_trip(const char *escaped, const char *bytes, const char *written) {
        char text[256], *out;
        Policy p, back;

        snprintf(text, sizeof(text), "vms:\n  a: { cgroup: \"%s\" }\n", escaped);
        parse_ok(text, strlen(text), &p);
        cr_assert_str_eq(policy_find_vm(&p, "a")->cgroup, bytes);
        cr_assert_eq(policy_write_string(&p, &out), 0);
        snprintf(text, sizeof(text), "vms:\n  a:\n    cgroup: %s\n", written);
        cr_assert_str_eq(out, text);
        parse_ok(out, strlen(out), &back);
        cr_assert_str_eq(policy_find_vm(&back, "a")->cgroup, bytes);
        cr_assert(policy_equal(&p, &back));
        policy_done(&back);
        policy_done(&p);
        free(out);
}

Test(limits, writer_escapes_what_the_reader_refuses) {
        round_trip("a\\x80b",
                   "a\xc2\x80"
                   "b",
                   "\"a\\x80b\"");
        round_trip("a\\uFFFEb",
                   "a\xef\xbf\xbe"
                   "b",
                   "\"a\\ufffeb\"");
        round_trip("a\\u0085b",
                   "a\xc2\x85"
                   "b",
                   "\"a\\x85b\"");
        round_trip("a\\u2028b",
                   "a\xe2\x80\xa8"
                   "b",
                   "\"a\\u2028b\"");
        round_trip("a\\uFEFFb",
                   "a\xef\xbb\xbf"
                   "b",
                   "\"a\\ufeffb\"");
        round_trip("a\\U0010FFFFb",
                   "a\xf4\x8f\xbf\xbf"
                   "b",
                   "\"a\xf4\x8f\xbf\xbf"
                   "b\"");
        round_trip("\\u00e9t\\u00e9", "\xc3\xa9t\xc3\xa9", "\"\xc3\xa9t\xc3\xa9\"");
        round_trip("a\\\\b\\\"c", "a\\b\"c", "\"a\\\\b\\\"c\"");
}

Test(limits, writer_refuses_bytes_that_are_not_utf8) {
        Policy p;
        char *out = NULL;

        policy_init(&p);
        policy_add_vm(&p, "a")->cgroup = strdup("a\x80"
                                                "b");
        cr_assert_eq(policy_write_string(&p, &out), -EILSEQ);
        cr_assert_null(out);
        free(policy_find_vm(&p, "a")->cgroup);
        policy_find_vm(&p, "a")->cgroup = strdup("a\xed\xa0\x80"
                                                 "b"); /* a surrogate */
        cr_assert_eq(policy_write_string(&p, &out), -EILSEQ);
        policy_done(&p);
}

/* ---- tables --------------------------------------------------------------------------------------------------------
 */

/* Removing entries keeps the index right (io entries come and go with schedctl reset). */
Test(limits, io_index_after_removals) {
        Policy p;
        VmPolicy *vm;
        char name[16];

        policy_init(&p);
        vm = policy_add_vm(&p, "a");
        for (int i = 0; i < 1000; i++) {
                snprintf(name, sizeof(name), "d%d", i);
                cr_assert_not_null(vm_add_io(vm, name));
        }
        for (int i = 0; i < 1000; i += 2) {
                snprintf(name, sizeof(name), "d%d", i);
                cr_assert_eq(vm_remove_io(vm, name), 0);
        }
        cr_assert_eq(vm->n_io, 500);
        cr_assert_eq(vm_remove_io(vm, "d0"), -ENOENT);
        for (int i = 0; i < 1000; i++) {
                snprintf(name, sizeof(name), "d%d", i);
                VmIoDevice *d = vm_find_io(vm, name);
                if (i % 2)
                        cr_assert(d && strcmp(d->name, name) == 0, "%s", name);
                else
                        cr_assert_null(d, "%s", name);
        }
        policy_done(&p);
}

/* Text given as a string (the bus's ValidatePolicy) has the file's limit too. */
Test(limits, text_size) {
        size_t len = POLICY_FILE_MAX_BYTES + 1;
        char *s = malloc(len + 1), want[64];
        Policy p;

        cr_assert_not_null(s);
        memcpy(s, "vms: {}\n#", 9);
        memset(s + 9, 'x', len - 9);
        s[len] = '\0';
        snprintf(want, sizeof(want), "f.yaml: larger than %u MiB", POLICY_FILE_MAX_BYTES / (1024U * 1024U));
        parse_fails(s, len, want);

        /* at the limit it parses (a long comment) */
        s[len - 1] = '\n';
        parse_ok(s, len - 1, &p);
        policy_done(&p);
        free(s);
}

/* ---- names chosen to collide -------------------------------------------------------------------------------------
 */

#define COLLIDE_N   4000
#define COLLIDE_CAP 8192 /* the index's size for COLLIDE_N names: the power of two at least twice as many */

static double add_vms(char names[][16], size_t n) {
        double t0 = now_sec();

        for (int rep = 0; rep < 5; rep++) {
                Policy p;

                policy_init(&p);
                for (size_t i = 0; i < n; i++)
                        cr_assert_not_null(policy_add_vm(&p, names[i]));
                for (size_t i = 0; i < n; i++)
                        cr_assert_not_null(policy_find_vm(&p, names[i]), "%s", names[i]);
                cr_assert_eq(policy_remove_vm(&p, names[n / 2]), 0);
                cr_assert_null(policy_find_vm(&p, names[n / 2]));
                cr_assert_not_null(policy_find_vm(&p, names[n - 1]));
                policy_done(&p);
        }
        return now_sec() - t0;
}

/* Names that all hash to one slot under the first seed (as a bus caller could
 * choose them) cost about what random names do: the index reseeds. */
Test(limits, colliding_names, .timeout = 60) {
        static char colliding[COLLIDE_N][16], plain[COLLIDE_N][16];
        size_t n = 0;

        for (unsigned i = 0; n < COLLIDE_N; i++) {
                char name[16];

                snprintf(name, sizeof(name), "c%u", i);
                if ((policy_name_hash(name, 0) & (COLLIDE_CAP - 1)) == 0)
                        memcpy(colliding[n++], name, sizeof(name));
        }
        for (size_t i = 0; i < COLLIDE_N; i++)
                snprintf(plain[i], sizeof(plain[i]), "p%zu", i);

        double t_plain = add_vms(plain, COLLIDE_N), t_colliding = add_vms(colliding, COLLIDE_N);
        cr_log_info("%d names: %.4f s, colliding: %.4f s", COLLIDE_N, t_plain, t_colliding);
        cr_assert_lt(t_colliding, 5 * t_plain + 0.005, "plain %.4f s, colliding %.4f s", t_plain, t_colliding);
}

/* ---- entries -------------------------------------------------------------------------------------------------------
 */

static void entries(Text *t, Table which, size_t n) {
        if (which == TABLE_VMS) {
                text_add(t, "vms:\n");
                for (size_t i = 0; i < n; i++)
                        text_add(t, "  v%zu:\n", i);
        } else {
                text_add(t, "host:\n  %s:\n", which == TABLE_DEVICES ? "devices" : "interfaces");
                for (size_t i = 0; i < n; i++)
                        text_add(t, "    d%zu:\n", i);
        }
}

static void entries_at_the_limit(Table which, const char *what) {
        Text t = {};
        Policy p;
        char want[128];

        entries(&t, which, POLICY_ENTRIES_MAX);
        parse_ok(t.s, t.len, &p);
        policy_done(&p);
        free(t.s);

        t = (Text){};
        entries(&t, which, POLICY_ENTRIES_MAX + 1);
        /* the entry one past the limit, by its key */
        snprintf(want, sizeof(want), "f.yaml:%u:%u: %s.%c%u: more than %u %s",
                 POLICY_ENTRIES_MAX + (which == TABLE_VMS ? 2 : 3), which == TABLE_VMS ? 3 : 5,
                 which == TABLE_VMS       ? "vms"
                 : which == TABLE_DEVICES ? "host.devices"
                                          : "host.interfaces",
                 which == TABLE_VMS ? 'v' : 'd', POLICY_ENTRIES_MAX, POLICY_ENTRIES_MAX, what);
        parse_fails(t.s, t.len, want);
        free(t.s);
}

Test(limits, vms_at_the_limit, .timeout = 60) {
        entries_at_the_limit(TABLE_VMS, "VMs");
}
Test(limits, devices_at_the_limit, .timeout = 60) {
        entries_at_the_limit(TABLE_DEVICES, "devices");
}
Test(limits, interfaces_at_the_limit, .timeout = 60) {
        entries_at_the_limit(TABLE_INTERFACES, "interfaces");
}

/* ---- keys of schedctl set and SetPolicy
 * ------------------------------------------------------------------------------ */

/* A key of many empty parts overran the parts array (found by fuzz-keys). */
Test(limits, key_of_many_dots) {
        char key[POLICY_KEY_INPUT_MAX];
        PolicyError err = {};
        PolicyKey k;

        memset(key, '.', sizeof(key) - 1);
        key[0] = 'i';
        key[1] = 'o';
        key[sizeof(key) - 2] = 't';
        key[sizeof(key) - 1] = '\0';
        cr_assert_eq(policy_key_parse("web", key, &k, &err), -EINVAL);
        cr_assert_str_eq(err.message + strlen(err.message) - strlen("empty part in key"), "empty part in key");

        /* the most parts a key can have, none empty: io.a.a.....a.wbps.limit */
        size_t n = 0;
        n += (size_t)snprintf(key, sizeof(key), "io");
        while (n + 2 + strlen(".wbps.limit") < sizeof(key) - 1)
                n += (size_t)snprintf(key + n, sizeof(key) - n, ".a");
        snprintf(key + n, sizeof(key) - n, ".wbps.limit");
        cr_assert_eq(policy_key_parse("web", key, &k, &err), -EINVAL);
        cr_assert(strstr(err.message, "invalid device name"), "%s", err.message);
}
