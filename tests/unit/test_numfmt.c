/*
 * Unit tests of plugin/numfmt.c against snprintf: "%lld" at the int64
 * edges and around powers of ten; "%.6g" for every 61st float in
 * [1e-4, 1] (about 1.9 million), every power of two and its neighbours
 * (the exact ties of round-half-even), values that round up to the next
 * power of ten, and the slow-path values (0, -0, tiny, > 1, NaN, inf).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "numfmt.h"

static void check_i64(int64_t v)
{
    char a[KL_NUMFMT_MAX], b[KL_NUMFMT_MAX];
    size_t n = kl_fmt_i64(a, v);

    snprintf(b, sizeof b, "%lld", (long long)v);
    cr_assert_str_eq(a, b);
    cr_assert_eq(n, strlen(b));
}

Test(numfmt, i64_like_printf)
{
    int64_t p = 1;

    check_i64(0);
    check_i64(INT64_MAX);
    check_i64(INT64_MIN);
    check_i64(INT64_MIN + 1);
    for (int i = 0; i < 18; i++, p *= 10) {
        check_i64(p);
        check_i64(p - 1);
        check_i64(-p);
        check_i64(-p + 1);
    }
    for (int64_t v = -100000; v <= 100000; v++) /* every digit pair */
        check_i64(v);
    for (uint64_t x = 88172645463325252u, i = 0; i < 100000; i++) {
        x ^= x << 13; /* xorshift64: numbers of every length */
        x ^= x >> 7;
        x ^= x << 17;
        check_i64((int64_t)(x >> (x & 63)));
        check_i64(-(int64_t)(x >> 1 >> (x & 63)));
    }
}

static int check_g6(float f)
{
    char a[KL_NUMFMT_MAX], b[KL_NUMFMT_MAX];
    size_t n = kl_fmt_g6(a, f);

    snprintf(b, sizeof b, "%.6g", (double)f);
    if (strcmp(a, b) || n != strlen(b)) {
        cr_log_error("%a: got %s, printf %s", (double)f, a, b);
        return 1;
    }
    return 0;
}

Test(numfmt, g6_like_printf_on_probabilities)
{
    float lo = 1e-4f, f;
    uint32_t u, hi;
    int bad = 0;

    memcpy(&u, &lo, sizeof u);
    f = 1.0f;
    memcpy(&hi, &f, sizeof hi);
    u -= 64; /* start a little below 1e-4: the slow path's edge too */
    for (; u <= hi + 64 && bad < 10; u += 61) {
        memcpy(&f, &u, sizeof f);
        bad += check_g6(f);
    }
    for (int e = -40; e <= 2 && bad < 10; e++) {
        float p2 = ldexpf(1.0f, e);

        bad += check_g6(p2);
        bad += check_g6(nextafterf(p2, 0.0f));
        bad += check_g6(nextafterf(p2, 2.0f));
    }
    cr_expect_eq(bad, 0);
}

Test(numfmt, g6_rounding_and_edges)
{
    static const float v[] = {0.0f, -0.0f, 1.0f, 0.5f, 0.1f, 0.01f, 0.001f,
                              0.0001f, 0.00009999999f, 0.9999996f,
                              0.09999996f, 0.009999997f, 0.0009999999f,
                              0.001953125f, 0.123456789f, 0.33333334f,
                              1e-30f, 1.0000001f, 3.5f, 123456.7f, -0.25f};
    int bad = 0;

    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        bad += check_g6(v[i]);
    bad += check_g6(NAN);
    bad += check_g6(INFINITY);
    bad += check_g6(-INFINITY);
    cr_expect_eq(bad, 0);
}
