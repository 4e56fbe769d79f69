/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* restore.c against a fake cgroup tree and a state directory, both in mkdtemp() dirs. */

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake-tree.h"
#include "schedd/restore.h"

static char tree[PATH_MAX], state[PATH_MAX];
static int root_fd = -1, state_fd = -1;

static void put(const char *rel, const char *text) {
        fake_put(tree, rel, text);
}

static void put_in(const char *dir, const char *rel, const char *text) {
        fake_put(dir, rel, text);
}

static char *get(const char *rel) {
        char *s = fake_get(tree, rel);

        cr_assert_not_null(s, "%s missing", rel);
        return s;
}

static char *get_state(const char *name) {
        return fake_get(state, name);
}

/* A VM cgroup whose io.max already limits one device. */
static void vm(const char *rel) {
        char p[PATH_MAX];

        fake_vm(tree, rel);
        snprintf(p, sizeof(p), "%s/io.max", rel);
        put(p, "8:16 rbps=max wbps=4096 riops=max wiops=max\n");
}

static void setup(void) {
        fake_mkdtemp(tree, sizeof(tree), "/tmp/test-restore-tree");
        fake_mkdtemp(state, sizeof(state), "/tmp/test-restore-state");
        root_fd = open(tree, O_PATH | O_DIRECTORY | O_CLOEXEC);
        state_fd = open(state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(root_fd, 0);
        cr_assert_geq(state_fd, 0);
}

static void teardown(void) {
        close(root_fd);
        close(state_fd);
        fake_rm_rf(tree, NULL);
        fake_rm_rf(state, NULL);
}

TestSuite(restore, .init = setup, .fini = teardown);

Test(restore, state_names) {
        char buf[NAME_MAX + 1];

        cr_assert_eq(restore_state_name("web", buf, sizeof(buf)), 9);
        cr_assert_str_eq(buf, "web.state");
        cr_assert_gt(restore_state_name("machine.slice/vm-1_a", buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "machine.slice%2Fvm-1_a.state");
        cr_assert_gt(restore_state_name(".hidden", buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "%2Ehidden.state", "a leading dot would hide the file");
        cr_assert_gt(restore_state_name("a b%c", buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "a%20b%25c.state");
        cr_assert_gt(restore_state_name("\xc3\xa9", buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "%C3%A9.state");

        /* Different paths, different names. */
        char other[NAME_MAX + 1];
        restore_state_name("a/b", buf, sizeof(buf));
        restore_state_name("a%2Fb", other, sizeof(other));
        cr_assert_str_neq(buf, other);

        /* The longest that fits NAME_MAX, and one more. */
        char path[300];
        memset(path, 'x', 249);
        path[249] = '\0';
        cr_assert_eq(restore_state_name(path, buf, sizeof(buf)), 255);
        path[249] = 'x';
        path[250] = '\0';
        cr_assert_eq(restore_state_name(path, buf, sizeof(buf)), -ENAMETOOLONG);
        cr_assert_eq(restore_state_name("web", buf, 9), -ENAMETOOLONG);
}

Test(restore, records_the_original_once) {
        CgroupVm *cg;
        RestoreVm *r;

        vm("web");
        cr_assert_eq(cgroup_vm_open(root_fd, "web", false, &cg), 0);
        cr_assert_eq(restore_vm_new(state_fd, "web", &r), 0);
        cr_assert_eq(restore_vm_entries(r), 0);
        cr_assert_null(get_state("web.state"), "no state before the first write");

        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_CPU_MAX, "50000 100000"), 1);
        cr_assert_str_eq(get("web/cpu.max"), "50000 100000\n");
        cr_assert_str_eq(get_state("web.state"), "# schedd: original values of the cgroup files it changed\n"
                                                 "cgroup web\n"
                                                 "cpu.max max 100000\n");

        /* Later writes keep the first original. */
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_CPU_MAX, "20000 100000"), 1);
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_CPU_MAX, "20000 100000"), 0);
        cr_assert_eq(restore_vm_entries(r), 1);
        cr_assert(strstr(get_state("web.state"), "cpu.max max 100000\n"));

        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_CPU_WEIGHT, "300"), 1);
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_MEMORY_MAX, "1073741824"), 1);
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_IO_WEIGHT, "default 50"), 1);
        /* io.max: per device; the original of a device without a line clears
         * its limits.  (8:16 first: a fake io.max keeps only the line last
         * written, where the kernel keeps one per device.) */
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_IO_MAX, "8:16 rbps=200 wbps=max riops=max wiops=max"), 1);
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_IO_MAX, "8:0 rbps=100 wbps=max riops=max wiops=max"), 1);
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_IO_MAX, "8:0 rbps=300 wbps=max riops=max wiops=max"), 1);
        cr_assert_eq(restore_vm_entries(r), 6);
        cr_assert_str_eq(get_state("web.state"), "# schedd: original values of the cgroup files it changed\n"
                                                 "cgroup web\n"
                                                 "cpu.max max 100000\n"
                                                 "cpu.weight 100\n"
                                                 "memory.max max\n"
                                                 "io.weight default 100\n"
                                                 "io.max 8:16 rbps=max wbps=4096 riops=max wiops=max\n"
                                                 "io.max 8:0 rbps=max wbps=max riops=max wiops=max\n");

        /* Statistics are not knobs. */
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_CPU_STAT, "usage_usec 0"), -EINVAL);
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_IO_MAX, ""), -EINVAL);

        restore_vm_free(r);
        cgroup_vm_free(cg);
}

Test(restore, undo_writes_back_and_removes_state) {
        CgroupVm *cg;
        RestoreVm *r;

        vm("web");
        cr_assert_eq(cgroup_vm_open(root_fd, "web", false, &cg), 0);
        cr_assert_eq(restore_vm_new(state_fd, "web", &r), 0);
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_CPU_MAX, "50000 100000"), 1);
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_CPU_WEIGHT, "300"), 1);
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_MEMORY_MIN, "536870912"), 1);
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_IO_MAX, "8:16 rbps=1 wbps=1 riops=1 wiops=1"), 1);
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_IO_MAX, "8:0 rbps=1 wbps=1 riops=1 wiops=1"), 1);

        cr_assert_eq(restore_vm_undo(r, cg), 0);
        cr_assert_str_eq(get("web/cpu.max"), "max 100000\n");
        cr_assert_str_eq(get("web/cpu.weight"), "100\n");
        cr_assert_str_eq(get("web/memory.min"), "0\n");
        /* A fake io.max holds the last line written; the kernel would keep one line per device. */
        cr_assert_str_eq(get("web/io.max"), "8:0 rbps=max wbps=max riops=max wiops=max\n");
        cr_assert_eq(restore_vm_entries(r), 0);
        cr_assert_null(get_state("web.state"));
        cr_assert_eq(fake_count_files(state), 0, "no temp files left");

        /* Undo with nothing recorded is fine. */
        cr_assert_eq(restore_vm_undo(r, cg), 0);
        restore_vm_free(r);
        cgroup_vm_free(cg);
}

Test(restore, undo_one_file) {
        CgroupVm *cg;
        RestoreVm *r;

        vm("web");
        cr_assert_eq(cgroup_vm_open(root_fd, "web", false, &cg), 0);
        cr_assert_eq(restore_vm_new(state_fd, "web", &r), 0);
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_MEMORY_MAX, "1073741824"), 1);
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_IO_MAX, "8:16 rbps=1 wbps=1 riops=1 wiops=1"), 1);
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_IO_MAX, "8:0 rbps=1 wbps=1 riops=1 wiops=1"), 1);

        cr_assert_eq(restore_vm_undo_file(r, cg, CGROUP_FILE_MEMORY_MAX, NULL), 0);
        cr_assert_str_eq(get("web/memory.max"), "max\n");
        cr_assert_eq(restore_vm_undo_file(r, cg, CGROUP_FILE_IO_MAX, "8:16"), 0);
        cr_assert_str_eq(get("web/io.max"), "8:16 rbps=max wbps=4096 riops=max wiops=max\n");
        cr_assert_eq(restore_vm_entries(r), 1);
        cr_assert_str_eq(get_state("web.state"), "# schedd: original values of the cgroup files it changed\n"
                                                 "cgroup web\n"
                                                 "io.max 8:0 rbps=max wbps=max riops=max wiops=max\n");

        /* Nothing recorded for it: nothing to do. */
        cr_assert_eq(restore_vm_undo_file(r, cg, CGROUP_FILE_CPU_MAX, NULL), 0);
        cr_assert_eq(restore_vm_undo_file(r, cg, CGROUP_FILE_IO_MAX, "9:9"), 0);
        cr_assert_eq(restore_vm_entries(r), 1);

        /* The next write records again. */
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_MEMORY_MAX, "2147483648"), 1);
        cr_assert_eq(restore_vm_entries(r), 2);
        restore_vm_free(r);
        cgroup_vm_free(cg);
}

Test(restore, reconcile_after_a_crash) {
        CgroupVm *cg;
        RestoreVm *r;
        RestoreReconcile res;

        vm("web");
        cr_assert_eq(cgroup_vm_open(root_fd, "web", false, &cg), 0);
        cr_assert_eq(restore_vm_new(state_fd, "web", &r), 0);
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_CPU_MAX, "50000 100000"), 1);
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_MEMORY_MAX, "1073741824"), 1);
        /* The crash: memory is gone, the state file stays. */
        restore_vm_free(r);
        cgroup_vm_free(cg);
        cr_assert_not_null(get_state("web.state"));
        cr_assert_str_eq(get("web/cpu.max"), "50000 100000\n");

        /* A crash in the middle of a save leaves a temp file. */
        put_in(state, ".#web.state.tmp", "# half a");

        cr_assert_eq(restore_reconcile(state_fd, root_fd, &res), 0);
        cr_assert_eq(res.files, 1);
        cr_assert_eq(res.restored, 2);
        cr_assert_eq(res.gone, 0);
        cr_assert_eq(res.failed, 0, "%s", res.message);
        cr_assert_str_eq(res.message, "");
        cr_assert_str_eq(get("web/cpu.max"), "max 100000\n");
        cr_assert_str_eq(get("web/memory.max"), "max\n");
        cr_assert_eq(fake_count_files(state), 0, "state and temp files removed");

        /* Starting over: the original recorded is the pre-schedd value again. */
        cr_assert_eq(cgroup_vm_open(root_fd, "web", false, &cg), 0);
        cr_assert_eq(restore_vm_new(state_fd, "web", &r), 0);
        cr_assert_eq(restore_vm_entries(r), 0);
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_CPU_MAX, "70000 100000"), 1);
        cr_assert(strstr(get_state("web.state"), "cpu.max max 100000\n"));
        restore_vm_free(r);
        cgroup_vm_free(cg);
}

Test(restore, reconcile_of_a_gone_cgroup_drops_its_state) {
        CgroupVm *cg;
        RestoreVm *r;
        RestoreReconcile res;

        vm("machine.slice");
        vm("machine.slice/db");
        cr_assert_eq(cgroup_vm_open(root_fd, "machine.slice/db", false, &cg), 0);
        cr_assert_eq(restore_vm_new(state_fd, "machine.slice/db", &r), 0);
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_CPU_WEIGHT, "5"), 1);
        restore_vm_free(r);
        cgroup_vm_free(cg);
        cr_assert_not_null(get_state("machine.slice%2Fdb.state"));

        fake_rm_rf(tree, "machine.slice/db");

        cr_assert_eq(restore_reconcile(state_fd, root_fd, &res), 0);
        cr_assert_eq(res.files, 1);
        cr_assert_eq(res.gone, 1);
        cr_assert_eq(res.restored, 0);
        cr_assert_eq(res.failed, 0);
        cr_assert_eq(fake_count_files(state), 0);
}

Test(restore, reconcile_keeps_what_it_could_not_restore) {
        CgroupVm *cg;
        RestoreVm *r;
        RestoreReconcile res;
        char path[PATH_MAX * 2];

        vm("web");
        cr_assert_eq(cgroup_vm_open(root_fd, "web", false, &cg), 0);
        cr_assert_eq(restore_vm_new(state_fd, "web", &r), 0);
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_CPU_MAX, "50000 100000"), 1);
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_CPU_WEIGHT, "300"), 1);
        restore_vm_free(r);
        cgroup_vm_free(cg);

        /* cpu.weight cannot be written now (a directory in its place). */
        snprintf(path, sizeof(path), "%s/web/cpu.weight", tree);
        cr_assert_eq(unlink(path), 0);
        cr_assert_eq(mkdir(path, 0755), 0);

        cr_assert_eq(restore_reconcile(state_fd, root_fd, &res), 0);
        cr_assert_eq(res.files, 1);
        cr_assert_eq(res.restored, 1);
        cr_assert_eq(res.failed, 1);
        cr_assert_str_eq(res.message, "web.state: cannot restore the cgroup web: Is a directory");
        cr_assert_str_eq(get("web/cpu.max"), "max 100000\n");
        /* The file keeps the entry, with its original. */
        cr_assert_str_eq(get_state("web.state"), "# schedd: original values of the cgroup files it changed\n"
                                                 "cgroup web\n"
                                                 "cpu.weight 100\n");

        /* The next run loads it: "100" stays the original, though the knob
         * now holds something else when schedd writes it again. */
        rmdir(path);
        put("web/cpu.weight", "300\n");
        cr_assert_eq(cgroup_vm_open(root_fd, "web", false, &cg), 0);
        cr_assert_eq(restore_vm_new(state_fd, "web", &r), 0);
        cr_assert_eq(restore_vm_entries(r), 1);
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_CPU_WEIGHT, "400"), 1);
        cr_assert_eq(restore_vm_entries(r), 1);
        cr_assert_eq(restore_vm_undo(r, cg), 0);
        cr_assert_str_eq(get("web/cpu.weight"), "100\n");
        cr_assert_eq(fake_count_files(state), 0);
        restore_vm_free(r);
        cgroup_vm_free(cg);
}

Test(restore, reconcile_drops_files_that_are_not_state) {
        RestoreReconcile res;

        put_in(state, "junk.state", "this is not\na state file\n");
        put_in(state, "nocgroup.state", "# header only\ncpu.max max 100000\n");
        put_in(state, "README", "left alone: not a .state file\n");

        cr_assert_eq(restore_reconcile(state_fd, root_fd, &res), 0);
        cr_assert_eq(res.files, 2);
        cr_assert_eq(res.failed, 2);
        cr_assert(strstr(res.message, "not a state file (Bad message), removed"), "%s", res.message);
        cr_assert_null(get_state("junk.state"));
        cr_assert_null(get_state("nocgroup.state"));
        cr_assert_not_null(get_state("README"));
}

Test(restore, loaded_state_must_be_the_same_cgroup) {
        RestoreVm *r = NULL;

        put_in(state, "web.state", "cgroup db\ncpu.weight 100\n");
        cr_assert_eq(restore_vm_new(state_fd, "web", &r), -EBADMSG);
        cr_assert_null(r);
        put_in(state, "web.state", "cgroup web\ncpu.stat usage_usec 0\n");
        cr_assert_eq(restore_vm_new(state_fd, "web", &r), -EBADMSG, "a statistic is no knob to restore");
        put_in(state, "web.state", "cgroup web\ncgroup web\n");
        cr_assert_eq(restore_vm_new(state_fd, "web", &r), -EBADMSG);

        cr_assert_eq(restore_vm_new(state_fd, "", &r), -EINVAL);
        cr_assert_eq(restore_vm_new(state_fd, "a\nb", &r), -EINVAL);
}

Test(restore, nothing_written_when_the_original_cannot_be_recorded) {
        CgroupVm *cg;
        RestoreVm *r;
        char gone[PATH_MAX];
        int gone_fd;

        vm("web");
        cr_assert_eq(cgroup_vm_open(root_fd, "web", false, &cg), 0);

        /* A state directory that was removed: the save fails. */
        strcpy(gone, "/tmp/test-restore-gone-XXXXXX");
        cr_assert_not_null(mkdtemp(gone));
        gone_fd = open(gone, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(gone_fd, 0);
        cr_assert_eq(restore_vm_new(gone_fd, "web", &r), 0);
        cr_assert_eq(rmdir(gone), 0);

        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_CPU_MAX, "50000 100000"), -ENOENT);
        cr_assert_str_eq(get("web/cpu.max"), "max 100000\n", "not written");
        cr_assert_eq(restore_vm_entries(r), 0);
        cr_assert_eq(cgroup_vm_writes(cg), 0);

        restore_vm_free(r);
        close(gone_fd);
        cgroup_vm_free(cg);
}

Test(restore, gone_cgroup) {
        CgroupVm *cg;
        RestoreVm *r;

        vm("web");
        cr_assert_eq(cgroup_vm_open(root_fd, "web", false, &cg), 0);
        cr_assert_eq(restore_vm_new(state_fd, "web", &r), 0);
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_MEMORY_MIN, "4096"), 1);

        fake_rm_rf(tree, "web");

        /* A knob not yet written cannot have its original read: gone. */
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_CPU_MAX, "50000 100000"), -ENODEV);
        /* Undo of a gone cgroup is not an error: there is nothing to restore. */
        cr_assert_eq(restore_vm_undo(r, cg), 0);
        cr_assert_eq(restore_vm_entries(r), 0);
        cr_assert_eq(fake_count_files(state), 0);
        restore_vm_free(r);
        cgroup_vm_free(cg);
}

Test(restore, discard) {
        CgroupVm *cg;
        RestoreVm *r;

        vm("web");
        cr_assert_eq(cgroup_vm_open(root_fd, "web", false, &cg), 0);
        cr_assert_eq(restore_vm_new(state_fd, "web", &r), 0);
        cr_assert_eq(restore_vm_write(r, cg, CGROUP_FILE_CPU_WEIGHT, "7"), 1);
        cr_assert_eq(restore_vm_discard(r), 0);
        cr_assert_eq(restore_vm_entries(r), 0);
        cr_assert_eq(fake_count_files(state), 0);
        cr_assert_str_eq(get("web/cpu.weight"), "7\n", "discard writes nothing");
        restore_vm_free(r);
        cgroup_vm_free(cg);
}
