/*
 * engine/dict.c: the vocabulary index (exact look-up of a token's word id)
 * built once when a model opens or training has counted its words.
 */
#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"
#include "dict.h"
#include "error.h"

/* Fills d->cp3 (contract in dict.h) from the finished index. */
static int index_cp3(struct kl_dict *d)
{
    d->cp3 = malloc(KL_DICT_CP3_N * sizeof *d->cp3);
    if (d->cp3 == NULL)
        return KL_ENOMEM;
    for (unsigned cp = KL_DICT_CP3_FIRST; cp < 0x10000; cp++) {
        char w[3] = {(char)(0xE0 | cp >> 12), (char)(0x80 | (cp >> 6 & 0x3F)),
                     (char)(0x80 | (cp & 0x3F))};

        d->cp3[cp - KL_DICT_CP3_FIRST] =
            kl_dict_find(d, w, 3, kl_hash_fnv1a(w, 3));
    }
    return KL_OK;
}

/* Contract in dict.h. */
int kl_dict_init(struct kl_dict *d, const char *vocab, size_t vocab_len,
                 int32_t nwords, char *err, size_t errsz)
{
    size_t size = 16, pos = 0;
    int rc = KL_OK, cp3_words = 0;

    memset(d, 0, sizeof *d);
    if (nwords < 0)
        return kl_error_set(err, errsz, KL_EFORMAT, "vocab: nwords %d < 0",
                            (int)nwords);
    if (nwords > 0 && (vocab == NULL || vocab_len == 0 ||
                       vocab[vocab_len - 1] != '\0'))
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "vocab: %d words expected, but the tensor is "
                            "empty or does not end with a NUL byte",
                            (int)nwords);
    while (size < 2 * (size_t)nwords)
        size *= 2;
    d->vocab = vocab;
    d->vocab_len = vocab_len;
    d->nwords = nwords;
    d->mask = size - 1;
    d->off = malloc(((size_t)nwords + 1) * sizeof *d->off);
    d->hash = malloc(((size_t)nwords + 1) * sizeof *d->hash);
    d->slot = malloc(size * sizeof *d->slot);
    if (d->off == NULL || d->hash == NULL || d->slot == NULL) {
        rc = KL_ENOMEM;
        goto out;
    }
    for (size_t s = 0; s < size; s++)
        d->slot[s] = (struct kl_dict_slot){0, -1};
    for (int32_t i = 0; i < nwords; i++) {
        const char *w = vocab + pos;
        const char *nul = memchr(w, '\0', vocab_len - pos);
        size_t n, s;

        if (nul == NULL) { /* cannot happen: vocab ends with NUL */
            rc = KL_EFORMAT;
            goto out;
        }
        n = (size_t)(nul - w);
        if (n == 0) {
            rc = kl_error_set(err, errsz, KL_EFORMAT,
                              "vocab: word %d is empty", (int)i);
            goto out;
        }
        d->off[i] = pos;
        d->hash[i] = kl_hash_fnv1a(w, n);
        if (kl_dict_find(d, w, n, d->hash[i]) >= 0) {
            rc = kl_error_set(err, errsz, KL_EFORMAT,
                              "vocab: word %d \"%.*s\" appears twice", (int)i,
                              (int)(n > 64 ? 64 : n), w);
            goto out;
        }
        for (s = d->hash[i] & d->mask; d->slot[s].id >= 0;
             s = (s + 1) & d->mask)
            ;
        d->slot[s] = (struct kl_dict_slot){d->hash[i], i};
        cp3_words += kl_dict_cp3_of(w, n) != 0;
        pos += n + 1;
        if (pos == vocab_len && i + 1 < nwords) {
            rc = kl_error_set(err, errsz, KL_EFORMAT,
                              "vocab: holds %d words, metadata says nwords "
                              "%d", (int)(i + 1), (int)nwords);
            goto out;
        }
    }
    if (pos != vocab_len) {
        rc = kl_error_set(err, errsz, KL_EFORMAT,
                          "vocab: %zu bytes left after the %d words of "
                          "nwords (more words than the metadata says?)",
                          vocab_len - pos, (int)nwords);
        goto out;
    }
    d->off[nwords] = pos;
    if (cp3_words > 0)
        rc = index_cp3(d);
out:
    if (rc != KL_OK)
        kl_dict_fini(d);
    return rc;
}

/* Contract in dict.h. */
void kl_dict_fini(struct kl_dict *d)
{
    free(d->off);
    free(d->hash);
    free(d->slot);
    free(d->cp3);
    free(d->prune);
    free(d->prune_slot);
    d->off = NULL;
    d->hash = NULL;
    d->slot = NULL;
    d->cp3 = NULL;
    d->prune = NULL;
    d->prune_slot = NULL;
    d->prune_n = 0;
    d->pruned = 0;
}

/* Contract in dict.h. */
void kl_dict_set_bucket(struct kl_dict *d, int32_t bucket)
{
    d->bucket = bucket;
    if (bucket > 0)
        kl_fastmod_init(&d->bucket_mod, (uint32_t)bucket);
    else
        d->bucket_mod.d = 0;
}

/* 1 when a[0..n) == b[0..n). Words are short (a CJK character is 3
 * bytes): a loop beats the call into the library's memcmp there. */
static inline int same_word(const char *a, const char *b, size_t n)
{
    if (n > 16)
        return memcmp(a, b, n) == 0;
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

/* Contract in dict.h. Linear probing; a slot whose hash matches has its
 * word compared byte for byte (length first: off[] ends each word). */
int32_t kl_dict_find(const struct kl_dict *d, const char *w, size_t n,
                     uint32_t h)
{
    if (d->slot == NULL)
        return -1;
    for (size_t s = h & d->mask;; s = (s + 1) & d->mask) {
        struct kl_dict_slot e = d->slot[s];

        if (e.id < 0)
            return -1;
        if (e.h == h && d->off[e.id + 1] - d->off[e.id] == n + 1 &&
            same_word(d->vocab + d->off[e.id], w, n))
            return e.id;
    }
}
