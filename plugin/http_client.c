/*
 * HTTP client (plugin/http_client.h) over libcurl: bounded time, bounded
 * response size, credentials kept out of every message.
 */
#include "http_client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"

struct kl_http {
    CURL *curl;
    int timeout_ms;
    size_t max_bytes;
    struct kl_buf *resp; /* of the request in progress */
    int too_big;
    int nomem;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

/* Contract in http_client.h. */
void kl_http_redact(const char *url, char *out, size_t outsz)
{
    const char *scheme, *at, *slash, *host;

    if (!outsz)
        return;
    if (!url) {
        out[0] = '\0';
        return;
    }
    scheme = strstr(url, "://");
    host = scheme ? scheme + 3 : url;
    slash = strchr(host, '/');
    at = memchr(host, '@', slash ? (size_t)(slash - host) : strlen(host));
    /* the last '@' before the path ends the user info */
    if (at) {
        const char *a = at;

        while ((a = memchr(a + 1, '@', slash ? (size_t)(slash - a - 1)
                                             : strlen(a + 1))) != NULL)
            at = a;
        snprintf(out, outsz, "%.*s***%s", (int)(host - url), url, at);
    } else {
        snprintf(out, outsz, "%s", url);
    }
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct kl_http *h = ud;
    size_t len = size * n;

    if (h->resp->len + len > h->max_bytes) {
        h->too_big = 1;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    if (kl_buf_append(h->resp, p, len) != 0) {
        h->nomem = 1;
        return 0;
    }
    return len;
}

/* Contract in http_client.h. */
int kl_http_create(int timeout_ms, size_t max_bytes, struct kl_http **out,
                   char *err, size_t errsz)
{
    struct kl_http *h = NULL;
    int rc = KL_OK;

    *out = NULL;
    pthread_once(&global_once, global_init);
    if (global_rc) {
        snprintf(err, errsz, "http: curl_global_init failed");
        return KL_EINVAL;
    }
    h = calloc(1, sizeof *h);
    if (!h || !(h->curl = curl_easy_init())) {
        snprintf(err, errsz, "http: out of memory");
        rc = KL_ENOMEM;
        goto out;
    }
    h->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
    h->max_bytes = max_bytes ? max_bytes : 1048576;
    *out = h;
    h = NULL;
out:
    kl_http_destroy(h);
    return rc;
}

/* Contract in http_client.h. */
void kl_http_destroy(struct kl_http *h)
{
    if (!h)
        return;
    if (h->curl)
        curl_easy_cleanup(h->curl);
    free(h);
}

/* Contract in http_client.h. */
int kl_http_request(struct kl_http *h, const char *method, const char *url,
                    const char *content_type, const void *body,
                    size_t body_len, long *status, struct kl_buf *resp,
                    char *err, size_t errsz)
{
    struct curl_slist *hdrs = NULL, *more;
    char ebuf[CURL_ERROR_SIZE] = "", shown[512], ct[256];
    CURL *c = h->curl;
    CURLcode cc;
    int rc = KL_OK;

    *status = 0;
    kl_buf_reset(resp);
    kl_http_redact(url, shown, sizeof shown);
    curl_easy_reset(c);
    h->resp = resp;
    h->too_big = 0;
    h->nomem = 0;
    if (!(hdrs = curl_slist_append(NULL, "Accept: application/vnd.schemaregistry.v1+json, application/json")))
        goto nomem;
    if (content_type) {
        snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
        if (!(more = curl_slist_append(hdrs, ct)))
            goto nomem;
        hdrs = more;
    }
    cc = curl_easy_setopt(c, CURLOPT_URL, url);
    if (cc == CURLE_OK) cc = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (cc == CURLE_OK) cc = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (cc == CURLE_OK) cc = curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)h->timeout_ms);
    if (cc == CURLE_OK) cc = curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)h->timeout_ms);
    if (cc == CURLE_OK) cc = curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    if (cc == CURLE_OK) cc = curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    if (cc == CURLE_OK) cc = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    if (cc == CURLE_OK) cc = curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
    if (cc == CURLE_OK) cc = curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (cc == CURLE_OK) cc = curl_easy_setopt(c, CURLOPT_USERAGENT, "klabel");
    if (cc == CURLE_OK && method && !strcmp(method, "POST")) {
        cc = curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        if (cc == CURLE_OK)
            cc = curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
    } else if (cc == CURLE_OK && method && strcmp(method, "GET")) {
        snprintf(err, errsz, "http: method %s not supported", method);
        rc = KL_EINVAL;
        goto out;
    }
    if (cc != CURLE_OK) {
        snprintf(err, errsz, "http: %s: %s", shown, curl_easy_strerror(cc));
        rc = KL_EINVAL;
        goto out;
    }
    cc = curl_easy_perform(c);
    if (h->nomem)
        goto nomem;
    if (h->too_big) {
        snprintf(err, errsz, "http: %s: response larger than %zu bytes", shown,
                 h->max_bytes);
        rc = KL_EIO;
        goto out;
    }
    if (cc != CURLE_OK) {
        /* ebuf never holds the user info: curl names hosts, not URLs */
        snprintf(err, errsz, "http: %s: %s", shown,
                 ebuf[0] ? ebuf : curl_easy_strerror(cc));
        rc = KL_EIO;
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    goto out;
nomem:
    snprintf(err, errsz, "http: out of memory");
    rc = KL_ENOMEM;
out:
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(hdrs);
    h->resp = NULL;
    if (rc)
        kl_buf_reset(resp);
    return rc;
}
