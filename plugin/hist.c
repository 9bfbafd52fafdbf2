/*
 * Log-linear histogram (plugin/hist.h). Bucket of v: v itself below 16;
 * otherwise, with m the index of v's highest set bit, 16 buckets per m
 * selected by the 4 bits below the highest one.
 */
#include "hist.h"

#include <string.h>

void kl_hist_init(struct kl_hist *h)
{
    memset(h, 0, sizeof *h);
}

static unsigned bucket_of(uint64_t v)
{
    unsigned m;

    if (v < KL_HIST_SUB)
        return (unsigned)v;
    m = 63u - (unsigned)__builtin_clzll(v); /* >= 4 */
    return KL_HIST_SUB + (m - 4) * KL_HIST_SUB +
           (unsigned)((v >> (m - 4)) & (KL_HIST_SUB - 1));
}

/* Lowest value of bucket i and its width. */
static void bucket_range(unsigned i, uint64_t *lo, uint64_t *width)
{
    unsigned m, sub;

    if (i < KL_HIST_SUB) {
        *lo = i;
        *width = 1;
        return;
    }
    m = (i - KL_HIST_SUB) / KL_HIST_SUB + 4;
    sub = (i - KL_HIST_SUB) % KL_HIST_SUB;
    *width = (uint64_t)1 << (m - 4);
    *lo = ((uint64_t)1 << m) + (uint64_t)sub * *width;
}

void kl_hist_add(struct kl_hist *h, uint64_t v)
{
    unsigned i = bucket_of(v);

    if (i >= KL_HIST_NB)
        i = KL_HIST_NB - 1;
    if (h->count == 0 || v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    h->count++;
    h->sum += v;
    h->b[i]++;
}

void kl_hist_merge(struct kl_hist *dst, const struct kl_hist *src)
{
    unsigned i;

    if (!src->count)
        return;
    if (dst->count == 0 || src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->count += src->count;
    dst->sum += src->sum;
    for (i = 0; i < KL_HIST_NB; i++)
        dst->b[i] += src->b[i];
}

uint64_t kl_hist_percentile(const struct kl_hist *h, double p)
{
    uint64_t rank, seen = 0, lo, width, v;
    unsigned i;

    if (!h->count)
        return 0;
    if (p <= 0)
        return h->min;
    if (p >= 1)
        return h->max;
    rank = (uint64_t)(p * (double)h->count);
    if (rank >= h->count)
        rank = h->count - 1;
    for (i = 0; i < KL_HIST_NB; i++) {
        seen += h->b[i];
        if (seen > rank)
            break;
    }
    if (i == KL_HIST_NB)
        return h->max;
    bucket_range(i, &lo, &width);
    v = lo + width / 2;
    if (v < h->min)
        v = h->min;
    if (v > h->max)
        v = h->max;
    return v;
}
