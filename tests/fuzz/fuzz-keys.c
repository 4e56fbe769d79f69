/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The bus's SetPolicy settings and `schedctl set`: a VM name, a key and a
 * value (the input split at its first two NULs) set over a small policy,
 * then validated, written and read back, read with policy_get_key(), and
 * unset again.
 */

#include <errno.h>

#include "fuzz.h"
#include "policy/keys.h"
#include "policy/parse.h"
#include "policy/validate.h"
#include "policy/write.h"

static const char base[] = "host:\n"
                           "  devices:\n"
                           "    vda: { rbps: 500MB, wbps: 300MB, riops: 20000, wiops: 10000 }\n"
                           "  interfaces:\n"
                           "    eth0: { egress: 1Gbit }\n"
                           "vms:\n"
                           "  web: { cpu: { reserve: 10%, limit: 50% } }\n"
                           "  db: { io: { vda: { wbps: { reserve: 50MB } } } }\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const HostFacts facts = {.cpus_ucpu = 4000000, .memory_bytes = 8ULL << 30};
        const char *vm, *key, *value;
        PolicyError err = {};
        Policy p, back;
        ResolvedPolicy rp;
        PolicyKey k;
        char *s, *written, got[256];
        int r;

        if (size > 1024)
                return -1;
        s = fuzz_string(data, size);
        if (!s)
                return 0;
        vm = s;
        key = memchr(s, '\0', size) ? s + strlen(s) + 1 : NULL;
        if (!key || key > s + size) {
                free(s);
                return 0;
        }
        value = key + strlen(key) + 1;
        if (value > s + size) {
                free(s);
                return 0;
        }

        policy_init(&p);
        fuzz_assert(policy_parse_string(base, sizeof(base) - 1, "base.yaml", &p, &err) == 0, "%s", err.message);

        r = policy_key_parse(vm, key, &k, &err);
        if (r >= 0) {
                char name[128];
                policy_key_format(&k, name, sizeof(name));
        }

        r = policy_set_key(&p, vm, key, value, "50-schedctl.yaml", &err);
        if (r < 0) {
                fuzz_assert(err.message[0], "set error %d without a message", r);
        } else {
                fuzz_assert(policy_key_parse(vm, key, &k, &err) == 0, "set a key that does not parse");
                r = policy_get_key(&p, vm, &k, got, sizeof(got));
                fuzz_assert(r == 0 || r == -ENOBUFS, "get after set: %d", r);

                if (policy_validate(&p, &facts, &rp, &err) >= 0)
                        resolved_policy_done(&rp);

                fuzz_assert(policy_write_string(&p, &written) == 0, "write");
                policy_init(&back);
                r = policy_parse_string(written, strlen(written), "w.yaml", &back, &err);
                fuzz_assert(r == 0, "written text does not parse: %s\n%s", err.message, written);
                fuzz_assert(policy_equal(&p, &back), "read back differs\n%s", written);
                policy_done(&back);
                free(written);

                fuzz_assert(policy_unset_key(&p, vm, &k) >= 0, "unset");
        }

        policy_done(&p);
        free(s);
        return 0;
}
