/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The Manager's insides, shared by its parts:
 *   manager.c         life cycle, event sources, the tick, the scan, signals
 *   manager-vm.c      one VM: attach, release, reading its counters, writing its knobs
 *   manager-hierarchy.c the cgroups between the root and the VMs: their cpu.weight (hierarchy.h)
 *   manager-policy.c  loading, validating and applying a policy (start and SIGHUP)
 *   manager-stats.c   the host remainder, STATUS= text, the --stats-file view
 *   manager-control.c changes asked for over the bus: set, reset, move, validate (manager-control.h)
 *   manager-bus.c     the D-Bus interface: vtables that translate calls to manager-control.c
 *   manager-metrics.c counting for the metrics, snapshots for the /metrics endpoint
 *   manager-net.c     egress: the eBPF program on [network] interfaces, its core, the VMs in it
 */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "cgroup.h"
#include "egress.h"
#include "manager.h"
#include "metrics-http.h"
#include "metrics.h"
#include "policy/validate.h"
#include "restore.h"
#include "sched.h"
#include "usage.h"

/* One VM's part in one I/O device. */
typedef struct ManagerVmIo {
        int slot[_IO_DIR_MAX];      /* in the device's core for the direction; -1: not in it */
        uint64_t used[_IO_DIR_MAX]; /* in the last tick: bytes or operations */
        IoStat last;                /* io.stat counters at the previous tick */
        bool have_last;
        uint64_t held_ticks[_IO_DIR_MAX]; /* metrics: ticks that ended held, and their time */
        uint64_t held_usec[_IO_DIR_MAX];
} ManagerVmIo;

/* One VM's part in egress scheduling (manager-net.c). */
typedef struct ManagerVmNet {
        bool joined;                     /* in the egress core and in the program, both at `slot` */
        int slot;                        /* the core's slot, which is also the program's VM index */
        uint64_t cgroup_id;              /* the cgroup directory's inode number, as the program knows it */
        char tap[CONFIG_IFNAME_MAX + 1]; /* the tap tied to it ("": none) ... */
        int tap_ifindex;                 /* ... and its index when tied */
        EgressCounters last;             /* the program's counters at the previous tick */
        uint64_t used;                   /* bytes in the last tick */
        bool throttled;                  /* dropped or delayed packets lately (until throttled_until_usec) */
        uint64_t throttled_until_usec;
        bool warned; /* a failure was logged (once, until it works again) */
        bool warned_tap;
        uint64_t bytes_total; /* metrics: since schedd started managing the VM */
        uint64_t packets_total;
        uint64_t held_ticks;
        uint64_t held_usec;
} ManagerVmNet;

/* Where a tick's time goes and how many reads it made, summed since start
 * (manager-vm.c; logged at debug level every MANAGER_COST_REPORT_TICKS). */
typedef struct ManagerTickCost {
        uint64_t ticks;
        uint64_t read_nsec;      /* cpu.stat, cpu.pressure, io.stat */
        uint64_t core_nsec;      /* from the end of the reads to the start of the writes */
        uint64_t write_nsec;     /* cpu.weight, cpu.max, io.max where they changed */
        uint64_t reads_end_nsec; /* this tick's reads ended (CLOCK_THREAD_CPUTIME_ID) */
        uint64_t cpu_stat_reads;
        uint64_t pressure_reads;
        uint64_t estimates; /* VM-ticks told a steady VM's rate instead of a read */
} ManagerTickCost;

typedef enum ManagerVmState {
        MANAGER_VM_WAITING, /* its cgroup is not there (yet) */
        MANAGER_VM_MANAGED,
} ManagerVmState;

typedef struct ManagerVm {
        char *name;
        char *cgroup;         /* relative to the cgroup root */
        const ResolvedVm *rv; /* in Manager.resolved */
        ManagerVmState state;
        bool gone;          /* its cgroup vanished: released at the next safe point */
        CgroupVm *cg;       /* managed only */
        RestoreVm *restore; /* managed only */
        int cpu_slot;       /* managed only, else -1 */
        ManagerVmIo *io;    /* one per Manager.devices entry */
        CpuStat last_cpu;
        bool have_last_cpu;
        uint64_t last_waited_usec; /* cpu.pressure's "some" total at the last read */
        bool have_last_waited;
        bool no_pressure;       /* its cgroup has no cpu.pressure (PSI off): not read again */
        uint64_t cpu_used_usec; /* in the last tick */
        unsigned idle_ticks;    /* ticks in a row it used no CPU (read less often once idle) */
        bool cpu_enforced;      /* cpu.weight and cpu.max hold the two values below */
        uint32_t enforced_weight;
        uint64_t enforced_quota_usec;
        bool cpu_throttled;      /* nr_throttled rose in the last tick, or its threads waited for a CPU */
        UsagePlan usage;         /* when its cpu.stat is read, what the core is told in between (usage.h) */
        uint64_t cpu_held_ticks; /* metrics: ticks that ended held, and their time */
        uint64_t cpu_held_usec;
        unsigned warned_files;    /* files whose failed read or write was logged (bits of CgroupFile) */
        bool warned_attach;       /* waiting, or a failed attach, was logged */
        bool bus_held;            /* held, as last announced on the bus */
        uint64_t bus_signal_usec; /* when it was announced; 0: never */
        ManagerVmNet net;
} ManagerVm;

/* A cgroup between the cgroup root and some VMs (hierarchy.h), whose
 * cpu.weight schedd sets to the sum of theirs. */
typedef struct ManagerAncestor {
        char *cgroup; /* relative to the cgroup root */
        CgroupVm *cg;
        RestoreVm *restore; /* its original cpu.weight, as for a VM */
        uint32_t weight;    /* last written; 0: not yet */
        bool warned;        /* a failed write was logged (once, until one works) */
} ManagerAncestor;

/* A declared I/O device and its cores. */
typedef struct ManagerDevice {
        char *name;
        bool resolved;   /* its major:minor is known; no enforcement otherwise */
        char devnum[24]; /* "MAJ:MIN" */
        unsigned major, minor;
        uint64_t cap[_IO_DIR_MAX];
        Sched *sched[_IO_DIR_MAX]; /* NULL where the direction has no declared capacity */
} ManagerDevice;

struct Manager {
        const Config *config;
        ManagerOptions options;

        sd_event *event;
        sd_event_source *tick_source;
        sd_event_source *scan_source;
        sd_event_source *sigterm_source;
        sd_event_source *sigint_source;
        sd_event_source *sighup_source;

        int root_fd;          /* the cgroup root, O_PATH */
        int state_fd;         /* the state directory */
        unsigned controllers; /* checked and enabled for the root's children */

        HostFacts facts;
        Policy policy; /* the running policy; `resolved` points into it */
        ResolvedPolicy resolved;
        bool have_policy;

        Sched *cpu;
        uint64_t cpu_capacity; /* micro-CPUs */
        ManagerDevice *devices;
        size_t n_devices;

        ManagerVm **vms;
        size_t n_vms;

        ManagerAncestor **ancestors; /* the VMs' parents whose cpu.weight schedd manages */
        size_t n_ancestors;

        ManagerTickCost cost;
        SchedUsage *usage; /* scratch for sched_tick() */
        size_t n_usage;

        uint64_t tick_usec;
        uint64_t next_tick_usec;
        uint64_t last_tick_usec; /* the previous tick's time; 0 before the first */
        uint64_t ticks;
        uint64_t elapsed_usec;   /* between the last two ticks */
        uint64_t host_used_usec; /* CPU the host context used in the last tick: capacity minus the VMs */

        bool ready;
        uint64_t last_status_usec;
        char status[256];
        uint64_t watchdog_usec; /* WatchdogSec=, 0: none */
        uint64_t last_watchdog_usec;

        int exit_error; /* a fatal error met inside the loop */

        /* The bus (manager-bus.c) and the changes made over it (manager-control.c) */
        sd_bus *bus;              /* NULL: no D-Bus interface */
        Policy runtime;           /* `schedctl set --runtime`: laid over the files, lost on exit */
        PolicyError policy_error; /* why manager_apply_policy_files() failed last */

        /* Metrics (manager-metrics.c) */
        MetricsServer *metrics_server; /* NULL: no endpoint */
        MetricsHistogram tick_duration;
        uint64_t ticks_missed;        /* tick deadlines that passed without a tick */
        uint64_t reloads;             /* manager_reload() calls */
        uint64_t reload_failures;     /* of which failed */
        uint64_t host_cpu_usage_usec; /* host_used_usec summed over ticks */
        uint64_t metrics_published_usec;

        /* Egress (manager-net.c) */
        Egress *egress;        /* NULL: [network] interfaces is empty */
        Sched *net;            /* the egress core; NULL while the policy declares no host.interfaces */
        uint64_t net_capacity; /* bytes per second */
        char *net_label;       /* the shaped interfaces, "eth0,eth1" (metrics, bus) */
        SchedUsage *net_usage; /* scratch for sched_tick() */
        size_t n_net_usage;

        /* Other writers' changes, the host context (manager-reassert.c) */
        struct ManagerReassert *reassert;
};

static inline SchedParams manager_params_of(const ResolvedResource *r) {
        return (SchedParams){
                .reserve = r->reserve,
                .limit = r->limit,
                .burst = r->burst,
                .share = r->share,
        };
}

/* manager.c */

/* Arms the scan for missing cgroups (off when there are no VMs). */
void manager_scan_update(Manager *m);

/* manager-vm.c */

ManagerVm *manager_vm_free(ManagerVm *v); /* returns NULL */
/* Per-device state for n devices, every slot -1.  NULL on OOM. */
ManagerVmIo *manager_vm_io_new(size_t n_devices);
bool manager_vm_in_device(const ManagerVm *v, size_t dev);
/* Marks the VM gone if r is -ENODEV; returns r. */
int manager_vm_check_gone(ManagerVm *v, int r);
/* Ends management of a VM: `restore` writes back what schedd changed,
 * otherwise (its cgroup is gone) the record is dropped.  It waits afterwards. */
void manager_vm_release(Manager *m, ManagerVm *v, bool restore);
/* Releases the VMs found gone since the last call. */
void manager_release_gone(Manager *m);
/* Attaches every waiting VM whose cgroup is there (made, with `create`
 * and the VM's create: true).  0, or -ENOMEM. */
int manager_attach_waiting(Manager *m, bool create);
/* Puts a managed VM into the I/O cores its policy names.  0, or -ENOMEM. */
int manager_vm_join_io(Manager *m, ManagerVm *v);
/* memory.min and memory.max from the policy, or back to their originals. */
void manager_vm_apply_memory(ManagerVm *v);
/* Writes back one knob's original (io.max: of `device`).  0 or -ENODEV. */
int manager_vm_undo(ManagerVm *v, CgroupFile f, const char *device);
/* Each tick: cpu.stat and io.stat of every managed VM into its counters,
 * then cpu.weight, cpu.max and io.max from the decisions. */
void manager_read_cpu(Manager *m);
void manager_read_io(Manager *m);
void manager_enforce(Manager *m);

/* manager-hierarchy.c */

/* Each tick after manager_enforce(): the cpu.weight of every cgroup between
 * the root and the managed VMs, from theirs; parents no managed VM is
 * below any more get their original back.  Failures are logged once. */
void manager_hierarchy_sync(Manager *m);
/* Before a VM attaches: a managed parent whose cgroup is now a VM's gets
 * its original back and leaves the table (the VM records its own). */
void manager_hierarchy_yield(Manager *m);
/* Every managed parent leaves the table: `restore` writes the originals
 * back (exit), otherwise the records stay on disk (manager_free(), as after
 * a crash: the next start reconciles them). */
void manager_hierarchy_release(Manager *m, bool restore);

/* manager-policy.c */

void manager_devices_free(ManagerDevice *d, size_t n);
/* Loads and validates the policy files, checks the controllers, applies
 * the policy and logs it as `what` ("Running", "Reloaded").  Errors are
 * logged; before the apply, the running policy stays.  0 or -errno. */
int manager_apply_policy_files(Manager *m, const char *what);
/* The same without logging the error: err says what is wrong.  0 or -errno. */
int manager_apply_files(Manager *m, const char *what, PolicyError *err);
/* Validates a merged policy and checks the controllers it needs, changing
 * nothing else.  0 and *ret (for manager_commit_policy()), or -errno and err. */
int manager_check_policy(Manager *m, const Policy *policy, ResolvedPolicy *ret, PolicyError *err);
/* Makes a checked policy the running one, logged as `what`.  Takes over
 * (and empties) *policy and *rp whatever it returns.  0 or -ENOMEM. */
int manager_commit_policy(Manager *m, Policy *policy, ResolvedPolicy *rp, const char *what);

/* manager-stats.c */

/* The host context's CPU in the last tick: capacity minus the VMs. */
void manager_account_host(Manager *m);
/* "3 VMs, 1 held, tick 10ms" (", 1 waiting" where VMs wait). */
void manager_format_status(const Manager *m, char *buf, size_t size);
/* Rewrites options.stats_file.  0 or -errno. */
int manager_write_stats(Manager *m, uint64_t now);

/* manager-metrics.c */

/* Starts the /metrics endpoint on the socket the service manager passed,
 * or on [metrics] listen.  One that cannot start is logged and left off.
 * 0, or -ENOMEM. */
int manager_metrics_start(Manager *m);
void manager_metrics_stop(Manager *m);
/* After every tick, with what it took: the counters, and a snapshot for the
 * endpoint when one is due. */
void manager_metrics_tick(Manager *m, uint64_t now, uint64_t duration_usec);
/* The state now, as one malloc() block.  0 and *ret, or -ENOMEM. */
int manager_metrics_snapshot(const Manager *m, MetricsSnapshot **ret);

/* manager-net.c */

/* Loads the egress program onto [network] interfaces (none: nothing to do).
 * Logs what goes wrong; 0 or -errno. */
int manager_net_start(Manager *m);
/* Takes every VM out and removes what manager_net_start() and the taps
 * added (qdiscs, filters, maps); safe to call twice. */
void manager_net_stop(Manager *m);
/* After a policy was applied: the core's capacity, the VMs' settings, VMs
 * in and out.  0, or -ENOMEM. */
int manager_net_apply(Manager *m);
/* Managed VMs with net.egress join, others leave; with `rescan`, cgroup ids
 * and taps are looked at again (the scan).  0, or -ENOMEM. */
int manager_net_sync(Manager *m, bool rescan);
/* Takes a VM out of egress scheduling (before it is freed). */
void manager_net_leave(Manager *m, ManagerVm *v);
/* Each tick: the program's counters into the core, its rates back.  0, or -ENOMEM. */
int manager_net_tick(Manager *m, uint64_t now);

/* manager-bus.c */

/* After every tick: announces the VMs whose held state changed, at most
 * once a second per VM (the latest state wins). */
void manager_bus_tick(Manager *m, uint64_t now);
/* Leaves the bus (manager_free()). */
void manager_bus_stop(Manager *m);
