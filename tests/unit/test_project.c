/*
 * tests/unit/test_project.c: label projections (engine/project.c). On
 * models trained here (three topics, dim 32 / 64): kl_model_open() builds
 * none; kl_model_project_labels() builds one exactly when a projected row
 * is at most half as wide as an input row and it fits the memory budget;
 * predictions through it equal the plain path's (same labels in the same
 * order, probabilities within 1e-6) and a double-precision reference; the
 * explanation's logit is the one prediction used; a bad feature id is
 * refused on both paths. fastText parity of projected models is checked
 * by tests/parity/fasttext_parity.py (its "-d64" models).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "klabel/engine.h"
#include "../../engine/model.h"
#include "../../engine/project.h"
#include "../../engine/sigmoid.h"

static char dir[64], data_path[128], model_path[128];
static struct kl_model *model;

static const char *topics[3][6] = {
    {"goal", "match", "coach", "league", "score", "team"},
    {"chip", "cloud", "server", "software", "robot", "kernel"},
    {"vote", "senate", "minister", "party", "law", "budget"}};
static const char *noise[] = {"the", "a", "of", "and", "today", "new"};
static const char *names[] = {"sports", "tech", "politics"};

static uint64_t rng = 7;

static uint32_t rnd(uint32_t n)
{
    rng = rng * 6364136223846793005u + 1442695040888963407u;
    return (uint32_t)(rng >> 33) % n;
}

/* Trains a model of the given dim and loss and opens it: three topics,
 * or with nl > 3 that many labels over the same words. */
static void train_labels(int dim, int loss, int nl)
{
    struct kl_train_opts o;
    char err[512] = "";
    FILE *fp;

    strcpy(dir, "/tmp/kl_test_project.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(data_path, sizeof data_path, "%s/train.tsv", dir);
    snprintf(model_path, sizeof model_path, "%s/model.safetensors", dir);
    fp = fopen(data_path, "w");
    cr_assert_not_null(fp);
    for (int i = 0; i < 300; i++) {
        int l = i % 3;
        if (nl > 3)
            fprintf(fp, "label%d\t", i % nl);
        else
            fprintf(fp, "%s\t", names[l]);
        for (int w = 0; w < 7; w++)
            fprintf(fp, "%s%s", w ? " " : "",
                    rnd(3) ? topics[l][rnd(6)] : noise[rnd(6)]);
        fputc('\n', fp);
    }
    fclose(fp);
    kl_train_opts_init(&o);
    o.dim = dim;
    o.loss = loss;
    o.epoch = 5;
    o.lr = 0.5f;
    o.bucket = 20000;
    o.word_ngrams = 2;
    o.minn = 2;
    o.maxn = 4;
    cr_assert_eq(kl_train_file(&o, data_path, model_path, err, sizeof err),
                 KL_OK, "%s", err);
    cr_assert_eq(kl_model_open(model_path, &model, err, sizeof err), KL_OK,
                 "%s", err);
    cr_assert_null(model->proj, "kl_model_open() projects nothing itself");
    cr_assert_eq(kl_model_project_labels(model, SIZE_MAX), KL_OK);
}

static void train(int dim, int loss) { train_labels(dim, loss, 3); }
static void setup64(void) { train(64, KL_LOSS_SOFTMAX); }
static void setup64_ova(void) { train(64, KL_LOSS_OVA); }

/* Drops the model and its temporary folder (train_labels() makes one). */
static void teardown(void)
{
    char cmd[128];

    kl_model_destroy(model);
    model = NULL;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

static const char *texts[] = {
    "the striker scored a goal for the team today",
    "new robot software on the cloud server",
    "senate vote on the budget law",
    "coach of the kernel party",
    "a",
    "unknownword anotherone",
    "goal goal goal goal chip",
    "the minister and the league and the robot and the law of today"};
enum { NT = sizeof texts / sizeof texts[0] };

/* Predicts every text in one batch (k 3, threshold 0). */
static void predict_all(struct kl_features *f, struct kl_prediction *p,
                        struct kl_scratch *s)
{
    const struct kl_features *fp[NT];

    for (int i = 0; i < NT; i++)
        fp[i] = &f[i];
    cr_assert_eq(kl_model_predict_batch(model, fp, NT, 3, 0.0f, s, p), KL_OK);
}

/* The probabilities of text f in double precision, from the matrices:
 * hidden = mean of the input rows, logits = output . hidden, softmax or
 * fastText's tabulated sigmoid. */
static void reference(const struct kl_features *f, double *prob)
{
    size_t dim = (size_t)model->info.dim, nl = (size_t)model->info.nlabels;
    double h[64] = {0}, z[3], max = -INFINITY, sum = 0.0;

    cr_assert_leq(dim, 64);
    for (size_t j = 0; j < f->n; j++)
        for (size_t d = 0; d < dim; d++)
            h[d] += model->input[(size_t)f->ids[j] * dim + d] / (double)f->n;
    for (size_t l = 0; l < nl; l++) {
        z[l] = 0.0;
        for (size_t d = 0; d < dim; d++)
            z[l] += model->output[l * dim + d] * h[d];
        max = z[l] > max ? z[l] : max;
    }
    for (size_t l = 0; l < nl; l++) {
        if (model->info.loss == KL_LOSS_OVA)
            prob[l] = kl_sigmoid_fasttext((float)z[l]); /* its table */
        else
            sum += (prob[l] = exp(z[l] - max));
    }
    if (model->info.loss != KL_LOSS_OVA)
        for (size_t l = 0; l < nl; l++)
            prob[l] /= sum;
}

/* Projected and plain predictions of all texts agree, and both are within
 * tol of the double-precision reference. */
static void check_paths(double tol)
{
    struct kl_features f[NT];
    struct kl_prediction pp[NT], pl[NT];
    struct kl_scratch s;

    cr_assert_not_null(model->proj, "no projection built");
    kl_scratch_init(&s);
    for (int i = 0; i < NT; i++) {
        kl_features_init(&f[i]);
        cr_assert_eq(kl_model_featurize(model, texts[i], strlen(texts[i]),
                                        &f[i]), KL_OK);
    }
    predict_all(f, pp, &s);
    kl_model_unproject(model);
    cr_assert_null(model->proj);
    predict_all(f, pl, &s);
    cr_assert_eq(kl_model_project_labels(model, SIZE_MAX), KL_OK);
    cr_assert_not_null(model->proj);
    for (int i = 0; i < NT; i++) {
        double ref[3];

        cr_assert_eq(pp[i].k, pl[i].k, "%s", texts[i]);
        if (f[i].n > 0) {
            cr_assert_eq(pp[i].k, 3, "%s", texts[i]);
            reference(&f[i], ref);
        }
        for (int j = 0; j < pp[i].k; j++) {
            cr_assert_eq(pp[i].label[j], pl[i].label[j], "%s [%d]", texts[i], j);
            cr_assert_leq(fabsf(pp[i].prob[j] - pl[i].prob[j]), 1e-6,
                          "%s [%d]: %g vs %g", texts[i], j, pp[i].prob[j],
                          pl[i].prob[j]);
            cr_assert_leq(fabs(pp[i].prob[j] - ref[pp[i].label[j]]), tol,
                          "%s [%d]: %g vs reference %g", texts[i], j,
                          pp[i].prob[j], ref[pp[i].label[j]]);
        }
    }
    for (int i = 0; i < NT; i++)
        kl_features_fini(&f[i]);
    kl_scratch_fini(&s);
}

Test(project, softmax_equals_plain_path, .init = setup64, .fini = teardown)
{
    check_paths(1e-5);
}

Test(project, ova_equals_plain_path, .init = setup64_ova, .fini = teardown)
{
    check_paths(1e-5);
}

/* A projected row of 3 labels takes 16 floats: built at dim 32, not at 30
 * (nor for the neural or quantized models, which have no dense input). */
Test(project, only_where_rows_shrink_by_half, .fini = teardown)
{
    train(32, KL_LOSS_SOFTMAX);
    cr_assert_not_null(model->proj);
    cr_assert_eq(model->proj_stride, 16);
    cr_assert_eq(kl_model_info(model)->projection_bytes,
                 (size_t)model->input_rows * 16 * sizeof(float));
    teardown(); /* the second model gets a folder of its own */
    train(30, KL_LOSS_SOFTMAX);
    cr_assert_null(model->proj);
    cr_assert_eq(model->proj_stride, 0);
    cr_assert_eq(kl_model_info(model)->projection_bytes, 0);
}

/* The memory budget: one byte short of the table, nothing is built (and a
 * table built before is dropped); exactly the table, it is. */
Test(project, within_the_memory_budget_only, .init = setup64,
     .fini = teardown)
{
    size_t need = (size_t)model->input_rows * 16 * sizeof(float);

    cr_assert_eq(kl_model_project_labels(model, need - 1), KL_OK);
    cr_assert_null(model->proj);
    cr_assert_eq(kl_model_info(model)->projection_bytes, 0);
    cr_assert_eq(kl_model_project_labels(model, need), KL_OK);
    cr_assert_not_null(model->proj);
    cr_assert_eq(kl_model_info(model)->projection_bytes, need);
    cr_assert_eq(kl_model_project_labels(NULL, need), KL_EINVAL);
}

/* The explanation's logit is the one the projected prediction used. */
Test(project, explain_logit_is_the_projected_one, .init = setup64,
     .fini = teardown)
{
    struct kl_features f;
    const struct kl_features *fp = &f;
    struct kl_prediction p;
    struct kl_explanation x, y;
    struct kl_scratch s;
    float z[3], acc[16];

    kl_scratch_init(&s);
    kl_features_init(&f);
    kl_explanation_init(&x);
    kl_explanation_init(&y);
    f.want_origin = 1;
    cr_assert_eq(kl_model_featurize(model, texts[1], strlen(texts[1]), &f),
                 KL_OK);
    cr_assert_eq(kl_model_predict_batch(model, &fp, 1, 1, 0.0f, &s, &p), KL_OK);
    cr_assert_eq(kl_model_explain_batch(model, &fp, 1, &p, &s, 0, &x), KL_OK);
    cr_assert_eq(kl_proj_logits(model, &f, acc, z), KL_OK);
    cr_assert_eq(x.label, p.label[0]);
    cr_assert_eq(x.logit, z[p.label[0]], "%.9g vs %.9g", x.logit,
                 z[p.label[0]]);
    /* the per-feature terms (double) add up to it */
    cr_assert_eq(kl_model_explain(model, &f, p.label[0], 0, &y), KL_OK);
    cr_assert_leq(fabsf(y.logit - x.logit), 1e-5, "%g vs %g", y.logit,
                  x.logit);
    kl_explanation_fini(&x);
    kl_explanation_fini(&y);
    kl_features_fini(&f);
    kl_scratch_fini(&s);
}

/* kl_proj_logits() sums a text's projected rows lane by lane in feature
 * order, bit for bit as kl_proj_logit()'s scalar loop does: with 13
 * labels (one cache line a row, summed in registers) and with 20 (two
 * lines, the general loop). */
static void check_sums_in_order(size_t stride)
{
    float acc[32], z[32];

    cr_assert_eq(model->proj_stride, stride);
    for (int i = 0; i < NT; i++) {
        struct kl_features f;

        kl_features_init(&f);
        if (kl_model_featurize(model, texts[i], strlen(texts[i]), &f) ==
            KL_OK) {
            cr_assert_eq(kl_proj_logits(model, &f, acc, z), KL_OK);
            for (int32_t l = 0; l < model->info.nlabels; l++) {
                float one = kl_proj_logit(model, &f, l);

                cr_assert(memcmp(&one, &z[l], sizeof one) == 0,
                          "%s, label %d: %.9g vs %.9g", texts[i], (int)l,
                          z[l], one);
            }
        }
        kl_features_fini(&f);
    }
}

Test(project, sums_in_feature_order_one_line, .fini = teardown)
{
    train_labels(64, KL_LOSS_SOFTMAX, 13); /* all four registers */
    check_sums_in_order(16);
}

Test(project, sums_in_feature_order_two_lines, .fini = teardown)
{
    train_labels(64, KL_LOSS_SOFTMAX, 20);
    cr_assert_eq(model->info.nlabels, 20);
    check_sums_in_order(32);
}

/* A feature id outside the input matrix: KL_EINVAL on both paths. */
Test(project, bad_feature_id_refused, .init = setup64, .fini = teardown)
{
    int32_t ids[2] = {1, 0};
    struct kl_features f;
    const struct kl_features *fp = &f;
    struct kl_prediction p;
    struct kl_scratch s;

    kl_scratch_init(&s);
    kl_features_init(&f);
    ids[1] = (int32_t)model->input_rows;
    f.ids = ids;
    f.n = 2;
    cr_assert_eq(kl_model_predict_batch(model, &fp, 1, 1, 0.0f, &s, &p),
                 KL_EINVAL);
    kl_model_unproject(model);
    cr_assert_eq(kl_model_predict_batch(model, &fp, 1, 1, 0.0f, &s, &p),
                 KL_EINVAL);
    f.ids = NULL;
    f.n = 0;
    kl_features_fini(&f);
    kl_scratch_fini(&s);
}
