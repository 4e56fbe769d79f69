/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "cgroup.h"
#include "fileio.h"

typedef struct CgroupFileInfo {
        const char *name;
        bool knob;
        CgroupController controller;
} CgroupFileInfo;

static const CgroupFileInfo cgroup_files[_CGROUP_FILE_MAX] = {
        [CGROUP_FILE_CPU_STAT] = {"cpu.stat", false, CGROUP_CONTROLLER_CPU},
        [CGROUP_FILE_IO_STAT] = {"io.stat", false, CGROUP_CONTROLLER_IO},
        [CGROUP_FILE_CPU_MAX] = {"cpu.max", true, CGROUP_CONTROLLER_CPU},
        [CGROUP_FILE_CPU_WEIGHT] = {"cpu.weight", true, CGROUP_CONTROLLER_CPU},
        [CGROUP_FILE_CPU_MAX_BURST] = {"cpu.max.burst", true, CGROUP_CONTROLLER_CPU},
        [CGROUP_FILE_IO_MAX] = {"io.max", true, CGROUP_CONTROLLER_IO},
        [CGROUP_FILE_IO_WEIGHT] = {"io.weight", true, CGROUP_CONTROLLER_IO},
        [CGROUP_FILE_MEMORY_MIN] = {"memory.min", true, CGROUP_CONTROLLER_MEMORY},
        [CGROUP_FILE_MEMORY_MAX] = {"memory.max", true, CGROUP_CONTROLLER_MEMORY},
        [CGROUP_FILE_CPU_PRESSURE] = {"cpu.pressure", false, CGROUP_CONTROLLER_CPU},
};

const char *cgroup_file_to_string(CgroupFile f) {
        if ((unsigned)f >= _CGROUP_FILE_MAX)
                return NULL;
        return cgroup_files[f].name;
}

int cgroup_file_from_string(const char *s) {
        for (int f = 0; f < _CGROUP_FILE_MAX; f++)
                if (strcmp(cgroup_files[f].name, s) == 0)
                        return f;
        return -EINVAL;
}

bool cgroup_file_is_knob(CgroupFile f) {
        return (unsigned)f < _CGROUP_FILE_MAX && cgroup_files[f].knob;
}

CgroupController cgroup_file_controller(CgroupFile f) {
        return (unsigned)f < _CGROUP_FILE_MAX ? cgroup_files[f].controller : 0;
}

/* "cpu", "cpu and io", "cpu, io and memory" for the bits of `mask`. */
static void controller_list(unsigned mask, char *buf, size_t size) {
        unsigned n = (unsigned)__builtin_popcount(mask), i = 0;
        size_t len = 0;

        buf[0] = '\0';
        for (unsigned bit = 1; bit & CGROUP_CONTROLLER_ALL; bit <<= 1) {
                if (!(mask & bit))
                        continue;
                i++;
                len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%s",
                                        i == 1   ? ""
                                        : i == n ? " and "
                                                 : ", ",
                                        cgroup_controller_to_string(bit));
                if (len >= size)
                        return;
        }
}

int cgroup_enable_subtree(int root_fd, const char *dir, unsigned mask) {
        char path[PATH_MAX], line[64];
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = -1;
        unsigned missing;
        int r, n;

        if (snprintf(path, sizeof(path), "%s/cgroup.subtree_control", *dir ? dir : ".") >= (int)sizeof(path))
                return -ENAMETOOLONG;
        r = read_full_file_at(root_fd, path, &text, NULL);
        if (r < 0)
                return r;
        missing = mask & ~cgroup_parse_controllers(text);
        if (missing == 0)
                return 0;

        n = cgroup_format_subtree_control(missing, line, sizeof(line));
        if (n < 0)
                return n;
        fd = openat(root_fd, path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        line[n++] = '\n';
        r = write_all(fd, line, (size_t)n);
        if (r < 0)
                return r;
        return 1;
}

int cgroup_root_check(int root_fd, const char *root_name, unsigned needed, char *errbuf, size_t errbuf_size) {
        _cleanup_free_ char *text = NULL;
        char names[64];
        unsigned missing;
        int r;

        if (!errbuf)
                errbuf_size = 0;

        r = read_full_file_at(root_fd, "cgroup.controllers", &text, NULL);
        if (r == -ENOENT) {
                snprintf(errbuf, errbuf_size,
                         "the cgroup root %s has no cgroup.controllers, so it is not a cgroup v2 "
                         "hierarchy: " CGROUP_V2_HINT,
                         root_name);
                return -EOPNOTSUPP;
        }
        if (r < 0) {
                snprintf(errbuf, errbuf_size, "the cgroup root %s: cannot read cgroup.controllers: %s", root_name,
                         strerror(-r));
                return r;
        }

        missing = needed & ~cgroup_parse_controllers(text);
        if (missing) {
                controller_list(missing, names, sizeof(names));
                snprintf(errbuf, errbuf_size, "the cgroup root %s has no %s controller%s: " CGROUP_V2_HINT, root_name,
                         names, __builtin_popcount(missing) > 1 ? "s" : "");
                return -EOPNOTSUPP;
        }

        r = cgroup_enable_subtree(root_fd, "", needed);
        if (r < 0) {
                controller_list(needed, names, sizeof(names));
                snprintf(errbuf, errbuf_size,
                         "cannot enable the %s controller%s in %s/cgroup.subtree_control: %s "
                         "(a cgroup other than the root must hold no processes of its own to pass controllers "
                         "on): " CGROUP_V2_HINT,
                         names, __builtin_popcount(needed) > 1 ? "s" : "", root_name, strerror(-r));
                return r;
        }
        return 0;
}

/* What schedd last wrote to io.max for one device. */
typedef struct IoMaxLast {
        char device[24]; /* "MAJ:MIN" */
        char value[CGROUP_LINE_MAX];
} IoMaxLast;

/* The longest value remembered as "last written" for one file; longer ones
 * (none that schedd formats) are always written. */
#define CGROUP_VALUE_MAX CGROUP_LINE_MAX

/* The first read buffer: cpu.stat is about 200 bytes, io.stat about 100 per
 * device; the buffer doubles whenever a file fills it. */
#define CGROUP_READ_BUFFER_INITIAL 1024

struct CgroupVm {
        int root_fd; /* borrowed */
        char *path;
        int dir_fd; /* O_PATH */
        dev_t dir_dev;
        ino_t dir_ino;
        bool plain_files; /* not cgroupfs: a fake tree of plain files */
        int fd[_CGROUP_FILE_MAX];
        bool have_last[_CGROUP_FILE_MAX];
        char last[_CGROUP_FILE_MAX][CGROUP_VALUE_MAX];
        IoMaxLast *io_max_last;
        size_t n_io_max_last;
        char *buf;
        size_t buf_size;
        uint64_t writes;
};

static bool path_valid(const char *path) {
        if (!*path || path[0] == '/')
                return false;
        for (const char *p = path; *p;) {
                size_t len = strcspn(p, "/");

                if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                p += len;
                if (*p == '/' && *++p == '\0')
                        return false; /* a trailing slash: not the canonical name */
        }
        return true;
}

/* mkdir -p of `path` below root_fd. */
static int mkdir_parents(int root_fd, const char *path) {
        char buf[PATH_MAX];
        size_t len = strlen(path);

        if (len >= sizeof(buf))
                return -ENAMETOOLONG;
        memcpy(buf, path, len + 1);
        for (char *p = buf;; p++) {
                if (*p != '/' && *p != '\0')
                        continue;
                char saved = *p;
                *p = '\0';
                if (mkdirat(root_fd, buf, 0755) < 0 && errno != EEXIST)
                        return -errno;
                if (saved == '\0')
                        return 0;
                *p = saved;
        }
}

static bool errno_is_gone(int e) {
        return e == ENOENT || e == ENODEV;
}

int cgroup_vm_open(int root_fd, const char *path, bool create, CgroupVm **ret) {
        CgroupVm *vm;
        struct stat st;
        struct statfs sfs;
        int r;

        if (!path_valid(path))
                return -EINVAL;

        vm = calloc(1, sizeof(*vm));
        if (!vm)
                return -ENOMEM;
        vm->root_fd = root_fd;
        vm->dir_fd = -1;
        for (int f = 0; f < _CGROUP_FILE_MAX; f++)
                vm->fd[f] = -1;
        vm->path = strdup(path);
        if (!vm->path) {
                r = -ENOMEM;
                goto fail;
        }

        if (create) {
                r = mkdir_parents(root_fd, path);
                if (r < 0)
                        goto fail;
        }

        vm->dir_fd = openat(root_fd, path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (vm->dir_fd < 0) {
                r = errno_is_gone(errno) ? -ENODEV : -errno;
                goto fail;
        }
        if (fstat(vm->dir_fd, &st) < 0 || fstatfs(vm->dir_fd, &sfs) < 0) {
                r = -errno;
                goto fail;
        }
        vm->dir_dev = st.st_dev;
        vm->dir_ino = st.st_ino;
        vm->plain_files = sfs.f_type != CGROUP2_SUPER_MAGIC;

        *ret = vm;
        return 0;

fail:
        cgroup_vm_free(vm);
        return r;
}

CgroupVm *cgroup_vm_free(CgroupVm *vm) {
        if (!vm)
                return NULL;
        for (int f = 0; f < _CGROUP_FILE_MAX; f++)
                if (vm->fd[f] >= 0)
                        close(vm->fd[f]);
        if (vm->dir_fd >= 0)
                close(vm->dir_fd);
        free(vm->io_max_last);
        free(vm->buf);
        free(vm->path);
        free(vm);
        return NULL;
}

const char *cgroup_vm_path(const CgroupVm *vm) {
        return vm->path;
}

int cgroup_vm_check(CgroupVm *vm) {
        struct stat st;

        if (fstatat(vm->root_fd, vm->path, &st, 0) < 0)
                return errno_is_gone(errno) ? -ENODEV : -errno;
        if (st.st_dev != vm->dir_dev || st.st_ino != vm->dir_ino)
                return -ENODEV; /* removed and made anew: a different cgroup */
        return 0;
}

/* After ENOENT opening a file: is the cgroup gone, or only the file? */
static int missing_file_error(CgroupVm *vm) {
        int r = cgroup_vm_check(vm);

        return r < 0 ? r : -EOPNOTSUPP;
}

static int vm_open_file(CgroupVm *vm, CgroupFile f, int flags) {
        int fd = openat(vm->dir_fd, cgroup_files[f].name, flags | O_CLOEXEC | O_NOCTTY);

        if (fd >= 0)
                return fd;
        if (errno == ENOENT)
                return missing_file_error(vm);
        return errno == ENODEV ? -ENODEV : -errno;
}

static int vm_fd(CgroupVm *vm, CgroupFile f) {
        if (vm->fd[f] < 0) {
                int fd = vm_open_file(vm, f, cgroup_files[f].knob ? O_WRONLY : O_RDONLY);
                if (fd < 0)
                        return fd;
                vm->fd[f] = fd;
        }
        return vm->fd[f];
}

int cgroup_vm_read(CgroupVm *vm, CgroupFile f, const char **ret_text) {
        int fd;

        if ((unsigned)f >= _CGROUP_FILE_MAX)
                return -EINVAL;
        if (cgroup_files[f].knob)
                return -EBADF; /* kept write-only: use cgroup_vm_read_knob() */
        fd = vm_fd(vm, f);
        if (fd < 0)
                return fd;

        for (;;) {
                ssize_t n;

                if (vm->buf_size == 0) {
                        vm->buf = malloc(CGROUP_READ_BUFFER_INITIAL);
                        if (!vm->buf)
                                return -ENOMEM;
                        vm->buf_size = CGROUP_READ_BUFFER_INITIAL;
                }

                n = pread(fd, vm->buf, vm->buf_size - 1, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno_is_gone(errno) ? -ENODEV : -errno;
                }
                if ((size_t)n < vm->buf_size - 1) {
                        vm->buf[n] = '\0';
                        *ret_text = vm->buf;
                        return 0;
                }

                /* Filled the buffer: there may be more.  Read again, bigger. */
                if (vm->buf_size >= FILEIO_READ_MAX)
                        return -EFBIG;
                char *p = realloc(vm->buf, vm->buf_size * 2);
                if (!p)
                        return -ENOMEM;
                vm->buf = p;
                vm->buf_size *= 2;
        }
}

int cgroup_vm_read_cpu_stat(CgroupVm *vm, CpuStat *ret) {
        const char *text;
        int r;

        r = cgroup_vm_read(vm, CGROUP_FILE_CPU_STAT, &text);
        if (r < 0)
                return r;
        return cgroup_parse_cpu_stat(text, ret);
}

/* Where the last value written to f (for io.max: for the value's device)
 * is kept; NULL if none is. */
static const char *last_written(const CgroupVm *vm, CgroupFile f, const char *value) {
        if (f != CGROUP_FILE_IO_MAX)
                return vm->have_last[f] ? vm->last[f] : NULL;

        char device[sizeof(vm->io_max_last[0].device)];
        if (cgroup_io_max_device(value, device, sizeof(device)) == 0)
                return NULL;
        for (size_t i = 0; i < vm->n_io_max_last; i++)
                if (strcmp(vm->io_max_last[i].device, device) == 0)
                        return vm->io_max_last[i].value;
        return NULL;
}

static void forget_last(CgroupVm *vm, CgroupFile f, const char *value) {
        if (f != CGROUP_FILE_IO_MAX) {
                vm->have_last[f] = false;
                return;
        }
        char device[sizeof(vm->io_max_last[0].device)];
        if (cgroup_io_max_device(value, device, sizeof(device)) == 0)
                return;
        for (size_t i = 0; i < vm->n_io_max_last; i++)
                if (strcmp(vm->io_max_last[i].device, device) == 0) {
                        vm->io_max_last[i] = vm->io_max_last[--vm->n_io_max_last];
                        return;
                }
}

/* Remembers `value` as last written (silently not, if it does not fit: it
 * is then written every time, which is correct, only slower). */
static void remember_last(CgroupVm *vm, CgroupFile f, const char *value) {
        size_t len = strlen(value);

        forget_last(vm, f, value);
        if (len >= CGROUP_VALUE_MAX)
                return;

        if (f != CGROUP_FILE_IO_MAX) {
                memcpy(vm->last[f], value, len + 1);
                vm->have_last[f] = true;
                return;
        }

        IoMaxLast *grown = realloc(vm->io_max_last, (vm->n_io_max_last + 1) * sizeof(IoMaxLast));
        if (!grown)
                return;
        vm->io_max_last = grown;
        if (cgroup_io_max_device(value, grown[vm->n_io_max_last].device, sizeof(grown[0].device)) == 0)
                return;
        memcpy(grown[vm->n_io_max_last].value, value, len + 1);
        vm->n_io_max_last++;
}

bool cgroup_vm_differs(const CgroupVm *vm, CgroupFile f, const char *value) {
        const char *last;

        if ((unsigned)f >= _CGROUP_FILE_MAX)
                return true;
        last = last_written(vm, f, value);
        return !last || strcmp(last, value) != 0;
}

int cgroup_vm_write(CgroupVm *vm, CgroupFile f, const char *value) {
        char line[CGROUP_VALUE_MAX + 1];
        size_t len = strlen(value);
        ssize_t n;
        int fd;

        if ((unsigned)f >= _CGROUP_FILE_MAX || !cgroup_files[f].knob)
                return -EINVAL;
        if (!cgroup_vm_differs(vm, f, value))
                return 0;
        if (len + 1 >= sizeof(line) || strchr(value, '\n'))
                return -EINVAL;

        fd = vm_fd(vm, f);
        if (fd < 0)
                return fd;

        memcpy(line, value, len);
        line[len++] = '\n';

        /* Forgotten first: if the write fails, the next one must go out. */
        forget_last(vm, f, value);
        do
                n = pwrite(fd, line, len, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return errno_is_gone(errno) ? -ENODEV : -errno;
        if ((size_t)n != len)
                return -EIO;
        if (vm->plain_files && ftruncate(fd, (off_t)len) < 0)
                return -errno;

        vm->writes++;
        remember_last(vm, f, value);
        return 1;
}

uint64_t cgroup_vm_writes(const CgroupVm *vm) {
        return vm->writes;
}

void cgroup_vm_forget(CgroupVm *vm, CgroupFile f) {
        if ((unsigned)f >= _CGROUP_FILE_MAX)
                return;
        if (vm->fd[f] >= 0)
                close(vm->fd[f]);
        vm->fd[f] = -1;
        vm->have_last[f] = false;
        if (f == CGROUP_FILE_IO_MAX)
                vm->n_io_max_last = 0;
}

int cgroup_vm_read_knob(CgroupVm *vm, CgroupFile f, char **ret_text) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r;

        if ((unsigned)f >= _CGROUP_FILE_MAX)
                return -EINVAL;
        fd = vm_open_file(vm, f, O_RDONLY);
        if (fd < 0)
                return fd;

        r = read_full_fd(fd, &text, &len);
        if (r < 0)
                return errno_is_gone(-r) ? -ENODEV : r;
        while (len > 0 && text[len - 1] == '\n')
                text[--len] = '\0';
        *ret_text = TAKE_PTR(text);
        return 0;
}

int cgroup_resolve_device(const char *sys_class_block, const char *name, unsigned *ret_major, unsigned *ret_minor) {
        _cleanup_free_ char *text = NULL;
        char path[PATH_MAX];
        unsigned major, minor;
        int r;

        if (cgroup_parse_devnum(name, &major, &minor) >= 0) {
                *ret_major = major;
                *ret_minor = minor;
                return 0;
        }
        if (!*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return -EINVAL;
        if (snprintf(path, sizeof(path), "%s/%s/dev", sys_class_block, name) >= (int)sizeof(path))
                return -ENAMETOOLONG;

        r = read_full_file_at(AT_FDCWD, path, &text, NULL);
        if (r == -ENOENT)
                return -ENODEV;
        if (r < 0)
                return r;
        r = cgroup_parse_devnum(text, &major, &minor);
        if (r < 0)
                return r;
        *ret_major = major;
        *ret_minor = minor;
        return 0;
}
