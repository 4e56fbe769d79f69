/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schedd/log.h"

static char *captured;
static size_t captured_size;
static FILE *stream;

static void setup(void) {
        stream = open_memstream(&captured, &captured_size);
        cr_assert_not_null(stream);
        log_set_stream(stream);
        log_set_max_level(LOG_INFO);
}

static void teardown(void) {
        log_set_stream(NULL);
        fclose(stream);
        free(captured);
}

TestSuite(log, .init = setup, .fini = teardown);

Test(log, levels_from_string) {
        cr_assert_eq(log_level_from_string("err"), LOG_ERR);
        cr_assert_eq(log_level_from_string("error"), LOG_ERR);
        cr_assert_eq(log_level_from_string("warning"), LOG_WARNING);
        cr_assert_eq(log_level_from_string("warn"), LOG_WARNING);
        cr_assert_eq(log_level_from_string("notice"), LOG_NOTICE);
        cr_assert_eq(log_level_from_string("info"), LOG_INFO);
        cr_assert_eq(log_level_from_string("debug"), LOG_DEBUG);
        cr_assert_eq(log_level_from_string("emerg"), LOG_EMERG);
        cr_assert_eq(log_level_from_string("0"), 0);
        cr_assert_eq(log_level_from_string("7"), 7);

        static const char *const bad[] = {"", "8", "-1", "07", "Info", "verbose", "77"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                cr_assert_eq(log_level_from_string(bad[i]), -EINVAL, "\"%s\"", bad[i]);
        cr_assert_eq(log_level_from_string(NULL), -EINVAL);

        for (int l = LOG_EMERG; l <= LOG_DEBUG; l++)
                cr_assert_eq(log_level_from_string(log_level_to_string(l)), l);
        cr_assert_null(log_level_to_string(8));
        cr_assert_null(log_level_to_string(-1));
}

Test(log, prefixes_and_filtering) {
        log_error("e %d", 1);
        log_warning("w");
        log_info("i");
        log_debug("d: dropped at info");
        fflush(stream);
        cr_assert_str_eq(captured, "<3>e 1\n<4>w\n<6>i\n");

        log_set_max_level(LOG_DEBUG);
        log_debug("d");
        fflush(stream);
        cr_assert_str_eq(captured, "<3>e 1\n<4>w\n<6>i\n<7>d\n");

        log_set_max_level(99);
        cr_assert_eq(log_get_max_level(), LOG_DEBUG);
        log_set_max_level(-3);
        cr_assert_eq(log_get_max_level(), LOG_EMERG);
}

Test(log, every_line_is_prefixed) {
        log_error("first\nsecond\n");
        fflush(stream);
        cr_assert_str_eq(captured, "<3>first\n<3>second\n");
}

Test(log, errno_forms_return_negative_errno_and_set_m) {
        errno = 0;
        cr_assert_eq(log_error_errno(ENOENT, "open: %m"), -ENOENT);
        cr_assert_eq(log_warning_errno(-EACCES, "x: %m"), -EACCES);
        cr_assert_eq(errno, 0, "errno is left as it was");
        /* Returned even when the level is filtered out. */
        cr_assert_eq(log_debug_errno(-EIO, "dropped"), -EIO);
        cr_assert_eq(log_info("no error"), 0);
        cr_assert_eq(log_error_errno(INT_MIN, "huge"), -INT_MAX);
        fflush(stream);
        cr_assert(strstr(captured, "<3>open: No such file or directory\n"), "%s", captured);
        cr_assert(strstr(captured, "<4>x: Permission denied\n"), "%s", captured);
        cr_assert_null(strstr(captured, "dropped"));
}
