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
 * content is freed; on failure it is left empty). Field names may be
 * dotted paths ("payload.text"; the whole path as one key is tried first).
 * Checks, first failure wins: oversize (len > max_bytes; 0 = 1 MiB) ->
 * malformed (not strict JSON, trailing data, top level not an object) ->
 * missing_text (absent or not a string) -> invalid_utf8 (anywhere in the
 * input, or a "\u0000" in the text) -> empty_text (only Unicode white
 * space) -> bad_field (id not a string/integer or > KL_EVENT_ID_MAX bytes,
 * kind not a string or > KL_EVENT_KIND_MAX, ts not a number >= 0, a
 * "\u0000" in id or kind). JSON null for id, kind or ts means absent.
 * The id may be a string or an integer (kept exactly, int64 range), ts a
 * number of ms (fractions floored) or absent. Duplicate keys: last wins.
 * Returns KL_DEC_OK, a positive kl_decode_error with a bounded reason in
 * err (dead-letter the input), or negative KL_ENOMEM / KL_EINVAL (not the
 * input's fault: do not dead-letter). */
int kl_json_decode_event(const struct kl_json_opts *o, const void *buf,
                         size_t len, struct kl_event *ev, char *err,
                         size_t errsz);

/* Where an event came from (for the result's "source" object). */
struct kl_source {
    const char *topic;
    int32_t partition;
    int64_t offset;
};

/* Appends one JSON result to out (no newline):
 * {"id":..,"label":..,"score":..,"top":[{"label":..,"score":..},..],
 *  "model":{"id":..,"version":..},
 *  "source":{"topic":..,"partition":..,"offset":..},"ts":..}
 * The id keeps its JSON type (number or string; null when absent); "ts" is
 * the input event time, null when unknown. A prediction with k == 0 gives
 * "label":null,"score":0,"top":[]. Scores are "%.6g" (NaN/inf as 0); label
 * names come from mi->labels (null if out of range); "model" / "source"
 * are null when mi / src is NULL. Strings are JSON-escaped (kl_buf_json_str).
 * Nothing is appended on failure. Returns 0, KL_ENOMEM or KL_EINVAL. */
int kl_json_encode_result(const struct kl_event *ev,
                          const struct kl_prediction *p,
                          const struct kl_model_info *mi,
                          const struct kl_source *src, struct kl_buf *out);

/* kl_json_encode_result() with ,"explain":[{"token":..,"weight":..},..]
 * before the closing brace: x's items in order (weights "%.6g"); x NULL
 * gives the plain result. Nothing is appended on failure. Returns 0,
 * KL_ENOMEM or KL_EINVAL. (plugin/codec_json_explain.c) */
int kl_json_encode_result_explain(const struct kl_event *ev,
                                  const struct kl_prediction *p,
                                  const struct kl_model_info *mi,
                                  const struct kl_source *src,
                                  const struct kl_explanation *x,
                                  struct kl_buf *out);

#endif
