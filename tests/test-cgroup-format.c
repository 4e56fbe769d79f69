/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "schedd/cgroup-format.h"

#define U64_MAX_TEXT  "18446744073709551615"
#define U64_OVER_TEXT "18446744073709551616"

/* A value the parsers must leave alone when they fail. */
#define UNTOUCHED 0xdeadbeefULL

/* cpu.stat as a 6.1 kernel with the cpu controller writes it. */
static const char cpu_stat_full[] = "usage_usec 123456789\n"
                                    "user_usec 100000000\n"
                                    "system_usec 23456789\n"
                                    "core_sched.force_idle_usec 0\n"
                                    "nr_periods 5000\n"
                                    "nr_throttled 42\n"
                                    "throttled_usec 987654\n"
                                    "nr_bursts 0\n"
                                    "burst_usec 0\n";

Test(cpu_stat, full) {
        CpuStat s;

        cr_assert_eq(cgroup_parse_cpu_stat(cpu_stat_full, &s), 0);
        cr_assert_eq(s.usage_usec, 123456789);
        cr_assert_eq(s.nr_throttled, 42);
        cr_assert_eq(s.throttled_usec, 987654);
}

Test(cpu_stat, without_cpu_controller) {
        /* A cgroup whose parent does not pass the cpu controller on (as on
         * hybrid hosts): only the three usage lines. */
        CpuStat s = {.nr_throttled = UNTOUCHED};

        cr_assert_eq(cgroup_parse_cpu_stat("usage_usec 7\nuser_usec 5\nsystem_usec 2\n", &s), 0);
        cr_assert_eq(s.usage_usec, 7);
        cr_assert_eq(s.nr_throttled, 0);
        cr_assert_eq(s.throttled_usec, 0);
}

Test(cpu_stat, zero_and_max) {
        CpuStat s;

        cr_assert_eq(cgroup_parse_cpu_stat("usage_usec 0\nnr_throttled 0\nthrottled_usec 0\n", &s), 0);
        cr_assert_eq(s.usage_usec, 0);
        cr_assert_eq(s.nr_throttled, 0);

        cr_assert_eq(cgroup_parse_cpu_stat("usage_usec " U64_MAX_TEXT "\nnr_throttled " U64_MAX_TEXT "\n", &s), 0);
        cr_assert_eq(s.usage_usec, UINT64_MAX);
        cr_assert_eq(s.nr_throttled, UINT64_MAX);

        /* No trailing newline. */
        cr_assert_eq(cgroup_parse_cpu_stat("usage_usec 5", &s), 0);
        cr_assert_eq(s.usage_usec, 5);
}

Test(cpu_stat, overflow) {
        CpuStat s = {.usage_usec = UNTOUCHED};

        cr_assert_eq(cgroup_parse_cpu_stat("usage_usec " U64_OVER_TEXT "\n", &s), -ERANGE);
        cr_assert_eq(s.usage_usec, UNTOUCHED);
        cr_assert_eq(cgroup_parse_cpu_stat("usage_usec 1\nnr_throttled 99999999999999999999999\n", &s), -ERANGE);
        cr_assert_eq(s.usage_usec, UNTOUCHED);
}

Test(cpu_stat, garbage_and_missing) {
        static const char *const bad[] = {
                "",                             /* no usage_usec */
                "\n",                           /* an empty line */
                "user_usec 5\n",                /* no usage_usec */
                "usage_usec\n",                 /* no value */
                "usage_usec \n",                /* no value */
                "usage_usec x\n",               /* not a number */
                "usage_usec -5\n",              /* negative */
                "usage_usec +5\n",              /* a sign */
                "usage_usec 5x\n",              /* trailing garbage */
                "usage_usec 5 6\n",             /* two values */
                "usage_usec  5\n",              /* two spaces */
                "usage_usec 5\nnr_throttled\n", /* a known key without value */
                "usage_usec 5\nnr_throttled q\n",
                "garbage\n",
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                CpuStat s = {.usage_usec = UNTOUCHED};

                cr_assert_eq(cgroup_parse_cpu_stat(bad[i], &s), -EBADMSG, "\"%s\"", bad[i]);
                cr_assert_eq(s.usage_usec, UNTOUCHED, "\"%s\": output written on error", bad[i]);
        }
}

Test(cpu_stat, unknown_keys_of_newer_kernels_are_skipped) {
        CpuStat s;

        cr_assert_eq(cgroup_parse_cpu_stat("some_future_key 1 2 3\nusage_usec 9\nnr_throttled 3\n", &s), 0);
        cr_assert_eq(s.usage_usec, 9);
        cr_assert_eq(s.nr_throttled, 3);
}

static const char io_stat_two[] = "8:0 rbytes=1000 wbytes=2000 rios=3 wios=4 dbytes=0 dios=0\n"
                                  "253:16 rbytes=5 wbytes=6 rios=7 wios=8 dbytes=9 dios=10\n";

Test(io_stat, finds_the_device) {
        IoStat s;

        cr_assert_eq(cgroup_parse_io_stat(io_stat_two, 8, 0, &s), 1);
        cr_assert_eq(s.rbytes, 1000);
        cr_assert_eq(s.wbytes, 2000);
        cr_assert_eq(s.rios, 3);
        cr_assert_eq(s.wios, 4);

        cr_assert_eq(cgroup_parse_io_stat(io_stat_two, 253, 16, &s), 1);
        cr_assert_eq(s.rbytes, 5);
        cr_assert_eq(s.wios, 8);

        cr_assert_eq(io_stat_get(&s, IO_RBPS), 5);
        cr_assert_eq(io_stat_get(&s, IO_WBPS), 6);
        cr_assert_eq(io_stat_get(&s, IO_RIOPS), 7);
        cr_assert_eq(io_stat_get(&s, IO_WIOPS), 8);
}

Test(io_stat, absent_device_is_zero) {
        IoStat s = {.rbytes = UNTOUCHED};

        cr_assert_eq(cgroup_parse_io_stat(io_stat_two, 8, 16, &s), 0);
        cr_assert_eq(s.rbytes, 0);
        cr_assert_eq(s.wios, 0);

        s.rbytes = UNTOUCHED;
        cr_assert_eq(cgroup_parse_io_stat("", 8, 0, &s), 0, "a cgroup that did no I/O has an empty io.stat");
        cr_assert_eq(s.rbytes, 0);
}

Test(io_stat, zero_max_and_missing_fields) {
        IoStat s;

        cr_assert_eq(cgroup_parse_io_stat("1:0 rbytes=0 wbytes=" U64_MAX_TEXT "\n", 1, 0, &s), 1);
        cr_assert_eq(s.rbytes, 0);
        cr_assert_eq(s.wbytes, UINT64_MAX);
        cr_assert_eq(s.rios, 0, "a missing field is zero");
        cr_assert_eq(s.wios, 0);

        /* A device line without any field, and a trailing space. */
        cr_assert_eq(cgroup_parse_io_stat("1:0\n", 1, 0, &s), 1);
        cr_assert_eq(s.rbytes, 0);
        cr_assert_eq(cgroup_parse_io_stat("1:0 rbytes=4 \n", 1, 0, &s), 1);
        cr_assert_eq(s.rbytes, 4);

        /* Keys it does not know are skipped, in any order. */
        cr_assert_eq(cgroup_parse_io_stat("1:0 cost.usage=5 wios=2 rbytes=3\n", 1, 0, &s), 1);
        cr_assert_eq(s.rbytes, 3);
        cr_assert_eq(s.wios, 2);

        /* No final newline. */
        cr_assert_eq(cgroup_parse_io_stat("1:0 rbytes=4", 1, 0, &s), 1);
        cr_assert_eq(s.rbytes, 4);
}

Test(io_stat, overflow) {
        IoStat s = {.rbytes = UNTOUCHED};

        cr_assert_eq(cgroup_parse_io_stat("8:0 rbytes=" U64_OVER_TEXT "\n", 8, 0, &s), -ERANGE);
        cr_assert_eq(s.rbytes, UNTOUCHED);
}

Test(io_stat, garbage) {
        static const char *const bad[] = {
                "8 rbytes=1\n",            /* no minor */
                "8: rbytes=1\n",           /* empty minor */
                ":0 rbytes=1\n",           /* empty major */
                "x:0 rbytes=1\n",          /* not a number */
                "8:0 rbytes\n",            /* no '=' */
                "8:0 rbytes=\n",           /* no value */
                "8:0 rbytes=x\n",          /* not a number */
                "8:0 rbytes=1x\n",         /* trailing garbage */
                "8:0 =1\n",                /* no key */
                "8:0\trbytes=1\n",         /* a tab */
                "8:0 rbytes=1\ngarbage\n", /* a garbled line of another device */
                "4096:0 rbytes=1\n",       /* major over 12 bits */
                "8:1048576 rbytes=1\n",    /* minor over 20 bits */
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                IoStat s = {.rbytes = UNTOUCHED};

                cr_assert_eq(cgroup_parse_io_stat(bad[i], 8, 0, &s), -EBADMSG, "\"%s\"", bad[i]);
                cr_assert_eq(s.rbytes, UNTOUCHED, "\"%s\": output written on error", bad[i]);
        }
}

Test(devnum, parse) {
        unsigned major = UNTOUCHED, minor = UNTOUCHED;

        cr_assert_eq(cgroup_parse_devnum("254:0\n", &major, &minor), 0);
        cr_assert_eq(major, 254);
        cr_assert_eq(minor, 0);
        cr_assert_eq(cgroup_parse_devnum("0:0", &major, &minor), 0);
        cr_assert_eq(major, 0);
        cr_assert_eq(cgroup_parse_devnum("4095:1048575", &major, &minor), 0);
        cr_assert_eq(major, 4095);
        cr_assert_eq(minor, 1048575);

        static const char *const bad[] = {"",        "\n",  "8",    "8:",     ":0",        "8:0x",
                                          "8:0\n\n", "a:b", "-1:0", "4096:0", "8:1048576", "99999999999999999999:0",
                                          "8:0 "};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                major = minor = UNTOUCHED;
                cr_assert_eq(cgroup_parse_devnum(bad[i], &major, &minor), -EBADMSG, "\"%s\"", bad[i]);
                cr_assert_eq(major, UNTOUCHED);
                cr_assert_eq(minor, UNTOUCHED);
        }
}

Test(controllers, parse_and_format) {
        char buf[64];

        cr_assert_eq(cgroup_parse_controllers("cpuset cpu io memory hugetlb pids rdma misc\n"),
                     CGROUP_CONTROLLER_CPU | CGROUP_CONTROLLER_IO | CGROUP_CONTROLLER_MEMORY);
        cr_assert_eq(cgroup_parse_controllers("hugetlb\n"), 0, "the hybrid host's unified tree");
        cr_assert_eq(cgroup_parse_controllers(""), 0);
        cr_assert_eq(cgroup_parse_controllers("cpuset"), 0, "cpuset is not cpu");
        cr_assert_eq(cgroup_parse_controllers("  memory\tcpu  "), CGROUP_CONTROLLER_CPU | CGROUP_CONTROLLER_MEMORY);
        cr_assert_eq(cgroup_parse_controllers("+cpu"), 0, "a subtree_control write is not a list");

        cr_assert_eq(cgroup_format_subtree_control(CGROUP_CONTROLLER_ALL, buf, sizeof(buf)), 16);
        cr_assert_str_eq(buf, "+cpu +io +memory");
        cr_assert_eq(cgroup_format_subtree_control(CGROUP_CONTROLLER_IO, buf, sizeof(buf)), 3);
        cr_assert_str_eq(buf, "+io");
        cr_assert_eq(cgroup_format_subtree_control(0, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "");
        cr_assert_eq(cgroup_format_subtree_control(CGROUP_CONTROLLER_ALL, buf, 16), -ENOBUFS);

        cr_assert_str_eq(cgroup_controller_to_string(CGROUP_CONTROLLER_MEMORY), "memory");
        cr_assert_null(cgroup_controller_to_string(CGROUP_CONTROLLER_CPU | CGROUP_CONTROLLER_IO));
        cr_assert_null(cgroup_controller_to_string(0));
}

Test(cpu_max, format) {
        char buf[64];

        cr_assert_eq(cgroup_format_cpu_max(0, 100000, buf, sizeof(buf)), 10);
        cr_assert_str_eq(buf, "max 100000");
        cr_assert_eq(cgroup_format_cpu_max(CGROUP_LIMIT_MAX, 100000, buf, sizeof(buf)), 10);
        cr_assert_str_eq(buf, "max 100000");
        cr_assert_gt(cgroup_format_cpu_max(50000, 100000, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "50000 100000");
        /* More than one CPU's worth per period is a valid quota. */
        cr_assert_gt(cgroup_format_cpu_max(250000, 100000, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "250000 100000");
        /* Under the kernel's 1 ms minimum: raised to it. */
        cr_assert_gt(cgroup_format_cpu_max(1, 100000, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "1000 100000");
        cr_assert_gt(cgroup_format_cpu_max(999, 100000, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "1000 100000");
        cr_assert_gt(cgroup_format_cpu_max(1000, 1000, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "1000 1000");
        cr_assert_gt(cgroup_format_cpu_max(UINT64_MAX - 1, 1000000, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "18446744073709551614 1000000");

        /* Periods the kernel refuses. */
        cr_assert_eq(cgroup_format_cpu_max(5000, 999, buf, sizeof(buf)), -EINVAL);
        cr_assert_eq(cgroup_format_cpu_max(5000, 1000001, buf, sizeof(buf)), -EINVAL);
        cr_assert_eq(cgroup_format_cpu_max(0, 0, buf, sizeof(buf)), -EINVAL);

        /* Too small a buffer: an error, not a truncated value. */
        cr_assert_eq(cgroup_format_cpu_max(50000, 100000, buf, 12), -ENOBUFS);
        cr_assert_eq(cgroup_format_cpu_max(50000, 100000, buf, 13), 12);
}

Test(weight, format) {
        char buf[16];

        cr_assert_eq(cgroup_format_weight(100, buf, sizeof(buf)), 3);
        cr_assert_str_eq(buf, "100");
        cr_assert_gt(cgroup_format_weight(0, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "1");
        cr_assert_gt(cgroup_format_weight(10000, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "10000");
        cr_assert_gt(cgroup_format_weight(10001, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "10000");
        cr_assert_gt(cgroup_format_weight(UINT64_MAX, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "10000");
        cr_assert_eq(cgroup_format_weight(10000, buf, 5), -ENOBUFS);
}

Test(u64_or_max, format) {
        char buf[32];

        cr_assert_eq(cgroup_format_u64_or_max(0, buf, sizeof(buf)), 1);
        cr_assert_str_eq(buf, "0");
        cr_assert_eq(cgroup_format_u64_or_max(CGROUP_LIMIT_MAX, buf, sizeof(buf)), 3);
        cr_assert_str_eq(buf, "max");
        cr_assert_gt(cgroup_format_u64_or_max(UINT64_MAX - 1, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "18446744073709551614");
        cr_assert_eq(cgroup_format_u64_or_max(1073741824, buf, sizeof(buf)), 10);
        cr_assert_str_eq(buf, "1073741824");
        cr_assert_eq(cgroup_format_u64_or_max(CGROUP_LIMIT_MAX, buf, 3), -ENOBUFS);
}

Test(io_max, format) {
        char buf[CGROUP_LINE_MAX];
        uint64_t limits[_IO_DIR_MAX] = {52428800, CGROUP_LIMIT_MAX, CGROUP_LIMIT_MAX, CGROUP_LIMIT_MAX};

        cr_assert_gt(cgroup_format_io_max(8, 0, limits, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "8:0 rbps=52428800 wbps=max riops=max wiops=max");

        uint64_t none[_IO_DIR_MAX] = {CGROUP_LIMIT_MAX, CGROUP_LIMIT_MAX, CGROUP_LIMIT_MAX, CGROUP_LIMIT_MAX};
        cr_assert_gt(cgroup_format_io_max(253, 16, none, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "253:16 rbps=max wbps=max riops=max wiops=max");

        /* Zero is refused by the kernel: the floor is 1. */
        uint64_t zero[_IO_DIR_MAX] = {0, 0, 0, 0};
        cr_assert_gt(cgroup_format_io_max(1, 0, zero, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "1:0 rbps=1 wbps=1 riops=1 wiops=1");

        /* Bytes take 64 bits, operations 32. */
        uint64_t big[_IO_DIR_MAX] = {UINT64_MAX - 1, UINT64_MAX - 1, UINT64_MAX - 1, 4294967295ULL};
        int n = cgroup_format_io_max(4095, 1048575, big, buf, sizeof(buf));
        cr_assert_str_eq(buf, "4095:1048575 rbps=18446744073709551614 wbps=18446744073709551614 "
                              "riops=4294967295 wiops=4294967295");
        cr_assert_eq(n, (int)strlen(buf));
        cr_assert_lt(n, CGROUP_LINE_MAX, "CGROUP_LINE_MAX holds the longest line");

        cr_assert_eq(cgroup_format_io_max(8, 0, limits, buf, 20), -ENOBUFS);
}

Test(io_max, original_line) {
        char buf[CGROUP_LINE_MAX], dev[16];
        const char *text = "8:0 rbps=1000 wbps=max riops=max wiops=max\n"
                           "8:16 rbps=max wbps=2000 riops=max wiops=30\n";

        cr_assert_gt(cgroup_io_max_line(text, 8, 16, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "8:16 rbps=max wbps=2000 riops=max wiops=30");
        cr_assert_gt(cgroup_io_max_line(text, 8, 0, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "8:0 rbps=1000 wbps=max riops=max wiops=max");

        /* No line for the device (io.max is empty when nothing is limited). */
        cr_assert_gt(cgroup_io_max_line(text, 8, 1, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "8:1 rbps=max wbps=max riops=max wiops=max");
        cr_assert_gt(cgroup_io_max_line("", 254, 0, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "254:0 rbps=max wbps=max riops=max wiops=max");

        /* 8:1 is not a prefix match for 8:16. */
        cr_assert_gt(cgroup_io_max_line("8:16 rbps=5 wbps=max riops=max wiops=max\n", 8, 1, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "8:1 rbps=max wbps=max riops=max wiops=max");

        cr_assert_eq(cgroup_io_max_line(text, 8, 16, buf, 10), -ENOBUFS);

        cr_assert_eq(cgroup_io_max_device("8:16 rbps=max", dev, sizeof(dev)), 4);
        cr_assert_str_eq(dev, "8:16");
        cr_assert_eq(cgroup_io_max_device("", dev, sizeof(dev)), 0);
        cr_assert_eq(cgroup_io_max_device(" rbps=1", dev, sizeof(dev)), 0);
        cr_assert_eq(cgroup_io_max_device("1234567890123456789:1", dev, sizeof(dev)), 0);
}

Test(pressure, some_total) {
        uint64_t v = 1;

        cr_assert_eq(cgroup_parse_pressure_some_usec("some avg10=1.50 avg60=0.30 avg300=0.06 total=123456\n"
                                                     "full avg10=0.00 avg60=0.00 avg300=0.00 total=789\n",
                                                     &v),
                     0);
        cr_assert_eq(v, 123456);
        /* the order of the lines does not matter, nor a missing newline */
        cr_assert_eq(cgroup_parse_pressure_some_usec("full avg10=0.00 avg60=0.00 avg300=0.00 total=5\n"
                                                     "some avg10=0.00 avg60=0.00 avg300=0.00 total=0",
                                                     &v),
                     0);
        cr_assert_eq(v, 0);
}

Test(pressure, maximum_and_overflow) {
        uint64_t v = 0;

        cr_assert_eq(cgroup_parse_pressure_some_usec("some avg10=0.00 total=18446744073709551615\n", &v), 0);
        cr_assert_eq(v, UINT64_MAX);
        v = 7;
        cr_assert_eq(cgroup_parse_pressure_some_usec("some avg10=0.00 total=18446744073709551616\n", &v), -EBADMSG);
        cr_assert_eq(v, 7, "untouched on failure");
}

Test(pressure, bad_input) {
        uint64_t v = 7;

        cr_assert_eq(cgroup_parse_pressure_some_usec("", &v), -EBADMSG);
        cr_assert_eq(cgroup_parse_pressure_some_usec("full avg10=0.00 total=5\n", &v), -EBADMSG);
        cr_assert_eq(cgroup_parse_pressure_some_usec("some avg10=0.00 avg60=0.00\n", &v), -EBADMSG);
        cr_assert_eq(cgroup_parse_pressure_some_usec("some avg10=0.00 total=\n", &v), -EBADMSG);
        cr_assert_eq(cgroup_parse_pressure_some_usec("some avg10=0.00 total=12x\n", &v), -EBADMSG);
        cr_assert_eq(cgroup_parse_pressure_some_usec("something total=5\n", &v), -EBADMSG);
        cr_assert_eq(v, 7);
}
