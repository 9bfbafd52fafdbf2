/*
 * tests/unit/test_predict.c: batched prediction (engine/predict.c) on the
 * hand-written model of tiny_model.h (known softmax / one-vs-all values)
 * and on small trained models, and featurization's text_is_utf8 flag.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "klabel/engine.h"
#include "../../engine/sigmoid.h"
#include "tiny_model.h"

/* ------------------------------------------------------- prediction */

static void predict_texts(struct kl_model *m, const char *const *texts, size_t n,
                          int k, float thr, struct kl_prediction *out)
{
    struct kl_features f[8];
    const struct kl_features *fp[8];
    struct kl_scratch s;

    cr_assert(n <= 8);
    kl_scratch_init(&s);
    for (size_t i = 0; i < n; i++) {
        kl_features_init(&f[i]);
        int rc = kl_model_featurize(m, texts[i], strlen(texts[i]), &f[i]);
        cr_assert(rc == KL_OK || rc == KL_EEMPTY, "featurize %s: %d", texts[i], rc);
        fp[i] = &f[i];
    }
    cr_assert_eq(kl_model_predict_batch(m, fp, n, k, thr, &s, out), KL_OK);
    for (size_t i = 0; i < n; i++)
        kl_features_fini(&f[i]);
    kl_scratch_fini(&s);
}

Test(predict, known_softmax_values, .init = setup, .fini = teardown)
{
    struct kl_model *m = NULL;
    struct kl_prediction out[3];
    char err[256];
    const float e2 = expf(2.0f), e1 = expf(1.0f);

    write_good("softmax");
    cr_assert_eq(kl_model_open(path, &m, err, sizeof err), KL_OK, "%s", err);
    /* "foo": hidden e0, logits [2, 0]; "foo bar": hidden (.5,.5), logits
     * [1, 0]; "bar": logits [0, 0], a tie, which fastText's heap (and so
     * klabel) ranks "neg" (1) first: checked with fastText 0.9.2 on these
     * weights written as a .bin (tests/unit/fixtures/fasttext) */
    predict_texts(m, (const char *[]){"foo", "foo bar", "bar"}, 3, 2, 0.0f, out);
    cr_expect_eq(out[0].k, 2);
    cr_expect_eq(out[0].label[0], 0);
    cr_expect_float_eq(out[0].prob[0], e2 / (e2 + 1), 1e-6);
    cr_expect_float_eq(out[0].prob[1], 1 / (e2 + 1), 1e-6);
    cr_expect_float_eq(out[1].prob[0], e1 / (e1 + 1), 1e-6);
    cr_expect_eq(out[2].label[0], 1);
    cr_expect_eq(out[2].label[1], 0);
    cr_expect_float_eq(out[2].prob[0], 0.5f, 1e-6);
    kl_model_destroy(m);
}

Test(predict, known_ova_values, .init = setup, .fini = teardown)
{
    struct kl_model *m = NULL;
    struct kl_prediction out[1];
    char err[256];

    write_good("ova");
    cr_assert_eq(kl_model_open(path, &m, err, sizeof err), KL_OK, "%s", err);
    predict_texts(m, (const char *[]){"foo"}, 1, 2, 0.0f, out);
    cr_expect_eq(out[0].k, 2);
    cr_expect_float_eq(out[0].prob[0], 1.0f / (1.0f + expf(-2.0f)), 1e-6);
    cr_expect_float_eq(out[0].prob[1], 0.5f, 1e-6);
    kl_model_destroy(m);
}

Test(predict, ova_uses_fasttext_sigmoid_table)
{
    /* fastText's Loss::sigmoid: 512 steps over [-8, 8], 0 and 1 outside */
    cr_expect_eq(kl_sigmoid_fasttext(-8.5f), 0.0f);
    cr_expect_eq(kl_sigmoid_fasttext(8.5f), 1.0f);
    cr_expect_eq(kl_sigmoid_fasttext(NAN), 0.0f);
    cr_expect_float_eq(kl_sigmoid_fasttext(0.0f), 0.5f, 1e-7);
    cr_expect_float_eq(kl_sigmoid_fasttext(0.03f), 0.5f, 1e-7); /* same step as 0 */
    cr_expect_float_eq(kl_sigmoid_fasttext(2.01f), 1.0f / (1.0f + expf(-2.0f)), 1e-7);
    cr_expect_float_eq(kl_sigmoid_fasttext(-3.99f), 1.0f / (1.0f + expf(4.0f)), 1e-7);
}

Test(predict, k_threshold_and_empty_rows, .init = setup, .fini = teardown)
{
    struct kl_model *m = NULL;
    struct kl_prediction out[3];
    struct kl_features f;
    char err[256];

    write_good("softmax");
    cr_assert_eq(kl_model_open(path, &m, err, sizeof err), KL_OK, "%s", err);
    predict_texts(m, (const char *[]){"foo", "foo", "foo"}, 3, 0, 0.0f, out);
    cr_expect_eq(out[0].k, 1, "k 0 is clamped to 1");
    predict_texts(m, (const char *[]){"foo"}, 1, 99, 0.0f, out);
    cr_expect_eq(out[0].k, 2, "k is clamped to nlabels");
    predict_texts(m, (const char *[]){"foo"}, 1, 2, 0.5f, out);
    cr_expect_eq(out[0].k, 1, "threshold 0.5 keeps one label");
    predict_texts(m, (const char *[]){"foo"}, 1, 2, 0.95f, out);
    cr_expect_eq(out[0].k, 0, "threshold above every probability");
    /* unknown words only: no features, k == 0, other rows unaffected */
    kl_features_init(&f);
    cr_expect_eq(kl_model_featurize(m, "zzz", 3, &f), KL_EEMPTY);
    kl_features_fini(&f);
    predict_texts(m, (const char *[]){"foo", "zzz", "foo bar"}, 3, 1, 0.0f, out);
    cr_expect_eq(out[0].k, 1);
    cr_expect_eq(out[1].k, 0);
    cr_expect_eq(out[2].k, 1);
    cr_expect_float_eq(out[2].prob[0], expf(1.0f) / (expf(1.0f) + 1), 1e-6);
    kl_model_destroy(m);
}

Test(predict, rejects_foreign_ids_and_bad_args, .init = setup, .fini = teardown)
{
    struct kl_model *m = NULL;
    struct kl_prediction out[1];
    struct kl_features f;
    struct kl_scratch s;
    const struct kl_features *fp = &f;
    int32_t ids[1] = {5}; /* rows are [0, 5) */
    char err[256];

    write_good("softmax");
    cr_assert_eq(kl_model_open(path, &m, err, sizeof err), KL_OK, "%s", err);
    kl_scratch_init(&s);
    memset(&f, 0, sizeof f);
    f.ids = ids;
    f.n = 1;
    cr_expect_eq(kl_model_predict_batch(m, &fp, 1, 1, 0.0f, &s, out), KL_EINVAL);
    cr_expect_eq(kl_model_predict_batch(m, NULL, 1, 1, 0.0f, &s, out), KL_EINVAL);
    cr_expect_eq(kl_model_predict_batch(m, &fp, 0, 1, 0.0f, &s, out), KL_OK);
    kl_features_init(&f);
    cr_expect_eq(kl_model_featurize(m, "foo \xFF", 5, &f), KL_EUTF8);
    cr_expect_eq(kl_model_featurize(NULL, "foo", 3, &f), KL_EINVAL);
    kl_features_fini(&f);
    kl_scratch_fini(&s);
    kl_model_destroy(m);
}

/* A trained model on a small fixture with 3 labels. */
static struct kl_model *train_fixture(int loss)
{
    const char *words[3][4] = {{"apple", "pear", "plum", "fig"},
                               {"car", "bus", "train", "bike"},
                               {"red", "blue", "green", "pink"}};
    const char *labels[3] = {"fruit", "vehicle", "colour"};
    char data[128], err[512] = "";
    struct kl_train_opts o;
    struct kl_model *m = NULL;
    FILE *fp;

    snprintf(data, sizeof data, "%s/train.txt", dir);
    fp = fopen(data, "w");
    for (int i = 0; i < 300; i++) {
        int l = i % 3;
        fprintf(fp, "%s\t%s %s the %s\n", labels[l], words[l][i % 4],
                words[l][(i / 3) % 4], words[(l + 1) % 3][i % 4]);
    }
    fclose(fp);
    kl_train_opts_init(&o);
    o.dim = 8;
    o.epoch = 5;
    o.lr = 0.5f;
    o.bucket = 1000;
    o.loss = loss;
    cr_assert_eq(kl_train_file(&o, data, path, err, sizeof err), KL_OK, "%s", err);
    cr_assert_eq(kl_model_open(path, &m, err, sizeof err), KL_OK, "%s", err);
    return m;
}

static const char *const mixed[8] = {
    "apple pear", "bus train bike", "red green", "fig and car",
    "unknown words only", "plum plum plum blue", "", "pink bike apple"};

Test(predict, softmax_sums_to_one, .init = setup, .fini = teardown)
{
    struct kl_model *m = train_fixture(KL_LOSS_SOFTMAX);
    struct kl_prediction out[8];

    cr_assert_eq(kl_model_info(m)->nlabels, 3);
    predict_texts(m, mixed, 8, KL_TOPK_MAX, 0.0f, out);
    for (int i = 0; i < 8; i++) {
        float sum = 0;
        cr_expect_eq(out[i].k, 3, "row %d", i);
        for (int j = 0; j < out[i].k; j++) {
            cr_expect(out[i].prob[j] >= 0 && out[i].prob[j] <= 1);
            if (j > 0)
                cr_expect(out[i].prob[j] <= out[i].prob[j - 1], "not sorted");
            sum += out[i].prob[j];
        }
        cr_expect_float_eq(sum, 1.0f, 1e-5, "row %d sums to %f", i, sum);
    }
    cr_expect_str_eq(kl_model_info(m)->labels[out[0].label[0]], "fruit");
    cr_expect_str_eq(kl_model_info(m)->labels[out[1].label[0]], "vehicle");
    cr_expect_str_eq(kl_model_info(m)->labels[out[2].label[0]], "colour");
    kl_model_destroy(m);
}

Test(predict, ova_probabilities_in_range, .init = setup, .fini = teardown)
{
    struct kl_model *m = train_fixture(KL_LOSS_OVA);
    struct kl_prediction out[8];

    cr_expect_eq(kl_model_info(m)->loss, KL_LOSS_OVA);
    predict_texts(m, mixed, 8, 3, 0.0f, out);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < out[i].k; j++)
            cr_expect(out[i].prob[j] >= 0 && out[i].prob[j] <= 1);
    cr_expect_str_eq(kl_model_info(m)->labels[out[1].label[0]], "vehicle");
    kl_model_destroy(m);
}

Test(predict, batch_equals_one_by_one, .init = setup, .fini = teardown)
{
    struct kl_model *m = train_fixture(KL_LOSS_SOFTMAX);
    struct kl_prediction batch[8], one[1];

    predict_texts(m, mixed, 8, 2, 0.0f, batch);
    for (int i = 0; i < 8; i++) {
        predict_texts(m, &mixed[i], 1, 2, 0.0f, one);
        cr_expect_eq(one[0].k, batch[i].k, "row %d", i);
        for (int j = 0; j < one[0].k; j++) {
            cr_expect_eq(one[0].label[j], batch[i].label[j], "row %d", i);
            cr_expect_float_eq(one[0].prob[j], batch[i].prob[j], 1e-6, "row %d", i);
        }
    }
    kl_model_destroy(m);
}

/* text_is_utf8 skips only the early check: a unicode-mode model still
 * refuses invalid UTF-8 (the tokenizer's normalization does), and valid
 * text gets the same feature ids with the flag on or off. */
Test(featurize, text_is_utf8_keeps_refusing_bad_text, .init = setup,
     .fini = teardown)
{
    static const char *const bad[] = {"foo \xff bar", "\xc3", "a\xed\xa0\x80",
                                      "\xe0\x80\x80z", "bar \xf4\x90\x80\x80",
                                      "\xe0\x81\x81" /* overlong 'A' */};
    static const char *const good_texts[] = {"foo bar", "FOO  Bar foo",
                                             "中文 foo", "bär"};
    char meta_u[1024], err[256];
    struct kl_model *m = NULL;
    struct kl_features a, b;
    size_t most = 0;
    char *p;

    fill_data();
    snprintf(meta_u, sizeof meta_u, "%s", meta("softmax", 2, "[\"pos\",\"neg\"]"));
    p = strstr(meta_u, "\"mode\":\"fasttext\"");
    cr_assert(p != NULL);
    memcpy(p, "\"mode\":\"unicode\" ", 17); /* same length: "fasttext"+1 */
    write_raw(path, meta_u, good, 3, data_f, 120, 0);
    cr_assert_eq(kl_model_open(path, &m, err, sizeof err), KL_OK, "%s", err);
    cr_assert_eq(kl_model_info(m)->tok.mode, KL_TOK_UNICODE);
    kl_features_init(&a);
    kl_features_init(&b);
    a.text_is_utf8 = 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(kl_model_featurize(m, bad[i], strlen(bad[i]), &a), KL_EUTF8,
                     "bad text %zu accepted with text_is_utf8", i);
    for (size_t i = 0; i < sizeof good_texts / sizeof good_texts[0]; i++) {
        const char *t = good_texts[i];
        int ra = kl_model_featurize(m, t, strlen(t), &a);
        int rb = kl_model_featurize(m, t, strlen(t), &b);

        cr_expect_eq(ra, rb, "%s", t);
        cr_expect_eq(a.n, b.n, "%s", t);
        cr_expect(a.n == b.n && memcmp(a.ids, b.ids, a.n * sizeof *a.ids) == 0,
                  "%s: ids differ", t);
        most = a.n > most ? a.n : most;
    }
    cr_expect_gt(most, 0, "the known words gave no features");
    kl_features_fini(&a);
    kl_features_fini(&b);
    kl_model_destroy(m);
}

/* Word bigrams as fastText's addWordNgrams computes them: the known words'
 * ids in token order, then nwords + (h[i] * 116049371 + h[i+1]) mod bucket
 * for each pair of neighbouring tokens (hashes sign-extended to 64 bits),
 * with origins recorded (the general loop) or not (the bigram loop). */
Test(featurize, word_bigrams_as_fasttext_computes_them, .init = setup,
     .fini = teardown)
{
    static const char *const texts[] = {
        "foo bar", "中文 foo bar baz", "FOO bär 中 文 foo", "a b c d e f g h",
        "foo", "x"};
    char meta_u[1024], err[256];
    struct kl_model *m = NULL;
    struct kl_features f;
    struct kl_tokens tok;
    char *p;

    fill_data();
    snprintf(meta_u, sizeof meta_u, "%s", meta("softmax", 2, "[\"pos\",\"neg\"]"));
    p = strstr(meta_u, "\"mode\":\"fasttext\"");
    cr_assert(p != NULL);
    memcpy(p, "\"mode\":\"unicode\" ", 17);
    p = strstr(meta_u, "\"word_ngrams\":1");
    cr_assert(p != NULL);
    p[strlen("\"word_ngrams\":")] = '2';
    write_raw(path, meta_u, good, 3, data_f, 120, 0);
    cr_assert_eq(kl_model_open(path, &m, err, sizeof err), KL_OK, "%s", err);
    cr_assert_eq(kl_model_info(m)->word_ngrams, 2);
    kl_features_init(&f);
    kl_tokens_init(&tok);
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
        int32_t want[64];
        size_t nw = 0;

        cr_assert_eq(kl_tokenize(&kl_model_info(m)->tok, texts[t],
                                 strlen(texts[t]), &tok), KL_OK);
        cr_assert_lt(tok.n, 32);
        for (size_t i = 0; i < tok.n; i++) {
            if (tok.len[i] == 3 && !memcmp(tok.buf + tok.off[i], "foo", 3))
                want[nw++] = 0;
            if (tok.len[i] == 3 && !memcmp(tok.buf + tok.off[i], "bar", 3))
                want[nw++] = 1;
        }
        for (size_t i = 0; i + 1 < tok.n; i++) {
            uint64_t h =
                (uint64_t)(int64_t)(int32_t)kl_hash_fnv1a(tok.buf + tok.off[i],
                                                          tok.len[i]);
            h = h * 116049371u +
                (uint64_t)(int64_t)(int32_t)kl_hash_fnv1a(
                    tok.buf + tok.off[i + 1], tok.len[i + 1]);
            want[nw++] = 2 + (int32_t)(h % 3);
        }
        for (int origin = 0; origin <= 1; origin++) {
            f.want_origin = origin;
            cr_assert_eq(kl_model_featurize(m, texts[t], strlen(texts[t]), &f),
                         nw ? KL_OK : KL_EEMPTY, "%s", texts[t]);
            cr_assert_eq(f.n, nw, "%s (origins %d)", texts[t], origin);
            for (size_t i = 0; i < nw; i++)
                cr_assert_eq(f.ids[i], want[i], "%s (origins %d): id %zu",
                             texts[t], origin, i);
        }
    }
    kl_tokens_fini(&tok);
    kl_features_fini(&f);
    kl_model_destroy(m);
}
