/*
 * Growable byte buffer used by encoders and the CLI. Caller-owned struct;
 * kl_buf_init()/kl_buf_fini().
 */
#ifndef KL_PLUGIN_BUF_H
#define KL_PLUGIN_BUF_H

#include <stddef.h>
#include <string.h>

struct kl_buf {
    char *data;   /* (cap) bytes, data[len] == '\0' after every append */
    size_t len, cap;
};

void kl_buf_init(struct kl_buf *b);
void kl_buf_fini(struct kl_buf *b);
void kl_buf_reset(struct kl_buf *b);                 /* len = 0, keeps memory */
/* kl_buf_append() when the bytes do not fit: grows b first. */
int kl_buf_append_grow(struct kl_buf *b, const void *p, size_t n);

/* Appends n bytes of p. Returns 0 or KL_ENOMEM (b unchanged). Inline: the
 * encoders append a few bytes at a time, per event. */
static inline int kl_buf_append(struct kl_buf *b, const void *p, size_t n)
{
    if (n >= b->cap - b->len) /* also when nothing is allocated yet */
        return kl_buf_append_grow(b, p, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int kl_buf_printf(struct kl_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s[0..n) as a JSON string literal (kl_json_str_to). Returns 0 or
 * KL_ENOMEM (b unchanged). */
int kl_buf_json_str(struct kl_buf *b, const char *s, size_t n);

/* Makes room for extra more bytes (and the NUL) without appending: writers
 * that know a bound of what they append check once, then write to
 * data + len themselves. Returns 0 or KL_ENOMEM (b unchanged). */
int kl_buf_reserve(struct kl_buf *b, size_t extra);

/* Most bytes kl_json_str_to() writes for n input bytes. */
#define KL_JSON_STR_MAX(n) (2 + 6 * (size_t)(n))

/* Writes s[0..n) as a JSON string literal at w (room for
 * KL_JSON_STR_MAX(n) bytes; no NUL): quotes around; '"', '\\' and bytes
 * < 0x20 escaped (the latter as \u00XX); valid UTF-8 copied as is; each
 * byte of an invalid UTF-8 sequence becomes \ufffd, so the output is
 * always valid JSON. s may be NULL when n is 0. Returns the end of what it
 * wrote. */
char *kl_json_str_to(char *w, const char *s, size_t n);

#endif
