/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Types and sizes shared by the egress program (bpf/egress.bpf.c) and its
 * loader (schedd/egress.c), and nothing else.
 *
 * Contexts live in slots 0..EGRESS_MAX_VMS-1 (the VMs, indexed as the
 * loader's caller numbers them) plus EGRESS_HOST_SLOT, the implicit host
 * context that owns whatever no VM claims.
 */

#include <linux/bpf.h>
#include <linux/types.h>

/* The most VMs one host shapes.  A microVM host runs tens to a few hundred
 * guests; 512 leaves room and keeps the per-flow table (below) at 1 MiB. */
#define EGRESS_MAX_VMS 512
/* The host context's slot, after the VMs'. */
#define EGRESS_HOST_SLOT EGRESS_MAX_VMS
/* Entries of every per-context map. */
#define EGRESS_SLOTS (EGRESS_MAX_VMS + 1)

/* Deepest cgroup level the program looks at for a VM's cgroup.  systemd puts
 * a VM at level 2 or 3 (machine.slice/NAME.scope/...); 16 is far beyond any
 * real tree and bounds the walk the verifier has to follow. */
#define EGRESS_MAX_CGROUP_LEVEL 16

/* Flows without a socket (a tap's traffic, forwarded packets) are told apart
 * by their hash in this many slots per context: two flows share a slot with
 * probability 1/256, rare enough that a small flow is almost never mistaken
 * for the bulk flow beside it.  A power of two (the index is a mask). */
#define EGRESS_FLOW_SLOTS   256
#define EGRESS_FLOW_ENTRIES (EGRESS_SLOTS * EGRESS_FLOW_SLOTS)

/* Taps the program knows, one or a few per VM. */
#define EGRESS_MAX_TAPS (2 * EGRESS_MAX_VMS)

/* EgressVmConfig.flags */
enum {
        EGRESS_VM_LIMITED = 1U << 0, /* rate applies; without it packets are only counted */
};

/* Written by the loader whenever the rate changes; read by the program. */
typedef struct EgressVmConfig {
        __u64 rate_bytes_per_sec; /* 0 with EGRESS_VM_LIMITED: nothing passes */
        __u64 nsec_per_byte_q20;  /* 2^20 * 1e9 / rate, if below EGRESS_Q20_MAX; else 0 (the program divides) */
        __u64 burst_nsec;         /* the burst as time at the rate: how far the timeline may lag now */
        __u64 light_burst_nsec;   /* a flow's own allowance to count as light, as time at its light rate */
        __u64 horizon_nsec;       /* pacing: how far ahead a heavy packet may be scheduled (0: dropping) */
        __u64 light_horizon_nsec; /* how far into debt light packets may take the context */
        __u32 flags;
        /* ECN (see EGRESS_ECN_* below), for heavy packets of ECN-capable
         * flows: pacing, the delay above which they are marked CE;
         * dropping, the debt within which they are marked CE and admitted
         * instead of dropped.  0: no marking.  At most 2^32 ns (4.3 s). */
        __u32 ecn_nsec;
} EgressVmConfig;

/* Pacing: a heavy packet of an ECN-capable flow (ECT(0) or ECT(1) in its IP
 * header) given a departure time more than this far ahead is marked CE, so
 * that its sender slows down before the queue reaches the horizon (where
 * packets drop): 1 ms, the threshold Cilium's EDT marking uses.  A flow
 * that is not ECN-capable is paced as before and dropped at the horizon. */
#define EGRESS_ECN_DELAY_NSEC (1000ULL * 1000)

/* The program's clock runs this far ahead of CLOCK_MONOTONIC, so that "now
 * minus a burst" never goes below zero, even just after boot: a fresh
 * timeline (0) is then always a full bucket.  The loader caps every time it
 * hands the program (bursts, horizons) at this. */
#define EGRESS_CLOCK_OFFSET_NSEC (1ULL << 62)

/* The largest reciprocal the program multiplies by: with packets below
 * 2^20 bytes the product stays below 2^63 (rates above 119 bytes/s). */
#define EGRESS_Q20_MAX (1ULL << 43)

/* One context's entry: the loader's settings and the program's timeline in
 * one cache line, so that a packet reads and writes one line for its
 * context.  The map is memory-mapped (BPF_F_MMAPABLE): the loader writes the
 * settings field by field there and never the timeline, which the program
 * moves with atomic operations (a whole-value update would overwrite it). */
typedef struct EgressVm {
        EgressVmConfig config;
        /* The context's timeline (GCRA's theoretical arrival time): the moment
         * its bucket is back to empty after what was admitted.  The bucket
         * holds (now - next_nsec) * rate bytes, at most the burst.  The loader
         * sets it to 0 (a full bucket) when a slot is (re)used. */
        __u64 next_nsec;
} EgressVm;

/* One flow's own timeline at a fraction of its context's rate (see
 * EGRESS_LIGHT_SHIFT in the program): a flow within it is light. */
typedef struct EgressFlow {
        __u64 next_nsec;
} EgressFlow;

/* Per socket (socket-local storage): its classification, cached until the
 * loader changes the VM table, and its own flow timeline. */
typedef struct EgressSock {
        __u64 generation; /* the program's `generation` this was classified under */
        __u32 slot;
        __u32 pad;
        EgressFlow flow;
} EgressSock;

/* Per context and CPU; the loader sums over CPUs. */
typedef struct EgressStats {
        __u64 bytes;   /* admitted, as on the wire */
        __u64 packets; /* admitted, counting each segment of a GSO packet */
        __u64 delayed; /* packets given a later departure time */
        __u64 dropped; /* packets dropped above the rate */
        __u64 marked;  /* packets marked CE (ECN) above the rate */
} EgressStats;
