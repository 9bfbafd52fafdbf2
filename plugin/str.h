/*
 * plugin/str.h: small string helpers shared by the plugin's modules (the
 * configuration reader and the codecs): formatting into a caller's
 * buffer, white space, copies of byte ranges (as they are or trimmed).
 */
#ifndef KL_PLUGIN_STR_H
#define KL_PLUGIN_STR_H

#include <stddef.h>

/* Formats fmt into dst[0..dstsz) with vsnprintf (truncated, always
 * NUL-terminated); a no-op when dst is NULL or dstsz is 0. Used to fill the
 * (err, errsz) pair of DESIGN.md section 8. dst stays caller-owned. */
void kl_str_format(char *dst, size_t dstsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A malloc'ed copy of the n bytes at s (NUL bytes included) followed by a
 * NUL; NULL when out of memory. Caller owns the result: free(). */
char *kl_str_dup_n(const void *s, size_t n);

/* 1 for the white space of properties files and option values: ' ', \t,
 * \f, \r, \n and \v (the C locale's isspace() without the locale). */
static inline int kl_str_is_space(int ch)
{
    return ch == ' ' || ch == '\t' || ch == '\f' || ch == '\r' || ch == '\n' ||
           ch == '\v';
}

/* A malloc'ed, NUL-terminated copy of s[0..n) without the white space
 * (kl_str_is_space()) at either end; NULL when out of memory. Caller owns
 * the result: free(). */
char *kl_str_dup_trimmed(const char *s, size_t n);

#endif /* KL_PLUGIN_STR_H */
