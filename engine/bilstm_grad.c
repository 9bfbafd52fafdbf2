/*
 * engine/bilstm_grad.c: back-propagation through time for the "bilstm"
 * architecture, from the pooled features' gradient down to the embedding
 * rows, over the packed layout and the cache that kl_bilstm_forward()
 * left (bilstm.c). Per layer and direction the steps run backwards,
 * carrying dh and dc; the gate gradients of every token are kept, so the
 * weight gradients are ONE cblas_sgemm each (dW_ih = dA^T X,
 * dW_hh = dA^T H_prev) and the input gradient one more (dX = dA W_ih);
 * the recurrence dh_prev = dA_t W_hh is one GEMM per step.
 */
#include <math.h>
#include <string.h>

#include <cblas.h>

#include "klabel/engine.h"
#include "nn.h"

static int reserve_grad(const struct kl_nn_conf *c, size_t N, size_t n,
                        struct kl_nn_gscratch *gs)
{
    size_t H = (size_t)c->hidden, E = (size_t)c->dim;
    size_t w = E > 2 * H ? E : 2 * H;

    if (kl_nn_reserve((void **)&gs->dy, &gs->caps[1], N * w, sizeof(float)) ||
        kl_nn_reserve((void **)&gs->dx, &gs->caps[2], N * w, sizeof(float)) ||
        kl_nn_reserve((void **)&gs->da, &gs->caps[3], N * 4 * H,
                      sizeof(float)) ||
        kl_nn_reserve((void **)&gs->hprev, &gs->caps[4], N * H,
                      sizeof(float)) ||
        kl_nn_reserve((void **)&gs->dh, &gs->caps[5], 2 * n * H,
                      sizeof(float)) ||
        kl_nn_reserve((void **)&gs->step, &gs->caps[6], n * 4 * H,
                      sizeof(float)))
        return KL_ENOMEM;
    return KL_OK;
}

/* The pooled features' gradient dfeat (n, 2H), batch order, into the last
 * layer's output gradient dy (N, 2H). */
static void unpool(const struct kl_nn *nn, const struct kl_nn_scratch *s,
                   const struct kl_nn_cache *cache, const float *dfeat,
                   size_t n, float *dy)
{
    size_t H = (size_t)nn->c.hidden, F = 2 * H;

    memset(dy, 0, cache->ntok * F * sizeof(float));
    for (size_t r = 0; r < n; r++) {
        const float *g = dfeat + (size_t)s->order[r] * F;
        size_t L = (size_t)s->len[r];
        if (L == 0)
            continue;
        if (nn->c.pool == KL_NN_POOL_LAST) {
            float *yf = dy + (s->off[L - 1] + r) * F;  /* forward: last */
            float *yb = dy + (s->off[0] + r) * F + H;  /* reverse: first */
            for (size_t j = 0; j < H; j++) {
                yf[j] += g[j];
                yb[j] += g[H + j];
            }
            continue;
        }
        for (size_t j = 0; j < F; j++) {
            int32_t row = cache->argmax[(size_t)s->order[r] * F + j];
            if (row >= 0)
                dy[(size_t)row * F + j] += g[j];
        }
    }
}

/* Direction d of layer l backwards through time: the gate
 * pre-activation gradients of every token into gs->da (N, 4H, packed
 * rows) and the previous hidden state of every token into gs->hprev. */
static void back_dir(const struct kl_nn *nn, const struct kl_nn_scratch *s,
                     const struct kl_nn_cache *cache, int32_t l, int d,
                     size_t n, const float *dy, struct kl_nn_gscratch *gs)
{
    size_t H = (size_t)nn->c.hidden, G4 = 4 * H, T = (size_t)s->len[0];
    const float *gates = cache->gates[l][d], *cell = cache->cell[l][d];
    const float *y = cache->ys[l], *whh = nn->w.lstm[l][d].w_hh;
    float *dh = gs->dh, *dc = gs->dh + n * H;

    memset(gs->dh, 0, 2 * n * H * sizeof(float));
    for (size_t st = T; st-- > 0;) {
        size_t bt = (size_t)s->bsz[st];
        float *dstep = d == 0 ? gs->da + s->off[st] * G4 : gs->step;
        for (size_t r = 0; r < bt; r++) {
            size_t t = d == 0 ? st : (size_t)s->len[r] - 1 - st;
            size_t row = s->off[t] + r, prow = 0;
            int has_prev = st > 0;
            const float *gr = gates + row * G4;
            float *da = gs->da + row * G4, *hp = gs->hprev + row * H;

            if (has_prev)
                prow = s->off[d == 0 ? t - 1 : t + 1] + r;
            for (size_t j = 0; j < H; j++) {
                float gi = gr[j], gf = gr[H + j], gg = gr[2 * H + j],
                      go = gr[3 * H + j], cc = cell[row * H + j];
                float cp = has_prev ? cell[prow * H + j] : 0.0f;
                float tc = tanhf(cc);
                float dht = dy[row * 2 * H + (size_t)d * H + j] + dh[r * H + j];
                float dct = dc[r * H + j] + dht * go * (1.0f - tc * tc);
                da[j] = dct * gg * gi * (1.0f - gi);
                da[H + j] = dct * cp * gf * (1.0f - gf);
                da[2 * H + j] = dct * gi * (1.0f - gg * gg);
                da[3 * H + j] = dht * tc * go * (1.0f - go);
                dc[r * H + j] = dct * gf;
                hp[j] = has_prev ? y[prow * 2 * H + (size_t)d * H + j] : 0.0f;
            }
            if (d == 1)
                memcpy(dstep + r * G4, da, G4 * sizeof(float));
        }
        if (st > 0) /* dh_prev = dA_t W_hh for the running rows */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                        (blasint)bt, (blasint)H, (blasint)G4, 1.0f, dstep,
                        (blasint)G4, whh, (blasint)H, 0.0f, dh, (blasint)H);
    }
}

/* Contract in nn.h. */
int kl_bilstm_backward(const struct kl_nn *nn, const struct kl_nn_scratch *s,
                       const struct kl_nn_cache *cache, const float *dfeat,
                       size_t n, float *grad, struct kl_nn_gscratch *gs)
{
    const struct kl_nn_conf *c = &nn->c;
    size_t H = (size_t)c->hidden, E = (size_t)c->dim, G4 = 4 * H;
    size_t N = cache->ntok;
    float *dy, *dx, *t;

    if (n == 0 || N == 0)
        return KL_OK;
    if (reserve_grad(c, N, n, gs) != KL_OK)
        return KL_ENOMEM;
    dy = gs->dy;
    dx = gs->dx;
    unpool(nn, s, cache, dfeat, n, dy);
    for (int32_t l = c->layers; l-- > 0;) {
        size_t inw = l == 0 ? E : 2 * H;
        const float *in = l == 0 ? s->x : cache->ys[l - 1];
        memset(dx, 0, N * inw * sizeof(float));
        for (int d = 0; d < 2; d++) {
            const struct kl_nn_lstm *L = &nn->w.lstm[l][d];
            float *gwih = grad + kl_nn_grad_off(nn, &L->w_ih);
            float *gwhh = grad + kl_nn_grad_off(nn, &L->w_hh);
            float *gbih = grad + kl_nn_grad_off(nn, &L->b_ih);
            float *gbhh = grad + kl_nn_grad_off(nn, &L->b_hh);

            back_dir(nn, s, cache, l, d, n, dy, gs);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)G4,
                        (blasint)inw, (blasint)N, 1.0f, gs->da, (blasint)G4,
                        in, (blasint)inw, 1.0f, gwih, (blasint)inw);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)G4,
                        (blasint)H, (blasint)N, 1.0f, gs->da, (blasint)G4,
                        gs->hprev, (blasint)H, 1.0f, gwhh, (blasint)H);
            for (size_t row = 0; row < N; row++)
                for (size_t j = 0; j < G4; j++) {
                    gbih[j] += gs->da[row * G4 + j];
                    gbhh[j] += gs->da[row * G4 + j];
                }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                        (blasint)N, (blasint)inw, (blasint)G4, 1.0f, gs->da,
                        (blasint)G4, L->w_ih, (blasint)inw, 1.0f, dx,
                        (blasint)inw);
        }
        t = dy; /* dx is the next layer down's dy */
        dy = dx;
        dx = t;
    }
    /* dy now holds dX (N, E): through the dropout mask to the rows used */
    {
        float *gemb = grad + kl_nn_grad_off(nn, &nn->w.emb);
        for (size_t row = 0; row < N; row++) {
            float *g = gemb + (size_t)cache->tok[row] * E;
            const float *v = dy + row * E;
            const float *mk = cache->drop > 0.0f ? cache->xmask + row * E
                                                 : NULL;
            for (size_t e = 0; e < E; e++)
                g[e] += mk ? v[e] * mk[e] : v[e];
        }
    }
    return KL_OK;
}
