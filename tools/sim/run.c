/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/units.h"
#include "policy/validate.h"
#include "schedd/hierarchy.h"
#include "schedd/sched.h"
#include "host.h"
#include "layers.h"
#include "run.h"

/* The simulated host's memory, for policies that say `memory: auto`: CPU
 * scenarios never depend on it, any plausible size does. */
#define SIM_MEMORY_BYTES (8ULL << 30)

/* What the runner tracks per VM of the scenario (same index as Scenario.vms). */
typedef struct RunVm {
        int slot;                 /* in the core, or -1 */
        uint64_t last_usage_usec; /* at the previous tick (the daemon's memory) */
        uint64_t last_nr_throttled;
        uint64_t last_waited_usec; /* cpu.pressure's "some" total then */
        bool write_failed;         /* a refused write was already reported */
        /* counters that survive the cgroup vanishing and the core's slot going */
        uint64_t usage_carried_usec;
        uint64_t nr_throttled_carried;
        uint64_t transitions_carried;
        uint64_t idle_usec; /* how long it has used no CPU (the daemon's memory, for its parents' weights) */
        /* at the start of the window, and of the current segment */
        uint64_t from_usage_usec;
        uint64_t from_nr_throttled;
        uint64_t from_transitions;
        uint64_t segment_usage_usec;
} RunVm;

typedef struct Run {
        const Scenario *sc;
        SimHost host;
        Sched *sched;
        ResolvedPolicy resolved; /* the policy in force */
        Policy policy;           /* its model: files, override and runtime merged */
        SimLayers layers;        /* what that policy is made of, as schedctl changes it */
        RunVm *vms;
        size_t *load_vm;   /* the VM index of each load entry (a move changes it) */
        SchedUsage *usage; /* scratch for sched_tick(), n_usage entries */
        size_t n_usage;
        uint64_t now_usec;
        SimResult *result;
        /* The cgroups between the root and the VMs (schedd/hierarchy.h): host slots n_vms + k,
         * their cpu.weight written as schedd's manager-hierarchy.c writes it. */
        char **cgroups; /* per VM, from the initial policy: where the tree puts it */
        HierarchyNode *parents;
        size_t n_parents;
} Run;

static int run_log(Run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run_log(Run *run, const char *fmt, ...) {
        char when[UNIT_FORMAT_MAX], *text = NULL, *line = NULL, **m;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&text, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        r = asprintf(&line, "%s: %s", unit_format_duration(run->now_usec, when, sizeof(when)), text);
        free(text);
        if (r < 0)
                return -ENOMEM;

        m = realloc(run->result->messages, (run->result->n_messages + 1) * sizeof(*m));
        if (!m) {
                free(line);
                return -ENOMEM;
        }
        run->result->messages = m;
        m[run->result->n_messages++] = line;
        return 0;
}

static const ResolvedVm *resolved_find(const ResolvedPolicy *rp, const char *name) {
        for (size_t i = 0; i < rp->n_vms; i++)
                if (strcmp(rp->vms[i].name, name) == 0)
                        return &rp->vms[i];
        return NULL;
}

static SchedParams params_of(const ResolvedVm *v) {
        return (SchedParams){
                .reserve = v->cpu.reserve,
                .limit = v->cpu.limit,
                .burst = v->cpu.burst,
                .share = v->cpu.share,
        };
}

/* The VM's cpu.stat counters, continued across its cgroup vanishing and reappearing. */
static void vm_totals(const Run *run, size_t i, uint64_t *ret_usage_usec, uint64_t *ret_nr_throttled) {
        const RunVm *v = &run->vms[i];
        SimCpuStat st = {};

        (void)simhost_read_stat(&run->host, i, &st); /* zeros when the cgroup is absent */
        *ret_usage_usec = v->usage_carried_usec + st.usage_usec;
        *ret_nr_throttled = v->nr_throttled_carried + st.nr_throttled;
}

static uint64_t vm_transitions(const Run *run, size_t i) {
        const RunVm *v = &run->vms[i];

        return v->transitions_carried + (v->slot >= 0 ? sched_transitions(run->sched, v->slot) : 0);
}

/* Puts VM i into the core; its usage counts from now. */
static int vm_manage(Run *run, size_t i, const ResolvedVm *rv) {
        RunVm *v = &run->vms[i];
        SchedParams p = params_of(rv);
        SimCpuStat st = {};
        int r;

        r = sched_add(run->sched, &p);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return run_log(run, "%s: the core refused its settings: %s", run->sc->vms[i], strerror(-r));
        v->slot = r;
        (void)simhost_read_stat(&run->host, i, &st);
        v->last_usage_usec = st.usage_usec;
        v->last_nr_throttled = st.nr_throttled;
        (void)simhost_read_pressure(&run->host, i, &v->last_waited_usec);
        v->write_failed = false;
        v->idle_usec = 0;
        return 0;
}

/* Takes VM i out of the core; `reset`: hand its (still existing) cgroup back to the kernel's defaults. */
static void vm_unmanage(Run *run, size_t i, bool reset) {
        RunVm *v = &run->vms[i];

        if (v->slot < 0)
                return;
        v->transitions_carried += sched_transitions(run->sched, v->slot);
        (void)sched_remove(run->sched, v->slot);
        v->slot = -1;
        if (reset && simhost_cgroup_exists(&run->host, i)) {
                (void)simhost_set_weight(&run->host, i, SIMHOST_WEIGHT_DEFAULT);
                (void)simhost_set_quota(&run->host, i, 0);
        }
}

static int set_capacity(Run *run, uint64_t capacity) {
        int r = sched_set_capacity(run->sched, capacity);

        if (r < 0)
                return run_log(run, "the core refused the capacity %llu: %s", (unsigned long long)capacity,
                               strerror(-r));
        return 0;
}

/*
 * Makes *candidate (taken over whatever happens) the policy in force if it
 * validates; else logs `refused` and the reason, and returns 1.
 */
static int apply_candidate(Run *run, Policy *candidate, const char *refused) {
        const Scenario *sc = run->sc;
        HostFacts facts = {.cpus_ucpu = sc->cpus_ucpu, .memory_bytes = SIM_MEMORY_BYTES};
        ResolvedPolicy rp = {};
        PolicyError err = {};
        int r;

        r = policy_validate(candidate, &facts, &rp, &err);
        if (r < 0) {
                policy_done(candidate);
                if (r == -ENOMEM)
                        return r;
                r = run_log(run, "%s: %s", refused, err.message);
                return r < 0 ? r : 1;
        }

        /* VMs the new policy drops go first; the capacity changes before the
         * others' settings when it grows and after when it shrinks, so that
         * the core never sees a limit over its capacity. */
        for (size_t i = 0; i < sc->n_vms; i++)
                if (!resolved_find(&rp, sc->vms[i]))
                        vm_unmanage(run, i, true);

        bool grows = rp.cpu_capacity > run->resolved.cpu_capacity;
        if (grows) {
                r = set_capacity(run, rp.cpu_capacity);
                if (r < 0)
                        goto fail;
        }

        for (size_t i = 0; i < sc->n_vms; i++) {
                const ResolvedVm *rv = resolved_find(&rp, sc->vms[i]);
                RunVm *v = &run->vms[i];

                if (!rv)
                        continue;
                if (v->slot >= 0) {
                        SchedParams params = params_of(rv);
                        r = sched_update(run->sched, v->slot, &params);
                        if (r < 0)
                                r = run_log(run, "%s: the core refused its new settings: %s", sc->vms[i],
                                            strerror(-r));
                } else if (simhost_cgroup_exists(&run->host, i))
                        r = vm_manage(run, i, rv);
                else
                        r = 0;
                if (r < 0)
                        goto fail;
        }

        if (!grows && rp.cpu_capacity != run->resolved.cpu_capacity) {
                r = set_capacity(run, rp.cpu_capacity);
                if (r < 0)
                        goto fail;
        }

        resolved_policy_done(&run->resolved);
        run->resolved = rp;
        policy_done(&run->policy);
        run->policy = *candidate;
        policy_init(candidate);
        return 0;

fail:
        resolved_policy_done(&rp);
        policy_done(candidate);
        return r;
}

/* A reload: the policy file is replaced (even by an invalid one, as schedd's file is), the overrides stay. */
static int apply_reload(Run *run, const Policy *files) {
        Policy candidate;
        int r;

        run->layers.files = files;
        policy_init(&candidate);
        r = sim_layers_candidate(&run->layers, &candidate);
        if (r < 0)
                return r;
        r = apply_candidate(run, &candidate, "policy reload rejected, the previous policy stays");
        return r < 0 ? r : 0;
}

/* "set a share=3" for messages. */
static char *command_line(const ScenarioEvent *e) {
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        if (!f)
                return NULL;
        fputs("schedctl", f);
        for (size_t i = 0; i < e->argc; i++)
                fprintf(f, " %s", e->argv[i]);
        if (fclose(f) != 0) {
                free(text);
                return NULL;
        }
        return text;
}

static int apply_schedctl(Run *run, const ScenarioEvent *e) {
        SimLayers next;
        PolicyError err = {};
        Policy candidate;
        char *what;
        int r;

        if (e->verb == SCENARIO_SCHEDCTL_QUERY)
                return 0; /* changes nothing; its output is a real kernel's */
        what = command_line(e);
        if (!what)
                return -ENOMEM;
        r = sim_layers_step(&run->layers, &run->policy, e, &next, &err);
        if (r < 0) {
                r = r == -ENOMEM ? r : run_log(run, "%s: refused: %s", what, err.message);
                free(what);
                return r;
        }
        policy_init(&candidate);
        r = sim_layers_candidate(&next, &candidate);
        if (r >= 0) {
                char *refused = NULL;
                r = asprintf(&refused, "%s: refused", what) < 0 ? -ENOMEM : 0;
                if (r >= 0)
                        r = apply_candidate(run, &candidate, refused);
                else
                        policy_done(&candidate);
                free(refused);
        }
        free(what);
        if (r != 0) { /* refused (1) or failed: the layers stay */
                sim_layers_done(&next);
                return r < 0 ? r : 0;
        }
        sim_layers_done(&run->layers);
        run->layers = next;
        return 0;
}

/* A load's processes move: its threads count for the destination from now on. */
static int apply_move(Run *run, const ScenarioEvent *e) {
        int to = scenario_vm_index(run->sc, e->vm), r;

        if (to < 0 || e->load >= run->sc->n_load)
                return -EINVAL; /* the parser checked both */
        if (!simhost_cgroup_exists(&run->host, (size_t)to))
                return run_log(run, "load[%zu]: cannot move into %s: it has no cgroup", e->load, e->vm);
        r = run_log(run, "load[%zu]: moved from %s to %s", e->load, run->sc->vms[run->load_vm[e->load]], e->vm);
        run->load_vm[e->load] = (size_t)to;
        return r;
}

static int apply_event(Run *run, const ScenarioEvent *e) {
        int i, r;

        if (e->kind == SCENARIO_EVENT_POLICY)
                return apply_reload(run, &e->policy);
        if (e->kind == SCENARIO_EVENT_SCHEDCTL)
                return apply_schedctl(run, e);
        if (e->kind == SCENARIO_EVENT_MOVE)
                return apply_move(run, e);

        i = scenario_vm_index(run->sc, e->vm);
        if (i < 0)
                return -EINVAL; /* the parser checked every name */

        if (e->kind == SCENARIO_EVENT_CGROUP_ADD) {
                const ResolvedVm *rv;

                r = simhost_cgroup_create(&run->host, (size_t)i);
                if (r == -EEXIST)
                        return run_log(run, "%s: cgroup_add, but its cgroup exists already", e->vm);
                if (r < 0)
                        return r;
                rv = resolved_find(&run->resolved, e->vm);
                return rv ? vm_manage(run, (size_t)i, rv) : 0;
        }

        if (!simhost_cgroup_exists(&run->host, (size_t)i))
                return run_log(run, "%s: cgroup_remove, but it has no cgroup", e->vm);
        vm_unmanage(run, (size_t)i, false);
        RunVm *v = &run->vms[i];
        SimCpuStat st = {};
        (void)simhost_read_stat(&run->host, (size_t)i, &st);
        v->usage_carried_usec += st.usage_usec;
        v->nr_throttled_carried += st.nr_throttled;
        return simhost_cgroup_remove(&run->host, (size_t)i);
}

static int write_refused(Run *run, size_t i, const char *file, unsigned long long value, int r) {
        if (run->vms[i].write_failed)
                return 0;
        run->vms[i].write_failed = true;
        return run_log(run, "%s: writing %s = %llu refused: %s (reported once per VM)", run->sc->vms[i], file, value,
                       strerror(-r));
}

/* The parents' cpu.weight from the VMs' (schedd/hierarchy.h); a parent no
 * managed VM is below gets the kernel's default back. */
static int parents_tick(Run *run) {
        const Scenario *sc = run->sc;
        HierarchyVm *hv;
        HierarchyNode *nodes = NULL;
        size_t n = 0;
        int r;

        if (run->n_parents == 0)
                return 0;
        hv = calloc(sc->n_vms, sizeof(*hv));
        if (!hv)
                return -ENOMEM;
        for (size_t i = 0; i < sc->n_vms; i++) {
                bool managed = run->vms[i].slot >= 0 && simhost_cgroup_exists(&run->host, i);

                hv[i] = (HierarchyVm){
                        .cgroup = run->cgroups[i],
                        .managed = managed,
                        .weight = managed ? run->host.cgroups[i].weight : 0,
                        .idle_usec = run->vms[i].idle_usec,
                };
        }
        r = hierarchy_compute(hv, sc->n_vms, &nodes, &n);
        free(hv);
        if (r < 0)
                return r;
        /* The same paths as at setup: the same nodes in the same order. */
        for (size_t k = 0; k < n && k < run->n_parents; k++)
                (void)simhost_set_weight(&run->host, sc->n_vms + k, nodes[k].weight ?: SIMHOST_WEIGHT_DEFAULT);
        hierarchy_nodes_free(nodes, n);
        return 0;
}

static int daemon_tick(Run *run) {
        const Scenario *sc = run->sc;
        size_t slots = sched_slots(run->sched);
        int r;

        if (slots > run->n_usage) {
                SchedUsage *u = realloc(run->usage, slots * sizeof(*u));
                if (!u)
                        return -ENOMEM;
                run->usage = u;
                run->n_usage = slots;
        }
        memset(run->usage, 0, run->n_usage * sizeof(*run->usage));

        for (size_t i = 0; i < sc->n_vms; i++) {
                RunVm *v = &run->vms[i];
                SimCpuStat st;
                uint64_t waited = v->last_waited_usec;

                if (v->slot < 0 || simhost_read_stat(&run->host, i, &st) < 0)
                        continue;
                (void)simhost_read_pressure(&run->host, i, &waited);
                /* Held back: throttled, or its threads waited for a CPU (cpu.pressure), as schedd reads it. */
                run->usage[v->slot] = (SchedUsage){
                        .used = st.usage_usec - v->last_usage_usec,
                        .throttled = st.nr_throttled > v->last_nr_throttled ||
                                     sched_cpu_waited(waited - v->last_waited_usec, sc->tick_usec),
                };
                v->last_waited_usec = waited;
                v->idle_usec = run->usage[v->slot].used > 0 || run->usage[v->slot].throttled
                                       ? 0
                                       : v->idle_usec + sc->tick_usec;
                v->last_usage_usec = st.usage_usec;
                v->last_nr_throttled = st.nr_throttled;
        }

        r = sched_tick(run->sched, run->now_usec, run->usage);
        if (r < 0)
                return run_log(run, "sched_tick failed: %s", strerror(-r));

        for (size_t i = 0; i < sc->n_vms; i++) {
                RunVm *v = &run->vms[i];
                const SchedDecision *d;
                const SimCgroup *cg = &run->host.cgroups[i];
                uint64_t quota;

                if (v->slot < 0 || !cg->exists)
                        continue;
                d = sched_decision(run->sched, v->slot);
                if (d->weight != cg->weight) {
                        r = simhost_set_weight(&run->host, i, d->weight);
                        if (r < 0 && (r = write_refused(run, i, "cpu.weight", d->weight, r)) < 0)
                                return r;
                }
                quota = sched_cpu_max_quota_usec(d, run->resolved.cpu_capacity, SIMHOST_PERIOD_USEC);
                if (quota != cg->quota_usec) {
                        r = simhost_set_quota(&run->host, i, quota);
                        if (r < 0 && (r = write_refused(run, i, "cpu.max quota", quota, r)) < 0)
                                return r;
                }
        }
        return parents_tick(run);
}

/* VM i's runnable threads at time t: the sum of its load entries then. */
static unsigned load_threads(const Run *run, size_t i, uint64_t t) {
        const Scenario *sc = run->sc;
        unsigned n = 0;

        for (size_t j = 0; j < sc->n_load; j++) {
                const ScenarioLoad *l = &sc->load[j];
                if (run->load_vm[j] == i && l->from_usec <= t && t < l->to_usec)
                        n += l->threads;
        }
        return n < SIMHOST_THREADS_MAX ? n : SIMHOST_THREADS_MAX;
}

static void measure_start(Run *run) {
        for (size_t i = 0; i < run->sc->n_vms; i++) {
                RunVm *v = &run->vms[i];
                vm_totals(run, i, &v->from_usage_usec, &v->from_nr_throttled);
                v->from_transitions = vm_transitions(run, i);
        }
}

static int measure_end(Run *run) {
        const Scenario *sc = run->sc;
        SimResult *res = run->result;
        double window_usec = (double)(sc->measure_to_usec - sc->measure_from_usec);
        double cpu_usec = window_usec * (double)sc->cpus_ucpu / (double)UNIT_UCPU_PER_CPU;
        Policy in_force;

        policy_init(&in_force);
        if (policy_copy(&in_force, &run->policy) < 0)
                return -ENOMEM;
        policy_done(&res->policy);
        res->policy = in_force;

        res->capacity = run->resolved.cpu_capacity;
        res->utilization = 0;
        for (size_t i = 0; i < sc->n_vms; i++) {
                RunVm *v = &run->vms[i];
                SimVmResult *o = &res->vms[i];
                uint64_t usage, nr;

                vm_totals(run, i, &usage, &nr);
                *o = (SimVmResult){
                        .name = sc->vms[i],
                        .policy = policy_find_vm(&res->policy, sc->vms[i]),
                        .managed = v->slot >= 0,
                        .usage_usec = usage - v->from_usage_usec,
                        .nr_throttled = nr - v->from_nr_throttled,
                        .throttle_count = vm_transitions(run, i) - v->from_transitions,
                };
                o->cpu_fraction = (double)o->usage_usec / cpu_usec;
                o->transitions_per_sec = (double)o->throttle_count * 1e6 / window_usec;
                res->utilization += o->cpu_fraction;

                if (v->slot >= 0) {
                        const SchedDecision *d = sched_decision(run->sched, v->slot);
                        const TokenBucket *b = sched_bucket(run->sched, v->slot);

                        o->tokens = b->tokens;
                        o->bucket_size = b->size;
                        o->allocation = d->allocation;
                        o->entitlement = d->entitlement;
                        o->rate = d->rate;
                        o->held = d->held;
                }
                if (simhost_cgroup_exists(&run->host, i)) {
                        o->weight = run->host.cgroups[i].weight;
                        o->quota_usec = run->host.cgroups[i].quota_usec;
                }
        }
        return 0;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

/* Cuts the run at 0, the end, the measure window, every load change and every event. */
static int segments_plan(const Scenario *sc, SimResult *res) {
        size_t n = 0, cap = 4 + 2 * sc->n_load + sc->n_events;
        uint64_t *t = calloc(cap, sizeof(*t));

        if (!t)
                return -ENOMEM;
        t[n++] = 0;
        t[n++] = sc->duration_usec;
        t[n++] = sc->measure_from_usec;
        t[n++] = sc->measure_to_usec;
        for (size_t i = 0; i < sc->n_load; i++) {
                t[n++] = sc->load[i].from_usec;
                t[n++] = sc->load[i].to_usec;
        }
        for (size_t i = 0; i < sc->n_events; i++)
                t[n++] = sc->events[i].at_usec;
        qsort(t, n, sizeof(*t), cmp_u64);

        res->segments = calloc(n, sizeof(*res->segments));
        if (!res->segments) {
                free(t);
                return -ENOMEM;
        }
        for (size_t i = 0; i + 1 < n; i++) {
                SimSegment *s;

                if (t[i] == t[i + 1])
                        continue;
                s = &res->segments[res->n_segments++];
                s->from_usec = t[i];
                s->to_usec = t[i + 1];
                s->vms = calloc(sc->n_vms ?: 1, sizeof(*s->vms));
                if (!s->vms) {
                        free(t);
                        return -ENOMEM;
                }
        }
        free(t);
        return 0;
}

static void segment_start(Run *run) {
        for (size_t i = 0; i < run->sc->n_vms; i++) {
                uint64_t nr;
                vm_totals(run, i, &run->vms[i].segment_usage_usec, &nr);
        }
}

static void segment_end(Run *run, SimSegment *s) {
        const Scenario *sc = run->sc;
        double cpu_usec = (double)(s->to_usec - s->from_usec) * (double)sc->cpus_ucpu / (double)UNIT_UCPU_PER_CPU;

        for (size_t i = 0; i < sc->n_vms; i++) {
                RunVm *v = &run->vms[i];
                SimSegmentVm *o = &s->vms[i];
                uint64_t usage, nr;

                vm_totals(run, i, &usage, &nr);
                o->threads = load_threads(run, i, s->from_usec);
                o->present = simhost_cgroup_exists(&run->host, i);
                o->managed = v->slot >= 0;
                o->cpu_fraction = (double)(usage - v->segment_usage_usec) / cpu_usec;
                o->promised = o->managed
                                      ? (double)sched_decision(run->sched, v->slot)->allocation / (double)sc->cpus_ucpu
                                      : NAN;
        }
}

static int run_loop(Run *run) {
        const Scenario *sc = run->sc;
        SimResult *res = run->result;
        size_t ev = 0, seg = 0;
        int r;

        for (uint64_t t = 0;; t += SIMHOST_STEP_USEC) {
                run->now_usec = t;

                if (t % sc->tick_usec == 0) {
                        r = daemon_tick(run);
                        if (r < 0)
                                return r;
                }

                if (t == sc->measure_to_usec) {
                        r = measure_end(run);
                        if (r < 0)
                                return r;
                }
                if (seg < res->n_segments && t == res->segments[seg].to_usec)
                        segment_end(run, &res->segments[seg++]);

                for (; ev < sc->n_events && sc->events[ev].at_usec == t; ev++) {
                        r = apply_event(run, &sc->events[ev]);
                        if (r < 0)
                                return r;
                }

                if (t == sc->measure_from_usec)
                        measure_start(run);
                if (seg < res->n_segments && t == res->segments[seg].from_usec)
                        segment_start(run);

                if (t >= sc->duration_usec)
                        return 0;

                for (size_t i = 0; i < sc->n_vms; i++)
                        if (simhost_cgroup_exists(&run->host, i))
                                (void)simhost_set_threads(&run->host, i, load_threads(run, i, t));
                simhost_step(&run->host);
        }
}

/* A VM starts without its cgroup when its first cgroup event makes it appear. */
static bool starts_absent(const Scenario *sc, const char *vm) {
        for (size_t i = 0; i < sc->n_events; i++) {
                const ScenarioEvent *e = &sc->events[i];
                if (scenario_event_is_cgroup(e) && strcmp(e->vm, vm) == 0)
                        return e->kind == SCENARIO_EVENT_CGROUP_ADD;
        }
        return false;
}

/* The host's tree: each VM's cgroup as the initial policy places it (the
 * VM's name if that policy does not name it), the cgroups above them made
 * at once, after the VMs among the host's slots. */
static int parents_setup(Run *run) {
        const Scenario *sc = run->sc;
        HierarchyVm *hv;
        int r;

        run->cgroups = calloc(sc->n_vms ?: 1, sizeof(*run->cgroups));
        hv = calloc(sc->n_vms ?: 1, sizeof(*hv));
        if (!run->cgroups || !hv) {
                free(hv);
                return -ENOMEM;
        }
        for (size_t i = 0; i < sc->n_vms; i++) {
                const ResolvedVm *rv = resolved_find(&run->resolved, sc->vms[i]);

                run->cgroups[i] = strdup(rv ? rv->cgroup : sc->vms[i]);
                if (!run->cgroups[i]) {
                        free(hv);
                        return -ENOMEM;
                }
                hv[i] = (HierarchyVm){.cgroup = run->cgroups[i]};
        }
        r = hierarchy_compute(hv, sc->n_vms, &run->parents, &run->n_parents);
        free(hv);
        if (r < 0)
                return r;

        r = simhost_init(&run->host, sc->cpus_ucpu, sc->n_vms + run->n_parents);
        if (r < 0)
                return r;
        for (size_t i = 0; i < sc->n_vms + run->n_parents; i++) {
                const char *cgroup = i < sc->n_vms ? run->cgroups[i] : run->parents[i - sc->n_vms].cgroup;
                int p = hierarchy_parent(run->parents, run->n_parents, cgroup);

                r = simhost_set_parent(&run->host, i, p >= 0 ? sc->n_vms + (size_t)p : SIMHOST_NO_PARENT);
                if (r < 0)
                        return r;
        }
        /* Sorted by path: a parent before its children. */
        for (size_t k = 0; k < run->n_parents; k++) {
                r = simhost_cgroup_create(&run->host, sc->n_vms + k);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int run_setup(Run *run, PolicyError *err) {
        const Scenario *sc = run->sc;
        HostFacts facts = {.cpus_ucpu = sc->cpus_ucpu, .memory_bytes = SIM_MEMORY_BYTES};
        int r;

        r = policy_validate(&sc->policy, &facts, &run->resolved, err);
        if (r < 0)
                return r;
        r = policy_copy(&run->policy, &sc->policy);
        if (r < 0)
                return r;

        run->sched = sched_new(SCHED_MODE_WEIGHT, run->resolved.cpu_capacity);
        if (!run->sched)
                return -ENOMEM;

        r = parents_setup(run);
        if (r < 0)
                return r;

        run->vms = calloc(sc->n_vms ?: 1, sizeof(*run->vms));
        run->result->vms = calloc(sc->n_vms ?: 1, sizeof(*run->result->vms));
        if (!run->vms || !run->result->vms)
                return -ENOMEM;
        run->result->n_vms = sc->n_vms;

        run->load_vm = calloc(sc->n_load ?: 1, sizeof(*run->load_vm));
        if (!run->load_vm)
                return -ENOMEM;
        for (size_t j = 0; j < sc->n_load; j++) {
                r = scenario_vm_index(sc, sc->load[j].vm);
                if (r < 0)
                        return r; /* the parser checked every name */
                run->load_vm[j] = (size_t)r;
        }

        for (size_t i = 0; i < sc->n_vms; i++) {
                const ResolvedVm *rv;

                run->vms[i].slot = -1;
                if (starts_absent(sc, sc->vms[i]))
                        continue;
                r = simhost_cgroup_create(&run->host, i);
                if (r < 0)
                        return r;
                rv = resolved_find(&run->resolved, sc->vms[i]);
                if (rv) {
                        r = vm_manage(run, i, rv);
                        if (r < 0)
                                return r;
                }
        }
        return segments_plan(sc, run->result);
}

int sim_run(const Scenario *sc, SimResult *ret, PolicyError *err) {
        SimResult res = {
                .duration_usec = sc->duration_usec,
                .cpus_ucpu = sc->cpus_ucpu,
                .measure_from_usec = sc->measure_from_usec,
                .measure_to_usec = sc->measure_to_usec,
        };
        Run run = {.sc = sc, .result = &res};
        int r;

        policy_init(&res.policy);
        policy_init(&run.policy);
        sim_layers_init(&run.layers, &sc->policy);

        r = run_setup(&run, err);
        if (r >= 0)
                r = run_loop(&run);
        if (r == -ENOMEM)
                policy_error(err, r, NULL, NULL, "%s: out of memory", sc->file);

        free(run.usage);
        free(run.load_vm);
        for (size_t i = 0; run.cgroups && i < sc->n_vms; i++)
                free(run.cgroups[i]);
        free(run.cgroups);
        hierarchy_nodes_free(run.parents, run.n_parents);
        free(run.vms);
        if (run.sched)
                sched_free(run.sched);
        simhost_done(&run.host);
        resolved_policy_done(&run.resolved);
        policy_done(&run.policy);
        sim_layers_done(&run.layers);
        if (r < 0) {
                sim_result_done(&res);
                return r;
        }
        *ret = res;
        return 0;
}

void sim_result_done(SimResult *r) {
        policy_done(&r->policy);
        free(r->vms);
        for (size_t i = 0; i < r->n_segments; i++)
                free(r->segments[i].vms);
        free(r->segments);
        for (size_t i = 0; i < r->n_messages; i++)
                free(r->messages[i]);
        free(r->messages);
        *r = (SimResult){};
}

const SimVmResult *sim_result_vm(const SimResult *r, const char *name) {
        for (size_t i = 0; i < r->n_vms; i++)
                if (strcmp(r->vms[i].name, name) == 0)
                        return &r->vms[i];
        return NULL;
}
