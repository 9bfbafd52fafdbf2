/*
 * engine/hash.h: fastText's string hash as an inline function, for the
 * featurizer's per-token loop; kl_hash_fnv1a() (engine.h, hash.c) is the
 * same function for everyone else. Not installed.
 */
#ifndef KL_ENGINE_HASH_H
#define KL_ENGINE_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a 32-bit over s[0..len), each byte sign-extended from int8 as
 * fastText's `char` is on x86. Pure. */
static inline uint32_t kl_hash_fnv1a_inline(const char *s, size_t len)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < len; i++) {
        h ^= (uint32_t)(int8_t)s[i];
        h *= 16777619u;
    }
    return h;
}

#endif
