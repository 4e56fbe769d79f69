/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * cgroup v2 file access for one VM: thin I/O, no policy.
 *
 * Each file is opened once, on first use, and kept open (O_RDONLY for the
 * statistics, O_WRONLY for the knobs); statistics are read with pread() at
 * offset 0, and a knob is written only when the value differs from the one
 * schedd last wrote there (io.max: per device).  Writes go out with a
 * trailing newline, as `echo` writes them.
 *
 * A cgroup that vanished is expected (a VM stopped): every call reports it
 * as -ENODEV, whichever of ENOENT or ENODEV the kernel gave.
 *
 * The same code runs against a fake tree of plain files (tests): there a
 * write also cuts the file to the value's length, which cgroupfs does not
 * need (and is not asked to).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgroup-format.h"

typedef enum CgroupFile {
        CGROUP_FILE_CPU_STAT,
        CGROUP_FILE_IO_STAT,
        CGROUP_FILE_CPU_MAX,
        CGROUP_FILE_CPU_WEIGHT,
        CGROUP_FILE_CPU_MAX_BURST,
        CGROUP_FILE_IO_MAX,
        CGROUP_FILE_IO_WEIGHT,
        CGROUP_FILE_MEMORY_MIN,
        CGROUP_FILE_MEMORY_MAX,
        CGROUP_FILE_CPU_PRESSURE, /* a statistic: PSI, where the kernel has it on */
        _CGROUP_FILE_MAX,
} CgroupFile;

/* "cpu.stat", ...; NULL out of range. */
const char *cgroup_file_to_string(CgroupFile f);
/* CgroupFile, or -EINVAL. */
int cgroup_file_from_string(const char *s);
/* A knob schedd may write (opened O_WRONLY), as opposed to a statistic. */
bool cgroup_file_is_knob(CgroupFile f);
/* The controller that provides the file. */
CgroupController cgroup_file_controller(CgroupFile f);

/* The hint every "controller missing" error ends with. */
#define CGROUP_V2_HINT                                                                                                \
        "schedd needs a unified cgroup v2 hierarchy (boot with systemd.unified_cgroup_hierarchy=1 or "                \
        "cgroup_no_v1=all) and, under systemd, Delegate=yes on schedd.service"

/*
 * Checks that the cgroup root offers the controllers of `needed`
 * (cgroup.controllers) and that they are enabled for its children
 * (cgroup.subtree_control), enabling the missing ones ("+cpu +io").
 * root_fd is the root directory (O_PATH is enough).  0, or -errno with
 * errbuf (may be NULL) holding the message for the log:
 *   "the cgroup root /sys/fs/cgroup/unified has no cpu controller: schedd needs ..."
 * `root_name` names the root in messages.
 */
int cgroup_root_check(int root_fd, const char *root_name, unsigned needed, char *errbuf, size_t errbuf_size);

/* Enables the controllers of `mask` in dir/cgroup.subtree_control (dir
 * relative to root_fd, "" or "." for the root itself) where they are not
 * yet.  1 if it wrote, 0 if nothing was missing, or -errno. */
int cgroup_enable_subtree(int root_fd, const char *dir, unsigned mask);

typedef struct CgroupVm CgroupVm;

/*
 * Opens the VM's cgroup `path` (relative to root_fd, which must stay open
 * as long as the CgroupVm).  With `create`, a missing cgroup is made
 * (parents too, as mkdir -p).  0 and *ret, or:
 *   -ENODEV  no such cgroup (and not `create`)
 *   -EINVAL  path is empty, absolute, or has a "." or ".." component
 *   other -errno
 */
int cgroup_vm_open(int root_fd, const char *path, bool create, CgroupVm **ret);
CgroupVm *cgroup_vm_free(CgroupVm *vm); /* returns NULL */

const char *cgroup_vm_path(const CgroupVm *vm);

/*
 * Reads a statistic (or any file) with pread() at offset 0 into the VM's
 * buffer: *ret_text stays valid until the next read.  0, or:
 *   -ENODEV      the cgroup is gone
 *   -EOPNOTSUPP  the cgroup is there but the file is not (controller not
 *                enabled for it)
 *   other -errno
 */
int cgroup_vm_read(CgroupVm *vm, CgroupFile f, const char **ret_text);
/* cpu.stat, read and parsed.  As cgroup_vm_read(), plus -EBADMSG. */
int cgroup_vm_read_cpu_stat(CgroupVm *vm, CpuStat *ret);

/* True if cgroup_vm_write() of this value would write (it differs from the
 * last value written, or nothing was written yet). */
bool cgroup_vm_differs(const CgroupVm *vm, CgroupFile f, const char *value);
/*
 * Writes a knob, unless `value` is what schedd last wrote there (io.max:
 * last wrote for the device the value starts with).  1 written, 0 unchanged,
 * or -errno as cgroup_vm_read() (-EINVAL: a statistic, or the kernel refused
 * the value).  After a failed write the value is forgotten, so the next
 * write goes out again.
 */
int cgroup_vm_write(CgroupVm *vm, CgroupFile f, const char *value);
/* Writes counted so far (writes that went out, not skipped ones). */
uint64_t cgroup_vm_writes(const CgroupVm *vm);
/* Forgets what was last written to a knob and closes its kept descriptor, so
 * the next cgroup_vm_write() goes out, through a freshly opened file: after
 * another writer changed it, or the file was removed and made again (its
 * controller switched off and on). */
void cgroup_vm_forget(CgroupVm *vm, CgroupFile f);

/* Reads a knob's current content through a fresh O_RDONLY descriptor (the
 * kept one is write-only), for recording an original.  A malloc()ed string
 * without the trailing newline, or -errno as cgroup_vm_read(). */
int cgroup_vm_read_knob(CgroupVm *vm, CgroupFile f, char **ret_text);

/* 0 if the cgroup is still there (the same directory, not one made anew
 * under the same name), -ENODEV if gone. */
int cgroup_vm_check(CgroupVm *vm);

/*
 * A block device name of the policy ("vda") to its numbers, through
 * `sys_class_block`/NAME/dev (normally "/sys/class/block").  A name that
 * already is "MAJ:MIN" is taken as it is.  0, or -ENODEV (no such device),
 * -EINVAL (a name with '/'), -EBADMSG, other -errno.
 */
#define CGROUP_SYS_CLASS_BLOCK "/sys/class/block"
int cgroup_resolve_device(const char *sys_class_block, const char *name, unsigned *ret_major, unsigned *ret_minor);
