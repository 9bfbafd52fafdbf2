/*
 * tests/unit/test_fastmod.c: remainders without division (engine/fastmod.h)
 * against the `%` operator, for the divisors featurizing meets (bucket
 * counts) and the edges of both methods.
 */
#include <stdint.h>

#include <criterion/criterion.h>

#include "../../engine/fastmod.h"

static const uint32_t divisors[] = {
    1, 2, 3, 5, 7, 10, 16, 100, 1000, 4096, 65535, 65536, 65537, 100000,
    200000, 1000000, 2000000, 2097152, 10000019, 0x7FFFFFFFu, 0x80000000u,
    0x80000001u, 0xFFFFFFFEu, 0xFFFFFFFFu};

/* Edges of the numerators, then a stream of pseudo-random ones (the
 * n-gram hashes are spread over the whole range). */
static uint64_t numerator(uint32_t i, uint64_t *x)
{
    static const uint64_t edges[] = {0, 1, 2, 0x7FFFFFFF, 0x80000000,
                                     0xFFFFFFFF, 0x100000000, UINT64_MAX - 1,
                                     UINT64_MAX, 0x8000000000000000u};

    if (i < sizeof edges / sizeof edges[0])
        return edges[i];
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return i % 3 == 0 ? *x : i % 3 == 1 ? *x >> 32 : *x >> (i % 61);
}

/* Remainders of the 64-bit (bits 64) or the 32-bit method that differ
 * from the operator's, over every divisor and 200,000 numerators each;
 * the 64-bit one is also tried next to multiples of d, where rounding
 * would show. */
static size_t count_wrong(int bits)
{
    size_t wrong = 0;

    for (size_t k = 0; k < sizeof divisors / sizeof divisors[0]; k++) {
        struct kl_fastmod f;
        uint64_t x = bits == 64 ? 88172645463325252u : 2463534242u;
        uint32_t d = divisors[k];

        kl_fastmod_init(&f, d);
        for (uint32_t i = 0; i < 200000; i++) {
            uint64_t n = numerator(i, &x);

            if (bits == 32) {
                wrong += kl_fastmod_u32(&f, (uint32_t)n) != (uint32_t)n % d;
                continue;
            }
            uint64_t m = n - n % d, near[2] = {m - 1, m + d - 1};

            wrong += kl_fastmod_u64(&f, n) != n % d;
            for (int j = 0; j < 2; j++)
                wrong += kl_fastmod_u64(&f, near[j]) != near[j] % d;
        }
        if (bits == 32)
            wrong += kl_fastmod_u32(&f, UINT32_MAX) != UINT32_MAX % d;
    }
    return wrong;
}

Test(fastmod, u64_matches_the_operator)
{
    size_t wrong = count_wrong(64);

    cr_expect_eq(wrong, 0, "%zu remainders differ from %%", wrong);
}

Test(fastmod, u32_matches_the_operator)
{
    size_t wrong = count_wrong(32);

    cr_expect_eq(wrong, 0, "%zu remainders differ from %%", wrong);
}
