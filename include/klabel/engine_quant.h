/*
 * klabel engine: quantized models (int8 rows, product quantization) and the
 * tensor listing of an opened model.
 * Part of the engine API; include "klabel/engine.h", which includes this.
 */
#ifndef KLABEL_ENGINE_QUANT_H
#define KLABEL_ENGINE_QUANT_H

#include "klabel/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------- quantization */

/* How a model's input matrix is stored (docs/model-format.md). */
enum kl_quant_scheme {
    KL_QUANT_NONE = 0, /* "input" F32 (rows, dim) */
    KL_QUANT_INT8 = 1, /* "input.q" I8 (rows, dim) + "input.scale" F32
                          (rows): row r = q[r] * scale[r], scale = max|x|/127 */
    KL_QUANT_PQ = 2    /* product quantization: "input.codes" U8 (rows,
                          dim / dsub) + "input.centroids" F32 (dim / dsub,
                          256, dsub) */
};

struct kl_quant_opts {
    int scheme;      /* KL_QUANT_INT8 (default) or KL_QUANT_PQ */
    int32_t dsub;    /* pq: floats per sub-vector, must divide dim (default
                        2: 8x smaller than F32) */
    int64_t cutoff;  /* > 0: keep only the cutoff hashed n-gram rows of
                        largest L2 norm (vocabulary rows are always kept)
                        and write a "pruneidx"; n-grams dropped are then
                        ignored by featurization. 0 (default) = all rows */
    uint64_t seed;   /* pq: k-means sample and start (default 1) */
    int verbose;     /* 1 = progress on stderr */
};

/* Fills o with the defaults above. */
void kl_quant_opts_init(struct kl_quant_opts *o);

/* Writes m with its input matrix quantized as o says to path, a klabel
 * safetensors model (temporary file, then rename) whose metadata gains
 * "quant" ({"scheme", "bits", ...}) and keeps m's id, version, labels,
 * tokenizer and "training"; the output matrix stays F32. m must have a
 * dense input matrix (a safetensors model that is not quantized, or a
 * fastText .bin / .ftz). Prediction on the file sums dequantized rows.
 * Returns 0, KL_EINVAL (bad option, m already quantized, dim not a
 * multiple of dsub, a non-UTF-8 vocabulary), KL_EIO or KL_ENOMEM with a
 * reason in err. */
int kl_model_quantize(const struct kl_model *m, const struct kl_quant_opts *o,
                      const char *path, char *err, size_t errsz);

/* --------------------------------------------------------------- tensors */

/* One tensor of a model file, as kl_model_tensor() describes it. */
struct kl_tensor_info {
    const char *name;   /* borrowed; valid until kl_model_destroy() */
    const char *dtype;  /* "F32", "F16", "I8", "U8", "I32", ... (static) */
    int ndim;
    uint64_t shape[4];  /* (ndim) */
    uint64_t bytes;     /* size of its data */
    uint64_t offset;    /* file offset of its first byte */
};

/* Tensors in m's file, in file order (0 for a model opened from a
 * fastText .bin / .ftz: its matrices live in memory). */
size_t kl_model_tensor_count(const struct kl_model *m);

/* Describes tensor i (< kl_model_tensor_count(m)) into *out. Returns 0 or
 * KL_EINVAL (no model, i out of range). */
int kl_model_tensor(const struct kl_model *m, size_t i,
                    struct kl_tensor_info *out);

#ifdef __cplusplus
}
#endif

#endif /* KLABEL_ENGINE_QUANT_H */
