/*
 * engine/fasttext_quant.c: fastText's product-quantized matrices (.ftz):
 * reading them (codes and centroids, kept as they are) and dequantizing
 * them into dense floats on request.
 *
 * A quantized row is nsubq one-byte codes; code k of sub-quantizer j picks a
 * centroid of dsub floats (lastdsub for the last sub-quantizer), and the
 * row is their concatenation, times the row's norm when norms are quantized
 * separately (qnorm: one more one-dimensional quantizer). Dequantizing row
 * r gives exactly the floats fastText adds to its hidden vector for r
 * (norm * centroid, in float), so hidden layers come out bit-identical;
 * output rows (qout) differ from fastText's factored dot product only by
 * float rounding. fasttext_model.c decides what to dequantize: codes that
 * klabel's own "pq" layout (quant.h) can hold stay codes.
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

/* One product quantizer's header as read. */
struct pq {
    int32_t dim, nsubq, dsub, lastdsub;
};

/* Centroid `code` of sub-quantizer j in fastText's layout (cen: dim * 256
 * floats): dsub floats, lastdsub for the last sub-quantizer. */
static const float *pq_centroid(const float *cen, int32_t nsubq,
                                int32_t dsub, int32_t lastdsub, int32_t j,
                                uint8_t code)
{
    if (j == nsubq - 1)
        return cen + (size_t)j * KL_FT_KSUB * (size_t)dsub +
               (size_t)code * (size_t)lastdsub;
    return cen + ((size_t)j * KL_FT_KSUB + code) * (size_t)dsub;
}

/* A quantizer's header and its dim * 256 centroids (copied to *cen). */
static int read_pq(struct kl_ft_cursor *c, const char *what, int32_t dim,
                   struct pq *q, float **cen)
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
    if ((*cen = malloc(n * sizeof(float))) == NULL)
        return KL_ENOMEM;
    memcpy(*cen, c->p + c->off, n * sizeof(float));
    c->off += n * sizeof(float);
    return KL_OK;
}

/* Contract in fasttext_read.h. */
int kl_ft_dequantize(struct kl_ft_matrix *m)
{
    size_t dim = (size_t)m->cols, n = (size_t)m->rows * dim;

    if (m->data != NULL || !m->quantized)
        return KL_OK;
    /* rows * nsubq code bytes were in the file and dsub <= FT_DSUB_MAX:
     * n is at most FT_DSUB_MAX times the code bytes */
    if ((m->data = malloc(n ? n * sizeof(float) : 1)) == NULL)
        return KL_ENOMEM;
    for (int64_t r = 0; r < m->rows; r++) {
        const uint8_t *code = m->codes + (size_t)r * (size_t)m->nsubq;
        float *row = m->data + (size_t)r * dim;
        float norm = m->qnorm ? m->norm_centroids[m->norm_codes[r]] : 1.0f;

        for (int32_t j = 0; j < m->nsubq; j++) {
            const float *cen = pq_centroid(m->centroids, m->nsubq, m->dsub,
                                           m->lastdsub, j, code[j]);
            int32_t d = j == m->nsubq - 1 ? m->lastdsub : m->dsub;
            for (int32_t k = 0; k < d; k++)
                row[(size_t)j * (size_t)m->dsub + (size_t)k] = norm * cen[k];
        }
    }
    return KL_OK;
}

/* Contract in fasttext_read.h. On failure what m holds is freed by
 * kl_fasttext_fini(). */
int kl_ft_read_quant(struct kl_ft_cursor *c, const char *what, int32_t dim,
                     struct kl_ft_matrix *m)
{
    struct pq q = {0}, nq = {0};
    const unsigned char *codes;
    int32_t codesize;
    int rc;

    m->quantized = 1;
    if ((rc = kl_ft_bool(c, &m->qnorm, what)) != KL_OK ||
        (rc = kl_ft_i64(c, &m->rows, what)) != KL_OK ||
        (rc = kl_ft_i64(c, &m->cols, what)) != KL_OK ||
        (rc = kl_ft_i32(c, &codesize, what)) != KL_OK)
        return rc;
    if (m->rows < 0 || m->cols != dim || codesize < 0)
        return kl_error_set(c->err, c->errsz, KL_EFORMAT,
                            "%s: %s (quantized) claims %lld x %lld with %d "
                            "code bytes; expected %d columns (dim)", c->name,
                            what, (long long)m->rows, (long long)m->cols,
                            (int)codesize, (int)dim);
    if ((rc = kl_ft_need(c, (uint64_t)codesize, "the quantized codes")) !=
        KL_OK)
        return rc;
    codes = c->p + c->off;
    c->off += (size_t)codesize;
    if ((rc = read_pq(c, "the product quantizer", dim, &q,
                      &m->centroids)) != KL_OK)
        return rc;
    if (codesize % q.nsubq != 0 || m->rows != codesize / q.nsubq)
        return kl_error_set(c->err, c->errsz, KL_EFORMAT,
                            "%s: %s has %d code bytes, expected %lld rows x "
                            "%d sub-quantizers", c->name, what, (int)codesize,
                            (long long)m->rows, (int)q.nsubq);
    m->nsubq = q.nsubq;
    m->dsub = q.dsub;
    m->lastdsub = q.lastdsub;
    if ((m->codes = malloc(codesize ? (size_t)codesize : 1)) == NULL)
        return KL_ENOMEM;
    memcpy(m->codes, codes, (size_t)codesize);
    if (!m->qnorm)
        return KL_OK;
    if ((rc = kl_ft_need(c, (uint64_t)m->rows, "the norm codes")) != KL_OK)
        return rc;
    if ((m->norm_codes = malloc(m->rows ? (size_t)m->rows : 1)) == NULL)
        return KL_ENOMEM;
    memcpy(m->norm_codes, c->p + c->off, (size_t)m->rows);
    c->off += (size_t)m->rows;
    return read_pq(c, "the norm quantizer", 1, &nq, &m->norm_centroids);
}
