/*
 * engine/error.c: names of the KL_E* codes and the err/errsz formatter
 * shared by every engine module.
 */
#include <stdarg.h>
#include <stdio.h>

#include "klabel/engine.h"
#include "error.h"

/* Static string for rc; never NULL (unknown codes get a generic name). */
const char *kl_strerror(int rc)
{
    switch (rc) {
    case KL_OK: return "success";
    case KL_EINVAL: return "invalid argument";
    case KL_ENOMEM: return "out of memory";
    case KL_EIO: return "I/O error";
    case KL_EFORMAT: return "malformed file or record";
    case KL_EUTF8: return "invalid UTF-8";
    case KL_ERANGE: return "value out of range";
    case KL_EEMPTY: return "no tokens or no examples";
    case KL_EKAFKA: return "Kafka error";
    case KL_ESTATE: return "invalid state";
    default: return "unknown error";
    }
}

/* See error.h. The caller owns err; nothing is allocated. */
int kl_error_set(char *err, size_t errsz, int rc, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errsz == 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
    return rc;
}
