/*
 * Micro-batch storage and the per-item work before the model
 * (plugin/batch.h): decode each message, featurize each good event, then
 * one batched prediction over the good ones.
 */
#include "batch.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t kl_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int kl_batch_init(struct kl_batch *b, size_t cap)
{
    size_t i;

    memset(b, 0, sizeof *b);
    if (cap < 1)
        cap = 1;
    b->msgs = calloc(cap, sizeof *b->msgs);
    b->t_poll_us = calloc(cap, sizeof *b->t_poll_us);
    b->ev = calloc(cap, sizeof *b->ev);
    b->feat = calloc(cap, sizeof *b->feat);
    b->dec = calloc(cap, sizeof *b->dec);
    b->reason = calloc(cap, sizeof *b->reason);
    b->pred_idx = calloc(cap, sizeof *b->pred_idx);
    b->good = calloc(cap, sizeof *b->good);
    b->pred = calloc(cap, sizeof *b->pred);
    if (!b->msgs || !b->t_poll_us || !b->ev || !b->feat || !b->dec ||
        !b->reason || !b->pred_idx || !b->good || !b->pred) {
        kl_batch_fini(b);
        return KL_ENOMEM;
    }
    b->cap = cap;
    for (i = 0; i < cap; i++) {
        kl_event_init(&b->ev[i]);
        kl_features_init(&b->feat[i]);
    }
    return KL_OK;
}

void kl_batch_fini(struct kl_batch *b)
{
    size_t i;

    for (i = 0; i < b->cap; i++) {
        kl_event_fini(&b->ev[i]);
        kl_features_fini(&b->feat[i]);
    }
    free(b->msgs);
    free(b->t_poll_us);
    free(b->ev);
    free(b->feat);
    free(b->dec);
    free(b->reason);
    free(b->pred_idx);
    free(b->good);
    free(b->pred);
    memset(b, 0, sizeof *b);
}

int kl_batch_prepare(struct kl_batch *b, size_t from,
                     const struct kl_json_opts *jo, const struct kl_model *m,
                     uint64_t *decode_ns, uint64_t *feat_ns)
{
    size_t i;
    uint64_t t0, t1;
    int rc;

    for (i = from; i < b->n; i++) {
        const struct kl_msg *msg = &b->msgs[i];

        b->reason[i][0] = '\0';
        b->pred_idx[i] = -1;
        t0 = kl_now_ns();
        b->dec[i] = kl_json_decode_event(jo, msg->value ? msg->value : "",
                                         msg->value_len, &b->ev[i],
                                         b->reason[i], KL_BATCH_REASON_MAX);
        t1 = kl_now_ns();
        *decode_ns += t1 - t0;
        if (b->dec[i] != KL_DEC_OK)
            continue;
        rc = kl_model_featurize(m, b->ev[i].text, b->ev[i].text_len,
                                &b->feat[i]);
        *feat_ns += kl_now_ns() - t1;
        if (rc == KL_EUTF8) {
            b->dec[i] = KL_DEC_UTF8;
            snprintf(b->reason[i], KL_BATCH_REASON_MAX,
                     "text is not valid UTF-8 for the model's tokenizer");
        } else if (rc == KL_EEMPTY) {
            b->dec[i] = KL_DEC_EMPTY_TEXT;
            snprintf(b->reason[i], KL_BATCH_REASON_MAX,
                     "text has no tokens the model knows");
        } else if (rc == KL_ERANGE) {
            b->dec[i] = KL_DEC_OVERSIZE;
            snprintf(b->reason[i], KL_BATCH_REASON_MAX,
                     "text of %zu bytes is longer than the tokenizer takes",
                     b->ev[i].text_len);
        } else if (rc == KL_ENOMEM) {
            return rc;
        } else if (rc) {
            /* Never stop the stage for one record. */
            b->dec[i] = KL_DEC_MALFORMED;
            snprintf(b->reason[i], KL_BATCH_REASON_MAX, "featurize: %s",
                     kl_strerror(rc));
        }
    }
    return KL_OK;
}

int kl_batch_predict(struct kl_batch *b, const struct kl_model *m, int k,
                     float threshold, struct kl_scratch *scratch)
{
    size_t i;

    b->ngood = 0;
    for (i = 0; i < b->n; i++) {
        if (b->dec[i] != KL_DEC_OK) {
            b->pred_idx[i] = -1;
            continue;
        }
        b->pred_idx[i] = (int32_t)b->ngood;
        b->good[b->ngood++] = &b->feat[i];
    }
    if (!b->ngood)
        return KL_OK;
    return kl_model_predict_batch(m, b->good, b->ngood, k, threshold, scratch,
                                  b->pred);
}

void kl_batch_clear(struct kl_batch *b)
{
    size_t i;

    for (i = 0; i < b->n; i++) {
        kl_event_fini(&b->ev[i]);
        memset(&b->msgs[i], 0, sizeof b->msgs[i]);
    }
    b->n = 0;
    b->ngood = 0;
}
