/*
 * tests/unit/test_corrupt.c: damaged model files (fixture:
 * golden_models.h). Table-driven damage to each byte region of valid model
 * files (safetensors header length, JSON header, tensor data; a fastText
 * .bin): every byte flipped or overwritten, every truncation. Opening
 * either fails with a reason or gives a model that predicts safely. A
 * damaged .ftz that opens also imports into a file that opens, and any
 * label counts give a sound hierarchical-softmax tree (two fuzz findings).
 */
#include "golden_models.h"

/* ------------------------------------------------------------ corrupt */

enum op { OP_XOR, OP_SET, OP_CUT };

static const struct mutation {
    const char *name;
    int op;
    unsigned char arg;
} mutations[] = {
    {"flip the low bit", OP_XOR, 0x01},
    {"flip the high bit", OP_XOR, 0x80},
    {"set to 0x00", OP_SET, 0x00},
    {"set to 0xFF", OP_SET, 0xFF},
    {"truncate here", OP_CUT, 0},
};

/* A byte region [begin, end) of a file. */
struct region {
    const char *name;
    size_t begin, end;
};

/* What happened to the mutated copies. */
struct tally {
    size_t opened, failed;
};

/* Short texts for models that open after damage. */
static void predict_safely(const struct kl_model *m, const char *what)
{
    static const char *const texts[] = {"沪指放量上涨", "股票 上涨 stocks",
                                        "房价\xc2\xa0下跌", "\n", "a b c d",
                                        "恒生指数上涨"};
    const struct kl_model_info *i = kl_model_info(m);
    struct kl_features f;
    struct kl_scratch s;
    struct kl_prediction p;
    const struct kl_features *fp = &f;

    cr_assert(i->nlabels >= 1 && i->dim >= 1, "%s: opened with %d labels",
              what, (int)i->nlabels);
    kl_features_init(&f);
    kl_scratch_init(&s);
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
        int rc = kl_model_featurize(m, texts[t], strlen(texts[t]), &f);
        cr_assert(rc == KL_OK || rc == KL_EEMPTY, "%s: featurize %s", what,
                  kl_strerror(rc));
        if (rc != KL_OK)
            continue;
        cr_assert_eq(kl_model_predict_batch(m, &fp, 1, KL_TOPK_MAX, 0.0f, &s,
                                            &p), KL_OK, "%s: predict", what);
        for (int j = 0; j < p.k; j++)
            cr_assert(p.label[j] >= 0 && p.label[j] < i->nlabels &&
                          isfinite(p.prob[j]) && p.prob[j] >= 0.0f &&
                          p.prob[j] <= 1.0f,
                      "%s: label %d probability %g", what, (int)p.label[j],
                      (double)p.prob[j]);
    }
    kl_features_fini(&f);
    kl_scratch_fini(&s);
}

/* Applies every mutation at every offset of region r of good[0..n) to a
 * copy (in a memfd: no disk traffic), opens it and checks the outcome. */
static void damage_region(const unsigned char *good, size_t n,
                          const struct region *r, struct tally *t)
{
    unsigned char *b = malloc(n ? n : 1);
    int fd = memfd_create("kl_test_golden", MFD_CLOEXEC);
    char path[64];

    cr_assert_not_null(b);
    cr_assert(fd >= 0, "memfd_create");
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    for (size_t mi = 0; mi < sizeof mutations / sizeof mutations[0]; mi++)
        for (size_t off = r->begin; off < r->end; off++) {
            const struct mutation *mu = &mutations[mi];
            struct kl_model *m = NULL;
            char err[1024] = "", what[256];
            size_t len = n;
            int rc;

            memcpy(b, good, n);
            if (mu->op == OP_XOR)
                b[off] ^= mu->arg;
            else if (mu->op == OP_SET)
                b[off] = mu->arg;
            else
                len = off;
            if (len == n && memcmp(b, good, n) == 0)
                continue; /* the byte already had that value */
            cr_assert(ftruncate(fd, 0) == 0 &&
                      pwrite(fd, b, len, 0) == (ssize_t)len);
            snprintf(what, sizeof what, "%s: %s at byte %zu", r->name,
                     mu->name, off);
            rc = kl_model_open(path, &m, err, sizeof err);
            if (rc != KL_OK) {
                cr_assert_null(m, "%s: failed open left a model", what);
                cr_assert(rc == KL_EFORMAT || rc == KL_ERANGE ||
                              rc == KL_EIO,
                          "%s: rc %d (%s)", what, rc, kl_strerror(rc));
                cr_assert(err[0] != '\0', "%s: failed without a reason",
                          what);
                t[mi].failed++;
                continue;
            }
            cr_assert_neq(mu->op, OP_CUT, "%s: a truncated file opened",
                          what);
            predict_safely(m, what);
            kl_model_destroy(m);
            t[mi].opened++;
        }
    close(fd);
    free(b);
}

/* The tally of one region, logged; truncations must all have failed. */
static void report(const struct region *r, const struct tally *t)
{
    for (size_t mi = 0; mi < sizeof mutations / sizeof mutations[0]; mi++) {
        cr_log_info("%-12s %-18s opened %5zu, failed %5zu", r->name,
                    mutations[mi].name, t[mi].opened, t[mi].failed);
        if (mutations[mi].op == OP_CUT)
            cr_expect_eq(t[mi].opened, 0);
    }
}

/* Damages every region of a trained safetensors model of variant v. */
static void damage_safetensors(int v)
{
    const char *good_path = train(v, "good.safetensors");
    size_t n;
    unsigned char *good = (unsigned char *)slurp(good_path, &n);
    uint64_t hlen;
    struct region r[3];
    struct tally t[3][sizeof mutations / sizeof mutations[0]];
    size_t data_opened = 0;

    memset(t, 0, sizeof t);
    cr_assert(n > 8);
    memcpy(&hlen, good, 8);
    cr_assert(hlen <= n - 8);
    r[0] = (struct region){"header length", 0, 8};
    r[1] = (struct region){"JSON header", 8, 8 + (size_t)hlen};
    r[2] = (struct region){"tensor data", 8 + (size_t)hlen, n};
    for (int i = 0; i < 3; i++) {
        damage_region(good, n, &r[i], t[i]);
        report(&r[i], t[i]);
    }
    /* damage to the header length never opens; damaged weights mostly do
     * (and then predicted safely above) */
    for (size_t mi = 0; mi < sizeof mutations / sizeof mutations[0]; mi++) {
        cr_expect_eq(t[0][mi].opened, 0, "header length: %s opened",
                     mutations[mi].name);
        data_opened += t[2][mi].opened;
    }
    cr_expect_gt(data_opened, 0);
    free(good);
}

Test(corrupt, safetensors_fasttext_tokenizer, .init = setup,
     .fini = teardown, .timeout = 300)
{
    damage_safetensors(V_TINY_FASTTEXT);
}

Test(corrupt, safetensors_with_segmenter_and_stopwords, .init = setup,
     .fini = teardown, .timeout = 300)
{
    damage_safetensors(V_TINY_SEG);
}

/* Predictions of a and b for a few texts are identical. */
static void expect_same_model(const struct kl_model *a,
                              const struct kl_model *b, const char *what)
{
    static const char *const texts[] = {"foo bar", "中文 新闻", "grain",
                                        "zap zip zap", "unknownword"};
    struct kl_features f;
    struct kl_scratch s;
    struct kl_prediction pa, pb;
    const struct kl_features *fp = &f;

    kl_features_init(&f);
    kl_scratch_init(&s);
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
        if (kl_model_featurize(a, texts[t], strlen(texts[t]), &f) != KL_OK)
            f.n = 0;
        cr_assert_eq(kl_model_predict_batch(a, &fp, 1, KL_TOPK_MAX, 0.0f, &s,
                                            &pa), KL_OK);
        if (kl_model_featurize(b, texts[t], strlen(texts[t]), &f) != KL_OK)
            f.n = 0;
        cr_assert_eq(kl_model_predict_batch(b, &fp, 1, KL_TOPK_MAX, 0.0f, &s,
                                            &pb), KL_OK);
        expect_same(&pa, &pb, what, "after import");
    }
    kl_features_fini(&f);
    kl_scratch_fini(&s);
}

/* Reproduces a fuzz_fasttext finding: a .ftz whose product quantizer held
 * a NaN centroid opened (codes kept as they are), but its `klabel import`
 * (kl_model_save) wrote a file that kl_model_open() refused. Now: a NaN
 * written at any byte of the quantized fixture either makes the .ftz fail
 * to open, or its import opens and predicts exactly as the .ftz does. */
Test(corrupt, damaged_ftz_imports_like_it_opens, .init = setup,
     .fini = teardown, .timeout = 300)
{
    static const unsigned char nan[4] = {0x00, 0x00, 0xc0, 0x7f};
    const char *fix = getenv("KL_FASTTEXT_FIXTURES");
    char src[512], path[160], saved[160];
    const char *d;
    size_t n, opened = 0;
    unsigned char *good, *b;

    strcpy(shm, "/dev/shm/kl_test_golden.XXXXXX");
    d = mkdtemp(shm) ? shm : dir; /* tmpfs: kl_model_save() fsyncs */
    snprintf(src, sizeof src, "%s/pq_codes.ftz",
             fix ? fix : "tests/unit/fixtures/fasttext");
    good = (unsigned char *)slurp(src, &n);
    b = malloc(n);
    cr_assert_not_null(b);
    snprintf(path, sizeof path, "%s/damaged.ftz", d);
    snprintf(saved, sizeof saved, "%s/imported.safetensors", d);
    for (size_t off = 0; off + 4 <= n; off++) {
        struct kl_model *m = NULL, *m2 = NULL;
        char err[1024] = "", what[64];
        int rc;

        memcpy(b, good, n);
        memcpy(b + off, nan, 4);
        spit(path, b, n);
        if (kl_model_open(path, &m, err, sizeof err) != KL_OK)
            continue;
        opened++;
        snprintf(what, sizeof what, "NaN at byte %zu", off);
        rc = kl_model_save(m, saved, NULL, NULL, err, sizeof err);
        if (rc == KL_EINVAL && strstr(err, "not valid UTF-8") != NULL) {
            kl_model_destroy(m); /* words that a klabel file cannot hold */
            continue;
        }
        cr_assert_eq(rc, KL_OK, "%s: import: %s", what, err);
        rc = kl_model_open(saved, &m2, err, sizeof err);
        cr_assert_eq(rc, KL_OK, "%s: the import does not open: %s", what,
                     err);
        expect_same_model(m, m2, what);
        kl_model_destroy(m2);
        kl_model_destroy(m);
    }
    cr_log_info("pq_codes.ftz: %zu of %zu damaged copies opened", opened,
                n - 3);
    cr_expect_gt(opened, 0);
    free(b);
    free(good);
}

/* Reproduces two fuzz findings in hierarchical softmax. A crash
 * (heap-buffer-overflow in kl_hs_build): the Huffman tree is built from
 * label counts read from the file, and a count at or above fastText's "not
 * built yet" sentinel (1e15) walked the node index past the arrays. And a
 * NaN logit (from NaN input rows) put NaN scores into the top-k heap, so a
 * label of probability 0 came before one of probability 1. Any counts now
 * give a well-formed tree, and NaN logits a best-first prediction. */
Test(corrupt, hs_tree_from_any_label_counts)
{
    static const int64_t c1[] = {2000000000000000LL, 1, 1};
    static const int64_t c2[] = {INT64_MAX, INT64_MAX, 5};
    static const int64_t c3[] = {1000000000000000LL, 1000000000000000LL,
                                 1000000000000000LL, 1000000000000000LL};
    static const int64_t c4[] = {-5, 3, 9000000000000000000LL, 0, -7};
    static const int64_t c5[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    static const int64_t c6[] = {42};
    static const struct {
        const int64_t *c;
        int32_t n;
    } cases[] = {{c1, 3}, {c2, 3}, {c3, 4}, {c4, 5}, {c5, 9}, {c6, 1}};

    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        struct kl_hs t;
        int32_t n = cases[ci].n, nodes = 2 * n - 1, parents[32];
        float logits[16] = {0.5f, -1.0f, 2.0f, 0.0f, 1.0f, -3.0f, 0.25f, 4.0f};
        struct kl_hs_frame *stack;
        struct kl_prediction p;

        cr_assert_eq(kl_hs_build(&t, cases[ci].c, n), KL_OK);
        memset(parents, 0, sizeof parents);
        for (int32_t i = 0; i < nodes; i++) {
            int leafish = t.left[i] < 0 && t.right[i] < 0;
            cr_assert_eq(leafish, i < n, "case %zu: node %d", ci, (int)i);
            if (leafish)
                continue;
            cr_assert(t.left[i] >= 0 && t.left[i] < i && t.right[i] >= 0 &&
                          t.right[i] < i,
                      "case %zu: node %d has children %d %d", ci, (int)i,
                      (int)t.left[i], (int)t.right[i]);
            parents[t.left[i]]++;
            parents[t.right[i]]++;
        }
        for (int32_t i = 0; i < nodes; i++)
            cr_assert_eq(parents[i], i == nodes - 1 ? 0 : 1,
                         "case %zu: node %d has %d parents", ci, (int)i,
                         parents[i]);
        stack = malloc(kl_hs_stack_size(&t) * sizeof *stack);
        cr_assert_not_null(stack);
        kl_hs_predict(&t, logits, n < KL_TOPK_MAX ? n : KL_TOPK_MAX, 0.0f,
                      stack, &p);
        cr_assert(p.k >= 1 && p.k <= n, "case %zu: %d labels", ci, p.k);
        for (int j = 0; j < p.k; j++)
            cr_assert(p.label[j] >= 0 && p.label[j] < n &&
                          p.prob[j] >= 0.0f && p.prob[j] <= 1.0f,
                      "case %zu: label %d %g", ci, (int)p.label[j],
                      (double)p.prob[j]);
        /* NaN logits (NaN weights are not scanned at open): labels still
         * come best first, NaN branches with probability 0 */
        logits[0] = NAN;
        logits[n > 2 ? n - 3 : 0] = NAN;
        kl_hs_predict(&t, logits, n < KL_TOPK_MAX ? n : KL_TOPK_MAX, 0.0f,
                      stack, &p);
        for (int j = 0; j < p.k; j++)
            cr_assert(p.label[j] >= 0 && p.label[j] < n &&
                          p.prob[j] >= 0.0f && p.prob[j] <= 1.0f &&
                          (j == 0 || p.prob[j] <= p.prob[j - 1]),
                      "case %zu, NaN logits: label %d %g after %g", ci,
                      (int)p.label[j], (double)p.prob[j],
                      (double)(j ? p.prob[j - 1] : 1.0f));
        free(stack);
        kl_hs_fini(&t);
    }
}

Test(corrupt, fasttext_bin, .init = setup, .fini = teardown, .timeout = 300)
{
    static const char *const files[] = {"tie.bin", "hs.bin"};
    const char *fix = getenv("KL_FASTTEXT_FIXTURES");

    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char src[512];
        size_t n;
        unsigned char *good;
        struct region r;
        struct tally t[sizeof mutations / sizeof mutations[0]];

        snprintf(src, sizeof src, "%s/%s",
                 fix ? fix : "tests/unit/fixtures/fasttext", files[i]);
        good = (unsigned char *)slurp(src, &n);
        memset(t, 0, sizeof t);
        r = (struct region){files[i], 0, n};
        damage_region(good, n, &r, t);
        report(&r, t);
        free(good);
    }
}
