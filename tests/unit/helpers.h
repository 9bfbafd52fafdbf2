/*
 * tests/unit/helpers.h: fixture code shared by the tokenizer-side unit
 * tests (test_preprocess.c, test_segment.c, test_tok_fast.c,
 * test_featurize_lane.c): a literal as (pointer, length), temporary input
 * and model files, a token-list check, the corpora's lines and a random
 * number generator. Header-only
 * (static inline), included by Criterion test files.
 */
#ifndef KL_TESTS_UNIT_HELPERS_H
#define KL_TESTS_UNIT_HELPERS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "klabel/engine.h"

/* A string literal as the (text, len) argument pair, without its NUL. */
#define S(lit) (lit), (sizeof(lit) - 1)

/* Writes text[0..len) to a new file /tmp/kl_test_XXXXXX (mkstemp) and
 * returns its path; asserts on failure. Caller owns the path (free()) and
 * removes the file (unlink()). */
static inline char *kl_test_write_tmp(const char *text, size_t len)
{
    char *path = strdup("/tmp/kl_test_XXXXXX");
    int fd;

    cr_assert(path != NULL);
    fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

/* Creates the empty file named by the mkstemp template tmpl (rewritten in
 * place to the actual name), for a test to write a model into; asserts on
 * failure. The caller removes it (unlink()). */
static inline void kl_test_mkstemp(char *tmpl)
{
    int fd = mkstemp(tmpl);

    cr_assert(fd >= 0);
    close(fd);
}

/* Expects tok to hold exactly the n tokens of want, in order; what names
 * the case in failure messages. Only reads tok. */
static inline void kl_test_expect_tokens(const struct kl_tokens *tok,
                                         const char *const *want, size_t n,
                                         const char *what)
{
    cr_expect_eq(tok->n, n, "%s: %zu tokens, expected %zu", what, tok->n, n);
    for (size_t i = 0; i < n && i < tok->n; i++)
        cr_expect(tok->len[i] == strlen(want[i]) &&
                      memcmp(tok->buf + tok->off[i], want[i], tok->len[i]) == 0,
                  "%s: token %zu is '%.*s', expected '%s'", what, i,
                  (int)tok->len[i], tok->buf + tok->off[i], want[i]);
}

/* The next 32 bits of the xorshift64 generator whose state is *s (not 0):
 * reproducible random inputs for tests. */
static inline uint32_t kl_test_xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (uint32_t)(*s >> 32);
}

/* Calls fn(ud, file, line, len) for each line of each corpus of
 * docs/DATA in KL_DATA_DIR that is there (`make data` fetches THUCNews;
 * Reuters, SMS spam and MCC come with the accuracy benchmarks); the line
 * keeps its newline. Returns the lines read: 0 without KL_DATA_DIR. */
typedef void kl_test_line_fn(void *ud, const char *file, const char *line,
                             size_t len);
static inline size_t kl_test_corpus_lines(kl_test_line_fn *fn, void *ud)
{
    static const char *const files[] = {"thucnews.tsv", "reuters-train.tsv",
                                        "sms-spam.tsv", "mcc.tsv"};
    const char *dir = getenv("KL_DATA_DIR");
    size_t lines = 0, cap = 0;
    char *line = NULL;

    for (size_t f = 0; dir && f < sizeof files / sizeof files[0]; f++) {
        char path[4096];
        FILE *fp;
        ssize_t n;

        snprintf(path, sizeof path, "%s/%s", dir, files[f]);
        if (!(fp = fopen(path, "r")))
            continue;
        while ((n = getline(&line, &cap, fp)) > 0) {
            lines++;
            fn(ud, files[f], line, (size_t)n);
        }
        fclose(fp);
    }
    free(line);
    return lines;
}

#endif /* KL_TESTS_UNIT_HELPERS_H */
