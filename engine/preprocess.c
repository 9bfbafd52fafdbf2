/*
 * engine/preprocess.c: the steps after the unicode tokenizer has split a
 * text: stop-word removal (a kl_dict over the normalized words) and
 * Snowball stemming through libstemmer (Debian libstemmer-dev), plus the
 * per-kl_tokens scratch (struct kl_tok_aux) they and the segmenter use.
 * sb_stemmer objects are not thread-safe, so each struct kl_tokens (each
 * kl_features) holds its own, created on first use.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libstemmer.h>
#include <utf8proc.h>

#include "klabel/engine.h"
#include "error.h"
#include "preprocess.h"
#include "strtab.h"
#include "tokaux.h"
#include "tokenize.h"

#define KL_STOPWORDS_FILE_MAX (64 << 20) /* largest stop-word file */
#define NORM_OPTS                                                          \
    (UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE |                \
     UTF8PROC_CASEFOLD)

/* Contract in tokaux.h. */
int kl_tok_aux_get(struct kl_tokens *tok, struct kl_tok_aux **out)
{
    if (tok->aux == NULL && (tok->aux = calloc(1, sizeof *tok->aux)) == NULL)
        return KL_ENOMEM;
    *out = tok->aux;
    return KL_OK;
}

/* Contract in tokaux.h. */
int kl_tok_aux_reserve(struct kl_tok_aux *a, size_t nchars)
{
    size_t ncap = a->cap ? a->cap : 256;
    void *p, *q, *r;

    if (nchars <= a->cap)
        return KL_OK;
    while (ncap < nchars) {
        if (ncap > SIZE_MAX / 4 / sizeof(double))
            return KL_ENOMEM;
        ncap *= 2;
    }
    p = realloc(a->coff, (ncap + 1) * sizeof *a->coff);
    if (p != NULL)
        a->coff = p;
    q = realloc(a->end, (ncap + 1) * sizeof *a->end);
    if (q != NULL)
        a->end = q;
    r = realloc(a->lp, (ncap + 1) * sizeof *a->lp);
    if (r != NULL)
        a->lp = r;
    if (p == NULL || q == NULL || r == NULL)
        return KL_ENOMEM;
    a->cap = ncap;
    return KL_OK;
}

/* Contract in tokaux.h. */
void kl_tok_aux_destroy(struct kl_tok_aux *a)
{
    if (a == NULL)
        return;
    free(a->coff);
    free(a->end);
    free(a->lp);
    free(a->buf);
    sb_stemmer_delete(a->stemmer);
    free(a);
}

/* Contract in engine.h. */
int kl_stem_supported(const char *lang)
{
    struct sb_stemmer *st;

    if (lang == NULL || lang[0] == '\0' ||
        strlen(lang) >= KL_STEM_LANG_MAX)
        return 0;
    st = sb_stemmer_new(lang, "UTF_8");
    sb_stemmer_delete(st);
    return st != NULL;
}

/* Contract in preprocess.h. */
int kl_stopwords_create(const char *words, size_t len, int64_t count,
                        struct kl_stopwords **out, char *err, size_t errsz)
{
    struct kl_stopwords *sw;
    int rc;

    *out = NULL;
    if (count < 0 || count > INT32_MAX)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "stop words: count %lld out of range",
                            (long long)count);
    if (kl_utf8_validate(words, len, NULL) != KL_OK)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "stop words: not valid UTF-8");
    if ((sw = calloc(1, sizeof *sw)) == NULL)
        return KL_ENOMEM;
    sw->words = words;
    sw->len = len;
    rc = kl_dict_init(&sw->d, words, len, (int32_t)count, err, errsz);
    if (rc != KL_OK) {
        free(sw);
        return rc;
    }
    *out = sw;
    return KL_OK;
}

/* Contract in engine.h. */
void kl_stopwords_destroy(struct kl_stopwords *sw)
{
    if (sw == NULL)
        return;
    kl_dict_fini(&sw->d);
    free(sw->own);
    free(sw);
}

/* Contract in engine.h. */
size_t kl_stopwords_count(const struct kl_stopwords *sw)
{
    return sw ? (size_t)sw->d.nwords : 0;
}

/* Contract in preprocess.h. */
void kl_stopwords_data(const struct kl_stopwords *sw, const char **words,
                       size_t *len)
{
    *words = sw->words;
    *len = sw->len;
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* One line s[0..n) of a stop-word file into t (normalized, trimmed). */
static int stop_line(struct kl_strtab *t, const char *s, size_t n,
                     size_t lineno, char *err, size_t errsz)
{
    utf8proc_uint8_t *norm = NULL;
    utf8proc_ssize_t m;
    size_t a = 0;
    int rc = KL_OK;

    if (n > KL_STOPWORD_LINE_MAX)
        return kl_error_set(err, errsz, KL_ERANGE,
                            "line %zu: longer than %d bytes", lineno,
                            KL_STOPWORD_LINE_MAX);
    if (kl_utf8_validate(s, n, NULL) != KL_OK)
        return kl_error_set(err, errsz, KL_EUTF8,
                            "line %zu: not valid UTF-8", lineno);
    if (memchr(s, '\0', n) != NULL)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "line %zu: holds a NUL byte", lineno);
    m = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &norm,
                     NORM_OPTS);
    if (m < 0)
        return m == UTF8PROC_ERROR_NOMEM
                   ? KL_ENOMEM
                   : kl_error_set(err, errsz, KL_EUTF8,
                                  "line %zu: cannot normalize", lineno);
    while ((size_t)m > a && is_space(norm[m - 1]))
        m--;
    while ((size_t)m > a && is_space(norm[a]))
        a++;
    if ((size_t)m > a) {
        int64_t id = kl_strtab_add(t, (const char *)norm + a, (size_t)m - a);
        if (id < 0)
            rc = (int)id;
    }
    free(norm);
    return rc;
}

/* Contract in engine.h. */
int kl_stopwords_load(const char *path, struct kl_stopwords **out, char *err,
                      size_t errsz)
{
    struct kl_strtab t;
    FILE *fp = NULL;
    char *text = NULL, *buf = NULL;
    size_t lineno = 0, pos = 0, len;
    char why[256] = "";
    int rc = KL_OK;

    kl_strtab_init(&t);
    if (path == NULL || out == NULL)
        return kl_error_set(err, errsz, KL_EINVAL, "no path or output");
    *out = NULL;
    if ((fp = fopen(path, "rb")) == NULL) {
        rc = kl_error_set(err, errsz, KL_EIO, "%s: cannot open: %s", path,
                          strerror(errno));
        goto out;
    }
    if ((text = malloc(KL_STOPWORDS_FILE_MAX + 1)) == NULL) {
        rc = KL_ENOMEM;
        goto out;
    }
    len = fread(text, 1, KL_STOPWORDS_FILE_MAX + 1, fp);
    if (ferror(fp) || len > KL_STOPWORDS_FILE_MAX) {
        rc = ferror(fp) ? kl_error_set(err, errsz, KL_EIO, "%s: read error",
                                       path)
                        : kl_error_set(err, errsz, KL_ERANGE,
                                       "%s: larger than %d bytes", path,
                                       KL_STOPWORDS_FILE_MAX);
        goto out;
    }
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - text) - pos : len - pos;
        lineno++;
        if ((rc = stop_line(&t, text + pos, n, lineno, why,
                            sizeof why)) != KL_OK) {
            rc = kl_error_set(err, errsz, rc, "%s: %s", path,
                              why[0] ? why : kl_strerror(rc));
            goto out;
        }
        pos += n + 1;
    }
    pos = 0;
    if ((buf = malloc(t.arena_len + 1)) == NULL) {
        rc = KL_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < t.n; i++) { /* first-seen order */
        memcpy(buf + pos, kl_strtab_str(&t, i), t.e[i].len + 1);
        pos += t.e[i].len + 1;
    }
    if ((rc = kl_stopwords_create(buf, pos, (int64_t)t.n, out, why,
                                  sizeof why)) != KL_OK) {
        rc = kl_error_set(err, errsz, rc, "%s: %s", path,
                          why[0] ? why : kl_strerror(rc));
        goto out;
    }
    (*out)->own = buf;
    buf = NULL;
out:
    if (fp != NULL)
        fclose(fp);
    free(text);
    free(buf);
    kl_strtab_fini(&t);
    return rc;
}

/* 1 when the UTF-8 token t[0..n) holds a CJK character. */
static int has_cjk(const char *t, size_t n)
{
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)t + i,
                                              (utf8proc_ssize_t)(n - i), &c);
        if (k <= 0)
            return 0;
        if (kl_tokenize_is_cjk(c))
            return 1;
        i += (size_t)k;
    }
    return 0;
}

/* The stemmer of a for lang, created when absent or for another language. */
static int aux_stemmer(struct kl_tok_aux *a, const char *lang)
{
    if (a->stemmer != NULL && strcmp(a->stem_lang, lang) == 0)
        return KL_OK;
    sb_stemmer_delete(a->stemmer);
    a->stem_lang[0] = '\0';
    if (strlen(lang) >= KL_STEM_LANG_MAX ||
        (a->stemmer = sb_stemmer_new(lang, "UTF_8")) == NULL)
        return KL_EINVAL;
    snprintf(a->stem_lang, sizeof a->stem_lang, "%s", lang);
    return KL_OK;
}

/* Makes a->buf hold need bytes. */
static int aux_buf(struct kl_tok_aux *a, size_t need)
{
    size_t ncap = a->buf_cap ? a->buf_cap : 256;
    char *p;

    if (need <= a->buf_cap)
        return KL_OK;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return KL_ENOMEM;
        ncap *= 2;
    }
    if ((p = realloc(a->buf, ncap)) == NULL)
        return KL_ENOMEM;
    a->buf = p;
    a->buf_cap = ncap;
    return KL_OK;
}

/* Contract in preprocess.h. Tokens are rewritten into a->buf, which then
 * swaps places with tok->buf. */
int kl_preprocess_apply(const struct kl_tok_opts *o, struct kl_tokens *tok)
{
    struct kl_tok_aux *a;
    size_t kept = 0, len = 0, cap;
    char *tmp;
    int rc;

    if ((rc = kl_tok_aux_get(tok, &a)) != KL_OK)
        return rc;
    if (o->stem[0] != '\0' && (rc = aux_stemmer(a, o->stem)) != KL_OK)
        return rc;
    for (size_t i = 0; i < tok->n; i++) {
        const char *t = tok->buf + tok->off[i];
        size_t n = tok->len[i];

        if (o->stop != NULL &&
            kl_dict_find(&o->stop->d, t, n, kl_hash_fnv1a(t, n)) >= 0)
            continue;
        if (o->stem[0] != '\0' && !has_cjk(t, n)) {
            const sb_symbol *st = sb_stemmer_stem(
                a->stemmer, (const sb_symbol *)t, (int)n);
            if (st == NULL)
                return KL_ENOMEM;
            t = (const char *)st;
            n = (size_t)sb_stemmer_length(a->stemmer);
        }
        if (n == 0)
            continue;
        if ((rc = aux_buf(a, len + n)) != KL_OK)
            return rc;
        memcpy(a->buf + len, t, n);
        tok->off[kept] = (uint32_t)len;
        tok->len[kept] = (uint32_t)n;
        kept++;
        len += n;
    }
    tmp = tok->buf;
    tok->buf = a->buf;
    a->buf = tmp;
    cap = tok->buf_cap;
    tok->buf_cap = a->buf_cap;
    a->buf_cap = cap;
    tok->buf_len = len;
    tok->n = kept;
    return KL_OK;
}
