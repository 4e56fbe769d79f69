/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/parse.h"
#include "policy/units.h"
#include "policy/validate.h"
#include "policy/write.h"

/* Room for the scratch paths ("/tmp/test-load-XXXXXX/d/a-lower.yaml") and the fixtures' paths. */
#define SHORT_PATH_MAX   128
#define FIXTURE_PATH_MAX 512
/* Room for an error message and a path or two. */
#define WANT_MAX 1024

/* A scratch directory per test: base.yaml beside an override directory d/. */
static char tmp_dir[] = "/tmp/test-load-XXXXXX";
static char base_path[SHORT_PATH_MAX], override_dir[SHORT_PATH_MAX];

static void write_text(const char *dir, const char *name, const char *text) {
        char path[PATH_MAX];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        f = fopen(path, "we");
        cr_assert_not_null(f, "%s: %s", path, strerror(errno));
        cr_assert_eq(fputs(text, f) >= 0, true);
        cr_assert_eq(fclose(f), 0);
}

static void setup(void) {
        cr_assert_not_null(mkdtemp(tmp_dir), "mkdtemp: %s", strerror(errno));
        snprintf(base_path, sizeof(base_path), "%s/base.yaml", tmp_dir);
        snprintf(override_dir, sizeof(override_dir), "%s/d", tmp_dir);
        cr_assert_eq(mkdir(override_dir, 0755), 0);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void)st;
        (void)flag;
        (void)ftw;
        return remove(path);
}

static void teardown(void) {
        nftw(tmp_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static const char base_text[] = "host:\n"
                                "  cpus: 2\n"
                                "vms:\n"
                                "  web:\n"
                                "    cpu: { reserve: 10%, share: 1 }\n";

static void load_ok(const char *dir, Policy *p) {
        PolicyError err = {};
        int r = policy_load(base_path, dir, p, &err);

        cr_assert_eq(r, 0, "load failed (%d): %s", r, err.message);
}

TestSuite(load, .init = setup, .fini = teardown);

Test(load, base_only) {
        Policy p;

        write_text(tmp_dir, "base.yaml", base_text);
        policy_init(&p);
        load_ok(NULL, &p);
        cr_assert_eq(p.n_vms, 1);
        cr_assert_eq(p.vms[0].cpu.share.value, 1);
        cr_assert_str_eq(p.vms[0].cpu.share.loc.file, base_path);
        policy_done(&p);
}

Test(load, missing_override_dir_is_fine) {
        char missing[2 * SHORT_PATH_MAX];
        Policy p, q;

        write_text(tmp_dir, "base.yaml", base_text);
        snprintf(missing, sizeof(missing), "%s/no-such-dir", tmp_dir);
        policy_init(&p);
        policy_init(&q);
        load_ok(missing, &p);
        load_ok(NULL, &q);
        cr_assert(policy_equal(&p, &q));
        policy_done(&p);
        policy_done(&q);
}

Test(load, empty_override_dir_and_empty_override) {
        Policy p, q;

        write_text(tmp_dir, "base.yaml", base_text);
        policy_init(&p);
        policy_init(&q);
        load_ok(override_dir, &p);
        write_text(override_dir, "empty.yaml", "");
        write_text(override_dir, "comment.yaml", "# nothing to change\n");
        load_ok(override_dir, &q);
        cr_assert(policy_equal(&p, &q));
        policy_done(&p);
        policy_done(&q);
}

Test(load, overrides_in_lexical_order) {
        char want_file[2 * SHORT_PATH_MAX];
        const VmPolicy *web, *db;
        Policy p;

        write_text(tmp_dir, "base.yaml", base_text);
        /* Lexical, not numeric: "10-" sorts before "9-", so 9-last.yaml has the last word. */
        write_text(override_dir, "9-last.yaml", "vms:\n  web:\n    cpu: { share: 9 }\n");
        write_text(override_dir, "10-first.yaml", "vms:\n  web:\n    cpu: { share: 5, limit: 50% }\n");
        write_text(override_dir, "50-db.yaml", "vms:\n  db:\n    memory: { limit: 1G }\n");
        write_text(override_dir, "A-upper.yaml", "vms:\n  web:\n    cpu: { limit: 60% }\n");
        write_text(override_dir, "a-lower.yaml", "vms:\n  web:\n    cpu: { limit: 70% }\n");
        /* Not overrides: wrong suffix, hidden, or not ending in .yaml at all. */
        write_text(override_dir, "old.yml", "this: [is not read\n");
        write_text(override_dir, ".hidden.yaml", "this: [is not read\n");
        write_text(override_dir, "notes.yaml.bak", "this: [is not read\n");
        write_text(override_dir, "README", "this: [is not read\n");

        policy_init(&p);
        load_ok(override_dir, &p);

        cr_assert_eq(p.n_vms, 2);
        web = policy_find_vm(&p, "web");
        db = policy_find_vm(&p, "db");
        cr_assert_not_null(web);
        cr_assert_not_null(db);

        /* From the base, untouched by the overrides. */
        cr_assert_eq(web->cpu.reserve.kind, AMOUNT_PERCENT);
        cr_assert_eq(web->cpu.reserve.value, 10 * UNIT_PPM_PER_PERCENT);
        cr_assert_str_eq(web->cpu.reserve.loc.file, base_path);
        cr_assert_eq(p.host.cpus.value, 2 * UNIT_UCPU_PER_CPU);

        /* 10-first < 50-db < 9-last < A-upper < a-lower. */
        snprintf(want_file, sizeof(want_file), "%s/9-last.yaml", override_dir);
        cr_assert_eq(web->cpu.share.value, 9);
        cr_assert_str_eq(web->cpu.share.loc.file, want_file);
        cr_assert_eq(web->cpu.share.loc.line, 3);
        cr_assert_eq(web->cpu.share.loc.column, 19);

        snprintf(want_file, sizeof(want_file), "%s/a-lower.yaml", override_dir);
        cr_assert_eq(web->cpu.limit.value, 70 * UNIT_PPM_PER_PERCENT);
        cr_assert_str_eq(web->cpu.limit.loc.file, want_file);

        snprintf(want_file, sizeof(want_file), "%s/50-db.yaml", override_dir);
        cr_assert_eq(db->mem_limit.value, 1ULL << 30);
        cr_assert_str_eq(db->loc.file, want_file);

        policy_done(&p);
}

Test(load, merges_into_what_is_there) {
        static const char earlier[] = "vms:\n  old: { cpu: { share: 3 } }\n  web: { cpu: { burst: 1s } }\n";
        PolicyError err;
        Policy p;

        write_text(tmp_dir, "base.yaml", base_text);
        write_text(override_dir, "web.yaml", "vms:\n  web:\n    cpu: { share: 2 }\n");

        policy_init(&p);
        cr_assert_eq(policy_parse_string(earlier, strlen(earlier), "earlier.yaml", &p, &err), 0, "%s", err.message);
        load_ok(override_dir, &p);

        cr_assert_eq(p.n_vms, 2);
        cr_assert_eq(policy_find_vm(&p, "old")->cpu.share.value, 3);
        cr_assert_eq(policy_find_vm(&p, "web")->cpu.burst.value, 1000000);
        cr_assert_eq(policy_find_vm(&p, "web")->cpu.share.value, 2);
        policy_done(&p);
}

Test(load, error_in_override_names_its_file) {
        static const char earlier[] = "vms:\n  old: {}\n";
        char want[WANT_MAX];
        PolicyError err;
        Policy p, before;

        write_text(tmp_dir, "base.yaml", base_text);
        write_text(override_dir, "10-good.yaml", "vms:\n  web:\n    cpu: { share: 2 }\n");
        write_text(override_dir, "20-bad.yaml", "vms:\n  web:\n    cpu: { reserv: 20% }\n");
        write_text(override_dir, "30-never.yaml", "vms:\n  never: {}\n");

        policy_init(&p);
        policy_init(&before);
        cr_assert_eq(policy_parse_string(earlier, strlen(earlier), "earlier.yaml", &p, &err), 0);
        cr_assert_eq(policy_parse_string(earlier, strlen(earlier), "earlier.yaml", &before, &err), 0);

        cr_assert_eq(policy_load(base_path, override_dir, &p, &err), -EINVAL);
        snprintf(want, sizeof(want),
                 "%s/20-bad.yaml:3:12: vms.web.cpu.reserv: unknown key (expected reserve, share, limit or burst)",
                 override_dir);
        cr_assert_str_eq(err.message, want);

        /* Nothing of the base or the good override got in. */
        cr_assert(policy_equal(&p, &before));
        policy_done(&p);
        policy_done(&before);
}

Test(load, error_in_base_names_it) {
        char want[WANT_MAX];
        PolicyError err;
        Policy p;

        write_text(tmp_dir, "base.yaml", "vms:\n  web:\n    cpu: { share: 20000 }\n");
        policy_init(&p);
        cr_assert_eq(policy_load(base_path, override_dir, &p, &err), -ERANGE);
        snprintf(want, sizeof(want), "%s:3:19: vms.web.cpu.share: 20000 is out of range (0 to 10000)", base_path);
        cr_assert_str_eq(err.message, want);
        cr_assert_eq(p.n_vms, 0);
        policy_done(&p);
}

Test(load, missing_base) {
        char want[WANT_MAX];
        PolicyError err;
        Policy p;

        policy_init(&p);
        cr_assert_eq(policy_load(base_path, override_dir, &p, &err), -ENOENT);
        snprintf(want, sizeof(want), "%s: cannot read: No such file or directory", base_path);
        cr_assert_str_eq(err.message, want);
        policy_done(&p);
}

Test(load, override_dir_not_a_directory) {
        char want[WANT_MAX];
        PolicyError err;
        Policy p;

        write_text(tmp_dir, "base.yaml", base_text);
        policy_init(&p);
        cr_assert_eq(policy_load(base_path, base_path, &p, &err), -ENOTDIR);
        snprintf(want, sizeof(want), "%s: cannot read directory: Not a directory", base_path);
        cr_assert_str_eq(err.message, want);
        cr_assert_eq(p.n_vms, 0);
        policy_done(&p);
}

Test(load, override_that_is_a_directory) {
        char sub[2 * SHORT_PATH_MAX], want[WANT_MAX];
        PolicyError err;
        Policy p;

        write_text(tmp_dir, "base.yaml", base_text);
        snprintf(sub, sizeof(sub), "%s/odd.yaml", override_dir);
        cr_assert_eq(mkdir(sub, 0755), 0);
        policy_init(&p);
        cr_assert_eq(policy_load(base_path, override_dir, &p, &err), -EISDIR);
        snprintf(want, sizeof(want), "%s: cannot read: Is a directory", sub);
        cr_assert_str_eq(err.message, want);
        policy_done(&p);
}

/* ---- the fixtures of tests/policies and the shipped example ---------------------------------------------------- */

/* The source tree's root, from where this file was compiled (the Makefile compiles from the root). */
static void source_path(const char *relative, char *buf, size_t size) {
        const char *slash = strrchr(__FILE__, '/');
        int dir_len = slash ? (int)(slash - __FILE__) : 0;

        /* __FILE__ is "tests/test-load.c" or ".../tests/test-load.c": its directory's parent is the root. */
        snprintf(buf, size, "%.*s/../%s", dir_len, __FILE__, relative);
        if (!slash)
                snprintf(buf, size, "../%s", relative);
        cr_assert_eq(access(buf, F_OK), 0, "%s: %s (run the tests from the source tree root)", buf, strerror(errno));
}

Test(fixtures, good_with_overrides) {
        char base[FIXTURE_PATH_MAX], dir[FIXTURE_PATH_MAX];
        PolicyError err;
        Policy p;

        source_path("tests/policies/good.yaml", base, sizeof(base));
        source_path("tests/policies/good.d", dir, sizeof(dir));

        policy_init(&p);
        cr_assert_eq(policy_load(base, dir, &p, &err), 0, "%s", err.message);
        cr_assert_eq(p.n_vms, 3);
        cr_assert_eq(policy_find_vm(&p, "web")->cpu.share.value, 4);
        cr_assert_eq(policy_find_vm(&p, "web")->cpu.reserve.value, 25 * UNIT_PPM_PER_PERCENT);
        cr_assert_eq(policy_find_vm(&p, "cache")->cpu.reserve.value, UNIT_UCPU_PER_CPU / 4);
        cr_assert_eq(policy_find_vm(&p, "cache")->cpu.share.value, 0);
        policy_done(&p);
}

Test(fixtures, bad_ones) {
        static const struct {
                const char *file;
                const char *where_what; /* the message after the file name */
        } cases[] = {
                {"tests/policies/bad-unknown-key.yaml",
                 ":4:12: vms.web.cpu.reserv: unknown key (expected reserve, share, limit or burst)"},
                {"tests/policies/bad-percent.yaml", ":5:14: vms.web.memory.limit: 150% is over 100%"},
                {"tests/policies/bad-syntax.yaml", ":5:5: YAML syntax error: did not find expected ',' or '}'"},
                {"tests/policies/bad-two-documents.yaml", ":4:1: more than one YAML document (expected one)"},
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char path[FIXTURE_PATH_MAX], want[WANT_MAX];
                PolicyError err;
                Policy p;

                source_path(cases[i].file, path, sizeof(path));
                snprintf(want, sizeof(want), "%s%s", path, cases[i].where_what);
                policy_init(&p);
                cr_assert_lt(policy_load(path, NULL, &p, &err), 0, "%s loaded", path);
                cr_assert_str_eq(err.message, want);
                cr_assert_eq(p.n_vms, 0);
                policy_done(&p);
        }
}

/* The shipped example and the good fixture pass validation on a 2-CPU host; the admission fixture does not. */
Test(fixtures, validate_on_a_small_host) {
        static const HostFacts facts = {.cpus_ucpu = 2 * UNIT_UCPU_PER_CPU, .memory_bytes = 8ULL << 30};
        static const char *const good[] = {"etc/policy.yaml", "tests/policies/good.yaml"};
        char path[FIXTURE_PATH_MAX];
        ResolvedPolicy rp;
        PolicyError err;
        Policy p;

        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                source_path(good[i], path, sizeof(path));
                policy_init(&p);
                cr_assert_eq(policy_load(path, NULL, &p, &err), 0, "%s", err.message);
                cr_assert_eq(policy_validate(&p, &facts, &rp, &err), 0, "%s", err.message);
                cr_assert_gt(rp.n_vms, 0);
                resolved_policy_done(&rp);
                policy_done(&p);
        }

        source_path("tests/policies/bad-admission.yaml", path, sizeof(path));
        policy_init(&p);
        cr_assert_eq(policy_load(path, NULL, &p, &err), 0, "%s", err.message);
        cr_assert_lt(policy_validate(&p, &facts, &rp, &err), 0, "over-reserved policy validated");
        cr_assert_not_null(strstr(err.message, "admission"), "%s", err.message);
        policy_done(&p);
}

/* What the example says survives a write and a parse. */
Test(fixtures, example_round_trips) {
        char path[FIXTURE_PATH_MAX], *text = NULL;
        PolicyError err;
        Policy p, q;

        source_path("etc/policy.yaml", path, sizeof(path));
        policy_init(&p);
        policy_init(&q);
        cr_assert_eq(policy_load(path, NULL, &p, &err), 0, "%s", err.message);
        cr_assert_eq(policy_write_string(&p, &text), 0);
        cr_assert_eq(policy_parse_string(text, strlen(text), "written", &q, &err), 0, "%s\n%s", err.message, text);
        cr_assert(policy_equal(&p, &q), "%s", text);
        free(text);
        policy_done(&p);
        policy_done(&q);
}
