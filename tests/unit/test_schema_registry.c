/*
 * Unit tests of plugin/schema_registry.c and plugin/http_client.c against
 * a stub registry served from a thread of the test (Confluent API subset:
 * GET /schemas/ids/{id}, POST /subjects/{s}/versions): schemas by id over
 * HTTP and from a folder, 404 -> not found, 5xx / garbage / oversize /
 * slow / unreachable -> KL_EIO within the timeout, basic auth from the URL
 * without the password in any message, registration, and the Avro
 * decoder fetching each id once and asking again for unknown ids only
 * after schema.registry.unknown.retry.ms.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "codec_avro.h"
#include "http_client.h"
#include "schema_registry.h"

#define SCHEMA_1 "{\"type\":\"record\",\"name\":\"E\",\"fields\":[{\"name\":\"text\",\"type\":\"string\"}]}"

static int lfd = -1, port;
static pthread_t th;
static atomic_int nreq;
static char last_req[8192];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void reply(int fd, int status, const char *body, size_t len)
{
    char h[256];
    int n = snprintf(h, sizeof h,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     status, len);

    /* the client may have given up (timeout test): no SIGPIPE */
    if (send(fd, h, (size_t)n, MSG_NOSIGNAL) < 0 ||
        (len && send(fd, body, len, MSG_NOSIGNAL) < 0))
        return;
}

static void serve(int fd)
{
    char req[8192], *body;
    size_t n = 0, clen = 0;
    ssize_t r;
    const char *cl;

    while (n < sizeof req - 1 && (r = read(fd, req + n, sizeof req - 1 - n)) > 0) {
        n += (size_t)r;
        req[n] = '\0';
        if ((body = strstr(req, "\r\n\r\n")) != NULL) {
            cl = strcasestr(req, "Content-Length:");
            clen = cl ? (size_t)atol(cl + 15) : 0;
            if ((size_t)(req + n - (body + 4)) >= clen)
                break;
        }
    }
    req[n] = '\0';
    pthread_mutex_lock(&mu);
    snprintf(last_req, sizeof last_req, "%s", req);
    pthread_mutex_unlock(&mu);
    atomic_fetch_add(&nreq, 1);
    if (!strncmp(req, "GET /schemas/ids/1 ", 19)) {
        char b[512];
        int len = snprintf(b, sizeof b, "{\"schema\":\"%s\"}",
                           "{\\\"type\\\":\\\"record\\\",\\\"name\\\":\\\"E\\\",\\\"fields\\\":"
                           "[{\\\"name\\\":\\\"text\\\",\\\"type\\\":\\\"string\\\"}]}");
        reply(fd, 200, b, (size_t)len);
    } else if (!strncmp(req, "GET /schemas/ids/404 ", 21)) {
        const char *b = "{\"error_code\":40403,\"message\":\"Schema 404 not found\"}";
        reply(fd, 404, b, strlen(b));
    } else if (!strncmp(req, "GET /schemas/ids/500 ", 21)) {
        reply(fd, 500, "{\"error_code\":50001,\"message\":\"boom\"}", 38);
    } else if (!strncmp(req, "GET /schemas/ids/7 ", 19)) {
        reply(fd, 200, "not json", 8);
    } else if (!strncmp(req, "GET /schemas/ids/8 ", 19)) {
        size_t big = KL_SR_MAX_BYTES + 1000;
        char *b = malloc(big);

        memset(b, ' ', big);
        reply(fd, 200, b, big);
        free(b);
    } else if (!strncmp(req, "GET /schemas/ids/9 ", 19)) {
        usleep(1500 * 1000);
        reply(fd, 404, "{}", 2);
    } else if (!strncmp(req, "POST /subjects/out-value/versions ", 34)) {
        reply(fd, 200, "{\"id\":21}", 9);
    } else if (!strncmp(req, "POST /subjects/", 15)) {
        reply(fd, 409, "{\"error_code\":409,\"message\":\"incompatible\"}", 44);
    } else {
        reply(fd, 404, "{\"error_code\":40401,\"message\":\"nothing here\"}", 46);
    }
}

static void *server(void *arg)
{
    int fd;

    (void)arg;
    while ((fd = accept(lfd, NULL, NULL)) >= 0) {
        serve(fd);
        close(fd);
    }
    return NULL;
}

static void start(void)
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int one = 1;

    lfd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(lfd, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(lfd, 16), 0);
    cr_assert_eq(getsockname(lfd, (struct sockaddr *)&a, &al), 0);
    port = ntohs(a.sin_port);
    atomic_store(&nreq, 0);
    cr_assert_eq(pthread_create(&th, NULL, server, NULL), 0);
}

static void stop(void)
{
    shutdown(lfd, SHUT_RDWR);
    close(lfd);
    pthread_join(th, NULL);
}

TestSuite(sr, .init = start, .fini = stop, .timeout = 30);

static char err[512];

static struct kl_sr *make_sr(const char *userinfo, int timeout_ms)
{
    struct kl_sr_opts o;
    struct kl_sr *sr = NULL;
    char url[256];

    snprintf(url, sizeof url, "http://%s127.0.0.1:%d/", userinfo ? userinfo : "", port);
    memset(&o, 0, sizeof o);
    o.url = url;
    o.timeout_ms = timeout_ms;
    cr_assert_eq(kl_sr_create(&o, &sr, err, sizeof err), 0, "%s", err);
    return sr;
}

Test(sr, fetch_by_id)
{
    struct kl_sr *sr = make_sr(NULL, 2000);
    char *s = NULL;
    size_t n = 0;

    cr_assert_eq(kl_sr_fetch(sr, 1, &s, &n, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(s, SCHEMA_1);
    cr_expect_eq(n, strlen(SCHEMA_1));
    cr_expect(strstr(last_req, "GET /schemas/ids/1 HTTP/1.1"), "%s", last_req);
    cr_expect(strcasestr(last_req, "Accept: application/vnd.schemaregistry.v1+json"));
    free(s);
    kl_sr_destroy(sr);
}

Test(sr, not_found_and_errors)
{
    struct kl_sr *sr = make_sr(NULL, 2000);
    char *s = NULL;
    size_t n;

    cr_expect_eq(kl_sr_fetch(sr, 404, &s, &n, err, sizeof err), KL_SR_NOT_FOUND);
    cr_expect(strstr(err, "Schema 404 not found"), "%s", err);
    cr_expect_eq(kl_sr_fetch(sr, 500, &s, &n, err, sizeof err), KL_EIO);
    cr_expect(strstr(err, "answered 500"), "%s", err);
    cr_expect_eq(kl_sr_fetch(sr, 7, &s, &n, err, sizeof err), KL_EIO);
    cr_expect(strstr(err, "no \"schema\""), "%s", err);
    cr_expect_eq(kl_sr_fetch(sr, 8, &s, &n, err, sizeof err), KL_EIO);
    cr_expect(strstr(err, "larger than"), "%s", err);
    cr_expect_eq(kl_sr_fetch(sr, -1, &s, &n, err, sizeof err), KL_SR_NOT_FOUND);
    cr_expect_null(s);
    kl_sr_destroy(sr);
}

Test(sr, slow_registry_times_out)
{
    struct kl_sr *sr = make_sr(NULL, 300);
    struct timespec t0, t1;
    char *s = NULL;
    size_t n;
    double secs;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_expect_eq(kl_sr_fetch(sr, 9, &s, &n, err, sizeof err), KL_EIO);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_expect_lt(secs, 1.0, "took %.2f s with a 300 ms timeout", secs);
    cr_expect(strstr(err, "imeout") || strstr(err, "imed out"), "%s", err);
    kl_sr_destroy(sr);
}

Test(sr, unreachable)
{
    struct kl_sr_opts o;
    struct kl_sr *sr = NULL;
    char *s = NULL, url[128];
    size_t n;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t al = sizeof a;

    /* a port that was free a moment ago: nothing listens there */
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(a.sin_port));
    memset(&o, 0, sizeof o);
    o.url = url;
    o.timeout_ms = 1000;
    cr_assert_eq(kl_sr_create(&o, &sr, err, sizeof err), 0);
    cr_expect_eq(kl_sr_fetch(sr, 1, &s, &n, err, sizeof err), KL_EIO);
    cr_expect(err[0]);
    kl_sr_destroy(sr);
}

Test(sr, credentials_used_never_shown)
{
    struct kl_sr *sr = make_sr("alice:s3cret@", 2000);
    char *s = NULL;
    size_t n;

    cr_assert_eq(kl_sr_fetch(sr, 1, &s, &n, err, sizeof err), 0, "%s", err);
    free(s);
    /* base64("alice:s3cret") */
    cr_expect(strstr(last_req, "Authorization: Basic YWxpY2U6czNjcmV0"), "%s", last_req);
    cr_expect_eq(kl_sr_fetch(sr, 500, &s, &n, err, sizeof err), KL_EIO);
    cr_expect(strstr(err, "***@127.0.0.1"), "%s", err);
    cr_expect_null(strstr(err, "s3cret"), "%s", err);
    cr_expect_null(strstr(err, "alice"), "%s", err);
    kl_sr_destroy(sr);
}

Test(sr, redact)
{
    char out[128];

    kl_http_redact("https://u:p@host:8081/x", out, sizeof out);
    cr_expect_str_eq(out, "https://***@host:8081/x");
    kl_http_redact("http://host:8081/a@b", out, sizeof out);
    cr_expect_str_eq(out, "http://host:8081/a@b");
    kl_http_redact("http://u:p@ss@host", out, sizeof out);
    cr_expect_str_eq(out, "http://***@host");
    kl_http_redact("host", out, sizeof out);
    cr_expect_str_eq(out, "host");
}

Test(sr, bad_url)
{
    struct kl_sr_opts o;
    struct kl_sr *sr = NULL;

    memset(&o, 0, sizeof o);
    cr_expect_eq(kl_sr_create(&o, &sr, err, sizeof err), KL_EINVAL);
    o.url = "ftp://u:secret@host/";
    cr_expect_eq(kl_sr_create(&o, &sr, err, sizeof err), KL_EINVAL);
    cr_expect_null(strstr(err, "secret"), "%s", err);
    cr_expect_null(sr);
}

Test(sr, register_subject)
{
    struct kl_sr *sr = make_sr(NULL, 2000);
    int32_t id = -1;

    cr_assert_eq(kl_sr_register(sr, "out-value", SCHEMA_1, &id, err, sizeof err), 0, "%s", err);
    cr_expect_eq(id, 21);
    cr_expect(strstr(last_req, "POST /subjects/out-value/versions HTTP/1.1"), "%s", last_req);
    cr_expect(strcasestr(last_req, "Content-Type: application/vnd.schemaregistry.v1+json"));
    cr_expect(strstr(last_req, "{\"schema\":\"{\\\"type\\\":\\\"record\\\""), "%s", last_req);
    cr_expect_eq(kl_sr_register(sr, "other-value", SCHEMA_1, &id, err, sizeof err), KL_EIO);
    cr_expect(strstr(err, "409"), "%s", err);
    cr_expect_eq(kl_sr_register(sr, "a/b", SCHEMA_1, &id, err, sizeof err), KL_EINVAL);
    kl_sr_destroy(sr);
}

Test(sr, folder_then_registry)
{
    char dir[] = "/tmp/klabel-sr-XXXXXX", path[128];
    struct kl_sr_opts o;
    struct kl_sr *sr = NULL;
    char url[128], *s = NULL;
    size_t n;
    FILE *f;

    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/3.avsc", dir);
    f = fopen(path, "w");
    fputs("\"string\"", f);
    fclose(f);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    memset(&o, 0, sizeof o);
    o.dir = dir;
    o.url = url;
    cr_assert_eq(kl_sr_create(&o, &sr, err, sizeof err), 0);
    cr_assert_eq(kl_sr_fetch(sr, 3, &s, &n, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(s, "\"string\"");
    free(s);
    cr_expect_eq(atomic_load(&nreq), 0, "the folder's schema went to the registry");
    cr_assert_eq(kl_sr_fetch(sr, 1, &s, &n, err, sizeof err), 0, "%s", err);
    free(s);
    cr_expect_eq(atomic_load(&nreq), 1);
    kl_sr_destroy(sr);
    /* folder only: a missing file is not found */
    o.url = NULL;
    cr_assert_eq(kl_sr_create(&o, &sr, err, sizeof err), 0);
    cr_expect_eq(kl_sr_fetch(sr, 1, &s, &n, err, sizeof err), KL_SR_NOT_FOUND);
    kl_sr_destroy(sr);
    unlink(path);
    rmdir(dir);
}

/* The decoder asks once per id, and again for an unknown id only later. */
Test(sr, decoder_caches)
{
    struct kl_sr *sr = make_sr(NULL, 2000);
    struct kl_avro_dec_opts o;
    struct kl_avro_dec *d = NULL;
    struct kl_event ev;
    unsigned char good[] = {0, 0, 0, 0, 1, 0x0a, 'h', 'e', 'l', 'l', 'o'};
    unsigned char unk[] = {0, 0, 0, 1, 0x94, 0x02, 'h'}; /* id 404 */
    unsigned char down[] = {0, 0, 0, 1, 0xf4, 0x02, 'h'}; /* id 500 */
    int i;

    kl_event_init(&ev);
    memset(&o, 0, sizeof o);
    o.sr = sr;
    o.unknown_retry_ms = 300;
    cr_assert_eq(kl_avro_dec_create(&o, &d, err, sizeof err), 0);
    for (i = 0; i < 3; i++)
        cr_expect_eq(kl_avro_decode_event(d, good, sizeof good, &ev, err, sizeof err),
                     KL_DEC_OK, "%s", err);
    cr_expect_str_eq(ev.text, "hello");
    cr_expect_eq(atomic_load(&nreq), 1);
    for (i = 0; i < 3; i++)
        cr_expect_eq(kl_avro_decode_event(d, unk, sizeof unk, &ev, err, sizeof err),
                     KL_DEC_UNKNOWN_SCHEMA);
    cr_expect(strstr(err, "404"), "%s", err);
    cr_expect_eq(atomic_load(&nreq), 2);
    usleep(400 * 1000);
    cr_expect_eq(kl_avro_decode_event(d, unk, sizeof unk, &ev, err, sizeof err),
                 KL_DEC_UNKNOWN_SCHEMA);
    cr_expect_eq(atomic_load(&nreq), 3);
    /* a registry error is not the input's fault, and is not remembered */
    cr_expect_eq(kl_avro_decode_event(d, down, sizeof down, &ev, err, sizeof err), KL_EIO);
    cr_expect_eq(kl_avro_decode_event(d, down, sizeof down, &ev, err, sizeof err), KL_EIO);
    cr_expect_eq(atomic_load(&nreq), 5);
    kl_event_fini(&ev);
    kl_avro_dec_destroy(d);
    kl_sr_destroy(sr);
}
