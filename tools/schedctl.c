/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * schedctl: the administrator's tool.  Each verb is one function in the
 * table below; verbs that talk to the daemon come with its control plane.
 *
 * Exit status: 0 success, 1 failure (an invalid policy), 2 usage error.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/parse.h"
#include "policy/units.h"
#include "policy/validate.h"

#define EXIT_USAGE 2

/* Where the machine's memory size is read from. */
#define PROC_MEMINFO "/proc/meminfo"

/* Longest summary line resolved_policy_summary() is given room for. */
#define SUMMARY_MAX 1024

static const char *program_name = "schedctl";

typedef struct Verb {
        const char *name;
        int (*run)(int argc, char *argv[]);
        const char *synopsis;
        const char *help;
} Verb;

static int verb_help(int argc, char *argv[]);
static int verb_validate(int argc, char *argv[]);

static const Verb verbs[] = {
        { "validate", verb_validate, "validate FILE [--override-dir DIR]",
          "Check a policy file (and its overrides) against this host" },
        { "help", verb_help, "help", "Show this help" },
};

#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))

static int usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "schedctl[ VERB]: what" and a hint, and returns the usage exit status. */
static int usage_error(const char *verb, const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "%s%s%s: ", program_name, verb ? " " : "", verb ? verb : "");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry '%s%s%s --help' for more information.\n", program_name, verb ? " " : "",
                verb ? verb : "");
        return EXIT_USAGE;
}

static void help(void) {
        printf("%s [OPTIONS...] COMMAND ...\n\n"
               "Control the cgroup token-bucket scheduler.\n\n"
               "Commands:\n",
               program_name);
        for (size_t i = 0; i < N_VERBS; i++)
                printf("  %-38s %s\n", verbs[i].synopsis, verbs[i].help);
        printf("\nOptions:\n"
               "  -h --help                              Show this help\n");
}

static int verb_help(int argc, char *argv[]) {
        (void)argc;
        (void)argv;
        help();
        return EXIT_SUCCESS;
}

/* ---- validate -------------------------------------------------------------------------------------------------- */

static void validate_help(void) {
        printf("%s validate FILE [--override-dir DIR]\n\n"
               "Parse the policy FILE, merge the *.yaml files of DIR over it in lexical\n"
               "order, and check the result against this host's CPUs and memory.\n"
               "Prints \"FILE: ok: SUMMARY\", or the first error with its file:line:column.\n\n"
               "Options:\n"
               "  -d --override-dir=DIR  Merge the overrides in DIR (a missing DIR is fine)\n"
               "  -h --help              Show this help\n",
               program_name);
}

/* MemTotal from a meminfo file, in bytes. */
static int read_memory_bytes(const char *path, uint64_t *ret_bytes) {
        char line[256];
        FILE *f;
        int r = -ENODATA;

        f = fopen(path, "re");
        if (!f)
                return -errno;

        while (fgets(line, sizeof(line), f)) {
                uint64_t kib;

                if (sscanf(line, "MemTotal: %" SCNu64 " kB", &kib) != 1)
                        continue;
                if (kib > UINT64_MAX / 1024) {
                        r = -ERANGE;
                        break;
                }
                *ret_bytes = kib * 1024;
                r = 0;
                break;
        }
        fclose(f);
        return r;
}

static int host_facts_read(HostFacts *ret) {
        long cpus;
        uint64_t memory_bytes = 0;
        int r;

        cpus = sysconf(_SC_NPROCESSORS_ONLN);
        if (cpus <= 0) {
                fprintf(stderr, "%s: cannot count the online CPUs: %s\n", program_name, strerror(errno ?: EINVAL));
                return -(errno ?: EINVAL);
        }

        r = read_memory_bytes(PROC_MEMINFO, &memory_bytes);
        if (r < 0) {
                fprintf(stderr, "%s: cannot read MemTotal from %s: %s\n", program_name, PROC_MEMINFO,
                        r == -ENODATA ? "not found" : strerror(-r));
                return r;
        }

        *ret = (HostFacts){
                .cpus_ucpu = (uint64_t)cpus * UNIT_UCPU_PER_CPU,
                .memory_bytes = memory_bytes,
        };
        return 0;
}

static int verb_validate(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "override-dir", required_argument, NULL, 'd' },
                {},
        };
        const char *override_dir = NULL, *file;
        ResolvedPolicy resolved;
        PolicyError err;
        HostFacts facts;
        Policy policy;
        char summary[SUMMARY_MAX];
        int c, r;

        optind = 0; /* GNU getopt: start over, for the verb's own options */
        while ((c = getopt_long(argc, argv, ":hd:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        validate_help();
                        return EXIT_SUCCESS;
                case 'd':
                        override_dir = optarg;
                        break;
                case ':':
                        return usage_error("validate", "option \"%s\" needs an argument", argv[optind - 1]);
                default:
                        return usage_error("validate", "unknown option \"%s\"", argv[optind - 1]);
                }

        if (optind >= argc)
                return usage_error("validate", "missing FILE");
        if (argc - optind > 1)
                return usage_error("validate", "unexpected argument \"%s\"", argv[optind + 1]);
        file = argv[optind];

        r = host_facts_read(&facts);
        if (r < 0)
                return EXIT_FAILURE;

        policy_init(&policy);
        r = policy_load(file, override_dir, &policy, &err);
        if (r < 0) {
                fprintf(stderr, "%s\n", err.message);
                policy_done(&policy);
                return EXIT_FAILURE;
        }

        r = policy_validate(&policy, &facts, &resolved, &err);
        if (r < 0) {
                fprintf(stderr, "%s\n", err.message);
                policy_done(&policy);
                return EXIT_FAILURE;
        }

        r = resolved_policy_summary(&resolved, summary, sizeof(summary));
        if (r < 0)
                snprintf(summary, sizeof(summary), "%zu VMs", resolved.n_vms);
        printf("%s: ok: %s\n", file, summary);

        resolved_policy_done(&resolved);
        policy_done(&policy);
        return EXIT_SUCCESS;
}

/* ---- main ------------------------------------------------------------------------------------------------------ */

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c;

        /* We word option errors ourselves; "+" stops at the verb, whose options are its own. */
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                default:
                        return usage_error(NULL, "unknown option \"%s\"", argv[optind - 1]);
                }

        if (optind >= argc)
                return usage_error(NULL, "missing command");

        for (size_t i = 0; i < N_VERBS; i++)
                if (strcmp(verbs[i].name, argv[optind]) == 0)
                        return verbs[i].run(argc - optind, argv + optind);

        return usage_error(NULL, "unknown command \"%s\"", argv[optind]);
}
