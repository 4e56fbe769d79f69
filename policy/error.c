/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdio.h>

#include "error.h"

int policy_error(PolicyError *err, int code, const SourceLoc *loc, const char *key, const char *fmt, ...) {
        size_t size, n = 0;
        char *m;
        va_list ap;
        int k;

        if (!err)
                return code;

        m = err->message;
        size = sizeof(err->message);
        m[0] = '\0';

        /* Appends with snprintf semantics; n never passes size - 1. */
#define ADVANCE(k)                                                                                                    \
        do {                                                                                                          \
                if ((k) > 0)                                                                                          \
                        n += (size_t)(k) < size - n ? (size_t)(k) : size - n - 1;                                     \
        } while (0)

        if (loc && loc->file) {
                if (loc->line > 0 && loc->column > 0)
                        k = snprintf(m + n, size - n, "%s:%u:%u: ", loc->file, loc->line, loc->column);
                else if (loc->line > 0)
                        k = snprintf(m + n, size - n, "%s:%u: ", loc->file, loc->line);
                else
                        k = snprintf(m + n, size - n, "%s: ", loc->file);
                ADVANCE(k);
        }

        if (key && key[0]) {
                k = snprintf(m + n, size - n, "%s: ", key);
                ADVANCE(k);
        }

        va_start(ap, fmt);
        k = vsnprintf(m + n, size - n, fmt, ap);
        va_end(ap);
        ADVANCE(k);

#undef ADVANCE
        return code;
}
