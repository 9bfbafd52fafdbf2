/*
 * Growable byte buffer (plugin/buf.h): the output side of encoders and the
 * CLI. Memory doubles on growth; data is always NUL-terminated after an
 * append so it can be printed. JSON string escaping lives here because every
 * encoder needs exactly the same rules.
 */
#include "buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"

/* Zeroes b; no memory is held until the first append. */
void kl_buf_init(struct kl_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

/* Frees b's memory and re-inits it. */
void kl_buf_fini(struct kl_buf *b)
{
    free(b->data);
    kl_buf_init(b);
}

/* Forgets the content, keeps the memory for reuse. */
void kl_buf_reset(struct kl_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

/* Makes room for `extra` more bytes plus the terminating NUL.
 * Returns 0 or KL_ENOMEM (b unchanged). */
static int buf_reserve(struct kl_buf *b, size_t extra)
{
    size_t need, cap;
    char *p;

    if (extra > SIZE_MAX - b->len - 1)
        return KL_ENOMEM;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    p = realloc(b->data, cap);
    if (!p)
        return KL_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

/* Contract in buf.h. */
int kl_buf_append_grow(struct kl_buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n) != 0)
        return KL_ENOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

/* Appends printf-formatted text. Returns 0, KL_ENOMEM or KL_EINVAL (a bad
 * format); b is unchanged on error. */
int kl_buf_printf(struct kl_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n, rc = 0;
    size_t room;

    if (buf_reserve(b, 64) != 0)
        return KL_ENOMEM;
    room = b->cap - b->len;
    va_start(ap, fmt);
    n = vsnprintf(b->data + b->len, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
        rc = KL_EINVAL;
        goto out;
    }
    if ((size_t)n >= room) {
        if (buf_reserve(b, (size_t)n) != 0) {
            rc = KL_ENOMEM;
            goto out;
        }
        va_start(ap, fmt);
        n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            rc = KL_EINVAL;
            goto out;
        }
    }
    b->len += (size_t)n;
out:
    b->data[b->len] = '\0';
    return rc;
}

/* Escape-copies s[0..n), which is valid UTF-8 apart from its bytes being
 * checked here one by one for the characters JSON must escape, to w;
 * returns the end of what it wrote (at most 6 * n bytes). */
static char *json_copy_run(char *w, const unsigned char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, start = 0;

    for (i = 0; i < n; i++) {
        unsigned char c = s[i];

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        memcpy(w, s + start, i - start);
        w += i - start;
        if (c == '"' || c == '\\') {
            *w++ = '\\';
            *w++ = (char)c;
        } else {
            memcpy(w, "\\u00", 4);
            w[4] = hex[c >> 4];
            w[5] = hex[c & 15];
            w += 6;
        }
        start = i + 1;
    }
    memcpy(w, s + start, n - start);
    return w + (n - start);
}

/* Contract in buf.h. */
char *kl_json_str_to(char *w, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    /* Printable ASCII with nothing to escape (labels, ids, topics): one
     * copy, no UTF-8 check. */
    while (i < n && u[i] >= 0x20 && u[i] < 0x7F && u[i] != '"' && u[i] != '\\')
        i++;
    *w++ = '"';
    if (i == n) {
        if (n)
            memcpy(w, s, n);
        w += n;
        *w++ = '"';
        return w;
    }
    i = 0;
    while (i < n) {
        size_t bad = 0, run;

        if (kl_utf8_validate((const char *)u + i, n - i, &bad) == 0)
            run = n - i;
        else
            run = bad;
        w = json_copy_run(w, u + i, run);
        i += run;
        if (i < n) {
            memcpy(w, "\\ufffd", 6);
            w += 6;
            i++;
        }
    }
    *w++ = '"';
    return w;
}

/* Contract in buf.h. */
int kl_buf_reserve(struct kl_buf *b, size_t extra)
{
    return buf_reserve(b, extra);
}

/* Appends s[0..n) as a JSON string literal (kl_json_str_to). s may be NULL
 * when n is 0. Returns 0 or KL_ENOMEM (b unchanged). */
int kl_buf_json_str(struct kl_buf *b, const char *s, size_t n)
{
    if (n > (SIZE_MAX - 2) / 6 || buf_reserve(b, KL_JSON_STR_MAX(n)) != 0)
        return KL_ENOMEM;
    b->len = (size_t)(kl_json_str_to(b->data + b->len, s, n) - b->data);
    b->data[b->len] = '\0';
    return 0;
}
