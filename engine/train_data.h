/*
 * engine/train_data.h: reading a training file into memory for
 * engine/train.c: parse each line's labels and text, count words and
 * labels, build the dictionary (as fastText does: words with count >=
 * min_count by count descending, labels by count descending), then
 * featurize every example with the same code as prediction. Not installed.
 */
#ifndef KL_ENGINE_TRAIN_DATA_H
#define KL_ENGINE_TRAIN_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "klabel/engine.h"

#define KL_TRAIN_LINE_MAX ((size_t)1 << 20) /* longest accepted line */

/* Everything training needs, owned (kl_train_data_fini()). */
struct kl_train_data {
    char *vocab;         /* (vocab_len) nwords NUL-terminated words, id order */
    size_t vocab_len;
    int32_t nwords;
    char **labels;       /* (nlabels) names, most frequent first */
    int32_t nlabels;
    int32_t *ids;        /* all examples' feature ids, concatenated */
    size_t *ex_off;      /* (nex + 1) example i is ids[ex_off[i] .. ex_off[i+1]) */
    int32_t *lab;        /* all examples' label ids, concatenated */
    size_t *lab_off;     /* (nex + 1) example i's labels: lab[lab_off[i] ..) */
    uint32_t *ntok;      /* (nex) tokens + labels of example i (lr schedule) */
    size_t nex;          /* examples kept */
    uint64_t ntokens;    /* sum of ntok */
    size_t lines;        /* lines read, blank ones included */
    size_t skipped;      /* labeled lines that gave no features */
};

/* Reads path (see kl_train_file() for the line formats) with o's tokenizer,
 * min_count, bucket, word_ngrams, minn and maxn. Returns 0, or KL_EIO,
 * KL_EFORMAT / KL_EUTF8 / KL_ERANGE (with the line number in err),
 * KL_EEMPTY (no usable example), KL_ENOMEM. On success td is caller-owned:
 * kl_train_data_fini(). */
int kl_train_data_load(struct kl_train_data *td, const struct kl_train_opts *o,
                       const char *path, char *err, size_t errsz);

/* Frees what td owns; a zeroed td is fine. */
void kl_train_data_fini(struct kl_train_data *td);

#endif /* KL_ENGINE_TRAIN_DATA_H */
