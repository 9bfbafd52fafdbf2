/*
 * plugin/numfmt.h. The "%.6g" fast path: for a float f in [1e-4, 1] with
 * 10^e <= f < 10^(e+1), f * 10^(5-e) is exact in double (f has 24
 * significant bits, 10^k = 2^k * 5^k and 5^9 < 2^21, so the product needs
 * at most 45 bits), so rint() of it rounds exactly as printf does (to
 * nearest, ties to even) and its six digits are printf's.
 */
#include "numfmt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* "00".."99": two digits per division (a result's timestamp has 13). */
static const char digits2[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

size_t kl_fmt_i64(char *out, int64_t v)
{
    char tmp[24];
    size_t n = sizeof tmp, len = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    while (u >= 100) {
        unsigned r = (unsigned)(u % 100);

        u /= 100;
        n -= 2;
        memcpy(tmp + n, digits2 + 2 * r, 2);
    }
    if (u >= 10) {
        n -= 2;
        memcpy(tmp + n, digits2 + 2 * u, 2);
    } else {
        tmp[--n] = (char)('0' + u);
    }
    if (v < 0)
        out[len++] = '-';
    memcpy(out + len, tmp + n, sizeof tmp - n);
    len += sizeof tmp - n;
    out[len] = '\0';
    return len;
}

size_t kl_fmt_g6(char *out, float v)
{
    static const double pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4,
                                   1e5, 1e6, 1e7, 1e8, 1e9};
    double p = (double)v, r;
    char dig[6];
    size_t len = 0, nd;
    unsigned d;
    int e, i;

    if (p == 0.0 && !signbit(p)) {
        memcpy(out, "0", 2);
        return 1;
    }
    if (!(p >= 1e-4 && p <= 1.0)) {
        int n = snprintf(out, KL_NUMFMT_MAX, "%.6g", p);
        return n < 0 ? 0 : (size_t)n;
    }
    e = p >= 1.0 ? 0 : p >= 0.1 ? -1 : p >= 0.01 ? -2 : p >= 0.001 ? -3 : -4;
    r = rint(p * pow10[5 - e]);
    if (r >= 1e6) { /* rounded up to the next power of ten */
        e++;
        r = rint(p * pow10[5 - e]);
    }
    d = (unsigned)r;
    for (i = 5; i >= 0; i--) {
        dig[i] = (char)('0' + d % 10);
        d /= 10;
    }
    for (nd = 6; nd > 1 && dig[nd - 1] == '0'; nd--)
        ; /* %g drops trailing zeros */
    if (e == 0) {
        out[len++] = dig[0];
        if (nd > 1) {
            out[len++] = '.';
            memcpy(out + len, dig + 1, nd - 1);
            len += nd - 1;
        }
    } else {
        out[len++] = '0';
        out[len++] = '.';
        for (i = -1; i > e; i--)
            out[len++] = '0';
        memcpy(out + len, dig, nd);
        len += nd;
    }
    out[len] = '\0';
    return len;
}
