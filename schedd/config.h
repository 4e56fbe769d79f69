/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The daemon's configuration: an INI file (read with inih), by default
 * /etc/schedd/schedd.conf.  Every key is documented in etc/schedd.conf.
 *
 *   [schedd]  policy, override_dir, cgroup_root, tick, state_dir, schedule_cpu, usage_reads
 *   [bus]     enable, name
 *   [metrics] listen
 *   [network] interfaces, mode
 *
 * Strict: an unknown section or key, a key set twice, or a bad value is an
 * error "FILE:LINE: [section] key: what".  Parsing does no I/O beyond
 * reading the file itself (config_parse_string() none at all), so tests feed
 * it text.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usage.h"

#define CONFIG_DEFAULT_PATH         "/etc/schedd/schedd.conf"
#define CONFIG_DEFAULT_POLICY       "/etc/schedd/policy.yaml"
#define CONFIG_DEFAULT_OVERRIDE_DIR "/etc/schedd/policy.d"
#define CONFIG_DEFAULT_CGROUP_ROOT  "/sys/fs/cgroup"
/* /run is a tmpfs: the restore state must not outlive a reboot, after which
 * the cgroups it describes are gone anyway. */
#define CONFIG_DEFAULT_STATE_DIR      "/run/schedd"
#define CONFIG_DEFAULT_BUS_NAME       "org.schedd.Scheduler1"
#define CONFIG_DEFAULT_METRICS_LISTEN "127.0.0.1:9717"

/* 10 ms: short enough that a burst is spread over many ticks and a change of
 * policy shows within a few of them, long enough that polling 100 VMs' cpu.stat
 * (about 2 µs each) costs about 2 % of one CPU. */
#define CONFIG_TICK_DEFAULT_USEC 10000ULL
/* 1 ms: cpu.max cannot enforce anything finer (the kernel's smallest quota
 * and period are 1 ms), so a faster tick only burns CPU. */
#define CONFIG_TICK_MIN_USEC 1000ULL
/* 1 s: slower than this and a burst or a reservation would be enforced over
 * windows too long to mean anything to a VM. */
#define CONFIG_TICK_MAX_USEC 1000000ULL

/* The host context (init.scope, system.slice, user.slice: everything not in
 * a VM) is a slot of the CPU core with 10 % of the CPU reserved: PID 1, the
 * journal, the bus and an admin's login need little on average but must not
 * wait behind busy VMs (at 1 % of a CPU a daemon-reload took minutes).  It
 * is a weight, so work-conserving: what the host does not use, the VMs get. */
#define CONFIG_HOST_RESERVE_DEFAULT_PPM 100000U
/* At most half: above that the VMs' promises would mean little. */
#define CONFIG_HOST_RESERVE_MAX_PPM 500000U

/* The longest interface name the kernel takes (IFNAMSIZ - 1). */
#define CONFIG_IFNAME_MAX 15

/* How egress above a VM's rate is held back ([network] mode). */
typedef enum ConfigNetworkMode {
        CONFIG_NETWORK_PACE, /* delayed (fq), dropped only beyond a short horizon */
        CONFIG_NETWORK_DROP, /* dropped */
} ConfigNetworkMode;

typedef struct ConfigError {
        char message[1024];
} ConfigError;

typedef struct Config {
        /* [schedd] */
        char *policy_path;  /* absolute */
        char *override_dir; /* absolute, NULL: none */
        char *cgroup_root;  /* absolute */
        uint64_t tick_usec; /* CONFIG_TICK_MIN_USEC..CONFIG_TICK_MAX_USEC */
        char *state_dir;    /* absolute */
        bool schedule_cpu;  /* false: no cpu.weight or cpu.max, no cpu controller needed */
        /* Tests only: the cgroup root may be a tree of plain files that look like
         * cgroup files (tests/fake-tree.h).  Default no: a cgroup root that is not
         * cgroup2 is refused, as a production daemon must. */
        bool fake_cgroup_root;
        bool reassert;             /* read back the knobs schedd owns and write back what another writer changed */
        uint32_t host_reserve_ppm; /* the host context's part of the CPU, parts per million
                                      (0..CONFIG_HOST_RESERVE_MAX_PPM) */
        UsageReads usage_reads;    /* when cpu.stat is read (usage.h); default adaptive */

        /* [bus] */
        bool bus_enable;
        char *bus_name; /* a D-Bus well-known name */

        /* [metrics] */
        char *metrics_listen;  /* as written, NULL: no metrics endpoint */
        int metrics_family;    /* AF_INET or AF_INET6 (0 when metrics_listen is NULL) */
        char *metrics_address; /* the address part, without brackets */
        uint16_t metrics_port; /* 1..65535 */

        /* [network] */
        char **network_interfaces; /* each 1..CONFIG_IFNAME_MAX characters */
        size_t n_network_interfaces;
        ConfigNetworkMode network_mode;
} Config;

/* The defaults.  0 or -ENOMEM (then c is left empty: config_done() is safe). */
int config_init(Config *c);
/* Frees everything; c is left zeroed. */
void config_done(Config *c);

/*
 * Parses `text` (NUL-terminated) as the configuration file `file` (a name
 * for messages only) over the defaults.  0 and *ret filled (the caller frees
 * it with config_done(); *ret is overwritten, not freed first), or:
 *   -EINVAL  a syntax error, unknown section or key, key set twice or bad value
 *   -ENOMEM
 * with err (may be NULL) filled and *ret untouched.
 */
int config_parse_string(const char *text, const char *file, Config *ret, ConfigError *err);

/* Reads `path` and parses it like config_parse_string().  A file that cannot
 * be read gives its -errno (-ENOENT: missing) and "PATH: cannot read: ...". */
int config_parse_file(const char *path, Config *ret, ConfigError *err);
