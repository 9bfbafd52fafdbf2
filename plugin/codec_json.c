/*
 * JSON input codec (plugin/codec.h): one input value -> struct kl_event
 * (the results are written by codec_json_out.c).
 *
 * Input is untrusted. Checks run in a fixed order and the first failure
 * names the dead-letter reason: oversize, malformed, missing_text,
 * invalid_utf8, empty_text, bad_field. cJSON neither validates UTF-8 nor
 * keeps the text of number literals, and it turns "\u0000" into a NUL that
 * silently cuts a C string short; so this file also scans the raw bytes
 * (strict JSON control characters, \u0000 escapes) and can find the raw
 * literal of any parsed value by its place in document order. Flat,
 * well-formed events with good fields are decoded first by a one-pass
 * fast path (codec_json_fast.c) that hands everything else here.
 */
#include "codec.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_json_fast.h"
#include "numfmt.h"
#include "str.h"

#define KL_JSON_MAX_BYTES_DEFAULT 1048576
#define KL_JSON_STACK_COPY 4096 /* inputs shorter than this are copied on the stack */

/* One decode in progress. */
struct dec {
    const char *raw;    /* NUL-terminated copy of the input, (len) bytes */
    size_t len;
    const cJSON *root;
    size_t nul_escapes; /* "\u0000" escapes anywhere in the input */
};

/* Stable names of enum kl_decode_error (dead-letter header values).
 * Static strings; never NULL. */
const char *kl_decode_error_name(int e)
{
    switch (e) {
    case KL_DEC_OK: return "ok";
    case KL_DEC_OVERSIZE: return "oversize";
    case KL_DEC_MALFORMED: return "malformed";
    case KL_DEC_UTF8: return "invalid_utf8";
    case KL_DEC_MISSING_TEXT: return "missing_text";
    case KL_DEC_EMPTY_TEXT: return "empty_text";
    case KL_DEC_BAD_FIELD: return "bad_field";
    case KL_DEC_BAD_AVRO: return "bad_avro";
    case KL_DEC_UNKNOWN_SCHEMA: return "unknown_schema_id";
    case KL_DEC_BAD_FRAMING: return "bad_framing";
    case KL_DEC_NO_ROUTE: return "no_route";
    }
    return "unknown";
}

static const char *type_name(const cJSON *it)
{
    if (cJSON_IsNull(it)) return "null";
    if (cJSON_IsBool(it)) return "a boolean";
    if (cJSON_IsNumber(it)) return "a number";
    if (cJSON_IsString(it)) return "a string";
    if (cJSON_IsArray(it)) return "an array";
    if (cJSON_IsObject(it)) return "an object";
    return "invalid";
}

/* Checks what cJSON lets through but JSON (RFC 8259) forbids: raw control
 * characters inside strings, and anything but space, tab, CR and LF below
 * 0x20 outside them (cJSON skips all of those as white space; a raw NUL
 * would also cut strings short). Counts "\u0000" escapes into *nul.
 * Returns 0, or -1 with the offending offset in *bad. */
static int json_scan(const unsigned char *s, size_t n, size_t *bad,
                     size_t *nul)
{
    int in_str = 0;
    size_t i;

    *nul = 0;
    for (i = 0; i < n; i++) {
        unsigned char c = s[i];

        if (in_str) {
            if (c == '"') {
                in_str = 0;
            } else if (c < 0x20) {
                *bad = i;
                return -1;
            } else if (c == '\\') {
                if (n - i >= 6 && s[i + 1] == 'u' && !memcmp(s + i + 2, "0000", 4))
                    (*nul)++;
                i++; /* the escaped character; cJSON checks the escape */
            }
        } else if (c == '"') {
            in_str = 1;
        } else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            *bad = i;
            return -1;
        }
    }
    return 0;
}

/* Finds the idx-th string or number literal of s[0..n) in document order:
 * [*beg, *end) is the literal, quotes included. s must be JSON that cJSON
 * accepted. Returns 0, or -1 if there is no such literal. */
static int literal_at(const char *s, size_t n, size_t idx, size_t *beg,
                      size_t *end)
{
    size_t i = 0, k = 0, b;

    while (i < n) {
        char c = s[i];

        if (c == '"') {
            b = i++;
            while (i < n && s[i] != '"')
                i += s[i] == '\\' ? 2 : 1;
            i = i < n ? i + 1 : n;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            b = i;
            while (i < n && s[i] && strchr("0123456789+-.eE", s[i]))
                i++;
        } else {
            i++;
            continue;
        }
        if (k++ == idx) {
            *beg = b;
            *end = i;
            return 0;
        }
    }
    return -1;
}

/* Counts, in document order, the string and number literals under node
 * (object keys included) that come before target's key (want_key) or
 * target's value. Returns 1 when target was reached. */
static int literal_index(const cJSON *node, const cJSON *target, int want_key,
                         size_t *idx)
{
    const cJSON *ch;

    for (ch = node->child; ch; ch = ch->next) {
        if (ch->string) { /* a member of an object: its key comes first */
            if (ch == target && want_key)
                return 1;
            (*idx)++;
        }
        if (cJSON_IsString(ch) || cJSON_IsNumber(ch)) {
            if (ch == target && !want_key)
                return 1;
            (*idx)++;
        } else if (cJSON_IsObject(ch) || cJSON_IsArray(ch)) {
            if (literal_index(ch, target, want_key, idx))
                return 1;
        }
    }
    return 0;
}

/* The raw literal of it's key or value. Returns 0 or -1. */
static int raw_literal(const struct dec *d, const cJSON *it, int want_key,
                       size_t *beg, size_t *end)
{
    size_t idx = 0;

    if (!literal_index(d->root, it, want_key, &idx))
        return -1;
    return literal_at(d->raw, d->len, idx, beg, end);
}

/* 1 when it's key (want_key) or string value was written with a "\u0000"
 * escape, i.e. cJSON's C string is cut short at a NUL. */
static int has_nul(const struct dec *d, const cJSON *it, int want_key)
{
    size_t b, e, i;

    if (d->nul_escapes == 0)
        return 0;
    if (raw_literal(d, it, want_key, &b, &e) != 0)
        return 1; /* cannot tell: refuse rather than guess */
    for (i = b + 1; i + 1 < e; i++) {
        if (d->raw[i] != '\\')
            continue;
        if (e - i >= 6 && d->raw[i + 1] == 'u' && !memcmp(d->raw + i + 2, "0000", 4))
            return 1;
        i++;
    }
    return 0;
}

/* The member of obj named name[0..n); the last one wins when a key
 * repeats. Keys written with a "\u0000" escape never match. */
static const cJSON *member(const struct dec *d, const cJSON *obj,
                           const char *name, size_t n)
{
    const cJSON *ch, *found = NULL;

    for (ch = obj->child; ch; ch = ch->next) {
        if (!ch->string || strncmp(ch->string, name, n) || ch->string[n])
            continue;
        if (has_nul(d, ch, 1))
            continue;
        found = ch;
    }
    return found;
}

/* Resolves a field path in obj: the whole path as one key first, then
 * each split at a dot from the left ("a.b.c" -> a / "b.c" -> ...). */
static const cJSON *resolve(const struct dec *d, const cJSON *obj,
                            const char *p, size_t n)
{
    const cJSON *r = member(d, obj, p, n), *sub;
    size_t i;

    for (i = 0; !r && i < n; i++) {
        if (p[i] != '.')
            continue;
        sub = member(d, obj, p, i);
        if (sub && cJSON_IsObject(sub))
            r = resolve(d, sub, p + i + 1, n - i - 1);
    }
    return r;
}

/* 1 when the valid UTF-8 s[0..n) holds only Unicode White_Space
 * (contract in codec.h; shared with codec_raw.c and codec_avro.c). */
int kl_text_is_blank(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;

    while (i < n) {
        unsigned cp;
        unsigned char c = s[i];

        if (c < 0x80) {
            cp = c;
            i += 1;
        } else if (c < 0xE0 && i + 1 < n) {
            cp = ((c & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu);
            i += 2;
        } else if (c < 0xF0 && i + 2 < n) {
            cp = ((c & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu);
            i += 3;
        } else {
            return 0; /* 4-byte sequences are never white space */
        }
        if (!((cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 ||
              cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
              cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
              cp == 0x3000))
            return 0;
    }
    return 1;
}

/* Writes a number id as integer text into out (at least 24 bytes): a
 * plain integer literal is taken digit for digit (exact for all of int64,
 * beyond double's 2^53), other literals ("1e3") through their value.
 * Returns 0, or -1 with a reason in why. */
static int number_id(const struct dec *d, const cJSON *it, const char *field,
                     char *out, size_t outsz, char *why, size_t whysz)
{
    size_t b, e, n, j;
    double v = it->valuedouble;
    const char *s;
    char tmp[32], *endp;
    long long x;

    if (raw_literal(d, it, 0, &b, &e) == 0) {
        s = d->raw + b;
        n = e - b;
        j = s[0] == '-';
        if (n > j && strspn(s + j, "0123456789") == n - j) { /* plain integer */
            errno = 0;
            x = 0;
            if (n < sizeof(tmp)) {
                memcpy(tmp, s, n);
                tmp[n] = '\0';
                x = strtoll(tmp, &endp, 10);
            }
            if (n >= sizeof(tmp) || errno == ERANGE || *endp) {
                kl_str_format(why, whysz,
                              "field '%s' is an integer beyond 64 bits", field);
                return -1;
            }
            if (outsz >= KL_NUMFMT_MAX)
                kl_fmt_i64(out, x); /* "-0" -> "0", as %lld */
            else
                snprintf(out, outsz, "%lld", x);
            return 0;
        }
    }
    if (!isfinite(v) || v != floor(v)) {
        kl_str_format(why, whysz, "field '%s' is a number but not an integer", field);
        return -1;
    }
    if (v < -9223372036854775808.0 || v >= 9223372036854775808.0) {
        kl_str_format(why, whysz, "field '%s' is an integer beyond 64 bits", field);
        return -1;
    }
    snprintf(out, outsz, "%lld", (long long)v);
    return 0;
}

/* Checks the optional string field `it` (NULL or JSON null = absent):
 * a string of at most max bytes, valid UTF-8, without NUL. Returns 0 or
 * KL_DEC_BAD_FIELD / KL_DEC_UTF8 with a reason. */
static int check_str_field(const struct dec *d, const cJSON *it,
                           const char *field, size_t max, char *err,
                           size_t errsz)
{
    size_t n;

    if (!it || cJSON_IsNull(it))
        return 0;
    if (!cJSON_IsString(it)) {
        kl_str_format(err, errsz,
                      "field '%s' is %s, not a string", field, type_name(it));
        return KL_DEC_BAD_FIELD;
    }
    n = strlen(it->valuestring);
    if (n > max) {
        kl_str_format(err, errsz, "field '%s' is %zu bytes, at most %zu allowed", field,
                      n, max);
        return KL_DEC_BAD_FIELD;
    }
    if (has_nul(d, it, 0)) {
        kl_str_format(err, errsz,
                      "field '%s' contains a NUL character (\\u0000)", field);
        return KL_DEC_BAD_FIELD;
    }
    if (kl_utf8_validate(it->valuestring, n, NULL) != 0) {
        kl_str_format(err, errsz, "field '%s' is not valid UTF-8", field);
        return KL_DEC_UTF8;
    }
    return 0;
}

/* Decodes one JSON value into ev (init'ed; its old content is freed;
 * on failure it is left empty). See codec.h for the checks and their
 * order. A "\u0000" in the text is invalid_utf8 (text must be NUL-free
 * UTF-8); in the id or kind it is bad_field. JSON null for id, kind or ts
 * means absent. ts: a number >= 0, fractions floored. Duplicate keys: the
 * last wins. A dotted path is tried as one key first.
 * Returns KL_DEC_OK, a positive kl_decode_error (dead-letter it) or a
 * negative KL_ENOMEM / KL_EINVAL (not the input's fault). */
int kl_json_decode_event(const struct kl_json_opts *o, const void *buf,
                         size_t len, struct kl_event *ev, char *err,
                         size_t errsz)
{
    const char *f_id = o && o->field_id ? o->field_id : "id";
    const char *f_text = o && o->field_text ? o->field_text : "text";
    const char *f_kind = o && o->field_kind ? o->field_kind : "kind";
    const char *f_ts = o && o->field_ts ? o->field_ts : "ts";
    size_t max = o && o->max_bytes ? o->max_bytes : KL_JSON_MAX_BYTES_DEFAULT;
    char stack[KL_JSON_STACK_COPY], *copy = NULL, idnum[32];
    const cJSON *text, *id, *kind, *ts;
    const char *end = NULL;
    struct dec d = { NULL, 0, NULL, 0 };
    cJSON *root = NULL;
    size_t bad = 0, tlen;
    int rc = KL_DEC_OK;

    if (!ev || (!buf && len)) {
        kl_str_format(err, errsz, "kl_json_decode_event: NULL argument");
        return KL_EINVAL;
    }
    kl_event_fini(ev);
    if (len > max) {
        kl_str_format(err, errsz,
                      "value is %zu bytes, input.max.bytes is %zu", len, max);
        return KL_DEC_OVERSIZE;
    }
    {
        const char *names[4] = {f_id, f_text, f_kind, f_ts};

        rc = kl_json_decode_fast(names, buf, len, ev);
        if (rc != KL_JSON_FALLBACK) {
            if (rc == KL_ENOMEM)
                kl_str_format(err, errsz, "out of memory");
            return rc;
        }
        rc = KL_DEC_OK;
    }
    if (json_scan(buf, len, &bad, &d.nul_escapes) != 0) {
        kl_str_format(err, errsz,
                      "not valid JSON: control character 0x%02x at byte %zu",
                      ((const unsigned char *)buf)[bad], bad);
        return KL_DEC_MALFORMED;
    }
    /* A NUL-terminated copy: cJSON never reads past it, whatever the input */
    copy = len < sizeof(stack) ? stack : malloc(len + 1);
    if (!copy) {
        kl_str_format(err, errsz, "out of memory");
        return KL_ENOMEM;
    }
    if (len)
        memcpy(copy, buf, len);
    copy[len] = '\0';
    d.raw = copy;
    d.len = len;

    root = cJSON_ParseWithLengthOpts(copy, len, &end, 0);
    if (!root) {
        kl_str_format(err, errsz, "not valid JSON (error at byte %zu)",
                      end && end >= copy ? (size_t)(end - copy) : (size_t)0);
        rc = KL_DEC_MALFORMED;
        goto out;
    }
    while (end < copy + len && (*end == ' ' || *end == '\t' || *end == '\n' ||
                                *end == '\r'))
        end++;
    if (end != copy + len) {
        kl_str_format(err, errsz, "not valid JSON: trailing data at byte %zu",
                      (size_t)(end - copy));
        rc = KL_DEC_MALFORMED;
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        kl_str_format(err, errsz, "top level is %s, not an object", type_name(root));
        rc = KL_DEC_MALFORMED;
        goto out;
    }
    d.root = root;

    text = resolve(&d, root, f_text, strlen(f_text));
    if (!text) {
        kl_str_format(err, errsz, "field '%s' is missing", f_text);
        rc = KL_DEC_MISSING_TEXT;
        goto out;
    }
    if (!cJSON_IsString(text)) {
        kl_str_format(err, errsz,
                      "field '%s' is %s, not a string", f_text, type_name(text));
        rc = KL_DEC_MISSING_TEXT;
        goto out;
    }

    if (kl_utf8_validate(buf, len, &bad) != 0) {
        kl_str_format(err, errsz, "invalid UTF-8 at byte %zu", bad);
        rc = KL_DEC_UTF8;
        goto out;
    }
    tlen = strlen(text->valuestring);
    if (has_nul(&d, text, 0)) {
        kl_str_format(err, errsz,
                      "field '%s' contains a NUL character (\\u0000)", f_text);
        rc = KL_DEC_UTF8;
        goto out;
    }
    if (kl_utf8_validate(text->valuestring, tlen, &bad) != 0) {
        kl_str_format(err, errsz,
                      "field '%s' is not valid UTF-8 at byte %zu", f_text, bad);
        rc = KL_DEC_UTF8;
        goto out;
    }

    if (kl_text_is_blank(text->valuestring, tlen)) {
        kl_str_format(err, errsz, "field '%s' is %s", f_text,
                      tlen ? "only white space" : "empty");
        rc = KL_DEC_EMPTY_TEXT;
        goto out;
    }

    id = resolve(&d, root, f_id, strlen(f_id));
    kind = resolve(&d, root, f_kind, strlen(f_kind));
    ts = resolve(&d, root, f_ts, strlen(f_ts));
    if (id && cJSON_IsNumber(id)) {
        if (number_id(&d, id, f_id, idnum, sizeof(idnum), err, errsz) != 0) {
            rc = KL_DEC_BAD_FIELD;
            goto out;
        }
    } else if (id && !cJSON_IsString(id) && !cJSON_IsNull(id)) {
        kl_str_format(err, errsz, "field '%s' is %s, not a string or an integer", f_id,
                      type_name(id));
        rc = KL_DEC_BAD_FIELD;
        goto out;
    } else if ((rc = check_str_field(&d, id, f_id, KL_EVENT_ID_MAX, err, errsz))) {
        goto out;
    }
    if ((rc = check_str_field(&d, kind, f_kind, KL_EVENT_KIND_MAX, err, errsz)))
        goto out;
    if (ts && !cJSON_IsNull(ts)) {
        double v = ts->valuedouble;

        if (!cJSON_IsNumber(ts)) {
            kl_str_format(err, errsz,
                          "field '%s' is %s, not a number (ms since the epoch)",
                          f_ts, type_name(ts));
            rc = KL_DEC_BAD_FIELD;
            goto out;
        }
        if (!isfinite(v) || v < 0 || v >= 9223372036854775808.0) {
            kl_str_format(err, errsz,
                          "field '%s' is out of range (ms since the epoch, >= 0)",
                          f_ts);
            rc = KL_DEC_BAD_FIELD;
            goto out;
        }
        ev->ts_ms = (int64_t)floor(v);
    }

    ev->text = kl_str_dup_n(text->valuestring, tlen);
    ev->text_len = tlen;
    if (id && cJSON_IsNumber(id)) {
        ev->id_len = strlen(idnum);
        ev->id = kl_str_dup_n(idnum, ev->id_len);
        ev->id_is_number = 1;
    } else if (id && cJSON_IsString(id)) {
        ev->id_len = strlen(id->valuestring);
        ev->id = kl_str_dup_n(id->valuestring, ev->id_len);
    }
    if (kind && cJSON_IsString(kind)) {
        ev->kind_len = strlen(kind->valuestring);
        ev->kind = kl_str_dup_n(kind->valuestring, ev->kind_len);
    }
    if (!ev->text || (id && !cJSON_IsNull(id) && !ev->id) ||
        (kind && cJSON_IsString(kind) && !ev->kind)) {
        kl_str_format(err, errsz, "out of memory");
        rc = KL_ENOMEM;
    }
out:
    if (rc != KL_DEC_OK)
        kl_event_fini(ev);
    cJSON_Delete(root);
    if (copy != stack)
        free(copy);
    return rc;
}
