/*
 * engine/adam.c: Adam and gradient clipping over a flat float buffer (see
 * adam.h). Moments and the norm are kept in float, sums in double.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"
#include "adam.h"

/* Contract in adam.h. */
int kl_adam_init(struct kl_adam *a, size_t n, float lr)
{
    memset(a, 0, sizeof *a);
    a->m = calloc(n ? n : 1, sizeof *a->m);
    a->v = calloc(n ? n : 1, sizeof *a->v);
    if (a->m == NULL || a->v == NULL) {
        kl_adam_fini(a);
        return KL_ENOMEM;
    }
    a->n = n;
    a->lr = lr;
    a->beta1 = 0.9f;
    a->beta2 = 0.999f;
    a->eps = 1e-7f;
    return KL_OK;
}

/* Contract in adam.h. */
void kl_adam_fini(struct kl_adam *a)
{
    free(a->m);
    free(a->v);
    memset(a, 0, sizeof *a);
}

/* Contract in adam.h. */
void kl_adam_step(struct kl_adam *a, float *p, const float *grad)
{
    float b1 = a->beta1, b2 = a->beta2;
    float c1, c2, step;

    a->t++;
    c1 = (float)(1.0 - pow((double)b1, (double)a->t));
    c2 = (float)(1.0 - pow((double)b2, (double)a->t));
    step = a->lr / c1;
    for (size_t i = 0; i < a->n; i++) {
        float g = grad[i];
        a->m[i] = b1 * a->m[i] + (1.0f - b1) * g;
        a->v[i] = b2 * a->v[i] + (1.0f - b2) * g * g;
        p[i] -= step * a->m[i] / (sqrtf(a->v[i] / c2) + a->eps);
    }
}

/* Contract in adam.h. */
double kl_grad_clip(float *grad, size_t n, float max_norm)
{
    double sum = 0.0, norm;

    for (size_t i = 0; i < n; i++)
        sum += (double)grad[i] * grad[i];
    norm = sqrt(sum);
    if (max_norm > 0.0f && norm > max_norm) {
        float s = (float)(max_norm / norm);
        for (size_t i = 0; i < n; i++)
            grad[i] *= s;
    }
    return norm;
}
