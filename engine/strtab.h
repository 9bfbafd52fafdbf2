/*
 * engine/strtab.h: a counting table of byte strings (open addressing on
 * kl_hash_fnv1a, strings packed in one arena), used by training to count
 * words and labels. Entries keep their order of first appearance.
 * Not installed.
 */
#ifndef KL_ENGINE_STRTAB_H
#define KL_ENGINE_STRTAB_H

#include <stddef.h>
#include <stdint.h>

struct kl_strtab_entry {
    uint64_t off;   /* start of the string in arena */
    uint32_t len;   /* its length in bytes (a NUL follows it in arena) */
    uint32_t hash;  /* kl_hash_fnv1a() of it */
    int64_t count;  /* times kl_strtab_add() saw it */
};

/* Caller-owned struct: kl_strtab_init() / kl_strtab_fini(). */
struct kl_strtab {
    char *arena;                  /* (arena_cap) NUL-terminated strings */
    size_t arena_len, arena_cap;
    struct kl_strtab_entry *e;    /* (n) entries in first-seen order */
    size_t n, cap;
    int32_t *slot;                /* (mask + 1) entry index or -1 */
    size_t mask;
};

void kl_strtab_init(struct kl_strtab *t);
void kl_strtab_fini(struct kl_strtab *t);

/* Counts one occurrence of s[0..len) and returns its entry index (>= 0),
 * or KL_ENOMEM / KL_ERANGE (more than INT32_MAX entries). */
int64_t kl_strtab_add(struct kl_strtab *t, const char *s, size_t len);

/* The string of entry i (NUL-terminated, in the arena; valid until the
 * next kl_strtab_add()). */
static inline const char *kl_strtab_str(const struct kl_strtab *t, size_t i)
{
    return t->arena + t->e[i].off;
}

/* Entry indices with count >= min_count, sorted by count descending, ties
 * in first-seen order, into *out (caller frees with free()); their number
 * in *n. Returns 0 or KL_ENOMEM. */
int kl_strtab_sorted(const struct kl_strtab *t, int64_t min_count,
                     int32_t **out, size_t *n);

#endif /* KL_ENGINE_STRTAB_H */
