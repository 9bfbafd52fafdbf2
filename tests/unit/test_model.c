/*
 * tests/unit/test_model.c: opening model files (engine/safetensors.c,
 * engine/meta.c, engine/model.c) including corrupted ones, and batched
 * prediction (engine/predict.c). Models are written by hand here (cJSON
 * header + raw floats) so each field can be broken on purpose, or trained
 * with kl_train_file() on a small fixture.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>
#include <criterion/criterion.h>

#include "klabel/engine.h"
#include "../../engine/sigmoid.h"

static char dir[64];
static char path[128];

static void setup(void)
{
    strcpy(dir, "/tmp/kl_test_model.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

/* ---------------------------------------------------- a model by hand */

struct tspec {
    const char *name, *dtype;
    int ndim;
    double shape[2];
    double begin, end;
};

#define META_FMT                                                            \
    "{\"format\":1,\"architecture\":\"fasttext\",\"id\":\"tiny\","          \
    "\"version\":\"3\",\"loss\":\"%s\",\"dim\":4,\"nwords\":%d,"            \
    "\"bucket\":3,\"word_ngrams\":1,\"minn\":0,\"maxn\":0,"                 \
    "\"labels\":%s,\"tokenizer\":{\"mode\":\"fasttext\",\"max_tokens\":0}}"

static char meta_buf[1024];

static const char *meta(const char *loss, int nwords, const char *labels)
{
    snprintf(meta_buf, sizeof meta_buf, META_FMT, loss, nwords, labels);
    return meta_buf;
}

/* The tensors of the good tiny model: dim 4, vocab foo bar, 3 buckets,
 * labels pos neg. */
static float data_f[5 * 4 + 2 * 4 + 2]; /* input, output, vocab bytes */
static const struct tspec good[] = {
    {"input", "F32", 2, {5, 4}, 0, 80},
    {"output", "F32", 2, {2, 4}, 80, 112},
    {"vocab", "U8", 1, {8, 0}, 112, 120},
};

static void fill_data(void)
{
    memset(data_f, 0, sizeof data_f);
    data_f[0] = 1.0f;        /* foo = e0 */
    data_f[4 + 1] = 1.0f;    /* bar = e1 */
    data_f[20 + 0] = 2.0f;   /* pos . hidden = 2 * hidden[0] */
    memcpy(&data_f[28], "foo\0bar\0", 8);
}

/* Writes header (meta may be NULL) + data, with the data starting at an
 * offset that is (align_mod) modulo 8. */
static void write_raw(const char *p, const char *meta_json, const struct tspec *t,
                      int nt, const void *data, size_t dlen, int align_mod)
{
    cJSON *h = cJSON_CreateObject();
    char *js;
    size_t len;
    uint64_t hl;
    FILE *fp;

    if (meta_json) {
        cJSON *m = cJSON_AddObjectToObject(h, "__metadata__");
        cJSON_AddStringToObject(m, "klabel", meta_json);
    }
    for (int i = 0; i < nt; i++) {
        cJSON *o = cJSON_AddObjectToObject(h, t[i].name);
        cJSON *s = cJSON_AddArrayToObject(o, "shape");
        cJSON *d = cJSON_AddArrayToObject(o, "data_offsets");
        cJSON_AddStringToObject(o, "dtype", t[i].dtype);
        for (int k = 0; k < t[i].ndim; k++)
            cJSON_AddItemToArray(s, cJSON_CreateNumber(t[i].shape[k]));
        cJSON_AddItemToArray(d, cJSON_CreateNumber(t[i].begin));
        cJSON_AddItemToArray(d, cJSON_CreateNumber(t[i].end));
    }
    js = cJSON_PrintUnformatted(h);
    len = strlen(js);
    hl = len;
    while ((8 + hl) % 8 != (uint64_t)align_mod)
        hl++;
    fp = fopen(p, "wb");
    cr_assert_not_null(fp);
    fwrite(&hl, 8, 1, fp);
    fwrite(js, 1, len, fp);
    for (uint64_t i = len; i < hl; i++)
        fputc(' ', fp);
    fwrite(data, 1, dlen, fp);
    fclose(fp);
    cJSON_free(js);
    cJSON_Delete(h);
}

static void write_good(const char *loss)
{
    fill_data();
    write_raw(path, meta(loss, 2, "[\"pos\",\"neg\"]"), good, 3, data_f, 120, 0);
}

/* Opens path expecting failure rc with a message containing want. */
static void expect_open_fails(int rc_want, const char *want)
{
    struct kl_model *m = (struct kl_model *)1;
    char err[512] = "";
    int rc = kl_model_open(path, &m, err, sizeof err);
    cr_expect_eq(rc, rc_want, "rc %d (%s), expected %d; err: %s", rc,
                 kl_strerror(rc), rc_want, err);
    cr_expect_null(m);
    cr_expect(strstr(err, want) != NULL, "error \"%s\" does not mention \"%s\"", err, want);
    kl_model_destroy(m);
}

Test(model_open, reads_info, .init = setup, .fini = teardown)
{
    struct kl_model *m = NULL;
    char err[512] = "";
    const struct kl_model_info *i;

    write_good("softmax");
    cr_assert_eq(kl_model_open(path, &m, err, sizeof err), KL_OK, "%s", err);
    i = kl_model_info(m);
    cr_expect_str_eq(i->id, "tiny");
    cr_expect_str_eq(i->version, "3");
    cr_expect_str_eq(i->architecture, "fasttext");
    cr_expect_eq(i->loss, KL_LOSS_SOFTMAX);
    cr_expect_eq(i->dim, 4);
    cr_expect_eq(i->nwords, 2);
    cr_expect_eq(i->bucket, 3);
    cr_expect_eq(i->word_ngrams, 1);
    cr_expect_eq(i->nlabels, 2);
    cr_expect_str_eq(i->labels[0], "pos");
    cr_expect_str_eq(i->labels[1], "neg");
    cr_expect_eq(i->tok.mode, KL_TOK_FASTTEXT);
    cr_expect(strstr(i->metadata_json, "\"id\":\"tiny\"") != NULL);
    kl_model_destroy(m);
}

Test(model_open, missing_and_empty_files, .init = setup, .fini = teardown)
{
    FILE *fp;
    expect_open_fails(KL_EIO, "cannot open");
    fp = fopen(path, "wb");
    fclose(fp);
    expect_open_fails(KL_EFORMAT, "shorter than the 8-byte");
}

Test(model_open, truncated_anywhere, .init = setup, .fini = teardown)
{
    char *buf;
    long size;
    FILE *fp;

    write_good("softmax");
    fp = fopen(path, "rb");
    fseek(fp, 0, SEEK_END);
    size = ftell(fp);
    rewind(fp);
    buf = malloc((size_t)size);
    cr_assert_eq(fread(buf, 1, (size_t)size, fp), (size_t)size);
    fclose(fp);
    for (long cut = 1; cut < size; cut += (cut < 16 || cut > size - 16) ? 1 : 7) {
        struct kl_model *m = NULL;
        char err[512] = "";
        fp = fopen(path, "wb");
        fwrite(buf, 1, (size_t)cut, fp);
        fclose(fp);
        cr_expect_neq(kl_model_open(path, &m, err, sizeof err), KL_OK,
                      "file cut at %ld of %ld bytes opened", cut, size);
        cr_expect(err[0] != '\0', "no reason for cut %ld", cut);
        cr_expect(strstr(err, path) != NULL, "reason does not name the file: %s", err);
        kl_model_destroy(m);
    }
    free(buf);
}

Test(model_open, header_length_too_big, .init = setup, .fini = teardown)
{
    uint64_t big = (uint64_t)1 << 40;
    FILE *fp;
    write_good("softmax");
    fp = fopen(path, "r+b");
    fwrite(&big, 8, 1, fp);
    fclose(fp);
    expect_open_fails(KL_EFORMAT, "exceeds");
}

Test(model_open, bad_json, .init = setup, .fini = teardown)
{
    const char hdr[] = "{\"input\": {\"dtype\": ";
    uint64_t n = sizeof hdr - 1;
    FILE *fp = fopen(path, "wb");
    fwrite(&n, 8, 1, fp);
    fwrite(hdr, 1, n, fp);
    fclose(fp);
    expect_open_fails(KL_EFORMAT, "not valid JSON");
}

Test(model_open, offsets_out_of_range, .init = setup, .fini = teardown)
{
    struct tspec t[3];
    memcpy(t, good, sizeof t);
    t[2].begin = 112;
    t[2].end = 400;
    t[2].shape[0] = 288;
    fill_data();
    write_raw(path, meta("softmax", 2, "[\"pos\",\"neg\"]"), t, 3, data_f, 120, 0);
    expect_open_fails(KL_EFORMAT, "tensor 'vocab' data_offsets [112, 400] exceed the data section (120 bytes)");
}

Test(model_open, offsets_overlap, .init = setup, .fini = teardown)
{
    struct tspec t[3];
    memcpy(t, good, sizeof t);
    t[1].begin = 72; /* output [72, 104] overlaps input [0, 80] */
    t[1].end = 104;
    fill_data();
    write_raw(path, meta("softmax", 2, "[\"pos\",\"neg\"]"), t, 3, data_f, 120, 0);
    expect_open_fails(KL_EFORMAT, "overlap");
}

Test(model_open, offsets_disagree_with_shape, .init = setup, .fini = teardown)
{
    struct tspec t[3];
    memcpy(t, good, sizeof t);
    t[0].end = 76;
    fill_data();
    write_raw(path, meta("softmax", 2, "[\"pos\",\"neg\"]"), t, 3, data_f, 120, 0);
    expect_open_fails(KL_EFORMAT, "hold 76 bytes, its dtype and shape need 80");
}

Test(model_open, shape_disagrees_with_metadata, .init = setup, .fini = teardown)
{
    struct tspec t[3];
    memcpy(t, good, sizeof t);
    t[0].shape[0] = 4; /* 4 x 5 floats: right size, wrong shape */
    t[0].shape[1] = 5;
    fill_data();
    write_raw(path, meta("softmax", 2, "[\"pos\",\"neg\"]"), t, 3, data_f, 120, 0);
    expect_open_fails(KL_EFORMAT, "tensor 'input' has shape [4, 5], the metadata needs [5, 4]");
}

Test(model_open, missing_tensor, .init = setup, .fini = teardown)
{
    struct tspec t[2] = {good[0], good[2]};
    fill_data();
    write_raw(path, meta("softmax", 2, "[\"pos\",\"neg\"]"), t, 2, data_f, 120, 0);
    expect_open_fails(KL_EFORMAT, "tensor 'output' is missing");
}

Test(model_open, label_count_mismatch, .init = setup, .fini = teardown)
{
    fill_data();
    write_raw(path, meta("softmax", 2, "[\"pos\",\"neg\",\"mid\"]"), good, 3, data_f, 120, 0);
    expect_open_fails(KL_EFORMAT, "tensor 'output' has shape [2, 4], the metadata needs [3, 4]");
}

Test(model_open, bad_labels, .init = setup, .fini = teardown)
{
    fill_data();
    write_raw(path, meta("softmax", 2, "[]"), good, 3, data_f, 120, 0);
    expect_open_fails(KL_EFORMAT, "0 labels");
    write_raw(path, meta("softmax", 2, "[\"pos\",\"pos\"]"), good, 3, data_f, 120, 0);
    expect_open_fails(KL_EFORMAT, "appears twice");
    write_raw(path, meta("softmax", 2, "[\"pos\",\"\"]"), good, 3, data_f, 120, 0);
    expect_open_fails(KL_EFORMAT, "label 1 is empty");
}

Test(model_open, misaligned_floats, .init = setup, .fini = teardown)
{
    fill_data();
    write_raw(path, meta("softmax", 2, "[\"pos\",\"neg\"]"), good, 3, data_f, 120, 2);
    expect_open_fails(KL_EFORMAT, "not a multiple of 4");
}

Test(model_open, vocab_disagrees_with_nwords, .init = setup, .fini = teardown)
{
    struct tspec t[3];
    memcpy(t, good, sizeof t);
    fill_data();
    /* nwords 1 + bucket 3 = 4 input rows; vocab still holds two words */
    t[0].shape[0] = 4;
    t[0].end = 64;
    t[1].begin = 64;
    t[1].end = 96;
    t[2].begin = 96;
    t[2].end = 104;
    {
        char d[104];
        memcpy(d, data_f, 64);
        memcpy(d + 64, &data_f[20], 32);
        memcpy(d + 96, "foo\0bar\0", 8);
        write_raw(path, meta("softmax", 1, "[\"pos\",\"neg\"]"), t, 3, d, 104, 0);
    }
    expect_open_fails(KL_EFORMAT, "vocab");
}

Test(model_open, metadata_problems, .init = setup, .fini = teardown)
{
    fill_data();
    write_raw(path, NULL, good, 3, data_f, 120, 0);
    expect_open_fails(KL_EFORMAT, "no \"klabel\" entry");
    write_raw(path, "{not json", good, 3, data_f, 120, 0);
    expect_open_fails(KL_EFORMAT, "not a JSON object");
    /* loss "hs" needs the label counts its Huffman tree is built from */
    write_raw(path, meta("hs", 2, "[\"pos\",\"neg\"]"), good, 3, data_f, 120, 0);
    expect_open_fails(KL_EFORMAT, "\"label_counts\"");
    write_raw(path, meta("hinge", 2, "[\"pos\",\"neg\"]"), good, 3, data_f, 120, 0);
    expect_open_fails(KL_EFORMAT, "\"loss\"");
}

Test(model_open, non_finite_output, .init = setup, .fini = teardown)
{
    fill_data();
    data_f[21] = NAN;
    write_raw(path, meta("softmax", 2, "[\"pos\",\"neg\"]"), good, 3, data_f, 120, 0);
    expect_open_fails(KL_EFORMAT, "non-finite");
}

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
                                      "\xe0\x80\x80z", "bar \xf4\x90\x80\x80"};
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
