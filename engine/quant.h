/*
 * engine/quant.h: quantized input matrices (quant.c reads and uses them,
 * quant_write.c makes them). A quantized model file has no "input" tensor;
 * instead, with metadata "quant": {"scheme": ..., "bits": 8, ...}:
 *
 *   int8  "input.q"         I8  (rows, dim)   round(x / scale), in [-127, 127]
 *         "input.scale"     F32 (rows)        max |x| of the row / 127
 *   pq    "input.codes"     U8  (rows, nsubq) one centroid index per
 *                                             sub-vector of dsub floats
 *         "input.centroids" F32 (nsubq, 256, dsub)
 *
 * Row r of the matrix is q[r] * scale[r] (int8), or the concatenation of
 * centroids[j][codes[r][j]] for j in [0, nsubq) (pq). Not installed.
 */
#ifndef KL_ENGINE_QUANT_H
#define KL_ENGINE_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "klabel/engine.h"

#define KL_QUANT_KSUB 256    /* centroids per sub-quantizer (one byte) */
#define KL_QUANT_DSUB_MAX 64 /* largest sub-vector width accepted */

#define KL_QUANT_T_Q "input.q"
#define KL_QUANT_T_SCALE "input.scale"
#define KL_QUANT_T_CODES "input.codes"
#define KL_QUANT_T_CENTROIDS "input.centroids"

/* A quantized (rows, dim) matrix; all arrays borrowed from the mapping. */
struct kl_qmat {
    int scheme;              /* enum kl_quant_scheme; KL_QUANT_NONE = dense */
    int64_t rows;
    int32_t dim;
    const int8_t *q;         /* int8: (rows, dim) row-major */
    const float *scale;      /* int8: (rows) */
    const uint8_t *codes;    /* pq: (rows, nsubq) row-major */
    const float *centroids;  /* pq: (nsubq, KL_QUANT_KSUB, dsub) */
    int32_t nsubq, dsub;     /* pq: nsubq * dsub == dim */
};

/* Rows to quantize (quant_write.c, quant_pq.c): row i is base + idx[i] *
 * dim, or base + i * dim when idx is NULL. Borrowed. */
struct kl_qsrc {
    const float *base;   /* (>= max row + 1, dim) the dense input matrix */
    const int64_t *idx;  /* (n) source row of each row, or NULL */
    int64_t n;
    int32_t dim;
};

static inline const float *kl_qsrc_row(const struct kl_qsrc *s, int64_t i)
{
    return s->base + (size_t)(s->idx ? s->idx[i] : i) * (size_t)s->dim;
}

/* Product quantization of src's rows (quant_pq.c): for each of the
 * dim / dsub sub-vectors, k-means with KL_QUANT_KSUB centroids on a sample
 * of at most 128 * KL_QUANT_KSUB rows (drawn with seed), then every row
 * encoded by its nearest centroids. centroids: (dim / dsub, KL_QUANT_KSUB,
 * dsub) and codes: (n, dim / dsub), both caller-allocated. dsub must divide
 * dim. Returns 0 or KL_ENOMEM. */
int kl_pq_build(const struct kl_qsrc *src, int32_t dsub, uint64_t seed,
                int verbose, float *centroids, uint8_t *codes);

struct kl_model;

/* At model open, after the metadata was parsed and before the dense
 * "input" is looked for: reads the metadata's "quant" object and, when it
 * is there, checks and maps the quantized input tensors into m->quant
 * (shapes against the metadata and the rows kl_model_input_rows() needs,
 * alignment, finite non-negative scales, finite centroids) and sets
 * m->info.quant. Without "quant" it leaves m->quant.scheme KL_QUANT_NONE,
 * and rejects stray quantized tensors. Returns 0, KL_EFORMAT (reason
 * naming path in err) or KL_ENOMEM. */
int kl_quant_load(struct kl_model *m, const char *path, char *err,
                  size_t errsz);

/* h[0..dim) += row id of q (id in [0, q->rows): the caller checks). */
void kl_quant_add_row(const struct kl_qmat *q, int64_t id, float *h);

/* w[0..dim) . row id of q, as a float sum (id checked by the caller). */
float kl_quant_dot(const struct kl_qmat *q, int64_t id, const float *w);

/* Row id of q into out[0..dim) (id checked by the caller). */
void kl_quant_row(const struct kl_qmat *q, int64_t id, float *out);

/* Name of a scheme ("int8", "pq"; "none" for KL_QUANT_NONE). */
const char *kl_quant_scheme_name(int scheme);

#endif /* KL_ENGINE_QUANT_H */
