/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Faults on the files schedd keeps: a full file system (ENOSPC) under the
 * override file and under the restore records.  Nothing half-written, the
 * old state kept, and the next write after space comes back works.
 *
 * The full file system is a small tmpfs filled up, mounted in a mount
 * namespace of the test's own process (criterion runs each test in a child):
 * that needs root; elsewhere the tests skip.
 */

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "fake-tree.h"
#include "policy/parse.h"
#include "schedd/cgroup.h"
#include "schedd/override.h"
#include "schedd/restore.h"

/* Small, so that filling it is quick: a few pages. */
#define FULL_FS_OPTIONS "size=64k,mode=0755"

static char fs[PATH_MAX]; /* the tmpfs */
static char tree[PATH_MAX];

/* Mounts a tmpfs on `fs`, in a mount namespace of this process only. */
static void mount_small_fs(void) {
        fake_mkdtemp(fs, sizeof(fs), "/tmp/test-faults-fs");
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
                rmdir(fs);
                fs[0] = '\0';
                cr_skip_test("needs root for a mount namespace: %m");
        }
        cr_assert_eq(mount("tmpfs", fs, "tmpfs", 0, FULL_FS_OPTIONS), 0, "mount tmpfs: %m");
}

/* Fills the tmpfs with fs/filler until a write fails for lack of space. */
static void fill(void) {
        char path[PATH_MAX + 16], block[4096];
        int fd;

        memset(block, 'x', sizeof(block));
        snprintf(path, sizeof(path), "%s/filler", fs);
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        cr_assert_geq(fd, 0, "%s: %m", path);
        for (;;) {
                ssize_t n = write(fd, block, sizeof(block));
                if (n < 0) {
                        cr_assert_eq(errno, ENOSPC, "filling: %m");
                        break;
                }
        }
        /* the last partial page too */
        while (write(fd, block, 1) == 1)
                ;
        close(fd);
}

static void unfill(void) {
        char path[PATH_MAX + 16];

        snprintf(path, sizeof(path), "%s/filler", fs);
        cr_assert_eq(unlink(path), 0, "%m");
}

/* The names in `dir` other than filler, sorted, joined by spaces. */
static const char *names(const char *dir) {
        static char buf[1024];
        struct dirent **list;
        int n = scandir(dir, &list, NULL, alphasort);

        cr_assert_geq(n, 0, "%s: %m", dir);
        buf[0] = '\0';
        for (int i = 0; i < n; i++) {
                const char *d = list[i]->d_name;
                if (strcmp(d, ".") && strcmp(d, "..") && strcmp(d, "filler"))
                        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", buf[0] ? " " : "", d);
                free(list[i]);
        }
        free(list);
        return buf;
}

static void teardown(void) {
        if (fs[0]) {
                umount2(fs, MNT_DETACH);
                rmdir(fs);
        }
        if (tree[0])
                fake_rm_rf(tree, NULL);
}

TestSuite(faults, .fini = teardown);

static void policy_of(const char *text, Policy *p) {
        PolicyError err;

        policy_init(p);
        cr_assert_eq(policy_parse_string(text, strlen(text), "t.yaml", p, &err), 0, "%s", err.message);
}

Test(faults, override_file_on_a_full_file_system) {
        Policy old, new;
        PolicyError err = {};
        char want[PATH_MAX + 128], before[16384];

        mount_small_fs();
        policy_of("vms:\n  web: { cpu: { limit: 40% } }\n", &old);
        /* bigger than what is there, so that it needs new space */
        policy_of("vms:\n  web: { cpu: { limit: 50%, reserve: 10%, burst: 200ms } }\n"
                  "  db: { cpu: { share: 3 }, memory: { limit: 2G } }\n",
                  &new);

        cr_assert_eq(override_write(fs, OVERRIDE_FILE_NAME, &old, &err), 0, "%s", err.message);
        snprintf(before, sizeof(before), "%s", fake_get(fs, OVERRIDE_FILE_NAME));

        fill();
        cr_assert_eq(override_write(fs, OVERRIDE_FILE_NAME, &new, &err), -ENOSPC);
        snprintf(want, sizeof(want), "%s/%s: cannot write: No space left on device", fs, OVERRIDE_FILE_NAME);
        cr_assert_str_eq(err.message, want);
        cr_assert_str_eq(fake_get(fs, OVERRIDE_FILE_NAME), before, "the old override is kept whole");
        cr_assert_str_eq(names(fs), OVERRIDE_FILE_NAME, "no temp file left");

        /* What the daemon reads back is the old policy. */
        Policy back;
        char path[PATH_MAX + 64];
        snprintf(path, sizeof(path), "%s/%s", fs, OVERRIDE_FILE_NAME);
        policy_init(&back);
        cr_assert_eq(override_read(path, &back, &err), 0, "%s", err.message);
        cr_assert_eq(back.n_vms, 1);
        cr_assert_eq(policy_find_vm(&back, "web")->cpu.limit.value, 400000);
        policy_done(&back);

        /* Space again: the write goes through. */
        unfill();
        cr_assert_eq(override_write(fs, OVERRIDE_FILE_NAME, &new, &err), 0, "%s", err.message);
        cr_assert(strstr(fake_get(fs, OVERRIDE_FILE_NAME), "db:"));
        cr_assert_str_eq(names(fs), OVERRIDE_FILE_NAME);

        policy_done(&old);
        policy_done(&new);
}

Test(faults, restore_record_on_a_full_file_system) {
        CgroupVm *cg;
        RestoreVm *r;
        int root_fd, state_fd;

        mount_small_fs();
        fake_mkdtemp(tree, sizeof(tree), "/tmp/test-faults-tree");
        fake_vm(tree, "web");
        root_fd = open(tree, O_PATH | O_DIRECTORY | O_CLOEXEC);
        state_fd = open(fs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(root_fd, 0);
        cr_assert_geq(state_fd, 0);
        cr_assert_eq(cgroup_vm_open(root_fd, "web", false, &cg), 0);
        cr_assert_eq(restore_vm_new(state_fd, "web", &r), 0);

        /* No room for the record: the knob is not touched. */
        fill();
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_CPU_MAX, "50000 100000"), -ENOSPC);
        cr_assert_str_eq(fake_get(tree, "web/cpu.max"), "max 100000\n", "written without a record of the original");
        cr_assert_str_eq(names(fs), "", "no state file, no temp file");
        unfill();

        /* Room: recorded, then written. */
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_CPU_MAX, "50000 100000"), 1);
        cr_assert_str_eq(fake_get(tree, "web/cpu.max"), "50000 100000\n");
        const char *record =
                "# schedd: original values of the cgroup files it changed\ncgroup web\ncpu.max max 100000\n";
        cr_assert_str_eq(fake_get(fs, "web.state"), record);

        /* Full again: a second knob is refused, the first record stays whole. */
        fill();
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_CPU_WEIGHT, "300"), -ENOSPC);
        cr_assert_str_eq(fake_get(tree, "web/cpu.weight"), "100\n");
        cr_assert_str_eq(fake_get(fs, "web.state"), record);
        cr_assert_str_eq(names(fs), "web.state");
        /* A knob already recorded needs no new record: it is still written. */
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_CPU_MAX, "60000 100000"), 1);
        cr_assert_str_eq(fake_get(tree, "web/cpu.max"), "60000 100000\n");

        /* Stop: the original goes back, even with the disk full. */
        int k = restore_vm_undo(r, cg);
        cr_assert_str_eq(fake_get(tree, "web/cpu.max"), "max 100000\n");
        cr_assert_eq(k, 0, "undo: %d", k);
        cr_assert_str_eq(names(fs), "", "the state file is gone");

        restore_vm_free(r);
        cgroup_vm_free(cg);
        close(root_fd);
        close(state_fd);
}

/* What the writer cannot write is refused before anything is written. */
Test(faults, override_that_cannot_be_written) {
        char dir[PATH_MAX], want[PATH_MAX + 128];
        PolicyError err = {};
        Policy p;

        fake_mkdtemp(dir, sizeof(dir), "/tmp/test-faults-dir");
        policy_init(&p);
        policy_add_vm(&p, "web")->cgroup = strdup("m.slice/a\x80"
                                                  "b");
        cr_assert_eq(override_write(dir, OVERRIDE_FILE_NAME, &p, &err), -EILSEQ);
        snprintf(want, sizeof(want), "%s/%s: cannot write: a name or cgroup is not UTF-8", dir, OVERRIDE_FILE_NAME);
        cr_assert_str_eq(err.message, want);
        cr_assert_str_eq(names(dir), "");
        policy_done(&p);
        fake_rm_rf(dir, NULL);
}
