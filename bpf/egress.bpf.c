/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Egress enforcement: a tc program that gives every packet to a context (a
 * VM, or the host) and holds each context to the rate the daemon sets for it.
 *
 * Classification
 *   - egress_uplink, on the clsact egress hook of each shaped interface: a
 *     packet with a socket belongs to the VM whose cgroup is the deepest VM
 *     cgroup among the socket cgroup's ancestors (nested cgroups count for
 *     their VM); the answer is cached in the socket's local storage until the
 *     loader changes the VM table.  A packet without a socket that arrived
 *     through a known tap (a microVM's traffic, forwarded) belongs to the
 *     tap's VM; anything else to the host.
 *   - egress_tap, on the clsact ingress hook of a microVM's tap (what the
 *     guest sends), attached only when dropping: every packet belongs to the
 *     VM the tap is tied to and is held to its rate right there, before the
 *     host forwards it.  When pacing, a tap's packets are paced where they
 *     leave, on the uplink: an ingress hook cannot delay.
 *
 * Enforcement: each context has a token bucket for bytes kept as a timeline
 * (GCRA): `next` is when the bucket is back to empty after what was admitted,
 * so it holds (now - next) * rate bytes, capped at the burst.  A packet may
 * start when the bucket is not in debt (start = max(next, now - burst) <= now);
 * it then moves the timeline on by its own cost, so a packet bigger than the
 * burst (a GSO packet) still passes and the long-run rate stays exact.
 *   - Pacing (`pace`): a packet that may not start yet is given its start as
 *     earliest departure time (skb->tstamp) for the fq qdisc, unless that is
 *     more than the context's horizon away: then it is dropped, so a bulk
 *     TCP flow backs off instead of queueing.
 *   - Dropping (not `pace`): a packet that may not start now is dropped.
 *   ECN: a heavy packet of an ECN-capable flow is marked CE where it would
 *     otherwise wait long or be dropped: pacing, when its departure is more
 *     than EGRESS_ECN_DELAY_NSEC ahead (it is still paced, and dropped at the
 *     horizon like any other); dropping, while the context's debt is within
 *     ecn_nsec (4 ms or one 64 KiB packet at the rate; light flows may go
 *     that much further), admitted with its mark instead of dropped.  A
 *     light packet of an ECN-capable flow is marked (and passes) when the
 *     debt is beyond ecn_nsec: many light flows together (128 bulk flows,
 *     each far below an eighth of the rate) then slow down before they
 *     reach the light allowance, where all light packets drop.  A flow that
 *     is not ECN-capable is treated as without ECN: paced up to the horizon,
 *     or dropped.
 *   Fairness inside a context: each flow (socket, or flow hash without one)
 *   has a timeline of its own at 1/2^EGRESS_LIGHT_SHIFT of the context's rate.
 *   A flow within it is light: its packets leave at once (no departure time)
 *   and are admitted while the context's debt is under its light horizon,
 *   but are charged to the context like any other, so the bulk flows beside
 *   them wait (or drop) for them.  A request-response flow thus never queues
 *   behind its VM's bulk transfer, and the VM's total stays at its rate.
 *   While the context is under its rate, every packet leaves at once, and a
 *   flow known only by its hash is not looked up (see enforce()).
 *
 * Cost: a packet of a classified socket reads its socket's storage (slot and
 * flow timeline), one cache line of its context (settings and timeline) and
 * its CPU's counters, reads the clock once if the context is limited, and
 * under the rate moves the timeline with one compare-and-swap.
 *
 * Counters are per context and CPU; the loader sums them.
 */

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>

#include "egress.h"

#define NSEC_PER_SEC 1000000000ULL

/* A flow sending less than 1/8 of its context's rate is light: a request-
 * response exchange is far below that, a bulk transfer (alone, or one of a
 * few sharing the rate) far above. */
#define EGRESS_LIGHT_SHIFT 3
/* How long a flow is remembered as heavy after it stops: a bulk flow that
 * pauses for 100 ms is light again, long enough that a bulk flow's own
 * gaps (an ACK's round trip, a drop's recovery) do not make it light. */
#define EGRESS_LIGHT_MEMORY_NSEC (100ULL * 1000 * 1000)

/* Packets up to 2^20 bytes (1 MiB, beyond any GSO packet) have their cost
 * computed by multiplication: with the reciprocal below 2^43, the product
 * stays below 2^63. */
#define EGRESS_COST_LEN_BITS 20

/* Settings, fixed at load: pacing (the interfaces have fq), or dropping. */
const volatile bool pace = false;

/* Bumped by the loader after each change of vm_cgroups: cached socket
 * classifications from an older generation are redone. */
volatile __u64 generation = 0;

struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, EGRESS_MAX_VMS);
        __type(key, __u64);   /* cgroup id */
        __type(value, __u32); /* slot */
} vm_cgroups SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, EGRESS_MAX_TAPS);
        __type(key, __u32);   /* ifindex */
        __type(value, __u32); /* slot */
} taps SEC(".maps");

/* Settings and timeline of each context, one cache line each (egress.h). */
struct {
        __uint(type, BPF_MAP_TYPE_ARRAY);
        __uint(max_entries, EGRESS_SLOTS);
        __uint(map_flags, BPF_F_MMAPABLE);
        __type(key, __u32);
        __type(value, EgressVm);
} vm_config SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_ARRAY);
        __uint(max_entries, EGRESS_FLOW_ENTRIES);
        __type(key, __u32);
        __type(value, EgressFlow);
} flows SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_SK_STORAGE);
        __uint(map_flags, BPF_F_NO_PREALLOC);
        __type(key, int);
        __type(value, EgressSock);
} socks SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, EGRESS_SLOTS);
        __type(key, __u32);
        __type(value, EgressStats);
} stats SEC(".maps");

static __always_inline __u64 max_u64(__u64 a, __u64 b) {
        return a > b ? a : b;
}

static __always_inline __u64 min_u64(__u64 a, __u64 b) {
        return a < b ? a : b;
}

static __always_inline __u64 sub_sat(__u64 a, __u64 b) {
        return a > b ? a - b : 0;
}

/* The deepest VM cgroup above the socket's; the host if none. */
static __always_inline __u32 classify_cgroup(struct __sk_buff *skb) {
        __u32 slot = EGRESS_HOST_SLOT;

        for (int level = 1; level <= EGRESS_MAX_CGROUP_LEVEL; level++) {
                __u64 id = bpf_skb_ancestor_cgroup_id(skb, level);
                if (id == 0)
                        break;
                __u32 *s = bpf_map_lookup_elem(&vm_cgroups, &id);
                if (s)
                        slot = *s;
        }
        return slot;
}

static __always_inline EgressFlow *flow_by_hash(struct __sk_buff *skb, __u32 slot) {
        __u32 key = slot * EGRESS_FLOW_SLOTS + (bpf_get_hash_recalc(skb) & (EGRESS_FLOW_SLOTS - 1));
        return bpf_map_lookup_elem(&flows, &key);
}

/* A flow's own timeline moves by the packet's cost at its light rate; a flow
 * idle longer than EGRESS_LIGHT_MEMORY_NSEC starts afresh. */
static __always_inline void flow_charge(EgressFlow *flow, __u64 flow_start, __u64 now, __u64 cost) {
        flow->next_nsec = min_u64(flow_start + (cost << EGRESS_LIGHT_SHIFT), now + EGRESS_LIGHT_MEMORY_NSEC);
}

/* Holds the packet to context `slot`'s rate.  `flow` is the packet's flow
 * (its socket's), or NULL: then, with `by_hash`, its flow is found by the
 * packet's hash, only where it matters (the context is at its rate);
 * without, the packet counts as light. */
static __always_inline int enforce(struct __sk_buff *skb, __u32 slot, EgressFlow *flow, bool by_hash, bool may_delay) {
        EgressVm *vm = bpf_map_lookup_elem(&vm_config, &slot);
        EgressStats *st = bpf_map_lookup_elem(&stats, &slot);
        if (!vm || !st)
                return TC_ACT_UNSPEC;
        EgressVmConfig *cfg = &vm->config;

        __u64 len = skb->wire_len ? skb->wire_len : skb->len;
        __u64 segs = skb->gso_segs ? skb->gso_segs : 1;

        if (!(cfg->flags & EGRESS_VM_LIMITED))
                goto admit;
        __u64 rate = cfg->rate_bytes_per_sec;
        if (rate == 0)
                goto drop;

        __u64 now = bpf_ktime_get_ns() + EGRESS_CLOCK_OFFSET_NSEC;
        /* What the packet costs in time at the rate: a multiplication by
         * the reciprocal the loader prepared, a division where it could not. */
        __u64 cost;
        if (cfg->nsec_per_byte_q20 != 0 && len < (1ULL << EGRESS_COST_LEN_BITS))
                cost = (len * cfg->nsec_per_byte_q20) >> 20;
        else
                cost = len * NSEC_PER_SEC / rate;

        /* The timeline moves by atomic operations, without a lock.  An idle
         * context's timeline is first caught up to a full bucket (floor). */
        __u64 floor = sub_sat(now, cfg->burst_nsec);
        __u64 seen = vm->next_nsec;
        __u64 start = max_u64(seen, floor);

        /* Under the rate (the bucket is not in debt): the packet leaves now
         * whatever its flow, and one compare-and-swap takes its place on
         * the timeline.  Its socket's flow timeline moves on (it shares the
         * socket's cache line, which the classification read already); a
         * flow known only by its hash is not looked up at all: it is
         * remembered only while the context is at its rate, so a bulk flow
         * counts as light again for its first packets (some 16 KiB) each
         * time the context comes back to its rate. */
        if (start <= now && __sync_val_compare_and_swap(&vm->next_nsec, seen, start + cost) == seen) {
                if (flow)
                        flow_charge(flow, max_u64(flow->next_nsec, sub_sat(now, cfg->light_burst_nsec)), now, cost);
                goto admit;
        }

        /* At the rate (or another CPU moved the timeline meanwhile). */
        if (!flow && by_hash)
                flow = flow_by_hash(skb, slot);

        /* Light or heavy, from the flow's own timeline (updated without a
         * lock: a race only blurs the estimate for one packet). */
        bool light = true;
        __u64 flow_start = 0;
        if (flow) {
                flow_start = max_u64(flow->next_nsec, sub_sat(now, cfg->light_burst_nsec));
                light = flow_start <= now;
        }
        __u64 allowed = light ? cfg->light_horizon_nsec : (may_delay && pace ? cfg->horizon_nsec : 0);

        /* ECN, for a heavy packet: where it would be dropped for want of
         * time (dropping, or a tap's ingress), a packet of an ECN-capable
         * flow may still take the context up to ecn_nsec into debt, marked
         * CE instead (bpf_skb_ecn_set_ce() marks only such a packet, and
         * says whether it did); one that is not ECN-capable is dropped as
         * before.  Pacing, and light packets, are marked below. */
        bool delay = !light && may_delay && pace;
        __u64 ecn_debt = !light && !delay ? cfg->ecn_nsec : 0;

        /* A compare-and-swap catches an idle timeline up to a full bucket
         * (so that it loses no other CPU's packet); then the packet takes
         * its place with one fetch-and-add, and gives it back if it may not
         * pass (meanwhile another CPU may see the timeline a packet later
         * than it is: that one is only delayed or dropped a little early). */
        seen = vm->next_nsec;
        if (seen < floor)
                __sync_val_compare_and_swap(&vm->next_nsec, seen, floor);
        start = max_u64(__sync_fetch_and_add(&vm->next_nsec, cost), floor);
        if (start > now + allowed && (start > now + allowed + ecn_debt || !bpf_skb_ecn_set_ce(skb))) {
                __sync_fetch_and_add(&vm->next_nsec, -cost);
                goto drop;
        }
        if (start > now + allowed)
                st->marked++;
        else if ((light || delay) && cfg->ecn_nsec && start > now + cfg->ecn_nsec && bpf_skb_ecn_set_ce(skb))
                /* Beyond the threshold, an ECN-capable flow is told (and
                 * still passes): a paced bulk flow whose packet waits more
                 * than ecn_nsec; and a light one, so that many light flows
                 * together (128 bulk flows each far below an eighth of the
                 * rate are each light) slow down before their debt reaches
                 * the light allowance, where every flow's packets drop,
                 * request-response ones too.  A request-response flow
                 * loses nothing by a mark. */
                st->marked++;

        if (flow)
                flow_charge(flow, flow_start, now, cost);
        if (delay && start > now) {
                __u64 departure = start - EGRESS_CLOCK_OFFSET_NSEC;
                if (departure > skb->tstamp)
                        skb->tstamp = departure;
                st->delayed++;
        }
admit:
        st->bytes += len;
        st->packets += segs;
        return TC_ACT_UNSPEC;
drop:
        st->dropped++;
        /* A local sender hears of it (NET_XMIT_DROP): TCP keeps the packet,
         * reduces its window and sends it again later, instead of losing it
         * and recovering (which, at a short round trip, runs into the same
         * empty bucket again).  On a tap's ingress it is an ordinary drop. */
        return TC_ACT_SHOT;
}

SEC("tc")
int egress_uplink(struct __sk_buff *skb) {
        struct bpf_sock *sk = skb->sk;
        __u32 slot;

        if (!sk) {
                /* Forwarded from a tap: its VM's.  Paced here; when
                 * dropping, the tap's ingress has done it already. */
                __u32 ifindex = skb->ingress_ifindex;
                __u32 *tap = ifindex != 0 ? bpf_map_lookup_elem(&taps, &ifindex) : NULL;
                if (tap) {
                        slot = *tap;
                        if (!pace || slot > EGRESS_HOST_SLOT)
                                return TC_ACT_UNSPEC;
                        return enforce(skb, slot, NULL, true, true);
                }
                return enforce(skb, EGRESS_HOST_SLOT, NULL, true, true);
        }

        sk = bpf_sk_fullsock(sk);
        if (!sk) {
                /* A request or time-wait socket: a handshake or closing
                 * packet, small; classified afresh, and light. */
                return enforce(skb, classify_cgroup(skb), NULL, false, true);
        }

        EgressSock *s = bpf_sk_storage_get(&socks, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
        if (!s)
                return enforce(skb, classify_cgroup(skb), NULL, false, true);
        __u64 gen = generation;
        if (s->generation != gen) {
                s->slot = classify_cgroup(skb);
                s->generation = gen;
        }
        slot = s->slot;
        if (slot > EGRESS_HOST_SLOT)
                slot = EGRESS_HOST_SLOT;
        return enforce(skb, slot, &s->flow, false, true);
}

SEC("tc")
int egress_tap(struct __sk_buff *skb) {
        __u32 ifindex = skb->ifindex;
        __u32 *s = bpf_map_lookup_elem(&taps, &ifindex);
        if (!s)
                return TC_ACT_UNSPEC;
        __u32 slot = *s;
        if (slot > EGRESS_HOST_SLOT)
                return TC_ACT_UNSPEC;
        return enforce(skb, slot, NULL, true, false);
}

char LICENSE[] SEC("license") = "LGPL-2.1-or-later";
