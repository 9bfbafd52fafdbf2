/*
 * A micro-batch: the messages the stage polled, their decoded events and
 * features, and the predictions of those that decoded. Parallel arrays of
 * one capacity (batch.max.size); features keep their memory across batches.
 */
#ifndef KL_PLUGIN_BATCH_H
#define KL_PLUGIN_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "klabel/engine.h"
#include "klabel/event.h"
#include "klabel/transport.h"

#define KL_BATCH_REASON_MAX 256 /* bytes of a dead-letter reason */

struct kl_batch {
    size_t cap, n;
    struct kl_msg *msgs;             /* (cap) borrowed until released */
    int64_t *t_poll_us;              /* (cap) CLOCK_MONOTONIC at poll */
    struct kl_event *ev;             /* (cap) decoded events */
    struct kl_features *feat;        /* (cap) feature ids of good events */
    int *dec;                        /* (cap) KL_DEC_OK or a kl_decode_error */
    char (*reason)[KL_BATCH_REASON_MAX]; /* (cap) why dec != KL_DEC_OK */
    int32_t *pred_idx;               /* (cap) index into pred, -1 = none */
    const struct kl_features **good; /* (cap) features of good events, packed */
    struct kl_prediction *pred;      /* (cap) predictions of good, packed */
    size_t ngood;
};

/* Allocates a batch of capacity cap (>= 1). Caller-owned; kl_batch_fini().
 * Returns 0 or KL_ENOMEM. */
int kl_batch_init(struct kl_batch *b, size_t cap);
void kl_batch_fini(struct kl_batch *b);

/* Decodes and featurizes items [from, b->n): sets dec/reason, and adds the
 * time spent to *decode_ns and *feat_ns. A text the model finds invalid
 * UTF-8, without features or too long becomes KL_DEC_UTF8 /
 * KL_DEC_EMPTY_TEXT / KL_DEC_OVERSIZE (any other featurize error
 * KL_DEC_MALFORMED). Returns 0, or KL_ENOMEM (the batch cannot go on). */
int kl_batch_prepare(struct kl_batch *b, size_t from,
                     const struct kl_json_opts *jo, const struct kl_model *m,
                     uint64_t *decode_ns, uint64_t *feat_ns);

/* Predicts every good item in one kl_model_predict_batch() call and sets
 * pred_idx. Returns its result. */
int kl_batch_predict(struct kl_batch *b, const struct kl_model *m, int k,
                     float threshold, struct kl_scratch *scratch);

/* Frees the events and empties the batch (messages must have been released
 * by the caller). */
void kl_batch_clear(struct kl_batch *b);

/* Nanoseconds of CLOCK_MONOTONIC. */
uint64_t kl_now_ns(void);

#endif
