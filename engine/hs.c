/*
 * engine/hs.c: the hierarchical-softmax tree and its top-k search (see
 * hs.h). Written from fastText's documented behaviour (Huffman coding of
 * labels by frequency, Mikolov et al. 2013; Joulin et al. 2016) and checked
 * against fastText 0.9.2's predictions by tests/parity.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hs.h"
#include "topk.h"

/* Count of a node not yet built: larger than any real count. */
#define HS_UNBUILT ((int64_t)1000000000000000LL)

/* Contract in hs.h. */
int kl_hs_build(struct kl_hs *t, const int64_t *counts, int32_t nlabels)
{
    int64_t *count = NULL;
    int32_t *parent = NULL, *depth = NULL;
    size_t nodes;
    int32_t leaf, node;
    int rc = KL_OK;

    memset(t, 0, sizeof *t);
    if (nlabels < 1 || counts == NULL)
        return KL_EINVAL;
    nodes = 2 * (size_t)nlabels - 1;
    t->left = malloc(nodes * sizeof *t->left);
    t->right = malloc(nodes * sizeof *t->right);
    count = malloc(nodes * sizeof *count);
    parent = malloc(nodes * sizeof *parent);
    depth = malloc(nodes * sizeof *depth);
    if (!t->left || !t->right || !count || !parent || !depth) {
        rc = KL_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < nodes; i++) {
        t->left[i] = t->right[i] = parent[i] = -1;
        count[i] = i < (size_t)nlabels ? counts[i] : HS_UNBUILT;
    }
    leaf = nlabels - 1;
    node = nlabels;
    for (int32_t i = nlabels; i < (int32_t)nodes; i++) {
        int32_t pick[2];
        /* a node not built yet (node >= i) is never picked: with counts
         * below HS_UNBUILT this is fastText's choice, and counts from a
         * file at or above it no longer walk node past the array (when no
         * leaf is left, at least two built nodes are) */
        for (int j = 0; j < 2; j++)
            pick[j] = leaf >= 0 && (node >= i || count[leaf] < count[node])
                          ? leaf--
                          : node++;
        t->left[i] = pick[0];
        t->right[i] = pick[1];
        if (__builtin_add_overflow(count[pick[0]], count[pick[1]], &count[i]))
            count[i] = INT64_MAX;
        parent[pick[0]] = parent[pick[1]] = i;
    }
    /* parents have larger indices: one pass from the root down */
    t->depth = 0;
    for (size_t i = nodes; i-- > 0;) {
        depth[i] = parent[i] < 0 ? 0 : depth[parent[i]] + 1;
        if (depth[i] > t->depth)
            t->depth = depth[i];
    }
    t->nlabels = nlabels;
out:
    free(count);
    free(parent);
    free(depth);
    if (rc != KL_OK)
        kl_hs_fini(t);
    return rc;
}

/* Contract in hs.h. */
void kl_hs_fini(struct kl_hs *t)
{
    free(t->left);
    free(t->right);
    memset(t, 0, sizeof *t);
}

/* Contract in hs.h. The search visits nodes in the order of a recursive
 * left-first DFS (an explicit stack, so a deep tree cannot overflow the
 * C stack); the heap state at each visit is therefore fastText's. */
void kl_hs_predict(const struct kl_hs *t, const float *logits, int k,
                   float threshold, struct kl_hs_frame *stack,
                   struct kl_prediction *o)
{
    const float floor_score = kl_topk_log(threshold);
    struct kl_topk h;
    size_t sp = 0;

    kl_topk_init(&h, k);
    stack[sp++] = (struct kl_hs_frame){2 * t->nlabels - 2, 0.0f};
    while (sp > 0) {
        struct kl_hs_frame fr = stack[--sp];
        float f;

        if (fr.score < floor_score || kl_topk_skip(&h, fr.score))
            continue;
        if (t->left[fr.node] < 0 && t->right[fr.node] < 0) {
            kl_topk_push(&h, fr.score, fr.node);
            continue;
        }
        f = logits[fr.node - t->nlabels];
        f = (float)(1.0 / (double)(1.0f + expf(-f)));
        /* right pushed first so that left is visited first; a NaN logit
         * (NaN input rows are not scanned at open) gives both branches
         * probability 0, as predict.c turns NaN probabilities into 0, so
         * that no NaN score reaches the heap and unorders it */
        stack[sp++] = (struct kl_hs_frame){
            t->right[fr.node],
            fr.score + kl_topk_log(isnan(f) ? 0.0f : f)};
        stack[sp++] = (struct kl_hs_frame){
            t->left[fr.node],
            fr.score + kl_topk_log(isnan(f) ? 0.0f
                                            : (float)(1.0 - (double)f))};
    }
    kl_topk_sort(&h);
    o->k = h.n;
    for (int i = 0; i < h.n; i++) {
        float p = expf(h.score[i]);
        o->label[i] = h.id[i];
        o->prob[i] = p >= 0.0f ? (p <= 1.0f ? p : 1.0f) : 0.0f;
    }
}
