/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/units.h"
#include "results.h"

/* Nesting deeper than this is no result file: it bounds the recursion. */
#define RESULTS_JSON_DEPTH_MAX 32

/* A JSON number is at most this long here: a double needs 24 characters. */
#define RESULTS_NUMBER_MAX 64

/* Rounding in the figures printed and read back: a thousandth of what a
 * tolerance is ever set to. */
#define RESULTS_EPSILON 1e-9

typedef struct Json {
        const char *s;
        size_t len;
        size_t pos;
        unsigned depth;
        const char *file;
        PolicyError *err;
} Json;

void results_init(Results *r) {
        *r = (Results){.utilization = NAN, .restored = -1};
}

void results_done(Results *r) {
        for (size_t i = 0; i < r->n_vms; i++)
                free(r->vms[i].name);
        free(r->vms);
        results_init(r);
}

ResultVm *results_add_vm(Results *r, const char *name) {
        ResultVm *vms = realloc(r->vms, (r->n_vms + 1) * sizeof(*vms));
        char *copy = strdup(name);

        if (vms)
                r->vms = vms;
        if (!vms || !copy) {
                free(copy);
                return NULL;
        }
        vms[r->n_vms] = (ResultVm){.name = copy, .cpu_fraction = NAN, .transitions_per_sec = NAN, .io_bps = NAN};
        return &vms[r->n_vms++];
}

const ResultVm *results_find_vm(const Results *r, const char *name) {
        for (size_t i = 0; i < r->n_vms; i++)
                if (strcmp(r->vms[i].name, name) == 0)
                        return &r->vms[i];
        return NULL;
}

/* ---- JSON ---- */

static int json_fail(Json *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int json_fail(Json *j, const char *fmt, ...) {
        SourceLoc loc = {.file = j->file, .line = 1, .column = 1};
        char what[256];
        va_list ap;

        for (size_t i = 0; i < j->pos && i < j->len; i++) {
                if (j->s[i] == '\n') {
                        loc.line++;
                        loc.column = 1;
                } else
                        loc.column++;
        }
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        return policy_error(j->err, -EINVAL, &loc, NULL, "%s", what);
}

static void json_ws(Json *j) {
        while (j->pos < j->len && strchr(" \t\r\n", j->s[j->pos]) && j->s[j->pos])
                j->pos++;
}

static int json_peek(Json *j) {
        json_ws(j);
        return j->pos < j->len ? (unsigned char)j->s[j->pos] : -1;
}

static int json_expect(Json *j, char c) {
        if (json_peek(j) != c)
                return json_fail(j, "expected '%c'", c);
        j->pos++;
        return 0;
}

static int json_literal(Json *j, const char *word) {
        size_t n = strlen(word);

        if (j->len - j->pos < n || memcmp(j->s + j->pos, word, n) != 0)
                return json_fail(j, "expected %s", word);
        j->pos += n;
        return 0;
}

static void utf8_put(char *buf, size_t *n, unsigned cp) {
        if (cp < 0x80)
                buf[(*n)++] = (char)cp;
        else if (cp < 0x800) {
                buf[(*n)++] = (char)(0xc0 | (cp >> 6));
                buf[(*n)++] = (char)(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
                buf[(*n)++] = (char)(0xe0 | (cp >> 12));
                buf[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                buf[(*n)++] = (char)(0x80 | (cp & 0x3f));
        } else {
                buf[(*n)++] = (char)(0xf0 | (cp >> 18));
                buf[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
                buf[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                buf[(*n)++] = (char)(0x80 | (cp & 0x3f));
        }
}

static int json_hex4(Json *j, unsigned *ret) {
        unsigned v = 0;

        if (j->len - j->pos < 4)
                return json_fail(j, "a \\u escape needs four hex digits");
        for (int i = 0; i < 4; i++) {
                char c = j->s[j->pos++];
                v <<= 4;
                if (c >= '0' && c <= '9')
                        v |= (unsigned)(c - '0');
                else if (c >= 'a' && c <= 'f')
                        v |= (unsigned)(c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        v |= (unsigned)(c - 'A' + 10);
                else
                        return json_fail(j, "a \\u escape needs four hex digits");
        }
        *ret = v;
        return 0;
}

/* A string; *ret (malloc()ed) if ret is not NULL. */
static int json_string(Json *j, char **ret) {
        char *buf;
        size_t n = 0;
        int r;

        if (json_peek(j) != '"')
                return json_fail(j, "expected a string");
        j->pos++;
        /* Escapes only shrink what they stand for: the rest of the text bounds the result. */
        buf = malloc(j->len - j->pos + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                unsigned char c;

                if (j->pos >= j->len) {
                        free(buf);
                        return json_fail(j, "unterminated string");
                }
                c = (unsigned char)j->s[j->pos++];
                if (c == '"')
                        break;
                if (c < 0x20) {
                        j->pos--;
                        free(buf);
                        return json_fail(j, "a control character in a string");
                }
                if (c != '\\') {
                        buf[n++] = (char)c;
                        continue;
                }
                if (j->pos >= j->len) {
                        free(buf);
                        return json_fail(j, "unterminated string");
                }
                c = (unsigned char)j->s[j->pos++];
                switch (c) {
                        case '"':
                        case '\\':
                        case '/':
                                buf[n++] = (char)c;
                                break;
                        case 'b':
                                buf[n++] = '\b';
                                break;
                        case 'f':
                                buf[n++] = '\f';
                                break;
                        case 'n':
                                buf[n++] = '\n';
                                break;
                        case 'r':
                                buf[n++] = '\r';
                                break;
                        case 't':
                                buf[n++] = '\t';
                                break;
                        case 'u': {
                                unsigned cp, lo;

                                r = json_hex4(j, &cp);
                                if (r >= 0 && cp >= 0xd800 && cp < 0xdc00) {
                                        if (j->len - j->pos < 2 || j->s[j->pos] != '\\' || j->s[j->pos + 1] != 'u')
                                                r = json_fail(j, "a lone surrogate in a \\u escape");
                                        else {
                                                j->pos += 2;
                                                r = json_hex4(j, &lo);
                                                if (r >= 0 && (lo < 0xdc00 || lo >= 0xe000))
                                                        r = json_fail(j, "a lone surrogate in a \\u escape");
                                                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                                        }
                                } else if (r >= 0 && cp >= 0xdc00 && cp < 0xe000)
                                        r = json_fail(j, "a lone surrogate in a \\u escape");
                                if (r >= 0 && cp == 0)
                                        r = json_fail(j, "a NUL character in a string");
                                if (r < 0) {
                                        free(buf);
                                        return r;
                                }
                                utf8_put(buf, &n, cp);
                                break;
                        }
                        default:
                                j->pos -= 2; /* at the backslash */
                                free(buf);
                                return json_fail(j, "unknown escape \\%c", c);
                }
        }
        buf[n] = '\0';
        if (ret)
                *ret = buf;
        else
                free(buf);
        return 0;
}

/* A number by JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int json_number(Json *j, double *ret) {
        size_t start, p;
        char buf[RESULTS_NUMBER_MAX];
        double v;

        json_ws(j);
        start = p = j->pos;
#define DIGITS(min)                                                                                                   \
        do {                                                                                                          \
                size_t d = p;                                                                                         \
                while (p < j->len && isdigit((unsigned char)j->s[p]))                                                 \
                        p++;                                                                                          \
                if (p - d < (min))                                                                                    \
                        return json_fail(j, "expected a number");                                                     \
        } while (0)
        if (p < j->len && j->s[p] == '-')
                p++;
        if (p < j->len && j->s[p] == '0')
                p++;
        else
                DIGITS(1);
        if (p < j->len && j->s[p] == '.') {
                p++;
                DIGITS(1);
        }
        if (p < j->len && (j->s[p] == 'e' || j->s[p] == 'E')) {
                p++;
                if (p < j->len && (j->s[p] == '+' || j->s[p] == '-'))
                        p++;
                DIGITS(1);
        }
#undef DIGITS
        if (p - start >= sizeof(buf))
                return json_fail(j, "a number too long");
        memcpy(buf, j->s + start, p - start);
        buf[p - start] = '\0';
        errno = 0;
        v = strtod(buf, NULL);
        if (errno != 0 || !isfinite(v))
                return json_fail(j, "%s is out of range", buf);
        j->pos = p;
        *ret = v;
        return 0;
}

/* A number, or null (NAN). */
static int json_figure(Json *j, double *ret) {
        if (json_peek(j) == 'n') {
                int r = json_literal(j, "null");
                if (r >= 0)
                        *ret = NAN;
                return r;
        }
        return json_number(j, ret);
}

static int json_skip(Json *j);

/* An object, calling each(j, key, userdata) with the position at the key's value. */
static int json_object(Json *j, int (*each)(Json *j, const char *key, void *userdata), void *userdata) {
        int r;

        if (j->depth >= RESULTS_JSON_DEPTH_MAX)
                return json_fail(j, "nested too deep");
        r = json_expect(j, '{');
        if (r < 0)
                return r;
        j->depth++;
        if (json_peek(j) == '}') {
                j->pos++;
                j->depth--;
                return 0;
        }
        for (;;) {
                char *key = NULL;

                r = json_string(j, &key);
                if (r >= 0)
                        r = json_expect(j, ':');
                if (r >= 0)
                        r = each ? each(j, key, userdata) : json_skip(j);
                free(key);
                if (r < 0)
                        return r;
                if (json_peek(j) == ',') {
                        j->pos++;
                        continue;
                }
                r = json_expect(j, '}');
                if (r < 0)
                        return r;
                j->depth--;
                return 0;
        }
}

static int json_skip(Json *j) {
        int c = json_peek(j), r;

        switch (c) {
                case '{':
                        return json_object(j, NULL, NULL);
                case '[':
                        if (j->depth >= RESULTS_JSON_DEPTH_MAX)
                                return json_fail(j, "nested too deep");
                        j->pos++;
                        j->depth++;
                        if (json_peek(j) == ']') {
                                j->pos++;
                                j->depth--;
                                return 0;
                        }
                        for (;;) {
                                r = json_skip(j);
                                if (r < 0)
                                        return r;
                                if (json_peek(j) == ',') {
                                        j->pos++;
                                        continue;
                                }
                                r = json_expect(j, ']');
                                if (r < 0)
                                        return r;
                                j->depth--;
                                return 0;
                        }
                case '"':
                        return json_string(j, NULL);
                case 't':
                        return json_literal(j, "true");
                case 'f':
                        return json_literal(j, "false");
                case 'n':
                        return json_literal(j, "null");
                default: {
                        double ignored;
                        return json_number(j, &ignored);
                }
        }
}

static int each_vm_field(Json *j, const char *key, void *userdata) {
        ResultVm *v = userdata;

        if (strcmp(key, "cpu_fraction") == 0)
                return json_figure(j, &v->cpu_fraction);
        if (strcmp(key, "transitions_per_sec") == 0)
                return json_figure(j, &v->transitions_per_sec);
        if (strcmp(key, "io_bps") == 0)
                return json_figure(j, &v->io_bps);
        return json_skip(j);
}

static int each_vm(Json *j, const char *key, void *userdata) {
        Results *res = userdata;
        ResultVm *v;

        json_ws(j);
        if (results_find_vm(res, key))
                return json_fail(j, "VM \"%s\" twice", key);
        v = results_add_vm(res, key);
        if (!v)
                return -ENOMEM;
        if (json_peek(j) != '{')
                return json_fail(j, "expected an object of figures for VM \"%s\"", key);
        return json_object(j, each_vm_field, v);
}

static int each_top(Json *j, const char *key, void *userdata) {
        Results *res = userdata;

        if (strcmp(key, "utilization") == 0)
                return json_figure(j, &res->utilization);
        if (strcmp(key, "vms") == 0) {
                if (json_peek(j) != '{')
                        return json_fail(j, "expected an object of VMs");
                return json_object(j, each_vm, res);
        }
        if (strcmp(key, "restored") == 0) {
                int c = json_peek(j), r;

                if (c == 't') {
                        r = json_literal(j, "true");
                        res->restored = 1;
                } else if (c == 'f') {
                        r = json_literal(j, "false");
                        res->restored = 0;
                } else {
                        r = json_literal(j, "null");
                        res->restored = -1;
                }
                return r;
        }
        return json_skip(j);
}

int results_parse_json(const char *text, size_t len, const char *file, Results *ret, PolicyError *err) {
        Json j = {.s = text, .len = len, .file = file, .err = err};
        Results res;
        int r;

        results_init(&res);
        if (json_peek(&j) != '{')
                r = json_fail(&j, "expected a JSON object");
        else
                r = json_object(&j, each_top, &res);
        if (r >= 0 && json_peek(&j) != -1)
                r = json_fail(&j, "text after the JSON object");
        if (r == -ENOMEM)
                policy_error(err, r, NULL, NULL, "%s: out of memory", file);
        if (r < 0) {
                results_done(&res);
                return r;
        }
        *ret = res;
        return 0;
}

/* ---- The check ---- */

typedef struct Lines {
        CheckLine *lines;
        size_t n;
} Lines;

static int line_add(Lines *l, bool pass, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int line_add(Lines *l, bool pass, const char *fmt, ...) {
        CheckLine *lines = realloc(l->lines, (l->n + 1) * sizeof(*lines));
        va_list ap;

        if (!lines)
                return -ENOMEM;
        l->lines = lines;
        lines[l->n].pass = pass;
        va_start(ap, fmt);
        vsnprintf(lines[l->n].text, sizeof(lines[l->n].text), fmt, ap);
        va_end(ap);
        l->n++;
        return 0;
}

/* "PASS what: expected E +/- T, got G" (or "not measured"). */
static int check_absolute(Lines *l, const char *what, double expected, double tolerance, double got) {
        bool pass = isfinite(got) && fabs(got - expected) <= tolerance + RESULTS_EPSILON;

        if (isnan(got))
                return line_add(l, false, "FAIL %s: expected %g +/- %g, not measured", what, expected, tolerance);
        return line_add(l, pass, "%s %s: expected %g +/- %g, got %.4f", pass ? "PASS" : "FAIL", what, expected,
                        tolerance, got);
}

int results_check(const Scenario *sc, const Results *res, const CheckTolerance *tol, CheckLine **ret_lines,
                  size_t *ret_n) {
        const ScenarioExpect *x = &sc->expect;
        double cpu_tol = tol->cpu >= 0 ? tol->cpu : x->tolerance;
        Lines l = {};
        int r = 0;

        for (size_t i = 0; r >= 0 && i < x->n_cpu_fraction; i++) {
                const ResultVm *v = results_find_vm(res, x->cpu_fraction[i].vm);
                char what[300];

                snprintf(what, sizeof(what), "cpu_fraction %s", x->cpu_fraction[i].vm);
                r = check_absolute(&l, what, x->cpu_fraction[i].fraction, cpu_tol, v ? v->cpu_fraction : NAN);
        }
        if (r >= 0 && x->has_utilization)
                r = check_absolute(&l, "utilization", x->utilization, cpu_tol, res->utilization);
        if (r >= 0 && x->has_max_transitions) {
                const ResultVm *worst = NULL;

                for (size_t i = 0; i < res->n_vms; i++)
                        if (!isnan(res->vms[i].transitions_per_sec) &&
                            (!worst || res->vms[i].transitions_per_sec > worst->transitions_per_sec))
                                worst = &res->vms[i];
                if (!worst)
                        r = line_add(&l, false,
                                     "FAIL max_transitions_per_sec: expected at most %g per VM, not measured",
                                     x->max_transitions_per_sec);
                else {
                        bool pass = worst->transitions_per_sec <= x->max_transitions_per_sec;
                        r = line_add(&l, pass, "%s max_transitions_per_sec: expected at most %g per VM, got %.3f (%s)",
                                     pass ? "PASS" : "FAIL", x->max_transitions_per_sec, worst->transitions_per_sec,
                                     worst->name);
                }
        }
        for (size_t i = 0; r >= 0 && i < x->n_io_bps; i++) {
                const ResultVm *v = results_find_vm(res, x->io_bps[i].vm);
                double want = (double)x->io_bps[i].bytes_per_sec, got = v ? v->io_bps : NAN;
                char w[UNIT_FORMAT_MAX];

                unit_format_bytes(x->io_bps[i].bytes_per_sec, w, sizeof(w));
                if (isnan(got))
                        r = line_add(&l, false, "FAIL io_bps %s: expected %s/s +/- %g%%, not measured",
                                     x->io_bps[i].vm, w, tol->io * 100);
                else {
                        bool pass = fabs(got - want) <= tol->io * want + RESULTS_EPSILON;
                        r = line_add(&l, pass, "%s io_bps %s: expected %s/s +/- %g%%, got %.0f B/s (%.3f of it)",
                                     pass ? "PASS" : "FAIL", x->io_bps[i].vm, w, tol->io * 100, got,
                                     want > 0 ? got / want : NAN);
                }
        }
        if (r >= 0 && (x->expect_restored || res->restored >= 0)) {
                if (res->restored < 0)
                        r = line_add(&l, false, "FAIL restored: expected every cgroup file back, not measured");
                else
                        r = line_add(&l, res->restored == 1, "%s restored: expected every cgroup file back, %s",
                                     res->restored == 1 ? "PASS" : "FAIL",
                                     res->restored == 1 ? "they were" : "some were left changed");
        }
        if (r < 0) {
                free(l.lines);
                return r;
        }
        *ret_lines = l.lines;
        *ret_n = l.n;
        return 0;
}
