/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Units of the policy language.
 *
 * Every amount is "DIGITS[.DIGITS]SUFFIX": no sign, no whitespace, no
 * exponent, no hex.  The value is computed exactly in integers: the decimal
 * fraction times the suffix's multiplier must come out whole in the base
 * unit, so "1.5GiB" is read but "1.5B" and "0.0000001" CPUs are not.  Such
 * a too fine amount is -ERANGE, like one that overflows 64 bits: both are
 * amounts out of what the base unit can hold, and unit_strerror() words the
 * error to cover both.  A leading '-' before an otherwise valid amount is
 * -EDOM ("-0" included: the language has no signed amounts).
 *
 * Formatting writes the shortest spelling that reads back to the same value,
 * where a decimal point counts as three characters: whole numbers in a
 * smaller unit read better than fractions of a larger one ("200ms", not
 * "0.2s"; "500m", not "0.5"), unless the fraction is clearly shorter.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "units.h"

/* Fractional digits kept when reading: 10^19 is the largest power of ten in
 * 64 bits, and no multiplier of ours needs more (a fraction that only comes
 * out whole with more digits is rejected as too fine). */
#define UNIT_FRAC_DIGITS_MAX 19

/* A formatted candidate before it is copied out: 20 integer digits, a point,
 * 19 fractional digits, a suffix and the NUL, with room to spare. */
#define UNIT_SCRATCH_SIZE 64

/* What a decimal point costs when choosing the shortest spelling (its own
 * character plus two): "200ms" beats "0.2s", "1.5s" ties "1500ms". */
#define UNIT_DECIMAL_PENALTY 2

typedef struct UnitSuffix {
        const char *suffix;
        uint64_t multiplier; /* base units per 1 of this suffix */
        bool format;         /* the formatter may choose this spelling */
        bool is_rate;        /* already says "per second" ("Mbps"): no "/s" after it */
} UnitSuffix;

typedef struct Decimal {
        unsigned __int128 integer; /* saturated just above UINT64_MAX */
        uint64_t frac;             /* fractional digits as an integer, trailing zeros dropped */
        unsigned frac_digits;      /* how many digits frac has after the point */
        bool frac_too_long;        /* more than UNIT_FRAC_DIGITS_MAX significant digits */
        const char *end;           /* first character after the number */
} Decimal;

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

/* Reads DIGITS[.DIGITS] at s.  Returns false if s does not start with one. */
static bool decimal_read(const char *s, Decimal *ret) {
        Decimal d = {};
        const char *p = s;

        if (!is_digit(*p))
                return false;
        for (; is_digit(*p); p++) {
                if (d.integer <= UINT64_MAX)
                        d.integer = d.integer * 10 + (unsigned)(*p - '0');
                /* beyond UINT64_MAX it only has to stay beyond it */
        }

        if (*p == '.') {
                const char *first = ++p;
                const char *last_nonzero = NULL;

                if (!is_digit(*p))
                        return false;
                for (; is_digit(*p); p++)
                        if (*p != '0')
                                last_nonzero = p;
                if (last_nonzero) {
                        size_t n = (size_t)(last_nonzero - first) + 1;
                        if (n > UNIT_FRAC_DIGITS_MAX)
                                d.frac_too_long = true;
                        else {
                                for (const char *q = first; q <= last_nonzero; q++)
                                        d.frac = d.frac * 10 + (uint64_t)(*q - '0');
                                d.frac_digits = (unsigned)n;
                        }
                }
        }

        d.end = p;
        *ret = d;
        return true;
}

static uint64_t pow10_u64(unsigned n) {
        uint64_t r = 1;
        while (n-- > 0)
                r *= 10;
        return r;
}

/* d * multiplier exactly, or -ERANGE (overflow, or not a whole base unit). */
static int decimal_scale(const Decimal *d, uint64_t multiplier, uint64_t *ret) {
        unsigned __int128 v, f;
        uint64_t den;

        if (d->frac_too_long)
                return -ERANGE;
        if (d->integer > UINT64_MAX)
                return -ERANGE;

        den = pow10_u64(d->frac_digits);
        f = (unsigned __int128)d->frac * multiplier;
        if (f % den != 0)
                return -ERANGE;

        /* integer < 2^64 and multiplier < 2^64: the product fits in 128 bits,
         * and f / den < multiplier, so the sum cannot wrap either. */
        v = d->integer * multiplier + f / den;
        if (v > UINT64_MAX)
                return -ERANGE;

        *ret = (uint64_t)v;
        return 0;
}

/*
 * The common parser: a number followed by exactly one of `suffixes` (which
 * may include "" for none).  When allow_per_sec, a trailing "/s" is accepted.
 */
static int parse_with_suffixes(const char *s, const UnitSuffix *suffixes, size_t n_suffixes, bool allow_per_sec,
                               uint64_t *ret) {
        Decimal d;
        bool negative = false;
        const char *rest;
        size_t rest_len;
        bool per_sec = false;
        uint64_t v;
        int r;

        if (!s)
                return -EINVAL;
        if (*s == '-') {
                negative = true;
                s++;
        }
        if (!decimal_read(s, &d))
                return -EINVAL;

        rest = d.end;
        rest_len = strlen(rest);
        if (allow_per_sec && rest_len >= 2 && strcmp(rest + rest_len - 2, "/s") == 0) {
                rest_len -= 2;
                per_sec = true;
        }

        for (size_t i = 0; i < n_suffixes; i++) {
                if (strlen(suffixes[i].suffix) != rest_len || strncmp(rest, suffixes[i].suffix, rest_len) != 0)
                        continue;
                if (per_sec && suffixes[i].is_rate)
                        return -EINVAL;

                if (negative)
                        return -EDOM;
                r = decimal_scale(&d, suffixes[i].multiplier, &v);
                if (r < 0)
                        return r;
                *ret = v;
                return 0;
        }

        return -EINVAL;
}

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/* One unit a line reads best. */
/* clang-format off */
static const UnitSuffix percent_suffixes[] = {
        { "%",    UNIT_PPM_PER_PERCENT,     true,  false },
};

/* Whole CPUs first: on a tie the plain number wins. */
static const UnitSuffix cpu_suffixes[] = {
        { "",     UNIT_UCPU_PER_CPU,        true,  false },
        { "m",    UNIT_UCPU_PER_CPU / 1000, true,  false },
};

/* Largest first: on a tie the larger unit wins ("1.5s" over "1500ms"). */
static const UnitSuffix duration_suffixes[] = {
        { "h",    3600ULL * 1000000ULL,     true,  false },
        { "m",    60ULL * 1000000ULL,       true,  false },
        { "s",    1000000ULL,               true,  false },
        { "ms",   1000ULL,                  true,  false },
        { "us",   1ULL,                     true,  false },
};

/* SI and IEC multipliers, as every tool that reads "kB" and "KiB" spells them. */
#define SI_K  1000ULL
#define SI_M  (SI_K * SI_K)
#define SI_G  (SI_M * SI_K)
#define SI_T  (SI_G * SI_K)
#define IEC_K 1024ULL
#define IEC_M (IEC_K * IEC_K)
#define IEC_G (IEC_M * IEC_K)
#define IEC_T (IEC_G * IEC_K)

/* The formatter writes "B", SI "kB".."TB" and IEC "KiB".."TiB"; the bare
 * forms ("", "K", "Ki", "KB") are read only. */
static const UnitSuffix byte_suffixes[] = {
        { "B",    1,     true,  false },
        { "",     1,     false, false },
        { "kB",   SI_K,  true,  false },
        { "KB",   SI_K,  false, false },
        { "MB",   SI_M,  true,  false },
        { "GB",   SI_G,  true,  false },
        { "TB",   SI_T,  true,  false },
        { "KiB",  IEC_K, true,  false },
        { "MiB",  IEC_M, true,  false },
        { "GiB",  IEC_G, true,  false },
        { "TiB",  IEC_T, true,  false },
        { "K",    IEC_K, false, false },
        { "M",    IEC_M, false, false },
        { "G",    IEC_G, false, false },
        { "T",    IEC_T, false, false },
        { "Ki",   IEC_K, false, false },
        { "Mi",   IEC_M, false, false },
        { "Gi",   IEC_G, false, false },
        { "Ti",   IEC_T, false, false },
};

/* A unit is required: a bare number would leave bits and bytes ambiguous. */
static const UnitSuffix bitrate_suffixes[] = {
        { "bit",  1,     true,  false },
        { "kbit", SI_K,  true,  false },
        { "Mbit", SI_M,  true,  false },
        { "Gbit", SI_G,  true,  false },
        { "Tbit", SI_T,  true,  false },
        { "bps",  1,     false, true },
        { "kbps", SI_K,  false, true },
        { "Mbps", SI_M,  false, true },
        { "Gbps", SI_G,  false, true },
        { "Tbps", SI_T,  false, true },
};

static const UnitSuffix count_suffixes[] = {
        { "",     1,     true,  false },
        { "k",    SI_K,  true,  false },
        { "M",    SI_M,  true,  false },
};
/* clang-format on */

int unit_parse_percent(const char *s, uint64_t *ret_ppm) {
        return parse_with_suffixes(s, percent_suffixes, ELEMENTSOF(percent_suffixes), false, ret_ppm);
}

int unit_parse_cpus(const char *s, uint64_t *ret_ucpu) {
        return parse_with_suffixes(s, cpu_suffixes, ELEMENTSOF(cpu_suffixes), false, ret_ucpu);
}

int unit_parse_duration(const char *s, uint64_t *ret_usec) {
        return parse_with_suffixes(s, duration_suffixes, ELEMENTSOF(duration_suffixes), false, ret_usec);
}

int unit_parse_bytes(const char *s, uint64_t *ret_bytes) {
        return parse_with_suffixes(s, byte_suffixes, ELEMENTSOF(byte_suffixes), true, ret_bytes);
}

int unit_parse_bitrate(const char *s, uint64_t *ret_bits_per_sec) {
        return parse_with_suffixes(s, bitrate_suffixes, ELEMENTSOF(bitrate_suffixes), true, ret_bits_per_sec);
}

int unit_parse_count(const char *s, uint64_t *ret) {
        return parse_with_suffixes(s, count_suffixes, ELEMENTSOF(count_suffixes), false, ret);
}

const char *unit_strerror(int err) {
        switch (err < 0 ? -err : err) {
                case EINVAL:
                        return "is not a number";
                case EDOM:
                        return "is negative";
                case ERANGE:
                        return "is too large or too precise";
                default:
                        return "is not valid";
        }
}

/*
 * Spells value / multiplier as an exact decimal into buf (UNIT_SCRATCH_SIZE
 * bytes) followed by suffix.  Returns the length, or -1 if the fraction
 * does not end within UNIT_FRAC_DIGITS_MAX digits (the parser would not
 * read it back).  *ret_decimal tells whether a point was written.
 */
static int spell_exact(uint64_t value, const UnitSuffix *u, char *buf, bool *ret_decimal) {
        uint64_t integer = value / u->multiplier, rem = value % u->multiplier;
        char frac[UNIT_FRAC_DIGITS_MAX + 1];
        unsigned n = 0;

        while (rem != 0) {
                unsigned __int128 t;

                if (n == UNIT_FRAC_DIGITS_MAX)
                        return -1;
                t = (unsigned __int128)rem * 10;
                frac[n++] = (char)('0' + (unsigned)(t / u->multiplier));
                rem = (uint64_t)(t % u->multiplier);
        }
        frac[n] = '\0';

        *ret_decimal = n > 0;
        if (n > 0)
                return snprintf(buf, UNIT_SCRATCH_SIZE, "%llu.%s%s", (unsigned long long)integer, frac, u->suffix);
        return snprintf(buf, UNIT_SCRATCH_SIZE, "%llu%s", (unsigned long long)integer, u->suffix);
}

static char *format_shortest(uint64_t value, const UnitSuffix *suffixes, size_t n_suffixes, char *buf,
                             size_t buf_size) {
        char best[UNIT_SCRATCH_SIZE] = "", cand[UNIT_SCRATCH_SIZE];
        int best_cost = -1;

        for (size_t i = 0; i < n_suffixes; i++) {
                bool decimal;
                int len, cost;

                if (!suffixes[i].format)
                        continue;
                len = spell_exact(value, &suffixes[i], cand, &decimal);
                if (len < 0)
                        continue;
                cost = len + (decimal ? UNIT_DECIMAL_PENALTY : 0);
                if (best_cost < 0 || cost < best_cost) {
                        best_cost = cost;
                        memcpy(best, cand, sizeof(best));
                }
        }

        /* Every table has a multiplier-1 entry or (percent, CPUs) one whose
         * fraction always ends within the digits allowed, so best is set. */
        if (buf_size > 0)
                snprintf(buf, buf_size, "%s", best);
        return buf;
}

char *unit_format_percent(uint64_t ppm, char *buf, size_t buf_size) {
        return format_shortest(ppm, percent_suffixes, ELEMENTSOF(percent_suffixes), buf, buf_size);
}

char *unit_format_cpus(uint64_t ucpu, char *buf, size_t buf_size) {
        return format_shortest(ucpu, cpu_suffixes, ELEMENTSOF(cpu_suffixes), buf, buf_size);
}

char *unit_format_duration(uint64_t usec, char *buf, size_t buf_size) {
        /* Zero is a whole number of every unit; seconds read best. */
        if (usec == 0) {
                if (buf_size > 0)
                        snprintf(buf, buf_size, "0s");
                return buf;
        }
        return format_shortest(usec, duration_suffixes, ELEMENTSOF(duration_suffixes), buf, buf_size);
}

char *unit_format_bytes(uint64_t bytes, char *buf, size_t buf_size) {
        return format_shortest(bytes, byte_suffixes, ELEMENTSOF(byte_suffixes), buf, buf_size);
}

char *unit_format_bitrate(uint64_t bits_per_sec, char *buf, size_t buf_size) {
        return format_shortest(bits_per_sec, bitrate_suffixes, ELEMENTSOF(bitrate_suffixes), buf, buf_size);
}

char *unit_format_count(uint64_t n, char *buf, size_t buf_size) {
        return format_shortest(n, count_suffixes, ELEMENTSOF(count_suffixes), buf, buf_size);
}
