/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The override file `schedctl set` keeps: one *.yaml file in the override
 * directory (OVERRIDE_FILE_NAME), laid over the admin's policy like any
 * other override, never the admin's own files.
 *
 * It is replaced atomically (a temp file, fsync, rename, fsync of the
 * directory), so a crash or a full disk leaves the old file or the new one,
 * never half of one.  An override that sets nothing is removed.
 *
 * No logging: errors come back as -errno with a PolicyError message naming
 * the file ("/etc/schedd/policy.d/50-schedctl.yaml: cannot write: No space
 * left on device").
 */

#include "policy/error.h"
#include "policy/model.h"

/* 50: after the distribution's and the admin's early overrides (00-49),
 * before late ones (51-99) an admin may keep to pin a value against it. */
#define OVERRIDE_FILE_NAME "50-schedctl.yaml"

/* "DIR/NAME" in a malloc()ed string, or NULL on OOM. */
char *override_path(const char *dir, const char *name);

/* Parses the override file at `path` into *ret (policy_init()ed by the
 * caller); a missing file is an empty override.  0 or -errno. */
int override_read(const char *path, Policy *ret, PolicyError *err);

/*
 * Replaces `name` in `dir` with the YAML of *p, atomically and durably; a
 * *p with no VM removes the file.  The directory is made (0755) if missing.
 * 0, or -errno with err filled and the old file untouched.
 */
int override_write(const char *dir, const char *name, const Policy *p, PolicyError *err);

/*
 * Lays the *.yaml files of `dir` (may be NULL or missing) over *policy in
 * strcmp() order, as policy_load() does, except that the override `name`
 * is *replacement (where it sorts, whether the file exists or not; NULL:
 * the file as it is).  So a change can be validated as it will load,
 * before it is written.  0, or -errno with err filled and *policy partly
 * merged (to be thrown away).
 */
int override_merge_dir(const char *dir, const char *name, const Policy *replacement, Policy *policy, PolicyError *err);

/* Drops the VM entries that set nothing. */
void override_prune(Policy *p);
