/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* schedd.conf: parse; an error comes with a message and leaves *ret untouched. */

#include <errno.h>

#include "fuzz.h"
#include "schedd/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ConfigError err = {};
        Config c;
        char *s;
        int r;

        if (size > 16384)
                return -1;
        s = fuzz_string(data, size);
        if (!s)
                return 0;
        memset(&c, 0x5a, sizeof(c));
        r = config_parse_string(s, "fuzz.conf", &c, &err);
        if (r >= 0) {
                fuzz_assert(c.policy_path && c.policy_path[0] == '/', "policy path not absolute");
                fuzz_assert(c.cgroup_root && c.cgroup_root[0] == '/', "cgroup root not absolute");
                config_done(&c);
        } else {
                Config untouched;
                memset(&untouched, 0x5a, sizeof(untouched));
                fuzz_assert(memcmp(&c, &untouched, sizeof(c)) == 0, "*ret written on error %d", r);
        }
        free(s);
        return 0;
}
