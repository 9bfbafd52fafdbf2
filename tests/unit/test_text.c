/*
 * tests/unit/test_text.c: UTF-8 validation and the tokenizer in both modes
 * (engine/utf8.c, engine/tokenize.c).
 */
#include <string.h>

#include <criterion/criterion.h>

#include "klabel/engine.h"

/* ------------------------------------------------------------ UTF-8 */

#define S(lit) (lit), (sizeof(lit) - 1)

Test(utf8, accepts_well_formed)
{
    cr_expect_eq(kl_utf8_validate(S(""), NULL), KL_OK);
    cr_expect_eq(kl_utf8_validate(S("plain ascii text, long enough for the fast path"), NULL), KL_OK);
    cr_expect_eq(kl_utf8_validate(S("\xC3\xA9"), NULL), KL_OK);          /* é */
    cr_expect_eq(kl_utf8_validate(S("\xE4\xB8\xAD\xE6\x96\x87"), NULL), KL_OK); /* 中文 */
    cr_expect_eq(kl_utf8_validate(S("\xED\x9F\xBF"), NULL), KL_OK);      /* U+D7FF */
    cr_expect_eq(kl_utf8_validate(S("\xEE\x80\x80"), NULL), KL_OK);      /* U+E000 */
    cr_expect_eq(kl_utf8_validate(S("\xF0\x9F\x98\x80"), NULL), KL_OK);  /* 😀 */
    cr_expect_eq(kl_utf8_validate(S("\xF4\x8F\xBF\xBF"), NULL), KL_OK);  /* U+10FFFF */
}

Test(utf8, allows_nul)
{
    cr_expect_eq(kl_utf8_validate("a\0b", 3, NULL), KL_OK);
    cr_expect_eq(kl_utf8_validate("\0\0\0\0\0\0\0\0\0", 9, NULL), KL_OK);
}

static void expect_bad(const char *s, size_t len, size_t off)
{
    size_t bad = (size_t)-1;
    cr_expect_eq(kl_utf8_validate(s, len, &bad), KL_EUTF8, "accepted %zu bytes", len);
    cr_expect_eq(bad, off, "bad offset %zu, expected %zu", bad, off);
}

Test(utf8, rejects_overlong)
{
    expect_bad(S("\xC0\xAF"), 0);
    expect_bad(S("\xC1\xBF"), 0);
    expect_bad(S("ab\xE0\x80\xAF"), 2);
    expect_bad(S("\xE0\x9F\xBF"), 0);
    expect_bad(S("\xF0\x80\x80\xAF"), 0);
    expect_bad(S("\xF0\x8F\xBF\xBF"), 0);
}

Test(utf8, rejects_surrogates)
{
    expect_bad(S("\xED\xA0\x80"), 0);           /* U+D800 */
    expect_bad(S("x\xED\xBF\xBF"), 1);          /* U+DFFF */
    expect_bad(S("\xED\xA0\xBD\xED\xB8\x80"), 0); /* CESU-8 pair */
}

Test(utf8, rejects_past_10ffff)
{
    expect_bad(S("\xF4\x90\x80\x80"), 0);
    expect_bad(S("\xF5\x80\x80\x80"), 0);
    expect_bad(S("\xFF"), 0);
    expect_bad(S("\xFE"), 0);
}

Test(utf8, rejects_truncated_and_stray)
{
    expect_bad(S("ab\xE4\xB8"), 2);
    expect_bad(S("\xC3"), 0);
    expect_bad(S("\xF0\x9F\x98"), 0);
    expect_bad(S("abcdefghij\x80"), 10);        /* lone continuation after the fast path */
    expect_bad(S("\xC3\x28"), 0);               /* bad continuation */
    expect_bad(S("\xE4\xB8\x28"), 0);
}

/* Unicode's Table 3-7 spelled out, one sequence at a time: the reference
 * the fast paths of kl_utf8_validate are checked against. Returns the
 * length of the well-formed sequence at p[0..n), or 0. */
static size_t ref_seq(const unsigned char *p, size_t n)
{
    static const struct { unsigned char lo0, hi0, lo1, hi1; size_t len; } t[] = {
        {0x00, 0x7F, 0, 0, 1},       {0xC2, 0xDF, 0x80, 0xBF, 2},
        {0xE0, 0xE0, 0xA0, 0xBF, 3}, {0xE1, 0xEC, 0x80, 0xBF, 3},
        {0xED, 0xED, 0x80, 0x9F, 3}, {0xEE, 0xEF, 0x80, 0xBF, 3},
        {0xF0, 0xF0, 0x90, 0xBF, 4}, {0xF1, 0xF3, 0x80, 0xBF, 4},
        {0xF4, 0xF4, 0x80, 0x8F, 4}};

    for (size_t r = 0; r < sizeof t / sizeof t[0]; r++) {
        if (p[0] < t[r].lo0 || p[0] > t[r].hi0)
            continue;
        if (n < t[r].len)
            return 0;
        if (t[r].len > 1 && (p[1] < t[r].lo1 || p[1] > t[r].hi1))
            return 0;
        for (size_t i = 2; i < t[r].len; i++)
            if (p[i] < 0x80 || p[i] > 0xBF)
                return 0;
        return t[r].len;
    }
    return 0;
}

/* Offset of the first ill-formed sequence of s[0..n) by ref_seq, or n. */
static size_t ref_first_bad(const unsigned char *s, size_t n)
{
    size_t i = 0, k;

    while (i < n && (k = ref_seq(s + i, n - i)) > 0)
        i += k;
    return i;
}

/* Every 1-, 2- and 3-byte string, each behind 0, 1 and 17 ASCII bytes (so
 * that it starts inside, at the end of and after the 16-byte ASCII run):
 * accepted exactly when Table 3-7 accepts it, refused at the same offset. */
Test(utf8, agrees_with_table_3_7_on_every_short_string)
{
    unsigned char buf[32];
    static const size_t pads[] = {0, 1, 17};
    size_t wrong = 0;

    for (size_t pi = 0; pi < 3; pi++) {
        size_t pad = pads[pi];

        memset(buf, 'a', pad);
        for (uint32_t v = 0; v < (1u << 24); v++) {
            size_t n = v < 256 ? 1 : v < 65536 ? 2 : 3, bad = (size_t)-1;
            int rc;

            for (size_t i = 0; i < n; i++)
                buf[pad + i] = (unsigned char)(v >> (8 * (n - 1 - i)));
            rc = kl_utf8_validate((const char *)buf, pad + n, &bad);
            size_t want = ref_first_bad(buf, pad + n);
            if ((want == pad + n) != (rc == KL_OK) || (rc != KL_OK && bad != want))
                wrong++;
        }
    }
    cr_expect_eq(wrong, 0, "%zu strings judged unlike Table 3-7", wrong);
}

/* Random mixes of ASCII, 2-, 3- and 4-byte characters with one byte
 * flipped now and then, long enough for the fast paths to interleave. */
Test(utf8, agrees_with_table_3_7_on_random_text)
{
    static const char *const pieces[] = {"a", "bc", "0123456789abcdef", "\xC3\xA9",
                                         "\xE4\xB8\xAD", "\xEF\xBF\xBD", "\xED\x9F\xBF",
                                         "\xE0\xA0\x80", "\xF0\x9F\x98\x80", "\xF4\x8F\xBF\xBF"};
    unsigned char buf[256];
    uint32_t x = 12345;
    size_t wrong = 0;

    for (int round = 0; round < 200000; round++) {
        size_t n = 0, bad = (size_t)-1, want;
        int rc;

        while (n < 200) {
            x = x * 1103515245u + 12345u;
            const char *pc = pieces[(x >> 16) % 10];
            memcpy(buf + n, pc, strlen(pc));
            n += strlen(pc);
        }
        x = x * 1103515245u + 12345u;
        if ((x >> 16) % 2)
            buf[(x >> 8) % n] = (unsigned char)(x >> 24);
        rc = kl_utf8_validate((const char *)buf, n, &bad);
        want = ref_first_bad(buf, n);
        if ((want == n) != (rc == KL_OK) || (rc != KL_OK && bad != want))
            wrong++;
    }
    cr_expect_eq(wrong, 0, "%zu texts judged unlike Table 3-7", wrong);
}

/* --------------------------------------------------------- tokenizer */

static struct kl_tokens tok;

static void setup(void) { kl_tokens_init(&tok); }
static void teardown(void) { kl_tokens_fini(&tok); }

/* Asserts that tok holds exactly the NULL-terminated list want. */
static void expect_tokens(const char *const *want)
{
    size_t n = 0;
    while (want[n] != NULL)
        n++;
    cr_assert_eq(tok.n, n, "got %zu tokens, expected %zu", tok.n, n);
    for (size_t i = 0; i < n; i++) {
        size_t wl = strlen(want[i]);
        cr_expect(tok.len[i] == wl && memcmp(tok.buf + tok.off[i], want[i], wl) == 0,
                  "token %zu is \"%.*s\", expected \"%s\"", i, (int)tok.len[i],
                  tok.buf + tok.off[i], want[i]);
    }
}

static int run(int mode, size_t max, const char *text, size_t len)
{
    struct kl_tok_opts o = {.mode = mode, .max_tokens = max};
    return kl_tokenize(&o, text, len, &tok);
}

#define FT KL_TOK_FASTTEXT
#define UNI KL_TOK_UNICODE

Test(tok_fasttext, splits_on_ascii_white_space, .init = setup, .fini = teardown)
{
    const char text[] = " hello\tworld\r\nfoo\v\fbar\0baz  ";
    cr_assert_eq(run(FT, 0, text, sizeof text - 1), KL_OK);
    expect_tokens((const char *[]){"hello", "world", "foo", "bar", "baz", "</s>", NULL});
}

Test(tok_fasttext, keeps_bytes_as_they_are, .init = setup, .fini = teardown)
{
    cr_assert_eq(run(FT, 0, S("Hello, World!\xC2\xA0x \xE4\xB8\xAD")), KL_OK);
    /* NBSP is not an ASCII space: fastText keeps it inside the token */
    expect_tokens((const char *[]){"Hello,", "World!\xC2\xA0x", "\xE4\xB8\xAD", "</s>", NULL});
}

Test(tok_fasttext, empty_text_gives_eos_only, .init = setup, .fini = teardown)
{
    cr_assert_eq(run(FT, 0, S("")), KL_OK);
    expect_tokens((const char *[]){"</s>", NULL});
    cr_assert_eq(run(FT, 0, S(" \t\r\n ")), KL_OK);
    expect_tokens((const char *[]){"</s>", NULL});
}

Test(tok_fasttext, max_tokens_keeps_room_for_eos, .init = setup, .fini = teardown)
{
    cr_assert_eq(run(FT, 3, S("a b c d e")), KL_OK);
    expect_tokens((const char *[]){"a", "b", "</s>", NULL});
}

Test(tok_unicode, splits_white_space_and_punctuation, .init = setup, .fini = teardown)
{
    cr_assert_eq(run(UNI, 0, S("Hello, World! It's 3.14\r\nok")), KL_OK);
    expect_tokens((const char *[]){"hello", "world", "it", "s", "3", "14", "ok", NULL});
}

Test(tok_unicode, unicode_spaces, .init = setup, .fini = teardown)
{
    /* NBSP, ideographic space U+3000, thin space U+2009, line sep U+2028 */
    cr_assert_eq(run(UNI, 0, S("a\xC2\xA0" "b\xE3\x80\x80" "c\xE2\x80\x89" "d\xE2\x80\xA8" "e")), KL_OK);
    expect_tokens((const char *[]){"a", "b", "c", "d", "e", NULL});
}

Test(tok_unicode, case_folding_and_nfkc, .init = setup, .fini = teardown)
{
    cr_assert_eq(run(UNI, 0, S("Stra\xC3\x9F" "e \xEF\xBC\xA1\xEF\xBC\xA2\xEF\xBC\xA3 \xEF\xAC\x81" "x")), KL_OK);
    /* Straße -> strasse, full-width ＡＢＣ -> abc, ligature ﬁx -> fix */
    expect_tokens((const char *[]){"strasse", "abc", "fix", NULL});
}

Test(tok_unicode, composes_combining_marks, .init = setup, .fini = teardown)
{
    cr_assert_eq(run(UNI, 0, S("Cafe\xCC\x81 \xCC\x81x")), KL_OK);
    /* e + U+0301 -> é (NFC); a mark with no base letter is dropped */
    expect_tokens((const char *[]){"caf\xC3\xA9", "x", NULL});
}

Test(tok_unicode, cjk_characters_are_tokens, .init = setup, .fini = teardown)
{
    cr_assert_eq(run(UNI, 0, S("中国银行ABC")), KL_OK);
    expect_tokens((const char *[]){"中", "国", "银", "行", "abc", NULL});
    cr_assert_eq(run(UNI, 0, S("ひらがなとカタカナ、한국어!𠀀x")), KL_OK);
    expect_tokens((const char *[]){"ひ", "ら", "が", "な", "と", "カ", "タ", "カ", "ナ",
                                   "한", "국", "어", "𠀀", "x", NULL});
}

Test(tok_unicode, emoji_are_separators, .init = setup, .fini = teardown)
{
    /* ❤️ = U+2764 U+FE0F, 👍🏽 = U+1F44D U+1F3FD, a ZWJ family */
    cr_assert_eq(run(UNI, 0, S("I \xE2\x9D\xA4\xEF\xB8\x8F NY\xF0\x9F\x98\x80!"
                                " \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD"
                                "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9 ok")), KL_OK);
    expect_tokens((const char *[]){"i", "ny", "ok", NULL});
}

Test(tok_unicode, nul_and_controls_split, .init = setup, .fini = teardown)
{
    cr_assert_eq(run(UNI, 0, "a\0b\x01" "c", 5), KL_OK);
    expect_tokens((const char *[]){"a", "b", "c", NULL});
}

Test(tok_unicode, max_tokens, .init = setup, .fini = teardown)
{
    cr_assert_eq(run(UNI, 3, S("a b c d e")), KL_OK);
    expect_tokens((const char *[]){"a", "b", "c", NULL});
    cr_assert_eq(run(UNI, 2, S("中国银行")), KL_OK);
    expect_tokens((const char *[]){"中", "国", NULL});
}

Test(tok_unicode, empty_text, .init = setup, .fini = teardown)
{
    cr_assert_eq(run(UNI, 0, S("")), KL_OK);
    cr_expect_eq(tok.n, 0);
    cr_assert_eq(run(UNI, 0, S(" ,.!? \xE3\x80\x82")), KL_OK);
    cr_expect_eq(tok.n, 0);
}

Test(tok_unicode, rejects_invalid_utf8, .init = setup, .fini = teardown)
{
    cr_expect_eq(run(UNI, 0, S("ok \xED\xA0\x80")), KL_EUTF8);
    cr_expect_eq(tok.n, 0);
}

Test(tok, rejects_bad_options_and_huge_text, .init = setup, .fini = teardown)
{
    struct kl_tok_opts bad = {.mode = 7};
    cr_expect_eq(kl_tokenize(&bad, "a", 1, &tok), KL_EINVAL);
    cr_expect_eq(run(FT, 0, "a", KL_TEXT_MAX + 1), KL_ERANGE);
}

Test(tok, reuses_buffers, .init = setup, .fini = teardown)
{
    char *buf;
    uint32_t *off;
    cr_assert_eq(run(UNI, 0, S("one two three four five six seven eight nine ten")), KL_OK);
    buf = tok.buf;
    off = tok.off;
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(run(UNI, 0, S("Eins zwei drei")), KL_OK);
        cr_assert_eq(run(FT, 0, S("uno dos tres")), KL_OK);
    }
    cr_expect(tok.buf == buf && tok.off == off, "buffers were reallocated");
    expect_tokens((const char *[]){"uno", "dos", "tres", "</s>", NULL});
}
