/*
 * engine/featurize.c: tokens -> input-matrix row ids, exactly as fastText's
 * Dictionary::getLine + addSubwords + computeSubwords + addWordNgrams do it
 * (same hashes, same sign extension, same order of ids), and the
 * kl_features buffers it fills.
 */
#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"
#include "dict.h"
#include "hash.h"
#include "tokenize.h"

/* Zeroes f; it owns nothing yet. */
void kl_features_init(struct kl_features *f)
{
    memset(f, 0, sizeof *f);
    kl_tokens_init(&f->tok);
}

/* Frees what f owns and leaves it initialized (reusable). */
void kl_features_fini(struct kl_features *f)
{
    free(f->ids);
    free(f->hashes);
    free(f->origin);
    free(f->word_tok);
    kl_tokens_fini(&f->tok);
    kl_features_init(f);
}

/* Grows an int32 array to hold at least need items (doubling). */
static int reserve_i32(int32_t **p, size_t *cap, size_t need)
{
    size_t ncap = *cap ? *cap : 64;
    int32_t *q;

    if (need <= *cap)
        return KL_OK;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / sizeof **p)
            return KL_ENOMEM;
        ncap *= 2;
    }
    q = realloc(*p, ncap * sizeof **p);
    if (q == NULL)
        return KL_ENOMEM;
    *p = q;
    *cap = ncap;
    return KL_OK;
}

/* Appends id; with f->want_origin also its origin (KL_ORIGIN_* in
 * engine.h): word index << 5 | (span - 1). */
static inline int push_id(struct kl_features *f, int32_t id, uint32_t origin)
{
    if (f->n == f->cap) {
        int rc = reserve_i32(&f->ids, &f->cap, f->n + 1);
        if (rc != KL_OK)
            return rc;
    }
    if (f->want_origin) {
        if (f->n >= f->origin_cap) {
            int rc = reserve_i32((int32_t **)&f->origin, &f->origin_cap,
                                 f->cap);
            if (rc != KL_OK)
                return rc;
        }
        f->origin[f->n] = origin;
    }
    f->ids[f->n++] = id;
    return KL_OK;
}

/* fastText's pushHash: hashed n-gram id h (in [0, bucket)) is row
 * nwords + h, or in a pruned dictionary nwords + its prune-index row, and
 * is dropped when the prune index lacks it. */
static inline int push_hash(const struct kl_dict *d, struct kl_features *f,
                            int32_t h, uint32_t origin)
{
    if (d->pruned && (h = kl_dict_prune_find(d, h)) < 0)
        return KL_OK;
    return push_id(f, d->nwords + h, origin);
}

/* h mod bucket (d->bucket > 0): by multiplication when kl_dict_set_bucket()
 * prepared it, else by division. */
static inline uint32_t bucket_of32(const struct kl_dict *d, uint32_t h)
{
    if (d->bucket_mod.d == (uint32_t)d->bucket)
        return kl_fastmod_u32(&d->bucket_mod, h);
    return h % (uint32_t)d->bucket;
}

static inline uint64_t bucket_of64(const struct kl_dict *d, uint64_t h)
{
    if (d->bucket_mod.d == (uint32_t)d->bucket)
        return kl_fastmod_u64(&d->bucket_mod, h);
    return h % (uint64_t)d->bucket;
}

/* Byte p of the virtual word "<" + t[0..n) + ">". */
#define WORD_BYTE(t, n, p)                                                 \
    ((p) == 0 ? (unsigned char)'<'                                         \
              : (p) == (n) + 1 ? (unsigned char)'>'                        \
                               : (unsigned char)(t)[(p) - 1])

/* fastText's computeSubwords over "<" + t + ">": every n-gram of minn..maxn
 * UTF-8 characters except the lone "<" and ">", hashed into the buckets.
 * FNV-1a is a running hash, so each n-gram's hash extends the previous one. */
static int push_subwords(const struct kl_dict *d, const char *t, size_t n,
                         uint32_t origin, struct kl_features *f)
{
    size_t wlen = n + 2;
    int rc;

    for (size_t i = 0; i < wlen; i++) {
        uint32_t h = 2166136261u;
        size_t j = i;

        if ((WORD_BYTE(t, n, i) & 0xC0) == 0x80)
            continue;
        for (int32_t k = 1; j < wlen && k <= d->maxn; k++) {
            h = (h ^ (uint32_t)(int8_t)WORD_BYTE(t, n, j)) * 16777619u;
            j++;
            while (j < wlen && (WORD_BYTE(t, n, j) & 0xC0) == 0x80) {
                h = (h ^ (uint32_t)(int8_t)WORD_BYTE(t, n, j)) * 16777619u;
                j++;
            }
            if (k >= d->minn && !(k == 1 && (i == 0 || j == wlen))) {
                rc = push_hash(d, f, (int32_t)bucket_of32(d, h), origin);
                if (rc != KL_OK)
                    return rc;
            }
        }
    }
    return KL_OK;
}

/* fastText's addWordNgrams: hashes are int32 and sign-extend into the
 * 64-bit running hash. */
static int push_word_ngrams(const struct kl_dict *d, const int32_t *hashes,
                            size_t nh, struct kl_features *f)
{
    if (d->word_ngrams == 2 && !d->pruned && !f->want_origin &&
        d->bucket_mod.d == (uint32_t)d->bucket && nh > 1) {
        /* fastText's default (bigrams), with no origins to record and no
         * prune index: the ids the loop below gives, with room made once
         * and one remainder a pair (tests/unit/test_predict.c checks them
         * against a plain computation and against the loop) */
        int rc = reserve_i32(&f->ids, &f->cap, f->n + nh - 1);

        if (rc != KL_OK)
            return rc;
        for (size_t i = 0; i + 1 < nh; i++) {
            uint64_t h = (uint64_t)(int64_t)hashes[i] * 116049371u +
                         (uint64_t)(int64_t)hashes[i + 1];

            f->ids[f->n++] =
                d->nwords + (int32_t)kl_fastmod_u64(&d->bucket_mod, h);
        }
        return KL_OK;
    }
    for (size_t i = 0; i < nh; i++) {
        uint64_t h = (uint64_t)(int64_t)hashes[i];
        for (size_t j = i + 1; j < nh && j < i + (size_t)d->word_ngrams; j++) {
            int rc;
            h = h * 116049371u + (uint64_t)(int64_t)hashes[j];
            rc = push_hash(d, f, (int32_t)bucket_of64(d, h),
                           (uint32_t)i << 5 | (uint32_t)(j - i));
            if (rc != KL_OK)
                return rc;
        }
    }
    return KL_OK;
}

/* Contract in dict.h. */
int kl_dict_tokenize(const struct kl_dict *d, const char *text, size_t len,
                     struct kl_features *f)
{
    int rc;

    f->n = 0;
    f->ntokens = 0;
    f->nword_tok = 0;
    if (len > KL_TEXT_MAX)
        return KL_ERANGE;
    /* The unicode tokenizer refuses invalid UTF-8 itself while it
     * normalizes; the check here only makes the refusal early. */
    if (!(f->text_is_utf8 && d->tok.mode == KL_TOK_UNICODE) &&
        kl_utf8_validate(text, len, NULL) != KL_OK)
        return KL_EUTF8;
    rc = kl_tokenize_validated(&d->tok, text, len, &f->tok);
    if (rc != KL_OK)
        return rc;
    f->ntokens = f->tok.n;
    return KL_OK;
}

/* ------------------------------------------------------------------
 * The one-pass lane. With the unicode tokenizer on its fast path (every
 * character's normalized image in its table: tokenize.c), no segmenter,
 * stop words, stemming, char n-grams or origins, a token's only uses are
 * its hash and its word id: the lane walks the text once and takes both
 * as each token ends, instead of writing tokens out for a second loop to
 * read back. It is tokenize_unicode()'s state machine (seg == NULL) with
 * the featurizer's per-token step; tests/unit/test_featurize_lane.c holds
 * it to the two-pass path on the corpora and on random text. */

#define LANE_NO 1 /* not on the lane: take the two-pass path */

/* The featurizer's step for one token of word id wid (-1: not in the
 * vocabulary) and hash h: the id, and the hash for the word n-grams (room
 * made by the caller). */
static inline void lane_token(struct kl_features *f, int32_t wid, uint32_t h,
                              size_t *nh)
{
    if (wid >= 0)
        f->ids[f->n++] = wid;
    f->hashes[(*nh)++] = (int32_t)h;
}

/* The step for a CJK character, a token of its own: code point cp, its
 * 3 UTF-8 bytes b. */
static inline void lane_cjk(const struct kl_dict *d, struct kl_features *f,
                            unsigned cp, const char *b, size_t *nh)
{
    uint32_t h = kl_hash_fnv1a_inline(b, 3);

    lane_token(f, kl_dict_find_cp3(d, cp, b, h), h, nh);
}

/* 1 when d and f allow the lane. */
static int lane_applies(const struct kl_dict *d, const struct kl_features *f)
{
    return d->tok.mode == KL_TOK_UNICODE && d->tok.seg == NULL &&
           d->tok.stop == NULL && d->tok.stem[0] == '\0' &&
           !f->want_origin && !(d->maxn > 0 && d->bucket > 0);
}

/* kl_dict_featurize() of the valid UTF-8 text[0..len) (len <=
 * KL_TEXT_MAX) in one pass. Returns its result, or LANE_NO (f's ids and
 * counts to be redone) when a character is off the tokenizer's fast path
 * or the fast path is off. */
static int featurize_lane(const struct kl_dict *d, const char *text,
                          size_t len, struct kl_features *f)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t max = d->tok.max_tokens ? d->tok.max_tokens : KL_TOK_DEFAULT_MAX;
    size_t room = len < max ? len : max, i = 0, ntok = 0, nh = 0, wlen = 0;
    const uint16_t *image;
    const uint8_t *cls;
    char *word;
    uint32_t wh = 0;
    int in_word = 0, rc;

    if (!kl_tokenize_fast_tables(&image, &cls))
        return LANE_NO;
    /* a token takes at least one byte of text, its image at most three */
    if ((rc = reserve_i32(&f->ids, &f->cap, room)) != KL_OK ||
        (rc = reserve_i32(&f->hashes, &f->hashes_cap, room)) != KL_OK ||
        (rc = kl_tokens_reserve_buf(&f->tok, 3 * len + 3)) != KL_OK)
        return rc;
    f->tok.n = 0;
    f->tok.buf_len = 0;
    word = f->tok.buf;
    while (i < len) {
        unsigned c, m, cl;
        size_t k;
        int sep, cjk;

        /* A run of CJK characters between words, each its own image (the
         * common case of Chinese and Japanese text): a token per 3 bytes,
         * hashed straight from the text. Anything else (a word to end, a
         * character that normalizes to another, a mark, the token limit)
         * goes through the general step below, which does the same for
         * these characters. */
        while (!in_word && ntok < max && i + 3 <= len &&
               (p[i] & 0xF0) == 0xE0 && (p[i + 1] & 0xC0) == 0x80 &&
               (p[i + 2] & 0xC0) == 0x80) {
            c = (p[i] & 0x0Fu) << 12 | (p[i + 1] & 0x3Fu) << 6 |
                (p[i + 2] & 0x3Fu);
            if (image[c] != c || (cls[c] & (KL_TOK_CLS_SEP | KL_TOK_CLS_MARK |
                                            KL_TOK_CLS_CJK)) != KL_TOK_CLS_CJK)
                break; /* also an overlong form: c < 0x800 is no CJK */
            lane_cjk(d, f, c, (const char *)p + i, &nh);
            ntok++;
            i += 3;
        }
        if (i == len)
            break;
        k = kl_utf8_decode_bmp(p + i, len - i, &c);
        if (k == 0 || (m = image[c]) == 0)
            return LANE_NO;
        i += k;
        if (ntok == max)
            continue; /* the rest must still be on the fast path */
        cl = cls[m];
        if ((m >= 0xFE00 && m <= 0xFE0F) ||
            (!in_word && (cl & KL_TOK_CLS_MARK) != 0))
            continue;
        sep = (cl & KL_TOK_CLS_SEP) != 0;
        cjk = !sep && (cl & KL_TOK_CLS_CJK) != 0;
        if (in_word && (sep || cjk)) {
            in_word = 0;
            lane_token(f, kl_dict_find_token(d, word, wlen, wh),
                       wh, &nh);
            if (++ntok == max)
                continue;
        }
        if (sep)
            continue;
        if (cjk) { /* a token of its own: 3 bytes (CJK starts at U+3005) */
            char b[3];

            kl_utf8_put(m, b);
            lane_cjk(d, f, m, b, &nh);
            ntok++;
            continue;
        }
        if (!in_word) {
            in_word = 1;
            wlen = 0;
            wh = KL_FNV1A_INIT; /* extended byte by byte */
        }
        k = kl_utf8_put(m, word + wlen);
        for (size_t j = 0; j < k; j++)
            wh = kl_hash_fnv1a_step(wh, word[wlen + j]);
        wlen += k;
    }
    if (in_word && ntok < max) {
        lane_token(f, kl_dict_find_token(d, word, wlen, wh), wh,
                   &nh);
        ntok++;
    }
    f->ntokens = ntok;
    if (d->bucket > 0 && d->word_ngrams > 1 &&
        (rc = push_word_ngrams(d, f->hashes, nh, f)) != KL_OK)
        return rc;
    return f->n == 0 ? KL_EEMPTY : KL_OK;
}

/* Contract in dict.h / engine.h (kl_model_featurize). */
int kl_dict_featurize(const struct kl_dict *d, const char *text, size_t len,
                      struct kl_features *f)
{
    struct kl_tokens *tok = &f->tok;
    int fasttext = d->tok.mode == KL_TOK_FASTTEXT;
    size_t nh = 0;
    int rc;

    if (lane_applies(d, f) && len <= KL_TEXT_MAX &&
        (f->text_is_utf8 || kl_utf8_validate(text, len, NULL) == KL_OK)) {
        f->n = 0;
        f->ntokens = 0;
        f->nword_tok = 0;
        if ((rc = featurize_lane(d, text, len, f)) != LANE_NO)
            return rc;
    }
    if ((rc = kl_dict_tokenize(d, text, len, f)) != KL_OK)
        return rc;
    rc = reserve_i32(&f->hashes, &f->hashes_cap, tok->n);
    if (rc == KL_OK && f->want_origin)
        rc = reserve_i32((int32_t **)&f->word_tok, &f->word_tok_cap, tok->n);
    if (rc != KL_OK)
        return rc;
    for (size_t i = 0; i < tok->n; i++) {
        const char *t = tok->buf + tok->off[i];
        size_t n = tok->len[i];
        uint32_t h;
        int32_t wid;
        int eos;

        if (fasttext && kl_tokenize_is_label(t, n))
            continue;
        h = kl_hash_fnv1a_inline(t, n);
        wid = kl_dict_find_token(d, t, n, h);
        eos = n == KL_EOS_LEN && memcmp(t, KL_EOS, KL_EOS_LEN) == 0;
        if (wid >= 0 && (rc = push_id(f, wid, (uint32_t)nh << 5)) != KL_OK)
            return rc;
        if (d->maxn > 0 && d->bucket > 0 && !eos &&
            (rc = push_subwords(d, t, n, (uint32_t)nh << 5, f)) != KL_OK)
            return rc;
        if (f->want_origin)
            f->word_tok[f->nword_tok++] = (uint32_t)i;
        f->hashes[nh++] = (int32_t)h;
    }
    if (d->bucket > 0 && d->word_ngrams > 1 &&
        (rc = push_word_ngrams(d, f->hashes, nh, f)) != KL_OK)
        return rc;
    return f->n == 0 ? KL_EEMPTY : KL_OK;
}
