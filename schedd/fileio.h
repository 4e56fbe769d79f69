/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Small file helpers for the daemon's I/O side: cleanup attributes (one
 * cleanup path per resource), whole-file reads of small text files, and the
 * atomic replace (temp file, fsync, rename) the restore state relies on.
 */

#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void freep(void *p) {
        free(*(void **)p);
}

static inline void closep(int *fd) {
        if (*fd >= 0)
                close(*fd);
}

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}

#define _cleanup_(f)     __attribute__((cleanup(f)))
#define _cleanup_free_   _cleanup_(freep)
#define _cleanup_close_  _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Hands a pointer or descriptor out of a cleanup variable. */
#define TAKE_PTR(p)                                                                                                   \
        ({                                                                                                            \
                __typeof__(p) _taken_ = (p);                                                                          \
                (p) = NULL;                                                                                           \
                _taken_;                                                                                              \
        })
#define TAKE_FD(fd)                                                                                                   \
        ({                                                                                                            \
                int _taken_ = (fd);                                                                                   \
                (fd) = -1;                                                                                            \
                _taken_;                                                                                              \
        })

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/* The biggest file read_full_file_at() takes: configuration, state and
 * cgroup files are a few hundred bytes; anything this big is not one. */
#define FILEIO_READ_MAX (1024 * 1024)

/* Reads all of `path` (relative to dir_fd, or AT_FDCWD) into a malloc()ed
 * NUL-terminated buffer.  0, or -errno (-EFBIG over FILEIO_READ_MAX). */
int read_full_file_at(int dir_fd, const char *path, char **ret_text, size_t *ret_size);
/* The same from an open descriptor, read from where it stands to its end. */
int read_full_fd(int fd, char **ret_text, size_t *ret_size);

/* Replaces `name` in dir_fd atomically: writes ".#name.tmp", fsync()s it if
 * `sync` (and the directory after the rename), renames it over `name`.  A
 * reader sees the old or the new content, never a mix.  With `sync`, dir_fd
 * must be a directory opened for reading (not O_PATH, not AT_FDCWD).
 * 0 or -errno. */
int write_file_atomic_at(int dir_fd, const char *name, const char *text, size_t size, bool sync);

/* write() all of buf, retrying on EINTR and short writes.  0 or -errno. */
int write_all(int fd, const void *buf, size_t size);
