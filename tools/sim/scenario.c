/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "policy/keys.h"
#include "policy/parse.h"
#include "policy/units.h"
#include "host.h"
#include "scenario.h"

static inline void freep(void *p) {
        free(*(void **)p);
}
#define _cleanup_free_ __attribute__((cleanup(freep)))

/* Room for a dotted key such as "events[12].policy_file". */
#define SCENARIO_KEY_MAX 256

/* Threads one VM's load may name: more than any simulated host's CPUs is
 * pointless, and the simulated host refuses more than this. */
#define SCENARIO_THREADS_MAX SIMHOST_THREADS_MAX

typedef struct Ctx {
        yaml_document_t *doc;
        Scenario *sc;
        const char *dir; /* where policy_file paths are relative to */
        PolicyError *err;
} Ctx;

static SourceLoc node_loc(const Ctx *c, const yaml_node_t *n) {
        return (SourceLoc){
                .file = c->sc->file,
                .line = (unsigned)n->start_mark.line + 1,
                .column = (unsigned)n->start_mark.column + 1,
        };
}

static int fail(const Ctx *c, const yaml_node_t *n, const char *key, const char *what) {
        SourceLoc loc = node_loc(c, n);

        return policy_error(c->err, -EINVAL, &loc, key, "%s", what);
}

static const char *node_kind(const yaml_node_t *n) {
        switch (n->type) {
                case YAML_SCALAR_NODE:
                        return "a scalar";
                case YAML_SEQUENCE_NODE:
                        return "a list";
                case YAML_MAPPING_NODE:
                        return "a mapping";
                default:
                        return "nothing";
        }
}

static int expect_type(const Ctx *c, const yaml_node_t *n, const char *key, yaml_node_type_t type) {
        const char *want = type == YAML_SCALAR_NODE ? "a scalar" : type == YAML_SEQUENCE_NODE ? "a list" : "a mapping";
        SourceLoc loc;

        if (n->type == type)
                return 0;
        loc = node_loc(c, n);
        return policy_error(c->err, -EINVAL, &loc, key, "expected %s, got %s", want, node_kind(n));
}

static const char *scalar(const yaml_node_t *n) {
        return (const char *)n->data.scalar.value;
}

/* "prefix.key" into buf (SCENARIO_KEY_MAX bytes); a key too long for a message is cut short. */
static void key_join(char *buf, const char *prefix, const char *key) {
        if (snprintf(buf, SCENARIO_KEY_MAX, "%s%s%s", prefix, *prefix ? "." : "", key) < 0)
                buf[0] = '\0';
}

/*
 * Checks that `n` is a mapping whose keys are scalars, each once, and (if
 * `allowed` is not NULL) each one of `allowed` (NULL-terminated).
 */
static int map_check(const Ctx *c, const yaml_node_t *n, const char *key, const char *const *allowed) {
        int r;

        r = expect_type(c, n, key, YAML_MAPPING_NODE);
        if (r < 0)
                return r;

        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
                yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
                char sub[SCENARIO_KEY_MAX];
                bool known = !allowed;

                if (k->type != YAML_SCALAR_NODE)
                        return fail(c, k, key, "keys must be scalars");
                key_join(sub, key, scalar(k));

                for (const char *const *a = allowed; a && *a && !known; a++)
                        known = strcmp(*a, scalar(k)) == 0;
                if (!known) {
                        char expected[SCENARIO_KEY_MAX] = "";
                        size_t len = 0, n_allowed = 0;
                        SourceLoc loc = node_loc(c, k);

                        while (allowed[n_allowed])
                                n_allowed++;
                        for (size_t i = 0; i < n_allowed && len < sizeof(expected); i++) {
                                int w = snprintf(expected + len, sizeof(expected) - len, "%s%s",
                                                 i == 0               ? ""
                                                 : i + 1 == n_allowed ? " or "
                                                                      : ", ",
                                                 allowed[i]);
                                if (w < 0)
                                        break;
                                len += (size_t)w;
                        }
                        return policy_error(c->err, -EINVAL, &loc, sub, "unknown key (expected %s)", expected);
                }

                for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
                        yaml_node_t *kq = yaml_document_get_node(c->doc, q->key);
                        if (kq->type == YAML_SCALAR_NODE && strcmp(scalar(kq), scalar(k)) == 0)
                                return fail(c, k, sub, "duplicate key");
                }
        }
        return 0;
}

/* The value of `name` in a checked mapping, or NULL. */
static yaml_node_t *map_get(const Ctx *c, const yaml_node_t *n, const char *name) {
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
                yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
                if (strcmp(scalar(k), name) == 0)
                        return yaml_document_get_node(c->doc, p->value);
        }
        return NULL;
}

/* The key node of `name` in a checked mapping, or NULL: errors about the key itself point at it. */
static yaml_node_t *map_key(const Ctx *c, const yaml_node_t *n, const char *name) {
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
                yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
                if (strcmp(scalar(k), name) == 0)
                        return k;
        }
        return NULL;
}

static int missing(const Ctx *c, const yaml_node_t *map, const char *key) {
        return fail(c, map, key, "required key missing");
}

/* The value of the required key `name` of a checked mapping in *ret, its full
 * key (`prefix`.`name`) in `ret_key` (SCENARIO_KEY_MAX); reported missing if absent. */
static int map_require(const Ctx *c, const yaml_node_t *n, const char *prefix, const char *name, char *ret_key,
                       yaml_node_t **ret) {
        key_join(ret_key, prefix, name);
        *ret = map_get(c, n, name);
        return *ret ? 0 : missing(c, n, ret_key);
}

/* A duration that is a whole number of simulation steps. */
static int parse_duration(const Ctx *c, const yaml_node_t *n, const char *key, uint64_t *ret_usec) {
        char buf[UNIT_FORMAT_MAX];
        SourceLoc loc;
        uint64_t usec;
        int r;

        r = expect_type(c, n, key, YAML_SCALAR_NODE);
        if (r < 0)
                return r;
        loc = node_loc(c, n);
        r = unit_parse_duration(scalar(n), &usec);
        if (r == -EINVAL)
                return policy_error(c->err, -EINVAL, &loc, key, "\"%s\" is not a duration (like 10s, 250ms, 500us)",
                                    scalar(n));
        if (r < 0)
                return policy_error(c->err, -EINVAL, &loc, key, "\"%s\" %s", scalar(n), unit_strerror(r));
        if (usec % SIMHOST_STEP_USEC != 0)
                return policy_error(c->err, -EINVAL, &loc, key, "%s is not a multiple of the simulation step (%s)",
                                    scalar(n), unit_format_duration(SIMHOST_STEP_USEC, buf, sizeof(buf)));
        *ret_usec = usec;
        return 0;
}

/* A point in time of the run: 0 <= t <= duration. */
static int parse_time(const Ctx *c, const yaml_node_t *n, const char *key, uint64_t *ret_usec) {
        char buf[UNIT_FORMAT_MAX];
        uint64_t usec;
        int r;

        r = parse_duration(c, n, key, &usec);
        if (r < 0)
                return r;
        if (usec > c->sc->duration_usec) {
                SourceLoc loc = node_loc(c, n);
                return policy_error(c->err, -EINVAL, &loc, key, "%s is after the end of the run (%s)", scalar(n),
                                    unit_format_duration(c->sc->duration_usec, buf, sizeof(buf)));
        }
        *ret_usec = usec;
        return 0;
}

/* A plain decimal number in [min, max]. */
static int parse_number(const Ctx *c, const yaml_node_t *n, const char *key, double min, double max, double *ret) {
        SourceLoc loc;
        const char *s;
        char *end;
        double v;
        int r;

        r = expect_type(c, n, key, YAML_SCALAR_NODE);
        if (r < 0)
                return r;
        loc = node_loc(c, n);
        s = scalar(n);
        /* strtod() also reads hex, "inf" and "nan": allow only digits, one point, a leading minus (refused below). */
        if (s[strspn(s, "-0123456789.")] != '\0' || !*s)
                return policy_error(c->err, -EINVAL, &loc, key, "\"%s\" is not a number", s);
        errno = 0;
        v = strtod(s, &end);
        if (*end != '\0' || errno != 0 || !isfinite(v))
                return policy_error(c->err, -EINVAL, &loc, key, "\"%s\" is not a number", s);
        if (v < min || v > max)
                return policy_error(c->err, -EINVAL, &loc, key, "%s is outside %g..%g", s, min, max);
        *ret = v;
        return 0;
}

static int parse_name(const Ctx *c, const yaml_node_t *n, const char *key, char **ret) {
        char *s;
        int r;

        r = expect_type(c, n, key, YAML_SCALAR_NODE);
        if (r < 0)
                return r;
        if (!*scalar(n))
                return fail(c, n, key, "expected a VM name");
        s = strdup(scalar(n));
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* A name that some policy of the scenario names. */
static int check_vm(const Ctx *c, const yaml_node_t *n, const char *key, const char *name) {
        SourceLoc loc;

        if (scenario_vm_index(c->sc, name) >= 0)
                return 0;
        loc = node_loc(c, n);
        return policy_error(c->err, -EINVAL, &loc, key, "\"%s\" is not a VM of the policy", name);
}

static int parse_host(const Ctx *c, const yaml_node_t *n) {
        static const char *const keys[] = {"cpus", NULL};
        char key[SCENARIO_KEY_MAX];
        yaml_node_t *v;
        SourceLoc loc;
        uint64_t ucpu;
        int r;

        r = map_check(c, n, "host", keys);
        if (r < 0)
                return r;
        r = map_require(c, n, "host", "cpus", key, &v);
        if (r < 0)
                return r;
        r = expect_type(c, v, key, YAML_SCALAR_NODE);
        if (r < 0)
                return r;
        loc = node_loc(c, v);
        r = unit_parse_cpus(scalar(v), &ucpu);
        if (r < 0)
                return policy_error(c->err, -EINVAL, &loc, key, "\"%s\" %s", scalar(v), unit_strerror(r));
        if (ucpu == 0 || ucpu > SIMHOST_CPUS_MAX_UCPU)
                return policy_error(c->err, -EINVAL, &loc, key, "%s is outside 1m..%llu", scalar(v),
                                    SIMHOST_CPUS_MAX_UCPU / UNIT_UCPU_PER_CPU);
        c->sc->cpus_ucpu = ucpu;
        return 0;
}

/* A policy given inline (`policy`) or by file (`policy_file`), into *p (policy_init()ed). */
static int parse_policy(const Ctx *c, yaml_node_t *inline_node, yaml_node_t *file_node, const char *prefix,
                        Policy *p) {
        char key[SCENARIO_KEY_MAX];
        int r;

        if (inline_node) {
                key_join(key, prefix, "policy");
                r = expect_type(c, inline_node, key, YAML_MAPPING_NODE);
                if (r < 0)
                        return r;
                key_join(key, prefix, "policy.");
                return policy_parse_node(c->doc, inline_node, c->sc->file, key, p, c->err);
        }

        key_join(key, prefix, "policy_file");
        r = expect_type(c, file_node, key, YAML_SCALAR_NODE);
        if (r < 0)
                return r;
        if (!*scalar(file_node))
                return fail(c, file_node, key, "expected a path");

        _cleanup_free_ char *path = NULL;
        if (scalar(file_node)[0] == '/')
                path = strdup(scalar(file_node));
        else if (asprintf(&path, "%s/%s", c->dir, scalar(file_node)) < 0)
                path = NULL;
        if (!path)
                return -ENOMEM;

        r = policy_parse_file(path, p, c->err);
        if (r < 0 && r != -EINVAL && c->err) {
                /* Not a parse error but the file itself: say which line of the scenario named it. */
                PolicyError inner = *c->err;
                SourceLoc loc = node_loc(c, file_node);
                return policy_error(c->err, r, &loc, key, "%s", inner.message);
        }
        return r;
}

static int vm_names_add(Scenario *sc, const Policy *p) {
        for (size_t i = 0; i < p->n_vms; i++) {
                char **names;

                if (scenario_vm_index(sc, p->vms[i].name) >= 0)
                        continue;
                names = realloc(sc->vms, (sc->n_vms + 1) * sizeof(*names));
                if (!names)
                        return -ENOMEM;
                sc->vms = names;
                sc->vms[sc->n_vms] = strdup(p->vms[i].name);
                if (!sc->vms[sc->n_vms])
                        return -ENOMEM;
                sc->n_vms++;
        }
        return 0;
}

/* The words of a schedctl step: a string split at blanks, or a list of words. */
static int parse_words(const Ctx *c, const yaml_node_t *n, const char *key, ScenarioEvent *e) {
        size_t cap = 0;

        if (n->type == YAML_SEQUENCE_NODE) {
                for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
                        yaml_node_t *w = yaml_document_get_node(c->doc, *i);
                        int r = expect_type(c, w, key, YAML_SCALAR_NODE);
                        if (r < 0)
                                return r;
                        if (!*scalar(w) || scalar(w)[strcspn(scalar(w), " \t\n")] != '\0')
                                return fail(c, w, key, "a word is not empty and holds no blanks");
                }
                cap = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
        } else if (n->type == YAML_SCALAR_NODE) {
                for (const char *s = scalar(n); *s;) {
                        s += strspn(s, " \t\n");
                        if (!*s)
                                break;
                        cap++;
                        s += strcspn(s, " \t\n");
                }
        } else
                return fail(c, n, key, "expected a command line (a string, or a list of words)");
        if (cap == 0)
                return fail(c, n, key, "an empty command");

        e->argv = calloc(cap + 1, sizeof(*e->argv));
        if (!e->argv)
                return -ENOMEM;
        if (n->type == YAML_SEQUENCE_NODE) {
                for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
                        e->argv[e->argc] = strdup(scalar(yaml_document_get_node(c->doc, *i)));
                        if (!e->argv[e->argc])
                                return -ENOMEM;
                        e->argc++;
                }
                return 0;
        }
        for (const char *s = scalar(n); *s;) {
                size_t len;

                s += strspn(s, " \t\n");
                if (!*s)
                        break;
                len = strcspn(s, " \t\n");
                e->argv[e->argc] = strndup(s, len);
                if (!e->argv[e->argc])
                        return -ENOMEM;
                e->argc++;
                s += len;
        }
        return 0;
}

/* The node an error about word i of a schedctl step points at: the word itself in a list, else the string. */
static const yaml_node_t *word_node(const Ctx *c, const yaml_node_t *n, size_t i) {
        if (n->type == YAML_SEQUENCE_NODE && i < (size_t)(n->data.sequence.items.top - n->data.sequence.items.start))
                return yaml_document_get_node(c->doc, n->data.sequence.items.start[i]);
        return n;
}

static int add_key(ScenarioEvent *e, const char *key, size_t key_len, const char *value) {
        char **keys = realloc(e->keys, (e->n_keys + 1) * sizeof(*keys));
        if (!keys)
                return -ENOMEM;
        e->keys = keys;
        char **values = realloc(e->values, (e->n_keys + 1) * sizeof(*values));
        if (!values)
                return -ENOMEM;
        e->values = values;
        e->keys[e->n_keys] = strndup(key, key_len);
        e->values[e->n_keys] = value ? strdup(value) : NULL;
        e->n_keys++;
        if (!e->keys[e->n_keys - 1] || (value && !e->values[e->n_keys - 1]))
                return -ENOMEM;
        return 0;
}

/*
 * A schedctl step: the verb, its VM and keys, each value checked by the policy
 * parser (the very check `schedctl set` gets).  Whether the VM is one of the
 * scenario's is checked once every policy is known (parse_events()).
 */
static int parse_schedctl(const Ctx *c, const yaml_node_t *n, const char *key, ScenarioEvent *e) {
        const char *verb;
        size_t first = 2; /* the first word after VERB VM */
        int r;

        r = parse_words(c, n, key, e);
        if (r < 0)
                return r;
        verb = e->argv[0];
        if (strcmp(verb, "set") == 0)
                e->verb = SCENARIO_SCHEDCTL_SET;
        else if (strcmp(verb, "reset") == 0)
                e->verb = SCENARIO_SCHEDCTL_RESET;
        else if (strcmp(verb, "list") == 0 || strcmp(verb, "status") == 0 || strcmp(verb, "get") == 0)
                e->verb = SCENARIO_SCHEDCTL_QUERY;
        else if (strcmp(verb, "move") == 0)
                return fail(
                        c, word_node(c, n, 0), key,
                        "a scenario names no process IDs: move a load with { at: ..., move: { load: L, to: VM } }");
        else {
                SourceLoc loc = node_loc(c, word_node(c, n, 0));
                return policy_error(c->err, -EINVAL, &loc, key,
                                    "\"%s\" is not a verb a scenario runs (set, reset, list, status or get)", verb);
        }

        if (strcmp(verb, "list") == 0) {
                if (e->argc > 1)
                        return fail(c, word_node(c, n, 1), key, "list takes no arguments");
                return 0;
        }
        if (e->argc < 2) {
                if (strcmp(verb, "status") == 0)
                        return 0;
                SourceLoc loc = node_loc(c, n);
                return policy_error(c->err, -EINVAL, &loc, key, "%s: missing VM", verb);
        }
        if (e->argv[1][0] == '-')
                return fail(c, word_node(c, n, 1), key, "expected a VM before any option");
        e->vm = strdup(e->argv[1]);
        if (!e->vm)
                return -ENOMEM;

        if (e->verb == SCENARIO_SCHEDCTL_QUERY) {
                size_t max = strcmp(verb, "get") == 0 ? 3 : 2;
                if (e->argc > max)
                        return fail(c, word_node(c, n, max), key,
                                    max == 3 ? "get takes a VM and at most one key" : "status takes at most one VM");
                return 0;
        }

        for (size_t i = first; i < e->argc; i++) {
                const char *w = e->argv[i];
                SourceLoc loc = node_loc(c, word_node(c, n, i));

                if (strcmp(w, "--runtime") == 0 && e->verb == SCENARIO_SCHEDCTL_SET) {
                        e->runtime = true;
                        continue;
                }
                if (w[0] == '-')
                        return policy_error(c->err, -EINVAL, &loc, key, "%s: unknown option \"%s\"", verb, w);
                if (e->verb == SCENARIO_SCHEDCTL_SET) {
                        const char *eq = strchr(w, '=');
                        Policy scratch;
                        PolicyError inner = {};

                        if (!eq || eq == w)
                                return policy_error(c->err, -EINVAL, &loc, key, "set: \"%s\" is not KEY=VALUE", w);
                        r = add_key(e, w, (size_t)(eq - w), eq + 1);
                        if (r < 0)
                                return r;
                        policy_init(&scratch);
                        r = policy_set_key(&scratch, e->vm, e->keys[e->n_keys - 1], e->values[e->n_keys - 1],
                                           c->sc->file, &inner);
                        policy_done(&scratch);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0)
                                return policy_error(c->err, -EINVAL, &loc, key, "%s", inner.message);
                } else {
                        PolicyKey k;
                        PolicyError inner = {};

                        r = policy_key_parse(e->vm, w, &k, &inner);
                        if (r < 0)
                                return policy_error(c->err, -EINVAL, &loc, key, "%s", inner.message);
                        r = add_key(e, w, strlen(w), NULL);
                        if (r < 0)
                                return r;
                }
        }
        if (e->verb == SCENARIO_SCHEDCTL_SET && e->n_keys == 0) {
                SourceLoc loc = node_loc(c, n);
                return policy_error(c->err, -EINVAL, &loc, key, "set: no KEY=VALUE given");
        }
        return 0;
}

/* A move's destination; its load is resolved once the loads are known (check_moves()). */
static int parse_move(const Ctx *c, const yaml_node_t *n, const char *key, ScenarioEvent *e) {
        static const char *const keys[] = {"load", "to", NULL};
        char sub[SCENARIO_KEY_MAX];
        yaml_node_t *v;
        int r;

        r = map_check(c, n, key, keys);
        if (r < 0)
                return r;
        r = map_require(c, n, key, "load", sub, &v);
        if (r >= 0)
                r = expect_type(c, v, sub, YAML_SCALAR_NODE);
        if (r >= 0)
                r = map_require(c, n, key, "to", sub, &v);
        if (r < 0)
                return r;
        return parse_name(c, v, sub, &e->vm);
}

static int parse_event(const Ctx *c, const yaml_node_t *n, size_t idx, ScenarioEvent *e) {
        static const char *const keys[] = {"at",       "policy", "policy_file", "cgroup_add", "cgroup_remove",
                                           "schedctl", "move",   NULL};
        static const char *const actions[] = {"policy",        "policy_file", "cgroup_add",
                                              "cgroup_remove", "schedctl",    "move"};
        char prefix[SCENARIO_KEY_MAX], key[SCENARIO_KEY_MAX];
        yaml_node_t *v, *action = NULL;
        const char *action_name = NULL;
        int r;

        /* Initialized first: scenario_done() frees it whatever happens below. */
        policy_init(&e->policy);
        snprintf(prefix, sizeof(prefix), "events[%zu]", idx);
        r = map_check(c, n, prefix, keys);
        if (r < 0)
                return r;
        e->loc = node_loc(c, n);

        r = map_require(c, n, prefix, "at", key, &v);
        if (r < 0)
                return r;
        r = parse_time(c, v, key, &e->at_usec);
        if (r < 0)
                return r;

        for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
                yaml_node_t *a = map_get(c, n, actions[i]);
                if (!a)
                        continue;
                if (action) {
                        key_join(key, prefix, actions[i]);
                        return fail(c, map_key(c, n, actions[i]), key,
                                    "an event does one thing: policy, policy_file, cgroup_add, cgroup_remove, "
                                    "schedctl or move");
                }
                action = a;
                action_name = actions[i];
        }
        if (!action)
                return fail(c, n, prefix,
                            "an event needs one of policy, policy_file, cgroup_add, cgroup_remove, schedctl, move");

        key_join(key, prefix, action_name);
        if (strcmp(action_name, "cgroup_add") == 0 || strcmp(action_name, "cgroup_remove") == 0) {
                e->kind = strcmp(action_name, "cgroup_add") == 0 ? SCENARIO_EVENT_CGROUP_ADD
                                                                 : SCENARIO_EVENT_CGROUP_REMOVE;
                return parse_name(c, action, key, &e->vm);
        }
        if (strcmp(action_name, "schedctl") == 0) {
                e->kind = SCENARIO_EVENT_SCHEDCTL;
                return parse_schedctl(c, action, key, e);
        }
        if (strcmp(action_name, "move") == 0) {
                e->kind = SCENARIO_EVENT_MOVE;
                return parse_move(c, action, key, e);
        }

        e->kind = SCENARIO_EVENT_POLICY;
        if (strcmp(action_name, "policy") == 0)
                return parse_policy(c, action, NULL, prefix, &e->policy);
        return parse_policy(c, NULL, action, prefix, &e->policy);
}

static int parse_events(const Ctx *c, const yaml_node_t *n) {
        Scenario *sc = c->sc;
        int r;

        r = expect_type(c, n, "events", YAML_SEQUENCE_NODE);
        if (r < 0)
                return r;

        size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
        if (count == 0)
                return 0;
        sc->events = calloc(count, sizeof(*sc->events));
        if (!sc->events)
                return -ENOMEM;

        for (size_t i = 0; i < count; i++) {
                yaml_node_t *item = yaml_document_get_node(c->doc, n->data.sequence.items.start[i]);
                ScenarioEvent *e = &sc->events[i];

                sc->n_events = i + 1; /* so that scenario_done() frees what this one holds */
                r = parse_event(c, item, i, e);
                if (r < 0)
                        return r;
                if (i > 0 && e->at_usec < sc->events[i - 1].at_usec) {
                        char key[SCENARIO_KEY_MAX], buf[UNIT_FORMAT_MAX];
                        yaml_node_t *at = map_get(c, item, "at");
                        SourceLoc loc = node_loc(c, at);

                        snprintf(key, sizeof(key), "events[%zu].at", i);
                        return policy_error(c->err, -EINVAL, &loc, key, "%s is before the previous event (%s)",
                                            scalar(at),
                                            unit_format_duration(sc->events[i - 1].at_usec, buf, sizeof(buf)));
                }
                if (e->kind == SCENARIO_EVENT_POLICY) {
                        r = vm_names_add(sc, &e->policy);
                        if (r < 0)
                                return r;
                }
        }

        /* Now that every policy's VMs are known, the VMs events name can be checked. */
        for (size_t i = 0; i < count; i++) {
                ScenarioEvent *e = &sc->events[i];
                yaml_node_t *item = yaml_document_get_node(c->doc, n->data.sequence.items.start[i]);
                const char *name = e->kind == SCENARIO_EVENT_CGROUP_ADD      ? "cgroup_add"
                                   : e->kind == SCENARIO_EVENT_CGROUP_REMOVE ? "cgroup_remove"
                                   : e->kind == SCENARIO_EVENT_SCHEDCTL      ? "schedctl"
                                                                             : "move";
                const yaml_node_t *at;
                char key[SCENARIO_KEY_MAX];

                if (e->kind == SCENARIO_EVENT_POLICY || !e->vm)
                        continue;
                snprintf(key, sizeof(key), "events[%zu].%s", i, name);
                at = map_get(c, item, name);
                if (e->kind == SCENARIO_EVENT_MOVE) {
                        at = map_get(c, at, "to");
                        snprintf(key, sizeof(key), "events[%zu].move.to", i);
                } else if (e->kind == SCENARIO_EVENT_SCHEDCTL)
                        at = word_node(c, at, 1);
                r = check_vm(c, at, key, e->vm);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A VM with cgroup events: a move may neither leave nor enter it. */
static bool vm_has_cgroup_events(const Scenario *sc, const char *vm) {
        for (size_t i = 0; i < sc->n_events; i++)
                if (scenario_event_is_cgroup(&sc->events[i]) && strcmp(sc->events[i].vm, vm) == 0)
                        return true;
        return false;
}

/* Each move's load, once the loads are known: see scenario.h for what a move needs. */
static int check_moves(const Ctx *c, const yaml_node_t *events) {
        Scenario *sc = c->sc;

        for (size_t i = 0; i < sc->n_events; i++) {
                ScenarioEvent *e = &sc->events[i];
                yaml_node_t *item, *v;
                char key[SCENARIO_KEY_MAX];
                const char *from_vm;
                const ScenarioLoad *l;
                SourceLoc loc;
                const char *s;
                int from_idx;

                if (e->kind != SCENARIO_EVENT_MOVE)
                        continue;
                item = yaml_document_get_node(c->doc, events->data.sequence.items.start[i]);
                v = map_get(c, map_get(c, item, "move"), "load");
                snprintf(key, sizeof(key), "events[%zu].move.load", i);
                loc = node_loc(c, v);
                s = scalar(v);
                if (*s && s[strspn(s, "0123456789")] == '\0') {
                        unsigned long long idx = strtoull(s, NULL, 10);
                        if (idx >= sc->n_load)
                                return policy_error(c->err, -EINVAL, &loc, key,
                                                    "%s is not an index of load (%zu entries, from 0)", s, sc->n_load);
                        e->load = (size_t)idx;
                } else {
                        size_t found = 0;

                        for (size_t j = 0; j < sc->n_load; j++)
                                if (strcmp(sc->load[j].vm, s) == 0) {
                                        e->load = j;
                                        found++;
                                }
                        if (found != 1)
                                return policy_error(c->err, -EINVAL, &loc, key,
                                                    "\"%s\" is neither an index of load nor a VM with one load entry "
                                                    "(it has %zu)",
                                                    s, found);
                }

                l = &sc->load[e->load];
                if (l->kind != SCENARIO_LOAD_CPU || l->threads == 0)
                        return fail(c, v, key, "only a load of busy threads has processes to move");
                if (!(l->from_usec < e->at_usec && e->at_usec < l->to_usec)) {
                        char a[UNIT_FORMAT_MAX], b[UNIT_FORMAT_MAX], t[UNIT_FORMAT_MAX];
                        return policy_error(c->err, -EINVAL, &loc, key,
                                            "the load runs from %s to %s, so it has nothing to move at %s",
                                            unit_format_duration(l->from_usec, a, sizeof(a)),
                                            unit_format_duration(l->to_usec, b, sizeof(b)),
                                            unit_format_duration(e->at_usec, t, sizeof(t)));
                }
                from_idx = scenario_load_vm_at(sc, e->load, e->at_usec - 1);
                if (from_idx < 0)
                        return from_idx;
                from_vm = sc->vms[from_idx];
                if (strcmp(from_vm, e->vm) == 0) {
                        loc = node_loc(c, map_get(c, map_get(c, item, "move"), "to"));
                        return policy_error(c->err, -EINVAL, &loc, key, "the load is in %s already", e->vm);
                }
                if (vm_has_cgroup_events(sc, from_vm) || vm_has_cgroup_events(sc, e->vm)) {
                        const char *which = vm_has_cgroup_events(sc, from_vm) ? from_vm : e->vm;
                        return policy_error(c->err, -EINVAL, &loc, key,
                                            "%s has cgroup events: a move needs both cgroups there all along", which);
                }
                for (size_t j = 0; j < sc->n_load; j++) {
                        const ScenarioLoad *o = &sc->load[j];
                        int o_idx;

                        if (j == e->load || (o->kind == SCENARIO_LOAD_CPU && o->threads == 0) ||
                            !(o->from_usec <= e->at_usec && e->at_usec <= o->to_usec))
                                continue;
                        o_idx = scenario_load_vm_at(sc, j, e->at_usec - 1);
                        if (o_idx >= 0 && o_idx == from_idx)
                                return policy_error(c->err, -EINVAL, &loc, key,
                                                    "load[%zu] runs in %s too: a real kernel could not tell which "
                                                    "processes to move",
                                                    j, from_vm);
                }
        }
        return 0;
}

/* A window [from, to) of the run, both defaulting to its ends. */
static int parse_window(const Ctx *c, const yaml_node_t *n, const char *prefix, uint64_t *ret_from, uint64_t *ret_to) {
        char key[SCENARIO_KEY_MAX], a[UNIT_FORMAT_MAX], b[UNIT_FORMAT_MAX];
        uint64_t from = 0, to = c->sc->duration_usec;
        yaml_node_t *v;
        int r;

        v = map_get(c, n, "from");
        if (v) {
                key_join(key, prefix, "from");
                r = parse_time(c, v, key, &from);
                if (r < 0)
                        return r;
        }
        v = map_get(c, n, "to");
        if (v) {
                key_join(key, prefix, "to");
                r = parse_time(c, v, key, &to);
                if (r < 0)
                        return r;
        }
        if (from >= to) {
                SourceLoc loc = node_loc(c, map_get(c, n, "from") ?: n);
                return policy_error(c->err, -EINVAL, &loc, prefix, "from %s is not before to %s",
                                    unit_format_duration(from, a, sizeof(a)), unit_format_duration(to, b, sizeof(b)));
        }
        *ret_from = from;
        *ret_to = to;
        return 0;
}

/* Whether some policy of the scenario declares the device in host.devices. */
static bool scenario_has_device(const Scenario *sc, const char *name) {
        if (policy_find_device(&sc->policy, name))
                return true;
        for (size_t i = 0; i < sc->n_events; i++)
                if (sc->events[i].kind == SCENARIO_EVENT_POLICY && policy_find_device(&sc->events[i].policy, name))
                        return true;
        return false;
}

static int parse_load(const Ctx *c, const yaml_node_t *n) {
        static const char *const keys[] = {"vm", "threads", "io", "from", "to", NULL};
        Scenario *sc = c->sc;
        int r;

        r = expect_type(c, n, "load", YAML_SEQUENCE_NODE);
        if (r < 0)
                return r;

        size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
        if (count == 0)
                return 0;
        sc->load = calloc(count, sizeof(*sc->load));
        if (!sc->load)
                return -ENOMEM;

        for (size_t i = 0; i < count; i++) {
                yaml_node_t *item = yaml_document_get_node(c->doc, n->data.sequence.items.start[i]);
                ScenarioLoad *l = &sc->load[i];
                char prefix[SCENARIO_KEY_MAX], key[SCENARIO_KEY_MAX];
                yaml_node_t *v;
                double threads;

                sc->n_load = i + 1;
                snprintf(prefix, sizeof(prefix), "load[%zu]", i);
                r = map_check(c, item, prefix, keys);
                if (r < 0)
                        return r;
                l->loc = node_loc(c, item);

                r = map_require(c, item, prefix, "vm", key, &v);
                if (r < 0)
                        return r;
                r = parse_name(c, v, key, &l->vm);
                if (r < 0)
                        return r;
                r = check_vm(c, v, key, l->vm);
                if (r < 0)
                        return r;

                v = map_get(c, item, "io");
                if (v && map_get(c, item, "threads")) {
                        key_join(key, prefix, "io");
                        return fail(c, map_key(c, item, "io"), key,
                                    "a load is either busy threads or an I/O writer, not both");
                }
                if (v) {
                        key_join(key, prefix, "io");
                        l->kind = SCENARIO_LOAD_IO;
                        r = parse_name(c, v, key, &l->device);
                        if (r < 0)
                                return r;
                        if (!scenario_has_device(sc, l->device)) {
                                SourceLoc loc = node_loc(c, v);
                                return policy_error(c->err, -EINVAL, &loc, key,
                                                    "\"%s\" is not a device of any policy's host.devices", l->device);
                        }
                } else {
                        r = map_require(c, item, prefix, "threads", key, &v);
                        if (r < 0)
                                return r;
                        r = parse_number(c, v, key, 0, SCENARIO_THREADS_MAX, &threads);
                        if (r < 0)
                                return r;
                        if (threads != floor(threads))
                                return fail(c, v, key, "a number of threads is a whole number");
                        l->kind = SCENARIO_LOAD_CPU;
                        l->threads = (unsigned)threads;
                }

                r = parse_window(c, item, prefix, &l->from_usec, &l->to_usec);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_measure(const Ctx *c, const yaml_node_t *n) {
        static const char *const keys[] = {"from", "to", NULL};
        int r;

        r = map_check(c, n, "measure", keys);
        if (r < 0)
                return r;
        return parse_window(c, n, "measure", &c->sc->measure_from_usec, &c->sc->measure_to_usec);
}

static int parse_expect(const Ctx *c, const yaml_node_t *n) {
        static const char *const keys[] = {"tolerance", "cpu_fraction", "utilization", "max_transitions_per_sec",
                                           "io_bps",    "restored",     NULL};
        ScenarioExpect *x = &c->sc->expect;
        yaml_node_t *v;
        int r;

        r = map_check(c, n, "expect", keys);
        if (r < 0)
                return r;
        x->present = true;
        x->tolerance = SCENARIO_TOLERANCE_MAX;

        v = map_get(c, n, "tolerance");
        if (v) {
                r = parse_number(c, v, "expect.tolerance", 0, SCENARIO_TOLERANCE_MAX, &x->tolerance);
                if (r < 0)
                        return r;
        }

        v = map_get(c, n, "utilization");
        if (v) {
                r = parse_number(c, v, "expect.utilization", 0, 1, &x->utilization);
                if (r < 0)
                        return r;
                x->has_utilization = true;
        }

        v = map_get(c, n, "max_transitions_per_sec");
        if (v) {
                /* Ticks per second bound any rate of transitions; a million is beyond any tick. */
                r = parse_number(c, v, "expect.max_transitions_per_sec", 0, 1e6, &x->max_transitions_per_sec);
                if (r < 0)
                        return r;
                x->has_max_transitions = true;
        }

        v = map_get(c, n, "cpu_fraction");
        if (v) {
                r = map_check(c, v, "expect.cpu_fraction", NULL);
                if (r < 0)
                        return r;
                size_t count = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
                if (count > 0) {
                        x->cpu_fraction = calloc(count, sizeof(*x->cpu_fraction));
                        if (!x->cpu_fraction)
                                return -ENOMEM;
                }
                for (size_t i = 0; i < count; i++) {
                        yaml_node_pair_t *p = &v->data.mapping.pairs.start[i];
                        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
                        yaml_node_t *val = yaml_document_get_node(c->doc, p->value);
                        ScenarioFraction *f = &x->cpu_fraction[i];
                        char key[SCENARIO_KEY_MAX];

                        x->n_cpu_fraction = i + 1;
                        key_join(key, "expect.cpu_fraction", scalar(k));
                        r = parse_name(c, k, key, &f->vm);
                        if (r < 0)
                                return r;
                        r = check_vm(c, k, key, f->vm);
                        if (r < 0)
                                return r;
                        r = parse_number(c, val, key, 0, 1, &f->fraction);
                        if (r < 0)
                                return r;
                        f->loc = node_loc(c, val);
                }
        }

        v = map_get(c, n, "io_bps");
        if (v) {
                r = map_check(c, v, "expect.io_bps", NULL);
                if (r < 0)
                        return r;
                size_t count = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
                if (count > 0) {
                        x->io_bps = calloc(count, sizeof(*x->io_bps));
                        if (!x->io_bps)
                                return -ENOMEM;
                }
                for (size_t i = 0; i < count; i++) {
                        yaml_node_pair_t *p = &v->data.mapping.pairs.start[i];
                        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
                        yaml_node_t *val = yaml_document_get_node(c->doc, p->value);
                        ScenarioRate *rate = &x->io_bps[i];
                        char key[SCENARIO_KEY_MAX];
                        SourceLoc loc;

                        x->n_io_bps = i + 1;
                        key_join(key, "expect.io_bps", scalar(k));
                        r = parse_name(c, k, key, &rate->vm);
                        if (r < 0)
                                return r;
                        r = check_vm(c, k, key, rate->vm);
                        if (r < 0)
                                return r;
                        r = expect_type(c, val, key, YAML_SCALAR_NODE);
                        if (r < 0)
                                return r;
                        loc = node_loc(c, val);
                        r = unit_parse_bytes(scalar(val), &rate->bytes_per_sec);
                        if (r < 0)
                                return policy_error(c->err, -EINVAL, &loc, key, "\"%s\" %s (a rate: 20MB, 5MiB)",
                                                    scalar(val), unit_strerror(r));
                        rate->loc = loc;
                }
        }

        v = map_get(c, n, "restored");
        if (v) {
                r = expect_type(c, v, "expect.restored", YAML_SCALAR_NODE);
                if (r < 0)
                        return r;
                if (strcmp(scalar(v), "true") != 0)
                        return fail(c, v, "expect.restored", "only \"true\" makes sense here");
                x->expect_restored = true;
        }
        return 0;
}

static int parse_tiers(const Ctx *c, const yaml_node_t *n) {
        unsigned tiers = 0;
        int r;

        r = expect_type(c, n, "tiers", YAML_SEQUENCE_NODE);
        if (r < 0)
                return r;
        for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
                yaml_node_t *item = yaml_document_get_node(c->doc, *i);
                unsigned bit;

                r = expect_type(c, item, "tiers", YAML_SCALAR_NODE);
                if (r < 0)
                        return r;
                if (strcmp(scalar(item), "sim") == 0)
                        bit = SCENARIO_TIER_SIM;
                else if (strcmp(scalar(item), "vm") == 0)
                        bit = SCENARIO_TIER_VM;
                else {
                        SourceLoc loc = node_loc(c, item);
                        return policy_error(c->err, -EINVAL, &loc, "tiers", "unknown tier \"%s\" (expected sim or vm)",
                                            scalar(item));
                }
                if (tiers & bit)
                        return fail(c, item, "tiers", "a tier named twice");
                tiers |= bit;
        }
        if (tiers == 0)
                return fail(c, n, "tiers", "a scenario runs in at least one tier (sim, vm)");
        c->sc->tiers = tiers;
        return 0;
}

static int parse_files(const Ctx *c, const yaml_node_t *n) {
        static const char *const files[] = {SCENARIO_CGROUP_FILES, NULL};
        Scenario *sc = c->sc;
        size_t total = 0;
        int r;

        r = map_check(c, n, "cgroup_files", NULL);
        if (r < 0)
                return r;
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
                yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
                char key[SCENARIO_KEY_MAX];

                key_join(key, "cgroup_files", scalar(yaml_document_get_node(c->doc, p->key)));
                r = map_check(c, v, key, files);
                if (r < 0)
                        return r;
                total += (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
        }
        if (total == 0)
                return 0;
        sc->files = calloc(total, sizeof(*sc->files));
        if (!sc->files)
                return -ENOMEM;

        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
                yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
                yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
                char prefix[SCENARIO_KEY_MAX];

                key_join(prefix, "cgroup_files", scalar(k));
                r = check_vm(c, k, prefix, scalar(k));
                if (r < 0)
                        return r;
                for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
                        yaml_node_t *fk = yaml_document_get_node(c->doc, q->key);
                        yaml_node_t *fv = yaml_document_get_node(c->doc, q->value);
                        ScenarioFile *f = &sc->files[sc->n_files];
                        char key[SCENARIO_KEY_MAX];

                        key_join(key, prefix, scalar(fk));
                        r = expect_type(c, fv, key, YAML_SCALAR_NODE);
                        if (r < 0)
                                return r;
                        if (!*scalar(fv) || strchr(scalar(fv), '\n'))
                                return fail(c, fv, key, "expected a value of one line");
                        sc->n_files++;
                        f->loc = node_loc(c, fv);
                        f->vm = strdup(scalar(k));
                        f->file = strdup(scalar(fk));
                        f->value = strdup(scalar(fv));
                        if (!f->vm || !f->file || !f->value)
                                return -ENOMEM;
                }
        }
        return 0;
}

/* What only a real kernel can show needs a scenario the simulator leaves alone. */
static int check_tiers(const Ctx *c, yaml_node_t *root) {
        const Scenario *sc = c->sc;
        yaml_node_t *expect = map_get(c, root, "expect");
        const char *what = NULL, *key = NULL;
        yaml_node_t *at = NULL;

        if (!(sc->tiers & SCENARIO_TIER_SIM))
                return 0;
        if (sc->expect.n_io_bps > 0) {
                what = "the simulator does not model I/O";
                key = "expect.io_bps";
                at = map_key(c, expect, "io_bps");
        } else if (sc->expect.expect_restored) {
                what = "the simulator has no cgroup files to restore";
                key = "expect.restored";
                at = map_key(c, expect, "restored");
        } else if (map_get(c, root, "cgroup_files")) {
                what = "the simulator does not model cgroup files written before the daemon";
                key = "cgroup_files";
                at = map_key(c, root, "cgroup_files");
        }
        if (!what)
                return 0;
        SourceLoc loc = node_loc(c, at);
        return policy_error(c->err, -EINVAL, &loc, key, "%s: give the scenario tiers: [vm]", what);
}

static int parse_root(const Ctx *c, yaml_node_t *root) {
        static const char *const keys[] = {"duration", "tick",    "host",   "policy", "policy_file",  "load",
                                           "events",   "measure", "expect", "tiers",  "cgroup_files", NULL};
        Scenario *sc = c->sc;
        yaml_node_t *v, *pol, *pol_file;
        char a[UNIT_FORMAT_MAX], b[UNIT_FORMAT_MAX];
        int r;

        r = map_check(c, root, "", keys);
        if (r < 0)
                return r;

        v = map_get(c, root, "duration");
        if (!v)
                return missing(c, root, "duration");
        r = parse_duration(c, v, "duration", &sc->duration_usec);
        if (r < 0)
                return r;
        if (sc->duration_usec == 0 || sc->duration_usec > SCENARIO_DURATION_MAX_USEC) {
                SourceLoc loc = node_loc(c, v);
                return policy_error(c->err, -EINVAL, &loc, "duration", "%s is outside %s..%s", scalar(v),
                                    unit_format_duration(SIMHOST_STEP_USEC, a, sizeof(a)),
                                    unit_format_duration(SCENARIO_DURATION_MAX_USEC, b, sizeof(b)));
        }
        sc->measure_to_usec = sc->duration_usec;

        sc->tick_usec = SCENARIO_TICK_DEFAULT_USEC;
        v = map_get(c, root, "tick");
        if (v) {
                r = parse_duration(c, v, "tick", &sc->tick_usec);
                if (r < 0)
                        return r;
                if (sc->tick_usec == 0 || sc->tick_usec > sc->duration_usec)
                        return fail(c, v, "tick", "a tick is longer than zero and no longer than the run");
        }

        v = map_get(c, root, "host");
        if (!v)
                return missing(c, root, "host");
        r = parse_host(c, v);
        if (r < 0)
                return r;

        pol = map_get(c, root, "policy");
        pol_file = map_get(c, root, "policy_file");
        if (!pol && !pol_file)
                return fail(c, root, "policy", "a scenario needs a policy (policy: or policy_file:)");
        if (pol && pol_file)
                return fail(c, pol_file, "policy_file", "give either policy or policy_file, not both");
        r = parse_policy(c, pol, pol_file, "", &sc->policy);
        if (r < 0)
                return r;
        r = vm_names_add(sc, &sc->policy);
        if (r < 0)
                return r;

        v = map_get(c, root, "events");
        if (v) {
                r = parse_events(c, v);
                if (r < 0)
                        return r;
        }

        v = map_get(c, root, "load");
        if (v) {
                r = parse_load(c, v);
                if (r < 0)
                        return r;
        }
        v = map_get(c, root, "events");
        if (v) {
                r = check_moves(c, v);
                if (r < 0)
                        return r;
        }

        v = map_get(c, root, "measure");
        if (v) {
                r = parse_measure(c, v);
                if (r < 0)
                        return r;
        }

        v = map_get(c, root, "expect");
        if (v) {
                r = parse_expect(c, v);
                if (r < 0)
                        return r;
        }

        sc->tiers = SCENARIO_TIERS_ALL;
        v = map_get(c, root, "tiers");
        if (v) {
                r = parse_tiers(c, v);
                if (r < 0)
                        return r;
        }

        v = map_get(c, root, "cgroup_files");
        if (v) {
                r = parse_files(c, v);
                if (r < 0)
                        return r;
        }
        return check_tiers(c, root);
}

static char *dir_of(const char *file) {
        const char *slash = strrchr(file, '/');

        if (!slash)
                return strdup(".");
        if (slash == file)
                return strdup("/");
        return strndup(file, (size_t)(slash - file));
}

int scenario_parse_string(const char *text, size_t len, const char *file, Scenario *ret, PolicyError *err) {
        yaml_parser_t parser;
        yaml_document_t doc;
        Scenario sc = {};
        char *dir = NULL;
        int r;

        policy_init(&sc.policy);
        sc.file = strdup(file);
        dir = dir_of(file);
        if (!sc.file || !dir) {
                r = -ENOMEM;
                goto finish;
        }

        if (!yaml_parser_initialize(&parser)) {
                r = -ENOMEM;
                goto finish;
        }
        yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
        if (!yaml_parser_load(&parser, &doc)) {
                SourceLoc loc = {.file = sc.file,
                                 .line = (unsigned)parser.problem_mark.line + 1,
                                 .column = (unsigned)parser.problem_mark.column + 1};
                r = policy_error(err, -EINVAL, &loc, NULL, "%s%s%s", parser.problem ?: "invalid YAML",
                                 parser.context ? " " : "", parser.context ?: "");
                yaml_parser_delete(&parser);
                goto finish;
        }
        yaml_parser_delete(&parser);

        Ctx c = {.doc = &doc, .sc = &sc, .dir = dir, .err = err};
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (!root) {
                SourceLoc loc = {.file = sc.file};
                r = policy_error(err, -EINVAL, &loc, NULL, "empty scenario");
        } else
                r = parse_root(&c, root);
        yaml_document_delete(&doc);
        if (r == -ENOMEM)
                policy_error(err, -ENOMEM, NULL, NULL, "%s: out of memory", file);

finish:
        free(dir);
        if (r < 0) {
                scenario_done(&sc);
                return r;
        }
        *ret = sc;
        return 0;
}

int scenario_parse_file(const char *path, Scenario *ret, PolicyError *err) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0, size = 0;
        FILE *f;

        f = fopen(path, "re");
        if (!f) {
                int e = errno;
                return policy_error(err, -e, NULL, NULL, "%s: cannot read: %s", path, strerror(e));
        }

        for (;;) {
                if (len == size) {
                        size_t new_size = size ? size * 2 : 4096;
                        char *t = realloc(text, new_size);
                        if (!t) {
                                fclose(f);
                                return policy_error(err, -ENOMEM, NULL, NULL, "%s: out of memory", path);
                        }
                        text = t;
                        size = new_size;
                }
                size_t n = fread(text + len, 1, size - len, f);
                len += n;
                if (n == 0)
                        break;
        }
        if (ferror(f)) {
                int e = errno ?: EIO;
                fclose(f);
                return policy_error(err, -e, NULL, NULL, "%s: cannot read: %s", path, strerror(e));
        }
        fclose(f);

        return scenario_parse_string(text, len, path, ret, err);
}

void scenario_done(Scenario *s) {
        free(s->file);
        policy_done(&s->policy);
        for (size_t i = 0; i < s->n_load; i++) {
                free(s->load[i].vm);
                free(s->load[i].device);
        }
        free(s->load);
        for (size_t i = 0; i < s->n_events; i++) {
                ScenarioEvent *e = &s->events[i];

                policy_done(&e->policy);
                free(e->vm);
                for (size_t j = 0; j < e->argc; j++)
                        free(e->argv[j]);
                free(e->argv);
                for (size_t j = 0; j < e->n_keys; j++) {
                        free(e->keys[j]);
                        free(e->values ? e->values[j] : NULL);
                }
                free(e->keys);
                free(e->values);
        }
        free(s->events);
        for (size_t i = 0; i < s->expect.n_cpu_fraction; i++)
                free(s->expect.cpu_fraction[i].vm);
        free(s->expect.cpu_fraction);
        for (size_t i = 0; i < s->expect.n_io_bps; i++)
                free(s->expect.io_bps[i].vm);
        free(s->expect.io_bps);
        for (size_t i = 0; i < s->n_files; i++) {
                free(s->files[i].vm);
                free(s->files[i].file);
                free(s->files[i].value);
        }
        free(s->files);
        for (size_t i = 0; i < s->n_vms; i++)
                free(s->vms[i]);
        free(s->vms);
        *s = (Scenario){};
}

int scenario_vm_index(const Scenario *s, const char *name) {
        for (size_t i = 0; i < s->n_vms; i++)
                if (strcmp(s->vms[i], name) == 0)
                        return (int)i;
        return -ENOENT;
}

bool scenario_event_is_cgroup(const ScenarioEvent *e) {
        return e->kind == SCENARIO_EVENT_CGROUP_ADD || e->kind == SCENARIO_EVENT_CGROUP_REMOVE;
}

int scenario_load_vm_at(const Scenario *s, size_t load, uint64_t t_usec) {
        const char *vm = s->load[load].vm;

        for (size_t i = 0; i < s->n_events && s->events[i].at_usec <= t_usec; i++)
                if (s->events[i].kind == SCENARIO_EVENT_MOVE && s->events[i].load == load)
                        vm = s->events[i].vm;
        return scenario_vm_index(s, vm);
}

bool scenario_vm_starts_present(const Scenario *s, const char *name) {
        for (size_t i = 0; i < s->n_events; i++) {
                const ScenarioEvent *e = &s->events[i];
                if (scenario_event_is_cgroup(e) && strcmp(e->vm, name) == 0)
                        return e->kind != SCENARIO_EVENT_CGROUP_ADD;
        }
        return true;
}
