/*
 * Avro input codec (plugin/codec_avro.h): Confluent framing, the writer
 * schema of the id (codec_avro_cache.c), the bounded scan
 * (codec_avro_scan.c), then avro_value_read() and the same field checks
 * as the JSON codec.
 */
#include "codec_avro_priv.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "str.h"

/* Follows a union to its current branch. */
static int unwrap(avro_value_t *v)
{
    avro_value_t b;

    while (avro_value_get_type(v) == AVRO_UNION) {
        if (avro_value_get_current_branch(v, &b) != 0)
            return -1;
        *v = b;
    }
    return 0;
}

/* The value at p, unwrapped; *found = 0 when the writer lacks the field or
 * a record on the way is null. Returns 0 or -1. */
static int walk(const struct path *p, avro_value_t *root, avro_value_t *out,
                int *found)
{
    avro_value_t cur = *root, child;
    int i;

    *found = 0;
    if (!p->found)
        return 0;
    for (i = 0; i < p->n; i++) {
        if (unwrap(&cur))
            return -1;
        if (avro_value_get_type(&cur) != AVRO_RECORD)
            return 0;
        if (avro_value_get_by_index(&cur, p->idx[i], &child, NULL) != 0)
            return -1;
        cur = child;
    }
    if (unwrap(&cur))
        return -1;
    *out = cur;
    *found = avro_value_get_type(&cur) != AVRO_NULL;
    return 0;
}

static const char *type_word(avro_type_t t)
{
    switch (t) {
    case AVRO_STRING: return "a string";
    case AVRO_BYTES: return "bytes";
    case AVRO_INT32: return "an int";
    case AVRO_INT64: return "a long";
    case AVRO_FLOAT: return "a float";
    case AVRO_DOUBLE: return "a double";
    case AVRO_BOOLEAN: return "a boolean";
    case AVRO_NULL: return "null";
    case AVRO_RECORD: return "a record";
    case AVRO_ENUM: return "an enum";
    case AVRO_FIXED: return "a fixed";
    case AVRO_MAP: return "a map";
    case AVRO_ARRAY: return "an array";
    default: return "another type";
    }
}

/* A string field (text, id, kind): *s / *n, or the class of the failure. */
static int get_str(avro_value_t *v, const char *field, const char **s,
                   size_t *n, char *err, size_t errsz)
{
    size_t size = 0;
    size_t bad;

    if (avro_value_get_string(v, s, &size) != 0 || size == 0) {
        snprintf(err, errsz, "field '%s': cannot read the string", field);
        return KL_DEC_BAD_AVRO;
    }
    *n = size - 1; /* Avro-C counts the NUL it adds */
    if (kl_utf8_validate(*s, *n, &bad) != 0) {
        snprintf(err, errsz, "field '%s' is not valid UTF-8 at byte %zu", field,
                 bad);
        return KL_DEC_UTF8;
    }
    return KL_DEC_OK;
}

/* Fills ev from the datum in en->value. */
static int extract(struct kl_avro_dec *d, struct entry *en,
                   struct kl_event *ev, char *err, size_t errsz)
{
    avro_value_t v[F_N];
    int found[F_N], f, rc;
    const char *text = NULL, *id = NULL, *kind = NULL;
    size_t tlen = 0, idlen = 0, klen = 0;
    char idnum[32];
    avro_type_t t;

    for (f = 0; f < F_N; f++)
        if (walk(&en->path[f], &en->value, &v[f], &found[f]) != 0) {
            snprintf(err, errsz, "field '%s': cannot read it", d->field[f]);
            return KL_DEC_BAD_AVRO;
        }
    /* text */
    if (!en->path[F_TEXT].found) {
        snprintf(err, errsz, "writer schema %" PRId32 " has no field '%s'",
                 en->id, d->field[F_TEXT]);
        return KL_DEC_MISSING_TEXT;
    }
    if (!found[F_TEXT] || avro_value_get_type(&v[F_TEXT]) != AVRO_STRING) {
        snprintf(err, errsz, "field '%s' is %s, not a string", d->field[F_TEXT],
                 found[F_TEXT] ? type_word(avro_value_get_type(&v[F_TEXT]))
                               : "null");
        return KL_DEC_MISSING_TEXT;
    }
    if ((rc = get_str(&v[F_TEXT], d->field[F_TEXT], &text, &tlen, err, errsz)))
        return rc;
    if (memchr(text, '\0', tlen)) {
        snprintf(err, errsz, "field '%s' contains a NUL character", d->field[F_TEXT]);
        return KL_DEC_UTF8;
    }
    /* id and kind: invalid UTF-8 is found before an empty text, as in JSON */
    if (found[F_ID] && avro_value_get_type(&v[F_ID]) == AVRO_STRING &&
        (rc = get_str(&v[F_ID], d->field[F_ID], &id, &idlen, err, errsz)))
        return rc;
    if (found[F_KIND] && avro_value_get_type(&v[F_KIND]) == AVRO_STRING &&
        (rc = get_str(&v[F_KIND], d->field[F_KIND], &kind, &klen, err, errsz)))
        return rc;
    if (kl_text_is_blank(text, tlen)) {
        snprintf(err, errsz, "field '%s' is %s", d->field[F_TEXT],
                 tlen ? "only white space" : "empty");
        return KL_DEC_EMPTY_TEXT;
    }
    /* id */
    if (found[F_ID]) {
        t = avro_value_get_type(&v[F_ID]);
        if (t == AVRO_INT32 || t == AVRO_INT64) {
            int64_t x = 0;
            int32_t x32 = 0;

            if (t == AVRO_INT32) {
                avro_value_get_int(&v[F_ID], &x32);
                x = x32;
            } else {
                avro_value_get_long(&v[F_ID], &x);
            }
            snprintf(idnum, sizeof idnum, "%" PRId64, x);
            id = idnum;
            idlen = strlen(idnum);
            ev->id_is_number = 1;
        } else if (t != AVRO_STRING) {
            snprintf(err, errsz, "field '%s' is %s, not a string, int or long",
                     d->field[F_ID], type_word(t));
            return KL_DEC_BAD_FIELD;
        } else if (idlen > KL_EVENT_ID_MAX || memchr(id, '\0', idlen)) {
            snprintf(err, errsz, "field '%s' is %zu bytes (at most %d) or holds a NUL",
                     d->field[F_ID], idlen, KL_EVENT_ID_MAX);
            return KL_DEC_BAD_FIELD;
        }
    }
    /* kind */
    if (found[F_KIND]) {
        t = avro_value_get_type(&v[F_KIND]);
        if (t == AVRO_ENUM) {
            int sym = 0;
            avro_schema_t es = avro_value_get_schema(&v[F_KIND]);

            while (es && avro_typeof(es) == AVRO_LINK)
                es = avro_schema_link_target(es);
            avro_value_get_enum(&v[F_KIND], &sym);
            kind = avro_schema_enum_get(es, sym);
            klen = kind ? strlen(kind) : 0;
        } else if (t != AVRO_STRING) {
            snprintf(err, errsz, "field '%s' is %s, not a string or an enum",
                     d->field[F_KIND], type_word(t));
            return KL_DEC_BAD_FIELD;
        }
        if (!kind || klen > KL_EVENT_KIND_MAX || memchr(kind, '\0', klen)) {
            snprintf(err, errsz, "field '%s' is %zu bytes (at most %d) or holds a NUL",
                     d->field[F_KIND], klen, KL_EVENT_KIND_MAX);
            return KL_DEC_BAD_FIELD;
        }
    }
    /* ts */
    if (found[F_TS]) {
        int64_t ts = 0;
        int32_t ts32 = 0;

        t = avro_value_get_type(&v[F_TS]);
        if (t == AVRO_INT32) {
            avro_value_get_int(&v[F_TS], &ts32);
            ts = ts32;
        } else if (t == AVRO_INT64) {
            avro_value_get_long(&v[F_TS], &ts);
        } else {
            snprintf(err, errsz, "field '%s' is %s, not a long (ms since the epoch)",
                     d->field[F_TS], type_word(t));
            return KL_DEC_BAD_FIELD;
        }
        if (ts < 0) {
            snprintf(err, errsz, "field '%s' is negative", d->field[F_TS]);
            return KL_DEC_BAD_FIELD;
        }
        ev->ts_ms = ts;
    }
    ev->text = kl_str_dup_n(text, tlen);
    ev->text_len = tlen;
    if (id) {
        ev->id = kl_str_dup_n(id, idlen);
        ev->id_len = idlen;
    }
    if (kind) {
        ev->kind = kl_str_dup_n(kind, klen);
        ev->kind_len = klen;
    }
    if (!ev->text || (id && !ev->id) || (kind && !ev->kind)) {
        snprintf(err, errsz, "out of memory");
        return KL_ENOMEM;
    }
    return KL_DEC_OK;
}

/* Contract in codec_avro.h. */
int kl_avro_decode_event(struct kl_avro_dec *d, const void *buf, size_t len,
                         struct kl_event *ev, char *err, size_t errsz)
{
    const uint8_t *b = buf;
    struct entry *en = NULL;
    int32_t id;
    int rc;

    if (!d || !ev || (!buf && len)) {
        snprintf(err, errsz, "kl_avro_decode_event: NULL argument");
        return KL_EINVAL;
    }
    kl_event_fini(ev);
    if (len > d->max_bytes) {
        snprintf(err, errsz, "value is %zu bytes, input.max.bytes is %zu", len,
                 d->max_bytes);
        return KL_DEC_OVERSIZE;
    }
    if (len < KL_AVRO_HEADER || b[0] != 0) {
        if (len < KL_AVRO_HEADER)
            snprintf(err, errsz, "value is %zu bytes, shorter than the 5-byte "
                     "Confluent header (magic byte 0 + schema id)", len);
        else
            snprintf(err, errsz, "magic byte is 0x%02x, not 0 (Confluent wire "
                     "format)", b[0]);
        return KL_DEC_BAD_FRAMING;
    }
    id = (int32_t)(((uint32_t)b[1] << 24) | ((uint32_t)b[2] << 16) |
                   ((uint32_t)b[3] << 8) | b[4]);
    rc = kl_avro_dec_lookup(d, id, &en, err, errsz);
    if (rc)
        return rc;
    if (en->state == ST_UNKNOWN) {
        snprintf(err, errsz, "%s", en->why);
        return KL_DEC_UNKNOWN_SCHEMA;
    }
    if (en->state == ST_BAD) {
        snprintf(err, errsz, "%s", en->why);
        return KL_DEC_BAD_AVRO;
    }
    if (kl_avro_scan(en->schema, b + KL_AVRO_HEADER, len - KL_AVRO_HEADER, err,
                     errsz) != 0)
        return KL_DEC_BAD_AVRO;
    avro_reader_memory_set_source(d->reader, (const char *)b + KL_AVRO_HEADER,
                                  (int64_t)(len - KL_AVRO_HEADER));
    avro_value_reset(&en->value);
    if (avro_value_read(d->reader, &en->value) != 0) {
        snprintf(err, errsz, "schema %" PRId32 ": %.160s", id, avro_strerror());
        return KL_DEC_BAD_AVRO;
    }
    rc = extract(d, en, ev, err, errsz);
    if (rc != KL_DEC_OK)
        kl_event_fini(ev);
    return rc;
}
