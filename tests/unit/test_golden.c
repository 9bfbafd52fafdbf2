/*
 * tests/unit/test_golden.c: robustness of the engine on the inputs that
 * break text classifiers (the "golden inputs") and on damaged model files.
 *
 * - golden: a model is trained in each test (THUCNews from $KL_DATA_DIR,
 *   required when that is set; else the few real-ish lines below), in both
 *   tokenizer modes, with the jieba segmenter, quantized (int8, pq) and as
 *   the neural architectures (bilstm, textcnn); every
 *   golden input ("\n", "\r\n", NBSP, U+2009, U+3000, emoji with ZWJ and
 *   variation selectors, invalid UTF-8 of several kinds, NUL bytes, empty
 *   text, 1 MB of real words, 1 MB of one CJK character, mixed scripts, a
 *   text past KL_TEXT_MAX) gives a clear error code (KL_EUTF8, KL_EEMPTY,
 *   KL_ERANGE) or a prediction whose probabilities are in [0, 1] and sum to
 *   at most 1 + 1e-5, identical across two runs and between batch and
 *   single prediction.
 * - golden_tokens: what the two tokenizer modes make of the special spaces,
 *   emoji and NUL bytes (pinned, so a change is noticed).
 * - corrupt: table-driven damage to each byte region of valid model files
 *   (safetensors header length, JSON header, tensor data; a fastText .bin):
 *   every byte flipped or overwritten, every truncation. Opening either
 *   fails with a reason or gives a model that predicts safely. A damaged
 *   .ftz that opens also imports into a file that opens, and any label
 *   counts give a sound hierarchical-softmax tree (two fuzz findings).
 */
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

static void setup(void)
{
    strcpy(dir, "/tmp/kl_test_golden.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    shm[0] = '\0';
}

static void teardown(void)
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
static const char *data_dir(void)
{
    const char *d = getenv("KL_DATA_DIR");
    return d && d[0] ? d : NULL;
}

/* Whole file into a NUL-terminated buffer; caller frees. */
static char *slurp(const char *path, size_t *len)
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

static void spit(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    cr_assert_not_null(fp, "cannot create %s", path);
    cr_assert_eq(fwrite(data, 1, n, fp), n);
    cr_assert_eq(fclose(fp), 0);
}

/* The training lines: the first `lines` of THUCNews when KL_DATA_DIR is
 * set (failing clearly when the file is absent), else fallback_corpus.
 * Caller frees. */
static char *corpus(size_t lines, size_t *len)
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
static const char *train(int v, const char *name)
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

static struct kl_model *open_ok(const char *path)
{
    struct kl_model *m = NULL;
    char err[512] = "";
    int rc = kl_model_open(path, &m, err, sizeof err);

    cr_assert_eq(rc, KL_OK, "%s: %s", path, err);
    return m;
}

/* ------------------------------------------------------ golden inputs */

enum want { W_ANY, W_PRED, W_EUTF8, W_ERANGE };

/* W_PRED texts have at least two words in every tokenizer mode, so word
 * bigrams give features even when the words are not in the vocabulary. */
struct golden {
    const char *name;
    const char *s;
    size_t n;
    int want; /* W_ANY: a prediction or KL_EEMPTY */
};

#define G(name, lit, want) {name, lit, sizeof lit - 1, want}
static const struct golden fixed[] = {
    G("LF", "\n", W_ANY),
    G("CRLF", "\r\n", W_ANY),
    G("text CRLF", "沪指上涨\r\n", W_PRED),
    G("NBSP", "房价\xc2\xa0下跌", W_PRED),
    G("U+2009 thin space", "股市\xe2\x80\x89上涨", W_PRED),
    G("U+3000 ideographic space", "\xe3\x80\x80房价\xe3\x80\x80下跌\xe3\x80\x80",
      W_PRED),
    G("only U+3000", "\xe3\x80\x80\xe3\x80\x80", W_ANY),
    G("emoji ZWJ family",
      "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7",
      W_ANY),
    G("emoji ZWJ in text",
      "球队\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb夺冠", W_PRED),
    G("variation selectors",
      "\xe2\x9d\xa4\xef\xb8\x8f 股票 上涨 \xe2\x98\xba\xef\xb8\x8e", W_PRED),
    G("flag and skin tone", "\xf0\x9f\x87\xa8\xf0\x9f\x87\xb3\xf0\x9f\x91\x8d"
      "\xf0\x9f\x8f\xbd 比赛 结束", W_PRED),
    G("invalid: lone continuation", "股票 \x80 上涨", W_EUTF8),
    G("invalid: overlong", "股票 \xc0\xaf", W_EUTF8),
    G("invalid: overlong 3-byte", "\xe0\x80\xaf 房价", W_EUTF8),
    G("invalid: surrogate", "\xed\xa0\x80\xed\xb0\x80", W_EUTF8),
    G("invalid: past U+10FFFF", "\xf4\x90\x80\x80", W_EUTF8),
    G("invalid: truncated at end", "股票\xe4\xb8", W_EUTF8),
    G("invalid: 0xFF 0xFE", "\xff\xfe" "a", W_EUTF8),
    G("invalid: 5-byte form", "\xf8\x88\x80\x80\x80", W_EUTF8),
    G("NUL bytes", "股票\0上涨\0", W_PRED),
    G("only NUL", "\0\0\0", W_ANY),
    G("empty", "", W_ANY),
    G("mixed scripts", "Apple 苹果 りんご 사과 яблоко تفاحة ＡＢＣ１２３ ﬁne "
      "Straße İstanbul 股市", W_PRED),
    G("combining marks", "e\xcc\x81t\xc3\xa9 \xcc\x81\xcc\x81 房价", W_PRED),
    G("fastText label token", "__label__stocks 股票", W_ANY),
};
#undef G

/* The big golden inputs, built at run time. Caller frees each s. */
static size_t big_inputs(struct golden *g)
{
    const size_t mb = (size_t)1 << 20;
    size_t len, n = 0, pos = 0;
    char *c = corpus(10000, &len), *w = malloc(mb + 1), *cjk, *huge;

    cr_assert_not_null(w);
    /* 1 MB of real words: the text column of the corpus, again and again,
     * cut at a character boundary */
    while (pos < mb) {
        for (char *p = c; *p && pos < mb;) {
            char *tab = strchr(p, '\t'), *nl;
            size_t k;
            cr_assert_not_null(tab, "corpus line without a tab");
            nl = strchr(tab, '\n');
            k = nl ? (size_t)(nl - tab - 1) : strlen(tab + 1);
            if (k + 1 > mb - pos) { /* the last piece, at a boundary */
                k = mb - pos - 1;
                while (k > 0 && ((unsigned char)tab[1 + k] & 0xC0) == 0x80)
                    k--;
            }
            memcpy(w + pos, tab + 1, k);
            pos += k;
            w[pos++] = ' ';
            p = nl ? nl + 1 : tab + 1 + k;
        }
    }
    free(c);
    g[n++] = (struct golden){"1 MB of real words", w, pos, W_PRED};
    cjk = malloc(mb);
    cr_assert_not_null(cjk);
    for (size_t i = 0; i + 3 <= mb; i += 3)
        memcpy(cjk + i, "股", 3);
    g[n++] = (struct golden){"1 MB of one CJK character", cjk, mb / 3 * 3,
                             W_ANY};
    huge = malloc(KL_TEXT_MAX + 1);
    cr_assert_not_null(huge);
    memset(huge, 'a', KL_TEXT_MAX + 1);
    g[n++] = (struct golden){"KL_TEXT_MAX + 1 bytes", huge, KL_TEXT_MAX + 1,
                             W_ERANGE};
    return n;
}

/* A prediction's invariants: labels in range, probabilities in [0, 1],
 * best first, softmax summing to at most 1 + 1e-5 (about 1 when every
 * label is returned). */
static void check_pred(const struct kl_model *m, const struct kl_prediction *p,
                       const char *what)
{
    const struct kl_model_info *i = kl_model_info(m);
    int k = i->nlabels < KL_TOPK_MAX ? i->nlabels : KL_TOPK_MAX;
    double sum = 0.0;

    cr_assert(p->k >= 1 && p->k <= k, "%s: %d labels", what, p->k);
    for (int j = 0; j < p->k; j++) {
        cr_assert(p->label[j] >= 0 && p->label[j] < i->nlabels,
                  "%s: label %d", what, (int)p->label[j]);
        cr_assert(isfinite(p->prob[j]) && p->prob[j] >= 0.0f &&
                      p->prob[j] <= 1.0f,
                  "%s: probability %g", what, (double)p->prob[j]);
        sum += p->prob[j];
    }
    if (i->loss == KL_LOSS_SOFTMAX) {
        cr_assert(sum <= 1.0 + 1e-5, "%s: probabilities sum to %.9g", what,
                  sum);
        if (p->k == i->nlabels)
            cr_assert(sum >= 1.0 - 1e-4, "%s: all labels sum to %.9g", what,
                      sum);
    }
}

static void expect_same(const struct kl_prediction *a,
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

/* Runs every golden input through m (see the file comment). */
static void run_golden(const struct kl_model *m)
{
    struct golden g[sizeof fixed / sizeof fixed[0] + 3];
    size_t ng = sizeof fixed / sizeof fixed[0], nbig;
    struct kl_features *f, reused;
    const struct kl_features **fp;
    struct kl_prediction *one, *batch;
    struct kl_scratch s;
    int *rc;

    memcpy(g, fixed, sizeof fixed);
    nbig = big_inputs(g + ng);
    ng += nbig;
    f = calloc(ng, sizeof *f);
    fp = calloc(ng, sizeof *fp);
    one = calloc(ng, sizeof *one);
    batch = calloc(ng, sizeof *batch);
    rc = calloc(ng, sizeof *rc);
    cr_assert(f && fp && one && batch && rc);
    kl_scratch_init(&s);
    kl_features_init(&reused);
    for (size_t i = 0; i < ng; i++) {
        struct kl_prediction again;
        const struct kl_features *r = &reused;
        int rc2;

        kl_features_init(&f[i]);
        rc[i] = kl_model_featurize(m, g[i].s, g[i].n, &f[i]);
        switch (g[i].want) {
        case W_EUTF8:
            cr_assert_eq(rc[i], KL_EUTF8, "%s: %s", g[i].name,
                         kl_strerror(rc[i]));
            break;
        case W_ERANGE:
            cr_assert_eq(rc[i], KL_ERANGE, "%s: %s", g[i].name,
                         kl_strerror(rc[i]));
            break;
        case W_PRED:
            cr_assert_eq(rc[i], KL_OK, "%s: %s", g[i].name,
                         kl_strerror(rc[i]));
            break;
        default:
            cr_assert(rc[i] == KL_OK || rc[i] == KL_EEMPTY, "%s: %s",
                      g[i].name, kl_strerror(rc[i]));
        }
        /* the same text again, into features that held another text */
        rc2 = kl_model_featurize(m, g[i].s, g[i].n, &reused);
        cr_assert_eq(rc2, rc[i], "%s: %d, then %d", g[i].name, rc[i], rc2);
        if (rc[i] != KL_OK)
            continue;
        cr_assert(reused.n == f[i].n &&
                      memcmp(reused.ids, f[i].ids, f[i].n * sizeof *f[i].ids) ==
                          0,
                  "%s: features differ on the second run", g[i].name);
        fp[i] = &f[i];
        cr_assert_eq(kl_model_predict_batch(m, &fp[i], 1, KL_TOPK_MAX, 0.0f,
                                            &s, &one[i]), KL_OK);
        check_pred(m, &one[i], g[i].name);
        cr_assert_eq(kl_model_predict_batch(m, &r, 1, KL_TOPK_MAX, 0.0f, &s,
                                            &again), KL_OK);
        expect_same(&one[i], &again, g[i].name, "second run");
    }
    /* everything in one batch (texts without features give k == 0) */
    for (size_t i = 0; i < ng; i++)
        if (fp[i] == NULL) {
            f[i].n = 0;
            fp[i] = &f[i];
        }
    cr_assert_eq(kl_model_predict_batch(m, fp, ng, KL_TOPK_MAX, 0.0f, &s,
                                        batch), KL_OK);
    for (size_t i = 0; i < ng; i++) {
        if (rc[i] != KL_OK) {
            cr_assert_eq(batch[i].k, 0, "%s: no features, %d labels",
                         g[i].name, batch[i].k);
            continue;
        }
        expect_same(&one[i], &batch[i], g[i].name, "in the batch");
    }
    for (size_t i = 0; i < ng; i++)
        kl_features_fini(&f[i]);
    for (size_t i = 0; i < nbig; i++)
        free((void *)g[sizeof fixed / sizeof fixed[0] + i].s);
    kl_features_fini(&reused);
    kl_scratch_fini(&s);
    free(f);
    free(fp);
    free(one);
    free(batch);
    free(rc);
}

/* The unicode model quantized as scheme says (pq: one sub-quantizer of
 * dim floats and an odd number of rows, so the U8 codes take an odd number
 * of bytes: the F32 tensors of the file must stay aligned all the same). */
static const char *quantized(int scheme, const char *name)
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

/* The model of variant v (KL_QUANT_* + 100 for a quantized one). */
static const char *model_for(int v, const char *name)
{
    return v >= 100 ? quantized(v - 100, name) : train(v, name);
}

static void golden_variant(int v)
{
    struct kl_model *m = open_ok(model_for(v, "golden.safetensors"));
    struct kl_model *m2;

    run_golden(m);
    /* made again from the same data and seed, the model predicts the same */
    m2 = open_ok(model_for(v, "golden2.safetensors"));
    {
        struct kl_features fa, fb;
        struct kl_scratch s;
        struct kl_prediction pa, pb;
        const struct kl_features *a = &fa, *b = &fb;
        const char t[] = "沪指放量上涨 stocks rally";

        kl_features_init(&fa);
        kl_features_init(&fb);
        kl_scratch_init(&s);
        cr_assert_eq(kl_model_featurize(m, t, sizeof t - 1, &fa), KL_OK);
        cr_assert_eq(kl_model_featurize(m2, t, sizeof t - 1, &fb), KL_OK);
        cr_assert_eq(kl_model_predict_batch(m, &a, 1, 3, 0.0f, &s, &pa), KL_OK);
        cr_assert_eq(kl_model_predict_batch(m2, &b, 1, 3, 0.0f, &s, &pb),
                     KL_OK);
        expect_same(&pa, &pb, t, "retrained (same seed)");
        kl_features_fini(&fa);
        kl_features_fini(&fb);
        kl_scratch_fini(&s);
    }
    kl_model_destroy(m2);
    kl_model_destroy(m);
}

Test(golden, fasttext_tokenizer, .init = setup, .fini = teardown,
     .timeout = 120)
{
    golden_variant(V_FASTTEXT);
}

Test(golden, unicode_tokenizer, .init = setup, .fini = teardown,
     .timeout = 120)
{
    golden_variant(V_UNICODE);
}

Test(golden, unicode_with_jieba, .init = setup, .fini = teardown,
     .timeout = 120)
{
    if (data_dir() == NULL)
        cr_skip_test("KL_DATA_DIR not set: no jieba dictionary");
    golden_variant(V_JIEBA);
}

Test(golden, int8_quantized, .init = setup, .fini = teardown,
     .timeout = 120)
{
    golden_variant(100 + KL_QUANT_INT8);
}

/* Also the reproduction of a writer bug: kl_model_quantize() put the U8
 * codes before the F32 centroids, so an odd number of code bytes left the
 * centroids unaligned and the file it wrote did not open. */
Test(golden, pq_quantized_odd_code_bytes, .init = setup, .fini = teardown,
     .timeout = 120)
{
    golden_variant(100 + KL_QUANT_PQ);
}

Test(golden, bilstm, .init = setup, .fini = teardown, .timeout = 120)
{
    golden_variant(V_BILSTM);
}

Test(golden, textcnn, .init = setup, .fini = teardown, .timeout = 120)
{
    golden_variant(V_TEXTCNN);
}

/* ------------------------------------------------------ golden tokens */

/* Tokens of text in mode, joined by '|'. */
static const char *tokens(int mode, const char *text, size_t len, int *rc)
{
    static char out[512];
    struct kl_tok_opts o;
    struct kl_tokens t;
    size_t pos = 0;

    memset(&o, 0, sizeof o);
    o.mode = mode;
    kl_tokens_init(&t);
    *rc = kl_tokenize(&o, text, len, &t);
    out[0] = '\0';
    for (size_t i = 0; *rc == KL_OK && i < t.n; i++)
        pos += (size_t)snprintf(out + pos, sizeof out - pos, "%s%.*s",
                                i ? "|" : "", (int)t.len[i],
                                t.buf + t.off[i]);
    kl_tokens_fini(&t);
    return out;
}

Test(golden_tokens, spaces_emoji_and_nul)
{
    static const struct {
        const char *text;
        size_t len;
        const char *fasttext, *unicode;
    } c[] = {
#define T(lit, ft, uni) {lit, sizeof lit - 1, ft, uni}
        T("\n", "</s>", ""),
        T("\r\n", "</s>", ""),
        T("", "</s>", ""),
        T("a\xc2\xa0" "b", "a\xc2\xa0" "b|</s>", "a|b"),
        T("a\xe2\x80\x89" "b", "a\xe2\x80\x89" "b|</s>", "a|b"),
        T("\xe3\x80\x80中文", "\xe3\x80\x80中文|</s>", "中|文"),
        T("I \xe2\x9d\xa4\xef\xb8\x8f 北京", "I|\xe2\x9d\xa4\xef\xb8\x8f|北京|</s>",
          "i|北|京"),
        T("\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9 ok",
          "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9|ok|</s>", "ok"),
        T("foo\0bar", "foo|bar|</s>", "foo|bar"),
        T("ＡＢＣ１２３ ﬁne Straße", "ＡＢＣ１２３|ﬁne|Straße|</s>",
          "abc123|fine|strasse"),
#undef T
    };

    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        int rc;
        const char *got = tokens(KL_TOK_FASTTEXT, c[i].text, c[i].len, &rc);
        cr_expect_eq(rc, KL_OK);
        cr_expect_str_eq(got, c[i].fasttext, "fasttext mode, case %zu", i);
        got = tokens(KL_TOK_UNICODE, c[i].text, c[i].len, &rc);
        cr_expect_eq(rc, KL_OK);
        cr_expect_str_eq(got, c[i].unicode, "unicode mode, case %zu", i);
    }
}

Test(golden_tokens, invalid_utf8_is_an_error_in_unicode_mode_only)
{
    static const char *const bad[] = {"\x80", "\xc0\xaf", "\xed\xa0\x80",
                                      "\xf4\x90\x80\x80", "ab\xe4\xb8",
                                      "\xff"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc;
        tokens(KL_TOK_UNICODE, bad[i], strlen(bad[i]), &rc);
        cr_expect_eq(rc, KL_EUTF8, "case %zu: %s", i, kl_strerror(rc));
        tokens(KL_TOK_FASTTEXT, bad[i], strlen(bad[i]), &rc);
        cr_expect_eq(rc, KL_OK, "case %zu: fastText mode keeps bytes", i);
    }
}

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
