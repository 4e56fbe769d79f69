/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The policy model: tables of VMs, devices and interfaces, file-name
 * interning, overlays and deep copies.  Pure: no I/O, no logging.
 *
 * Arrays grow with realloc(), so a pointer returned by an add function is
 * valid until the next add or remove on the same table.
 */

#include <errno.h>
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

/* Grows *array (of *n elements of `size` bytes) by one zeroed element. */
static void *array_append(void **array, size_t *n, size_t size) {
        char *a;

        if (*n >= SIZE_MAX / size - 1)
                return NULL;
        a = realloc(*array, (*n + 1) * size);
        if (!a)
                return NULL;
        *array = a;
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

/* FNV-1a: short names, no adversary (the admin writes them). */
static size_t name_hash(const char *s) {
        uint64_t h = 14695981039346656037ULL;
        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 1099511628211ULL;
        return (size_t)h;
}

/* Rebuilds the index for the current vms, with room for `n` VMs. */
static int vm_index_rebuild(Policy *p, size_t n) {
        size_t cap = 16;
        while (cap < 2 * n)
                cap *= 2;
        size_t *index = calloc(cap, sizeof(*index));
        if (!index)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_vms; i++) {
                size_t h = name_hash(p->vms[i].name) & (cap - 1);
                while (index[h])
                        h = (h + 1) & (cap - 1);
                index[h] = i + 1;
        }
        free(p->vm_index);
        p->vm_index = index;
        p->vm_index_cap = cap;
        return 0;
}

VmPolicy *policy_find_vm(const Policy *p, const char *name) {
        if (!p->vm_index)
                return NULL;
        for (size_t h = name_hash(name) & (p->vm_index_cap - 1); p->vm_index[h]; h = (h + 1) & (p->vm_index_cap - 1))
                if (strcmp(p->vms[p->vm_index[h] - 1].name, name) == 0)
                        return &p->vms[p->vm_index[h] - 1];
        return NULL;
}

VmPolicy *policy_add_vm(Policy *p, const char *name) {
        VmPolicy *vm;
        char *copy;

        vm = policy_find_vm(p, name);
        if (vm)
                return vm;

        /* Room in the index first, so that a failure leaves p as it was. */
        if (2 * (p->n_vms + 1) > p->vm_index_cap && vm_index_rebuild(p, p->n_vms + 1) < 0)
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

        size_t h = name_hash(name) & (p->vm_index_cap - 1);
        while (p->vm_index[h])
                h = (h + 1) & (p->vm_index_cap - 1);
        p->vm_index[h] = p->n_vms;
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
        /* Every later VM moved down by one: index afresh.  Were there no
         * memory for it, the old index would point past the end, so drop
         * it and fall back to an empty one only then. */
        if (vm_index_rebuild(p, p->n_vms) < 0) {
                free(p->vm_index);
                p->vm_index = NULL;
                p->vm_index_cap = 0;
                return -ENOMEM;
        }
        return 0;
}

VmIoDevice *vm_find_io(const VmPolicy *vm, const char *device) {
        for (size_t i = 0; i < vm->n_io; i++)
                if (strcmp(vm->io[i].name, device) == 0)
                        return &vm->io[i];
        return NULL;
}

VmIoDevice *vm_add_io(VmPolicy *vm, const char *device) {
        VmIoDevice *d;
        char *copy;

        d = vm_find_io(vm, device);
        if (d)
                return d;

        copy = strdup(device);
        if (!copy)
                return NULL;
        d = array_append((void **)&vm->io, &vm->n_io, sizeof(VmIoDevice));
        if (!d) {
                free(copy);
                return NULL;
        }
        d->name = copy;
        return d;
}

HostDevice *policy_find_device(const Policy *p, const char *name) {
        for (size_t i = 0; i < p->host.n_devices; i++)
                if (strcmp(p->host.devices[i].name, name) == 0)
                        return &p->host.devices[i];
        return NULL;
}

HostDevice *policy_add_device(Policy *p, const char *name) {
        HostDevice *d;
        char *copy;

        d = policy_find_device(p, name);
        if (d)
                return d;

        copy = strdup(name);
        if (!copy)
                return NULL;
        d = array_append((void **)&p->host.devices, &p->host.n_devices, sizeof(HostDevice));
        if (!d) {
                free(copy);
                return NULL;
        }
        d->name = copy;
        return d;
}

HostInterface *policy_find_interface(const Policy *p, const char *name) {
        for (size_t i = 0; i < p->host.n_interfaces; i++)
                if (strcmp(p->host.interfaces[i].name, name) == 0)
                        return &p->host.interfaces[i];
        return NULL;
}

HostInterface *policy_add_interface(Policy *p, const char *name) {
        HostInterface *iface;
        char *copy;

        iface = policy_find_interface(p, name);
        if (iface)
                return iface;

        copy = strdup(name);
        if (!copy)
                return NULL;
        iface = array_append((void **)&p->host.interfaces, &p->host.n_interfaces, sizeof(HostInterface));
        if (!iface) {
                free(copy);
                return NULL;
        }
        iface->name = copy;
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
