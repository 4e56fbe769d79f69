/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * cgroup.c against a fake tree: plain files in a mkdtemp() directory that
 * look like cgroup files.  One test uses the machine's real cgroup v2 tree
 * where it can (root, a writable cgroup2 mount) and skips elsewhere.
 */

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "fake-tree.h"
#include "schedd/cgroup.h"

static char tree[PATH_MAX];
static int root_fd = -1;

static void put(const char *rel, const char *text) {
        fake_put(tree, rel, text);
}

static char *get(const char *rel) {
        char *s = fake_get(tree, rel);

        cr_assert_not_null(s, "%s: %m", rel);
        return s;
}

static void setup(void) {
        fake_mkdtemp(tree, sizeof(tree), "/tmp/test-cgroup");
        fake_root(tree);
        root_fd = open(tree, O_PATH | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(root_fd, 0);
}

static void teardown(void) {
        close(root_fd);
        fake_rm_rf(tree, NULL);
}

TestSuite(cgroup, .init = setup, .fini = teardown);

Test(cgroup, files) {
        cr_assert_str_eq(cgroup_file_to_string(CGROUP_FILE_CPU_MAX_BURST), "cpu.max.burst");
        cr_assert_eq(cgroup_file_from_string("memory.max"), CGROUP_FILE_MEMORY_MAX);
        cr_assert_eq(cgroup_file_from_string("memory.high"), -EINVAL);
        cr_assert_null(cgroup_file_to_string(_CGROUP_FILE_MAX));
        cr_assert(cgroup_file_is_knob(CGROUP_FILE_IO_MAX));
        cr_assert_not(cgroup_file_is_knob(CGROUP_FILE_IO_STAT));
        cr_assert_eq(cgroup_file_controller(CGROUP_FILE_MEMORY_MIN), CGROUP_CONTROLLER_MEMORY);
        for (int f = 0; f < _CGROUP_FILE_MAX; f++)
                cr_assert_eq(cgroup_file_from_string(cgroup_file_to_string(f)), f);
}

Test(cgroup, root_check_enables_controllers) {
        char err[1024] = "";

        cr_assert_eq(cgroup_root_check(root_fd, tree, CGROUP_CONTROLLER_ALL, err, sizeof(err)), 0, "%s", err);
        cr_assert_str_eq(get("cgroup.subtree_control"), "+cpu +io +memory\n");

        /* Already enabled: nothing written. */
        put("cgroup.subtree_control", "cpu io memory\n");
        cr_assert_eq(cgroup_root_check(root_fd, tree, CGROUP_CONTROLLER_CPU, err, sizeof(err)), 0, "%s", err);
        cr_assert_str_eq(get("cgroup.subtree_control"), "cpu io memory\n");

        /* Only the missing one is asked for. */
        put("cgroup.subtree_control", "cpu\n");
        cr_assert_eq(cgroup_enable_subtree(root_fd, "", CGROUP_CONTROLLER_CPU | CGROUP_CONTROLLER_MEMORY), 1);
        cr_assert_str_eq(get("cgroup.subtree_control"), "+memory\n");
        put("cgroup.subtree_control", "cpu\n");
        cr_assert_eq(cgroup_enable_subtree(root_fd, "", CGROUP_CONTROLLER_CPU), 0);
        cr_assert_eq(cgroup_enable_subtree(root_fd, "", 0), 0);
}

Test(cgroup, root_check_missing_controller) {
        char err[1024] = "", want[1024];

        put("cgroup.controllers", "hugetlb\n");
        cr_assert_eq(cgroup_root_check(root_fd, "/sys/fs/cgroup/unified", CGROUP_CONTROLLER_CPU, err, sizeof(err)),
                     -EOPNOTSUPP);
        cr_assert_str_eq(err, "the cgroup root /sys/fs/cgroup/unified has no cpu controller: schedd needs a unified "
                              "cgroup v2 hierarchy (boot with systemd.unified_cgroup_hierarchy=1 or cgroup_no_v1=all) "
                              "and, under systemd, Delegate=yes on schedd.service");
        cr_assert_str_eq(get("cgroup.subtree_control"), "", "nothing enabled when something is missing");

        put("cgroup.controllers", "cpu pids\n");
        cr_assert_eq(cgroup_root_check(root_fd, "R", CGROUP_CONTROLLER_ALL, err, sizeof(err)), -EOPNOTSUPP);
        snprintf(want, sizeof(want), "the cgroup root R has no io and memory controllers: %s", CGROUP_V2_HINT);
        cr_assert_str_eq(err, want);

        put("cgroup.controllers", "pids\n");
        cr_assert_eq(cgroup_root_check(root_fd, "R", CGROUP_CONTROLLER_ALL, err, sizeof(err)), -EOPNOTSUPP);
        snprintf(want, sizeof(want), "the cgroup root R has no cpu, io and memory controllers: %s", CGROUP_V2_HINT);
        cr_assert_str_eq(err, want);

        /* Not a cgroup v2 directory at all. */
        unlink(strcat(strcpy(want, tree), "/cgroup.controllers"));
        cr_assert_eq(cgroup_root_check(root_fd, "R", CGROUP_CONTROLLER_CPU, err, sizeof(err)), -EOPNOTSUPP);
        snprintf(want, sizeof(want),
                 "the cgroup root R has no cgroup.controllers, so it is not a cgroup v2 "
                 "hierarchy: %s",
                 CGROUP_V2_HINT);
        cr_assert_str_eq(err, want);

        /* errbuf may be NULL. */
        cr_assert_eq(cgroup_root_check(root_fd, "R", CGROUP_CONTROLLER_CPU, NULL, 0), -EOPNOTSUPP);
}

Test(cgroup, open_missing_and_create) {
        CgroupVm *vm = NULL;

        cr_assert_eq(cgroup_vm_open(root_fd, "web", false, &vm), -ENODEV);
        cr_assert_null(vm);

        cr_assert_eq(cgroup_vm_open(root_fd, "machine.slice/web", true, &vm), 0);
        cr_assert_str_eq(cgroup_vm_path(vm), "machine.slice/web");
        struct stat st;
        char path[PATH_MAX * 2];
        snprintf(path, sizeof(path), "%s/machine.slice/web", tree);
        cr_assert_eq(stat(path, &st), 0, "mkdir -p made it");
        cr_assert(S_ISDIR(st.st_mode));
        cr_assert_eq(cgroup_vm_check(vm), 0);
        vm = cgroup_vm_free(vm);
        cr_assert_null(vm);

        /* Opening with create what exists is fine. */
        cr_assert_eq(cgroup_vm_open(root_fd, "machine.slice/web", true, &vm), 0);
        cgroup_vm_free(vm);

        static const char *const bad[] = {"", "/abs", "a/../b", "..", ".", "a//b", "a/", "./a"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                cr_assert_eq(cgroup_vm_open(root_fd, bad[i], true, &vm), -EINVAL, "\"%s\"", bad[i]);
}

Test(cgroup, read_with_pread_through_one_descriptor) {
        CgroupVm *vm;
        CpuStat s;
        const char *text;

        fake_vm(tree, "web");
        cr_assert_eq(cgroup_vm_open(root_fd, "web", false, &vm), 0);
        cr_assert_eq(cgroup_vm_read_cpu_stat(vm, &s), 0);
        cr_assert_eq(s.usage_usec, 1000);

        /* Changed in place (as the kernel's counters change): read again at offset 0. */
        put("web/cpu.stat", "usage_usec 2500\nnr_throttled 3\n");
        cr_assert_eq(cgroup_vm_read_cpu_stat(vm, &s), 0);
        cr_assert_eq(s.usage_usec, 2500);
        cr_assert_eq(s.nr_throttled, 3);

        /* Replaced by another file of the same name: the descriptor opened
         * first is still the one read, which shows the file is opened once. */
        put("web/cpu.stat.new", "usage_usec 99\n");
        char a[PATH_MAX * 2], b[PATH_MAX * 2];
        snprintf(a, sizeof(a), "%s/web/cpu.stat.new", tree);
        snprintf(b, sizeof(b), "%s/web/cpu.stat", tree);
        cr_assert_eq(rename(a, b), 0);
        cr_assert_eq(cgroup_vm_read_cpu_stat(vm, &s), 0);
        cr_assert_eq(s.usage_usec, 2500);

        /* A file bigger than the first buffer is read whole. */
        char big[8192];
        size_t n = 0;
        for (unsigned i = 0; n < sizeof(big) - 64; i++)
                n += (size_t)snprintf(big + n, sizeof(big) - n, "%u:%u rbytes=%u wbytes=1 rios=1 wios=1\n", 8, i, i);
        put("web/io.stat", big);
        cr_assert_eq(cgroup_vm_read(vm, CGROUP_FILE_IO_STAT, &text), 0);
        cr_assert_eq(strlen(text), n);
        IoStat io;
        cr_assert_eq(cgroup_parse_io_stat(text, 8, 100, &io), 1);
        cr_assert_eq(io.rbytes, 100);

        /* Garbage in cpu.stat. */
        put("web/io.stat", "");
        cgroup_vm_free(vm);
        put("web/cpu.stat", "nonsense\n");
        cr_assert_eq(cgroup_vm_open(root_fd, "web", false, &vm), 0);
        cr_assert_eq(cgroup_vm_read_cpu_stat(vm, &s), -EBADMSG);

        /* Knobs are kept write-only. */
        cr_assert_eq(cgroup_vm_read(vm, CGROUP_FILE_CPU_MAX, &text), -EBADF);
        cr_assert_eq(cgroup_vm_read(vm, _CGROUP_FILE_MAX, &text), -EINVAL);
        cgroup_vm_free(vm);
}

Test(cgroup, write_only_when_changed) {
        CgroupVm *vm;

        fake_vm(tree, "web");
        cr_assert_eq(cgroup_vm_open(root_fd, "web", false, &vm), 0);
        cr_assert_eq(cgroup_vm_writes(vm), 0);

        cr_assert(cgroup_vm_differs(vm, CGROUP_FILE_CPU_MAX, "50000 100000"));
        cr_assert_eq(cgroup_vm_write(vm, CGROUP_FILE_CPU_MAX, "50000 100000"), 1);
        cr_assert_str_eq(get("web/cpu.max"), "50000 100000\n");
        cr_assert_eq(cgroup_vm_writes(vm), 1);

        /* The same again: no write, even if the file changed behind us (the
         * comparison is with what schedd wrote, not what the file holds). */
        put("web/cpu.max", "max 100000\n");
        cr_assert_not(cgroup_vm_differs(vm, CGROUP_FILE_CPU_MAX, "50000 100000"));
        for (int i = 0; i < 100; i++)
                cr_assert_eq(cgroup_vm_write(vm, CGROUP_FILE_CPU_MAX, "50000 100000"), 0);
        cr_assert_eq(cgroup_vm_writes(vm), 1);
        cr_assert_str_eq(get("web/cpu.max"), "max 100000\n");

        /* A shorter value after a longer one leaves no tail. */
        cr_assert_eq(cgroup_vm_write(vm, CGROUP_FILE_CPU_MAX, "2000 100000"), 1);
        cr_assert_str_eq(get("web/cpu.max"), "2000 100000\n");
        cr_assert_eq(cgroup_vm_write(vm, CGROUP_FILE_CPU_MAX, "max 100000"), 1);
        cr_assert_str_eq(get("web/cpu.max"), "max 100000\n");
        cr_assert_eq(cgroup_vm_writes(vm), 3);

        /* Each file has its own memory. */
        cr_assert_eq(cgroup_vm_write(vm, CGROUP_FILE_CPU_WEIGHT, "max 100000"), 1);
        cr_assert_eq(cgroup_vm_write(vm, CGROUP_FILE_CPU_WEIGHT, "250"), 1);
        cr_assert_eq(cgroup_vm_write(vm, CGROUP_FILE_CPU_WEIGHT, "250"), 0);
        cr_assert_str_eq(get("web/cpu.weight"), "250\n");
        cr_assert_eq(cgroup_vm_write(vm, CGROUP_FILE_CPU_MAX, "max 100000"), 0);
        cr_assert_eq(cgroup_vm_writes(vm), 5);

        /* io.max: one memory per device. */
        cr_assert_eq(cgroup_vm_write(vm, CGROUP_FILE_IO_MAX, "8:0 rbps=1000 wbps=max riops=max wiops=max"), 1);
        cr_assert_eq(cgroup_vm_write(vm, CGROUP_FILE_IO_MAX, "8:16 rbps=1000 wbps=max riops=max wiops=max"), 1);
        cr_assert_eq(cgroup_vm_write(vm, CGROUP_FILE_IO_MAX, "8:0 rbps=1000 wbps=max riops=max wiops=max"), 0);
        cr_assert_eq(cgroup_vm_write(vm, CGROUP_FILE_IO_MAX, "8:16 rbps=1000 wbps=max riops=max wiops=max"), 0);
        cr_assert_eq(cgroup_vm_write(vm, CGROUP_FILE_IO_MAX, "8:0 rbps=2000 wbps=max riops=max wiops=max"), 1);
        cr_assert_eq(cgroup_vm_write(vm, CGROUP_FILE_IO_MAX, "8:16 rbps=1000 wbps=max riops=max wiops=max"), 0);
        cr_assert_eq(cgroup_vm_writes(vm), 8);

        /* Statistics cannot be written; values must be one line. */
        cr_assert_eq(cgroup_vm_write(vm, CGROUP_FILE_CPU_STAT, "usage_usec 0"), -EINVAL);
        cr_assert_eq(cgroup_vm_write(vm, CGROUP_FILE_MEMORY_MAX, "1\n2"), -EINVAL);
        cr_assert_eq(cgroup_vm_write(vm, _CGROUP_FILE_MAX, "1"), -EINVAL);
        cr_assert_eq(cgroup_vm_writes(vm), 8);
        cgroup_vm_free(vm);
}

Test(cgroup, failed_write_is_forgotten) {
        CgroupVm *vm;

        fake_vm(tree, "web");
        cr_assert_eq(cgroup_vm_open(root_fd, "web", false, &vm), 0);

        /* memory.max is a directory here: opening it for writing fails. */
        fake_rm_rf(tree, "web/memory.max");
        fake_mkdir(tree, "web/memory.max");
        cr_assert_eq(cgroup_vm_write(vm, CGROUP_FILE_MEMORY_MAX, "1073741824"), -EISDIR);
        cr_assert(cgroup_vm_differs(vm, CGROUP_FILE_MEMORY_MAX, "1073741824"), "a failed value is not remembered");

        fake_rm_rf(tree, "web/memory.max");
        put("web/memory.max", "max\n");
        cr_assert_eq(cgroup_vm_write(vm, CGROUP_FILE_MEMORY_MAX, "1073741824"), 1);
        cr_assert_str_eq(get("web/memory.max"), "1073741824\n");
        cgroup_vm_free(vm);
}

Test(cgroup, read_knob) {
        CgroupVm *vm;
        char *text = NULL;

        fake_vm(tree, "web");
        cr_assert_eq(cgroup_vm_open(root_fd, "web", false, &vm), 0);
        cr_assert_eq(cgroup_vm_read_knob(vm, CGROUP_FILE_CPU_MAX, &text), 0);
        cr_assert_str_eq(text, "max 100000");
        free(text);
        cr_assert_eq(cgroup_vm_read_knob(vm, CGROUP_FILE_IO_MAX, &text), 0);
        cr_assert_str_eq(text, "");
        free(text);
        cr_assert_eq(cgroup_vm_read_knob(vm, CGROUP_FILE_IO_WEIGHT, &text), 0);
        cr_assert_str_eq(text, "default 100");
        free(text);

        /* A knob that is not there, in a cgroup that is: no such controller. */
        fake_rm_rf(tree, "web/memory.min");
        text = NULL;
        cr_assert_eq(cgroup_vm_read_knob(vm, CGROUP_FILE_MEMORY_MIN, &text), -EOPNOTSUPP);
        cr_assert_null(text);
        cr_assert_eq(cgroup_vm_write(vm, CGROUP_FILE_MEMORY_MIN, "0"), -EOPNOTSUPP);
        cgroup_vm_free(vm);
}

Test(cgroup, removed_midway_is_gone_not_an_error) {
        CgroupVm *vm;
        CpuStat s;
        const char *text;
        char *knob = NULL;

        fake_vm(tree, "web");
        cr_assert_eq(cgroup_vm_open(root_fd, "web", false, &vm), 0);
        cr_assert_eq(cgroup_vm_read_cpu_stat(vm, &s), 0);
        cr_assert_eq(cgroup_vm_write(vm, CGROUP_FILE_CPU_WEIGHT, "200"), 1);
        cr_assert_eq(cgroup_vm_check(vm), 0);

        fake_rm_rf(tree, "web");

        /* Everything that touches the directory says -ENODEV.  (Descriptors
         * already open on plain files stay readable; cgroupfs fails those
         * with ENODEV, which the real-kernel test below checks.) */
        cr_assert_eq(cgroup_vm_check(vm), -ENODEV);
        cr_assert_eq(cgroup_vm_read(vm, CGROUP_FILE_IO_STAT, &text), -ENODEV);
        cr_assert_eq(cgroup_vm_write(vm, CGROUP_FILE_CPU_MAX, "max 100000"), -ENODEV);
        cr_assert_eq(cgroup_vm_write(vm, CGROUP_FILE_MEMORY_MIN, "0"), -ENODEV);
        cr_assert_eq(cgroup_vm_read_knob(vm, CGROUP_FILE_CPU_MAX, &knob), -ENODEV);

        /* Made anew under the same name: a different cgroup, still gone for this handle. */
        fake_vm(tree, "web");
        cr_assert_eq(cgroup_vm_check(vm), -ENODEV);
        cgroup_vm_free(vm);

        cr_assert_eq(cgroup_vm_open(root_fd, "web", false, &vm), 0);
        cr_assert_eq(cgroup_vm_check(vm), 0);
        cgroup_vm_free(vm);
}

Test(cgroup, resolve_device) {
        unsigned major = 7777, minor = 7777;

        fake_mkdir(tree, "block");
        fake_mkdir(tree, "block/vda");
        put("block/vda/dev", "254:0\n");
        fake_mkdir(tree, "block/bad");
        put("block/bad/dev", "nonsense\n");

        char sys[PATH_MAX * 2];
        snprintf(sys, sizeof(sys), "%s/block", tree);
        cr_assert_eq(cgroup_resolve_device(sys, "vda", &major, &minor), 0);
        cr_assert_eq(major, 254);
        cr_assert_eq(minor, 0);

        cr_assert_eq(cgroup_resolve_device(sys, "8:16", &major, &minor), 0, "MAJ:MIN is taken as it is");
        cr_assert_eq(major, 8);
        cr_assert_eq(minor, 16);

        major = minor = 7777;
        cr_assert_eq(cgroup_resolve_device(sys, "vdz", &major, &minor), -ENODEV);
        cr_assert_eq(cgroup_resolve_device(sys, "bad", &major, &minor), -EBADMSG);
        cr_assert_eq(cgroup_resolve_device(sys, "../block/vda", &major, &minor), -EINVAL);
        cr_assert_eq(cgroup_resolve_device(sys, "..", &major, &minor), -EINVAL);
        cr_assert_eq(cgroup_resolve_device(sys, "", &major, &minor), -EINVAL);
        cr_assert_eq(major, 7777);
        cr_assert_eq(minor, 7777);
}

/* The real thing: a cgroup v2 directory of this machine.  Needs root and a
 * writable cgroup2 mount; skipped elsewhere. */
static bool find_cgroup2(char *buf, size_t size) {
        static const char *const candidates[] = {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"};

        for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
                struct statfs sfs;

                if (statfs(candidates[i], &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC &&
                    access(candidates[i], W_OK) == 0) {
                        snprintf(buf, size, "%s", candidates[i]);
                        return true;
                }
        }
        return false;
}

Test(cgroup_kernel, removed_cgroup_reads_as_gone) {
        char base[PATH_MAX], name[64], path[PATH_MAX * 2];
        CgroupVm *vm;
        CpuStat s;
        int fd;

        if (!find_cgroup2(base, sizeof(base)))
                cr_skip_test("needs root and a writable cgroup v2 mount");

        snprintf(name, sizeof(name), "schedd-test-%d", (int)getpid());
        snprintf(path, sizeof(path), "%s/%s", base, name);
        if (mkdir(path, 0755) < 0)
                cr_skip_test("cannot make a cgroup in %s: %m", base);

        fd = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(fd, 0);
        cr_assert_eq(cgroup_vm_open(fd, name, false, &vm), 0);
        cr_assert_eq(cgroup_vm_read_cpu_stat(vm, &s), 0, "cpu.stat is there without the cpu controller too");
        cr_assert_eq(cgroup_vm_check(vm), 0);

        cr_assert_eq(rmdir(path), 0, "%m");
        cr_assert_eq(cgroup_vm_read_cpu_stat(vm, &s), -ENODEV, "a descriptor kept open reads ENODEV");
        cr_assert_eq(cgroup_vm_check(vm), -ENODEV);
        cgroup_vm_free(vm);
        close(fd);
}
