/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "fileio.h"
#include "policy/units.h"

/* What a value parser reports: the "what" part of "FILE:LINE: [section] key: what". */
typedef struct ValueError {
        char what[512];
} ValueError;

typedef int (*ConfigValueParser)(const char *value, Config *c, size_t offset, ValueError *err);

typedef struct ConfigKey {
        const char *section;
        const char *name;
        ConfigValueParser parse;
        size_t offset; /* of the field in Config */
} ConfigKey;

/* The state of one parse, passed to inih's callbacks. */
typedef struct ConfigParse {
        const char *file;
        const char *next; /* the text not yet handed to inih */
        unsigned line;    /* of the line last handed to inih */
        bool line_too_long;
        int line_max; /* the longest line inih's buffer takes */
        Config config;
        unsigned *set_on_line; /* per key of config_keys: 0 unset, else the line */
        int error;             /* the first error a handler met, 0 if none */
        unsigned error_line;
        ConfigError *err;
        /* The section the reader is in: what inih does not say (a section
         * without keys, text after "[name]"), checked line by line. */
        char section[64];
        unsigned section_line; /* its "[name]" line, 0 before the first */
        unsigned section_keys; /* key lines since */
} ConfigParse;

static int value_error(ValueError *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int value_error(ValueError *err, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(err->what, sizeof(err->what), fmt, ap);
        va_end(ap);
        return -EINVAL;
}

static int set_string(char **field, const char *value) {
        char *copy = strdup(value);

        if (!copy)
                return -ENOMEM;
        free(*field);
        *field = copy;
        return 0;
}

#define FIELD(c, offset, type) ((type *)((char *)(c) + (offset)))

static int parse_path_common(const char *value, Config *c, size_t offset, ValueError *err, bool may_be_empty) {
        char **field = FIELD(c, offset, char *);

        if (!*value) {
                if (!may_be_empty)
                        return value_error(err, "must not be empty");
                free(*field);
                *field = NULL;
                return 0;
        }
        if (value[0] != '/')
                return value_error(err, "'%s' is not an absolute path", value);
        return set_string(field, value);
}

static int parse_path(const char *value, Config *c, size_t offset, ValueError *err) {
        return parse_path_common(value, c, offset, err, false);
}

static int parse_path_or_empty(const char *value, Config *c, size_t offset, ValueError *err) {
        return parse_path_common(value, c, offset, err, true);
}

static int parse_tick(const char *value, Config *c, size_t offset, ValueError *err) {
        uint64_t usec;
        int r;

        r = unit_parse_duration(value, &usec);
        if (r == -EDOM)
                return value_error(err, "'%s' is negative", value);
        if (r == -ERANGE)
                return value_error(err, "'%s' is too large or too precise (allowed 1ms..1s)", value);
        if (r < 0)
                return value_error(err, "'%s' is not a duration (a number and a unit: 10ms, 1s)", value);
        if (usec < CONFIG_TICK_MIN_USEC || usec > CONFIG_TICK_MAX_USEC)
                return value_error(err, "'%s' is out of range (allowed 1ms..1s)", value);

        *FIELD(c, offset, uint64_t) = usec;
        return 0;
}

static int parse_bool(const char *value, Config *c, size_t offset, ValueError *err) {
        static const char *const yes[] = {"yes", "true", "on", "1"};
        static const char *const no[] = {"no", "false", "off", "0"};

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(value, yes[i]) == 0) {
                        *FIELD(c, offset, bool) = true;
                        return 0;
                }
                if (strcasecmp(value, no[i]) == 0) {
                        *FIELD(c, offset, bool) = false;
                        return 0;
                }
        }
        return value_error(err, "'%s' is not a boolean (yes/no, true/false, on/off, 1/0)", value);
}

/* A percentage "10%" or "2.5%", 0..CONFIG_HOST_RESERVE_MAX_PPM, into parts per million. */
static int parse_host_reserve(const char *value, Config *c, size_t offset, ValueError *err) {
        uint64_t ppm = 0, scale = 10000; /* ppm of one percent */
        const char *p = value;
        bool digits = false;

        for (; *p >= '0' && *p <= '9'; p++, digits = true) {
                ppm = ppm * 10 + (uint64_t)(*p - '0') * 10000;
                if (ppm > CONFIG_HOST_RESERVE_MAX_PPM * 10ULL)
                        break;
        }
        if (*p == '.')
                for (p++; *p >= '0' && *p <= '9' && scale > 1; p++, digits = true) {
                        scale /= 10;
                        ppm += (uint64_t)(*p - '0') * scale;
                }
        if (!digits || strcmp(p, "%") != 0)
                return value_error(err, "'%s' is not a percentage (like 10%% or 2.5%%)", value);
        if (ppm > CONFIG_HOST_RESERVE_MAX_PPM)
                return value_error(err, "'%s' is out of range (allowed 0%%..50%%)", value);
        *FIELD(c, offset, uint32_t) = (uint32_t)ppm;
        return 0;
}

/* The D-Bus specification's rules for a well-known bus name: at most 255
 * characters, two or more dot-separated elements of [A-Za-z0-9_-], none
 * empty or starting with a digit. */
#define BUS_NAME_MAX 255

static bool bus_name_valid(const char *s) {
        size_t len = strlen(s);
        unsigned elements = 1;
        bool element_start = true;

        if (len == 0 || len > BUS_NAME_MAX)
                return false;
        for (const char *p = s; *p; p++) {
                if (*p == '.') {
                        if (element_start)
                                return false;
                        elements++;
                        element_start = true;
                        continue;
                }
                if (!(isascii((unsigned char)*p) && (isalnum((unsigned char)*p) || *p == '_' || *p == '-')))
                        return false;
                if (element_start && isdigit((unsigned char)*p))
                        return false;
                element_start = false;
        }
        return !element_start && elements >= 2;
}

static int parse_bus_name(const char *value, Config *c, size_t offset, ValueError *err) {
        if (!bus_name_valid(value))
                return value_error(err, "'%s' is not a D-Bus well-known name (like %s)", value,
                                   CONFIG_DEFAULT_BUS_NAME);
        return set_string(FIELD(c, offset, char *), value);
}

/* "127.0.0.1:9717", "[::1]:9717", or "" (no endpoint).  The address must be
 * numeric: resolving names would be I/O, and a listener binds to an address. */
static int parse_listen(const char *value, Config *c, size_t offset, ValueError *err) {
        char address[INET6_ADDRSTRLEN + 1];
        unsigned char buf[sizeof(struct in6_addr)];
        const char *colon, *port_text;
        char *end;
        unsigned long port;
        size_t address_len;
        int family;

        (void)offset;

        if (!*value) {
                free(c->metrics_listen);
                free(c->metrics_address);
                c->metrics_listen = c->metrics_address = NULL;
                c->metrics_family = 0;
                c->metrics_port = 0;
                return 0;
        }

        if (value[0] == '[') {
                const char *close = strchr(value, ']');

                if (!close || close[1] != ':')
                        goto bad;
                family = AF_INET6;
                address_len = (size_t)(close - value - 1);
                if (address_len == 0 || address_len >= sizeof(address))
                        goto bad;
                memcpy(address, value + 1, address_len);
                colon = close + 1;
        } else {
                colon = strrchr(value, ':');
                if (!colon)
                        goto bad;
                family = AF_INET;
                address_len = (size_t)(colon - value);
                if (address_len == 0 || address_len >= sizeof(address))
                        goto bad;
                memcpy(address, value, address_len);
        }
        address[address_len] = '\0';
        if (inet_pton(family, address, buf) != 1)
                goto bad;

        port_text = colon + 1;
        if (!isdigit((unsigned char)port_text[0]))
                goto bad;
        errno = 0;
        port = strtoul(port_text, &end, 10);
        if (*end || errno != 0)
                goto bad;
        if (port < 1 || port > 65535)
                return value_error(err, "'%s': port %s is out of range (allowed 1..65535)", value, port_text);

        if (set_string(&c->metrics_listen, value) < 0 || set_string(&c->metrics_address, address) < 0)
                return -ENOMEM;
        c->metrics_family = family;
        c->metrics_port = (uint16_t)port;
        return 0;

bad:
        return value_error(err, "'%s' is not ADDRESS:PORT (like 127.0.0.1:9717 or [::1]:9717)", value);
}

/* As the kernel's dev_valid_name(): 1..15 characters, not "." or "..", no
 * '/', ':' or white space. */
static int ifname_check(const char *name, size_t len, ValueError *err) {
        if (len > CONFIG_IFNAME_MAX)
                return value_error(err, "'%.*s' is longer than %d characters", (int)len, name, CONFIG_IFNAME_MAX);
        if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
                return value_error(err, "'%.*s' is not an interface name", (int)len, name);
        for (size_t i = 0; i < len; i++)
                if (name[i] == '/' || name[i] == ':' || !isgraph((unsigned char)name[i]))
                        return value_error(err, "'%.*s' is not an interface name", (int)len, name);
        return 0;
}

static void strv_free(char **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

/* A list separated by white space or commas; empty: none. */
static int parse_interfaces(const char *value, Config *c, size_t offset, ValueError *err) {
        static const char separators[] = " \t,";
        char **list = NULL;
        size_t n = 0;
        int r;

        (void)offset;

        for (const char *p = value + strspn(value, separators); *p; p += strspn(p, separators)) {
                size_t len = strcspn(p, separators);
                char **grown;

                r = ifname_check(p, len, err);
                if (r < 0)
                        goto fail;
                for (size_t i = 0; i < n; i++)
                        if (strlen(list[i]) == len && memcmp(list[i], p, len) == 0) {
                                r = value_error(err, "'%.*s' is listed twice", (int)len, p);
                                goto fail;
                        }

                grown = realloc(list, (n + 1) * sizeof(char *));
                if (!grown) {
                        r = -ENOMEM;
                        goto fail;
                }
                list = grown;
                list[n] = strndup(p, len);
                if (!list[n]) {
                        r = -ENOMEM;
                        goto fail;
                }
                n++;
                p += len;
        }

        strv_free(c->network_interfaces, c->n_network_interfaces);
        c->network_interfaces = list;
        c->n_network_interfaces = n;
        return 0;

fail:
        strv_free(list, n);
        return r;
}

/* "adaptive" or "every-tick" (usage.h). */
static int parse_usage_reads(const char *value, Config *c, size_t offset, ValueError *err) {
        int r = usage_reads_from_string(value);

        (void)offset;
        if (r < 0)
                return value_error(err, "'%s' is neither adaptive nor every-tick", value);
        c->usage_reads = (UsageReads)r;
        return 0;
}

/* "pace" or "drop". */
static int parse_network_mode(const char *value, Config *c, size_t offset, ValueError *err) {
        (void)offset;
        if (strcmp(value, "pace") == 0)
                c->network_mode = CONFIG_NETWORK_PACE;
        else if (strcmp(value, "drop") == 0)
                c->network_mode = CONFIG_NETWORK_DROP;
        else
                return value_error(err, "'%s' is neither pace nor drop", value);
        return 0;
}

static const ConfigKey config_keys[] = {
        {"schedd", "policy", parse_path, offsetof(Config, policy_path)},
        {"schedd", "override_dir", parse_path_or_empty, offsetof(Config, override_dir)},
        {"schedd", "cgroup_root", parse_path, offsetof(Config, cgroup_root)},
        {"schedd", "tick", parse_tick, offsetof(Config, tick_usec)},
        {"schedd", "state_dir", parse_path, offsetof(Config, state_dir)},
        {"schedd", "schedule_cpu", parse_bool, offsetof(Config, schedule_cpu)},
        {"schedd", "fake_cgroup_root", parse_bool, offsetof(Config, fake_cgroup_root)},
        {"schedd", "reassert", parse_bool, offsetof(Config, reassert)},
        {"schedd", "host_reserve", parse_host_reserve, offsetof(Config, host_reserve_ppm)},
        {"schedd", "usage_reads", parse_usage_reads, 0},
        {"bus", "enable", parse_bool, offsetof(Config, bus_enable)},
        {"bus", "name", parse_bus_name, offsetof(Config, bus_name)},
        {"metrics", "listen", parse_listen, 0},
        {"network", "interfaces", parse_interfaces, 0},
        {"network", "mode", parse_network_mode, 0},
};

int config_init(Config *c) {
        ValueError ignored;

        *c = (Config){
                .tick_usec = CONFIG_TICK_DEFAULT_USEC,
                .schedule_cpu = true,
                .reassert = true,
                .host_reserve_ppm = CONFIG_HOST_RESERVE_DEFAULT_PPM,
                .bus_enable = true,
                .network_mode = CONFIG_NETWORK_PACE,
        };
        if (set_string(&c->policy_path, CONFIG_DEFAULT_POLICY) < 0 ||
            set_string(&c->override_dir, CONFIG_DEFAULT_OVERRIDE_DIR) < 0 ||
            set_string(&c->cgroup_root, CONFIG_DEFAULT_CGROUP_ROOT) < 0 ||
            set_string(&c->state_dir, CONFIG_DEFAULT_STATE_DIR) < 0 ||
            set_string(&c->bus_name, CONFIG_DEFAULT_BUS_NAME) < 0 ||
            parse_listen(CONFIG_DEFAULT_METRICS_LISTEN, c, 0, &ignored) < 0) {
                config_done(c);
                return -ENOMEM;
        }
        return 0;
}

void config_done(Config *c) {
        free(c->policy_path);
        free(c->override_dir);
        free(c->cgroup_root);
        free(c->state_dir);
        free(c->bus_name);
        free(c->metrics_listen);
        free(c->metrics_address);
        strv_free(c->network_interfaces, c->n_network_interfaces);
        *c = (Config){};
}

static int parse_errorv(ConfigParse *p, int code, const char *fmt, va_list ap) {
        int n;

        if (p->error != 0) /* keep the first */
                return code;
        p->error = code;
        p->error_line = p->line;
        if (!p->err)
                return code;

        n = snprintf(p->err->message, sizeof(p->err->message), "%s:%u: ", p->file, p->line);
        if (n >= 0 && (size_t)n < sizeof(p->err->message))
                vsnprintf(p->err->message + n, sizeof(p->err->message) - (size_t)n, fmt, ap);
        return code;
}

static int parse_error(ConfigParse *p, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int parse_error(ConfigParse *p, int code, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        parse_errorv(p, code, fmt, ap);
        va_end(ap);
        return code;
}

/* For inih's handler, which returns nonzero to go on and zero for an error
 * (inih then goes on parsing; only the first error is kept). */
static int handler_error(ConfigParse *p, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int handler_error(ConfigParse *p, int code, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        parse_errorv(p, code, fmt, ap);
        va_end(ap);
        return 0;
}

/* inih's reader: hands over one line at a time, so that p->line is the
 * number of the line inih is working on when it calls the handler.  Leading
 * white space is dropped: indented keys are plain keys here, never inih's
 * continuation lines.  A line that does not fit inih's buffer ends the
 * parse (inih would silently split it). */
static int parse_error(ConfigParse *p, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static bool section_is_known(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(config_keys); i++)
                if (strcmp(config_keys[i].section, name) == 0)
                        return true;
        return false;
}

/* A section that sets nothing is a mistake (a key left out, or a section
 * named wrong): an error on its "[name]" line. */
static void section_end(ConfigParse *p) {
        unsigned line = p->line;

        if (p->section_line == 0 || p->section_keys > 0)
                return;
        p->line = p->section_line;
        parse_error(p, -EINVAL, "[%s]: empty section (set a key in it, or leave it out)", p->section);
        p->line = line;
}

/* What inih lets pass in a line (`line`, `len` bytes, leading blanks gone):
 * text after "[name]" (inih drops it), a section without keys, and an
 * unknown section even when it has no keys. */
static void check_line(ConfigParse *p, const char *line, size_t len) {
        const char *close, *rest;

        if (len == 0 || line[0] == ';' || line[0] == '#')
                return;
        if (line[0] != '[') {
                p->section_keys++;
                return;
        }

        close = memchr(line, ']', len);
        if (!close)
                return; /* inih reports it */
        section_end(p);
        snprintf(p->section, sizeof(p->section), "%.*s", (int)(close - line - 1), line + 1);
        p->section_line = p->line;
        p->section_keys = 0;

        for (rest = close + 1; rest < line + len && (*rest == ' ' || *rest == '\t' || *rest == '\r'); rest++)
                ;
        if (rest < line + len && *rest != ';' && *rest != '#')
                parse_error(p, -EINVAL, "'%.*s': text after the section header [%s]", (int)len, line, p->section);
        else if (!section_is_known(p->section))
                parse_error(p, -EINVAL, "unknown section [%s] (sections: [schedd], [bus], [metrics], [network])",
                            p->section);
}

static char *config_reader(char *str, int num, void *userdata) {
        ConfigParse *p = userdata;
        const char *start, *end;
        size_t len;

        if (!*p->next) {
                section_end(p);
                return NULL;
        }
        if (p->line_too_long)
                return NULL;

        start = p->next;
        end = strchrnul(start, '\n');
        p->next = *end ? end + 1 : end;
        p->line++;

        while (start < end && (*start == ' ' || *start == '\t'))
                start++;
        len = (size_t)(end - start);
        /* inih wants room for the line, its newline and the NUL. */
        if (num < 2 || len + 2 > (size_t)num) {
                p->line_too_long = true;
                p->line_max = num - 2;
                return NULL;
        }
        check_line(p, start, len);
        memcpy(str, start, len);
        str[len] = '\n';
        str[len + 1] = '\0';
        return str;
}

static int config_handler(void *userdata, const char *section, const char *name, const char *value) {
        ConfigParse *p = userdata;
        bool section_known = false;
        ValueError verr;
        int r;

        if (!*section)
                return handler_error(p, -EINVAL,
                                     "%s: key outside of any section (sections: [schedd], [bus], "
                                     "[metrics], [network])",
                                     name);
        if (!*name)
                return handler_error(p, -EINVAL, "[%s]: syntax error: '=' without a key", section);

        for (size_t i = 0; i < ELEMENTSOF(config_keys); i++) {
                const ConfigKey *k = &config_keys[i];

                if (strcmp(k->section, section) != 0)
                        continue;
                section_known = true;
                if (strcmp(k->name, name) != 0)
                        continue;

                if (p->set_on_line[i] != 0)
                        return handler_error(p, -EINVAL, "[%s] %s: set twice (first on line %u)", section, name,
                                             p->set_on_line[i]);
                p->set_on_line[i] = p->line;

                r = k->parse(value, &p->config, k->offset, &verr);
                if (r == -ENOMEM)
                        return handler_error(p, -ENOMEM, "[%s] %s: out of memory", section, name);
                if (r < 0)
                        return handler_error(p, r, "[%s] %s: %s", section, name, verr.what);
                return 1;
        }

        if (!section_known)
                return handler_error(p, -EINVAL,
                                     "[%s] %s: unknown section [%s] (sections: [schedd], [bus], "
                                     "[metrics], [network])",
                                     section, name, section);
        return handler_error(p, -EINVAL, "[%s] %s: unknown key", section, name);
}

int config_parse_string(const char *text, const char *file, Config *ret, ConfigError *err) {
        unsigned set_on_line[ELEMENTSOF(config_keys)] = {};
        ConfigParse p = {
                .file = file ?: "<config>",
                .next = text,
                .set_on_line = set_on_line,
                .err = err,
        };
        int r;

        r = config_init(&p.config);
        if (r < 0) {
                if (err)
                        snprintf(err->message, sizeof(err->message), "%s: out of memory", p.file);
                return r;
        }

        r = ini_parse_stream(config_reader, &p, config_handler, &p);
        if (r > 0 && (p.error == 0 || (unsigned)r < p.error_line)) {
                /* inih returns the line of the first error of any kind: when
                 * no handler error was on it, it was a line that is neither
                 * "[section]" nor "key = value", and comes first. */
                p.error = 0;
                p.line = (unsigned)r;
                parse_error(&p, -EINVAL, "syntax error: expected '[section]' or 'key = value'");
        } else if (p.line_too_long)
                /* It ended the parse: an error on an earlier line still wins. */
                parse_error(&p, -EINVAL, "line too long (at most %d characters)", p.line_max);
        else if (r < 0)
                parse_error(&p, -ENOMEM, "out of memory");

        if (p.error != 0) {
                config_done(&p.config);
                return p.error;
        }

        *ret = p.config;
        return 0;
}

int config_parse_file(const char *path, Config *ret, ConfigError *err) {
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r;

        r = read_full_file_at(AT_FDCWD, path, &text, &size);
        if (r < 0) {
                if (err)
                        snprintf(err->message, sizeof(err->message), "%s: cannot read: %s", path, strerror(-r));
                return r;
        }
        if (strlen(text) != size) {
                if (err)
                        snprintf(err->message, sizeof(err->message), "%s: contains a NUL byte: not a text file", path);
                return -EINVAL;
        }
        return config_parse_string(text, path, ret, err);
}
