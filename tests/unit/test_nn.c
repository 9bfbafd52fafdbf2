/*
 * tests/unit/test_nn.c: the neural architectures behind the public model
 * interface (engine/nn_*.c, bilstm.c, textcnn.c): the featurizer's
 * vocabulary, unknown-word, truncation and padding rules; model files
 * that must be refused; a text's result not depending on its batch;
 * steady-state batches allocating nothing; the vectorized sigmoid / tanh;
 * and `--arch bilstm|textcnn` training: it learns a separable set, and the
 * same seed gives the same file byte for byte.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "klabel/engine.h"
#include "../../engine/nn.h"
#include "../../engine/nn_math.h"
#include "../../engine/safetensors.h"

static char dir[64];

static void setup(void)
{
    strcpy(dir, "/tmp/kl_test_nn.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

/* A bilstm model file with small random weights: vocabulary w0..w9,
 * hidden 3, embedding 4, the given "nn" extras and metadata labels. */
static int write_model(const char *path, const char *nn_extra,
                       const char *labels, int nout, int rows_tensor,
                       const char *drop_tensor, char *err, size_t errsz)
{
    struct kl_nn_conf c;
    struct kl_nn_weights w;
    struct kl_nn_tensor t[KL_NN_TENSORS_MAX];
    struct kl_st_out out[KL_NN_TENSORS_MAX + 1];
    const char vocab[] = "w0\0w1\0w2\0w3\0w4\0w5\0w6\0w7\0w8\0w9";
    char json[1024];
    const char *key = "klabel", *val = json;
    size_t total, nt, k = 0;
    float *p;
    int rc;

    memset(&c, 0, sizeof c);
    c.arch = KL_ARCH_BILSTM;
    c.rows = rows_tensor;
    c.dim = 4;
    c.hidden = 3;
    c.layers = 1;
    c.nout = nout;
    nt = kl_nn_tensors(&c, &w, t, &total);
    p = malloc(total * sizeof *p);
    for (size_t i = 0; i < total; i++)
        p[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    memset(out, 0, sizeof out);
    for (size_t i = 0; i < nt; i++) {
        if (drop_tensor && strcmp(t[i].name, drop_tensor) == 0)
            continue;
        out[k].name = t[i].name;
        out[k].dtype = KL_ST_F32;
        out[k].ndim = t[i].ndim;
        for (int d = 0; d < t[i].ndim; d++)
            out[k].shape[d] = (uint64_t)t[i].shape[d];
        out[k++].data = p + t[i].off;
    }
    out[k++] = (struct kl_st_out){"vocab", KL_ST_U8, 1, {sizeof vocab},
                                  vocab};
    snprintf(json, sizeof json,
             "{\"format\":1,\"architecture\":\"bilstm\",\"loss\":\"%s\","
             "\"dim\":4,\"nwords\":10,\"bucket\":0,\"labels\":[%s],"
             "\"tokenizer\":{\"mode\":\"unicode\"},\"nn\":{\"rows\":12,"
             "\"lstm\":{\"hidden\":3}%s}}",
             nout == 1 || strstr(nn_extra, "sigmoid") ? "ova" : "softmax",
             labels, nn_extra);
    rc = kl_safetensors_write(path, &key, &val, 1, out, k, err, errsz);
    free(p);
    return rc;
}

static struct kl_model *open_model(const char *nn_extra)
{
    char path[128], err[512];
    struct kl_model *m = NULL;

    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    cr_assert_eq(write_model(path, nn_extra, "\"a\",\"b\",\"c\"", 3, 12,
                             NULL, err, sizeof err), KL_OK, "%s", err);
    cr_assert_eq(kl_model_open(path, &m, err, sizeof err), KL_OK, "%s", err);
    return m;
}

/* The ids text gives, as "1 2 3". */
static void ids_of(struct kl_model *m, const char *text, char *buf,
                   size_t n)
{
    struct kl_features f;
    size_t pos = 0;

    kl_features_init(&f);
    buf[0] = '\0';
    kl_model_featurize(m, text, strlen(text), &f);
    for (size_t i = 0; i < f.n && pos < n; i++)
        pos += (size_t)snprintf(buf + pos, n - pos, "%s%d", i ? " " : "",
                                (int)f.ids[i]);
    kl_features_fini(&f);
}

Test(nn, featurize_vocab_oov_truncation_padding, .init = setup,
     .fini = teardown)
{
    struct kl_model *m;
    char got[256];

    m = open_model("");
    cr_expect_str_eq(kl_model_info(m)->architecture, "bilstm");
    ids_of(m, "w3 zz w0 W9", got, sizeof got); /* case folded; oov = 1 */
    cr_expect_str_eq(got, "5 1 2 11");
    kl_model_destroy(m);

    m = open_model(",\"oov_id\":-1,\"max_len\":3");
    ids_of(m, "w1 zz w2 w3 w4", got, sizeof got); /* dropped, first 3 */
    cr_expect_str_eq(got, "3 4 5");
    kl_model_destroy(m);

    m = open_model(",\"max_len\":3,\"truncating\":\"pre\"");
    ids_of(m, "w1 w2 w3 w4", got, sizeof got); /* the last 3 */
    cr_expect_str_eq(got, "4 5 6");
    kl_model_destroy(m);

    m = open_model(",\"max_len\":5,\"padding\":\"pre\",\"vocab_offset\":1");
    ids_of(m, "w1 w2", got, sizeof got);
    cr_expect_str_eq(got, "0 0 0 2 3");
    kl_model_destroy(m);

    m = open_model(",\"max_len\":4,\"padding\":\"post\",\"pad_id\":11");
    ids_of(m, "w1", got, sizeof got);
    cr_expect_str_eq(got, "3 11 11 11");
    ids_of(m, "", got, sizeof got); /* no token: nothing, not padding */
    cr_expect_str_eq(got, "");
    kl_model_destroy(m);
}

Test(nn, bad_files_are_refused_with_a_reason, .init = setup,
     .fini = teardown)
{
    static const struct {
        const char *extra, *labels, *drop, *want;
        int nout, rows;
    } cases[] = {
        {"", "\"a\",\"b\",\"c\"", "lstm.weight_hh_l0_reverse",
         "lstm.weight_hh_l0_reverse", 3, 12},
        {"", "\"a\",\"b\",\"c\"", NULL, "embedding.weight", 3, 11},
        {",\"head\":\"binary\"", "\"a\",\"b\",\"c\"", NULL, "head", 1, 12},
        {",\"vocab_offset\":5", "\"a\",\"b\",\"c\"", NULL, "rows", 3, 12},
        {",\"padding\":\"pre\",\"pad_id\":-1", "\"a\",\"b\",\"c\"", NULL,
         "pad_id", 3, 12},
        {",\"max_len\":0", "\"a\",\"b\",\"c\"", NULL, "max_len", 3, 12},
        {"", "\"a\",\"b\"", NULL, "fc.weight", 3, 12},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[128], err[512];
        struct kl_model *m = NULL;
        int rc;

        snprintf(path, sizeof path, "%s/bad%zu.safetensors", dir, i);
        cr_assert_eq(write_model(path, cases[i].extra, cases[i].labels,
                                 cases[i].nout, cases[i].rows, cases[i].drop,
                                 err, sizeof err), KL_OK);
        rc = kl_model_open(path, &m, err, sizeof err);
        cr_expect_eq(rc, KL_EFORMAT, "case %zu opened (%d)", i, rc);
        cr_expect_not_null(strstr(err, cases[i].want),
                           "case %zu: '%s' does not name %s", i, err,
                           cases[i].want);
        kl_model_destroy(m);
    }
}

Test(nn, batch_does_not_change_results_and_steady_state_allocates_nothing,
     .init = setup, .fini = teardown)
{
    static const char *texts[] = {"w1 w2 w3 w4 w5 w6 w7", "w9",
                                  "w0 w0 w0", "", "w5 zz w6 w7 w8 w1"};
    struct kl_model *m = open_model(",\"lstm\":{\"hidden\":3,\"pool\":\"max\"}");
    struct kl_features f[5];
    const struct kl_features *fp[5];
    struct kl_prediction all[5], one;
    struct kl_scratch s, s1;
    void *before[4];

    kl_scratch_init(&s);
    kl_scratch_init(&s1);
    for (int i = 0; i < 5; i++) {
        kl_features_init(&f[i]);
        kl_model_featurize(m, texts[i], strlen(texts[i]), &f[i]);
        fp[i] = &f[i];
    }
    cr_assert_eq(kl_model_predict_batch(m, fp, 5, 3, 0.0f, &s, all), KL_OK);
    cr_expect_eq(all[3].k, 0, "a text without tokens has no label");
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(kl_model_predict_batch(m, &fp[i], 1, 3, 0.0f, &s1, &one),
                     KL_OK);
        cr_expect_eq(one.k, all[i].k);
        for (int j = 0; j < one.k; j++) {
            cr_expect_eq(one.label[j], all[i].label[j]);
            cr_expect_float_eq(one.prob[j], all[i].prob[j], 1e-6);
        }
    }
    if (all[0].k == 3)
        cr_expect_float_eq(all[0].prob[0] + all[0].prob[1] + all[0].prob[2],
                           1.0f, 1e-5);
    {
        struct kl_nn_scratch *ns = s.nn;
        before[0] = ns->x;
        before[1] = ns->proj;
        before[2] = ns->g;
        before[3] = ns->feat;
        cr_assert_eq(kl_model_predict_batch(m, fp, 5, 3, 0.0f, &s, all),
                     KL_OK);
        cr_expect(ns->x == before[0] && ns->proj == before[1] &&
                  ns->g == before[2] && ns->feat == before[3],
                  "a second batch of the same shape reallocated");
    }
    for (int i = 0; i < 5; i++)
        kl_features_fini(&f[i]);
    kl_scratch_fini(&s);
    kl_scratch_fini(&s1);
    kl_model_destroy(m);
}

Test(nn, vector_sigmoid_and_tanh_match_libm)
{
    float x[2001], y[2001], z[2001];

    for (int i = 0; i < 2001; i++)
        x[i] = (float)(i - 1000) * 0.1f; /* -100 .. 100 */
    memcpy(y, x, sizeof x);
    kl_nn_sigmoid_v(y, 2001);
    kl_nn_tanh_v(x, z, 2001);
    for (int i = 0; i < 2001; i++) {
        cr_expect_float_eq(y[i], 1.0f / (1.0f + expf(-x[i])), 1e-6,
                           "sigmoid(%g) = %g", x[i], y[i]);
        cr_expect_float_eq(z[i], tanhf(x[i]), 1e-6, "tanh(%g) = %g", x[i],
                           z[i]);
    }
}

/* "good"-texts and "bad"-texts with noise words; label a or b. */
static void write_separable(const char *path, int n)
{
    FILE *fp = fopen(path, "w");

    cr_assert_not_null(fp);
    for (int i = 0; i < n; i++) {
        int a = i % 2;
        fprintf(fp, "%s\tnoise%d %s filler%d %s\n", a ? "a" : "b", i % 7,
                a ? "alpha" : "beta", i % 5, a ? "apple" : "banana");
    }
    fclose(fp);
}

static void train(int arch, const char *in, const char *out, uint64_t seed)
{
    struct kl_train_opts o;
    char err[512];

    kl_train_opts_init(&o);
    o.arch = arch;
    o.tok.mode = KL_TOK_UNICODE;
    o.dim = 8;
    o.epoch = 6;
    o.seed = seed;
    o.nn.hidden = 6;
    o.nn.channels = 5;
    o.nn.batch = 8;
    o.nn.lr = 0.01f;
    cr_assert_eq(kl_train_file(&o, in, out, err, sizeof err), KL_OK, "%s",
                 err);
}

static void learns(int arch)
{
    char in[128], out[128], err[512];
    struct kl_model *m = NULL;
    struct kl_features f;
    struct kl_scratch s;
    struct kl_prediction p;
    const struct kl_features *fp = &f;
    static const char *texts[] = {"noise9 alpha filler9 apple",
                                  "noise8 beta filler8 banana",
                                  "apple noise1 alpha filler4",
                                  "banana filler2 beta noise0"};
    static const char *want[] = {"a", "b", "a", "b"};

    snprintf(in, sizeof in, "%s/train.tsv", dir);
    snprintf(out, sizeof out, "%s/m.safetensors", dir);
    write_separable(in, 200);
    train(arch, in, out, 1);
    cr_assert_eq(kl_model_open(out, &m, err, sizeof err), KL_OK, "%s", err);
    kl_features_init(&f);
    kl_scratch_init(&s);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(kl_model_featurize(m, texts[i], strlen(texts[i]), &f),
                     KL_OK);
        cr_assert_eq(kl_model_predict_batch(m, &fp, 1, 1, 0.0f, &s, &p),
                     KL_OK);
        cr_expect_eq(p.k, 1);
        cr_expect_str_eq(kl_model_info(m)->labels[p.label[0]], want[i],
                         "'%s'", texts[i]);
        cr_expect_gt(p.prob[0], 0.8f, "'%s': %g", texts[i], p.prob[0]);
    }
    kl_features_fini(&f);
    kl_scratch_fini(&s);
    kl_model_destroy(m);
}

Test(nn, bilstm_learns_a_separable_set, .init = setup, .fini = teardown)
{
    learns(KL_ARCH_BILSTM);
}

Test(nn, textcnn_learns_a_separable_set, .init = setup, .fini = teardown)
{
    learns(KL_ARCH_TEXTCNN);
}

/* Bytes of a file, or NULL. */
static char *slurp(const char *path, long *n)
{
    FILE *fp = fopen(path, "rb");
    char *b;

    cr_assert_not_null(fp);
    fseek(fp, 0, SEEK_END);
    *n = ftell(fp);
    rewind(fp);
    b = malloc((size_t)*n);
    cr_assert_eq(fread(b, 1, (size_t)*n, fp), (size_t)*n);
    fclose(fp);
    return b;
}

Test(nn, same_seed_same_file, .init = setup, .fini = teardown)
{
    char in[128], o1[128], o2[128], o3[128];
    long n1, n2, n3;
    char *a, *b, *c;

    setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
    snprintf(in, sizeof in, "%s/train.tsv", dir);
    snprintf(o1, sizeof o1, "%s/1.safetensors", dir);
    snprintf(o2, sizeof o2, "%s/2.safetensors", dir);
    snprintf(o3, sizeof o3, "%s/3.safetensors", dir);
    write_separable(in, 64);
    train(KL_ARCH_BILSTM, in, o1, 7);
    train(KL_ARCH_BILSTM, in, o2, 7);
    train(KL_ARCH_BILSTM, in, o3, 8);
    a = slurp(o1, &n1);
    b = slurp(o2, &n2);
    c = slurp(o3, &n3);
    cr_expect(n1 == n2 && memcmp(a, b, (size_t)n1) == 0,
              "seed 7 twice gave different files");
    cr_expect(n1 != n3 || memcmp(a, c, (size_t)n1) != 0,
              "seeds 7 and 8 gave the same file");
    free(a);
    free(b);
    free(c);
}
