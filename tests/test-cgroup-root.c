/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * A cgroup root that is not cgroup2 is refused with the fix, unless the
 * configuration asks for a fake tree of plain files (fake_cgroup_root = yes,
 * which every test on a fake tree sets).
 */

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fake-tree.h"
#include "schedd/config.h"
#include "schedd/log.h"
#include "schedd/manager.h"

static char dir[PATH_MAX], tree[PATH_MAX], state[PATH_MAX];

static void setup(void) {
        fake_dirs_make(dir, tree, state, "/tmp/test-cgroup-root");
        fake_put(dir, "policy.yaml", "vms:\n  web:\n");
        fake_vm(tree, "web");
}

static void teardown(void) {
        log_set_stream(NULL);
        fake_dirs_remove(dir, tree, state);
}

TestSuite(cgroup_root, .init = setup, .fini = teardown);

/* The daemon's start on `conf_extra`'s configuration: its return, and the log in `log`. */
static int start(const char *conf_extra, char *log, size_t log_size) {
        char text[4 * PATH_MAX], *buf = NULL;
        size_t len = 0;
        ConfigError err;
        Config config;
        ManagerOptions o = {.max_ticks = 1};
        Manager *m;
        FILE *f;
        int r;

        snprintf(text, sizeof(text),
                 "[schedd]\npolicy = %s/policy.yaml\noverride_dir =\ncgroup_root = %s\ntick = 1ms\n"
                 "state_dir = %s\n%s[metrics]\nlisten =\n[bus]\nenable = no\n",
                 dir, tree, state, conf_extra);
        cr_assert_eq(config_parse_string(text, "test.conf", &config, &err), 0, "%s", err.message);

        f = open_memstream(&buf, &len);
        cr_assert_not_null(f);
        log_set_stream(f);
        log_set_max_level(LOG_INFO);
        cr_assert_eq(manager_new(&config, &o, &m), 0);
        r = manager_start(m);
        manager_free(m);
        log_set_stream(NULL);
        fclose(f);
        snprintf(log, log_size, "%s", buf ? buf : "");
        free(buf);
        config_done(&config);
        return r;
}

Test(cgroup_root, plain_files_refused_by_default) {
        char log[8192], want[PATH_MAX * 3];
        int r = start("", log, sizeof(log));

        cr_assert_eq(r, -EMEDIUMTYPE, "%d: %s", r, log);
        snprintf(want, sizeof(want),
                 "The cgroup root %s is not a cgroup2 file system: mount one there (mount -t cgroup2 cgroup2 %s) or "
                 "point [schedd] cgroup_root at one",
                 tree, tree);
        cr_assert(strstr(log, want), "log:\n%s\nwanted:\n%s", log, want);
}

Test(cgroup_root, plain_files_taken_where_asked) {
        char log[8192], want[PATH_MAX * 2];
        int r = start("fake_cgroup_root = yes\n", log, sizeof(log));

        cr_assert_eq(r, 0, "%d: %s", r, log);
        snprintf(want, sizeof(want), "The cgroup root %s is a tree of plain files ([schedd] fake_cgroup_root = yes)",
                 tree);
        cr_assert(strstr(log, want), "log:\n%s", log);
}

Test(cgroup_root, config_key) {
        ConfigError err;
        Config c;

        cr_assert_eq(config_parse_string("", "t.conf", &c, &err), 0);
        cr_assert(!c.fake_cgroup_root, "a production daemon refuses a fake tree by default");
        config_done(&c);
        cr_assert_eq(config_parse_string("[schedd]\nfake_cgroup_root = yes\n", "t.conf", &c, &err), 0);
        cr_assert(c.fake_cgroup_root);
        config_done(&c);
}
