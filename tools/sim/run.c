/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/units.h"
#include "policy/validate.h"
#include "schedd/sched.h"
#include "host.h"
#include "run.h"

/* The simulated host's memory, for policies that say `memory: auto`: CPU
 * scenarios never depend on it, any plausible size does. */
#define SIM_MEMORY_BYTES (8ULL << 30)

/* What the runner tracks per VM of the scenario (same index as Scenario.vms). */
typedef struct RunVm {
        int slot;                 /* in the core, or -1 */
        uint64_t last_usage_usec; /* at the previous tick (the daemon's memory) */
        uint64_t last_nr_throttled;
        bool write_failed; /* a refused write was already reported */
        /* counters that survive the cgroup vanishing and the core's slot going */
        uint64_t usage_carried_usec;
        uint64_t nr_throttled_carried;
        uint64_t transitions_carried;
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
        const Policy *policy;    /* its model */
        RunVm *vms;
        size_t *load_vm;   /* the VM index of each load entry */
        SchedUsage *usage; /* scratch for sched_tick(), n_usage entries */
        size_t n_usage;
        uint64_t now_usec;
        SimResult *result;
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
        v->write_failed = false;
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

static int apply_reload(Run *run, const Policy *p) {
        const Scenario *sc = run->sc;
        HostFacts facts = {.cpus_ucpu = sc->cpus_ucpu, .memory_bytes = SIM_MEMORY_BYTES};
        ResolvedPolicy rp = {};
        PolicyError err = {};
        int r;

        r = policy_validate(p, &facts, &rp, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return run_log(run, "policy reload rejected, the previous policy stays: %s", err.message);

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
        run->policy = p;
        return 0;

fail:
        resolved_policy_done(&rp);
        return r;
}

static int apply_event(Run *run, const ScenarioEvent *e) {
        int i, r;

        if (e->kind == SCENARIO_EVENT_POLICY)
                return apply_reload(run, &e->policy);

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

                if (v->slot < 0 || simhost_read_stat(&run->host, i, &st) < 0)
                        continue;
                run->usage[v->slot] = (SchedUsage){
                        .used = st.usage_usec - v->last_usage_usec,
                        .throttled = st.nr_throttled > v->last_nr_throttled,
                };
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
        return 0;
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

static void measure_end(Run *run) {
        const Scenario *sc = run->sc;
        SimResult *res = run->result;
        double window_usec = (double)(sc->measure_to_usec - sc->measure_from_usec);
        double cpu_usec = window_usec * (double)sc->cpus_ucpu / (double)UNIT_UCPU_PER_CPU;

        res->capacity = run->resolved.cpu_capacity;
        res->utilization = 0;
        for (size_t i = 0; i < sc->n_vms; i++) {
                RunVm *v = &run->vms[i];
                SimVmResult *o = &res->vms[i];
                uint64_t usage, nr;

                vm_totals(run, i, &usage, &nr);
                *o = (SimVmResult){
                        .name = sc->vms[i],
                        .policy = policy_find_vm(run->policy, sc->vms[i]),
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

                if (t == sc->measure_to_usec)
                        measure_end(run);
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
                if (e->kind != SCENARIO_EVENT_POLICY && strcmp(e->vm, vm) == 0)
                        return e->kind == SCENARIO_EVENT_CGROUP_ADD;
        }
        return false;
}

static int run_setup(Run *run, PolicyError *err) {
        const Scenario *sc = run->sc;
        HostFacts facts = {.cpus_ucpu = sc->cpus_ucpu, .memory_bytes = SIM_MEMORY_BYTES};
        int r;

        r = policy_validate(&sc->policy, &facts, &run->resolved, err);
        if (r < 0)
                return r;
        run->policy = &sc->policy;

        run->sched = sched_new(SCHED_MODE_WEIGHT, run->resolved.cpu_capacity);
        if (!run->sched)
                return -ENOMEM;

        r = simhost_init(&run->host, sc->cpus_ucpu, sc->n_vms);
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

        r = run_setup(&run, err);
        if (r >= 0)
                r = run_loop(&run);
        if (r == -ENOMEM)
                policy_error(err, r, NULL, NULL, "%s: out of memory", sc->file);

        free(run.usage);
        free(run.load_vm);
        free(run.vms);
        if (run.sched)
                sched_free(run.sched);
        simhost_done(&run.host);
        resolved_policy_done(&run.resolved);
        if (r < 0) {
                sim_result_done(&res);
                return r;
        }
        *ret = res;
        return 0;
}

void sim_result_done(SimResult *r) {
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
