/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * One VM's policy keys: naming, setting (through the parser), unsetting,
 * reading back.  See keys.h.
 */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "parse.h"
#include "units.h"

/* POLICY_KEY_INPUT_MAX: keys.h. */

/* The name policy_set_key() gives its one-key document; its
 * "NAME:LINE:COLUMN: " prefix is cut from the parser's messages. */
#define SET_DOCUMENT_NAME "<set>"

/* The same rule the parser applies to device names (parse.c). */
#define DEVICE_NAME_EXTRA "_.:-"
#define DEVICE_NAME_RULE  "1 to 64 of A-Z a-z 0-9 _ . : -"

static const char *const field_names[] = {
        [POLICY_FIELD_RESERVE] = "reserve",
        [POLICY_FIELD_SHARE] = "share",
        [POLICY_FIELD_LIMIT] = "limit",
        [POLICY_FIELD_BURST] = "burst",
};

static int field_from_string(const char *s) {
        for (int i = 0; i < (int)(sizeof(field_names) / sizeof(field_names[0])); i++)
                if (strcmp(s, field_names[i]) == 0)
                        return i;
        return -EINVAL;
}

static bool device_name_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n >= POLICY_KEY_DEVICE_SIZE)
                return false;
        for (const char *p = s; *p; p++)
                if (!(isascii((unsigned char)*p) && isalnum((unsigned char)*p)) && !strchr(DEVICE_NAME_EXTRA, *p))
                        return false;
        return true;
}

/* "vms.VM.KEY: what" */
static int key_error(PolicyError *err, int code, const char *vm, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
static int key_error(PolicyError *err, int code, const char *vm, const char *key, const char *fmt, ...) {
        char full[POLICY_KEY_INPUT_MAX + 128], what[512];
        va_list ap;

        if (key && key[0])
                snprintf(full, sizeof(full), "vms.%s.%s", vm, key);
        else
                snprintf(full, sizeof(full), "vms.%s", vm);
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        return policy_error(err, code, NULL, full, "%s", what);
}

#define EXPECTED_FIELDS "reserve, share, limit or burst"

/* io.DEV.DIR.FIELD or io.DEV.share; comp[1..n-1] are the parts after "io". */
static int parse_io_key(const char *vm, const char *key, char **comp, size_t n, PolicyKey *k, PolicyError *err) {
        const char *last = comp[n - 1];
        size_t dev_end; /* one past the device's last part */
        int dir = -1, field = -1;
        char device[POLICY_KEY_INPUT_MAX];

        if (n >= 4) {
                dir = io_dir_from_string(comp[n - 2]);
                field = field_from_string(last);
        }
        if (dir >= 0 && field >= 0) {
                k->kind = POLICY_KEY_IO;
                k->dir = (IoDir)dir;
                k->field = (PolicyKeyField)field;
                dev_end = n - 2;
        } else if (n >= 3 && strcmp(last, "share") == 0) {
                k->kind = POLICY_KEY_IO_SHARE;
                k->field = POLICY_FIELD_SHARE;
                dev_end = n - 1;
        } else if (n == 2 || (n >= 3 && io_dir_from_string(last) >= 0))
                return key_error(err, -EINVAL, vm, key,
                                 "not a single setting (expected io.DEVICE.DIRECTION.FIELD or io.DEVICE.share, "
                                 "DIRECTION one of rbps, wbps, riops, wiops and FIELD one of " EXPECTED_FIELDS ")");
        else if (dir >= 0)
                return key_error(err, -EINVAL, vm, key, "unknown key (expected " EXPECTED_FIELDS ")");
        else
                return key_error(err, -EINVAL, vm, key, "unknown key (expected rbps, wbps, riops, wiops or share)");

        /* The device's name may hold dots: it is everything between "io." and the known tail. */
        device[0] = '\0';
        for (size_t i = 1; i < dev_end; i++) {
                if (i > 1)
                        strcat(device, ".");
                strcat(device, comp[i]);
        }
        if (!device_name_is_valid(device))
                return key_error(err, -EINVAL, vm, key, "invalid device name \"%s\" (expected " DEVICE_NAME_RULE ")",
                                 device);
        memcpy(k->device, device, strlen(device) + 1); /* fits: checked above */
        return 0;
}

int policy_key_parse(const char *vm, const char *key, PolicyKey *ret, PolicyError *err) {
        char buf[POLICY_KEY_INPUT_MAX];
        char *comp[POLICY_KEY_INPUT_MAX / 2 + 1];
        PolicyKey k = {.field = POLICY_FIELD_NONE};
        size_t n = 0;
        int field;

        if (!key || !key[0])
                return key_error(err, -EINVAL, vm, NULL, "empty key (expected a key like cpu.limit)");
        if (strlen(key) >= sizeof(buf))
                return key_error(err, -EINVAL, vm, NULL, "key longer than %d characters", POLICY_KEY_INPUT_MAX - 1);
        strcpy(buf, key);

        /* No part is empty, so a key shorter than the buffer has at most
         * half as many parts, plus one: comp[] holds them.  (Checked after
         * the split, "a....." overran comp[].) */
        for (char *p = buf;;) {
                char *dot = strchr(p, '.');

                if (dot == p || !*p)
                        return key_error(err, -EINVAL, vm, key, "empty part in key");
                comp[n++] = p;
                if (!dot)
                        break;
                *dot = '\0';
                p = dot + 1;
        }

        if (n == 1) {
                field = field_from_string(comp[0]);
                if (field >= 0) {
                        k.kind = POLICY_KEY_CPU;
                        k.field = (PolicyKeyField)field;
                } else if (strcmp(comp[0], "cgroup") == 0)
                        k.kind = POLICY_KEY_CGROUP;
                else if (strcmp(comp[0], "create") == 0)
                        k.kind = POLICY_KEY_CREATE;
                else if (strcmp(comp[0], "cpu") == 0 || strcmp(comp[0], "io") == 0 || strcmp(comp[0], "net") == 0 ||
                         strcmp(comp[0], "memory") == 0)
                        return key_error(err, -EINVAL, vm, key, "not a single setting (expected %s.FIELD)", comp[0]);
                else
                        return key_error(err, -EINVAL, vm, key,
                                         "unknown key (expected cgroup, create, cpu, io, net or memory; reserve, "
                                         "share, limit and burst stand for the CPU's)");
        } else if (strcmp(comp[0], "cpu") == 0) {
                field = field_from_string(comp[1]);
                if (n > 2 || field < 0)
                        return key_error(err, -EINVAL, vm, key, "unknown key (expected cpu." EXPECTED_FIELDS ")");
                k.kind = POLICY_KEY_CPU;
                k.field = (PolicyKeyField)field;
        } else if (strcmp(comp[0], "memory") == 0) {
                if (n == 2 && strcmp(comp[1], "reserve") == 0)
                        k.field = POLICY_FIELD_RESERVE;
                else if (n == 2 && strcmp(comp[1], "limit") == 0)
                        k.field = POLICY_FIELD_LIMIT;
                else
                        return key_error(err, -EINVAL, vm, key,
                                         "unknown key (expected memory.reserve or memory.limit)");
                k.kind = POLICY_KEY_MEMORY;
        } else if (strcmp(comp[0], "net") == 0) {
                if (n == 2 && strcmp(comp[1], "interface") == 0)
                        k.kind = POLICY_KEY_NET_INTERFACE;
                else if (strcmp(comp[1], "egress") == 0) {
                        if (n == 2)
                                return key_error(err, -EINVAL, vm, key,
                                                 "not a single setting (expected net.egress.FIELD)");
                        field = field_from_string(comp[2]);
                        if (n > 3 || field < 0)
                                return key_error(err, -EINVAL, vm, key,
                                                 "unknown key (expected net.egress." EXPECTED_FIELDS ")");
                        k.kind = POLICY_KEY_NET;
                        k.field = (PolicyKeyField)field;
                } else
                        return key_error(err, -EINVAL, vm, key, "unknown key (expected net.interface or net.egress)");
        } else if (strcmp(comp[0], "io") == 0) {
                int r = parse_io_key(vm, key, comp, n, &k, err);
                if (r < 0)
                        return r;
        } else
                return key_error(err, -EINVAL, vm, key,
                                 "unknown key (expected cgroup, create, cpu, io, net or memory; reserve, share, "
                                 "limit and burst stand for the CPU's)");

        *ret = k;
        return 0;
}

char *policy_key_format(const PolicyKey *k, char *buf, size_t size) {
        const char *field = k->field < POLICY_FIELD_NONE ? field_names[k->field] : "";

        switch (k->kind) {
                case POLICY_KEY_CPU:
                        snprintf(buf, size, "cpu.%s", field);
                        break;
                case POLICY_KEY_IO:
                        snprintf(buf, size, "io.%s.%s.%s", k->device, io_dir_to_string(k->dir), field);
                        break;
                case POLICY_KEY_IO_SHARE:
                        snprintf(buf, size, "io.%s.share", k->device);
                        break;
                case POLICY_KEY_NET:
                        snprintf(buf, size, "net.egress.%s", field);
                        break;
                case POLICY_KEY_NET_INTERFACE:
                        snprintf(buf, size, "net.interface");
                        break;
                case POLICY_KEY_MEMORY:
                        snprintf(buf, size, "memory.%s", field);
                        break;
                case POLICY_KEY_CGROUP:
                        snprintf(buf, size, "cgroup");
                        break;
                case POLICY_KEY_CREATE:
                        snprintf(buf, size, "create");
                        break;
        }
        return buf;
}

/* ---- setting ------------------------------------------------------------------------------------------------- */

/* s as a YAML double-quoted scalar, appended to f. */
static void yaml_quote(FILE *f, const char *s) {
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                if (*p == '"' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else if (*p < 0x20 || *p == 0x7f)
                        fprintf(f, "\\x%02x", *p);
                else
                        fputc(*p, f);
        fputc('"', f);
}

/* The one-key overlay document: vms: {"VM": {cpu: {limit: "50%"}}}.  NULL on OOM. */
static char *set_document(const char *vm, const PolicyKey *k, const char *value) {
        const char *field = k->field < POLICY_FIELD_NONE ? field_names[k->field] : "";
        char *text = NULL;
        size_t size = 0;
        unsigned close = 2;
        FILE *f;

        f = open_memstream(&text, &size);
        if (!f)
                return NULL;
        fputs("vms: {", f);
        yaml_quote(f, vm);
        fputs(": {", f);
        switch (k->kind) {
                case POLICY_KEY_CPU:
                        fprintf(f, "cpu: {%s: ", field);
                        close++;
                        break;
                case POLICY_KEY_IO:
                        fputs("io: {", f);
                        yaml_quote(f, k->device);
                        fprintf(f, ": {%s: {%s: ", io_dir_to_string(k->dir), field);
                        close += 3;
                        break;
                case POLICY_KEY_IO_SHARE:
                        fputs("io: {", f);
                        yaml_quote(f, k->device);
                        fputs(": {share: ", f);
                        close += 2;
                        break;
                case POLICY_KEY_NET:
                        fprintf(f, "net: {egress: {%s: ", field);
                        close += 2;
                        break;
                case POLICY_KEY_NET_INTERFACE:
                        fputs("net: {interface: ", f);
                        close++;
                        break;
                case POLICY_KEY_MEMORY:
                        fprintf(f, "memory: {%s: ", field);
                        close++;
                        break;
                case POLICY_KEY_CGROUP:
                        fputs("cgroup: ", f);
                        break;
                case POLICY_KEY_CREATE:
                        fputs("create: ", f);
                        break;
        }
        yaml_quote(f, value);
        while (close-- > 0)
                fputc('}', f);
        fputc('\n', f);
        if (fclose(f) != 0) {
                free(text);
                return NULL;
        }
        return text;
}

/* The parser's message for the one-key document without its "<set>:L:C: "
 * prefix: the line and column of a generated document mean nothing. */
static void strip_document_location(PolicyError *err, const char *vm, const char *key) {
        const char *prefix = SET_DOCUMENT_NAME ":";
        char *p;

        if (!err || strncmp(err->message, prefix, strlen(prefix)) != 0)
                return;
        p = err->message + strlen(prefix);
        while (isdigit((unsigned char)*p) || *p == ':')
                p++;
        if (*p == ' ')
                p++;
        memmove(err->message, p, strlen(p) + 1);

        /* A message that names no key (a YAML syntax error) gets the key. */
        if (strncmp(err->message, "vms.", 4) != 0) {
                char what[sizeof(err->message)];

                snprintf(what, sizeof(what), "%s", err->message);
                key_error(err, -EINVAL, vm, key, "%s", what);
        }
}

static Amount *resource_field(ResourcePolicy *r, PolicyKeyField f) {
        switch (f) {
                case POLICY_FIELD_RESERVE:
                        return &r->reserve;
                case POLICY_FIELD_SHARE:
                        return &r->share;
                case POLICY_FIELD_LIMIT:
                        return &r->limit;
                case POLICY_FIELD_BURST:
                        return &r->burst;
                default:
                        return NULL;
        }
}

/* The amount a key names in a VM entry; NULL for the string and boolean
 * keys, or a device the VM does not name. */
static Amount *vm_key_amount(VmPolicy *vm, const PolicyKey *k) {
        VmIoDevice *d;

        switch (k->kind) {
                case POLICY_KEY_CPU:
                        return resource_field(&vm->cpu, k->field);
                case POLICY_KEY_IO:
                        d = vm_find_io(vm, k->device);
                        return d ? resource_field(&d->dir[k->dir], k->field) : NULL;
                case POLICY_KEY_IO_SHARE:
                        d = vm_find_io(vm, k->device);
                        return d ? &d->share : NULL;
                case POLICY_KEY_NET:
                        return resource_field(&vm->net_egress, k->field);
                case POLICY_KEY_MEMORY:
                        return k->field == POLICY_FIELD_RESERVE ? &vm->mem_reserve : &vm->mem_limit;
                default:
                        return NULL;
        }
}

/* Points the set field (and the entries holding it) at `file`, no line. */
static int relocate(Policy *scratch, VmPolicy *vm, const PolicyKey *k, const char *file) {
        SourceLoc loc = {.file = policy_intern_file(scratch, file)};
        Amount *a;

        if (!loc.file)
                return -ENOMEM;
        vm->loc = loc;
        if (k->kind == POLICY_KEY_IO || k->kind == POLICY_KEY_IO_SHARE) {
                VmIoDevice *d = vm_find_io(vm, k->device);
                if (d)
                        d->loc = loc;
        }
        a = vm_key_amount(vm, k);
        if (a)
                a->loc = loc;
        if (k->kind == POLICY_KEY_CGROUP)
                vm->cgroup_loc = loc;
        else if (k->kind == POLICY_KEY_CREATE)
                vm->create_loc = loc;
        else if (k->kind == POLICY_KEY_NET_INTERFACE)
                vm->net_interface_loc = loc;
        return 0;
}

int policy_set_key(Policy *p, const char *vm, const char *key, const char *value, const char *file, PolicyError *err) {
        Policy scratch, merged;
        char *text;
        PolicyKey k;
        VmPolicy *entry;
        int r;

        r = policy_key_parse(vm, key, &k, err);
        if (r < 0)
                return r;

        text = set_document(vm, &k, value);
        if (!text)
                return policy_error(err, -ENOMEM, NULL, NULL, "out of memory");

        policy_init(&scratch);
        r = policy_parse_string(text, strlen(text), SET_DOCUMENT_NAME, &scratch, err);
        free(text);
        if (r < 0) {
                strip_document_location(err, vm, key);
                policy_done(&scratch);
                return r;
        }

        entry = policy_find_vm(&scratch, vm);
        policy_init(&merged);
        r = entry ? relocate(&scratch, entry, &k, file ? file : SET_DOCUMENT_NAME) : -EINVAL;
        if (r >= 0)
                r = policy_copy(&merged, p);
        if (r >= 0)
                r = policy_merge(&merged, &scratch);
        policy_done(&scratch);
        if (r < 0) {
                policy_done(&merged);
                if (r == -ENOMEM)
                        return policy_error(err, r, NULL, NULL, "out of memory");
                return key_error(err, r, vm, key, "not set");
        }

        policy_done(p);
        *p = merged;
        return 0;
}

/* ---- unsetting ----------------------------------------------------------------------------------------------- */

static bool resource_is_empty(const ResourcePolicy *r) {
        return !amount_is_set(&r->reserve) && !amount_is_set(&r->share) && !amount_is_set(&r->limit) &&
               !amount_is_set(&r->burst);
}

static bool io_device_is_empty(const VmIoDevice *d) {
        if (amount_is_set(&d->share))
                return false;
        for (int dir = 0; dir < _IO_DIR_MAX; dir++)
                if (!resource_is_empty(&d->dir[dir]))
                        return false;
        return true;
}

bool policy_vm_is_empty(const VmPolicy *vm) {
        if (vm->cgroup || vm->create >= 0 || vm->net_interface || !resource_is_empty(&vm->cpu) ||
            !resource_is_empty(&vm->net_egress) || amount_is_set(&vm->mem_reserve) || amount_is_set(&vm->mem_limit))
                return false;
        for (size_t i = 0; i < vm->n_io; i++)
                if (!io_device_is_empty(&vm->io[i]))
                        return false;
        return true;
}

static void vm_drop_io(VmPolicy *vm, VmIoDevice *d) {
        /* -ENOMEM only drops the index (lookups go linear): the device is gone either way. */
        (void)vm_remove_io(vm, d->name);
}

int policy_unset_key(Policy *p, const char *vm, const PolicyKey *k) {
        VmPolicy *entry = policy_find_vm(p, vm);
        Amount *a;
        bool was_set = false;

        if (!entry)
                return 0;

        switch (k->kind) {
                case POLICY_KEY_CGROUP:
                        was_set = entry->cgroup;
                        free(entry->cgroup);
                        entry->cgroup = NULL;
                        entry->cgroup_loc = (SourceLoc){};
                        return was_set;
                case POLICY_KEY_CREATE:
                        was_set = entry->create >= 0;
                        entry->create = -1;
                        entry->create_loc = (SourceLoc){};
                        return was_set;
                case POLICY_KEY_NET_INTERFACE:
                        was_set = entry->net_interface;
                        free(entry->net_interface);
                        entry->net_interface = NULL;
                        entry->net_interface_loc = (SourceLoc){};
                        return was_set;
                default:
                        break;
        }

        a = vm_key_amount(entry, k);
        if (a) {
                was_set = amount_is_set(a);
                *a = (Amount){};
        }
        if (k->kind == POLICY_KEY_IO || k->kind == POLICY_KEY_IO_SHARE) {
                VmIoDevice *d = vm_find_io(entry, k->device);
                if (d && io_device_is_empty(d))
                        vm_drop_io(entry, d);
        }
        return was_set;
}

/* ---- reading ------------------------------------------------------------------------------------------------- */

typedef enum KeyFormat {
        KEY_FORMAT_CPUS,
        KEY_FORMAT_DURATION,
        KEY_FORMAT_BYTES,
        KEY_FORMAT_COUNT,
        KEY_FORMAT_BITRATE,
        KEY_FORMAT_SHARE,
} KeyFormat;

/* How the writer spells a key's absolute amounts. */
static KeyFormat key_format(const PolicyKey *k) {
        bool bytes;

        if (k->field == POLICY_FIELD_SHARE)
                return KEY_FORMAT_SHARE;
        switch (k->kind) {
                case POLICY_KEY_CPU:
                        return k->field == POLICY_FIELD_BURST ? KEY_FORMAT_DURATION : KEY_FORMAT_CPUS;
                case POLICY_KEY_IO:
                        bytes = k->dir == IO_RBPS || k->dir == IO_WBPS;
                        return bytes ? KEY_FORMAT_BYTES : KEY_FORMAT_COUNT;
                case POLICY_KEY_NET:
                        return k->field == POLICY_FIELD_BURST ? KEY_FORMAT_BYTES : KEY_FORMAT_BITRATE;
                default:
                        return KEY_FORMAT_BYTES;
        }
}

static int format_amount(const Amount *a, KeyFormat format, char *buf, size_t size) {
        char t[UNIT_FORMAT_MAX];

        if (a->kind == AMOUNT_PERCENT)
                unit_format_percent(a->value, t, sizeof(t));
        else
                switch (format) {
                        case KEY_FORMAT_CPUS:
                                unit_format_cpus(a->value, t, sizeof(t));
                                break;
                        case KEY_FORMAT_DURATION:
                                unit_format_duration(a->value, t, sizeof(t));
                                break;
                        case KEY_FORMAT_BYTES:
                                unit_format_bytes(a->value, t, sizeof(t));
                                break;
                        case KEY_FORMAT_COUNT:
                                unit_format_count(a->value, t, sizeof(t));
                                break;
                        case KEY_FORMAT_BITRATE:
                                unit_format_bitrate(a->value, t, sizeof(t));
                                break;
                        case KEY_FORMAT_SHARE:
                                snprintf(t, sizeof(t), "%" PRIu64, a->value);
                                break;
                }
        if ((size_t)snprintf(buf, size, "%s", t) >= size)
                return -ENOBUFS;
        return 0;
}

static int copy_string(const char *s, char *buf, size_t size) {
        if (strlen(s) >= size)
                return -ENOBUFS;
        strcpy(buf, s);
        return 0;
}

static int vm_get_key(const VmPolicy *vm, const PolicyKey *k, char *buf, size_t size) {
        const Amount *a;

        switch (k->kind) {
                case POLICY_KEY_CGROUP:
                        return vm->cgroup ? copy_string(vm->cgroup, buf, size) : -ENOENT;
                case POLICY_KEY_CREATE:
                        return vm->create >= 0 ? copy_string(vm->create ? "true" : "false", buf, size) : -ENOENT;
                case POLICY_KEY_NET_INTERFACE:
                        return vm->net_interface ? copy_string(vm->net_interface, buf, size) : -ENOENT;
                default:
                        break;
        }
        a = vm_key_amount((VmPolicy *)vm, k);
        if (!a || !amount_is_set(a))
                return -ENOENT;
        return format_amount(a, key_format(k), buf, size);
}

int policy_get_key(const Policy *p, const char *vm, const PolicyKey *k, char *buf, size_t size) {
        const VmPolicy *entry = policy_find_vm(p, vm);

        if (!entry)
                return -ENOENT;
        return vm_get_key(entry, k, buf, size);
}

/* Calls fn for k if the VM sets it. */
static int visit(const VmPolicy *vm, const PolicyKey *k, PolicyKeyVisitor fn, void *userdata) {
        char name[POLICY_KEY_MAX], value[POLICY_KEY_INPUT_MAX];
        int r;

        r = vm_get_key(vm, k, value, sizeof(value));
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        return fn(policy_key_format(k, name, sizeof(name)), value, userdata);
}

static int visit_fields(const VmPolicy *vm, PolicyKey k, PolicyKeyVisitor fn, void *userdata) {
        for (int f = 0; f < POLICY_FIELD_NONE; f++) {
                int r;

                k.field = (PolicyKeyField)f;
                r = visit(vm, &k, fn, userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

int policy_vm_foreach_key(const VmPolicy *vm, PolicyKeyVisitor fn, void *userdata) {
        static const PolicyKeyKind simple_first[] = {POLICY_KEY_CGROUP, POLICY_KEY_CREATE};
        int r;

        for (size_t i = 0; i < sizeof(simple_first) / sizeof(simple_first[0]); i++) {
                r = visit(vm, &(PolicyKey){.kind = simple_first[i], .field = POLICY_FIELD_NONE}, fn, userdata);
                if (r < 0)
                        return r;
        }
        r = visit_fields(vm, (PolicyKey){.kind = POLICY_KEY_CPU}, fn, userdata);
        if (r < 0)
                return r;

        for (size_t i = 0; i < vm->n_io; i++) {
                PolicyKey k = {.kind = POLICY_KEY_IO_SHARE, .field = POLICY_FIELD_SHARE};

                if (strlen(vm->io[i].name) >= sizeof(k.device))
                        continue; /* the parser allows no such name */
                strcpy(k.device, vm->io[i].name);
                r = visit(vm, &k, fn, userdata);
                if (r < 0)
                        return r;
                k.kind = POLICY_KEY_IO;
                for (int dir = 0; dir < _IO_DIR_MAX; dir++) {
                        k.dir = (IoDir)dir;
                        r = visit_fields(vm, k, fn, userdata);
                        if (r < 0)
                                return r;
                }
        }

        r = visit(vm, &(PolicyKey){.kind = POLICY_KEY_NET_INTERFACE, .field = POLICY_FIELD_NONE}, fn, userdata);
        if (r < 0)
                return r;
        r = visit_fields(vm, (PolicyKey){.kind = POLICY_KEY_NET}, fn, userdata);
        if (r < 0)
                return r;
        r = visit(vm, &(PolicyKey){.kind = POLICY_KEY_MEMORY, .field = POLICY_FIELD_RESERVE}, fn, userdata);
        if (r < 0)
                return r;
        return visit(vm, &(PolicyKey){.kind = POLICY_KEY_MEMORY, .field = POLICY_FIELD_LIMIT}, fn, userdata);
}
