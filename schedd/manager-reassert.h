/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Other writers of the knobs schedd owns, and the host context
 * (manager-reassert.c).
 *
 * On a systemd host the VMs are units whose cgroups systemd owns: whenever
 * it re-applies a unit (daemon-reload, set-property) it writes all of that
 * unit's attributes back to its own values, and may switch the cpu
 * controller off for a slice.  Every REASSERT_INTERVAL, schedd reads back
 * what it last wrote to the VMs' cpu.weight and cpu.max, their parents' and
 * the host context's cpu.weight; a knob found changed is logged (file and
 * content), counted, and written again at the same tick.
 *
 * The host context is every child of the cgroup root that holds no VM
 * (init.scope, system.slice, user.slice): it is one more slot in the CPU
 * core, scheduled like a VM with the reservation [schedd] host_reserve and
 * share 0, its usage the sum of those cgroups' cpu.stat; each of those
 * cgroups gets the weight the core gives it.
 */

#include <stdint.h>

#include "manager-internal.h"
#include "sched.h"

typedef struct ManagerReassert ManagerReassert;

/* Each tick, after the VMs' usage went into m->usage and before the CPU
 * core ticks: the host context's slot and usage. */
void manager_reassert_usage(Manager *m, uint64_t now);
/* Each tick, before the knobs are written: the read-back when it is due,
 * then the host context's weights. */
void manager_reassert_tick(Manager *m, uint64_t now);
/* Gives the host context's cgroups their cpu.weight back (`restore`), or
 * leaves the records on disk (manager_free(), as after a crash); frees the
 * state.  Safe to call twice. */
void manager_reassert_release(Manager *m, bool restore);
/* Knobs found changed by another writer and written back since the start. */
uint64_t manager_reassert_count(const Manager *m);
