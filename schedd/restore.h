/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Leaving cgroups as schedd found them.
 *
 * Before schedd first changes a cgroup knob of a VM (io.max: of one device
 * of a VM), it reads the knob's original value and records it in a small
 * state file for that VM under the state directory, written atomically
 * (temp file, fsync, rename), and only then writes the new value.  On exit
 * every recorded original is written back and the state file removed.
 *
 * If schedd dies without restoring, the state files stay; the next start
 * reconciles them first (restore_reconcile()), so that what the new run
 * records as "original" is again the value from before schedd, not one
 * schedd wrote.
 *
 * State file: <state_dir>/<escaped cgroup path>.state, text:
 *
 *   # schedd: original values of the cgroup files it changed
 *   cgroup machine.slice/vm1
 *   cpu.max max 100000
 *   io.max 8:0 rbps=max wbps=max riops=max wiops=max
 *
 * Each entry line is "FILE VALUE": VALUE is written back to FILE as it is.
 */

#include <stdbool.h>
#include <stddef.h>

#include "cgroup.h"

#define RESTORE_STATE_SUFFIX ".state"

typedef struct RestoreVm RestoreVm;

/*
 * The restore record of the cgroup `cgroup_path` (relative to the cgroup
 * root).  state_dir_fd is the state directory, opened O_RDONLY|O_DIRECTORY,
 * and must stay open as long as the RestoreVm.  A state file already there
 * (left by a run whose restore failed) is loaded: its originals stay the
 * originals.  0 and *ret, or -ENOMEM, -ENAMETOOLONG, -EBADMSG (a state file
 * that is not one, or is another cgroup's), other -errno.
 */
int restore_vm_new(int state_dir_fd, const char *cgroup_path, RestoreVm **ret);
/* Frees the memory only: the state file stays, as after a crash. */
RestoreVm *restore_vm_free(RestoreVm *r);

/* Entries recorded (files schedd changed and has not restored). */
size_t restore_vm_entries(const RestoreVm *r);

/*
 * The one way schedd changes a knob: if `value` differs from what the
 * knob last got (cgroup_vm_differs()), records the knob's original first
 * (once), saves the state, then writes.  Returns as cgroup_vm_write(): 1
 * written, 0 unchanged, -errno.  Nothing is written if the original could
 * not be recorded.
 */
int restore_vm_write(RestoreVm *r, CgroupVm *cg, CgroupFile f, const char *value);

/*
 * Writes back the original of one knob (io.max: of `device`, "MAJ:MIN";
 * NULL for other files) and forgets it.  0 also if nothing was recorded
 * for it; -ENODEV if the cgroup is gone (the entry is forgotten: there is
 * nothing left to restore); other -errno (the entry stays).
 */
int restore_vm_undo_file(RestoreVm *r, CgroupVm *cg, CgroupFile f, const char *device);

/*
 * Writes back every original and removes the state file.  0, or the first
 * error: entries that could not be written back stay recorded (and on disk,
 * for the next start).  A gone cgroup is not an error: the state is dropped.
 */
int restore_vm_undo(RestoreVm *r, CgroupVm *cg);

/* Forgets everything and removes the state file: the cgroup is gone. */
int restore_vm_discard(RestoreVm *r);

typedef struct RestoreReconcile {
        unsigned files;    /* state files found */
        unsigned restored; /* knobs written back */
        unsigned gone;     /* state files of cgroups that no longer exist */
        unsigned failed;   /* state files kept (or dropped as unreadable) */
        char message[512]; /* the first failure, "" if none */
} RestoreReconcile;

/*
 * At start: writes back the originals of every state file in the state
 * directory into the cgroups below root_fd, and removes the files that are
 * done (and stale temp files).  Files that could not be fully restored stay
 * (restore_vm_new() loads them).  0 and *ret filled, or -errno if the
 * directory cannot be read.
 */
int restore_reconcile(int state_dir_fd, int root_fd, RestoreReconcile *ret);

/* The state file name for a cgroup path: [A-Za-z0-9_-] and inner '.' kept,
 * every other byte "%XX", then RESTORE_STATE_SUFFIX.  Length or -ENAMETOOLONG. */
int restore_state_name(const char *cgroup_path, char *buf, size_t buf_size);
