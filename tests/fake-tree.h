/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A fake cgroup v2 tree for the daemon's tests: plain files in a mkdtemp()
 * directory that look like the kernel's cgroup files.  Header-only, for the
 * criterion tests (test-cgroup, test-restore, test-manager).
 */

#include <criterion/criterion.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "schedd/config.h"

/* A temp directory; `prefix` names it ("/tmp/test-x" -> "/tmp/test-x-XXXXXX"). */
static inline void fake_mkdtemp(char *buf, size_t size, const char *prefix) {
        snprintf(buf, size, "%s-XXXXXX", prefix);
        cr_assert_not_null(mkdtemp(buf), "mkdtemp: %m");
}

static inline void fake_put(const char *dir, const char *rel, const char *text) {
        char path[PATH_MAX * 2];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        f = fopen(path, "w");
        cr_assert_not_null(f, "%s: %m", path);
        fputs(text, f);
        fclose(f);
}

/* The content of dir/rel, or NULL if it cannot be read.  Valid until the next call. */
static inline char *fake_get(const char *dir, const char *rel) {
        static char buf[16384];
        char path[PATH_MAX * 2];
        FILE *f;
        size_t n;

        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        f = fopen(path, "r");
        if (!f)
                return NULL;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        fclose(f);
        return buf;
}

static inline void fake_mkdir(const char *dir, const char *rel) {
        char path[PATH_MAX * 2];

        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        cr_assert_eq(mkdir(path, 0755), 0, "%s: %m", path);
}

static inline void fake_rm_rf(const char *dir, const char *rel) {
        char cmd[PATH_MAX * 2 + 32];

        snprintf(cmd, sizeof(cmd), "rm -rf -- '%s/%s'", dir, rel ? rel : "");
        cr_assert_eq(system(cmd), 0);
}

/* Files in a directory, hidden ones included. */
static inline unsigned fake_count_files(const char *dir) {
        char cmd[PATH_MAX + 64];
        unsigned n = 0;
        FILE *p;

        snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
        p = popen(cmd, "r");
        cr_assert_not_null(p);
        cr_assert_eq(fscanf(p, "%u", &n), 1);
        pclose(p);
        return n;
}

/* The root of a tree: the controllers a unified hierarchy offers, none enabled. */
static inline void fake_root(const char *dir) {
        fake_put(dir, "cgroup.controllers", "cpuset cpu io memory pids\n");
        fake_put(dir, "cgroup.subtree_control", "");
}

/* A VM's cgroup as the kernel shows it with cpu, io and memory enabled. */
static inline void fake_vm(const char *dir, const char *rel) {
        static const char *const files[][2] = {
                {"cgroup.procs", ""},
                {"cgroup.subtree_control", ""},
                {"cpu.stat", "usage_usec 1000\nuser_usec 600\nsystem_usec 400\nnr_periods 0\nnr_throttled 0\n"
                             "throttled_usec 0\n"},
                {"cpu.max", "max 100000\n"},
                {"cpu.weight", "100\n"},
                {"cpu.max.burst", "0\n"},
                {"io.stat", ""},
                {"io.max", ""},
                {"io.weight", "default 100\n"},
                {"memory.min", "0\n"},
                {"memory.max", "max\n"},
        };
        char p[PATH_MAX];

        fake_mkdir(dir, rel);
        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
                snprintf(p, sizeof(p), "%s/%s", rel, files[i][0]);
                fake_put(dir, p, files[i][1]);
        }
}

/* The three directories of a daemon test, each PATH_MAX long: DIR for the
 * policy and what the test keeps, TREE a fake cgroup root, STATE the state
 * directory, named after PREFIX. */
static inline void fake_dirs_make(char *dir, char *tree, char *state, const char *prefix) {
        char p[PATH_MAX / 2]; /* room left for fake_mkdtemp()'s suffix */

        fake_mkdtemp(dir, PATH_MAX, prefix);
        snprintf(p, sizeof(p), "%s-cgroup", prefix);
        fake_mkdtemp(tree, PATH_MAX, p);
        snprintf(p, sizeof(p), "%s-state", prefix);
        fake_mkdtemp(state, PATH_MAX, p);
        fake_root(tree);
}

static inline void fake_dirs_remove(const char *dir, const char *tree, const char *state) {
        fake_rm_rf(dir, NULL);
        fake_rm_rf(tree, NULL);
        fake_rm_rf(state, NULL);
}

/* The daemon's configuration over a fake tree: the policy DIR/policy.yaml, no
 * override directory, cgroup root TREE (asked for as a fake one: fake_cgroup_root
 * = yes), state in STATE, a 1 ms tick, no metrics endpoint.  Fails the test if it does not parse. */
static inline void fake_config(Config *config, const char *dir, const char *tree, const char *state) {
        ConfigError err;
        char text[4 * PATH_MAX];

        snprintf(text, sizeof(text),
                 "[schedd]\n"
                 "policy = %s/policy.yaml\n"
                 "override_dir =\n"
                 "cgroup_root = %s\n"
                 "fake_cgroup_root = yes\n"
                 "tick = 1ms\n"
                 "state_dir = %s\n"
                 "[metrics]\n"
                 "listen =\n",
                 dir, tree, state);
        cr_assert_eq(config_parse_string(text, "test.conf", config, &err), 0, "%s", err.message);
}
