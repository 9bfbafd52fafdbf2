/*
 * engine/error.h: internal helpers for filling the (err, errsz) pair that
 * engine functions take (DESIGN.md section 8). Not installed.
 */
#ifndef KL_ENGINE_ERROR_H
#define KL_ENGINE_ERROR_H

#include <stddef.h>

/* Formats a reason into err[0..errsz) (always NUL-terminated when errsz > 0;
 * a no-op when err is NULL or errsz is 0) and returns rc, so callers can
 * write `return kl_error_set(err, errsz, KL_EINVAL, "dim %d", d);`. */
int kl_error_set(char *err, size_t errsz, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif /* KL_ENGINE_ERROR_H */
