/*
 * Codecs: input bytes -> struct kl_event, and a labeled result -> output
 * bytes. This version: JSON in (cJSON, configurable field names), JSON out.
 * Input is untrusted: every length is bounded, text must be valid UTF-8.
 */
#ifndef KL_PLUGIN_CODEC_H
#define KL_PLUGIN_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "klabel/engine.h"
#include "klabel/event.h"
#include "buf.h"

/* Why an input could not be decoded; names are stable (they go into the
 * dead-letter headers). */
enum kl_decode_error {
    KL_DEC_OK = 0,
    KL_DEC_OVERSIZE,      /* "oversize": value longer than max_bytes */
    KL_DEC_MALFORMED,     /* "malformed": not parseable JSON / not an object */
    KL_DEC_UTF8,          /* "invalid_utf8" */
    KL_DEC_MISSING_TEXT,  /* "missing_text": no text field, or not a string */
    KL_DEC_EMPTY_TEXT,    /* "empty_text" */
    KL_DEC_BAD_FIELD      /* "bad_field": id/kind/ts of the wrong type or too long */
};
const char *kl_decode_error_name(int e);

struct kl_json_opts {
    const char *field_id;    /* default "id" */
    const char *field_text;  /* default "text" */
    const char *field_kind;  /* default "kind" */
    const char *field_ts;    /* default "ts" */
    size_t max_bytes;        /* largest accepted value */
};

/* Decodes one JSON event into ev (which must be init'ed; its previous
 * content is freed). Field names may be dotted paths ("payload.text").
 * The id may be a string or an integer; ts an integer (ms) or absent.
 * Returns KL_DEC_OK or a kl_decode_error, with a bounded reason in err. */
int kl_json_decode_event(const struct kl_json_opts *o, const void *buf,
                         size_t len, struct kl_event *ev, char *err,
                         size_t errsz);

/* Where an event came from (for the result's "source" object). */
struct kl_source {
    const char *topic;
    int32_t partition;
    int64_t offset;
};

/* Appends one JSON result to out:
 * {"id":..,"label":..,"score":..,"top":[{"label":..,"score":..},..],
 *  "model":{"id":..,"version":..},
 *  "source":{"topic":..,"partition":..,"offset":..},"ts":..}
 * The id keeps its JSON type (number or string); "ts" is the input event
 * time when known. A prediction with k == 0 gives "label":null,"score":0.
 * Returns 0 or KL_ENOMEM. */
int kl_json_encode_result(const struct kl_event *ev,
                          const struct kl_prediction *p,
                          const struct kl_model_info *mi,
                          const struct kl_source *src, struct kl_buf *out);

#endif
