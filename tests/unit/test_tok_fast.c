/*
 * Unit tests of the unicode tokenizer's normalization fast path
 * (engine/tokenize.c): every entry of its table is what utf8proc's NFKC +
 * case folding makes of the code point; pairs of table code points do not
 * compose (random pairs checked against utf8proc on the pair); and the
 * tokens of real text (every line of $KL_DATA_DIR's THUCNews, Reuters,
 * SMS and MCC files, when present, and mixed strings) are the same with
 * the fast path on and off.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <utf8proc.h>

#include "klabel/engine.h"
#include "helpers.h"
#include "../../engine/tokenize.h"

#define NORM (UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD)

/* 1 when utf8proc maps the UTF-8 string in[0..n) to exactly want[0..wn). */
static int maps_to(const utf8proc_uint8_t *in, size_t n, const char *want,
                   size_t wn)
{
    utf8proc_uint8_t *out = NULL;
    utf8proc_ssize_t len = utf8proc_map(in, (utf8proc_ssize_t)n, &out, NORM);
    int ok = len >= 0 && (size_t)len == wn && !memcmp(out, want, wn);

    free(out);
    return ok;
}

Test(tok_fast, table_matches_utf8proc)
{
    size_t entries = 0, bad = 0;

    for (int32_t c = 0; c < 0x10000; c++) {
        int32_t m = kl_tokenize_fast_image(c);
        utf8proc_uint8_t in[4];
        char want[4];
        size_t n, wn;

        if (!m)
            continue;
        entries++;
        n = (size_t)utf8proc_encode_char(c, in);
        wn = (size_t)utf8proc_encode_char(m, (utf8proc_uint8_t *)want);
        if (!maps_to(in, n, want, wn) && bad++ < 5)
            cr_log_error("U+%04X -> U+%04X differs from utf8proc", c, m);
    }
    cr_expect_eq(bad, 0);
    /* ASCII, Latin-1, punctuation, kana, ~28,000 ideographs, fullwidth */
    cr_expect_gt(entries, 27000, "table has %zu entries", entries);
    cr_expect_eq(kl_tokenize_fast_image('A'), 'a');
    cr_expect_eq(kl_tokenize_fast_image(0xFF21), 'a', "fullwidth A");
    cr_expect_eq(kl_tokenize_fast_image(0x4E2D), 0x4E2D);
    cr_expect_eq(kl_tokenize_fast_image(0x0301), 0, "combining mark");
    cr_expect_eq(kl_tokenize_fast_image(0x00DF), 0, "sharp s folds to two");
    cr_expect_eq(kl_tokenize_fast_image(0xFF9E), 0, "voiced mark maps to a combining one");
}

Test(tok_fast, pairs_do_not_compose)
{
    int32_t *cps = malloc(0x10000 * sizeof *cps);
    size_t n = 0, bad = 0;
    unsigned seed = 12345;

    cr_assert_not_null(cps);
    for (int32_t c = 0; c < 0x10000; c++)
        if (kl_tokenize_fast_image(c))
            cps[n++] = c;
    for (int i = 0; i < 300000; i++) {
        int32_t a, b;
        utf8proc_uint8_t in[8];
        char want[8];
        size_t len, wn;

        seed = seed * 1103515245u + 12345u;
        a = cps[(seed >> 8) % n];
        seed = seed * 1103515245u + 12345u;
        b = cps[(seed >> 8) % n];
        len = (size_t)utf8proc_encode_char(a, in);
        len += (size_t)utf8proc_encode_char(b, in + len);
        wn = (size_t)utf8proc_encode_char(kl_tokenize_fast_image(a),
                                          (utf8proc_uint8_t *)want);
        wn += (size_t)utf8proc_encode_char(kl_tokenize_fast_image(b),
                                           (utf8proc_uint8_t *)want + wn);
        if (!maps_to(in, len, want, wn) && bad++ < 5)
            cr_log_error("U+%04X U+%04X composes", a, b);
    }
    free(cps);
    cr_expect_eq(bad, 0);
}

/* 1 when every code point of the valid UTF-8 s[0..n) is in the fast
 * path's table (the whole text then takes it). */
static int all_fast(const char *s, size_t n)
{
    utf8proc_int32_t c;
    utf8proc_ssize_t k;
    size_t i = 0;

    while (i < n) {
        k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                             (utf8proc_ssize_t)(n - i), &c);
        if (k <= 0 || !kl_tokenize_fast_image(c))
            return 0;
        i += (size_t)k;
    }
    return 1;
}

/* Tokens of text with the fast path on and off; 1 when they are equal. */
static int same_tokens(const struct kl_tok_opts *o, const char *text,
                       size_t len, struct kl_tokens *t1,
                       struct kl_tokens *t2)
{
    int r1, r2;

    kl_tokenize_set_fast(1);
    r1 = kl_tokenize(o, text, len, t1);
    kl_tokenize_set_fast(0);
    r2 = kl_tokenize(o, text, len, t2);
    kl_tokenize_set_fast(1);
    if (r1 != r2 || t1->n != t2->n)
        return 0;
    for (size_t i = 0; i < t1->n; i++)
        if (t1->len[i] != t2->len[i] ||
            memcmp(t1->buf + t1->off[i], t2->buf + t2->off[i], t1->len[i]))
            return 0;
    return 1;
}

/* What same_tokens_as_utf8proc_path counts over its strings and lines. */
struct compare {
    struct kl_tok_opts o;
    struct kl_tokens t1, t2;
    size_t lines, bad, fast;
};

/* Compares the two paths on one text (file: where it came from). */
static void compare_one(struct compare *c, const char *file, const char *t,
                        size_t n)
{
    c->lines++;
    c->fast += all_fast(t, n);
    if (!same_tokens(&c->o, t, n, &c->t1, &c->t2) && c->bad++ < 5)
        cr_log_error("%s differs: %.*s", file, (int)n, t);
}

/* A corpus line, when it is valid UTF-8 (the rest is for other tests). */
static void corpus_line(void *ud, const char *file, const char *line,
                        size_t len)
{
    if (kl_utf8_validate(line, len, NULL) == KL_OK)
        compare_one(ud, file, line, len);
}

Test(tok_fast, same_tokens_as_utf8proc_path)
{
    static const char *const mixed[] = {
        "Hello, World! ÀÉÎÕÜ ß straße",
        "中国人民银行 ＡＢＣ１２３ 「引用」…",
        "ｶﾞｷﾞ ガギ か\xe3\x82\x99", /* half-width voiced marks, combining */
        "e\xcc\x81 café Ω Å ﬁ ㈱ ①",
        "한국어 텍스트 ｱｲｳ 〇々〆",
        "tab\tnew\nline\x7f del",
        "🎉 emoji ✓ and 𠀀 ext-B",
        "ALL CAPS Ünïcödé Ａｂｃ－１２３ 中文，标点。「」、！？",
        "ｶﾀｶﾅ カタカナ ひらがな 々〇 ＜ＴＡＧ＞ ￥１００",
        "Line one\r\nLine two\tTabbed\xc2\xa0nbsp",
    };
    struct compare c;

    memset(&c, 0, sizeof c);
    c.o.mode = KL_TOK_UNICODE;
    kl_tokens_init(&c.t1);
    kl_tokens_init(&c.t2);
    for (size_t i = 0; i < sizeof mixed / sizeof mixed[0]; i++)
        compare_one(&c, "mixed", mixed[i], strlen(mixed[i]));
    kl_test_corpus_lines(corpus_line, &c);
    kl_tokens_fini(&c.t1);
    kl_tokens_fini(&c.t2);
    cr_expect_eq(c.bad, 0, "%zu of %zu lines differ", c.bad, c.lines);
    cr_log_info("%zu lines compared, %zu of them on the fast path", c.lines,
                c.fast);
    cr_expect_geq(c.fast, 2, "the mixed strings exercise the fast path");
    if (getenv("KL_DATA_DIR"))
        cr_expect_gt(c.fast * 2, c.lines,
                     "most real lines take the fast path");
}

/* The tokenizer's table of character classes (separator, combining mark,
 * CJK) agrees with the utf8proc predicates it replaces, for every BMP code
 * point in and out of a word. */
Test(tok_fast, class_table_matches_predicates)
{
    cr_expect_eq(kl_tokenize_cp_class_check(), -1,
                 "first code point whose class differs");
}
