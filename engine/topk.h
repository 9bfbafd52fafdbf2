/*
 * engine/topk.h: top-k selection that orders labels exactly as fastText's
 * predict does, ties included. fastText keeps the k best (log-probability,
 * label) pairs in a std::vector used as a binary min-heap (push_heap /
 * pop_heap, comparing scores only) and sorts it with sort_heap at the end;
 * equal scores thus come out in the heap's order, not by label index.
 * This is our own implementation of that classic array heap (the sift-up
 * and hole-filling sift-down that GNU libstdc++ uses), so tie order matches
 * fastText builds that use libstdc++ (the PyPI wheels). Not installed.
 */
#ifndef KL_ENGINE_TOPK_H
#define KL_ENGINE_TOPK_H

#include <math.h>
#include <stdint.h>

#include "klabel/engine.h"

/* Caller-owned, on the stack: holds up to k + 1 pairs while selecting. */
struct kl_topk {
    int n, k;
    float score[KL_TOPK_MAX + 1];  /* (n) heap of scores, smallest at 0 */
    int32_t id[KL_TOPK_MAX + 1];   /* (n) label of each score */
};

/* fastText's std_log: log(x + 1e-5) in double, rounded to float. */
static inline float kl_topk_log(float x)
{
    return (float)log((double)x + 1e-5);
}

/* Starts an empty selection of the k best (1 <= k <= KL_TOPK_MAX). */
void kl_topk_init(struct kl_topk *h, int k);

/* 1 when the heap is full and score is below its smallest: fastText skips
 * such a candidate without pushing it. */
static inline int kl_topk_skip(const struct kl_topk *h, float score)
{
    return h->n == h->k && score < h->score[0];
}

/* push_heap(score, id), then pop_heap + pop_back when more than k. */
void kl_topk_push(struct kl_topk *h, float score, int32_t id);

/* sort_heap: afterwards score[0..n) is best first (the heap is spent). */
void kl_topk_sort(struct kl_topk *h);

/* fastText's findKBest over probabilities p[0..nl) at or above threshold,
 * into h (kl_topk_init'ed, empty); kl_topk_sort() it afterwards. The same
 * pushes in the same order as computing kl_topk_log() of every candidate,
 * but a candidate whose probability is far enough below the heap's
 * smallest that its score must be smaller is skipped without its log. */
void kl_topk_probs(struct kl_topk *h, const float *p, int32_t nl,
                   float threshold);

#endif /* KL_ENGINE_TOPK_H */
