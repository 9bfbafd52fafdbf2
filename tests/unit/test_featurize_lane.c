/*
 * tests/unit/test_featurize_lane.c: featurization's one-pass lane
 * (engine/featurize.c, unicode tokenizer without segmenter, stop words,
 * stemming, char n-grams or origins) against the two-pass path (tokens
 * first, then ids; taken when origins are asked for, which changes
 * nothing else): the same result code, token count and feature ids, in
 * the same order, on every line of the corpora in KL_DATA_DIR (THUCNews
 * at least; Reuters, SMS and MCC when fetched), on
 * hand-picked strings and on random text drawn from characters of every
 * class the tokenizer tells apart, with and without a token limit.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "klabel/engine.h"
#include "../../engine/model.h"
#include "helpers.h"

static char *data_path, model_path[] = "/tmp/kl_test_lane_XXXXXX";
static struct kl_model *model;

/* A model with one-character CJK words (the dictionary's code point
 * table), Latin and digit words, word bigrams and no char n-grams. */
static void setup(void)
{
    static const char lines[] =
        "sport\t中国 足球 队 win the match 2024\n"
        "tech\t苹果 发布 新 iphone 手机 ai\n"
        "news\t北京 天气 晴 rain ＡＢＣ café\n"
        "sport\tbasketball 篮球 比赛 nba 赛季\n"
        "tech\tgoogle 谷歌 搜索 云 cloud kernel\n"
        "news\t政府 会议 经济 vote 2.5% law か が\n";
    static char data[20 * (sizeof lines - 1)];
    struct kl_train_opts o;
    char err[512] = "";

    for (int r = 0; r < 20; r++)
        memcpy(data + r * (sizeof lines - 1), lines, sizeof lines - 1);
    data_path = kl_test_write_tmp(data, sizeof data);
    kl_test_mkstemp(model_path);
    kl_train_opts_init(&o);
    o.tok.mode = KL_TOK_UNICODE;
    o.dim = 8;
    o.epoch = 1;
    o.bucket = 5000;
    o.word_ngrams = 2;
    cr_assert_eq(kl_train_file(&o, data_path, model_path, err, sizeof err),
                 KL_OK, "%s", err);
    cr_assert_eq(kl_model_open(model_path, &model, err, sizeof err), KL_OK,
                 "%s", err);
    cr_assert_not_null(model->dict.cp3, "no CJK look-up table");
    cr_assert_eq(model->dict.maxn, 0);
}

static void teardown(void)
{
    kl_model_destroy(model);
    unlink(data_path);
    unlink(model_path);
    free(data_path);
}

TestSuite(lane, .init = setup, .fini = teardown);

static struct kl_features one, two;
static size_t lane_hits;

/* 1 when text featurizes alike on both paths (logs the first few that do
 * not). */
static int same(const char *text, size_t len)
{
    static int logged;
    int r1, r2;

    one.want_origin = 0;
    two.want_origin = 1;
    r1 = kl_model_featurize(model, text, len, &one);
    r2 = kl_model_featurize(model, text, len, &two);
    lane_hits += one.tok.n == 0; /* the lane writes no tokens out */
    if (r1 == r2 && one.n == two.n && one.ntokens == two.ntokens &&
        (one.n == 0 || memcmp(one.ids, two.ids, one.n * sizeof *one.ids) == 0))
        return 1;
    if (logged++ < 5)
        cr_log_error("differs (rc %d/%d, ids %zu/%zu, tokens %zu/%zu): %.*s",
                     r1, r2, one.n, two.n, one.ntokens, two.ntokens,
                     (int)(len > 200 ? 200 : len), text);
    return 0;
}

static void init_feats(void)
{
    kl_features_init(&one);
    kl_features_init(&two);
    lane_hits = 0;
}

static void fini_feats(void)
{
    kl_features_fini(&one);
    kl_features_fini(&two);
}

Test(lane, hand_picked_strings)
{
    static const char *const texts[] = {
        "中国足球队 win the match", "", "   ", "ＡＢＣ１２３ abc123",
        "Café CAFÉ cafe\xcc\x81", /* composed and decomposed é */
        "e\xcc\x81 alone \xcc\x81mark", "か\xe3\x82\x99 ガ", /* kana + voicing */
        "a\xef\xb8\x8f b\xef\xb8\x80", /* variation selectors */
        "🎉 emoji 𠀀 ext-B", "tab\tnew\nline\x7f del", "2.5% law 政府",
        "ｶﾀｶﾅ half-width", "１２３，标点。「」！？", "x\xc2\xa0y nbsp",
        "\xe0\x81\x81 overlong", "bad \xff byte", "中",
        "\xe3\x80\xb8\xe4\xb8\xad\xe3\x80\xb8 十中十"}; /* U+3038 folds to 十 */
    size_t bad = 0;

    init_feats();
    /* with a limit of one token too: か + a combining voicing mark is が
     * to utf8proc, so the lane must not stop reading at its limit */
    for (int limit = 0; limit <= 1; limit++) {
        model->dict.tok.max_tokens = (size_t)limit;
        for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
            bad += !same(texts[i], strlen(texts[i]));
    }
    model->dict.tok.max_tokens = 0;
    cr_expect_eq(bad, 0, "%zu strings differ", bad);
    cr_expect_geq(lane_hits, 8, "the lane took %zu strings", lane_hits);
    fini_feats();
}

/* Characters the tokenizer's fast path maps (ASCII letters, digits,
 * space, tab and punctuation; Latin-1 letters and no-break space; general
 * punctuation; CJK punctuation, ideographs, kana and iteration mark, a
 * Hangzhou numeral that folds to another ideograph; fullwidth forms),
 * and characters it leaves to utf8proc, which send the
 * whole text the two-pass way (controls, a letter with a diacritic
 * (decomposed by folding), a sign that folds outside the table, sharp s, a combining mark, variation selectors, a combining kana
 * voicing mark, half-width katakana, hangul, a 4-byte emoji). */
static const char *const fast[] = {
    "a", "Z", "7", " ", ".", "%", "\t", "\xc2\xa0", "\xc3\xa6", "\xc3\x86",
    "\xc3\xb8",
    "\xe2\x80\x94", "\xe3\x80\x82", "\xe4\xb8\xad", "\xe5\x9b\xbd",
    "\xe8\xb6\xb3", "\xe7\x90\x83", "\xe3\x81\x8b", "\xef\xbc\xa1",
    "\xe3\x80\x85", "\xef\xbc\x8c", "-", "'",
    "\xe3\x80\xb8" /* U+3038, a CJK character whose image is U+5341 */};
static const char *const off[] = {
    "\x01", "\x7f", "\xc3\xa9", "\xc2\xb5", "\xc3\x9f", "\xcc\x81", "\xef\xb8\x8f",
    "\xef\xb8\x80", "\xe3\x82\x99", "\xef\xbd\xb6", "\xea\xb0\x80",
    "\xf0\x9f\x8e\x89"};

static uint64_t rng = 0x2545F4914F6CDD1Du;

static uint32_t next(void)
{
    return kl_test_xorshift(&rng);
}

Test(lane, random_text_with_and_without_a_token_limit)
{
    const size_t nf = sizeof fast / sizeof fast[0], no = sizeof off / sizeof off[0];
    char text[512];
    size_t bad = 0;

    init_feats();
    for (int round = 0; round < 40000; round++) {
        size_t len = 0, chars = next() % 40;

        /* one text in four has a character off the fast path somewhere */
        for (size_t c = 0; c < chars; c++) {
            const char *s = round % 4 == 0 && next() % 16 == 0
                                ? off[next() % no]
                                : fast[next() % nf];
            size_t l = strlen(s);

            memcpy(text + len, s, l);
            len += l;
        }
        model->dict.tok.max_tokens = round % 3 == 0 ? 1 + next() % 5 : 0;
        bad += !same(text, len);
    }
    model->dict.tok.max_tokens = 0;
    cr_expect_eq(bad, 0, "%zu of 40000 texts differ", bad);
    cr_expect_geq(lane_hits, 28000, "the lane took %zu texts", lane_hits);
    fini_feats();
}

static void corpus_line(void *ud, const char *file, const char *line,
                        size_t len)
{
    (void)file;
    *(size_t *)ud += !same(line, len);
}

Test(lane, corpora)
{
    const char *data = getenv("KL_DATA_DIR");
    size_t lines, bad = 0;

    init_feats();
    lines = kl_test_corpus_lines(corpus_line, &bad);
    cr_expect_eq(bad, 0, "%zu of %zu lines differ", bad, lines);
    if (data) {
        /* `make data` fetches THUCNews (10,000 lines); the others are
         * there after `make bench-accuracy` and the like */
        cr_expect_geq(lines, 10000, "no corpus in %s", data);
        cr_expect_gt(lane_hits * 2, lines, "the lane took %zu of %zu lines",
                     lane_hits, lines);
    }
    fini_feats();
}
