/*
 * tests/unit/test_topk.c: kl_topk_probs (engine/topk.c), which skips the
 * log of candidates whose probability is far below the heap's smallest,
 * against the plain loop that takes every candidate's log, as fastText's
 * findKBest does: the same labels, scores and order, ties included, on
 * random probability rows full of near-ties.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "klabel/engine.h"
#include "../../engine/topk.h"
#include "helpers.h"

/* The reference: every candidate's score, then fastText's skip/push. */
static void plain(struct kl_topk *h, const float *p, int32_t nl, float thr)
{
    for (int32_t j = 0; j < nl; j++) {
        float score;

        if (p[j] < thr)
            continue;
        score = kl_topk_log(p[j]);
        if (!kl_topk_skip(h, score))
            kl_topk_push(h, score, j);
    }
}

static uint64_t rng = 0x9E3779B97F4A7C15u;

static uint32_t next(void)
{
    return kl_test_xorshift(&rng);
}

/* A probability in [0, 1]: often one of a few values, or one of them
 * moved by a few float ulps (ties before and after the log's rounding). */
static float draw(const float *pool)
{
    uint32_t r = next();
    float v = pool[r % 8];

    switch ((r >> 8) % 4) {
    case 0:
        return v;
    case 1:
        return nextafterf(v, (r >> 12) & 1 ? 2.0f : -1.0f);
    case 2:
        return v * (1.0f + (float)((int)((r >> 12) % 2001) - 1000) * 1e-7f);
    default:
        return (float)((r >> 12) % 1000001) / 1e6f;
    }
}

static void check_once(int32_t nl, int k, float thr)
{
    float pool[8], p[300];
    struct kl_topk a, b;

    for (int i = 0; i < 8; i++)
        pool[i] = (float)(next() % 1000001) / 1e6f;
    for (int32_t j = 0; j < nl; j++) {
        float v = draw(pool);
        p[j] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    }
    kl_topk_init(&a, k);
    kl_topk_init(&b, k);
    plain(&a, p, nl, thr);
    kl_topk_probs(&b, p, nl, thr);
    cr_assert_eq(a.n, b.n);
    kl_topk_sort(&a);
    kl_topk_sort(&b);
    for (int i = 0; i < a.n; i++) {
        cr_assert_eq(a.id[i], b.id[i], "nl %d k %d rank %d", (int)nl, k, i);
        cr_assert_eq(a.score[i], b.score[i]);
    }
}

Test(topk, probs_equal_the_plain_loop)
{
    for (int round = 0; round < 20000; round++) {
        int32_t nl = 1 + (int32_t)(next() % 300);
        int k = 1 + (int)(next() % KL_TOPK_MAX);
        float thr = next() % 4 ? 0.0f : (float)(next() % 1000) / 2000.0f;

        check_once(nl, k, thr);
    }
}

/* k = 1 (the stage's default) starts skipping from the best candidate's
 * probability: on rows of 1 to 40 labels, mostly near-ties, the same
 * label and score as the plain loop. */
Test(topk, one_best_equals_the_plain_loop)
{
    for (int round = 0; round < 20000; round++) {
        int32_t nl = 1 + (int32_t)(next() % 40);
        float thr = next() % 4 ? 0.0f : (float)(next() % 1000) / 2000.0f;

        check_once(nl, 1, thr);
    }
}

/* Values whose logs round to the same float: all of them reach the heap
 * (fastText pushes on equal scores), in the plain loop's order. */
Test(topk, float_ties_after_the_log_are_kept)
{
    float p[64];
    struct kl_topk a, b;

    for (int j = 0; j < 64; j++)
        p[j] = 0.5f + (float)(j % 4) * 1e-8f + (j % 7 == 0 ? 0.3f : 0.0f);
    for (int k = 1; k <= KL_TOPK_MAX; k++) {
        kl_topk_init(&a, k);
        kl_topk_init(&b, k);
        plain(&a, p, 64, 0.0f);
        kl_topk_probs(&b, p, 64, 0.0f);
        kl_topk_sort(&a);
        kl_topk_sort(&b);
        cr_assert_eq(a.n, b.n);
        for (int i = 0; i < a.n; i++)
            cr_assert_eq(a.id[i], b.id[i], "k %d rank %d", k, i);
    }
}

/* NaN and out-of-range values take the plain path. */
Test(topk, odd_values_take_the_plain_path)
{
    float p[6] = {0.9f, NAN, -0.5f, 0.0f, 1.5f, 0.1f};
    struct kl_topk a, b;

    for (int k = 1; k <= 6; k++) {
        kl_topk_init(&a, k);
        kl_topk_init(&b, k);
        plain(&a, p, 6, -1.0f);
        kl_topk_probs(&b, p, 6, -1.0f);
        kl_topk_sort(&a);
        kl_topk_sort(&b);
        cr_assert_eq(a.n, b.n);
        for (int i = 0; i < a.n; i++)
            cr_assert_eq(a.id[i], b.id[i], "k %d rank %d", k, i);
    }
}
