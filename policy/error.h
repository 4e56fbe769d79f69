/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdarg.h>

#include "model.h"

/*
 * A located error, as the policy parser and validator report it:
 *   "web.yaml:12:14: vms.web.cpu.reserve: 150% is over 100%"
 * The same text goes to the log, to `schedctl validate` and (later) to bus
 * callers, so it is built once, here.
 */
typedef struct PolicyError {
        char message[1024];
} PolicyError;

/* Fills err->message as "file:line:column: key: what" (location parts left
 * out where unknown: loc NULL or line 0 gives "file: key: what" or "key: what"),
 * and returns `code` (a negative errno) so callers can `return policy_error(...)`.
 * err may be NULL. */
int policy_error(PolicyError *err, int code, const SourceLoc *loc, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
