/*
 * engine/dict_prune.c: the prune index of a pruned dictionary (fastText
 * models quantized with a cutoff keep only some hashed n-gram rows; the
 * index maps a kept n-gram's id to its row, and an n-gram it lacks is
 * dropped from the features, as fastText's Dictionary::pushHash does).
 * An open-addressing table over the (id, row) pairs.
 */
#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"
#include "dict.h"
#include "error.h"

static inline size_t prune_hash(int32_t h)
{
    return (size_t)((uint32_t)h * 2654435761u);
}

/* Contract in dict.h. */
int32_t kl_dict_prune_find(const struct kl_dict *d, int32_t h)
{
    if (d->prune_slot == NULL)
        return -1;
    for (size_t s = prune_hash(h) & d->prune_mask;;
         s = (s + 1) & d->prune_mask) {
        int32_t i = d->prune_slot[s];
        if (i < 0)
            return -1;
        if (d->prune[2 * (size_t)i] == h)
            return d->prune[2 * (size_t)i + 1];
    }
}

/* Contract in dict.h. */
int kl_dict_set_prune(struct kl_dict *d, const void *pairs, size_t n,
                      char *err, size_t errsz)
{
    size_t size = 16;
    int rc = KL_OK;

    if (n > (size_t)INT32_MAX || (n > 0 && pairs == NULL))
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "prune index: %zu pairs", n);
    while (size < 2 * n)
        size *= 2;
    d->prune = malloc((n ? n : 1) * 2 * sizeof *d->prune);
    d->prune_slot = malloc(size * sizeof *d->prune_slot);
    if (d->prune == NULL || d->prune_slot == NULL) {
        rc = KL_ENOMEM;
        goto out;
    }
    if (n > 0)
        memcpy(d->prune, pairs, n * 2 * sizeof *d->prune);
    memset(d->prune_slot, 0xff, size * sizeof *d->prune_slot); /* all -1 */
    d->prune_mask = size - 1;
    d->prune_n = n;
    for (size_t i = 0; i < n; i++) {
        int32_t h = d->prune[2 * i], row = d->prune[2 * i + 1];
        size_t s;

        if (h < 0 || h >= d->bucket || row < 0 || (size_t)row >= n) {
            rc = kl_error_set(err, errsz, KL_EFORMAT,
                              "prune index: pair %zu is (%d, %d): the n-gram "
                              "id must be in [0, bucket %d), the row in [0, "
                              "%zu)", i, (int)h, (int)row, (int)d->bucket, n);
            goto out;
        }
        if (kl_dict_prune_find(d, h) >= 0) {
            rc = kl_error_set(err, errsz, KL_EFORMAT,
                              "prune index: n-gram id %d appears twice",
                              (int)h);
            goto out;
        }
        for (s = prune_hash(h) & d->prune_mask; d->prune_slot[s] >= 0;
             s = (s + 1) & d->prune_mask)
            ;
        d->prune_slot[s] = (int32_t)i;
    }
    d->pruned = 1;
out:
    if (rc != KL_OK) {
        free(d->prune);
        free(d->prune_slot);
        d->prune = NULL;
        d->prune_slot = NULL;
        d->prune_n = 0;
        d->pruned = 0;
    }
    return rc;
}
