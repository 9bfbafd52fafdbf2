/*
 * engine/topk.c: the array min-heap behind kl_topk (see topk.h for why its
 * exact moves matter: they decide the order of tied labels).
 */
#include <string.h>

#include "topk.h"

/* Contract in topk.h. */
void kl_topk_init(struct kl_topk *h, int k)
{
    h->n = 0;
    h->k = k < 1 ? 1 : k > KL_TOPK_MAX ? KL_TOPK_MAX : k;
}

/* Moves the pair (s, id) up from hole towards top while its parent has a
 * strictly larger score. */
static void sift_up(struct kl_topk *h, int hole, int top, float s, int32_t id)
{
    int parent = (hole - 1) / 2;

    while (hole > top && h->score[parent] > s) {
        h->score[hole] = h->score[parent];
        h->id[hole] = h->id[parent];
        hole = parent;
        parent = (hole - 1) / 2;
    }
    h->score[hole] = s;
    h->id[hole] = id;
}

/* Refills the hole at the top of heap[0..len): walks the hole down to a
 * leaf along the smaller child (the right one on ties), then sifts (s, id)
 * up from there. */
static void adjust(struct kl_topk *h, int len, float s, int32_t id)
{
    int hole = 0, child = 0;

    while (child < (len - 1) / 2) {
        child = 2 * (child + 1);
        if (h->score[child] > h->score[child - 1])
            child--;
        h->score[hole] = h->score[child];
        h->id[hole] = h->id[child];
        hole = child;
    }
    if ((len & 1) == 0 && child == (len - 2) / 2) {
        child = 2 * (child + 1);
        h->score[hole] = h->score[child - 1];
        h->id[hole] = h->id[child - 1];
        hole = child - 1;
    }
    sift_up(h, hole, 0, s, id);
}

/* Moves the smallest pair of heap[0..len) to position len - 1. */
static void pop_to_end(struct kl_topk *h, int len)
{
    float s = h->score[len - 1];
    int32_t id = h->id[len - 1];

    h->score[len - 1] = h->score[0];
    h->id[len - 1] = h->id[0];
    adjust(h, len - 1, s, id);
}

/* Contract in topk.h. */
void kl_topk_push(struct kl_topk *h, float score, int32_t id)
{
    sift_up(h, h->n, 0, score, id);
    h->n++;
    if (h->n > h->k) {
        pop_to_end(h, h->n);
        h->n--;
    }
}

/* Contract in topk.h. */
void kl_topk_sort(struct kl_topk *h)
{
    for (int len = h->n; len > 1; len--)
        pop_to_end(h, len);
}

/* The skip bound of a one-label selection: that of the largest candidate
 * probability, or -1 (no skipping) when there is none or a candidate is
 * NaN or outside [0, 1]. With k = 1 a candidate strictly below the best
 * one's score never stays: pushed before it, it is popped when the best
 * arrives; after it, fastText skips it. The heap ends as if it had never
 * been seen, so only the best and its near-ties take a log. */
static double one_best_bound(const float *p, int32_t nl, float threshold)
{
    float best = -1.0f;

    for (int32_t j = 0; j < nl; j++) {
        if (p[j] < threshold)
            continue;
        if (!(p[j] >= 0.0f && p[j] <= 1.0f))
            return -1.0;
        if (p[j] > best)
            best = p[j];
    }
    return best >= 0.0f ? ((double)best + 1e-5) * (1.0 - 1e-4) : -1.0;
}

/* Contract in topk.h. Scores are log(p + 1e-5) rounded to float, for p
 * in [0, 1]: |score| <= 11.6, so each rounding is off by at most 2^-21 (<
 * 5e-7). When p + 1e-5 < (pmin + 1e-5) * (1 - 1e-4), the exact logs differ
 * by more than 1e-4 and the rounded scores keep their order: strictly
 * smaller, which fastText skips. Anything closer takes the exact path. */
void kl_topk_probs(struct kl_topk *h, const float *p, int32_t nl,
                   float threshold)
{
    /* (pmin + 1e-5) * (1 - 1e-4) once the heap is full; for k = 1 that of
     * the best candidate from the start (one_best_bound) */
    double bound = h->k == 1 && h->n == 0 ? one_best_bound(p, nl, threshold)
                                          : -1.0;

    for (int32_t j = 0; j < nl; j++) {
        float score;

        if (p[j] < threshold)
            continue;
        if (p[j] >= 0.0f && (double)p[j] + 1e-5 < bound)
            continue;
        score = kl_topk_log(p[j]);
        if (kl_topk_skip(h, score))
            continue;
        kl_topk_push(h, score, j);
        if (h->n == h->k) {
            float pmin = p[h->id[0]];

            if (!(isfinite(pmin) && pmin >= 0.0f && pmin <= 1.0f))
                bound = -1.0;
            else if (((double)pmin + 1e-5) * (1.0 - 1e-4) > bound)
                bound = ((double)pmin + 1e-5) * (1.0 - 1e-4);
        }
    }
}
