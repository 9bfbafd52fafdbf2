/*
 * tests/unit/test_preprocess.c: stop-word removal and Snowball stemming in
 * the unicode tokenizer (engine/preprocess.c), their place in the model
 * file (engine/tokmodel.c), and pretrained .vec vectors as the starting
 * input rows of training (engine/pretrained.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "klabel/engine.h"
#include "helpers.h"
#include "../../engine/pretrained.h"

#define EXPECT_TOK(o, tok, text, ...)                                       \
    do {                                                                   \
        static const char *const want_[] = {__VA_ARGS__};                  \
        cr_assert_eq(kl_tokenize((o), S(text), (tok)), KL_OK);             \
        kl_test_expect_tokens((tok), want_, sizeof want_ / sizeof want_[0], \
                              text);                                     \
    } while (0)

/* ------------------------------------------------------- stop words */

Test(stopwords, dropped_after_normalization)
{
    static const char list[] = "The\n  of \n\n的\r\nＡＮＤ\nthe\n";
    char *path = kl_test_write_tmp(S(list));
    struct kl_stopwords *sw = NULL;
    struct kl_tok_opts o = {.mode = KL_TOK_UNICODE};
    struct kl_tokens tok;
    char err[256] = "";

    cr_assert_eq(kl_stopwords_load(path, &sw, err, sizeof err), KL_OK, "%s",
                 err);
    cr_expect_eq(kl_stopwords_count(sw), 4); /* the, of, 的, and */
    kl_tokens_init(&tok);
    o.stop = sw;
    EXPECT_TOK(&o, &tok, "The Lord OF the Rings and 我的书", "lord", "rings",
               "我", "书");
    cr_expect_eq(kl_tokenize(&o, S("the of AND"), &tok), KL_OK);
    cr_expect_eq(tok.n, 0);
    kl_tokens_fini(&tok);
    kl_stopwords_destroy(sw);
    unlink(path);
    free(path);
}

static void expect_stop_error(const char *text, size_t len, int rc,
                              const char *needle)
{
    char *path = kl_test_write_tmp(text, len);
    struct kl_stopwords *sw = NULL;
    char err[256] = "";

    cr_expect_eq(kl_stopwords_load(path, &sw, err, sizeof err), rc, "%s", err);
    cr_expect_null(sw);
    cr_expect(strstr(err, needle) != NULL, "'%s' lacks '%s'", err, needle);
    unlink(path);
    free(path);
}

Test(stopwords, errors)
{
    char *longline = malloc(3000);
    struct kl_stopwords *sw = NULL;
    char err[256] = "";

    expect_stop_error(S("a\nb\n\xc3\x28\n"), KL_EUTF8, "line 3");
    expect_stop_error(S("a\nb\0c\n"), KL_EFORMAT, "line 2");
    memset(longline, 'x', 3000);
    expect_stop_error(longline, 3000, KL_ERANGE, "line 1");
    free(longline);
    cr_expect_eq(kl_stopwords_load("/nonexistent/stop.txt", &sw, err,
                                   sizeof err), KL_EIO);
    cr_expect(strstr(err, "/nonexistent/stop.txt") != NULL, "%s", err);
}

/* --------------------------------------------------------- stemming */

Test(stem, english_snowball)
{
    struct kl_tok_opts o = {.mode = KL_TOK_UNICODE};
    struct kl_tokens tok;

    cr_expect(kl_stem_supported("english"));
    cr_expect(kl_stem_supported("porter"));
    cr_expect(!kl_stem_supported("klingon"));
    cr_expect(!kl_stem_supported(""));
    kl_tokens_init(&tok);
    snprintf(o.stem, sizeof o.stem, "english");
    EXPECT_TOK(&o, &tok, "Running ponies were CONNECTED 北京大学 2024",
               "run", "poni", "were", "connect", "北", "京", "大", "学",
               "2024");
    /* the stemmer is kept in tok; a second call reuses it */
    EXPECT_TOK(&o, &tok, "running", "run");
    EXPECT_TOK(&o, &tok, "happy Ø", "happi", "ø"); /* not only a prefix */
    snprintf(o.stem, sizeof o.stem, "porter");
    EXPECT_TOK(&o, &tok, "generalizations", "gener");
    snprintf(o.stem, sizeof o.stem, "klingon");
    cr_expect_eq(kl_tokenize(&o, S("running"), &tok), KL_EINVAL);
    kl_tokens_fini(&tok);
}

Test(stem, stop_words_before_stemming)
{
    static const char list[] = "running\n";
    char *path = kl_test_write_tmp(S(list));
    struct kl_stopwords *sw = NULL;
    struct kl_tok_opts o = {.mode = KL_TOK_UNICODE};
    struct kl_tokens tok;

    cr_assert_eq(kl_stopwords_load(path, &sw, NULL, 0), KL_OK);
    kl_tokens_init(&tok);
    o.stop = sw;
    snprintf(o.stem, sizeof o.stem, "english");
    EXPECT_TOK(&o, &tok, "running runs", "run");
    kl_tokens_fini(&tok);
    kl_stopwords_destroy(sw);
    unlink(path);
    free(path);
}

/* Stop words and the stem language go into the model and come back. */
Test(stem, stored_in_the_model)
{
    static const char train[] = "pos\tthe runner is running\n"
                                "neg\tthe walker walked\n";
    char *data = kl_test_write_tmp(S(train));
    char *stop = kl_test_write_tmp(S("the\nis\n"));
    char model[] = "/tmp/kl_pre_model_XXXXXX", err[512] = "";
    struct kl_train_opts o;
    struct kl_model *m = NULL;
    const struct kl_model_info *info;
    struct kl_features f;

    kl_test_mkstemp(model);
    kl_train_opts_init(&o);
    o.tok.mode = KL_TOK_UNICODE;
    o.stopwords_path = stop;
    snprintf(o.tok.stem, sizeof o.tok.stem, "english");
    o.dim = 4;
    o.bucket = 100;
    o.verbose = 0;
    cr_assert_eq(kl_train_file(&o, data, model, err, sizeof err), KL_OK, "%s",
                 err);
    unlink(stop);
    cr_assert_eq(kl_model_open(model, &m, err, sizeof err), KL_OK, "%s", err);
    info = kl_model_info(m);
    cr_expect_str_eq(info->tok.stem, "english");
    cr_expect_not_null(info->tok.stop);
    cr_expect(strstr(info->metadata_json, "\"stopwords\":{\"count\":2}") &&
                  strstr(info->metadata_json, "\"stem\":\"english\""),
              "%s", info->metadata_json);
    cr_expect_eq(info->nwords, 4, "vocabulary: runner run walker walk");
    kl_features_init(&f);
    cr_assert_eq(kl_model_featurize(m, S("The runner is RUNNING"), &f), KL_OK);
    {
        static const char *const want[] = {"runner", "run"};
        kl_test_expect_tokens(&f.tok, want, 2, "model tokenizer");
    }
    kl_features_fini(&f);
    kl_model_destroy(m);

    /* an unknown language is refused with the list of known ones */
    snprintf(o.tok.stem, sizeof o.tok.stem, "klingon");
    o.stopwords_path = NULL;
    cr_expect_eq(kl_train_file(&o, data, model, err, sizeof err), KL_EINVAL);
    cr_expect(strstr(err, "klingon") && strstr(err, "english"), "%s", err);
    unlink(model);
    unlink(data);
    free(data);
    free(stop);
}

/* ------------------------------------------------ pretrained vectors */

static const char vocab3[] = "cat\0dog\0fish\0";

Test(pretrained, copies_rows_of_known_words)
{
    static const char vec[] = "4 3\n"
                              "dog 0.5 -1 2e-1 \n"   /* trailing space */
                              "bird 9 9 9\n"         /* not in the vocab */
                              "cat\t1\t2\t3\r\n"
                              "dog 4 5 6\n"          /* later line wins */
                              "\n";
    char *path = kl_test_write_tmp(S(vec)), err[256] = "";
    float input[5 * 3]; /* 3 words + 2 buckets */

    for (int i = 0; i < 15; i++)
        input[i] = -7.0f;
    cr_assert_eq(kl_pretrained_apply(path, vocab3, sizeof vocab3 - 1, 3, 3,
                                     input, 0, err, sizeof err), KL_OK, "%s",
                 err);
    cr_expect_float_eq(input[0], 1.0f, 1e-6);  /* cat */
    cr_expect_float_eq(input[2], 3.0f, 1e-6);
    cr_expect_float_eq(input[3], 4.0f, 1e-6);  /* dog */
    cr_expect_float_eq(input[5], 6.0f, 1e-6);
    for (int i = 6; i < 15; i++) /* fish and the buckets untouched */
        cr_expect_float_eq(input[i], -7.0f, 1e-6);
    unlink(path);
    free(path);
}

static void expect_vec_error(const char *vec, int32_t dim, int rc,
                             const char *needle)
{
    char *path = kl_test_write_tmp(vec, strlen(vec)), err[256] = "";
    float input[3 * 4];

    cr_expect_eq(kl_pretrained_apply(path, vocab3, sizeof vocab3 - 1, 3, dim,
                                     input, 0, err, sizeof err), rc,
                 "%s -> %s", vec, err);
    cr_expect(strstr(err, needle) != NULL, "'%s' lacks '%s'", err, needle);
    unlink(path);
    free(path);
}

Test(pretrained, errors)
{
    expect_vec_error("2 4\ncat 1 2 3 4\ndog 1 2 3 4\n", 3, KL_EINVAL,
                     "dim 4, training has dim 3");
    expect_vec_error("two 3\n", 3, KL_EFORMAT, "line 1");
    expect_vec_error("", 3, KL_EFORMAT, "line 1");
    expect_vec_error("1 3 7\ncat 1 2 3\n", 3, KL_EFORMAT, "line 1");
    expect_vec_error("1 3\ncat 1 2\n", 3, KL_EFORMAT, "line 2: 2 values");
    expect_vec_error("1 3\ncat 1 2 3 4\n", 3, KL_EFORMAT, "line 2: more than");
    expect_vec_error("1 3\ncat 1 x 3\n", 3, KL_EFORMAT, "line 2: value 2");
    expect_vec_error("1 3\ncat 1 2 3x\n", 3, KL_EFORMAT, "line 2: value 3");
    expect_vec_error("1 3\ncat 1 nan 3\n", 3, KL_EFORMAT, "not finite");
    expect_vec_error("1 3\n 1 2 3\n", 3, KL_EFORMAT, "line 2: the word");
    expect_vec_error("3 3\ncat 1 2 3\ndog 1 2 3\n", 3, KL_EFORMAT,
                     "2 vectors, the header says 3");
    expect_vec_error("1 3\ncat 1 2 3\ndog 1 2 3\n", 3, KL_EFORMAT,
                     "line 3: more vectors");
}

/* A NUL byte would cut a line short (and once let the rest of a long line
 * pass for the next one): it is an error naming the line. */
Test(pretrained, nul_byte_is_an_error)
{
    static const char vec[] = "2 3\ncat 1 2 3\ndog 4\0 9\n";
    static const char head[] = "1 3\0\ncat 1 2 3\n";
    char *path = kl_test_write_tmp(S(vec)), err[256] = "";
    float input[3 * 3];

    cr_expect_eq(kl_pretrained_apply(path, vocab3, sizeof vocab3 - 1, 3, 3,
                                     input, 0, err, sizeof err), KL_EFORMAT);
    cr_expect(strstr(err, "line 3: holds a NUL byte") != NULL, "%s", err);
    unlink(path);
    free(path);
    path = kl_test_write_tmp(S(head));
    cr_expect_eq(kl_pretrained_apply(path, vocab3, sizeof vocab3 - 1, 3, 3,
                                     input, 0, err, sizeof err), KL_EFORMAT);
    cr_expect(strstr(err, "line 1") != NULL, "%s", err);
    unlink(path);
    free(path);
}

/* Through training: rows of words found in the .vec start from it (with
 * a tiny learning rate they stay close), and a dim mismatch is an error. */
Test(pretrained, initialises_training)
{
    static const char train[] = "a\tcat dog\nb\tfish\n";
    static const char vec[] = "2 2\ncat 0.25 -0.5\nfish 0.75 1\n";
    char *data = kl_test_write_tmp(S(train));
    char *vpath = kl_test_write_tmp(S(vec));
    char model[] = "/tmp/kl_pre_model_XXXXXX", err[512] = "";
    struct kl_train_opts o;
    struct kl_model *m = NULL;
    struct kl_features f;
    struct kl_scratch s;
    const struct kl_features *fp = &f;
    struct kl_prediction pred;

    kl_test_mkstemp(model);
    kl_train_opts_init(&o);
    o.tok.mode = KL_TOK_UNICODE;
    o.dim = 2;
    o.bucket = 0;
    o.epoch = 1;
    o.lr = 1e-6f;
    o.word_ngrams = 1;
    o.pretrained_vectors = vpath;
    cr_assert_eq(kl_train_file(&o, data, model, err, sizeof err), KL_OK, "%s",
                 err);
    cr_assert_eq(kl_model_open(model, &m, err, sizeof err), KL_OK, "%s", err);
    /* the hidden vector of "fish" is its row: check it through predict's
     * scratch (hidden = mean of the rows) */
    kl_features_init(&f);
    kl_scratch_init(&s);
    cr_assert_eq(kl_model_featurize(m, S("fish"), &f), KL_OK);
    cr_assert_eq(kl_model_predict_batch(m, &fp, 1, 1, 0.0f, &s, &pred), KL_OK);
    cr_expect_float_eq(s.hidden[0], 0.75f, 1e-4);
    cr_expect_float_eq(s.hidden[1], 1.0f, 1e-4);
    cr_assert_eq(kl_model_featurize(m, S("cat"), &f), KL_OK);
    cr_assert_eq(kl_model_predict_batch(m, &fp, 1, 1, 0.0f, &s, &pred), KL_OK);
    cr_expect_float_eq(s.hidden[0], 0.25f, 1e-4);
    cr_expect_float_eq(s.hidden[1], -0.5f, 1e-4);
    kl_scratch_fini(&s);
    kl_features_fini(&f);
    kl_model_destroy(m);

    o.dim = 3;
    cr_expect_eq(kl_train_file(&o, data, model, err, sizeof err), KL_EINVAL);
    cr_expect(strstr(err, "dim 2, training has dim 3") != NULL, "%s", err);
    unlink(model);
    unlink(data);
    unlink(vpath);
    free(data);
    free(vpath);
}
