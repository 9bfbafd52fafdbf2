/*
 * engine/utf8.c: strict UTF-8 validation (Unicode 13, Table 3-7 "Well-Formed
 * UTF-8 Byte Sequences"): no overlong forms, no surrogates (U+D800..DFFF),
 * nothing past U+10FFFF, no truncated sequences. NUL bytes are allowed.
 */
#include <stdint.h>
#include <string.h>

#include "klabel/engine.h"

/* Length of the well-formed sequence starting at p[0..n), or 0 if the bytes
 * there are not one. n >= 1. */
static size_t utf8_seq_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
    size_t need;

    if (c < 0x80)
        return 1;
    if (c < 0xC2) /* continuation byte, or overlong 2-byte lead C0/C1 */
        return 0;
    if (c < 0xE0) {
        need = 2;
    } else if (c < 0xF0) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c < 0xF5) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* > U+10FFFF */
    } else {
        return 0;
    }
    if (n < need || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return need;
}

/* Contract in engine.h. Reads s[0..len); allocates nothing. Two fast
 * paths before the general check: ASCII runs 16 bytes at a time, and the
 * 3-byte form of most of the BMP (CJK among it), lead E1..EC or EE..EF,
 * which any two continuation bytes complete (E0 and ED restrict their
 * second byte and take the general path). */
int kl_utf8_validate(const char *s, size_t len, size_t *bad_off)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    if (len > 0 && s == NULL)
        return KL_EINVAL;
    while (i < len) {
        unsigned char c = p[i];
        size_t k;

        if (c < 0x80) {
            i++;
            while (i + 16 <= len) {
                uint64_t a, b;

                memcpy(&a, p + i, 8);
                memcpy(&b, p + i + 8, 8);
                if ((a | b) & UINT64_C(0x8080808080808080))
                    break;
                i += 16;
            }
            continue;
        }
        if ((unsigned char)(c - 0xE1) < 0x0F && c != 0xED && i + 3 <= len &&
            (p[i + 1] & 0xC0) == 0x80 && (p[i + 2] & 0xC0) == 0x80) {
            i += 3;
            continue;
        }
        k = utf8_seq_len(p + i, len - i);
        if (k == 0) {
            if (bad_off)
                *bad_off = i;
            return KL_EUTF8;
        }
        i += k;
    }
    return KL_OK;
}
