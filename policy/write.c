/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The policy writer: block YAML for the structure, flow mappings for the
 * leaf groups, every amount in the kind it was written in:
 *
 *   host:
 *     cpus: 2
 *     devices:
 *       vda: { rbps: 500MB, wbps: 300MB }
 *   vms:
 *     web:
 *       cpu: { reserve: 10%, share: 2, limit: 50%, burst: 200ms }
 *       io:
 *         vda:
 *           share: 1
 *           wbps: { reserve: 50MB, limit: 100MB, burst: 10MB }
 *
 * Only set fields are written.  Entries (VMs, devices, interfaces) are
 * written even when empty ("idle: {}"), since their presence is part of the
 * model.  policy_equal() compares entries by name, not by position.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "units.h"
#include "write.h"

/* Spaces per level of block indentation, as in the policy examples. */
#define INDENT 2

typedef enum AmountFormat {
        FORMAT_CPUS,
        FORMAT_DURATION,
        FORMAT_BYTES,
        FORMAT_COUNT,
        FORMAT_BITRATE,
        FORMAT_SHARE,
} AmountFormat;

/* The spelling of a set amount, in its own kind. */
static const char *amount_spell(const Amount *a, AmountFormat format, char buf[static UNIT_FORMAT_MAX]) {
        if (a->kind == AMOUNT_AUTO)
                return "auto";
        if (a->kind == AMOUNT_PERCENT)
                return unit_format_percent(a->value, buf, UNIT_FORMAT_MAX);

        switch (format) {
                case FORMAT_CPUS:
                        return unit_format_cpus(a->value, buf, UNIT_FORMAT_MAX);
                case FORMAT_DURATION:
                        return unit_format_duration(a->value, buf, UNIT_FORMAT_MAX);
                case FORMAT_BYTES:
                        return unit_format_bytes(a->value, buf, UNIT_FORMAT_MAX);
                case FORMAT_COUNT:
                        return unit_format_count(a->value, buf, UNIT_FORMAT_MAX);
                case FORMAT_BITRATE:
                        return unit_format_bitrate(a->value, buf, UNIT_FORMAT_MAX);
                default:
                        snprintf(buf, UNIT_FORMAT_MAX, "%" PRIu64, a->value);
                        return buf;
        }
}

/* Whether a string can be written as a plain scalar in block and flow context alike: names and
 * paths of the usual characters that YAML does not read as null, a boolean or an indicator. */
static bool is_plain_safe(const char *s) {
        static const char *const special[] = {"null", "~", "true", "false", "yes", "no", "on", "off", "y", "n"};

        if (!s[0])
                return false;
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_", s[0]))
                return false;
        if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-/") != strlen(s))
                return false;
        for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
                if (strcasecmp(s, special[i]) == 0)
                        return false;
        return true;
}

/* Decodes one UTF-8 sequence at p into *ret: its length, or 0 where the
 * bytes are not UTF-8 (overlong, a surrogate, past U+10FFFF, cut short). */
static size_t utf8_decode(const unsigned char *p, uint32_t *ret) {
        uint32_t cp, min;
        size_t len;

        if (p[0] < 0x80) {
                *ret = p[0];
                return 1;
        }
        if ((p[0] & 0xe0) == 0xc0)
                len = 2, cp = p[0] & 0x1f, min = 0x80;
        else if ((p[0] & 0xf0) == 0xe0)
                len = 3, cp = p[0] & 0x0f, min = 0x800;
        else if ((p[0] & 0xf8) == 0xf0)
                len = 4, cp = p[0] & 0x07, min = 0x10000;
        else
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((p[i] & 0xc0) != 0x80) /* also the NUL at the end */
                        return 0;
                cp = (cp << 6) | (p[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        *ret = cp;
        return len;
}

/*
 * Whether libyaml takes the character as it stands inside a double-quoted
 * scalar: YAML's printable set (libyaml refuses the rest in its input,
 * U+0080..U+009F and U+FFFE among them), less the characters it reads as
 * line breaks and folds (U+0085, U+2028, U+2029) and the byte-order mark.
 * Everything else is written as an escape, which reads back as itself.
 */
static bool yaml_takes_raw(uint32_t cp) {
        if (cp == '"' || cp == '\\' || cp == 0x85 || cp == 0x2028 || cp == 0x2029 || cp == 0xfeff)
                return false;
        return (cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) ||
               (cp >= 0x10000 && cp <= 0x10ffff);
}

/* Whether every byte of s is UTF-8: YAML text is, so nothing else can be written and read back. */
static bool is_utf8(const char *s) {
        for (const unsigned char *p = (const unsigned char *)s; *p;) {
                uint32_t cp;
                size_t n = utf8_decode(p, &cp);

                if (n == 0)
                        return false;
                p += n;
        }
        return true;
}

static void write_string(FILE *f, const char *s) {
        if (is_plain_safe(s)) {
                fputs(s, f);
                return;
        }

        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *)s; *p;) {
                uint32_t cp;
                size_t n = utf8_decode(p, &cp);

                if (n == 0) /* policy_write_file() checked first; never written */
                        return;
                if (yaml_takes_raw(cp))
                        fwrite(p, 1, n, f);
                else if (cp == '"' || cp == '\\')
                        fprintf(f, "\\%c", (int)cp);
                else if (cp <= 0xff)
                        fprintf(f, "\\x%02x", (unsigned)cp);
                else if (cp <= 0xffff)
                        fprintf(f, "\\u%04x", (unsigned)cp);
                else
                        fprintf(f, "\\U%08x", (unsigned)cp);
                p += n;
        }
        fputc('"', f);
}

/* Every string the writer writes is UTF-8 (names, cgroups, interfaces). */
static bool policy_strings_are_utf8(const Policy *p) {
        for (size_t i = 0; i < p->host.n_devices; i++)
                if (!is_utf8(p->host.devices[i].name))
                        return false;
        for (size_t i = 0; i < p->host.n_interfaces; i++)
                if (!is_utf8(p->host.interfaces[i].name))
                        return false;
        for (size_t i = 0; i < p->n_vms; i++) {
                const VmPolicy *vm = &p->vms[i];

                if (!is_utf8(vm->name) || (vm->cgroup && !is_utf8(vm->cgroup)) ||
                    (vm->net_interface && !is_utf8(vm->net_interface)))
                        return false;
                for (size_t j = 0; j < vm->n_io; j++)
                        if (!is_utf8(vm->io[j].name))
                                return false;
        }
        return true;
}

static void write_indent(FILE *f, unsigned level) {
        fprintf(f, "%*s", (int)(level * INDENT), "");
}

/* One field of a flow group. */
typedef struct FlowField {
        const char *key;
        const Amount *amount;
        AmountFormat format;
} FlowField;

static bool flow_any_set(const FlowField *fields, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (amount_is_set(fields[i].amount))
                        return true;
        return false;
}

/* "{ reserve: 10%, burst: 200ms }" with the set fields only. */
static void write_flow(FILE *f, const FlowField *fields, size_t n) {
        bool first = true;

        fputs("{", f);
        for (size_t i = 0; i < n; i++) {
                char buf[UNIT_FORMAT_MAX];

                if (!amount_is_set(fields[i].amount))
                        continue;
                fprintf(f, "%s %s: %s", first ? "" : ",", fields[i].key,
                        amount_spell(fields[i].amount, fields[i].format, buf));
                first = false;
        }
        fputs(first ? "}" : " }", f);
}

/* "  key: { ... }\n" when any field is set. */
static void write_flow_line(FILE *f, unsigned level, const char *key, const FlowField *fields, size_t n) {
        if (!flow_any_set(fields, n))
                return;
        write_indent(f, level);
        fprintf(f, "%s: ", key);
        write_flow(f, fields, n);
        fputc('\n', f);
}

static void resource_fields(const ResourcePolicy *r, AmountFormat rate, AmountFormat burst, FlowField ret[4]) {
        ret[0] = (FlowField){"reserve", &r->reserve, rate};
        ret[1] = (FlowField){"share", &r->share, FORMAT_SHARE};
        ret[2] = (FlowField){"limit", &r->limit, rate};
        ret[3] = (FlowField){"burst", &r->burst, burst};
}

static bool resource_is_set(const ResourcePolicy *r) {
        return amount_is_set(&r->reserve) || amount_is_set(&r->share) || amount_is_set(&r->limit) ||
               amount_is_set(&r->burst);
}

static bool io_dir_is_bytes(int dir) {
        return dir == IO_RBPS || dir == IO_WBPS;
}

static void write_host(FILE *f, const HostPolicy *h) {
        const FlowField top[] = {
                {"cpus", &h->cpus, FORMAT_CPUS},
                {"memory", &h->memory, FORMAT_BYTES},
        };

        if (!flow_any_set(top, 2) && h->n_devices == 0 && h->n_interfaces == 0)
                return;

        fputs("host:\n", f);
        for (size_t i = 0; i < 2; i++) {
                char buf[UNIT_FORMAT_MAX];

                if (!amount_is_set(top[i].amount))
                        continue;
                write_indent(f, 1);
                fprintf(f, "%s: %s\n", top[i].key, amount_spell(top[i].amount, top[i].format, buf));
        }

        if (h->n_devices > 0) {
                write_indent(f, 1);
                fputs("devices:\n", f);
        }
        for (size_t i = 0; i < h->n_devices; i++) {
                const HostDevice *d = &h->devices[i];
                FlowField fields[_IO_DIR_MAX];

                for (int dir = 0; dir < _IO_DIR_MAX; dir++)
                        fields[dir] = (FlowField){io_dir_to_string(dir), &d->cap[dir],
                                                  io_dir_is_bytes(dir) ? FORMAT_BYTES : FORMAT_COUNT};
                write_indent(f, 2);
                write_string(f, d->name);
                fputs(": ", f);
                write_flow(f, fields, _IO_DIR_MAX);
                fputc('\n', f);
        }

        if (h->n_interfaces > 0) {
                write_indent(f, 1);
                fputs("interfaces:\n", f);
        }
        for (size_t i = 0; i < h->n_interfaces; i++) {
                const HostInterface *iface = &h->interfaces[i];
                const FlowField fields[] = {{"egress", &iface->egress, FORMAT_BITRATE}};

                write_indent(f, 2);
                write_string(f, iface->name);
                fputs(": ", f);
                write_flow(f, fields, 1);
                fputc('\n', f);
        }
}

static void write_vm_io(FILE *f, const VmPolicy *vm) {
        if (vm->n_io == 0)
                return;

        write_indent(f, 2);
        fputs("io:\n", f);
        for (size_t i = 0; i < vm->n_io; i++) {
                const VmIoDevice *d = &vm->io[i];
                bool any = amount_is_set(&d->share);

                for (int dir = 0; dir < _IO_DIR_MAX; dir++)
                        any = any || resource_is_set(&d->dir[dir]);

                write_indent(f, 3);
                write_string(f, d->name);
                if (!any) {
                        fputs(": {}\n", f);
                        continue;
                }
                fputs(":\n", f);

                if (amount_is_set(&d->share)) {
                        char buf[UNIT_FORMAT_MAX];

                        write_indent(f, 4);
                        fprintf(f, "share: %s\n", amount_spell(&d->share, FORMAT_SHARE, buf));
                }
                for (int dir = 0; dir < _IO_DIR_MAX; dir++) {
                        FlowField fields[4];
                        bool bytes = io_dir_is_bytes(dir);

                        resource_fields(&d->dir[dir], bytes ? FORMAT_BYTES : FORMAT_COUNT,
                                        bytes ? FORMAT_BYTES : FORMAT_COUNT, fields);
                        write_flow_line(f, 4, io_dir_to_string(dir), fields, 4);
                }
        }
}

static void write_vm(FILE *f, const VmPolicy *vm) {
        FlowField fields[4];
        bool any = vm->cgroup || vm->create >= 0 || resource_is_set(&vm->cpu) || vm->n_io > 0 || vm->net_interface ||
                   resource_is_set(&vm->net_egress) || amount_is_set(&vm->mem_reserve) ||
                   amount_is_set(&vm->mem_limit);

        write_indent(f, 1);
        write_string(f, vm->name);
        if (!any) {
                fputs(": {}\n", f);
                return;
        }
        fputs(":\n", f);

        if (vm->cgroup) {
                write_indent(f, 2);
                fputs("cgroup: ", f);
                write_string(f, vm->cgroup);
                fputc('\n', f);
        }
        if (vm->create >= 0) {
                write_indent(f, 2);
                fprintf(f, "create: %s\n", vm->create ? "true" : "false");
        }

        resource_fields(&vm->cpu, FORMAT_CPUS, FORMAT_DURATION, fields);
        write_flow_line(f, 2, "cpu", fields, 4);

        write_vm_io(f, vm);

        if (vm->net_interface || resource_is_set(&vm->net_egress)) {
                write_indent(f, 2);
                fputs("net:\n", f);
                if (vm->net_interface) {
                        write_indent(f, 3);
                        fputs("interface: ", f);
                        write_string(f, vm->net_interface);
                        fputc('\n', f);
                }
                resource_fields(&vm->net_egress, FORMAT_BITRATE, FORMAT_BYTES, fields);
                write_flow_line(f, 3, "egress", fields, 4);
        }

        const FlowField memory[] = {
                {"reserve", &vm->mem_reserve, FORMAT_BYTES},
                {"limit", &vm->mem_limit, FORMAT_BYTES},
        };
        write_flow_line(f, 2, "memory", memory, 2);
}

int policy_write_file(const Policy *p, FILE *f) {
        /* Bytes that are not UTF-8 cannot be written so that they read back
         * (the parser only makes UTF-8; a model built in code might not be). */
        if (!policy_strings_are_utf8(p))
                return -EILSEQ;

        write_host(f, &p->host);

        if (p->n_vms > 0)
                fputs("vms:\n", f);
        for (size_t i = 0; i < p->n_vms; i++)
                write_vm(f, &p->vms[i]);

        /* An empty policy is an empty mapping, not an empty stream, so the text says what it is. */
        if (p->n_vms == 0 && p->host.n_devices == 0 && p->host.n_interfaces == 0 && !amount_is_set(&p->host.cpus) &&
            !amount_is_set(&p->host.memory))
                fputs("{}\n", f);

        if (fflush(f) != 0 || ferror(f))
                return errno > 0 ? -errno : -EIO;
        return 0;
}

int policy_write_string(const Policy *p, char **ret_text) {
        char *text = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;

        r = policy_write_file(p, f);
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0) {
                free(text);
                return r == -EILSEQ ? r : -ENOMEM;
        }

        *ret_text = text;
        return 0;
}

/* ---- equality -------------------------------------------------------------------------------------------------- */

static bool amount_equal(const Amount *a, const Amount *b) {
        if (a->kind != b->kind)
                return false;
        /* "auto" carries no value; an unset amount's value means nothing. */
        return a->kind == AMOUNT_UNSET || a->kind == AMOUNT_AUTO || a->value == b->value;
}

static bool resource_equal(const ResourcePolicy *a, const ResourcePolicy *b) {
        return amount_equal(&a->reserve, &b->reserve) && amount_equal(&a->share, &b->share) &&
               amount_equal(&a->limit, &b->limit) && amount_equal(&a->burst, &b->burst);
}

static bool string_equal(const char *a, const char *b) {
        return a == b || (a && b && strcmp(a, b) == 0);
}

static bool vm_io_equal(const VmIoDevice *a, const VmIoDevice *b) {
        if (!amount_equal(&a->share, &b->share))
                return false;
        for (int dir = 0; dir < _IO_DIR_MAX; dir++)
                if (!resource_equal(&a->dir[dir], &b->dir[dir]))
                        return false;
        return true;
}

static bool vm_equal(const VmPolicy *a, const VmPolicy *b) {
        if (!string_equal(a->cgroup, b->cgroup) || a->create != b->create || !resource_equal(&a->cpu, &b->cpu) ||
            !resource_equal(&a->net_egress, &b->net_egress) || !string_equal(a->net_interface, b->net_interface) ||
            !amount_equal(&a->mem_reserve, &b->mem_reserve) || !amount_equal(&a->mem_limit, &b->mem_limit) ||
            a->n_io != b->n_io)
                return false;

        /* Names are unique within a VM, so same count and every one matched is the same set. */
        for (size_t i = 0; i < a->n_io; i++) {
                const VmIoDevice *other = vm_find_io(b, a->io[i].name);
                if (!other || !vm_io_equal(&a->io[i], other))
                        return false;
        }
        return true;
}

static bool host_equal(const Policy *a, const Policy *b) {
        if (!amount_equal(&a->host.cpus, &b->host.cpus) || !amount_equal(&a->host.memory, &b->host.memory) ||
            a->host.n_devices != b->host.n_devices || a->host.n_interfaces != b->host.n_interfaces)
                return false;

        for (size_t i = 0; i < a->host.n_devices; i++) {
                const HostDevice *d = &a->host.devices[i], *other = policy_find_device(b, d->name);

                if (!other)
                        return false;
                for (int dir = 0; dir < _IO_DIR_MAX; dir++)
                        if (!amount_equal(&d->cap[dir], &other->cap[dir]))
                                return false;
        }
        for (size_t i = 0; i < a->host.n_interfaces; i++) {
                const HostInterface *iface = &a->host.interfaces[i];
                const HostInterface *other = policy_find_interface(b, iface->name);

                if (!other || !amount_equal(&iface->egress, &other->egress))
                        return false;
        }
        return true;
}

bool policy_equal(const Policy *a, const Policy *b) {
        if (!host_equal(a, b) || a->n_vms != b->n_vms)
                return false;

        for (size_t i = 0; i < a->n_vms; i++) {
                const VmPolicy *other = policy_find_vm(b, a->vms[i].name);
                if (!other || !vm_equal(&a->vms[i], other))
                        return false;
        }
        return true;
}
