/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Logging for the daemon: one line per message on stderr, opened by a syslog
 * priority prefix ("<3>" error, "<4>" warning, "<6>" info, "<7>" debug) so
 * that journald, which reads a service's stderr, files each line at its level.
 *
 * Only the top level logs (main, the manager); modules below return errors.
 * The *_errno() forms set errno for "%m" and return -abs(error), so a caller
 * can log and fail in one statement:
 *
 *         return log_error_errno(r, "Failed to open %s: %m", path);
 */

#include <errno.h>
#include <stdio.h>
#include <syslog.h>

/* LOG_ERR .. LOG_DEBUG; messages above this level are dropped. */
void log_set_max_level(int level);
int log_get_max_level(void);

/* Where lines go (default stderr); for tests. */
void log_set_stream(FILE *f);

/* "err"/"error", "warning"/"warn", "notice", "info", "debug", or a number
 * 0..7 -> the syslog level; -EINVAL otherwise. */
int log_level_from_string(const char *s);
/* The name log_level_from_string() reads back; NULL if out of range. */
const char *log_level_to_string(int level);

/* Writes "<level>message\n" if level is enabled.  Returns -abs(error) (0 if
 * error is 0), with errno set to abs(error) while formatting so "%m" names it. */
int log_internal(int level, int error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_full_errno(level, error, ...) log_internal((level), (error), __VA_ARGS__)

#define log_debug(...)   log_internal(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)    log_internal(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...)  log_internal(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_internal(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)   log_internal(LOG_ERR, 0, __VA_ARGS__)

#define log_debug_errno(error, ...)   log_internal(LOG_DEBUG, (error), __VA_ARGS__)
#define log_info_errno(error, ...)    log_internal(LOG_INFO, (error), __VA_ARGS__)
#define log_warning_errno(error, ...) log_internal(LOG_WARNING, (error), __VA_ARGS__)
#define log_error_errno(error, ...)   log_internal(LOG_ERR, (error), __VA_ARGS__)
