/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fileio.h"
#include "restore.h"

#define STATE_HEADER     "# schedd: original values of the cgroup files it changed\n"
#define STATE_CGROUP_KEY "cgroup "

typedef struct RestoreEntry {
        CgroupFile file;
        char *value; /* the original, written back as it is */
} RestoreEntry;

struct RestoreVm {
        int state_dir_fd; /* borrowed */
        char *cgroup_path;
        char name[NAME_MAX + 1]; /* of the state file */
        RestoreEntry *entries;
        size_t n_entries;
};

int restore_state_name(const char *cgroup_path, char *buf, size_t buf_size) {
        static const char hex[] = "0123456789ABCDEF";
        size_t len = 0, suffix = strlen(RESTORE_STATE_SUFFIX);

        for (const char *p = cgroup_path; *p; p++) {
                unsigned char c = (unsigned char)*p;
                bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                            c == '-' || (c == '.' && p != cgroup_path);

                if (len + (keep ? 1 : 3) + suffix + 1 > buf_size || len + (keep ? 1 : 3) + suffix > NAME_MAX)
                        return -ENAMETOOLONG;
                if (keep)
                        buf[len++] = (char)c;
                else {
                        buf[len++] = '%';
                        buf[len++] = hex[c >> 4];
                        buf[len++] = hex[c & 15];
                }
        }
        memcpy(buf + len, RESTORE_STATE_SUFFIX, suffix + 1);
        return (int)(len + suffix);
}

static void entries_free(RestoreEntry *entries, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(entries[i].value);
        free(entries);
}

/* The entry for f (io.max: for `device`), or -1. */
static ssize_t entry_find(const RestoreVm *r, CgroupFile f, const char *device) {
        for (size_t i = 0; i < r->n_entries; i++) {
                char d[32];

                if (r->entries[i].file != f)
                        continue;
                if (f != CGROUP_FILE_IO_MAX)
                        return (ssize_t)i;
                if (device && cgroup_io_max_device(r->entries[i].value, d, sizeof(d)) && strcmp(d, device) == 0)
                        return (ssize_t)i;
        }
        return -1;
}

static void entry_drop(RestoreVm *r, size_t i) {
        free(r->entries[i].value);
        memmove(r->entries + i, r->entries + i + 1, (r->n_entries - i - 1) * sizeof(RestoreEntry));
        r->n_entries--;
}

static int entry_add(RestoreEntry **entries, size_t *n, CgroupFile f, const char *value, size_t value_len) {
        RestoreEntry *grown;
        char *copy;

        copy = strndup(value, value_len);
        if (!copy)
                return -ENOMEM;
        grown = realloc(*entries, (*n + 1) * sizeof(RestoreEntry));
        if (!grown) {
                free(copy);
                return -ENOMEM;
        }
        grown[*n] = (RestoreEntry){.file = f, .value = copy};
        *entries = grown;
        (*n)++;
        return 0;
}

/* Parses a state file: its cgroup path and entries.  0 or -EBADMSG/-ENOMEM. */
static int state_parse(const char *text, char **ret_cgroup, RestoreEntry **ret_entries, size_t *ret_n) {
        _cleanup_free_ char *cgroup = NULL;
        RestoreEntry *entries = NULL;
        size_t n = 0;
        int r;

        for (const char *p = text; *p;) {
                size_t len = strcspn(p, "\n");
                const char *line = p;

                p += len;
                if (*p == '\n')
                        p++;
                if (len == 0 || line[0] == '#')
                        continue;

                if (len > strlen(STATE_CGROUP_KEY) && strncmp(line, STATE_CGROUP_KEY, strlen(STATE_CGROUP_KEY)) == 0) {
                        if (cgroup) {
                                r = -EBADMSG;
                                goto fail;
                        }
                        cgroup = strndup(line + strlen(STATE_CGROUP_KEY), len - strlen(STATE_CGROUP_KEY));
                        if (!cgroup) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        continue;
                }

                size_t key_len = strcspn(line, " \n");
                char key[32];
                int f;

                if (key_len == 0 || key_len >= sizeof(key) || key_len >= len) {
                        r = -EBADMSG;
                        goto fail;
                }
                memcpy(key, line, key_len);
                key[key_len] = '\0';
                f = cgroup_file_from_string(key);
                if (f < 0 || !cgroup_file_is_knob(f)) {
                        r = -EBADMSG;
                        goto fail;
                }
                r = entry_add(&entries, &n, f, line + key_len + 1, len - key_len - 1);
                if (r < 0)
                        goto fail;
        }

        if (!cgroup) {
                r = -EBADMSG;
                goto fail;
        }
        *ret_cgroup = TAKE_PTR(cgroup);
        *ret_entries = entries;
        *ret_n = n;
        return 0;

fail:
        entries_free(entries, n);
        return r;
}

static int state_load(int state_dir_fd, const char *name, char **ret_cgroup, RestoreEntry **ret_entries,
                      size_t *ret_n) {
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r;

        r = read_full_file_at(state_dir_fd, name, &text, &size);
        if (r < 0)
                return r;
        if (strlen(text) != size)
                return -EBADMSG;
        return state_parse(text, ret_cgroup, ret_entries, ret_n);
}

/* Writes a state file, or removes it when nothing is recorded. */
static int state_write(int state_dir_fd, const char *name, const char *cgroup_path, const RestoreEntry *entries,
                       size_t n) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f;

        if (n == 0) {
                if (unlinkat(state_dir_fd, name, 0) < 0 && errno != ENOENT)
                        return -errno;
                return 0;
        }

        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        fputs(STATE_HEADER, f);
        fprintf(f, STATE_CGROUP_KEY "%s\n", cgroup_path);
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%s %s\n", cgroup_file_to_string(entries[i].file), entries[i].value);
        if (fclose(f) != 0)
                return -ENOMEM;

        return write_file_atomic_at(state_dir_fd, name, text, size, true);
}

static int state_save(RestoreVm *r) {
        return state_write(r->state_dir_fd, r->name, r->cgroup_path, r->entries, r->n_entries);
}

int restore_vm_new(int state_dir_fd, const char *cgroup_path, RestoreVm **ret) {
        _cleanup_free_ char *loaded_cgroup = NULL;
        RestoreVm *r;
        int k;

        if (!*cgroup_path || strchr(cgroup_path, '\n'))
                return -EINVAL;

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->state_dir_fd = state_dir_fd;
        r->cgroup_path = strdup(cgroup_path);
        if (!r->cgroup_path) {
                k = -ENOMEM;
                goto fail;
        }
        k = restore_state_name(cgroup_path, r->name, sizeof(r->name));
        if (k < 0)
                goto fail;

        k = state_load(state_dir_fd, r->name, &loaded_cgroup, &r->entries, &r->n_entries);
        if (k == -ENOENT)
                k = 0;
        else if (k >= 0 && strcmp(loaded_cgroup, cgroup_path) != 0)
                k = -EBADMSG;
        if (k < 0)
                goto fail;

        *ret = r;
        return 0;

fail:
        restore_vm_free(r);
        return k;
}

RestoreVm *restore_vm_free(RestoreVm *r) {
        if (!r)
                return NULL;
        entries_free(r->entries, r->n_entries);
        free(r->cgroup_path);
        free(r);
        return NULL;
}

size_t restore_vm_entries(const RestoreVm *r) {
        return r->n_entries;
}

/* Reads and records the original of f (io.max: of the device `value` is for). */
static int record_original(RestoreVm *r, CgroupVm *cg, CgroupFile f, const char *value) {
        _cleanup_free_ char *text = NULL;
        char line[CGROUP_LINE_MAX], device[32];
        const char *original;
        size_t len;
        int k;

        k = cgroup_vm_read_knob(cg, f, &text);
        if (k < 0)
                return k;

        if (f == CGROUP_FILE_IO_MAX) {
                unsigned major, minor;

                if (!cgroup_io_max_device(value, device, sizeof(device)) ||
                    cgroup_parse_devnum(device, &major, &minor) < 0)
                        return -EINVAL;
                k = cgroup_io_max_line(text, major, minor, line, sizeof(line));
                if (k < 0)
                        return k;
                original = line;
                len = (size_t)k;
        } else {
                /* A knob holds one line (io.weight may hold more: its first,
                 * "default N", is the one schedd would change). */
                original = text;
                len = strcspn(text, "\n");
        }

        k = entry_add(&r->entries, &r->n_entries, f, original, len);
        if (k < 0)
                return k;
        k = state_save(r);
        if (k < 0) {
                entry_drop(r, r->n_entries - 1);
                return k;
        }
        return 0;
}

int restore_vm_write(RestoreVm *r, CgroupVm *cg, CgroupFile f, const char *value) {
        char device[32];
        int k;

        if (!cgroup_file_is_knob(f))
                return -EINVAL;
        if (!cgroup_vm_differs(cg, f, value))
                return 0;

        if (f == CGROUP_FILE_IO_MAX && !cgroup_io_max_device(value, device, sizeof(device)))
                return -EINVAL;
        if (entry_find(r, f, f == CGROUP_FILE_IO_MAX ? device : NULL) < 0) {
                k = record_original(r, cg, f, value);
                if (k < 0)
                        return k;
        }
        return cgroup_vm_write(cg, f, value);
}

int restore_vm_undo_file(RestoreVm *r, CgroupVm *cg, CgroupFile f, const char *device) {
        ssize_t i = entry_find(r, f, device);
        int k;

        if (i < 0)
                return 0;
        k = cgroup_vm_write(cg, f, r->entries[i].value);
        if (k < 0 && k != -ENODEV)
                return k;
        entry_drop(r, (size_t)i);
        (void)state_save(r); /* a stale entry on disk only restores the same value again */
        return k < 0 ? k : 0;
}

/* Writes back entries [0, n) of `entries` into cg, dropping those done.
 * 0, -ENODEV (gone: all dropped), or the first other error. */
static int write_back(RestoreEntry **entries, size_t *n, CgroupVm *cg, unsigned *restored) {
        int first_error = 0;

        for (size_t i = 0; i < *n;) {
                int k = cgroup_vm_write(cg, (*entries)[i].file, (*entries)[i].value);

                if (k == -ENODEV) {
                        entries_free(*entries, *n);
                        *entries = NULL;
                        *n = 0;
                        return -ENODEV;
                }
                if (k < 0) {
                        if (first_error == 0)
                                first_error = k;
                        i++;
                        continue;
                }
                if (restored)
                        (*restored)++;
                free((*entries)[i].value);
                memmove(*entries + i, *entries + i + 1, (*n - i - 1) * sizeof(RestoreEntry));
                (*n)--;
        }
        return first_error;
}

int restore_vm_undo(RestoreVm *r, CgroupVm *cg) {
        int k, s;

        k = write_back(&r->entries, &r->n_entries, cg, NULL);
        s = state_save(r);
        if (k == -ENODEV)
                k = 0;
        return k < 0 ? k : s;
}

int restore_vm_discard(RestoreVm *r) {
        entries_free(r->entries, r->n_entries);
        r->entries = NULL;
        r->n_entries = 0;
        return state_save(r);
}

static bool has_suffix(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void reconcile_fail(RestoreReconcile *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reconcile_fail(RestoreReconcile *res, const char *fmt, ...) {
        va_list ap;

        res->failed++;
        if (res->message[0])
                return;
        va_start(ap, fmt);
        vsnprintf(res->message, sizeof(res->message), fmt, ap);
        va_end(ap);
}

/* One state file: write back, remove when done. */
static void reconcile_one(int state_dir_fd, int root_fd, const char *name, RestoreReconcile *res) {
        _cleanup_free_ char *cgroup_path = NULL;
        RestoreEntry *entries = NULL;
        CgroupVm *cg = NULL;
        size_t n = 0;
        int k;

        res->files++;

        k = state_load(state_dir_fd, name, &cgroup_path, &entries, &n);
        if (k < 0) {
                /* Written atomically, so never half-written: this is not ours. */
                reconcile_fail(res, "%s: not a state file (%s), removed", name, strerror(-k));
                (void)unlinkat(state_dir_fd, name, 0);
                return;
        }

        k = cgroup_vm_open(root_fd, cgroup_path, false, &cg);
        if (k == -ENODEV || k == -EINVAL) {
                res->gone++;
                (void)unlinkat(state_dir_fd, name, 0);
                entries_free(entries, n);
                return;
        }
        if (k < 0) {
                reconcile_fail(res, "%s: cannot open the cgroup %s: %s", name, cgroup_path, strerror(-k));
                entries_free(entries, n);
                return;
        }

        k = write_back(&entries, &n, cg, &res->restored);
        if (k == -ENODEV)
                res->gone++;
        else if (k < 0)
                /* What is left stays on disk: restore_vm_new() loads it, so
                 * it stays the original. */
                reconcile_fail(res, "%s: cannot restore the cgroup %s: %s", name, cgroup_path, strerror(-k));

        k = state_write(state_dir_fd, name, cgroup_path, entries, n);
        if (k < 0)
                reconcile_fail(res, "%s: cannot update: %s", name, strerror(-k));

        entries_free(entries, n);
        cgroup_vm_free(cg);
}

int restore_reconcile(int state_dir_fd, int root_fd, RestoreReconcile *ret) {
        RestoreReconcile res = {};
        DIR *d;
        int fd;

        /* fdopendir() takes the descriptor: give it its own. */
        fd = openat(state_dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                int k = -errno;
                close(fd);
                return k;
        }

        for (struct dirent *de; (errno = 0, de = readdir(d));) {
                if (de->d_name[0] == '.') {
                        /* A temp file of a save a crash interrupted: the
                         * state file it would have replaced is whole. */
                        if (strncmp(de->d_name, ".#", 2) == 0 && has_suffix(de->d_name, ".tmp"))
                                (void)unlinkat(state_dir_fd, de->d_name, 0);
                        continue;
                }
                if (!has_suffix(de->d_name, RESTORE_STATE_SUFFIX))
                        continue;
                reconcile_one(state_dir_fd, root_fd, de->d_name, &res);
        }
        if (errno != 0) {
                int k = -errno;
                closedir(d);
                return k;
        }
        closedir(d);

        *ret = res;
        return 0;
}
