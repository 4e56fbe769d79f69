/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The override file (50-schedctl.yaml), as the daemon reads it at start:
 * read through override_read() from a memory file, pruned, and written back
 * with the writer the daemon rewrites it with; that text must read back to
 * an equal policy.
 */

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "policy/parse.h"
#include "policy/write.h"
#include "schedd/override.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        PolicyError err = {};
        Policy p, back;
        char path[64], *written;
        int fd, r;

        if (size > FUZZ_INPUT_MAX)
                return -1;
        fd = memfd_create("override", MFD_CLOEXEC);
        if (fd < 0)
                return 0;
        if (write(fd, data, size) != (ssize_t)size) {
                close(fd);
                return 0;
        }
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

        policy_init(&p);
        r = override_read(path, &p, &err);
        close(fd);
        if (r < 0) {
                fuzz_assert(err.message[0], "error %d without a message", r);
                policy_done(&p);
                return 0;
        }

        override_prune(&p);
        fuzz_assert(policy_write_string(&p, &written) == 0, "write");
        policy_init(&back);
        r = policy_parse_string(written, strlen(written), "w.yaml", &back, &err);
        fuzz_assert(r == 0, "written override does not parse: %s\n%s", err.message, written);
        fuzz_assert(policy_equal(&p, &back), "read back differs\n%s", written);
        policy_done(&back);
        free(written);
        policy_done(&p);
        return 0;
}
