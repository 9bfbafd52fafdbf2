/*
 * Growable byte buffer used by encoders and the CLI. Caller-owned struct;
 * kl_buf_init()/kl_buf_fini().
 */
#ifndef KL_PLUGIN_BUF_H
#define KL_PLUGIN_BUF_H

#include <stddef.h>

struct kl_buf {
    char *data;   /* (cap) bytes, data[len] == '\0' after every append */
    size_t len, cap;
};

void kl_buf_init(struct kl_buf *b);
void kl_buf_fini(struct kl_buf *b);
void kl_buf_reset(struct kl_buf *b);                 /* len = 0, keeps memory */
int kl_buf_append(struct kl_buf *b, const void *p, size_t n); /* 0 or KL_ENOMEM */
int kl_buf_printf(struct kl_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (quotes and escapes included). */
int kl_buf_json_str(struct kl_buf *b, const char *s, size_t n);

#endif
