/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Egress scheduling.  The egress program (egress.h) sits on the interfaces
 * of [network] interfaces; one scheduler core in rate mode has the policy's
 * host.interfaces total as its capacity; every managed VM whose policy names
 * net.egress is in both, at the same index.  Each tick the program's
 * counters go into the core as use (bytes sent; held back when its dropped
 * or delayed packets rose), and the rate the core decides goes back to the
 * program.  A VM's net.interface (the tap of a microVM) is tied to it, so
 * that what the guest sends counts and is limited as the VM's.
 *
 * The core keeps the policy's bucket (the burst); the program keeps one of
 * its own, as deep as the tokens left in the core's bucket, so that a VM
 * waking up can send its burst at once, and at least as deep as enforcement
 * needs (NET_BURST_* below).  What the program lets through, the core counts
 * as use and takes out of the VM's bucket, and the program's bucket shrinks
 * with it: it keeps its state as time, so that a full one would hold twice
 * the bytes once the rate doubles (as it does when a waking VM bursts), and
 * what is left in it is never a second burst.
 *
 * On exit, manager_net_stop() removes what schedd added to the interfaces
 * and nothing else (egress_close()).
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <bpf/libbpf.h>

#include "fileio.h"
#include "log.h"
#include "manager-internal.h"

/* The program's bucket is at least this deep: one of the biggest packets
 * TCP hands the device at once (a GSO packet)... */
#define NET_BURST_MIN_BYTES EGRESS_GSO_MAX_BYTES

/* ...and holds at least half a second of the VM's entitlement (what it gets
 * at steady state, not a burst's rate: what the program holds beyond the
 * core's tokens is a burst the core cannot see coming).  Dropping: each
 * drop costs a TCP sender a stall or a recovery, and a flow reached its whole
 * rate only with a bucket of a good part of a second of it (egress.h: 42 %
 * of 50 Mbit/s with 256 KiB, 100 % with 1 MiB, a sixth of a second; half a
 * second leaves room for longer round trips than a veth's).  Pacing: a bulk
 * flow's GSO packets take longer than the horizon at low rates (64 KiB at
 * 4 Mbit/s is 131 ms), and with only 64 KiB of bucket a flow from a VM's
 * cgroup reached 72 % of a 4 Mbit/s limit in one run in the real-kernel
 * guest (6.1) and all of it in another; with half a second, every run. */
#define NET_BURST_DIVISOR 2

/* A VM whose packets were dropped, delayed or marked (ECN) counts as held back (the core's
 * "throttled": it wants more than it is allowed) for as long as the program's
 * bucket holds at its entitlement (half a second, NET_BURST_DIVISOR) after the
 * last of them.  A TCP sender that was dropped backs off and then takes about
 * that long to drain the bucket and be dropped again (here, at 20 Mbit/s, it
 * sent in lumps about every 110 ms, and a slower one less often); in between
 * it uses less than it may.  The core remembers a throttle for only 100 ms
 * (one cpu.max period): past that, a VM using less than it may is allowed a
 * quarter more than it used, beyond its share, and with shares 1:3 the first
 * VM got up to 0.303 of the capacity instead of 0.25.  Pacing delays packets
 * on every tick a VM is at its rate, so there this changes nothing. */
#define NET_THROTTLE_MEMORY_USEC (USEC_PER_SEC / NET_BURST_DIVISOR)

/* libbpf's messages are formatted into this much; longer ones are cut. */
#define NET_LIBBPF_LINE_MAX 512

/* libbpf prints through this (libbpf_set_print()): to our log, at debug
 * level, since what matters (a failed load) comes back as an error too. */
static int on_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap) {
        char line[NET_LIBBPF_LINE_MAX];
        size_t n;

        (void)level;
        if (log_get_max_level() < LOG_DEBUG)
                return 0;
        (void)vsnprintf(line, sizeof(line), fmt, ap);
        n = strlen(line);
        while (n > 0 && line[n - 1] == '\n')
                line[--n] = '\0';
        log_debug("libbpf: %s", line);
        return 0;
}

static const char *mode_to_string(EgressMode mode) {
        return mode == EGRESS_MODE_PACE ? "pace" : "drop";
}

/* "eth0,eth1" for n names.  NULL on OOM. */
static char *names_join(char *const *names, size_t n) {
        size_t len = 1;
        char *s;

        for (size_t i = 0; i < n; i++)
                len += strlen(names[i]) + 1;
        s = malloc(len);
        if (!s)
                return NULL;
        s[0] = '\0';
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        strcat(s, ",");
                strcat(s, names[i]);
        }
        return s;
}

int manager_net_start(Manager *m) {
        const Config *c = m->config;
        EgressMode mode = c->network_mode == CONFIG_NETWORK_DROP ? EGRESS_MODE_DROP : EGRESS_MODE_PACE;
        int r;

        if (c->n_network_interfaces == 0) {
                log_debug("No egress scheduling: [network] interfaces is empty");
                return 0;
        }
        m->net_label = names_join(c->network_interfaces, c->n_network_interfaces);
        if (!m->net_label)
                return log_error_errno(ENOMEM, "Out of memory");

        (void)libbpf_set_print(on_libbpf_print);
        r = egress_open(&m->egress, (const char *const *)c->network_interfaces, c->n_network_interfaces, mode);
        if (r == -ENOMEM)
                return log_error_errno(r, "Out of memory");
        if (r == -ENODEV)
                return log_error_errno(r, "Cannot shape egress on %s ([network] interfaces): no such interface",
                                       m->net_label);
        if (r == -EPERM)
                return log_error_errno(r,
                                       "Cannot shape egress on %s ([network] interfaces): %m (needs CAP_BPF, "
                                       "CAP_NET_ADMIN and CAP_PERFMON, or root)",
                                       m->net_label);
        if (r < 0)
                return log_error_errno(
                        r,
                        "Cannot shape egress on %s ([network] interfaces): %m (schedd --log-level=debug "
                        "shows libbpf's account)",
                        m->net_label);

        if (egress_degraded(m->egress))
                log_warning("Egress: [network] mode = %s, but %s", mode_to_string(mode), egress_degraded(m->egress));
        log_info("Shaping egress on %s: %s above a VM's rate", m->net_label,
                 egress_mode(m->egress) == EGRESS_MODE_PACE ? "pacing (fq)" : "dropping");
        return 0;
}

void manager_net_stop(Manager *m) {
        for (size_t i = 0; i < m->n_vms; i++)
                if (m->vms[i])
                        m->vms[i]->net.joined = false;
        m->net = sched_free(m->net);
        m->net_capacity = 0;
        if (m->egress) {
                m->egress = egress_close(m->egress);
                log_info("Egress: removed what schedd added to %s", m->net_label);
        }
        free(m->net_label);
        m->net_label = NULL;
        free(m->net_usage);
        m->net_usage = NULL;
        m->n_net_usage = 0;
}

/* The highest rate the VM may ever have: its limit, or its reservation with share 0. */
static uint64_t net_ceiling(const ResolvedResource *rr) {
        return rr->share == 0 && rr->reserve < rr->limit ? rr->reserve : rr->limit;
}

/* The depth of the program's bucket for a VM entitled to `entitlement`
 * with `tokens` left in the core's bucket. */
static uint64_t net_burst(uint64_t entitlement, uint64_t tokens) {
        uint64_t b = NET_BURST_MIN_BYTES;

        if (entitlement / NET_BURST_DIVISOR > b)
                b = entitlement / NET_BURST_DIVISOR;
        return tokens > b ? tokens : b;
}

/* The tokens left in the VM's bucket in the core (0 without one). */
static uint64_t net_tokens(const Manager *m, const ManagerVm *v) {
        const TokenBucket *b = sched_bucket(m->net, v->net.slot);

        return b ? b->tokens : 0;
}

/* The inode number of the VM's cgroup directory: its cgroup id.  0 and *ret, or -errno. */
static int net_cgroup_id(const Manager *m, const ManagerVm *v, uint64_t *ret) {
        struct stat st;

        if (fstatat(m->root_fd, v->cgroup, &st, 0) < 0)
                return -errno;
        *ret = st.st_ino;
        return 0;
}

static void net_warn(ManagerVm *v, int r, const char *what) {
        if (!v->net.warned)
                log_warning_errno(r, "VM %s: %s: %m", v->name, what);
        v->net.warned = true;
}

/* The program's counters start again at zero for this VM (a new slot). */
static void net_forget_counters(ManagerVm *v) {
        v->net.last = (EgressCounters){};
}

/* Ties the VM's tap (policy net.interface) to it, where it is not yet, and
 * unties one the policy no longer names. */
static void net_tie_tap(Manager *m, ManagerVm *v) {
        const char *tap = v->rv->net_interface;
        unsigned idx;
        int r;

        if (v->net.tap[0] && (!tap || strcmp(tap, v->net.tap) != 0)) {
                /* The program unties taps only with the VM: take it out and
                 * put it back (the core keeps its tokens). */
                const SchedDecision *d = sched_decision(m->net, v->net.slot);
                bool decided = d && d->rate > 0; /* not before its first tick */
                uint64_t rate = decided ? d->rate : net_ceiling(&v->rv->net);

                (void)egress_remove_vm(m->egress, (uint32_t)v->net.slot);
                r = egress_set_vm(m->egress, (uint32_t)v->net.slot, v->net.cgroup_id, rate,
                                  net_burst(decided ? d->entitlement : rate, net_tokens(m, v)));
                if (r < 0)
                        net_warn(v, r, "cannot set its egress rate again after untying its tap");
                net_forget_counters(v);
                log_info("VM %s: tap %s no longer counts as its egress", v->name, v->net.tap);
                v->net.tap[0] = '\0';
                v->net.tap_ifindex = 0;
        }
        if (!tap)
                return;

        idx = if_nametoindex(tap);
        if (idx == 0) {
                if (!v->net.warned_tap)
                        log_info("VM %s: waiting for tap %s to appear", v->name, tap);
                v->net.warned_tap = true;
                v->net.tap_ifindex = 0;
                return;
        }
        if ((int)idx == v->net.tap_ifindex)
                return;
        r = egress_set_tap(m->egress, tap, (uint32_t)v->net.slot);
        if (r < 0) {
                if (!v->net.warned_tap)
                        log_warning_errno(r, "VM %s: cannot tie tap %s to it (will retry): %m", v->name, tap);
                v->net.warned_tap = true;
                return;
        }
        snprintf(v->net.tap, sizeof(v->net.tap), "%s", tap);
        v->net.tap_ifindex = (int)idx;
        v->net.warned_tap = false;
        log_info("VM %s: what it sends through tap %s counts as its egress", v->name, tap);
}

/* Puts a managed VM into the core and the program.  Only out of memory is fatal. */
static int net_join(Manager *m, ManagerVm *v) {
        const ResolvedResource *rr = &v->rv->net;
        SchedParams p = manager_params_of(rr);
        uint64_t id = 0, rate;
        int slot, r;

        r = net_cgroup_id(m, v, &id);
        if (r < 0) {
                /* Gone since it was attached: the scan releases it. */
                net_warn(v, r, "cannot read its cgroup's id for egress scheduling");
                return 0;
        }
        slot = sched_add(m->net, &p);
        if (slot == -ENOMEM)
                return log_error_errno(slot, "Out of memory");
        if (slot < 0) {
                net_warn(v, slot, "the egress core refused its settings");
                return 0;
        }
        if (slot >= EGRESS_MAX_VMS) {
                (void)sched_remove(m->net, slot);
                if (!v->net.warned)
                        log_warning("VM %s: egress not scheduled: at most %d VMs can have net.egress", v->name,
                                    EGRESS_MAX_VMS);
                v->net.warned = true;
                return 0;
        }

        /* Until the core's next tick decides, the ceiling: a rate of 0 would
         * drop what it sends meanwhile, and the core counts what it uses. */
        rate = net_ceiling(rr);
        /* A new bucket in the core starts empty. */
        r = egress_set_vm(m->egress, (uint32_t)slot, id, rate, net_burst(rate, 0));
        if (r < 0) {
                (void)sched_remove(m->net, slot);
                if (r == -ENOMEM)
                        return log_error_errno(r, "Out of memory");
                net_warn(v, r, "cannot set up its egress in the program");
                return 0;
        }

        v->net.joined = true;
        v->net.slot = slot;
        v->net.cgroup_id = id;
        v->net.tap[0] = '\0';
        v->net.tap_ifindex = 0;
        v->net.used = 0;
        v->net.throttled = false;
        v->net.throttled_until_usec = 0;
        v->net.warned = false;
        v->net.warned_tap = false;
        net_forget_counters(v);
        log_info("VM %s: egress scheduled (cgroup id %" PRIu64 ")", v->name, id);
        net_tie_tap(m, v);
        return 0;
}

void manager_net_leave(Manager *m, ManagerVm *v) {
        int r;

        if (!v->net.joined)
                return;
        (void)sched_remove(m->net, v->net.slot);
        r = egress_remove_vm(m->egress, (uint32_t)v->net.slot);
        if (r < 0)
                log_warning_errno(r, "VM %s: cannot take it out of the egress program: %m", v->name);
        v->net.joined = false;
        v->net.tap[0] = '\0';
        v->net.tap_ifindex = 0;
        v->net.used = 0;
        v->net.throttled = false;
}

static bool net_wanted(const ManagerVm *v) {
        return v->state == MANAGER_VM_MANAGED && !v->gone && v->rv && v->rv->net.configured;
}

int manager_net_sync(Manager *m, bool rescan) {
        int r;

        if (!m->net)
                return 0;
        for (size_t i = 0; i < m->n_vms; i++) {
                ManagerVm *v = m->vms[i];
                bool want = net_wanted(v);

                if (v->net.joined && !want)
                        manager_net_leave(m, v);
                else if (!v->net.joined && want && (rescan || !v->net.warned)) {
                        r = net_join(m, v);
                        if (r < 0)
                                return r;
                } else if (v->net.joined && rescan) {
                        uint64_t id = 0;

                        /* A cgroup made anew under the same name has another
                         * id; the next tick gives the program the new one. */
                        if (net_cgroup_id(m, v, &id) >= 0 && id != v->net.cgroup_id) {
                                log_debug("VM %s: cgroup id %" PRIu64 " -> %" PRIu64, v->name, v->net.cgroup_id, id);
                                v->net.cgroup_id = id;
                        }
                        net_tie_tap(m, v);
                }
        }
        return 0;
}

/* The interfaces of the policy and of the configuration should be the same:
 * the capacity comes from the one, the shaping happens on the other. */
static void net_check_names(const Manager *m) {
        const HostPolicy *h = &m->policy.host;
        const Config *c = m->config;

        for (size_t i = 0; i < h->n_interfaces; i++) {
                bool found = false;

                for (size_t j = 0; j < c->n_network_interfaces; j++)
                        found = found || strcmp(h->interfaces[i].name, c->network_interfaces[j]) == 0;
                if (!found)
                        log_warning("Egress: the policy declares host.interfaces.%s, which [network] interfaces "
                                    "does not name: its capacity counts, but nothing is shaped there",
                                    h->interfaces[i].name);
        }
        for (size_t j = 0; j < c->n_network_interfaces; j++) {
                bool found = false;

                for (size_t i = 0; i < h->n_interfaces; i++)
                        found = found || strcmp(h->interfaces[i].name, c->network_interfaces[j]) == 0;
                if (!found)
                        log_warning("Egress: [network] interfaces names %s, which the policy does not declare in "
                                    "host.interfaces: its capacity does not count",
                                    c->network_interfaces[j]);
        }
}

int manager_net_apply(Manager *m) {
        uint64_t cap = m->resolved.net_capacity;
        int r;

        if (!m->egress) {
                for (size_t i = 0; i < m->resolved.n_vms; i++)
                        if (m->resolved.vms[i].net.configured) {
                                log_warning("Egress: the policy gives VMs net.egress, but [network] interfaces is "
                                            "empty: egress is not scheduled");
                                break;
                        }
                return 0;
        }
        net_check_names(m);

        if (cap == 0) {
                if (m->net)
                        log_warning("Egress: the policy declares no host.interfaces: egress is not scheduled");
                for (size_t i = 0; i < m->n_vms; i++)
                        manager_net_leave(m, m->vms[i]);
                m->net = sched_free(m->net);
                m->net_capacity = 0;
                return 0;
        }

        if (!m->net) {
                m->net = sched_new(SCHED_MODE_RATE, cap);
                if (!m->net)
                        return log_error_errno(ENOMEM, "Out of memory");
                m->net_capacity = cap;
        }

        /* The capacity grows before the VMs' settings change and shrinks
         * after, so that the core never holds a limit over its capacity. */
        if (cap > m->net_capacity) {
                r = sched_set_capacity(m->net, cap);
                if (r < 0)
                        log_error_errno(r, "The egress core refused its new capacity %" PRIu64 " B/s: %m", cap);
        }
        for (size_t i = 0; i < m->n_vms; i++) {
                ManagerVm *v = m->vms[i];
                SchedParams p;

                if (!v->net.joined)
                        continue;
                if (!net_wanted(v)) {
                        manager_net_leave(m, v);
                        continue;
                }
                p = manager_params_of(&v->rv->net);
                r = sched_update(m->net, v->net.slot, &p);
                if (r < 0) {
                        log_error_errno(r, "VM %s: the egress core refused its new settings: %m", v->name);
                        manager_net_leave(m, v);
                }
        }
        if (cap < m->net_capacity) {
                r = sched_set_capacity(m->net, cap);
                if (r < 0)
                        log_error_errno(r, "The egress core refused its new capacity %" PRIu64 " B/s: %m", cap);
        }
        m->net_capacity = cap;

        return manager_net_sync(m, true);
}

/* A counter that went back (the program's slot was set anew) counts from zero. */
static uint64_t counter_delta(uint64_t now, uint64_t before) {
        return now >= before ? now - before : now;
}

int manager_net_tick(Manager *m, uint64_t now) {
        size_t n;
        int r;

        if (!m->net)
                return 0;
        r = manager_net_sync(m, false);
        if (r < 0)
                return r;

        n = sched_slots(m->net);
        if (n > m->n_net_usage) {
                SchedUsage *u = realloc(m->net_usage, n * sizeof(*u));
                if (!u)
                        return log_error_errno(ENOMEM, "Out of memory");
                m->net_usage = u;
                m->n_net_usage = n;
        }
        if (m->n_net_usage > 0)
                memset(m->net_usage, 0, m->n_net_usage * sizeof(*m->net_usage));

        for (size_t i = 0; i < m->n_vms; i++) {
                ManagerVm *v = m->vms[i];
                EgressCounters c;

                if (!v->net.joined)
                        continue;
                v->net.used = 0;
                v->net.throttled = false;
                r = egress_read(m->egress, (uint32_t)v->net.slot, &c);
                if (r < 0) {
                        net_warn(v, r, "cannot read its egress counters");
                        continue;
                }
                v->net.used = counter_delta(c.bytes, v->net.last.bytes);
                if (c.dropped + c.delayed + c.marked > v->net.last.dropped + v->net.last.delayed + v->net.last.marked)
                        v->net.throttled_until_usec = now + NET_THROTTLE_MEMORY_USEC;
                v->net.throttled = now < v->net.throttled_until_usec;
                v->net.bytes_total += v->net.used;
                v->net.packets_total += counter_delta(c.packets, v->net.last.packets);
                v->net.last = c;
                m->net_usage[v->net.slot] = (SchedUsage){.used = v->net.used, .throttled = v->net.throttled};
        }

        r = sched_tick(m->net, now, m->net_usage);
        if (r < 0)
                log_error_errno(r, "The egress core refused the tick at %" PRIu64 " us: %m", now);

        for (size_t i = 0; i < m->n_vms; i++) {
                ManagerVm *v = m->vms[i];
                const SchedDecision *d;

                if (!v->net.joined)
                        continue;
                d = sched_decision(m->net, v->net.slot);
                r = egress_set_vm(m->egress, (uint32_t)v->net.slot, v->net.cgroup_id, d->rate,
                                  net_burst(d->entitlement, net_tokens(m, v)));
                if (r < 0)
                        net_warn(v, r, "cannot set its egress rate");
        }
        return 0;
}
