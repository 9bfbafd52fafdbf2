/*
 * engine/textcnn_grad.c: the backward pass of the "textcnn" architecture.
 * Max over time passes a feature's gradient to the one window that won
 * (kl_textcnn_forward() kept its start in cache->argmax; -1 when ReLU cut
 * it), so each (text, filter) pair adds g * window to the filter's
 * gradient, g to its bias, and g * filter to the window's embedded tokens,
 * which then flow (through the dropout mask) into the embedding rows.
 */
#include <string.h>

#include "klabel/engine.h"
#include "nn.h"

/* Contract in nn.h. */
int kl_textcnn_backward(const struct kl_nn *nn, const struct kl_nn_scratch *s,
                        const struct kl_nn_cache *cache, const float *dfeat,
                        size_t n, float *grad, struct kl_nn_gscratch *gs)
{
    const struct kl_nn_conf *c = &nn->c;
    size_t E = (size_t)c->dim, C = (size_t)c->channels;
    size_t F = C * (size_t)c->nwidths, N = cache->ntok;
    float *gemb = grad + kl_nn_grad_off(nn, &nn->w.emb);
    float *dx;

    if (n == 0 || N == 0)
        return KL_OK;
    if (kl_nn_reserve((void **)&gs->dx, &gs->caps[2], N * E, sizeof(float)))
        return KL_ENOMEM;
    dx = gs->dx;
    memset(dx, 0, N * E * sizeof(float));
    for (int32_t j = 0; j < c->nwidths; j++) {
        size_t k = (size_t)c->widths[j];
        float *gw = grad + kl_nn_grad_off(nn, &nn->w.conv_w[j]);
        float *gb = grad + kl_nn_grad_off(nn, &nn->w.conv_b[j]);
        const float *wt = nn->p.conv[j]; /* (C, k * E), im2col order */

        for (size_t i = 0; i < n; i++)
            for (size_t ch = 0; ch < C; ch++) {
                size_t f = i * F + (size_t)j * C + ch;
                int32_t m = cache->argmax[f];
                const float *win;
                float *dwin, g = dfeat[f];

                if (m < 0 || g == 0.0f)
                    continue;
                win = s->x + (s->off[i] + (size_t)m) * E;
                dwin = dx + (s->off[i] + (size_t)m) * E;
                gb[ch] += g;
                for (size_t q = 0; q < k; q++)
                    for (size_t e = 0; e < E; e++) {
                        gw[ch * E * k + e * k + q] += g * win[q * E + e];
                        dwin[q * E + e] += g * wt[ch * k * E + q * E + e];
                    }
            }
    }
    for (size_t row = 0; row < N; row++) {
        int32_t id = cache->tok[row];
        const float *v = dx + row * E;
        const float *mk = cache->drop > 0.0f ? cache->xmask + row * E : NULL;
        float *g;

        if (id < 0) /* a zero pad row: no parameter */
            continue;
        g = gemb + (size_t)id * E;
        for (size_t e = 0; e < E; e++)
            g[e] += mk ? v[e] * mk[e] : v[e];
    }
    return KL_OK;
}
