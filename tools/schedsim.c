/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * schedsim SCENARIO.yaml [--json | --table] [--check]
 * schedsim --plan SCENARIO.yaml
 * schedsim --check-json RESULT.json [--tolerance X] [--io-tolerance X] SCENARIO.yaml
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
 * For a real kernel (tests/vm/run-scenario), which must not parse scenarios
 * itself:
 *   --plan              prints what the guest needs (tools/sim/plan.h)
 *   --check-json FILE   applies the scenario's `expect` to results measured
 *                       elsewhere (JSON as --json prints), with the
 *                       tolerances given: --tolerance (absolute, fractions of
 *                       the host; default the scenario's own) and
 *                       --io-tolerance (relative; default 0.10)
 *
 * The simulator models CPU only: I/O loads run as idle, and it says so.
 *
 * Exit status: 0, 1 (an expectation failed), 2 (a bad scenario, policy or
 * command line), 77 (--check or --check-json of a scenario whose tiers leave
 * this tier out: skipped).
 */

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/units.h"
#include "tools/sim/plan.h"
#include "tools/sim/results.h"
#include "tools/sim/run.h"
#include "tools/sim/scenario.h"

/* Exit statuses a test runner tells apart: an expectation that failed (the
 * scheduler's fault, or the scenario's) from a scenario that could not run. */
#define EXIT_CHECK_FAILED 1
#define EXIT_BAD_INPUT    2
/* The status automake's test drivers (and tests/run-scenarios) read as "skipped". */
#define EXIT_SKIPPED 77

/* The largest results file read: a few hundred bytes per VM; a megabyte is a mistake. */
#define RESULTS_FILE_MAX_BYTES (1024 * 1024)

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
                        "%llu,\"io_bps\":null}",
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

/* The simulator's figures as results: every VM, I/O not measured. */
static int results_of_sim(const SimResult *res, Results *ret) {
        Results r;

        results_init(&r);
        r.utilization = res->utilization;
        for (size_t i = 0; i < res->n_vms; i++) {
                ResultVm *v = results_add_vm(&r, res->vms[i].name);

                if (!v) {
                        results_done(&r);
                        return -ENOMEM;
                }
                v->cpu_fraction = res->vms[i].cpu_fraction;
                v->transitions_per_sec = res->vms[i].transitions_per_sec;
        }
        *ret = r;
        return 0;
}

/* Prints one line per expectation; 1 if every one holds, 0 if not, or -ENOMEM. */
static int output_check(const Scenario *sc, const Results *res, const CheckTolerance *tol, FILE *f) {
        CheckLine *lines = NULL;
        size_t n = 0;
        bool ok = true;
        int r;

        r = results_check(sc, res, tol, &lines, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                fprintf(f, "%s\n", lines[i].text);
                ok &= lines[i].pass;
        }
        free(lines);
        return ok;
}

/* A number on the command line, in [0, max]. */
static int parse_tolerance(const char *option, const char *s, double max, double *ret) {
        char *end;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || end == s || *end != '\0' || !(v >= 0 && v <= max)) {
                fprintf(stderr, "schedsim: %s: \"%s\" is not a number in 0..%g\n", option, s, max);
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

static int read_file(const char *path, char **ret_text, size_t *ret_len) {
        char *text = NULL;
        size_t len = 0;
        FILE *f;
        int r = 0;

        f = fopen(path, "re");
        if (!f)
                return -errno;
        text = malloc(RESULTS_FILE_MAX_BYTES + 1);
        if (!text) {
                fclose(f);
                return -ENOMEM;
        }
        len = fread(text, 1, RESULTS_FILE_MAX_BYTES + 1, f);
        if (ferror(f))
                r = -EIO;
        else if (len > RESULTS_FILE_MAX_BYTES)
                r = -EFBIG;
        fclose(f);
        if (r < 0) {
                free(text);
                return r;
        }
        text[len] = '\0';
        *ret_text = text;
        *ret_len = len;
        return 0;
}

/* --check-json: the expectations against results measured elsewhere. */
static int check_results_file(const Scenario *sc, const char *path, const CheckTolerance *tol) {
        Results res;
        PolicyError err = {};
        char *text = NULL;
        size_t len = 0;
        int r;

        r = read_file(path, &text, &len);
        if (r < 0) {
                fprintf(stderr, "schedsim: %s: cannot read: %s\n", path, strerror(-r));
                return EXIT_BAD_INPUT;
        }
        r = results_parse_json(text, len, path, &res, &err);
        free(text);
        if (r < 0) {
                fprintf(stderr, "schedsim: %s\n", err.message);
                return EXIT_BAD_INPUT;
        }
        r = output_check(sc, &res, tol, stdout);
        results_done(&res);
        if (r < 0) {
                fprintf(stderr, "schedsim: out of memory\n");
                return EXIT_BAD_INPUT;
        }
        return r ? 0 : EXIT_CHECK_FAILED;
}

static int print_plan(const Scenario *sc) {
        PolicyError err = {};
        char *text = NULL;
        int r;

        r = plan_write_string(sc, &text, &err);
        if (r < 0) {
                fprintf(stderr, "schedsim: %s\n", err.message);
                return EXIT_BAD_INPUT;
        }
        fputs(text, stdout);
        free(text);
        return 0;
}

static const char *tier_names(unsigned tiers) {
        return tiers == SCENARIO_TIER_SIM ? "sim" : tiers == SCENARIO_TIER_VM ? "vm" : "sim, vm";
}

static void help(void) {
        printf("schedsim SCENARIO.yaml [--json | --table] [--check]\n"
               "schedsim --plan SCENARIO.yaml\n"
               "schedsim --check-json RESULT.json [--tolerance X] [--io-tolerance X] SCENARIO.yaml\n\n"
               "Runs the scheduler core against a simulated host and reports what each VM got.\n\n"
               "  --table              the policy, what each VM was promised and got, and a timeline\n"
               "  --json               one JSON object\n"
               "  --check              compare with the scenario's expect: (exit 1 if any fails)\n"
               "  --plan               print what a real kernel needs to run the scenario\n"
               "  --check-json FILE    compare results measured elsewhere with the scenario's expect:\n"
               "  --tolerance X        for --check-json: CPU fractions within X of the host\n"
               "                       (default: the scenario's own tolerance)\n"
               "  --io-tolerance X     for --check-json: I/O rates within X of the rate (default %g)\n"
               "  --help               this text\n\n"
               "Exit status: 0, 1 an expectation failed, 2 a bad scenario, policy or command line,\n"
               "77 the scenario's tiers leave this tier out (--check, --check-json).\n",
               CHECK_TOLERANCE_VM_IO);
}

int main(int argc, char **argv) {
        enum {
                ARG_PLAN = 0x100,
                ARG_CHECK_JSON,
                ARG_TOLERANCE,
                ARG_IO_TOLERANCE,
        };
        static const struct option options[] = {
                {"json", no_argument, NULL, 'j'},
                {"table", no_argument, NULL, 't'},
                {"check", no_argument, NULL, 'c'},
                {"plan", no_argument, NULL, ARG_PLAN},
                {"check-json", required_argument, NULL, ARG_CHECK_JSON},
                {"tolerance", required_argument, NULL, ARG_TOLERANCE},
                {"io-tolerance", required_argument, NULL, ARG_IO_TOLERANCE},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        OutputMode mode = OUTPUT_DEFAULT;
        bool mode_given = false, check = false, plan = false;
        const char *check_json = NULL;
        CheckTolerance tol = {.cpu = -1, .io = CHECK_TOLERANCE_VM_IO};
        bool tol_given = false;
        Results results;
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
                        case ARG_PLAN:
                                plan = true;
                                break;
                        case ARG_CHECK_JSON:
                                check_json = optarg;
                                break;
                        case ARG_TOLERANCE:
                                /* A whole host is the most any fraction can be off. */
                                if (parse_tolerance("--tolerance", optarg, 1, &tol.cpu) < 0)
                                        return EXIT_BAD_INPUT;
                                tol_given = true;
                                break;
                        case ARG_IO_TOLERANCE:
                                /* Off by more than the rate itself is no tolerance. */
                                if (parse_tolerance("--io-tolerance", optarg, 1, &tol.io) < 0)
                                        return EXIT_BAD_INPUT;
                                tol_given = true;
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
        if ((plan || check_json) && (mode_given || check || (plan && check_json))) {
                fprintf(stderr, "schedsim: --plan and --check-json go alone (see --help)\n");
                return EXIT_BAD_INPUT;
        }
        if (tol_given && !check_json) {
                fprintf(stderr, "schedsim: --tolerance and --io-tolerance are for --check-json\n");
                return EXIT_BAD_INPUT;
        }
        if (check && !mode_given)
                mode = OUTPUT_NONE;

        r = scenario_parse_file(argv[optind], &sc, &err);
        if (r < 0) {
                fprintf(stderr, "schedsim: %s\n", err.message);
                return EXIT_BAD_INPUT;
        }
        if ((check || check_json) && !sc.expect.present) {
                fprintf(stderr, "schedsim: %s: %s: the scenario has no expect\n", sc.file,
                        check ? "--check" : "--check-json");
                scenario_done(&sc);
                return EXIT_BAD_INPUT;
        }
        if (plan || check_json) {
                if (check_json && !(sc.tiers & SCENARIO_TIER_VM)) {
                        printf("SKIP %s: tiers: [%s]: not for a real kernel\n", sc.file, tier_names(sc.tiers));
                        status = EXIT_SKIPPED;
                } else
                        status = plan ? print_plan(&sc) : check_results_file(&sc, check_json, &tol);
                scenario_done(&sc);
                return status;
        }
        if (check && !(sc.tiers & SCENARIO_TIER_SIM)) {
                printf("SKIP %s: tiers: [%s]: measured on a real kernel only (tests/vm/run-scenario)\n", sc.file,
                       tier_names(sc.tiers));
                scenario_done(&sc);
                return EXIT_SKIPPED;
        }
        for (size_t i = 0; i < sc.n_load; i++)
                if (sc.load[i].kind == SCENARIO_LOAD_IO) {
                        fprintf(stderr,
                                "schedsim: %s: I/O loads are not simulated (they run as idle); "
                                "tests/vm/run-scenario measures them on a real kernel\n",
                                sc.file);
                        break;
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
        if (check) {
                r = results_of_sim(&res, &results);
                if (r >= 0) {
                        r = output_check(&sc, &results, &(CheckTolerance){.cpu = -1, .io = CHECK_TOLERANCE_VM_IO},
                                         stdout);
                        results_done(&results);
                }
                if (r < 0) {
                        fprintf(stderr, "schedsim: out of memory\n");
                        status = EXIT_BAD_INPUT;
                } else if (r == 0)
                        status = EXIT_CHECK_FAILED;
        }

        sim_result_done(&res);
        scenario_done(&sc);
        return status;
}
