/*
 * engine/segment.c: a Chinese word segmenter that gives the same tokens as
 * jieba 0.42.1's lcut(text, HMM=False), written from its documented
 * behaviour (no code of jieba's):
 *
 * - The dictionary is jieba's dict.txt: lines "word freq [tag]". Every
 *   word goes into a prefix dictionary with its frequency, and every prefix
 *   of it that is not a word with frequency 0; total = the sum of all
 *   frequencies. The keys live in one open-addressing table keyed by the
 *   key's bytes (a running FNV-1a hash, so a look-up of s[k..i+1] extends
 *   the hash of s[k..i]); keys point into the dict.txt bytes, nothing is
 *   copied.
 * - Text is cut into blocks of "han" characters (U+4E00..U+9FD5, ASCII
 *   letters and digits, + # & . _ % -). Between blocks every code point is
 *   a token of its own, white space included, except that "\r\n" stays one
 *   token.
 * - In a block, the DAG has an edge from character k to each i with
 *   s[k..i] a dictionary word of frequency > 0 (the single character k when
 *   there is none); the route is computed right to left as the max over
 *   (log(freq or 1) - log(total) + route[i + 1], i), so ties go to the
 *   longer word. Walking the route, one-character words that are ASCII
 *   letters or digits are glued together into one token.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"
#include "error.h"
#include "segment.h"
#include "tokaux.h"
#include "tokenize.h"

#define FNV_BASIS 2166136261u
#define FNV_PRIME 16777619u

static inline uint32_t seg_hash_byte(uint32_t h, unsigned char c)
{
    return (h ^ c) * FNV_PRIME;
}

/* Slot of a hash (a multiplicative mix: FNV's low bits alone cluster). */
static inline size_t seg_slot(uint32_t h, size_t mask)
{
    return (size_t)((h * 0x9E3779B1u) ^ (h >> 15)) & mask;
}

/* Bytes of the UTF-8 sequence that starts with lead byte c (valid text). */
static inline size_t utf8_len(unsigned char c)
{
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* Entry index of the key k[0..n) with hash h, or -1. */
static inline int64_t seg_find(const struct kl_segmenter *sg, const char *k,
                               size_t n, uint32_t h)
{
    for (size_t s = seg_slot(h, sg->mask);; s = (s + 1) & sg->mask) {
        uint32_t v = sg->slot[s];
        const struct kl_seg_entry *e;
        if (v == 0)
            return -1;
        e = &sg->e[v - 1];
        if (e->hash == h && e->len == n && memcmp(sg->src + e->off, k, n) == 0)
            return (int64_t)v - 1;
    }
}

/* Doubles the slot table and re-inserts every entry. */
static int seg_rehash(struct kl_segmenter *sg)
{
    size_t size = (sg->mask + 1) * 2;
    uint32_t *slot = calloc(size, sizeof *slot);

    if (slot == NULL)
        return KL_ENOMEM;
    free(sg->slot);
    sg->slot = slot;
    sg->mask = size - 1;
    for (size_t i = 0; i < sg->n; i++) {
        size_t s = seg_slot(sg->e[i].hash, sg->mask);
        while (slot[s] != 0)
            s = (s + 1) & sg->mask;
        slot[s] = (uint32_t)i + 1;
    }
    return KL_OK;
}

/* Inserts key src[off .. off + len) (hash h) unless present. A word (is_word)
 * sets the frequency even when the key is there already (a later line of
 * the same word wins, as in jieba); a prefix never changes it. */
static int seg_put(struct kl_segmenter *sg, uint32_t off, size_t len,
                   uint32_t h, uint32_t freq, int is_word)
{
    int64_t i = seg_find(sg, sg->src + off, len, h);
    size_t s;

    if (i >= 0) {
        if (is_word)
            sg->e[i].freq = freq;
        return KL_OK;
    }
    if (sg->n == sg->cap) {
        size_t ncap = sg->cap ? sg->cap * 2 : 4096;
        struct kl_seg_entry *q;
        if (ncap > UINT32_MAX - 1)
            return KL_ERANGE;
        if ((q = realloc(sg->e, ncap * sizeof *q)) == NULL)
            return KL_ENOMEM;
        sg->e = q;
        sg->cap = ncap;
    }
    if (2 * (sg->n + 1) > sg->mask + 1) {
        int rc = seg_rehash(sg);
        if (rc != KL_OK)
            return rc;
    }
    sg->e[sg->n] = (struct kl_seg_entry){off, is_word ? freq : 0, h,
                                         (uint16_t)len};
    for (s = seg_slot(h, sg->mask); sg->slot[s] != 0; s = (s + 1) & sg->mask)
        ;
    sg->slot[s] = (uint32_t)++sg->n;
    return KL_OK;
}

/* Parses the decimal frequency f[0..n) into *out; 0 or -1. */
static int parse_freq(const char *f, size_t n, uint32_t *out)
{
    uint64_t v = 0;

    if (n == 0 || n > 10)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (f[i] < '0' || f[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(f[i] - '0');
    }
    if (v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int is_strip_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f';
}

/* One dict.txt line src[a..b) (without '\n'): "word freq [anything]". */
static int seg_line(struct kl_segmenter *sg, size_t a, size_t b,
                    size_t lineno, char *err, size_t errsz)
{
    const char *s = sg->src;
    const char *sp, *fend;
    uint32_t freq, h = FNV_BASIS;
    size_t wlen;
    int rc;

    if (b - a > KL_SEG_LINE_MAX)
        return kl_error_set(err, errsz, KL_ERANGE,
                            "line %zu: longer than %d bytes", lineno,
                            KL_SEG_LINE_MAX);
    while (a < b && is_strip_space((unsigned char)s[a]))
        a++;
    while (b > a && is_strip_space((unsigned char)s[b - 1]))
        b--;
    if (a == b)
        return KL_OK; /* blank line */
    if (kl_utf8_validate(s + a, b - a, NULL) != KL_OK)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "line %zu: not valid UTF-8", lineno);
    sp = memchr(s + a, ' ', b - a);
    if (sp == NULL)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "line %zu: expected \"word freq [tag]\", found "
                            "no frequency", lineno);
    fend = memchr(sp + 1, ' ', (size_t)(s + b - sp - 1));
    if (fend == NULL)
        fend = s + b;
    if (parse_freq(sp + 1, (size_t)(fend - sp - 1), &freq) != 0)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "line %zu: frequency \"%.*s\" is not a whole "
                            "number in [0, 4294967295]", lineno,
                            (int)(fend - sp - 1 > 32 ? 32 : fend - sp - 1),
                            sp + 1);
    wlen = (size_t)(sp - (s + a));
    /* every prefix ending on a character boundary; the last is the word */
    for (size_t i = 0; i < wlen;) {
        size_t k = utf8_len((unsigned char)s[a + i]);
        for (size_t j = 0; j < k; j++)
            h = seg_hash_byte(h, (unsigned char)s[a + i + j]);
        i += k;
        if ((rc = seg_put(sg, (uint32_t)a, i, h, freq, i == wlen)) != KL_OK)
            return rc == KL_ERANGE
                       ? kl_error_set(err, errsz, rc,
                                      "line %zu: too many keys", lineno)
                       : rc;
    }
    sg->total += freq;
    sg->words++;
    return KL_OK;
}

/* Builds sg's table from sg->src. */
static int seg_build(struct kl_segmenter *sg, char *err, size_t errsz)
{
    size_t pos = 0, lineno = 0, size = 1024;
    int rc;

    if (sg->src_len > KL_SEG_DICT_MAX)
        return kl_error_set(err, errsz, KL_ERANGE,
                            "dictionary larger than %zu bytes",
                            KL_SEG_DICT_MAX);
    while (size < sg->src_len / 4) /* about 2 keys per 20 bytes, load < 0.5 */
        size *= 2;
    if ((sg->slot = calloc(size, sizeof *sg->slot)) == NULL)
        return KL_ENOMEM;
    sg->mask = size - 1;
    while (pos < sg->src_len) {
        const char *nl = memchr(sg->src + pos, '\n', sg->src_len - pos);
        size_t end = nl ? (size_t)(nl - sg->src) : sg->src_len;
        lineno++;
        if ((rc = seg_line(sg, pos, end, lineno, err, errsz)) != KL_OK)
            return rc;
        pos = end + 1;
    }
    if (sg->total <= 0)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "no word with a frequency above 0");
    sg->log_total = log((double)sg->total);
    return KL_OK;
}

/* Contract in engine.h. data is borrowed. */
int kl_segmenter_create(const char *data, size_t len,
                        struct kl_segmenter **out, char *err, size_t errsz)
{
    struct kl_segmenter *sg;
    char why[256] = "";
    int rc;

    if (out == NULL || (data == NULL && len > 0))
        return kl_error_set(err, errsz, KL_EINVAL, "no dictionary or output");
    *out = NULL;
    if ((sg = calloc(1, sizeof *sg)) == NULL)
        return kl_error_set(err, errsz, KL_ENOMEM, "out of memory");
    sg->src = data ? data : "";
    sg->src_len = len;
    rc = seg_build(sg, why, sizeof why);
    if (rc != KL_OK) {
        kl_error_set(err, errsz, rc, "segmenter dictionary: %s",
                     why[0] ? why : kl_strerror(rc));
        kl_segmenter_destroy(sg);
        return rc;
    }
    *out = sg;
    return KL_OK;
}

/* Contract in engine.h. Reads the whole file into a buffer sg owns. */
int kl_segmenter_load(const char *path, struct kl_segmenter **out, char *err,
                      size_t errsz)
{
    FILE *fp = NULL;
    char *buf = NULL;
    long size;
    int rc = KL_OK;

    if (path == NULL || out == NULL)
        return kl_error_set(err, errsz, KL_EINVAL, "no path or output");
    *out = NULL;
    if ((fp = fopen(path, "rb")) == NULL) {
        rc = kl_error_set(err, errsz, KL_EIO, "%s: cannot open: %s", path,
                          strerror(errno));
        goto out;
    }
    if (fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 0 ||
        fseek(fp, 0, SEEK_SET) != 0) {
        rc = kl_error_set(err, errsz, KL_EIO, "%s: cannot size: %s", path,
                          strerror(errno));
        goto out;
    }
    if ((size_t)size > KL_SEG_DICT_MAX) {
        rc = kl_error_set(err, errsz, KL_ERANGE,
                          "%s: larger than %zu bytes", path, KL_SEG_DICT_MAX);
        goto out;
    }
    if ((buf = malloc((size_t)size + 1)) == NULL) {
        rc = kl_error_set(err, errsz, KL_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    if (fread(buf, 1, (size_t)size, fp) != (size_t)size) {
        rc = kl_error_set(err, errsz, KL_EIO, "%s: read error", path);
        goto out;
    }
    if ((rc = kl_segmenter_create(buf, (size_t)size, out, err, errsz)) != KL_OK) {
        char why[300];
        snprintf(why, sizeof why, "%s", err && errsz ? err : "");
        kl_error_set(err, errsz, rc, "%s: %s", path, why);
        goto out;
    }
    (*out)->own = buf;
    buf = NULL;
out:
    if (fp != NULL)
        fclose(fp);
    free(buf);
    return rc;
}

/* Contract in engine.h. */
void kl_segmenter_destroy(struct kl_segmenter *sg)
{
    if (sg == NULL)
        return;
    free(sg->e);
    free(sg->slot);
    free(sg->own);
    free(sg);
}

/* Contract in engine.h. */
void kl_segmenter_stats(const struct kl_segmenter *sg, const char **data,
                        size_t *len, int64_t *words, int64_t *total)
{
    if (data)
        *data = sg->src;
    if (len)
        *len = sg->src_len;
    if (words)
        *words = sg->words;
    if (total)
        *total = sg->total;
}

/* The route over the n characters of s (character i is s[coff[i] ..
 * coff[i+1])): end[i] = last character of the best word starting at i. */
static void seg_route(const struct kl_segmenter *sg, const char *s,
                      const uint32_t *coff, size_t n, double *lp,
                      int32_t *end)
{
    lp[n] = 0.0;
    for (size_t k = n; k-- > 0;) {
        uint32_t h = FNV_BASIS;
        double best = 0.0;
        int32_t best_i = -1;

        for (size_t i = k; i < n; i++) {
            int64_t id;
            for (uint32_t b = coff[i]; b < coff[i + 1]; b++)
                h = seg_hash_byte(h, (unsigned char)s[b]);
            id = seg_find(sg, s + coff[k], coff[i + 1] - coff[k], h);
            if (id < 0)
                break;
            if (sg->e[id].freq > 0) {
                /* same operations, in the same order, as jieba's calc() */
                double v = log((double)sg->e[id].freq) - sg->log_total +
                           lp[i + 1];
                if (best_i < 0 || v >= best) { /* ties: the larger i */
                    best = v;
                    best_i = (int32_t)i;
                }
            }
        }
        if (best_i < 0) { /* no word: the character alone, log(1) = 0 */
            best = 0.0 - sg->log_total + lp[k + 1];
            best_i = (int32_t)k;
        }
        lp[k] = best;
        end[k] = best_i;
    }
}

/* Number of characters of the valid UTF-8 s[0..len). */
static size_t utf8_count(const char *s, size_t len)
{
    size_t n = 0;

    for (size_t b = 0; b < len; b++)
        n += ((unsigned char)s[b] & 0xC0) != 0x80;
    return n;
}

/* Fills a->coff with the character offsets of s[0..len); returns n. */
static size_t seg_offsets(struct kl_tok_aux *a, const char *s, size_t len)
{
    size_t n = 0;

    for (size_t b = 0; b < len; b += utf8_len((unsigned char)s[b]))
        a->coff[n++] = (uint32_t)b;
    a->coff[n] = (uint32_t)len;
    return n;
}

/* Contract in segment.h. */
int kl_segmenter_split(const struct kl_segmenter *sg, struct kl_tokens *tok,
                       size_t start, size_t max)
{
    const char *s = tok->buf + start;
    size_t len = tok->buf_len - start, n;
    struct kl_tok_aux *a;
    int rc;

    if ((rc = kl_tok_aux_get(tok, &a)) != KL_OK ||
        (rc = kl_tok_aux_reserve(a, utf8_count(s, len))) != KL_OK)
        return rc;
    n = seg_offsets(a, s, len);
    seg_route(sg, s, a->coff, n, a->lp, a->end);
    for (size_t x = 0; x < n && tok->n < max;) {
        size_t y = (size_t)a->end[x] + 1;
        rc = kl_tokens_push_span(tok, start + a->coff[x],
                                 a->coff[y] - a->coff[x]);
        if (rc != KL_OK)
            return rc;
        x = y;
    }
    return KL_OK;
}

/* jieba's block characters: U+4E00..U+9FD5, ASCII letters and digits,
 * and + # & . _ % - */
static int is_han_block(const unsigned char *p)
{
    unsigned char c = p[0];

    if (c < 0x80)
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || c == '+' || c == '#' || c == '&' ||
               c == '.' || c == '_' || c == '%' || c == '-';
    if ((c & 0xF0) == 0xE0) {
        uint32_t cp = ((uint32_t)(c & 0x0F) << 12) |
                      ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
        return cp >= 0x4E00 && cp <= 0x9FD5;
    }
    return 0;
}

static int is_ascii_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

/* Segments the block text[a..b) into tok (jieba's cut without HMM). */
static int seg_block(const struct kl_segmenter *sg, const char *text,
                     size_t a, size_t b, struct kl_tokens *tok)
{
    const char *s = text + a;
    size_t n, glue_start = 0, glue_len = 0;
    struct kl_tok_aux *aux;
    int rc;

    if ((rc = kl_tok_aux_get(tok, &aux)) != KL_OK ||
        (rc = kl_tok_aux_reserve(aux, utf8_count(s, b - a))) != KL_OK)
        return rc;
    n = seg_offsets(aux, s, b - a);
    seg_route(sg, s, aux->coff, n, aux->lp, aux->end);
    for (size_t x = 0; x < n;) {
        size_t y = (size_t)aux->end[x] + 1;
        size_t off = aux->coff[x], wl = aux->coff[y] - off;
        if (y == x + 1 && wl == 1 && is_ascii_alnum((unsigned char)s[off])) {
            if (glue_len == 0)
                glue_start = off;
            glue_len += 1;
        } else {
            if (glue_len > 0 &&
                (rc = kl_tokens_push(tok, s + glue_start, glue_len)) != KL_OK)
                return rc;
            glue_len = 0;
            if ((rc = kl_tokens_push(tok, s + off, wl)) != KL_OK)
                return rc;
        }
        x = y;
    }
    if (glue_len > 0)
        return kl_tokens_push(tok, s + glue_start, glue_len);
    return KL_OK;
}

/* Contract in engine.h. tok is caller-owned; its buffers are reused. */
int kl_segment(const struct kl_segmenter *sg, const char *text, size_t len,
               struct kl_tokens *tok)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t i = 0;
    int rc;

    if (sg == NULL || tok == NULL || (text == NULL && len > 0))
        return KL_EINVAL;
    tok->n = 0;
    tok->buf_len = 0;
    if (len > KL_TEXT_MAX)
        return KL_ERANGE;
    if (kl_utf8_validate(text, len, NULL) != KL_OK)
        return KL_EUTF8;
    if ((rc = kl_tokens_reserve_buf(tok, len)) != KL_OK)
        return rc;
    while (i < len) {
        size_t j = i;
        if (is_han_block(p + i)) {
            while (j < len && is_han_block(p + j))
                j += utf8_len(p[j]);
            rc = seg_block(sg, text, i, j, tok);
        } else {
            /* one token per code point; "\r\n" stays together */
            j += (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n')
                     ? 2 : utf8_len(p[i]);
            rc = kl_tokens_push(tok, text + i, j - i);
        }
        if (rc != KL_OK)
            return rc;
        i = j;
    }
    return KL_OK;
}
