/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The metrics endpoint: HTTP with libmicrohttpd, in a thread of its own so
 * that a slow or hostile client never holds up a tick.
 *
 * The tick thread hands over snapshots (metrics_server_publish()); taking
 * the new one in holds a mutex for a pointer swap only.  A request takes a
 * reference to the newest snapshot under the same mutex, renders it if no
 * request did yet (at most once per snapshot), and the response keeps its
 * reference until the text is sent, so a new snapshot never waits for an
 * old scrape and an old scrape never sees a half-made snapshot.
 *
 *   GET, HEAD /metrics   the text exposition format
 *   GET, HEAD /          a page that links to /metrics
 *   other paths          404
 *   other methods        405, with Allow: GET, HEAD
 *   a request body       413
 *   headers too large    431 (longer than METRICS_HTTP_MEMORY_LIMIT_BYTES allows; 414 for the URL)
 *   no snapshot yet      503
 *   too many scrapes     429 (more than METRICS_HTTP_SCRAPES_PER_SEC, after a burst)
 *
 * The rate limit bounds what the endpoint's thread costs whatever a client
 * does: with 1,000 VMs a response is about 900 KB, and a client polling as
 * fast as it can would otherwise keep a CPU busy copying them and take it
 * from the tick (tools/bench-metrics).
 */

#include <stdint.h>

#include "metrics.h"

/* Memory for one connection's request and response headers: a scrape's
 * request is under 1 KiB; 16 KiB takes any sane client, and 16 connections
 * cost at most 256 KiB. */
#define METRICS_HTTP_MEMORY_LIMIT_BYTES (16 * 1024)

/* Connections at once: Prometheus keeps one open per server scraping,
 * a person with curl another; 16 leaves room for several, while a flood
 * of clients costs at most 16 descriptors and 16 memory pools. */
#define METRICS_HTTP_CONNECTION_LIMIT 16

/* Seconds a connection may stay idle (also mid-request or mid-response)
 * before it is closed: a scrape over loopback or a LAN takes milliseconds,
 * and Prometheus reconnects for its next scrape when we closed the idle
 * connection.  5 s bounds how long a stalled client holds a slot. */
#define METRICS_HTTP_TIMEOUT_SEC 5

/* Full scrapes (GET /metrics) answered per second, after a burst of as
 * many: Prometheus scrapes every few seconds per server, so 20 a second
 * leaves room for several servers, people with curl and tests, while a
 * runaway client gets cheap 429s instead of the whole text each time. */
#define METRICS_HTTP_SCRAPES_PER_SEC 20
#define METRICS_HTTP_SCRAPE_BURST    20

/* The nice value of the endpoint's thread: the lowest priority, so that
 * within schedd the tick thread always goes first (19 against 0 gives it
 * about 98 % of a contended CPU); the endpoint still runs whenever the
 * tick sleeps, which is most of the time. */
#define METRICS_HTTP_NICE 19

typedef void (*MetricsLogFunc)(int level, const char *message, void *userdata);

typedef struct MetricsServerOptions {
        int listen_fd;       /* a listening socket (socket activation), >= 0; -1: bind the address below */
        int family;          /* AF_INET or AF_INET6 */
        const char *address; /* numeric */
        uint16_t port;
        MetricsLogFunc log; /* for libmicrohttpd's messages, from its thread; NULL: dropped */
        void *userdata;
} MetricsServerOptions;

typedef struct MetricsServer MetricsServer;

/* Starts serving.  0 and *ret, or -errno (-EADDRINUSE, -EACCES, ...).  A
 * listen_fd is the server's on success and closed by metrics_server_free(),
 * the caller's on failure. */
int metrics_server_new(const MetricsServerOptions *o, MetricsServer **ret);

/* Stops the thread, closes every connection, frees every snapshot.  NULL. */
MetricsServer *metrics_server_free(MetricsServer *s);

/* The port served on (the bound one, also with socket activation), 0 if unknown. */
uint16_t metrics_server_port(const MetricsServer *s);

/* Makes `snapshot` (one malloc() block, freed with free(): see
 * manager-metrics.c) the one served from now on; the server owns it,
 * also on failure.  Never waits on a request.  0 or -ENOMEM. */
int metrics_server_publish(MetricsServer *s, MetricsSnapshot *snapshot);

/* Requests answered so far, for tests and benchmarks. */
uint64_t metrics_server_requests(const MetricsServer *s);
/* Scrapes refused with 429 so far. */
uint64_t metrics_server_refused(const MetricsServer *s);
/* Snapshots rendered so far (at most one rendering per snapshot). */
uint64_t metrics_server_renders(const MetricsServer *s);
