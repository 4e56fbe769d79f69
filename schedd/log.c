/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Info by default: start-up, reloads and VMs coming and going are worth a
 * line in the journal; per-tick detail is debug. */
static int log_max_level = LOG_INFO;
static FILE *log_stream = NULL; /* NULL: stderr (not a constant initializer) */

static const char *const log_level_names[] = {
        [LOG_EMERG] = "emerg",     [LOG_ALERT] = "alert",   [LOG_CRIT] = "crit", [LOG_ERR] = "err",
        [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

void log_set_max_level(int level) {
        if (level < LOG_EMERG)
                level = LOG_EMERG;
        if (level > LOG_DEBUG)
                level = LOG_DEBUG;
        log_max_level = level;
}

int log_get_max_level(void) {
        return log_max_level;
}

void log_set_stream(FILE *f) {
        log_stream = f;
}

int log_level_from_string(const char *s) {
        if (!s || !*s)
                return -EINVAL;
        for (int i = LOG_EMERG; i <= LOG_DEBUG; i++)
                if (strcmp(s, log_level_names[i]) == 0)
                        return i;
        if (strcmp(s, "error") == 0)
                return LOG_ERR;
        if (strcmp(s, "warn") == 0)
                return LOG_WARNING;
        if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
                return s[0] - '0';
        return -EINVAL;
}

const char *log_level_to_string(int level) {
        if (level < LOG_EMERG || level > LOG_DEBUG)
                return NULL;
        return log_level_names[level];
}

int log_internal(int level, int error, const char *fmt, ...) {
        int saved_errno = errno;
        /* -INT_MIN does not exist; no errno is that large anyway. */
        int e = error == INT_MIN ? INT_MAX : abs(error);

        if (level <= log_max_level) {
                FILE *f = log_stream ?: stderr;
                char line[2048];
                va_list ap;

                va_start(ap, fmt);
                errno = e;
                vsnprintf(line, sizeof(line), fmt, ap);
                va_end(ap);

                /* Every line of a multi-line message carries the prefix: journald
                 * reads each line as an entry of its own. */
                for (char *p = line, *nl;; p = nl + 1) {
                        nl = strchr(p, '\n');
                        if (nl)
                                *nl = '\0';
                        fprintf(f, "<%d>%s\n", level, p);
                        if (!nl || nl[1] == '\0')
                                break;
                }
                fflush(f);
        }

        errno = saved_errno;
        return -e;
}
