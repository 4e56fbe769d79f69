/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The policy model: a plain C picture of a policy file, as written.
 *
 * Every field remembers whether it was set and where (file, line, column),
 * so that overlays can be merged field by field and errors found after the
 * merge still point at the line that caused them.  Amounts are kept as the
 * admin wrote them (a percentage stays a percentage); policy_validate()
 * turns them into numbers against the host's capacities.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct SourceLoc {
        const char *file; /* owned by the Policy's file table, never NULL once set */
        unsigned line;    /* 1-based */
        unsigned column;  /* 1-based */
} SourceLoc;

typedef enum AmountKind {
        AMOUNT_UNSET = 0,
        AMOUNT_ABSOLUTE, /* value in the field's base unit (see below) */
        AMOUNT_PERCENT,  /* value in parts per million of the capacity */
        AMOUNT_AUTO,     /* "auto" (host.cpus, host.memory only) */
} AmountKind;

typedef struct Amount {
        AmountKind kind;
        uint64_t value;
        SourceLoc loc;
} Amount;

static inline bool amount_is_set(const Amount *a) {
        return a->kind != AMOUNT_UNSET;
}

/*
 * Base units of absolute amounts:
 *   CPU rates:     micro-CPUs (1 CPU = 1,000,000)          "0.5", "500m"
 *   CPU burst:     microseconds of CPU time               "200ms"
 *   I/O bps:       bytes per second; burst in bytes       "50MB"
 *   I/O iops:      operations per second; burst in ops    "2000"
 *   net egress:    bits per second; burst in bytes        "100Mbit", "1MB"
 *   memory:        bytes                                   "1G"
 *   share:         a plain weight 0..10000
 */
typedef struct ResourcePolicy {
        Amount reserve;
        Amount share;
        Amount limit;
        Amount burst;
} ResourcePolicy;

typedef enum IoDir {
        IO_RBPS,
        IO_WBPS,
        IO_RIOPS,
        IO_WIOPS,
        _IO_DIR_MAX,
} IoDir;

/* "rbps", "wbps", "riops", "wiops" */
const char *io_dir_to_string(IoDir d);
int io_dir_from_string(const char *s); /* IoDir, or -EINVAL */

typedef struct VmIoDevice {
        char *name;   /* device name as in host.devices ("vda") */
        Amount share; /* device-wide share; a direction's own share wins */
        ResourcePolicy dir[_IO_DIR_MAX];
        SourceLoc loc;
} VmIoDevice;

typedef struct VmPolicy {
        char *name;
        SourceLoc loc;
        char *cgroup; /* NULL: <cgroup root>/<name> */
        SourceLoc cgroup_loc;
        int create; /* -1 unset, 0 false, 1 true: create the cgroup if missing */
        SourceLoc create_loc;
        ResourcePolicy cpu;
        VmIoDevice *io;
        size_t n_io;
        ResourcePolicy net_egress;
        char *net_interface; /* tap interface of a microVM, NULL if none */
        SourceLoc net_interface_loc;
        Amount mem_reserve;
        Amount mem_limit;
        /* An index of io by device name, as Policy.vm_index; kept by vm_add_io() and vm_remove_io(). */
        size_t *io_index;
        size_t io_index_cap;
} VmPolicy;

typedef struct HostDevice {
        char *name;
        Amount cap[_IO_DIR_MAX]; /* declared capacity per direction */
        SourceLoc loc;
} HostDevice;

typedef struct HostInterface {
        char *name;
        Amount egress; /* bits per second */
        SourceLoc loc;
} HostInterface;

typedef struct HostPolicy {
        Amount cpus;   /* AUTO or ABSOLUTE micro-CPUs; unset means auto */
        Amount memory; /* AUTO or ABSOLUTE bytes; unset means auto */
        HostDevice *devices;
        size_t n_devices;
        HostInterface *interfaces;
        size_t n_interfaces;
        /* Indexes by name, as Policy.vm_index; kept by the add functions below. */
        size_t *device_index;
        size_t device_index_cap;
        size_t *interface_index;
        size_t interface_index_cap;
} HostPolicy;

typedef struct Policy {
        HostPolicy host;
        VmPolicy *vms;
        size_t n_vms;
        char **files; /* every file name a SourceLoc points at */
        size_t n_files;
        /* An index of vms by name (open addressing; entries are index + 1, 0
         * is empty), kept by the functions below; NULL until the first VM. */
        size_t *vm_index;
        size_t vm_index_cap; /* a power of two, at least twice n_vms */
} Policy;

void policy_init(Policy *p);
void policy_done(Policy *p); /* frees everything; p is left as after policy_init() */

/* Interns a file name; the returned pointer lives as long as the Policy. NULL on OOM. */
const char *policy_intern_file(Policy *p, const char *file);

/* The hash of the name indexes under `seed` (model.c says why there is one);
 * declared for the tests, which make names that collide. */
size_t policy_name_hash(const char *s, size_t seed);

/* Find or add; NULL on OOM (add) or not found (find). */
VmPolicy *policy_find_vm(const Policy *p, const char *name);
VmPolicy *policy_add_vm(Policy *p, const char *name);
int policy_remove_vm(Policy *p, const char *name); /* 0, or -ENOENT */
VmIoDevice *vm_find_io(const VmPolicy *vm, const char *device);
VmIoDevice *vm_add_io(VmPolicy *vm, const char *device);
int vm_remove_io(VmPolicy *vm, const char *device); /* 0, -ENOENT or -ENOMEM (then removed, index dropped) */
HostDevice *policy_find_device(const Policy *p, const char *name);
HostDevice *policy_add_device(Policy *p, const char *name);
HostInterface *policy_find_interface(const Policy *p, const char *name);
HostInterface *policy_add_interface(Policy *p, const char *name);

/*
 * Overlays: every field set in `overlay` replaces the same field of `base`;
 * VMs, devices and interfaces only in `overlay` are added.  Locations are
 * carried over (file names re-interned into base).  0 or -ENOMEM; on error
 * base may be partly merged, so merge into a scratch copy when it matters.
 */
int policy_merge(Policy *base, const Policy *overlay);

/* Deep copy; 0 or -ENOMEM. */
int policy_copy(Policy *dst, const Policy *src);
