/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The metrics renderer (metrics.c) on hand-made snapshots, and once on the
 * snapshots of a manager ticking over a fake cgroup tree (counters must
 * never go back).
 */

#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake-tree.h"
#include "schedd/config.h"
#include "schedd/log.h"
#include "schedd/manager-internal.h"
#include "schedd/metrics.h"

/* A rendering, with a check of its general shape. */
static char *render(const MetricsSnapshot *s) {
        char *text = NULL;
        size_t size = 0;

        cr_assert_eq(metrics_render(s, &text, &size), 0);
        cr_assert_not_null(text);
        cr_assert_eq(strlen(text), size);
        cr_assert(size > 0 && text[size - 1] == '\n', "the text must end with a newline");
        return text;
}

/* The value of the sample whose name and labels are `series` exactly
 * ("name" or "name{a=\"b\"}"), or NULL. */
static const char *sample(const char *text, const char *series) {
        static char value[64];
        size_t n = strlen(series);

        for (const char *p = text; *p;) {
                size_t len = strcspn(p, "\n");

                if (len > n && strncmp(p, series, n) == 0 && p[n] == ' ') {
                        size_t v = len - n - 1;

                        cr_assert(v < sizeof(value));
                        memcpy(value, p + n + 1, v);
                        value[v] = '\0';
                        return value;
                }
                p += len + (p[len] == '\n');
        }
        return NULL;
}

static bool is_name_char(char c, bool first) {
        return isalpha((unsigned char)c) || c == '_' || c == ':' || (!first && isdigit((unsigned char)c));
}

/* The family a sample belongs to: histograms' _bucket, _sum and _count
 * belong to the family without the suffix. */
static void family_of(const char *name, const char *types, char *buf, size_t size) {
        static const char *const suffixes[] = {"_bucket", "_sum", "_count"};

        snprintf(buf, size, "%s", name);
        for (size_t i = 0; i < 3; i++) {
                size_t n = strlen(name), k = strlen(suffixes[i]);
                char base[256], pattern[300];

                if (n <= k || strcmp(name + n - k, suffixes[i]) != 0)
                        continue;
                snprintf(base, sizeof(base), "%.*s", (int)(n - k), name);
                snprintf(pattern, sizeof(pattern), "\n# TYPE %s histogram\n", base);
                if (strstr(types, pattern))
                        snprintf(buf, size, "%s", base);
        }
}

/*
 * Checks the text exposition format as Prometheus reads it: every sample
 * line is NAME[{LABELS}] VALUE with a valid name and quoted, escaped
 * label values; every family has HELP then TYPE before its samples, once;
 * a family's samples are together.  Returns the number of families.
 */
static unsigned check_format(const char *text) {
        char current[256] = "", done[65536] = "\n";
        char *types = calloc(1, strlen(text) + 2);
        unsigned families = 0;

        cr_assert_not_null(types);
        types[0] = '\n';
        /* The TYPE lines first, to know the histograms. */
        for (const char *p = text; *p;) {
                size_t len = strcspn(p, "\n");

                if (strncmp(p, "# TYPE ", 7) == 0)
                        strncat(types, p, len + 1);
                p += len + (p[len] == '\n');
        }

        for (const char *p = text; *p;) {
                size_t len = strcspn(p, "\n");
                char line[4096], name[256], family[256], key[300];
                const char *q;
                size_t n = 0;

                cr_assert(len < sizeof(line));
                memcpy(line, p, len);
                line[len] = '\0';
                p += len + (p[len] == '\n');

                if (strncmp(line, "# HELP ", 7) == 0) {
                        char next[300];

                        cr_assert_eq(sscanf(line + 7, "%255s", name), 1);
                        snprintf(key, sizeof(key), "\n%s\n", name);
                        cr_assert_null(strstr(done, key), "family %s appears twice", name);
                        cr_assert(strlen(done) + strlen(name) + 2 < sizeof(done));
                        strcat(done, name);
                        strcat(done, "\n");
                        snprintf(current, sizeof(current), "%s", name);
                        snprintf(next, sizeof(next), "# TYPE %s ", name);
                        cr_assert(strncmp(p, next, strlen(next)) == 0, "HELP of %s not followed by its TYPE", name);
                        cr_assert(strlen(line + 7) > strlen(name) + 1, "empty HELP for %s", name);
                        families++;
                        continue;
                }
                if (strncmp(line, "# TYPE ", 7) == 0) {
                        char type[32];

                        cr_assert_eq(sscanf(line + 7, "%255s %31s", name, type), 2);
                        cr_assert_str_eq(name, current, "TYPE of %s without its HELP", name);
                        cr_assert(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
                                          strcmp(type, "histogram") == 0,
                                  "type %s", type);
                        if (strcmp(type, "counter") == 0)
                                cr_assert(strlen(name) > 6 && strcmp(name + strlen(name) - 6, "_total") == 0,
                                          "counter %s without _total", name);
                        continue;
                }
                cr_assert_neq(line[0], '#', "unexpected comment: %s", line);

                for (q = line; is_name_char(*q, q == line); q++)
                        name[n++] = *q;
                name[n] = '\0';
                cr_assert(n > 0, "no metric name: %s", line);
                family_of(name, types, family, sizeof(family));
                cr_assert_str_eq(family, current, "sample of %s outside its family (%s): %s", family, current, line);

                if (*q == '{') {
                        q++;
                        while (*q != '}') {
                                cr_assert(is_name_char(*q, true), "bad label name: %s", line);
                                while (is_name_char(*q, false))
                                        q++;
                                cr_assert(q[0] == '=' && q[1] == '"', "bad label: %s", line);
                                for (q += 2; *q != '"'; q++) {
                                        cr_assert_neq(*q, '\0', "unterminated label value: %s", line);
                                        if (*q == '\\') {
                                                q++;
                                                cr_assert(*q == '\\' || *q == '"' || *q == 'n', "bad escape: %s",
                                                          line);
                                        }
                                }
                                q++;
                                if (*q == ',')
                                        q++;
                                else
                                        cr_assert_eq(*q, '}', "bad label list: %s", line);
                        }
                        q++;
                }
                cr_assert_eq(*q, ' ', "no value: %s", line);
                {
                        char *end;
                        double v = strtod(q + 1, &end);

                        cr_assert(end != q + 1 && *end == '\0', "bad value: %s", line);
                        cr_assert(v >= 0, "negative value: %s", line);
                }
        }
        free(types);
        return families;
}

/* A snapshot with one VM of each kind. */
typedef struct Fixture {
        MetricsSnapshot s;
        MetricsDevice devices[1];
        MetricsVm vms[3];
        MetricsVmIo io[1];
} Fixture;

static MetricsBucket bucket(uint64_t base) {
        return (MetricsBucket){
                .present = true,
                .tokens = base,
                .size = base * 2,
                .entitlement = base * 3,
                .allocation = base * 4,
                .allowed = base * 5,
                .reservation = base * 6,
                .limit = base * 7,
                .share = 3,
                .held = true,
                .held_ticks = 8,
                .held_usec = 9000,
                .transitions = 10,
        };
}

static void fixture_init(Fixture *f) {
        memset(f, 0, sizeof(*f));
        f->devices[0] = (MetricsDevice){.name = "vda", .resolved = true, .cap = {100000000, 0, 5000, 0}};
        f->io[0].dir[IO_RBPS] = bucket(1000);
        f->io[0].dir[IO_RIOPS] = bucket(10);
        f->io[0].have_counters = true;
        f->io[0].counter[IO_RBPS] = 111;
        f->io[0].counter[IO_WBPS] = 222;
        f->io[0].counter[IO_RIOPS] = 3;
        f->io[0].counter[IO_WIOPS] = 4;
        f->vms[0] = (MetricsVm){
                .name = "web",
                .cgroup = "machine/web",
                .managed = true,
                .cpu = bucket(1500000),
                .cpu_weight = 250,
                .have_cpu_counters = true,
                .cpu_usage_usec = 2500000,
                .cpu_throttled_usec = 1,
                .cpu_throttled_periods = 7,
                .io = f->io,
                .net_interface = "eth0",
                .net = bucket(4096),
                .have_net_counters = true,
                .net_bytes = 12345,
                .net_packets = 67,
        };
        f->vms[1] = (MetricsVm){.name = "waiting", .cgroup = "waiting", .managed = false};
        f->vms[2] = (MetricsVm){.name = "db", .cgroup = "db", .managed = true, .cpu = bucket(0)};
        f->s = (MetricsSnapshot){
                .version = "1.2",
                .tick_interval_usec = 10000,
                .cpu_capacity_ucpu = 2000000,
                .ticks = 42,
                .ticks_missed = 1,
                .reloads = 3,
                .reload_failures = 1,
                .host_cpu_usage_usec = 500000,
                .devices = f->devices,
                .n_devices = 1,
                .vms = f->vms,
                .n_vms = 3,
        };
}

Test(metrics, every_family_has_help_and_type) {
        Fixture f;
        char *text;
        unsigned families;

        fixture_init(&f);
        text = render(&f.s);
        families = check_format(text);
        cr_assert_geq(families, 40, "only %u families", families);
        free(text);
}

Test(metrics, values_in_base_units) {
        Fixture f;
        char *text;

        fixture_init(&f);
        text = render(&f.s);
        cr_assert_str_eq(sample(text, "schedd_build_info{version=\"1.2\"}"), "1");
        cr_assert_str_eq(sample(text, "schedd_ticks_total"), "42");
        cr_assert_str_eq(sample(text, "schedd_ticks_missed_total"), "1");
        cr_assert_str_eq(sample(text, "schedd_tick_interval_seconds"), "0.01");
        cr_assert_str_eq(sample(text, "schedd_policy_reloads_total"), "3");
        cr_assert_str_eq(sample(text, "schedd_policy_reload_failures_total"), "1");
        cr_assert_str_eq(sample(text, "schedd_cpu_capacity_cores"), "2");
        cr_assert_str_eq(sample(text, "schedd_vms{state=\"managed\"}"), "2");
        cr_assert_str_eq(sample(text, "schedd_vms{state=\"waiting\"}"), "1");
        cr_assert_str_eq(sample(text, "schedd_vm_managed{vm=\"waiting\",cgroup=\"waiting\"}"), "0");
        cr_assert_str_eq(sample(text, "schedd_vm_managed{vm=\"web\",cgroup=\"machine/web\"}"), "1");

        /* CPU: usec and micro-CPUs become seconds and cores. */
        cr_assert_str_eq(sample(text, "schedd_vm_cpu_tokens_seconds{vm=\"web\"}"), "1.5");
        cr_assert_str_eq(sample(text, "schedd_vm_cpu_bucket_size_seconds{vm=\"web\"}"), "3");
        cr_assert_str_eq(sample(text, "schedd_vm_cpu_entitlement_cores{vm=\"web\"}"), "4.5");
        cr_assert_str_eq(sample(text, "schedd_vm_cpu_allocation_cores{vm=\"web\"}"), "6");
        cr_assert_str_eq(sample(text, "schedd_vm_cpu_allowed_cores{vm=\"web\"}"), "7.5");
        cr_assert_str_eq(sample(text, "schedd_vm_cpu_reservation_cores{vm=\"web\"}"), "9");
        cr_assert_str_eq(sample(text, "schedd_vm_cpu_limit_cores{vm=\"web\"}"), "10.5");
        cr_assert_str_eq(sample(text, "schedd_vm_cpu_usage_seconds_total{vm=\"web\"}"), "2.5");
        cr_assert_str_eq(sample(text, "schedd_vm_cpu_throttled_seconds_total{vm=\"web\"}"), "0.000001");
        cr_assert_str_eq(sample(text, "schedd_vm_cpu_throttled_periods_total{vm=\"web\"}"), "7");
        cr_assert_str_eq(sample(text, "schedd_vm_cpu_weight{vm=\"web\"}"), "250");
        cr_assert_str_eq(sample(text, "schedd_vm_cpu_tokens_seconds{vm=\"db\"}"), "0");

        /* I/O: bytes and operations as they are, per device and direction. */
        cr_assert_str_eq(sample(text, "schedd_vm_io_tokens_bytes{vm=\"web\",device=\"vda\",direction=\"read\"}"),
                         "1000");
        cr_assert_str_eq(sample(text, "schedd_vm_io_tokens_operations{vm=\"web\",device=\"vda\",direction=\"read\"}"),
                         "10");
        cr_assert_str_eq(
                sample(text, "schedd_vm_io_limit_bytes_per_second{vm=\"web\",device=\"vda\",direction=\"read\"}"),
                "7000");
        cr_assert_null(sample(text, "schedd_vm_io_tokens_bytes{vm=\"web\",device=\"vda\",direction=\"write\"}"),
                       "a direction the VM has no bucket for has no series");
        cr_assert_str_eq(sample(text, "schedd_vm_io_bytes_total{vm=\"web\",device=\"vda\",direction=\"write\"}"),
                         "222");
        cr_assert_str_eq(sample(text, "schedd_vm_io_operations_total{vm=\"web\",device=\"vda\",direction=\"read\"}"),
                         "3");
        cr_assert_str_eq(sample(text, "schedd_io_capacity_bytes_per_second{device=\"vda\",direction=\"read\"}"),
                         "100000000");
        cr_assert_null(sample(text, "schedd_io_capacity_bytes_per_second{device=\"vda\",direction=\"write\"}"));
        cr_assert_str_eq(sample(text, "schedd_io_device_resolved{device=\"vda\"}"), "1");

        /* Egress. */
        cr_assert_str_eq(sample(text, "schedd_vm_net_egress_tokens_bytes{vm=\"web\",interface=\"eth0\"}"), "4096");
        cr_assert_str_eq(sample(text, "schedd_vm_net_egress_bytes_total{vm=\"web\",interface=\"eth0\"}"), "12345");
        cr_assert_str_eq(sample(text, "schedd_vm_net_egress_packets_total{vm=\"web\",interface=\"eth0\"}"), "67");

        /* The unitless families, one per resource. */
        cr_assert_str_eq(sample(text, "schedd_vm_share{vm=\"web\",resource=\"cpu\"}"), "3");
        cr_assert_str_eq(
                sample(text, "schedd_vm_held{vm=\"web\",resource=\"io_bytes\",device=\"vda\",direction=\"read\"}"),
                "1");
        cr_assert_str_eq(sample(text,
                                "schedd_vm_held_ticks_total{vm=\"web\",resource=\"io_operations\",device=\"vda\","
                                "direction=\"read\"}"),
                         "8");
        cr_assert_str_eq(
                sample(text, "schedd_vm_held_seconds_total{vm=\"web\",resource=\"net_egress\",interface=\"eth0\"}"),
                "0.009");
        cr_assert_str_eq(sample(text, "schedd_vm_throttle_transitions_total{vm=\"db\",resource=\"cpu\"}"), "10");
        cr_assert_str_eq(sample(text, "schedd_vm_bursting{vm=\"db\",resource=\"cpu\"}"), "0");

        /* A waiting VM has no bucket series. */
        cr_assert_null(strstr(text, "schedd_vm_cpu_tokens_seconds{vm=\"waiting\"}"));
        cr_assert_null(strstr(text, "schedd_vm_share{vm=\"waiting\""));
        free(text);
}

Test(metrics, label_values_are_escaped) {
        Fixture f;
        char *text;

        fixture_init(&f);
        f.vms[2].name = "we\"ird\\vm\nx";
        f.devices[0].name = "sd\"a";
        f.s.version = "v\\1";
        text = render(&f.s);
        check_format(text);
        cr_assert_str_eq(sample(text, "schedd_vm_cpu_tokens_seconds{vm=\"we\\\"ird\\\\vm\\nx\"}"), "0");
        cr_assert_str_eq(sample(text, "schedd_io_device_resolved{device=\"sd\\\"a\"}"), "1");
        cr_assert_str_eq(sample(text, "schedd_build_info{version=\"v\\\\1\"}"), "1");
        cr_assert_null(strstr(text, "ird\\vm\nx"), "raw newline in a label");
        free(text);

        /* Empty values and values made only of escapes. */
        f.vms[2].name = "";
        f.devices[0].name = "\\\"\n";
        text = render(&f.s);
        check_format(text);
        cr_assert_str_eq(sample(text, "schedd_vm_cpu_tokens_seconds{vm=\"\"}"), "0");
        cr_assert_str_eq(sample(text, "schedd_io_device_resolved{device=\"\\\\\\\"\\n\"}"), "1");
        free(text);
}

Test(metrics, decimals_are_exact) {
        char buf[METRICS_DECIMAL_MAX];

        cr_assert_eq(metrics_format_micro(0, buf), 1);
        cr_assert_str_eq(buf, "0");
        metrics_format_micro(1, buf);
        cr_assert_str_eq(buf, "0.000001");
        metrics_format_micro(1500000, buf);
        cr_assert_str_eq(buf, "1.5");
        metrics_format_micro(10000, buf);
        cr_assert_str_eq(buf, "0.01");
        metrics_format_micro(123456789, buf);
        cr_assert_str_eq(buf, "123.456789");
        cr_assert_eq(metrics_format_micro(UINT64_MAX, buf), 21);
        cr_assert_str_eq(buf, "18446744073709.551615");
}

Test(metrics, histogram_buckets_are_cumulative) {
        MetricsHistogram h = {};
        MetricsSnapshot s = {.version = "x"};
        static const uint64_t observed[] = {0, 50, 51, 100, 9999, 10000, 10001, 999999, 1000000, 1000001, UINT64_MAX};
        uint64_t previous = 0;
        char *text;

        for (size_t i = 0; i < sizeof(observed) / sizeof(observed[0]); i++)
                metrics_histogram_observe(&h, observed[i]);
        /* le is inclusive: 50 in the first bucket, 51 in the second. */
        cr_assert_eq(h.bucket[0], 2);
        cr_assert_eq(h.bucket[1], 2);
        cr_assert_eq(h.bucket[METRICS_TICK_BUCKETS], 2, "1000001 and UINT64_MAX above every bound");
        cr_assert_eq(h.count, 11);
        cr_assert_eq(h.sum_usec, UINT64_MAX, "the sum saturates");

        s.tick_duration = h;
        text = render(&s);
        check_format(text);
        for (size_t i = 0; i <= METRICS_TICK_BUCKETS; i++) {
                char series[128], le[METRICS_DECIMAL_MAX];
                const char *v;
                uint64_t n;

                if (i < METRICS_TICK_BUCKETS)
                        metrics_format_micro(metrics_tick_bucket_usec[i], le);
                else
                        strcpy(le, "+Inf");
                snprintf(series, sizeof(series), "schedd_tick_duration_seconds_bucket{le=\"%s\"}", le);
                v = sample(text, series);
                cr_assert_not_null(v, "no %s", series);
                n = strtoull(v, NULL, 10);
                cr_assert_geq(n, previous, "%s went down", series);
                previous = n;
                if (i > 0 && i < METRICS_TICK_BUCKETS)
                        cr_assert_gt(metrics_tick_bucket_usec[i], metrics_tick_bucket_usec[i - 1], "bounds ascend");
        }
        cr_assert_eq(previous, 11, "+Inf holds every observation");
        cr_assert_str_eq(sample(text, "schedd_tick_duration_seconds_count"), "11");
        cr_assert_str_eq(sample(text, "schedd_tick_duration_seconds_bucket{le=\"0.00005\"}"), "2");
        cr_assert_str_eq(sample(text, "schedd_tick_duration_seconds_bucket{le=\"0.0001\"}"), "4");
        cr_assert_str_eq(sample(text, "schedd_tick_duration_seconds_bucket{le=\"1\"}"), "9");
        free(text);

        /* Counts saturate too. */
        h = (MetricsHistogram){.count = UINT64_MAX, .bucket = {[0] = UINT64_MAX}};
        metrics_histogram_observe(&h, 1);
        cr_assert_eq(h.count, UINT64_MAX);
        cr_assert_eq(h.bucket[0], UINT64_MAX);
}

Test(metrics, zero_vms) {
        MetricsSnapshot s = {.version = "0.1", .tick_interval_usec = 10000};
        char *text;

        text = render(&s);
        cr_assert_geq(check_format(text), 40, "every family is announced even without samples");
        cr_assert_str_eq(sample(text, "schedd_vms{state=\"managed\"}"), "0");
        cr_assert_str_eq(sample(text, "schedd_vms{state=\"waiting\"}"), "0");
        cr_assert_null(strstr(text, "{vm="), "no VM series without VMs");
        cr_assert_not_null(strstr(text, "# TYPE schedd_vm_cpu_tokens_seconds gauge\n"));
        free(text);
}

Test(metrics, maximum_values) {
        Fixture f;
        char *text;

        fixture_init(&f);
        f.s.ticks = UINT64_MAX;
        f.vms[0].cpu.tokens = UINT64_MAX;
        f.io[0].counter[IO_WIOPS] = UINT64_MAX;
        text = render(&f.s);
        check_format(text);
        cr_assert_str_eq(sample(text, "schedd_ticks_total"), "18446744073709551615");
        cr_assert_str_eq(sample(text, "schedd_vm_cpu_tokens_seconds{vm=\"web\"}"), "18446744073709.551615");
        cr_assert_str_eq(sample(text, "schedd_vm_io_operations_total{vm=\"web\",device=\"vda\",direction=\"write\"}"),
                         "18446744073709551615");
        free(text);
}

Test(metrics, many_vms_render_in_full) {
        enum { N = 2000 };
        MetricsVm *vms = calloc(N, sizeof(*vms));
        char(*names)[16] = calloc(N, sizeof(*names));
        MetricsSnapshot s = {.version = "0.1", .vms = vms, .n_vms = N};
        char *text;

        cr_assert_not_null(vms);
        cr_assert_not_null(names);
        for (size_t i = 0; i < N; i++) {
                snprintf(names[i], sizeof(names[i]), "vm%zu", i);
                vms[i] = (MetricsVm){.name = names[i], .cgroup = names[i], .managed = true, .cpu = bucket(i)};
        }
        text = render(&s);
        check_format(text);
        cr_assert_str_eq(sample(text, "schedd_vm_cpu_tokens_seconds{vm=\"vm1999\"}"), "0.001999");
        cr_assert_str_eq(sample(text, "schedd_vms{state=\"managed\"}"), "2000");
        free(text);
        free(names);
        free(vms);
}

/* The daemon on a fake tree: every counter of every snapshot is at least
 * what it was in the snapshot before. */

static char dir[PATH_MAX], tree[PATH_MAX], state[PATH_MAX];

typedef struct Watch {
        Manager *m;
        char *previous; /* the last rendering */
        unsigned compared;
} Watch;

/* Every counter sample of `before` is in `after`, not smaller. */
static void check_monotone(const char *before, const char *after) {
        for (const char *p = before; *p;) {
                size_t len = strcspn(p, "\n");
                char line[1024], *space;
                const char *v;
                bool counter;

                cr_assert(len < sizeof(line));
                memcpy(line, p, len);
                line[len] = '\0';
                p += len + (p[len] == '\n');
                if (line[0] == '#')
                        continue;
                space = strrchr(line, ' ');
                cr_assert_not_null(space);
                *space = '\0';
                counter = strstr(line, "_total") || strstr(line, "_bucket{") || strstr(line, "_sum") ||
                          strstr(line, "_count");
                if (!counter)
                        continue;
                v = sample(after, line);
                cr_assert_not_null(v, "series %s went away", line);
                cr_assert_geq(strtod(v, NULL), strtod(space + 1, NULL), "%s went from %s to %s", line, space + 1, v);
        }
}

static void after_tick(uint64_t ticks, void *userdata) {
        Watch *w = userdata;
        MetricsSnapshot *s;
        char *text, stat[128];

        /* Both VMs busy; web's cgroup throttled now and then. */
        snprintf(stat, sizeof(stat), "usage_usec %llu\nnr_periods %llu\nnr_throttled %llu\nthrottled_usec %llu\n",
                 (unsigned long long)(1000 + ticks * 2500), (unsigned long long)ticks, (unsigned long long)(ticks / 3),
                 (unsigned long long)(ticks / 3 * 100));
        fake_put(tree, "web/cpu.stat", stat);
        snprintf(stat, sizeof(stat), "usage_usec %llu\n", (unsigned long long)(1000 + ticks * 1000));
        fake_put(tree, "db/cpu.stat", stat);
        snprintf(stat, sizeof(stat), "254:0 rbytes=%llu wbytes=0 rios=%llu wios=0 dbytes=0 dios=0\n",
                 (unsigned long long)(ticks * 50000), (unsigned long long)ticks);
        fake_put(tree, "web/io.stat", stat);

        cr_assert_eq(manager_metrics_snapshot(w->m, &s), 0);
        text = render(s);
        check_format(text);
        if (w->previous) {
                check_monotone(w->previous, text);
                w->compared++;
        }
        free(w->previous);
        w->previous = text;
        free(s);
}

Test(metrics, counters_never_go_back) {
        static const char policy[] = "host:\n"
                                     "  cpus: 2\n"
                                     "  devices:\n"
                                     "    vda: { rbps: 100MB, riops: 1000 }\n"
                                     "vms:\n"
                                     "  web:\n"
                                     "    cpu: { reserve: 25%, limit: 50%, burst: 5ms }\n"
                                     "    io:\n"
                                     "      vda:\n"
                                     "        rbps: { reserve: 1MB, limit: 2MB, burst: 1MB }\n"
                                     "        riops: { limit: 100 }\n"
                                     "  db:\n"
                                     "    cpu: { share: 2 }\n"
                                     "  absent:\n"
                                     "    cpu: { share: 1 }\n";
        char text[PATH_MAX * 4], block[PATH_MAX + 16];
        Watch w = {};
        Config config;
        ConfigError err;
        ManagerOptions o = {.max_ticks = 60, .after_tick = after_tick, .userdata = &w};

        fake_dirs_make(dir, tree, state, "/tmp/test-metrics");
        fake_vm(tree, "web");
        fake_vm(tree, "db");
        fake_mkdir(dir, "block");
        fake_mkdir(dir, "block/vda");
        fake_put(dir, "block/vda/dev", "254:0\n");
        fake_put(dir, "policy.yaml", policy);
        snprintf(block, sizeof(block), "%s/block", dir);
        o.sys_class_block = block;
        snprintf(text, sizeof(text),
                 "[schedd]\npolicy = %s/policy.yaml\noverride_dir =\ncgroup_root = %s\nfake_cgroup_root = yes\ntick = "
                 "1ms\nstate_dir = %s\n"
                 "[bus]\nenable = no\n[metrics]\nlisten =\n",
                 dir, tree, state);
        cr_assert_eq(config_parse_string(text, "test.conf", &config, &err), 0, "%s", err.message);
        log_set_max_level(LOG_ERR);

        cr_assert_eq(manager_new(&config, &o, &w.m), 0);
        cr_assert_eq(manager_start(w.m), 0);
        cr_assert_null(w.m->metrics_server, "no endpoint with an empty listen");
        cr_assert_eq(manager_run(w.m), 0);

        cr_assert_eq(w.compared, 59);
        /* The last snapshot saw the VMs work. */
        cr_assert_str_eq(sample(w.previous, "schedd_ticks_total"), "60");
        cr_assert_str_eq(sample(w.previous, "schedd_vms{state=\"waiting\"}"), "1");
        cr_assert_str_eq(sample(w.previous, "schedd_tick_duration_seconds_count"), "60");
        cr_assert_gt(strtod(sample(w.previous, "schedd_vm_cpu_usage_seconds_total{vm=\"web\"}"), NULL), 0.1);
        cr_assert_gt(
                strtod(sample(w.previous, "schedd_vm_io_bytes_total{vm=\"web\",device=\"vda\",direction=\"read\"}"),
                       NULL),
                0);
        cr_assert_gt(strtod(sample(w.previous, "schedd_vm_held_ticks_total{vm=\"web\",resource=\"cpu\"}"), NULL), 0,
                     "web uses more than its limit allows: held at times");
        cr_assert_not_null(
                sample(w.previous, "schedd_vm_io_tokens_bytes{vm=\"web\",device=\"vda\",direction=\"read\"}"));

        free(w.previous);
        manager_free(w.m);
        config_done(&config);
        fake_dirs_remove(dir, tree, state);
}
