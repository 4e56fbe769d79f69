/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Every unit parser on the same text; what parses is formatted and parsed
 * again to the same value (the writer relies on it).
 */

#include <errno.h>

#include "fuzz.h"
#include "policy/units.h"

typedef struct UnitPair {
        const char *name;
        int (*parse)(const char *s, uint64_t *ret);
        char *(*format)(uint64_t v, char *buf, size_t size);
} UnitPair;

static const UnitPair units[] = {
        {"percent", unit_parse_percent, unit_format_percent},    {"cpus", unit_parse_cpus, unit_format_cpus},
        {"duration", unit_parse_duration, unit_format_duration}, {"bytes", unit_parse_bytes, unit_format_bytes},
        {"bitrate", unit_parse_bitrate, unit_format_bitrate},    {"count", unit_parse_count, unit_format_count},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s;

        if (size > 256)
                return -1;
        s = fuzz_string(data, size);
        if (!s)
                return 0;

        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
                char buf[UNIT_FORMAT_MAX];
                uint64_t v = 0, w = 0;
                int r = units[i].parse(s, &v);

                if (r < 0) {
                        fuzz_assert(unit_strerror(r) != NULL, "%s: no text for %d", units[i].name, r);
                        continue;
                }
                units[i].format(v, buf, sizeof(buf));
                r = units[i].parse(buf, &w);
                fuzz_assert(r == 0 && w == v, "%s: \"%s\" -> %llu -> \"%s\" -> %d %llu", units[i].name, s,
                            (unsigned long long)v, buf, r, (unsigned long long)w);
        }
        free(s);
        return 0;
}
