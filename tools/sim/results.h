/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Results and the scenario's `expect`: what a run measured (the simulator's
 * own, or a real kernel's read back from JSON) and the verdict, one line per
 * expectation.  One check for both tiers, so that they judge alike.  Pure:
 * text in, lines out.
 *
 * The JSON is the simulator's (`schedsim --json`), which
 * tests/vm/run-scenario prints too:
 *
 *   {"utilization":0.99,
 *    "vms":{"web":{"cpu_fraction":0.5,"transitions_per_sec":0.2,"io_bps":2.1e7,...},...},
 *    "restored":true, ...}
 *
 * Keys other than these are skipped; a number may be null (not measured).
 */

#include <stdbool.h>
#include <stddef.h>

#include "policy/error.h"
#include "scenario.h"

typedef struct ResultVm {
        char *name;
        double cpu_fraction;        /* of the host; NAN: not measured */
        double transitions_per_sec; /* the core's released->held changes; NAN: not measured */
        double io_bps;              /* bytes written per second; NAN: not measured */
} ResultVm;

typedef struct Results {
        double utilization; /* NAN: not measured */
        ResultVm *vms;
        size_t n_vms;
        int restored; /* -1 not reported, 0 files left changed, 1 every file given back */
} Results;

/* Tolerances of a check. */
typedef struct CheckTolerance {
        double cpu; /* absolute, in fractions of the host, for cpu_fraction and utilization;
                     * negative: the scenario's own expect.tolerance */
        double io;  /* relative, for io_bps (0.10: 10 %) */
} CheckTolerance;

/* How far a real kernel may stray: a twentieth of the host (0.1 CPU of 2),
 * well outside the spread of repeated runs (about 0.01), well inside the
 * differences the scenarios are built to show. */
#define CHECK_TOLERANCE_VM_CPU 0.05
/* blk-throttle meters in slices: over a few seconds a limited writer comes
 * within 1 % of its limit; a tenth leaves room for a loaded emulated guest. */
#define CHECK_TOLERANCE_VM_IO 0.10

/* One verdict, "PASS what: expected ..., got ..." (a line, no newline). */
typedef struct CheckLine {
        bool pass;
        char text[512];
} CheckLine;

void results_init(Results *r);
void results_done(Results *r);

/* Adds a VM (not yet measured: every figure NAN); NULL on OOM.  The pointer is
 * good until the next results_add_vm() (the table may move). */
ResultVm *results_add_vm(Results *r, const char *name);
const ResultVm *results_find_vm(const Results *r, const char *name);

/* Reads `len` bytes of JSON; `file` names it in errors.  0 and *ret filled
 * (free with results_done()), or -EINVAL (not JSON, or figures of the wrong
 * type: "file:line:column: what") or -ENOMEM, with err filled. */
int results_parse_json(const char *text, size_t len, const char *file, Results *ret, PolicyError *err);

/* Applies sc->expect to res.  0 and *ret_lines (malloc()ed, *ret_n entries),
 * or -ENOMEM.  An expectation whose figure was not measured fails. */
int results_check(const Scenario *sc, const Results *res, const CheckTolerance *tol, CheckLine **ret_lines,
                  size_t *ret_n);
