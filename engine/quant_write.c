/*
 * engine/quant_write.c: `klabel quantize` (kl_model_quantize()): writes a
 * model with its input matrix quantized, as int8 rows with a per-row scale
 * or by product quantization (quant_pq.c), optionally keeping only the
 * hashed n-gram rows of largest norm (a prune index, as fastText's
 * `quantize -cutoff` does for its n-grams). Layout in quant.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"
#include "error.h"
#include "model.h"
#include "quant.h"
#include "tokmodel.h"

/* Rows kept: what the new input matrix is made of. */
struct qsel {
    int64_t *idx;     /* (rows) source row of each new row, or NULL = all */
    int64_t rows;
    int32_t *pairs;   /* (npairs, 2) the new prune index, or NULL */
    size_t npairs;
    int own_pairs;    /* pairs were allocated here */
};

/* One hashed n-gram row that may be kept. */
struct qcand {
    float norm2;  /* squared L2 norm of the row */
    int32_t h;    /* its n-gram id in [0, bucket) */
    int64_t row;  /* its row in the source matrix */
};

/* Contract in engine.h. */
void kl_quant_opts_init(struct kl_quant_opts *o)
{
    memset(o, 0, sizeof *o);
    o->scheme = KL_QUANT_INT8;
    o->dsub = 2;
    o->seed = 1;
}

static int cmp_norm_desc(const void *a, const void *b)
{
    const struct qcand *x = a, *y = b;

    if (x->norm2 != y->norm2)
        return x->norm2 > y->norm2 ? -1 : 1;
    return (x->h > y->h) - (x->h < y->h);
}

static int cmp_h(const void *a, const void *b)
{
    const struct qcand *x = a, *y = b;

    return (x->h > y->h) - (x->h < y->h);
}

/* Chooses the rows to keep: all of them, or the vocabulary plus the
 * cutoff n-gram rows of largest norm (ties: smaller n-gram id). */
static int select_rows(const struct kl_model *m, int64_t cutoff,
                       struct qsel *s)
{
    const struct kl_dict *d = &m->dict;
    size_t dim = (size_t)m->info.dim;
    int64_t nw = m->info.nwords;
    size_t nc = d->pruned ? d->prune_n : (size_t)m->info.bucket;
    struct qcand *c = NULL;
    int rc = KL_ENOMEM;

    memset(s, 0, sizeof *s);
    s->rows = m->input_rows;
    if (cutoff <= 0 || (uint64_t)cutoff >= nc) { /* keep everything */
        s->pairs = d->pruned ? d->prune : NULL;
        s->npairs = d->pruned ? d->prune_n : 0;
        return KL_OK;
    }
    if ((c = malloc(nc * sizeof *c)) == NULL)
        return KL_ENOMEM;
    for (size_t i = 0; i < nc; i++) {
        const float *r;
        double n2 = 0.0;
        c[i].h = d->pruned ? d->prune[2 * i] : (int32_t)i;
        c[i].row = nw + (d->pruned ? d->prune[2 * i + 1] : (int64_t)i);
        r = m->input + (size_t)c[i].row * dim;
        for (size_t k = 0; k < dim; k++)
            n2 += (double)r[k] * r[k];
        c[i].norm2 = isfinite(n2) ? (float)n2 : 0.0f;
    }
    qsort(c, nc, sizeof *c, cmp_norm_desc);
    qsort(c, (size_t)cutoff, sizeof *c, cmp_h); /* kept rows by n-gram id */
    s->rows = nw + cutoff;
    s->npairs = (size_t)cutoff;
    s->idx = malloc((size_t)s->rows * sizeof *s->idx);
    s->pairs = malloc(s->npairs * 2 * sizeof *s->pairs);
    s->own_pairs = 1;
    if (s->idx == NULL || s->pairs == NULL)
        goto out;
    for (int64_t i = 0; i < nw; i++)
        s->idx[i] = i;
    for (size_t k = 0; k < s->npairs; k++) {
        s->idx[nw + (int64_t)k] = c[k].row;
        s->pairs[2 * k] = c[k].h;
        s->pairs[2 * k + 1] = (int32_t)k;
    }
    rc = KL_OK;
out:
    free(c);
    return rc;
}

static void qsel_fini(struct qsel *s)
{
    free(s->idx);
    if (s->own_pairs)
        free(s->pairs);
    memset(s, 0, sizeof *s);
}

/* int8 rows: q = round(x / scale), scale = max |x| / 127 (0 for a zero
 * row; non-finite values count as 0). q: (n, dim), scale: (n). */
static void quantize_int8(const struct kl_qsrc *src, int8_t *q, float *scale)
{
    size_t dim = (size_t)src->dim;

    for (int64_t i = 0; i < src->n; i++) {
        const float *r = kl_qsrc_row(src, i);
        int8_t *qi = q + (size_t)i * dim;
        float mx = 0.0f, s;

        for (size_t k = 0; k < dim; k++)
            if (isfinite(r[k]) && fabsf(r[k]) > mx)
                mx = fabsf(r[k]);
        s = mx / 127.0f;
        scale[i] = s;
        for (size_t k = 0; k < dim; k++) {
            long v = s > 0.0f && isfinite(r[k]) ? lrintf(r[k] / s) : 0;
            qi[k] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
        }
    }
}

/* The metadata JSON of the quantized file: m's, with "quant" added.
 * Caller frees with cJSON_free(); NULL when out of memory. */
static char *quant_meta(const struct kl_model *m,
                        const struct kl_quant_opts *o, const struct qsel *s)
{
    cJSON *root = m->meta.json ? cJSON_Parse(m->meta.json) : NULL;
    cJSON *training = root ? cJSON_DetachItemFromObjectCaseSensitive(
                                 root, "training")
                           : NULL;
    cJSON *q;
    char *json, *out = NULL;

    cJSON_Delete(root);
    if ((json = kl_meta_format(&m->meta, training)) == NULL)
        return NULL;
    root = cJSON_Parse(json);
    cJSON_free(json);
    q = root ? cJSON_AddObjectToObject(root, "quant") : NULL;
    if (q != NULL &&
        cJSON_AddStringToObject(q, "scheme", kl_quant_scheme_name(o->scheme)) &&
        cJSON_AddNumberToObject(q, "bits", 8) &&
        (o->scheme != KL_QUANT_PQ ||
         (cJSON_AddNumberToObject(q, "dsub", o->dsub) &&
          cJSON_AddNumberToObject(q, "ksub", KL_QUANT_KSUB))) &&
        cJSON_AddNumberToObject(q, "cutoff", (double)(s->idx ? o->cutoff : 0)) &&
        cJSON_AddNumberToObject(q, "rows", (double)s->rows) &&
        cJSON_AddNumberToObject(q, "source_rows", (double)m->input_rows))
        out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}

/* Checks m and o before any work. */
static int quant_check(const struct kl_model *m,
                       const struct kl_quant_opts *o, const char *path,
                       char *err, size_t errsz)
{
    if (m == NULL || o == NULL || path == NULL)
        return kl_error_set(err, errsz, KL_EINVAL, "no model, options or path");
    if (m->info.architecture == NULL ||
        strcmp(m->info.architecture, "fasttext") != 0)
        return kl_error_set(err, errsz, KL_EINVAL,
                            "%s: only \"fasttext\" models can be quantized",
                            path);
    if (m->input == NULL)
        return kl_error_set(err, errsz, KL_EINVAL,
                            "%s: the model is quantized already (%s)", path,
                            kl_quant_scheme_name(m->quant.scheme));
    if (o->scheme != KL_QUANT_INT8 && o->scheme != KL_QUANT_PQ)
        return kl_error_set(err, errsz, KL_EINVAL,
                            "unknown quantization scheme %d", o->scheme);
    if (o->scheme == KL_QUANT_PQ &&
        (o->dsub < 1 || o->dsub > KL_QUANT_DSUB_MAX ||
         m->info.dim % o->dsub != 0))
        return kl_error_set(err, errsz, KL_EINVAL,
                            "dsub %d must be in [1, %d] and divide dim %d",
                            (int)o->dsub, KL_QUANT_DSUB_MAX, (int)m->info.dim);
    if (o->cutoff < 0 || o->cutoff > INT32_MAX)
        return kl_error_set(err, errsz, KL_EINVAL, "cutoff %lld out of range",
                            (long long)o->cutoff);
    if (m->dict.vocab_len > 0 &&
        kl_utf8_validate(m->dict.vocab, m->dict.vocab_len, NULL) != KL_OK)
        return kl_error_set(err, errsz, KL_EINVAL,
                            "%s: the vocabulary is not valid UTF-8 (klabel "
                            "model files need UTF-8 words)", path);
    return KL_OK;
}

/* Contract in engine.h. */
int kl_model_quantize(const struct kl_model *m, const struct kl_quant_opts *o,
                      const char *path, char *err, size_t errsz)
{
    struct kl_st_out t[5 + KL_TOK_MODEL_TENSORS];
    const char *key = "klabel";
    struct qsel sel;
    struct kl_qsrc src;
    void *qa = NULL, *qb = NULL; /* q + scale, or codes + centroids */
    size_t nt = 0, dim, nsubq;
    char *json = NULL;
    int rc;

    if (err != NULL && errsz > 0)
        err[0] = '\0';
    memset(&sel, 0, sizeof sel);
    if ((rc = quant_check(m, o, path, err, errsz)) != KL_OK)
        return rc;
    if ((rc = select_rows(m, o->cutoff, &sel)) != KL_OK)
        goto out;
    dim = (size_t)m->info.dim;
    nsubq = o->scheme == KL_QUANT_PQ ? dim / (size_t)o->dsub : dim;
    src = (struct kl_qsrc){m->input, sel.idx, sel.rows, m->info.dim};
    memset(t, 0, sizeof t);
    if (o->scheme == KL_QUANT_INT8) {
        qa = malloc((size_t)sel.rows * dim + 1);
        qb = malloc((size_t)sel.rows * sizeof(float) + 1);
        if (qa == NULL || qb == NULL) {
            rc = KL_ENOMEM;
            goto out;
        }
        quantize_int8(&src, qa, qb);
        t[nt++] = (struct kl_st_out){KL_QUANT_T_SCALE, KL_ST_F32, 1,
                                     {(uint64_t)sel.rows}, qb};
    } else {
        qa = malloc((size_t)sel.rows * nsubq + 1);
        qb = malloc(nsubq * KL_QUANT_KSUB * (size_t)o->dsub * sizeof(float));
        if (qa == NULL || qb == NULL ||
            kl_pq_build(&src, o->dsub, o->seed, o->verbose, qb, qa) != KL_OK) {
            rc = KL_ENOMEM;
            goto out;
        }
        t[nt++] = (struct kl_st_out){KL_QUANT_T_CENTROIDS, KL_ST_F32, 3,
                                     {nsubq, KL_QUANT_KSUB,
                                      (uint64_t)o->dsub}, qb};
    }
    t[nt++] = (struct kl_st_out){"output", KL_ST_F32, 2,
                                 {(uint64_t)m->info.nlabels, dim}, m->output};
    if (sel.pairs != NULL)
        t[nt++] = (struct kl_st_out){"pruneidx", KL_ST_I32, 2,
                                     {sel.npairs, 2}, sel.pairs};
    /* 1-byte tensors after the 4-byte ones (as model_save.c orders them):
     * the writer packs tensors without holes, so an I8/U8 tensor of a size
     * not a multiple of 4 would leave the F32 ones after it unaligned, and
     * kl_model_open() rejects unaligned floats */
    if (o->scheme == KL_QUANT_INT8)
        t[nt++] = (struct kl_st_out){KL_QUANT_T_Q, KL_ST_I8, 2,
                                     {(uint64_t)sel.rows, dim}, qa};
    else
        t[nt++] = (struct kl_st_out){KL_QUANT_T_CODES, KL_ST_U8, 2,
                                     {(uint64_t)sel.rows, nsubq}, qa};
    if (m->dict.nwords > 0)
        t[nt++] = (struct kl_st_out){"vocab", KL_ST_U8, 1,
                                     {m->dict.vocab_len}, m->dict.vocab};
    nt += kl_tok_model_tensors(&m->meta.tok, t + nt);
    if ((json = quant_meta(m, o, &sel)) == NULL) {
        rc = KL_ENOMEM;
        goto out;
    }
    rc = kl_safetensors_write(path, &key, (const char *const *)&json, 1, t,
                              nt, err, errsz);
out:
    if (rc == KL_ENOMEM && err != NULL && errsz > 0 && err[0] == '\0')
        kl_error_set(err, errsz, rc, "%s: out of memory", path);
    cJSON_free(json);
    free(qa);
    free(qb);
    qsel_fini(&sel);
    return rc;
}
