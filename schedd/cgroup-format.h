/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The text of cgroup v2 files, parsed and formatted.  Pure: no I/O, no
 * clock, no logging; the texts come in as strings (cgroup.c reads them).
 *
 * Parsers return 0 and fill *ret only on success, or:
 *   -EBADMSG  the text is not what the kernel writes (a field without a
 *             number, trailing garbage, a required field missing)
 *   -ERANGE   a number does not fit in 64 bits
 * Formatters write a NUL-terminated line (no newline: the kernel takes a
 * value without one) and return its length, or -ENOBUFS if buf is too small.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/model.h"

/* "max" in cgroup files: no limit. */
#define CGROUP_LIMIT_MAX UINT64_MAX

/* cpu.max's period: 100 ms, the kernel's default, so that a quota schedd
 * writes reads as a fraction of the familiar period. */
#define CGROUP_CPU_PERIOD_USEC 100000ULL
/* The kernel refuses a cpu.max quota under 1 ms (EINVAL). */
#define CGROUP_CPU_QUOTA_MIN_USEC 1000ULL
/* cpu.weight's range (cgroup-v2.rst: "[1, 10000]"). */
#define CGROUP_WEIGHT_MIN 1U
#define CGROUP_WEIGHT_MAX 10000U
/* io.max refuses 0 (ERANGE): the smallest limit it takes is 1. */
#define CGROUP_IO_MAX_MIN 1ULL
/* io.max keeps riops/wiops in 32 bits: bigger values are clamped by the kernel. */
#define CGROUP_IO_MAX_IOPS_MAX 4294967295ULL

/* Enough for any line formatted here: "MAJ:MIN" plus four "key=<20 digits>". */
#define CGROUP_LINE_MAX 160

/* Controllers schedd uses, as bits. */
typedef enum CgroupController {
        CGROUP_CONTROLLER_CPU = 1U << 0,
        CGROUP_CONTROLLER_IO = 1U << 1,
        CGROUP_CONTROLLER_MEMORY = 1U << 2,
} CgroupController;

#define CGROUP_CONTROLLER_ALL (CGROUP_CONTROLLER_CPU | CGROUP_CONTROLLER_IO | CGROUP_CONTROLLER_MEMORY)

/* "cpu", "io", "memory"; NULL for anything but a single bit. */
const char *cgroup_controller_to_string(CgroupController c);

/* A space-separated list ("cpuset cpu io memory pids", as in
 * cgroup.controllers and cgroup.subtree_control) -> the bits of the
 * controllers above that it names; others are ignored.  Never fails. */
unsigned cgroup_parse_controllers(const char *text);

/* "+cpu +io" for the bits of `mask`.  Length, or -ENOBUFS; "" for 0. */
int cgroup_format_subtree_control(unsigned mask, char *buf, size_t buf_size);

typedef struct CpuStat {
        uint64_t usage_usec;
        uint64_t nr_throttled;   /* 0 if the file has no such line (no cpu controller) */
        uint64_t throttled_usec; /* likewise */
} CpuStat;

/* cpu.stat: "usage_usec N" is required; other keys are ignored. */
int cgroup_parse_cpu_stat(const char *text, CpuStat *ret);

/* cpu.pressure (PSI): the "total=" of its "some" line, the microseconds in
 * which some task of the cgroup was runnable but waited for a CPU.  0, or
 * -EBADMSG (no such line or field, or not a number). */
int cgroup_parse_pressure_some_usec(const char *text, uint64_t *ret);

typedef struct IoStat {
        uint64_t rbytes;
        uint64_t wbytes;
        uint64_t rios;
        uint64_t wios;
} IoStat;

/* The counter of io.stat that matches a policy direction (rbps: rbytes, ...). */
uint64_t io_stat_get(const IoStat *s, IoDir dir);

/* io.stat, lines "MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N":
 * the counters of device major:minor.  1 if the device has a line, 0 if
 * not (the cgroup did no I/O on it yet: *ret is zeroed), or -errno.  Keys
 * other than the four are ignored; lines of other devices are checked for
 * form too, so a garbled file is an error whichever device is asked for. */
int cgroup_parse_io_stat(const char *text, unsigned major, unsigned minor, IoStat *ret);

/* "MAJ:MIN" as in /sys/class/block/NAME/dev (a trailing newline is fine). */
int cgroup_parse_devnum(const char *text, unsigned *ret_major, unsigned *ret_minor);

/* cpu.max: "max PERIOD" for quota 0 (no ceiling), else "QUOTA PERIOD" with
 * the quota raised to CGROUP_CPU_QUOTA_MIN_USEC if under it.  A period
 * outside the kernel's 1 ms..1 s is -EINVAL. */
int cgroup_format_cpu_max(uint64_t quota_usec, uint64_t period_usec, char *buf, size_t buf_size);

/* cpu.weight / io.weight: the weight clamped to CGROUP_WEIGHT_MIN..MAX. */
int cgroup_format_weight(uint64_t weight, char *buf, size_t buf_size);

/* A plain amount, "max" for CGROUP_LIMIT_MAX (memory.min, memory.max). */
int cgroup_format_u64_or_max(uint64_t value, char *buf, size_t buf_size);

/* io.max for one device: "MAJ:MIN rbps=N wbps=N riops=N wiops=N", each
 * limit[dir] printed as "max" if CGROUP_LIMIT_MAX, else raised to
 * CGROUP_IO_MAX_MIN (and iops capped at CGROUP_IO_MAX_IOPS_MAX, which the
 * kernel does too). */
int cgroup_format_io_max(unsigned major, unsigned minor, const uint64_t limit[_IO_DIR_MAX], char *buf,
                         size_t buf_size);

/* The device an io.max line is for: its "MAJ:MIN" prefix (unchecked), into
 * buf.  Its length, or 0 if there is none or it does not fit. */
size_t cgroup_io_max_device(const char *line, char *buf, size_t buf_size);

/* The line of io.max (as read) for device major:minor, to write back on
 * restore: the device's line if it has one, else the line that clears every
 * limit ("MAJ:MIN rbps=max wbps=max riops=max wiops=max").  Length or
 * -ENOBUFS. */
int cgroup_io_max_line(const char *io_max_text, unsigned major, unsigned minor, char *buf, size_t buf_size);
