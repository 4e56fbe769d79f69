/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The policy model: tables of VMs, devices and interfaces, file-name
 * interning, overlays and deep copies.  Pure: no I/O, no logging.
 *
 * Arrays grow with realloc(), so a pointer returned by an add function is
 * valid until the next add or remove on the same table.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static const char *const io_dir_names[_IO_DIR_MAX] = {
        [IO_RBPS] = "rbps",
        [IO_WBPS] = "wbps",
        [IO_RIOPS] = "riops",
        [IO_WIOPS] = "wiops",
};

const char *io_dir_to_string(IoDir d) {
        if ((unsigned)d >= _IO_DIR_MAX)
                return NULL;
        return io_dir_names[d];
}

int io_dir_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        for (int d = 0; d < _IO_DIR_MAX; d++)
                if (strcmp(s, io_dir_names[d]) == 0)
                        return d;
        return -EINVAL;
}

/*
 * Grows *array (of *n elements of `size` bytes) by one zeroed element.  The
 * allocation doubles whenever *n reaches a power of two, so n appends cost
 * O(n) copying in all, not O(n^2) (one realloc per element made a 10,000-VM
 * policy take 45 s under ASan).  Nothing else is stored: a table holding n
 * elements always has room for the next power of two, also after removals
 * (which only shrink n), and a table emptied to n == 0 is freed by its owner.
 */
static void *array_append(void **array, size_t *n, size_t size) {
        char *a = *array;

        if (*n >= SIZE_MAX / size / 2)
                return NULL;
        if (*n == 0 || (*n & (*n - 1)) == 0) {
                a = realloc(*array, (*n ? 2 * *n : 1) * size);
                if (!a)
                        return NULL;
                *array = a;
        }
        memset(a + *n * size, 0, size);
        return a + (*n)++ * size;
}

static void vm_io_device_done(VmIoDevice *d) {
        free(d->name);
        d->name = NULL;
}

static void vm_policy_done(VmPolicy *vm) {
        free(vm->name);
        free(vm->cgroup);
        for (size_t i = 0; i < vm->n_io; i++)
                vm_io_device_done(&vm->io[i]);
        free(vm->io);
        free(vm->net_interface);
        free(vm->io_index);
        *vm = (VmPolicy){.create = -1};
}

void policy_init(Policy *p) {
        *p = (Policy){};
}

void policy_done(Policy *p) {
        for (size_t i = 0; i < p->n_vms; i++)
                vm_policy_done(&p->vms[i]);
        free(p->vms);
        for (size_t i = 0; i < p->host.n_devices; i++)
                free(p->host.devices[i].name);
        free(p->host.devices);
        for (size_t i = 0; i < p->host.n_interfaces; i++)
                free(p->host.interfaces[i].name);
        free(p->host.interfaces);
        free(p->host.device_index);
        free(p->host.interface_index);
        for (size_t i = 0; i < p->n_files; i++)
                free(p->files[i]);
        free(p->files);
        free(p->vm_index);
        policy_init(p);
}

const char *policy_intern_file(Policy *p, const char *file) {
        char **slot, *copy;

        if (!file)
                return NULL;
        for (size_t i = 0; i < p->n_files; i++)
                if (strcmp(p->files[i], file) == 0)
                        return p->files[i];

        copy = strdup(file);
        if (!copy)
                return NULL;
        slot = array_append((void **)&p->files, &p->n_files, sizeof(char *));
        if (!slot) {
                free(copy);
                return NULL;
        }
        *slot = copy;
        return copy;
}

/*
 * Name indexes.  Each table (VMs, host devices, host interfaces, a VM's io
 * devices) keeps an open-addressing index of its names beside the array:
 * slots hold index + 1, 0 is empty, the capacity is a power of two at
 * least twice the table, so lookups cost O(1) on average and a table of
 * 100,000 names fills in linear time.  A table without an index (a model
 * built by hand, or after an allocation failure in a removal) is searched
 * linearly, so a missing index is slow, never wrong.
 */

/* The smallest index: 16 slots hold 8 names before the first rebuild. */
#define NAME_INDEX_MIN 16

typedef struct NameTable {
        size_t **slots;
        size_t *cap;
        const void *base; /* the array */
        size_t n;         /* elements in it */
        size_t stride;    /* sizeof one element */
        size_t name_off;  /* offsetof its char *name */
} NameTable;

/*
 * Names come from whoever sends a policy (the bus takes one from any
 * caller), so a fixed hash would let them pick names that all land in one
 * run of slots and make every lookup linear again.  The hash is FNV-1a from
 * a basis that depends on a seed, then mixed so that every bit of it reaches
 * the slot bits; an insertion that has to probe past NAME_PROBE_MAX slots
 * (at a load of one half, random names almost never do) rebuilds the index
 * with the next seed.  Names that collide under one seed do not under the
 * next, so the work stays near-linear whatever the names.  The seed lives in
 * the slot after the last (slots[cap]).
 */
#define NAME_PROBE_MAX 64U

/* Rebuilds with new seeds at most this often in a row (each costs O(n)). */
#define NAME_RESEEDS_MAX 8U

size_t policy_name_hash(const char *s, size_t seed) {
        uint64_t h = 14695981039346656037ULL ^ ((uint64_t)seed * 0x9e3779b97f4a7c15ULL);

        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 1099511628211ULL;
        /* MurmurHash3's finalizer: the low bits depend on every bit above. */
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 33;
        h *= 0xc4ceb9fe1a85ec53ULL;
        h ^= h >> 33;
        return (size_t)h;
}

static const char *table_name(const NameTable *t, size_t i) {
        return *(char *const *)((const char *)t->base + i * t->stride + t->name_off);
}

/* The element's position, or SIZE_MAX. */
static size_t table_find(const NameTable *t, const char *name) {
        size_t *slots = *t->slots, cap = *t->cap;

        if (!slots) {
                for (size_t i = 0; i < t->n; i++)
                        if (strcmp(table_name(t, i), name) == 0)
                                return i;
                return SIZE_MAX;
        }
        for (size_t h = policy_name_hash(name, slots[cap]) & (cap - 1); slots[h]; h = (h + 1) & (cap - 1))
                if (strcmp(table_name(t, slots[h] - 1), name) == 0)
                        return slots[h] - 1;
        return SIZE_MAX;
}

/* Slots probed past the name's own. */
static size_t slots_insert(size_t *slots, size_t cap, const char *name, size_t i) {
        size_t h = policy_name_hash(name, slots[cap]) & (cap - 1), probes = 0;

        while (slots[h]) {
                h = (h + 1) & (cap - 1);
                probes++;
        }
        slots[h] = i + 1;
        return probes;
}

/* Indexes the table's n elements afresh, with room for `room` names, under
 * `seed` or (when some name probes too far) the next ones. */
static int table_rebuild(const NameTable *t, size_t room, size_t seed) {
        size_t cap = NAME_INDEX_MIN, *slots = NULL;

        while (cap / 2 < room) {
                if (cap > SIZE_MAX / 4)
                        return -ENOMEM;
                cap *= 2;
        }
        for (unsigned tries = 0;; tries++, seed++) {
                bool far = false;

                free(slots);
                slots = calloc(cap + 1, sizeof(*slots));
                if (!slots)
                        return -ENOMEM;
                slots[cap] = seed;
                for (size_t i = 0; i < t->n; i++)
                        if (slots_insert(slots, cap, table_name(t, i), i) > NAME_PROBE_MAX)
                                far = true;
                if (!far || tries >= NAME_RESEEDS_MAX)
                        break;
        }
        free(*t->slots);
        *t->slots = slots;
        *t->cap = cap;
        return 0;
}

/* Makes room in the index for one more name, before the array grows, so
 * that a failure leaves the table as it was. */
static int table_reserve(const NameTable *t) {
        if (*t->slots && 2 * (t->n + 1) <= *t->cap)
                return 0;
        return table_rebuild(t, t->n + 1, *t->slots ? (*t->slots)[*t->cap] : 0);
}

/* Indexes the element just appended at t->n - 1; a name that probes too
 * far reseeds the index (if that finds no memory, the index as it is works). */
static void table_added(const NameTable *t) {
        size_t *slots = *t->slots, cap = *t->cap;

        if (slots_insert(slots, cap, table_name(t, t->n - 1), t->n - 1) > NAME_PROBE_MAX)
                (void)table_rebuild(t, t->n, slots[cap] + 1);
}

/* After element i left the array (later ones moved down, t->n already one
 * less): index afresh; on failure drop the index, so lookups go linear. */
static int table_removed(const NameTable *t) {
        if (table_rebuild(t, t->n, *t->slots ? (*t->slots)[*t->cap] : 0) < 0) {
                free(*t->slots);
                *t->slots = NULL;
                *t->cap = 0;
                return -ENOMEM;
        }
        return 0;
}

#define VM_TABLE(p)                                                                                                   \
        ((NameTable){&(p)->vm_index, &(p)->vm_index_cap, (p)->vms, (p)->n_vms, sizeof(VmPolicy),                      \
                     offsetof(VmPolicy, name)})
#define IO_TABLE(vm)                                                                                                  \
        ((NameTable){&(vm)->io_index, &(vm)->io_index_cap, (vm)->io, (vm)->n_io, sizeof(VmIoDevice),                  \
                     offsetof(VmIoDevice, name)})
#define DEVICE_TABLE(p)                                                                                               \
        ((NameTable){&(p)->host.device_index, &(p)->host.device_index_cap, (p)->host.devices, (p)->host.n_devices,    \
                     sizeof(HostDevice), offsetof(HostDevice, name)})
#define INTERFACE_TABLE(p)                                                                                            \
        ((NameTable){&(p)->host.interface_index, &(p)->host.interface_index_cap, (p)->host.interfaces,                \
                     (p)->host.n_interfaces, sizeof(HostInterface), offsetof(HostInterface, name)})

/* The find functions take const tables; the index pointers are only read. */
#define CONST_CAST(type, x) ((type)(uintptr_t)(x))

VmPolicy *policy_find_vm(const Policy *p, const char *name) {
        Policy *q = CONST_CAST(Policy *, p);
        size_t i = table_find(&VM_TABLE(q), name);
        return i == SIZE_MAX ? NULL : &q->vms[i];
}

VmPolicy *policy_add_vm(Policy *p, const char *name) {
        VmPolicy *vm;
        char *copy;

        vm = policy_find_vm(p, name);
        if (vm)
                return vm;

        if (table_reserve(&VM_TABLE(p)) < 0)
                return NULL;
        copy = strdup(name);
        if (!copy)
                return NULL;
        vm = array_append((void **)&p->vms, &p->n_vms, sizeof(VmPolicy));
        if (!vm) {
                free(copy);
                return NULL;
        }
        vm->name = copy;
        vm->create = -1;
        table_added(&VM_TABLE(p));
        return vm;
}

int policy_remove_vm(Policy *p, const char *name) {
        VmPolicy *vm = policy_find_vm(p, name);
        size_t i;

        if (!vm)
                return -ENOENT;
        i = (size_t)(vm - p->vms);
        vm_policy_done(vm);
        memmove(&p->vms[i], &p->vms[i + 1], (p->n_vms - i - 1) * sizeof(VmPolicy));
        p->n_vms--;
        if (p->n_vms == 0) {
                free(p->vms);
                p->vms = NULL;
        }
        return table_removed(&VM_TABLE(p));
}

VmIoDevice *vm_find_io(const VmPolicy *vm, const char *device) {
        VmPolicy *v = CONST_CAST(VmPolicy *, vm);
        size_t i = table_find(&IO_TABLE(v), device);
        return i == SIZE_MAX ? NULL : &v->io[i];
}

VmIoDevice *vm_add_io(VmPolicy *vm, const char *device) {
        VmIoDevice *d;
        char *copy;

        d = vm_find_io(vm, device);
        if (d)
                return d;

        if (table_reserve(&IO_TABLE(vm)) < 0)
                return NULL;
        copy = strdup(device);
        if (!copy)
                return NULL;
        d = array_append((void **)&vm->io, &vm->n_io, sizeof(VmIoDevice));
        if (!d) {
                free(copy);
                return NULL;
        }
        d->name = copy;
        table_added(&IO_TABLE(vm));
        return d;
}

int vm_remove_io(VmPolicy *vm, const char *device) {
        VmIoDevice *d = vm_find_io(vm, device);
        size_t i;

        if (!d)
                return -ENOENT;
        i = (size_t)(d - vm->io);
        vm_io_device_done(d);
        memmove(&vm->io[i], &vm->io[i + 1], (vm->n_io - i - 1) * sizeof(VmIoDevice));
        vm->n_io--;
        if (vm->n_io == 0) {
                free(vm->io);
                vm->io = NULL;
        }
        return table_removed(&IO_TABLE(vm));
}

HostDevice *policy_find_device(const Policy *p, const char *name) {
        Policy *q = CONST_CAST(Policy *, p);
        size_t i = table_find(&DEVICE_TABLE(q), name);
        return i == SIZE_MAX ? NULL : &q->host.devices[i];
}

HostDevice *policy_add_device(Policy *p, const char *name) {
        HostDevice *d;
        char *copy;

        d = policy_find_device(p, name);
        if (d)
                return d;

        if (table_reserve(&DEVICE_TABLE(p)) < 0)
                return NULL;
        copy = strdup(name);
        if (!copy)
                return NULL;
        d = array_append((void **)&p->host.devices, &p->host.n_devices, sizeof(HostDevice));
        if (!d) {
                free(copy);
                return NULL;
        }
        d->name = copy;
        table_added(&DEVICE_TABLE(p));
        return d;
}

HostInterface *policy_find_interface(const Policy *p, const char *name) {
        Policy *q = CONST_CAST(Policy *, p);
        size_t i = table_find(&INTERFACE_TABLE(q), name);
        return i == SIZE_MAX ? NULL : &q->host.interfaces[i];
}

HostInterface *policy_add_interface(Policy *p, const char *name) {
        HostInterface *iface;
        char *copy;

        iface = policy_find_interface(p, name);
        if (iface)
                return iface;

        if (table_reserve(&INTERFACE_TABLE(p)) < 0)
                return NULL;
        copy = strdup(name);
        if (!copy)
                return NULL;
        iface = array_append((void **)&p->host.interfaces, &p->host.n_interfaces, sizeof(HostInterface));
        if (!iface) {
                free(copy);
                return NULL;
        }
        iface->name = copy;
        table_added(&INTERFACE_TABLE(p));
        return iface;
}

/* Copies a location from another Policy, re-interning its file name. */
static int loc_copy(Policy *base, SourceLoc *dst, const SourceLoc *src) {
        const char *file = NULL;

        if (src->file) {
                file = policy_intern_file(base, src->file);
                if (!file)
                        return -ENOMEM;
        }
        *dst = (SourceLoc){.file = file, .line = src->line, .column = src->column};
        return 0;
}

static int amount_merge(Policy *base, Amount *dst, const Amount *src) {
        SourceLoc loc;
        int r;

        if (!amount_is_set(src))
                return 0;
        r = loc_copy(base, &loc, &src->loc);
        if (r < 0)
                return r;
        *dst = (Amount){.kind = src->kind, .value = src->value, .loc = loc};
        return 0;
}

static int resource_merge(Policy *base, ResourcePolicy *dst, const ResourcePolicy *src) {
        int r;

        r = amount_merge(base, &dst->reserve, &src->reserve);
        if (r < 0)
                return r;
        r = amount_merge(base, &dst->share, &src->share);
        if (r < 0)
                return r;
        r = amount_merge(base, &dst->limit, &src->limit);
        if (r < 0)
                return r;
        return amount_merge(base, &dst->burst, &src->burst);
}

/* Replaces *dst with a copy of src (when src is set), and its location. */
static int string_merge(Policy *base, char **dst, SourceLoc *dst_loc, const char *src, const SourceLoc *src_loc) {
        SourceLoc loc;
        char *copy;
        int r;

        if (!src)
                return 0;
        r = loc_copy(base, &loc, src_loc);
        if (r < 0)
                return r;
        copy = strdup(src);
        if (!copy)
                return -ENOMEM;
        free(*dst);
        *dst = copy;
        *dst_loc = loc;
        return 0;
}

static int vm_merge(Policy *base, const VmPolicy *src) {
        bool is_new = !policy_find_vm(base, src->name);
        VmPolicy *vm;
        int r;

        vm = policy_add_vm(base, src->name);
        if (!vm)
                return -ENOMEM;
        if (is_new) {
                r = loc_copy(base, &vm->loc, &src->loc);
                if (r < 0)
                        return r;
        }

        r = string_merge(base, &vm->cgroup, &vm->cgroup_loc, src->cgroup, &src->cgroup_loc);
        if (r < 0)
                return r;
        if (src->create >= 0) {
                r = loc_copy(base, &vm->create_loc, &src->create_loc);
                if (r < 0)
                        return r;
                vm->create = src->create;
        }

        r = resource_merge(base, &vm->cpu, &src->cpu);
        if (r < 0)
                return r;

        for (size_t i = 0; i < src->n_io; i++) {
                const VmIoDevice *s = &src->io[i];
                bool io_new = !vm_find_io(vm, s->name);
                VmIoDevice *d;

                d = vm_add_io(vm, s->name);
                if (!d)
                        return -ENOMEM;
                if (io_new) {
                        r = loc_copy(base, &d->loc, &s->loc);
                        if (r < 0)
                                return r;
                }
                r = amount_merge(base, &d->share, &s->share);
                if (r < 0)
                        return r;
                for (int dir = 0; dir < _IO_DIR_MAX; dir++) {
                        r = resource_merge(base, &d->dir[dir], &s->dir[dir]);
                        if (r < 0)
                                return r;
                }
        }

        r = resource_merge(base, &vm->net_egress, &src->net_egress);
        if (r < 0)
                return r;
        r = string_merge(base, &vm->net_interface, &vm->net_interface_loc, src->net_interface,
                         &src->net_interface_loc);
        if (r < 0)
                return r;

        r = amount_merge(base, &vm->mem_reserve, &src->mem_reserve);
        if (r < 0)
                return r;
        return amount_merge(base, &vm->mem_limit, &src->mem_limit);
}

static int host_merge(Policy *base, const HostPolicy *src) {
        int r;

        r = amount_merge(base, &base->host.cpus, &src->cpus);
        if (r < 0)
                return r;
        r = amount_merge(base, &base->host.memory, &src->memory);
        if (r < 0)
                return r;

        for (size_t i = 0; i < src->n_devices; i++) {
                const HostDevice *s = &src->devices[i];
                bool is_new = !policy_find_device(base, s->name);
                HostDevice *d;

                d = policy_add_device(base, s->name);
                if (!d)
                        return -ENOMEM;
                if (is_new) {
                        r = loc_copy(base, &d->loc, &s->loc);
                        if (r < 0)
                                return r;
                }
                for (int dir = 0; dir < _IO_DIR_MAX; dir++) {
                        r = amount_merge(base, &d->cap[dir], &s->cap[dir]);
                        if (r < 0)
                                return r;
                }
        }

        for (size_t i = 0; i < src->n_interfaces; i++) {
                const HostInterface *s = &src->interfaces[i];
                bool is_new = !policy_find_interface(base, s->name);
                HostInterface *iface;

                iface = policy_add_interface(base, s->name);
                if (!iface)
                        return -ENOMEM;
                if (is_new) {
                        r = loc_copy(base, &iface->loc, &s->loc);
                        if (r < 0)
                                return r;
                }
                r = amount_merge(base, &iface->egress, &s->egress);
                if (r < 0)
                        return r;
        }

        return 0;
}

int policy_merge(Policy *base, const Policy *overlay) {
        int r;

        if (base == overlay)
                return 0;

        r = host_merge(base, &overlay->host);
        if (r < 0)
                return r;
        for (size_t i = 0; i < overlay->n_vms; i++) {
                r = vm_merge(base, &overlay->vms[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Copies every location of an unset field too, so that the copy is faithful. */
static int resource_locs_copy(Policy *dst, ResourcePolicy *d, const ResourcePolicy *s) {
        int r;

        r = loc_copy(dst, &d->reserve.loc, &s->reserve.loc);
        if (r < 0)
                return r;
        r = loc_copy(dst, &d->share.loc, &s->share.loc);
        if (r < 0)
                return r;
        r = loc_copy(dst, &d->limit.loc, &s->limit.loc);
        if (r < 0)
                return r;
        return loc_copy(dst, &d->burst.loc, &s->burst.loc);
}

static int vm_copy_locs(Policy *dst, VmPolicy *d, const VmPolicy *s) {
        int r;

        r = loc_copy(dst, &d->loc, &s->loc);
        if (r < 0)
                return r;
        r = loc_copy(dst, &d->cgroup_loc, &s->cgroup_loc);
        if (r < 0)
                return r;
        r = loc_copy(dst, &d->create_loc, &s->create_loc);
        if (r < 0)
                return r;
        r = loc_copy(dst, &d->net_interface_loc, &s->net_interface_loc);
        if (r < 0)
                return r;
        r = resource_locs_copy(dst, &d->cpu, &s->cpu);
        if (r < 0)
                return r;
        r = resource_locs_copy(dst, &d->net_egress, &s->net_egress);
        if (r < 0)
                return r;
        r = loc_copy(dst, &d->mem_reserve.loc, &s->mem_reserve.loc);
        if (r < 0)
                return r;
        r = loc_copy(dst, &d->mem_limit.loc, &s->mem_limit.loc);
        if (r < 0)
                return r;
        for (size_t i = 0; i < s->n_io; i++) {
                VmIoDevice *di = &d->io[i];
                const VmIoDevice *si = &s->io[i];

                r = loc_copy(dst, &di->loc, &si->loc);
                if (r < 0)
                        return r;
                r = loc_copy(dst, &di->share.loc, &si->share.loc);
                if (r < 0)
                        return r;
                for (int dir = 0; dir < _IO_DIR_MAX; dir++) {
                        r = resource_locs_copy(dst, &di->dir[dir], &si->dir[dir]);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int policy_copy_locs(Policy *dst, const Policy *src) {
        int r;

        r = loc_copy(dst, &dst->host.cpus.loc, &src->host.cpus.loc);
        if (r < 0)
                return r;
        r = loc_copy(dst, &dst->host.memory.loc, &src->host.memory.loc);
        if (r < 0)
                return r;
        for (size_t i = 0; i < src->host.n_devices; i++) {
                r = loc_copy(dst, &dst->host.devices[i].loc, &src->host.devices[i].loc);
                if (r < 0)
                        return r;
                for (int dir = 0; dir < _IO_DIR_MAX; dir++) {
                        r = loc_copy(dst, &dst->host.devices[i].cap[dir].loc, &src->host.devices[i].cap[dir].loc);
                        if (r < 0)
                                return r;
                }
        }
        for (size_t i = 0; i < src->host.n_interfaces; i++) {
                r = loc_copy(dst, &dst->host.interfaces[i].loc, &src->host.interfaces[i].loc);
                if (r < 0)
                        return r;
                r = loc_copy(dst, &dst->host.interfaces[i].egress.loc, &src->host.interfaces[i].egress.loc);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < src->n_vms; i++) {
                r = vm_copy_locs(dst, &dst->vms[i], &src->vms[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* *dst is overwritten, not freed first: pass an uninitialised or empty Policy.
 * On error it is left untouched. */
int policy_copy(Policy *dst, const Policy *src) {
        Policy c;
        int r;

        policy_init(&c);

        /* The same file table, in the same order. */
        for (size_t i = 0; i < src->n_files; i++)
                if (!policy_intern_file(&c, src->files[i])) {
                        r = -ENOMEM;
                        goto fail;
                }

        /* Into an empty Policy, a merge adds every table entry in order and
         * copies every set field; then the remaining locations follow. */
        r = policy_merge(&c, src);
        if (r < 0)
                goto fail;
        r = policy_copy_locs(&c, src);
        if (r < 0)
                goto fail;

        *dst = c;
        return 0;

fail:
        policy_done(&c);
        return r;
}
