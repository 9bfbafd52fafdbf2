/*
 * engine/nn_train.h: the pieces of neural training shared by the loop
 * (nn_train.c), the entry point that sets it up and writes the model
 * (nn_write.c), and the gradient-check test. Not installed.
 */
#ifndef KL_ENGINE_NN_TRAIN_H
#define KL_ENGINE_NN_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "klabel/engine.h"
#include "adam.h"
#include "nn.h"
#include "nn_data.h"

/* Everything one training run holds (nn_write.c owns and frees it). */
struct kl_nn_trainer {
    const struct kl_train_opts *o;
    const struct kl_nn_set *train, *valid; /* valid may be NULL */
    struct kl_nn nn;        /* bound to params */
    float *params;          /* (nparams) kl_nn_tensors() order */
    float *grad;            /* (nparams) */
    float *best;            /* (nparams) best epoch's params (with valid) */
    size_t nparams;
    struct kl_adam adam;
    struct kl_nn_scratch s;
    struct kl_nn_gscratch gs;
    float *dlogits;         /* (dlogits_cap) (batch, nout) */
    size_t dlogits_cap;
    int64_t seen;           /* examples trained on */
    int32_t epochs_run, best_epoch;
    double train_loss, best_loss;
    double *vloss, *vacc;   /* (epoch) validation loss / accuracy */
};

/* Checks o's neural options. Returns 0 or KL_EINVAL with a reason. */
int kl_nn_check_opts(const struct kl_train_opts *o, char *err, size_t errsz);

/* The network configuration that training o on vocabulary v builds: row 0
 * pads, row 1 is the unknown word, word w is row 2 + w; no padding; head
 * softmax (loss softmax), binary (ova, 2 labels) or sigmoid (ova). */
void kl_nn_conf_make(const struct kl_train_opts *o,
                     const struct kl_nn_vocab *v, struct kl_nn_conf *c);

/* Fills params (kl_nn_tensors(c) order) with the seeded initialization
 * that nn_train.c describes. */
void kl_nn_init_params(const struct kl_nn_conf *c, float *params,
                       uint64_t seed);

/* Summed loss of the batch ex[0..n) of set given its logits (n, nout);
 * with dlogits, also dLoss/dlogits of the batch MEAN loss. *correct gets
 * how many examples' top prediction is one of their labels. */
double kl_nn_loss(const struct kl_nn_conf *c, const float *logits,
                  const struct kl_nn_set *set, const size_t *ex, size_t n,
                  float *dlogits, int32_t *correct);

/* Mean loss and accuracy of nn on set, in batches of 256, no dropout.
 * Returns 0 or an error of kl_nn_forward(). */
int kl_nn_evaluate(const struct kl_nn *nn, const struct kl_nn_set *set,
                   struct kl_nn_scratch *s, double *loss, double *accuracy);

/* Runs the epochs (tr set up by nn_write.c). Returns 0 or an error with a
 * reason in err. */
int kl_nn_train_loop(struct kl_nn_trainer *tr, char *err, size_t errsz);

#endif /* KL_ENGINE_NN_TRAIN_H */
