/*
 * engine/fasttext_quant.c: fastText's product-quantized matrices (.ftz),
 * read and dequantized into dense floats.
 *
 * A quantized row is nsubq one-byte codes; code k of sub-quantizer j picks a
 * centroid of dsub floats (lastdsub for the last sub-quantizer), and the
 * row is their concatenation, times the row's norm when norms are quantized
 * separately (qnorm: one more one-dimensional quantizer). Dequantizing row
 * r gives exactly the floats fastText adds to its hidden vector for r
 * (norm * centroid, in float), so hidden layers come out bit-identical;
 * output rows (qout) differ from fastText's factored dot product only by
 * float rounding.
 *
 * Choice: dequantize once at load (memory rows * dim * 4 bytes, prediction
 * code unchanged, as fast as a .bin) rather than decode rows on the fly.
 */
#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"
#include "error.h"
#include "fasttext_read.h"

/* Sub-vector width accepted: fastText's default is 2. Bounds the ratio of
 * dequantized bytes to code bytes (4 * dsub), so a small file cannot ask
 * for a huge allocation. */
#define FT_DSUB_MAX 64

/* One product quantizer as read; centroids copied out of the file. */
struct pq {
    int32_t dim, nsubq, dsub, lastdsub;
    float *centroids; /* (dim * KL_FT_KSUB) owned */
};

/* Centroid `code` of sub-quantizer j: dsub floats (lastdsub for the last). */
static const float *pq_centroid(const struct pq *q, int32_t j, uint8_t code)
{
    if (j == q->nsubq - 1)
        return q->centroids + (size_t)j * KL_FT_KSUB * (size_t)q->dsub +
               (size_t)code * (size_t)q->lastdsub;
    return q->centroids + ((size_t)j * KL_FT_KSUB + code) * (size_t)q->dsub;
}

static int read_pq(struct kl_ft_cursor *c, const char *what, int32_t dim,
                   struct pq *q)
{
    size_t n;
    int rc;

    if ((rc = kl_ft_i32(c, &q->dim, what)) != KL_OK ||
        (rc = kl_ft_i32(c, &q->nsubq, what)) != KL_OK ||
        (rc = kl_ft_i32(c, &q->dsub, what)) != KL_OK ||
        (rc = kl_ft_i32(c, &q->lastdsub, what)) != KL_OK)
        return rc;
    if (q->dim != dim || q->dsub < 1 || q->dsub > FT_DSUB_MAX ||
        q->nsubq < 1 || q->lastdsub < 1 || q->lastdsub > q->dsub ||
        (int64_t)(q->nsubq - 1) * q->dsub + q->lastdsub != dim)
        return kl_error_set(c->err, c->errsz, KL_EFORMAT,
                            "%s: %s has dim %d, %d sub-quantizers of %d (last "
                            "%d): expected dim %d = (nsubq - 1) * dsub + "
                            "lastdsub, 1 <= lastdsub <= dsub <= %d", c->name,
                            what, (int)q->dim, (int)q->nsubq, (int)q->dsub,
                            (int)q->lastdsub, (int)dim, FT_DSUB_MAX);
    n = (size_t)dim * KL_FT_KSUB;
    if ((rc = kl_ft_need(c, (uint64_t)n * 4, what)) != KL_OK)
        return rc;
    if ((q->centroids = malloc(n * sizeof(float))) == NULL)
        return KL_ENOMEM;
    memcpy(q->centroids, c->p + c->off, n * sizeof(float));
    c->off += n * sizeof(float);
    return KL_OK;
}

/* Fills m->data (rows, dim) from codes (rows, nsubq) and, with qnorm, norm
 * codes (rows) of the one-dimensional norm quantizer. */
static void dequantize(const struct pq *q, const uint8_t *codes,
                       const struct pq *nq, const uint8_t *ncodes,
                       struct kl_ft_matrix *m)
{
    size_t dim = (size_t)q->dim;

    for (int64_t r = 0; r < m->rows; r++) {
        const uint8_t *code = codes + (size_t)r * (size_t)q->nsubq;
        float *row = m->data + (size_t)r * dim;
        float norm = nq ? pq_centroid(nq, 0, ncodes[r])[0] : 1.0f;

        for (int32_t j = 0; j < q->nsubq; j++) {
            const float *cen = pq_centroid(q, j, code[j]);
            int32_t d = j == q->nsubq - 1 ? q->lastdsub : q->dsub;
            for (int32_t k = 0; k < d; k++)
                row[(size_t)j * (size_t)q->dsub + (size_t)k] = norm * cen[k];
        }
    }
}

/* Contract in fasttext_read.h. */
int kl_ft_read_quant(struct kl_ft_cursor *c, const char *what, int32_t dim,
                     struct kl_ft_matrix *m)
{
    struct pq q = {0}, nq = {0};
    const uint8_t *codes, *ncodes = NULL;
    int32_t codesize;
    size_t n;
    int rc;

    m->quantized = 1;
    if ((rc = kl_ft_bool(c, &m->qnorm, what)) != KL_OK ||
        (rc = kl_ft_i64(c, &m->rows, what)) != KL_OK ||
        (rc = kl_ft_i64(c, &m->cols, what)) != KL_OK ||
        (rc = kl_ft_i32(c, &codesize, what)) != KL_OK)
        goto out;
    if (m->rows < 0 || m->cols != dim || codesize < 0) {
        rc = kl_error_set(c->err, c->errsz, KL_EFORMAT,
                          "%s: %s (quantized) claims %lld x %lld with %d "
                          "code bytes; expected %d columns (dim)", c->name,
                          what, (long long)m->rows, (long long)m->cols,
                          (int)codesize, (int)dim);
        goto out;
    }
    if ((rc = kl_ft_need(c, (uint64_t)codesize, "the quantized codes")) !=
        KL_OK)
        goto out;
    codes = c->p + c->off;
    c->off += (size_t)codesize;
    if ((rc = read_pq(c, "the product quantizer", dim, &q)) != KL_OK)
        goto out;
    if (codesize % q.nsubq != 0 || m->rows != codesize / q.nsubq) {
        rc = kl_error_set(c->err, c->errsz, KL_EFORMAT,
                          "%s: %s has %d code bytes, expected %lld rows x %d "
                          "sub-quantizers", c->name, what, (int)codesize,
                          (long long)m->rows, (int)q.nsubq);
        goto out;
    }
    if (m->qnorm) {
        if ((rc = kl_ft_need(c, (uint64_t)m->rows, "the norm codes")) !=
            KL_OK)
            goto out;
        ncodes = c->p + c->off;
        c->off += (size_t)m->rows;
        if ((rc = read_pq(c, "the norm quantizer", 1, &nq)) != KL_OK)
            goto out;
    }
    m->nsubq = q.nsubq;
    m->dsub = q.dsub;
    m->lastdsub = q.lastdsub;
    /* rows * nsubq code bytes are in the file and dsub <= FT_DSUB_MAX, so
     * this product is bounded by 4 * FT_DSUB_MAX times the file size. */
    n = (size_t)m->rows * (size_t)dim;
    if ((m->data = malloc(n ? n * sizeof(float) : 1)) == NULL) {
        rc = KL_ENOMEM;
        goto out;
    }
    dequantize(&q, codes, m->qnorm ? &nq : NULL, ncodes, m);
out:
    free(q.centroids);
    free(nq.centroids);
    return rc;
}
