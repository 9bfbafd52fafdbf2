/*
 * Dead-letter records: the original key, value and headers of an input
 * that could not be labeled, with headers saying why and where it came
 * from, in the manner of Kafka Connect's __connect.errors.* headers.
 * Existing klabel.* headers are replaced, never piled up. The classes
 * (klabel.error.class) are the names of enum kl_decode_error (codec.h):
 * malformed, bad_avro, bad_framing, unknown_schema_id, invalid_utf8,
 * oversize, missing_text, empty_text, bad_field, no_route.
 */
#ifndef KL_PLUGIN_DLQ_H
#define KL_PLUGIN_DLQ_H

#include <stddef.h>

#include "klabel/transport.h"

#define KL_DLQ_REASON_MAX 256 /* bytes of klabel.error.reason */

/* Header names (stable: consumers of the dead-letter topic read them). */
#define KL_HDR_ERROR_CLASS "klabel.error.class"
#define KL_HDR_ERROR_REASON "klabel.error.reason"
#define KL_HDR_SOURCE_TOPIC "klabel.source.topic"
#define KL_HDR_SOURCE_PARTITION "klabel.source.partition"
#define KL_HDR_SOURCE_OFFSET "klabel.source.offset"
#define KL_HDR_SOURCE_TIMESTAMP "klabel.source.timestamp" /* ms; absent if unknown */
#define KL_HDR_INSTANCE "klabel.instance"

/* Reusable header list. Caller-owned; kl_dlq_init() / kl_dlq_fini(). */
struct kl_dlq {
    struct kl_header *h; /* (cap) */
    size_t n, cap;
    char partition[16];  /* text of the source partition */
    char offset[24];     /* text of the source offset */
    char timestamp[24];  /* text of the source record's timestamp (ms) */
};

void kl_dlq_init(struct kl_dlq *d);
void kl_dlq_fini(struct kl_dlq *d);

/* Fills out (a dead letter for msg to topic) and d->h: msg's key, value
 * and headers other than klabel.*, then klabel.error.class,
 * klabel.error.reason (cut to KL_DLQ_REASON_MAX bytes at a UTF-8
 * boundary), klabel.source.topic / .partition / .offset, and
 * .timestamp when msg->ts_ms >= 0, then klabel.instance. Values are text.
 * Strings are borrowed from msg, d and the arguments: valid until the
 * next call or msg's release. Returns 0 or KL_ENOMEM. */
int kl_dlq_build(struct kl_dlq *d, const struct kl_msg *msg, const char *topic,
                 const char *error_class, const char *reason,
                 const char *instance, struct kl_out_msg *out);

#endif
