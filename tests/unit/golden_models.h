/*
 * tests/unit/golden_models.h: what test_golden.c and test_corrupt.c share:
 * a temporary folder per test, the training corpus (THUCNews from
 * $KL_DATA_DIR, or a few built-in lines), small models trained in each
 * tokenizer mode and quantized, file helpers, and the check that two
 * predictions are identical. Static: each test binary includes it once.
 */
#ifndef KL_TESTS_GOLDEN_MODELS_H
#define KL_TESTS_GOLDEN_MODELS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "klabel/engine.h"
#include "../../engine/hs.h"

static char dir[64];
static char shm[64]; /* a tmpfs folder when a test asked for one */

static inline void setup(void)
{
    strcpy(dir, "/tmp/kl_test_golden.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    shm[0] = '\0';
}

static inline void teardown(void)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", dir, shm);
    cr_expect_eq(system(cmd), 0);
}

/* ------------------------------------------------------------ corpora */

/* Used when KL_DATA_DIR is not set: headlines in the style of THUCNews. */
static const char fallback_corpus[] =
    "stocks\t恒生指数收平 A股对H股折价扩大\n"
    "stocks\t沪指放量上涨 券商股领涨两市\n"
    "stocks\t创业板指数下跌 科技股回调\n"
    "sports\t主队加时险胜 晋级半决赛\n"
    "sports\t世界杯预选赛 国足客场战平\n"
    "sports\tNBA常规赛 湖人主场大胜\n"
    "realty\t一线城市房价环比下跌 成交量回升\n"
    "realty\t楼市新政出台 首套房贷利率下调\n"
    "game\t新作网游公测 玩家排队登录\n"
    "game\t电竞联赛开幕 冠军奖金创新高\n"
    "stocks\tstocks rally as bank shares rise\n"
    "sports\tteam wins the final after extra time\n"
    "realty\thome prices fall in major cities\n"
    "game\tnew online game opens public beta\n";

/* The data folder ($KL_DATA_DIR), or NULL when unset. */
static inline const char *data_dir(void)
{
    const char *d = getenv("KL_DATA_DIR");
    return d && d[0] ? d : NULL;
}

/* Whole file into a NUL-terminated buffer; caller frees. */
static inline char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *b;
    long n;

    cr_assert_not_null(fp, "cannot open %s", path);
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    rewind(fp);
    b = malloc((size_t)n + 1);
    cr_assert_not_null(b);
    cr_assert_eq(fread(b, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    b[n] = '\0';
    *len = (size_t)n;
    return b;
}

static inline void spit(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    cr_assert_not_null(fp, "cannot create %s", path);
    cr_assert_eq(fwrite(data, 1, n, fp), n);
    cr_assert_eq(fclose(fp), 0);
}

/* The training lines: the first `lines` of THUCNews when KL_DATA_DIR is
 * set (failing clearly when the file is absent), else fallback_corpus.
 * Caller frees. */
static inline char *corpus(size_t lines, size_t *len)
{
    const char *d = data_dir();
    char path[512], *all, *p;
    size_t n;

    if (d == NULL) {
        *len = sizeof fallback_corpus - 1;
        return strdup(fallback_corpus);
    }
    snprintf(path, sizeof path, "%s/thucnews.tsv", d);
    cr_assert(access(path, R_OK) == 0,
              "KL_DATA_DIR=%s has no thucnews.tsv: run `bash "
              "tests/data/fetch.sh thucnews` (or unset KL_DATA_DIR to use "
              "the built-in lines)", d);
    all = slurp(path, &n);
    for (p = all; lines > 0 && (p = strchr(p, '\n')) != NULL; lines--)
        p++;
    *len = p ? (size_t)(p - all) : n;
    return all;
}

enum variant { V_FASTTEXT, V_UNICODE, V_JIEBA, V_TINY_FASTTEXT, V_TINY_SEG,
               V_BILSTM, V_TEXTCNN };

/* Trains a model of the variant into dir/<name> and returns its path. */
static inline const char *train(int v, const char *name)
{
    static char out[160];
    char in[160], seg[160], stop[160], err[512] = "", jieba[512];
    struct kl_train_opts o;
    size_t len;
    int tiny = v == V_TINY_FASTTEXT || v == V_TINY_SEG;
    char *text = corpus(tiny ? 6 : 2000, &len);
    int rc;

    snprintf(in, sizeof in, "%s/train.tsv", dir);
    snprintf(out, sizeof out, "%s/%s", dir, name);
    spit(in, text, len);
    free(text);
    kl_train_opts_init(&o);
    o.id = "golden";
    o.version = "1";
    o.dim = tiny ? 4 : 16;
    o.bucket = tiny ? 16 : 50000;
    o.epoch = tiny ? 1 : 3;
    o.lr = 0.5f;
    o.word_ngrams = 2;
    o.threads = 1;
    o.tok.mode = v == V_FASTTEXT || v == V_TINY_FASTTEXT ? KL_TOK_FASTTEXT
                                                         : KL_TOK_UNICODE;
    if (v == V_BILSTM || v == V_TEXTCNN) { /* small and quick */
        o.arch = v == V_BILSTM ? KL_ARCH_BILSTM : KL_ARCH_TEXTCNN;
        o.epoch = 1;
        o.nn.max_vocab = 3000;
        o.nn.max_len = 32;
        o.nn.hidden = 8;
        o.nn.layers = 2;
        o.nn.pool = KL_NN_POOL_MAX;
        o.nn.channels = 8;
    }
    if (v == V_JIEBA) {
        cr_assert_not_null(data_dir(), "the jieba variant needs KL_DATA_DIR");
        snprintf(jieba, sizeof jieba, "%s/jieba-dict.txt", data_dir());
        cr_assert(access(jieba, R_OK) == 0,
                  "%s is missing: run `bash tests/data/fetch.sh jieba`",
                  jieba);
        o.segmenter_path = jieba;
    }
    if (v == V_TINY_SEG) { /* small embedded tensors for the corrupt test */
        static const char d[] = "恒生 30 nr\n指数 40 n\n上涨 20 v\n房价 10\n";
        snprintf(seg, sizeof seg, "%s/dict.txt", dir);
        snprintf(stop, sizeof stop, "%s/stop.txt", dir);
        spit(seg, d, sizeof d - 1);
        spit(stop, "the\na\n的\n", strlen("the\na\n的\n"));
        o.segmenter_path = seg;
        o.stopwords_path = stop;
    }
    rc = kl_train_file(&o, in, out, err, sizeof err);
    cr_assert_eq(rc, KL_OK, "training failed: %s (%s)", kl_strerror(rc), err);
    return out;
}

static inline struct kl_model *open_ok(const char *path)
{
    struct kl_model *m = NULL;
    char err[512] = "";
    int rc = kl_model_open(path, &m, err, sizeof err);

    cr_assert_eq(rc, KL_OK, "%s: %s", path, err);
    return m;
}


static inline void expect_same(const struct kl_prediction *a,
                        const struct kl_prediction *b, const char *what,
                        const char *how)
{
    cr_assert_eq(a->k, b->k, "%s: %d labels, %s %d", what, a->k, how, b->k);
    for (int j = 0; j < a->k; j++)
        cr_assert(a->label[j] == b->label[j] &&
                      memcmp(&a->prob[j], &b->prob[j], sizeof(float)) == 0,
                  "%s: label %d %.9g, %s %d %.9g", what, (int)a->label[j],
                  (double)a->prob[j], how, (int)b->label[j],
                  (double)b->prob[j]);
}

/* a and b: predictions of one text made by batches of different sizes.
 * OpenBLAS's sgemm may sum a row in another order depending on where the
 * row falls in the batch (its Haswell/Zen kernels do: a batch's last rows
 * go through narrower micro-kernels), so the plain path and the neural
 * models agree to rounding, not to the bit. Same number of labels, each
 * probability within BATCH_TOL of the other's; labels in the same order,
 * except two whose probabilities are that close anyway (a near-tie the
 * rounding may turn). */
#define BATCH_TOL 1e-6
static inline void expect_close(const struct kl_prediction *a,
                                const struct kl_prediction *b,
                                const char *what, const char *how)
{
    cr_assert_eq(a->k, b->k, "%s: %d labels, %s %d", what, a->k, how, b->k);
    for (int j = 0; j < a->k; j++) {
        int found = a->label[j] == b->label[j];

        cr_assert(fabs((double)a->prob[j] - (double)b->prob[j]) <= BATCH_TOL,
                  "%s: label %d %.9g, %s %d %.9g", what, (int)a->label[j],
                  (double)a->prob[j], how, (int)b->label[j],
                  (double)b->prob[j]);
        for (int i = 0; !found && i < b->k; i++)
            found = b->label[i] == a->label[j] &&
                    fabs((double)b->prob[i] - (double)a->prob[j]) <= BATCH_TOL;
        cr_assert(found, "%s: label %d (%.9g) is not in its place %s", what,
                  (int)a->label[j], (double)a->prob[j], how);
    }
}

/* The unicode model quantized as scheme says (pq: one sub-quantizer of
 * dim floats and an odd number of rows, so the U8 codes take an odd number
 * of bytes: the F32 tensors of the file must stay aligned all the same). */
static inline const char *quantized(int scheme, const char *name)
{
    static char out[160];
    struct kl_model *m = open_ok(train(V_UNICODE, "dense.safetensors"));
    struct kl_quant_opts q;
    char err[512] = "";
    int rc;

    kl_quant_opts_init(&q);
    q.scheme = scheme;
    if (scheme == KL_QUANT_PQ) {
        q.dsub = kl_model_info(m)->dim;
        q.cutoff = kl_model_info(m)->nwords % 2 ? 1000 : 1001;
    }
    snprintf(out, sizeof out, "%s/%s", dir, name);
    rc = kl_model_quantize(m, &q, out, err, sizeof err);
    cr_assert_eq(rc, KL_OK, "quantize: %s", err);
    kl_model_destroy(m);
    return out;
}

#endif
