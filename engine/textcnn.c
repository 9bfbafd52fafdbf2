/*
 * engine/textcnn.c: the batched forward pass of the "textcnn"
 * architecture: embedding -> for each width k, a 1-D convolution of C
 * filters over the tokens (valid positions only, stride 1) -> ReLU -> max
 * over time, the widths' maxima side by side in s->feat (the dense head is
 * nn_core.c's).
 *
 * Each sequence keeps its own length: a text shorter than the widest
 * filter is padded after its tokens to that width (with the pad_id row,
 * or zeros when the model has none), nothing else is padded. The
 * convolutions run as im2col + GEMM: every valid window of every sequence
 * in the batch becomes a row of k * dim floats (the window's embedded
 * tokens, one after the other), and one cblas_sgemm per chunk of
 * KL_CNN_CHUNK rows multiplies them by the (C, k * dim) filters.
 * ReLU(max) == max(ReLU), so the ReLU is applied once after pooling.
 */
#include <math.h>
#include <string.h>

#include <cblas.h>

#include "klabel/engine.h"
#include "nn.h"

#define KL_CNN_CHUNK 512 /* im2col rows per GEMM */

/* Widest filter. */
static size_t widest(const struct kl_nn_conf *c)
{
    int32_t k = 1;

    for (int32_t j = 0; j < c->nwidths; j++)
        k = c->widths[j] > k ? c->widths[j] : k;
    return (size_t)k;
}

/* Embeds every sequence (padded to the widest filter) into s->x, sequence
 * i at rows s->off[i] .. s->off[i + 1]; empty sequences get no rows. */
static int embed(const struct kl_nn *nn, const int32_t *const *seq,
                 const size_t *len, size_t n, struct kl_nn_scratch *s,
                 struct kl_nn_cache *cache)
{
    const struct kl_nn_conf *c = &nn->c;
    size_t E = (size_t)c->dim, kmax = widest(c), N;

    if (kl_nn_reserve((void **)&s->off, &s->ocap, n + 1, sizeof(size_t)))
        return KL_ENOMEM;
    s->off[0] = 0;
    for (size_t i = 0; i < n; i++)
        s->off[i + 1] = s->off[i] +
                        (len[i] == 0 ? 0 : len[i] > kmax ? len[i] : kmax);
    N = s->off[n];
    if (kl_nn_reserve((void **)&s->x, &s->xcap, N * E, sizeof(float)) ||
        (cache != NULL &&
         kl_nn_reserve((void **)&cache->tok, &cache->caps[2], N,
                       sizeof(int32_t))))
        return KL_ENOMEM;
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < s->off[i + 1] - s->off[i]; t++) {
            int32_t id = t < len[i] ? seq[i][t] : c->pad_id;
            float *xr = s->x + (s->off[i] + t) * E;
            if (id >= c->rows || (id < 0 && t < len[i]))
                return KL_EINVAL;
            if (id < 0)
                memset(xr, 0, E * sizeof(float));
            else
                memcpy(xr, nn->w.emb + (size_t)id * E, E * sizeof(float));
            if (cache != NULL)
                cache->tok[s->off[i] + t] = id;
        }
    if (cache != NULL)
        cache->ntok = N;
    return kl_nn_dropout_x(cache, s->x, N * E);
}

/* Width j: every window through im2col + GEMM, max over each sequence's
 * windows into feat columns j*C ..; argmax (when not NULL) gets the
 * winning window's start within its sequence, -1 when the max is <= 0
 * (ReLU passes no gradient). */
static void conv_width(const struct kl_nn *nn, int32_t j, size_t n,
                       struct kl_nn_scratch *s, int32_t *argmax)
{
    const struct kl_nn_conf *c = &nn->c;
    size_t E = (size_t)c->dim, C = (size_t)c->channels;
    size_t k = (size_t)c->widths[j], K = k * E, F = C * (size_t)c->nwidths;
    const float *bias = nn->w.conv_b[j];
    size_t i = 0, m = 0; /* next window: sequence i, start m */

    for (size_t q = 0; q < n; q++)
        for (size_t ch = 0; ch < C; ch++) {
            s->feat[q * F + (size_t)j * C + ch] = -INFINITY;
            if (argmax != NULL)
                argmax[q * F + (size_t)j * C + ch] = -1;
        }
    for (;;) {
        size_t rows = 0, i0 = i, m0 = m;
        /* fill a chunk with windows */
        while (i < n && rows < KL_CNN_CHUNK) {
            size_t L = s->off[i + 1] - s->off[i];
            if (L < k || m > L - k) { /* sequence done (or empty) */
                i++;
                m = 0;
                continue;
            }
            memcpy(s->col + rows * K, s->x + (s->off[i] + m) * E,
                   K * sizeof(float));
            rows++;
            m++;
        }
        if (rows == 0)
            break;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)rows,
                    (blasint)C, (blasint)K, 1.0f, s->col, (blasint)K,
                    nn->p.conv[j], (blasint)K, 0.0f, s->g, (blasint)C);
        /* walk the same windows again to pool them */
        for (size_t r = 0; r < rows;) {
            size_t L = s->off[i0 + 1] - s->off[i0];
            if (L < k || m0 > L - k) {
                i0++;
                m0 = 0;
                continue;
            }
            float *f = s->feat + i0 * F + (size_t)j * C;
            const float *o = s->g + r * C;
            for (size_t ch = 0; ch < C; ch++) {
                float v = o[ch] + bias[ch];
                if (v > f[ch]) {
                    f[ch] = v;
                    if (argmax != NULL)
                        argmax[i0 * F + (size_t)j * C + ch] = (int32_t)m0;
                }
            }
            r++;
            m0++;
        }
    }
    for (size_t q = 0; q < n; q++)
        for (size_t ch = 0; ch < C; ch++) {
            float *v = &s->feat[q * F + (size_t)j * C + ch];
            if (!(*v > 0.0f)) { /* ReLU; also an empty sequence's -inf */
                *v = 0.0f;
                if (argmax != NULL)
                    argmax[q * F + (size_t)j * C + ch] = -1;
            }
        }
}

/* Contract in nn.h. */
int kl_textcnn_forward(const struct kl_nn *nn, const int32_t *const *seq,
                       const size_t *len, size_t n, struct kl_nn_scratch *s,
                       struct kl_nn_cache *cache)
{
    const struct kl_nn_conf *c = &nn->c;
    size_t E = (size_t)c->dim, C = (size_t)c->channels;
    size_t K = widest(c) * E, F = C * (size_t)c->nwidths;
    int rc;

    if ((rc = embed(nn, seq, len, n, s, cache)) != KL_OK)
        return rc;
    if (kl_nn_reserve((void **)&s->col, &s->colcap, KL_CNN_CHUNK * K,
                      sizeof(float)) ||
        kl_nn_reserve((void **)&s->g, &s->gcap, KL_CNN_CHUNK * C,
                      sizeof(float)) ||
        (cache != NULL &&
         kl_nn_reserve((void **)&cache->argmax, &cache->caps[3], n * F,
                       sizeof(int32_t))))
        return KL_ENOMEM;
    for (int32_t j = 0; j < c->nwidths; j++)
        conv_width(nn, j, n, s, cache ? cache->argmax : NULL);
    return KL_OK;
}
