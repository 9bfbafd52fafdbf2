/*
 * The Avro decoder's life cycle and its cache of writer schemas by id
 * (plugin/codec_avro.h, codec_avro_priv.h): each schema is fetched once
 * from the registry client, parsed by Avro-C, given a reusable generic
 * value, and its field paths (input.field.*) resolved by name; ids the
 * registry does not know are remembered for a while; at most
 * KL_AVRO_CACHE_MAX ids are kept (the oldest goes first).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec_avro_priv.h"

static const char *const f_default[F_N] = {"id", "text", "kind", "ts"};

static int64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void entry_free(struct entry *en)
{
    if (!en)
        return;
    if (en->has_value)
        avro_value_decref(&en->value);
    if (en->iface)
        avro_value_iface_decref(en->iface);
    if (en->schema)
        avro_schema_decref(en->schema);
    free(en);
}

/* Contract in codec_avro.h. */
int kl_avro_dec_create(const struct kl_avro_dec_opts *o,
                       struct kl_avro_dec **out, char *err, size_t errsz)
{
    const char *given[F_N];
    struct kl_avro_dec *d;
    char *p, *save = NULL;
    int i, rc = KL_OK;

    *out = NULL;
    d = calloc(1, sizeof *d);
    if (!d)
        goto nomem;
    given[F_ID] = o ? o->field_id : NULL;
    given[F_TEXT] = o ? o->field_text : NULL;
    given[F_KIND] = o ? o->field_kind : NULL;
    given[F_TS] = o ? o->field_ts : NULL;
    for (i = 0; i < F_N; i++) {
        const char *f = given[i] && given[i][0] ? given[i] : f_default[i];

        if (!(d->field[i] = strdup(f)) || !(d->split[i] = strdup(f)))
            goto nomem;
        for (p = strtok_r(d->split[i], ".", &save); p;
             p = strtok_r(NULL, ".", &save)) {
            if (d->ncomp[i] == KL_AVRO_PATH_MAX) {
                snprintf(err, errsz, "field path '%s' has more than %d parts",
                         f, KL_AVRO_PATH_MAX);
                rc = KL_EINVAL;
                goto out;
            }
            d->comp[i][d->ncomp[i]++] = p;
        }
        if (!d->ncomp[i]) {
            snprintf(err, errsz, "field path '%s' is empty", f);
            rc = KL_EINVAL;
            goto out;
        }
    }
    d->max_bytes = o && o->max_bytes ? o->max_bytes : KL_AVRO_MAX_BYTES_DEFAULT;
    d->sr = o ? o->sr : NULL;
    d->unknown_retry_us = 1000 * (o && o->unknown_retry_ms > 0
                                      ? o->unknown_retry_ms
                                      : KL_AVRO_UNKNOWN_RETRY_MS);
    d->reader = avro_reader_memory("", 0);
    d->e = calloc(KL_AVRO_CACHE_MAX, sizeof *d->e);
    if (!d->reader || !d->e)
        goto nomem;
    *out = d;
    d = NULL;
    goto out;
nomem:
    snprintf(err, errsz, "avro: out of memory");
    rc = KL_ENOMEM;
out:
    kl_avro_dec_destroy(d);
    return rc;
}

/* Contract in codec_avro.h. */
void kl_avro_dec_destroy(struct kl_avro_dec *d)
{
    size_t i;

    if (!d)
        return;
    for (i = 0; i < d->n; i++)
        entry_free(d->e[i]);
    free(d->e);
    for (i = 0; i < F_N; i++) {
        free(d->field[i]);
        free(d->split[i]);
    }
    if (d->reader)
        avro_reader_free(d->reader);
    free(d);
}

/* sc with links followed and, for a union, its one record branch (NULL if
 * it has none or several). */
static avro_schema_t record_of(avro_schema_t sc)
{
    avro_schema_t r = NULL, b;
    size_t i, n;
    int guard = 0;

    while (sc && avro_typeof(sc) == AVRO_LINK && guard++ < 64)
        sc = avro_schema_link_target(sc);
    if (!sc)
        return NULL;
    if (avro_typeof(sc) == AVRO_RECORD)
        return sc;
    if (avro_typeof(sc) != AVRO_UNION)
        return NULL;
    n = avro_schema_union_size(sc);
    for (i = 0; i < n; i++) {
        b = avro_schema_union_branch(sc, (int)i);
        guard = 0;
        while (b && avro_typeof(b) == AVRO_LINK && guard++ < 64)
            b = avro_schema_link_target(b);
        if (b && avro_typeof(b) == AVRO_RECORD) {
            if (r)
                return NULL;
            r = b;
        }
    }
    return r;
}

/* Resolves field path f in the writer's root record. */
static void resolve(struct kl_avro_dec *d, int f, avro_schema_t root,
                    struct path *p)
{
    avro_schema_t cur = root;
    int i, idx;

    memset(p, 0, sizeof *p);
    for (i = 0; i < d->ncomp[f]; i++) {
        cur = record_of(cur);
        if (!cur)
            return;
        idx = avro_schema_record_field_get_index(cur, d->comp[f][i]);
        if (idx < 0)
            return;
        p->idx[i] = idx;
        cur = avro_schema_record_field_get_by_index(cur, idx);
    }
    p->n = d->ncomp[f];
    p->found = 1;
}

/* Adds en to the cache (evicting the oldest when full). */
static void cache_put(struct kl_avro_dec *d, struct entry *en)
{
    size_t i;

    for (i = 0; i < d->n; i++) {
        if (d->e[i]->id == en->id) {
            entry_free(d->e[i]);
            memmove(d->e + i, d->e + i + 1, (d->n - i - 1) * sizeof *d->e);
            d->n--;
            break;
        }
    }
    if (d->n == KL_AVRO_CACHE_MAX) {
        entry_free(d->e[0]);
        memmove(d->e, d->e + 1, (d->n - 1) * sizeof *d->e);
        d->n--;
    }
    d->e[d->n++] = en;
}

/* A new entry for id from schema text: ST_OK, or ST_BAD with the reason
 * when Avro-C cannot parse it or it is not a record. NULL: no memory. */
static struct entry *entry_from_json(struct kl_avro_dec *d, int32_t id,
                                     const char *json, size_t len)
{
    struct entry *en = calloc(1, sizeof *en);
    avro_schema_t root;
    int f;

    if (!en)
        return NULL;
    en->id = id;
    en->state = ST_BAD;
    if (avro_schema_from_json_length(json, len, &en->schema) != 0) {
        en->schema = NULL;
        snprintf(en->why, sizeof en->why, "writer schema %" PRId32
                 " does not parse: %.120s", id, avro_strerror());
        return en;
    }
    root = en->schema;
    while (root && avro_typeof(root) == AVRO_LINK)
        root = avro_schema_link_target(root);
    if (!root || avro_typeof(root) != AVRO_RECORD) {
        snprintf(en->why, sizeof en->why, "writer schema %" PRId32 " is a %s, "
                 "not a record", id, avro_schema_type_name(en->schema));
        return en;
    }
    en->iface = avro_generic_class_from_schema(en->schema);
    if (!en->iface) {
        snprintf(en->why, sizeof en->why, "writer schema %" PRId32 ": %.120s",
                 id, avro_strerror());
        return en;
    }
    if (avro_generic_value_new(en->iface, &en->value) != 0) {
        entry_free(en);
        return NULL;
    }
    en->has_value = 1;
    for (f = 0; f < F_N; f++)
        resolve(d, f, root, &en->path[f]);
    en->state = ST_OK;
    return en;
}

/* Contract in codec_avro.h. */
int kl_avro_dec_add_schema(struct kl_avro_dec *d, int32_t id,
                           const char *json, size_t len, char *err,
                           size_t errsz)
{
    struct entry *en = entry_from_json(d, id, json, len);

    if (!en) {
        snprintf(err, errsz, "avro: out of memory");
        return KL_ENOMEM;
    }
    if (en->state != ST_OK) {
        snprintf(err, errsz, "%s", en->why);
        entry_free(en);
        return KL_EFORMAT;
    }
    cache_put(d, en);
    return KL_OK;
}

/* Contract in codec_avro_priv.h. */
int kl_avro_dec_lookup(struct kl_avro_dec *d, int32_t id, struct entry **out,
                       char *err, size_t errsz)
{
    struct entry *en = NULL;
    char *json = NULL;
    size_t i, len = 0;
    int rc;

    for (i = d->n; i-- > 0;) {
        if (d->e[i]->id != id)
            continue;
        en = d->e[i];
        if (en->state != ST_UNKNOWN || now_us() < en->retry_us) {
            *out = en;
            return KL_OK;
        }
        break; /* an unknown id whose time to ask again has come */
    }
    if (!d->sr) {
        rc = KL_SR_NOT_FOUND;
        snprintf(err, errsz, "schema id %" PRId32 " is unknown (no registry)", id);
    } else {
        rc = kl_sr_fetch(d->sr, id, &json, &len, err, errsz);
    }
    if (rc < 0)
        return rc; /* the registry's fault: nothing cached, asked again next time */
    if (rc == KL_SR_NOT_FOUND) {
        if (!(en = calloc(1, sizeof *en)))
            goto nomem;
        en->id = id;
        en->state = ST_UNKNOWN;
        en->retry_us = now_us() + d->unknown_retry_us;
        snprintf(en->why, sizeof en->why, "%s", err);
    } else if (!(en = entry_from_json(d, id, json, len))) {
        goto nomem;
    }
    free(json);
    cache_put(d, en);
    *out = en;
    return KL_OK;
nomem:
    free(json);
    snprintf(err, errsz, "avro: out of memory");
    return KL_ENOMEM;
}
