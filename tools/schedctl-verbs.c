/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The verbs that talk to schedd: each one or two bus calls, then output. */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/keys.h"
#include "policy/units.h"
#include "schedctl.h"

/* `top` refreshes this often: schedd's own figures (usage in the last
 * tick, tokens) change every tick, and a screen that changes faster than
 * once a second cannot be read. */
#define TOP_INTERVAL_USEC 1000000ULL

#define USEC_PER_MSEC 1000ULL

/* ---- reading replies ------------------------------------------------------------------------------------------- */

/* One entry of ListVMs. */
typedef struct VmRow {
        const char *name, *path, *cgroup, *state;
        int held;
        uint64_t usage_ucpu, entitlement_ucpu, ceiling_ucpu, tokens_usec, throttles;
} VmRow;

typedef struct VmList {
        sd_bus_message *reply; /* the strings point into it */
        VmRow *rows;
        size_t n;
} VmList;

static void vm_list_done(VmList *l) {
        free(l->rows);
        sd_bus_message_unref(l->reply);
        *l = (VmList){};
}

static int list_vms(Ctl *c, VmList *ret) {
        sd_bus_message *call = NULL;
        VmList l = {};
        int r;

        r = ctl_new_call(c, "ListVMs", &call);
        if (r != 0)
                return r;
        r = ctl_call(c, call, &l.reply);
        sd_bus_message_unref(call);
        if (r != 0)
                return r;

        r = sd_bus_message_enter_container(l.reply, 'a', "(sossbttttt)");
        for (;;) {
                VmRow row;
                VmRow *rows;

                if (r < 0)
                        break;
                r = sd_bus_message_read(l.reply, "(sossbttttt)", &row.name, &row.path, &row.cgroup, &row.state,
                                        &row.held, &row.usage_ucpu, &row.entitlement_ucpu, &row.ceiling_ucpu,
                                        &row.tokens_usec, &row.throttles);
                if (r <= 0)
                        break;
                rows = realloc(l.rows, (l.n + 1) * sizeof(VmRow));
                if (!rows) {
                        r = -ENOMEM;
                        break;
                }
                l.rows = rows;
                l.rows[l.n++] = row;
        }
        if (r < 0) {
                vm_list_done(&l);
                return ctl_fail(r, "cannot read the list of VMs");
        }
        *ret = l;
        return 0;
}

/* The object path of a VM (GetVM). */
static int get_vm_path(Ctl *c, const char *vm, char **ret) {
        sd_bus_message *call = NULL, *reply = NULL;
        const char *path;
        int r;

        r = ctl_new_call(c, "GetVM", &call);
        if (r != 0)
                return r;
        r = sd_bus_message_append(call, "s", vm);
        if (r < 0) {
                sd_bus_message_unref(call);
                return ctl_fail(r, "cannot make a bus message");
        }
        r = ctl_call(c, call, &reply);
        sd_bus_message_unref(call);
        if (r != 0)
                return r;
        r = sd_bus_message_read(reply, "o", &path);
        if (r >= 0) {
                *ret = strdup(path);
                if (!*ret)
                        r = -ENOMEM;
        }
        sd_bus_message_unref(reply);
        return r < 0 ? ctl_fail(r, "cannot read the reply") : 0;
}

/* A VM's properties, read once into plain fields. */
typedef struct KeyValue {
        char *key, *value; /* value NULL: only resolved */
        uint64_t resolved;
        bool have_resolved;
        size_t order; /* where Resolved lists it, after the keys it does not list */
} KeyValue;

typedef struct IoRow {
        char *device, *dir;
        int held;
        uint64_t used, rate, allocation;
} IoRow;

typedef struct VmInfo {
        char *name, *cgroup, *state;
        int held, bursting;
        uint32_t weight;
        uint64_t tokens_usec, bucket_usec, entitlement_ucpu, allocation_ucpu, rate_ucpu, ceiling_ucpu, quota_usec,
                usage_ucpu, throttles, nr_throttled;
        KeyValue *keys; /* written keys in policy order, then resolved-only ones */
        size_t n_keys;
        IoRow *io;
        size_t n_io;
} VmInfo;

static void vm_info_done(VmInfo *v) {
        free(v->name);
        free(v->cgroup);
        free(v->state);
        for (size_t i = 0; i < v->n_keys; i++) {
                free(v->keys[i].key);
                free(v->keys[i].value);
        }
        free(v->keys);
        for (size_t i = 0; i < v->n_io; i++) {
                free(v->io[i].device);
                free(v->io[i].dir);
        }
        free(v->io);
        *v = (VmInfo){};
}

static KeyValue *info_key(VmInfo *v, const char *key) {
        KeyValue *k;

        for (size_t i = 0; i < v->n_keys; i++)
                if (strcmp(v->keys[i].key, key) == 0)
                        return &v->keys[i];
        k = realloc(v->keys, (v->n_keys + 1) * sizeof(KeyValue));
        if (!k)
                return NULL;
        v->keys = k;
        k = &v->keys[v->n_keys];
        *k = (KeyValue){.key = strdup(key)};
        if (!k->key)
                return NULL;
        v->n_keys++;
        return k;
}

static int read_string(sd_bus_message *m, char **ret) {
        const char *s;
        int r = sd_bus_message_read(m, "v", "s", &s);

        if (r < 0)
                return r;
        free(*ret);
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int read_policy(sd_bus_message *m, VmInfo *v, bool resolved) {
        size_t index = 0;
        int r;

        r = sd_bus_message_enter_container(m, 'v', resolved ? "a{st}" : "a{ss}");
        if (r >= 0)
                r = sd_bus_message_enter_container(m, 'a', resolved ? "{st}" : "{ss}");
        while (r >= 0) {
                const char *key, *value = NULL;
                uint64_t n = 0;
                KeyValue *k;

                r = resolved ? sd_bus_message_read(m, "{st}", &key, &n) : sd_bus_message_read(m, "{ss}", &key, &value);
                if (r <= 0)
                        break;
                k = info_key(v, key);
                if (!k)
                        return -ENOMEM;
                if (!k->have_resolved && !resolved)
                        k->order = v->n_keys;
                if (resolved) {
                        k->resolved = n;
                        k->have_resolved = true;
                        k->order = SIZE_MAX / 2 + index++;
                } else {
                        free(k->value);
                        k->value = strdup(value);
                        if (!k->value)
                                return -ENOMEM;
                }
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        return r;
}

static int read_io(sd_bus_message *m, VmInfo *v) {
        int r;

        r = sd_bus_message_enter_container(m, 'v', "a(ssbttt)");
        if (r >= 0)
                r = sd_bus_message_enter_container(m, 'a', "(ssbttt)");
        while (r >= 0) {
                const char *device, *dir;
                IoRow row, *rows;

                r = sd_bus_message_read(m, "(ssbttt)", &device, &dir, &row.held, &row.used, &row.rate,
                                        &row.allocation);
                if (r <= 0)
                        break;
                rows = realloc(v->io, (v->n_io + 1) * sizeof(IoRow));
                if (!rows)
                        return -ENOMEM;
                v->io = rows;
                row.device = strdup(device);
                row.dir = strdup(dir);
                v->io[v->n_io++] = row;
                if (!row.device || !row.dir)
                        return -ENOMEM;
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        return r;
}

typedef struct U64Property {
        const char *name;
        size_t offset;
} U64Property;

static const U64Property vm_u64_properties[] = {
        {"TokensUSec", offsetof(VmInfo, tokens_usec)},
        {"BucketUSec", offsetof(VmInfo, bucket_usec)},
        {"EntitlementUCPU", offsetof(VmInfo, entitlement_ucpu)},
        {"AllocationUCPU", offsetof(VmInfo, allocation_ucpu)},
        {"RateUCPU", offsetof(VmInfo, rate_ucpu)},
        {"CeilingUCPU", offsetof(VmInfo, ceiling_ucpu)},
        {"QuotaUSec", offsetof(VmInfo, quota_usec)},
        {"UsageUCPU", offsetof(VmInfo, usage_ucpu)},
        {"Throttles", offsetof(VmInfo, throttles)},
        {"NrThrottled", offsetof(VmInfo, nr_throttled)},
};

static int by_order(const void *a, const void *b) {
        const KeyValue *x = a, *y = b;

        return x->order < y->order ? -1 : x->order > y->order;
}

/* Reads one property of a GetAll reply: > 0 when it read the value, 0 when the name is not
 * one it knows (the caller skips it), < 0 on a malformed message. */
typedef int (*PropertyReader)(sd_bus_message *m, const char *name, void *userdata);

/* Walks a GetAll reply's a{sv}, handing each property to read_one; unknown ones (of a newer
 * schedd) are skipped. */
static int read_properties(sd_bus_message *m, PropertyReader read_one, void *userdata) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        while (r >= 0) {
                const char *name;

                r = sd_bus_message_enter_container(m, 'e', "sv");
                if (r <= 0)
                        break;
                r = sd_bus_message_read(m, "s", &name);
                if (r < 0)
                        break;
                r = read_one(m, name, userdata);
                if (r == 0)
                        r = sd_bus_message_skip(m, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        return r;
}

/* sd_bus_message_read answers 1 on success; the other readers here answer 0. */
static int handled(int r) {
        return r < 0 ? r : 1;
}

static int read_vm_property(sd_bus_message *m, const char *name, void *userdata) {
        VmInfo *v = userdata;

        if (strcmp(name, "Name") == 0)
                return handled(read_string(m, &v->name));
        if (strcmp(name, "Cgroup") == 0)
                return handled(read_string(m, &v->cgroup));
        if (strcmp(name, "State") == 0)
                return handled(read_string(m, &v->state));
        if (strcmp(name, "Held") == 0)
                return handled(sd_bus_message_read(m, "v", "b", &v->held));
        if (strcmp(name, "Bursting") == 0)
                return handled(sd_bus_message_read(m, "v", "b", &v->bursting));
        if (strcmp(name, "Weight") == 0)
                return handled(sd_bus_message_read(m, "v", "u", &v->weight));
        if (strcmp(name, "Policy") == 0)
                return handled(read_policy(m, v, false));
        if (strcmp(name, "Resolved") == 0)
                return handled(read_policy(m, v, true));
        if (strcmp(name, "IO") == 0)
                return handled(read_io(m, v));
        for (size_t i = 0; i < sizeof(vm_u64_properties) / sizeof(vm_u64_properties[0]); i++)
                if (strcmp(name, vm_u64_properties[i].name) == 0)
                        return handled(sd_bus_message_read(m, "v", "t",
                                                           (uint64_t *)((char *)v + vm_u64_properties[i].offset)));
        return 0;
}

/* GetVM, then GetAll of the VM's object. */
static int get_vm_info(Ctl *c, const char *vm, VmInfo *ret) {
        sd_bus_message *reply = NULL;
        char *path = NULL;
        VmInfo v = {};
        int r;

        r = get_vm_path(c, vm, &path);
        if (r != 0)
                return r;
        r = ctl_get_all(c, path, SCHEDCTL_IFACE_VM, &reply);
        free(path);
        if (r != 0)
                return r;

        r = read_properties(reply, read_vm_property, &v);
        sd_bus_message_unref(reply);
        if (r < 0) {
                vm_info_done(&v);
                return ctl_fail(r, "cannot read the VM's properties");
        }
        /* Keys with no number of their own (cgroup, create, ...) first, then as Resolved lists them. */
        if (v.n_keys > 1)
                qsort(v.keys, v.n_keys, sizeof(KeyValue), by_order);
        *ret = v;
        return 0;
}

/* ---- formatting ---------------------------------------------------------------------------------------------- */

/* CPUs with two decimals, rounded: "0.42". */
static const char *fmt_cpus(uint64_t ucpu, char *buf, size_t size) {
        uint64_t hundredths =
                ucpu / (UNIT_UCPU_PER_CPU / 100) + (ucpu % (UNIT_UCPU_PER_CPU / 100) >= UNIT_UCPU_PER_CPU / 200);

        snprintf(buf, size, "%" PRIu64 ".%02" PRIu64, hundredths / 100, hundredths % 100);
        return buf;
}

/* Milliseconds with one decimal: "12.5ms". */
static const char *fmt_msec(uint64_t usec, char *buf, size_t size) {
        snprintf(buf, size, "%" PRIu64 ".%" PRIu64 "ms", (uint64_t)(usec / USEC_PER_MSEC),
                 (uint64_t)(usec % USEC_PER_MSEC / 100));
        return buf;
}

/* A resolved number in the unit of its key ("0.5" CPUs, "200ms", "50MB/s"). */
static const char *fmt_resolved(const char *vm, const char *key, uint64_t n, char *buf, size_t size) {
        char t[UNIT_FORMAT_MAX];
        PolicyKey k;

        if (policy_key_parse(vm, key, &k, NULL) < 0) {
                snprintf(buf, size, "%" PRIu64, n);
                return buf;
        }
        if (k.field == POLICY_FIELD_SHARE) {
                snprintf(buf, size, "%" PRIu64, n);
                return buf;
        }
        switch (k.kind) {
                case POLICY_KEY_CPU:
                        if (k.field == POLICY_FIELD_BURST)
                                snprintf(buf, size, "%s", unit_format_duration(n, t, sizeof(t)));
                        else {
                                int digits = 6;
                                uint64_t frac = n % UNIT_UCPU_PER_CPU;

                                while (frac > 0 && frac % 10 == 0) {
                                        frac /= 10;
                                        digits--;
                                }
                                if (frac > 0)
                                        snprintf(t, sizeof(t), "%" PRIu64 ".%0*" PRIu64,
                                                 (uint64_t)(n / UNIT_UCPU_PER_CPU), digits, frac);
                                else
                                        snprintf(t, sizeof(t), "%" PRIu64, (uint64_t)(n / UNIT_UCPU_PER_CPU));
                                snprintf(buf, size, "%s %s", t, n == UNIT_UCPU_PER_CPU ? "CPU" : "CPUs");
                        }
                        break;
                case POLICY_KEY_IO:
                        if (k.field == POLICY_FIELD_BURST)
                                snprintf(buf, size, "%s",
                                         k.dir == IO_RBPS || k.dir == IO_WBPS ? unit_format_bytes(n, t, sizeof(t))
                                                                              : unit_format_count(n, t, sizeof(t)));
                        else if (k.dir == IO_RBPS || k.dir == IO_WBPS)
                                snprintf(buf, size, "%s/s", unit_format_bytes(n, t, sizeof(t)));
                        else
                                snprintf(buf, size, "%s IOPS", unit_format_count(n, t, sizeof(t)));
                        break;
                case POLICY_KEY_NET:
                        if (k.field == POLICY_FIELD_BURST)
                                snprintf(buf, size, "%s", unit_format_bytes(n, t, sizeof(t)));
                        else
                                snprintf(buf, size, "%s/s", unit_format_bytes(n, t, sizeof(t)));
                        break;
                case POLICY_KEY_MEMORY:
                        if (n == 0)
                                snprintf(buf, size, "%s", k.field == POLICY_FIELD_LIMIT ? "max" : "0");
                        else
                                snprintf(buf, size, "%s", unit_format_bytes(n, t, sizeof(t)));
                        break;
                default:
                        snprintf(buf, size, "%" PRIu64, n);
        }
        return buf;
}

static Colour state_colour(const char *state) {
        return strcmp(state, "managed") == 0 ? COLOUR_GREEN : COLOUR_YELLOW;
}

/* ---- list ---------------------------------------------------------------------------------------------------- */

int verb_list(Ctl *c, int argc, char *argv[]) {
        static const char *const headers[] = {"VM", "STATE", "HELD", "CGROUP", NULL};
        VmList l;
        Table *t;
        int r;

        (void)argv;
        if (argc > 1)
                return usage_error("list", "unexpected argument \"%s\"", argv[1]);
        r = list_vms(c, &l);
        if (r != 0)
                return r;

        if (c->json) {
                fputc('[', stdout);
                for (size_t i = 0; i < l.n; i++) {
                        fputs(i ? ",{\"name\":" : "{\"name\":", stdout);
                        json_string(stdout, l.rows[i].name);
                        fputs(",\"path\":", stdout);
                        json_string(stdout, l.rows[i].path);
                        fputs(",\"cgroup\":", stdout);
                        json_string(stdout, l.rows[i].cgroup);
                        fputs(",\"state\":", stdout);
                        json_string(stdout, l.rows[i].state);
                        printf(",\"held\":%s}", l.rows[i].held ? "true" : "false");
                }
                fputs("]\n", stdout);
                vm_list_done(&l);
                return 0;
        }

        t = table_new(headers);
        for (size_t i = 0; t && i < l.n; i++)
                if (table_add(t, l.rows[i].name, COLOUR_NONE) < 0 ||
                    table_add(t, l.rows[i].state, state_colour(l.rows[i].state)) < 0 ||
                    table_add(t, l.rows[i].held ? "held" : "-", l.rows[i].held ? COLOUR_RED : COLOUR_NONE) < 0 ||
                    table_add(t, l.rows[i].cgroup, COLOUR_NONE) < 0)
                        t = table_free(t);
        if (!t) {
                vm_list_done(&l);
                return ctl_fail(-ENOMEM, "cannot make the table");
        }
        table_print(t, stdout, c->legend, c->colour);
        if (c->legend)
                printf("\n%zu VM%s listed.\n", l.n, l.n == 1 ? "" : "s");
        table_free(t);
        vm_list_done(&l);
        return 0;
}

/* ---- status and top ------------------------------------------------------------------------------------------ */

typedef struct ManagerInfo {
        char *version, *policy_file, *override_file, *cgroup_root;
        uint64_t tick_usec, capacity_ucpu, ticks;
} ManagerInfo;

static void manager_info_done(ManagerInfo *i) {
        free(i->version);
        free(i->policy_file);
        free(i->override_file);
        free(i->cgroup_root);
        *i = (ManagerInfo){};
}

static int read_manager_property(sd_bus_message *m, const char *name, void *userdata) {
        ManagerInfo *i = userdata;

        if (strcmp(name, "Version") == 0)
                return handled(read_string(m, &i->version));
        if (strcmp(name, "PolicyFile") == 0)
                return handled(read_string(m, &i->policy_file));
        if (strcmp(name, "OverrideFile") == 0)
                return handled(read_string(m, &i->override_file));
        if (strcmp(name, "CgroupRoot") == 0)
                return handled(read_string(m, &i->cgroup_root));
        if (strcmp(name, "TickUSec") == 0)
                return handled(sd_bus_message_read(m, "v", "t", &i->tick_usec));
        if (strcmp(name, "CPUCapacityUCPU") == 0)
                return handled(sd_bus_message_read(m, "v", "t", &i->capacity_ucpu));
        if (strcmp(name, "Ticks") == 0)
                return handled(sd_bus_message_read(m, "v", "t", &i->ticks));
        return 0;
}

static int get_manager_info(Ctl *c, ManagerInfo *ret) {
        sd_bus_message *reply = NULL;
        ManagerInfo i = {};
        int r;

        r = ctl_get_all(c, SCHEDCTL_BUS_PATH, SCHEDCTL_IFACE_MANAGER, &reply);
        if (r != 0)
                return r;
        r = read_properties(reply, read_manager_property, &i);
        sd_bus_message_unref(reply);
        if (r < 0) {
                manager_info_done(&i);
                return ctl_fail(r, "cannot read schedd's properties");
        }
        *ret = i;
        return 0;
}

static void print_vms_json(const VmList *l) {
        fputc('[', stdout);
        for (size_t i = 0; i < l->n; i++) {
                const VmRow *v = &l->rows[i];

                fputs(i ? ",{\"name\":" : "{\"name\":", stdout);
                json_string(stdout, v->name);
                fputs(",\"state\":", stdout);
                json_string(stdout, v->state);
                printf(",\"held\":%s,\"usage_ucpu\":%" PRIu64 ",\"entitlement_ucpu\":%" PRIu64
                       ",\"ceiling_ucpu\":%" PRIu64 ",\"tokens_usec\":%" PRIu64 ",\"throttles\":%" PRIu64 "}",
                       v->held ? "true" : "false", v->usage_ucpu, v->entitlement_ucpu, v->ceiling_ucpu, v->tokens_usec,
                       v->throttles);
        }
        fputc(']', stdout);
}

/* The summary and the table of VMs, shared by `status` and `top`. */
static int print_overview(Ctl *c, const ManagerInfo *mi, VmList *l) {
        static const char *const headers[] = {"VM",      "STATE",  "HELD",      "USAGE", "ENTITLED",
                                              "CEILING", "TOKENS", "THROTTLES", NULL};
        char a[UNIT_FORMAT_MAX], b[UNIT_FORMAT_MAX];
        size_t held = 0, waiting = 0;
        Table *t;

        for (size_t i = 0; i < l->n; i++) {
                held += l->rows[i].held;
                waiting += strcmp(l->rows[i].state, "managed") != 0;
        }
        if (c->json) {
                printf("{\"version\":");
                json_string(stdout, mi->version);
                printf(",\"policy_file\":");
                json_string(stdout, mi->policy_file);
                printf(",\"override_file\":");
                json_string(stdout, mi->override_file);
                printf(",\"tick_usec\":%" PRIu64 ",\"cpu_capacity_ucpu\":%" PRIu64 ",\"ticks\":%" PRIu64 ",\"vms\":",
                       mi->tick_usec, mi->capacity_ucpu, mi->ticks);
                print_vms_json(l);
                printf("}\n");
                return 0;
        }

        printf("schedd %s: %zu VM%s, %zu held, %zu waiting; %s CPUs, tick %s; %s\n", mi->version ?: "?", l->n,
               l->n == 1 ? "" : "s", held, waiting, fmt_cpus(mi->capacity_ucpu, a, sizeof(a)),
               unit_format_duration(mi->tick_usec, b, sizeof(b)), mi->policy_file ?: "");
        if (l->n == 0)
                return 0;
        fputc('\n', stdout);

        t = table_new(headers);
        for (size_t col = 3; t && col < 8; col++)
                table_align_right(t, col);
        for (size_t i = 0; t && i < l->n; i++) {
                const VmRow *v = &l->rows[i];
                char u[32], e[32], cl[32], tk[32];

                if (table_add(t, v->name, COLOUR_NONE) < 0 || table_add(t, v->state, state_colour(v->state)) < 0 ||
                    table_add(t, v->held ? "held" : "-", v->held ? COLOUR_RED : COLOUR_NONE) < 0 ||
                    table_add(t, fmt_cpus(v->usage_ucpu, u, sizeof(u)), COLOUR_NONE) < 0 ||
                    table_add(t, fmt_cpus(v->entitlement_ucpu, e, sizeof(e)), COLOUR_NONE) < 0 ||
                    table_add(t, fmt_cpus(v->ceiling_ucpu, cl, sizeof(cl)), COLOUR_NONE) < 0 ||
                    table_add(t, fmt_msec(v->tokens_usec, tk, sizeof(tk)), COLOUR_NONE) < 0 ||
                    table_addf(t, COLOUR_NONE, "%" PRIu64, v->throttles) < 0)
                        t = table_free(t);
        }
        if (!t)
                return ctl_fail(-ENOMEM, "cannot make the table");
        table_print(t, stdout, c->legend, c->colour);
        table_free(t);
        return 0;
}

static int status_all(Ctl *c) {
        ManagerInfo mi;
        VmList l;
        int r;

        r = get_manager_info(c, &mi);
        if (r != 0)
                return r;
        r = list_vms(c, &l);
        if (r == 0) {
                r = print_overview(c, &mi, &l);
                vm_list_done(&l);
        }
        manager_info_done(&mi);
        return r;
}

static void print_vm_json(const VmInfo *v) {
        printf("{\"name\":");
        json_string(stdout, v->name);
        printf(",\"cgroup\":");
        json_string(stdout, v->cgroup);
        printf(",\"state\":");
        json_string(stdout, v->state);
        printf(",\"held\":%s,\"bursting\":%s,\"weight\":%" PRIu32, v->held ? "true" : "false",
               v->bursting ? "true" : "false", v->weight);
        for (size_t i = 0; i < sizeof(vm_u64_properties) / sizeof(vm_u64_properties[0]); i++)
                printf(",\"%s\":%" PRIu64, vm_u64_properties[i].name,
                       *(const uint64_t *)((const char *)v + vm_u64_properties[i].offset));
        printf(",\"policy\":{");
        for (size_t i = 0, n = 0; i < v->n_keys; i++)
                if (v->keys[i].value) {
                        fputs(n++ ? "," : "", stdout);
                        json_string(stdout, v->keys[i].key);
                        fputc(':', stdout);
                        json_string(stdout, v->keys[i].value);
                }
        printf("},\"resolved\":{");
        for (size_t i = 0, n = 0; i < v->n_keys; i++)
                if (v->keys[i].have_resolved) {
                        fputs(n++ ? "," : "", stdout);
                        json_string(stdout, v->keys[i].key);
                        printf(":%" PRIu64, v->keys[i].resolved);
                }
        printf("},\"io\":[");
        for (size_t i = 0; i < v->n_io; i++) {
                fputs(i ? ",{\"device\":" : "{\"device\":", stdout);
                json_string(stdout, v->io[i].device);
                fputs(",\"direction\":", stdout);
                json_string(stdout, v->io[i].dir);
                printf(",\"held\":%s,\"used\":%" PRIu64 ",\"rate\":%" PRIu64 ",\"allocation\":%" PRIu64 "}",
                       v->io[i].held ? "true" : "false", v->io[i].used, v->io[i].rate, v->io[i].allocation);
        }
        printf("]}\n");
}

static int status_vm(Ctl *c, const char *vm) {
        static const char *const headers[] = {"FIELD", "VALUE", NULL};
        char a[32], b[32], d[32], e[64];
        Table *t;
        VmInfo v;
        int r;

        r = get_vm_info(c, vm, &v);
        if (r != 0)
                return r;
        if (c->json) {
                print_vm_json(&v);
                vm_info_done(&v);
                return 0;
        }

        t = table_new(headers);
        r = t ? 0 : -ENOMEM;
        if (r >= 0)
                r = table_add(t, "VM:", COLOUR_BOLD);
        if (r >= 0)
                r = table_addf(t, COLOUR_NONE, "%s (cgroup %s)", v.name, v.cgroup);
        if (r >= 0)
                r = table_add(t, "State:", COLOUR_BOLD);
        if (r >= 0)
                r = table_addf(t, v.held ? COLOUR_RED : state_colour(v.state), "%s%s%s", v.state,
                               v.held ? ", held" : "", v.bursting ? ", bursting" : "");
        if (r >= 0)
                r = table_add(t, "CPU:", COLOUR_BOLD);
        if (r >= 0)
                r = table_addf(t, COLOUR_NONE, "using %s of %s entitled (allocation %s, allowed now %s, ceiling %s)",
                               fmt_cpus(v.usage_ucpu, a, sizeof(a)), fmt_cpus(v.entitlement_ucpu, b, sizeof(b)),
                               fmt_cpus(v.allocation_ucpu, d, sizeof(d)), fmt_cpus(v.rate_ucpu, e, sizeof(e)),
                               fmt_cpus(v.ceiling_ucpu, e + 32, 32));
        if (r >= 0)
                r = table_add(t, "Bucket:", COLOUR_BOLD);
        if (r >= 0)
                r = table_addf(t, COLOUR_NONE,
                               "%s of %s; held %" PRIu64 " times (kernel: %" PRIu64 " throttled periods)",
                               fmt_msec(v.tokens_usec, a, sizeof(a)), fmt_msec(v.bucket_usec, b, sizeof(b)),
                               v.throttles, v.nr_throttled);
        if (r >= 0)
                r = table_add(t, "Knobs:", COLOUR_BOLD);
        if (r >= 0) {
                if (v.quota_usec > 0)
                        r = table_addf(t, COLOUR_NONE, "cpu.weight %" PRIu32 ", cpu.max %" PRIu64 " 100000", v.weight,
                                       v.quota_usec);
                else
                        r = table_addf(t, COLOUR_NONE, "cpu.weight %" PRIu32 ", cpu.max max 100000", v.weight);
        }
        for (size_t i = 0; r >= 0 && i < v.n_io; i++) {
                r = table_add(t, i == 0 ? "I/O:" : "", COLOUR_BOLD);
                if (r >= 0)
                        r = table_addf(t, v.io[i].held ? COLOUR_RED : COLOUR_NONE,
                                       "%s %s: used %" PRIu64 " in the last tick, allowed %" PRIu64 "/s%s",
                                       v.io[i].device, v.io[i].dir, v.io[i].used, v.io[i].rate,
                                       v.io[i].held ? ", held" : "");
        }
        for (size_t i = 0, n = 0; r >= 0 && i < v.n_keys; i++) {
                if (!v.keys[i].value)
                        continue;
                r = table_add(t, n++ == 0 ? "Policy:" : "", COLOUR_BOLD);
                if (r >= 0)
                        r = table_addf(t, COLOUR_NONE, "%s=%s", v.keys[i].key, v.keys[i].value);
        }
        if (r < 0) {
                table_free(t);
                vm_info_done(&v);
                return ctl_fail(r, "cannot make the table");
        }
        table_print(t, stdout, false, c->colour);
        table_free(t);
        vm_info_done(&v);
        return 0;
}

int verb_status(Ctl *c, int argc, char *argv[]) {
        if (argc > 2)
                return usage_error("status", "unexpected argument \"%s\"", argv[2]);
        return argc == 2 ? status_vm(c, argv[1]) : status_all(c);
}

static int by_usage(const void *a, const void *b) {
        const VmRow *x = a, *y = b;

        if (x->usage_ucpu != y->usage_ucpu)
                return x->usage_ucpu > y->usage_ucpu ? -1 : 1;
        return strcmp(x->name, y->name);
}

int verb_top(Ctl *c, int argc, char *argv[]) {
        if (argc > 1)
                return usage_error("top", "unexpected argument \"%s\"", argv[1]);

        for (uint64_t i = 0; c->iterations == 0 || i < c->iterations; i++) {
                struct timespec ts = {.tv_sec = TOP_INTERVAL_USEC / 1000000,
                                      .tv_nsec = TOP_INTERVAL_USEC % 1000000 * 1000};
                ManagerInfo mi;
                VmList l;
                int r;

                if (i > 0)
                        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                                ;
                r = get_manager_info(c, &mi);
                if (r != 0)
                        return r;
                r = list_vms(c, &l);
                if (r != 0) {
                        manager_info_done(&mi);
                        return r;
                }
                if (l.n > 1)
                        qsort(l.rows, l.n, sizeof(VmRow), by_usage);
                if (c->colour && !c->json)
                        fputs("\033[H\033[2J", stdout); /* home, clear: a screen that refreshes */
                else if (i > 0 && !c->json)
                        fputc('\n', stdout);
                r = print_overview(c, &mi, &l);
                vm_list_done(&l);
                manager_info_done(&mi);
                if (r != 0)
                        return r;
                fflush(stdout);
        }
        return 0;
}

/* ---- get ----------------------------------------------------------------------------------------------------- */

int verb_get(Ctl *c, int argc, char *argv[]) {
        static const char *const headers[] = {"KEY", "VALUE", "RESOLVED", NULL};
        char canonical[POLICY_KEY_MAX];
        const char *vm, *key = NULL;
        VmInfo v;
        Table *t;
        int r;

        if (argc < 2)
                return usage_error("get", "missing VM");
        if (argc > 3)
                return usage_error("get", "unexpected argument \"%s\"", argv[3]);
        vm = argv[1];
        if (argc == 3) {
                PolicyError err;
                PolicyKey k;

                r = policy_key_parse(vm, argv[2], &k, &err);
                if (r < 0) {
                        fprintf(stderr, "%s: %s\n", program_name, err.message);
                        return EXIT_REFUSED;
                }
                key = policy_key_format(&k, canonical, sizeof(canonical));
        }

        r = get_vm_info(c, vm, &v);
        if (r != 0)
                return r;

        if (key) {
                const KeyValue *kv = NULL;

                for (size_t i = 0; i < v.n_keys; i++)
                        if (strcmp(v.keys[i].key, key) == 0)
                                kv = &v.keys[i];
                if (c->json) {
                        printf("{\"vm\":");
                        json_string(stdout, vm);
                        printf(",\"key\":");
                        json_string(stdout, key);
                        printf(",\"value\":");
                        if (kv && kv->value)
                                json_string(stdout, kv->value);
                        else
                                fputs("null", stdout);
                        if (kv && kv->have_resolved)
                                printf(",\"resolved\":%" PRIu64 "}\n", kv->resolved);
                        else
                                printf(",\"resolved\":null}\n");
                } else if (kv && kv->value)
                        printf("%s\n", kv->value);
                else
                        printf("\n"); /* not set: as `systemctl show -P` prints an unset property */
                vm_info_done(&v);
                return 0;
        }

        if (c->json) {
                print_vm_json(&v);
                vm_info_done(&v);
                return 0;
        }
        t = table_new(headers);
        r = t ? 0 : -ENOMEM;
        if (t)
                table_align_right(t, 2);
        for (size_t i = 0; r >= 0 && i < v.n_keys; i++) {
                char buf[64];

                r = table_add(t, v.keys[i].key, COLOUR_NONE);
                if (r >= 0)
                        r = table_add(t, v.keys[i].value ?: "-", COLOUR_NONE);
                if (r >= 0)
                        r = table_add(t,
                                      v.keys[i].have_resolved
                                              ? fmt_resolved(vm, v.keys[i].key, v.keys[i].resolved, buf, sizeof(buf))
                                              : "",
                                      COLOUR_NONE);
        }
        if (r >= 0)
                table_print(t, stdout, c->legend, c->colour);
        table_free(t);
        vm_info_done(&v);
        return r < 0 ? ctl_fail(r, "cannot make the table") : 0;
}

/* ---- changes ------------------------------------------------------------------------------------------------- */

/* Sends a prepared call and expects an empty reply. */
static int call_simple(Ctl *c, sd_bus_message *call) {
        sd_bus_message *reply = NULL;
        int r;

        r = ctl_call(c, call, &reply);
        sd_bus_message_unref(call);
        sd_bus_message_unref(reply);
        return r;
}

int verb_set(Ctl *c, int argc, char *argv[]) {
        sd_bus_message *call = NULL;
        int r;

        if (argc < 2)
                return usage_error("set", "missing VM");
        if (argc < 3)
                return usage_error("set", "missing KEY=VALUE");
        for (int i = 2; i < argc; i++) {
                const char *eq = strchr(argv[i], '=');

                if (!eq)
                        return usage_error("set", "\"%s\" is not KEY=VALUE", argv[i]);
                if (eq == argv[i])
                        return usage_error("set", "\"%s\" has no key before '='", argv[i]);
        }

        r = ctl_new_call(c, "SetPolicy", &call);
        if (r != 0)
                return r;
        r = sd_bus_message_append(call, "s", argv[1]);
        if (r >= 0)
                r = sd_bus_message_open_container(call, 'a', "{ss}");
        for (int i = 2; r >= 0 && i < argc; i++) {
                const char *eq = strchr(argv[i], '=');
                char *key = strndup(argv[i], (size_t)(eq - argv[i]));

                r = key ? sd_bus_message_append(call, "{ss}", key, eq + 1) : -ENOMEM;
                free(key);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(call);
        if (r >= 0)
                r = sd_bus_message_append(call, "b", c->runtime);
        if (r < 0) {
                sd_bus_message_unref(call);
                if (r == -EINVAL) {
                        fprintf(stderr, "%s set: a key or value is not valid UTF-8\n", program_name);
                        return EXIT_USAGE;
                }
                return ctl_fail(r, "cannot make a bus message");
        }
        return call_simple(c, call);
}

int verb_reset(Ctl *c, int argc, char *argv[]) {
        sd_bus_message *call = NULL;
        int r;

        if (argc < 2)
                return usage_error("reset", "missing VM");
        r = ctl_new_call(c, "ResetPolicy", &call);
        if (r != 0)
                return r;
        r = sd_bus_message_append(call, "s", argv[1]);
        if (r >= 0)
                r = sd_bus_message_append_strv(call, argv + 2);
        if (r < 0) {
                sd_bus_message_unref(call);
                return ctl_fail(r, "cannot make a bus message");
        }
        return call_simple(c, call);
}

int verb_reload(Ctl *c, int argc, char *argv[]) {
        sd_bus_message *call = NULL;
        int r;

        if (argc > 1)
                return usage_error("reload", "unexpected argument \"%s\"", argv[1]);
        r = ctl_new_call(c, "Reload", &call);
        if (r != 0)
                return r;
        return call_simple(c, call);
}

int verb_move(Ctl *c, int argc, char *argv[]) {
        sd_bus_message *call = NULL;
        unsigned long pid;
        char *end;
        int r;

        if (argc < 3)
                return usage_error("move", argc < 2 ? "missing PID" : "missing VM");
        if (argc > 3)
                return usage_error("move", "unexpected argument \"%s\"", argv[3]);
        errno = 0;
        pid = strtoul(argv[1], &end, 10);
        if (argv[1][0] < '1' || argv[1][0] > '9' || *end || errno != 0 || pid > INT32_MAX)
                return usage_error("move", "\"%s\" is not a process ID", argv[1]);

        r = ctl_new_call(c, "MoveProcess", &call);
        if (r != 0)
                return r;
        r = sd_bus_message_append(call, "us", (uint32_t)pid, argv[2]);
        if (r < 0) {
                sd_bus_message_unref(call);
                return ctl_fail(r, "cannot make a bus message");
        }
        return call_simple(c, call);
}
