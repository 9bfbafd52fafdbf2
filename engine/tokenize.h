/*
 * engine/tokenize.h: internal entry points of the tokenizer shared by
 * featurization and training. Not installed.
 */
#ifndef KL_ENGINE_TOKENIZE_H
#define KL_ENGINE_TOKENIZE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "klabel/engine.h"

#define KL_LABEL_PREFIX "__label__"
#define KL_LABEL_PREFIX_LEN 9
#define KL_EOS "</s>"
#define KL_EOS_LEN 4
#define KL_TOK_DEFAULT_MAX 65536 /* tokens of a text when max_tokens is 0 */

/* kl_tokenize() for a text the caller has already checked with
 * kl_utf8_validate() (skips the second check). Same contract otherwise. */
int kl_tokenize_validated(const struct kl_tok_opts *o, const char *text,
                          size_t len, struct kl_tokens *tok);

/* Appends the token s[0..n) (copied into tok->buf; s must not point into
 * tok->buf). Returns 0 or KL_ENOMEM. */
int kl_tokens_push(struct kl_tokens *tok, const char *s, size_t n);

/* Appends a token for the bytes already at tok->buf[off .. off + n). */
int kl_tokens_push_span(struct kl_tokens *tok, size_t off, size_t n);

/* Makes tok->buf hold at least need bytes. Returns 0 or KL_ENOMEM. */
int kl_tokens_reserve_buf(struct kl_tokens *tok, size_t need);

/* 1 for the code points KL_TOK_UNICODE treats as CJK characters (CJK
 * ideographs, kana, hangul syllables, ideographic marks and numbers). */
int kl_tokenize_is_cjk(int32_t c);

/* The image under NFKC + case folding of the BMP code point c when the
 * unicode tokenizer's fast path maps it directly (tokenize.c), else 0. */
int32_t kl_tokenize_fast_image(int32_t c);

/* Bits of the unicode tokenizer's class of a BMP code point (the image of
 * a character): a separator (Z*, P*, S*, C*), a combining mark (dropped
 * outside a word), a CJK character (a token of its own). */
#define KL_TOK_CLS_SEP 1u
#define KL_TOK_CLS_MARK 2u
#define KL_TOK_CLS_CJK 4u

/* The unicode tokenizer's fast-path tables, for featurization's one-pass
 * lane (featurize.c): image[c]
 * is kl_tokenize_fast_image(c) for every BMP code point c (0 = not on the
 * fast path), cls[c] its KL_TOK_CLS_* bits. Returns 1 with both set, or 0
 * when the fast path is off (kl_tokenize_set_fast). Thread-safe. */
int kl_tokenize_fast_tables(const uint16_t **image, const uint8_t **cls);

/* Checks the unicode tokenizer's table of character classes (separator,
 * combining mark, CJK) against the utf8proc predicates it tabulates, for
 * every BMP code point, in and out of a word. Returns -1 when all agree,
 * else the first code point that differs. For tests. */
int kl_tokenize_cp_class_check(void);

/* Builds the unicode tokenizer's shared tables now (once per process;
 * otherwise the first text tokenized pays ~1.5 ms for them). Model open
 * calls it. Thread-safe. */
void kl_tokenize_prepare(void);

/* Turns the unicode tokenizer's fast path off (0) or on (1, the default)
 * for the whole process; for tests that compare it with the utf8proc
 * path. Not thread-safe against running tokenizers. */
void kl_tokenize_set_fast(int on);

/* Decodes the 1-3 byte UTF-8 sequence at p[0..n) (n >= 1) into *c, the
 * only forms the tokenizer's fast path takes; returns its length, or 0
 * for a 4-byte, malformed or overlong one (left to utf8proc, which
 * refuses the last two). */
static inline size_t kl_utf8_decode_bmp(const unsigned char *p, size_t n,
                                        unsigned *c)
{
    if (p[0] < 0x80) {
        *c = p[0];
        return 1;
    }
    if (p[0] >= 0xC2 && p[0] < 0xE0 && n >= 2 && (p[1] & 0xC0) == 0x80) {
        *c = (p[0] & 0x1Fu) << 6 | (p[1] & 0x3Fu);
        return 2;
    }
    if (p[0] >= 0xE0 && p[0] < 0xF0 && n >= 3 && (p[1] & 0xC0) == 0x80 &&
        (p[2] & 0xC0) == 0x80) {
        *c = (p[0] & 0x0Fu) << 12 | (p[1] & 0x3Fu) << 6 | (p[2] & 0x3Fu);
        return *c >= 0x800 ? 3 : 0;
    }
    return 0;
}

/* Writes the scalar value c (normalization yields no other) as UTF-8 at
 * out; returns its length. utf8proc_encode_char, inlined. */
static inline size_t kl_utf8_put(uint32_t c, char *out)
{
    unsigned char *o = (unsigned char *)out;

    if (c < 0x80) {
        o[0] = (unsigned char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (unsigned char)(0xC0 | (c >> 6));
        o[1] = (unsigned char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (c >> 12));
        o[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (c >> 18));
    o[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (c & 0x3F));
    return 4;
}

/* 1 when the token t[0..n) is a fastText label ("__label__..."). */
static inline int kl_tokenize_is_label(const char *t, size_t n)
{
    return n >= KL_LABEL_PREFIX_LEN &&
           memcmp(t, KL_LABEL_PREFIX, KL_LABEL_PREFIX_LEN) == 0;
}

/* 1 for fastText's word delimiters: ' ', \t, \n, \v, \f, \r and NUL. */
static inline int kl_tokenize_is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
           c == '\r' || c == '\0';
}

/* Steps *i through s[0..n) to the next fastText word (a run of bytes that
 * kl_tokenize_is_space() does not match): returns 1 with the word at
 * s[*start .. *i), or 0 with *i == n when only delimiters remain. Used by
 * the fasttext tokenizer and the labeled-line parsers (example.c,
 * train_data.c) so that they split lines alike. */
static inline int kl_tokenize_next(const char *s, size_t n, size_t *i,
                                   size_t *start)
{
    while (*i < n && kl_tokenize_is_space((unsigned char)s[*i]))
        (*i)++;
    if (*i >= n)
        return 0;
    *start = *i;
    while (*i < n && !kl_tokenize_is_space((unsigned char)s[*i]))
        (*i)++;
    return 1;
}

#endif /* KL_ENGINE_TOKENIZE_H */
