/*
 * engine/dict.h: the vocabulary and hashing settings of a fastText-style
 * model, and the featurizer that turns text into input-matrix row ids.
 * One code path for training and serving, so they cannot disagree.
 * Not installed.
 */
#ifndef KL_ENGINE_DICT_H
#define KL_ENGINE_DICT_H

#include <stddef.h>
#include <stdint.h>

#include "klabel/engine.h"

struct kl_dict {
    const char *vocab;   /* (vocab_len) nwords NUL-terminated words in id
                            order; borrowed (the mmapped file or the trainer's
                            buffer), must outlive the dict */
    size_t vocab_len;
    uint64_t *off;       /* (nwords + 1) word i is vocab[off[i] .. off[i+1]-1) */
    uint32_t *hash;      /* (nwords) kl_hash_fnv1a() of word i */
    int32_t *slot;       /* (mask + 1) word id or -1: open addressing on hash */
    size_t mask;
    int32_t nwords;      /* vocabulary rows: ids [0, nwords) */
    int32_t bucket;      /* hashed rows: ids [nwords, nwords + bucket) */
    int32_t word_ngrams; /* 1 = unigrams only */
    int32_t minn, maxn;  /* char n-gram lengths in characters; maxn 0 = none */
    struct kl_tok_opts tok;
};

/* Indexes vocab[0..vocab_len), which must hold exactly nwords non-empty,
 * distinct, NUL-terminated words (vocab may be NULL when nwords == 0).
 * Sets d's vocabulary fields; the caller sets bucket, word_ngrams, minn,
 * maxn and tok. Returns 0, KL_EFORMAT (reason in err) or KL_ENOMEM. On
 * success d owns its index: free with kl_dict_fini(). */
int kl_dict_init(struct kl_dict *d, const char *vocab, size_t vocab_len,
                 int32_t nwords, char *err, size_t errsz);

/* Frees d's index (not the borrowed vocab); d may be zeroed or inited. */
void kl_dict_fini(struct kl_dict *d);

/* Id of the word w[0..n) whose hash is h, or -1. */
int32_t kl_dict_find(const struct kl_dict *d, const char *w, size_t n,
                     uint32_t h);

/* kl_model_featurize() on a dict: see engine.h for the contract. */
int kl_dict_featurize(const struct kl_dict *d, const char *text, size_t len,
                      struct kl_features *f);

#endif /* KL_ENGINE_DICT_H */
