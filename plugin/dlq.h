/*
 * Dead-letter records: the original key, value and headers of an input
 * that could not be labeled, with headers saying why and where it came
 * from. Existing klabel.* headers are replaced, never piled up.
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
#define KL_HDR_INSTANCE "klabel.instance"

/* Reusable header list. Caller-owned; kl_dlq_init() / kl_dlq_fini(). */
struct kl_dlq {
    struct kl_header *h; /* (cap) */
    size_t n, cap;
    char partition[16];  /* text of the source partition */
    char offset[24];     /* text of the source offset */
};

void kl_dlq_init(struct kl_dlq *d);
void kl_dlq_fini(struct kl_dlq *d);

/* Fills out (a dead letter for msg to topic) and d->h. Strings are borrowed
 * from msg, d and the arguments: valid until the next call or msg's
 * release. reason is cut to KL_DLQ_REASON_MAX bytes. Returns 0 or
 * KL_ENOMEM. */
int kl_dlq_build(struct kl_dlq *d, const struct kl_msg *msg, const char *topic,
                 const char *error_class, const char *reason,
                 const char *instance, struct kl_out_msg *out);

#endif
