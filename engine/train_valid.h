/*
 * engine/train_valid.h: the held-out validation set of training
 * (kl_train_opts.valid_path): read with the dictionary and labels of the
 * training data, scored on the trainer's matrices after each epoch, and
 * summarized into the model's "training" metadata. Not installed.
 */
#ifndef KL_ENGINE_TRAIN_VALID_H
#define KL_ENGINE_TRAIN_VALID_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "klabel/engine.h"
#include "train_data.h"

/* The featurized validation examples, owned (kl_valid_fini()). */
struct kl_valid {
    int32_t *ids;        /* all examples' feature ids, concatenated */
    size_t *ex_off;      /* (nex + 1) example i is ids[ex_off[i] .. ex_off[i+1]) */
    int32_t *lab;        /* known label ids of all examples, concatenated */
    size_t *lab_off;     /* (nex + 1) example i's: lab[lab_off[i] ..) */
    size_t nex;          /* examples (non-blank lines) */
    size_t unknown;      /* examples none of whose labels training saw */
    size_t empty;        /* examples without a feature */
};

/* One scoring of the set. */
struct kl_valid_score {
    int32_t epoch;       /* epochs trained when it was taken */
    double accuracy;     /* top label among the true ones, over all
                            examples (unknown labels and empty texts count
                            as wrong, as `klabel eval` counts them) */
    double loss;         /* mean training loss over the examples with a
                            feature and a known label */
};

/* Reads path (formats of kl_train_file()) with the vocabulary, labels and
 * featurization settings of td and o. Returns 0, KL_EIO, KL_EFORMAT /
 * KL_EUTF8 / KL_ERANGE (line number in err), KL_EEMPTY (no example) or
 * KL_ENOMEM; on success v is caller-owned: kl_valid_fini(). */
int kl_valid_load(struct kl_valid *v, const struct kl_train_data *td,
                  const struct kl_train_opts *o, const char *path, char *err,
                  size_t errsz);

/* Frees what v owns; a zeroed v is fine. */
void kl_valid_fini(struct kl_valid *v);

/* Scores v on input (rows, dim) and output (nlabels, dim) with loss
 * (enum kl_loss) into *s (epoch left as it is). Only reads the matrices.
 * Returns 0 or KL_ENOMEM. */
int kl_valid_score(const struct kl_valid *v, const float *input,
                   const float *output, int32_t dim, int32_t nlabels,
                   int loss, struct kl_valid_score *s);

/* The "validation" object of the training metadata: file name, example
 * counts, the last score and every score in hist[0..n). NULL when out of
 * memory. Caller owns the result. */
cJSON *kl_valid_summary(const struct kl_valid *v, const char *path,
                        const struct kl_valid_score *hist, size_t n);

#endif /* KL_ENGINE_TRAIN_VALID_H */
