/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/keys.h"
#include "policy/parse.h"
#include "policy/validate.h"
#include "policy/write.h"

static const char base_text[] = "host:\n"
                                "  cpus: 2\n"
                                "  devices:\n"
                                "    vda: { rbps: 500MB, wbps: 300MB, riops: 20000, wiops: 10000 }\n"
                                "  interfaces:\n"
                                "    eth0: { egress: 1Gbit }\n"
                                "vms:\n"
                                "  web:\n"
                                "    cpu: { reserve: 10%, limit: 50% }\n"
                                "  db:\n"
                                "    cpu: { share: 2 }\n";

static void parse_ok(const char *text, Policy *p) {
        PolicyError err;

        policy_init(p);
        cr_assert_eq(policy_parse_string(text, strlen(text), "base.yaml", p, &err), 0, "%s", err.message);
}

/* The parser's own message for `vms: {web: {PATH}}` written in a file, without "f.yaml:L:C: ". */
static void parser_message(const char *yaml_fragment, char *buf, size_t size) {
        char text[512];
        PolicyError err;
        Policy p;
        const char *m;

        snprintf(text, sizeof(text), "vms: {web: %s}\n", yaml_fragment);
        policy_init(&p);
        cr_assert_lt(policy_parse_string(text, strlen(text), "f.yaml", &p, &err), 0, "%s parsed", text);
        policy_done(&p);
        m = strstr(err.message, "vms.");
        cr_assert_not_null(m, "%s", err.message);
        snprintf(buf, size, "%s", m);
}

/* ---- parsing keys ---------------------------------------------------------------------------------------------- */

Test(keys, parse_canonical) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                {"reserve", "cpu.reserve"},
                {"share", "cpu.share"},
                {"limit", "cpu.limit"},
                {"burst", "cpu.burst"},
                {"cpu.limit", "cpu.limit"},
                {"io.vda.wbps.limit", "io.vda.wbps.limit"},
                {"io.vda.riops.burst", "io.vda.riops.burst"},
                {"io.vda.share", "io.vda.share"},
                {"io.dm.0.wbps.reserve", "io.dm.0.wbps.reserve"}, /* a device name with a dot */
                {"io.8:0.rbps.share", "io.8:0.rbps.share"},
                {"net.egress.reserve", "net.egress.reserve"},
                {"net.interface", "net.interface"},
                {"memory.reserve", "memory.reserve"},
                {"memory.limit", "memory.limit"},
                {"cgroup", "cgroup"},
                {"create", "create"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char buf[POLICY_KEY_MAX];
                PolicyError err;
                PolicyKey k;

                cr_assert_eq(policy_key_parse("web", cases[i].in, &k, &err), 0, "%s: %s", cases[i].in, err.message);
                cr_assert_str_eq(policy_key_format(&k, buf, sizeof(buf)), cases[i].out);
        }
}

Test(keys, parse_device_of_io_key) {
        PolicyError err;
        PolicyKey k;

        cr_assert_eq(policy_key_parse("web", "io.dm.0.wbps.reserve", &k, &err), 0);
        cr_assert_eq(k.kind, POLICY_KEY_IO);
        cr_assert_str_eq(k.device, "dm.0");
        cr_assert_eq(k.dir, IO_WBPS);
        cr_assert_eq(k.field, POLICY_FIELD_RESERVE);
}

Test(keys, parse_errors) {
        static const struct {
                const char *key, *message;
        } cases[] = {
                {"", "vms.web: empty key (expected a key like cpu.limit)"},
                {"cpu..limit", "vms.web.cpu..limit: empty part in key"},
                {"cpu.", "vms.web.cpu.: empty part in key"},
                {"reserv",
                 "vms.web.reserv: unknown key (expected cgroup, create, cpu, io, net or memory; reserve, share, limit "
                 "and burst stand for the CPU's)"},
                {"cpu", "vms.web.cpu: not a single setting (expected cpu.FIELD)"},
                {"cpu.reserv", "vms.web.cpu.reserv: unknown key (expected cpu.reserve, share, limit or burst)"},
                {"cpu.limit.x", "vms.web.cpu.limit.x: unknown key (expected cpu.reserve, share, limit or burst)"},
                {"memory.share", "vms.web.memory.share: unknown key (expected memory.reserve or memory.limit)"},
                {"net.ingress", "vms.web.net.ingress: unknown key (expected net.interface or net.egress)"},
                {"net.egress", "vms.web.net.egress: not a single setting (expected net.egress.FIELD)"},
                {"io.vda", "vms.web.io.vda: not a single setting (expected io.DEVICE.DIRECTION.FIELD or "
                           "io.DEVICE.share, DIRECTION one of rbps, wbps, riops, wiops and FIELD one of reserve, "
                           "share, limit or burst)"},
                {"io.vda.wbps.limt",
                 "vms.web.io.vda.wbps.limt: unknown key (expected reserve, share, limit or burst)"},
                {"io.vda.write", "vms.web.io.vda.write: unknown key (expected rbps, wbps, riops, wiops or share)"},
                {"io.v/a.wbps.limit",
                 "vms.web.io.v/a.wbps.limit: invalid device name \"v/a\" (expected 1 to 64 of A-Z a-z 0-9 _ . : -)"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                PolicyError err;
                PolicyKey k;

                cr_assert_eq(policy_key_parse("web", cases[i].key, &k, &err), -EINVAL, "%s", cases[i].key);
                cr_assert_str_eq(err.message, cases[i].message);
        }
}

Test(keys, parse_too_long) {
        char key[400];
        PolicyError err;
        PolicyKey k;

        memset(key, 'a', sizeof(key) - 1);
        key[sizeof(key) - 1] = '\0';
        cr_assert_eq(policy_key_parse("web", key, &k, &err), -EINVAL);
        cr_assert_str_eq(err.message, "vms.web: key longer than 255 characters");

        /* A device name at the parser's maximum (64) is fine, one more is not. */
        snprintf(key, sizeof(key), "io.%064d.wbps.limit", 0);
        cr_assert_eq(policy_key_parse("web", key, &k, &err), 0, "%s", err.message);
        snprintf(key, sizeof(key), "io.%065d.wbps.limit", 0);
        cr_assert_eq(policy_key_parse("web", key, &k, &err), -EINVAL);
}

/* ---- setting ------------------------------------------------------------------------------------------------- */

Test(keys, set_each_kind) {
        static const struct {
                const char *key, *value, *written;
        } cases[] = {
                {"reserve", "10%", "10%"},
                {"cpu.limit", "0.5", "500m"},
                {"cpu.burst", "200ms", "200ms"},
                {"cpu.share", "0", "0"},
                {"cpu.share", "10000", "10000"},
                {"io.vda.wbps.limit", "100MB", "100MB"},
                {"io.vda.riops.reserve", "20000", "20k"},
                {"io.vda.share", "3", "3"},
                {"net.egress.reserve", "100Mbit", "100Mbit"},
                {"net.egress.burst", "1MB", "1MB"},
                {"net.interface", "tap-web", "tap-web"},
                {"memory.reserve", "1G", "1GiB"},
                {"memory.limit", "0", "0B"},
                {"cgroup", "machine.slice/web.scope", "machine.slice/web.scope"},
                {"create", "true", "true"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char buf[64];
                PolicyError err;
                PolicyKey k;
                Policy p;

                policy_init(&p);
                cr_assert_eq(policy_set_key(&p, "web", cases[i].key, cases[i].value, "o.yaml", &err), 0, "%s=%s: %s",
                             cases[i].key, cases[i].value, err.message);
                cr_assert_eq(policy_key_parse("web", cases[i].key, &k, &err), 0);
                cr_assert_eq(policy_get_key(&p, "web", &k, buf, sizeof(buf)), 0);
                cr_assert_str_eq(buf, cases[i].written, "%s", cases[i].key);
                policy_done(&p);
        }
}

/* A bad value gets the parser's own message, for the same key, without the
 * generated document's location. */
Test(keys, set_bad_values_as_the_parser_says) {
        static const struct {
                const char *key, *value, *fragment;
        } cases[] = {
                {"cpu.limit", "150%", "{cpu: {limit: 150%}}"},
                {"reserve", "ten", "{cpu: {reserve: ten}}"},
                {"cpu.burst", "200", "{cpu: {burst: 200}}"},
                {"cpu.share", "10001", "{cpu: {share: 10001}}"},
                {"cpu.share", "-1", "{cpu: {share: -1}}"},
                {"cpu.burst", "99999999999999999999s", "{cpu: {burst: 99999999999999999999s}}"},
                {"cpu.limit", "-1", "{cpu: {limit: -1}}"},
                {"io.vda.wbps.burst", "5%", "{io: {vda: {wbps: {burst: 5%}}}}"},
                {"net.egress.limit", "100MB", "{net: {egress: {limit: 100MB}}}"},
                {"memory.limit", "2 GiB", "{memory: {limit: 2 GiB}}"},
                {"create", "maybe", "{create: maybe}"},
                {"cgroup", "/abs", "{cgroup: /abs}"},
                {"cgroup", "a/../b", "{cgroup: a/../b}"},
                {"net.interface", "tap web", "{net: {interface: tap web}}"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char expected[1024];
                PolicyError err;
                Policy p;

                parser_message(cases[i].fragment, expected, sizeof(expected));
                parse_ok(base_text, &p);
                cr_assert_lt(policy_set_key(&p, "web", cases[i].key, cases[i].value, "o.yaml", &err), 0, "%s=%s",
                             cases[i].key, cases[i].value);
                cr_assert_str_eq(err.message, expected);
                policy_done(&p);
        }
}

Test(keys, set_empty_value_and_quotes) {
        PolicyError err;
        Policy p;

        policy_init(&p);
        cr_assert_lt(policy_set_key(&p, "web", "cpu.limit", "", NULL, &err), 0);
        cr_assert_str_eq(err.message,
                         "vms.web.cpu.limit: \"\" is not a number (expected a percentage or CPUs, like 10% or 0.5)");
        /* Quotes, backslashes and control characters reach the parser as the value. */
        cr_assert_lt(policy_set_key(&p, "web", "cpu.limit", "5\"0\\%\n", NULL, &err), 0);
        cr_assert(strstr(err.message, "vms.web.cpu.limit: \"5\"0\\%\n\" is not a number"), "%s", err.message);
        cr_assert_eq(p.n_vms, 0);
        policy_done(&p);
}

Test(keys, set_bad_vm_name) {
        PolicyError err;
        Policy p;

        policy_init(&p);
        cr_assert_lt(policy_set_key(&p, "we b", "cpu.limit", "50%", NULL, &err), 0);
        cr_assert_str_eq(err.message, "vms.we b: invalid VM name (expected 1 to 64 of A-Z a-z 0-9 _ . -)");
        policy_done(&p);
}

Test(keys, set_leaves_policy_unchanged_on_error) {
        char before[4096], *text;
        PolicyError err;
        Policy p;

        parse_ok(base_text, &p);
        cr_assert_eq(policy_write_string(&p, &text), 0);
        snprintf(before, sizeof(before), "%s", text);
        free(text);

        cr_assert_lt(policy_set_key(&p, "web", "cpu.limit", "abc", NULL, &err), 0);
        cr_assert_lt(policy_set_key(&p, "new", "io.vda.wbps.limt", "1MB", NULL, &err), 0);
        cr_assert_eq(policy_write_string(&p, &text), 0);
        cr_assert_str_eq(text, before);
        free(text);
        policy_done(&p);
}

/* Overlay semantics: the set value replaces the base's; validation errors
 * name the file the value was set for. */
Test(keys, set_then_validate_names_the_file) {
        HostFacts facts = {.cpus_ucpu = 2000000, .memory_bytes = 8ULL << 30};
        ResolvedPolicy rp;
        PolicyError err;
        Policy base, overlay;

        parse_ok(base_text, &base);
        policy_init(&overlay);
        cr_assert_eq(policy_set_key(&overlay, "web", "limit", "5%", "/etc/schedd/policy.d/50-schedctl.yaml", &err), 0);
        cr_assert_eq(policy_merge(&base, &overlay), 0);
        cr_assert_lt(policy_validate(&base, &facts, &rp, &err), 0);
        cr_assert_str_eq(err.message,
                         "/etc/schedd/policy.d/50-schedctl.yaml: vms.web.cpu.limit: 5% is below the reservation 10%");

        /* A new limit and reservation make it valid; the resolved numbers follow. */
        cr_assert_eq(policy_set_key(&overlay, "web", "reserve", "60%", "o.yaml", &err), 0, "%s", err.message);
        cr_assert_eq(policy_set_key(&overlay, "web", "limit", "1.5", "o.yaml", &err), 0, "%s", err.message);
        policy_done(&base);
        parse_ok(base_text, &base);
        cr_assert_eq(policy_merge(&base, &overlay), 0);
        cr_assert_eq(policy_validate(&base, &facts, &rp, &err), 0, "%s", err.message);
        cr_assert_eq(rp.vms[0].cpu.reserve, 1200000);
        cr_assert_eq(rp.vms[0].cpu.limit, 1500000);
        resolved_policy_done(&rp);
        policy_done(&base);
        policy_done(&overlay);
}

/* An overlay built by set keys round-trips through the writer and the parser. */
Test(keys, overlay_round_trip) {
        static const char *const sets[][2] = {
                {"cpu.limit", "50%"},     {"io.vda.wbps.limit", "100MB"}, {"net.egress.reserve", "100Mbit"},
                {"memory.reserve", "1G"}, {"io.vda.share", "2"},          {"create", "false"},
        };
        PolicyError err;
        Policy overlay, back;
        char *text;

        policy_init(&overlay);
        for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
                cr_assert_eq(policy_set_key(&overlay, "web", sets[i][0], sets[i][1], "o.yaml", &err), 0, "%s",
                             err.message);
        cr_assert_eq(policy_write_string(&overlay, &text), 0);
        policy_init(&back);
        cr_assert_eq(policy_parse_string(text, strlen(text), "o.yaml", &back, &err), 0, "%s\n%s", err.message, text);
        cr_assert(policy_equal(&overlay, &back), "%s", text);
        free(text);
        policy_done(&back);
        policy_done(&overlay);
}

/* ---- unsetting, reading ------------------------------------------------------------------------------------- */

Test(keys, unset_prunes_devices) {
        PolicyError err;
        PolicyKey k;
        Policy p;

        policy_init(&p);
        cr_assert_eq(policy_set_key(&p, "web", "io.vda.wbps.limit", "100MB", NULL, &err), 0);
        cr_assert_eq(policy_set_key(&p, "web", "io.vda.share", "2", NULL, &err), 0);
        cr_assert_eq(p.vms[0].n_io, 1);

        cr_assert_eq(policy_key_parse("web", "io.vda.wbps.limit", &k, &err), 0);
        cr_assert_eq(policy_unset_key(&p, "web", &k), 1);
        cr_assert_eq(policy_unset_key(&p, "web", &k), 0, "unset twice");
        cr_assert_eq(p.vms[0].n_io, 1, "the share keeps the device");
        cr_assert_eq(policy_key_parse("web", "io.vda.share", &k, &err), 0);
        cr_assert_eq(policy_unset_key(&p, "web", &k), 1);
        cr_assert_eq(p.vms[0].n_io, 0);
        cr_assert(policy_vm_is_empty(&p.vms[0]));
        cr_assert_eq(policy_unset_key(&p, "nosuch", &k), 0);
        policy_done(&p);
}

Test(keys, unset_strings_and_booleans) {
        static const char *const keys[] = {"cgroup", "create", "net.interface", "memory.limit", "net.egress.burst"};
        static const char *const values[] = {"a/b", "true", "tap0", "1G", "1MB"};
        PolicyError err;
        Policy p;

        policy_init(&p);
        for (size_t i = 0; i < 5; i++)
                cr_assert_eq(policy_set_key(&p, "web", keys[i], values[i], NULL, &err), 0, "%s", err.message);
        cr_assert_not(policy_vm_is_empty(&p.vms[0]));
        for (size_t i = 0; i < 5; i++) {
                PolicyKey k;
                char buf[32];

                cr_assert_eq(policy_key_parse("web", keys[i], &k, &err), 0);
                cr_assert_eq(policy_get_key(&p, "web", &k, buf, sizeof(buf)), 0);
                cr_assert_str_eq(buf, values[i][0] == '1' && values[i][1] == 'G' ? "1GiB" : values[i]);
                cr_assert_eq(policy_unset_key(&p, "web", &k), 1, "%s", keys[i]);
                cr_assert_eq(policy_get_key(&p, "web", &k, buf, sizeof(buf)), -ENOENT);
        }
        cr_assert(policy_vm_is_empty(&p.vms[0]));
        policy_done(&p);
}

Test(keys, get_small_buffer_and_missing_vm) {
        PolicyError err;
        PolicyKey k;
        Policy p;
        char buf[3];

        parse_ok(base_text, &p);
        cr_assert_eq(policy_key_parse("web", "cpu.reserve", &k, &err), 0);
        cr_assert_eq(policy_get_key(&p, "web", &k, buf, sizeof(buf)), -ENOBUFS);
        cr_assert_eq(policy_get_key(&p, "nosuch", &k, buf, sizeof(buf)), -ENOENT);
        cr_assert_eq(policy_key_parse("db", "cpu.reserve", &k, &err), 0);
        cr_assert_eq(policy_get_key(&p, "db", &k, buf, sizeof(buf)), -ENOENT);
        policy_done(&p);
}

typedef struct Collected {
        char text[1024];
        unsigned calls, stop_after;
} Collected;

static int collect(const char *key, const char *value, void *userdata) {
        Collected *c = userdata;
        size_t n = strlen(c->text);

        snprintf(c->text + n, sizeof(c->text) - n, "%s=%s;", key, value);
        if (++c->calls == c->stop_after)
                return -ECANCELED;
        return 0;
}

Test(keys, foreach_in_order) {
        static const char text[] =
                "vms:\n"
                "  web:\n"
                "    memory: { limit: 2G }\n"
                "    net: { egress: { limit: 500Mbit }, interface: tap0 }\n"
                "    io: { vda: { riops: { limit: 500 }, share: 1 }, vdb: { wbps: { burst: 10MB } } }\n"
                "    cpu: { burst: 200ms, reserve: 10% }\n"
                "    create: true\n"
                "    cgroup: m/web\n";
        Collected c = {};
        Policy p;

        parse_ok(text, &p);
        cr_assert_eq(policy_vm_foreach_key(&p.vms[0], collect, &c), 0);
        cr_assert_str_eq(c.text, "cgroup=m/web;create=true;cpu.reserve=10%;cpu.burst=200ms;io.vda.share=1;"
                                 "io.vda.riops.limit=500;io.vdb.wbps.burst=10MB;net.interface=tap0;"
                                 "net.egress.limit=500Mbit;memory.limit=2GiB;");

        /* A visitor's error stops the walk. */
        c = (Collected){.stop_after = 2};
        cr_assert_eq(policy_vm_foreach_key(&p.vms[0], collect, &c), -ECANCELED);
        cr_assert_eq(c.calls, 2);
        policy_done(&p);
}
