/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The loader of bpf/egress.bpf.c: the only file that includes its skeleton.
 * See egress.h for what it promises.  Root qdiscs are set over rtnetlink
 * directly (libbpf's tc API handles only clsact and filters).
 */

#include <errno.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "egress.h"
#include "fileio.h"

#include "egress.skel.h"

#define NSEC_PER_SEC 1000000000ULL

/* A bucket's burst as time is capped here (about 146 years): the program
 * subtracts it from its clock, which runs this far ahead of the real one. */
#define EGRESS_BURST_NSEC_MAX EGRESS_CLOCK_OFFSET_NSEC

/* The handle and priority of our tc filters ("schedd" in hex speak, and a
 * priority before the usual 49152 that tc picks, so that the rate applies
 * before other filters see the packet). */
#define EGRESS_TC_HANDLE   0x5cedU
#define EGRESS_TC_PRIORITY 0x100U

/* One netlink reply of ours carries one qdisc (a few hundred bytes) or an
 * error with the request echoed: a page is plenty. */
#define RTNL_BUFFER_SIZE 8192
/* Replies we read before giving up on the one we wait for: the socket is
 * ours alone, so anything beyond a handful is a kernel we do not understand. */
#define RTNL_MAX_REPLIES 16

/* The kernel answers a request of ours at once; a second without an answer
 * means one will not come (and the daemon must not hang on it). */
static const struct timeval RTNL_TIMEOUT = {.tv_sec = 1};

typedef struct EgressLink {
        int ifindex;
        char name[IF_NAMESIZE];
        enum bpf_tc_attach_point point; /* BPF_TC_EGRESS: uplink; BPF_TC_INGRESS: tap */
        uint32_t vm;                    /* a tap's VM; EGRESS_HOST for an uplink */
        bool hook_created;              /* we created its clsact qdisc */
        bool attached;
        uint32_t filter_handle;
        uint32_t filter_priority;
        bool fq_installed; /* we installed fq as its root qdisc */
        uint32_t fq_handle;
} EgressLink;

typedef struct EgressVmSlot {
        bool used;
        uint64_t cgroup_id;
        EgressVmConfig config; /* as last written to the map */
} EgressVmSlot;

struct Egress {
        struct egress_bpf *skel;
        EgressMode mode;
        char *degraded;
        EgressLink *links;
        size_t n_links;
        int n_cpus;
        EgressStats *percpu; /* n_cpus entries, for reading and resetting counters */
        EgressVm *entries;   /* the program's vm_config map, memory-mapped (EGRESS_SLOTS entries) */
        size_t entries_size; /* bytes mapped */
        EgressVmSlot vms[EGRESS_SLOTS];
};

/* One entry per cache line, as the program expects. */
_Static_assert(sizeof(EgressVm) == 64, "EgressVm is one cache line");

/* ---- rtnetlink: the root qdisc ---- */

typedef struct QdiscInfo {
        char kind[IFNAMSIZ];
        uint32_t handle;
} QdiscInfo;

typedef struct RtnlRequest {
        struct nlmsghdr nh;
        struct tcmsg tc;
        char attrs[64];
} RtnlRequest;

static void rtnl_request_init(RtnlRequest *req, uint16_t type, uint16_t flags, int ifindex, uint32_t handle) {
        memset(req, 0, sizeof(*req));
        req->nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg));
        req->nh.nlmsg_type = type;
        req->nh.nlmsg_flags = NLM_F_REQUEST | flags;
        req->nh.nlmsg_seq = 1;
        req->tc.tcm_family = AF_UNSPEC;
        req->tc.tcm_ifindex = ifindex;
        req->tc.tcm_parent = TC_H_ROOT;
        req->tc.tcm_handle = handle;
}

static void rtnl_add_string(RtnlRequest *req, unsigned short type, const char *s) {
        struct rtattr *a = (struct rtattr *)((char *)req + NLMSG_ALIGN(req->nh.nlmsg_len));
        size_t n = strlen(s) + 1;

        a->rta_type = type;
        a->rta_len = RTA_LENGTH(n);
        memcpy(RTA_DATA(a), s, n);
        req->nh.nlmsg_len = NLMSG_ALIGN(req->nh.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* Sends req and waits for its answer: the error of an acknowledged request,
 * or the qdisc a RTM_GETQDISC asked for (into *ret_info). */
static int rtnl_talk(RtnlRequest *req, QdiscInfo *ret_info) {
        struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;

        fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0)
                return -errno;
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &RTNL_TIMEOUT, sizeof(RTNL_TIMEOUT)) < 0)
                return -errno;
        if (sendto(fd, req, req->nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -errno;
        buf = malloc(RTNL_BUFFER_SIZE);
        if (!buf)
                return -ENOMEM;

        for (int i = 0; i < RTNL_MAX_REPLIES; i++) {
                ssize_t n = recv(fd, buf, RTNL_BUFFER_SIZE, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == EAGAIN ? -ETIMEDOUT : -errno;
                }
                for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
                        if (h->nlmsg_seq != req->nh.nlmsg_seq)
                                continue;
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *err = NLMSG_DATA(h);
                                if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*err)))
                                        return -EBADMSG;
                                return err->error; /* 0 (an acknowledgement) or -errno */
                        }
                        if (h->nlmsg_type != RTM_NEWQDISC || !ret_info)
                                continue;
                        const struct tcmsg *tc = NLMSG_DATA(h);
                        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*tc)))
                                return -EBADMSG;
                        QdiscInfo info = {.handle = tc->tcm_handle};
                        int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*tc));
                        for (struct rtattr *a = TCA_RTA(tc); RTA_OK(a, len); a = RTA_NEXT(a, len))
                                if (a->rta_type == TCA_KIND)
                                        snprintf(info.kind, sizeof(info.kind), "%.*s", (int)RTA_PAYLOAD(a),
                                                 (const char *)RTA_DATA(a));
                        *ret_info = info;
                        return 0;
                }
        }
        return -EPROTO;
}

static int qdisc_root_get(int ifindex, QdiscInfo *ret) {
        RtnlRequest req;

        /* The kernel unicasts the qdisc back only when asked to echo. */
        rtnl_request_init(&req, RTM_GETQDISC, NLM_F_ECHO | NLM_F_ACK, ifindex, 0);
        return rtnl_talk(&req, ret);
}

/* Makes fq the root qdisc of ifindex unless it is already.  Replaces only the
 * kernel's default root qdisc (handle 0), never one an administrator set
 * (-EBUSY).  -EOPNOTSUPP when the kernel has no fq. */
static int fq_ensure(int ifindex, bool *ret_installed, uint32_t *ret_handle, QdiscInfo *ret_found) {
        QdiscInfo q;
        RtnlRequest req;
        int r;

        r = qdisc_root_get(ifindex, &q);
        if (r < 0)
                return r;
        *ret_found = q;
        if (strcmp(q.kind, "fq") == 0) {
                *ret_installed = false;
                *ret_handle = q.handle;
                return 0;
        }
        if (q.handle != 0)
                return -EBUSY;

        /* With EXCL the kernel replaces only a default root qdisc: one an
         * administrator added in the meantime makes this fail. */
        rtnl_request_init(&req, RTM_NEWQDISC, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, ifindex, 0);
        rtnl_add_string(&req, TCA_KIND, "fq");
        r = rtnl_talk(&req, NULL);
        if (r == -ENOENT)
                return -EOPNOTSUPP; /* "unknown qdisc kind" */
        if (r == -EEXIST)
                return -EBUSY;
        if (r < 0)
                return r;

        r = qdisc_root_get(ifindex, &q);
        if (r < 0)
                return r;
        if (strcmp(q.kind, "fq") != 0)
                return -EIO;
        *ret_installed = true;
        *ret_handle = q.handle;
        return 0;
}

/* Removes the fq we installed if it is still the root qdisc. */
static int fq_remove(int ifindex, uint32_t handle) {
        QdiscInfo q;
        RtnlRequest req;
        int r;

        r = qdisc_root_get(ifindex, &q);
        if (r < 0)
                return r;
        if (strcmp(q.kind, "fq") != 0 || q.handle != handle)
                return 0;
        rtnl_request_init(&req, RTM_DELQDISC, NLM_F_ACK, ifindex, handle);
        return rtnl_talk(&req, NULL);
}

/* ---- links: our filter on one hook of one interface ---- */

static EgressLink *link_find(Egress *e, int ifindex, enum bpf_tc_attach_point point) {
        for (size_t i = 0; i < e->n_links; i++)
                if (e->links[i].ifindex == ifindex && e->links[i].point == point)
                        return &e->links[i];
        return NULL;
}

static int link_add(Egress *e, const char *name, int ifindex, enum bpf_tc_attach_point point, uint32_t vm,
                    EgressLink **ret) {
        EgressLink *links = reallocarray(e->links, e->n_links + 1, sizeof(*links));
        if (!links)
                return -ENOMEM;
        e->links = links;
        EgressLink *l = &links[e->n_links++];
        *l = (EgressLink){.ifindex = ifindex, .point = point, .vm = vm};
        snprintf(l->name, sizeof(l->name), "%s", name);
        *ret = l;
        return 0;
}

static int link_attach(Egress *e, EgressLink *l) {
        LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = l->ifindex, .attach_point = l->point);
        struct bpf_program *prog =
                l->point == BPF_TC_INGRESS ? e->skel->progs.egress_tap : e->skel->progs.egress_uplink;
        /* Our own handle and priority: a filter a killed instance left
         * behind is replaced, not run beside ours. */
        LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = bpf_program__fd(prog), .handle = EGRESS_TC_HANDLE,
                    .priority = EGRESS_TC_PRIORITY, .flags = BPF_TC_F_REPLACE);
        int r;

        r = bpf_tc_hook_create(&hook);
        if (r < 0 && r != -EEXIST)
                return r;
        l->hook_created = r == 0;

        r = bpf_tc_attach(&hook, &opts);
        if (r < 0)
                return r;
        l->attached = true;
        l->filter_handle = opts.handle;
        l->filter_priority = opts.priority;
        return 0;
}

/* Undoes what link_attach() and fq_ensure() did for links[i] and drops it.
 * Errors are ignored: the interface may be gone (a tap whose VM ended), and
 * the rest must still be released. */
static void link_release(Egress *e, size_t i) {
        EgressLink *l = &e->links[i];
        LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = l->ifindex, .attach_point = l->point);

        if (l->attached) {
                LIBBPF_OPTS(bpf_tc_opts, opts, .handle = l->filter_handle, .priority = l->filter_priority);
                (void)bpf_tc_detach(&hook, &opts);
        }
        if (l->hook_created) {
                /* Another link of ours on the same interface (a tap that is
                 * also an uplink) still needs the clsact: it inherits it. */
                EgressLink *other = NULL;
                for (size_t j = 0; j < e->n_links; j++)
                        if (j != i && e->links[j].ifindex == l->ifindex)
                                other = &e->links[j];
                if (other)
                        other->hook_created = true;
                else {
                        hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
                        (void)bpf_tc_hook_destroy(&hook);
                }
        }
        if (l->fq_installed)
                (void)fq_remove(l->ifindex, l->fq_handle);

        memmove(l, l + 1, (e->n_links - i - 1) * sizeof(*l));
        e->n_links--;
}

/* ---- maps ---- */

static int map_fd(struct bpf_map *m) {
        return bpf_map__fd(m);
}

static uint64_t nsec_at_rate(uint64_t bytes, uint64_t rate_bytes_per_sec) {
        unsigned __int128 t = (unsigned __int128)bytes * NSEC_PER_SEC / rate_bytes_per_sec;
        return t > EGRESS_BURST_NSEC_MAX ? EGRESS_BURST_NSEC_MAX : (uint64_t)t;
}

static uint64_t max3_u64(uint64_t a, uint64_t b, uint64_t c) {
        uint64_t m = a > b ? a : b;
        return m > c ? m : c;
}

static EgressVmConfig vm_config_for(EgressMode mode, uint64_t rate_bytes_per_sec, uint64_t burst_bytes) {
        EgressVmConfig c = {0};

        if (rate_bytes_per_sec == EGRESS_RATE_UNLIMITED)
                return c;
        c.flags = EGRESS_VM_LIMITED;
        c.rate_bytes_per_sec = rate_bytes_per_sec;
        if (rate_bytes_per_sec == 0)
                return c;
        unsigned __int128 q = ((unsigned __int128)NSEC_PER_SEC << 20) / rate_bytes_per_sec;
        c.nsec_per_byte_q20 = q < EGRESS_Q20_MAX ? (uint64_t)q : 0;
        c.burst_nsec = nsec_at_rate(burst_bytes, rate_bytes_per_sec);
        /* A flow's own rate is the VM's divided by 2^EGRESS_LIGHT_SHIFT (8). */
        c.light_burst_nsec = nsec_at_rate(EGRESS_LIGHT_BURST_BYTES * 8, rate_bytes_per_sec);
        if (mode == EGRESS_MODE_PACE) {
                uint64_t h = max3_u64(EGRESS_HORIZON_MIN_NSEC, c.burst_nsec,
                                      nsec_at_rate(2 * EGRESS_GSO_MAX_BYTES, rate_bytes_per_sec));
                c.horizon_nsec = h < EGRESS_HORIZON_MAX_NSEC ? h : EGRESS_HORIZON_MAX_NSEC;
        }
        /* Light packets pass while the bulk flows are held at the horizon,
         * and behind the biggest packet a bulk flow may have just sent (but
         * not by more than the longest horizon: at a rate so low that one
         * packet takes longer, they wait like the rest). */
        uint64_t extra = nsec_at_rate(EGRESS_GSO_MAX_BYTES, rate_bytes_per_sec);
        if (extra < EGRESS_LIGHT_DEBT_NSEC)
                extra = EGRESS_LIGHT_DEBT_NSEC;
        if (extra > EGRESS_HORIZON_MAX_NSEC)
                extra = EGRESS_HORIZON_MAX_NSEC;
        /* ECN-capable flows (bpf/egress.h).  Pacing marks above 1 ms of
         * delay.  Dropping marks instead of dropping while the debt is
         * within `extra` too: a bulk flow's packet (up to a GSO packet)
         * costs up to that, and an allowance smaller than one packet would
         * drop the next one whatever its mark.  Light packets may then go a
         * further `extra` into debt, beyond what a marked packet may have
         * left, so that they still pass beside a bulk flow that takes it. */
        if (mode == EGRESS_MODE_PACE) {
                c.ecn_nsec = (uint32_t)EGRESS_ECN_DELAY_NSEC;
                c.light_horizon_nsec = c.horizon_nsec + extra;
        } else {
                c.ecn_nsec = (uint32_t)extra;
                c.light_horizon_nsec = 2 * extra;
        }
        return c;
}

/* The slot's timeline back to a full bucket, its counters to zero.  The
 * slot is unused meanwhile: no packet is classified into it. */
static int vm_reset(Egress *e, uint32_t slot) {
        __atomic_store_n(&e->entries[slot].next_nsec, 0, __ATOMIC_RELAXED);
        memset(e->percpu, 0, e->n_cpus * sizeof(*e->percpu));
        return bpf_map_update_elem(map_fd(e->skel->maps.stats), &slot, e->percpu, BPF_ANY);
}

/* Writes the settings into the mapped entry field by field, never its
 * timeline.  A packet meanwhile may see old and new fields mixed (each is
 * valid alone: one packet is judged by a mix of two rates); the flag is
 * written last when limiting starts and first when it stops, so that no
 * packet sees a limit half set up. */
static int vm_write_config(Egress *e, uint32_t slot, const EgressVmConfig *c) {
        EgressVmConfig *to = &e->entries[slot].config;
        bool limiting = c->flags & EGRESS_VM_LIMITED;

        if (!limiting)
                __atomic_store_n(&to->flags, c->flags, __ATOMIC_RELEASE);
        __atomic_store_n(&to->rate_bytes_per_sec, c->rate_bytes_per_sec, __ATOMIC_RELAXED);
        __atomic_store_n(&to->nsec_per_byte_q20, c->nsec_per_byte_q20, __ATOMIC_RELAXED);
        __atomic_store_n(&to->burst_nsec, c->burst_nsec, __ATOMIC_RELAXED);
        __atomic_store_n(&to->light_burst_nsec, c->light_burst_nsec, __ATOMIC_RELAXED);
        __atomic_store_n(&to->horizon_nsec, c->horizon_nsec, __ATOMIC_RELAXED);
        __atomic_store_n(&to->light_horizon_nsec, c->light_horizon_nsec, __ATOMIC_RELAXED);
        __atomic_store_n(&to->ecn_nsec, c->ecn_nsec, __ATOMIC_RELAXED);
        if (limiting)
                __atomic_store_n(&to->flags, c->flags, __ATOMIC_RELEASE);
        e->vms[slot].config = *c;
        return 0;
}

/* Sockets classified before now are classified again. */
static void generation_bump(Egress *e) {
        e->skel->bss->generation++;
}

/* ---- the API ---- */

int egress_open(Egress **ret, const char *const *ifaces, size_t n, EgressMode mode) {
        _cleanup_(egress_closep) Egress *e = NULL;
        int r;

        if (!ret || (n > 0 && !ifaces) || (unsigned)mode >= _EGRESS_MODE_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (!ifaces[i] || ifaces[i][0] == '\0' || strlen(ifaces[i]) >= IF_NAMESIZE)
                        return -EINVAL;
                for (size_t j = 0; j < i; j++)
                        if (strcmp(ifaces[i], ifaces[j]) == 0)
                                return -EINVAL;
        }

        e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        e->mode = mode;
        r = libbpf_num_possible_cpus();
        if (r < 0)
                return r;
        e->n_cpus = r;
        e->percpu = calloc(e->n_cpus, sizeof(*e->percpu));
        if (!e->percpu)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                unsigned idx = if_nametoindex(ifaces[i]);
                if (idx == 0)
                        return errno == ENXIO ? -ENODEV : -errno;
                EgressLink *l;
                r = link_add(e, ifaces[i], (int)idx, BPF_TC_EGRESS, EGRESS_HOST, &l);
                if (r < 0)
                        return r;
        }

        /* Pacing needs fq on every interface; where it cannot be had, the
         * whole program drops instead (one behaviour for all interfaces). */
        for (size_t i = 0; e->mode == EGRESS_MODE_PACE && i < e->n_links; i++) {
                EgressLink *l = &e->links[i];
                QdiscInfo found = {0};
                r = fq_ensure(l->ifindex, &l->fq_installed, &l->fq_handle, &found);
                if (r >= 0)
                        continue;
                if (r == -EOPNOTSUPP)
                        r = asprintf(&e->degraded,
                                     "this kernel has no fq qdisc (CONFIG_NET_SCH_FQ), which pacing needs; "
                                     "dropping above the rate instead");
                else if (r == -EBUSY)
                        r = asprintf(&e->degraded,
                                     "%s has root qdisc %s %x:, set by an administrator, not fq; pacing needs fq; "
                                     "dropping above the rate instead",
                                     l->name, found.kind, found.handle >> 16);
                else
                        return r;
                if (r < 0)
                        return -ENOMEM;
                e->mode = EGRESS_MODE_DROP;
                for (size_t j = 0; j <= i; j++)
                        if (e->links[j].fq_installed) {
                                (void)fq_remove(e->links[j].ifindex, e->links[j].fq_handle);
                                e->links[j].fq_installed = false;
                        }
        }

        e->skel = egress_bpf__open();
        if (!e->skel)
                return -errno;
        e->skel->rodata->pace = e->mode == EGRESS_MODE_PACE;
        r = egress_bpf__load(e->skel);
        if (r < 0)
                return r;

        long page = sysconf(_SC_PAGESIZE);
        if (page <= 0)
                return -EINVAL;
        e->entries_size = ((size_t)EGRESS_SLOTS * sizeof(EgressVm) + (size_t)page - 1) / (size_t)page * (size_t)page;
        void *p = mmap(NULL, e->entries_size, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd(e->skel->maps.vm_config), 0);
        if (p == MAP_FAILED)
                return -errno;
        e->entries = p;

        e->vms[EGRESS_HOST].used = true;
        generation_bump(e);

        for (size_t i = 0; i < e->n_links; i++) {
                r = link_attach(e, &e->links[i]);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(e);
        return 0;
}

Egress *egress_close(Egress *e) {
        if (!e)
                return NULL;
        /* Last attached first, so a clsact shared by two of ours goes last. */
        while (e->n_links > 0)
                link_release(e, e->n_links - 1);
        if (e->entries)
                (void)munmap(e->entries, e->entries_size);
        egress_bpf__destroy(e->skel);
        free(e->links);
        free(e->percpu);
        free(e->degraded);
        free(e);
        return NULL;
}

EgressMode egress_mode(const Egress *e) {
        return e->mode;
}

const char *egress_degraded(const Egress *e) {
        return e->degraded;
}

int egress_set_vm(Egress *e, uint32_t vm_index, uint64_t cgroup_id, uint64_t rate_bytes_per_sec,
                  uint64_t burst_bytes) {
        int r;

        if (!e || vm_index > EGRESS_HOST || (vm_index == EGRESS_HOST && cgroup_id != 0))
                return -EINVAL;
        EgressVmSlot *v = &e->vms[vm_index];
        if (cgroup_id != 0 && cgroup_id != v->cgroup_id)
                for (uint32_t i = 0; i < EGRESS_MAX_VMS; i++)
                        if (e->vms[i].used && e->vms[i].cgroup_id == cgroup_id)
                                return -EEXIST;

        if (!v->used) {
                r = vm_reset(e, vm_index);
                if (r < 0)
                        return r;
        }

        EgressVmConfig c = vm_config_for(e->mode, rate_bytes_per_sec, burst_bytes);
        if (!v->used || memcmp(&c, &v->config, sizeof(c)) != 0) {
                r = vm_write_config(e, vm_index, &c);
                if (r < 0)
                        return r;
        }
        v->used = true;

        if (cgroup_id != v->cgroup_id) {
                int fd = map_fd(e->skel->maps.vm_cgroups);
                if (cgroup_id != 0) {
                        r = bpf_map_update_elem(fd, &cgroup_id, &vm_index, BPF_ANY);
                        if (r < 0)
                                return r == -E2BIG ? -ENOSPC : r;
                }
                if (v->cgroup_id != 0)
                        (void)bpf_map_delete_elem(fd, &v->cgroup_id);
                v->cgroup_id = cgroup_id;
                generation_bump(e);
        }
        return 0;
}

int egress_set_tap(Egress *e, const char *tap_ifname, uint32_t vm_index) {
        EgressLink *l;
        int r;

        if (!e || !tap_ifname || tap_ifname[0] == '\0' || strlen(tap_ifname) >= IF_NAMESIZE ||
            vm_index >= EGRESS_MAX_VMS)
                return -EINVAL;
        if (!e->vms[vm_index].used)
                return -ENOENT;
        unsigned idx = if_nametoindex(tap_ifname);
        if (idx == 0)
                return errno == ENXIO ? -ENODEV : -errno;
        int ifindex = (int)idx;

        /* A tap is remembered as a link even when pacing, where nothing is
         * attached to it (its packets are paced on the uplink). */
        l = link_find(e, ifindex, BPF_TC_INGRESS);
        bool added = !l;
        if (added) {
                r = link_add(e, tap_ifname, ifindex, BPF_TC_INGRESS, vm_index, &l);
                if (r < 0)
                        return r;
                if (e->mode == EGRESS_MODE_DROP) {
                        r = link_attach(e, l);
                        if (r < 0) {
                                link_release(e, (size_t)(l - e->links));
                                return r;
                        }
                }
        }
        r = bpf_map_update_elem(map_fd(e->skel->maps.taps), &ifindex, &vm_index, BPF_ANY);
        if (r < 0) {
                if (added)
                        link_release(e, (size_t)(l - e->links));
                return r == -E2BIG ? -ENOSPC : r;
        }
        l->vm = vm_index;
        return 0;
}

int egress_remove_vm(Egress *e, uint32_t vm_index) {
        EgressVmConfig none = {0};
        int r;

        if (!e || vm_index > EGRESS_HOST)
                return -EINVAL;
        if (vm_index == EGRESS_HOST)
                return vm_write_config(e, vm_index, &none);
        EgressVmSlot *v = &e->vms[vm_index];
        if (!v->used)
                return -ENOENT;

        if (v->cgroup_id != 0) {
                r = bpf_map_delete_elem(map_fd(e->skel->maps.vm_cgroups), &v->cgroup_id);
                if (r < 0 && r != -ENOENT)
                        return r;
                v->cgroup_id = 0;
                generation_bump(e);
        }
        for (size_t i = e->n_links; i > 0; i--) {
                EgressLink *l = &e->links[i - 1];
                if (l->point != BPF_TC_INGRESS || l->vm != vm_index)
                        continue;
                (void)bpf_map_delete_elem(map_fd(e->skel->maps.taps), &l->ifindex);
                link_release(e, i - 1);
        }
        r = vm_write_config(e, vm_index, &none);
        if (r < 0)
                return r;
        v->used = false;
        return 0;
}

int egress_read(Egress *e, uint32_t vm_index, EgressCounters *ret) {
        EgressCounters sum = {0};
        int r;

        if (!e || !ret || vm_index > EGRESS_HOST)
                return -EINVAL;
        if (!e->vms[vm_index].used)
                return -ENOENT;
        r = bpf_map_lookup_elem(map_fd(e->skel->maps.stats), &vm_index, e->percpu);
        if (r < 0)
                return r;
        for (int i = 0; i < e->n_cpus; i++) {
                sum.bytes += e->percpu[i].bytes;
                sum.packets += e->percpu[i].packets;
                sum.delayed += e->percpu[i].delayed;
                sum.dropped += e->percpu[i].dropped;
                sum.marked += e->percpu[i].marked;
        }
        *ret = sum;
        return 0;
}

int egress_prog_stats(Egress *e, EgressProgStats *ret) {
        EgressProgStats sum = {0};

        if (!e || !ret)
                return -EINVAL;
        struct bpf_program *progs[] = {e->skel->progs.egress_uplink, e->skel->progs.egress_tap};
        for (size_t i = 0; i < ELEMENTSOF(progs); i++) {
                struct bpf_prog_info info = {0};
                __u32 len = sizeof(info);
                int r = bpf_obj_get_info_by_fd(bpf_program__fd(progs[i]), &info, &len);
                if (r < 0)
                        return r;
                sum.run_time_nsec += info.run_time_ns;
                sum.run_count += info.run_cnt;
        }
        *ret = sum;
        return 0;
}
