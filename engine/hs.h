/*
 * engine/hs.h: hierarchical softmax as fastText builds and reads it: a
 * Huffman tree over the labels from their training counts (labels are
 * leaves 0..n-1, internal nodes n..2n-2, the root last; internal node i uses
 * row i - n of the output matrix), and prediction by a depth-first search
 * that adds log(sigmoid) scores along the path, prunes branches below the
 * threshold or below the k-th best so far, and keeps the k best leaves in
 * fastText's heap (topk.h). Not installed.
 */
#ifndef KL_ENGINE_HS_H
#define KL_ENGINE_HS_H

#include <stdint.h>

#include "klabel/engine.h"

struct kl_hs {
    int32_t nlabels;
    int32_t *left, *right; /* (2 * nlabels - 1) children of each node; -1 at
                              the leaves (labels) */
    int32_t depth;         /* longest root-to-leaf path, in edges */
};

/* One pending node of the search; a caller-provided stack of
 * kl_hs_stack_size() frames. */
struct kl_hs_frame {
    int32_t node;
    float score;
};

/* Builds the tree from counts[0..nlabels) (label order; fastText keeps them
 * sorted by count, most frequent first): repeatedly joins the two lightest
 * of the next unused leaf (walking from the last label back) and the next
 * unused internal node, the lighter one on the left, as fastText's
 * buildTree does. Returns 0, KL_EINVAL (nlabels < 1) or KL_ENOMEM; on
 * success t is caller-owned: kl_hs_fini(). */
int kl_hs_build(struct kl_hs *t, const int64_t *counts, int32_t nlabels);

/* Frees what t owns and zeroes it (a zeroed t is fine). */
void kl_hs_fini(struct kl_hs *t);

/* Frames kl_hs_predict() needs. */
static inline size_t kl_hs_stack_size(const struct kl_hs *t)
{
    return (size_t)t->depth + 2;
}

/* Predicts one row: logits[i - nlabels] is the output row of internal node
 * i dotted with the hidden vector. k in [1, KL_TOPK_MAX]. Fills o with at
 * most k labels best first; prob is exp(score) as fastText reports it,
 * clamped to [0, 1]. A path whose log-score falls below
 * log(threshold + 1e-5) is cut, as in fastText, so fewer than k labels may
 * come back even with threshold 0. stack holds kl_hs_stack_size(t) frames.
 * Reads t only: safe to share across threads. */
void kl_hs_predict(const struct kl_hs *t, const float *logits, int k,
                   float threshold, struct kl_hs_frame *stack,
                   struct kl_prediction *o);

#endif /* KL_ENGINE_HS_H */
