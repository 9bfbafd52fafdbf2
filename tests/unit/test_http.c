/*
 * Unit tests of the HTTP server (plugin/http.c) over real TCP on
 * 127.0.0.1: /metrics serves the registry with the 0.0.4 content type,
 * /healthz and /readyz follow plugin/health.c (200 / 503 with a JSON
 * reason), other paths are 404 and other methods 405, HEAD has no body, a
 * port in use or an unknown address fails to start with a reason, and
 * port 0 picks a free port.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "health.h"
#include "http.h"
#include "klabel/engine.h"
#include "log.h"
#include "metrics.h"

static struct kl_metrics *reg;
static struct kl_http *srv;
static struct kl_metric *hits;

static void setup(void)
{
    struct kl_metric_family *f;
    char err[256];

    kl_log_level = KL_LOG_ERR;
    kl_health_configure(0, 0);
    reg = kl_metrics_create();
    cr_assert_not_null(reg);
    cr_assert_eq(kl_metrics_family(reg, "t_hits_total", "hits", KL_METRIC_COUNTER,
                                   NULL, NULL, 0, 1, 0, &f, err, sizeof err),
                 0);
    hits = kl_metrics_single(f);
    cr_assert_eq(kl_http_start("127.0.0.1", 0, reg, &srv, err, sizeof err), 0,
                 "%s", err);
    cr_assert_gt(kl_http_port(srv), 0);
}

static void teardown(void)
{
    kl_http_stop(srv);
    kl_metrics_destroy(reg);
    kl_health_configure(0, 0);
}

TestSuite(http, .init = setup, .fini = teardown, .timeout = 30);

struct resp {
    int status;
    char head[2048];
    char body[16384];
};

/* Sends one request and reads the whole answer (Connection: close). */
static void request(const char *method, const char *path, struct resp *r)
{
    struct sockaddr_in sa;
    char req[512], buf[20000];
    size_t n = 0;
    ssize_t k;
    char *sep;
    int fd;

    memset(r, 0, sizeof *r);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)kl_http_port(srv));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    snprintf(req, sizeof req,
             "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
             method, path);
    cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    while (n < sizeof buf - 1 && (k = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)k;
    close(fd);
    buf[n] = '\0';
    cr_assert_eq(sscanf(buf, "HTTP/1.1 %d", &r->status), 1, "answer: %s", buf);
    sep = strstr(buf, "\r\n\r\n");
    cr_assert_not_null(sep);
    snprintf(r->head, sizeof r->head, "%.*s", (int)(sep - buf), buf);
    snprintf(r->body, sizeof r->body, "%s", sep + 4);
}

Test(http, metrics_serves_the_registry)
{
    struct resp r;

    kl_metrics_counter_add(hits, 7);
    request("GET", "/metrics", &r);
    cr_expect_eq(r.status, 200);
    cr_expect_neq(strstr(r.head, "Content-Type: text/plain; version=0.0.4"),
                  NULL, "%s", r.head);
    cr_expect_neq(strstr(r.body, "# TYPE t_hits_total counter\nt_hits_total 7\n"),
                  NULL, "%s", r.body);
    kl_metrics_counter_add(hits, 1);
    request("GET", "/metrics", &r);
    cr_expect_neq(strstr(r.body, "t_hits_total 8\n"), NULL, "rendered afresh");
}

Test(http, healthz_follows_fatal_errors)
{
    struct resp r;

    request("GET", "/healthz", &r);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.body, "{\"status\":\"ok\"}\n");
    cr_expect_neq(strstr(r.head, "application/json"), NULL);
    kl_health_set_fatal("producer: fatal \"OUT_OF_ORDER\"");
    request("GET", "/healthz", &r);
    cr_expect_eq(r.status, 503);
    cr_expect_str_eq(r.body, "{\"status\":\"unhealthy\",\"reason\":\"fatal "
                             "error: producer: fatal \\\"OUT_OF_ORDER\\\"\"}\n");
}

Test(http, healthz_follows_the_watchdog)
{
    struct resp r;

    kl_health_configure(150, 0);
    kl_health_note_queued(0, 4);
    request("GET", "/healthz", &r);
    cr_expect_eq(r.status, 200, "not stalled yet");
    usleep(300000);
    request("GET", "/healthz", &r);
    cr_expect_eq(r.status, 503);
    cr_expect_neq(strstr(r.body, "model worker 0 made no progress"), NULL,
                  "%s", r.body);
    cr_expect_neq(strstr(r.body, "4 event(s) waiting"), NULL, "%s", r.body);
    kl_health_note_progress(0, 4);
    request("GET", "/healthz", &r);
    cr_expect_eq(r.status, 200, "recovered: %s", r.body);
}

static int assigned;

static int probe(const void *ud)
{
    (void)ud;
    return assigned;
}

Test(http, readyz_needs_model_and_partitions)
{
    struct resp r;

    request("GET", "/readyz", &r);
    cr_expect_eq(r.status, 503);
    cr_expect_neq(strstr(r.body, "model not loaded"), NULL, "%s", r.body);
    kl_health_set_model_loaded(1);
    request("GET", "/readyz", &r);
    cr_expect_eq(r.status, 503);
    cr_expect_neq(strstr(r.body, "no input partition"), NULL, "%s", r.body);
    assigned = 0;
    kl_health_set_assigned_probe(probe, NULL);
    request("GET", "/readyz", &r);
    cr_expect_eq(r.status, 503);
    assigned = 3;
    request("GET", "/readyz", &r);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.body, "{\"status\":\"ok\"}\n");
}

Test(http, other_paths_404_other_methods_405_head_without_body)
{
    static const char *const paths[] = {"/", "/metrics/", "/metricsx",
                                        "/health", "/../metrics"};
    struct resp r;
    size_t i;

    for (i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        request("GET", paths[i], &r);
        cr_expect_eq(r.status, 404, "%s", paths[i]);
    }
    request("POST", "/metrics", &r);
    cr_expect_eq(r.status, 405);
    request("DELETE", "/healthz", &r);
    cr_expect_eq(r.status, 405);
    request("HEAD", "/healthz", &r);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.body, "");
    request("GET", "/metrics?x=1", &r);
    cr_expect_eq(r.status, 200, "a query string is ignored");
}

Test(http, many_requests_in_a_row)
{
    struct resp r;
    int i;

    for (i = 0; i < 200; i++) {
        request("GET", i % 2 ? "/metrics" : "/healthz", &r);
        cr_assert_eq(r.status, 200, "request %d", i);
    }
}

Test(http, port_in_use_and_bad_address_fail_with_a_reason)
{
    struct kl_http *h2 = NULL;
    char err[256] = "";

    cr_expect_eq(kl_http_start("127.0.0.1", kl_http_port(srv), reg, &h2, err,
                               sizeof err),
                 KL_EIO);
    cr_expect_null(h2);
    cr_expect_neq(strstr(err, "cannot listen"), NULL, "%s", err);
    cr_expect_neq(strstr(err, "metrics.port"), NULL, "%s", err);
    cr_expect_eq(kl_http_start("no-such-host.invalid", 0, reg, &h2, err,
                               sizeof err),
                 KL_EINVAL);
    cr_expect_neq(strstr(err, "metrics.bind=no-such-host.invalid"), NULL,
                  "%s", err);
    cr_expect_eq(kl_http_start("127.0.0.1", 70000, reg, &h2, err, sizeof err),
                 KL_EINVAL);
}

Test(http, ipv6_loopback)
{
    struct kl_http *h6 = NULL;
    char err[256];
    int rc = kl_http_start("::1", 0, reg, &h6, err, sizeof err);

    if (rc == KL_EIO)
        cr_skip_test("no IPv6 loopback here: %s", err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_expect_gt(kl_http_port(h6), 0);
    kl_http_stop(h6);
}
