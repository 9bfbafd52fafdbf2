/*
 * engine/fastmod.h: remainders by a divisor fixed at run time, without a
 * division instruction. Featurizing takes one remainder per word n-gram
 * and per char n-gram (the hash modulo the bucket count); a 64-bit `div`
 * costs 35-90 cycles on the Skylake family, these a few multiplications.
 *
 *   32-bit numerators: Lemire, Kaser, Kurz, "Faster Remainder by Direct
 *   Computation" (2019): M = floor((2^64 - 1) / d) + 1, then
 *   n mod d = ((M * n mod 2^64) * d) >> 64, exact for every n, d < 2^32.
 *   64-bit numerators: Granlund and Montgomery, "Division by Invariant
 *   Integers using Multiplication" (1994), the round-up variant with the
 *   overflow-free add: l = ceil(log2 d), m = floor(2^(64+l) / d) + 1 - 2^64,
 *   t = mulhi(m, n), q = (t + ((n - t) >> 1)) >> (l - 1), exact for every
 *   n < 2^64 and 2 <= d < 2^32.
 */
#ifndef KL_FASTMOD_H
#define KL_FASTMOD_H

#include <stdint.h>

struct kl_fastmod {
    uint32_t d;   /* the divisor, >= 1; 0 = not set up */
    uint64_t m32; /* Lemire's M */
    uint64_t m64; /* Granlund-Montgomery's m (d >= 2) */
    unsigned sh;  /* l - 1 (d >= 2) */
};

/* Sets f up for divisor d >= 1. */
static inline void kl_fastmod_init(struct kl_fastmod *f, uint32_t d)
{
    unsigned l = 0;

    f->d = d;
    f->m32 = UINT64_MAX / d + 1;
    while (l < 32 && ((uint64_t)1 << l) < d)
        l++;
    f->sh = l > 0 ? l - 1 : 0;
    f->m64 = l > 0 ? (uint64_t)((((unsigned __int128)1 << (64 + l)) / d) + 1)
                   : 0; /* the 2^64 term falls off in the uint64_t */
}

/* n mod f->d for a 32-bit n. */
static inline uint32_t kl_fastmod_u32(const struct kl_fastmod *f, uint32_t n)
{
    uint64_t low = f->m32 * n;

    return (uint32_t)(((unsigned __int128)low * f->d) >> 64);
}

/* n mod f->d for a 64-bit n. */
static inline uint64_t kl_fastmod_u64(const struct kl_fastmod *f, uint64_t n)
{
    uint64_t t, q;

    if (f->d == 1)
        return 0;
    t = (uint64_t)(((unsigned __int128)f->m64 * n) >> 64);
    q = (t + ((n - t) >> 1)) >> f->sh;
    return n - q * f->d;
}

#endif
