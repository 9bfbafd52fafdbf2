/*
 * engine/model.c: opening a klabel model file. Glues the safetensors
 * container (safetensors.c), the klabel metadata (meta.c) and the
 * vocabulary index (dict.c), and checks that they agree: tensor shapes
 * against the metadata, alignment of the mapped floats, finite output
 * weights. A model that opens cannot make prediction read out of bounds.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"
#include "error.h"
#include "model.h"
#include "project.h"
#include "tokenize.h"
#include "nn_model.h"
#include "tokmodel.h"

/* A float matrix tensor called name with shape (rows, cols), 4-aligned in
 * the mapping. */
static int model_matrix(const struct kl_model *m, const char *path,
                        const char *name, int64_t rows, int64_t cols,
                        const float **out, char *err, size_t errsz)
{
    const struct kl_st_tensor *t = kl_safetensors_find(&m->st, name);

    if (t == NULL)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "%s: tensor '%s' is missing", path, name);
    if (t->dtype != KL_ST_F32 || t->ndim != 2)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "%s: tensor '%s' must be a 2-D F32 matrix", path,
                            name);
    if (t->shape[0] != (uint64_t)rows || t->shape[1] != (uint64_t)cols)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "%s: tensor '%s' has shape [%llu, %llu], the "
                            "metadata needs [%lld, %lld]", path, name,
                            (unsigned long long)t->shape[0],
                            (unsigned long long)t->shape[1], (long long)rows,
                            (long long)cols);
    if (t->file_off % sizeof(float) != 0)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "%s: tensor '%s' starts at file offset %llu, not "
                            "a multiple of 4: its floats cannot be mapped "
                            "(pad the header with spaces)", path, name,
                            (unsigned long long)t->file_off);
    *out = (const float *)(const void *)t->data;
    return KL_OK;
}

/* The vocab tensor (U8, 1-D), or an empty vocabulary when it is absent
 * and nwords is 0. */
static int model_vocab(struct kl_model *m, const char *path, char *err,
                       size_t errsz)
{
    const struct kl_st_tensor *t = kl_safetensors_find(&m->st, "vocab");
    char why[256] = "";
    int rc;

    if (t == NULL && m->meta.nwords > 0)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "%s: tensor 'vocab' is missing (nwords is %d)",
                            path, (int)m->meta.nwords);
    if (t != NULL && (t->dtype != KL_ST_U8 || t->ndim != 1))
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "%s: tensor 'vocab' must be 1-D U8", path);
    rc = kl_dict_init(&m->dict, t ? (const char *)t->data : NULL,
                      t ? (size_t)(t->end - t->begin) : 0, m->meta.nwords,
                      why, sizeof why);
    if (rc == KL_EFORMAT)
        return kl_error_set(err, errsz, rc, "%s: %s", path, why);
    if (rc == KL_OK && t != NULL &&
        kl_utf8_validate((const char *)t->data, t->end - t->begin, NULL) != KL_OK)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "%s: tensor 'vocab' is not valid UTF-8", path);
    return rc;
}

/* Contract in model.h. */
void kl_model_fill_info(struct kl_model *m)
{
    struct kl_model_info *i = &m->info;

    i->id = m->meta.id;
    i->version = m->meta.version;
    i->architecture = m->meta.architecture;
    i->loss = m->meta.loss;
    i->dim = m->meta.dim;
    i->nwords = m->meta.nwords;
    i->bucket = m->meta.bucket;
    i->word_ngrams = m->meta.word_ngrams;
    i->minn = m->meta.minn;
    i->maxn = m->meta.maxn;
    i->nlabels = m->meta.nlabels;
    i->labels = (const char *const *)m->meta.labels;
    i->tok = m->meta.tok;
    i->metadata_json = m->meta.json;
    i->label_counts = m->meta.label_counts;
    if (i->file_format == NULL)
        i->file_format = "safetensors";
    kl_dict_set_bucket(&m->dict, m->meta.bucket);
    m->dict.word_ngrams = m->meta.word_ngrams;
    m->dict.minn = m->meta.minn;
    m->dict.maxn = m->meta.maxn;
    m->dict.tok = m->meta.tok;
}

/* Contract in engine.h. */
int kl_model_open(const char *path, struct kl_model **out, char *err,
                  size_t errsz)
{
    struct kl_model *m = NULL;
    const cJSON *meta;
    char why[512] = "";
    int rc;

    if (err != NULL && errsz > 0)
        err[0] = '\0';
    if (path == NULL || out == NULL)
        return kl_error_set(err, errsz, KL_EINVAL, "no path or output");
    *out = NULL;
    if (kl_model_is_fasttext(path)) /* a fastText .bin / .ftz */
        return kl_model_open_fasttext(path, out, err, errsz);
    if ((m = calloc(1, sizeof *m)) == NULL) {
        rc = KL_ENOMEM;
        goto out;
    }
    if ((rc = kl_safetensors_open(&m->st, path, err, errsz)) != KL_OK)
        goto out;
    meta = m->st.metadata
               ? cJSON_GetObjectItemCaseSensitive(m->st.metadata, "klabel")
               : NULL;
    if (meta == NULL) {
        rc = kl_error_set(err, errsz, KL_EFORMAT,
                          "%s: no \"klabel\" entry in __metadata__ (not a "
                          "klabel model?)", path);
        goto out;
    }
    if ((rc = kl_meta_parse(meta->valuestring, &m->meta, why,
                            sizeof why)) != KL_OK) {
        rc = kl_error_set(err, errsz, rc, "%s: %s", path, why);
        goto out;
    }
    if (kl_nn_arch_of(m->meta.architecture) != KL_ARCH_FASTTEXT) {
        /* bilstm / textcnn: their own tensors (nn_model.c) */
        if ((rc = kl_nn_model_load(m, path, err, errsz)) != KL_OK)
            goto out;
        kl_model_fill_info(m);
        kl_tokenize_prepare(); /* not on the first text */
        *out = m;
        m = NULL;
        goto out;
    }
    if ((rc = kl_quant_load(m, path, err, errsz)) != KL_OK ||
        (m->quant.scheme == KL_QUANT_NONE && /* else quantized (quant.c) */
         (rc = model_matrix(m, path, "input", kl_model_input_rows(m),
                            m->meta.dim, &m->input, err, errsz)) != KL_OK) ||
        (rc = model_matrix(m, path, "output", m->meta.nlabels, m->meta.dim,
                           &m->output, err, errsz)) != KL_OK ||
        (rc = model_vocab(m, path, err, errsz)) != KL_OK ||
        (rc = kl_model_load_extras(m, path, err, errsz)) != KL_OK ||
        (rc = kl_tok_model_load(m, path, err, errsz)) != KL_OK)
        goto out;
    /* The output layer is small: reject non-finite weights here. Input rows
     * are not scanned (hundreds of MB); prediction clamps NaN instead. */
    for (size_t i = 0; i < (size_t)m->meta.nlabels * (size_t)m->meta.dim; i++)
        if (!isfinite(m->output[i])) {
            rc = kl_error_set(err, errsz, KL_EFORMAT,
                              "%s: tensor 'output' holds a non-finite value "
                              "at row %zu", path, i / (size_t)m->meta.dim);
            goto out;
        }
    kl_model_fill_info(m);
    kl_tokenize_prepare(); /* not on the first text */
    kl_model_advise_rows(m); /* input rows are read at random (tensors.c) */
    *out = m;
    m = NULL;
out:
    if (rc == KL_ENOMEM && err != NULL && errsz > 0 && err[0] == '\0')
        kl_error_set(err, errsz, rc, "%s: out of memory", path);
    kl_model_destroy(m);
    return rc;
}

/* Contract in engine.h. */
void kl_model_destroy(struct kl_model *m)
{
    if (m == NULL)
        return;
    kl_dict_fini(&m->dict);
    kl_model_unproject(m);
    kl_nn_model_free(m);
    kl_tok_model_free(m);
    kl_hs_fini(&m->hs);
    kl_meta_fini(&m->meta);
    kl_safetensors_close(&m->st);
    free(m->own_input);
    free(m->own_output);
    free(m->own_vocab);
    free(m->own_codes);
    free(m->own_centroids);
    free(m);
}

/* Contract in engine.h. */
const struct kl_model_info *kl_model_info(const struct kl_model *m)
{
    return m ? &m->info : NULL;
}

/* Contract in engine.h. f is caller-owned and reused. */
int kl_model_featurize(const struct kl_model *m, const char *text, size_t len,
                       struct kl_features *f)
{
    if (m == NULL || f == NULL || (text == NULL && len > 0))
        return KL_EINVAL;
    if (m->nn != NULL) /* bilstm / textcnn: token ids (nn_vocab.c) */
        return kl_nn_featurize(m, text, len, f);
    return kl_dict_featurize(&m->dict, text, len, f);
}
