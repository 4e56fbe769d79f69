/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The Manager: owns the sd_event loop, its timers and signal sources, the
 * running policy, the scheduler cores (one for CPU, one per declared
 * direction of each I/O device) and the table of VMs with their cgroup
 * files and restore records.
 *
 * Each tick it reads every VM's cpu.stat and cpu.pressure (and io.stat where
 * the VM has I/O policy), feeds the deltas to the cores, and writes
 * cpu.weight, cpu.max and io.max where the decisions changed them, and the
 * cpu.weight of the cgroups between the root and the VMs (hierarchy.h).  memory.min and memory.max
 * follow the policy, written when it is applied.  Everything schedd
 * changes is written back on exit (restore.h).
 *
 *   SIGTERM, SIGINT  restore and exit
 *   SIGHUP           reload the policy (an invalid one is logged and the
 *                    running policy stays)
 *
 * Only this layer and main log.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

/* Called after every tick with the number of ticks so far (tests: change
 * the fake counters, look at the files schedd wrote). */
typedef void (*ManagerTickHook)(uint64_t ticks, void *userdata);

typedef struct ManagerOptions {
        uint64_t max_ticks;          /* exit (restoring) after this many ticks; 0: run until signalled */
        const char *stats_file;      /* rewritten after every tick; NULL: none */
        const char *sys_class_block; /* where block device names resolve; NULL: /sys/class/block */
        ManagerTickHook after_tick;  /* NULL: none */
        void *userdata;              /* for after_tick */
        bool bus;                    /* serve the D-Bus interface (manager_bus_start()) */
        const char *bus_address;     /* ... on this bus instead of the system bus */
        bool bus_user;               /* ... or on the user's bus */
} ManagerOptions;

typedef struct Manager Manager;

/* `config` must outlive the manager.  0 and *ret, or -ENOMEM. */
int manager_new(const Config *config, const ManagerOptions *options, Manager **ret);
/* Frees everything without restoring (manager_run() restores before it returns). */
Manager *manager_free(Manager *m);

/*
 * Start-up: opens the cgroup root and the state directory, writes back
 * what a crashed run left changed, loads and validates the policy, checks
 * and enables the controllers it needs, picks up the VMs' cgroups and arms
 * the tick.  Logs what goes wrong; 0 or -errno.
 */
int manager_start(Manager *m);

/* Runs the loop until a signal or --ticks ends it, then restores every VM.
 * 0, or the first fatal -errno. */
int manager_run(Manager *m);

/* Loads, validates and applies the policy again (SIGHUP).  0, or -errno
 * with the error logged and the running policy kept. */
int manager_reload(Manager *m);

/*
 * Serves the D-Bus interface (manager-bus.c): connects to the system bus
 * (options.bus_address or bus_user: that bus instead), publishes the
 * objects and takes [bus] name.  manager_start() calls it when
 * options.bus is set.  A system bus that cannot be reached is logged and
 * schedd goes on without the interface; anything else (another owner of
 * the name, a given bus out of reach) is -errno, logged.
 */
int manager_bus_start(Manager *m);

/* Writes the introspection XML of the manager object and of a VM object
 * to f, without any bus (`schedd --bus-introspect`).  0 or -errno. */
int manager_bus_introspect(FILE *f);
