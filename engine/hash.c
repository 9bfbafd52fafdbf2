/*
 * engine/hash.c: fastText's string hash (FNV-1a 32-bit over the bytes,
 * each sign-extended from int8 as fastText's `char` does on x86); the
 * body is kl_hash_fnv1a_inline() in hash.h.
 */
#include "klabel/engine.h"
#include "hash.h"

/* Contract in engine.h. Pure function of s[0..len). */
uint32_t kl_hash_fnv1a(const char *s, size_t len)
{
    return kl_hash_fnv1a_inline(s, len);
}
