/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The policy language, and its parser.
 *
 * A policy is one YAML document (an empty file is an empty policy):
 *
 *   host:
 *     cpus: auto                 # or CPUs: 2, 0.5, 1500m
 *     memory: auto               # or bytes: 16GiB
 *     devices:                   # declared disk capacities, for I/O reservations
 *       vda: { rbps: 500MB, wbps: 300MB, riops: 20000, wiops: 10000 }
 *     interfaces:                # declared egress capacities
 *       eth0: { egress: 1Gbit }
 *   vms:
 *     web:
 *       cgroup: machine.slice/web.scope   # default: <cgroup root>/<name>
 *       create: true                      # create the cgroup if missing (default false)
 *       cpu:    { reserve: 10%, share: 2, limit: 50%, burst: 200ms }
 *       io:     { vda: { wbps: { reserve: 50MB, limit: 100MB, burst: 10MB }, riops: { limit: 500 }, share: 1 } }
 *       net:    { interface: tap-web, egress: { reserve: 100Mbit, share: 1, limit: 500Mbit, burst: 1MB } }
 *       memory: { reserve: 1G, limit: 2G }
 *     batch:
 *       cpu: { share: 1 }
 *     idle:                       # a VM with no settings (null value) is allowed
 *
 * What each key takes (spellings as units.h reads them):
 *
 *   host.cpus                        auto, or CPUs ("2", "0.5", "1500m")
 *   host.memory                      auto, or bytes ("16GiB")
 *   host.devices.DEV.rbps / wbps     bytes per second
 *   host.devices.DEV.riops / wiops   operations per second ("20000", "20k")
 *   host.interfaces.IF.egress        a bit rate ("1Gbit")
 *
 *   vms.VM.cgroup                    a relative cgroup path (no leading "/", no "." or ".."
 *                                    component, no empty component)
 *   vms.VM.create                    true or false
 *   vms.VM.cpu.reserve / limit       a percentage of the host's CPUs ("10%") or CPUs ("0.5")
 *   vms.VM.cpu.burst                 a duration of CPU time ("200ms")
 *   vms.VM.io.DEV.rbps / wbps        reserve, limit: a percentage or bytes per second;
 *                                    burst: bytes
 *   vms.VM.io.DEV.riops / wiops      reserve, limit: a percentage or operations per second;
 *                                    burst: operations
 *   vms.VM.io.DEV.share              the device-wide share (a direction's own share wins)
 *   vms.VM.net.interface             the VM's interface (a tap device)
 *   vms.VM.net.egress                reserve, limit: a percentage or a bit rate; burst: bytes
 *   vms.VM.memory.reserve / limit    a percentage of the host's memory, or bytes
 *   share (anywhere)                 a whole number 0..10000; 0 takes no part in dividing
 *                                    spare capacity
 *
 * Names: VMs [A-Za-z0-9_.-], devices and interfaces [A-Za-z0-9_.:-], 1 to 64
 * characters; "host" is not a VM name (it is the implicit host context).
 * A key whose value is null (nothing after the colon) stands for an empty
 * mapping; a key that takes a value must have one.  Anchors and aliases work
 * as YAML defines them; locations then point at the anchored node.  The work
 * any text costs is bounded (parse.h): its size, its nesting, its nodes, the
 * nodes aliases reach again, and its VMs, devices and interfaces.
 *
 * The parser is strict: an unknown key, a mapping or list where a value
 * belongs (or the reverse), a duplicate key, an amount that does not parse,
 * is negative or too large, a percentage over 100 % or a share outside
 * 0..10000 is an error naming file:line:column and the dotted key:
 *
 *   web.yaml:7:5: vms.web.cpu.reserv: unknown key (expected reserve, share, limit or burst)
 *
 * Checks that need the host's capacities are policy_validate()'s.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parse.h"
#include "units.h"
#include "validate.h"

/* Longest VM, device or interface name: room for any name seen in practice,
 * short enough to sit in a cgroup path component and a log line. */
#define POLICY_NAME_MAX 64

/* Largest dotted key shown in an error: the deepest key ("policy.vms.NAME.io.DEV.riops.reserve"
 * with 64-character names) fits easily; a longer unknown key is cut, the message still says where. */
#define KEY_PATH_MAX 512

/* POLICY_FILE_MAX_BYTES: parse.h. */

/* POLICY_DEPTH_MAX, POLICY_NODES_MAX and POLICY_ALIAS_NODES_MAX: parse.h. */

/* Shares are weights between 0 and this (cgroup v2's cpu.weight and io.weight top out at 10000). */
#define SHARE_MAX 10000U

typedef struct ParseContext {
        yaml_document_t *doc;
        Policy *policy;   /* the scratch policy being filled */
        const char *file; /* interned in policy */
        PolicyError *err;
        size_t visits;     /* nodes walked so far, a node reached through an alias each time */
        size_t visits_max; /* the document's nodes + POLICY_ALIAS_NODES_MAX */
} ParseContext;

static void policy_donep(Policy *p) {
        policy_done(p);
}

static void freep(void *p) {
        free(*(void **)p);
}

static void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}

#define _cleanup_(f) __attribute__((cleanup(f)))

/* ---- locations, keys and node kinds ---------------------------------------------------------------------------- */

static SourceLoc node_loc(const ParseContext *c, const yaml_node_t *n) {
        return (SourceLoc){
                .file = c->file,
                .line = (unsigned)n->start_mark.line + 1,
                .column = (unsigned)n->start_mark.column + 1,
        };
}

static int node_error(const ParseContext *c, const yaml_node_t *n, const char *key, int code, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

static int node_error(const ParseContext *c, const yaml_node_t *n, const char *key, int code, const char *fmt, ...) {
        char what[sizeof(c->err->message)];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);

        SourceLoc loc = node_loc(c, n);
        return policy_error(c->err, code, &loc, key && key[0] ? key : NULL, "%s", what);
}

static int oom(const ParseContext *c) {
        SourceLoc loc = {.file = c->file};
        return policy_error(c->err, -ENOMEM, &loc, NULL, "out of memory");
}

/* "parent.name", or "name" at the top; cut to the buffer if very long. */
static void key_join(char *buf, const char *parent, const char *name) {
        if (parent[0])
                snprintf(buf, KEY_PATH_MAX, "%s.%s", parent, name);
        else
                snprintf(buf, KEY_PATH_MAX, "%s", name);
}

/* A plain scalar spelling null ("", "~", "null"): "idle:" with nothing after the colon. */
static bool node_is_null(const yaml_node_t *n) {
        if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
                return false;

        const char *v = (const char *)n->data.scalar.value;
        return n->data.scalar.length == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
               strcmp(v, "NULL") == 0;
}

static const char *node_kind_name(const yaml_node_t *n) {
        return n->type == YAML_MAPPING_NODE ? "a mapping" : n->type == YAML_SEQUENCE_NODE ? "a list" : "a value";
}

/* The text of a scalar that must be there: not a mapping, not a list, not null, no NUL inside. */
static int node_value(const ParseContext *c, const yaml_node_t *n, const char *key, const char **ret) {
        if (n->type != YAML_SCALAR_NODE)
                return node_error(c, n, key, -EINVAL, "expected a value, not %s", node_kind_name(n));
        if (node_is_null(n))
                return node_error(c, n, key, -EINVAL, "missing value");
        if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
                return node_error(c, n, key, -EINVAL, "value contains a NUL character");

        *ret = (const char *)n->data.scalar.value;
        return 0;
}

/*
 * Walks a mapping: every key must be a name, appear once, and (when `keys` is
 * given) be one of `keys`; `fn` gets each pair with the key's index in `keys`
 * (-1 when any name is allowed) and the child's dotted key.  A null node is an
 * empty mapping.
 */
typedef int (*PairParser)(ParseContext *c, const char *key, int index, const char *name, yaml_node_t *key_node,
                          yaml_node_t *value, void *userdata);

static void keys_expected(const char *const *keys, char *buf, size_t size) {
        size_t n = 0, len = 0;

        while (keys[n])
                n++;

        buf[0] = '\0';
        for (size_t i = 0; i < n && len < size; i++) {
                const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
                int r = snprintf(buf + len, size - len, "%s%s", sep, keys[i]);
                if (r < 0)
                        break;
                len += (size_t)r;
        }
}

typedef struct KeyRef {
        const yaml_node_t *key;
        size_t index; /* position in the mapping */
} KeyRef;

static bool key_text_equal(const yaml_node_t *a, const yaml_node_t *b) {
        return a->data.scalar.length == b->data.scalar.length &&
               memcmp(a->data.scalar.value, b->data.scalar.value, a->data.scalar.length) == 0;
}

/* By key text, then by position. */
static int key_ref_compare(const void *a, const void *b) {
        const KeyRef *x = a, *y = b;
        size_t lx = x->key->data.scalar.length, ly = y->key->data.scalar.length;
        int r = memcmp(x->key->data.scalar.value, y->key->data.scalar.value, lx < ly ? lx : ly);

        if (r != 0)
                return r;
        if (lx != ly)
                return lx < ly ? -1 : 1;
        return x->index < y->index ? -1 : x->index > y->index;
}

/* The position of the first pair whose key repeats an earlier key (SIZE_MAX if none), found by
 * sorting so that a mapping of thousands of VMs costs n log n, not n squared.  Keys that are not
 * scalars are left to the caller, which reports them in document order. */
static int find_duplicate_key(const ParseContext *c, const yaml_node_t *node, size_t *ret_index) {
        size_t n_pairs = (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start), n = 0;
        size_t first = SIZE_MAX;
        KeyRef *refs;

        if (n_pairs < 2) {
                *ret_index = SIZE_MAX;
                return 0;
        }

        refs = calloc(n_pairs, sizeof(KeyRef));
        if (!refs)
                return -ENOMEM;

        for (size_t i = 0; i < n_pairs; i++) {
                const yaml_node_t *k = yaml_document_get_node(c->doc, node->data.mapping.pairs.start[i].key);
                if (k && k->type == YAML_SCALAR_NODE)
                        refs[n++] = (KeyRef){.key = k, .index = i};
        }
        qsort(refs, n, sizeof(KeyRef), key_ref_compare);

        /* The second of each run of equal keys is that key's first repeat; the earliest of those is reported. */
        for (size_t i = 1; i < n; i++) {
                bool second = key_text_equal(refs[i].key, refs[i - 1].key) &&
                              (i == 1 || !key_text_equal(refs[i - 1].key, refs[i - 2].key));
                if (second && refs[i].index < first)
                        first = refs[i].index;
        }

        free(refs);
        *ret_index = first;
        return 0;
}

static int parse_mapping(ParseContext *c, yaml_node_t *node, const char *key, const char *const *keys, PairParser fn,
                         void *userdata) {
        size_t duplicate;
        int r;

        if (node_is_null(node))
                return 0;
        if (node->type != YAML_MAPPING_NODE)
                return node_error(c, node, key, -EINVAL, "expected a mapping");

        r = find_duplicate_key(c, node, &duplicate);
        if (r < 0)
                return oom(c);

        for (yaml_node_pair_t *pair = node->data.mapping.pairs.start; pair < node->data.mapping.pairs.top; pair++) {
                yaml_node_t *k = yaml_document_get_node(c->doc, pair->key);
                yaml_node_t *v = yaml_document_get_node(c->doc, pair->value);
                char child[KEY_PATH_MAX];
                const char *name;
                int index = -1;

                if (!k || !v)
                        return node_error(c, node, key, -EINVAL, "broken mapping");
                c->visits += 2;
                if (c->visits > c->visits_max)
                        return node_error(c, k, key, -E2BIG,
                                          "aliases expand the document past %zu nodes (its own %zu and %u more)",
                                          c->visits_max, c->visits_max - POLICY_ALIAS_NODES_MAX,
                                          POLICY_ALIAS_NODES_MAX);
                if (k->type != YAML_SCALAR_NODE)
                        return node_error(c, k, key, -EINVAL, "expected a name as key, not %s", node_kind_name(k));
                name = (const char *)k->data.scalar.value;
                if (strlen(name) != k->data.scalar.length)
                        return node_error(c, k, key, -EINVAL, "key contains a NUL character");

                key_join(child, key, name);

                if ((size_t)(pair - node->data.mapping.pairs.start) == duplicate)
                        return node_error(c, k, child, -EINVAL, "duplicate key");

                if (keys) {
                        for (int i = 0; keys[i]; i++)
                                if (strcmp(keys[i], name) == 0) {
                                        index = i;
                                        break;
                                }
                        if (index < 0) {
                                char expected[256];
                                keys_expected(keys, expected, sizeof(expected));
                                return node_error(c, k, child, -EINVAL, "unknown key (expected %s)", expected);
                        }
                }

                r = fn(c, child, index, name, k, v, userdata);
                if (r < 0)
                        return r;
        }

        return 0;
}

/* ---- amounts --------------------------------------------------------------------------------------------------- */

typedef enum AmountSyntax {
        SYNTAX_CPU_RATE,   /* percent or CPUs */
        SYNTAX_CPU_TIME,   /* a duration of CPU time */
        SYNTAX_BYTE_RATE,  /* percent or bytes per second */
        SYNTAX_OP_RATE,    /* percent or operations per second */
        SYNTAX_BIT_RATE,   /* percent or bits per second */
        SYNTAX_MEMORY,     /* percent or bytes */
        SYNTAX_BYTES,      /* bytes (bursts) */
        SYNTAX_OPS,        /* operations (bursts) */
        SYNTAX_HOST_CPUS,  /* auto or CPUs */
        SYNTAX_HOST_BYTES, /* auto or bytes */
        SYNTAX_CAP_BYTES,  /* declared bytes per second */
        SYNTAX_CAP_OPS,    /* declared operations per second */
        SYNTAX_CAP_BITS,   /* declared bits per second */
        SYNTAX_SHARE,      /* 0..SHARE_MAX */
} AmountSyntax;

typedef struct AmountSyntaxInfo {
        bool percent;   /* "10%" allowed */
        bool automatic; /* "auto" allowed */
        int (*parse)(const char *s, uint64_t *ret);
        const char *hint; /* what was expected, shown after "is not a number" */
} AmountSyntaxInfo;

static const AmountSyntaxInfo amount_syntax[] = {
        [SYNTAX_CPU_RATE] = {true, false, unit_parse_cpus, "a percentage or CPUs, like 10% or 0.5"},
        [SYNTAX_CPU_TIME] = {false, false, unit_parse_duration, "a duration, like 200ms"},
        [SYNTAX_BYTE_RATE] = {true, false, unit_parse_bytes, "a percentage or bytes per second, like 10% or 50MB"},
        [SYNTAX_OP_RATE] = {true, false, unit_parse_count, "a percentage or operations per second, like 10% or 500"},
        [SYNTAX_BIT_RATE] = {true, false, unit_parse_bitrate, "a percentage or a bit rate, like 10% or 100Mbit"},
        [SYNTAX_MEMORY] = {true, false, unit_parse_bytes, "a percentage or bytes, like 10% or 1G"},
        [SYNTAX_BYTES] = {false, false, unit_parse_bytes, "bytes, like 10MB"},
        [SYNTAX_OPS] = {false, false, unit_parse_count, "a number of operations, like 500"},
        [SYNTAX_HOST_CPUS] = {false, true, unit_parse_cpus, "auto or CPUs, like 2"},
        [SYNTAX_HOST_BYTES] = {false, true, unit_parse_bytes, "auto or bytes, like 16GiB"},
        [SYNTAX_CAP_BYTES] = {false, false, unit_parse_bytes, "bytes per second, like 500MB"},
        [SYNTAX_CAP_OPS] = {false, false, unit_parse_count, "operations per second, like 20000"},
        [SYNTAX_CAP_BITS] = {false, false, unit_parse_bitrate, "a bit rate, like 1Gbit"},
        [SYNTAX_SHARE] = {false, false, NULL, "a whole number from 0 to 10000"},
};

static bool ends_with_percent(const char *s) {
        size_t n = strlen(s);
        return n > 0 && s[n - 1] == '%';
}

/* A share is a plain whole number; a negative or too large one is out of range, anything else not a number. */
static int parse_share(ParseContext *c, const char *key, yaml_node_t *n, const char *text, Amount *ret) {
        const char *digits = text[0] == '-' ? text + 1 : text;
        uint64_t value = 0;

        if (digits[0] == '\0' || strspn(digits, "0123456789") != strlen(digits))
                return node_error(c, n, key, -EINVAL, "\"%s\" %s (expected %s)", text, unit_strerror(-EINVAL),
                                  amount_syntax[SYNTAX_SHARE].hint);

        for (const char *p = digits; *p; p++) {
                value = value * 10 + (uint64_t)(*p - '0');
                if (value > SHARE_MAX)
                        break;
        }
        if (digits != text || value > SHARE_MAX)
                return node_error(c, n, key, -ERANGE, "%s is out of range (0 to %u)", text, SHARE_MAX);

        *ret = (Amount){.kind = AMOUNT_ABSOLUTE, .value = value, .loc = node_loc(c, n)};
        return 0;
}

static int parse_amount(ParseContext *c, const char *key, yaml_node_t *n, AmountSyntax syntax, Amount *ret) {
        const AmountSyntaxInfo *info = &amount_syntax[syntax];
        const char *text;
        uint64_t value;
        int r;

        r = node_value(c, n, key, &text);
        if (r < 0)
                return r;

        if (info->automatic && strcmp(text, "auto") == 0) {
                *ret = (Amount){.kind = AMOUNT_AUTO, .loc = node_loc(c, n)};
                return 0;
        }

        if (syntax == SYNTAX_SHARE)
                return parse_share(c, key, n, text, ret);

        if (info->percent && ends_with_percent(text)) {
                r = unit_parse_percent(text, &value);
                if (r >= 0 && value > UNIT_PPM_FULL)
                        return node_error(c, n, key, -ERANGE, "%s is over 100%%", text);
        } else
                r = info->parse(text, &value);
        if (r == -EINVAL)
                return node_error(c, n, key, r, "\"%s\" %s (expected %s)", text, unit_strerror(r), info->hint);
        if (r < 0)
                return node_error(c, n, key, r, "\"%s\" %s", text, unit_strerror(r));

        *ret = (Amount){
                .kind = info->percent && ends_with_percent(text) ? AMOUNT_PERCENT : AMOUNT_ABSOLUTE,
                .value = value,
                .loc = node_loc(c, n),
        };
        return 0;
}

/* ---- names, paths, booleans ------------------------------------------------------------------------------------ */

static bool name_is_valid(const char *s, const char *extra) {
        size_t n = strlen(s);

        if (n == 0 || n > POLICY_NAME_MAX)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      strchr(extra, *p)))
                        return false;
        return true;
}

#define VM_NAME_EXTRA     "_.-"
#define VM_NAME_RULE      "1 to 64 of A-Z a-z 0-9 _ . -"
#define DEVICE_NAME_EXTRA "_.:-"
#define DEVICE_NAME_RULE  "1 to 64 of A-Z a-z 0-9 _ . : -"

/* A cgroup path below the cgroup root: relative, no ".", ".." or empty component. */
static int parse_cgroup_path(ParseContext *c, const char *key, yaml_node_t *n, char **ret) {
        char why[2 * KEY_PATH_MAX];
        const char *text, *problem;
        int r;

        r = node_value(c, n, key, &text);
        if (r < 0)
                return r;
        if (text[0] == '\0')
                return node_error(c, n, key, -EINVAL, "\"\" is empty (expected a path like machine.slice/web.scope)");
        problem = policy_cgroup_path_problem(text, why, sizeof(why));
        if (problem) {
                char quoted[KEY_PATH_MAX];
                return node_error(c, n, key, -EINVAL, "%s %s", policy_quote(text, quoted, sizeof(quoted)), problem);
        }

        char *s = strdup(text);
        if (!s)
                return oom(c);
        free(*ret);
        *ret = s;
        return 0;
}

static int parse_bool(ParseContext *c, const char *key, yaml_node_t *n, int *ret) {
        static const char *const yes[] = {"true", "True", "TRUE", NULL};
        static const char *const no[] = {"false", "False", "FALSE", NULL};
        const char *text;
        int r;

        r = node_value(c, n, key, &text);
        if (r < 0)
                return r;

        for (size_t i = 0; yes[i]; i++) {
                if (strcmp(text, yes[i]) == 0) {
                        *ret = 1;
                        return 0;
                }
                if (strcmp(text, no[i]) == 0) {
                        *ret = 0;
                        return 0;
                }
        }
        return node_error(c, n, key, -EINVAL, "\"%s\" is not a boolean (expected true or false)", text);
}

/* ---- vms ------------------------------------------------------------------------------------------------------- */

static const char *const resource_keys[] = {"reserve", "share", "limit", "burst", NULL};
enum { RESOURCE_RESERVE, RESOURCE_SHARE, RESOURCE_LIMIT, RESOURCE_BURST };

typedef struct ResourceTarget {
        ResourcePolicy *policy;
        AmountSyntax rate;  /* reserve and limit */
        AmountSyntax burst; /* burst */
} ResourceTarget;

static int parse_resource_pair(ParseContext *c, const char *key, int index, const char *name, yaml_node_t *key_node,
                               yaml_node_t *value, void *userdata) {
        const ResourceTarget *t = userdata;
        (void)name;
        (void)key_node;

        switch (index) {
                case RESOURCE_RESERVE:
                        return parse_amount(c, key, value, t->rate, &t->policy->reserve);
                case RESOURCE_SHARE:
                        return parse_amount(c, key, value, SYNTAX_SHARE, &t->policy->share);
                case RESOURCE_LIMIT:
                        return parse_amount(c, key, value, t->rate, &t->policy->limit);
                default:
                        return parse_amount(c, key, value, t->burst, &t->policy->burst);
        }
}

static int parse_resource(ParseContext *c, const char *key, yaml_node_t *n, ResourcePolicy *policy, AmountSyntax rate,
                          AmountSyntax burst) {
        ResourceTarget t = {.policy = policy, .rate = rate, .burst = burst};
        return parse_mapping(c, n, key, resource_keys, parse_resource_pair, &t);
}

/* The directions in IoDir order, then the device-wide share. */
static const char *const vm_io_device_keys[] = {"rbps", "wbps", "riops", "wiops", "share", NULL};

static int parse_vm_io_device_pair(ParseContext *c, const char *key, int index, const char *name,
                                   yaml_node_t *key_node, yaml_node_t *value, void *userdata) {
        VmIoDevice *dev = userdata;
        (void)name;
        (void)key_node;

        if (index == _IO_DIR_MAX)
                return parse_amount(c, key, value, SYNTAX_SHARE, &dev->share);

        bool bytes = index == IO_RBPS || index == IO_WBPS;
        return parse_resource(c, key, value, &dev->dir[index], bytes ? SYNTAX_BYTE_RATE : SYNTAX_OP_RATE,
                              bytes ? SYNTAX_BYTES : SYNTAX_OPS);
}

static int parse_vm_io_pair(ParseContext *c, const char *key, int index, const char *name, yaml_node_t *key_node,
                            yaml_node_t *value, void *userdata) {
        VmPolicy *vm = userdata;
        VmIoDevice *dev;
        (void)index;

        if (!name_is_valid(name, DEVICE_NAME_EXTRA))
                return node_error(c, key_node, key, -EINVAL, "invalid device name (expected " DEVICE_NAME_RULE ")");

        dev = vm_add_io(vm, name);
        if (!dev)
                return oom(c);
        dev->loc = node_loc(c, key_node);

        return parse_mapping(c, value, key, vm_io_device_keys, parse_vm_io_device_pair, dev);
}

static const char *const vm_net_keys[] = {"interface", "egress", NULL};
enum { NET_INTERFACE, NET_EGRESS };

static int parse_vm_net_pair(ParseContext *c, const char *key, int index, const char *name, yaml_node_t *key_node,
                             yaml_node_t *value, void *userdata) {
        VmPolicy *vm = userdata;
        const char *text;
        char *s;
        int r;
        (void)name;
        (void)key_node;

        if (index == NET_EGRESS)
                return parse_resource(c, key, value, &vm->net_egress, SYNTAX_BIT_RATE, SYNTAX_BYTES);

        r = node_value(c, value, key, &text);
        if (r < 0)
                return r;
        if (!name_is_valid(text, DEVICE_NAME_EXTRA))
                return node_error(c, value, key, -EINVAL,
                                  "\"%s\" is not a valid interface name (expected " DEVICE_NAME_RULE ")", text);
        s = strdup(text);
        if (!s)
                return oom(c);
        free(vm->net_interface);
        vm->net_interface = s;
        vm->net_interface_loc = node_loc(c, value);
        return 0;
}

static const char *const vm_memory_keys[] = {"reserve", "limit", NULL};
enum { MEMORY_RESERVE, MEMORY_LIMIT };

static int parse_vm_memory_pair(ParseContext *c, const char *key, int index, const char *name, yaml_node_t *key_node,
                                yaml_node_t *value, void *userdata) {
        VmPolicy *vm = userdata;
        (void)name;
        (void)key_node;

        return parse_amount(c, key, value, SYNTAX_MEMORY, index == MEMORY_RESERVE ? &vm->mem_reserve : &vm->mem_limit);
}

static const char *const vm_keys[] = {"cgroup", "create", "cpu", "io", "net", "memory", NULL};
enum { VM_CGROUP, VM_CREATE, VM_CPU, VM_IO, VM_NET, VM_MEMORY };

static int parse_vm_pair(ParseContext *c, const char *key, int index, const char *name, yaml_node_t *key_node,
                         yaml_node_t *value, void *userdata) {
        VmPolicy *vm = userdata;
        int r;
        (void)name;
        (void)key_node;

        switch (index) {
                case VM_CGROUP:
                        r = parse_cgroup_path(c, key, value, &vm->cgroup);
                        if (r >= 0)
                                vm->cgroup_loc = node_loc(c, value);
                        return r;
                case VM_CREATE:
                        r = parse_bool(c, key, value, &vm->create);
                        if (r >= 0)
                                vm->create_loc = node_loc(c, value);
                        return r;
                case VM_CPU:
                        return parse_resource(c, key, value, &vm->cpu, SYNTAX_CPU_RATE, SYNTAX_CPU_TIME);
                case VM_IO:
                        return parse_mapping(c, value, key, NULL, parse_vm_io_pair, vm);
                case VM_NET:
                        return parse_mapping(c, value, key, vm_net_keys, parse_vm_net_pair, vm);
                default:
                        return parse_mapping(c, value, key, vm_memory_keys, parse_vm_memory_pair, vm);
        }
}

static int parse_vms_pair(ParseContext *c, const char *key, int index, const char *name, yaml_node_t *key_node,
                          yaml_node_t *value, void *userdata) {
        VmPolicy *vm;
        (void)index;
        (void)userdata;

        if (!name_is_valid(name, VM_NAME_EXTRA))
                return node_error(c, key_node, key, -EINVAL, "invalid VM name (expected " VM_NAME_RULE ")");
        if (strcmp(name, "host") == 0)
                return node_error(c, key_node, key, -EINVAL, "\"host\" is reserved for the host context");

        if (c->policy->n_vms >= POLICY_ENTRIES_MAX)
                return node_error(c, key_node, key, -E2BIG, "more than %u VMs", POLICY_ENTRIES_MAX);
        vm = policy_add_vm(c->policy, name);
        if (!vm)
                return oom(c);
        vm->loc = node_loc(c, key_node);

        return parse_mapping(c, value, key, vm_keys, parse_vm_pair, vm);
}

/* ---- host ------------------------------------------------------------------------------------------------------ */

static const char *const host_device_keys[] = {"rbps", "wbps", "riops", "wiops", NULL};

static int parse_host_device_pair(ParseContext *c, const char *key, int index, const char *name, yaml_node_t *key_node,
                                  yaml_node_t *value, void *userdata) {
        HostDevice *dev = userdata;
        (void)name;
        (void)key_node;

        bool bytes = index == IO_RBPS || index == IO_WBPS;
        return parse_amount(c, key, value, bytes ? SYNTAX_CAP_BYTES : SYNTAX_CAP_OPS, &dev->cap[index]);
}

static int parse_host_devices_pair(ParseContext *c, const char *key, int index, const char *name,
                                   yaml_node_t *key_node, yaml_node_t *value, void *userdata) {
        HostDevice *dev;
        (void)index;
        (void)userdata;

        if (!name_is_valid(name, DEVICE_NAME_EXTRA))
                return node_error(c, key_node, key, -EINVAL, "invalid device name (expected " DEVICE_NAME_RULE ")");

        if (c->policy->host.n_devices >= POLICY_ENTRIES_MAX)
                return node_error(c, key_node, key, -E2BIG, "more than %u devices", POLICY_ENTRIES_MAX);
        dev = policy_add_device(c->policy, name);
        if (!dev)
                return oom(c);
        dev->loc = node_loc(c, key_node);

        return parse_mapping(c, value, key, host_device_keys, parse_host_device_pair, dev);
}

static const char *const host_interface_keys[] = {"egress", NULL};

static int parse_host_interface_pair(ParseContext *c, const char *key, int index, const char *name,
                                     yaml_node_t *key_node, yaml_node_t *value, void *userdata) {
        HostInterface *iface = userdata;
        (void)index;
        (void)name;
        (void)key_node;

        return parse_amount(c, key, value, SYNTAX_CAP_BITS, &iface->egress);
}

static int parse_host_interfaces_pair(ParseContext *c, const char *key, int index, const char *name,
                                      yaml_node_t *key_node, yaml_node_t *value, void *userdata) {
        HostInterface *iface;
        (void)index;
        (void)userdata;

        if (!name_is_valid(name, DEVICE_NAME_EXTRA))
                return node_error(c, key_node, key, -EINVAL, "invalid interface name (expected " DEVICE_NAME_RULE ")");

        if (c->policy->host.n_interfaces >= POLICY_ENTRIES_MAX)
                return node_error(c, key_node, key, -E2BIG, "more than %u interfaces", POLICY_ENTRIES_MAX);
        iface = policy_add_interface(c->policy, name);
        if (!iface)
                return oom(c);
        iface->loc = node_loc(c, key_node);

        return parse_mapping(c, value, key, host_interface_keys, parse_host_interface_pair, iface);
}

static const char *const host_keys[] = {"cpus", "memory", "devices", "interfaces", NULL};
enum { HOST_CPUS, HOST_MEMORY, HOST_DEVICES, HOST_INTERFACES };

static int parse_host_pair(ParseContext *c, const char *key, int index, const char *name, yaml_node_t *key_node,
                           yaml_node_t *value, void *userdata) {
        HostPolicy *host = &c->policy->host;
        (void)name;
        (void)key_node;
        (void)userdata;

        switch (index) {
                case HOST_CPUS:
                        return parse_amount(c, key, value, SYNTAX_HOST_CPUS, &host->cpus);
                case HOST_MEMORY:
                        return parse_amount(c, key, value, SYNTAX_HOST_BYTES, &host->memory);
                case HOST_DEVICES:
                        return parse_mapping(c, value, key, NULL, parse_host_devices_pair, NULL);
                default:
                        return parse_mapping(c, value, key, NULL, parse_host_interfaces_pair, NULL);
        }
}

/* ---- documents ------------------------------------------------------------------------------------------------- */

static const char *const top_keys[] = {"host", "vms", NULL};
enum { TOP_HOST, TOP_VMS };

static int parse_top_pair(ParseContext *c, const char *key, int index, const char *name, yaml_node_t *key_node,
                          yaml_node_t *value, void *userdata) {
        (void)name;
        (void)key_node;
        (void)userdata;

        if (index == TOP_HOST)
                return parse_mapping(c, value, key, host_keys, parse_host_pair, NULL);
        return parse_mapping(c, value, key, NULL, parse_vms_pair, NULL);
}

/* Fills the (fresh) scratch policy `p` from `node`. */
static int parse_root(yaml_document_t *doc, yaml_node_t *node, const char *file, const char *key_prefix, Policy *p,
                      PolicyError *err) {
        ParseContext c = {.doc = doc, .policy = p, .err = err};
        size_t n_nodes = (size_t)(doc->nodes.top - doc->nodes.start);

        c.visits_max = n_nodes + POLICY_ALIAS_NODES_MAX;
        char root[KEY_PATH_MAX];
        size_t len;

        c.file = policy_intern_file(p, file);
        if (!c.file) {
                SourceLoc loc = {.file = file};
                return policy_error(err, -ENOMEM, &loc, NULL, "out of memory");
        }

        /* "policy." names the keys "policy.vms.web..."; the mapping itself is "policy". */
        snprintf(root, sizeof(root), "%s", key_prefix ? key_prefix : "");
        len = strlen(root);
        while (len > 0 && root[len - 1] == '.')
                root[--len] = '\0';

        if (!node || node_is_null(node))
                return 0;
        if (node->type != YAML_MAPPING_NODE) {
                if (root[0])
                        return node_error(&c, node, root, -EINVAL, "expected a mapping");
                return node_error(&c, node, NULL, -EINVAL, "expected a mapping at the top level");
        }

        return parse_mapping(&c, node, root, top_keys, parse_top_pair, NULL);
}

/* Merges `scratch` over *ret all at once: *ret is only replaced when the whole merge succeeded. */
static int policy_commit(Policy *ret, const Policy *scratch, const char *file, PolicyError *err) {
        _cleanup_(policy_donep) Policy merged = {};
        SourceLoc loc = {.file = file};
        int r;

        policy_init(&merged);
        r = policy_copy(&merged, ret);
        if (r >= 0)
                r = policy_merge(&merged, scratch);
        if (r < 0)
                return policy_error(err, r, &loc, NULL, "out of memory");

        policy_done(ret);
        *ret = merged;
        policy_init(&merged);
        return 0;
}

int policy_parse_node(yaml_document_t *doc, yaml_node_t *node, const char *file, const char *key_prefix, Policy *ret,
                      PolicyError *err) {
        _cleanup_(policy_donep) Policy scratch = {};
        int r;

        policy_init(&scratch);
        r = parse_root(doc, node, file, key_prefix, &scratch, err);
        if (r < 0)
                return r;
        return policy_commit(ret, &scratch, file, err);
}

static int syntax_error(const yaml_parser_t *parser, const char *text, size_t len, const char *file,
                        PolicyError *err) {
        SourceLoc loc = {.file = file};

        if (parser->error == YAML_MEMORY_ERROR)
                return policy_error(err, -ENOMEM, &loc, NULL, "out of memory");

        if (parser->error == YAML_READER_ERROR) {
                /* The reader reports a byte offset, not a mark: count lines up to it. */
                size_t end = parser->problem_offset < len ? parser->problem_offset : len;

                loc.line = 1;
                loc.column = 1;
                for (size_t i = 0; i < end; i++)
                        if (text[i] == '\n') {
                                loc.line++;
                                loc.column = 1;
                        } else
                                loc.column++;
        } else {
                loc.line = (unsigned)parser->problem_mark.line + 1;
                loc.column = (unsigned)parser->problem_mark.column + 1;
        }

        return policy_error(err, -EINVAL, &loc, NULL, "YAML syntax error: %s",
                            parser->problem ? parser->problem : "unknown error");
}

/*
 * Scans the events of `text` before it is loaded: nesting past
 * POLICY_DEPTH_MAX or more than POLICY_NODES_MAX nodes is an error at the
 * node that passes the limit.  A syntax error ends the scan quietly: the
 * load that follows reports it.
 */
static int prescan(const char *text, size_t len, const char *file, PolicyError *err) {
        yaml_parser_t parser;
        unsigned depth = 0;
        size_t nodes = 0;
        int r = 0;

        if (!yaml_parser_initialize(&parser)) {
                SourceLoc loc = {.file = file};
                return policy_error(err, -ENOMEM, &loc, NULL, "out of memory");
        }
        yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);

        for (bool done = false; !done && r == 0;) {
                yaml_event_t ev;

                if (!yaml_parser_parse(&parser, &ev))
                        break;
                SourceLoc loc = {
                        .file = file,
                        .line = (unsigned)ev.start_mark.line + 1,
                        .column = (unsigned)ev.start_mark.column + 1,
                };
                switch (ev.type) {
                        case YAML_MAPPING_START_EVENT:
                        case YAML_SEQUENCE_START_EVENT:
                                if (++depth > POLICY_DEPTH_MAX)
                                        r = policy_error(err, -E2BIG, &loc, NULL, "nested deeper than %u levels",
                                                         POLICY_DEPTH_MAX);
                                /* fall through */
                        case YAML_SCALAR_EVENT:
                        case YAML_ALIAS_EVENT:
                                if (r == 0 && ++nodes > POLICY_NODES_MAX)
                                        r = policy_error(err, -E2BIG, &loc, NULL, "more than %u nodes",
                                                         POLICY_NODES_MAX);
                                break;
                        case YAML_MAPPING_END_EVENT:
                        case YAML_SEQUENCE_END_EVENT:
                                depth--;
                                break;
                        case YAML_STREAM_END_EVENT:
                                done = true;
                                break;
                        default:
                                break;
                }
                yaml_event_delete(&ev);
        }

        yaml_parser_delete(&parser);
        return r;
}

static int parse_documents(yaml_parser_t *parser, const char *text, size_t len, const char *file, Policy *ret,
                           PolicyError *err) {
        yaml_document_t doc, extra;
        int r;

        r = prescan(text, len, file, err);
        if (r < 0)
                return r;

        if (!yaml_parser_load(parser, &doc))
                return syntax_error(parser, text, len, file, err);

        /* A second document is an error: the policy is one mapping. */
        if (!yaml_parser_load(parser, &extra)) {
                r = syntax_error(parser, text, len, file, err);
                yaml_document_delete(&doc);
                return r;
        }
        if (yaml_document_get_root_node(&extra)) {
                SourceLoc loc = {
                        .file = file,
                        .line = (unsigned)extra.start_mark.line + 1,
                        .column = (unsigned)extra.start_mark.column + 1,
                };
                yaml_document_delete(&extra);
                yaml_document_delete(&doc);
                return policy_error(err, -EINVAL, &loc, NULL, "more than one YAML document (expected one)");
        }
        yaml_document_delete(&extra);

        r = policy_parse_node(&doc, yaml_document_get_root_node(&doc), file, "", ret, err);
        yaml_document_delete(&doc);
        return r;
}

int policy_parse_string(const char *text, size_t len, const char *file, Policy *ret, PolicyError *err) {
        yaml_parser_t parser;
        int r;

        if (!file)
                file = "<string>";
        if (!text && len > 0)
                return policy_error(err, -EINVAL, NULL, NULL, "no text to parse");
        if (len > POLICY_FILE_MAX_BYTES) {
                SourceLoc loc = {.file = file};
                return policy_error(err, -EFBIG, &loc, NULL, "larger than %u MiB",
                                    POLICY_FILE_MAX_BYTES / (1024U * 1024U));
        }

        if (!yaml_parser_initialize(&parser)) {
                SourceLoc loc = {.file = file};
                return policy_error(err, -ENOMEM, &loc, NULL, "out of memory");
        }
        yaml_parser_set_input_string(&parser, (const unsigned char *)(text ? text : ""), len);

        r = parse_documents(&parser, text ? text : "", len, file, ret, err);
        yaml_parser_delete(&parser);
        return r;
}

/* Reads all of `path`, NUL-terminated; -EFBIG past POLICY_FILE_MAX_BYTES. */
static int read_text_file(const char *path, char **ret_text, size_t *ret_len) {
        _cleanup_(freep) char *buf = NULL;
        size_t len = 0, size = 0;
        int fd, r = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;

        for (;;) {
                if (size - len < 2) {
                        size_t nsize = size ? size * 2 : 4096;
                        char *n;

                        if (size > POLICY_FILE_MAX_BYTES) {
                                r = -EFBIG;
                                break;
                        }
                        n = realloc(buf, nsize);
                        if (!n) {
                                r = -ENOMEM;
                                break;
                        }
                        buf = n;
                        size = nsize;
                }

                ssize_t k = read(fd, buf + len, size - len - 1);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                if (k == 0)
                        break;
                len += (size_t)k;
                if (len > POLICY_FILE_MAX_BYTES) {
                        r = -EFBIG;
                        break;
                }
        }
        close(fd);
        if (r < 0)
                return r;

        buf[len] = '\0';
        *ret_text = buf;
        buf = NULL;
        *ret_len = len;
        return 0;
}

int policy_parse_file(const char *path, Policy *ret, PolicyError *err) {
        _cleanup_(freep) char *text = NULL;
        SourceLoc loc = {.file = path};
        size_t len = 0;
        int r;

        r = read_text_file(path, &text, &len);
        if (r == -EFBIG)
                return policy_error(err, r, &loc, NULL, "cannot read: larger than %u MiB",
                                    POLICY_FILE_MAX_BYTES / (1024U * 1024U));
        if (r < 0)
                return policy_error(err, r, &loc, NULL, "cannot read: %s", strerror(-r));

        return policy_parse_string(text, len, path, ret, err);
}

/* ---- base plus override directory ------------------------------------------------------------------------------ */

static bool is_override_name(const char *name) {
        size_t n = strlen(name);
        /* Hidden files (editors' and package managers' leftovers) are not overrides. */
        return name[0] != '.' && n > strlen(".yaml") && strcmp(name + n - strlen(".yaml"), ".yaml") == 0;
}

static int strcmp_ptr(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct NameList {
        char **names;
        size_t n;
} NameList;

static void name_list_done(NameList *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->names[i]);
        free(l->names);
}

/* The override files of `dir`, in strcmp() order (not the locale's: the order must not depend on it). */
static int list_overrides(const char *dir, NameList *ret) {
        _cleanup_(closedirp) DIR *d = NULL;
        _cleanup_(name_list_done) NameList l = {};
        struct dirent *de;

        d = opendir(dir);
        if (!d)
                return -errno;

        for (errno = 0; (de = readdir(d)); errno = 0) {
                char **n;

                if (!is_override_name(de->d_name))
                        continue;
                n = realloc(l.names, (l.n + 1) * sizeof(*l.names));
                if (!n)
                        return -ENOMEM;
                l.names = n;
                l.names[l.n] = strdup(de->d_name);
                if (!l.names[l.n])
                        return -ENOMEM;
                l.n++;
        }
        if (errno > 0)
                return -errno;

        if (l.n > 0)
                qsort(l.names, l.n, sizeof(*l.names), strcmp_ptr);
        *ret = l;
        l = (NameList){};
        return 0;
}

int policy_load(const char *base_path, const char *override_dir, Policy *ret, PolicyError *err) {
        _cleanup_(policy_donep) Policy scratch = {};
        _cleanup_(name_list_done) NameList overrides = {};
        int r;

        if (!base_path)
                return policy_error(err, -EINVAL, NULL, NULL, "no policy file given");

        policy_init(&scratch);
        r = policy_parse_file(base_path, &scratch, err);
        if (r < 0)
                return r;

        if (override_dir) {
                r = list_overrides(override_dir, &overrides);
                if (r == -ENOMEM) {
                        SourceLoc loc = {.file = override_dir};
                        return policy_error(err, r, &loc, NULL, "out of memory");
                }
                if (r < 0 && r != -ENOENT) {
                        SourceLoc loc = {.file = override_dir};
                        return policy_error(err, r, &loc, NULL, "cannot read directory: %s", strerror(-r));
                }
        }

        for (size_t i = 0; i < overrides.n; i++) {
                _cleanup_(freep) char *path = NULL;

                if (asprintf(&path, "%s/%s", override_dir, overrides.names[i]) < 0) {
                        path = NULL;
                        SourceLoc loc = {.file = override_dir};
                        return policy_error(err, -ENOMEM, &loc, NULL, "out of memory");
                }
                r = policy_parse_file(path, &scratch, err);
                if (r < 0)
                        return r;
        }

        return policy_commit(ret, &scratch, base_path, err);
}
