/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * egress.c: bad input without privileges; the rest, which loads the program
 * into the kernel, as root only, in a network namespace of the test's own
 * (criterion runs each test in a process of its own) on its loopback
 * interface, with a cgroup of its own under the cgroup2 mount.  Without root,
 * a writable cgroup2 mount or BPF, those tests skip.
 *
 * Packets are counted exactly: a UDP datagram of N bytes on loopback is
 * N + 42 bytes as the program sees it (Ethernet, IPv4 and UDP headers).
 * Rates are chosen so that no test depends on the clock: 1 byte per second
 * admits one packet and then nothing for minutes.
 */

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <net/if.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "schedd/egress.h"

/* Payload of the test's datagrams, and what the program counts for each. */
#define PAYLOAD 100
#define WIRE    (PAYLOAD + 42)

Test(egress, bad_input) {
        const char *lo[] = {"lo"};
        const char *twice[] = {"lo", "lo"};
        const char *empty[] = {""};
        const char *null[] = {NULL};
        const char *long_name[] = {"a-name-longer-than-ifnamsiz"};
        const char *missing[] = {"schedd-nosuch0"};
        Egress *e = (Egress *)0x1;

        cr_assert_eq(egress_open(NULL, lo, 1, EGRESS_MODE_DROP), -EINVAL);
        cr_assert_eq(egress_open(&e, NULL, 1, EGRESS_MODE_DROP), -EINVAL);
        cr_assert_eq(egress_open(&e, lo, 1, _EGRESS_MODE_MAX), -EINVAL);
        cr_assert_eq(egress_open(&e, lo, 1, (EgressMode)-1), -EINVAL);
        cr_assert_eq(egress_open(&e, twice, 2, EGRESS_MODE_DROP), -EINVAL);
        cr_assert_eq(egress_open(&e, empty, 1, EGRESS_MODE_DROP), -EINVAL);
        cr_assert_eq(egress_open(&e, null, 1, EGRESS_MODE_DROP), -EINVAL);
        cr_assert_eq(egress_open(&e, long_name, 1, EGRESS_MODE_DROP), -EINVAL);
        cr_assert_eq(egress_open(&e, missing, 1, EGRESS_MODE_DROP), -ENODEV);
        cr_assert_eq(e, (Egress *)0x1, "ret untouched on failure");

        cr_assert_null(egress_close(NULL));
        cr_assert_eq(egress_set_vm(NULL, 0, 0, 1, 1), -EINVAL);
        cr_assert_eq(egress_set_tap(NULL, "lo", 0), -EINVAL);
        cr_assert_eq(egress_remove_vm(NULL, 0), -EINVAL);
        cr_assert_eq(egress_read(NULL, 0, &(EgressCounters){0}), -EINVAL);
        cr_assert_eq(egress_prog_stats(NULL, &(EgressProgStats){0}), -EINVAL);
}

/* ---- as root, in a namespace of our own ---- */

static char cgroup_dir[512];
static uint64_t cgroup_ino;

static bool find_cgroup2(char *buf, size_t size) {
        static const char *const candidates[] = {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"};

        for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
                struct statfs sfs;
                if (statfs(candidates[i], &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC &&
                    access(candidates[i], W_OK) == 0) {
                        snprintf(buf, size, "%s", candidates[i]);
                        return true;
                }
        }
        return false;
}

static void join(const char *dir) {
        char path[600];
        snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        cr_assert_geq(fd, 0, "%s: %m", path);
        cr_assert_eq(write(fd, "0\n", 2), 2, "%s: %m", path);
        close(fd);
}

/* A network namespace with loopback up, and a cgroup of our own (not yet
 * joined).  Skips where that cannot be had. */
static void kernel_setup(void) {
        char base[256];
        struct stat st;

        if (geteuid() != 0)
                cr_skip_test("needs root");
        if (!find_cgroup2(base, sizeof(base)))
                cr_skip_test("needs a writable cgroup v2 mount");
        if (unshare(CLONE_NEWNET) < 0)
                cr_skip_test("cannot make a network namespace: %m");

        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr = {.ifr_flags = IFF_UP};
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
        cr_assert_eq(ioctl(fd, SIOCSIFFLAGS, &ifr), 0, "%m");
        close(fd);

        snprintf(cgroup_dir, sizeof(cgroup_dir), "%s/schedd-test-egress-%d", base, (int)getpid());
        cr_assert_eq(mkdir(cgroup_dir, 0755), 0, "%s: %m", cgroup_dir);
        cr_assert_eq(stat(cgroup_dir, &st), 0);
        cgroup_ino = st.st_ino; /* the cgroup id */
}

static void kernel_teardown(void) {
        char parent[512], nested[600];
        if (cgroup_dir[0] == '\0')
                return;
        snprintf(parent, sizeof(parent), "%s", cgroup_dir);
        *strrchr(parent, '/') = '\0';
        join(parent);
        /* Also after a failed test, which may leave its nested cgroup. */
        snprintf(nested, sizeof(nested), "%s/inner", cgroup_dir);
        (void)rmdir(nested);
        (void)rmdir(cgroup_dir);
}

static Egress *open_lo(EgressMode mode) {
        const char *lo[] = {"lo"};
        Egress *e = NULL;
        int r = egress_open(&e, lo, 1, mode);
        if (r == -EPERM || r == -ENOSYS)
                cr_skip_test("cannot load BPF programs here: %s", strerror(-r));
        cr_assert_eq(r, 0, "egress_open: %s", strerror(-r));
        return e;
}

/* Sends n datagrams from a socket made in cgroup dir (NULL: where we are)
 * to a socket that receives them (else each would bring back an ICMP error,
 * which the host sends). */
static void send_udp(const char *dir, int n) {
        char buf[PAYLOAD] = {0};
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(sa);

        int rfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        cr_assert_geq(rfd, 0);
        cr_assert_eq(bind(rfd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%m");
        cr_assert_eq(getsockname(rfd, (struct sockaddr *)&sa, &len), 0);

        if (dir)
                join(dir);
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        cr_assert_geq(fd, 0);
        for (int i = 0; i < n; i++)
                (void)sendto(fd, buf, sizeof(buf), 0, (struct sockaddr *)&sa, sizeof(sa));
        close(fd);
        close(rfd);
}

static EgressCounters counters(Egress *e, uint32_t vm) {
        EgressCounters c;
        cr_assert_eq(egress_read(e, vm, &c), 0);
        return c;
}

TestSuite(egress_kernel, .init = kernel_setup, .fini = kernel_teardown);

Test(egress_kernel, bad_slots) {
        Egress *e = open_lo(EGRESS_MODE_DROP);
        EgressCounters c;

        cr_assert_eq(egress_set_vm(e, EGRESS_HOST + 1, 0, 1, 1), -EINVAL);
        cr_assert_eq(egress_set_vm(e, UINT32_MAX, 0, 1, 1), -EINVAL);
        cr_assert_eq(egress_set_vm(e, EGRESS_HOST, cgroup_ino, 1, 1), -EINVAL, "the host has no cgroup");
        cr_assert_eq(egress_read(e, 0, &c), -ENOENT);
        cr_assert_eq(egress_read(e, EGRESS_HOST + 1, &c), -EINVAL);
        cr_assert_eq(egress_read(e, 0, NULL), -EINVAL);
        cr_assert_eq(egress_remove_vm(e, 0), -ENOENT);
        cr_assert_eq(egress_remove_vm(e, EGRESS_HOST + 1), -EINVAL);
        cr_assert_eq(egress_set_tap(e, "lo", 0), -ENOENT, "no such VM yet");

        /* The lowest and highest slots; a cgroup only once. */
        cr_assert_eq(egress_set_vm(e, 0, cgroup_ino, 1000, 0), 0);
        cr_assert_eq(egress_set_vm(e, EGRESS_MAX_VMS - 1, 0, EGRESS_RATE_UNLIMITED, 0), 0);
        cr_assert_eq(egress_set_vm(e, 1, cgroup_ino, 1000, 0), -EEXIST);
        cr_assert_eq(egress_set_vm(e, 0, cgroup_ino, 2000, UINT64_MAX), 0, "the same VM may change");
        cr_assert_eq(egress_set_tap(e, "schedd-nosuch0", 0), -ENODEV);
        cr_assert_eq(egress_set_tap(e, "lo", EGRESS_MAX_VMS), -EINVAL, "the host has no tap");
        cr_assert_eq(egress_set_tap(e, "", 0), -EINVAL);

        cr_assert_eq(egress_read(e, EGRESS_HOST, &c), 0, "the host is always there");
        cr_assert_eq(egress_remove_vm(e, 0), 0);
        cr_assert_eq(egress_remove_vm(e, 0), -ENOENT);
        cr_assert_eq(egress_remove_vm(e, EGRESS_HOST), 0);
        egress_close(e);
}

Test(egress_kernel, counts_vm_nested_and_host) {
        char nested[600];
        Egress *e = open_lo(EGRESS_MODE_DROP);

        snprintf(nested, sizeof(nested), "%s/inner", cgroup_dir);
        cr_assert_eq(mkdir(nested, 0755), 0, "%m");
        cr_assert_eq(egress_set_vm(e, 3, cgroup_ino, EGRESS_RATE_UNLIMITED, 0), 0);

        send_udp(nested, 5);
        EgressCounters c = counters(e, 3);
        cr_assert_eq(c.packets, 5, "a nested cgroup counts for its VM");
        cr_assert_eq(c.bytes, 5 * WIRE);
        cr_assert_eq(c.dropped, 0);

        send_udp(cgroup_dir, 2);
        cr_assert_eq(counters(e, 3).packets, 7);

        /* Not in any VM: the host's. */
        char parent[512];
        snprintf(parent, sizeof(parent), "%s", cgroup_dir);
        *strrchr(parent, '/') = '\0';
        uint64_t host_before = counters(e, EGRESS_HOST).packets;
        send_udp(parent, 4);
        cr_assert_eq(counters(e, EGRESS_HOST).packets, host_before + 4);
        cr_assert_eq(counters(e, 3).packets, 7);

        join(parent);
        cr_assert_eq(rmdir(nested), 0, "%m");
        egress_close(e);
}

Test(egress_kernel, rate_zero_drops_everything) {
        Egress *e = open_lo(EGRESS_MODE_DROP);

        cr_assert_eq(egress_set_vm(e, 0, cgroup_ino, 0, 1 << 20), 0);
        send_udp(cgroup_dir, 6);
        EgressCounters c = counters(e, 0);
        cr_assert_eq(c.packets, 0);
        cr_assert_eq(c.bytes, 0);
        cr_assert_eq(c.dropped, 6);
        egress_close(e);
}

Test(egress_kernel, one_byte_per_second_admits_one_packet) {
        Egress *e = open_lo(EGRESS_MODE_DROP);

        /* An empty bucket of no burst: the first packet finds it not in
         * debt and passes, and puts it WIRE seconds into debt. */
        cr_assert_eq(egress_set_vm(e, 0, cgroup_ino, 1, 0), 0);
        send_udp(cgroup_dir, 10);
        EgressCounters c = counters(e, 0);
        cr_assert_eq(c.packets, 1);
        cr_assert_eq(c.bytes, WIRE);
        cr_assert_eq(c.dropped, 9);
        egress_close(e);
}

Test(egress_kernel, burst_admits_its_bytes) {
        Egress *e = open_lo(EGRESS_MODE_DROP);

        /* 1 byte/s with a burst of 10 packets: the bucket starts full, ten
         * pass, the eleventh starts the debt, and the rest wait for days. */
        cr_assert_eq(egress_set_vm(e, 0, cgroup_ino, 1, 10 * WIRE), 0);
        send_udp(cgroup_dir, 20);
        EgressCounters c = counters(e, 0);
        cr_assert_eq(c.packets, 11);
        cr_assert_eq(c.dropped, 9);

        /* A new rate keeps the bucket's state: still in debt. */
        cr_assert_eq(egress_set_vm(e, 0, cgroup_ino, 2, 10 * WIRE), 0);
        send_udp(cgroup_dir, 3);
        c = counters(e, 0);
        cr_assert_eq(c.packets, 11);
        cr_assert_eq(c.dropped, 12);

        /* Unlimited: everything passes again. */
        cr_assert_eq(egress_set_vm(e, 0, cgroup_ino, EGRESS_RATE_UNLIMITED, 0), 0);
        send_udp(cgroup_dir, 3);
        cr_assert_eq(counters(e, 0).packets, 14);
        egress_close(e);
}

Test(egress_kernel, reused_slot_starts_afresh) {
        Egress *e = open_lo(EGRESS_MODE_DROP);

        cr_assert_eq(egress_set_vm(e, 7, cgroup_ino, EGRESS_RATE_UNLIMITED, 0), 0);
        send_udp(cgroup_dir, 3);
        cr_assert_eq(counters(e, 7).packets, 3);
        cr_assert_eq(egress_remove_vm(e, 7), 0);

        /* Removed: its cgroup's traffic is the host's. */
        uint64_t host_before = counters(e, EGRESS_HOST).packets;
        send_udp(cgroup_dir, 2);
        cr_assert_eq(counters(e, EGRESS_HOST).packets, host_before + 2);

        cr_assert_eq(egress_set_vm(e, 7, cgroup_ino, EGRESS_RATE_UNLIMITED, 0), 0);
        cr_assert_eq(counters(e, 7).packets, 0, "counters start at zero");
        send_udp(cgroup_dir, 1);
        cr_assert_eq(counters(e, 7).packets, 1, "the cached classification was redone");
        egress_close(e);
}

Test(egress_kernel, reused_slot_bucket_starts_full) {
        Egress *e = open_lo(EGRESS_MODE_DROP);

        /* 1 byte/s: one packet passes and puts the timeline days into debt. */
        cr_assert_eq(egress_set_vm(e, 3, cgroup_ino, 1, 0), 0);
        send_udp(cgroup_dir, 2);
        cr_assert_eq(counters(e, 3).packets, 1);
        cr_assert_eq(counters(e, 3).dropped, 1);

        /* Settings written again leave the timeline alone... */
        cr_assert_eq(egress_set_vm(e, 3, cgroup_ino, 1, 10 * WIRE), 0);
        send_udp(cgroup_dir, 1);
        cr_assert_eq(counters(e, 3).dropped, 2, "still in debt after new settings");

        /* ...and a slot used anew starts with its bucket full. */
        cr_assert_eq(egress_remove_vm(e, 3), 0);
        cr_assert_eq(egress_set_vm(e, 3, cgroup_ino, 1, 2 * WIRE), 0);
        send_udp(cgroup_dir, 4);
        EgressCounters c = counters(e, 3);
        cr_assert_eq(c.packets, 3, "a full bucket of two packets, and one into debt");
        cr_assert_eq(c.dropped, 1);
        egress_close(e);
}

Test(egress_kernel, host_rate) {
        Egress *e = open_lo(EGRESS_MODE_DROP);

        /* No VM at all: everything is the host's, and the host can be
         * limited like a VM. */
        cr_assert_eq(egress_set_vm(e, EGRESS_HOST, 0, 0, 0), 0);
        send_udp(NULL, 4);
        EgressCounters c = counters(e, EGRESS_HOST);
        cr_assert_geq(c.dropped, 4);
        cr_assert_eq(egress_remove_vm(e, EGRESS_HOST), 0, "unlimited again");
        uint64_t before = counters(e, EGRESS_HOST).packets;
        send_udp(NULL, 4);
        cr_assert_eq(counters(e, EGRESS_HOST).packets, before + 4);
        egress_close(e);
}

Test(egress_kernel, pace_or_a_reason) {
        Egress *e = open_lo(EGRESS_MODE_PACE);

        /* With fq in the kernel, pacing; without, dropping and why. */
        if (egress_mode(e) == EGRESS_MODE_PACE)
                cr_assert_null(egress_degraded(e));
        else {
                cr_assert_eq(egress_mode(e), EGRESS_MODE_DROP);
                cr_assert_not_null(egress_degraded(e));
        }
        cr_assert_eq(egress_set_vm(e, 0, cgroup_ino, EGRESS_RATE_UNLIMITED, 0), 0);
        send_udp(cgroup_dir, 2);
        cr_assert_eq(counters(e, 0).packets, 2);

        EgressProgStats ps;
        cr_assert_eq(egress_prog_stats(e, &ps), 0);
        egress_close(e);
}

/* ---- ECN ---- */

/* Datagrams of ECN_PAYLOAD bytes, ECN_WIRE as the program counts them; at
 * ECN_RATE each costs 1 ms, and a bucket of ECN_BURST_PACKETS is about what a
 * flow may send before it counts as heavy (16 KiB, EGRESS_LIGHT_BURST_BYTES). */
#define ECN_PAYLOAD       1400
#define ECN_WIRE          (ECN_PAYLOAD + 42)
#define ECN_RATE          (ECN_WIRE * 1000ULL)
#define ECN_BURST_PACKETS 11
#define ECN_SENT          80
/* The ECN field of the IP header (RFC 3168). */
#define TOS_ECT0 0x02
#define TOS_CE   0x03

/* Sends ECN_SENT datagrams with TOS `tos` from cgroup dir; returns how many
 * arrived marked CE (the receiver reads each one's TOS). */
static int send_udp_tos(const char *dir, int tos) {
        static char buf[ECN_PAYLOAD];
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(sa);
        int one = 1, ce = 0;

        int rfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        cr_assert_geq(rfd, 0);
        cr_assert_eq(setsockopt(rfd, IPPROTO_IP, IP_RECVTOS, &one, sizeof(one)), 0, "%m");
        cr_assert_eq(bind(rfd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%m");
        cr_assert_eq(getsockname(rfd, (struct sockaddr *)&sa, &len), 0);

        join(dir);
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        cr_assert_geq(fd, 0);
        cr_assert_eq(setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos)), 0, "%m");
        for (int i = 0; i < ECN_SENT; i++)
                (void)sendto(fd, buf, sizeof(buf), 0, (struct sockaddr *)&sa, sizeof(sa));
        close(fd);

        for (;;) {
                char cbuf[CMSG_SPACE(sizeof(int))];
                struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
                struct msghdr mh = {
                        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
                if (recvmsg(rfd, &mh, MSG_DONTWAIT) < 0)
                        break;
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS &&
                            (*(unsigned char *)CMSG_DATA(c) & TOS_CE) == TOS_CE)
                                ce++;
        }
        close(rfd);
        return ce;
}

/* Dropping: a flow that has spent its light allowance and finds its VM in
 * debt is dropped; marked CE and admitted instead if it is ECN-capable, up
 * to a debt of one 64 KiB packet at the rate, at most 20 ms (here 20 ms: 20
 * packets), and dropped beyond.  (The datagrams go out within a millisecond or so; a
 * machine that stalls the sender for longer only makes fewer of them meet a
 * debt, and each check still holds for any that do.) */
Test(egress_kernel, ecn_capable_flows_are_marked_not_dropped) {
        Egress *e = open_lo(EGRESS_MODE_DROP);

        cr_assert_eq(egress_set_vm(e, 0, cgroup_ino, ECN_RATE, ECN_BURST_PACKETS * ECN_WIRE), 0);
        int ce = send_udp_tos(cgroup_dir, TOS_ECT0);
        EgressCounters c = counters(e, 0);
        cr_assert_gt(c.marked, 0, "an ECN-capable flow in debt is marked (%" PRIu64 " admitted, %" PRIu64 " dropped)",
                     c.packets, c.dropped);
        cr_assert_leq(c.marked, 21, "marked only within 20 ms of debt: %" PRIu64, c.marked);
        cr_assert_gt(c.dropped, 0, "beyond it, dropped");
        cr_assert_eq(c.packets + c.dropped, ECN_SENT);
        cr_assert_eq((uint64_t)ce, c.marked, "each marked datagram arrives with CE");
        egress_close(e);
}

Test(egress_kernel, flows_without_ecn_are_dropped_unmarked) {
        Egress *e = open_lo(EGRESS_MODE_DROP);

        cr_assert_eq(egress_set_vm(e, 0, cgroup_ino, ECN_RATE, ECN_BURST_PACKETS * ECN_WIRE), 0);
        int ce = send_udp_tos(cgroup_dir, 0);
        EgressCounters c = counters(e, 0);
        cr_assert_eq(c.marked, 0);
        cr_assert_eq(ce, 0);
        cr_assert_gt(c.dropped, 0);
        cr_assert_leq(c.packets, ECN_BURST_PACKETS + 2,
                      "no more than the bucket and what came back meanwhile: %" PRIu64, c.packets);
        cr_assert_eq(c.packets + c.dropped, ECN_SENT);
        egress_close(e);
}
