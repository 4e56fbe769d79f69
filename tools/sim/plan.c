/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/units.h"
#include "policy/validate.h"
#include "policy/write.h"
#include "host.h"
#include "layers.h"
#include "plan.h"

/* The memory a plan validates policies against, for those that say
 * `memory: auto`: the same as the simulator's, so that both tiers accept
 * and refuse the same policies. */
#define PLAN_MEMORY_BYTES (8ULL << 30)

/* The cpu.max period a static configuration writes: the kernel's default,
 * which systemd's CPUQuota= keeps too. */
#define PLAN_CPU_PERIOD_USEC SIMHOST_PERIOD_USEC

/* cpu.weight of a cgroup nobody configured: the kernel's default. */
#define PLAN_WEIGHT_DEFAULT SIMHOST_WEIGHT_DEFAULT

/* The spelling of an I/O limit in io.max, per IoDir. */
static const char *const io_max_keys[_IO_DIR_MAX] = {"rbps", "wbps", "riops", "wiops"};

/* One interval [from, to) in which a VM's cgroup exists. */
typedef struct Presence {
        uint64_t from_usec;
        uint64_t to_usec;
} Presence;

/* Seconds, as short as exact: "2", "0.5", "1.0001". */
static const char *seconds(uint64_t usec, char buf[static 32]) {
        uint64_t whole = usec / 1000000, frac = usec % 1000000;
        int n;

        if (frac == 0) {
                snprintf(buf, 32, "%" PRIu64, whole);
                return buf;
        }
        n = snprintf(buf, 32, "%" PRIu64 ".%06" PRIu64, whole, frac);
        while (n > 0 && buf[n - 1] == '0')
                buf[--n] = '\0';
        return buf;
}

/* The VM's cgroup, relative to the root, as the first policy that names the VM says. */
static const char *vm_cgroup(const Scenario *sc, const char *vm) {
        const VmPolicy *v = policy_find_vm(&sc->policy, vm);

        for (size_t i = 0; !v && i < sc->n_events; i++)
                if (sc->events[i].kind == SCENARIO_EVENT_POLICY)
                        v = policy_find_vm(&sc->events[i].policy, vm);
        if (!v || !v->cgroup)
                return vm;
        const char *s = v->cgroup;
        while (*s == '/')
                s++;
        return *s ? s : vm;
}

/* The intervals in which VM i's cgroup exists, in time order, into *ret (n_events + 1 entries at most). */
static size_t presence_of(const Scenario *sc, const char *vm, Presence *ret) {
        bool present = scenario_vm_starts_present(sc, vm);
        uint64_t since = 0;
        size_t n = 0;

        for (size_t i = 0; i < sc->n_events; i++) {
                const ScenarioEvent *e = &sc->events[i];

                if (!scenario_event_is_cgroup(e) || strcmp(e->vm, vm) != 0)
                        continue;
                if (e->kind == SCENARIO_EVENT_CGROUP_ADD && !present) {
                        present = true;
                        since = e->at_usec;
                } else if (e->kind == SCENARIO_EVENT_CGROUP_REMOVE && present) {
                        present = false;
                        if (e->at_usec > since)
                                ret[n++] = (Presence){since, e->at_usec};
                }
        }
        if (present && sc->duration_usec > since)
                ret[n++] = (Presence){since, sc->duration_usec};
        return n;
}

/* Whether a cgroup event changes the VM's presence (an add of a present one does not). */
static bool event_changes(const Scenario *sc, size_t idx) {
        const ScenarioEvent *e = &sc->events[idx];
        bool present = scenario_vm_starts_present(sc, e->vm);

        for (size_t i = 0; i < idx; i++) {
                const ScenarioEvent *p = &sc->events[i];
                if (scenario_event_is_cgroup(p) && strcmp(p->vm, e->vm) == 0)
                        present = p->kind == SCENARIO_EVENT_CGROUP_ADD;
        }
        return (e->kind == SCENARIO_EVENT_CGROUP_ADD) != present;
}

static const ResolvedVm *resolved_vm(const ResolvedPolicy *rp, const char *name) {
        for (size_t i = 0; i < rp->n_vms; i++)
                if (strcmp(rp->vms[i].name, name) == 0)
                        return &rp->vms[i];
        return NULL;
}

/* The policy's text, each line behind "| ". */
static int write_policy_text(FILE *f, const Policy *p) {
        char *text = NULL;
        int r;

        r = policy_write_string(p, &text);
        if (r < 0)
                return r;
        for (char *line = text; *line;) {
                char *end = strchrnul(line, '\n');

                fprintf(f, "| %.*s\n", (int)(end - line), line);
                line = *end ? end + 1 : end;
        }
        free(text);
        return 0;
}

/* The static configuration of policy n for every VM of the scenario. */
static void write_static(FILE *f, const Scenario *sc, size_t n, const Policy *p, const ResolvedPolicy *rp) {
        for (size_t i = 0; i < sc->n_vms; i++) {
                const char *name = sc->vms[i];
                const ResolvedVm *rv = resolved_vm(rp, name);
                const VmPolicy *vp = policy_find_vm(p, name);
                uint32_t weight = PLAN_WEIGHT_DEFAULT;

                if (rv)
                        weight = rv->cpu.share > 0 ? rv->cpu.share : 1;
                fprintf(f, "static %zu %s cpu.weight %" PRIu32 "\n", n, name, weight);
                if (rv && rv->cpu.limit < rp->cpu_capacity) {
                        uint64_t quota = (uint64_t)((unsigned __int128)rv->cpu.limit * PLAN_CPU_PERIOD_USEC /
                                                    UNIT_UCPU_PER_CPU);
                        /* The kernel refuses quotas under 1 ms: the smallest it takes is the closest. */
                        if (quota < SIMHOST_QUOTA_MIN_USEC)
                                quota = SIMHOST_QUOTA_MIN_USEC;
                        fprintf(f, "static %zu %s cpu.max %" PRIu64 " %llu\n", n, name, quota,
                                (unsigned long long)PLAN_CPU_PERIOD_USEC);
                } else
                        fprintf(f, "static %zu %s cpu.max max %llu\n", n, name,
                                (unsigned long long)PLAN_CPU_PERIOD_USEC);

                for (size_t j = 0; j < rp->n_devices; j++) {
                        const VmIoDevice *io = vp ? vm_find_io(vp, rp->devices[j].name) : NULL;

                        fprintf(f, "static %zu %s io.max %s", n, name, rp->devices[j].name);
                        for (int k = 0; k < _IO_DIR_MAX; k++) {
                                const ResolvedResource *rr = rv ? &rv->io[j * _IO_DIR_MAX + (size_t)k] : NULL;

                                if (io && rr && amount_is_set(&io->dir[k].limit))
                                        fprintf(f, " %s=%" PRIu64, io_max_keys[k], rr->limit);
                                else
                                        fprintf(f, " %s=max", io_max_keys[k]);
                        }
                        fputc('\n', f);
                }
        }
}

/* "policy N AT valid" or "... invalid WHY", the text of `text` (the policy file), and the
 * static lines of `p` (what is in force with it: the file and schedctl's layers).  An
 * invalid policy is not an error here (a reload may be meant to fail): *ret_valid says,
 * and ret_err (may be NULL) gets the reason. */
static int write_policy(FILE *f, const Scenario *sc, size_t n, uint64_t at_usec, const Policy *text, const Policy *p,
                        bool *ret_valid, PolicyError *ret_err) {
        HostFacts facts = {.cpus_ucpu = sc->cpus_ucpu, .memory_bytes = PLAN_MEMORY_BYTES};
        ResolvedPolicy rp = {};
        PolicyError err = {};
        bool valid;
        char at[32];
        int r;

        r = policy_validate(p, &facts, &rp, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                for (char *c = err.message; *c; c++)
                        if (*c == '\n')
                                *c = ' ';
                fprintf(f, "policy %zu %s invalid %s\n", n, seconds(at_usec, at), err.message);
        } else
                fprintf(f, "policy %zu %s valid\n", n, seconds(at_usec, at));

        valid = r >= 0;
        r = write_policy_text(f, text);
        if (r >= 0 && valid)
                write_static(f, sc, n, p, &rp);
        if (valid)
                resolved_policy_done(&rp);
        if (r < 0)
                return r;
        if (!valid && ret_err)
                *ret_err = err;
        *ret_valid = valid;
        return 0;
}

static void write_loads(FILE *f, const Scenario *sc, const Presence *pr, size_t n_pr, size_t vm_idx) {
        const char *name = sc->vms[vm_idx];
        const char *cgroup = vm_cgroup(sc, name);
        char a[32], b[32];

        for (size_t j = 0; j < sc->n_load; j++) {
                const ScenarioLoad *l = &sc->load[j];

                if (strcmp(l->vm, name) != 0 || (l->kind == SCENARIO_LOAD_CPU && l->threads == 0))
                        continue;
                for (size_t k = 0; k < n_pr; k++) {
                        uint64_t from = l->from_usec > pr[k].from_usec ? l->from_usec : pr[k].from_usec;
                        uint64_t to = l->to_usec < pr[k].to_usec ? l->to_usec : pr[k].to_usec;

                        if (from >= to)
                                continue;
                        if (l->kind == SCENARIO_LOAD_CPU)
                                fprintf(f, "loadgen cpu %s %u %s %s\n", cgroup, l->threads, seconds(from, a),
                                        seconds(to, b));
                        else
                                fprintf(f, "loadgen io %s /dev/%s %s %s\n", cgroup, l->device, seconds(from, a),
                                        seconds(to, b));
                }
        }
}

/* What each policy event and schedctl step leaves, numbered as the plan's policies. */
typedef struct StepResult {
        size_t policy; /* its policy's number; 0: none (a step that changes nothing) */
        bool ok;       /* a reload that loads, a step schedd carries out */
} StepResult;

/*
 * A schedctl step's policy line: the candidate its layers give, or (refused before
 * there is one) an invalid policy with no text.  *ret_next gets the new layers when
 * the step goes through (*ret_ok), and *running the new policy in force.
 */
static int write_step(FILE *f, const Scenario *sc, size_t n, const ScenarioEvent *e, const SimLayers *layers,
                      Policy *running, SimLayers *ret_next, bool *ret_ok) {
        SimLayers next;
        PolicyError err = {};
        Policy candidate;
        char at[32];
        bool valid;
        int r;

        r = sim_layers_step(layers, running, e, &next, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                for (char *c = err.message; *c; c++)
                        if (*c == '\n')
                                *c = ' ';
                fprintf(f, "policy %zu %s invalid %s\n", n, seconds(e->at_usec, at), err.message);
                *ret_ok = false;
                return 0;
        }
        policy_init(&candidate);
        r = sim_layers_candidate(&next, &candidate);
        if (r >= 0)
                r = write_policy(f, sc, n, e->at_usec, &candidate, &candidate, &valid, NULL);
        if (r < 0 || !valid) {
                policy_done(&candidate);
                sim_layers_done(&next);
                if (r < 0)
                        return r;
                *ret_ok = false;
                return 0;
        }
        policy_done(running);
        *running = candidate;
        *ret_next = next;
        *ret_ok = true;
        return 0;
}

/* The policies: the initial one (0), then one per reload and per set or reset, into steps[]. */
static int write_policies(FILE *f, const Scenario *sc, StepResult *steps, PolicyError *err) {
        SimLayers layers;
        Policy running, candidate;
        size_t n = 0;
        bool valid = false;
        int r;

        sim_layers_init(&layers, &sc->policy);
        policy_init(&running);
        policy_init(&candidate);
        r = policy_copy(&running, &sc->policy);
        if (r >= 0)
                r = write_policy(f, sc, 0, 0, &sc->policy, &sc->policy, &valid, err);
        if (r >= 0 && !valid)
                r = -EINVAL;
        for (size_t i = 0; r >= 0 && i < sc->n_events; i++) {
                const ScenarioEvent *e = &sc->events[i];
                SimLayers next;

                steps[i] = (StepResult){};
                if (e->kind == SCENARIO_EVENT_POLICY) {
                        steps[i].policy = ++n;
                        layers.files = &e->policy;
                        r = sim_layers_candidate(&layers, &candidate);
                        if (r >= 0)
                                r = write_policy(f, sc, n, e->at_usec, &e->policy, &candidate, &steps[i].ok, NULL);
                        if (r >= 0 && steps[i].ok) {
                                policy_done(&running);
                                running = candidate;
                                policy_init(&candidate);
                        }
                } else if (e->kind == SCENARIO_EVENT_SCHEDCTL && e->verb != SCENARIO_SCHEDCTL_QUERY) {
                        steps[i].policy = ++n;
                        r = write_step(f, sc, n, e, &layers, &running, &next, &steps[i].ok);
                        if (r >= 0 && steps[i].ok) {
                                next.files = layers.files;
                                sim_layers_done(&layers);
                                layers = next;
                        }
                } else if (e->kind == SCENARIO_EVENT_SCHEDCTL)
                        /* list and status succeed; a VM must be in the policy in force */
                        steps[i].ok = !e->vm || policy_find_vm(&running, e->vm);
        }
        policy_done(&candidate);
        policy_done(&running);
        sim_layers_done(&layers);
        return r;
}

static int plan_write(FILE *f, const Scenario *sc, Presence *pr, StepResult *steps, PolicyError *err) {
        char a[32], b[32], buf[UNIT_FORMAT_MAX];
        int r;

        fprintf(f, "scenario %s\n", sc->file);
        fprintf(f, "cpus %llu\n", (unsigned long long)(sc->cpus_ucpu / UNIT_UCPU_PER_CPU));
        fprintf(f, "duration %s\n", seconds(sc->duration_usec, a));
        fprintf(f, "tick %s\n", unit_format_duration(sc->tick_usec, buf, sizeof(buf)));
        fprintf(f, "tiers%s%s\n", sc->tiers & SCENARIO_TIER_SIM ? " sim" : "",
                sc->tiers & SCENARIO_TIER_VM ? " vm" : "");

        for (size_t i = 0; i < sc->n_vms; i++)
                fprintf(f, "vm %s %s %s\n", sc->vms[i], vm_cgroup(sc, sc->vms[i]),
                        scenario_vm_starts_present(sc, sc->vms[i]) ? "present" : "late");
        for (size_t i = 0; i < sc->n_files; i++)
                fprintf(f, "file %s %s %s\n", sc->files[i].vm, sc->files[i].file, sc->files[i].value);

        r = write_policies(f, sc, steps, err);
        if (r < 0)
                return r;

        for (size_t i = 0; i < sc->n_vms; i++)
                write_loads(f, sc, pr, presence_of(sc, sc->vms[i], pr), i);

        for (size_t i = 0; i < sc->n_events; i++) {
                const ScenarioEvent *e = &sc->events[i];

                if (e->kind == SCENARIO_EVENT_POLICY)
                        fprintf(f, "reload %s %zu\n", seconds(e->at_usec, a), steps[i].policy);
                else if (e->kind == SCENARIO_EVENT_SCHEDCTL) {
                        if (steps[i].policy > 0)
                                fprintf(f, "schedctl %s %zu", seconds(e->at_usec, a), steps[i].policy);
                        else
                                fprintf(f, "schedctl %s -", seconds(e->at_usec, a));
                        fprintf(f, " %s", steps[i].ok ? "ok" : "refused");
                        for (size_t k = 0; k < e->argc; k++)
                                fprintf(f, " %s", e->argv[k]);
                        fputc('\n', f);
                } else if (e->kind == SCENARIO_EVENT_MOVE) {
                        int from = scenario_load_vm_at(sc, e->load, e->at_usec - 1);
                        if (from < 0)
                                return from;
                        fprintf(f, "move %s %zu %s %s %s\n", seconds(e->at_usec, a), e->load,
                                vm_cgroup(sc, sc->vms[from]), e->vm, vm_cgroup(sc, e->vm));
                } else if (event_changes(sc, i))
                        fprintf(f, "loadgen %s %s %s\n", e->kind == SCENARIO_EVENT_CGROUP_ADD ? "mkdir" : "rmdir",
                                seconds(e->at_usec, a), vm_cgroup(sc, e->vm));
        }

        fprintf(f, "measure %s %s", seconds(sc->measure_from_usec, a), seconds(sc->measure_to_usec, b));
        for (size_t i = 0; i < sc->n_vms; i++) {
                size_t n = presence_of(sc, sc->vms[i], pr);

                for (size_t k = 0; k < n; k++)
                        if (pr[k].from_usec <= sc->measure_from_usec && pr[k].to_usec >= sc->measure_to_usec)
                                fprintf(f, " %s", vm_cgroup(sc, sc->vms[i]));
        }
        fputc('\n', f);
        for (size_t i = 0; i < sc->n_vms; i++) {
                size_t n = presence_of(sc, sc->vms[i], pr);
                bool whole = false, some = false;

                for (size_t k = 0; k < n; k++) {
                        whole |= pr[k].from_usec <= sc->measure_from_usec && pr[k].to_usec >= sc->measure_to_usec;
                        some |= pr[k].from_usec < sc->measure_to_usec && pr[k].to_usec > sc->measure_from_usec;
                }
                if (!some)
                        fprintf(f, "absent %s\n", sc->vms[i]);
                else if (!whole)
                        fprintf(f, "partial %s\n", sc->vms[i]);
        }
        fprintf(f, "transitions %s\n", sc->expect.has_max_transitions ? "yes" : "no");
        return 0;
}

int plan_write_string(const Scenario *sc, char **ret_text, PolicyError *err) {
        StepResult *steps = NULL;
        Presence *pr = NULL;
        char *text = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        if (sc->cpus_ucpu % UNIT_UCPU_PER_CPU != 0) {
                char buf[UNIT_FORMAT_MAX];
                return policy_error(err, -EINVAL, NULL, NULL,
                                    "%s: host.cpus: %s is not a whole number of CPUs, "
                                    "which a real host needs",
                                    sc->file, unit_format_cpus(sc->cpus_ucpu, buf, sizeof(buf)));
        }

        /* A VM's presence has at most one interval per event, plus the one it starts with. */
        pr = calloc(sc->n_events + 1, sizeof(*pr));
        steps = calloc(sc->n_events + 1, sizeof(*steps));
        f = pr && steps ? open_memstream(&text, &size) : NULL;
        if (!f) {
                free(pr);
                free(steps);
                return policy_error(err, -ENOMEM, NULL, NULL, "%s: out of memory", sc->file);
        }

        r = plan_write(f, sc, pr, steps, err);
        free(pr);
        free(steps);
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r == -ENOMEM)
                policy_error(err, r, NULL, NULL, "%s: out of memory", sc->file);
        if (r < 0) {
                free(text);
                return r;
        }
        *ret_text = text;
        return 0;
}
