/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Units of the policy language: parsing and formatting of amounts.
 *
 * Pure: no I/O, no logging.  Every parser returns 0 on success and writes
 * *ret only then, or a negative errno:
 *   -EINVAL  not a number of this kind, or an unknown suffix
 *   -EDOM    negative
 *   -ERANGE  too large (overflows 64 bits or the kind's maximum)
 * unit_strerror() turns these into the words the policy errors use.
 */

#include <stddef.h>
#include <stdint.h>

/* Percentages are held in parts per million: 100 % = 1,000,000 ppm. */
#define UNIT_PPM_PER_PERCENT 10000ULL
#define UNIT_PPM_FULL        1000000ULL

/* CPU amounts are held in micro-CPUs: one CPU is one million, which is
 * also one CPU-microsecond per second, the unit of the CPU token rate. */
#define UNIT_UCPU_PER_CPU 1000000ULL

/* "10%", "12.5%", "0.01%" -> parts per million (at most 6 decimals of ppm
 * resolution are kept; finer digits are an error, never silently dropped). */
int unit_parse_percent(const char *s, uint64_t *ret_ppm);

/* "2", "0.5", "500m" (millicores) -> micro-CPUs. */
int unit_parse_cpus(const char *s, uint64_t *ret_ucpu);

/* "200ms", "1s", "1.5s", "500us", "2m", "1h" -> microseconds.  A unit is required. */
int unit_parse_duration(const char *s, uint64_t *ret_usec);

/* Bytes: "512", "512B", SI "50kB" "50KB" "50MB" "1GB" "1TB" (powers of 1000),
 * IEC "1KiB" "1MiB" "1GiB" "1TiB" and the bare "1K" "1M" "1G" "1T" and
 * "1Ki" "1Mi" "1Gi" "1Ti" (powers of 1024, as systemd and cgroup tools read
 * them).  An optional "/s" suffix is accepted (rates of bytes per second). */
int unit_parse_bytes(const char *s, uint64_t *ret_bytes);

/* Bit rates: "1000bit", "100kbit", "100Mbit", "1Gbit", "1Tbit" (powers of
 * 1000), optional "/s" or "ps" ("100Mbps") -> bits per second. */
int unit_parse_bitrate(const char *s, uint64_t *ret_bits_per_sec);

/* Plain non-negative integers, with optional SI "k"/"M" ("20k" = 20000). */
int unit_parse_count(const char *s, uint64_t *ret);

/* A human word for a unit_parse_* error: "is not a number", "is negative",
 * "is too large". */
const char *unit_strerror(int err);

/*
 * Formatting: the shortest exact spelling the matching parser reads back to
 * the same value ("50%", "0.5" or "500m", "200ms", "50MB", "1GiB",
 * "100Mbit").  Writes at most buf_size bytes including the NUL; returns buf.
 */
char *unit_format_percent(uint64_t ppm, char *buf, size_t buf_size);
char *unit_format_cpus(uint64_t ucpu, char *buf, size_t buf_size);
char *unit_format_duration(uint64_t usec, char *buf, size_t buf_size);
char *unit_format_bytes(uint64_t bytes, char *buf, size_t buf_size);
char *unit_format_bitrate(uint64_t bits_per_sec, char *buf, size_t buf_size);
char *unit_format_count(uint64_t n, char *buf, size_t buf_size);

/* Big enough for any formatted amount. */
#define UNIT_FORMAT_MAX 32
