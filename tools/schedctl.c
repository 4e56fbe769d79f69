/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * schedctl: the administrator's tool.  Each verb is one function in the
 * table below, and (but for validate) one or two calls to schedd on the
 * bus (schedctl-verbs.c).  Options may stand anywhere on the line.
 *
 * Exit status: 0 success; 1 refused or failed (an invalid policy, no such
 * VM); 2 usage error; 3 schedd is not running (or the bus is out of
 * reach); 4 access denied (a change needs root or CAP_SYS_ADMIN).
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
#include "schedctl.h"

/* Where the machine's memory size is read from. */
#define PROC_MEMINFO "/proc/meminfo"

/* Longest summary line resolved_policy_summary() is given room for. */
#define SUMMARY_MAX 1024

const char *program_name = "schedctl";

/* Options that only some verbs take. */
typedef enum VerbOption {
        VERB_OPTION_RUNTIME = 1U << 0,
        VERB_OPTION_ITERATIONS = 1U << 1,
        VERB_OPTION_OVERRIDE_DIR = 1U << 2,
} VerbOption;

typedef struct Verb {
        const char *name;
        int (*run)(Ctl *c, int argc, char *argv[]);
        const char *synopsis;
        const char *summary;
        const char *help; /* for `schedctl VERB --help`, after the synopsis */
        unsigned options; /* VerbOption bits it takes */
} Verb;

static int verb_validate(Ctl *c, int argc, char *argv[]);
static int verb_help(Ctl *c, int argc, char *argv[]);

static const Verb verbs[] = {
        {"list", verb_list, "list", "List the VMs of the running policy",
         "One line per VM: its name, whether schedd manages its cgroup or waits for it,\n"
         "whether it is held to its entitlement, and its cgroup.\n",
         0},
        {"status", verb_status, "status [VM]", "Show schedd's state, or one VM's",
         "Without VM: a summary and every VM's CPU now (usage, entitlement, ceiling\n"
         "and tokens in the last tick; how often it was held).  With VM: everything\n"
         "about it, its policy as written included.\n",
         0},
        {"get", verb_get, "get VM [KEY]", "Show a VM's policy, or one key of it",
         "Without KEY: every key the policy sets for VM, as written and resolved to\n"
         "numbers (CPUs, bytes per second, ...), and the resolved defaults.  With KEY\n"
         "(as for set; \"reserve\" is cpu.reserve): its value as written, or an\n"
         "empty line when the policy does not set it.\n",
         0},
        {"set", verb_set, "set VM KEY=VALUE... [--runtime]", "Change a VM's policy",
         "Keys: reserve, share, limit, burst (the CPU's), cpu.reserve ... cpu.burst,\n"
         "io.DEV.DIR.reserve ... (DIR: rbps, wbps, riops, wiops), io.DEV.share,\n"
         "net.egress.reserve ..., net.interface, memory.reserve, memory.limit,\n"
         "cgroup, create.  Values as in the policy file: 10%, 0.5, 200ms, 100MB,\n"
         "100Mbit, 1G.  All keys apply together or none does: the whole policy,\n"
         "admission control included, is checked first.\n"
         "\n"
         "The change is written to the override file (see `status`), which keeps\n"
         "it across restarts; --runtime changes only the running schedd.\n",
         VERB_OPTION_RUNTIME},
        {"reset", verb_reset, "reset VM [KEY...]", "Undo set: back to the policy files",
         "Drops KEYs (no KEY: every key) of VM from the override file and from the\n"
         "runtime changes, so that the policy files' values apply again.\n",
         0},
        {"reload", verb_reload, "reload", "Load the policy files again",
         "As SIGHUP: an invalid policy is refused and the running one stays.\n", 0},
        {"move", verb_move, "move PID VM", "Move a process into a VM's cgroup",
         "Writes PID to the cgroup.procs of VM's cgroup.\n", 0},
        {"top", verb_top, "top [--iterations N]", "Show the VMs' CPU, refreshed every second",
         "As status, sorted by usage, every second until interrupted (or N times).\n", VERB_OPTION_ITERATIONS},
        {"validate", verb_validate, "validate FILE [--override-dir DIR]",
         "Check a policy file (and its overrides) against this host",
         "Parse the policy FILE, merge the *.yaml files of DIR over it in lexical\n"
         "order, and check the result against this host's CPUs and memory, without\n"
         "schedd.  Prints \"FILE: ok: SUMMARY\", or the first error with its\n"
         "file:line:column.\n",
         VERB_OPTION_OVERRIDE_DIR},
        {"help", verb_help, "help [VERB]", "Show this help, or a verb's", "", 0},
};

#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))

int usage_error(const char *verb, const char *fmt, ...) {
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
                printf("  %-36s %s\n", verbs[i].synopsis, verbs[i].summary);
        printf("\nOptions:\n"
               "  -h --help               Show this help (with a command: its help)\n"
               "     --json               Print JSON instead of tables\n"
               "     --no-legend          Leave out table headers and footers\n"
               "     --runtime            set: change the running schedd only\n"
               "     --iterations=N       top: stop after N screens\n"
               "  -d --override-dir=DIR   validate: merge the overrides in DIR\n"
               "     --user               Talk to schedd on the user's bus\n"
               "     --bus-address=ADDR   Talk to schedd on the bus at ADDR\n"
               "     --bus-name=NAME      schedd's name on the bus (default %s)\n"
               "\nExit status: 0 success, %d refused or failed, %d usage error, %d schedd is not\n"
               "running, %d access denied (changes need root or CAP_SYS_ADMIN).\n",
               SCHEDCTL_BUS_NAME, EXIT_REFUSED, EXIT_USAGE, EXIT_NOT_RUNNING, EXIT_ACCESS_DENIED);
}

static const Verb *verb_find(const char *name) {
        for (size_t i = 0; i < N_VERBS; i++)
                if (strcmp(verbs[i].name, name) == 0)
                        return &verbs[i];
        return NULL;
}

static void verb_help_text(const Verb *v) {
        printf("%s %s\n\n%s.\n%s%s", program_name, v->synopsis, v->summary, v->help[0] ? "\n" : "", v->help);
        printf("\nOptions: --json, --no-legend, --user, --bus-address=ADDR (see %s --help).\n", program_name);
}

static int verb_help(Ctl *c, int argc, char *argv[]) {
        const Verb *v;

        (void)c;
        if (argc < 2) {
                help();
                return EXIT_SUCCESS;
        }
        v = verb_find(argv[1]);
        if (!v)
                return usage_error("help", "unknown command \"%s\"", argv[1]);
        verb_help_text(v);
        return EXIT_SUCCESS;
}

/* ---- validate -------------------------------------------------------------------------------------------------- */

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

static int verb_validate(Ctl *c, int argc, char *argv[]) {
        const char *file;
        ResolvedPolicy resolved;
        PolicyError err;
        HostFacts facts;
        Policy policy;
        char summary[SUMMARY_MAX];
        int r;

        if (argc < 2)
                return usage_error("validate", "missing FILE");
        if (argc > 2)
                return usage_error("validate", "unexpected argument \"%s\"", argv[2]);
        file = argv[1];

        r = host_facts_read(&facts);
        if (r < 0)
                return EXIT_FAILURE;

        policy_init(&policy);
        r = policy_load(file, c->override_dir, &policy, &err);
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

static const char *option_name(unsigned option) {
        return option == VERB_OPTION_RUNTIME      ? "--runtime"
               : option == VERB_OPTION_ITERATIONS ? "--iterations"
                                                  : "--override-dir";
}

int main(int argc, char *argv[]) {
        enum {
                ARG_JSON = 0x100,
                ARG_NO_LEGEND,
                ARG_RUNTIME,
                ARG_ITERATIONS,
                ARG_USER,
                ARG_BUS_ADDRESS,
                ARG_BUS_NAME,
        };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"json", no_argument, NULL, ARG_JSON},
                {"no-legend", no_argument, NULL, ARG_NO_LEGEND},
                {"runtime", no_argument, NULL, ARG_RUNTIME},
                {"iterations", required_argument, NULL, ARG_ITERATIONS},
                {"override-dir", required_argument, NULL, 'd'},
                {"user", no_argument, NULL, ARG_USER},
                {"bus-address", required_argument, NULL, ARG_BUS_ADDRESS},
                {"bus-name", required_argument, NULL, ARG_BUS_NAME},
                {},
        };
        Ctl c = {.legend = true, .bus_name = SCHEDCTL_BUS_NAME};
        unsigned given = 0;
        bool want_help = false;
        const Verb *v;
        int opt, r;

        /* We word option errors ourselves.  GNU getopt moves the options
         * (wherever they stand) before the command and its arguments. */
        opterr = 0;
        while ((opt = getopt_long(argc, argv, ":hd:", options, NULL)) >= 0)
                switch (opt) {
                        case 'h':
                                want_help = true;
                                break;
                        case ARG_JSON:
                                c.json = true;
                                break;
                        case ARG_NO_LEGEND:
                                c.legend = false;
                                break;
                        case ARG_RUNTIME:
                                c.runtime = true;
                                given |= VERB_OPTION_RUNTIME;
                                break;
                        case ARG_ITERATIONS:
                                if (unit_parse_count(optarg, &c.iterations) < 0 || c.iterations == 0)
                                        return usage_error(NULL, "--iterations: \"%s\" is not a positive number",
                                                           optarg);
                                given |= VERB_OPTION_ITERATIONS;
                                break;
                        case 'd':
                                c.override_dir = optarg;
                                given |= VERB_OPTION_OVERRIDE_DIR;
                                break;
                        case ARG_USER:
                                c.user = true;
                                break;
                        case ARG_BUS_ADDRESS:
                                c.bus_address = optarg;
                                break;
                        case ARG_BUS_NAME:
                                c.bus_name = optarg;
                                break;
                        case ':':
                                return usage_error(NULL, "option \"%s\" needs an argument", argv[optind - 1]);
                        default:
                                return usage_error(NULL, "unknown option \"%s\"", argv[optind - 1]);
                }

        if (optind >= argc) {
                if (want_help) {
                        help();
                        return EXIT_SUCCESS;
                }
                return usage_error(NULL, "missing command");
        }
        v = verb_find(argv[optind]);
        if (!v)
                return usage_error(NULL, "unknown command \"%s\"", argv[optind]);
        if (want_help) {
                if (v->run == verb_help)
                        help();
                else
                        verb_help_text(v);
                return EXIT_SUCCESS;
        }
        for (unsigned bit = 1; bit <= VERB_OPTION_OVERRIDE_DIR; bit <<= 1)
                if ((given & bit) && !(v->options & bit))
                        return usage_error(v->name, "%s does not apply to %s", option_name(bit), v->name);

        c.colour = !c.json && output_wants_colour();
        r = v->run(&c, argc - optind, argv + optind);
        ctl_disconnect(&c);
        return r;
}
