/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Egress network enforcement: loads the tc program of bpf/egress.bpf.c,
 * attaches it to the clsact egress hook of each shaped interface (and, when
 * dropping, to the ingress hook of each microVM tap), and holds each VM to
 * the rate the manager sets every tick.  What it measures comes back as
 * counters.
 *
 * A packet belongs to the VM whose cgroup is the deepest VM cgroup above the
 * sending socket's cgroup; a tap's packets to the VM the tap is tied to;
 * anything else to the host context (EGRESS_HOST).
 *
 * Each VM has a token bucket for bytes (rate, burst).  In EGRESS_MODE_PACE a
 * packet above the rate leaves later (earliest departure time, honoured by
 * the fq qdisc, which egress_open() installs as root qdisc where the
 * interface still has the kernel's default one) or is dropped if that would
 * be more than the VM's horizon away; in EGRESS_MODE_DROP it is dropped.
 * Inside a VM, flows below an eighth of its rate (request-response traffic)
 * pass ahead of its bulk flows: they are neither delayed nor dropped while
 * the VM's debt is within the horizon plus a little, and are charged to the
 * VM like the rest.
 *
 * ECN-capable flows (ECT in the IP header) are marked CE instead: pacing,
 * a heavy packet due more than EGRESS_ECN_DELAY_NSEC (1 ms) ahead; dropping,
 * a heavy packet that would be dropped while the VM's debt is within
 * EGRESS_LIGHT_DEBT_NSEC or one 64 KiB packet at the rate, whichever is
 * longer (at most EGRESS_HORIZON_MAX_NSEC), is admitted with the mark, and
 * light flows may go that much further into debt.  Flows that are not ECN-capable see no difference.  The senders must
 * ask for ECN (net.ipv4.tcp_ecn = 1); Linux accepts it by default.
 *
 * Dropping needs a larger burst than pacing for a TCP sender to reach its
 * rate: each drop costs the sender a stall or a recovery, so the bucket must
 * cover a good part of a second of the rate.  Measured at 50 Mbit/s over a
 * veth pair, one TCP flow over 10 s: dropping, 10 % of its rate with a
 * 64 KiB burst, 42 % with 256 KiB, 100 % with 1 MiB (6.18, BBR; 14 % and
 * 100 % on 6.1, CUBIC); pacing, 99.9 % with 64 KiB (6.1).
 *
 * Everything egress_open() and egress_set_tap() create (clsact qdiscs, fq
 * root qdiscs, filters, maps) egress_close() removes again, and nothing else:
 * a clsact qdisc that existed keeps its other filters, an fq that existed
 * stays.  Our filters have a handle and priority of their own, so a filter a
 * killed instance left behind is replaced by the next one (its clsact qdisc,
 * no longer known as ours, stays).
 *
 * Kernel features, by the version that brought them (the program is checked
 * against 6.1 and 6.18):
 *   4.19  bpf_skb_ancestor_cgroup_id()
 *   5.1   __sk_buff->sk, wire_len, gso_segs
 *   5.2   socket-local storage
 *   5.5   memory-mapped arrays (the generation counter, the contexts' settings)
 *   5.8   bpf_enable_stats() (egress_prog_stats())
 *   5.12  atomic fetch-and-add and compare-and-swap (the timelines)
 *   any   fq (CONFIG_NET_SCH_FQ) for pacing; without it, egress_open() in
 *         EGRESS_MODE_PACE falls back to EGRESS_MODE_DROP and egress_degraded()
 *         says why
 *
 * Functions return >= 0 on success and -errno on failure; output parameters
 * are written only on success.  Nothing here logs: the caller does (libbpf
 * prints its own warnings through its print callback, libbpf_set_print()).
 */

#include <stddef.h>
#include <stdint.h>

#include "bpf/egress.h"

typedef enum EgressMode {
        EGRESS_MODE_PACE, /* delay above the rate (fq), drop beyond the horizon */
        EGRESS_MODE_DROP, /* drop above the rate */
        _EGRESS_MODE_MAX,
} EgressMode;

/* The host context's index for egress_set_vm() (cgroup id 0) and egress_read(). */
#define EGRESS_HOST EGRESS_HOST_SLOT

/* A rate that only counts: no limit. */
#define EGRESS_RATE_UNLIMITED UINT64_MAX

/* Pacing: the longest a packet of a VM's bulk flow is held before it is
 * dropped instead (the horizon) is the longest of: 4 ms; the VM's burst at
 * its rate; and two of the biggest packets TCP hands the device at once (a
 * GSO packet of 64 KiB), since TCP keeps two in the qdisc and a horizon
 * shorter than that drops the second every time.  At most 20 ms, two ticks:
 * packets already given a departure time keep it when the rate changes, so a
 * new rate shows in what leaves within that time (and a bulk flow queues no
 * longer than that whatever the rate; TCP, seeing the drops, backs off).
 * Light flows do not wait behind it at all. */
#define EGRESS_HORIZON_MIN_NSEC (4ULL * 1000 * 1000)
#define EGRESS_HORIZON_MAX_NSEC (20ULL * 1000 * 1000)
#define EGRESS_GSO_MAX_BYTES    (64ULL * 1024)
/* How much further than the horizon light flows may take their VM into debt
 * (when dropping: twice this, beyond what an ECN-marked bulk packet may
 * leave, see above), so that their packets get through while
 * the bulk flows are held at the horizon: 4 ms, or one 64 KiB packet at the
 * VM's rate if longer (a bulk flow may just have sent one), at most
 * EGRESS_HORIZON_MAX_NSEC. */
#define EGRESS_LIGHT_DEBT_NSEC (4ULL * 1000 * 1000)
/* A flow may send this much at once and still count as light: a request or
 * a response of a few packets. */
#define EGRESS_LIGHT_BURST_BYTES (16ULL * 1024)

typedef struct EgressCounters {
        uint64_t bytes;   /* admitted, as on the wire */
        uint64_t packets; /* admitted, each segment of a GSO packet counted */
        uint64_t delayed; /* given a later departure time (pacing) */
        uint64_t dropped; /* dropped above the rate */
        uint64_t marked;  /* marked CE above the rate (ECN-capable flows; bpf/egress.h) */
} EgressCounters;

/* The kernel's run-time statistics of the attached programs, summed. */
typedef struct EgressProgStats {
        uint64_t run_time_nsec;
        uint64_t run_count;
} EgressProgStats;

typedef struct Egress Egress;

/*
 * Loads the program and attaches it to the egress hook of each of the n
 * interfaces (n may be 0: taps only).  In EGRESS_MODE_PACE, installs fq as
 * root qdisc where an interface has the kernel's default; where fq is missing
 * or the root qdisc is one an administrator set, falls back to
 * EGRESS_MODE_DROP (egress_mode(), egress_degraded()).  Every VM slot starts
 * unused, the host unlimited.
 * -EINVAL (bad mode, NULL, an interface named twice), -ENODEV (no such
 * interface), -EPERM, or what the kernel says.
 */
int egress_open(Egress **ret, const char *const *ifaces, size_t n, EgressMode mode);

/* Removes everything egress_open() and egress_set_tap() created; NULL safe;
 * returns NULL. */
Egress *egress_close(Egress *e);
static inline void egress_closep(Egress **e) {
        *e = egress_close(*e);
}

EgressMode egress_mode(const Egress *e);
/* Why EGRESS_MODE_PACE was not possible, NULL if it was (or was not asked). */
const char *egress_degraded(const Egress *e);

/*
 * Sets VM vm_index (< EGRESS_MAX_VMS) to the traffic of cgroup cgroup_id and
 * its descendants (0: none, only its taps), limited to rate_bytes_per_sec
 * (0: nothing passes; EGRESS_RATE_UNLIMITED: counted only) with a bucket of
 * burst_bytes.  A slot's first use resets its counters; later calls (each
 * tick) change only what changed, keeping the bucket's state.  vm_index
 * EGRESS_HOST sets the host's rate (cgroup_id must be 0).
 * -EINVAL (bad index), -EEXIST (cgroup already another VM's), -ENOSPC.
 */
int egress_set_vm(Egress *e, uint32_t vm_index, uint64_t cgroup_id, uint64_t rate_bytes_per_sec, uint64_t burst_bytes);

/*
 * Ties tap interface tap_ifname to VM vm_index (which egress_set_vm() must
 * have set up): what the guest sends through it counts for that VM, and the
 * uplinks do not count it for the host.  When dropping, the program on the
 * tap's ingress holds it to the VM's rate before the host forwards it; when
 * pacing, it is paced where it leaves (the uplinks' egress, which knows it by
 * the interface it came in on), since an ingress hook cannot delay, and
 * nothing is attached to the tap.  Tying a tap again moves it.
 * -EINVAL, -ENOENT (VM not set), -ENODEV (no such interface), -ENOSPC.
 */
int egress_set_tap(Egress *e, const char *tap_ifname, uint32_t vm_index);

/* Frees VM slot vm_index: its cgroup's traffic goes to the host again, its
 * taps are released.  EGRESS_HOST: the host is unlimited again.
 * -EINVAL, -ENOENT (not set). */
int egress_remove_vm(Egress *e, uint32_t vm_index);

/* The counters of vm_index (or EGRESS_HOST) since its slot was set, summed
 * over CPUs.  -EINVAL, -ENOENT (not set; the host always is). */
int egress_read(Egress *e, uint32_t vm_index, EgressCounters *ret);

/* The programs' run time and run count since load, which the kernel keeps
 * only while statistics are enabled (sysctl kernel.bpf_stats_enabled, or
 * bpf_enable_stats()). */
int egress_prog_stats(Egress *e, EgressProgStats *ret);
