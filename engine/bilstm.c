/*
 * engine/bilstm.c: the batched forward pass of the "bilstm" architecture:
 * embedding -> L bidirectional LSTM layers -> last-state or max pooling,
 * into s->feat (the dense head is nn_core.c's).
 *
 * The batch is packed as PyTorch's pack_padded_sequence packs it: rows
 * sorted by length, longest first, and the tokens laid out time-major, so
 * the sequences still running at step t are the first bsz[t] rows and
 * step t's tokens are the packed rows off[t] .. off[t] + bsz[t]. Padding
 * is never computed on. Per layer, ONE cblas_sgemm projects every token of
 * the batch for both directions (N x in) x (in x 8H); then per direction
 * and step ONE cblas_sgemm (bsz[t] x H) x (H x 4H) adds the recurrence for
 * all running sequences. The reverse direction at step s reads token
 * len - 1 - s of each sequence, so the same prefix of rows runs.
 *
 * Gates follow PyTorch: i, f, g, o; c' = f c + i g; h' = o tanh(c').
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "klabel/engine.h"
#include "nn.h"
#include "nn_math.h"

/* Longest first; ties by batch index (stable). ctx: the lengths. */
static int by_len(const void *a, const void *b, void *ctx)
{
    const size_t *len = ctx;
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;

    if (len[i] != len[j])
        return len[i] > len[j] ? -1 : 1;
    return (i > j) - (i < j);
}

/* Sorts the batch and lays out the steps: s->order, s->len, s->bsz,
 * s->off; returns the packed row count in *N and the steps in *T. */
static int pack(const size_t *len, size_t n, struct kl_nn_scratch *s,
                size_t *N, size_t *T)
{
    size_t r = n;

    if (kl_nn_reserve((void **)&s->order, &s->bcap, n, sizeof(int32_t)) ||
        kl_nn_reserve((void **)&s->len, &s->lcap, n, sizeof(int32_t)))
        return KL_ENOMEM;
    for (size_t i = 0; i < n; i++)
        s->order[i] = (int32_t)i;
    qsort_r(s->order, n, sizeof(int32_t), by_len, (void *)len);
    for (size_t i = 0; i < n; i++)
        s->len[i] = (int32_t)len[s->order[i]];
    *T = (size_t)s->len[0];
    if (kl_nn_reserve((void **)&s->bsz, &s->tcap, *T + 1, sizeof(int32_t)) ||
        kl_nn_reserve((void **)&s->off, &s->ocap, *T + 1, sizeof(size_t)))
        return KL_ENOMEM;
    s->off[0] = 0;
    for (size_t t = 0; t < *T; t++) {
        while (r > 0 && (size_t)s->len[r - 1] <= t)
            r--;
        s->bsz[t] = (int32_t)r;
        s->off[t + 1] = s->off[t] + r;
    }
    *N = s->off[*T];
    return KL_OK;
}

/* Every buffer the pass needs for N packed rows and n sequences. */
static int reserve_all(const struct kl_nn_conf *c, size_t N, size_t n,
                       struct kl_nn_scratch *s, struct kl_nn_cache *cache)
{
    size_t H = (size_t)c->hidden, E = (size_t)c->dim;
    int bad = 0;

    bad |= kl_nn_reserve((void **)&s->x, &s->xcap, N * E, sizeof(float));
    bad |= kl_nn_reserve((void **)&s->proj, &s->projcap, N * 8 * H,
                         sizeof(float));
    bad |= kl_nn_reserve((void **)&s->hc, &s->hccap, 4 * n * H + H,
                         sizeof(float));
    bad |= kl_nn_reserve((void **)&s->g, &s->gcap, n * 4 * H, sizeof(float));
    if (cache == NULL) {
        bad |= kl_nn_reserve((void **)&s->y[0], &s->ycap, N * 2 * H,
                             sizeof(float));
        if (c->layers > 1)
            bad |= kl_nn_reserve((void **)&s->y[1], &s->ycap1, N * 2 * H,
                                 sizeof(float));
        return bad ? KL_ENOMEM : KL_OK;
    }
    bad |= kl_nn_reserve((void **)&cache->tok, &cache->caps[2], N,
                         sizeof(int32_t));
    if (c->pool == KL_NN_POOL_MAX)
        bad |= kl_nn_reserve((void **)&cache->argmax, &cache->caps[3],
                             n * 2 * H, sizeof(int32_t));
    for (int32_t l = 0; l < c->layers; l++) {
        size_t *cp = &cache->caps[8 + 5 * l];
        bad |= kl_nn_reserve((void **)&cache->ys[l], &cp[0], N * 2 * H,
                             sizeof(float));
        for (int d = 0; d < 2; d++) {
            bad |= kl_nn_reserve((void **)&cache->gates[l][d], &cp[1 + d],
                                 N * 4 * H, sizeof(float));
            bad |= kl_nn_reserve((void **)&cache->cell[l][d], &cp[3 + d],
                                 N * H, sizeof(float));
        }
    }
    cache->ntok = N;
    return bad ? KL_ENOMEM : KL_OK;
}

/* The embedded tokens, packed: x row off[t] + r = emb[seq[order[r]][t]]. */
static int embed(const struct kl_nn *nn, const int32_t *const *seq,
                 size_t T, struct kl_nn_scratch *s,
                 struct kl_nn_cache *cache)
{
    size_t E = (size_t)nn->c.dim;

    for (size_t t = 0; t < T; t++)
        for (int32_t r = 0; r < s->bsz[t]; r++) {
            int32_t id = seq[s->order[r]][t];
            size_t row = s->off[t] + (size_t)r;
            if (id < 0 || id >= nn->c.rows)
                return KL_EINVAL;
            memcpy(s->x + row * E, nn->w.emb + (size_t)id * E,
                   E * sizeof(float));
            if (cache != NULL)
                cache->tok[row] = id;
        }
    return kl_nn_dropout_x(cache, s->x, s->off[T] * E);
}

/* One direction d of layer l over all steps. proj holds the layer's
 * input projections (N, 8H) with both biases; y (N, 2H) gets h in
 * columns d*H ..; gates / cell, when not NULL, keep (N, 4H) activations
 * and (N, H) cell states for the backward pass. Per running row the gate
 * pre-activations are summed, then squashed as arrays (nn_math.h). */
static void run_dir(const struct kl_nn *nn, int32_t l, int d, size_t T,
                    size_t B, struct kl_nn_scratch *s, float *y,
                    float *gates, float *cell)
{
    size_t H = (size_t)nn->c.hidden, G4 = 4 * H;
    float *h = s->hc + (size_t)d * 2 * B * H, *c = h + B * H;
    float *tc = s->hc + 4 * B * H; /* (H) tanh of the cell */
    const float *whh = nn->w.lstm[l][d].w_hh;

    memset(h, 0, 2 * B * H * sizeof(float));
    for (size_t st = 0; st < T; st++) {
        size_t bt = (size_t)s->bsz[st];
        if (st > 0) /* h is 0 before the first step */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                        (blasint)bt, (blasint)G4, (blasint)H, 1.0f, h,
                        (blasint)H, whh, (blasint)H, 0.0f, s->g,
                        (blasint)G4);
        for (size_t r = 0; r < bt; r++) {
            size_t t = d == 0 ? st : (size_t)s->len[r] - 1 - st;
            size_t row = s->off[t] + r;
            const float *p = s->proj + row * 8 * H + (size_t)d * G4;
            float *z = gates ? gates + row * G4 : s->g + r * G4;
            float *hr = h + r * H, *cr = c + r * H;
            float *yr = y + row * 2 * H + (size_t)d * H;

            if (st > 0) {
                const float *a = s->g + r * G4;
                for (size_t j = 0; j < G4; j++)
                    z[j] = a[j] + p[j];
            } else {
                memcpy(z, p, G4 * sizeof(float));
            }
            kl_nn_sigmoid_v(z, 2 * H);            /* i, f */
            kl_nn_tanh_v(z + 2 * H, z + 2 * H, H); /* g */
            kl_nn_sigmoid_v(z + 3 * H, H);        /* o */
            for (size_t j = 0; j < H; j++)
                cr[j] = z[H + j] * cr[j] + z[j] * z[2 * H + j];
            kl_nn_tanh_v(cr, tc, H);
            for (size_t j = 0; j < H; j++)
                yr[j] = hr[j] = z[3 * H + j] * tc[j];
            if (cell != NULL)
                memcpy(cell + row * H, cr, H * sizeof(float));
        }
    }
}

/* Pooled features into s->feat (n, 2H) in batch order. */
static void pool(const struct kl_nn *nn, size_t n, const float *y,
                 struct kl_nn_scratch *s, struct kl_nn_cache *cache)
{
    size_t H = (size_t)nn->c.hidden, F = 2 * H;
    size_t B = n;

    for (size_t r = 0; r < n; r++) {
        float *f = s->feat + (size_t)s->order[r] * F;
        if (nn->c.pool == KL_NN_POOL_LAST) {
            /* the final states; 0 for an empty sequence */
            memcpy(f, s->hc + r * H, H * sizeof(float));
            memcpy(f + H, s->hc + 2 * B * H + r * H, H * sizeof(float));
            if (s->len[r] == 0)
                memset(f, 0, F * sizeof(float));
            continue;
        }
        for (size_t j = 0; j < F; j++) {
            float best = 0.0f;
            int32_t arg = -1;
            for (int32_t t = 0; t < s->len[r]; t++) {
                size_t row = s->off[t] + r;
                float v = y[row * F + j];
                if (arg < 0 || v > best) {
                    best = v;
                    arg = (int32_t)row;
                }
            }
            f[j] = best;
            if (cache != NULL)
                cache->argmax[(size_t)s->order[r] * F + j] = arg;
        }
    }
}

/* Contract in nn.h. */
int kl_bilstm_forward(const struct kl_nn *nn, const int32_t *const *seq,
                      const size_t *len, size_t n, struct kl_nn_scratch *s,
                      struct kl_nn_cache *cache)
{
    const struct kl_nn_conf *c = &nn->c;
    size_t H = (size_t)c->hidden, E = (size_t)c->dim, N, T;
    const float *in;
    float *y = NULL;
    int rc;

    if ((rc = pack(len, n, s, &N, &T)) != KL_OK ||
        (rc = reserve_all(c, N, n, s, cache)) != KL_OK ||
        (rc = embed(nn, seq, T, s, cache)) != KL_OK)
        return rc;
    if (N == 0) { /* nothing but empty sequences */
        memset(s->feat, 0, n * 2 * H * sizeof(float));
        return KL_OK;
    }
    in = s->x;
    for (int32_t l = 0; l < c->layers; l++) {
        size_t inw = l == 0 ? E : 2 * H;
        y = cache ? cache->ys[l] : s->y[l & 1];
        for (size_t r = 0; r < N; r++)
            memcpy(s->proj + r * 8 * H, nn->p.bias[l], 8 * H * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)N,
                    (blasint)(8 * H), (blasint)inw, 1.0f, in, (blasint)inw,
                    nn->p.w_ih[l], (blasint)inw, 1.0f, s->proj,
                    (blasint)(8 * H));
        for (int d = 0; d < 2; d++)
            run_dir(nn, l, d, T, n, s, y, cache ? cache->gates[l][d] : NULL,
                    cache ? cache->cell[l][d] : NULL);
        in = y;
    }
    pool(nn, n, y, s, cache);
    return KL_OK;
}
