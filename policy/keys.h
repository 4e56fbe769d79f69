/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Keys of one VM's policy, as `schedctl set` and the bus name them: the
 * dotted path below "vms.VM" in the policy language.
 *
 *   reserve, share, limit, burst          the CPU's (the default resource)
 *   cpu.reserve ... cpu.burst
 *   io.DEV.DIR.reserve ... io.DEV.DIR.burst   DIR: rbps, wbps, riops, wiops
 *   io.DEV.share                          the device-wide share
 *   net.egress.reserve ... net.egress.burst
 *   net.interface
 *   memory.reserve, memory.limit
 *   cgroup, create
 *
 * Values are checked by the policy parser itself: policy_set_key() builds a
 * one-key YAML overlay and parses it, so a value is refused with the very
 * message a policy file would get ("vms.web.cpu.limit: 150% is over 100%").
 *
 * Pure: no I/O, no clock, no logging.  Errors are -EINVAL (an unknown or
 * incomplete key, a bad value), -ERANGE or -EDOM (a value out of range, as
 * the parser says), -ENOMEM; err is filled with "vms.VM.KEY: what".
 */

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "model.h"

/* The longest device name (as the parser allows) plus its NUL. */
#define POLICY_KEY_DEVICE_SIZE 65
/* Room for any canonical key: "io." + a 64-character device + ".riops.reserve". */
#define POLICY_KEY_MAX 96
/* The longest key accepted (with its NUL): far more than the longest real
 * key (POLICY_KEY_MAX), short enough for a message. */
#define POLICY_KEY_INPUT_MAX 256

typedef enum PolicyKeyKind {
        POLICY_KEY_CPU,           /* cpu.FIELD */
        POLICY_KEY_IO,            /* io.DEV.DIR.FIELD */
        POLICY_KEY_IO_SHARE,      /* io.DEV.share */
        POLICY_KEY_NET,           /* net.egress.FIELD */
        POLICY_KEY_NET_INTERFACE, /* net.interface */
        POLICY_KEY_MEMORY,        /* memory.reserve, memory.limit */
        POLICY_KEY_CGROUP,        /* cgroup */
        POLICY_KEY_CREATE,        /* create */
} PolicyKeyKind;

typedef enum PolicyKeyField {
        POLICY_FIELD_RESERVE,
        POLICY_FIELD_SHARE,
        POLICY_FIELD_LIMIT,
        POLICY_FIELD_BURST,
        POLICY_FIELD_NONE, /* keys that are not a resource's field */
} PolicyKeyField;

typedef struct PolicyKey {
        PolicyKeyKind kind;
        PolicyKeyField field;
        IoDir dir;                           /* POLICY_KEY_IO only */
        char device[POLICY_KEY_DEVICE_SIZE]; /* POLICY_KEY_IO and POLICY_KEY_IO_SHARE only */
} PolicyKey;

/* Parses a key of VM `vm` (named in messages only).  0 and *ret, or -EINVAL
 * with err: "vms.web.cpu.reserv: unknown key (expected reserve, share, limit or burst)". */
int policy_key_parse(const char *vm, const char *key, PolicyKey *ret, PolicyError *err);

/* The canonical spelling ("cpu.reserve" for "reserve").  Returns buf. */
char *policy_key_format(const PolicyKey *k, char *buf, size_t size);

/*
 * Sets `key` of VM `vm` in *p to `value`, checked by the policy parser.
 * The VM entry is added if *p has none (p is an overlay).  The new field's
 * location is `file` without a line, so that later validation errors name
 * where the value came from ("/etc/schedd/policy.d/50-schedctl.yaml:
 * vms.web.cpu.reserve: ...").  On error *p is unchanged.
 */
int policy_set_key(Policy *p, const char *vm, const char *key, const char *value, const char *file, PolicyError *err);

/* Unsets the key's field of VM `vm` in *p; an I/O device entry left with
 * nothing set goes too.  1 if it was set, 0 if not (or no such VM). */
int policy_unset_key(Policy *p, const char *vm, const PolicyKey *k);

/* True if the VM entry sets nothing at all (an overlay may drop it). */
bool policy_vm_is_empty(const VmPolicy *vm);

/* The key's value in VM `vm` of *p, spelled as the policy writer spells it
 * ("50%", "200ms", "100MB", "true").  0, or -ENOENT (no such VM, or unset),
 * -ENOBUFS (buf too small). */
int policy_get_key(const Policy *p, const char *vm, const PolicyKey *k, char *buf, size_t size);

/* Calls fn for every key the VM sets, in a fixed order (cgroup, create,
 * cpu, io by device, net, memory), with its canonical name and value.  A
 * negative return of fn stops the walk and is returned; else 0. */
typedef int (*PolicyKeyVisitor)(const char *key, const char *value, void *userdata);
int policy_vm_foreach_key(const VmPolicy *vm, PolicyKeyVisitor fn, void *userdata);
