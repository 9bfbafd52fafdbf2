/*
 * Codecs: input bytes -> struct kl_event, and a labeled result -> output
 * bytes. Input: JSON (cJSON, configurable field names; codec_json.c), Avro
 * with the Confluent wire format (codec_avro.c, schemas from a folder or a
 * Schema Registry) and raw UTF-8 text (codec_raw.c). Output: JSON or Avro
 * (schemas/label_result.avsc; codec_avro_out.c). codec.c picks them by
 * input.format / output.format (struct kl_decoder / kl_encoder).
 * Input is untrusted: every length is bounded, text must be valid UTF-8.
 */
#ifndef KL_PLUGIN_CODEC_H
#define KL_PLUGIN_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "klabel/engine.h"
#include "klabel/event.h"
#include "klabel/transport.h"
#include "buf.h"

struct kl_config; /* plugin/config.h */

/* Why an input could not be decoded; names are stable (they go into the
 * dead-letter headers). */
enum kl_decode_error {
    KL_DEC_OK = 0,
    KL_DEC_OVERSIZE,      /* "oversize": value longer than max_bytes */
    KL_DEC_MALFORMED,     /* "malformed": not parseable JSON / not an object */
    KL_DEC_UTF8,          /* "invalid_utf8" */
    KL_DEC_MISSING_TEXT,  /* "missing_text": no text field, or not a string */
    KL_DEC_EMPTY_TEXT,    /* "empty_text" */
    KL_DEC_BAD_FIELD,     /* "bad_field": id/kind/ts of the wrong type or too long */
    KL_DEC_BAD_AVRO,      /* "bad_avro": not one datum of the writer schema */
    KL_DEC_UNKNOWN_SCHEMA,/* "unknown_schema_id": no such schema in the registry */
    KL_DEC_BAD_FRAMING,   /* "bad_framing": not the Confluent wire format (magic 0) */
    KL_DEC_NO_ROUTE       /* "no_route": no model serves the event (the stage's router) */
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

/* The room kl_json_encode_result() makes in out before it writes (ev and p
 * not NULL): a bound of what it appends, NUL excluded. For tests. */
size_t kl_json_result_room(const struct kl_event *ev,
                           const struct kl_prediction *p,
                           const struct kl_model_info *mi,
                           const struct kl_source *src);

/* Output options shared by the encoders. */
struct kl_result_opts {
    int include_text;  /* output.include.text: copy the input text in "text" */
    int omit_top;      /* JSON: no "top" (model.top.k = 1, where it would
                        * only repeat "label" and "score"); Avro results
                        * always carry it (a required field) */
};

/* kl_json_encode_result() with, when ro && ro->include_text, a "text"
 * member with the event's text, then, when x is not NULL,
 * ,"explain":[{"token":..,"weight":..},..]: x's items in order (weights
 * "%.6g"); without "top" when ro && ro->omit_top. ro NULL = no options.
 * Nothing is appended on failure. Returns 0, KL_ENOMEM or KL_EINVAL.
 * (plugin/codec_json_out.c) */
int kl_json_encode_result_opts(const struct kl_event *ev,
                               const struct kl_prediction *p,
                               const struct kl_model_info *mi,
                               const struct kl_source *src,
                               const struct kl_explanation *x,
                               const struct kl_result_opts *ro,
                               struct kl_buf *out);

/* ------------------------------------------------------------ raw text */

struct kl_raw_opts {
    size_t max_bytes;        /* largest accepted value; 0 = 1 MiB */
};

/* Decodes m's whole value as the text of one event (input.format=raw) into
 * ev (init'ed; old content freed; left empty on failure). The id is the
 * key when there is one, else "topic/partition/offset"; ts is the record
 * timestamp (-1 if none); kind is absent. Checks, first failure wins:
 * missing_text (a tombstone: value NULL) -> oversize -> invalid_utf8 (or a
 * NUL byte) -> empty_text (only white space) -> bad_field (key not valid
 * UTF-8, holding a NUL, or > KL_EVENT_ID_MAX bytes). Returns KL_DEC_OK, a
 * positive kl_decode_error with a reason in err, or KL_ENOMEM / KL_EINVAL.
 * (plugin/codec_raw.c) */
int kl_raw_decode_event(const struct kl_raw_opts *o, const struct kl_msg *m,
                        struct kl_event *ev, char *err, size_t errsz);

/* 1 when the valid UTF-8 s[0..n) holds only Unicode White_Space (an empty
 * string too). (plugin/codec_json.c) */
int kl_text_is_blank(const char *s, size_t n);

/* ------------------------------------------------------------ dispatch */

struct kl_decoder; /* opaque; used from one thread at a time */
struct kl_encoder; /* opaque; used from one thread at a time */

/* Creates the decoder that input.format names (json, avro, raw), with the
 * input.field.* paths, input.max.bytes and, for avro, schema.registry.*
 * (the registry is not contacted here). cfg is read during the call only.
 * On success *out is caller-owned: kl_decoder_destroy(). Returns 0,
 * KL_EINVAL (bad setting, reason in err) or KL_ENOMEM. */
int kl_decoder_create(const struct kl_config *cfg, struct kl_decoder **out,
                      char *err, size_t errsz);

/* Decodes message m into ev (init'ed; old content freed; left empty on
 * failure). Returns KL_DEC_OK; a positive kl_decode_error with a bounded
 * reason in err (dead-letter the message, the stage goes on); or a
 * negative code that is not the message's fault (KL_ENOMEM, or KL_EIO when
 * the Schema Registry cannot be reached): do not dead-letter, stop without
 * committing that offset. May block for schema.registry.timeout.ms the
 * first time an Avro schema id is seen. */
int kl_decoder_decode(struct kl_decoder *d, const struct kl_msg *m,
                      struct kl_event *ev, char *err, size_t errsz);

/* Frees d (NULL is fine). */
void kl_decoder_destroy(struct kl_decoder *d);

/* Creates the encoder that output.format names (json, avro), with
 * output.include.text and output.explain; for avro, the Confluent framing
 * with output.schema.id, or with the id that registering
 * schemas/label_result.avsc under "<output.topic>-value" at
 * schema.registry.url returns (output.schema.register=true; done here, may
 * block for schema.registry.timeout.ms). On success *out is caller-owned:
 * kl_encoder_destroy(). Returns 0, KL_EINVAL, KL_EIO (registry) or
 * KL_ENOMEM with a reason in err. */
int kl_encoder_create(const struct kl_config *cfg, struct kl_encoder **out,
                      char *err, size_t errsz);

/* output.explain: explained tokens wanted per result (0 = none). The
 * caller computes them (kl_model_explain(), features with want_origin). */
size_t kl_encoder_explain(const struct kl_encoder *e);

/* Replaces out's content with the encoded result of ev (x: its
 * explanation, NULL for none). Strings are borrowed for the call. Returns
 * 0, KL_ENOMEM or KL_EINVAL (out is then empty). */
int kl_encoder_encode(struct kl_encoder *e, const struct kl_event *ev,
                      const struct kl_prediction *p,
                      const struct kl_model_info *mi,
                      const struct kl_source *src,
                      const struct kl_explanation *x, struct kl_buf *out);

/* Frees e (NULL is fine). */
void kl_encoder_destroy(struct kl_encoder *e);

#endif
