/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cgroup-format.h"

static const char *const controller_names[] = {"cpu", "io", "memory"};

const char *cgroup_controller_to_string(CgroupController c) {
        for (unsigned i = 0; i < sizeof(controller_names) / sizeof(controller_names[0]); i++)
                if ((unsigned)c == 1U << i)
                        return controller_names[i];
        return NULL;
}

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n';
}

unsigned cgroup_parse_controllers(const char *text) {
        unsigned mask = 0;

        for (const char *p = text; *p;) {
                size_t len;

                while (is_space(*p))
                        p++;
                len = strcspn(p, " \t\n");
                for (unsigned i = 0; i < sizeof(controller_names) / sizeof(controller_names[0]); i++)
                        if (strlen(controller_names[i]) == len && memcmp(controller_names[i], p, len) == 0)
                                mask |= 1U << i;
                p += len;
        }
        return mask;
}

/* snprintf() that says -ENOBUFS instead of truncating. */
static int format(char *buf, size_t buf_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int format(char *buf, size_t buf_size, const char *fmt, ...) {
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(buf, buf_size, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t)n >= buf_size)
                return -ENOBUFS;
        return n;
}

int cgroup_format_subtree_control(unsigned mask, char *buf, size_t buf_size) {
        size_t len = 0;

        if (buf_size == 0)
                return -ENOBUFS;
        buf[0] = '\0';
        for (unsigned i = 0; i < sizeof(controller_names) / sizeof(controller_names[0]); i++) {
                int n;

                if (!(mask & (1U << i)))
                        continue;
                n = format(buf + len, buf_size - len, "%s+%s", len ? " " : "", controller_names[i]);
                if (n < 0)
                        return n;
                len += (size_t)n;
        }
        return (int)len;
}

/* A decimal u64 at *p, which is left after its last digit.  Leading '+',
 * '-', spaces are refused: the kernel writes none. */
static int parse_u64(const char **p, uint64_t *ret) {
        const char *s = *p;
        uint64_t v = 0;

        if (*s < '0' || *s > '9')
                return -EBADMSG;
        for (; *s >= '0' && *s <= '9'; s++) {
                unsigned digit = (unsigned)(*s - '0');

                if (v > (UINT64_MAX - digit) / 10)
                        return -ERANGE;
                v = v * 10 + digit;
        }
        *p = s;
        *ret = v;
        return 0;
}

int cgroup_parse_pressure_some_usec(const char *text, uint64_t *ret) {
        static const char total[] = " total=";

        for (const char *line = text; *line; line += strcspn(line, "\n"), line += *line == '\n') {
                size_t len = strcspn(line, "\n");
                const char *p;
                uint64_t v;

                if (len < 5 || strncmp(line, "some ", 5) != 0)
                        continue;
                p = memmem(line, len, total, strlen(total));
                if (!p)
                        return -EBADMSG;
                p += strlen(total);
                if (parse_u64(&p, &v) < 0 || (*p != '\n' && *p != '\0' && *p != ' '))
                        return -EBADMSG;
                *ret = v;
                return 0;
        }
        return -EBADMSG;
}

int cgroup_parse_cpu_stat(const char *text, CpuStat *ret) {
        CpuStat s = {};
        bool have_usage = false;

        for (const char *p = text; *p;) {
                const char *key = p, *value;
                size_t key_len = strcspn(p, " \n");
                uint64_t *field = NULL;
                uint64_t v;
                int r;

                if (key_len == 0)
                        return -EBADMSG;
                if (p[key_len] != ' ')
                        return -EBADMSG;
                value = p + key_len + 1;

#define KEY_IS(name) (key_len == strlen(name) && memcmp(key, name, key_len) == 0)
                if (KEY_IS("usage_usec")) {
                        field = &s.usage_usec;
                        have_usage = true;
                } else if (KEY_IS("nr_throttled"))
                        field = &s.nr_throttled;
                else if (KEY_IS("throttled_usec"))
                        field = &s.throttled_usec;
#undef KEY_IS

                if (field) {
                        r = parse_u64(&value, &v);
                        if (r < 0)
                                return r;
                        if (*value != '\n' && *value != '\0')
                                return -EBADMSG;
                        *field = v;
                } else
                        value += strcspn(value, "\n"); /* a key of a newer kernel */

                p = *value == '\n' ? value + 1 : value;
        }

        if (!have_usage)
                return -EBADMSG;
        *ret = s;
        return 0;
}

uint64_t io_stat_get(const IoStat *s, IoDir dir) {
        switch (dir) {
                case IO_RBPS:
                        return s->rbytes;
                case IO_WBPS:
                        return s->wbytes;
                case IO_RIOPS:
                        return s->rios;
                case IO_WIOPS:
                        return s->wios;
                default:
                        return 0;
        }
}

/* "MAJ:MIN" at *p, left after it. */
static int parse_devnum_at(const char **p, unsigned *ret_major, unsigned *ret_minor) {
        const char *s = *p;
        uint64_t major, minor;
        int r;

        r = parse_u64(&s, &major);
        if (r < 0)
                return r == -ERANGE ? -EBADMSG : r;
        if (*s != ':')
                return -EBADMSG;
        s++;
        r = parse_u64(&s, &minor);
        if (r < 0)
                return r == -ERANGE ? -EBADMSG : r;
        /* Linux device numbers: 12-bit major, 20-bit minor. */
        if (major > 0xfff || minor > 0xfffff)
                return -EBADMSG;
        *p = s;
        *ret_major = (unsigned)major;
        *ret_minor = (unsigned)minor;
        return 0;
}

int cgroup_parse_devnum(const char *text, unsigned *ret_major, unsigned *ret_minor) {
        const char *p = text;
        unsigned major, minor;
        int r;

        r = parse_devnum_at(&p, &major, &minor);
        if (r < 0)
                return r;
        if (*p == '\n')
                p++;
        if (*p != '\0')
                return -EBADMSG;
        *ret_major = major;
        *ret_minor = minor;
        return 0;
}

int cgroup_parse_io_stat(const char *text, unsigned major, unsigned minor, IoStat *ret) {
        IoStat found = {};
        bool have = false;

        for (const char *p = text; *p;) {
                unsigned line_major, line_minor;
                IoStat s = {};
                int r;

                r = parse_devnum_at(&p, &line_major, &line_minor);
                if (r < 0)
                        return r;

                while (*p == ' ') {
                        const char *key;
                        size_t key_len;
                        uint64_t *field = NULL, v;

                        p++;
                        if (*p == '\n' || *p == '\0') /* a trailing space */
                                break;
                        key = p;
                        key_len = strcspn(p, "= \n");
                        if (key_len == 0 || p[key_len] != '=')
                                return -EBADMSG;
                        p += key_len + 1;

#define KEY_IS(name) (key_len == strlen(name) && memcmp(key, name, key_len) == 0)
                        if (KEY_IS("rbytes"))
                                field = &s.rbytes;
                        else if (KEY_IS("wbytes"))
                                field = &s.wbytes;
                        else if (KEY_IS("rios"))
                                field = &s.rios;
                        else if (KEY_IS("wios"))
                                field = &s.wios;
#undef KEY_IS

                        r = parse_u64(&p, &v);
                        if (r < 0)
                                return r;
                        if (*p != ' ' && *p != '\n' && *p != '\0')
                                return -EBADMSG;
                        if (field)
                                *field = v;
                }
                if (*p == '\n')
                        p++;
                else if (*p != '\0')
                        return -EBADMSG;

                if (line_major == major && line_minor == minor) {
                        found = s;
                        have = true;
                }
        }

        *ret = found;
        return have;
}

/* The kernel's bounds of the cpu.max period: 1 ms .. 1 s. */
#define CPU_PERIOD_MIN_USEC 1000ULL
#define CPU_PERIOD_MAX_USEC 1000000ULL

int cgroup_format_cpu_max(uint64_t quota_usec, uint64_t period_usec, char *buf, size_t buf_size) {
        if (period_usec < CPU_PERIOD_MIN_USEC || period_usec > CPU_PERIOD_MAX_USEC)
                return -EINVAL;
        if (quota_usec == 0 || quota_usec == CGROUP_LIMIT_MAX)
                return format(buf, buf_size, "max %" PRIu64, period_usec);
        if (quota_usec < CGROUP_CPU_QUOTA_MIN_USEC)
                quota_usec = CGROUP_CPU_QUOTA_MIN_USEC;
        return format(buf, buf_size, "%" PRIu64 " %" PRIu64, quota_usec, period_usec);
}

int cgroup_format_weight(uint64_t weight, char *buf, size_t buf_size) {
        if (weight < CGROUP_WEIGHT_MIN)
                weight = CGROUP_WEIGHT_MIN;
        if (weight > CGROUP_WEIGHT_MAX)
                weight = CGROUP_WEIGHT_MAX;
        return format(buf, buf_size, "%" PRIu64, weight);
}

int cgroup_format_u64_or_max(uint64_t value, char *buf, size_t buf_size) {
        if (value == CGROUP_LIMIT_MAX)
                return format(buf, buf_size, "max");
        return format(buf, buf_size, "%" PRIu64, value);
}

int cgroup_format_io_max(unsigned major, unsigned minor, const uint64_t limit[_IO_DIR_MAX], char *buf,
                         size_t buf_size) {
        static const char *const keys[_IO_DIR_MAX] = {
                [IO_RBPS] = "rbps",
                [IO_WBPS] = "wbps",
                [IO_RIOPS] = "riops",
                [IO_WIOPS] = "wiops",
        };
        size_t len;
        int n;

        n = format(buf, buf_size, "%u:%u", major, minor);
        if (n < 0)
                return n;
        len = (size_t)n;

        for (int d = 0; d < _IO_DIR_MAX; d++) {
                uint64_t v = limit[d];

                if (v == CGROUP_LIMIT_MAX)
                        n = format(buf + len, buf_size - len, " %s=max", keys[d]);
                else {
                        if (v < CGROUP_IO_MAX_MIN)
                                v = CGROUP_IO_MAX_MIN;
                        if ((d == IO_RIOPS || d == IO_WIOPS) && v > CGROUP_IO_MAX_IOPS_MAX)
                                v = CGROUP_IO_MAX_IOPS_MAX;
                        n = format(buf + len, buf_size - len, " %s=%" PRIu64, keys[d], v);
                }
                if (n < 0)
                        return n;
                len += (size_t)n;
        }
        return (int)len;
}

size_t cgroup_io_max_device(const char *line, char *buf, size_t buf_size) {
        size_t len = strcspn(line, " \n");

        if (len == 0 || len >= buf_size)
                return 0;
        memcpy(buf, line, len);
        buf[len] = '\0';
        return len;
}

int cgroup_io_max_line(const char *io_max_text, unsigned major, unsigned minor, char *buf, size_t buf_size) {
        static const uint64_t none[_IO_DIR_MAX] = {CGROUP_LIMIT_MAX, CGROUP_LIMIT_MAX, CGROUP_LIMIT_MAX,
                                                   CGROUP_LIMIT_MAX};

        for (const char *p = io_max_text; *p;) {
                const char *line = p;
                size_t len = strcspn(p, "\n");
                unsigned line_major, line_minor;
                const char *q = p;

                p += len;
                if (*p == '\n')
                        p++;
                if (parse_devnum_at(&q, &line_major, &line_minor) < 0 || *q != ' ')
                        continue;
                if (line_major != major || line_minor != minor)
                        continue;
                if (len >= buf_size)
                        return -ENOBUFS;
                memcpy(buf, line, len);
                buf[len] = '\0';
                return (int)len;
        }

        return cgroup_format_io_max(major, minor, none, buf, buf_size);
}
