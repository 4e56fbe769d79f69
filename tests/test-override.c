/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The override file of `schedctl set`: reading, atomic writing, and loading
 * the override directory with the file replaced in memory. */

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "fake-tree.h"
#include "policy/keys.h"
#include "policy/parse.h"
#include "policy/write.h"
#include "schedd/override.h"

static char dir[PATH_MAX];

static void setup(void) {
        fake_mkdtemp(dir, sizeof(dir), "/tmp/test-override");
}

static void teardown(void) {
        (void)umount2(dir, MNT_DETACH); /* the full-disk test's tmpfs, if it failed before unmounting */
        fake_rm_rf(dir, NULL);
}

TestSuite(override, .init = setup, .fini = teardown);

static char *path_of(const char *rel) {
        static char buf[PATH_MAX * 2];

        snprintf(buf, sizeof(buf), "%s/%s", dir, rel);
        return buf;
}

static void set_key(Policy *p, const char *vm, const char *key, const char *value) {
        PolicyError err;

        cr_assert_eq(policy_set_key(p, vm, key, value, "o.yaml", &err), 0, "%s", err.message);
}

Test(override, path) {
        char *p = override_path("/etc/schedd/policy.d", OVERRIDE_FILE_NAME);

        cr_assert_str_eq(p, "/etc/schedd/policy.d/50-schedctl.yaml");
        free(p);
}

Test(override, read_missing_is_empty) {
        PolicyError err;
        Policy p;

        policy_init(&p);
        cr_assert_eq(override_read(path_of("nothing.yaml"), &p, &err), 0);
        cr_assert_eq(p.n_vms, 0);
        policy_done(&p);
}

Test(override, read_broken_names_the_file) {
        PolicyError err;
        Policy p;
        char want[PATH_MAX * 3];

        fake_put(dir, "o.yaml", "vms:\n  web: { cpu: { limit: lots } }\n");
        policy_init(&p);
        cr_assert_lt(override_read(path_of("o.yaml"), &p, &err), 0);
        snprintf(want, sizeof(want),
                 "%s:2:24: vms.web.cpu.limit: \"lots\" is not a number (expected a percentage or CPUs, like 10%% or "
                 "0.5)",
                 path_of("o.yaml"));
        cr_assert_str_eq(err.message, want);
        policy_done(&p);
}

Test(override, write_read_back) {
        PolicyError err;
        Policy p, back;
        const char *text;

        policy_init(&p);
        set_key(&p, "web", "cpu.limit", "50%");
        set_key(&p, "web", "io.vda.wbps.limit", "100MB");
        cr_assert_eq(override_write(dir, OVERRIDE_FILE_NAME, &p, &err), 0, "%s", err.message);

        text = fake_get(dir, OVERRIDE_FILE_NAME);
        cr_assert_not_null(text);
        cr_assert(strncmp(text, "# Written by schedctl set", 25) == 0, "%s", text);
        cr_assert(strstr(text, "    cpu: { limit: 50% }\n"), "%s", text);
        cr_assert_eq(fake_count_files(dir), 1, "a temp file was left");

        policy_init(&back);
        cr_assert_eq(override_read(path_of(OVERRIDE_FILE_NAME), &back, &err), 0, "%s", err.message);
        cr_assert(policy_equal(&p, &back));
        policy_done(&back);
        policy_done(&p);
}

Test(override, write_empty_removes) {
        PolicyError err;
        Policy p;

        policy_init(&p);
        set_key(&p, "web", "cpu.limit", "50%");
        cr_assert_eq(override_write(dir, OVERRIDE_FILE_NAME, &p, &err), 0);
        cr_assert_eq(fake_count_files(dir), 1);
        policy_done(&p);

        policy_init(&p);
        cr_assert_eq(override_write(dir, OVERRIDE_FILE_NAME, &p, &err), 0, "%s", err.message);
        cr_assert_eq(fake_count_files(dir), 0);
        /* Removing what is not there is fine. */
        cr_assert_eq(override_write(dir, OVERRIDE_FILE_NAME, &p, &err), 0, "%s", err.message);
        policy_done(&p);
}

Test(override, write_makes_the_directory) {
        PolicyError err;
        Policy p;

        policy_init(&p);
        set_key(&p, "web", "share", "2");
        cr_assert_eq(override_write(path_of("a/b/policy.d"), OVERRIDE_FILE_NAME, &p, &err), 0, "%s", err.message);
        cr_assert_not_null(fake_get(dir, "a/b/policy.d/" OVERRIDE_FILE_NAME));
        policy_done(&p);
}

Test(override, write_into_a_file_fails) {
        char want[PATH_MAX * 3];
        PolicyError err;
        Policy p;

        fake_put(dir, "plain", "");
        policy_init(&p);
        set_key(&p, "web", "share", "2");
        cr_assert_eq(override_write(path_of("plain"), OVERRIDE_FILE_NAME, &p, &err), -ENOTDIR);
        snprintf(want, sizeof(want), "%s/plain/%s: cannot open the directory %s/plain: Not a directory", dir,
                 OVERRIDE_FILE_NAME, dir);
        cr_assert_str_eq(err.message, want);
        policy_done(&p);
}

/* A full file system: the write fails, the old file stays whole, no temp file is left. */
Test(override, full_disk_keeps_the_old_file) {
        char fill[PATH_MAX * 2], old[16384], want[PATH_MAX * 3];
        PolicyError err;
        Policy p;
        FILE *f;

        if (geteuid() != 0 || mount("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0755") < 0)
                cr_skip_test("needs root to mount a tmpfs");

        policy_init(&p);
        set_key(&p, "web", "cpu.limit", "50%");
        cr_assert_eq(override_write(dir, OVERRIDE_FILE_NAME, &p, &err), 0, "%s", err.message);
        snprintf(old, sizeof(old), "%s", fake_get(dir, OVERRIDE_FILE_NAME));

        snprintf(fill, sizeof(fill), "%s/fill", dir);
        f = fopen(fill, "w");
        cr_assert_not_null(f);
        while (fputc(0, f) != EOF && !ferror(f))
                ;
        fclose(f);

        set_key(&p, "web", "cpu.limit", "40%");
        set_key(&p, "db", "cpu.share", "3");
        cr_expect_eq(override_write(dir, OVERRIDE_FILE_NAME, &p, &err), -ENOSPC);
        snprintf(want, sizeof(want), "%s/%s: cannot write: No space left on device", dir, OVERRIDE_FILE_NAME);
        cr_expect_str_eq(err.message, want);
        cr_expect_str_eq(fake_get(dir, OVERRIDE_FILE_NAME), old);
        cr_expect_eq(fake_count_files(dir), 2, "a temp file was left");

        unlink(fill);
        cr_expect_eq(override_write(dir, OVERRIDE_FILE_NAME, &p, &err), 0, "%s", err.message);
        cr_expect(strstr(fake_get(dir, OVERRIDE_FILE_NAME), "limit: 40%"));
        policy_done(&p);
        cr_assert_eq(umount(dir), 0, "umount: %m");
}

/* The directory as policy_load() reads it, and the same with the override replaced. */
static void put_overrides(void) {
        fake_put(dir, "policy.yaml", "vms:\n  web: { cpu: { reserve: 10%, limit: 50%, share: 1 } }\n");
        fake_mkdir(dir, "d");
        fake_put(dir, "d/10-a.yaml", "vms:\n  web: { cpu: { limit: 60% } }\n");
        fake_put(dir, "d/" OVERRIDE_FILE_NAME, "vms:\n  web: { cpu: { limit: 70%, share: 2 } }\n");
        fake_put(dir, "d/60-b.yaml", "vms:\n  web: { cpu: { share: 9 } }\n");
        fake_put(dir, "d/.hidden.yaml", "vms:\n  web: { cpu: { reserve: 90% } }\n");
        fake_put(dir, "d/notes.txt", "not yaml: [\n");
}

static void load_with(const Policy *replacement, Policy *ret) {
        PolicyError err;

        policy_init(ret);
        cr_assert_eq(policy_parse_file(path_of("policy.yaml"), ret, &err), 0, "%s", err.message);
        cr_assert_eq(override_merge_dir(path_of("d"), OVERRIDE_FILE_NAME, replacement, ret, &err), 0, "%s",
                     err.message);
}

Test(override, merge_dir_as_policy_load) {
        char base[PATH_MAX * 2];
        PolicyError err;
        Policy loaded, merged;

        put_overrides();
        snprintf(base, sizeof(base), "%s", path_of("policy.yaml"));
        policy_init(&loaded);
        cr_assert_eq(policy_load(base, path_of("d"), &loaded, &err), 0, "%s", err.message);
        load_with(NULL, &merged);
        cr_assert(policy_equal(&loaded, &merged));
        cr_assert_eq(merged.vms[0].cpu.limit.value, 700000); /* 70 % in ppm */
        cr_assert_eq(merged.vms[0].cpu.share.value, 9);
        policy_done(&loaded);
        policy_done(&merged);
}

Test(override, merge_dir_replaced_in_place) {
        Policy replacement, merged;

        put_overrides();
        policy_init(&replacement);
        set_key(&replacement, "web", "cpu.limit", "80%");
        set_key(&replacement, "web", "cpu.share", "4");
        load_with(&replacement, &merged);
        cr_assert_eq(merged.vms[0].cpu.limit.value, 800000, "the replacement, not the file");
        cr_assert_eq(merged.vms[0].cpu.share.value, 9, "a later file still wins");
        policy_done(&merged);

        /* Without the file on disk, the replacement goes where it would sort. */
        fake_rm_rf(dir, "d/" OVERRIDE_FILE_NAME);
        load_with(&replacement, &merged);
        cr_assert_eq(merged.vms[0].cpu.limit.value, 800000);
        cr_assert_eq(merged.vms[0].cpu.share.value, 9);
        policy_done(&merged);

        /* An empty replacement: the base and the other files only. */
        policy_done(&replacement);
        policy_init(&replacement);
        load_with(&replacement, &merged);
        cr_assert_eq(merged.vms[0].cpu.limit.value, 600000);
        policy_done(&merged);
        policy_done(&replacement);
}

Test(override, merge_dir_missing_or_broken) {
        PolicyError err;
        Policy p, replacement;
        char want[PATH_MAX * 3];

        policy_init(&replacement);
        set_key(&replacement, "web", "cpu.limit", "80%");
        policy_init(&p);
        cr_assert_eq(override_merge_dir(path_of("none"), OVERRIDE_FILE_NAME, &replacement, &p, &err), 0);
        cr_assert_eq(p.n_vms, 1);
        policy_done(&p);
        cr_assert_eq(override_merge_dir(NULL, OVERRIDE_FILE_NAME, NULL, &p, &err), 0);

        fake_mkdir(dir, "d");
        fake_put(dir, "d/20-bad.yaml", "vms: [\n");
        policy_init(&p);
        cr_assert_lt(override_merge_dir(path_of("d"), OVERRIDE_FILE_NAME, &replacement, &p, &err), 0);
        snprintf(want, sizeof(want), "%s/d/20-bad.yaml:", dir);
        cr_assert(strncmp(err.message, want, strlen(want)) == 0, "%s", err.message);
        policy_done(&p);
        policy_done(&replacement);
}

Test(override, prune) {
        PolicyError err;
        PolicyKey k;
        Policy p;

        policy_init(&p);
        set_key(&p, "a", "cpu.limit", "50%");
        set_key(&p, "b", "share", "2");
        set_key(&p, "c", "create", "true");
        cr_assert_eq(policy_key_parse("b", "share", &k, &err), 0);
        cr_assert_eq(policy_unset_key(&p, "b", &k), 1);
        override_prune(&p);
        cr_assert_eq(p.n_vms, 2);
        cr_assert_str_eq(p.vms[0].name, "a");
        cr_assert_str_eq(p.vms[1].name, "c");
        policy_done(&p);

        policy_init(&p);
        override_prune(&p);
        cr_assert_eq(p.n_vms, 0);
        policy_done(&p);
}
