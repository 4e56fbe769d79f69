/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "policy/units.h"

typedef int (*ParseFn)(const char *s, uint64_t *ret);
typedef char *(*FormatFn)(uint64_t v, char *buf, size_t size);

/* A value the parsers must leave alone when they fail. */
#define UNTOUCHED 0xdeadbeefULL

static void expect_ok(ParseFn f, const char *s, uint64_t want) {
        uint64_t v = UNTOUCHED;
        int r = f(s, &v);

        cr_assert_eq(r, 0, "\"%s\": got error %d", s, r);
        cr_assert_eq(v, want, "\"%s\": got %llu, want %llu", s, (unsigned long long)v, (unsigned long long)want);
}

static void expect_err(ParseFn f, const char *s, int want) {
        uint64_t v = UNTOUCHED;
        int r = f(s, &v);

        cr_assert_eq(r, want, "\"%s\": got %d, want %d", s, r, want);
        cr_assert_eq(v, UNTOUCHED, "\"%s\": output written on error", s);
}

static void expect_format(FormatFn f, uint64_t v, const char *want) {
        char buf[UNIT_FORMAT_MAX];

        cr_assert_str_eq(f(v, buf, sizeof(buf)), want, "%llu", (unsigned long long)v);
}

/* Malformed in every kind: the syntax is shared. */
static const char *const bad_syntax[] = {
        "",    " 1",    "1 ",  "+1",  "1e5", "1E5", "0x10", ".5", "5.",  "1..5",  "1.2.3", "--1", "- 1", "abc",
        "1,5", "1_000", "\t1", "1\n", "one", "NaN", "inf",  "-",  "1 %", "1/s/s", "/s",    "%",   "1e",
};

static void expect_bad_syntax(ParseFn f) {
        for (size_t i = 0; i < sizeof(bad_syntax) / sizeof(bad_syntax[0]); i++)
                expect_err(f, bad_syntax[i], -EINVAL);
}

static ParseFn all_parsers[] = {
        unit_parse_percent, unit_parse_cpus,    unit_parse_duration,
        unit_parse_bytes,   unit_parse_bitrate, unit_parse_count,
};

Test(units, bad_syntax_everywhere) {
        for (size_t i = 0; i < sizeof(all_parsers) / sizeof(all_parsers[0]); i++)
                expect_bad_syntax(all_parsers[i]);
}

Test(units, null_is_not_a_number) {
        for (size_t i = 0; i < sizeof(all_parsers) / sizeof(all_parsers[0]); i++)
                expect_err(all_parsers[i], NULL, -EINVAL);
}

Test(units, percent) {
        expect_ok(unit_parse_percent, "0%", 0);
        expect_ok(unit_parse_percent, "10%", 100000);
        expect_ok(unit_parse_percent, "12.5%", 125000);
        expect_ok(unit_parse_percent, "0.0001%", 1);
        expect_ok(unit_parse_percent, "100%", UNIT_PPM_FULL);
        expect_ok(unit_parse_percent, "150%", 1500000); /* range checks are the caller's */
        expect_ok(unit_parse_percent, "007%", 70000);
        expect_ok(unit_parse_percent, "50.000000000%", 500000);
        expect_ok(unit_parse_percent, "1844674407370955.1615%", UINT64_MAX);

        expect_err(unit_parse_percent, "1844674407370955.1616%", -ERANGE);
        expect_err(unit_parse_percent, "99999999999999999999%", -ERANGE);
        expect_err(unit_parse_percent, "0.00001%", -ERANGE); /* finer than a ppm */
        expect_err(unit_parse_percent, "-10%", -EDOM);
        expect_err(unit_parse_percent, "-0%", -EDOM);
        expect_err(unit_parse_percent, "10", -EINVAL);
        expect_err(unit_parse_percent, "10%%", -EINVAL);
        expect_err(unit_parse_percent, "10pct", -EINVAL);
        expect_err(unit_parse_percent, "-x%", -EINVAL);
}

Test(units, cpus) {
        expect_ok(unit_parse_cpus, "0", 0);
        expect_ok(unit_parse_cpus, "2", 2000000);
        expect_ok(unit_parse_cpus, "0.5", 500000);
        expect_ok(unit_parse_cpus, "0.25", 250000);
        expect_ok(unit_parse_cpus, "0.000001", 1);
        expect_ok(unit_parse_cpus, "500m", 500000);
        expect_ok(unit_parse_cpus, "1500m", 1500000);
        expect_ok(unit_parse_cpus, "0m", 0);
        expect_ok(unit_parse_cpus, "1.5m", 1500);
        expect_ok(unit_parse_cpus, "18446744073709.551615", UINT64_MAX);
        expect_ok(unit_parse_cpus, "18446744073709551m", 18446744073709551000ULL);

        expect_err(unit_parse_cpus, "18446744073709.551616", -ERANGE);
        expect_err(unit_parse_cpus, "18446744073710", -ERANGE);
        expect_err(unit_parse_cpus, "18446744073709552m", -ERANGE);
        expect_err(unit_parse_cpus, "0.0000001", -ERANGE);
        expect_err(unit_parse_cpus, "0.0001m", -ERANGE);
        expect_err(unit_parse_cpus, "-1", -EDOM);
        expect_err(unit_parse_cpus, "-500m", -EDOM);
        expect_err(unit_parse_cpus, "2cpus", -EINVAL);
        expect_err(unit_parse_cpus, "2M", -EINVAL);
        expect_err(unit_parse_cpus, "50%", -EINVAL);
}

Test(units, duration) {
        expect_ok(unit_parse_duration, "0us", 0);
        expect_ok(unit_parse_duration, "0s", 0);
        expect_ok(unit_parse_duration, "500us", 500);
        expect_ok(unit_parse_duration, "200ms", 200000);
        expect_ok(unit_parse_duration, "1s", 1000000);
        expect_ok(unit_parse_duration, "1.5s", 1500000);
        expect_ok(unit_parse_duration, "2m", 120000000);
        expect_ok(unit_parse_duration, "1h", 3600000000ULL);
        expect_ok(unit_parse_duration, "0.5h", 1800000000ULL);
        expect_ok(unit_parse_duration, "0.001ms", 1);
        expect_ok(unit_parse_duration, "18446744073709551615us", UINT64_MAX);

        expect_err(unit_parse_duration, "18446744073709551616us", -ERANGE);
        expect_ok(unit_parse_duration, "5124095576h", 5124095576ULL * 3600000000ULL);
        expect_err(unit_parse_duration, "5124095577h", -ERANGE); /* > 2^64 us */
        expect_err(unit_parse_duration, "0.5us", -ERANGE);
        expect_err(unit_parse_duration, "0.0001ms", -ERANGE);
        expect_err(unit_parse_duration, "200", -EINVAL); /* a unit is required */
        expect_err(unit_parse_duration, "200 ms", -EINVAL);
        expect_err(unit_parse_duration, "200msec", -EINVAL);
        expect_err(unit_parse_duration, "1d", -EINVAL);
        expect_err(unit_parse_duration, "1s/s", -EINVAL);
        expect_err(unit_parse_duration, "-1s", -EDOM);
}

Test(units, bytes) {
        expect_ok(unit_parse_bytes, "0", 0);
        expect_ok(unit_parse_bytes, "512", 512);
        expect_ok(unit_parse_bytes, "512B", 512);
        expect_ok(unit_parse_bytes, "50kB", 50000);
        expect_ok(unit_parse_bytes, "50KB", 50000);
        expect_ok(unit_parse_bytes, "50MB", 50000000);
        expect_ok(unit_parse_bytes, "1GB", 1000000000);
        expect_ok(unit_parse_bytes, "1TB", 1000000000000ULL);
        expect_ok(unit_parse_bytes, "1KiB", 1024);
        expect_ok(unit_parse_bytes, "1MiB", 1048576);
        expect_ok(unit_parse_bytes, "1GiB", 1073741824);
        expect_ok(unit_parse_bytes, "1TiB", 1099511627776ULL);
        expect_ok(unit_parse_bytes, "1K", 1024);
        expect_ok(unit_parse_bytes, "1M", 1048576);
        expect_ok(unit_parse_bytes, "1G", 1073741824);
        expect_ok(unit_parse_bytes, "1T", 1099511627776ULL);
        expect_ok(unit_parse_bytes, "1Ki", 1024);
        expect_ok(unit_parse_bytes, "1Mi", 1048576);
        expect_ok(unit_parse_bytes, "1Gi", 1073741824);
        expect_ok(unit_parse_bytes, "1Ti", 1099511627776ULL);
        expect_ok(unit_parse_bytes, "1.5GiB", 1610612736);
        expect_ok(unit_parse_bytes, "1.5GB", 1500000000);
        expect_ok(unit_parse_bytes, "0.5KiB", 512);
        expect_ok(unit_parse_bytes, "50MB/s", 50000000);
        expect_ok(unit_parse_bytes, "512/s", 512);
        expect_ok(unit_parse_bytes, "1GiB/s", 1073741824);
        expect_ok(unit_parse_bytes, "18446744073709551615", UINT64_MAX);
        expect_ok(unit_parse_bytes, "18446744073709551615B", UINT64_MAX);
        expect_ok(unit_parse_bytes, "17179869183.9990234375GiB", UINT64_MAX - 1048575);

        expect_err(unit_parse_bytes, "18446744073709551616", -ERANGE);
        expect_err(unit_parse_bytes, "18446744073709551616B", -ERANGE);
        expect_err(unit_parse_bytes, "16777216TiB", -ERANGE);
        expect_err(unit_parse_bytes, "18446745TB", -ERANGE);
        expect_err(unit_parse_bytes, "1.5B", -ERANGE);
        expect_err(unit_parse_bytes, "0.0001kB", -ERANGE);
        expect_err(unit_parse_bytes, "-1", -EDOM);
        expect_err(unit_parse_bytes, "-1GiB", -EDOM);
        expect_err(unit_parse_bytes, "1kb", -EINVAL);
        expect_err(unit_parse_bytes, "1k", -EINVAL);
        expect_err(unit_parse_bytes, "1PB", -EINVAL);
        expect_err(unit_parse_bytes, "1GiB/min", -EINVAL);
        expect_err(unit_parse_bytes, "1Gbit", -EINVAL);
        expect_err(unit_parse_bytes, "1 GiB", -EINVAL);
}

Test(units, bitrate) {
        expect_ok(unit_parse_bitrate, "0bit", 0);
        expect_ok(unit_parse_bitrate, "1000bit", 1000);
        expect_ok(unit_parse_bitrate, "100kbit", 100000);
        expect_ok(unit_parse_bitrate, "100Mbit", 100000000);
        expect_ok(unit_parse_bitrate, "1Gbit", 1000000000);
        expect_ok(unit_parse_bitrate, "1Tbit", 1000000000000ULL);
        expect_ok(unit_parse_bitrate, "1.5Gbit", 1500000000);
        expect_ok(unit_parse_bitrate, "100Mbit/s", 100000000);
        expect_ok(unit_parse_bitrate, "100bps", 100);
        expect_ok(unit_parse_bitrate, "100kbps", 100000);
        expect_ok(unit_parse_bitrate, "100Mbps", 100000000);
        expect_ok(unit_parse_bitrate, "10Gbps", 10000000000ULL);
        expect_ok(unit_parse_bitrate, "18446744073709551615bit", UINT64_MAX);

        expect_err(unit_parse_bitrate, "18446744073709551616bit", -ERANGE);
        expect_err(unit_parse_bitrate, "18446745Tbit", -ERANGE);
        expect_err(unit_parse_bitrate, "0.5bit", -ERANGE);
        expect_err(unit_parse_bitrate, "100", -EINVAL); /* bits or bytes? a unit is required */
        expect_err(unit_parse_bitrate, "100MB", -EINVAL);
        expect_err(unit_parse_bitrate, "100mbit", -EINVAL);
        expect_err(unit_parse_bitrate, "100Mbps/s", -EINVAL);
        expect_err(unit_parse_bitrate, "-100Mbit", -EDOM);
}

Test(units, count) {
        expect_ok(unit_parse_count, "0", 0);
        expect_ok(unit_parse_count, "2000", 2000);
        expect_ok(unit_parse_count, "20k", 20000);
        expect_ok(unit_parse_count, "2M", 2000000);
        expect_ok(unit_parse_count, "1.5k", 1500);
        expect_ok(unit_parse_count, "18446744073709551615", UINT64_MAX);
        expect_ok(unit_parse_count, "18446744073709551k", 18446744073709551000ULL);

        expect_err(unit_parse_count, "18446744073709551616", -ERANGE);
        expect_err(unit_parse_count, "18446744073709552k", -ERANGE);
        expect_err(unit_parse_count, "1.5", -ERANGE);
        expect_err(unit_parse_count, "0.0001k", -ERANGE);
        expect_err(unit_parse_count, "-3", -EDOM);
        expect_err(unit_parse_count, "20K", -EINVAL);
        expect_err(unit_parse_count, "2G", -EINVAL);
        expect_err(unit_parse_count, "20k/s", -EINVAL);
}

Test(units, strerror_words) {
        cr_assert_str_eq(unit_strerror(-EINVAL), "is not a number");
        cr_assert_str_eq(unit_strerror(-EDOM), "is negative");
        cr_assert_str_eq(unit_strerror(-ERANGE), "is too large or too precise");
        cr_assert_str_eq(unit_strerror(EINVAL), "is not a number");
        cr_assert_not_null(unit_strerror(-ENOMEM));
}

Test(units, format_examples) {
        expect_format(unit_format_percent, 0, "0%");
        expect_format(unit_format_percent, 250000, "25%");
        expect_format(unit_format_percent, 125000, "12.5%");
        expect_format(unit_format_percent, 1, "0.0001%");
        expect_format(unit_format_percent, UINT64_MAX, "1844674407370955.1615%");

        expect_format(unit_format_cpus, 0, "0");
        expect_format(unit_format_cpus, 2000000, "2");
        expect_format(unit_format_cpus, 500000, "500m");
        expect_format(unit_format_cpus, 1500000, "1.5");
        expect_format(unit_format_cpus, 1500, "1.5m");
        expect_format(unit_format_cpus, 1, "0.001m");
        expect_format(unit_format_cpus, UINT64_MAX, "18446744073709.551615");

        expect_format(unit_format_duration, 0, "0s");
        expect_format(unit_format_duration, 200000, "200ms");
        expect_format(unit_format_duration, 1000000, "1s");
        expect_format(unit_format_duration, 1500000, "1.5s");
        expect_format(unit_format_duration, 90000000, "90s");
        expect_format(unit_format_duration, 120000000, "2m");
        expect_format(unit_format_duration, 3600000000ULL, "1h");
        expect_format(unit_format_duration, 1, "1us");
        expect_format(unit_format_duration, UINT64_MAX, "18446744073709551615us");

        expect_format(unit_format_bytes, 0, "0B");
        expect_format(unit_format_bytes, 512, "512B");
        expect_format(unit_format_bytes, 1000, "1kB");
        expect_format(unit_format_bytes, 1024, "1KiB");
        expect_format(unit_format_bytes, 50000000, "50MB");
        expect_format(unit_format_bytes, 1500000000, "1500MB");
        expect_format(unit_format_bytes, 1073741824, "1GiB");
        expect_format(unit_format_bytes, 1610612736, "1536MiB"); /* 7 characters, "1.5GiB" costs 8 */
        expect_format(unit_format_bytes, 1099511627776ULL, "1TiB");
        expect_format(unit_format_bytes, UINT64_MAX, "18446744073709551615B");

        expect_format(unit_format_bitrate, 0, "0bit");
        expect_format(unit_format_bitrate, 100000000, "100Mbit");
        expect_format(unit_format_bitrate, 1000000000, "1Gbit");
        expect_format(unit_format_bitrate, 1234, "1234bit");
        expect_format(unit_format_bitrate, UINT64_MAX, "18446744073709551615bit");

        expect_format(unit_format_count, 0, "0");
        expect_format(unit_format_count, 20000, "20k");
        expect_format(unit_format_count, 2000000, "2M");
        expect_format(unit_format_count, 1234, "1234");
        expect_format(unit_format_count, UINT64_MAX, "18446744073709551615");
}

Test(units, format_truncates_to_buffer) {
        char buf[4] = "xxx";

        cr_assert_str_eq(unit_format_bytes(1500000000, buf, sizeof(buf)), "150");
        cr_assert_eq(unit_format_bytes(1, buf, 0), buf); /* writes nothing */
        cr_assert_str_eq(buf, "150");
}

/* Format, parse back, compare: for every kind and many values, odd ones included. */
static void round_trip(FormatFn f, ParseFn p, uint64_t v) {
        char buf[UNIT_FORMAT_MAX];
        uint64_t back = UNTOUCHED;
        int r;

        f(v, buf, sizeof(buf));
        cr_assert_lt(strlen(buf), sizeof(buf) - 1);
        r = p(buf, &back);
        cr_assert_eq(r, 0, "%llu -> \"%s\" does not parse (%d)", (unsigned long long)v, buf, r);
        cr_assert_eq(back, v, "%llu -> \"%s\" -> %llu", (unsigned long long)v, buf, (unsigned long long)back);
}

static const struct {
        FormatFn format;
        ParseFn parse;
} kinds[] = {
        {unit_format_percent, unit_parse_percent},   {unit_format_cpus, unit_parse_cpus},
        {unit_format_duration, unit_parse_duration}, {unit_format_bytes, unit_parse_bytes},
        {unit_format_bitrate, unit_parse_bitrate},   {unit_format_count, unit_parse_count},
};

Test(units, round_trips) {
        static const uint64_t odd[] = {
                0,
                1,
                2,
                7,
                999,
                1000,
                1001,
                1023,
                1024,
                1025,
                1500,
                4096,
                65537,
                999999,
                1000000,
                1000001,
                1048575,
                1048576,
                1500000,
                3600000000ULL,
                5400000000ULL,
                1000000007ULL,
                1073741823ULL,
                1073741824ULL,
                1610612736ULL,
                1099511627776ULL,
                1125899906842624ULL,
                4294967295ULL,
                4294967296ULL,
                1000000000000000000ULL,
                10000000000000000000ULL,
                INT64_MAX,
                (uint64_t)INT64_MAX + 1,
                UINT64_MAX - 1048575,
                UINT64_MAX - 1,
                UINT64_MAX,
        };
        uint64_t x = 0x9e3779b97f4a7c15ULL;

        for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
                for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
                        round_trip(kinds[k].format, kinds[k].parse, odd[i]);

                /* Powers of two and ten, and their neighbours. */
                for (unsigned s = 0; s < 64; s++) {
                        round_trip(kinds[k].format, kinds[k].parse, 1ULL << s);
                        round_trip(kinds[k].format, kinds[k].parse, (1ULL << s) - 1);
                        round_trip(kinds[k].format, kinds[k].parse, (1ULL << s) + 1);
                }
                for (uint64_t t = 1; t <= 10000000000000000000ULL / 10; t *= 10) {
                        round_trip(kinds[k].format, kinds[k].parse, t * 10);
                        round_trip(kinds[k].format, kinds[k].parse, t * 15);
                        round_trip(kinds[k].format, kinds[k].parse, t * 10 - 1);
                }

                /* Pseudo-random values of every magnitude (xorshift, fixed seed). */
                for (unsigned i = 0; i < 20000; i++) {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        round_trip(kinds[k].format, kinds[k].parse, x >> (i % 64));
                }
        }
}

/* The spellings written by the formatter are the shortest, with a decimal
 * point costing three: no other spelling the parser reads is shorter. */
Test(units, format_is_shortest_whole_spelling) {
        char buf[UNIT_FORMAT_MAX];

        /* 1 GiB has the shorter bare spelling "1G", but the formatter writes only unambiguous units. */
        unit_format_bytes(1073741824, buf, sizeof(buf));
        cr_assert_str_eq(buf, "1GiB");
        /* 2.5 CPUs: "2.5" (3 + penalty) vs "2500m" (5): a tie keeps whole CPUs. */
        unit_format_cpus(2500000, buf, sizeof(buf));
        cr_assert_str_eq(buf, "2.5");
        /* 0.25 s: "250ms" beats "0.25s". */
        unit_format_duration(250000, buf, sizeof(buf));
        cr_assert_str_eq(buf, "250ms");
        /* 1.25 GB: "1250MB" beats "1.25GB". */
        unit_format_bytes(1250000000, buf, sizeof(buf));
        cr_assert_str_eq(buf, "1250MB");
        /* 1.5 MiB: "1.5MiB" (6 + 2) vs "1536KiB" (7). */
        unit_format_bytes(1572864, buf, sizeof(buf));
        cr_assert_str_eq(buf, "1536KiB");
        /* 10.5 Gbit: "10500Mbit" (9) vs "10.5Gbit" (8 + 2). */
        unit_format_bitrate(10500000000ULL, buf, sizeof(buf));
        cr_assert_str_eq(buf, "10500Mbit");
        /* 1.234567 GB: "1234567kB" (9) vs "1.234567GB" (10 + 2). */
        unit_format_bytes(1234567000ULL, buf, sizeof(buf));
        cr_assert_str_eq(buf, "1234567kB");
        /* 1.5 h: "90m" (3) beats "1.5h" (4 + 2). */
        unit_format_duration(5400000000ULL, buf, sizeof(buf));
        cr_assert_str_eq(buf, "90m");
        /* No whole spelling: the shorter fraction wins ("0.001m" over "0.000001"; "1.000001" over
         * "1000.001m"). */
        unit_format_cpus(1, buf, sizeof(buf));
        cr_assert_str_eq(buf, "0.001m");
        unit_format_cpus(1000001, buf, sizeof(buf));
        cr_assert_str_eq(buf, "1.000001");
}
