/*
 * engine/hash.c: fastText's string hash (FNV-1a 32-bit over the bytes,
 * each sign-extended from int8 as fastText's `char` does on x86).
 */
#include "klabel/engine.h"

/* Contract in engine.h. Pure function of s[0..len). */
uint32_t kl_hash_fnv1a(const char *s, size_t len)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < len; i++) {
        h ^= (uint32_t)(int8_t)s[i];
        h *= 16777619u;
    }
    return h;
}
