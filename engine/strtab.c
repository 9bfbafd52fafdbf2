/*
 * engine/strtab.c: the counting string table of strtab.h.
 */
#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"
#include "grow.h"
#include "strtab.h"

/* Zeroes t; it owns nothing yet. */
void kl_strtab_init(struct kl_strtab *t)
{
    memset(t, 0, sizeof *t);
}

/* Frees what t owns and leaves it initialized. */
void kl_strtab_fini(struct kl_strtab *t)
{
    free(t->arena);
    free(t->e);
    free(t->slot);
    kl_strtab_init(t);
}

/* Doubles the slot array and re-inserts every entry. */
static int strtab_rehash(struct kl_strtab *t)
{
    size_t size = t->slot ? 2 * (t->mask + 1) : 1024;
    int32_t *slot = malloc(size * sizeof *slot);

    if (slot == NULL)
        return KL_ENOMEM;
    memset(slot, 0xff, size * sizeof *slot);
    for (size_t i = 0; i < t->n; i++) {
        size_t s = t->e[i].hash & (size - 1);
        while (slot[s] >= 0)
            s = (s + 1) & (size - 1);
        slot[s] = (int32_t)i;
    }
    free(t->slot);
    t->slot = slot;
    t->mask = size - 1;
    return KL_OK;
}

/* Contract in strtab.h. */
int64_t kl_strtab_add(struct kl_strtab *t, const char *s, size_t len)
{
    uint32_t h = kl_hash_fnv1a(s, len);
    struct kl_strtab_entry *e;
    size_t slot;
    int rc;

    if (len > UINT32_MAX)
        return KL_ERANGE;
    if ((t->slot == NULL || 2 * (t->n + 1) > t->mask + 1) &&
        (rc = strtab_rehash(t)) != KL_OK)
        return rc;
    for (slot = h & t->mask; t->slot[slot] >= 0; slot = (slot + 1) & t->mask) {
        e = &t->e[t->slot[slot]];
        if (e->hash == h && e->len == len &&
            memcmp(t->arena + e->off, s, len) == 0) {
            e->count++;
            return t->slot[slot];
        }
    }
    if (t->n >= INT32_MAX)
        return KL_ERANGE;
    if ((rc = kl_grow((void **)&t->e, &t->cap, t->n + 1, sizeof *t->e,
                      256)) != KL_OK ||
        (rc = kl_grow((void **)&t->arena, &t->arena_cap, t->arena_len + len + 1,
                      1, 256)) != KL_OK)
        return rc;
    e = &t->e[t->n];
    e->off = t->arena_len;
    e->len = (uint32_t)len;
    e->hash = h;
    e->count = 1;
    memcpy(t->arena + t->arena_len, s, len);
    t->arena[t->arena_len + len] = '\0';
    t->arena_len += len + 1;
    t->slot[slot] = (int32_t)t->n;
    return (int64_t)t->n++;
}

/* qsort_r comparator: count descending, then first-seen order. */
static int cmp_count(const void *a, const void *b, void *ctx)
{
    const struct kl_strtab *t = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    int64_t cx = t->e[x].count, cy = t->e[y].count;

    if (cx != cy)
        return cx > cy ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* Contract in strtab.h. */
int kl_strtab_sorted(const struct kl_strtab *t, int64_t min_count,
                     int32_t **out, size_t *n)
{
    int32_t *idx = malloc((t->n ? t->n : 1) * sizeof *idx);
    size_t k = 0;

    if (idx == NULL)
        return KL_ENOMEM;
    for (size_t i = 0; i < t->n; i++)
        if (t->e[i].count >= min_count)
            idx[k++] = (int32_t)i;
    qsort_r(idx, k, sizeof *idx, cmp_count, (void *)t);
    *out = idx;
    *n = k;
    return KL_OK;
}
