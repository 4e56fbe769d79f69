/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The D-Bus interface: the vtables, and handlers that only translate a call
 * into one manager call (manager-control.h) and its result into a reply.
 *
 *   /org/schedd/Scheduler1              org.schedd.Scheduler1.Manager
 *   /org/schedd/Scheduler1/vm/<name>    org.schedd.Scheduler1.VM
 *
 * Reading is open to everyone; a method that changes anything first asks
 * the bus who is calling and refuses (AccessDenied) anyone but root, a
 * holder of CAP_SYS_ADMIN, or schedd's own user.  Every refusal has a named
 * error (BUS_ERROR_*) and the message of the check that failed.
 */

#include <errno.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-id128.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "manager-control.h"
#include "override.h"
#include "policy/keys.h"
#include "version.h"

#define BUS_PATH          "/org/schedd/Scheduler1"
#define BUS_VM_PREFIX     "/org/schedd/Scheduler1/vm"
#define BUS_IFACE_MANAGER "org.schedd.Scheduler1.Manager"
#define BUS_IFACE_VM      "org.schedd.Scheduler1.VM"

#define BUS_ERROR_FAILED          "org.schedd.Scheduler1.Error.Failed"
#define BUS_ERROR_INVALID_POLICY  "org.schedd.Scheduler1.Error.InvalidPolicy"
#define BUS_ERROR_NO_SUCH_VM      "org.schedd.Scheduler1.Error.NoSuchVM"
#define BUS_ERROR_NO_SUCH_PROCESS "org.schedd.Scheduler1.Error.NoSuchProcess"
#define BUS_ERROR_VM_NOT_RUNNING  "org.schedd.Scheduler1.Error.VMNotRunning"
#define BUS_ERROR_NOT_SUPPORTED   "org.schedd.Scheduler1.Error.NotSupported"

/* A VM's held/released change is announced at most this often: a VM at
 * the edge of its bucket may flip every few ticks, and a listener wants the
 * state, not a signal per tick.  A change inside the interval waits for
 * its end, and only the state then is announced (flips in between
 * coalesce). */
#define MANAGER_BUS_SIGNAL_INTERVAL_USEC (1 * USEC_PER_SEC)

/* --bus-introspect gives up on its private connection after this long:
 * both ends are in this process, so anything near it means a bug. */
#define BUS_INTROSPECT_TIMEOUT_MSEC 5000

static const char *const error_names[_MANAGER_ERROR_MAX] = {
        [MANAGER_ERROR_FAILED] = BUS_ERROR_FAILED,
        [MANAGER_ERROR_INVALID_POLICY] = BUS_ERROR_INVALID_POLICY,
        [MANAGER_ERROR_NO_SUCH_VM] = BUS_ERROR_NO_SUCH_VM,
        [MANAGER_ERROR_NO_SUCH_PROCESS] = BUS_ERROR_NO_SUCH_PROCESS,
        [MANAGER_ERROR_VM_NOT_RUNNING] = BUS_ERROR_VM_NOT_RUNNING,
        [MANAGER_ERROR_NOT_SUPPORTED] = BUS_ERROR_NOT_SUPPORTED,
};

/* Replies to a refused call: the error's name and message. */
static int reply_error(const ManagerError *err, int r, sd_bus_error *error) {
        (void)sd_bus_error_set(error, error_names[err->kind], err->message);
        return r < 0 ? r : -EIO;
}

/* The Manager behind a property getter (the userdata of the vtable's slot:
 * a getter's own userdata is the object it reads). */
static Manager *bus_manager(sd_bus *bus) {
        sd_bus_slot *slot = sd_bus_get_current_slot(bus);

        return slot ? sd_bus_slot_get_userdata(slot) : NULL;
}

/* Root, CAP_SYS_ADMIN, or our own user (a user-bus schedd); else AccessDenied. */
static int check_privileged(sd_bus_message *message, sd_bus_error *error) {
        sd_bus_creds *creds = NULL;
        uid_t euid;
        int r;

        r = sd_bus_query_sender_creds(message, SD_BUS_CREDS_EUID | SD_BUS_CREDS_EFFECTIVE_CAPS | SD_BUS_CREDS_AUGMENT,
                                      &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(creds, &euid);
        if (r >= 0 && (euid == 0 || euid == geteuid()))
                r = 1;
        else
                r = sd_bus_creds_has_effective_cap(creds, CAP_SYS_ADMIN);
        sd_bus_creds_unref(creds);
        if (r > 0)
                return 0;
        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                 "%s.%s() changes schedd: it needs root or CAP_SYS_ADMIN",
                                 sd_bus_message_get_interface(message), sd_bus_message_get_member(message));
}

static char *vm_path(const ManagerVm *v) {
        char *path = NULL;

        if (sd_bus_path_encode(BUS_VM_PREFIX, v->name, &path) < 0)
                return NULL;
        return path;
}

static const char *vm_state(const ManagerVm *v) {
        return v->state == MANAGER_VM_MANAGED ? "managed" : "waiting";
}

/* ---- org.schedd.Scheduler1.Manager ----------------------------------------------------------------------------- */

static int method_list_vms(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        sd_bus_message *reply = NULL;
        Manager *m = userdata;
        int r;

        (void)error;
        r = sd_bus_message_new_method_return(message, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(sossbttttt)");
        for (size_t i = 0; r >= 0 && i < m->n_vms; i++) {
                const ManagerVm *v = m->vms[i];
                _cleanup_free_ char *path = vm_path(v);
                ManagerVmLive l;

                if (!path) {
                        r = -ENOMEM;
                        break;
                }
                manager_vm_live(m, v, &l);
                r = sd_bus_message_append(reply, "(sossbttttt)", v->name, path, v->cgroup, vm_state(v), l.held,
                                          l.usage_ucpu, l.entitlement_ucpu, l.ceiling_ucpu, l.tokens_usec,
                                          l.throttles);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        sd_bus_message_unref(reply);
        return r;
}

static int method_get_vm(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *path = NULL;
        Manager *m = userdata;
        const char *name;
        ManagerVm *v;
        int r;

        r = sd_bus_message_read(message, "s", &name);
        if (r < 0)
                return r;
        v = manager_vm_by_name(m, name);
        if (!v)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_VM, "no VM named \"%s\" in the policy", name);
        path = vm_path(v);
        if (!path)
                return -ENOMEM;
        return sd_bus_reply_method_return(message, "o", path);
}

/* The a{ss} of SetPolicy as two parallel lists. */
typedef struct Settings {
        char **keys, **values;
        size_t n;
} Settings;

static void settings_done(Settings *s) {
        for (size_t i = 0; i < s->n; i++) {
                free(s->keys[i]);
                free(s->values[i]);
        }
        free(s->keys);
        free(s->values);
        *s = (Settings){};
}

static int settings_read(sd_bus_message *message, Settings *ret) {
        Settings s = {};
        const char *key, *value;
        int r;

        r = sd_bus_message_enter_container(message, 'a', "{ss}");
        while (r >= 0 && (r = sd_bus_message_read(message, "{ss}", &key, &value)) > 0) {
                char **k = realloc(s.keys, (s.n + 1) * sizeof(char *));
                char **v = k ? realloc(s.values, (s.n + 1) * sizeof(char *)) : NULL;

                if (k)
                        s.keys = k;
                if (v)
                        s.values = v;
                if (!k || !v) {
                        r = -ENOMEM;
                        break;
                }
                s.keys[s.n] = strdup(key);
                s.values[s.n] = strdup(value);
                s.n++;
                if (!s.keys[s.n - 1] || !s.values[s.n - 1])
                        r = -ENOMEM;
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(message);
        if (r < 0) {
                settings_done(&s);
                return r;
        }
        *ret = s;
        return 0;
}

static int method_set_policy(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Settings s = {};
        ManagerError err;
        Manager *m = userdata;
        const char *vm;
        int runtime, r;

        r = check_privileged(message, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(message, "s", &vm);
        if (r >= 0)
                r = settings_read(message, &s);
        if (r < 0)
                return r;
        r = sd_bus_message_read(message, "b", &runtime);
        if (r < 0) {
                settings_done(&s);
                return r;
        }
        r = manager_set_policy(m, vm, s.keys, s.values, s.n, runtime, &err);
        settings_done(&s);
        if (r < 0)
                return reply_error(&err, r, error);
        return sd_bus_reply_method_return(message, NULL);
}

static int method_reset_policy(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        char **keys = NULL;
        ManagerError err;
        Manager *m = userdata;
        const char *vm;
        size_t n = 0;
        int r;

        r = check_privileged(message, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(message, "s", &vm);
        if (r >= 0)
                r = sd_bus_message_read_strv(message, &keys);
        if (r < 0)
                return r;
        while (keys && keys[n])
                n++;
        r = manager_reset_policy(m, vm, keys, n, &err);
        for (size_t i = 0; i < n; i++)
                free(keys[i]);
        free(keys);
        if (r < 0)
                return reply_error(&err, r, error);
        return sd_bus_reply_method_return(message, NULL);
}

static int method_reload(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        ManagerError err;
        int r;

        r = check_privileged(message, error);
        if (r < 0)
                return r;
        r = manager_reload_policy(userdata, &err);
        if (r < 0)
                return reply_error(&err, r, error);
        return sd_bus_reply_method_return(message, NULL);
}

static int method_move_process(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        ManagerError err;
        const char *vm;
        uint32_t pid;
        int r;

        r = check_privileged(message, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(message, "us", &pid, &vm);
        if (r < 0)
                return r;
        if (pid == 0 || pid > INT32_MAX)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_PROCESS, "%" PRIu32 " is not a process ID", pid);
        r = manager_move_process(userdata, (pid_t)pid, vm, &err);
        if (r < 0)
                return reply_error(&err, r, error);
        return sd_bus_reply_method_return(message, NULL);
}

static int method_validate_policy(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        char summary[1024];
        ManagerError err;
        const char *text;
        int r;

        r = sd_bus_message_read(message, "s", &text);
        if (r < 0)
                return r;
        r = manager_validate_text(userdata, text, summary, sizeof(summary), &err);
        if (r < 0)
                return reply_error(&err, r, error);
        return sd_bus_reply_method_return(message, "s", summary);
}

static int property_get_manager(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const Manager *m = userdata;
        _cleanup_free_ char *override = NULL;

        (void)bus;
        (void)path;
        (void)interface;
        (void)error;
        if (strcmp(property, "Version") == 0)
                return sd_bus_message_append(reply, "s", SCHEDD_VERSION);
        if (strcmp(property, "PolicyFile") == 0)
                return sd_bus_message_append(reply, "s", m->config->policy_path);
        if (strcmp(property, "OverrideFile") == 0) {
                if (m->config->override_dir) {
                        override = override_path(m->config->override_dir, OVERRIDE_FILE_NAME);
                        if (!override)
                                return -ENOMEM;
                }
                return sd_bus_message_append(reply, "s", override ?: "");
        }
        if (strcmp(property, "CgroupRoot") == 0)
                return sd_bus_message_append(reply, "s", m->config->cgroup_root);
        if (strcmp(property, "TickUSec") == 0)
                return sd_bus_message_append(reply, "t", m->tick_usec);
        if (strcmp(property, "CPUCapacityUCPU") == 0)
                return sd_bus_message_append(reply, "t", m->cpu_capacity);
        if (strcmp(property, "Ticks") == 0)
                return sd_bus_message_append(reply, "t", m->ticks);
        return -ENOENT;
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_manager, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("PolicyFile", "s", property_get_manager, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("OverrideFile", "s", property_get_manager, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("CgroupRoot", "s", property_get_manager, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("TickUSec", "t", property_get_manager, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("CPUCapacityUCPU", "t", property_get_manager, 0, 0),
        SD_BUS_PROPERTY("Ticks", "t", property_get_manager, 0, 0),
        SD_BUS_METHOD_WITH_ARGS("ListVMs", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(sossbttttt)", vms), method_list_vms,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetVM", SD_BUS_ARGS("s", name), SD_BUS_RESULT("o", path), method_get_vm,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetPolicy", SD_BUS_ARGS("s", vm, "a{ss}", settings, "b", runtime), SD_BUS_NO_RESULT,
                                method_set_policy, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ResetPolicy", SD_BUS_ARGS("s", vm, "as", keys), SD_BUS_NO_RESULT, method_reset_policy,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Reload", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_reload, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("MoveProcess", SD_BUS_ARGS("u", pid, "s", vm), SD_BUS_NO_RESULT, method_move_process,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ValidatePolicy", SD_BUS_ARGS("s", text), SD_BUS_RESULT("s", summary),
                                method_validate_policy, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("VMHeldChanged", SD_BUS_ARGS("s", vm, "o", path, "b", held, "t", throttles), 0),
        SD_BUS_VTABLE_END,
};

/* ---- org.schedd.Scheduler1.VM ---------------------------------------------------------------------------------- */

static int vm_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **ret_found,
                   sd_bus_error *error) {
        _cleanup_free_ char *name = NULL;
        ManagerVm *v;
        int r;

        (void)bus;
        (void)interface;
        (void)error;
        r = sd_bus_path_decode(path, BUS_VM_PREFIX, &name);
        if (r <= 0)
                return r;
        v = manager_vm_by_name(userdata, name);
        if (!v)
                return 0;
        *ret_found = v;
        return 1;
}

static int vm_enumerate(sd_bus *bus, const char *prefix, void *userdata, char ***ret_nodes, sd_bus_error *error) {
        const Manager *m = userdata;
        char **nodes;

        (void)bus;
        (void)prefix;
        (void)error;
        nodes = calloc(m->n_vms + 1, sizeof(char *));
        if (!nodes)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_vms; i++) {
                nodes[i] = vm_path(m->vms[i]);
                if (!nodes[i]) {
                        for (size_t j = 0; j < i; j++)
                                free(nodes[j]);
                        free(nodes);
                        return -ENOMEM;
                }
        }
        *ret_nodes = nodes;
        return 0;
}

static int property_get_vm_identity(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const ManagerVm *v = userdata;

        (void)bus;
        (void)path;
        (void)interface;
        (void)error;
        if (strcmp(property, "Name") == 0)
                return sd_bus_message_append(reply, "s", v->name);
        if (strcmp(property, "Cgroup") == 0)
                return sd_bus_message_append(reply, "s", v->cgroup);
        return sd_bus_message_append(reply, "s", vm_state(v));
}

static int append_key(const char *key, const char *value, void *userdata) {
        return sd_bus_message_append(userdata, "{ss}", key, value);
}

static int property_get_vm_policy(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const Manager *m = bus_manager(bus);
        const VmPolicy *vp = m ? manager_vm_policy(m, userdata) : NULL;
        int r;

        (void)path;
        (void)interface;
        (void)property;
        (void)error;
        r = sd_bus_message_open_container(reply, 'a', "{ss}");
        if (r >= 0 && vp)
                r = policy_vm_foreach_key(vp, append_key, reply);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r;
}

static int append_resolved(sd_bus_message *reply, const char *prefix, const ResolvedResource *rr) {
        static const char *const fields[] = {"reserve", "share", "limit", "burst"};
        const uint64_t values[] = {rr->reserve, rr->share, rr->limit, rr->burst};
        int r = 0;

        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(fields); i++) {
                char key[POLICY_KEY_MAX + 16];

                snprintf(key, sizeof(key), "%s.%s", prefix, fields[i]);
                r = sd_bus_message_append(reply, "{st}", key, values[i]);
        }
        return r;
}

static int property_get_vm_resolved(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const Manager *m = bus_manager(bus);
        const ManagerVm *v = userdata;
        const ResolvedVm *rv = v->rv;
        int r;

        (void)path;
        (void)interface;
        (void)property;
        (void)error;
        r = sd_bus_message_open_container(reply, 'a', "{st}");
        if (r >= 0 && rv && m)
                r = append_resolved(reply, "cpu", &rv->cpu);
        for (size_t j = 0; r >= 0 && rv && m && j < m->resolved.n_devices; j++)
                for (int k = 0; r >= 0 && k < _IO_DIR_MAX; k++) {
                        const ResolvedResource *rr = &rv->io[j * _IO_DIR_MAX + (size_t)k];
                        char prefix[POLICY_KEY_MAX];

                        if (!rr->configured)
                                continue;
                        snprintf(prefix, sizeof(prefix), "io.%s.%s", m->resolved.devices[j].name, io_dir_to_string(k));
                        r = append_resolved(reply, prefix, rr);
                }
        if (r >= 0 && rv && rv->net.configured)
                r = append_resolved(reply, "net.egress", &rv->net);
        if (r >= 0 && rv)
                r = sd_bus_message_append(reply, "{st}{st}", "memory.reserve", rv->mem_min, "memory.limit",
                                          rv->mem_max);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r;
}

/* The live CPU state, one number each: name, offset in ManagerVmLive. */
typedef struct LiveField {
        const char *name;
        size_t offset;
} LiveField;

static const LiveField live_u64[] = {
        {"TokensUSec", offsetof(ManagerVmLive, tokens_usec)},
        {"BucketUSec", offsetof(ManagerVmLive, bucket_usec)},
        {"EntitlementUCPU", offsetof(ManagerVmLive, entitlement_ucpu)},
        {"AllocationUCPU", offsetof(ManagerVmLive, allocation_ucpu)},
        {"RateUCPU", offsetof(ManagerVmLive, rate_ucpu)},
        {"CeilingUCPU", offsetof(ManagerVmLive, ceiling_ucpu)},
        {"QuotaUSec", offsetof(ManagerVmLive, quota_usec)},
        {"UsageUCPU", offsetof(ManagerVmLive, usage_ucpu)},
        {"Throttles", offsetof(ManagerVmLive, throttles)},
        {"NrThrottled", offsetof(ManagerVmLive, nr_throttled)},
};

static int property_get_vm_live(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const Manager *m = bus_manager(bus);
        ManagerVmLive l = {};

        (void)path;
        (void)interface;
        (void)error;
        if (m)
                manager_vm_live(m, userdata, &l);
        if (strcmp(property, "Held") == 0)
                return sd_bus_message_append(reply, "b", l.held);
        if (strcmp(property, "Bursting") == 0)
                return sd_bus_message_append(reply, "b", l.bursting);
        if (strcmp(property, "Weight") == 0)
                return sd_bus_message_append(reply, "u", l.weight);
        for (size_t i = 0; i < ELEMENTSOF(live_u64); i++)
                if (strcmp(property, live_u64[i].name) == 0)
                        return sd_bus_message_append(reply, "t",
                                                     *(const uint64_t *)((const char *)&l + live_u64[i].offset));
        return -ENOENT;
}

static int property_get_vm_io(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const Manager *m = bus_manager(bus);
        const ManagerVm *v = userdata;
        int r;

        (void)path;
        (void)interface;
        (void)property;
        (void)error;
        r = sd_bus_message_open_container(reply, 'a', "(ssbttt)");
        for (size_t j = 0; r >= 0 && m && v->state == MANAGER_VM_MANAGED && j < m->n_devices; j++)
                for (int k = 0; r >= 0 && k < _IO_DIR_MAX; k++) {
                        const SchedDecision *d;

                        if (v->io[j].slot[k] < 0)
                                continue;
                        d = sched_decision(m->devices[j].sched[k], v->io[j].slot[k]);
                        r = sd_bus_message_append(reply, "(ssbttt)", m->devices[j].name, io_dir_to_string(k), d->held,
                                                  v->io[j].used[k], d->rate, d->allocation);
                }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r;
}

/* Egress, in the shape of IO: (the shaped interfaces, "egress", held, bytes
 * in the last tick, rate and allocation in bytes per second); empty while
 * the VM is not in egress scheduling (manager-net.c). */
static int property_get_vm_net(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const Manager *m = bus_manager(bus);
        const ManagerVm *v = userdata;
        int r;

        (void)path;
        (void)interface;
        (void)property;
        (void)error;
        r = sd_bus_message_open_container(reply, 'a', "(ssbttt)");
        if (r >= 0 && m && v->net.joined) {
                const SchedDecision *d = sched_decision(m->net, v->net.slot);

                r = sd_bus_message_append(reply, "(ssbttt)", m->net_label, "egress", d->held, v->net.used, d->rate,
                                          d->allocation);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r;
}

static const sd_bus_vtable vm_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", property_get_vm_identity, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Cgroup", "s", property_get_vm_identity, 0, 0),
        SD_BUS_PROPERTY("State", "s", property_get_vm_identity, 0, 0),
        SD_BUS_PROPERTY("Policy", "a{ss}", property_get_vm_policy, 0, 0),
        SD_BUS_PROPERTY("Resolved", "a{st}", property_get_vm_resolved, 0, 0),
        SD_BUS_PROPERTY("Held", "b", property_get_vm_live, 0, 0),
        SD_BUS_PROPERTY("Bursting", "b", property_get_vm_live, 0, 0),
        SD_BUS_PROPERTY("TokensUSec", "t", property_get_vm_live, 0, 0),
        SD_BUS_PROPERTY("BucketUSec", "t", property_get_vm_live, 0, 0),
        SD_BUS_PROPERTY("EntitlementUCPU", "t", property_get_vm_live, 0, 0),
        SD_BUS_PROPERTY("AllocationUCPU", "t", property_get_vm_live, 0, 0),
        SD_BUS_PROPERTY("RateUCPU", "t", property_get_vm_live, 0, 0),
        SD_BUS_PROPERTY("CeilingUCPU", "t", property_get_vm_live, 0, 0),
        SD_BUS_PROPERTY("Weight", "u", property_get_vm_live, 0, 0),
        SD_BUS_PROPERTY("QuotaUSec", "t", property_get_vm_live, 0, 0),
        SD_BUS_PROPERTY("UsageUCPU", "t", property_get_vm_live, 0, 0),
        SD_BUS_PROPERTY("Throttles", "t", property_get_vm_live, 0, 0),
        SD_BUS_PROPERTY("NrThrottled", "t", property_get_vm_live, 0, 0),
        SD_BUS_PROPERTY("IO", "a(ssbttt)", property_get_vm_io, 0, 0),
        SD_BUS_PROPERTY("Net", "a(ssbttt)", property_get_vm_net, 0, 0),
        SD_BUS_VTABLE_END,
};

/* ---- life cycle ---------------------------------------------------------------------------------------------- */

/* The objects of the interface on `bus`; `m` NULL for introspection only
 * (the VM interface then sits on one example object). */
static int bus_add_objects(sd_bus *bus, Manager *m) {
        int r;

        r = sd_bus_add_object_vtable(bus, NULL, BUS_PATH, BUS_IFACE_MANAGER, manager_vtable, m);
        if (r < 0)
                return r;
        if (!m)
                return sd_bus_add_object_vtable(bus, NULL, BUS_VM_PREFIX "/example", BUS_IFACE_VM, vm_vtable, NULL);
        r = sd_bus_add_fallback_vtable(bus, NULL, BUS_VM_PREFIX, BUS_IFACE_VM, vm_vtable, vm_find, m);
        if (r < 0)
                return r;
        return sd_bus_add_node_enumerator(bus, NULL, BUS_VM_PREFIX, vm_enumerate, m);
}

static int bus_connect(const Manager *m, sd_bus **ret) {
        sd_bus *bus = NULL;
        int r;

        if (m->options.bus_address) {
                r = sd_bus_new(&bus);
                if (r < 0)
                        return r;
                r = sd_bus_set_address(bus, m->options.bus_address);
                if (r >= 0)
                        r = sd_bus_set_bus_client(bus, true);
                if (r >= 0)
                        r = sd_bus_set_description(bus, "schedd-bus");
                if (r >= 0)
                        r = sd_bus_start(bus);
                if (r < 0) {
                        sd_bus_unref(bus);
                        return r;
                }
        } else if (m->options.bus_user)
                r = sd_bus_open_user_with_description(&bus, "schedd-bus");
        else
                r = sd_bus_open_system_with_description(&bus, "schedd-bus");
        if (r < 0)
                return r;
        *ret = bus;
        return 0;
}

int manager_bus_start(Manager *m) {
        const char *which = m->options.bus_address ?: m->options.bus_user ? "the user bus" : "the system bus";
        sd_bus *bus = NULL;
        int r;

        r = bus_connect(m, &bus);
        if (r < 0) {
                if (!m->options.bus_address && !m->options.bus_user) {
                        log_warning_errno(r, "Cannot connect to %s, going on without the D-Bus interface: %m", which);
                        return 0;
                }
                return log_error_errno(r, "Cannot connect to %s: %m", which);
        }

        r = bus_add_objects(bus, m);
        if (r < 0) {
                sd_bus_flush_close_unref(bus);
                return log_error_errno(r, "Cannot publish the D-Bus objects: %m");
        }
        r = sd_bus_request_name(bus, m->config->bus_name, 0);
        if (r < 0) {
                sd_bus_flush_close_unref(bus);
                if (r == -EEXIST)
                        return log_error_errno(r, "Another process owns %s on %s: is schedd running already?",
                                               m->config->bus_name, which);
                return log_error_errno(r, "Cannot take the name %s on %s: %m", m->config->bus_name, which);
        }
        r = sd_bus_attach_event(bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0) {
                sd_bus_flush_close_unref(bus);
                return log_error_errno(r, "Cannot attach the bus to the event loop: %m");
        }
        m->bus = bus;
        log_info("Serving %s on %s", m->config->bus_name, which);
        return 0;
}

void manager_bus_stop(Manager *m) {
        m->bus = sd_bus_flush_close_unref(m->bus);
}

void manager_bus_tick(Manager *m, uint64_t now) {
        if (!m->bus)
                return;
        for (size_t i = 0; i < m->n_vms; i++) {
                ManagerVm *v = m->vms[i];
                _cleanup_free_ char *path = NULL;
                ManagerVmLive l;
                int r;

                manager_vm_live(m, v, &l);
                if (l.held == v->bus_held)
                        continue;
                if (v->bus_signal_usec > 0 && now - v->bus_signal_usec < MANAGER_BUS_SIGNAL_INTERVAL_USEC)
                        continue; /* announced at the end of the interval, if it still holds */
                path = vm_path(v);
                if (!path)
                        return;
                r = sd_bus_emit_signal(m->bus, BUS_PATH, BUS_IFACE_MANAGER, "VMHeldChanged", "sobt", v->name, path,
                                       l.held, l.throttles);
                if (r < 0)
                        log_debug_errno(r, "VM %s: cannot announce that it is %s: %m", v->name,
                                        l.held ? "held" : "released");
                v->bus_held = l.held;
                v->bus_signal_usec = now;
        }
}

/* ---- --bus-introspect ---------------------------------------------------------------------------------------- */

typedef struct IntrospectCall {
        char *xml;
        int error; /* 0 while waiting; 1 done; -errno failed */
} IntrospectCall;

static int on_introspect_reply(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        IntrospectCall *call = userdata;
        const char *xml;
        int r;

        (void)error;
        if (sd_bus_message_is_method_error(reply, NULL)) {
                call->error = -sd_bus_message_get_errno(reply) ?: -EIO;
                return 0;
        }
        r = sd_bus_message_read(reply, "s", &xml);
        if (r >= 0) {
                call->xml = strdup(xml);
                r = call->xml ? 1 : -ENOMEM;
        }
        call->error = r;
        return 0;
}

/* One Introspect() from `client` answered by `server` in this thread. */
static int introspect_one(sd_bus *server, sd_bus *client, const char *path, char **ret) {
        IntrospectCall call = {};
        int r;

        r = sd_bus_call_method_async(client, NULL, NULL, path, "org.freedesktop.DBus.Introspectable", "Introspect",
                                     on_introspect_reply, &call, "");
        if (r < 0)
                return r;
        while (call.error == 0) {
                struct pollfd p[2] = {
                        {.fd = sd_bus_get_fd(server), .events = (short)sd_bus_get_events(server)},
                        {.fd = sd_bus_get_fd(client), .events = (short)sd_bus_get_events(client)},
                };
                int a, b;

                a = sd_bus_process(server, NULL);
                b = sd_bus_process(client, NULL);
                if (a < 0 || b < 0)
                        return a < 0 ? a : b;
                if (a > 0 || b > 0 || call.error != 0)
                        continue;
                r = poll(p, 2, BUS_INTROSPECT_TIMEOUT_MSEC);
                if (r < 0)
                        return -errno;
                if (r == 0)
                        return -ETIMEDOUT;
        }
        if (call.error < 0)
                return call.error;
        *ret = call.xml;
        return 0;
}

/* One end of the private connection: the bus owns fd from here on, even on failure. */
static int introspect_end(int fd, bool server, sd_id128_t id, sd_bus **ret) {
        sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r < 0) {
                close(fd);
                return r;
        }
        r = sd_bus_set_fd(bus, fd, fd);
        if (r < 0) {
                close(fd);
                sd_bus_unref(bus);
                return r;
        }
        if (server)
                r = sd_bus_set_server(bus, true, id);
        if (r >= 0)
                r = sd_bus_set_anonymous(bus, true);
        if (r >= 0 && server)
                r = bus_add_objects(bus, NULL);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0) {
                sd_bus_close_unref(bus);
                return r;
        }
        *ret = bus;
        return 0;
}

int manager_bus_introspect(FILE *f) {
        _cleanup_free_ char *manager_xml = NULL, *vm_xml = NULL;
        sd_bus *server = NULL, *client = NULL;
        sd_id128_t id;
        int fds[2], r;

        r = sd_id128_randomize(&id);
        if (r < 0)
                return r;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) < 0)
                return -errno;
        r = introspect_end(fds[0], true, id, &server);
        if (r < 0) {
                close(fds[1]);
                return r;
        }
        r = introspect_end(fds[1], false, id, &client);
        if (r >= 0)
                r = introspect_one(server, client, BUS_PATH, &manager_xml);
        if (r >= 0)
                r = introspect_one(server, client, BUS_VM_PREFIX "/example", &vm_xml);
        sd_bus_close_unref(client);
        sd_bus_close_unref(server);
        if (r < 0)
                return r;

        fprintf(f, "<!-- " BUS_PATH ": the manager -->\n%s", manager_xml);
        fprintf(f, "<!-- " BUS_VM_PREFIX "/NAME: one per VM, NAME escaped as sd_bus_path_encode() does -->\n%s",
                vm_xml);
        return fflush(f) == 0 ? 0 : -errno;
}
