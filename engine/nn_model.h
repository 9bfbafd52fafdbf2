/*
 * engine/nn_model.h: the neural architectures behind the public model
 * interface (nn_model.c, nn_vocab.c): opening their tensors, featurizing
 * into token ids, and kl_model_predict_batch() for them. model.c and
 * predict.c dispatch here on m->arch. Not installed.
 */
#ifndef KL_ENGINE_NN_MODEL_H
#define KL_ENGINE_NN_MODEL_H

#include <stddef.h>

#include "klabel/engine.h"
#include "dict.h"
#include "nn.h"

struct kl_model;

/* At model open, after the metadata parsed (m->meta) and its architecture
 * is bilstm or textcnn: the "nn" metadata, the vocabulary index, the
 * tokenizer resources and every weight tensor, each checked (dtype F32,
 * shape, 4-byte alignment, finite values outside the embedding); then the
 * derived copies. Sets m->arch and m->nn (owned; kl_nn_model_free()).
 * Returns 0, KL_EFORMAT (reason naming path in err) or KL_ENOMEM. */
int kl_nn_model_load(struct kl_model *m, const char *path, char *err,
                     size_t errsz);

/* Frees m->nn (NULL is fine). */
void kl_nn_model_free(struct kl_model *m);

/* Token ids of text for the configuration c over the vocabulary d (see
 * nn_vocab.c). Same returns as kl_model_featurize(). */
int kl_nn_seq_ids(const struct kl_dict *d, const struct kl_nn_conf *c,
                  const char *text, size_t len, struct kl_features *f);

/* kl_model_featurize() / kl_model_predict_batch() for a neural model. */
int kl_nn_featurize(const struct kl_model *m, const char *text, size_t len,
                    struct kl_features *f);
int kl_nn_predict_batch(const struct kl_model *m,
                        const struct kl_features *const *feats, size_t n,
                        int k, float threshold, struct kl_scratch *s,
                        struct kl_prediction *out);

/* The dense layer's outputs (before softmax / sigmoid) of n feature sets
 * into *logits ((n, *nout) row-major, borrowed from s until its next use).
 * For tests and tools. Returns 0, KL_EINVAL or KL_ENOMEM. */
int kl_nn_model_logits(const struct kl_model *m,
                       const struct kl_features *const *feats, size_t n,
                       struct kl_scratch *s, const float **logits,
                       int32_t *nout);

/* Borrowed: the network of a neural model, NULL for fastText. */
const struct kl_nn *kl_nn_of(const struct kl_model *m);

/* Frees the private nn buffers of a struct kl_scratch (kl_scratch_fini). */
void kl_nn_scratch_free(void *nn);

#endif /* KL_ENGINE_NN_MODEL_H */
