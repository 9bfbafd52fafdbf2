/*
 * engine/pretrained.c: reading a .vec file (fastText's and word2vec's text
 * format) into the input rows of the training vocabulary's words. Every
 * line is bounded (KL_VEC_WORD_MAX + 64 bytes per value) and every field
 * checked: header, value count, finite numbers, the number of vectors.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"
#include "dict.h"
#include "error.h"
#include "pretrained.h"

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
           c == '\f';
}

/* Reads one line without its '\n' into buf (cap bytes, NUL-terminated).
 * Returns 1, 0 at the end of the file, -1 when it is longer than cap - 1
 * bytes, -2 when it holds a NUL byte (which would cut it short). */
static int read_line(FILE *fp, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    int ch, nul = 0;

    while ((ch = getc_unlocked(fp)) != EOF && ch != '\n') {
        if (n + 1 == cap)
            return -1;
        nul |= ch == '\0';
        buf[n++] = (char)ch;
    }
    if (ch == EOF && n == 0)
        return 0;
    buf[n] = '\0';
    *len = n;
    return nul ? -2 : 1;
}

/* Parses "count dim" from the header line. */
static int parse_header(const char *s, long long *count, long long *dim)
{
    char *end;

    errno = 0;
    *count = strtoll(s, &end, 10);
    if (end == s || errno)
        return -1;
    s = end;
    *dim = strtoll(s, &end, 10);
    if (end == s || errno)
        return -1;
    while (is_blank(*end))
        end++;
    return *end == '\0' ? 0 : -1;
}

/* Parses "word v1 .. vdim" in line into its word and vec[0..dim). */
static int parse_vector(char *line, size_t lineno, int32_t dim, float *vec,
                        char **word, size_t *wlen, char *err, size_t errsz)
{
    char *p = line, *end;

    while (*p != '\0' && *p != ' ' && *p != '\t')
        p++;
    *word = line;
    *wlen = (size_t)(p - line);
    if (*wlen == 0 || *wlen > KL_VEC_WORD_MAX)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "line %zu: the word is empty or longer than %d "
                            "bytes", lineno, KL_VEC_WORD_MAX);
    for (int32_t j = 0; j < dim; j++) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '\r')
            return kl_error_set(err, errsz, KL_EFORMAT,
                                "line %zu: %d values, the header's dim is %d",
                                lineno, (int)j, (int)dim);
        vec[j] = strtof(p, &end);
        if (end == p || !is_blank(*end == '\0' ? ' ' : *end))
            return kl_error_set(err, errsz, KL_EFORMAT,
                                "line %zu: value %d is not a number", lineno,
                                (int)j + 1);
        if (!isfinite(vec[j]))
            return kl_error_set(err, errsz, KL_EFORMAT,
                                "line %zu: value %d is not finite", lineno,
                                (int)j + 1);
        p = end;
    }
    while (is_blank(*p))
        p++;
    if (*p != '\0')
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "line %zu: more than %d values (the header's "
                            "dim)", lineno, (int)dim);
    return KL_OK;
}

/* Contract in pretrained.h. */
int kl_pretrained_apply(const char *path, const char *vocab,
                        size_t vocab_len, int32_t nwords, int32_t dim,
                        float *input, int verbose, char *err, size_t errsz)
{
    struct kl_dict d;
    FILE *fp = NULL;
    char *buf = NULL, *word, why[256] = "";
    float *vec = NULL;
    size_t cap = KL_VEC_WORD_MAX + 64 * (size_t)dim + 64, len, wlen;
    size_t lineno = 1, nvec = 0, found = 0;
    long long count, vdim;
    int rc, r;

    memset(&d, 0, sizeof d);
    if ((rc = kl_dict_init(&d, vocab, vocab_len, nwords, err, errsz)) != KL_OK)
        return rc;
    if ((fp = fopen(path, "rb")) == NULL) {
        rc = kl_error_set(err, errsz, KL_EIO, "%s: cannot open: %s", path,
                          strerror(errno));
        goto out;
    }
    buf = malloc(cap);
    vec = malloc((size_t)dim * sizeof *vec);
    if (buf == NULL || vec == NULL) {
        rc = kl_error_set(err, errsz, KL_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    if ((r = read_line(fp, buf, cap, &len)) <= 0 ||
        parse_header(buf, &count, &vdim) != 0 || count < 0 ||
        count > INT32_MAX) {
        rc = kl_error_set(err, errsz, KL_EFORMAT,
                          "%s: line 1 must be \"count dim\" (a .vec file)",
                          path);
        goto out;
    }
    if (vdim != dim) {
        rc = kl_error_set(err, errsz, KL_EINVAL,
                          "%s: the vectors have dim %lld, training has dim "
                          "%d: they must be equal", path, vdim, (int)dim);
        goto out;
    }
    while ((r = read_line(fp, buf, cap, &len)) > 0) {
        int32_t id;
        lineno++;
        if (nvec == (size_t)count) { /* only blank lines may follow */
            for (size_t i = 0; i < len; i++)
                if (!is_blank(buf[i])) {
                    rc = kl_error_set(err, errsz, KL_EFORMAT,
                                      "%s: line %zu: more vectors than the "
                                      "header's count %lld", path, lineno,
                                      count);
                    goto out;
                }
            continue;
        }
        if ((rc = parse_vector(buf, lineno, dim, vec, &word, &wlen, why,
                               sizeof why)) != KL_OK) {
            rc = kl_error_set(err, errsz, rc, "%s: %s", path, why);
            goto out;
        }
        nvec++;
        id = kl_dict_find(&d, word, wlen, kl_hash_fnv1a(word, wlen));
        if (id >= 0) {
            memcpy(input + (size_t)id * (size_t)dim, vec,
                   (size_t)dim * sizeof *vec);
            found++;
        }
    }
    if (r == -2) {
        rc = kl_error_set(err, errsz, KL_EFORMAT,
                          "%s: line %zu: holds a NUL byte", path, lineno + 1);
        goto out;
    }
    if (r < 0) {
        rc = kl_error_set(err, errsz, KL_ERANGE,
                          "%s: line %zu: longer than %zu bytes", path,
                          lineno + 1, cap - 1);
        goto out;
    }
    if (ferror(fp)) {
        rc = kl_error_set(err, errsz, KL_EIO, "%s: read error", path);
        goto out;
    }
    if (nvec != (size_t)count) {
        rc = kl_error_set(err, errsz, KL_EFORMAT,
                          "%s: %zu vectors, the header says %lld", path,
                          nvec, count);
        goto out;
    }
    if (verbose)
        fprintf(stderr, "pretrained vectors: %zu of %zu lines matched the "
                "%d vocabulary words (%s)\n", found, nvec, (int)nwords, path);
    rc = KL_OK;
out:
    if (fp != NULL)
        fclose(fp);
    free(buf);
    free(vec);
    kl_dict_fini(&d);
    return rc;
}
