/*
 * Micro-batch storage and the per-message steps before the model
 * (plugin/batch.h): decode, featurize with the routed model, then one
 * batched prediction per batch.
 */
#include "batch.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t kl_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t kl_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int kl_batch_init(struct kl_batch *b, size_t cap)
{
    size_t i;

    memset(b, 0, sizeof *b);
    if (cap < 1)
        cap = 1;
    b->msgs = calloc(cap, sizeof *b->msgs);
    b->t_poll_us = calloc(cap, sizeof *b->t_poll_us);
    b->t_prod_us = calloc(cap, sizeof *b->t_prod_us);
    b->ev = calloc(cap, sizeof *b->ev);
    b->feat = calloc(cap, sizeof *b->feat);
    b->good = calloc(cap, sizeof *b->good);
    b->pred = calloc(cap, sizeof *b->pred);
    b->ids_off = calloc(cap, sizeof *b->ids_off);
    b->ids_n = calloc(cap, sizeof *b->ids_n);
    if (!b->msgs || !b->t_poll_us || !b->t_prod_us || !b->ev || !b->feat ||
        !b->good || !b->pred || !b->ids_off || !b->ids_n) {
        kl_batch_fini(b);
        return KL_ENOMEM;
    }
    b->cap = cap;
    b->model = -1;
    b->worker = -1;
    for (i = 0; i < cap; i++) {
        kl_event_init(&b->ev[i]);
        kl_features_init(&b->feat[i]);
        b->good[i] = &b->feat[i];
    }
    return KL_OK;
}

void kl_batch_fini(struct kl_batch *b)
{
    size_t i;

    for (i = 0; b->ev && b->feat && i < b->cap; i++) {
        kl_event_fini(&b->ev[i]);
        kl_features_fini(&b->feat[i]);
    }
    free(b->msgs);
    free(b->t_poll_us);
    free(b->t_prod_us);
    free(b->ev);
    free(b->feat);
    free(b->good);
    free(b->pred);
    free(b->ids);
    free(b->ids_off);
    free(b->ids_n);
    memset(b, 0, sizeof *b);
}

int kl_batch_add_ids(struct kl_batch *b, const struct kl_features *f)
{
    size_t i = b->n;

    if (f->n > b->ids_cap - b->ids_len) {
        size_t cap = b->ids_cap ? b->ids_cap : 4096;
        int32_t *p;

        while (cap - b->ids_len < f->n) {
            if (cap > SIZE_MAX / 2 / sizeof *b->ids)
                return KL_ENOMEM;
            cap *= 2;
        }
        if (!(p = realloc(b->ids, cap * sizeof *p)))
            return KL_ENOMEM;
        b->ids = p;
        b->ids_cap = cap;
    }
    if (f->n)
        memcpy(b->ids + b->ids_len, f->ids, f->n * sizeof *f->ids);
    b->ids_off[i] = b->ids_len;
    b->ids_n[i] = f->n;
    b->ids_len += f->n;
    b->pooled = 1;
    return KL_OK;
}

int kl_batch_decode(const struct kl_json_opts *jo, const struct kl_msg *msg,
                    struct kl_event *ev, char *reason, size_t n)
{
    reason[0] = '\0';
    return kl_json_decode_event(jo, msg->value ? msg->value : "",
                                msg->value_len, ev, reason, n);
}

int kl_batch_featurize(const struct kl_model *m, const struct kl_event *ev,
                       struct kl_features *f, char *reason, size_t n)
{
    int rc;

    f->text_is_utf8 = 1; /* every decoder checks it (event.h) */
    rc = kl_model_featurize(m, ev->text, ev->text_len, f);

    switch (rc) {
    case KL_OK:
        return KL_DEC_OK;
    case KL_EUTF8:
        snprintf(reason, n, "text is not valid UTF-8 for the model's tokenizer");
        return KL_DEC_UTF8;
    case KL_EEMPTY:
        snprintf(reason, n, "text has no tokens the model knows");
        return KL_DEC_EMPTY_TEXT;
    case KL_ERANGE:
        snprintf(reason, n,
                 "text of %zu bytes is longer than the tokenizer takes",
                 ev->text_len);
        return KL_DEC_OVERSIZE;
    case KL_ENOMEM:
        return KL_ENOMEM;
    default:
        /* Never stop the stage for one record. */
        snprintf(reason, n, "featurize: %s", kl_strerror(rc));
        return KL_DEC_MALFORMED;
    }
}

size_t kl_batch_push(struct kl_batch *b, const struct kl_msg *msg,
                     int64_t t_poll_us, struct kl_event *ev)
{
    size_t i = b->n++;
    size_t held = msg->value_len + msg->key_len + ev->text_len + ev->id_len +
                  ev->kind_len +
                  (b->pooled ? b->ids_n[i] : b->feat[i].n) * sizeof(int32_t);

    b->msgs[i] = *msg;
    b->t_poll_us[i] = t_poll_us;
    b->t_prod_us[i] = 0;
    kl_event_fini(&b->ev[i]);
    b->ev[i] = *ev;
    kl_event_init(ev);
    b->bytes += held;
    return held;
}

int kl_batch_predict(struct kl_batch *b, const struct kl_model *m, int k,
                     float threshold, struct kl_scratch *scratch,
                     int inference)
{
    size_t i;
    int rc;

    if (!b->n)
        return KL_OK;
    if (!inference) {
        for (i = 0; i < b->n; i++)
            b->pred[i].k = 0;
        return KL_OK;
    }
    if (!b->pooled)
        return kl_model_predict_batch(m, b->good, b->n, k, threshold,
                                      scratch, b->pred);
    for (i = 0; i < b->n; i++) {
        b->feat[i].ids = b->ids + b->ids_off[i];
        b->feat[i].n = b->ids_n[i];
    }
    rc = kl_model_predict_batch(m, b->good, b->n, k, threshold, scratch,
                                b->pred);
    for (i = 0; i < b->n; i++) { /* views only: b->ids owns the ids */
        b->feat[i].ids = NULL;
        b->feat[i].n = 0;
    }
    return rc;
}

void kl_batch_clear(struct kl_batch *b)
{
    size_t i;

    for (i = 0; i < b->n; i++) {
        kl_event_fini(&b->ev[i]);
        memset(&b->msgs[i], 0, sizeof b->msgs[i]);
    }
    b->n = 0;
    b->bytes = 0;
    b->ids_len = 0;
    b->pooled = 0;
    b->seq = 0;
    b->model = -1;
    b->close_reason = 0;
    b->deferred = 0;
    b->t_open_us = b->t_close_us = 0;
}
