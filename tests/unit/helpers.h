/*
 * tests/unit/helpers.h: fixture code shared by the tokenizer-side unit
 * tests (test_preprocess.c, test_segment.c): a literal as (pointer, length),
 * temporary input and model files and a token-list check. Header-only
 * (static inline), included by Criterion test files.
 */
#ifndef KL_TESTS_UNIT_HELPERS_H
#define KL_TESTS_UNIT_HELPERS_H

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

#endif /* KL_TESTS_UNIT_HELPERS_H */
