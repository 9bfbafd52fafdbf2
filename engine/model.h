/*
 * engine/model.h: the layout of an opened model, shared by model.c (open,
 * validate, info, featurize) and predict.c. Not installed.
 */
#ifndef KL_ENGINE_MODEL_H
#define KL_ENGINE_MODEL_H

#include "klabel/engine.h"
#include "dict.h"
#include "hs.h"
#include "meta.h"
#include "quant.h"
#include "safetensors.h"

struct kl_model {
    struct kl_model_info info; /* strings and labels point into meta */
    struct kl_meta meta;       /* parsed "klabel" metadata, owned */
    struct kl_st_file st;      /* the mapped file, owned */
    struct kl_dict dict;       /* vocabulary index over the mapped vocab */
    const float *input;        /* (nwords + bucket, dim) row-major, mapped;
                                  NULL when quant.scheme != KL_QUANT_NONE */
    struct kl_qmat quant;      /* the quantized input matrix (quant.h) */
    const float *output;       /* (nlabels, dim) row-major, mapped */
    struct kl_segmenter *seg;  /* over the mapped dictionary tensor, or NULL */
    struct kl_stopwords *stop; /* over the mapped stop-word tensor, or NULL */
    int64_t input_rows;        /* rows of input: nwords + bucket, or
                                  nwords + pruned n-grams (dict.pruned) */
    struct kl_hs hs;           /* loss hs: the labels' Huffman tree */
    /* A fastText .bin/.ftz opened directly (fasttext_model.c) owns its
     * matrices and vocabulary instead of mapping them; else all NULL.
     * own_codes / own_centroids: a .ftz input kept as "pq" codes (quant). */
    float *own_input, *own_output;
    char *own_vocab;
    uint8_t *own_codes;
    float *own_centroids;
    int arch;                  /* enum kl_arch: KL_ARCH_FASTTEXT (0) or a
                                  neural one (nn_model.c) */
    struct kl_nn *nn;          /* arch bilstm / textcnn: the network, owned;
                                  input / output stay NULL */
    float *proj;               /* (input_rows, proj_stride): input rows times
                                  the output rows, owned, or NULL (project.c) */
    size_t proj_stride;
};

/* Fills m->info and the dict's settings from m->meta (model.c). */
void kl_model_fill_info(struct kl_model *m);

/* Rows the input matrix of a safetensors model must have: nwords + the
 * pairs of its "pruneidx" tensor when it has one, else nwords + bucket
 * (fasttext_model.c). */
int64_t kl_model_input_rows(const struct kl_model *m);

/* After the vocabulary is indexed: the "pruneidx" tensor into the dict and
 * the hs tree from the metadata's label counts; sets m->input_rows.
 * Returns 0, KL_EFORMAT (reason naming path) or KL_ENOMEM. */
int kl_model_load_extras(struct kl_model *m, const char *path, char *err,
                         size_t errsz);

/* Opens a fastText .bin / .ftz file as a model (fasttext_model.c); the
 * contract of kl_model_open(). */
int kl_model_open_fasttext(const char *path, struct kl_model **out,
                           char *err, size_t errsz);

/* 1 when the file at path starts with fastText's magic number. */
int kl_model_is_fasttext(const char *path);

/* Tells the kernel that the mapped input matrix (dense or quantized) is
 * read at random (madvise MADV_RANDOM: no readahead), so resident memory
 * follows the rows texts touch (tensors.c). A hint: failures are ignored. */
void kl_model_advise_rows(const struct kl_model *m);

/* madvise(advice) over the pages of tensor name of a safetensors model's
 * mapping; nothing for a model that owns its matrices or has no such
 * tensor. A hint: failures are ignored (tensors.c). */
void kl_model_advise_tensor(const struct kl_model *m, const char *name,
                            int advice);

#endif /* KL_ENGINE_MODEL_H */
