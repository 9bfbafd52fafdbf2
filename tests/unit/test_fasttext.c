/*
 * tests/unit/test_fasttext.c: fastText model import (engine/fasttext_read.c,
 * fasttext_quant.c, fasttext_model.c, model_save.c), hierarchical softmax
 * (hs.c), fastText's top-k order (topk.c) and pruned dictionaries
 * (dict_prune.c). Fixtures in tests/unit/fixtures/fasttext were made with
 * fastText 0.9.2 by gen.py there (see its README); expected.tsv holds
 * fastText's own predictions of them. Truncated and corrupted copies of
 * every fixture must fail cleanly (run under ASan too).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "klabel/engine.h"
#include "../../engine/dict.h"
#include "../../engine/fasttext_read.h"
#include "../../engine/hs.h"
#include "../../engine/model.h"
#include "../../engine/topk.h"

static const char *const fixtures[] = {"tie.bin",      "hs.bin",
                                       "ova_char.bin", "pruned.ftz",
                                       "pq_codes.ftz", "qout.ftz"};
#define NFIX (sizeof fixtures / sizeof fixtures[0])

static char tmpdir[64];

static void setup(void)
{
    strcpy(tmpdir, "/tmp/kl_test_fasttext.XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_expect_eq(system(cmd), 0);
}

static const char *fix_path(const char *name)
{
    static char p[512];
    const char *dir = getenv("KL_FASTTEXT_FIXTURES");
    snprintf(p, sizeof p, "%s/%s",
             dir ? dir : "tests/unit/fixtures/fasttext", name);
    return p;
}

/* The whole file; caller frees. */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b;
    long n;

    cr_assert_not_null(f, "%s (run from the repository root)", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = malloc(n > 0 ? (size_t)n : 1);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const unsigned char *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(b, 1, len, f), len);
    fclose(f);
}

/* Predicts text with m (k = all labels, threshold 0); k 0 when no
 * features. */
static void predict(const struct kl_model *m, const char *text,
                    struct kl_prediction *p)
{
    struct kl_features f;
    const struct kl_features *fp = &f;
    struct kl_scratch s;
    int rc;

    kl_features_init(&f);
    kl_scratch_init(&s);
    rc = kl_model_featurize(m, text, strlen(text), &f);
    cr_assert(rc == KL_OK || rc == KL_EEMPTY, "featurize '%s': %d", text, rc);
    p->k = 0;
    if (rc == KL_OK)
        cr_assert_eq(kl_model_predict_batch(m, &fp, 1, KL_TOPK_MAX, 0.0f, &s,
                                            p), KL_OK);
    kl_features_fini(&f);
    kl_scratch_fini(&s);
}

/* ------------------------------------------------------------ reading */

Test(fasttext_read, fixture_fields)
{
    struct kl_fasttext ft;
    char err[512];

    cr_assert_eq(kl_fasttext_read_file(fix_path("tie.bin"), &ft, err,
                                       sizeof err), KL_OK, "%s", err);
    cr_expect_eq(ft.version, 12);
    cr_expect_eq(ft.args.dim, 4);
    cr_expect_eq(ft.args.loss, KL_FT_LOSS_SOFTMAX);
    cr_expect_eq(ft.nwords, 2);
    cr_expect_eq(ft.nlabels, 2);
    cr_expect_eq(ft.pruneidx_size, -1);
    cr_expect_eq(ft.words_len, 8);
    cr_expect(memcmp(ft.words, "foo\0bar\0", 8) == 0);
    cr_expect_str_eq(ft.labels, "__label__pos");
    cr_expect_eq(ft.counts[2], 5);
    cr_expect_eq(ft.counts[3], 3);
    cr_expect_eq(ft.input.rows, 5);
    cr_expect_eq(ft.input.data[5], 1.0f);
    cr_expect_eq(ft.output.data[0], 2.0f);
    kl_fasttext_fini(&ft);

    cr_assert_eq(kl_fasttext_read_file(fix_path("pruned.ftz"), &ft, err,
                                       sizeof err), KL_OK, "%s", err);
    cr_expect(ft.quant_input && ft.input.quantized && ft.input.qnorm);
    cr_expect(!ft.qout);
    cr_expect_eq(ft.input.dsub, 2);
    cr_expect_eq(ft.input.nsubq, 2);
    cr_expect_eq(ft.input.lastdsub, 1);
    cr_expect_gt(ft.pruneidx_size, 0);
    cr_expect_eq(ft.input.rows, ft.nwords + ft.pruneidx_size);
    kl_fasttext_fini(&ft);

    cr_assert_eq(kl_fasttext_read_file(fix_path("qout.ftz"), &ft, err,
                                       sizeof err), KL_OK, "%s", err);
    cr_expect(ft.qout && ft.output.quantized && !ft.output.qnorm);
    kl_fasttext_fini(&ft);
}

/* Every prediction of every fixture equals fastText's (expected.tsv):
 * the same labels in the same order, probabilities within 1e-4. */
Test(fasttext_model, predictions_equal_fasttext)
{
    char line[4096], err[512], cur[64] = "";
    FILE *f = fopen(fix_path("expected.tsv"), "r");
    struct kl_model *m = NULL;
    int lines = 0;

    cr_assert_not_null(f);
    while (fgets(line, sizeof line, f)) {
        char *name = strtok(line, "\t"), *text = strtok(NULL, "\t");
        char *rest = strtok(NULL, "\n"), *tok;
        struct kl_prediction p;
        int j = 0;

        cr_assert(name && text);
        if (strcmp(name, cur) != 0) {
            kl_model_destroy(m);
            cr_assert_eq(kl_model_open(fix_path(name), &m, err, sizeof err),
                         KL_OK, "%s", err);
            snprintf(cur, sizeof cur, "%s", name);
        }
        predict(m, text, &p);
        for (tok = rest ? strtok(rest, " ") : NULL; tok;
             tok = strtok(NULL, " "), j++) {
            char *prob = strtok(NULL, " ");
            cr_assert_not_null(prob);
            cr_assert_lt(j, p.k, "%s '%s': fastText has more labels", name,
                         text);
            cr_expect_str_eq(kl_model_info(m)->labels[p.label[j]],
                             tok + strlen("__label__"), "%s '%s' #%d", name,
                             text, j);
            cr_expect_float_eq(p.prob[j], strtod(prob, NULL), 1e-4,
                               "%s '%s' #%d", name, text, j);
        }
        cr_expect_eq(p.k, j, "%s '%s': %d labels, fastText %d", name, text,
                     p.k, j);
        lines++;
    }
    fclose(f);
    kl_model_destroy(m);
    cr_expect_geq(lines, NFIX * 15);
}

Test(fasttext_model, info_of_an_opened_file)
{
    struct kl_model *m = NULL;
    const struct kl_model_info *i;
    char err[512];

    cr_assert_eq(kl_model_open(fix_path("hs.bin"), &m, err, sizeof err),
                 KL_OK, "%s", err);
    i = kl_model_info(m);
    cr_expect_eq(i->loss, KL_LOSS_HS);
    cr_expect_str_eq(i->file_format, "fasttext-bin");
    cr_expect_eq(i->tok.mode, KL_TOK_FASTTEXT);
    cr_expect_eq(i->word_ngrams, 2);
    cr_expect_eq(i->nlabels, 6);
    cr_assert_not_null(i->label_counts);
    cr_expect_eq(i->label_counts[0], 4);
    cr_expect_eq(i->label_counts[5], 1);
    cr_expect_str_eq(i->labels[0], "a"); /* "__label__" stripped */
    cr_expect_str_eq(i->id, "hs");
    kl_model_destroy(m);
    cr_assert_eq(kl_model_open(fix_path("pruned.ftz"), &m, err, sizeof err),
                 KL_OK, "%s", err);
    cr_expect_str_eq(kl_model_info(m)->file_format, "fasttext-ftz");
    cr_expect_eq(kl_model_info(m)->minn, 1);
    cr_expect_eq(kl_model_info(m)->maxn, 2);
    cr_expect_eq(kl_model_info(m)->quant, KL_QUANT_NONE); /* qnorm: dense */
    kl_model_destroy(m);
    cr_assert_eq(kl_model_open(fix_path("pq_codes.ftz"), &m, err,
                               sizeof err), KL_OK, "%s", err);
    cr_expect_eq(kl_model_info(m)->quant, KL_QUANT_PQ); /* codes kept */
    kl_model_destroy(m);
}

/* kl_model_save() of each fixture reopens as safetensors with identical
 * predictions (bit for bit: the same floats). */
Test(fasttext_model, import_round_trip, .init = setup, .fini = teardown)
{
    static const char *const texts[] = {"foo bar", "zap zip", "中文 新闻",
                                        "wheat grain", "unknownword"};
    char err[512], out[256];

    for (size_t i = 0; i < NFIX; i++) {
        struct kl_model *a = NULL, *b = NULL;
        snprintf(out, sizeof out, "%s/%s.safetensors", tmpdir, fixtures[i]);
        cr_assert_eq(kl_model_open(fix_path(fixtures[i]), &a, err,
                                   sizeof err), KL_OK, "%s", err);
        cr_assert_eq(kl_model_save(a, out, "imported", "7", err, sizeof err),
                     KL_OK, "%s", err);
        cr_assert_eq(kl_model_open(out, &b, err, sizeof err), KL_OK, "%s",
                     err);
        cr_expect_str_eq(kl_model_info(b)->file_format, "safetensors");
        cr_expect_str_eq(kl_model_info(b)->id, "imported");
        cr_expect_str_eq(kl_model_info(b)->version, "7");
        cr_expect_eq(kl_model_info(b)->loss, kl_model_info(a)->loss);
        cr_expect_eq(kl_model_info(b)->label_counts[0],
                     kl_model_info(a)->label_counts[0]);
        cr_expect(strstr(kl_model_info(b)->metadata_json,
                         "\"source\":\"fasttext\""));
        cr_expect_eq(kl_model_info(b)->quant, kl_model_info(a)->quant,
                     "%s", fixtures[i]);
        /* Both open paths prepare the bucket's division-free remainder
         * (featurize.c falls back to `%` only for a dict set up by hand). */
        cr_expect_eq(a->dict.bucket_mod.d, (uint32_t)a->dict.bucket, "%s",
                     fixtures[i]);
        cr_expect_eq(b->dict.bucket_mod.d, (uint32_t)b->dict.bucket, "%s",
                     fixtures[i]);
        for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
            struct kl_prediction pa, pb;
            predict(a, texts[t], &pa);
            predict(b, texts[t], &pb);
            cr_expect_eq(pa.k, pb.k, "%s '%s'", fixtures[i], texts[t]);
            for (int j = 0; j < pa.k && j < pb.k; j++) {
                cr_expect_eq(pa.label[j], pb.label[j]);
                cr_expect_eq(pa.prob[j], pb.prob[j]);
            }
        }
        kl_model_destroy(a);
        kl_model_destroy(b);
    }
}

/* -------------------------------------------------- untrusted bytes */

/* Every prefix of every fixture is an error with a reason, never a crash
 * or a leak (ASan). */
Test(fasttext_read, every_truncation_fails_cleanly)
{
    for (size_t i = 0; i < NFIX; i++) {
        size_t len;
        unsigned char *b = slurp(fix_path(fixtures[i]), &len);
        for (size_t cut = 0; cut < len; cut++) {
            struct kl_fasttext ft;
            char err[512] = "";
            int rc = kl_fasttext_read(b, cut, "cut.bin", &ft, err, sizeof err);
            cr_assert_eq(rc, KL_EFORMAT, "%s cut at %zu: %d", fixtures[i],
                         cut, rc);
            cr_assert(strncmp(err, "cut.bin: ", 9) == 0, "%s", err);
        }
        free(b);
    }
}

/* Single bytes overwritten anywhere: the read fails with a reason or
 * succeeds, and a file that still reads must open as a model (or fail
 * cleanly) and predict without crashing (every value in the first 400
 * bytes, 0xff beyond: the prune index, codes and floats). */
Test(fasttext_read, corrupted_bytes_fail_cleanly, .init = setup,
     .fini = teardown)
{
    static const unsigned char vals[] = {0x00, 0xff, 0x7f, 0x81};
    char path[128];

    snprintf(path, sizeof path, "%s/bad.bin", tmpdir);
    for (size_t i = 0; i < NFIX; i++) {
        size_t len;
        unsigned char *b = slurp(fix_path(fixtures[i]), &len);
        for (size_t pos = 0; pos < len; pos++) {
            unsigned char keep = b[pos];
            for (size_t v = 0; v < sizeof vals; v++) {
                struct kl_fasttext ft;
                struct kl_model *m = NULL;
                struct kl_prediction p;
                char err[512] = "";
                int rc;

                if (vals[v] == keep)
                    continue;
                b[pos] = vals[v];
                rc = kl_fasttext_read(b, len, "bad.bin", &ft, err, sizeof err);
                cr_assert(rc == KL_OK || (rc < 0 && err[0] != '\0'),
                          "%s byte %zu: rc %d", fixtures[i], pos, rc);
                kl_fasttext_fini(&ft);
                if (rc != KL_OK || (pos >= 400 && vals[v] != 0xff))
                    continue;
                spit(path, b, len);
                rc = kl_model_open(path, &m, err, sizeof err);
                cr_assert(rc == KL_OK || err[0] != '\0');
                if (rc == KL_OK) {
                    predict(m, "foo bar 中文 zap", &p);
                    kl_model_destroy(m);
                }
            }
            b[pos] = keep;
        }
        free(b);
    }
}

/* Patches tie.bin (308 bytes; layout in fasttext_read.h) at off with n
 * bytes of v and expects a read error mentioning want. */
static void expect_patch_fails(size_t off, const void *v, size_t n,
                               const char *want)
{
    size_t len;
    unsigned char *b = slurp(fix_path("tie.bin"), &len);
    struct kl_fasttext ft;
    char err[512] = "";

    cr_assert_eq(len, 308);
    memcpy(b + off, v, n);
    cr_expect_eq(kl_fasttext_read(b, len, "model.bin", &ft, err, sizeof err),
                 KL_EFORMAT, "patch at %zu", off);
    cr_expect(strstr(err, want), "error \"%s\" does not mention \"%s\"", err,
              want);
    free(b);
}

Test(fasttext_read, clear_errors)
{
    int32_t i32;
    int64_t i64;
    int32_t sizes[3] = {INT32_MAX, INT32_MAX - 2, 2};

    i32 = 12345;
    expect_patch_fails(0, &i32, 4, "not a fastText");
    i32 = 13;
    expect_patch_fails(4, &i32, 4, "version 13 is not supported");
    i32 = 9;
    expect_patch_fails(8 + 6 * 4, &i32, 4, "Args loss is 9");
    expect_patch_fails(64, sizes, sizeof sizes,
                       "dictionary claims 2147483647 words and labels, file "
                       "has 216 bytes left");
    i64 = (int64_t)1 << 40;
    expect_patch_fails(84, &i64, 8, "prune index claims 1099511627776 pairs");
    expect_patch_fails(117, "\1", 1, "words come first"); /* bar: label */
    expect_patch_fails(162, "\2", 1, "not a boolean");
    i64 = (int64_t)1 << 50;
    expect_patch_fails(163, &i64, 8, "the input matrix claims");
    i64 = 6; /* 96 bytes of floats still fit; the shape does not */
    expect_patch_fails(163, &i64, 8, "is 6 x 4, expected 5");
    i32 = 7; /* bucket 7: the 5-row input matrix no longer fits */
    expect_patch_fails(8 + 8 * 4, &i32, 4, "expected 9 (words + buckets)");
}

Test(fasttext_read, trailing_bytes_and_unsupervised_models, .init = setup,
     .fini = teardown)
{
    size_t len;
    unsigned char *b = slurp(fix_path("tie.bin"), &len), *c;
    struct kl_fasttext ft;
    struct kl_model *m = NULL;
    char err[512] = "", path[128];
    int32_t cbow = KL_FT_MODEL_CBOW;

    c = malloc(len + 1);
    memcpy(c, b, len);
    c[len] = 0;
    cr_expect_eq(kl_fasttext_read(c, len + 1, "t.bin", &ft, err, sizeof err),
                 KL_EFORMAT);
    cr_expect(strstr(err, "1 bytes after the output matrix"), "%s", err);
    free(c);
    /* a cbow model: the output has nwords rows (2 here, as labels had) */
    memcpy(b + 8 + 7 * 4, &cbow, 4);
    snprintf(path, sizeof path, "%s/cbow.bin", tmpdir);
    spit(path, b, len);
    cr_expect_eq(kl_model_open(path, &m, err, sizeof err), KL_EFORMAT);
    cr_expect(strstr(err, "not a supervised fastText model (cbow"), "%s", err);
    cr_expect_null(m);
    free(b);
}

Test(fasttext_read, quantizer_layout_is_checked)
{
    size_t len;
    unsigned char *b = slurp(fix_path("qout.ftz"), &len);
    struct kl_fasttext ft;
    char err[512] = "";
    /* the input matrix's quantizer header: dim 3 = (2 - 1) * 2 + 1 */
    size_t off = 0;
    int32_t v[4] = {3, 2, 2, 1}; /* dim nsubq dsub lastdsub */

    for (size_t i = 0; i + 16 <= len && !off; i++)
        if (memcmp(b + i, v, 16) == 0)
            off = i;
    cr_assert_gt(off, 0);
    v[3] = 2; /* lastdsub 2: (2 - 1) * 2 + 2 != dim 3 */
    memcpy(b + off, v, 16);
    cr_expect_eq(kl_fasttext_read(b, len, "q.ftz", &ft, err, sizeof err),
                 KL_EFORMAT);
    cr_expect(strstr(err, "sub-quantizers"), "%s", err);
    free(b);
}

/* ------------------------------------------------- hierarchical softmax */

Test(hs, tree_as_fasttext_builds_it)
{
    /* counts 4 3 3 2 1 1: node 7 joins node 6 (count 2) before leaf 3
     * (count 2, not strictly lighter), node 9 node 7 (4) before leaf 0 */
    static const int64_t counts[] = {4, 3, 3, 2, 1, 1};
    static const int32_t left[] = {5, 6, 2, 7, 8}, right[] = {4, 3, 1, 0, 9};
    struct kl_hs t;

    cr_assert_eq(kl_hs_build(&t, counts, 6), KL_OK);
    for (int i = 0; i < 6; i++)
        cr_expect(t.left[i] == -1 && t.right[i] == -1);
    for (int i = 0; i < 5; i++) {
        cr_expect_eq(t.left[6 + i], left[i], "node %d", 6 + i);
        cr_expect_eq(t.right[6 + i], right[i], "node %d", 6 + i);
    }
    cr_expect_eq(t.depth, 4);
    kl_hs_fini(&t);
    cr_expect_eq(kl_hs_build(&t, counts, 0), KL_EINVAL);
}

static float sigm(float x) { return 1.0f / (1.0f + expf(-x)); }

Test(hs, search_gives_path_probabilities_and_cuts_below_threshold)
{
    static const int64_t counts[] = {4, 3, 3, 2, 1, 1};
    static const float z[] = {0.3f, -1.2f, 2.0f, 0.1f, -0.4f, 0};
    struct kl_hs t;
    struct kl_hs_frame st[8];
    struct kl_prediction p;
    float want[6], sum = 0;

    cr_assert_eq(kl_hs_build(&t, counts, 6), KL_OK);
    cr_assert_leq(kl_hs_stack_size(&t), 8);
    /* P(leaf) = product over its path of sigmoid(z) (right) or 1 - it */
    for (int leaf = 0; leaf < 6; leaf++) {
        float pr = 1;
        for (int n = leaf; n != 10;) {
            int up = 6;
            while (t.left[up] != n && t.right[up] != n)
                up++;
            pr *= t.right[up] == n ? sigm(z[up - 6]) : 1 - sigm(z[up - 6]);
            n = up;
        }
        want[leaf] = pr;
    }
    kl_hs_predict(&t, z, 6, 0.0f, st, &p);
    cr_expect_eq(p.k, 6);
    for (int j = 0; j < p.k; j++) {
        cr_expect_float_eq(p.prob[j], want[p.label[j]], 1e-4);
        if (j > 0)
            cr_expect_geq(p.prob[j - 1], p.prob[j]);
        sum += p.prob[j];
    }
    cr_expect_float_eq(sum, 1.0f, 1e-3);
    kl_hs_predict(&t, z, 6, 0.2f, st, &p);
    for (int j = 0; j < p.k; j++)
        cr_expect_geq(p.prob[j], 0.2f - 1e-4);
    cr_expect_lt(p.k, 6);
    kl_hs_predict(&t, z, 2, 0.0f, st, &p);
    cr_expect_eq(p.k, 2);
    kl_hs_fini(&t);
}

/* ------------------------------------------------------------ top-k */

/* Orders checked against GNU libstdc++'s push_heap / pop_heap /
 * sort_heap with fastText's comparison (scores only). */
Test(topk, ties_come_out_in_libstdcxx_heap_order)
{
    static const struct {
        int n, k;
        float s[10];
        int want[10];
    } cases[] = {
        {2, 2, {0, 0}, {1, 0}},
        {7, 3, {1, 1, 1, 1, 1, 1, 1}, {6, 1, 5}},
        {7, 7, {1, 1, 1, 1, 1, 1, 1}, {3, 1, 4, 6, 5, 2, 0}},
        {8, 5, {0, 2, 2, 1, 2, 0, 1, 2}, {1, 4, 7, 2, 3}},
        {10, 16, {3, 1, 3, 1, 3, 1, 3, 1, 3, 1},
         {0, 8, 4, 2, 6, 7, 9, 3, 5, 1}},
    };

    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct kl_topk h;
        kl_topk_init(&h, cases[c].k);
        for (int i = 0; i < cases[c].n; i++)
            if (!kl_topk_skip(&h, cases[c].s[i]))
                kl_topk_push(&h, cases[c].s[i], i);
        kl_topk_sort(&h);
        cr_expect_eq(h.n, cases[c].n < cases[c].k ? cases[c].n : cases[c].k);
        for (int i = 0; i < h.n; i++)
            cr_expect_eq(h.id[i], cases[c].want[i], "case %zu #%d", c, i);
    }
    cr_expect_float_eq(kl_topk_log(0.0f), logf(1e-5f), 1e-6);
}

/* ------------------------------------------------------- prune index */

Test(prune, lookup_and_errors)
{
    struct kl_dict d;
    const int32_t good[] = {7, 1, 3, 0, 9, 2};
    const int32_t dup[] = {7, 1, 7, 0};
    const int32_t row[] = {7, 2};
    char err[256];

    memset(&d, 0, sizeof d);
    d.bucket = 10;
    cr_assert_eq(kl_dict_set_prune(&d, good, 3, err, sizeof err), KL_OK);
    cr_expect(d.pruned);
    cr_expect_eq(kl_dict_prune_find(&d, 7), 1);
    cr_expect_eq(kl_dict_prune_find(&d, 3), 0);
    cr_expect_eq(kl_dict_prune_find(&d, 9), 2);
    cr_expect_eq(kl_dict_prune_find(&d, 4), -1);
    kl_dict_fini(&d);
    d.bucket = 10;
    cr_expect_eq(kl_dict_set_prune(&d, dup, 2, err, sizeof err), KL_EFORMAT);
    cr_expect(strstr(err, "appears twice"), "%s", err);
    cr_expect(!d.pruned);
    cr_expect_eq(kl_dict_set_prune(&d, row, 1, err, sizeof err), KL_EFORMAT);
    cr_expect(strstr(err, "row in [0, 1)"), "%s", err);
    d.bucket = 5;
    cr_expect_eq(kl_dict_set_prune(&d, good, 3, err, sizeof err), KL_EFORMAT);
    kl_dict_fini(&d);
}
