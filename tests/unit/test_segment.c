/*
 * tests/unit/test_segment.c: the jieba-compatible segmenter
 * (engine/segment.c): dictionary loading and its errors, segmentations
 * checked against jieba 0.42.1's lcut(text, HMM=False) output (pasted as
 * constants; computed with the reference venv), the tokenizer with a
 * segmenter, and a model that embeds its dictionary.
 *
 * The jieba dictionary comes from `tests/data/fetch.sh jieba`
 * ($KL_DATA_DIR/jieba-dict.txt; `make unit` fetches it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "klabel/engine.h"
#include "helpers.h"

static const char *data_dir(void)
{
    const char *d = getenv("KL_DATA_DIR");
    return d && *d ? d : ".cache/data";
}

/* The full jieba dictionary, loaded once per test that needs it. */
static struct kl_segmenter *jieba_dict(void)
{
    char path[1024], err[512] = "";
    struct kl_segmenter *sg = NULL;

    snprintf(path, sizeof path, "%s/jieba-dict.txt", data_dir());
    cr_assert_eq(kl_segmenter_load(path, &sg, err, sizeof err), KL_OK,
                 "%s (run tests/data/fetch.sh jieba)", err);
    return sg;
}

#define EXPECT_SEG(sg, tok, text, ...)                                      \
    do {                                                                   \
        static const char *const want_[] = {__VA_ARGS__};                  \
        cr_assert_eq(kl_segment((sg), S(text), (tok)), KL_OK);             \
        kl_test_expect_tokens((tok), want_, sizeof want_ / sizeof want_[0], \
                              text);                                     \
    } while (0)

/* ------------------------------------------------- a small dictionary */

static const char small_dict[] = "中国 10 ns\n国人 10\n中 1\n国 1\n人 1\n"
                                 "中华人民 5\r\nabc 3 eng\n\n";

static struct kl_segmenter *small(void)
{
    struct kl_segmenter *sg = NULL;
    char err[256] = "";

    cr_assert_eq(kl_segmenter_create(S(small_dict), &sg, err, sizeof err),
                 KL_OK, "%s", err);
    return sg;
}

Test(segment, small_dict_stats)
{
    struct kl_segmenter *sg = small();
    int64_t words = 0, total = 0;
    size_t len = 0;
    const char *data = NULL;

    kl_segmenter_stats(sg, &data, &len, &words, &total);
    cr_expect_eq(words, 7);
    cr_expect_eq(total, 31);
    cr_expect_eq(data, small_dict); /* borrowed, not copied */
    cr_expect_eq(len, sizeof small_dict - 1);
    kl_segmenter_destroy(sg);
}

/* Outputs of jieba.Tokenizer(small_dict).lcut(text, HMM=False). */
Test(segment, small_dict_matches_jieba)
{
    struct kl_segmenter *sg = small();
    struct kl_tokens tok;

    kl_tokens_init(&tok);
    /* equal probabilities: the tie goes to the longer first word */
    EXPECT_SEG(sg, &tok, "中国人", "中国", "人");
    /* a prefix of a word (freq 0) is no word */
    EXPECT_SEG(sg, &tok, "中华", "中", "华");
    EXPECT_SEG(sg, &tok, "中华人民", "中华人民");
    EXPECT_SEG(sg, &tok, "x中华人民y", "x", "中华人民", "y");
    /* one-character ASCII words are glued; dictionary words are not */
    EXPECT_SEG(sg, &tok, "abc中国123", "abc", "中国", "123");
    EXPECT_SEG(sg, &tok, "abcabc", "abc", "abc");
    EXPECT_SEG(sg, &tok, "ab中国", "ab", "中国");
    EXPECT_SEG(sg, &tok, "中国 人\r\n中\t国", "中国", " ", "人", "\r\n", "中",
               "\t", "国");
    EXPECT_SEG(sg, &tok, "中国，人！", "中国", "，", "人", "！");
    kl_tokens_fini(&tok);
    kl_segmenter_destroy(sg);
}

/* Prefixes (frequency 0) are no DAG edges, however long they are. */
Test(segment, prefixes_are_not_words)
{
    static const char d[] = "中华人民 5\n华人 5\n";
    struct kl_segmenter *sg = NULL;
    struct kl_tokens tok;

    kl_tokens_init(&tok);
    cr_assert_eq(kl_segmenter_create(S(d), &sg, NULL, 0), KL_OK);
    EXPECT_SEG(sg, &tok, "中华人", "中", "华人");
    EXPECT_SEG(sg, &tok, "中华人民x", "中华人民", "x");
    kl_tokens_fini(&tok);
    kl_segmenter_destroy(sg);
}

Test(segment, later_line_of_a_word_wins)
{
    static const char d[] = "ab 1\nb 1\na 1\nab 0\nxy 5\n";
    struct kl_segmenter *sg = NULL;
    struct kl_tokens tok;

    kl_tokens_init(&tok);
    cr_assert_eq(kl_segmenter_create(S(d), &sg, NULL, 0), KL_OK);
    /* "ab" was set to 0 by its second line: a prefix, no word any more,
     * so "a" and "b" stay one-character words, glued as ASCII */
    EXPECT_SEG(sg, &tok, "ab+", "ab", "+");
    EXPECT_SEG(sg, &tok, "xy", "xy");
    kl_tokens_fini(&tok);
    kl_segmenter_destroy(sg);
}

Test(segment, empty_and_invalid_text)
{
    struct kl_segmenter *sg = small();
    struct kl_tokens tok;

    kl_tokens_init(&tok);
    cr_expect_eq(kl_segment(sg, "", 0, &tok), KL_OK);
    cr_expect_eq(tok.n, 0);
    cr_expect_eq(kl_segment(sg, S("中国\xff"), &tok), KL_EUTF8);
    cr_expect_eq(kl_segment(sg, S("\xe4\xb8"), &tok), KL_EUTF8); /* cut 中 */
    cr_expect_eq(kl_segment(sg, S("\xED\xA0\x80"), &tok), KL_EUTF8);
    cr_expect_eq(tok.n, 0);
    cr_expect_eq(kl_segment(NULL, S("x"), &tok), KL_EINVAL);
    kl_tokens_fini(&tok);
    kl_segmenter_destroy(sg);
}

Test(segment, very_long_run)
{
    struct kl_segmenter *sg = small();
    struct kl_tokens tok;
    size_t reps = 100000, len = reps * 9 + 3; /* "中国人" x reps + "abc" */
    char *text = malloc(len);

    cr_assert(text != NULL);
    for (size_t i = 0; i < reps; i++)
        memcpy(text + 9 * i, "中国人", 9);
    memcpy(text + 9 * reps, "abc", 3);
    kl_tokens_init(&tok);
    cr_assert_eq(kl_segment(sg, text, len, &tok), KL_OK);
    cr_assert_eq(tok.n, 2 * reps + 1);
    for (size_t i = 0; i < reps; i += 997) {
        cr_expect(tok.len[2 * i] == 6 &&
                  !memcmp(tok.buf + tok.off[2 * i], "中国", 6));
        cr_expect(tok.len[2 * i + 1] == 3 &&
                  !memcmp(tok.buf + tok.off[2 * i + 1], "人", 3));
    }
    cr_expect(tok.len[2 * reps] == 3 &&
              !memcmp(tok.buf + tok.off[2 * reps], "abc", 3));
    kl_tokens_fini(&tok);
    free(text);
    kl_segmenter_destroy(sg);
}

/* ------------------------------------------------ loading errors */

static void expect_load_error(const char *text, int rc, const char *needle)
{
    char *path = kl_test_write_tmp(text, strlen(text));
    struct kl_segmenter *sg = (struct kl_segmenter *)1;
    char err[512] = "";

    cr_expect_eq(kl_segmenter_load(path, &sg, err, sizeof err), rc,
                 "%s: %s", text, err);
    cr_expect_null(sg);
    cr_expect(strstr(err, needle) != NULL, "'%s' lacks '%s'", err, needle);
    cr_expect(strstr(err, path) != NULL, "'%s' does not name the file", err);
    unlink(path);
    free(path);
}

Test(segment_load, errors_name_the_line)
{
    expect_load_error("中国 10\n国人\n", KL_EFORMAT, "line 2");
    expect_load_error("中国 10\n国人\t3\n", KL_EFORMAT, "line 2");
    expect_load_error("中国 10\n\n国人 x3\n", KL_EFORMAT, "line 3");
    expect_load_error("中国 -1\n", KL_EFORMAT, "line 1");
    expect_load_error("中国  10\n", KL_EFORMAT, "line 1"); /* empty freq */
    expect_load_error("中国 99999999999\n", KL_EFORMAT, "line 1");
    expect_load_error("a 1\n\xff\xfe 2\n", KL_EFORMAT, "line 2");
    expect_load_error("a 0\nb 0\n", KL_EFORMAT, "frequency above 0");
    expect_load_error("", KL_EFORMAT, "frequency above 0");
}

Test(segment_load, long_line)
{
    char *text = malloc(5000);

    memset(text, 'a', 4998);
    memcpy(text + 4990, " 1\nb 1\n", 8);
    expect_load_error(text, KL_ERANGE, "line 1");
    memcpy(text + 4000, " 1\n", 4); /* 4002 bytes: loads */
    {
        struct kl_segmenter *sg = NULL;
        cr_expect_eq(kl_segmenter_create(text, 4003, &sg, NULL, 0), KL_OK);
        kl_segmenter_destroy(sg);
    }
    free(text);
}

Test(segment_load, missing_file)
{
    struct kl_segmenter *sg = NULL;
    char err[256] = "";

    cr_expect_eq(kl_segmenter_load("/nonexistent/dict.txt", &sg, err,
                                   sizeof err), KL_EIO);
    cr_expect(strstr(err, "/nonexistent/dict.txt") != NULL, "%s", err);
}

/* ------------------------------------------ the real jieba dictionary */

/* Outputs of jieba.lcut(text, HMM=False) (jieba 0.42.1, its dict.txt). */
Test(segment_jieba, headlines_match_jieba)
{
    struct kl_segmenter *sg = jieba_dict();
    struct kl_tokens tok;
    int64_t words, total;

    kl_segmenter_stats(sg, NULL, NULL, &words, &total);
    cr_expect_eq(words, 349046);
    cr_expect_eq(total, 60101967);
    kl_tokens_init(&tok);
    EXPECT_SEG(sg, &tok, "北京大学生前来应聘", "北京", "大学生", "前来", "应聘");
    EXPECT_SEG(sg, &tok, "皮特爱女客串新片 朱莉复古发型被嘲像后妈(图)", "皮",
               "特", "爱女", "客串", "新片", " ", "朱", "莉", "复古", "发型",
               "被", "嘲", "像", "后妈", "(", "图", ")");
    EXPECT_SEG(sg, &tok, "恒生AH溢指收平 A股对H股折价1.95%", "恒生", "AH", "溢",
               "指", "收", "平", " ", "A股", "对", "H股", "折价", "1", ".",
               "95", "%");
    EXPECT_SEG(sg, &tok, "iPhone6s发布 C++和C#编程 AT&T 3.5%增长",
               "iPhone6s", "发布", " ", "C++", "和", "C#", "编程", " ", "AT&T",
               " ", "3", ".", "5", "%", "增长");
    EXPECT_SEG(sg, &tok, "中文-English_mix.test%", "中文", "-", "English", "_",
               "mix", ".", "test", "%");
    EXPECT_SEG(sg, &tok, "《新闻联播》：2008年北京奥运会开幕！", "《",
               "新闻联播", "》", "：", "2008", "年", "北京", "奥运会", "开幕",
               "！");
    EXPECT_SEG(sg, &tok, "  前后有空格  ", " ", " ", "前后", "有", "空格", " ",
               " ");
    EXPECT_SEG(sg, &tok, "ｉＰｈｏｎｅ全角１２３", "ｉ", "Ｐ", "ｈ", "ｏ", "ｎ",
               "ｅ", "全角", "１", "２", "３");
    EXPECT_SEG(sg, &tok, "日本語のテキストと한국어", "日本", "語", "の", "テ",
               "キ", "ス", "ト", "と", "한", "국", "어");
    EXPECT_SEG(sg, &tok, "他说：“我们明天去上海。”", "他", "说", "：", "“",
               "我们", "明天", "去", "上海", "。", "”");
    kl_tokens_fini(&tok);
    kl_segmenter_destroy(sg);
}

/* ---------------------------------------------- in the unicode tokenizer */

Test(segment_tokenizer, cjk_runs_become_words)
{
    struct kl_segmenter *sg = jieba_dict();
    struct kl_tok_opts o = {.mode = KL_TOK_UNICODE};
    struct kl_tokens tok;

    kl_tokens_init(&tok);
    o.seg = sg;
    cr_assert_eq(kl_tokenize(&o, S("北京大学生前来应聘 iPhone6S，ＡＢＣ！"), &tok),
                 KL_OK);
    {
        static const char *const want[] = {"北京", "大学生", "前来", "应聘",
                                           "iphone6s", "abc"};
        kl_test_expect_tokens(&tok, want, 6, "normalized, segmented");
    }
    /* CJK runs are split by the segmenter, kana and hangul fall back to
     * single characters */
    cr_assert_eq(kl_tokenize(&o, S("日本語のテキスト"), &tok), KL_OK);
    {
        static const char *const want[] = {"日本", "語", "の", "テ", "キ",
                                           "ス", "ト"};
        kl_test_expect_tokens(&tok, want, 7, "japanese");
    }
    /* max_tokens counts segmented words */
    o.max_tokens = 3;
    cr_assert_eq(kl_tokenize(&o, S("北京大学生前来应聘"), &tok), KL_OK);
    {
        static const char *const want[] = {"北京", "大学生", "前来"};
        kl_test_expect_tokens(&tok, want, 3, "max_tokens");
    }
    /* without a segmenter: characters, as before */
    o.seg = NULL;
    o.max_tokens = 0;
    cr_assert_eq(kl_tokenize(&o, S("北京大学"), &tok), KL_OK);
    cr_expect_eq(tok.n, 4);
    kl_tokens_fini(&tok);
    kl_segmenter_destroy(sg);
}

/* A model trained with a segmenter carries its dictionary: it opens and
 * tokenizes by words with no other file. */
Test(segment_model, dictionary_is_embedded)
{
    static const char train[] =
        "a\t中国人很好\nb\t中华人民\na\t中国人\nb\t中华人民 abc\n";
    char *dict = kl_test_write_tmp(S(small_dict));
    char *data = kl_test_write_tmp(S(train));
    char model[] = "/tmp/kl_seg_model_XXXXXX", err[512] = "";
    struct kl_train_opts o;
    struct kl_model *m = NULL;
    const struct kl_model_info *info;
    struct kl_features f;

    kl_test_mkstemp(model);
    kl_train_opts_init(&o);
    o.tok.mode = KL_TOK_UNICODE;
    o.segmenter_path = dict;
    o.bucket = 1000;
    o.dim = 8;
    cr_assert_eq(kl_train_file(&o, data, model, err, sizeof err), KL_OK, "%s",
                 err);
    unlink(dict); /* the model must not need it */
    cr_assert_eq(kl_model_open(model, &m, err, sizeof err), KL_OK, "%s", err);
    info = kl_model_info(m);
    cr_expect_not_null(info->tok.seg);
    cr_expect(strstr(info->metadata_json, "\"segmenter\":{\"type\":\"jieba\","
                                          "\"words\":7,\"total\":31}") != NULL,
              "%s", info->metadata_json);
    /* vocabulary words are the segmenter's words */
    kl_features_init(&f);
    cr_assert_eq(kl_model_featurize(m, S("中国人"), &f), KL_OK);
    cr_expect_eq(f.ntokens, 2);
    cr_expect_eq(f.tok.len[0], 6); /* 中国 */
    kl_features_fini(&f);
    kl_model_destroy(m);

    /* with fasttext tokenization a segmenter is refused */
    o.tok.mode = KL_TOK_FASTTEXT;
    o.segmenter_path = NULL;
    o.tok.seg = NULL;
    snprintf(o.tok.stem, sizeof o.tok.stem, "english");
    cr_expect_eq(kl_train_file(&o, data, model, err, sizeof err), KL_EINVAL);
    cr_expect(strstr(err, "unicode") != NULL, "%s", err);
    unlink(model);
    unlink(data);
    free(dict);
    free(data);
}
