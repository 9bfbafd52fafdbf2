/*
 * engine/project.h: label projections of a linear model's input matrix
 * (project.c): built by kl_model_project_labels(), used by predict.c and
 * explain.c. Not installed.
 */
#ifndef KL_ENGINE_PROJECT_H
#define KL_ENGINE_PROJECT_H

#include "klabel/engine.h"

struct kl_model;

/* kl_model_project_labels() (engine.h) fills m->proj: input rows times the
 * output rows, one row of m->proj_stride floats per input row. */

/* Frees m->proj, if any (prediction then uses the plain path). */
void kl_model_unproject(struct kl_model *m);

/* Asks the memory system for the projected rows of f's features now. */
void kl_proj_prefetch(const struct kl_model *m, const struct kl_features *f);

/* z[0..nlabels) = the logits of f (f->n > 0) from m->proj: the mean of its
 * features' projected rows. acc is caller scratch of m->proj_stride floats,
 * 64-byte aligned for speed. Returns KL_OK, or KL_EINVAL for a feature id
 * outside the input matrix. */
int kl_proj_logits(const struct kl_model *m, const struct kl_features *f,
                   float *acc, float *z);

/* The logit of label (in [0, nlabels)) for f (f->n > 0, ids checked by
 * the caller) from m->proj, bit for bit the value kl_proj_logits() gives. */
float kl_proj_logit(const struct kl_model *m, const struct kl_features *f,
                    int32_t label);

#endif
