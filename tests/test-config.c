/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "schedd/config.h"

/* A Config the parser must leave alone when it fails. */
static Config untouched(void) {
        return (Config){.tick_usec = 0xdeadbeef, .policy_path = (char *)"untouched"};
}

static Config parse_ok(const char *text) {
        Config c = untouched();
        ConfigError err = {.message = ""};
        int r = config_parse_string(text, "t.conf", &c, &err);

        cr_assert_eq(r, 0, "parse of \"%s\" failed: %d %s", text, r, err.message);
        return c;
}

static void expect_error(const char *text, int want_code, const char *want_message) {
        Config c = untouched();
        ConfigError err = {.message = ""};
        int r = config_parse_string(text, "t.conf", &c, &err);

        cr_assert_eq(r, want_code, "\"%s\": got %d (%s), want %d", text, r, err.message, want_code);
        cr_assert_str_eq(err.message, want_message, "\"%s\": got \"%s\"", text, err.message);
        cr_assert_eq(c.tick_usec, 0xdeadbeef, "output written on error");
        cr_assert_str_eq(c.policy_path, "untouched", "output written on error");
}

Test(config, empty_gives_defaults) {
        Config c = parse_ok("");

        cr_assert_str_eq(c.policy_path, "/etc/schedd/policy.yaml");
        cr_assert_str_eq(c.override_dir, "/etc/schedd/policy.d");
        cr_assert_str_eq(c.cgroup_root, "/sys/fs/cgroup");
        cr_assert_eq(c.tick_usec, 10000);
        cr_assert_str_eq(c.state_dir, "/run/schedd");
        cr_assert(c.bus_enable);
        cr_assert_str_eq(c.bus_name, "org.schedd.Scheduler1");
        cr_assert_str_eq(c.metrics_listen, "127.0.0.1:9717");
        cr_assert_eq(c.metrics_family, AF_INET);
        cr_assert_str_eq(c.metrics_address, "127.0.0.1");
        cr_assert_eq(c.metrics_port, 9717);
        cr_assert_eq(c.n_network_interfaces, 0);
        cr_assert_null(c.network_interfaces);
        config_done(&c);
}

Test(config, init_matches_empty_parse) {
        Config a, b = parse_ok("# nothing but a comment\n\n");

        cr_assert_eq(config_init(&a), 0);
        cr_assert_str_eq(a.policy_path, b.policy_path);
        cr_assert_str_eq(a.state_dir, b.state_dir);
        cr_assert_eq(a.tick_usec, b.tick_usec);
        cr_assert_eq(a.metrics_port, b.metrics_port);
        config_done(&a);
        config_done(&b);
        cr_assert_null(a.policy_path, "config_done() leaves the struct zeroed");
}

Test(config, every_key) {
        Config c = parse_ok("[schedd]\n"
                            "policy = /srv/p.yaml\n"
                            "override_dir = /srv/p.d\n"
                            "cgroup_root = /sys/fs/cgroup/machine.slice\n"
                            "tick = 20ms\n"
                            "state_dir = /var/lib/schedd\n"
                            "[bus]\n"
                            "enable = no\n"
                            "name = org.example.Sched1\n"
                            "[metrics]\n"
                            "listen = [::1]:9100\n"
                            "[network]\n"
                            "interfaces = tap0, tap1 vm-web\n");

        cr_assert_str_eq(c.policy_path, "/srv/p.yaml");
        cr_assert_str_eq(c.override_dir, "/srv/p.d");
        cr_assert_str_eq(c.cgroup_root, "/sys/fs/cgroup/machine.slice");
        cr_assert_eq(c.tick_usec, 20000);
        cr_assert_str_eq(c.state_dir, "/var/lib/schedd");
        cr_assert_not(c.bus_enable);
        cr_assert_str_eq(c.bus_name, "org.example.Sched1");
        cr_assert_str_eq(c.metrics_listen, "[::1]:9100");
        cr_assert_eq(c.metrics_family, AF_INET6);
        cr_assert_str_eq(c.metrics_address, "::1");
        cr_assert_eq(c.metrics_port, 9100);
        cr_assert_eq(c.n_network_interfaces, 3);
        cr_assert_str_eq(c.network_interfaces[0], "tap0");
        cr_assert_str_eq(c.network_interfaces[1], "tap1");
        cr_assert_str_eq(c.network_interfaces[2], "vm-web");
        config_done(&c);
}

Test(config, indented_keys_comments_and_inline_comments) {
        /* Indented keys are keys, not continuation lines of the previous one. */
        Config c = parse_ok("; a comment\n"
                            "# another\n"
                            "[schedd]\n"
                            "    tick = 5ms ; five milliseconds\n"
                            "\tstate_dir = /run/s\n");

        cr_assert_eq(c.tick_usec, 5000);
        cr_assert_str_eq(c.state_dir, "/run/s");
        config_done(&c);
}

Test(config, empty_values_switch_off) {
        Config c = parse_ok("[schedd]\noverride_dir =\n[metrics]\nlisten =\n[network]\ninterfaces =\n");

        cr_assert_null(c.override_dir);
        cr_assert_null(c.metrics_listen);
        cr_assert_null(c.metrics_address);
        cr_assert_eq(c.metrics_family, 0);
        cr_assert_eq(c.metrics_port, 0);
        cr_assert_eq(c.n_network_interfaces, 0);
        config_done(&c);
}

Test(config, booleans) {
        static const char *const yes[] = {"yes", "true", "on", "1", "YES", "True"};
        static const char *const no[] = {"no", "false", "off", "0", "NO", "False"};
        char text[128];

        for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
                snprintf(text, sizeof(text), "[bus]\nenable = %s\n", yes[i]);
                Config c = parse_ok(text);
                cr_assert(c.bus_enable, "%s", yes[i]);
                config_done(&c);

                snprintf(text, sizeof(text), "[bus]\nenable = %s\n", no[i]);
                c = parse_ok(text);
                cr_assert_not(c.bus_enable, "%s", no[i]);
                config_done(&c);
        }
}

Test(config, tick_bounds) {
        Config c = parse_ok("[schedd]\ntick = 1ms\n");
        cr_assert_eq(c.tick_usec, 1000);
        config_done(&c);

        c = parse_ok("[schedd]\ntick = 1s\n");
        cr_assert_eq(c.tick_usec, 1000000);
        config_done(&c);

        c = parse_ok("[schedd]\ntick = 1000us\n");
        cr_assert_eq(c.tick_usec, 1000);
        config_done(&c);

        expect_error("[schedd]\ntick = 999us\n", -EINVAL,
                     "t.conf:2: [schedd] tick: '999us' is out of range (allowed 1ms..1s)");
        expect_error("[schedd]\ntick = 1001ms\n", -EINVAL,
                     "t.conf:2: [schedd] tick: '1001ms' is out of range (allowed 1ms..1s)");
        expect_error("[schedd]\ntick = 0ms\n", -EINVAL,
                     "t.conf:2: [schedd] tick: '0ms' is out of range (allowed 1ms..1s)");
        expect_error("[schedd]\ntick = 1h\n", -EINVAL,
                     "t.conf:2: [schedd] tick: '1h' is out of range (allowed 1ms..1s)");
}

Test(config, bad_tick_values) {
        expect_error("[schedd]\ntick = 10\n", -EINVAL,
                     "t.conf:2: [schedd] tick: '10' is not a duration (a number and a unit: 10ms, 1s)");
        expect_error("[schedd]\ntick = fast\n", -EINVAL,
                     "t.conf:2: [schedd] tick: 'fast' is not a duration (a number and a unit: 10ms, 1s)");
        expect_error("[schedd]\ntick =\n", -EINVAL,
                     "t.conf:2: [schedd] tick: '' is not a duration (a number and a unit: 10ms, 1s)");
        expect_error("[schedd]\ntick = -10ms\n", -EINVAL, "t.conf:2: [schedd] tick: '-10ms' is negative");
        expect_error("[schedd]\ntick = 99999999999999999999h\n", -EINVAL,
                     "t.conf:2: [schedd] tick: '99999999999999999999h' is too large or too precise "
                     "(allowed 1ms..1s)");
}

Test(config, bad_paths) {
        expect_error("[schedd]\npolicy = policy.yaml\n", -EINVAL,
                     "t.conf:2: [schedd] policy: 'policy.yaml' is not an absolute path");
        expect_error("[schedd]\npolicy =\n", -EINVAL, "t.conf:2: [schedd] policy: must not be empty");
        expect_error("\n[schedd]\n\ncgroup_root = sys/fs/cgroup\n", -EINVAL,
                     "t.conf:4: [schedd] cgroup_root: 'sys/fs/cgroup' is not an absolute path");
        expect_error("[schedd]\ncgroup_root =\n", -EINVAL, "t.conf:2: [schedd] cgroup_root: must not be empty");
        expect_error("[schedd]\nstate_dir = run/schedd\n", -EINVAL,
                     "t.conf:2: [schedd] state_dir: 'run/schedd' is not an absolute path");
        expect_error("[schedd]\nstate_dir =\n", -EINVAL, "t.conf:2: [schedd] state_dir: must not be empty");
        expect_error("[schedd]\noverride_dir = policy.d\n", -EINVAL,
                     "t.conf:2: [schedd] override_dir: 'policy.d' is not an absolute path");
}

Test(config, bad_bus_values) {
        expect_error("[bus]\nenable = maybe\n", -EINVAL,
                     "t.conf:2: [bus] enable: 'maybe' is not a boolean (yes/no, true/false, on/off, 1/0)");
        expect_error("[bus]\nenable =\n", -EINVAL,
                     "t.conf:2: [bus] enable: '' is not a boolean (yes/no, true/false, on/off, 1/0)");

        static const char *const bad_names[] = {
                "schedd", "org.", ".org.schedd", "org..schedd", "org.1schedd", "org.sch/edd", "org.sch edd", "",
        };
        for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
                char text[128], want[256];

                snprintf(text, sizeof(text), "[bus]\nname = %s\n", bad_names[i]);
                snprintf(want, sizeof(want),
                         "t.conf:2: [bus] name: '%s' is not a D-Bus well-known name (like org.schedd.Scheduler1)",
                         bad_names[i]);
                expect_error(text, -EINVAL, want);
        }
}

Test(config, bus_name_forms) {
        Config c = parse_ok("[bus]\nname = a.b\n");
        cr_assert_str_eq(c.bus_name, "a.b");
        config_done(&c);
        c = parse_ok("[bus]\nname = org.ex-ample_1.Sched2\n");
        cr_assert_str_eq(c.bus_name, "org.ex-ample_1.Sched2");
        config_done(&c);
}

Test(config, bad_listen_values) {
        static const char *const bad[] = {
                "localhost:9717", "127.0.0.1",     "127.0.0.1:",     "127.0.0.1:x", "127.0.0.1:-1",
                "::1:9717",       "[::1]9717",     "[::1]",          "[]:9717",     ":9717",
                "1.2.3.4.5:80",   "127.0.0.1:80x", "[127.0.0.1]:80",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char text[128], want[256];

                snprintf(text, sizeof(text), "[metrics]\nlisten = %s\n", bad[i]);
                snprintf(want, sizeof(want),
                         "t.conf:2: [metrics] listen: '%s' is not ADDRESS:PORT (like 127.0.0.1:9717 or [::1]:9717)",
                         bad[i]);
                expect_error(text, -EINVAL, want);
        }

        expect_error("[metrics]\nlisten = 127.0.0.1:0\n", -EINVAL,
                     "t.conf:2: [metrics] listen: '127.0.0.1:0': port 0 is out of range (allowed 1..65535)");
        expect_error("[metrics]\nlisten = 127.0.0.1:65536\n", -EINVAL,
                     "t.conf:2: [metrics] listen: '127.0.0.1:65536': port 65536 is out of range (allowed 1..65535)");
        expect_error("[metrics]\nlisten = [::]:99999999999999999999999\n", -EINVAL,
                     "t.conf:2: [metrics] listen: '[::]:99999999999999999999999' is not ADDRESS:PORT (like "
                     "127.0.0.1:9717 or [::1]:9717)");
}

Test(config, listen_bounds) {
        Config c = parse_ok("[metrics]\nlisten = 0.0.0.0:1\n");
        cr_assert_eq(c.metrics_port, 1);
        cr_assert_str_eq(c.metrics_address, "0.0.0.0");
        config_done(&c);

        c = parse_ok("[metrics]\nlisten = [::]:65535\n");
        cr_assert_eq(c.metrics_port, 65535);
        cr_assert_eq(c.metrics_family, AF_INET6);
        cr_assert_str_eq(c.metrics_address, "::");
        config_done(&c);
}

Test(config, bad_interfaces) {
        expect_error("[network]\ninterfaces = tap0 averyveryverylongname\n", -EINVAL,
                     "t.conf:2: [network] interfaces: 'averyveryverylongname' is longer than 15 characters");
        expect_error("[network]\ninterfaces = tap0 a/b\n", -EINVAL,
                     "t.conf:2: [network] interfaces: 'a/b' is not an interface name");
        expect_error("[network]\ninterfaces = ..\n", -EINVAL,
                     "t.conf:2: [network] interfaces: '..' is not an interface name");
        expect_error("[network]\ninterfaces = eth0:1\n", -EINVAL,
                     "t.conf:2: [network] interfaces: 'eth0:1' is not an interface name");
        expect_error("[network]\ninterfaces = tap0,tap0\n", -EINVAL,
                     "t.conf:2: [network] interfaces: 'tap0' is listed twice");

        /* Exactly 15 characters is the longest name. */
        Config c = parse_ok("[network]\ninterfaces = abcdefghijklmno\n");
        cr_assert_eq(c.n_network_interfaces, 1);
        cr_assert_str_eq(c.network_interfaces[0], "abcdefghijklmno");
        config_done(&c);
}

Test(config, unknown_sections_and_keys) {
        /* on its header line, with keys or without */
        expect_error("[schedd]\ntick = 10ms\n[scheduler]\ntick = 10ms\n", -EINVAL,
                     "t.conf:3: unknown section [scheduler] (sections: [schedd], [bus], [metrics], [network])");
        expect_error("[schedd]\ntick = 10ms\n[scheduler]\n", -EINVAL,
                     "t.conf:3: unknown section [scheduler] (sections: [schedd], [bus], [metrics], [network])");
        expect_error("[schedd]\ntik = 10ms\n", -EINVAL, "t.conf:2: [schedd] tik: unknown key");
        expect_error("[metrics]\ntick = 10ms\n", -EINVAL, "t.conf:2: [metrics] tick: unknown key");
        expect_error("tick = 10ms\n", -EINVAL,
                     "t.conf:1: tick: key outside of any section (sections: [schedd], [bus], [metrics], "
                     "[network])");
        /* Keys are case-sensitive. */
        expect_error("[schedd]\nTick = 10ms\n", -EINVAL, "t.conf:2: [schedd] Tick: unknown key");
}

/* What inih would let pass: a section that sets nothing, text after "[name]". */
Test(config, empty_sections_and_junk_after_headers) {
        expect_error("[schedd]\n", -EINVAL, "t.conf:1: [schedd]: empty section (set a key in it, or leave it out)");
        expect_error("[schedd]\n; tick = 10ms\n\n[bus]\nenable = no\n", -EINVAL,
                     "t.conf:1: [schedd]: empty section (set a key in it, or leave it out)");
        expect_error("[schedd]\ntick = 10ms\n[bus]\n# nothing\n", -EINVAL,
                     "t.conf:3: [bus]: empty section (set a key in it, or leave it out)");
        expect_error("[schedd] junk\ntick = 10ms\n", -EINVAL,
                     "t.conf:1: '[schedd] junk': text after the section header [schedd]");
        expect_error("[schedd]]\ntick = 10ms\n", -EINVAL,
                     "t.conf:1: '[schedd]]': text after the section header [schedd]");

        /* a comment after the header is fine; so is a section set twice with keys in each */
        Config c = parse_ok("[schedd] ; the daemon\ntick = 20ms\n[bus]\t# the bus\nenable = no\n");
        cr_assert_eq(c.tick_usec, 20000);
        cr_assert(!c.bus_enable);
        config_done(&c);
}

Test(config, set_twice) {
        expect_error("[schedd]\ntick = 10ms\n\n[schedd]\ntick = 20ms\n", -EINVAL,
                     "t.conf:5: [schedd] tick: set twice (first on line 2)");
}

Test(config, syntax_errors) {
        expect_error("[schedd]\ntick 10ms\n", -EINVAL,
                     "t.conf:2: syntax error: expected '[section]' or 'key = value'");
        expect_error("[schedd\ntick = 10ms\n", -EINVAL,
                     "t.conf:1: syntax error: expected '[section]' or 'key = value'");
        expect_error("[schedd]\n= 10ms\n", -EINVAL, "t.conf:2: [schedd]: syntax error: '=' without a key");
}

Test(config, first_error_wins) {
        expect_error("[schedd]\ntick = 1us\npolicy = relative\n", -EINVAL,
                     "t.conf:2: [schedd] tick: '1us' is out of range (allowed 1ms..1s)");
        expect_error("[schedd]\nbogus\ntick = 1us\n", -EINVAL,
                     "t.conf:2: syntax error: expected '[section]' or 'key = value'");
}

Test(config, line_too_long) {
        char text[1024];
        int n = snprintf(text, sizeof(text), "[schedd]\npolicy = /");
        memset(text + n, 'p', 400);
        strcpy(text + n + 400, "\n");

        Config c = untouched();
        ConfigError err;
        cr_assert_eq(config_parse_string(text, "t.conf", &c, &err), -EINVAL);
        cr_assert(strncmp(err.message, "t.conf:2: line too long (at most ", 33) == 0, "%s", err.message);
        cr_assert_str_eq(c.policy_path, "untouched");
}

Test(config, no_final_newline_and_crlf) {
        Config c = parse_ok("[schedd]\ntick = 2ms");
        cr_assert_eq(c.tick_usec, 2000);
        config_done(&c);

        c = parse_ok("[schedd]\r\ntick = 3ms\r\n");
        cr_assert_eq(c.tick_usec, 3000);
        config_done(&c);
}

Test(config, file) {
        char path[] = "/tmp/test-config-XXXXXX";
        int fd = mkstemp(path);
        cr_assert_geq(fd, 0);
        const char text[] = "[schedd]\ntick = 50ms\n[bus]\nenable = off\n";
        cr_assert_eq(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
        close(fd);

        Config c;
        ConfigError err;
        cr_assert_eq(config_parse_file(path, &c, &err), 0, "%s", err.message);
        cr_assert_eq(c.tick_usec, 50000);
        cr_assert_not(c.bus_enable);
        config_done(&c);

        /* Errors name the file. */
        FILE *f = fopen(path, "w");
        fputs("[schedd]\n\ntick = 2s\n", f);
        fclose(f);
        cr_assert_eq(config_parse_file(path, &c, &err), -EINVAL);
        char want[256];
        snprintf(want, sizeof(want), "%s:3: [schedd] tick: '2s' is out of range (allowed 1ms..1s)", path);
        cr_assert_str_eq(err.message, want);

        /* A NUL byte: not a text file. */
        f = fopen(path, "w");
        fwrite("[schedd]\0\n", 1, 10, f);
        fclose(f);
        cr_assert_eq(config_parse_file(path, &c, &err), -EINVAL);
        cr_assert(strstr(err.message, "NUL byte"), "%s", err.message);

        unlink(path);
        cr_assert_eq(config_parse_file(path, &c, &err), -ENOENT);
        snprintf(want, sizeof(want), "%s: cannot read: No such file or directory", path);
        cr_assert_str_eq(err.message, want);
}

Test(config, shipped_example_parses) {
        /* The example config documents every key with its default. */
        Config c, d;
        ConfigError err;
        int r = config_parse_file("etc/schedd.conf", &c, &err);

        if (r == -ENOENT)
                cr_skip_test("run from the source tree to check etc/schedd.conf");
        cr_assert_eq(r, 0, "%s", err.message);
        cr_assert_eq(config_init(&d), 0);
        cr_assert_str_eq(c.policy_path, d.policy_path);
        cr_assert_str_eq(c.override_dir, d.override_dir);
        cr_assert_str_eq(c.cgroup_root, d.cgroup_root);
        cr_assert_eq(c.tick_usec, d.tick_usec);
        cr_assert_str_eq(c.state_dir, d.state_dir);
        cr_assert_eq(c.bus_enable, d.bus_enable);
        cr_assert_str_eq(c.bus_name, d.bus_name);
        cr_assert_str_eq(c.metrics_listen, d.metrics_listen);
        cr_assert_eq(c.n_network_interfaces, d.n_network_interfaces);
        config_done(&c);
        config_done(&d);
}

Test(config, usage_reads) {
        Config c = parse_ok("");
        cr_assert_eq(c.usage_reads, USAGE_READS_EVERY_TICK, "every VM read every tick by default");
        config_done(&c);

        c = parse_ok("[schedd]\nusage_reads = every-tick\n");
        cr_assert_eq(c.usage_reads, USAGE_READS_EVERY_TICK);
        config_done(&c);

        c = parse_ok("[schedd]\nusage_reads = adaptive\n");
        cr_assert_eq(c.usage_reads, USAGE_READS_ADAPTIVE);
        config_done(&c);

        expect_error("[schedd]\nusage_reads = sometimes\n", -EINVAL,
                     "t.conf:2: [schedd] usage_reads: 'sometimes' is neither adaptive nor every-tick");
}

Test(config, network_mode_and_schedule_cpu) {
        Config c = parse_ok("");
        cr_assert(c.schedule_cpu, "CPU is scheduled by default");
        cr_assert_eq(c.network_mode, CONFIG_NETWORK_PACE);
        config_done(&c);

        c = parse_ok("[schedd]\nschedule_cpu = no\n[network]\nmode = drop\n");
        cr_assert_not(c.schedule_cpu);
        cr_assert_eq(c.network_mode, CONFIG_NETWORK_DROP);
        config_done(&c);

        c = parse_ok("[network]\nmode = pace\n");
        cr_assert_eq(c.network_mode, CONFIG_NETWORK_PACE);
        config_done(&c);

        expect_error("[network]\nmode = Pace\n", -EINVAL, "t.conf:2: [network] mode: 'Pace' is neither pace nor drop");
        expect_error("[network]\nmode =\n", -EINVAL, "t.conf:2: [network] mode: '' is neither pace nor drop");
        expect_error("[schedd]\nschedule_cpu = maybe\n", -EINVAL,
                     "t.conf:2: [schedd] schedule_cpu: 'maybe' is not a boolean (yes/no, true/false, on/off, 1/0)");
}
