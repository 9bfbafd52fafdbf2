/*
 * plugin/str.c: the string helpers of str.h.
 */
#include "str.h"

#include <stdarg.h>
#include <stdio.h>

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
