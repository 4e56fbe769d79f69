/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "bucket.h"
#include "metrics-http.h"

/* One published snapshot and, once a request asked for it, its text.
 * Freed by whoever drops the last reference: the server when a newer one
 * replaces it, or a response when it is sent. */
typedef struct Page {
        atomic_uint refs;
        MetricsSnapshot *snapshot;
        char *text; /* NULL until rendered; set once, under request_lock */
        size_t size;
} Page;

/* How long a scrape waits for the first tick's page before it is answered 503
 * (with Retry-After): the first tick comes within a tick of the start, but
 * under socket activation the first scrape is what started schedd. */
#define METRICS_FIRST_PAGE_WAIT_SEC 3

struct MetricsServer {
        struct MHD_Daemon *daemon;
        uint16_t port;

        pthread_mutex_t lock; /* guards `current`: held for a swap or to take a reference, nothing more */
        Page *current;
        pthread_cond_t published;     /* signalled with `lock` when a page is published */
        pthread_mutex_t request_lock; /* request side only: one rendering per page, the scrape bucket */
        TokenBucket scrapes;          /* full scrapes allowed now */
        uint64_t scrapes_refilled_usec;

        struct MHD_Response *index;
        struct MHD_Response *not_found;
        struct MHD_Response *not_allowed;
        struct MHD_Response *too_large;
        struct MHD_Response *unavailable;
        struct MHD_Response *failed;
        struct MHD_Response *too_many;

        MetricsLogFunc log;
        void *userdata;

        atomic_uint_fast64_t requests;
        atomic_uint_fast64_t renders;
        atomic_uint_fast64_t refused;
};

static const char index_html[] = "<!DOCTYPE html>\n"
                                 "<html><head><title>schedd</title></head>\n"
                                 "<body><h1>schedd</h1>\n"
                                 "<p><a href=\"/metrics\">Metrics</a></p></body></html>\n";

static Page *page_ref(Page *p) {
        if (p)
                atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
        return p;
}

static void page_unref(Page *p) {
        if (!p || atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
                return;
        free(p->text);
        free(p->snapshot);
        free(p);
}

static void page_unref_cb(void *userdata) {
        page_unref(userdata);
}

static void on_mhd_log(void *userdata, const char *format, va_list ap) {
        MetricsServer *s = userdata;
        char message[512];
        size_t n;

        if (!s->log)
                return;
        (void)vsnprintf(message, sizeof(message), format, ap);
        n = strlen(message);
        while (n > 0 && message[n - 1] == '\n')
                message[--n] = '\0';
        s->log(LOG_DEBUG, message, s->userdata);
}

/* The newest page, rendered, with a reference for the caller; NULL with
 * *ret_status set when there is none or rendering failed. */
static Page *page_get(MetricsServer *s, unsigned *ret_status) {
        Page *p;
        int r;

        pthread_mutex_lock(&s->lock);
        if (!s->current) {
                /* No tick yet: a scrape that socket activation started schedd for is
                 * there before the first tick; it waits for it, a little. */
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_sec += METRICS_FIRST_PAGE_WAIT_SEC;
                while (!s->current && pthread_cond_timedwait(&s->published, &s->lock, &until) == 0)
                        ;
        }
        p = page_ref(s->current);
        pthread_mutex_unlock(&s->lock);
        if (!p) {
                *ret_status = MHD_HTTP_SERVICE_UNAVAILABLE;
                return NULL;
        }

        pthread_mutex_lock(&s->request_lock);
        r = 0;
        if (!p->text) {
                r = metrics_render(p->snapshot, &p->text, &p->size);
                if (r >= 0)
                        atomic_fetch_add_explicit(&s->renders, 1, memory_order_relaxed);
        }
        pthread_mutex_unlock(&s->request_lock);
        if (r < 0) {
                page_unref(p);
                *ret_status = MHD_HTTP_INTERNAL_SERVER_ERROR;
                return NULL;
        }
        return p;
}

static enum MHD_Result queue_metrics(MetricsServer *s, struct MHD_Connection *c) {
        struct MHD_Response *response;
        enum MHD_Result ret;
        unsigned status = 0;
        Page *p;

        p = page_get(s, &status);
        if (!p)
                return MHD_queue_response(c, status,
                                          status == MHD_HTTP_SERVICE_UNAVAILABLE ? s->unavailable : s->failed);

        /* The response holds the page's reference until MHD is done with it. */
        response = MHD_create_response_from_buffer_with_free_callback_cls(p->size, p->text, page_unref_cb, p);
        if (!response) {
                page_unref(p);
                return MHD_NO;
        }
        if (MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, METRICS_CONTENT_TYPE) == MHD_NO ||
            MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") == MHD_NO) {
                MHD_destroy_response(response);
                return MHD_NO;
        }
        ret = MHD_queue_response(c, MHD_HTTP_OK, response);
        MHD_destroy_response(response);
        return ret;
}

static uint64_t monotonic_usec(void) {
        struct timespec ts;

        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

/* Takes a full scrape from the bucket; false when it is empty. */
static bool scrape_allowed(MetricsServer *s) {
        uint64_t now = monotonic_usec();
        bool ok;

        pthread_mutex_lock(&s->request_lock);
        bucket_refill(&s->scrapes, METRICS_HTTP_SCRAPES_PER_SEC, now - s->scrapes_refilled_usec);
        s->scrapes_refilled_usec = now;
        ok = bucket_consume(&s->scrapes, 1, NULL) == BUCKET_OK;
        pthread_mutex_unlock(&s->request_lock);
        return ok;
}

/* Whether the request announces a body. */
static bool has_body(struct MHD_Connection *c) {
        const char *length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

        if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING))
                return true;
        return length && strspn(length, "0") != strlen(length);
}

/* The endpoint's thread lowers its own priority once, at its first request:
 * within schedd's CPU share, a tick that wakes up then runs at once, and
 * the endpoint has what the ticks leave.  (A thread's nice value is its
 * own on Linux; MHD's thread cannot be reached from outside.) */
static void lower_priority(MetricsServer *s) {
        static __thread bool done;

        if (done)
                return;
        done = true;
        if (setpriority(PRIO_PROCESS, (id_t)gettid(), METRICS_HTTP_NICE) < 0 && s->log) {
                char message[128];

                snprintf(message, sizeof(message), "cannot lower the endpoint thread's priority: %s", strerror(errno));
                s->log(LOG_DEBUG, message, s->userdata);
        }
}

/* What *request_state points to once a request's headers were looked at. */
static const int request_accepted;

static enum MHD_Result on_request(void *userdata, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **request_state) {
        MetricsServer *s = userdata;
        bool is_metrics = strcmp(url, "/metrics") == 0, is_index = strcmp(url, "/") == 0;

        (void)version;
        (void)upload_data;

        /* The first call has the headers only.  Refusals are answered now,
         * before any body is read, and MHD closes the connection after them;
         * the answers to good requests wait for the second call, which keeps
         * the connection open for the next scrape. */
        if (!*request_state) {
                lower_priority(s);
                atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
                if (!is_metrics && !is_index)
                        return MHD_queue_response(c, MHD_HTTP_NOT_FOUND, s->not_found);
                if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
                        return MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, s->not_allowed);
                if (has_body(c))
                        return MHD_queue_response(c, MHD_HTTP_CONTENT_TOO_LARGE, s->too_large);
                *request_state = (void *)&request_accepted;
                return MHD_YES;
        }
        if (*upload_data_size > 0) /* a body after all: refused above, so not expected */
                return MHD_NO;
        if (is_index)
                return MHD_queue_response(c, MHD_HTTP_OK, s->index);
        if (strcmp(method, MHD_HTTP_METHOD_GET) == 0 && !scrape_allowed(s)) {
                atomic_fetch_add_explicit(&s->refused, 1, memory_order_relaxed);
                return MHD_queue_response(c, MHD_HTTP_TOO_MANY_REQUESTS, s->too_many);
        }
        return queue_metrics(s, c);
}

/* A response built once and answered to many requests. */
static struct MHD_Response *static_response(const char *text, const char *type) {
        struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);

        if (r && MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) == MHD_NO) {
                MHD_destroy_response(r);
                return NULL;
        }
        return r;
}

static int make_responses(MetricsServer *s) {
        static const char plain[] = "text/plain; charset=utf-8";

        s->index = static_response(index_html, "text/html; charset=utf-8");
        s->not_found = static_response("Not Found: see /metrics\n", plain);
        s->not_allowed = static_response("Method Not Allowed: only GET and HEAD\n", plain);
        s->too_large = static_response("Content Too Large: requests take no body\n", plain);
        s->unavailable = static_response("Service Unavailable: no tick yet\n", plain);
        s->failed = static_response("Internal Server Error: out of memory\n", plain);
        s->too_many = static_response("Too Many Requests: scrape less often\n", plain);
        if (!s->index || !s->not_found || !s->not_allowed || !s->too_large || !s->unavailable || !s->failed ||
            !s->too_many)
                return -ENOMEM;
        if (MHD_add_response_header(s->not_allowed, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") == MHD_NO ||
            MHD_add_response_header(s->unavailable, MHD_HTTP_HEADER_RETRY_AFTER, "1") == MHD_NO ||
            MHD_add_response_header(s->too_many, MHD_HTTP_HEADER_RETRY_AFTER, "1") == MHD_NO ||
            MHD_add_response_header(s->too_large, MHD_HTTP_HEADER_CONNECTION, "close") == MHD_NO)
                return -ENOMEM;
        return 0;
}

static void free_responses(MetricsServer *s) {
        struct MHD_Response *all[] = {s->index,       s->not_found, s->not_allowed, s->too_large,
                                      s->unavailable, s->failed,    s->too_many};

        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
                if (all[i])
                        MHD_destroy_response(all[i]);
}

static int start_daemon(MetricsServer *s, const MetricsServerOptions *o) {
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
        struct sockaddr_storage sa = {};
        const union MHD_DaemonInfo *info;

        if (o->listen_fd < 0) {
                if (o->family == AF_INET6) {
                        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa;

                        in6->sin6_family = AF_INET6;
                        in6->sin6_port = htons(o->port);
                        if (inet_pton(AF_INET6, o->address, &in6->sin6_addr) != 1)
                                return -EINVAL;
                        flags |= MHD_USE_IPv6;
                } else if (o->family == AF_INET) {
                        struct sockaddr_in *in = (struct sockaddr_in *)&sa;

                        in->sin_family = AF_INET;
                        in->sin_port = htons(o->port);
                        if (inet_pton(AF_INET, o->address, &in->sin_addr) != 1)
                                return -EINVAL;
                } else
                        return -EAFNOSUPPORT;
        }

        errno = 0;
        s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
                                     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_HTTP_MEMORY_LIMIT_BYTES,
                                     MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_HTTP_CONNECTION_LIMIT,
                                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_HTTP_TIMEOUT_SEC,
                                     MHD_OPTION_STRICT_FOR_CLIENT, 1,
                                     o->listen_fd >= 0 ? MHD_OPTION_LISTEN_SOCKET : MHD_OPTION_SOCK_ADDR,
                                     o->listen_fd >= 0 ? (void *)(intptr_t)o->listen_fd : (void *)&sa, MHD_OPTION_END);
        if (!s->daemon)
                return errno > 0 ? -errno : -EIO;

        info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
        s->port = info ? info->port : 0;
        return 0;
}

int metrics_server_new(const MetricsServerOptions *o, MetricsServer **ret) {
        MetricsServer *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return -ENOMEM;
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->published, NULL);
        pthread_mutex_init(&s->request_lock, NULL);
        bucket_init(&s->scrapes, METRICS_HTTP_SCRAPE_BURST);
        s->scrapes.tokens = METRICS_HTTP_SCRAPE_BURST; /* a full burst from the start */
        s->scrapes_refilled_usec = monotonic_usec();
        s->log = o->log;
        s->userdata = o->userdata;

        r = make_responses(s);
        if (r >= 0)
                r = start_daemon(s, o);
        if (r < 0) {
                metrics_server_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

MetricsServer *metrics_server_free(MetricsServer *s) {
        if (!s)
                return NULL;
        /* Joins the thread and closes every connection, which drops the
         * references responses held; then the last page goes. */
        if (s->daemon)
                MHD_stop_daemon(s->daemon);
        free_responses(s);
        page_unref(s->current);
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->published);
        pthread_mutex_destroy(&s->request_lock);
        free(s);
        return NULL;
}

uint16_t metrics_server_port(const MetricsServer *s) {
        return s->port;
}

int metrics_server_publish(MetricsServer *s, MetricsSnapshot *snapshot) {
        Page *p = calloc(1, sizeof(*p)), *old;

        if (!p) {
                free(snapshot);
                return -ENOMEM;
        }
        atomic_init(&p->refs, 1);
        p->snapshot = snapshot;

        pthread_mutex_lock(&s->lock);
        old = s->current;
        s->current = p;
        pthread_cond_broadcast(&s->published);
        pthread_mutex_unlock(&s->lock);

        page_unref(old);
        return 0;
}

uint64_t metrics_server_requests(const MetricsServer *s) {
        return atomic_load_explicit(&s->requests, memory_order_relaxed);
}

uint64_t metrics_server_renders(const MetricsServer *s) {
        return atomic_load_explicit(&s->renders, memory_order_relaxed);
}

uint64_t metrics_server_refused(const MetricsServer *s) {
        return atomic_load_explicit(&s->refused, memory_order_relaxed);
}
