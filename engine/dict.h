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
#include "fastmod.h"

/* One cell of the vocabulary's open-addressing table: the word's hash
 * beside its id, so that a probe reads one cache line, not three. */
struct kl_dict_slot {
    uint32_t h;
    int32_t id; /* -1: empty */
};

struct kl_dict {
    const char *vocab;   /* (vocab_len) nwords NUL-terminated words in id
                            order; borrowed (the mmapped file or the trainer's
                            buffer), must outlive the dict */
    size_t vocab_len;
    uint64_t *off;       /* (nwords + 1) word i is vocab[off[i] .. off[i+1]-1) */
    uint32_t *hash;      /* (nwords) kl_hash_fnv1a() of word i */
    struct kl_dict_slot *slot; /* (mask + 1) linear probing on the hash */
    size_t mask;
    /* (KL_DICT_CP3_N) kl_dict_find() of every character whose UTF-8 form
     * has 3 bytes (U+0800..U+FFFF, CJK among them), by code point - 0x800:
     * a text split into characters then takes one look-up a token instead
     * of a probe and a compare. Made by kl_dict_init() when the
     * vocabulary has such a one-character word (254 KB), else NULL. */
    int32_t *cp3;
    int32_t nwords;      /* vocabulary rows: ids [0, nwords) */
    int32_t bucket;      /* hashed rows: ids [nwords, nwords + bucket) */
    struct kl_fastmod bucket_mod; /* h mod bucket without a division, when
                                     kl_dict_set_bucket() set bucket */
    int32_t word_ngrams; /* 1 = unigrams only */
    int32_t minn, maxn;  /* char n-gram lengths in characters; maxn 0 = none */
    struct kl_tok_opts tok;
    /* A pruned dictionary (fastText .ftz quantized with a cutoff): a hashed
     * n-gram id h in [0, bucket) is row nwords + prune_row(h) when the prune
     * index holds h, and is dropped otherwise (kl_dict_prune_find()). */
    int pruned;          /* 0: ids map to nwords + h (the default) */
    int32_t *prune;      /* (prune_n, 2) (h, row - nwords) pairs, owned */
    size_t prune_n;
    int32_t *prune_slot; /* (prune_mask + 1) pair index or -1, owned */
    size_t prune_mask;
};

/* Indexes vocab[0..vocab_len), which must hold exactly nwords non-empty,
 * distinct, NUL-terminated words (vocab may be NULL when nwords == 0).
 * Sets d's vocabulary fields; the caller sets bucket, word_ngrams, minn,
 * maxn and tok. Returns 0, KL_EFORMAT (reason in err) or KL_ENOMEM. On
 * success d owns its index: free with kl_dict_fini(). */
int kl_dict_init(struct kl_dict *d, const char *vocab, size_t vocab_len,
                 int32_t nwords, char *err, size_t errsz);

/* Sets d->bucket and the constants that take hashes modulo it without a
 * division (featurizing falls back to `%` when bucket was set directly). */
void kl_dict_set_bucket(struct kl_dict *d, int32_t bucket);

/* Frees d's index (not the borrowed vocab); d may be zeroed or inited. */
void kl_dict_fini(struct kl_dict *d);

/* Id of the word w[0..n) whose hash is h, or -1. */
int32_t kl_dict_find(const struct kl_dict *d, const char *w, size_t n,
                     uint32_t h);

#define KL_DICT_CP3_FIRST 0x800u
#define KL_DICT_CP3_N (0x10000u - KL_DICT_CP3_FIRST)

/* The code point of w[0..n) when it is one well-formed 3-byte UTF-8
 * character (lead E0-EF, two continuation bytes, not an overlong form),
 * else 0. */
static inline unsigned kl_dict_cp3_of(const char *w, size_t n)
{
    unsigned a, b, c, cp;

    if (n != 3)
        return 0;
    a = (unsigned char)w[0];
    b = (unsigned char)w[1];
    c = (unsigned char)w[2];
    if ((a & 0xF0) != 0xE0 || (b & 0xC0) != 0x80 || (c & 0xC0) != 0x80)
        return 0;
    cp = (a & 0x0F) << 12 | (b & 0x3F) << 6 | (c & 0x3F);
    return cp >= KL_DICT_CP3_FIRST ? cp : 0;
}

/* kl_dict_find() of w[0..3), the UTF-8 form of code point cp
 * (KL_DICT_CP3_FIRST..0xFFFF), hash h: from d->cp3 when there is one (it
 * holds what kl_dict_find() says for exactly those bytes, so the two
 * never differ). */
static inline int32_t kl_dict_find_cp3(const struct kl_dict *d, unsigned cp,
                                       const char *w, uint32_t h)
{
    return d->cp3 != NULL ? d->cp3[cp - KL_DICT_CP3_FIRST]
                          : kl_dict_find(d, w, 3, h);
}

/* kl_dict_find(), through kl_dict_find_cp3() when w is one well-formed
 * 3-byte UTF-8 character. */
static inline int32_t kl_dict_find_token(const struct kl_dict *d,
                                         const char *w, size_t n, uint32_t h)
{
    unsigned cp;

    if ((cp = kl_dict_cp3_of(w, n)) != 0)
        return kl_dict_find_cp3(d, cp, w, h);
    return kl_dict_find(d, w, n, h);
}

/* Makes d a pruned dictionary over a copy of pairs (n pairs of int32
 * (h, row), 8 * n bytes, any alignment: h in [0, d->bucket), row in
 * [0, n); no h twice). Call after kl_dict_init() and after setting
 * d->bucket. Returns 0, KL_EFORMAT (reason in err) or KL_ENOMEM;
 * kl_dict_fini() frees the index. */
int kl_dict_set_prune(struct kl_dict *d, const void *pairs, size_t n,
                      char *err, size_t errsz);

/* Row offset (row - nwords) of hashed n-gram id h in a pruned dictionary,
 * or -1 when the prune index does not hold it (the n-gram is dropped). */
int32_t kl_dict_prune_find(const struct kl_dict *d, int32_t h);

/* The first step of featurizing text[0..len) with d's tokenizer, shared by
 * kl_dict_featurize() and the neural models' kl_nn_seq_ids(): zeroes f->n,
 * f->ntokens and f->nword_tok, checks the length (KL_ERANGE past
 * KL_TEXT_MAX) and the UTF-8 (KL_EUTF8), then tokenizes into f->tok and
 * sets f->ntokens. Returns 0 or the tokenizer's error; f stays
 * caller-owned. */
int kl_dict_tokenize(const struct kl_dict *d, const char *text, size_t len,
                     struct kl_features *f);

/* kl_model_featurize() on a dict: see engine.h for the contract. */
int kl_dict_featurize(const struct kl_dict *d, const char *text, size_t len,
                      struct kl_features *f);

#endif /* KL_ENGINE_DICT_H */
