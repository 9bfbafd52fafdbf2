/*
 * engine/predict.c: batched prediction. Per row, the mean of the input rows
 * of its features (the fastText hidden layer); then ONE cblas_sgemm for the
 * whole batch against the output matrix (or, for a model with label
 * projections, project.c, the mean of the projected rows: the same logits
 * without the hidden layer); then softmax (in float, max
 * subtracted, as fastText) or fastText's tabulated sigmoid per label
 * (one-vs-all) and top-k over fastText's log scores in fastText's heap
 * order (topk.h: tied labels come out as fastText orders them), or, for
 * hierarchical softmax, fastText's tree search over the same logits (hs.c).
 */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "klabel/engine.h"
#include "model.h"
#include "nn_model.h"
#include "prefetch.h"
#include "project.h"
#include "sigmoid.h"
#include "topk.h"

/* Zeroes s; it owns nothing yet. */
void kl_scratch_init(struct kl_scratch *s)
{
    memset(s, 0, sizeof *s);
}

/* Frees what s owns and leaves it initialized. */
void kl_scratch_fini(struct kl_scratch *s)
{
    free(s->hidden);
    free(s->logits);
    kl_nn_scratch_free(s->nn);
    kl_scratch_init(s);
}

/* Grows a float buffer to at least need items (doubling). */
static int reserve_f32(float **p, size_t *cap, size_t need)
{
    size_t ncap = *cap ? *cap : 1024;
    float *q;

    if (need <= *cap)
        return KL_OK;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / sizeof(float))
            return KL_ENOMEM;
        ncap *= 2;
    }
    q = realloc(*p, ncap * sizeof(float));
    if (q == NULL)
        return KL_ENOMEM;
    *p = q;
    *cap = ncap;
    return KL_OK;
}

/* h[0..dim) += r[0..dim); written in blocks of 8 so that gcc's -O2 SLP
 * vectorizer turns the body into SIMD adds. */
static void add_row(float *restrict h, const float *restrict r, size_t dim)
{
    size_t d = 0;

    for (; d + 8 <= dim; d += 8) {
        h[d + 0] += r[d + 0];
        h[d + 1] += r[d + 1];
        h[d + 2] += r[d + 2];
        h[d + 3] += r[d + 3];
        h[d + 4] += r[d + 4];
        h[d + 5] += r[d + 5];
        h[d + 6] += r[d + 6];
        h[d + 7] += r[d + 7];
    }
    for (; d < dim; d++)
        h[d] += r[d];
}

#define PREFETCH_AHEAD 2 /* events whose rows are fetched ahead of the sums */

/* Asks the memory system for every input row of f now (dense, int8 with
 * its scale, or pq codes), so that the cache misses of the next event
 * overlap the sums of this one: the rows of a hashed n-gram table are
 * scattered over tens of MB, and summing them one miss at a time is what
 * bounds prediction speed. Always inlined, as kl_prefetch_span() is. */
static inline __attribute__((always_inline)) void
prefetch_rows(const struct kl_model *m, const struct kl_features *f)
{
    const struct kl_qmat *q = &m->quant;
    size_t dim = (size_t)m->info.dim;
    int64_t rows = m->input_rows;

    if (f == NULL)
        return;
    for (size_t j = 0; j < f->n; j++) {
        int32_t id = f->ids[j];

        if (id < 0 || id >= rows)
            continue;
        switch (q->scheme) {
        case KL_QUANT_NONE:
            kl_prefetch_span(m->input + (size_t)id * dim, dim * sizeof(float));
            break;
        case KL_QUANT_INT8:
            kl_prefetch_span(q->q + (size_t)id * dim, dim);
            kl_prefetch_span(q->scale + id, sizeof *q->scale);
            break;
        default: /* pq: the row's codes; the centroids are small */
            kl_prefetch_span(q->codes + (size_t)id * (size_t)q->nsubq,
                             (size_t)q->nsubq);
            break;
        }
    }
}

/* hidden row of one feature set: the mean of its input rows (fastText's
 * computeHidden: sum, then multiply by (float)(1.0 / n)). */
static int hidden_row(const struct kl_model *m, const struct kl_features *f,
                      float *h)
{
    size_t dim = (size_t)m->info.dim;
    int64_t rows = m->input_rows;
    float inv;

    memset(h, 0, dim * sizeof *h);
    for (size_t j = 0; j < f->n; j++) {
        int32_t id = f->ids[j];
        if (id < 0 || id >= rows)
            return KL_EINVAL;
        if (m->quant.scheme != KL_QUANT_NONE) /* dequantized (quant.c) */
            kl_quant_add_row(&m->quant, id, h);
        else
            add_row(h, m->input + (size_t)id * dim, dim);
    }
    inv = (float)(1.0 / (double)f->n);
    for (size_t d = 0; d < dim; d++)
        h[d] *= inv;
    return KL_OK;
}

/* Probabilities in place: softmax over the row or a sigmoid per label;
 * NaN becomes 0 and everything is clamped to [0, 1]. */
static void probabilities(float *z, int32_t nl, int loss)
{
    if (loss == KL_LOSS_OVA) {
        for (int32_t j = 0; j < nl; j++)
            z[j] = kl_sigmoid_fasttext(z[j]);
    } else {
        float max = z[0], sum = 0.0f;
        for (int32_t j = 1; j < nl; j++)
            max = z[j] > max ? z[j] : max;
        for (int32_t j = 0; j < nl; j++) {
            z[j] = expf(z[j] - max);
            sum += z[j];
        }
        for (int32_t j = 0; j < nl; j++)
            z[j] /= sum;
    }
    for (int32_t j = 0; j < nl; j++)
        z[j] = z[j] >= 0.0f ? (z[j] <= 1.0f ? z[j] : 1.0f) : 0.0f;
}

/* The k best of p[0..nl) with p >= threshold, best first, as fastText's
 * findKBest picks them: by log(p + 1e-5) rounded to float, through its
 * heap, so labels whose scores tie come out in fastText's order. */
static void top_k(const float *p, int32_t nl, int k, float threshold,
                  struct kl_prediction *o)
{
    struct kl_topk h;

    kl_topk_init(&h, k);
    kl_topk_probs(&h, p, nl, threshold);
    kl_topk_sort(&h);
    o->k = h.n;
    for (int i = 0; i < h.n; i++) {
        o->label[i] = h.id[i];
        o->prob[i] = p[h.id[i]];
    }
}

/* s->logits rows 0..n) through the hidden layer: s->hidden row i is the
 * mean of feats[i]'s input rows (zeros for an empty set), then one sgemm
 * against the output matrix. Returns KL_OK or KL_EINVAL (a bad feature id). */
static int plain_logits(const struct kl_model *m,
                        const struct kl_features *const *feats, size_t n,
                        struct kl_scratch *s)
{
    size_t dim = (size_t)m->info.dim, nl = (size_t)m->info.nlabels;
    int rc;

    for (size_t i = 0; i < PREFETCH_AHEAD && i < n; i++)
        prefetch_rows(m, feats[i]);
    for (size_t i = 0; i < n; i++) {
        const struct kl_features *f = feats[i];
        float *h = s->hidden + i * dim;
        if (i + PREFETCH_AHEAD < n)
            prefetch_rows(m, feats[i + PREFETCH_AHEAD]);
        if (f == NULL || f->n == 0)
            memset(h, 0, dim * sizeof *h);
        else if ((rc = hidden_row(m, f, h)) != KL_OK)
            return rc;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)n,
                (blasint)nl, (blasint)dim, 1.0f, s->hidden, (blasint)dim,
                m->output, (blasint)dim, 0.0f, s->logits, (blasint)nl);
    return KL_OK;
}

/* s->logits rows 0..n) from m->proj (project.c); rows of empty sets are
 * left as they are (not read). s->hidden holds m->proj_stride floats. */
static int projected_logits(const struct kl_model *m,
                            const struct kl_features *const *feats, size_t n,
                            struct kl_scratch *s)
{
    size_t nl = (size_t)m->info.nlabels;
    int rc;

    for (size_t i = 0; i < PREFETCH_AHEAD && i < n; i++)
        if (feats[i] != NULL)
            kl_proj_prefetch(m, feats[i]);
    for (size_t i = 0; i < n; i++) {
        const struct kl_features *f = feats[i];
        if (i + PREFETCH_AHEAD < n && feats[i + PREFETCH_AHEAD] != NULL)
            kl_proj_prefetch(m, feats[i + PREFETCH_AHEAD]);
        if (f != NULL && f->n > 0 &&
            (rc = kl_proj_logits(m, f, s->hidden, s->logits + i * nl)) != KL_OK)
            return rc;
    }
    return KL_OK;
}

/* Contract in engine.h. s is caller-owned scratch (one per thread); the
 * model is only read. */
int kl_model_predict_batch(const struct kl_model *m,
                           const struct kl_features *const *feats, size_t n,
                           int k, float threshold, struct kl_scratch *s,
                           struct kl_prediction *out)
{
    struct kl_hs_frame frames[64], *stack = frames;
    size_t dim, nl, need_h, need_l;
    int rc, hs;

    if (m == NULL || s == NULL || (n > 0 && (feats == NULL || out == NULL)))
        return KL_EINVAL;
    if (m->nn != NULL) /* bilstm / textcnn (nn_model.c) */
        return kl_nn_predict_batch(m, feats, n, k, threshold, s, out);
    hs = m->info.loss == KL_LOSS_HS;
    if (hs && m->hs.nlabels != m->info.nlabels)
        return KL_EINVAL;
    if (n == 0)
        return KL_OK;
    dim = (size_t)m->info.dim;
    nl = (size_t)m->info.nlabels;
    if (n > INT_MAX || __builtin_mul_overflow(n, dim, &need_h) ||
        __builtin_mul_overflow(n, nl, &need_l))
        return KL_EINVAL;
    if (k > KL_TOPK_MAX)
        k = KL_TOPK_MAX;
    if (k > (int)nl)
        k = (int)nl;
    if (k < 1)
        k = 1;
    if (m->proj != NULL) /* the hidden buffer holds the accumulator */
        need_h = m->proj_stride;
    if ((rc = reserve_f32(&s->hidden, &s->hidden_cap, need_h)) != KL_OK ||
        (rc = reserve_f32(&s->logits, &s->logits_cap, need_l)) != KL_OK)
        return rc;
    if (n > s->rows_cap)
        s->rows_cap = n;
    if (m->proj != NULL)
        rc = projected_logits(m, feats, n, s);
    else
        rc = plain_logits(m, feats, n, s);
    if (rc != KL_OK)
        return rc;
    if (hs && kl_hs_stack_size(&m->hs) > sizeof frames / sizeof frames[0] &&
        (stack = malloc(kl_hs_stack_size(&m->hs) * sizeof *stack)) == NULL)
        return KL_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const struct kl_features *f = feats[i];
        float *z = s->logits + i * nl;
        out[i].k = 0;
        if (f == NULL || f->n == 0)
            continue;
        if (hs) { /* z[j]: internal node nl + j; the last row is unused */
            kl_hs_predict(&m->hs, z, k, threshold, stack, &out[i]);
            continue;
        }
        probabilities(z, (int32_t)nl, m->info.loss);
        top_k(z, (int32_t)nl, k, threshold, &out[i]);
    }
    if (stack != frames)
        free(stack);
    return KL_OK;
}
