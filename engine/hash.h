/*
 * engine/hash.h: fastText's string hash as an inline function, for the
 * featurizer's per-token loop; kl_hash_fnv1a() (engine.h, hash.c) is the
 * same function for everyone else. Not installed.
 */
#ifndef KL_ENGINE_HASH_H
#define KL_ENGINE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define KL_FNV1A_INIT 2166136261u /* the hash of no bytes */

/* The hash h of some bytes extended by byte b (sign-extended from int8 as
 * fastText's `char` is on x86). */
static inline uint32_t kl_hash_fnv1a_step(uint32_t h, char b)
{
    return (h ^ (uint32_t)(int8_t)b) * 16777619u;
}

/* FNV-1a 32-bit over s[0..len). Pure. */
static inline uint32_t kl_hash_fnv1a_inline(const char *s, size_t len)
{
    uint32_t h = KL_FNV1A_INIT;

    for (size_t i = 0; i < len; i++)
        h = kl_hash_fnv1a_step(h, s[i]);
    return h;
}

#endif
