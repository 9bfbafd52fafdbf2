/*
 * tests/unit/test_hash.c: fastText's string hash and the featurizer's ids
 * (engine/hash.c, engine/featurize.c, engine/dict.c). Expected values come
 * from an independent Python re-implementation of fastText's
 * Dictionary::hash / computeSubwords / addWordNgrams (bytes sign-extended
 * from int8; word hashes kept as int32 and sign-extended into the uint64
 * n-gram hash), run once and pasted here.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "klabel/engine.h"
#include "../../engine/dict.h"

Test(hash, fnv1a_known_values)
{
    cr_expect_eq(kl_hash_fnv1a("", 0), 2166136261u);
    cr_expect_eq(kl_hash_fnv1a("hello", 5), 1335831723u);
    cr_expect_eq(kl_hash_fnv1a("\xE4\xB8\xAD\xE5\x9B\xBD", 6), 717543023u); /* 中国 */
    cr_expect_eq(kl_hash_fnv1a("</s>", 4), 3617362777u);
    cr_expect_eq(kl_hash_fnv1a("a", 1), 3826002220u);
}

Test(hash, fnv1a_sign_extends_bytes)
{
    /* é = C3 A9: fastText's (signed) char gives 1023043777; plain unsigned
     * FNV-1a would give 513665217 */
    cr_expect_eq(kl_hash_fnv1a("\xC3\xA9", 2), 1023043777u);
    cr_expect_neq(kl_hash_fnv1a("\xC3\xA9", 2), 513665217u);
}

static struct kl_dict d;
static struct kl_features f;

/* A dict over vocab (nwords NUL-terminated words). */
static void dict(const char *vocab, size_t vlen, int32_t nwords, int mode,
                 int32_t bucket, int32_t word_ngrams, int32_t minn,
                 int32_t maxn)
{
    char err[256] = "";
    cr_assert_eq(kl_dict_init(&d, vocab, vlen, nwords, err, sizeof err), KL_OK,
                 "%s", err);
    d.bucket = bucket;
    d.word_ngrams = word_ngrams;
    d.minn = minn;
    d.maxn = maxn;
    d.tok.mode = mode;
    d.tok.max_tokens = 0;
}

static void setup(void) { kl_features_init(&f); memset(&d, 0, sizeof d); }
static void teardown(void) { kl_features_fini(&f); kl_dict_fini(&d); }

static void expect_ids(const int32_t *want, size_t n)
{
    cr_assert_eq(f.n, n, "got %zu ids, expected %zu", f.n, n);
    for (size_t i = 0; i < n; i++)
        cr_expect_eq(f.ids[i], want[i], "id %zu is %d, expected %d", i,
                     f.ids[i], want[i]);
}

#define S(lit) (lit), (sizeof(lit) - 1)

#define VOCAB3 "hello\0\xC3\xA9\0</s>\0"

Test(features, word_ngrams_sign_extended, .init = setup, .fini = teardown)
{
    /* tokens hello é </s>; hash("</s>") is negative as int32. Without sign
     * extension the n-gram ids would be 13, 642, 47. */
    dict(VOCAB3, sizeof VOCAB3 - 1, 3, KL_TOK_FASTTEXT, 1000, 3, 0, 0);
    cr_assert_eq(kl_dict_featurize(&d, S("hello \xC3\xA9"), &f), KL_OK);
    expect_ids((const int32_t[]){0, 1, 2, 13, 346, 751}, 6);
    cr_expect_eq(f.ntokens, 3);
}

Test(features, word_ngrams_big_bucket, .init = setup, .fini = teardown)
{
    dict(VOCAB3, sizeof VOCAB3 - 1, 3, KL_TOK_FASTTEXT, 2000000, 3, 0, 0);
    cr_assert_eq(kl_dict_featurize(&d, S("hello \xC3\xA9"), &f), KL_OK);
    expect_ids((const int32_t[]){0, 1, 2, 1040013, 570346, 709751}, 6);
}

Test(features, out_of_vocabulary_words_still_make_ngrams, .init = setup, .fini = teardown)
{
    dict(NULL, 0, 0, KL_TOK_FASTTEXT, 2000000, 2, 0, 0);
    cr_assert_eq(kl_dict_featurize(&d, S("hello \xC3\xA9"), &f), KL_OK);
    expect_ids((const int32_t[]){1040010, 709748}, 2);
}

Test(features, char_ngrams_of_a_vocabulary_word, .init = setup, .fini = teardown)
{
    /* "Été" folds to "été" (id 4); n-grams of "<été>", minn 2, maxn 3:
     * <é <ét ét été té té> é> */
    const char v[] = "a\0b\0c\0d\0\xC3\xA9t\xC3\xA9";
    dict(v, sizeof v, 5, KL_TOK_UNICODE, 1000, 1, 2, 3);
    cr_assert_eq(kl_dict_featurize(&d, S("\xC3\x89t\xC3\xA9"), &f), KL_OK);
    expect_ids((const int32_t[]){4, 632, 138, 980, 932, 392, 540, 786}, 8);
}

Test(features, char_ngrams_of_an_unknown_word, .init = setup, .fini = teardown)
{
    /* "<ab>" with minn 1, maxn 2: <a a ab b b> (not the lone < or >);
     * "</s>" gets no n-grams */
    dict(NULL, 0, 0, KL_TOK_FASTTEXT, 100, 1, 1, 2);
    cr_assert_eq(kl_dict_featurize(&d, "ab", 2, &f), KL_OK);
    expect_ids((const int32_t[]){50, 20, 46, 77, 61}, 5);
}

Test(features, labels_are_not_words, .init = setup, .fini = teardown)
{
    dict(VOCAB3, sizeof VOCAB3 - 1, 3, KL_TOK_FASTTEXT, 1000, 3, 0, 0);
    cr_assert_eq(kl_dict_featurize(&d, S("__label__x hello __label__y \xC3\xA9"), &f), KL_OK);
    expect_ids((const int32_t[]){0, 1, 2, 13, 346, 751}, 6);
}

Test(features, bucket_zero_means_no_hashed_ids, .init = setup, .fini = teardown)
{
    dict(VOCAB3, sizeof VOCAB3 - 1, 3, KL_TOK_FASTTEXT, 0, 3, 2, 4);
    cr_assert_eq(kl_dict_featurize(&d, "hello xyz", 9, &f), KL_OK);
    expect_ids((const int32_t[]){0, 2}, 2);
    cr_expect_eq(kl_dict_featurize(&d, "", 0, &f), KL_OK); /* "</s>" alone */
    kl_dict_fini(&d);
    dict("hello\0", 6, 1, KL_TOK_UNICODE, 0, 2, 0, 0);
    cr_expect_eq(kl_dict_featurize(&d, "xyz abc", 7, &f), KL_EEMPTY);
    cr_expect_eq(f.n, 0);
    cr_expect_eq(kl_dict_featurize(&d, "", 0, &f), KL_EEMPTY);
}

Test(features, invalid_utf8_is_rejected_in_both_modes, .init = setup, .fini = teardown)
{
    dict(VOCAB3, sizeof VOCAB3 - 1, 3, KL_TOK_FASTTEXT, 10, 2, 0, 0);
    cr_expect_eq(kl_dict_featurize(&d, S("hello \xC0\xAF"), &f), KL_EUTF8);
    d.tok.mode = KL_TOK_UNICODE;
    cr_expect_eq(kl_dict_featurize(&d, S("hello \xC0\xAF"), &f), KL_EUTF8);
}

Test(dict, lookup_is_exact)
{
    const char v[] = "ab\0abc\0b\0";
    struct kl_dict dd;
    cr_assert_eq(kl_dict_init(&dd, v, sizeof v - 1, 3, NULL, 0), KL_OK);
    cr_expect_eq(kl_dict_find(&dd, "ab", 2, kl_hash_fnv1a("ab", 2)), 0);
    cr_expect_eq(kl_dict_find(&dd, "abc", 3, kl_hash_fnv1a("abc", 3)), 1);
    cr_expect_eq(kl_dict_find(&dd, "b", 1, kl_hash_fnv1a("b", 1)), 2);
    cr_expect_eq(kl_dict_find(&dd, "a", 1, kl_hash_fnv1a("a", 1)), -1);
    cr_expect_eq(kl_dict_find(&dd, "abcd", 4, kl_hash_fnv1a("abcd", 4)), -1);
    kl_dict_fini(&dd);
}

/* The 3-byte character table answers exactly as the probing look-up:
 * for every 3-byte sequence a lead byte E0-EF can start (well-formed or
 * not: overlong forms, surrogates, bad continuation bytes), in a
 * vocabulary of CJK characters, a 3-byte word of three ASCII letters and
 * two-character words. */
Test(dict, cp3_table_equals_find)
{
    const char v[] = "\xE4\xB8\xAD\0"           /* 中 */
                     "\xE5\x9B\xBD\0"           /* 国 */
                     "\xE4\xB8\xAD\xE5\x9B\xBD\0" /* 中国 */
                     "abc\0"
                     "\xEF\xBF\xBD\0"           /* U+FFFD */
                     "\xE0\xA4\x85\0";          /* U+0905, first row */
    struct kl_dict dd;
    char w[3];
    long differ = 0, hits = 0;

    cr_assert_eq(kl_dict_init(&dd, v, sizeof v - 1, 6, NULL, 0), KL_OK);
    cr_assert_not_null(dd.cp3);
    for (unsigned a = 0xE0; a <= 0xEF; a++)
        for (unsigned b = 0; b < 256; b++)
            for (unsigned c = 0; c < 256; c++) {
                int32_t x, y;

                w[0] = (char)a;
                w[1] = (char)b;
                w[2] = (char)c;
                x = kl_dict_find_token(&dd, w, 3, kl_hash_fnv1a(w, 3));
                y = kl_dict_find(&dd, w, 3, kl_hash_fnv1a(w, 3));
                differ += x != y;
                hits += x >= 0;
            }
    cr_expect_eq(differ, 0, "%ld sequences differ", differ);
    cr_expect_eq(hits, 4, "the 4 one-character words, each once");
    cr_expect_eq(kl_dict_find_token(&dd, "abc", 3, kl_hash_fnv1a("abc", 3)), 3);
    cr_expect_eq(kl_dict_find_token(&dd, "\xE4\xB8\xAD\xE5\x9B\xBD", 6,
                                    kl_hash_fnv1a("\xE4\xB8\xAD\xE5\x9B\xBD", 6)),
                 2);
    kl_dict_fini(&dd);
    cr_expect_null(dd.cp3);
}

/* Without a one-character 3-byte word there is no table (and no 254 KB). */
Test(dict, cp3_table_only_for_such_vocabularies)
{
    const char v[] = "ab\0abc\0\xE4\xB8\xAD\xE5\x9B\xBD\0";
    struct kl_dict dd;

    cr_assert_eq(kl_dict_init(&dd, v, sizeof v - 1, 3, NULL, 0), KL_OK);
    cr_expect_null(dd.cp3);
    cr_expect_eq(kl_dict_find_token(&dd, "abc", 3, kl_hash_fnv1a("abc", 3)), 1);
    kl_dict_fini(&dd);
}

Test(dict, rejects_bad_vocab)
{
    struct kl_dict dd;
    char err[256];
    cr_expect_eq(kl_dict_init(&dd, "a\0b\0", 4, 3, err, sizeof err), KL_EFORMAT);
    cr_expect(strstr(err, "nwords") != NULL, "%s", err);
    cr_expect_eq(kl_dict_init(&dd, "a\0b\0c\0", 6, 2, err, sizeof err), KL_EFORMAT);
    cr_expect_eq(kl_dict_init(&dd, "a\0\0", 3, 2, err, sizeof err), KL_EFORMAT);
    cr_expect(strstr(err, "empty") != NULL, "%s", err);
    cr_expect_eq(kl_dict_init(&dd, "a\0a\0", 4, 2, err, sizeof err), KL_EFORMAT);
    cr_expect(strstr(err, "twice") != NULL, "%s", err);
    cr_expect_eq(kl_dict_init(&dd, "ab", 2, 1, err, sizeof err), KL_EFORMAT);
}
