/*
 * engine/quant.c: the quantized input matrix of a model (layout in
 * quant.h): checked and mapped when the model opens, and read row by row
 * by prediction (sum of dequantized rows) and explanations (dot products).
 * Rows are never dequantized into a whole float matrix: the file stays
 * mapped and only the rows a text touches are read.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "klabel/engine.h"
#include "error.h"
#include "model.h"
#include "quant.h"

/* Contract in quant.h. */
const char *kl_quant_scheme_name(int scheme)
{
    switch (scheme) {
    case KL_QUANT_INT8: return "int8";
    case KL_QUANT_PQ: return "pq";
    }
    return "none";
}

/* A tensor called name of dtype with exactly the shape want[0..ndim),
 * aligned to its element size in the file. */
static int quant_tensor(const struct kl_model *m, const char *path,
                        const char *name, int dtype, int ndim,
                        const uint64_t *want, const void **out, char *err,
                        size_t errsz)
{
    const struct kl_st_tensor *t = kl_safetensors_find(&m->st, name);
    size_t es = kl_safetensors_dtype_size(dtype);
    int ok;

    if (t == NULL)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "%s: quantized model: tensor '%s' is missing",
                            path, name);
    ok = t->dtype == dtype && t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        ok = t->shape[i] == want[i];
    if (!ok)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "%s: tensor '%s' must be %s of shape [%llu, %llu"
                            "%s] (dtype or shape differ)", path, name,
                            dtype == KL_ST_F32 ? "F32"
                            : dtype == KL_ST_I8 ? "I8" : "U8",
                            (unsigned long long)want[0],
                            (unsigned long long)(ndim > 1 ? want[1] : 0),
                            ndim > 2 ? ", ..." : "");
    if (t->file_off % es != 0)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "%s: tensor '%s' is not aligned in the file",
                            path, name);
    *out = t->data;
    return KL_OK;
}

/* Reads an integer field of the "quant" object. */
static int quant_int(const cJSON *q, const char *key, int64_t def,
                     int64_t lo, int64_t hi, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(q, key);

    *out = def;
    if (v == NULL)
        return KL_OK;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= (double)lo &&
                                v->valuedouble <= (double)hi) ||
        v->valuedouble != (double)(int64_t)v->valuedouble)
        return KL_EFORMAT;
    *out = (int64_t)v->valuedouble;
    return KL_OK;
}

/* Maps and checks the int8 tensors. */
static int load_int8(struct kl_model *m, const char *path, char *err,
                     size_t errsz)
{
    struct kl_qmat *q = &m->quant;
    uint64_t shq[2] = {(uint64_t)q->rows, (uint64_t)q->dim};
    uint64_t shs[1] = {(uint64_t)q->rows};
    const void *pq, *ps;
    int rc;

    if ((rc = quant_tensor(m, path, KL_QUANT_T_Q, KL_ST_I8, 2, shq, &pq, err,
                           errsz)) != KL_OK ||
        (rc = quant_tensor(m, path, KL_QUANT_T_SCALE, KL_ST_F32, 1, shs, &ps,
                           err, errsz)) != KL_OK)
        return rc;
    q->q = pq;
    q->scale = ps;
    for (int64_t r = 0; r < q->rows; r++)
        if (!(q->scale[r] >= 0.0f && isfinite(q->scale[r])))
            return kl_error_set(err, errsz, KL_EFORMAT,
                                "%s: tensor '%s': row %lld has scale %g "
                                "(must be finite and >= 0)", path,
                                KL_QUANT_T_SCALE, (long long)r,
                                (double)q->scale[r]);
    return KL_OK;
}

/* Maps and checks the product-quantization tensors. */
static int load_pq(struct kl_model *m, const cJSON *qj, const char *path,
                   char *err, size_t errsz)
{
    struct kl_qmat *q = &m->quant;
    uint64_t shc[2], shk[3];
    const void *pc, *pk;
    size_t nk;
    int64_t dsub, ksub;
    int rc;

    if (quant_int(qj, "dsub", -1, 1, KL_QUANT_DSUB_MAX, &dsub) != KL_OK ||
        dsub < 1 || q->dim % dsub != 0 ||
        quant_int(qj, "ksub", KL_QUANT_KSUB, KL_QUANT_KSUB, KL_QUANT_KSUB,
                  &ksub) != KL_OK)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "%s: metadata: quant.dsub must be an integer in "
                            "[1, %d] dividing dim %d, quant.ksub %d", path,
                            KL_QUANT_DSUB_MAX, (int)q->dim, KL_QUANT_KSUB);
    q->dsub = (int32_t)dsub;
    q->nsubq = q->dim / q->dsub;
    shc[0] = (uint64_t)q->rows;
    shc[1] = (uint64_t)q->nsubq;
    shk[0] = (uint64_t)q->nsubq;
    shk[1] = KL_QUANT_KSUB;
    shk[2] = (uint64_t)q->dsub;
    if ((rc = quant_tensor(m, path, KL_QUANT_T_CODES, KL_ST_U8, 2, shc, &pc,
                           err, errsz)) != KL_OK ||
        (rc = quant_tensor(m, path, KL_QUANT_T_CENTROIDS, KL_ST_F32, 3, shk,
                           &pk, err, errsz)) != KL_OK)
        return rc;
    q->codes = pc;
    q->centroids = pk;
    nk = (size_t)q->nsubq * KL_QUANT_KSUB * (size_t)q->dsub;
    for (size_t i = 0; i < nk; i++)
        if (!isfinite(q->centroids[i]))
            return kl_error_set(err, errsz, KL_EFORMAT,
                                "%s: tensor '%s' holds a non-finite value",
                                path, KL_QUANT_T_CENTROIDS);
    return KL_OK;
}

/* Contract in quant.h. */
int kl_quant_load(struct kl_model *m, const char *path, char *err,
                  size_t errsz)
{
    static const char *const names[] = {KL_QUANT_T_Q, KL_QUANT_T_SCALE,
                                        KL_QUANT_T_CODES,
                                        KL_QUANT_T_CENTROIDS};
    cJSON *root = NULL;
    const cJSON *qj, *scheme;
    int64_t bits;
    int rc = KL_OK;

    memset(&m->quant, 0, sizeof m->quant);
    m->info.quant = KL_QUANT_NONE;
    if (m->meta.json != NULL && (root = cJSON_Parse(m->meta.json)) == NULL)
        return KL_ENOMEM; /* meta.c parsed it already */
    qj = root ? cJSON_GetObjectItemCaseSensitive(root, "quant") : NULL;
    if (qj == NULL) {
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (kl_safetensors_find(&m->st, names[i]) != NULL) {
                rc = kl_error_set(err, errsz, KL_EFORMAT,
                                  "%s: tensor '%s' but no \"quant\" in the "
                                  "metadata", path, names[i]);
                break;
            }
        goto out;
    }
    scheme = cJSON_GetObjectItemCaseSensitive(qj, "scheme");
    if (!cJSON_IsObject(qj) || !cJSON_IsString(scheme) ||
        quant_int(qj, "bits", -1, 8, 8, &bits) != KL_OK || bits != 8) {
        rc = kl_error_set(err, errsz, KL_EFORMAT,
                          "%s: metadata: \"quant\" must be an object with "
                          "\"scheme\" (\"int8\" or \"pq\") and \"bits\": 8",
                          path);
        goto out;
    }
    if (kl_safetensors_find(&m->st, "input") != NULL) {
        rc = kl_error_set(err, errsz, KL_EFORMAT,
                          "%s: a quantized model must not also hold a dense "
                          "'input' tensor", path);
        goto out;
    }
    m->quant.rows = kl_model_input_rows(m);
    m->quant.dim = m->meta.dim;
    if (strcmp(scheme->valuestring, "int8") == 0) {
        m->quant.scheme = KL_QUANT_INT8;
        rc = load_int8(m, path, err, errsz);
    } else if (strcmp(scheme->valuestring, "pq") == 0) {
        m->quant.scheme = KL_QUANT_PQ;
        rc = load_pq(m, qj, path, err, errsz);
    } else {
        rc = kl_error_set(err, errsz, KL_EFORMAT,
                          "%s: metadata: quant.scheme \"%.32s\" is not "
                          "\"int8\" or \"pq\"", path, scheme->valuestring);
    }
    if (rc == KL_OK)
        m->info.quant = m->quant.scheme;
out:
    if (rc != KL_OK)
        memset(&m->quant, 0, sizeof m->quant);
    cJSON_Delete(root);
    return rc;
}

/* h[0..dim) += s * q[0..dim): int8 -> float in blocks of 8, which gcc's
 * vectorizer turns into widening moves, conversions and fused SIMD math. */
static void add_i8(float *restrict h, const int8_t *restrict q, float s,
                   size_t dim)
{
    size_t d = 0;

    for (; d + 8 <= dim; d += 8)
        for (int k = 0; k < 8; k++)
            h[d + k] += s * (float)q[d + k];
    for (; d < dim; d++)
        h[d] += s * (float)q[d];
}

/* Contract in quant.h. */
void kl_quant_add_row(const struct kl_qmat *q, int64_t id, float *h)
{
    size_t dim = (size_t)q->dim;

    if (q->scheme == KL_QUANT_INT8) {
        add_i8(h, q->q + (size_t)id * dim, q->scale[id], dim);
        return;
    }
    {
        const uint8_t *c = q->codes + (size_t)id * (size_t)q->nsubq;
        size_t ds = (size_t)q->dsub;

        for (size_t j = 0; j < (size_t)q->nsubq; j++) {
            const float *cen = q->centroids + (j * KL_QUANT_KSUB + c[j]) * ds;
            for (size_t t = 0; t < ds; t++)
                h[j * ds + t] += cen[t];
        }
    }
}

/* Contract in quant.h. */
float kl_quant_dot(const struct kl_qmat *q, int64_t id, const float *w)
{
    size_t dim = (size_t)q->dim;
    float s = 0.0f;

    if (q->scheme == KL_QUANT_INT8) {
        const int8_t *r = q->q + (size_t)id * dim;
        for (size_t d = 0; d < dim; d++)
            s += w[d] * (float)r[d];
        return s * q->scale[id];
    }
    {
        const uint8_t *c = q->codes + (size_t)id * (size_t)q->nsubq;
        size_t ds = (size_t)q->dsub;

        for (size_t j = 0; j < (size_t)q->nsubq; j++) {
            const float *cen = q->centroids + (j * KL_QUANT_KSUB + c[j]) * ds;
            for (size_t t = 0; t < ds; t++)
                s += w[j * ds + t] * cen[t];
        }
    }
    return s;
}

/* Contract in quant.h. */
void kl_quant_row(const struct kl_qmat *q, int64_t id, float *out)
{
    memset(out, 0, (size_t)q->dim * sizeof *out);
    kl_quant_add_row(q, id, out);
}
