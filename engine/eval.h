/*
 * engine/eval.h: the layout of a kl_eval accumulator, shared by eval.c
 * (counting, metrics) and eval_format.c (text and JSON). Not installed.
 */
#ifndef KL_ENGINE_EVAL_H
#define KL_ENGINE_EVAL_H

#include <stdint.h>

#include "klabel/engine.h"
#include "strtab.h"

struct kl_eval {
    int32_t nl;                  /* model labels */
    int64_t *support;            /* (nl) true label counts */
    int64_t *predicted;          /* (nl) predicted label counts */
    int64_t *tp;                 /* (nl) correct predictions per label */
    int64_t *confusion;          /* (nl + 1, nl + 1) or NULL (nl too big) */
    struct kl_eval_class *cls;   /* (nl) filled by kl_eval_report() */
    int64_t examples, correct, unknown, unpredicted;
    int k;                       /* largest k seen by kl_eval_add_topk */
    int64_t k_examples, k_true, k_predicted, k_tp;
    struct kl_strtab unknown_names; /* names of labels the model lacks */
};

#endif /* KL_ENGINE_EVAL_H */
