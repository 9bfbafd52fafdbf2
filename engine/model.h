/*
 * engine/model.h: the layout of an opened model, shared by model.c (open,
 * validate, info, featurize) and predict.c. Not installed.
 */
#ifndef KL_ENGINE_MODEL_H
#define KL_ENGINE_MODEL_H

#include "klabel/engine.h"
#include "dict.h"
#include "meta.h"
#include "safetensors.h"

struct kl_model {
    struct kl_model_info info; /* strings and labels point into meta */
    struct kl_meta meta;       /* parsed "klabel" metadata, owned */
    struct kl_st_file st;      /* the mapped file, owned */
    struct kl_dict dict;       /* vocabulary index over the mapped vocab */
    const float *input;        /* (nwords + bucket, dim) row-major, mapped */
    const float *output;       /* (nlabels, dim) row-major, mapped */
};

#endif /* KL_ENGINE_MODEL_H */
