/*
 * Raw text codec (plugin/codec.h, input.format=raw): the whole message
 * value is the text of one event. The id is the message key, or
 * "topic/partition/offset" when there is none; the event time is the
 * record timestamp. Nothing else is parsed, so the checks are few: a
 * tombstone has no text, the value must fit input.max.bytes, be valid
 * UTF-8 without NUL bytes and hold more than white space.
 */
#include "codec.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "str.h"

#define KL_RAW_MAX_BYTES_DEFAULT 1048576

/* Contract in codec.h. */
int kl_raw_decode_event(const struct kl_raw_opts *o, const struct kl_msg *m,
                        struct kl_event *ev, char *err, size_t errsz)
{
    size_t max = o && o->max_bytes ? o->max_bytes : KL_RAW_MAX_BYTES_DEFAULT;
    const char *v;
    size_t bad = 0;
    char coord[64];
    int rc = KL_DEC_OK;

    if (!m || !ev) {
        snprintf(err, errsz, "kl_raw_decode_event: NULL argument");
        return KL_EINVAL;
    }
    kl_event_fini(ev);
    v = m->value;
    if (!v) {
        snprintf(err, errsz, "the value is null (a tombstone): no text");
        return KL_DEC_MISSING_TEXT;
    }
    if (m->value_len > max) {
        snprintf(err, errsz, "value is %zu bytes, input.max.bytes is %zu",
                 m->value_len, max);
        return KL_DEC_OVERSIZE;
    }
    if (kl_utf8_validate(v, m->value_len, &bad) != 0) {
        snprintf(err, errsz, "invalid UTF-8 at byte %zu", bad);
        return KL_DEC_UTF8;
    }
    if (memchr(v, '\0', m->value_len)) {
        snprintf(err, errsz, "a NUL byte at byte %zu",
                 (size_t)((const char *)memchr(v, '\0', m->value_len) - v));
        return KL_DEC_UTF8;
    }
    if (kl_text_is_blank(v, m->value_len)) {
        snprintf(err, errsz, "the text is %s",
                 m->value_len ? "only white space" : "empty");
        return KL_DEC_EMPTY_TEXT;
    }
    if (m->key) {
        if (m->key_len > KL_EVENT_ID_MAX) {
            snprintf(err, errsz, "the key (the id) is %zu bytes, at most %d allowed",
                     m->key_len, KL_EVENT_ID_MAX);
            return KL_DEC_BAD_FIELD;
        }
        if (kl_utf8_validate(m->key, m->key_len, &bad) != 0 ||
            memchr(m->key, '\0', m->key_len)) {
            snprintf(err, errsz, "the key (the id) is not NUL-free UTF-8");
            return KL_DEC_BAD_FIELD;
        }
        ev->id = kl_str_dup_n(m->key, m->key_len);
        ev->id_len = m->key_len;
    } else {
        snprintf(coord, sizeof coord, "/%" PRId32 "/%" PRId64, m->partition,
                 m->offset);
        ev->id_len = strlen(m->topic ? m->topic : "") + strlen(coord);
        if (ev->id_len > KL_EVENT_ID_MAX)
            ev->id_len = 0; /* a topic name is at most 249 bytes: cannot happen */
        else if ((ev->id = malloc(ev->id_len + 1)) != NULL)
            snprintf(ev->id, ev->id_len + 1, "%s%s", m->topic ? m->topic : "", coord);
    }
    ev->text = kl_str_dup_n(v, m->value_len);
    ev->text_len = m->value_len;
    ev->ts_ms = m->ts_ms >= 0 ? m->ts_ms : -1;
    if (!ev->text || (ev->id_len && !ev->id)) {
        snprintf(err, errsz, "out of memory");
        rc = KL_ENOMEM;
        kl_event_fini(ev);
    }
    return rc;
}
