/*
 * plugin/str.c: the string helpers of str.h.
 */
#include "str.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Contract in str.h. */
void kl_str_format(char *dst, size_t dstsz, const char *fmt, ...)
{
    va_list ap;

    if (!dst || !dstsz)
        return;
    va_start(ap, fmt);
    vsnprintf(dst, dstsz, fmt, ap);
    va_end(ap);
}

/* Contract in str.h. */
char *kl_str_dup_n(const void *s, size_t n)
{
    char *r = malloc(n + 1);

    if (r) {
        memcpy(r, s, n);
        r[n] = '\0';
    }
    return r;
}

/* Contract in str.h. */
char *kl_str_dup_trimmed(const char *s, size_t n)
{
    while (n && kl_str_is_space((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && kl_str_is_space((unsigned char)s[n - 1]))
        n--;
    return kl_str_dup_n(s, n);
}
