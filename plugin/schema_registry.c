/*
 * Schema Registry client (plugin/schema_registry.h): a schema by id from
 * a local folder or from a Confluent-compatible registry (Confluent Schema
 * Registry, Karapace, Apicurio's ccompat API), and registration of our
 * output schema. Bounded: responses up to KL_SR_MAX_BYTES, each request
 * within timeout_ms; the URL's credentials never reach a log or an error.
 */
#include "schema_registry.h"

#include <cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "http_client.h"
#include "klabel/engine.h"

struct kl_sr {
    char *dir;
    char *url;          /* without a trailing '/' */
    char shown[512];    /* url, redacted */
    struct kl_http *http;
    struct kl_buf resp;
    pthread_mutex_t lock;
};

/* Contract in schema_registry.h. */
int kl_sr_create(const struct kl_sr_opts *o, struct kl_sr **out, char *err,
                 size_t errsz)
{
    struct kl_sr *sr = NULL;
    size_t n;
    int rc = KL_OK;

    *out = NULL;
    if (!o || ((!o->dir || !o->dir[0]) && (!o->url || !o->url[0]))) {
        snprintf(err, errsz, "schema registry: set schema.registry.url or "
                             "schema.registry.dir");
        return KL_EINVAL;
    }
    sr = calloc(1, sizeof *sr);
    if (!sr) {
        rc = KL_ENOMEM;
        goto out;
    }
    pthread_mutex_init(&sr->lock, NULL);
    kl_buf_init(&sr->resp);
    if (o->dir && o->dir[0] && !(sr->dir = strdup(o->dir))) {
        rc = KL_ENOMEM;
        goto out;
    }
    if (o->url && o->url[0]) {
        if (strncmp(o->url, "http://", 7) && strncmp(o->url, "https://", 8)) {
            kl_http_redact(o->url, sr->shown, sizeof sr->shown);
            snprintf(err, errsz, "schema.registry.url '%s' is not an http:// "
                                 "or https:// URL", sr->shown);
            rc = KL_EINVAL;
            goto out;
        }
        if (!(sr->url = strdup(o->url))) {
            rc = KL_ENOMEM;
            goto out;
        }
        n = strlen(sr->url);
        while (n > 0 && sr->url[n - 1] == '/')
            sr->url[--n] = '\0';
        kl_http_redact(sr->url, sr->shown, sizeof sr->shown);
        rc = kl_http_create(o->timeout_ms, KL_SR_MAX_BYTES, &sr->http, err,
                            errsz);
        if (rc)
            goto out;
    }
    *out = sr;
    sr = NULL;
out:
    if (rc == KL_ENOMEM)
        snprintf(err, errsz, "schema registry: out of memory");
    kl_sr_destroy(sr);
    return rc;
}

/* Contract in schema_registry.h. */
void kl_sr_destroy(struct kl_sr *sr)
{
    if (!sr)
        return;
    kl_http_destroy(sr->http);
    kl_buf_fini(&sr->resp);
    pthread_mutex_destroy(&sr->lock);
    free(sr->dir);
    free(sr->url);
    free(sr);
}

/* Reads <dir>/<id>.avsc. Returns 0, KL_SR_NOT_FOUND, KL_EIO or KL_ENOMEM. */
static int fetch_file(struct kl_sr *sr, int32_t id, char **schema, size_t *len,
                      char *err, size_t errsz)
{
    char path[4096], *buf = NULL;
    FILE *f = NULL;
    long n;
    int rc = KL_OK;

    snprintf(path, sizeof path, "%s/%" PRId32 ".avsc", sr->dir, id);
    f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errsz, "schema id %" PRId32 ": %s: %s", id, path,
                 strerror(errno));
        return errno == ENOENT ? KL_SR_NOT_FOUND : KL_EIO;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        snprintf(err, errsz, "schema id %" PRId32 ": cannot read %s", id, path);
        rc = KL_EIO;
        goto out;
    }
    if (n > KL_SR_MAX_BYTES) {
        snprintf(err, errsz, "schema id %" PRId32 ": %s is larger than %d bytes",
                 id, path, KL_SR_MAX_BYTES);
        rc = KL_EIO;
        goto out;
    }
    if (!(buf = malloc((size_t)n + 1))) {
        rc = KL_ENOMEM;
        snprintf(err, errsz, "schema registry: out of memory");
        goto out;
    }
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        snprintf(err, errsz, "schema id %" PRId32 ": cannot read %s", id, path);
        rc = KL_EIO;
        goto out;
    }
    buf[n] = '\0';
    *schema = buf;
    *len = (size_t)n;
    buf = NULL;
out:
    free(buf);
    fclose(f);
    return rc;
}

/* The registry's "message" of an error body, or "". Borrowed from j. */
static const char *sr_message(const cJSON *j)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");

    return cJSON_IsString(m) ? m->valuestring : "";
}

/* GET /schemas/ids/{id}. Call with sr->lock held. */
static int fetch_http(struct kl_sr *sr, int32_t id, char **schema, size_t *len,
                      char *err, size_t errsz)
{
    char url[4096];
    const cJSON *s;
    cJSON *j = NULL;
    long status = 0;
    int rc;

    snprintf(url, sizeof url, "%s/schemas/ids/%" PRId32, sr->url, id);
    rc = kl_http_request(sr->http, "GET", url, NULL, NULL, 0, &status,
                         &sr->resp, err, errsz);
    if (rc)
        return rc;
    j = cJSON_ParseWithLength(sr->resp.data ? sr->resp.data : "", sr->resp.len);
    if (status == 404) {
        snprintf(err, errsz, "schema id %" PRId32 " is not in the registry at "
                 "%s (404%s%.200s)", id, sr->shown, j ? ": " : "",
                 j ? sr_message(j) : "");
        rc = KL_SR_NOT_FOUND;
        goto out;
    }
    if (status != 200) {
        snprintf(err, errsz, "schema registry %s: GET /schemas/ids/%" PRId32
                 " answered %ld%s%.200s", sr->shown, id, status,
                 j ? ": " : "", j ? sr_message(j) : "");
        rc = KL_EIO;
        goto out;
    }
    s = cJSON_GetObjectItemCaseSensitive(j, "schema");
    if (!cJSON_IsString(s)) {
        snprintf(err, errsz, "schema registry %s: GET /schemas/ids/%" PRId32
                 ": the answer has no \"schema\" string", sr->shown, id);
        rc = KL_EIO;
        goto out;
    }
    if (!(*schema = strdup(s->valuestring))) {
        snprintf(err, errsz, "schema registry: out of memory");
        rc = KL_ENOMEM;
        goto out;
    }
    *len = strlen(*schema);
out:
    cJSON_Delete(j);
    return rc;
}

/* Contract in schema_registry.h. */
int kl_sr_fetch(struct kl_sr *sr, int32_t id, char **schema, size_t *len,
                char *err, size_t errsz)
{
    int rc = KL_SR_NOT_FOUND;

    *schema = NULL;
    *len = 0;
    if (id < 0) {
        snprintf(err, errsz, "schema id %" PRId32 " is negative", id);
        return KL_SR_NOT_FOUND;
    }
    pthread_mutex_lock(&sr->lock);
    if (sr->dir)
        rc = fetch_file(sr, id, schema, len, err, errsz);
    if (rc == KL_SR_NOT_FOUND && sr->url)
        rc = fetch_http(sr, id, schema, len, err, errsz);
    pthread_mutex_unlock(&sr->lock);
    return rc;
}

/* Contract in schema_registry.h. */
int kl_sr_register(struct kl_sr *sr, const char *subject, const char *schema,
                   int32_t *id, char *err, size_t errsz)
{
    char url[4096], *body = NULL;
    const cJSON *jid;
    cJSON *req = NULL, *j = NULL;
    long status = 0;
    size_t i, n;
    int rc = KL_OK;

    *id = -1;
    if (!sr->url) {
        snprintf(err, errsz, "registering a schema needs schema.registry.url");
        return KL_EINVAL;
    }
    /* the subject goes into the path: keep to what topic names may hold */
    for (i = 0; subject[i]; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789._-", subject[i])) {
            snprintf(err, errsz, "subject '%.200s' holds a character that is "
                                 "not [A-Za-z0-9._-]", subject);
            return KL_EINVAL;
        }
    n = snprintf(url, sizeof url, "%s/subjects/%s/versions", sr->url, subject);
    if (n >= sizeof url) {
        snprintf(err, errsz, "subject '%.200s' is too long", subject);
        return KL_EINVAL;
    }
    if (!(req = cJSON_CreateObject()) ||
        !cJSON_AddStringToObject(req, "schema", schema) ||
        !(body = cJSON_PrintUnformatted(req))) {
        snprintf(err, errsz, "schema registry: out of memory");
        rc = KL_ENOMEM;
        goto out;
    }
    pthread_mutex_lock(&sr->lock);
    rc = kl_http_request(sr->http, "POST", url,
                         "application/vnd.schemaregistry.v1+json", body,
                         strlen(body), &status, &sr->resp, err, errsz);
    if (!rc)
        j = cJSON_ParseWithLength(sr->resp.data ? sr->resp.data : "",
                                  sr->resp.len);
    pthread_mutex_unlock(&sr->lock);
    if (rc)
        goto out;
    if (status != 200) {
        snprintf(err, errsz, "schema registry %s: POST /subjects/%s/versions "
                 "answered %ld%s%.200s", sr->shown, subject, status,
                 j ? ": " : "", j ? sr_message(j) : "");
        rc = KL_EIO;
        goto out;
    }
    jid = cJSON_GetObjectItemCaseSensitive(j, "id");
    if (!cJSON_IsNumber(jid) || jid->valuedouble < 0 ||
        jid->valuedouble > 2147483647.0) {
        snprintf(err, errsz, "schema registry %s: POST /subjects/%s/versions: "
                 "no id in the answer", sr->shown, subject);
        rc = KL_EIO;
        goto out;
    }
    *id = (int32_t)jid->valuedouble;
out:
    cJSON_Delete(j);
    cJSON_Delete(req);
    free(body);
    return rc;
}
