/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The policy text as `schedctl validate`, the daemon's loads and the bus's
 * ValidatePolicy take it: parse, validate on a fixed host, and for every
 * policy that parses, write it and read it back to an equal model, and copy
 * it.  An error must come with a message; success must round-trip.
 */

#include <errno.h>

#include "fuzz.h"
#include "policy/parse.h"
#include "policy/validate.h"
#include "policy/write.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const HostFacts facts = {.cpus_ucpu = 4000000, .memory_bytes = 8ULL << 30};
        PolicyError err = {};
        ResolvedPolicy rp;
        Policy p, back, copy;
        char *text, *written = NULL;
        int r;

        if (size > FUZZ_INPUT_MAX)
                return -1;

        policy_init(&p);
        r = policy_parse_string((const char *)data, size, "fuzz.yaml", &p, &err);
        if (r < 0) {
                fuzz_assert(err.message[0], "error %d without a message", r);
                fuzz_assert(p.n_vms == 0 && p.host.n_devices == 0, "*ret changed on error");
                policy_done(&p);
                return 0;
        }

        r = policy_validate(&p, &facts, &rp, &err);
        if (r >= 0) {
                char summary[1024];
                fuzz_assert(rp.n_vms == p.n_vms, "%zu resolved VMs for %zu", rp.n_vms, p.n_vms);
                resolved_policy_summary(&rp, summary, sizeof(summary));
                resolved_policy_done(&rp);
        } else
                fuzz_assert(err.message[0], "validation error %d without a message", r);

        /* What the parser made is UTF-8, so the writer always can write it. */
        r = policy_write_string(&p, &written);
        fuzz_assert(r == 0, "write: %d", r);
        policy_init(&back);
        r = policy_parse_string(written, strlen(written), "written.yaml", &back, &err);
        fuzz_assert(r == 0, "written text does not parse: %s\n--- written:\n%s", err.message, written);
        fuzz_assert(policy_equal(&p, &back), "read back differs\n--- written:\n%s", written);

        /* Writing again gives the same text. */
        text = NULL;
        fuzz_assert(policy_write_string(&back, &text) == 0, "second write");
        fuzz_assert(strcmp(text, written) == 0, "second write differs:\n%s\n---\n%s", written, text);
        free(text);

        fuzz_assert(policy_copy(&copy, &p) == 0, "copy");
        fuzz_assert(policy_equal(&p, &copy), "copy differs");
        policy_done(&copy);

        policy_done(&back);
        free(written);
        policy_done(&p);
        return 0;
}
