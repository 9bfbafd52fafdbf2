/*
 * /metrics, /healthz and /readyz over libmicrohttpd (plugin/http.h). The
 * daemon runs its own polling thread and serves one request at a time
 * there; a /metrics request renders the registry into a fresh buffer that
 * libmicrohttpd frees after sending. Nothing here runs on the stage's
 * threads.
 */
#include "http.h"

#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "buf.h"
#include "health.h"
#include "klabel/engine.h"
#include "log.h"
#include "metrics.h"

#define COMP "http"

struct kl_http {
    struct MHD_Daemon *d;
    struct kl_metrics *reg;
    int port;
};

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    size_t n;

    (void)cls;
    vsnprintf(line, sizeof line, fmt, ap);
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    KL_LOG(KL_LOG_WARNING, COMP, "%s", line);
}

/* Queues a response with body (copied) and content type. */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
                             const char *type, const char *body, size_t len)
{
    struct MHD_Response *r;
    enum MHD_Result ret;

    r = MHD_create_response_from_buffer(len, (void *)body,
                                        MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* {"status":"ok"} or {"status":"<bad>","reason":"..."} with 200 / 503. */
static enum MHD_Result reply_check(struct MHD_Connection *c, int ok,
                                   const char *bad, const char *why)
{
    struct kl_buf b;
    enum MHD_Result ret = MHD_NO;

    kl_buf_init(&b);
    if (ok) {
        if (kl_buf_printf(&b, "{\"status\":\"ok\"}\n"))
            goto out;
    } else if (kl_buf_printf(&b, "{\"status\":\"%s\",\"reason\":", bad) ||
               kl_buf_json_str(&b, why, strlen(why)) ||
               kl_buf_printf(&b, "}\n")) {
        goto out;
    }
    ret = reply(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
                "application/json", b.data, b.len);
out:
    kl_buf_fini(&b);
    return ret;
}

static enum MHD_Result reply_metrics(struct kl_http *h, struct MHD_Connection *c)
{
    struct MHD_Response *r;
    struct kl_buf b;
    enum MHD_Result ret;

    kl_buf_init(&b);
    if (kl_metrics_render(h->reg, &b) != KL_OK) {
        kl_buf_fini(&b);
        return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
                     "out of memory\n", 14);
    }
    /* libmicrohttpd frees b.data (malloc'ed by kl_buf) after sending. */
    r = MHD_create_response_from_buffer(b.len, b.data, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        kl_buf_fini(&b);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            KL_METRICS_CONTENT_TYPE);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
    static int first_call_marker;
    struct kl_http *h = cls;
    char why[KL_HEALTH_REASON_MAX + 64];
    int ok;

    (void)version;
    (void)upload;
    if (*req_cls == NULL) {
        /* First call: headers only. Answer on the next one. */
        *req_cls = &first_call_marker;
        return MHD_YES;
    }
    if (*upload_size) /* no request body is accepted */
        return MHD_NO;
    if (strcmp(method, MHD_HTTP_METHOD_GET) &&
        strcmp(method, MHD_HTTP_METHOD_HEAD))
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
                     "method not allowed\n", 19);
    if (!strcmp(url, "/metrics"))
        return reply_metrics(h, c);
    if (!strcmp(url, "/healthz")) {
        ok = kl_health_live(0, why, sizeof why);
        return reply_check(c, ok, "unhealthy", why);
    }
    if (!strcmp(url, "/readyz")) {
        ok = kl_health_ready(why, sizeof why);
        return reply_check(c, ok, "not ready", why);
    }
    return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n", 10);
}

/* Resolves bind:port into *ss. Returns 0 or KL_EINVAL. */
static int resolve(const char *bind, int port, struct sockaddr_storage *ss,
                   socklen_t *sslen, char *err, size_t errsz)
{
    struct addrinfo hints, *ai = NULL;
    char ps[16];
    int e;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    snprintf(ps, sizeof ps, "%d", port);
    e = getaddrinfo(bind && *bind ? bind : NULL, ps, &hints, &ai);
    if (e || !ai) {
        snprintf(err, errsz, "metrics.bind=%s: %s", bind ? bind : "",
                 e ? gai_strerror(e) : "no address");
        if (ai)
            freeaddrinfo(ai);
        return KL_EINVAL;
    }
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *sslen = ai->ai_addrlen;
    freeaddrinfo(ai);
    return KL_OK;
}

int kl_http_start(const char *bind, int port, struct kl_metrics *reg,
                  struct kl_http **out, char *err, size_t errsz)
{
    struct sockaddr_storage ss;
    const union MHD_DaemonInfo *info;
    struct kl_http *h = NULL;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
                     MHD_USE_ERROR_LOG;
    socklen_t sslen = 0;
    int rc;

    *out = NULL;
    if (port < 0 || port > 65535 || !reg) {
        snprintf(err, errsz, "metrics.port=%d: not a port", port);
        rc = KL_EINVAL;
        goto out;
    }
    rc = resolve(bind, port, &ss, &sslen, err, errsz);
    if (rc)
        goto out;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errsz, "http: out of memory");
        rc = KL_ENOMEM;
        goto out;
    }
    h->reg = reg;
    h->d = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, h,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, /* first, as MHD asks */
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
        MHD_OPTION_END);
    if (!h->d) {
        snprintf(err, errsz,
                 "metrics: cannot listen on %s port %d (in use, or not an "
                 "address of this host; see metrics.bind / metrics.port)",
                 bind && *bind ? bind : "*", port);
        rc = KL_EIO;
        goto out;
    }
    info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info && info->port ? info->port : port;
    KL_LOG(KL_LOG_INFO, COMP,
           "serving /metrics, /healthz and /readyz on %s port %d",
           bind && *bind ? bind : "*", h->port);
    *out = h;
    h = NULL;
out:
    free(h);
    return rc;
}

int kl_http_port(const struct kl_http *h)
{
    return h ? h->port : 0;
}

void kl_http_stop(struct kl_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    free(h);
}
