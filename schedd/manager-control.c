/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "manager-control.h"
#include "override.h"
#include "policy/keys.h"
#include "policy/parse.h"

/* Where --runtime values say they come from in validation messages. */
#define RUNTIME_SOURCE "runtime override"

/* Where ValidatePolicy's text is said to come from in its messages. */
#define VALIDATE_SOURCE "<text>"

static int control_error(ManagerError *err, ManagerErrorKind kind, int code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int control_error(ManagerError *err, ManagerErrorKind kind, int code, const char *fmt, ...) {
        va_list ap;

        err->kind = kind;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
        return code;
}

static int policy_refused(ManagerError *err, ManagerErrorKind kind, int code, const PolicyError *perr) {
        return control_error(err, code == -ENOMEM ? MANAGER_ERROR_FAILED : kind, code, "%s", perr->message);
}

ManagerVm *manager_vm_by_name(const Manager *m, const char *name) {
        for (size_t i = 0; i < m->n_vms; i++)
                if (strcmp(m->vms[i]->name, name) == 0)
                        return m->vms[i];
        return NULL;
}

const VmPolicy *manager_vm_policy(const Manager *m, const ManagerVm *v) {
        return policy_find_vm(&m->policy, v->name);
}

void manager_vm_live(const Manager *m, const ManagerVm *v, ManagerVmLive *ret) {
        const SchedDecision *d;
        const TokenBucket *b;

        *ret = (ManagerVmLive){};
        if (v->state != MANAGER_VM_MANAGED || v->cpu_slot < 0)
                return;
        d = sched_decision(m->cpu, v->cpu_slot);
        b = sched_bucket(m->cpu, v->cpu_slot);
        *ret = (ManagerVmLive){
                .managed = true,
                .held = d->held,
                .bursting = d->bursting,
                .tokens_usec = b->tokens,
                .bucket_usec = b->size,
                .entitlement_ucpu = d->entitlement,
                .allocation_ucpu = d->allocation,
                .rate_ucpu = d->rate,
                .ceiling_ucpu = d->ceiling,
                .weight = d->weight,
                .quota_usec = sched_cpu_max_quota_usec(d, m->cpu_capacity, CGROUP_CPU_PERIOD_USEC),
                .usage_ucpu = m->elapsed_usec > 0 ? (uint64_t)((unsigned __int128)v->cpu_used_usec * USEC_PER_SEC /
                                                               m->elapsed_usec)
                                                  : 0,
                .throttles = sched_transitions(m->cpu, v->cpu_slot),
                .nr_throttled = v->last_cpu.nr_throttled,
        };
}

static int check_vm(const Manager *m, const char *vm, ManagerError *err) {
        if (!m->have_policy || !policy_find_vm(&m->policy, vm))
                return control_error(err, MANAGER_ERROR_NO_SUCH_VM, -ENXIO, "no VM named \"%s\" in the policy", vm);
        return 0;
}

/*
 * The policy as it would load: the policy file (or `text`), the override
 * directory with the override file taken from *ov (NULL: as on disk), and
 * *runtime over it all.
 */
static int load_candidate(const Manager *m, const char *text, const Policy *ov, const Policy *runtime, Policy *ret,
                          PolicyError *err) {
        Policy p;
        int r;

        policy_init(&p);
        if (text)
                r = policy_parse_string(text, strlen(text), VALIDATE_SOURCE, &p, err);
        else
                r = policy_parse_file(m->config->policy_path, &p, err);
        if (r >= 0 && m->config->override_dir)
                r = override_merge_dir(m->config->override_dir, OVERRIDE_FILE_NAME, ov, &p, err);
        if (r >= 0 && policy_merge(&p, runtime) < 0)
                r = policy_error(err, -ENOMEM, NULL, NULL, "out of memory");
        if (r < 0) {
                policy_done(&p);
                return r;
        }
        *ret = p;
        return 0;
}

/*
 * Checks the candidate, writes the override (when `ov`), then makes the
 * candidate running and `runtime` the runtime overlay.  Takes over
 * *candidate and *runtime whatever happens.
 */
static int commit_change(Manager *m, Policy *candidate, const Policy *ov, Policy *runtime, ManagerError *err) {
        ResolvedPolicy rp;
        PolicyError perr;
        int r;

        r = manager_check_policy(m, candidate, &rp, &perr);
        if (r >= 0 && ov) {
                r = override_write(m->config->override_dir, OVERRIDE_FILE_NAME, ov, &perr);
                if (r < 0) {
                        resolved_policy_done(&rp);
                        policy_done(candidate);
                        policy_done(runtime);
                        return policy_refused(err, MANAGER_ERROR_FAILED, r, &perr);
                }
        }
        if (r < 0) {
                policy_done(candidate);
                policy_done(runtime);
                return policy_refused(err, MANAGER_ERROR_INVALID_POLICY, r, &perr);
        }

        policy_done(&m->runtime);
        m->runtime = *runtime;
        policy_init(runtime);
        r = manager_commit_policy(m, candidate, &rp, "Changed");
        if (r < 0)
                return control_error(err, MANAGER_ERROR_FAILED, r, "out of memory");
        m->last_status_usec = 0; /* a fresh STATUS= at the next tick */
        return 0;
}

/* The override file's path, or a refusal when there is no override directory. */
static int override_file(const Manager *m, char **ret, ManagerError *err) {
        if (!m->config->override_dir)
                return control_error(err, MANAGER_ERROR_NOT_SUPPORTED, -EOPNOTSUPP,
                                     "no override directory is configured ([schedd] override_dir in %s): only "
                                     "runtime changes are possible",
                                     CONFIG_DEFAULT_PATH);
        *ret = override_path(m->config->override_dir, OVERRIDE_FILE_NAME);
        if (!*ret)
                return control_error(err, MANAGER_ERROR_FAILED, -ENOMEM, "out of memory");
        return 0;
}

/* "cpu.limit=50%, io.vda.wbps.limit=100MB" for the log. */
static void describe_settings(char *const *keys, char *const *values, size_t n, char *buf, size_t size) {
        size_t len = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < n && len < size; i++) {
                int k = snprintf(buf + len, size - len, "%s%s%s%s", i > 0 ? ", " : "", keys[i], values ? "=" : "",
                                 values ? values[i] : "");
                if (k < 0)
                        break;
                len += (size_t)k;
        }
}

int manager_set_policy(Manager *m, const char *vm, char *const *keys, char *const *values, size_t n, bool runtime,
                       ManagerError *err) {
        _cleanup_free_ char *path = NULL;
        Policy ov, new_runtime, candidate;
        PolicyError perr;
        char what[512];
        int r;

        if (n == 0)
                return control_error(err, MANAGER_ERROR_INVALID_POLICY, -EINVAL, "no KEY=VALUE given");
        r = check_vm(m, vm, err);
        if (r < 0)
                return r;
        if (!runtime) {
                r = override_file(m, &path, err);
                if (r < 0)
                        return r;
        }

        policy_init(&ov);
        policy_init(&new_runtime);
        policy_init(&candidate);
        r = policy_copy(&new_runtime, &m->runtime);
        if (r < 0)
                policy_error(&perr, r, NULL, NULL, "out of memory");
        if (r >= 0 && !runtime)
                r = override_read(path, &ov, &perr);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                PolicyKey k;

                r = policy_set_key(runtime ? &new_runtime : &ov, vm, keys[i], values[i],
                                   runtime ? RUNTIME_SOURCE : path, &perr);
                if (r >= 0 && !runtime && policy_key_parse(vm, keys[i], &k, NULL) >= 0)
                        (void)policy_unset_key(&new_runtime, vm, &k);
        }
        if (r >= 0) {
                override_prune(&new_runtime);
                r = load_candidate(m, NULL, runtime ? NULL : &ov, &new_runtime, &candidate, &perr);
        }
        if (r < 0) {
                policy_done(&ov);
                policy_done(&new_runtime);
                return policy_refused(err, MANAGER_ERROR_INVALID_POLICY, r, &perr);
        }

        r = commit_change(m, &candidate, runtime ? NULL : &ov, &new_runtime, err);
        policy_done(&ov);
        if (r < 0)
                return r;
        describe_settings(keys, values, n, what, sizeof(what));
        log_info("VM %s: set %s (%s)", vm, what, runtime ? "until schedd exits" : path);
        return 0;
}

int manager_reset_policy(Manager *m, const char *vm, char *const *keys, size_t n, ManagerError *err) {
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ PolicyKey *k = NULL;
        Policy ov, new_runtime, candidate;
        PolicyError perr;
        char what[512];
        int r;

        r = check_vm(m, vm, err);
        if (r < 0)
                return r;

        /* Every key must be one before anything changes. */
        k = calloc(n ?: 1, sizeof(PolicyKey));
        if (!k)
                return control_error(err, MANAGER_ERROR_FAILED, -ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
                r = policy_key_parse(vm, keys[i], &k[i], &perr);
                if (r < 0)
                        return policy_refused(err, MANAGER_ERROR_INVALID_POLICY, r, &perr);
        }

        policy_init(&ov);
        policy_init(&new_runtime);
        policy_init(&candidate);
        r = policy_copy(&new_runtime, &m->runtime);
        if (r < 0)
                policy_error(&perr, r, NULL, NULL, "out of memory");
        if (r >= 0 && m->config->override_dir) {
                path = override_path(m->config->override_dir, OVERRIDE_FILE_NAME);
                r = path ? override_read(path, &ov, &perr) : policy_error(&perr, -ENOMEM, NULL, NULL, "out of memory");
        }
        if (r >= 0) {
                if (n == 0) {
                        (void)policy_remove_vm(&ov, vm);
                        (void)policy_remove_vm(&new_runtime, vm);
                }
                for (size_t i = 0; i < n; i++) {
                        (void)policy_unset_key(&ov, vm, &k[i]);
                        (void)policy_unset_key(&new_runtime, vm, &k[i]);
                }
                override_prune(&ov);
                override_prune(&new_runtime);
                r = load_candidate(m, NULL, path ? &ov : NULL, &new_runtime, &candidate, &perr);
        }
        if (r < 0) {
                policy_done(&ov);
                policy_done(&new_runtime);
                return policy_refused(err, MANAGER_ERROR_INVALID_POLICY, r, &perr);
        }

        r = commit_change(m, &candidate, path ? &ov : NULL, &new_runtime, err);
        policy_done(&ov);
        if (r < 0)
                return r;
        if (n == 0)
                log_info("VM %s: reset every key to the policy files", vm);
        else {
                describe_settings(keys, NULL, n, what, sizeof(what));
                log_info("VM %s: reset %s to the policy files", vm, what);
        }
        return 0;
}

int manager_reload_policy(Manager *m, ManagerError *err) {
        int r;

        r = manager_reload(m);
        if (r < 0)
                return policy_refused(err, MANAGER_ERROR_INVALID_POLICY, r, &m->policy_error);
        return 0;
}

int manager_move_process(Manager *m, pid_t pid, const char *vm, ManagerError *err) {
        _cleanup_free_ char *procs = NULL;
        _cleanup_close_ int fd = -1;
        ManagerVm *v;
        char line[32];
        int r;

        if (pid <= 0)
                return control_error(err, MANAGER_ERROR_NO_SUCH_PROCESS, -ESRCH, "%d is not a process ID", (int)pid);
        r = check_vm(m, vm, err);
        if (r < 0)
                return r;
        v = manager_vm_by_name(m, vm);
        if (!v || v->state != MANAGER_VM_MANAGED || v->gone)
                return control_error(err, MANAGER_ERROR_VM_NOT_RUNNING, -ENODEV,
                                     "VM %s is not running: waiting for its cgroup %s/%s", vm, m->config->cgroup_root,
                                     v ? v->cgroup : vm);
        if (kill(pid, 0) < 0 && errno == ESRCH)
                return control_error(err, MANAGER_ERROR_NO_SUCH_PROCESS, -ESRCH, "no process %d", (int)pid);

        if (asprintf(&procs, "%s/cgroup.procs", v->cgroup) < 0) {
                procs = NULL;
                return control_error(err, MANAGER_ERROR_FAILED, -ENOMEM, "out of memory");
        }
        snprintf(line, sizeof(line), "%d\n", (int)pid);
        fd = openat(m->root_fd, procs, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
        r = fd < 0 ? -errno : write_all(fd, line, strlen(line));
        if (r == -ESRCH)
                return control_error(err, MANAGER_ERROR_NO_SUCH_PROCESS, r, "no process %d", (int)pid);
        if (r == -ENOENT || r == -ENODEV)
                return control_error(err, MANAGER_ERROR_VM_NOT_RUNNING, r, "VM %s is not running: %s/%s is gone", vm,
                                     m->config->cgroup_root, v->cgroup);
        if (r < 0)
                return control_error(err, MANAGER_ERROR_FAILED, r, "cannot write %d to %s/%s: %s", (int)pid,
                                     m->config->cgroup_root, procs, strerror(-r));
        log_info("VM %s: moved process %d into cgroup %s", vm, (int)pid, v->cgroup);
        return 0;
}

int manager_validate_text(const Manager *m, const char *text, char *summary, size_t size, ManagerError *err) {
        ResolvedPolicy rp;
        PolicyError perr;
        Policy p;
        int r;

        r = load_candidate(m, text, NULL, &m->runtime, &p, &perr);
        if (r >= 0) {
                r = policy_validate(&p, &m->facts, &rp, &perr);
                if (r < 0)
                        policy_done(&p);
        }
        if (r < 0)
                return policy_refused(err, MANAGER_ERROR_INVALID_POLICY, r, &perr);
        if (resolved_policy_summary(&rp, summary, size) < 0)
                snprintf(summary, size, "%zu VMs", rp.n_vms);
        resolved_policy_done(&rp);
        policy_done(&p);
        return 0;
}
