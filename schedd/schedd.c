/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* schedd: main only.  Parse arguments, load the configuration, build the
 * manager (which checks the system), run. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "config.h"
#include "log.h"
#include "manager.h"
#include "policy/units.h"
#include "version.h"

typedef struct Args {
        const char *config_path; /* NULL: CONFIG_DEFAULT_PATH, missing is fine */
        ManagerOptions manager;
} Args;

static void help(void) {
        printf("Usage: schedd [OPTIONS]\n"
               "\n"
               "Token-bucket scheduler for VMs in cgroup v2: reservations, shares, limits and\n"
               "bursts of CPU and disk I/O, enforced through cpu.weight, cpu.max and io.max.\n"
               "\n"
               "  -h --help               show this help\n"
               "     --version            show the version\n"
               "  -c --config PATH        the configuration file (default " CONFIG_DEFAULT_PATH ")\n"
               "     --log-level LEVEL    err, warning, notice, info (default) or debug\n"
               "     --user               serve the D-Bus interface on the user's bus\n"
               "     --bus-address ADDR   serve it on the bus at ADDR (\"unix:path=...\")\n"
               "     --bus-introspect     print the D-Bus interface's introspection XML and exit\n"
               "\n"
               "For tests:\n"
               "     --ticks N            exit (restoring the cgroups) after N ticks\n"
               "     --stats-file PATH    rewrite PATH after every tick with what each VM used\n"
               "                          and what schedd decided for it\n"
               "     --block-devices DIR  resolve device names through DIR/NAME/dev\n"
               "                          (default /sys/class/block)\n"
               "\n"
               "Signals: SIGHUP reloads the policy; SIGTERM and SIGINT restore every cgroup\n"
               "file schedd changed and exit.\n");
}

/* 0 and the options, 1 when done (--help, --version), or -EINVAL. */
static int parse_args(int argc, char *argv[], Args *ret) {
        enum {
                ARG_VERSION = 0x100,
                ARG_LOG_LEVEL,
                ARG_TICKS,
                ARG_STATS_FILE,
                ARG_BLOCK_DEVICES,
                ARG_USER,
                ARG_BUS_ADDRESS,
                ARG_BUS_INTROSPECT,
        };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {"config", required_argument, NULL, 'c'},
                {"log-level", required_argument, NULL, ARG_LOG_LEVEL},
                {"ticks", required_argument, NULL, ARG_TICKS},
                {"stats-file", required_argument, NULL, ARG_STATS_FILE},
                {"block-devices", required_argument, NULL, ARG_BLOCK_DEVICES},
                {"user", no_argument, NULL, ARG_USER},
                {"bus-address", required_argument, NULL, ARG_BUS_ADDRESS},
                {"bus-introspect", no_argument, NULL, ARG_BUS_INTROSPECT},
                {},
        };
        Args args = {};
        uint64_t n;
        int c, r;

        while ((c = getopt_long(argc, argv, "hc:", options, NULL)) >= 0)
                switch (c) {
                        case 'h':
                                help();
                                return 1;
                        case ARG_VERSION:
                                printf("schedd " SCHEDD_VERSION "\n");
                                return 1;
                        case 'c':
                                args.config_path = optarg;
                                break;
                        case ARG_LOG_LEVEL:
                                r = log_level_from_string(optarg);
                                if (r < 0)
                                        return log_error_errno(r,
                                                               "--log-level: '%s' is not a level (err, warning, "
                                                               "notice, info, debug)",
                                                               optarg);
                                log_set_max_level(r);
                                break;
                        case ARG_TICKS:
                                r = unit_parse_count(optarg, &n);
                                if (r < 0 || n == 0)
                                        return log_error_errno(EINVAL, "--ticks: '%s' is not a positive number",
                                                               optarg);
                                args.manager.max_ticks = n;
                                break;
                        case ARG_STATS_FILE:
                                args.manager.stats_file = optarg;
                                break;
                        case ARG_USER:
                                args.manager.bus_user = true;
                                break;
                        case ARG_BUS_ADDRESS:
                                args.manager.bus_address = optarg;
                                break;
                        case ARG_BUS_INTROSPECT:
                                r = manager_bus_introspect(stdout);
                                if (r < 0)
                                        return log_error_errno(r, "Cannot introspect the D-Bus interface: %m");
                                return 1;
                        case ARG_BLOCK_DEVICES:
                                args.manager.sys_class_block = optarg;
                                break;
                        case '?':
                                return -EINVAL; /* getopt said what */
                        default:
                                return log_error_errno(EINVAL, "Unexpected option %d", c);
                }

        if (optind < argc)
                return log_error_errno(EINVAL, "Unexpected argument '%s' (see --help)", argv[optind]);

        *ret = args;
        return 0;
}

static int load_config(const char *path, Config *ret) {
        ConfigError err;
        int r;

        r = config_parse_file(path ?: CONFIG_DEFAULT_PATH, ret, &err);
        if (r == -ENOENT && !path) {
                log_info("No %s: using the defaults", CONFIG_DEFAULT_PATH);
                r = config_init(ret);
                return r < 0 ? log_error_errno(r, "Out of memory") : 0;
        }
        if (r < 0)
                return log_error_errno(r, "%s", err.message);
        return 0;
}

/* Each VM keeps a handful of cgroup files open: lift the soft limit on
 * descriptors to the hard one, as a service manager would allow. */
static void bump_nofile(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
                return;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                log_debug_errno(errno, "Cannot raise the descriptor limit: %m");
}

int main(int argc, char *argv[]) {
        Config config = {};
        Manager *m = NULL;
        Args args;
        int r;

        r = parse_args(argc, argv, &args);
        if (r != 0)
                return r > 0 ? EXIT_SUCCESS : EXIT_FAILURE;

        r = load_config(args.config_path, &config);
        if (r < 0)
                return EXIT_FAILURE;

        bump_nofile();

        args.manager.bus = config.bus_enable || args.manager.bus_address || args.manager.bus_user;
        r = manager_new(&config, &args.manager, &m);
        if (r < 0) {
                log_error_errno(r, "Out of memory");
                goto finish;
        }
        r = manager_start(m);
        if (r < 0)
                goto finish;
        r = manager_run(m);

finish:
        manager_free(m);
        config_done(&config);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
