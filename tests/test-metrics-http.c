/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The metrics endpoint (metrics-http.c) over loopback, on a port the kernel
 * picks: what each kind of request is answered, that a snapshot is
 * rendered once however often it is asked for, and that a stalled client
 * does not hold up another.
 */

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "schedd/metrics-http.h"

/* How long a test waits for an answer before failing: far above the
 * milliseconds a loopback request takes, far below the endpoint's own
 * timeout, so that a failure is the server's silence, not ours. */
#define TEST_RECV_TIMEOUT_SEC 3

static MetricsServer *server;

static void stop(void) {
        server = metrics_server_free(server);
}

static void start(void) {
        MetricsServerOptions o = {.listen_fd = -1, .family = AF_INET, .address = "127.0.0.1", .port = 0};

        cr_assert_eq(metrics_server_new(&o, &server), 0);
        cr_assert_gt(metrics_server_port(server), 0);
}

TestSuite(metrics_http, .init = start, .fini = stop);

static int connect_to(uint16_t port) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
        struct timeval tv = {.tv_sec = TEST_RECV_TIMEOUT_SEC};
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        cr_assert_geq(fd, 0);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
        cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %m");
        return fd;
}

static void send_all(int fd, const char *data, size_t size) {
        while (size > 0) {
                ssize_t n = send(fd, data, size, MSG_NOSIGNAL);

                if (n < 0 && errno == EPIPE)
                        return; /* the server answered and closed early: read the answer */
                cr_assert_gt(n, 0, "send: %m");
                data += n;
                size -= (size_t)n;
        }
}

typedef struct Answer {
        int status;
        char headers[8192];
        char *body;
        size_t body_size;
} Answer;

static void answer_done(Answer *a) {
        free(a->body);
        a->body = NULL;
}

/* Reads one response from fd: the headers, then Content-Length bytes of
 * body (none for HEAD). */
static void read_answer(int fd, bool head, Answer *ret) {
        char buf[8192];
        size_t n = 0, length = 0;
        char *end = NULL, *cl;

        memset(ret, 0, sizeof(*ret));
        while (!end) {
                ssize_t k = recv(fd, buf + n, 1, 0); /* byte by byte: the next response must stay unread */

                cr_assert_gt(k, 0, "no complete answer (%m) after: %.*s", (int)n, buf);
                n += (size_t)k;
                cr_assert(n < sizeof(buf) - 1);
                buf[n] = '\0';
                end = strstr(buf, "\r\n\r\n");
        }
        cr_assert_eq(sscanf(buf, "HTTP/1.%*d %d", &ret->status), 1, "%s", buf);
        snprintf(ret->headers, sizeof(ret->headers), "%s", buf);
        cl = strcasestr(buf, "\r\nContent-Length: ");
        if (cl)
                length = strtoul(cl + 18, NULL, 10);
        if (head)
                length = 0;
        ret->body = calloc(1, length + 1);
        cr_assert_not_null(ret->body);
        while (ret->body_size < length) {
                ssize_t k = recv(fd, ret->body + ret->body_size, length - ret->body_size, 0);

                cr_assert_gt(k, 0, "short body: %zu of %zu", ret->body_size, length);
                ret->body_size += (size_t)k;
        }
}

static void request(const char *raw, Answer *ret) {
        int fd = connect_to(metrics_server_port(server));

        send_all(fd, raw, strlen(raw));
        read_answer(fd, strncmp(raw, "HEAD ", 5) == 0, ret);
        close(fd);
}

/* Not even a request line: the server closes without an answer. */
static void request_closed(const char *raw) {
        int fd = connect_to(metrics_server_port(server));
        char buf[64];
        ssize_t n;

        send_all(fd, raw, strlen(raw));
        n = recv(fd, buf, sizeof(buf), 0);
        cr_assert(n == 0 || (n < 0 && errno == ECONNRESET), "an answer to garbage: %.*s", (int)(n > 0 ? n : 0), buf);
        close(fd);
}

/* A snapshot as one malloc() block, as the server wants it. */
static MetricsSnapshot *snapshot(uint64_t ticks) {
        MetricsSnapshot *s = calloc(1, sizeof(*s));

        cr_assert_not_null(s);
        *s = (MetricsSnapshot){.version = "test", .ticks = ticks, .tick_interval_usec = 10000};
        return s;
}

static const char get_metrics[] = "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

Test(metrics_http, unavailable_before_the_first_snapshot) {
        Answer a;

        request(get_metrics, &a);
        cr_assert_eq(a.status, 503);
        cr_assert_not_null(strstr(a.headers, "Retry-After: 1"));
        answer_done(&a);
}

Test(metrics_http, serves_the_newest_snapshot_rendered_once) {
        MetricsSnapshot *s = snapshot(7);
        char *expected;
        size_t size;
        Answer a;

        cr_assert_eq(metrics_render(s, &expected, &size), 0);
        cr_assert_eq(metrics_server_publish(server, s), 0);

        request(get_metrics, &a);
        cr_assert_eq(a.status, 200);
        cr_assert_not_null(strstr(a.headers, "Content-Type: " METRICS_CONTENT_TYPE "\r\n"), "%s", a.headers);
        cr_assert_eq(a.body_size, size);
        cr_assert_str_eq(a.body, expected);
        answer_done(&a);
        free(expected);

        request(get_metrics, &a);
        cr_assert_not_null(strstr(a.body, "\nschedd_ticks_total 7\n"));
        answer_done(&a);
        cr_assert_eq(metrics_server_renders(server), 1, "the same snapshot is rendered once");

        cr_assert_eq(metrics_server_publish(server, snapshot(8)), 0);
        request(get_metrics, &a);
        cr_assert_not_null(strstr(a.body, "\nschedd_ticks_total 8\n"));
        answer_done(&a);
        cr_assert_eq(metrics_server_renders(server), 2);
        cr_assert_eq(metrics_server_requests(server), 3);
}

Test(metrics_http, head_and_index) {
        Answer a;

        cr_assert_eq(metrics_server_publish(server, snapshot(1)), 0);
        request("HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &a);
        cr_assert_eq(a.status, 200);
        cr_assert_not_null(strstr(a.headers, "Content-Length: "));
        cr_assert_eq(a.body_size, 0);
        answer_done(&a);

        request("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &a);
        cr_assert_eq(a.status, 200);
        cr_assert_not_null(strstr(a.body, "href=\"/metrics\""));
        answer_done(&a);

        request("GET /metrics?name[]=x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &a);
        cr_assert_eq(a.status, 200, "a query string is ignored");
        answer_done(&a);
}

Test(metrics_http, refusals) {
        char *big = malloc(METRICS_HTTP_MEMORY_LIMIT_BYTES * 2 + 256);
        Answer a;

        cr_assert_eq(metrics_server_publish(server, snapshot(1)), 0);

        request("GET /metric HTTP/1.1\r\nHost: x\r\n\r\n", &a);
        cr_assert_eq(a.status, 404);
        answer_done(&a);
        request("GET /metrics/ HTTP/1.1\r\nHost: x\r\n\r\n", &a);
        cr_assert_eq(a.status, 404);
        answer_done(&a);

        request("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", &a);
        cr_assert_eq(a.status, 405);
        cr_assert_not_null(strstr(a.headers, "Allow: GET, HEAD\r\n"), "%s", a.headers);
        answer_done(&a);
        request("DELETE / HTTP/1.1\r\nHost: x\r\n\r\n", &a);
        cr_assert_eq(a.status, 405);
        answer_done(&a);

        request("GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", &a);
        cr_assert_eq(a.status, 413);
        answer_done(&a);
        request("GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", &a);
        cr_assert_eq(a.status, 413);
        answer_done(&a);

        /* Headers beyond the connection's memory. */
        cr_assert_not_null(big);
        strcpy(big, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ");
        memset(big + strlen(big), 'a', METRICS_HTTP_MEMORY_LIMIT_BYTES * 2);
        strcpy(big + strlen("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ") + METRICS_HTTP_MEMORY_LIMIT_BYTES * 2,
               "\r\n\r\n");
        request(big, &a);
        cr_assert_eq(a.status, 431);
        answer_done(&a);

        /* A URL beyond it. */
        strcpy(big, "GET /metrics?");
        memset(big + 13, 'a', METRICS_HTTP_MEMORY_LIMIT_BYTES * 2);
        strcpy(big + 13 + METRICS_HTTP_MEMORY_LIMIT_BYTES * 2, " HTTP/1.1\r\nHost: x\r\n\r\n");
        request(big, &a);
        cr_assert_eq(a.status, 414);
        answer_done(&a);
        free(big);

        request("GET /metrics HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n", &a);
        cr_assert_eq(a.status, 400, "a header line without a colon");
        answer_done(&a);
        request("GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n", &a);
        cr_assert_eq(a.status, 505);
        answer_done(&a);
        request_closed("NONSENSE\r\n\r\n");
        request("GET /metrics HTTP/1.1\r\n\r\n", &a);
        cr_assert_eq(a.status, 400, "HTTP/1.1 without Host");
        answer_done(&a);

        /* And it still serves. */
        request(get_metrics, &a);
        cr_assert_eq(a.status, 200);
        answer_done(&a);
}

Test(metrics_http, keeps_the_connection_for_the_next_scrape) {
        static const char keep[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
        int fd;
        Answer a;

        cr_assert_eq(metrics_server_publish(server, snapshot(1)), 0);
        fd = connect_to(metrics_server_port(server));
        for (int i = 0; i < 3; i++) {
                send_all(fd, keep, strlen(keep));
                read_answer(fd, false, &a);
                cr_assert_eq(a.status, 200, "request %d on one connection", i);
                cr_assert_null(strstr(a.headers, "Connection: close"), "%s", a.headers);
                answer_done(&a);
        }
        close(fd);
}

Test(metrics_http, a_stalled_client_does_not_hold_up_another) {
        static const char partial[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
        int stalled[4];
        Answer a;

        cr_assert_eq(metrics_server_publish(server, snapshot(5)), 0);
        for (size_t i = 0; i < 4; i++) {
                stalled[i] = connect_to(metrics_server_port(server));
                send_all(stalled[i], partial, strlen(partial));
        }
        request(get_metrics, &a);
        cr_assert_eq(a.status, 200);
        answer_done(&a);
        for (size_t i = 0; i < 4; i++)
                close(stalled[i]);
}

Test(metrics_http, serves_a_socket_passed_in) {
        struct sockaddr_in sa = {.sin_family = AF_INET};
        socklen_t len = sizeof(sa);
        MetricsServerOptions o = {.listen_fd = -1};
        MetricsServer *passed = NULL;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), c;
        Answer a;

        cr_assert_geq(fd, 0);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        cr_assert_eq(listen(fd, 8), 0);
        cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);

        o.listen_fd = fd;
        cr_assert_eq(metrics_server_new(&o, &passed), 0);
        cr_assert_eq(metrics_server_port(passed), ntohs(sa.sin_port));
        cr_assert_eq(metrics_server_publish(passed, snapshot(9)), 0);

        c = connect_to(ntohs(sa.sin_port));
        send_all(c, get_metrics, strlen(get_metrics));
        read_answer(c, false, &a);
        cr_assert_eq(a.status, 200);
        cr_assert_not_null(strstr(a.body, "\nschedd_ticks_total 9\n"));
        answer_done(&a);
        close(c);
        metrics_server_free(passed);
}

Test(metrics_http, bad_options) {
        MetricsServerOptions o = {.listen_fd = -1, .family = AF_INET, .address = "not-an-address", .port = 0};
        MetricsServer *s = NULL;

        cr_assert_eq(metrics_server_new(&o, &s), -EINVAL);
        o = (MetricsServerOptions){.listen_fd = -1, .family = AF_UNIX, .address = "/x"};
        cr_assert_eq(metrics_server_new(&o, &s), -EAFNOSUPPORT);
        /* The port the suite's server holds. */
        o = (MetricsServerOptions){
                .listen_fd = -1, .family = AF_INET, .address = "127.0.0.1", .port = metrics_server_port(server)};
        cr_assert_lt(metrics_server_new(&o, &s), 0);
        cr_assert_null(s);
}

Test(metrics_http, ipv6_loopback) {
        MetricsServerOptions o = {.listen_fd = -1, .family = AF_INET6, .address = "::1", .port = 0};
        MetricsServer *s = NULL;
        int r = metrics_server_new(&o, &s);

        if (r == -EADDRNOTAVAIL || r == -EAFNOSUPPORT)
                cr_skip_test("no IPv6 loopback here");
        cr_assert_eq(r, 0);
        cr_assert_gt(metrics_server_port(s), 0);
        metrics_server_free(s);
}

Test(metrics_http, a_flood_of_scrapes_gets_429) {
        static const char keep[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
        unsigned ok = 0, refused = 0;
        int fd;
        Answer a;

        cr_assert_eq(metrics_server_publish(server, snapshot(1)), 0);
        fd = connect_to(metrics_server_port(server));
        /* Three bursts' worth at once: without a limit all would pass. */
        for (int i = 0; i < 3 * METRICS_HTTP_SCRAPE_BURST; i++) {
                send_all(fd, keep, strlen(keep));
                read_answer(fd, false, &a);
                if (a.status == 200)
                        ok++;
                else {
                        cr_assert_eq(a.status, 429);
                        cr_assert_not_null(strstr(a.headers, "Retry-After: 1\r\n"));
                        refused++;
                }
                answer_done(&a);
        }
        close(fd);
        cr_assert_geq(ok, METRICS_HTTP_SCRAPE_BURST, "the burst passes");
        cr_assert_gt(refused, 0, "beyond it, scrapes are refused");
        cr_assert_eq(metrics_server_refused(server), refused);

        /* HEAD sends no text and is not limited. */
        request("HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &a);
        cr_assert_eq(a.status, 200);
        answer_done(&a);
}
