/*
 * engine/nn_core.c: what both neural architectures share: binding the
 * weights to a flat parameter buffer, the derived copies the GEMMs read
 * (stacked LSTM input weights and summed biases, convolution filters in
 * im2col order), the forward pass's dense head (one cblas_sgemm for the
 * batch), dropout of the pooled features, and the buffers' growth and
 * release.
 */
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "klabel/engine.h"
#include "grow.h"
#include "nn.h"

/* Contract in nn.h. */
int kl_nn_reserve(void **p, size_t *cap, size_t need, size_t elem)
{
    return kl_grow(p, cap, need, elem, 64);
}

/* Contract in nn.h. */
void kl_nn_bind(struct kl_nn *nn, const float *params)
{
    struct kl_nn_tensor t[KL_NN_TENSORS_MAX];
    size_t total, nt = kl_nn_tensors(&nn->c, &nn->w, t, &total);

    for (size_t i = 0; i < nt; i++)
        *t[i].slot = params + t[i].off;
}

/* Contract in nn.h. */
size_t kl_nn_grad_off(const struct kl_nn *nn, const float *const *slot)
{
    struct kl_nn_tensor t[KL_NN_TENSORS_MAX];
    struct kl_nn_weights w;
    size_t total, nt = kl_nn_tensors(&nn->c, &w, t, &total);
    size_t rel = (size_t)((const char *)slot - (const char *)&nn->w);

    for (size_t i = 0; i < nt; i++)
        if ((size_t)((const char *)t[i].slot - (const char *)&w) == rel)
            return t[i].off;
    return 0;
}

/* Contract in nn.h. */
int kl_nn_prepare(struct kl_nn *nn)
{
    const struct kl_nn_conf *c = &nn->c;
    size_t H = (size_t)c->hidden, E = (size_t)c->dim;

    for (int32_t l = 0; c->arch == KL_ARCH_BILSTM && l < c->layers; l++) {
        size_t in = l == 0 ? E : 2 * H;
        if (nn->p.w_ih[l] == NULL &&
            ((nn->p.w_ih[l] = malloc(8 * H * in * sizeof(float))) == NULL ||
             (nn->p.bias[l] = malloc(8 * H * sizeof(float))) == NULL))
            return KL_ENOMEM;
        for (int d = 0; d < 2; d++) {
            const struct kl_nn_lstm *L = &nn->w.lstm[l][d];
            float *b = nn->p.bias[l] + (size_t)d * 4 * H;
            memcpy(nn->p.w_ih[l] + (size_t)d * 4 * H * in, L->w_ih,
                   4 * H * in * sizeof(float));
            for (size_t j = 0; j < 4 * H; j++)
                b[j] = L->b_ih[j] + L->b_hh[j];
        }
    }
    for (int32_t j = 0; c->arch == KL_ARCH_TEXTCNN && j < c->nwidths; j++) {
        size_t k = (size_t)c->widths[j], C = (size_t)c->channels;
        float *dst;
        if (nn->p.conv[j] == NULL &&
            (nn->p.conv[j] = malloc(C * k * E * sizeof(float))) == NULL)
            return KL_ENOMEM;
        dst = nn->p.conv[j];
        for (size_t ch = 0; ch < C; ch++)
            for (size_t e = 0; e < E; e++)
                for (size_t q = 0; q < k; q++)
                    dst[ch * k * E + q * E + e] =
                        nn->w.conv_w[j][ch * E * k + e * k + q];
    }
    return KL_OK;
}

/* Contract in nn.h. */
void kl_nn_fini(struct kl_nn *nn)
{
    for (int i = 0; i < KL_NN_LAYERS_MAX; i++) {
        free(nn->p.w_ih[i]);
        free(nn->p.bias[i]);
    }
    for (int i = 0; i < KL_NN_WIDTHS_MAX; i++)
        free(nn->p.conv[i]);
    memset(&nn->p, 0, sizeof nn->p);
}

/* Contract in nn.h. */
void kl_nn_scratch_fini(struct kl_nn_scratch *s)
{
    free(s->order);
    free(s->len);
    free(s->bsz);
    free(s->off);
    free(s->x);
    free(s->proj);
    free(s->y[0]);
    free(s->y[1]);
    free(s->hc);
    free(s->g);
    free(s->col);
    free(s->feat);
    free(s->logits);
    free(s->seqv);
    free(s->lenv);
    memset(s, 0, sizeof *s);
}

/* Contract in nn.h. */
void kl_nn_cache_fini(struct kl_nn_cache *c)
{
    free(c->xmask);
    free(c->fmask);
    free(c->tok);
    free(c->argmax);
    free(c->feat_raw);
    for (int l = 0; l < KL_NN_LAYERS_MAX; l++) {
        free(c->ys[l]);
        for (int d = 0; d < 2; d++) {
            free(c->gates[l][d]);
            free(c->cell[l][d]);
        }
    }
    memset(c, 0, sizeof *c);
}

/* Contract in nn.h. */
void kl_nn_gscratch_fini(struct kl_nn_gscratch *g)
{
    free(g->dfeat);
    free(g->dy);
    free(g->dx);
    free(g->da);
    free(g->hprev);
    free(g->dh);
    free(g->step);
    free(g->dhp);
    memset(g, 0, sizeof *g);
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Inverted dropout: mask[i] = 0 with probability drop, else 1/(1-drop);
 * v[i] *= mask[i]. */
static void dropout(float *v, float *mask, size_t n, float drop,
                    uint64_t *rng)
{
    float keep = 1.0f / (1.0f - drop);
    uint32_t cut = (uint32_t)((double)drop * 4294967296.0);

    for (size_t i = 0; i < n; i++) {
        mask[i] = (uint32_t)(splitmix64(rng) >> 32) < cut ? 0.0f : keep;
        v[i] *= mask[i];
    }
}

/* Contract in nn.h (also kl_nn_dropout for the architectures). */
int kl_nn_dropout_x(struct kl_nn_cache *c, float *x, size_t n)
{
    if (c == NULL || c->drop <= 0.0f)
        return KL_OK;
    if (kl_nn_reserve((void **)&c->xmask, &c->caps[0], n, sizeof(float)))
        return KL_ENOMEM;
    dropout(x, c->xmask, n, c->drop, &c->rng);
    return KL_OK;
}

/* Contract in nn.h. */
int kl_nn_forward(const struct kl_nn *nn, const int32_t *const *seq,
                  const size_t *len, size_t n, struct kl_nn_scratch *s,
                  struct kl_nn_cache *cache)
{
    const struct kl_nn_conf *c = &nn->c;
    size_t F = (size_t)kl_nn_feat_dim(c), O = (size_t)c->nout;
    int rc;

    if (n == 0)
        return KL_OK;
    if ((rc = kl_nn_reserve((void **)&s->feat, &s->featcap, n * F,
                            sizeof(float))) != KL_OK ||
        (rc = kl_nn_reserve((void **)&s->logits, &s->logcap, n * O,
                            sizeof(float))) != KL_OK)
        return rc;
    rc = c->arch == KL_ARCH_BILSTM
             ? kl_bilstm_forward(nn, seq, len, n, s, cache)
             : kl_textcnn_forward(nn, seq, len, n, s, cache);
    if (rc != KL_OK)
        return rc;
    if (cache != NULL && cache->drop > 0.0f) {
        if (kl_nn_reserve((void **)&cache->fmask, &cache->caps[1], n * F,
                          sizeof(float)))
            return KL_ENOMEM;
        dropout(s->feat, cache->fmask, n * F, cache->drop, &cache->rng);
    }
    for (size_t i = 0; i < n; i++)
        memcpy(s->logits + i * O, nn->w.fc_b, O * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)n,
                (blasint)O, (blasint)F, 1.0f, s->feat, (blasint)F,
                nn->w.fc_w, (blasint)F, 1.0f, s->logits, (blasint)O);
    return KL_OK;
}

/* Contract in nn.h. */
int kl_nn_backward(const struct kl_nn *nn, const struct kl_nn_scratch *s,
                   const struct kl_nn_cache *cache, const float *dlogits,
                   size_t n, float *grad, struct kl_nn_gscratch *gs)
{
    const struct kl_nn_conf *c = &nn->c;
    size_t F = (size_t)kl_nn_feat_dim(c), O = (size_t)c->nout;
    float *dw = grad + kl_nn_grad_off(nn, &nn->w.fc_w);
    float *db = grad + kl_nn_grad_off(nn, &nn->w.fc_b);

    if (n == 0)
        return KL_OK;
    if (kl_nn_reserve((void **)&gs->dfeat, &gs->caps[0], n * F,
                      sizeof(float)))
        return KL_ENOMEM;
    /* dense: dW += dlogits^T feat, db += column sums, dfeat = dlogits W */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)O,
                (blasint)F, (blasint)n, 1.0f, dlogits, (blasint)O, s->feat,
                (blasint)F, 1.0f, dw, (blasint)F);
    for (size_t i = 0; i < n; i++)
        for (size_t o = 0; o < O; o++)
            db[o] += dlogits[i * O + o];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)n,
                (blasint)F, (blasint)O, 1.0f, dlogits, (blasint)O,
                nn->w.fc_w, (blasint)F, 0.0f, gs->dfeat, (blasint)F);
    if (cache->drop > 0.0f)
        for (size_t i = 0; i < n * F; i++)
            gs->dfeat[i] *= cache->fmask[i];
    return c->arch == KL_ARCH_BILSTM
               ? kl_bilstm_backward(nn, s, cache, gs->dfeat, n, grad, gs)
               : kl_textcnn_backward(nn, s, cache, gs->dfeat, n, grad, gs);
}
