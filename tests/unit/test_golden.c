/*
 * tests/unit/test_golden.c: robustness of the engine on the inputs that
 * break text classifiers (the "golden inputs").
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
 *   at most 1 + 1e-5, identical across two runs, and the same to 1e-6
 *   between batch and single prediction (expect_close: OpenBLAS's sum
 *   order may depend on a row's place in the batch).
 * - golden_tokens: what the two tokenizer modes make of the special spaces,
 *   emoji and NUL bytes (pinned, so a change is noticed).
 * Damaged model files: test_corrupt.c (shared fixture: golden_models.h).
 */
#include "golden_models.h"

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
        expect_close(&one[i], &batch[i], g[i].name, "in the batch");
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
