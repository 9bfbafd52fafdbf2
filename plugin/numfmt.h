/*
 * Number formatting for the hot paths (JSON results, ids), without
 * printf: librdkafka pulls in OpenBLAS -> libgfortran -> libquadmath,
 * whose constructor registers printf specifiers, and from then on every
 * printf-family call in the process takes glibc's slow positional path
 * (about 1 us per call). Output is byte for byte what printf would write.
 */
#ifndef KL_PLUGIN_NUMFMT_H
#define KL_PLUGIN_NUMFMT_H

#include <stddef.h>
#include <stdint.h>

/* Room a formatted number needs, NUL included. */
#define KL_NUMFMT_MAX 32

/* Writes v in decimal ("%lld") and a NUL into out (KL_NUMFMT_MAX bytes);
 * returns the length. */
size_t kl_fmt_i64(char *out, int64_t v);

/* Writes (double)v as "%.6g" does and a NUL into out (KL_NUMFMT_MAX bytes);
 * returns the length. Exact (same rounding as glibc) for all floats: values
 * in [1e-4, 1] (probabilities) are formatted here, anything else through
 * snprintf. */
size_t kl_fmt_g6(char *out, float v);

#endif
