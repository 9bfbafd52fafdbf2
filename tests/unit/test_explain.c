/*
 * tests/unit/test_explain.c: per-token explanations (engine/explain.c)
 * and the feature origins the featurizer records for them
 * (engine/featurize.c). On a model trained here on a synthetic two-topic
 * set: contributions add up to the logit of the prediction's own hidden
 * vector, logits of all labels reproduce the predicted probabilities, the
 * obvious word wins, repeated words merge, n-grams are named "a b" without
 * the "__label__" tokens between, top-N keeps the rest in `rest`.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "klabel/engine.h"

static char dir[64], data_path[128], model_path[128];
static struct kl_model *model;

static const char *sports[] = {"goal", "match", "coach", "league", "score",
                               "team", "striker", "penalty"};
static const char *tech[] = {"chip", "cloud", "server", "software",
                             "startup", "robot", "code", "kernel"};
static const char *noise[] = {"the", "a", "of", "and", "today", "new"};

static uint64_t rng = 42;

static uint32_t rnd(uint32_t n)
{
    rng = rng * 6364136223846793005u + 1442695040888963407u;
    return (uint32_t)(rng >> 33) % n;
}

/* 400 lines, words of the topic and noise words in random order. */
static void write_data(const char *p, int fasttext_labels)
{
    FILE *fp = fopen(p, "w");

    cr_assert_not_null(fp);
    for (int i = 0; i < 400; i++) {
        int l = i % 2;
        fprintf(fp, fasttext_labels ? "__label__%s" : "%s\t",
                l ? "tech" : "sports");
        for (int w = 0; w < 6; w++) {
            const char *s = rnd(2) ? noise[rnd(6)]
                                   : (l ? tech : sports)[rnd(8)];
            fprintf(fp, "%s%s", (w || fasttext_labels) ? " " : "", s);
        }
        fputc('\n', fp);
    }
    fclose(fp);
}

static void train(int mode)
{
    struct kl_train_opts o;
    char err[512] = "";

    strcpy(dir, "/tmp/kl_test_explain.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(data_path, sizeof data_path, "%s/train.txt", dir);
    snprintf(model_path, sizeof model_path, "%s/model.safetensors", dir);
    write_data(data_path, mode == KL_TOK_FASTTEXT);
    kl_train_opts_init(&o);
    o.tok.mode = mode;
    o.dim = 16;
    o.epoch = 10;
    o.lr = 0.5f;
    o.bucket = 5000;
    o.word_ngrams = 2;
    o.minn = 2;
    o.maxn = 3;
    cr_assert_eq(kl_train_file(&o, data_path, model_path, err, sizeof err),
                 KL_OK, "%s", err);
    cr_assert_eq(kl_model_open(model_path, &model, err, sizeof err), KL_OK,
                 "%s", err);
}

static void setup_unicode(void) { train(KL_TOK_UNICODE); }
static void setup_fasttext(void) { train(KL_TOK_FASTTEXT); }

static void teardown(void)
{
    char cmd[128];

    kl_model_destroy(model);
    model = NULL;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

/* Featurizes s with origins into f (init'ed by the caller). */
static void feat(struct kl_features *f, const char *s)
{
    f->want_origin = 1;
    cr_assert_eq(kl_model_featurize(model, s, strlen(s), f), KL_OK, "%s", s);
}

static const char *name(const struct kl_explanation *x, size_t i)
{
    return x->names + x->items[i].off;
}

static double item_sum(const struct kl_explanation *x)
{
    double s = x->rest;
    for (size_t i = 0; i < x->n; i++)
        s += x->items[i].weight;
    return s;
}

Test(explain, contributions_sum_to_the_logit, .init = setup_unicode,
     .fini = teardown)
{
    static const char *texts[] = {"the striker scored a penalty goal",
                                  "new robot code on the cloud server",
                                  "coach of the startup team today",
                                  "strikers and robots", "a"};
    enum { N = sizeof texts / sizeof texts[0] };
    struct kl_features f[N];
    const struct kl_features *fp[N];
    struct kl_prediction pred[N];
    struct kl_explanation x[N];
    struct kl_scratch s;

    kl_scratch_init(&s);
    for (int i = 0; i < N; i++) {
        kl_features_init(&f[i]);
        kl_explanation_init(&x[i]);
        feat(&f[i], texts[i]);
        fp[i] = &f[i];
    }
    cr_assert_eq(kl_model_predict_batch(model, fp, N, 2, 0.0f, &s, pred), KL_OK);
    cr_assert_eq(kl_model_explain_batch(model, fp, N, pred, &s, 0, x), KL_OK);
    for (int i = 0; i < N; i++) {
        struct kl_explanation y;
        float logit[2];

        cr_assert_eq(x[i].label, pred[i].label[0]);
        cr_expect_float_eq(item_sum(&x[i]), x[i].logit, 1e-5,
                           "%s: sum %g, logit %g", texts[i], item_sum(&x[i]),
                           (double)x[i].logit);
        cr_expect_float_eq(x[i].rest, 0.0f, 0.0);
        /* both labels' logits, one at a time, give the probabilities */
        kl_explanation_init(&y);
        for (int l = 0; l < 2; l++) {
            cr_assert_eq(kl_model_explain(model, &f[i], l, 0, &y), KL_OK);
            cr_expect_float_eq(item_sum(&y), y.logit, 1e-5);
            logit[l] = y.logit;
        }
        {
            int32_t top = pred[i].label[0];
            double p = 1.0 / (1.0 + exp((double)logit[1 - top] - logit[top]));
            cr_expect_float_eq(p, pred[i].prob[0], 1e-5, "%s: %g vs %g",
                               texts[i], p, (double)pred[i].prob[0]);
            cr_expect_float_eq(logit[top], x[i].logit, 1e-5);
        }
        kl_explanation_fini(&y);
    }
    for (int i = 0; i < N; i++) {
        kl_features_fini(&f[i]);
        kl_explanation_fini(&x[i]);
    }
    kl_scratch_fini(&s);
}

Test(explain, obvious_word_on_top, .init = setup_unicode, .fini = teardown)
{
    struct kl_features f;
    struct kl_explanation x;
    int32_t sp = strcmp(kl_model_info(model)->labels[0], "sports") ? 1 : 0;

    kl_features_init(&f);
    kl_explanation_init(&x);
    feat(&f, "the penalty of today");
    cr_assert_eq(kl_model_explain(model, &f, sp, 3, &x), KL_OK);
    cr_assert_eq(x.n, 3);
    cr_expect_str_eq(name(&x, 0), "penalty");
    cr_expect_gt(x.items[0].weight, x.items[1].weight);
    cr_expect_float_eq(item_sum(&x), x.logit, 1e-5);
    /* towards the other label, the same word weighs most against it */
    cr_assert_eq(kl_model_explain(model, &f, 1 - sp, 0, &x), KL_OK);
    cr_expect_str_eq(name(&x, x.n - 1), "penalty");
    cr_expect_lt(x.items[x.n - 1].weight, 0.0f);
    kl_features_fini(&f);
    kl_explanation_fini(&x);
}

Test(explain, repeated_words_merge, .init = setup_unicode, .fini = teardown)
{
    struct kl_features f;
    struct kl_explanation x;
    int seen_word = 0, seen_gram = 0;

    kl_features_init(&f);
    kl_explanation_init(&x);
    feat(&f, "Goal goal GOAL");
    cr_assert_eq(kl_model_explain(model, &f, 0, 0, &x), KL_OK);
    for (size_t i = 0; i < x.n; i++) {
        seen_word += strcmp(name(&x, i), "goal") == 0;
        seen_gram += strcmp(name(&x, i), "goal goal") == 0;
        cr_expect_eq(strlen(name(&x, i)), x.items[i].len);
    }
    cr_expect_eq(seen_word, 1);
    cr_expect_eq(seen_gram, 1);
    cr_expect_eq(x.n, 2);
    cr_expect_float_eq(item_sum(&x), x.logit, 1e-5);
    kl_features_fini(&f);
    kl_explanation_fini(&x);
}

Test(explain, unknown_word_keeps_its_char_ngrams, .init = setup_unicode,
     .fini = teardown)
{
    struct kl_features f;
    struct kl_explanation x;
    int found = 0;

    kl_features_init(&f);
    kl_explanation_init(&x);
    feat(&f, "zzqx");
    cr_assert_eq(kl_model_explain(model, &f, 0, 0, &x), KL_OK);
    for (size_t i = 0; i < x.n; i++)
        found += strcmp(name(&x, i), "zzqx") == 0;
    cr_expect_eq(found, 1);
    kl_features_fini(&f);
    kl_explanation_fini(&x);
}

Test(explain, top_n_keeps_the_rest, .init = setup_unicode, .fini = teardown)
{
    struct kl_features f;
    struct kl_explanation all, two;

    kl_features_init(&f);
    kl_explanation_init(&all);
    kl_explanation_init(&two);
    feat(&f, "the striker and the coach of a new team");
    cr_assert_eq(kl_model_explain(model, &f, 0, 0, &all), KL_OK);
    cr_assert_eq(kl_model_explain(model, &f, 0, 2, &two), KL_OK);
    cr_assert_gt(all.n, 2);
    cr_assert_eq(two.n, 2);
    for (size_t i = 0; i < 2; i++) {
        cr_expect_str_eq(name(&two, i), name(&all, i));
        cr_expect_float_eq(two.items[i].weight, all.items[i].weight, 0.0);
    }
    for (size_t i = 1; i < all.n; i++)
        cr_expect_geq(all.items[i - 1].weight, all.items[i].weight);
    cr_expect_neq(two.rest, 0.0f);
    cr_expect_float_eq(item_sum(&two), two.logit, 1e-5);
    kl_features_fini(&f);
    kl_explanation_fini(&all);
    kl_explanation_fini(&two);
}

Test(explain, ngram_names_skip_label_tokens, .init = setup_fasttext,
     .fini = teardown)
{
    struct kl_features f;
    struct kl_explanation x;
    int gram = 0, eos = 0;

    kl_features_init(&f);
    kl_explanation_init(&x);
    feat(&f, "robot __label__tech code");
    cr_assert_eq(kl_model_explain(model, &f, 0, 0, &x), KL_OK);
    for (size_t i = 0; i < x.n; i++) {
        cr_expect_null(strstr(name(&x, i), "__label__"), "%s", name(&x, i));
        gram += strcmp(name(&x, i), "robot code") == 0;
        eos += strcmp(name(&x, i), "</s>") == 0;
    }
    cr_expect_eq(gram, 1);
    cr_expect_eq(eos, 1); /* fastText's end-of-line token is a feature */
    cr_expect_float_eq(item_sum(&x), x.logit, 1e-5);
    kl_features_fini(&f);
    kl_explanation_fini(&x);
}

Test(explain, bad_calls, .init = setup_unicode, .fini = teardown)
{
    struct kl_features f;
    struct kl_explanation x;
    struct kl_prediction p = {0};
    struct kl_scratch s;
    const struct kl_features *fp = &f;

    kl_features_init(&f);
    kl_explanation_init(&x);
    kl_scratch_init(&s);
    cr_assert_eq(kl_model_featurize(model, "goal", 4, &f), KL_OK);
    cr_expect_eq(kl_model_explain(model, &f, 0, 0, &x), KL_EINVAL); /* no origin */
    feat(&f, "goal");
    cr_expect_eq(kl_model_explain(model, &f, 2, 0, &x), KL_EINVAL);
    cr_expect_eq(kl_model_explain(model, &f, -1, 0, &x), KL_EINVAL);
    cr_expect_eq(kl_model_explain(NULL, &f, 0, 0, &x), KL_EINVAL);
    cr_expect_eq(kl_model_explain_batch(model, &fp, 1, &p, &s, 0, &x),
                 KL_EINVAL); /* no prediction ran in s */
    cr_assert_eq(kl_model_predict_batch(model, &fp, 1, 1, 1.1f, &s, &p), KL_OK);
    cr_assert_eq(p.k, 0); /* threshold above every probability */
    cr_assert_eq(kl_model_explain_batch(model, &fp, 1, &p, &s, 0, &x), KL_OK);
    cr_expect_eq(x.label, -1);
    cr_expect_eq(x.n, 0);
    kl_features_fini(&f);
    kl_explanation_fini(&x);
    kl_scratch_fini(&s);
}
