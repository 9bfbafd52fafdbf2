/*
 * tests/unit/test_batch.c: a micro-batch's pooled feature ids
 * (plugin/batch.c): kl_batch_add_ids() copies each item's ids into one
 * buffer that grows as needed, kl_batch_push() counts them into the bytes
 * the item holds, kl_batch_predict() predicts exactly what the model
 * predicts from the items' own feature sets and leaves no view behind,
 * and a cleared batch starts empty.
 */
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "batch.h"
#include "klabel/engine.h"
#include "tiny_model.h"

TestSuite(batch, .init = setup, .fini = teardown);

static const char *const texts[] = {"foo", "foo bar", "bar", "bar foo foo"};
enum { NT = sizeof texts / sizeof texts[0] };

/* Pushes texts[i] (i < NT) into b with its features added to the pool. */
static void push(struct kl_batch *b, const struct kl_model *m,
                 struct kl_features *f, size_t i, size_t *held)
{
    struct kl_msg msg;
    struct kl_event ev;

    memset(&msg, 0, sizeof msg);
    kl_event_init(&ev);
    cr_assert_eq(kl_model_featurize(m, texts[i], strlen(texts[i]), f), KL_OK);
    cr_assert_eq(kl_batch_add_ids(b, f), KL_OK);
    *held = kl_batch_push(b, &msg, 0, &ev);
}

Test(batch, pooled_ids_predict_as_the_items_own)
{
    struct kl_model *m = NULL;
    struct kl_batch b;
    struct kl_features f[NT];
    const struct kl_features *fp[NT];
    struct kl_prediction want[NT];
    struct kl_scratch s;
    char err[256];

    write_good("softmax");
    cr_assert_eq(kl_model_open(path, &m, err, sizeof err), KL_OK, "%s", err);
    kl_scratch_init(&s);
    cr_assert_eq(kl_batch_init(&b, NT), KL_OK);
    for (int round = 0; round < 2; round++) { /* the second after a clear */
        for (size_t i = 0; i < NT; i++) {
            size_t held;

            kl_features_init(&f[i]);
            push(&b, m, &f[i], i, &held);
            fp[i] = &f[i];
            cr_expect_eq(held, f[i].n * sizeof(int32_t), "item %zu", i);
        }
        cr_assert_eq(b.n, NT);
        cr_assert_eq(kl_model_predict_batch(m, fp, NT, 2, 0.0f, &s, want),
                     KL_OK);
        cr_assert_eq(kl_batch_predict(&b, m, 2, 0.0f, &s, 1), KL_OK);
        for (size_t i = 0; i < NT; i++) {
            cr_expect_eq(b.pred[i].k, want[i].k, "item %zu", i);
            for (int j = 0; j < want[i].k; j++) {
                cr_expect_eq(b.pred[i].label[j], want[i].label[j]);
                cr_expect_eq(b.pred[i].prob[j], want[i].prob[j]);
            }
            cr_expect_null(b.feat[i].ids, "a view stayed in item %zu", i);
            kl_features_fini(&f[i]);
        }
        kl_batch_clear(&b);
        cr_expect_eq(b.n, 0);
        cr_expect_eq(b.ids_len, 0);
    }
    kl_batch_fini(&b);
    kl_scratch_fini(&s);
    kl_model_destroy(m);
}

/* Items of many ids each grow the pool past its first 4096 ids; every
 * item keeps its own ids, in order. */
Test(batch, pool_grows_and_keeps_every_item)
{
    enum { ITEMS = 8, PER = 1500 };
    struct kl_batch b;
    struct kl_features f;

    cr_assert_eq(kl_batch_init(&b, ITEMS), KL_OK);
    kl_features_init(&f);
    f.ids = malloc(PER * sizeof *f.ids);
    cr_assert_not_null(f.ids);
    for (size_t i = 0; i < ITEMS; i++) {
        struct kl_msg msg;
        struct kl_event ev;

        for (size_t j = 0; j < PER; j++)
            f.ids[j] = (int32_t)(i * PER + j);
        f.n = PER;
        cr_assert_eq(kl_batch_add_ids(&b, &f), KL_OK);
        memset(&msg, 0, sizeof msg);
        kl_event_init(&ev);
        kl_batch_push(&b, &msg, 0, &ev);
    }
    cr_assert_geq(b.ids_cap, ITEMS * PER);
    for (size_t i = 0; i < ITEMS; i++) {
        cr_assert_eq(b.ids_n[i], PER);
        for (size_t j = 0; j < PER; j++)
            cr_assert_eq(b.ids[b.ids_off[i] + j], (int32_t)(i * PER + j),
                         "item %zu id %zu", i, j);
    }
    free(f.ids);
    f.ids = NULL;
    kl_batch_clear(&b);
    kl_batch_fini(&b);
}
