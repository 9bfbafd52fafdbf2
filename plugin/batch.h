/*
 * A micro-batch: good events of one model on their way to one inference
 * worker, with their messages (borrowed from the transport until the
 * worker releases them), decoded events, features and predictions.
 * Parallel arrays of one capacity (batch.max.size); features keep their
 * memory across uses, so a recycled batch does not allocate. Also the two
 * per-message steps of the source thread (decode, featurize) that decide
 * whether an input is labeled or dead-lettered.
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
    int model;                       /* route index of its model */
    int worker;                      /* the worker that predicts it */
    uint64_t seq;                    /* unique per opening (order checks) */
    int64_t t_open_us;               /* poll time of its first event */
    int64_t t_close_us;              /* when it closed */
    int close_reason;                /* enum kl_close_reason (stage.h) */
    int deferred;                    /* deadline passed, worker backlogged */
    size_t bytes;                    /* bytes held (kl_batch_push()) */
    struct kl_msg *msgs;             /* (cap) borrowed until released */
    int64_t *t_poll_us;              /* (cap) CLOCK_MONOTONIC at poll */
    int64_t *t_prod_us;              /* (cap) when produce() returned */
    struct kl_event *ev;             /* (cap) decoded events */
    /* (cap) with explanations, item i's whole feature set (the source
     * swaps it in: kl_model_explain() reads its tokens); else views into
     * ids that kl_batch_predict() sets for the model and clears again */
    struct kl_features *feat;
    const struct kl_features **good; /* (cap) &feat[i], for the model */
    /* Without explanations the items' feature ids, one after the other
     * (kl_batch_add_ids): the source writes them in one run and keeps its
     * own buffers, instead of trading an id buffer per item with the
     * worker, whose every slot and buffer it then had to fetch back from
     * the worker's core. */
    int32_t *ids;                    /* (ids_cap) */
    size_t ids_len, ids_cap;
    size_t *ids_off;                 /* (cap) item i's ids start here */
    size_t *ids_n;                   /* (cap) and are this many */
    int pooled;                      /* items' ids are in ids */
    struct kl_prediction *pred;      /* (cap) one per item */
};

/* Allocates a batch of capacity cap (>= 1). Caller-owned; kl_batch_fini().
 * Returns 0 or KL_ENOMEM. */
int kl_batch_init(struct kl_batch *b, size_t cap);
void kl_batch_fini(struct kl_batch *b);

/* Decodes msg into ev (init'ed; its previous content is freed). The one
 * call site of the input codec. Returns KL_DEC_OK, a positive
 * kl_decode_error with a bounded reason in reason[0..n) (dead-letter the
 * input), or a negative code (not the input's fault). */
int kl_batch_decode(const struct kl_json_opts *jo, const struct kl_msg *msg,
                    struct kl_event *ev, char *reason, size_t n);

/* Featurizes ev's text with model m into f. Returns KL_DEC_OK, a positive
 * kl_decode_error with a reason (KL_DEC_UTF8 / KL_DEC_EMPTY_TEXT /
 * KL_DEC_OVERSIZE as the tokenizer sees it; any other engine error
 * KL_DEC_MALFORMED), or KL_ENOMEM. */
int kl_batch_featurize(const struct kl_model *m, const struct kl_event *ev,
                       struct kl_features *f, char *reason, size_t n);

/* Copies f's ids for item b->n (the next kl_batch_push()) into b->ids.
 * Returns 0 or KL_ENOMEM (nothing added). */
int kl_batch_add_ids(struct kl_batch *b, const struct kl_features *f);

/* Appends item b->n: copies *msg (its pointers stay borrowed from the
 * transport), takes over ev's strings (ev is left init'ed) and keeps the
 * features already added (kl_batch_add_ids) or in b->feat[b->n]. The
 * caller checks b->n < b->cap.
 * Returns the bytes the item holds (the message's value and key, the
 * decoded strings and the feature ids), also added to b->bytes: what
 * queue.max.bytes counts. */
size_t kl_batch_push(struct kl_batch *b, const struct kl_msg *msg,
                   int64_t t_poll_us, struct kl_event *ev);

/* Predicts every item in one kl_model_predict_batch() call into b->pred;
 * with inference 0 (pass-through) only sets every prediction empty
 * (k = 0). Returns 0 or the engine's error. */
int kl_batch_predict(struct kl_batch *b, const struct kl_model *m, int k,
                     float threshold, struct kl_scratch *scratch,
                     int inference);

/* Frees the events and empties the batch (its messages must have been
 * released by the caller); capacity and feature memory are kept. */
void kl_batch_clear(struct kl_batch *b);

/* Nanoseconds of CLOCK_MONOTONIC. */
uint64_t kl_now_ns(void);

/* Milliseconds since the epoch (CLOCK_REALTIME): record timestamps. */
int64_t kl_wall_ms(void);

#endif
