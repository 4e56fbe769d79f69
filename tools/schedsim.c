/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * schedsim SCENARIO.yaml [--json | --table] [--check]
 *
 * Runs the scheduler core against a simulated host (tools/sim/) and reports
 * what each VM got over the scenario's measure window.
 *
 *   (default)  a table of what each VM got and what the core decided
 *   --table    the table for people: the policy as written, what each VM was
 *              promised and what it got, then a timeline of the run
 *   --json     one JSON object
 *   --check    compares with the scenario's `expect`, one line per
 *              expectation; exit 1 if any fails
 *
 * Exit status: 0, 1 (an expectation failed), 2 (a bad scenario, policy or
 * command line).
 */

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/units.h"
#include "tools/sim/run.h"
#include "tools/sim/scenario.h"

/* Exit statuses a test runner tells apart: an expectation that failed (the
 * scheduler's fault, or the scenario's) from a scenario that could not run. */
#define EXIT_CHECK_FAILED 1
#define EXIT_BAD_INPUT    2

typedef enum OutputMode {
        OUTPUT_DEFAULT,
        OUTPUT_TABLE,
        OUTPUT_JSON,
        OUTPUT_NONE, /* --check alone */
} OutputMode;

static double usec_to_sec(uint64_t usec) {
        return (double)usec / 1e6;
}

static double cpus_of(uint64_t ucpu) {
        return (double)ucpu / (double)UNIT_UCPU_PER_CPU;
}

/* ---- JSON --------------------------------------------------------------------------------------------------------
 */

static void json_string(FILE *f, const char *s) {
        fputc('"', f);
        for (; *s; s++) {
                unsigned char ch = (unsigned char)*s;
                if (ch == '"' || ch == '\\')
                        fprintf(f, "\\%c", ch);
                else if (ch == '\n')
                        fputs("\\n", f);
                else if (ch < 0x20)
                        fprintf(f, "\\u%04x", ch);
                else
                        fputc(ch, f);
        }
        fputc('"', f);
}

static void output_json(const SimResult *res, FILE *f) {
        fprintf(f, "{\"duration_s\":%g,\"cpus\":%g,\"measure\":{\"from_s\":%g,\"to_s\":%g},\"utilization\":%.4f,",
                usec_to_sec(res->duration_usec), cpus_of(res->cpus_ucpu), usec_to_sec(res->measure_from_usec),
                usec_to_sec(res->measure_to_usec), res->utilization);
        fputs("\"vms\":{", f);
        for (size_t i = 0; i < res->n_vms; i++) {
                const SimVmResult *v = &res->vms[i];

                if (i > 0)
                        fputc(',', f);
                json_string(f, v->name);
                fprintf(f,
                        ":{\"cpu_fraction\":%.4f,\"usage_usec\":%llu,\"tokens\":%llu,\"bucket_size\":%llu,"
                        "\"held\":%s,\"throttle_count\":%llu,\"transitions_per_sec\":%.3f,\"nr_throttled\":%llu,"
                        "\"managed\":%s,\"allocation\":%.4f,\"entitlement\":%.4f,\"weight\":%u,\"cpu_max_quota_usec\":"
                        "%llu}",
                        v->cpu_fraction, (unsigned long long)v->usage_usec, (unsigned long long)v->tokens,
                        (unsigned long long)v->bucket_size, v->held ? "true" : "false",
                        (unsigned long long)v->throttle_count, v->transitions_per_sec,
                        (unsigned long long)v->nr_throttled, v->managed ? "true" : "false",
                        (double)v->allocation / (double)res->cpus_ucpu,
                        (double)v->entitlement / (double)res->cpus_ucpu, v->weight, (unsigned long long)v->quota_usec);
        }
        fputs("},\"messages\":[", f);
        for (size_t i = 0; i < res->n_messages; i++) {
                if (i > 0)
                        fputc(',', f);
                json_string(f, res->messages[i]);
        }
        fputs("]}\n", f);
}

/* ---- tables ------------------------------------------------------------------------------------------------------
 */

static const char *dur(uint64_t usec, char *buf) {
        return unit_format_duration(usec, buf, UNIT_FORMAT_MAX);
}

static void output_default(const Scenario *sc, const SimResult *res, FILE *f) {
        char a[UNIT_FORMAT_MAX], b[UNIT_FORMAT_MAX], c[UNIT_FORMAT_MAX];

        fprintf(f, "%s: %g CPUs, %s run, measured from %s to %s\n\n", sc->file, cpus_of(res->cpus_ucpu),
                dur(res->duration_usec, a), dur(res->measure_from_usec, b), dur(res->measure_to_usec, c));
        fprintf(f, "%-16s %8s %10s %10s %7s %10s %12s %12s %5s %9s %9s\n", "VM", "got", "allocation", "entitled",
                "weight", "cpu.max", "tokens", "bucket", "held", "throttles", "cpu.max.hits");
        for (size_t i = 0; i < res->n_vms; i++) {
                const SimVmResult *v = &res->vms[i];
                char quota[32];

                if (v->quota_usec == 0)
                        snprintf(quota, sizeof(quota), "max");
                else
                        snprintf(quota, sizeof(quota), "%llu", (unsigned long long)v->quota_usec);
                if (!v->managed) {
                        fprintf(f, "%-16s %8.3f %10s %10s %7s %10s %12s %12s %5s %9llu %9llu\n", v->name,
                                v->cpu_fraction, "-", "-", "-", "-", "-", "-", "-",
                                (unsigned long long)v->throttle_count, (unsigned long long)v->nr_throttled);
                        continue;
                }
                fprintf(f, "%-16s %8.3f %10.3f %10.3f %7u %10s %12llu %12llu %5s %9llu %9llu\n", v->name,
                        v->cpu_fraction, (double)v->allocation / (double)res->cpus_ucpu,
                        (double)v->entitlement / (double)res->cpus_ucpu, v->weight, quota,
                        (unsigned long long)v->tokens, (unsigned long long)v->bucket_size, v->held ? "yes" : "no",
                        (unsigned long long)v->throttle_count, (unsigned long long)v->nr_throttled);
        }
        fprintf(f, "\nutilization %.3f of the host; fractions are of %g CPUs over %s\n", res->utilization,
                cpus_of(res->cpus_ucpu), dur(res->measure_to_usec - res->measure_from_usec, a));
}

/* An amount as the policy wrote it, or "-". */
static const char *amount_str(const Amount *a, bool is_burst, char *buf) {
        if (!amount_is_set(a))
                return "-";
        if (a->kind == AMOUNT_PERCENT)
                return unit_format_percent(a->value, buf, UNIT_FORMAT_MAX);
        if (a->kind == AMOUNT_AUTO)
                return "auto";
        return is_burst ? unit_format_duration(a->value, buf, UNIT_FORMAT_MAX)
                        : unit_format_cpus(a->value, buf, UNIT_FORMAT_MAX);
}

static void output_people(const Scenario *sc, const SimResult *res, FILE *f) {
        char a[UNIT_FORMAT_MAX], b[UNIT_FORMAT_MAX], c[UNIT_FORMAT_MAX], d[UNIT_FORMAT_MAX];

        fprintf(f, "%s: a host of %g CPUs, %s; fractions are of the whole host.\n\n", sc->file,
                cpus_of(res->cpus_ucpu), dur(res->duration_usec, a));
        fprintf(f, "From %s to %s:\n", dur(res->measure_from_usec, a), dur(res->measure_to_usec, b));
        fprintf(f, "  %-12s %8s %6s %8s %8s   %9s %6s %10s\n", "VM", "reserve", "share", "limit", "burst", "promised",
                "got", "throttles");
        for (size_t i = 0; i < res->n_vms; i++) {
                const SimVmResult *v = &res->vms[i];
                const ResourcePolicy *p = v->policy ? &v->policy->cpu : NULL;
                char share[UNIT_FORMAT_MAX], promised[16];

                if (p && amount_is_set(&p->share))
                        snprintf(share, sizeof(share), "%llu", (unsigned long long)p->share.value);
                else
                        snprintf(share, sizeof(share), "%s", p ? "(1)" : "-");
                if (v->managed)
                        snprintf(promised, sizeof(promised), "%.2f", (double)v->allocation / (double)res->cpus_ucpu);
                else
                        snprintf(promised, sizeof(promised), "-");
                fprintf(f, "  %-12s %8s %6s %8s %8s   %9s %6.2f %10llu\n", v->name,
                        p ? amount_str(&p->reserve, false, a) : "-", share, p ? amount_str(&p->limit, false, b) : "-",
                        p ? amount_str(&p->burst, true, c) : "-", promised, v->cpu_fraction,
                        (unsigned long long)v->throttle_count);
        }
        fprintf(f, "  %-12s %8s %6s %8s %8s   %9s %6.2f\n", "(host)", "", "", "", "", "", res->utilization);

        fprintf(f, "\nTimeline: got (promised), per VM; threads in brackets.\n");
        fprintf(f, "  %-14s", "");
        for (size_t i = 0; i < res->n_vms; i++)
                fprintf(f, i + 1 < res->n_vms ? " %-18s" : " %s", res->vms[i].name);
        fputc('\n', f);
        for (size_t s = 0; s < res->n_segments; s++) {
                const SimSegment *seg = &res->segments[s];
                char when[2 * UNIT_FORMAT_MAX + 2];

                snprintf(when, sizeof(when), "%s-%s", dur(seg->from_usec, c), dur(seg->to_usec, d));
                fprintf(f, "  %-14s", when);
                for (size_t i = 0; i < res->n_vms; i++) {
                        const SimSegmentVm *v = &seg->vms[i];
                        char cell[64];

                        if (!v->present)
                                snprintf(cell, sizeof(cell), "no cgroup");
                        else if (!v->managed)
                                snprintf(cell, sizeof(cell), "%.2f (-) [%u]", v->cpu_fraction, v->threads);
                        else if (v->threads == 0)
                                snprintf(cell, sizeof(cell), "idle");
                        else
                                snprintf(cell, sizeof(cell), "%.2f (%.2f) [%u]", v->cpu_fraction, v->promised,
                                         v->threads);
                        fprintf(f, i + 1 < res->n_vms ? " %-18s" : " %s", cell);
                }
                fputc('\n', f);
        }
}

/* ---- checks ------------------------------------------------------------------------------------------------------
 */

static bool check_line(FILE *f, const char *what, double expected, double tolerance, double got) {
        bool ok = fabs(got - expected) <= tolerance + 1e-9;

        fprintf(f, "%s %s: expected %g +/- %g, got %.4f\n", ok ? "PASS" : "FAIL", what, expected, tolerance, got);
        return ok;
}

/* Returns true if every expectation holds. */
static bool output_check(const Scenario *sc, const SimResult *res, FILE *f) {
        const ScenarioExpect *x = &sc->expect;
        bool ok = true;

        for (size_t i = 0; i < x->n_cpu_fraction; i++) {
                const SimVmResult *v = sim_result_vm(res, x->cpu_fraction[i].vm);
                char what[300];

                snprintf(what, sizeof(what), "cpu_fraction %s", x->cpu_fraction[i].vm);
                ok &= check_line(f, what, x->cpu_fraction[i].fraction, x->tolerance, v ? v->cpu_fraction : NAN);
        }
        if (x->has_utilization)
                ok &= check_line(f, "utilization", x->utilization, x->tolerance, res->utilization);
        if (x->has_max_transitions) {
                const SimVmResult *worst = NULL;

                for (size_t i = 0; i < res->n_vms; i++)
                        if (!worst || res->vms[i].transitions_per_sec > worst->transitions_per_sec)
                                worst = &res->vms[i];
                double got = worst ? worst->transitions_per_sec : 0;
                bool pass = got <= x->max_transitions_per_sec;
                fprintf(f, "%s max_transitions_per_sec: expected at most %g per VM, got %.3f%s%s%s\n",
                        pass ? "PASS" : "FAIL", x->max_transitions_per_sec, got, worst ? " (" : "",
                        worst ? worst->name : "", worst ? ")" : "");
                ok &= pass;
        }
        return ok;
}

static void help(void) {
        printf("schedsim SCENARIO.yaml [--json | --table] [--check]\n\n"
               "Runs the scheduler core against a simulated host and reports what each VM got.\n\n"
               "  --table   the policy, what each VM was promised and got, and a timeline\n"
               "  --json    one JSON object\n"
               "  --check   compare with the scenario's expect: (exit 1 if any fails)\n"
               "  --help    this text\n\n"
               "Exit status: 0, 1 an expectation failed, 2 a bad scenario, policy or command line.\n");
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                {"json", no_argument, NULL, 'j'},
                {"table", no_argument, NULL, 't'},
                {"check", no_argument, NULL, 'c'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        OutputMode mode = OUTPUT_DEFAULT;
        bool mode_given = false, check = false;
        Scenario sc = {};
        SimResult res = {};
        PolicyError err = {};
        int c, r, status = 0;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (c) {
                        case 'j':
                        case 't':
                                if (mode_given) {
                                        fprintf(stderr, "schedsim: --json and --table exclude each other\n");
                                        return EXIT_BAD_INPUT;
                                }
                                mode = c == 'j' ? OUTPUT_JSON : OUTPUT_TABLE;
                                mode_given = true;
                                break;
                        case 'c':
                                check = true;
                                break;
                        case 'h':
                                help();
                                return 0;
                        default:
                                return EXIT_BAD_INPUT;
                }
        }
        if (optind + 1 != argc) {
                fprintf(stderr, "schedsim: expected one scenario file (see --help)\n");
                return EXIT_BAD_INPUT;
        }
        if (check && !mode_given)
                mode = OUTPUT_NONE;

        r = scenario_parse_file(argv[optind], &sc, &err);
        if (r < 0) {
                fprintf(stderr, "schedsim: %s\n", err.message);
                return EXIT_BAD_INPUT;
        }
        if (check && !sc.expect.present) {
                fprintf(stderr, "schedsim: %s: --check: the scenario has no expect\n", sc.file);
                scenario_done(&sc);
                return EXIT_BAD_INPUT;
        }

        r = sim_run(&sc, &res, &err);
        if (r < 0) {
                fprintf(stderr, "schedsim: %s\n", err.message);
                scenario_done(&sc);
                return EXIT_BAD_INPUT;
        }

        for (size_t i = 0; i < res.n_messages; i++)
                fprintf(stderr, "schedsim: %s\n", res.messages[i]);

        switch (mode) {
                case OUTPUT_DEFAULT:
                        output_default(&sc, &res, stdout);
                        break;
                case OUTPUT_TABLE:
                        output_people(&sc, &res, stdout);
                        break;
                case OUTPUT_JSON:
                        output_json(&res, stdout);
                        break;
                case OUTPUT_NONE:
                        break;
        }
        if (check && !output_check(&sc, &res, stdout))
                status = EXIT_CHECK_FAILED;

        sim_result_done(&res);
        scenario_done(&sc);
        return status;
}
