/*
 * engine/nn_data.h: training and validation examples of the neural
 * architectures (nn_data.c): the vocabulary (the max_vocab most frequent
 * words of the training file, counted by the fastText trainer's loader),
 * the labels (most frequent first), and every example as embedding-row
 * ids through the same featurizer that serving uses. Not installed.
 */
#ifndef KL_ENGINE_NN_DATA_H
#define KL_ENGINE_NN_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "klabel/engine.h"
#include "dict.h"
#include "nn.h"
#include "strtab.h"

/* The vocabulary and labels, owned (kl_nn_vocab_fini()). */
struct kl_nn_vocab {
    char *vocab;          /* (vocab_len) nwords NUL-terminated words */
    size_t vocab_len;
    int32_t nwords;
    char **labels;        /* (nlabels) most frequent first */
    int32_t nlabels;
    int64_t *label_counts; /* (nlabels) training examples per label */
    struct kl_dict dict;  /* index over vocab; tok set from the options */
    struct kl_strtab lab; /* label name -> index (first nlabels entries) */
};

/* A set of examples, owned (kl_nn_set_fini()). */
struct kl_nn_set {
    int32_t *ids;      /* all examples' ids, concatenated */
    size_t *off;       /* (n + 1) example i is ids[off[i] .. off[i + 1]) */
    int32_t *lab;      /* all examples' known labels, concatenated */
    size_t *lab_off;   /* (n + 1) example i's labels: lab[lab_off[i] ..) */
    size_t n;          /* examples kept */
    size_t tokens;     /* sum of their lengths */
    size_t dropped;    /* lines without a token or a known label */
};

/* Counts the words and labels of path with o's tokenizer and min_count,
 * keeps the o->nn.max_vocab most frequent words. Returns 0 or an error
 * with a reason in err. On success v is caller-owned. */
int kl_nn_vocab_build(struct kl_nn_vocab *v, const struct kl_train_opts *o,
                      const char *path, char *err, size_t errsz);

void kl_nn_vocab_fini(struct kl_nn_vocab *v);

/* Reads path (formats of kl_train_file()) into set with v's vocabulary
 * and labels and c's featurization (unknown labels are ignored; a line
 * without a known label or a token is dropped). Returns 0 or KL_EIO /
 * KL_EFORMAT / KL_EUTF8 / KL_ERANGE (line number in err) / KL_EEMPTY
 * (no example) / KL_ENOMEM. On success set is caller-owned. */
int kl_nn_set_load(struct kl_nn_set *set, struct kl_nn_vocab *v,
                   const struct kl_nn_conf *c, const char *path, char *err,
                   size_t errsz);

void kl_nn_set_fini(struct kl_nn_set *set);

#endif /* KL_ENGINE_NN_DATA_H */
