/*
 * engine/nn_math.h: the logistic sigmoid and tanh over float arrays, four
 * lanes at a time with GCC/Clang vector extensions (SSE2 on x86-64, NEON
 * on arm64: 16-byte vectors, so no ABI depends on AVX), for the LSTM gates (bilstm.c). exp is computed as
 * 2^k * e^r with k = round(x / ln 2), |r| <= ln(2) / 2 split off in two
 * steps (Cody-Waite) and e^r by its degree-6 Taylor polynomial (relative
 * error below 2e-7); arguments are clamped to [-87, 87], so sigmoid and
 * tanh saturate to exactly 0 / 1 / -1 without overflow. Against libm's
 * expf / tanhf the results differ by at most a few float ulps
 * (tests/unit/test_nn.c checks 1e-6). Not installed.
 */
#ifndef KL_ENGINE_NN_MATH_H
#define KL_ENGINE_NN_MATH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef float kl_v4f __attribute__((vector_size(16)));
typedef int32_t kl_v4i __attribute__((vector_size(16)));

/* Lane-wise min(max(x, lo), hi). */
static inline kl_v4f kl_v4_clamp(kl_v4f x, float lo, float hi)
{
    kl_v4f vlo = {lo, lo, lo, lo};
    kl_v4f vhi = {hi, hi, hi, hi};
    kl_v4i m = x < vlo;

    x = (kl_v4f)(((kl_v4i)x & ~m) | ((kl_v4i)vlo & m));
    m = x > vhi;
    return (kl_v4f)(((kl_v4i)x & ~m) | ((kl_v4i)vhi & m));
}

/* e^x, lane-wise (x clamped to [-87, 87]). */
static inline kl_v4f kl_v4_exp(kl_v4f x)
{
    const float magic = 12582912.0f; /* 1.5 * 2^23: rounds to an integer */
    kl_v4f k, r, p;
    kl_v4i e;

    x = kl_v4_clamp(x, -87.0f, 87.0f);
    k = (x * 1.44269504088896341f + magic) - magic;
    r = x - k * 0.693145751953125f;      /* ln 2, high bits */
    r = r - k * 1.428606765330187e-06f;  /* ln 2, the rest */
    p = r * (1.0f / 720.0f) + (1.0f / 120.0f);
    p = p * r + (1.0f / 24.0f);
    p = p * r + (1.0f / 6.0f);
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    e = (__builtin_convertvector(k, kl_v4i) + 127) << 23;
    return p * (kl_v4f)e;
}

/* x[0..n) = 1 / (1 + e^-x[i]). */
static inline void kl_nn_sigmoid_v(float *x, size_t n)
{
    size_t i = 0;

    for (; i + 4 <= n; i += 4) {
        kl_v4f v;
        memcpy(&v, x + i, sizeof v);
        v = 1.0f / (1.0f + kl_v4_exp(-v));
        memcpy(x + i, &v, sizeof v);
    }
    for (; i < n; i++)
        x[i] = 1.0f / (1.0f + expf(-x[i]));
}

/* y[0..n) = tanh(x[0..n)) (y may be x): 2 / (1 + e^-2x) - 1. */
static inline void kl_nn_tanh_v(const float *x, float *y, size_t n)
{
    size_t i = 0;

    for (; i + 4 <= n; i += 4) {
        kl_v4f v;
        memcpy(&v, x + i, sizeof v);
        v = 2.0f / (1.0f + kl_v4_exp(-2.0f * v)) - 1.0f;
        memcpy(y + i, &v, sizeof v);
    }
    for (; i < n; i++)
        y[i] = tanhf(x[i]);
}

#endif /* KL_ENGINE_NN_MATH_H */
