/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The simulator's scenario files (the policy parser embedded in them). */

#include <errno.h>

#include "fuzz.h"
#include "tools/sim/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        PolicyError err = {};
        Scenario sc;
        int r;

        if (size > FUZZ_INPUT_MAX)
                return -1;
        /* In a directory of its own: a policy_file it names is not found (the fuzzer reads no files). */
        r = scenario_parse_string((const char *)data, size, "/nonexistent/fuzz.yaml", &sc, &err);
        if (r >= 0)
                scenario_done(&sc);
        else
                fuzz_assert(err.message[0], "error %d without a message", r);
        return 0;
}
