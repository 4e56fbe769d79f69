/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "policy/model.h"

static Amount amount(Policy *p, AmountKind kind, uint64_t value, const char *file, unsigned line) {
        return (Amount){
                .kind = kind,
                .value = value,
                .loc = {.file = policy_intern_file(p, file), .line = line, .column = 3},
        };
}

Test(model, init_done_empty) {
        Policy p;

        policy_init(&p);
        cr_assert_eq(p.n_vms, 0);
        cr_assert_null(p.vms);
        cr_assert_eq(p.n_files, 0);
        cr_assert_eq(p.host.cpus.kind, AMOUNT_UNSET);
        policy_done(&p);
        policy_done(&p); /* done twice is harmless: it leaves an empty policy */
        cr_assert_eq(p.n_vms, 0);
}

Test(model, io_dir_names) {
        for (int d = 0; d < _IO_DIR_MAX; d++)
                cr_assert_eq(io_dir_from_string(io_dir_to_string(d)), d);
        cr_assert_str_eq(io_dir_to_string(IO_RBPS), "rbps");
        cr_assert_str_eq(io_dir_to_string(IO_WIOPS), "wiops");
        cr_assert_eq(io_dir_from_string("riops"), IO_RIOPS);
        cr_assert_eq(io_dir_from_string("wbps"), IO_WBPS);
        cr_assert_eq(io_dir_from_string("RBPS"), -EINVAL);
        cr_assert_eq(io_dir_from_string(""), -EINVAL);
        cr_assert_eq(io_dir_from_string(NULL), -EINVAL);
        cr_assert_null(io_dir_to_string(_IO_DIR_MAX));
}

Test(model, intern_files) {
        Policy p;
        const char *a, *b, *c;
        char name[] = "base.yaml";

        policy_init(&p);
        a = policy_intern_file(&p, name);
        name[0] = 'c'; /* the table holds its own copy */
        b = policy_intern_file(&p, "base.yaml");
        c = policy_intern_file(&p, "over.yaml");
        cr_assert_not_null(a);
        cr_assert_eq(a, b);
        cr_assert_str_eq(a, "base.yaml");
        cr_assert_neq(a, c);
        cr_assert_eq(p.n_files, 2);
        cr_assert_null(policy_intern_file(&p, NULL));
        policy_done(&p);
}

Test(model, add_find_remove_vms) {
        Policy p;
        VmPolicy *vm;

        policy_init(&p);
        cr_assert_null(policy_find_vm(&p, "web"));
        cr_assert_eq(policy_remove_vm(&p, "web"), -ENOENT);

        vm = policy_add_vm(&p, "web");
        cr_assert_not_null(vm);
        cr_assert_str_eq(vm->name, "web");
        cr_assert_eq(vm->create, -1);
        cr_assert_null(vm->cgroup);
        cr_assert_eq(vm->cpu.reserve.kind, AMOUNT_UNSET);
        vm->cpu.share = (Amount){.kind = AMOUNT_ABSOLUTE, .value = 7};

        cr_assert_not_null(policy_add_vm(&p, "db"));
        cr_assert_not_null(policy_add_vm(&p, "batch"));
        cr_assert_eq(p.n_vms, 3);
        /* insertion order */
        cr_assert_str_eq(p.vms[0].name, "web");
        cr_assert_str_eq(p.vms[1].name, "db");
        cr_assert_str_eq(p.vms[2].name, "batch");

        /* adding an existing name gives the existing VM, unchanged */
        vm = policy_add_vm(&p, "web");
        cr_assert_eq(vm, &p.vms[0]);
        cr_assert_eq(vm->cpu.share.value, 7);
        cr_assert_eq(p.n_vms, 3);
        cr_assert_eq(policy_find_vm(&p, "db"), &p.vms[1]);

        cr_assert_eq(policy_remove_vm(&p, "db"), 0);
        cr_assert_eq(p.n_vms, 2);
        cr_assert_null(policy_find_vm(&p, "db"));
        cr_assert_str_eq(p.vms[0].name, "web");
        cr_assert_str_eq(p.vms[1].name, "batch");
        cr_assert_eq(policy_remove_vm(&p, "db"), -ENOENT);
        cr_assert_eq(policy_remove_vm(&p, "web"), 0);
        cr_assert_eq(policy_remove_vm(&p, "batch"), 0);
        cr_assert_eq(p.n_vms, 0);

        /* the table works again after emptying */
        cr_assert_not_null(policy_add_vm(&p, "again"));
        cr_assert_eq(p.n_vms, 1);
        policy_done(&p);
}

Test(model, many_vms) {
        Policy p;
        char name[32];

        policy_init(&p);
        for (int i = 0; i < 1000; i++) {
                snprintf(name, sizeof(name), "vm%d", i);
                VmPolicy *vm = policy_add_vm(&p, name);
                cr_assert_not_null(vm);
                cr_assert_not_null(vm_add_io(vm, "vda"));
                vm->cgroup = strdup(name);
        }
        cr_assert_eq(p.n_vms, 1000);
        for (int i = 0; i < 1000; i += 2) {
                snprintf(name, sizeof(name), "vm%d", i);
                cr_assert_eq(policy_remove_vm(&p, name), 0);
        }
        cr_assert_eq(p.n_vms, 500);
        cr_assert_str_eq(p.vms[0].name, "vm1");
        cr_assert_str_eq(p.vms[499].name, "vm999");
        cr_assert_str_eq(p.vms[499].cgroup, "vm999");
        policy_done(&p);
}

Test(model, io_devices_and_host_tables) {
        Policy p;
        VmPolicy *vm;
        VmIoDevice *d;
        HostDevice *hd;
        HostInterface *hi;

        policy_init(&p);
        vm = policy_add_vm(&p, "web");
        cr_assert_null(vm_find_io(vm, "vda"));
        d = vm_add_io(vm, "vda");
        cr_assert_not_null(d);
        cr_assert_str_eq(d->name, "vda");
        d->share = (Amount){.kind = AMOUNT_ABSOLUTE, .value = 3};
        cr_assert_not_null(vm_add_io(vm, "vdb"));
        cr_assert_eq(vm->n_io, 2);
        cr_assert_eq(vm_add_io(vm, "vda"), &vm->io[0]);
        cr_assert_eq(vm->io[0].share.value, 3);
        cr_assert_eq(vm_find_io(vm, "vdb"), &vm->io[1]);

        cr_assert_null(policy_find_device(&p, "vda"));
        hd = policy_add_device(&p, "vda");
        cr_assert_not_null(hd);
        hd->cap[IO_WBPS] = (Amount){.kind = AMOUNT_ABSOLUTE, .value = 100};
        cr_assert_not_null(policy_add_device(&p, "vdb"));
        cr_assert_eq(policy_add_device(&p, "vda"), &p.host.devices[0]);
        cr_assert_eq(p.host.devices[0].cap[IO_WBPS].value, 100);
        cr_assert_eq(p.host.n_devices, 2);
        cr_assert_eq(policy_find_device(&p, "vdb"), &p.host.devices[1]);

        cr_assert_null(policy_find_interface(&p, "eth0"));
        hi = policy_add_interface(&p, "eth0");
        cr_assert_not_null(hi);
        cr_assert_str_eq(hi->name, "eth0");
        cr_assert_not_null(policy_add_interface(&p, "eth1"));
        cr_assert_eq(policy_add_interface(&p, "eth0"), &p.host.interfaces[0]);
        cr_assert_eq(p.host.n_interfaces, 2);
        cr_assert_eq(policy_find_interface(&p, "eth1"), &p.host.interfaces[1]);
        policy_done(&p);
}

/* The base: web with a CPU reservation and a limit, a device, an interface. */
static void make_base(Policy *p) {
        VmPolicy *vm;
        VmIoDevice *d;
        HostDevice *hd;

        policy_init(p);
        p->host.cpus = amount(p, AMOUNT_ABSOLUTE, 2000000, "base.yaml", 2);
        hd = policy_add_device(p, "vda");
        hd->cap[IO_WBPS] = amount(p, AMOUNT_ABSOLUTE, 100000000, "base.yaml", 4);
        hd->cap[IO_RBPS] = amount(p, AMOUNT_ABSOLUTE, 200000000, "base.yaml", 4);
        policy_add_interface(p, "eth0")->egress = amount(p, AMOUNT_ABSOLUTE, 1000000000, "base.yaml", 6);

        vm = policy_add_vm(p, "web");
        vm->loc = (SourceLoc){policy_intern_file(p, "base.yaml"), 8, 3};
        vm->cpu.reserve = amount(p, AMOUNT_PERCENT, 100000, "base.yaml", 10);
        vm->cpu.limit = amount(p, AMOUNT_PERCENT, 500000, "base.yaml", 11);
        vm->cgroup = strdup("machine.slice/web.scope");
        vm->cgroup_loc = (SourceLoc){policy_intern_file(p, "base.yaml"), 9, 5};
        vm->create = 0;
        d = vm_add_io(vm, "vda");
        d->dir[IO_WBPS].reserve = amount(p, AMOUNT_ABSOLUTE, 50000000, "base.yaml", 12);
        vm->mem_limit = amount(p, AMOUNT_ABSOLUTE, 1 << 30, "base.yaml", 13);
}

Test(model, merge_field_by_field) {
        Policy base, over;
        VmPolicy *vm, *ovm;
        VmIoDevice *d;

        make_base(&base);

        policy_init(&over);
        ovm = policy_add_vm(&over, "web");
        ovm->loc = (SourceLoc){policy_intern_file(&over, "over.yaml"), 1, 1};
        ovm->cpu.reserve = amount(&over, AMOUNT_ABSOLUTE, 500000, "over.yaml", 3); /* percent -> absolute */
        ovm->create = 1;
        ovm->create_loc = (SourceLoc){policy_intern_file(&over, "over.yaml"), 4, 9};
        d = vm_add_io(ovm, "vda");
        d->dir[IO_WBPS].limit = amount(&over, AMOUNT_PERCENT, 800000, "over.yaml", 5);
        d = vm_add_io(ovm, "vdb");
        d->share = amount(&over, AMOUNT_ABSOLUTE, 5, "over.yaml", 6);
        ovm->net_interface = strdup("tap-web");
        ovm->net_interface_loc = (SourceLoc){policy_intern_file(&over, "over.yaml"), 7, 2};
        over.host.memory = amount(&over, AMOUNT_ABSOLUTE, 1ULL << 34, "over.yaml", 8);

        cr_assert_eq(policy_merge(&base, &over), 0);

        vm = policy_find_vm(&base, "web");
        cr_assert_not_null(vm);
        /* replaced, with the overlay's location, re-interned into base */
        cr_assert_eq(vm->cpu.reserve.kind, AMOUNT_ABSOLUTE);
        cr_assert_eq(vm->cpu.reserve.value, 500000);
        cr_assert_str_eq(vm->cpu.reserve.loc.file, "over.yaml");
        cr_assert_eq(vm->cpu.reserve.loc.line, 3);
        cr_assert_eq(vm->cpu.reserve.loc.file, policy_intern_file(&base, "over.yaml"));
        cr_assert_neq(vm->cpu.reserve.loc.file, over.files[0]);
        cr_assert_eq(vm->create, 1);
        cr_assert_eq(vm->create_loc.line, 4);
        cr_assert_eq(vm->create_loc.column, 9);
        /* untouched fields keep base's values and locations */
        cr_assert_eq(vm->cpu.limit.kind, AMOUNT_PERCENT);
        cr_assert_eq(vm->cpu.limit.value, 500000);
        cr_assert_str_eq(vm->cpu.limit.loc.file, "base.yaml");
        cr_assert_eq(vm->cpu.limit.loc.line, 11);
        cr_assert_str_eq(vm->cgroup, "machine.slice/web.scope");
        cr_assert_eq(vm->cgroup_loc.line, 9);
        cr_assert_eq(vm->mem_limit.value, 1 << 30);
        cr_assert_str_eq(vm->loc.file, "base.yaml"); /* the VM was declared in base */
        /* io: the device's own fields merge one by one; a new device is added */
        cr_assert_eq(vm->n_io, 2);
        d = vm_find_io(vm, "vda");
        cr_assert_eq(d->dir[IO_WBPS].reserve.value, 50000000);
        cr_assert_str_eq(d->dir[IO_WBPS].reserve.loc.file, "base.yaml");
        cr_assert_eq(d->dir[IO_WBPS].limit.kind, AMOUNT_PERCENT);
        cr_assert_eq(d->dir[IO_WBPS].limit.value, 800000);
        cr_assert_str_eq(d->dir[IO_WBPS].limit.loc.file, "over.yaml");
        d = vm_find_io(vm, "vdb");
        cr_assert_not_null(d);
        cr_assert_eq(d->share.value, 5);
        cr_assert_str_eq(vm->net_interface, "tap-web");
        cr_assert_eq(vm->net_interface_loc.line, 7);
        /* host */
        cr_assert_eq(base.host.memory.value, 1ULL << 34);
        cr_assert_str_eq(base.host.memory.loc.file, "over.yaml");
        cr_assert_eq(base.host.cpus.value, 2000000);
        cr_assert_eq(base.host.n_devices, 1);

        /* the overlay's file table can go: base holds its own names */
        policy_done(&over);
        cr_assert_str_eq(vm->cpu.reserve.loc.file, "over.yaml");
        policy_done(&base);
}

Test(model, merge_cgroup_and_unset_create) {
        Policy base, over;
        VmPolicy *ovm;

        make_base(&base);
        policy_init(&over);
        ovm = policy_add_vm(&over, "web");
        ovm->cgroup = strdup("other.slice/web");
        ovm->cgroup_loc = (SourceLoc){policy_intern_file(&over, "o.yaml"), 2, 11};
        /* create stays -1: unset, so base's 0 is kept */

        cr_assert_eq(policy_merge(&base, &over), 0);
        cr_assert_str_eq(base.vms[0].cgroup, "other.slice/web");
        cr_assert_str_eq(base.vms[0].cgroup_loc.file, "o.yaml");
        cr_assert_eq(base.vms[0].cgroup_loc.column, 11);
        cr_assert_eq(base.vms[0].create, 0);
        policy_done(&over);
        policy_done(&base);
}

Test(model, merge_adds_vms_devices_interfaces) {
        Policy base, over;
        VmPolicy *ovm, *vm;
        HostDevice *hd;

        make_base(&base);
        policy_init(&over);
        ovm = policy_add_vm(&over, "db");
        ovm->loc = (SourceLoc){policy_intern_file(&over, "db.yaml"), 2, 3};
        ovm->cpu.share = amount(&over, AMOUNT_ABSOLUTE, 4, "db.yaml", 3);
        ovm->mem_reserve = amount(&over, AMOUNT_PERCENT, 250000, "db.yaml", 4);
        hd = policy_add_device(&over, "vda");
        hd->cap[IO_WBPS] = amount(&over, AMOUNT_ABSOLUTE, 300000000, "db.yaml", 5);
        hd = policy_add_device(&over, "vdb");
        hd->loc = (SourceLoc){policy_intern_file(&over, "db.yaml"), 6, 5};
        hd->cap[IO_RIOPS] = amount(&over, AMOUNT_ABSOLUTE, 20000, "db.yaml", 6);
        policy_add_interface(&over, "eth1")->egress = amount(&over, AMOUNT_ABSOLUTE, 10000000000ULL, "db.yaml", 7);

        cr_assert_eq(policy_merge(&base, &over), 0);
        policy_done(&over);

        cr_assert_eq(base.n_vms, 2);
        cr_assert_str_eq(base.vms[1].name, "db");
        vm = policy_find_vm(&base, "db");
        cr_assert_eq(vm->cpu.share.value, 4);
        cr_assert_eq(vm->mem_reserve.kind, AMOUNT_PERCENT);
        cr_assert_str_eq(vm->loc.file, "db.yaml");
        cr_assert_eq(vm->loc.line, 2);
        cr_assert_eq(vm->create, -1);
        cr_assert_eq(base.host.n_devices, 2);
        cr_assert_eq(base.host.devices[0].cap[IO_WBPS].value, 300000000);
        cr_assert_eq(base.host.devices[0].cap[IO_RBPS].value, 200000000); /* kept */
        cr_assert_str_eq(base.host.devices[1].name, "vdb");
        cr_assert_eq(base.host.devices[1].cap[IO_RIOPS].value, 20000);
        cr_assert_str_eq(base.host.devices[1].loc.file, "db.yaml");
        cr_assert_eq(base.host.n_interfaces, 2);
        cr_assert_eq(base.host.interfaces[1].egress.value, 10000000000ULL);
        /* web unchanged */
        cr_assert_eq(base.vms[0].cpu.reserve.value, 100000);
        policy_done(&base);
}

Test(model, merge_empty_and_self) {
        Policy base, empty, snapshot;

        make_base(&base);
        policy_init(&empty);
        cr_assert_eq(policy_copy(&snapshot, &base), 0);
        cr_assert_eq(policy_merge(&base, &empty), 0);
        cr_assert_eq(policy_merge(&base, &base), 0);
        cr_assert_eq(base.n_vms, snapshot.n_vms);
        cr_assert_eq(base.vms[0].cpu.reserve.value, snapshot.vms[0].cpu.reserve.value);
        cr_assert_eq(base.vms[0].n_io, 1);
        cr_assert_eq(base.n_files, 1);

        /* merging into an empty policy makes an equal one */
        cr_assert_eq(policy_merge(&empty, &base), 0);
        cr_assert_eq(empty.n_vms, 1);
        cr_assert_str_eq(empty.vms[0].cgroup, "machine.slice/web.scope");
        cr_assert_str_eq(empty.vms[0].cpu.limit.loc.file, "base.yaml");
        policy_done(&empty);
        policy_done(&snapshot);
        policy_done(&base);
}

Test(model, copy_is_deep) {
        Policy base, copy;
        const VmPolicy *vm;

        make_base(&base);
        base.vms[0].net_interface = strdup("tap0");
        base.vms[0].io[0].loc = (SourceLoc){policy_intern_file(&base, "dev.yaml"), 20, 4};
        /* a location on an unset field is kept too */
        base.vms[0].net_egress.burst.loc = (SourceLoc){policy_intern_file(&base, "base.yaml"), 30, 1};
        cr_assert_eq(policy_copy(&copy, &base), 0);

        /* change and free the original, then read the copy */
        base.vms[0].cpu.reserve.value = 1;
        base.vms[0].cgroup[0] = 'X';
        policy_done(&base);

        cr_assert_eq(copy.n_files, 2);
        cr_assert_str_eq(copy.files[0], "base.yaml");
        cr_assert_str_eq(copy.files[1], "dev.yaml");
        cr_assert_eq(copy.host.cpus.value, 2000000);
        cr_assert_str_eq(copy.host.cpus.loc.file, "base.yaml");
        cr_assert_eq(copy.host.cpus.loc.file, copy.files[0]);
        cr_assert_eq(copy.host.n_devices, 1);
        cr_assert_str_eq(copy.host.devices[0].name, "vda");
        cr_assert_eq(copy.host.devices[0].cap[IO_RBPS].value, 200000000);
        cr_assert_eq(copy.host.n_interfaces, 1);
        cr_assert_str_eq(copy.host.interfaces[0].name, "eth0");
        cr_assert_eq(copy.n_vms, 1);
        vm = &copy.vms[0];
        cr_assert_str_eq(vm->name, "web");
        cr_assert_eq(vm->loc.line, 8);
        cr_assert_str_eq(vm->cgroup, "machine.slice/web.scope");
        cr_assert_eq(vm->cgroup_loc.line, 9);
        cr_assert_eq(vm->create, 0);
        cr_assert_eq(vm->cpu.reserve.kind, AMOUNT_PERCENT);
        cr_assert_eq(vm->cpu.reserve.value, 100000);
        cr_assert_eq(vm->cpu.reserve.loc.line, 10);
        cr_assert_str_eq(vm->cpu.reserve.loc.file, "base.yaml");
        cr_assert_eq(vm->n_io, 1);
        cr_assert_str_eq(vm->io[0].name, "vda");
        cr_assert_str_eq(vm->io[0].loc.file, "dev.yaml");
        cr_assert_eq(vm->io[0].dir[IO_WBPS].reserve.value, 50000000);
        cr_assert_str_eq(vm->net_interface, "tap0");
        cr_assert_eq(vm->net_egress.burst.kind, AMOUNT_UNSET);
        cr_assert_eq(vm->net_egress.burst.loc.line, 30);
        cr_assert_eq(vm->mem_limit.value, 1 << 30);
        policy_done(&copy);
}

Test(model, copy_of_empty) {
        Policy empty, copy;

        policy_init(&empty);
        cr_assert_eq(policy_copy(&copy, &empty), 0);
        cr_assert_eq(copy.n_vms, 0);
        cr_assert_eq(copy.n_files, 0);
        policy_done(&copy);
        policy_done(&empty);
}

Test(model, many_vms_index_stays_consistent) {
        /* Enough VMs to grow the name index several times, then removals
         * that shift every later VM. */
        Policy p;
        char name[32];

        policy_init(&p);
        for (int i = 0; i < 5000; i++) {
                snprintf(name, sizeof(name), "vm%d", i);
                VmPolicy *vm = policy_add_vm(&p, name);
                cr_assert_not_null(vm);
                cr_assert_str_eq(vm->name, name);
        }
        cr_assert_eq(p.n_vms, 5000);
        cr_assert_eq(policy_add_vm(&p, "vm4321"), &p.vms[4321]); /* an existing one is found, not added */
        cr_assert_eq(p.n_vms, 5000);
        for (int i = 0; i < 5000; i += 3) {
                snprintf(name, sizeof(name), "vm%d", i);
                cr_assert_eq(policy_remove_vm(&p, name), 0);
        }
        cr_assert_eq(policy_remove_vm(&p, "vm0"), -ENOENT);
        for (int i = 0; i < 5000; i++) {
                snprintf(name, sizeof(name), "vm%d", i);
                VmPolicy *vm = policy_find_vm(&p, name);
                if (i % 3 == 0)
                        cr_assert_null(vm, "%s was removed", name);
                else {
                        cr_assert_not_null(vm, "%s is missing", name);
                        cr_assert_str_eq(vm->name, name);
                }
        }
        cr_assert_null(policy_find_vm(&p, "nope"));

        Policy c;
        cr_assert_eq(policy_copy(&c, &p), 0);
        cr_assert_eq(c.n_vms, p.n_vms);
        cr_assert_str_eq(policy_find_vm(&c, "vm4999")->name, "vm4999");
        policy_done(&p);
        cr_assert_str_eq(policy_find_vm(&c, "vm2")->name, "vm2");
        policy_done(&c);
        cr_assert_null(policy_find_vm(&c, "vm2"));
}
