/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a user would set up without schedd, for tools/bench-egress to compare
 * against: an htb qdisc with a class per VM, and this tc filter (cls_bpf, in
 * direct-action mode) putting each packet in its VM's class by the sending
 * socket's cgroup.  This machine's kernel has neither the cgroup classifier
 * (cls_cgroup, which needs the v1 net_cls controller anyway) nor fw marks
 * from netfilter; a BPF filter is the way left on a cgroup v2 host.
 *
 * The VMs' cgroup ids are compiled in (-DVM_CGROUP_IDS=id1,id2,... in class
 * order; the bench builds it for its own cgroups), and so is the cgroup level
 * at which they sit (-DVM_CGROUP_LEVEL): packet i's class is 1:(0x10 + i) for
 * the VM it belongs to; anything else goes to htb's default class.
 */

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#ifndef VM_CGROUP_IDS
#error "build with -DVM_CGROUP_IDS=id1,id2,... (the VMs' cgroup ids)"
#endif
#ifndef VM_CGROUP_LEVEL
#error "build with -DVM_CGROUP_LEVEL=N (the VMs' depth below the cgroup2 root)"
#endif

/* The classes' minor numbers start here (1:10, 1:11, ...). */
#define CLASS_MINOR_BASE 0x10

static const __u64 vm_cgroup_ids[] = {VM_CGROUP_IDS};

SEC("tc")
int htb_classify(struct __sk_buff *skb) {
        __u64 id = bpf_skb_ancestor_cgroup_id(skb, VM_CGROUP_LEVEL);

        for (unsigned i = 0; i < sizeof(vm_cgroup_ids) / sizeof(vm_cgroup_ids[0]); i++)
                if (id != 0 && id == vm_cgroup_ids[i]) {
                        /* The filter's classid gives the major (1:). */
                        skb->tc_classid = CLASS_MINOR_BASE + i;
                        return TC_ACT_OK;
                }
        return TC_ACT_UNSPEC; /* the default class */
}

char LICENSE[] SEC("license") = "LGPL-2.1-or-later";
