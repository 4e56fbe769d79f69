/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * bench-core: the scheduler core's cost per VM per tick and its memory per
 * VM, for 10 to 10,000 VMs.  Usage is synthetic (a mix of busy, idle,
 * bursting and reserved VMs, changing over time) so every path of the core
 * runs.  Prints a table; the figures go into the README with this command.
 */

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "schedd/sched.h"

/* One CPU in the core's unit (micro-CPUs). */
#define CPU_UCPU 1000000ULL
/* The daemon's default tick. */
#define TICK_USEC 10000ULL
/* Enough ticks that the timing is well above the clock's resolution even
 * for 10 VMs, few enough that 10,000 VMs finish in seconds. */
#define TOTAL_VM_TICKS 20000000ULL

static uint64_t now_nsec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A small deterministic generator, so runs are comparable. */
static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rng(void) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return rng_state;
}

static int bench(size_t n_vms) {
        uint64_t capacity = 64 * CPU_UCPU; /* a big host, so reservations fit */
        struct mallinfo2 before = mallinfo2();

        Sched *s = sched_new(SCHED_MODE_WEIGHT, capacity);
        if (!s)
                return -1;
        for (size_t i = 0; i < n_vms; i++) {
                SchedParams p = {
                        .reserve = i % 4 == 0 ? capacity / (4 * n_vms) : 0,
                        .limit = i % 5 == 0 ? capacity / 2 : capacity,
                        .burst = i % 3 == 0 ? 200000 : 0,
                        .share = (uint32_t)(1 + rng() % 10),
                };
                if (sched_add(s, &p) < 0)
                        return -1;
        }
        struct mallinfo2 after = mallinfo2();

        SchedUsage *u = calloc(n_vms, sizeof(*u));
        if (!u)
                return -1;

        size_t ticks = TOTAL_VM_TICKS / n_vms;
        uint64_t now = 1000000, busy = 0;
        sched_tick(s, now, u);
        for (size_t t = 0; t < ticks; t++) {
                /* Each VM's use this tick: a share of its rate that shifts
                 * every 100 ticks, some VMs idle, some throttled. */
                for (size_t i = 0; i < n_vms; i++) {
                        const SchedDecision *d = sched_decision(s, (int)i);
                        uint64_t phase = (t / 100 + i) % 4;
                        uint64_t rate = phase == 0 ? 0 : d->rate * (phase == 3 ? 100 : 60 + phase * 10) / 100;
                        u[i].used = rate * TICK_USEC / 1000000;
                        u[i].throttled = phase == 3 && i % 5 == 0;
                }
                now += TICK_USEC;
                uint64_t t0 = now_nsec();
                if (sched_tick(s, now, u) < 0)
                        return -1;
                busy += now_nsec() - t0;
        }

        double ns_per_vm_tick = (double)busy / ((double)ticks * (double)n_vms);
        /* Small blocks come from the arenas, large ones are mmap()ed: count both. */
        size_t heap = (after.uordblks + after.hblkhd) - (before.uordblks + before.hblkhd);
        printf("%8zu %10zu %14.1f %14.1f %14zu %12zu\n", n_vms, ticks, ns_per_vm_tick,
               (double)busy / (double)ticks / 1000.0, heap / n_vms, sched_bytes_per_slot());

        free(u);
        sched_free(s);
        return 0;
}

int main(void) {
        static const size_t sizes[] = {10, 100, 1000, 10000};

        printf("scheduler core, weight mode (CPU), one resource, tick %llu us\n", (unsigned long long)TICK_USEC);
        printf("%8s %10s %14s %14s %14s %12s\n", "VMs", "ticks", "ns/VM/tick", "us/tick", "heap B/VM", "state B/VM");
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
                if (bench(sizes[i]) < 0) {
                        fprintf(stderr, "bench-core: failed at %zu VMs\n", sizes[i]);
                        return 1;
                }
        printf("target: under 200 ns per VM per tick at 1,000 VMs\n");
        return 0;
}
