/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "override.h"
#include "policy/keys.h"
#include "policy/parse.h"
#include "policy/write.h"

/* What the file says about itself: it is generated, and how to change it. */
static const char override_header[] = "# Written by schedctl set and schedctl reset: change it with them.\n"
                                      "# Laid over the policy for the keys below, like every override.\n";

char *override_path(const char *dir, const char *name) {
        char *path;

        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return NULL;
        return path;
}

int override_read(const char *path, Policy *ret, PolicyError *err) {
        struct stat st;

        if (stat(path, &st) < 0) {
                SourceLoc loc = {.file = path};

                if (errno == ENOENT)
                        return 0;
                return policy_error(err, -errno, &loc, NULL, "cannot read: %s", strerror(errno));
        }
        return policy_parse_file(path, ret, err);
}

/* mkdir -p, 0755. */
static int mkdir_parents(const char *path) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1;; s++) {
                char c = *s;

                if (c != '/' && c != '\0')
                        continue;
                *s = '\0';
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return -errno;
                if (c == '\0')
                        return 0;
                *s = c;
        }
}

int override_write(const char *dir, const char *name, const Policy *p, PolicyError *err) {
        _cleanup_free_ char *path = override_path(dir, name), *body = NULL, *text = NULL;
        _cleanup_close_ int dir_fd = -1;
        SourceLoc loc = {.file = path ? path : name};
        int r;

        if (!path)
                return policy_error(err, -ENOMEM, NULL, NULL, "out of memory");

        r = mkdir_parents(dir);
        if (r < 0)
                return policy_error(err, r, &loc, NULL, "cannot make the directory %s: %s", dir, strerror(-r));
        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return policy_error(err, -errno, &loc, NULL, "cannot open the directory %s: %s", dir, strerror(errno));

        if (p->n_vms == 0 && p->host.n_devices == 0 && p->host.n_interfaces == 0 && !amount_is_set(&p->host.cpus) &&
            !amount_is_set(&p->host.memory)) {
                if (unlinkat(dir_fd, name, 0) < 0) {
                        if (errno == ENOENT)
                                return 0;
                        return policy_error(err, -errno, &loc, NULL, "cannot remove: %s", strerror(errno));
                }
                if (fsync(dir_fd) < 0 && errno != EINVAL)
                        return policy_error(err, -errno, &loc, NULL, "cannot sync the directory: %s", strerror(errno));
                return 0;
        }

        r = policy_write_string(p, &body);
        if (r == -EILSEQ) /* only a model built in code can hold such bytes */
                return policy_error(err, r, &loc, NULL, "cannot write: a name or cgroup is not UTF-8");
        if (r < 0)
                return policy_error(err, r, NULL, NULL, "out of memory");
        if (asprintf(&text, "%s%s", override_header, body) < 0) {
                text = NULL;
                return policy_error(err, -ENOMEM, NULL, NULL, "out of memory");
        }

        r = write_file_atomic_at(dir_fd, name, text, strlen(text), true);
        if (r < 0)
                return policy_error(err, r, &loc, NULL, "cannot write: %s", strerror(-r));
        return 0;
}

static int strcmp_ptr(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct NameList {
        char **names;
        size_t n;
} NameList;

static void name_list_done(NameList *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->names[i]);
        free(l->names);
        *l = (NameList){};
}

static int name_list_add(NameList *l, const char *name) {
        char **n = realloc(l->names, (l->n + 1) * sizeof(char *));

        if (!n)
                return -ENOMEM;
        l->names = n;
        l->names[l->n] = strdup(name);
        if (!l->names[l->n])
                return -ENOMEM;
        l->n++;
        return 0;
}

/* As the policy loader picks overrides: not hidden, ending in ".yaml". */
static bool is_override_name(const char *name) {
        size_t n = strlen(name);

        return name[0] != '.' && n > strlen(".yaml") && strcmp(name + n - strlen(".yaml"), ".yaml") == 0;
}

/* The override names of `dir` plus `extra` (if not NULL), sorted.  A missing dir has none. */
static int list_overrides(const char *dir, const char *extra, NameList *ret) {
        NameList l = {};
        bool have_extra = false;
        DIR *d = NULL;
        int r = 0;

        if (dir) {
                d = opendir(dir);
                if (!d && errno != ENOENT)
                        return -errno;
        }
        for (struct dirent *de; d && (errno = 0, de = readdir(d));) {
                if (!is_override_name(de->d_name))
                        continue;
                have_extra = have_extra || (extra && strcmp(de->d_name, extra) == 0);
                r = name_list_add(&l, de->d_name);
                if (r < 0)
                        break;
        }
        if (r >= 0 && d && errno > 0)
                r = -errno;
        if (d)
                closedir(d);
        if (r >= 0 && extra && !have_extra)
                r = name_list_add(&l, extra);
        if (r < 0) {
                name_list_done(&l);
                return r;
        }
        if (l.n > 1)
                qsort(l.names, l.n, sizeof(char *), strcmp_ptr);
        *ret = l;
        return 0;
}

int override_merge_dir(const char *dir, const char *name, const Policy *replacement, Policy *policy,
                       PolicyError *err) {
        NameList names = {};
        SourceLoc loc = {.file = dir};
        int r;

        r = list_overrides(dir, replacement ? name : NULL, &names);
        if (r < 0)
                return policy_error(err, r, &loc, NULL, "cannot read directory: %s", strerror(-r));
        for (size_t i = 0; r >= 0 && i < names.n; i++) {
                _cleanup_free_ char *path = NULL;

                if (replacement && strcmp(names.names[i], name) == 0) {
                        r = policy_merge(policy, replacement);
                        if (r < 0)
                                policy_error(err, r, NULL, NULL, "out of memory");
                        continue;
                }
                path = override_path(dir, names.names[i]);
                r = path ? policy_parse_file(path, policy, err)
                         : policy_error(err, -ENOMEM, NULL, NULL, "out of memory");
        }
        name_list_done(&names);
        return r;
}

void override_prune(Policy *p) {
        for (size_t i = 0; i < p->n_vms;) {
                if (policy_vm_is_empty(&p->vms[i]))
                        (void)policy_remove_vm(p, p->vms[i].name);
                else
                        i++;
        }
}
