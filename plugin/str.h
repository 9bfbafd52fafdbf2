/*
 * plugin/str.h: small string helpers shared by the plugin's modules (the
 * configuration reader and the codecs).
 */
#ifndef KL_PLUGIN_STR_H
#define KL_PLUGIN_STR_H

#include <stddef.h>

/* Formats fmt into dst[0..dstsz) with vsnprintf (truncated, always
 * NUL-terminated); a no-op when dst is NULL or dstsz is 0. Used to fill the
 * (err, errsz) pair of DESIGN.md section 8. dst stays caller-owned. */
void kl_str_format(char *dst, size_t dstsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* KL_PLUGIN_STR_H */
