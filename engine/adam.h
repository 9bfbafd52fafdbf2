/*
 * engine/adam.h: the Adam optimizer (Kingma & Ba, 2015, with bias
 * correction, as PyTorch's torch.optim.Adam and Keras's Adam apply it)
 * over one flat parameter buffer, and global-norm gradient clipping.
 * Used by neural training (nn_train.c). Not installed.
 */
#ifndef KL_ENGINE_ADAM_H
#define KL_ENGINE_ADAM_H

#include <stddef.h>
#include <stdint.h>

/* Caller-owned state; kl_adam_init() / kl_adam_fini(). */
struct kl_adam {
    float *m, *v;     /* (n) first and second moment estimates */
    size_t n;
    int64_t t;        /* steps taken */
    float lr, beta1, beta2, eps;
};

/* Zeroed moments for n parameters, step size lr, betas 0.9 / 0.999,
 * eps 1e-7 (Keras's). Returns 0 or KL_ENOMEM. */
int kl_adam_init(struct kl_adam *a, size_t n, float lr);

/* Frees the moments; a zeroed a is fine. */
void kl_adam_fini(struct kl_adam *a);

/* One step: p -= lr * mhat / (sqrt(vhat) + eps) for all n parameters. */
void kl_adam_step(struct kl_adam *a, float *p, const float *grad);

/* The L2 norm of grad[0..n); when it exceeds max_norm > 0, grad is scaled
 * down to max_norm (PyTorch's clip_grad_norm_). Returns the norm before
 * clipping. */
double kl_grad_clip(float *grad, size_t n, float max_norm);

#endif /* KL_ENGINE_ADAM_H */
