/*
 * Avro codecs: input events in the Confluent wire format (byte 0 = 0, a
 * 4-byte big-endian schema id, then one Avro binary datum) decoded with
 * Avro-C against the writer schema of that id, and results encoded as
 * klabel.LabelResult (schemas/label_result.avsc), framed or plain.
 *
 * Reading: the writer schema comes from the Schema Registry client
 * (plugin/schema_registry.h) the first time an id is seen and is kept with
 * its Avro-C value; fields are found by name (input.field.*, dotted paths
 * through nested records), so any writer schema that has a string "text"
 * works, and fields it lacks take schemas/text_event.avsc's defaults
 * (Avro-C's resolver cannot fill defaults). Every datum is first checked
 * by a bounded scan (kl_avro_scan) so Avro-C never allocates a length
 * larger than the bytes that remain, never recurses deeper than
 * KL_AVRO_MAX_DEPTH and never reads past the end.
 *
 * Not thread-safe (Debian's Avro-C is not built THREADSAFE): one decoder
 * or encoder per thread.
 */
#ifndef KL_PLUGIN_CODEC_AVRO_H
#define KL_PLUGIN_CODEC_AVRO_H

#include <avro.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "codec.h"
#include "schema_registry.h"

#define KL_AVRO_MAX_DEPTH 32       /* nesting of values in one datum */
#define KL_AVRO_MAX_ITEMS 65536    /* array and map items in one datum */
#define KL_AVRO_CACHE_MAX 1024     /* schema ids remembered, found or not */
#define KL_AVRO_HEADER 5           /* magic byte + schema id */

struct kl_avro_dec_opts {
    const char *field_id;    /* default "id" */
    const char *field_text;  /* default "text" */
    const char *field_kind;  /* default "kind" */
    const char *field_ts;    /* default "ts" */
    size_t max_bytes;        /* largest accepted value; 0 = 1 MiB */
    struct kl_sr *sr;        /* borrowed; NULL = only kl_avro_dec_add_schema() */
    int64_t unknown_retry_ms;/* a schema id the registry did not know is
                                asked for again after this long; 0 = 60000 */
};

struct kl_avro_dec; /* opaque */

/* Creates a decoder (strings in o are copied; o->sr is borrowed and must
 * outlive it). On success *out is caller-owned: kl_avro_dec_destroy().
 * Returns 0, KL_EINVAL or KL_ENOMEM. */
int kl_avro_dec_create(const struct kl_avro_dec_opts *o,
                       struct kl_avro_dec **out, char *err, size_t errsz);
void kl_avro_dec_destroy(struct kl_avro_dec *d);

/* Adds (or replaces) the writer schema of id from its JSON text, as if
 * the registry had answered it (tests, fuzzing). Returns 0, KL_EFORMAT
 * (Avro-C cannot parse it; reason in err) or KL_ENOMEM. */
int kl_avro_dec_add_schema(struct kl_avro_dec *d, int32_t id,
                           const char *json, size_t len, char *err,
                           size_t errsz);

/* Decodes one Confluent-framed value into ev (init'ed; old content freed;
 * left empty on failure). Checks, first failure wins: oversize ->
 * bad_framing (shorter than 5 bytes, or byte 0 != 0) -> unknown_schema_id
 * (404, or no such file) -> bad_avro (the schema does not parse or is not
 * a record, or the bytes are not exactly one datum of it: truncated,
 * trailing bytes, a length past the end, a union or enum index out of
 * range, too deep, too many items) -> missing_text (the writer has no
 * such field, or it is null or not a string) -> invalid_utf8 (text, id or
 * kind; or a NUL in the text) -> empty_text -> bad_field (id not a
 * string/int/long or > KL_EVENT_ID_MAX bytes or holding a NUL; kind not a
 * string/enum or > KL_EVENT_KIND_MAX; ts not an int/long >= 0). null
 * means absent for id, kind and ts. Returns KL_DEC_OK, a positive
 * kl_decode_error with a reason in err, or negative: KL_EIO (registry
 * unreachable or answering nonsense: not the input's fault) / KL_ENOMEM. */
int kl_avro_decode_event(struct kl_avro_dec *d, const void *buf, size_t len,
                         struct kl_event *ev, char *err, size_t errsz);

/* Checks that buf[0..len) is exactly one datum of schema with the bounds
 * above, without allocating. Returns 0, or -1 with a reason in err. */
int kl_avro_scan(avro_schema_t schema, const void *buf, size_t len,
                 char *err, size_t errsz);

/* ------------------------------------------------------------- encoder */

/* The JSON of schemas/label_result.avsc, compiled in (what the encoder
 * writes and what output.schema.register registers). Static. */
const char *kl_avro_result_schema_json(void);

struct kl_avro_enc; /* opaque */

/* Creates an encoder of klabel.LabelResult. schema_id >= 0 prefixes every
 * value with the Confluent header (0, the id big-endian); -1 writes plain
 * Avro binary. On success *out is caller-owned: kl_avro_enc_destroy().
 * Returns 0, KL_EFORMAT or KL_ENOMEM. */
int kl_avro_enc_create(int32_t schema_id, struct kl_avro_enc **out,
                       char *err, size_t errsz);
void kl_avro_enc_destroy(struct kl_avro_enc *e);

/* Replaces out's content with the encoded result (the same content as
 * kl_json_encode_result_opts(): the id as text, label names from mi, x's
 * items as "explain" (null when x is NULL), the text when
 * ro->include_text). Returns 0, KL_ENOMEM or KL_EINVAL. */
int kl_avro_encode_result(struct kl_avro_enc *e, const struct kl_event *ev,
                          const struct kl_prediction *p,
                          const struct kl_model_info *mi,
                          const struct kl_source *src,
                          const struct kl_explanation *x,
                          const struct kl_result_opts *ro,
                          struct kl_buf *out);

#endif
