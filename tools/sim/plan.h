/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The plan: what a real kernel needs to run a scenario (`schedsim --plan`,
 * read by tests/vm/run-scenario), so that the scenario is parsed once, here,
 * and never again in shell.  Pure: the text is built in memory.
 *
 * One item a line, words separated by single spaces; times in seconds
 * ("2", "0.5"); cgroups relative to the scenario's cgroup root.  In order:
 *
 *   scenario FILE
 *   cpus N                          the host's CPUs (a whole number)
 *   duration SECONDS
 *   tick DURATION                   the daemon's tick ("10ms")
 *   tiers sim vm                    where the scenario runs
 *   vm NAME CGROUP present|late     every VM; "late": its cgroup appears with a mkdir below
 *   file VM FILE VALUE...           cgroup_files: written before the daemon starts
 *   policy N AT valid|invalid [WHY] the initial policy (N 0, AT 0), then one per reload
 *   | YAML...                       and per schedctl set or reset, in time order;
 *                                   followed by its text (a reload's: its policy file; a
 *                                   set's: the policy in force after it), each line
 *                                   behind "| "; "valid": the file with schedctl's
 *                                   layers (layers.h) validates, the step goes through
 *   static N VM FILE VALUE...       for a valid policy N, what a static configuration
 *                                   (systemd, Kubernetes) would write: cpu.weight = share
 *                                   (0 and unset: 1), cpu.max from the CPU limit, io.max
 *                                   "DEVICE rbps=.. wbps=.. riops=.. wiops=.." from the I/O
 *                                   limits (DEVICE a name of host.devices; "max" where
 *                                   none); nothing for reservations.  VMs a policy does
 *                                   not name get the kernel's defaults.
 *   loadgen LINE                    a line of tests/vm/loadgen's plan: cpu, io (device
 *                                   /dev/NAME), mkdir, rmdir; loads only while the
 *                                   cgroup exists
 *   reload AT N                     at AT, policy N replaces the policy file
 *   schedctl AT N|- ok|refused WORDS...
 *                                   at AT, the command `schedctl WORDS...`; N: the policy
 *                                   in force after it (its static lines are what a static
 *                                   configuration writes), "-" for one that changes
 *                                   nothing; "refused": schedd refuses it (exit status 1)
 *   move AT LOAD FROM_CGROUP VM CGROUP
 *                                   at AT, the processes of load entry LOAD (the only
 *                                   load in FROM_CGROUP then) move into VM's CGROUP
 *   measure FROM TO CGROUP...       the VMs whose cgroup exists over the whole window
 *   absent VM                       no cgroup in the window: it got nothing (0)
 *   partial VM                      its cgroup comes or goes inside the window: not measurable
 *   transitions yes|no              whether the expectations need the daemon's transitions
 *
 * Exactly the scenario's own times: a real run follows them as closely as
 * its clock allows.
 */

#include "policy/error.h"
#include "scenario.h"

/* 0 and a malloc()ed text in *ret_text, or a negative errno with err filled:
 * -EINVAL when the host's CPUs are not a whole number or the initial policy
 * does not validate (policy_validate()'s message), -ENOMEM. */
int plan_write_string(const Scenario *sc, char **ret_text, PolicyError *err);
