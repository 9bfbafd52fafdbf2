/*
 * engine/tokenize.c: text -> tokens, in the two modes of enum kl_tok_mode.
 *
 * KL_TOK_FASTTEXT reproduces fastText's Dictionary::readWord (split on ASCII
 * white space and NUL, bytes kept as they are) plus one "</s>" at the end.
 * KL_TOK_UNICODE normalizes with utf8proc (NFKC + case folding, the options
 * utf8proc_map would take) into a reusable code point buffer, splits on
 * Unicode categories Z*, P*, S*, C* and makes every CJK ideograph, kana and
 * hangul syllable a token of its own (or, with a segmenter, splits runs of
 * them into dictionary words: segment.c); variation selectors and combining
 * marks that follow no letter are dropped; then stop words and stemming
 * (preprocess.c) when configured. Buffers live in struct kl_tokens and
 * grow geometrically; nothing is allocated per token.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "klabel/engine.h"
#include "grow.h"
#include "preprocess.h"
#include "segment.h"
#include "tokaux.h"
#include "tokenize.h"

#define TOK_NORM_OPTS                                                      \
    (UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE |                \
     UTF8PROC_CASEFOLD)

/* Zeroes tok; it owns nothing yet. */
void kl_tokens_init(struct kl_tokens *tok)
{
    memset(tok, 0, sizeof *tok);
}

/* Frees what tok owns and leaves it initialized (reusable). */
void kl_tokens_fini(struct kl_tokens *tok)
{
    free(tok->buf);
    free(tok->off);
    free(tok->len);
    free(tok->cp);
    kl_tok_aux_destroy(tok->aux);
    kl_tokens_init(tok);
}

/* Grows the token entries by at least one. */
static int tokens_grow(struct kl_tokens *tok)
{
    size_t cap_off, cap_len;
    int rc;

    cap_off = cap_len = tok->cap;
    rc = kl_grow((void **)&tok->off, &cap_off, tok->n + 1, sizeof *tok->off,
                 64);
    if (rc == KL_OK)
        rc = kl_grow((void **)&tok->len, &cap_len, tok->n + 1,
                     sizeof *tok->len, 64);
    if (rc != KL_OK)
        return rc;
    tok->cap = cap_off < cap_len ? cap_off : cap_len;
    return KL_OK;
}

/* Makes room for one more token entry. */
static inline int tokens_reserve_one(struct kl_tokens *tok)
{
    return tok->n < tok->cap ? KL_OK : tokens_grow(tok);
}

/* Appends a token that already sits at buf[start .. buf_len). */
static inline int tokens_close(struct kl_tokens *tok, size_t start)
{
    int rc = tokens_reserve_one(tok);

    if (rc != KL_OK)
        return rc;
    tok->off[tok->n] = (uint32_t)start;
    tok->len[tok->n] = (uint32_t)(tok->buf_len - start);
    tok->n++;
    return KL_OK;
}

/* Contract in tokenize.h. */
int kl_tokens_reserve_buf(struct kl_tokens *tok, size_t need)
{
    return kl_grow((void **)&tok->buf, &tok->buf_cap, need, 1, 64);
}

/* Contract in tokenize.h. */
int kl_tokens_push_span(struct kl_tokens *tok, size_t off, size_t n)
{
    int rc = tokens_reserve_one(tok);

    if (rc != KL_OK)
        return rc;
    tok->off[tok->n] = (uint32_t)off;
    tok->len[tok->n] = (uint32_t)n;
    tok->n++;
    return KL_OK;
}

/* Contract in tokenize.h. */
int kl_tokens_push(struct kl_tokens *tok, const char *s, size_t n)
{
    int rc = kl_grow((void **)&tok->buf, &tok->buf_cap, tok->buf_len + n, 1,
                     64);

    if (rc != KL_OK)
        return rc;
    memcpy(tok->buf + tok->buf_len, s, n);
    tok->buf_len += n;
    return tokens_close(tok, tok->buf_len - n);
}

static int tokenize_fasttext(size_t max, const char *text, size_t len,
                             struct kl_tokens *tok)
{
    size_t i = 0, start, words_max = max - 1; /* the last slot: "</s>" */
    int rc;

    rc = kl_grow((void **)&tok->buf, &tok->buf_cap, len + KL_EOS_LEN, 1, 64);
    if (rc != KL_OK)
        return rc;
    while (tok->n < words_max && kl_tokenize_next(text, len, &i, &start)) {
        memcpy(tok->buf + tok->buf_len, text + start, i - start);
        tok->buf_len += i - start;
        rc = tokens_close(tok, tok->buf_len - (i - start));
        if (rc != KL_OK)
            return rc;
    }
    memcpy(tok->buf + tok->buf_len, KL_EOS, KL_EOS_LEN);
    tok->buf_len += KL_EOS_LEN;
    return tokens_close(tok, tok->buf_len - KL_EOS_LEN);
}

/* Separators: white space, punctuation, symbols, controls, format,
 * surrogates, private use and unassigned code points (Z*, P*, S*, C*). */
static int cp_is_separator_ref(int32_t c)
{
    utf8proc_category_t cat = utf8proc_category(c);

    return cat == UTF8PROC_CATEGORY_CN || cat >= UTF8PROC_CATEGORY_PC;
}

/* Code points dropped without ending a token: variation selectors (emoji
 * presentation, CJK variants), and combining marks with no base character
 * in the token (after a separator they would form tokens of their own). */
static int cp_is_ignored_ref(int32_t c, int in_word)
{
    utf8proc_category_t cat;

    if ((c >= 0xFE00 && c <= 0xFE0F) || (c >= 0xE0100 && c <= 0xE01EF))
        return 1;
    if (in_word)
        return 0;
    cat = utf8proc_category(c);
    return cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_MC ||
           cat == UTF8PROC_CATEGORY_ME;
}

/* CJK ideographs (incl. extensions and compatibility blocks), ideographic
 * marks and numbers, hiragana, katakana and hangul syllables. */
static int cp_is_cjk_char(int32_t c)
{
    return (c >= 0x3005 && c <= 0x3007) ||   /* 々 〆 〇 */
           (c >= 0x3021 && c <= 0x3029) ||   /* Hangzhou numerals */
           (c >= 0x3038 && c <= 0x303C) ||
           (c >= 0x3040 && c <= 0x30FF) ||   /* Hiragana, Katakana */
           (c >= 0x31F0 && c <= 0x31FF) ||   /* Katakana ext. */
           (c >= 0x3400 && c <= 0x4DBF) ||   /* Ext. A */
           (c >= 0x4E00 && c <= 0x9FFF) ||   /* Unified */
           (c >= 0xAC00 && c <= 0xD7AF) ||   /* Hangul syllables */
           (c >= 0xF900 && c <= 0xFAFF) ||   /* Compatibility */
           (c >= 0xFF66 && c <= 0xFF9D) ||   /* half-width katakana */
           (c >= 0x1B000 && c <= 0x1B16F) || /* Kana suppl./ext. */
           (c >= 0x20000 && c <= 0x323AF);   /* Ext. B..H, compat suppl. */
}

/* Contract in tokenize.h. */
int kl_tokenize_is_cjk(int32_t c)
{
    return cp_is_cjk_char(c);
}

/* ------------------------------------------------------------------
 * Normalization fast path. NFKC + case folding maps most text one code
 * point to one code point: a table of the BMP code points for which that
 * holds and nothing can compose across them lets such text skip
 * utf8proc_decompose() + utf8proc_normalize_utf32() (most of the
 * tokenizer's time). A code point is in the table when it and its image
 * have combining class 0 and category not M*, the image is one code
 * point, and both lie in blocks where no character is the second half of
 * a canonical composition with combining class 0 (tab and line breaks,
 * Latin-1, general
 * punctuation, CJK punctuation, kana, CJK ideographs, fullwidth ASCII);
 * a text with any other code point takes the utf8proc path. Checked
 * against that path on every table entry and on real text
 * (tests/unit/test_text.c). */

static uint16_t fast_map[0x10000]; /* image of a BMP code point, 0 = none */
/* What the unicode tokenizer does with a BMP code point (the *_ref
 * predicates above, tabulated: they cost two utf8proc look-ups a
 * character otherwise). */
#define CLS_SEP KL_TOK_CLS_SEP   /* cp_is_separator_ref */
#define CLS_MARK KL_TOK_CLS_MARK /* cp_is_ignored_ref outside a word */
#define CLS_CJK KL_TOK_CLS_CJK   /* cp_is_cjk_char */
static uint8_t cp_class[0x10000];
static pthread_once_t fast_once = PTHREAD_ONCE_INIT;
static int fast_off;                /* kl_tokenize_set_fast(0) */

/* Contract in tokenize.h. */
void kl_tokenize_set_fast(int on)
{
    fast_off = !on;
}

/* Blocks of the fast path (see above). */
static int fast_block(int32_t c)
{
    return (c >= 0x0009 && c <= 0x000D) || (c >= 0x0020 && c <= 0x007E) ||
           (c >= 0x00A0 && c <= 0x00FF) ||
           (c >= 0x2000 && c <= 0x206F) || (c >= 0x3000 && c <= 0x30FF) ||
           (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) ||
           (c >= 0xFF01 && c <= 0xFF5E);
}

static int fast_ok_cp(int32_t c)
{
    const utf8proc_property_t *pr = utf8proc_get_property(c);

    return fast_block(c) && pr->combining_class == 0 &&
           pr->category != UTF8PROC_CATEGORY_MN &&
           pr->category != UTF8PROC_CATEGORY_MC &&
           pr->category != UTF8PROC_CATEGORY_ME &&
           pr->category != UTF8PROC_CATEGORY_CN;
}

static void fast_map_build(void)
{
    utf8proc_int32_t out[8];

    for (int32_t c = 0; c < 0x10000; c++)
        cp_class[c] = (uint8_t)((cp_is_separator_ref(c) ? CLS_SEP : 0) |
                                (cp_is_ignored_ref(c, 0) ? CLS_MARK : 0) |
                                (cp_is_cjk_char(c) ? CLS_CJK : 0));

    for (int32_t c = 0x09; c < 0x10000; c++) {
        utf8proc_ssize_t n;
        utf8proc_uint8_t in[4];
        utf8proc_ssize_t len;

        if (!fast_ok_cp(c))
            continue;
        len = utf8proc_encode_char(c, in);
        n = utf8proc_decompose(in, len, out, 8, TOK_NORM_OPTS);
        if (n == 1)
            n = utf8proc_normalize_utf32(out, n, TOK_NORM_OPTS);
        if (n == 1 && out[0] > 0 && out[0] < 0x10000 && fast_ok_cp(out[0]))
            fast_map[c] = (uint16_t)out[0];
    }
}

/* Contract in tokenize.h. */
void kl_tokenize_prepare(void)
{
    pthread_once(&fast_once, fast_map_build);
}

/* Contract in tokenize.h. */
int kl_tokenize_fast_tables(const uint16_t **image, const uint8_t **cls)
{
    pthread_once(&fast_once, fast_map_build);
    if (fast_off)
        return 0;
    *image = fast_map;
    *cls = cp_class;
    return 1;
}

/* Contract in tokenize.h. */
int32_t kl_tokenize_fast_image(int32_t c)
{
    pthread_once(&fast_once, fast_map_build);
    return c >= 0 && c < 0x10000 ? fast_map[c] : 0;
}

/* Fills tok->cp with the images of valid UTF-8 text[0..len) when every
 * code point has one; returns their count, or -1 (use utf8proc). The
 * caller has built the tables (fast_once). */
static utf8proc_ssize_t fast_normalize(const char *text, size_t len,
                                       struct kl_tokens *tok)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t i = 0, n = 0;

    if (fast_off)
        return -1;
    if (len > tok->cp_cap &&
        kl_grow((void **)&tok->cp, &tok->cp_cap, len, sizeof *tok->cp, 64) !=
            KL_OK)
        return -1;
    while (i < len) {
        unsigned c;
        size_t k = kl_utf8_decode_bmp(p + i, len - i, &c);
        uint16_t m;

        if (k == 0)
            return -1; /* 4-byte sequences, anything malformed or overlong */
        i += k;
        if ((m = fast_map[c]) == 0)
            return -1;
        tok->cp[n++] = m;
    }
    return (utf8proc_ssize_t)n;
}

/* The *_ref predicates through cp_class for the BMP (built with the fast
 * path's table, which tokenize_unicode() has asked for by then). */
static int cp_is_separator(int32_t c)
{
    return c >= 0 && c < 0x10000 ? (cp_class[c] & CLS_SEP) != 0
                                 : cp_is_separator_ref(c);
}

static int cp_is_ignored(int32_t c, int in_word)
{
    if (c >= 0 && c < 0x10000)
        return (c >= 0xFE00 && c <= 0xFE0F) ||
               (!in_word && (cp_class[c] & CLS_MARK) != 0);
    return cp_is_ignored_ref(c, in_word);
}

static int cp_is_cjk(int32_t c)
{
    return c >= 0 && c < 0x10000 ? (cp_class[c] & CLS_CJK) != 0
                                 : cp_is_cjk_char(c);
}

/* Contract in tokenize.h. */
int kl_tokenize_cp_class_check(void)
{
    pthread_once(&fast_once, fast_map_build);
    for (int32_t c = 0; c < 0x10000; c++)
        if (cp_is_separator(c) != cp_is_separator_ref(c) ||
            cp_is_ignored(c, 0) != cp_is_ignored_ref(c, 0) ||
            cp_is_ignored(c, 1) != cp_is_ignored_ref(c, 1) ||
            cp_is_cjk(c) != cp_is_cjk_char(c))
            return c;
    return -1;
}

/* With a segmenter (seg != NULL), a run of CJK characters is collected
 * in tok->buf from run_start on and split into words when it ends. */
static int tokenize_unicode(size_t max, const struct kl_segmenter *seg,
                            const char *text, size_t len,
                            struct kl_tokens *tok)
{
    utf8proc_ssize_t ncp;
    size_t limit = 4 * len + 16, start = 0, run_start = SIZE_MAX;
    int in_word = 0, rc;

    if (len == 0)
        return KL_OK;
    pthread_once(&fast_once, fast_map_build); /* fast_map, cp_class */
    ncp = fast_normalize(text, len, tok);
    if (ncp < 0) {
        for (;;) {
            ncp = utf8proc_decompose((const utf8proc_uint8_t *)text,
                                     (utf8proc_ssize_t)len, tok->cp,
                                     (utf8proc_ssize_t)tok->cp_cap,
                                     TOK_NORM_OPTS);
            if (ncp < 0)
                return ncp == UTF8PROC_ERROR_NOMEM ? KL_ENOMEM : KL_EUTF8;
            if ((size_t)ncp > limit)
                return KL_ERANGE;
            if ((size_t)ncp <= tok->cp_cap)
                break;
            rc = kl_grow((void **)&tok->cp, &tok->cp_cap, (size_t)ncp,
                         sizeof *tok->cp, 64);
            if (rc != KL_OK)
                return rc;
        }
        ncp = utf8proc_normalize_utf32(tok->cp, ncp, TOK_NORM_OPTS);
        if (ncp < 0)
            return KL_EUTF8;
    }
    rc = kl_grow((void **)&tok->buf, &tok->buf_cap, 4 * (size_t)ncp, 1, 64);
    if (rc != KL_OK)
        return rc;
    for (utf8proc_ssize_t i = 0; i < ncp && tok->n < max; i++) {
        int32_t c = tok->cp[i];
        int sep, cjk;

        if (c >= 0 && c < 0x10000) { /* one look-up: cp_is_* inlined */
            unsigned cls = cp_class[c];

            if ((c >= 0xFE00 && c <= 0xFE0F) ||
                (!in_word && (cls & CLS_MARK) != 0))
                continue;
            sep = (cls & CLS_SEP) != 0;
            cjk = !sep && (cls & CLS_CJK) != 0;
        } else {
            if (cp_is_ignored(c, in_word))
                continue;
            sep = cp_is_separator(c);
            cjk = !sep && cp_is_cjk(c);
        }

        if (run_start != SIZE_MAX && !cjk) {
            if ((rc = kl_segmenter_split(seg, tok, run_start, max)) != KL_OK)
                return rc;
            run_start = SIZE_MAX;
            if (tok->n == max)
                break;
        }
        if (in_word && (sep || cjk)) {
            in_word = 0;
            if ((rc = tokens_close(tok, start)) != KL_OK)
                return rc;
            if (tok->n == max)
                break;
        }
        if (sep)
            continue;
        if (cjk && seg != NULL) {
            if (run_start == SIZE_MAX)
                run_start = tok->buf_len;
            tok->buf_len += kl_utf8_put((uint32_t)c, tok->buf + tok->buf_len);
            continue;
        }
        if (!in_word) {
            start = tok->buf_len;
            in_word = 1;
        }
        tok->buf_len += kl_utf8_put((uint32_t)c, tok->buf + tok->buf_len);
        if (cjk) {
            in_word = 0;
            if ((rc = tokens_close(tok, start)) != KL_OK)
                return rc;
        }
    }
    if (run_start != SIZE_MAX && tok->n < max)
        return kl_segmenter_split(seg, tok, run_start, max);
    if (in_word && tok->n < max)
        return tokens_close(tok, start);
    return KL_OK;
}

/* Contract in tokenize.h: like kl_tokenize() without the UTF-8 check. */
int kl_tokenize_validated(const struct kl_tok_opts *o, const char *text,
                          size_t len, struct kl_tokens *tok)
{
    size_t max;

    if (o == NULL || tok == NULL || (text == NULL && len > 0))
        return KL_EINVAL;
    tok->n = 0;
    tok->buf_len = 0;
    if (len > KL_TEXT_MAX)
        return KL_ERANGE;
    max = o->max_tokens ? o->max_tokens : KL_TOK_DEFAULT_MAX;
    if (max > UINT32_MAX)
        max = UINT32_MAX;
    switch (o->mode) {
    case KL_TOK_FASTTEXT:
        return tokenize_fasttext(max, text, len, tok);
    case KL_TOK_UNICODE: {
        int rc = tokenize_unicode(max, o->seg, text, len, tok);
        if (rc == KL_OK && (o->stop != NULL || o->stem[0] != '\0'))
            rc = kl_preprocess_apply(o, tok);
        return rc;
    }
    default:
        return KL_EINVAL;
    }
}

/* Contract in engine.h. tok is caller-owned; its buffers are reused. */
int kl_tokenize(const struct kl_tok_opts *o, const char *text, size_t len,
                struct kl_tokens *tok)
{
    if (o != NULL && o->mode == KL_TOK_UNICODE && len <= KL_TEXT_MAX &&
        kl_utf8_validate(text, len, NULL) != KL_OK) {
        if (tok != NULL)
            tok->n = tok->buf_len = 0;
        return KL_EUTF8;
    }
    return kl_tokenize_validated(o, text, len, tok);
}
