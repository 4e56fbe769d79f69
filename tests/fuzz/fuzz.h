/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What every fuzz target shares: the input as a NUL-terminated string, and a
 * check that aborts (libFuzzer then saves the input) with a message. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The inputs past this are not interesting and only slow the run: the
 * largest seed (a scenario) is a few KB. */
#define FUZZ_INPUT_MAX (64U * 1024U)

#define fuzz_assert(cond, ...)                                                                                        \
        do {                                                                                                          \
                if (!(cond)) {                                                                                        \
                        fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #cond);                                    \
                        fprintf(stderr, __VA_ARGS__);                                                                 \
                        fputc('\n', stderr);                                                                          \
                        abort();                                                                                      \
                }                                                                                                     \
        } while (0)

/* A malloc()ed copy of the input with a NUL after it; NULL on OOM. */
static inline char *fuzz_string(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        if (s) {
                memcpy(s, data, size);
                s[size] = '\0';
        }
        return s;
}
