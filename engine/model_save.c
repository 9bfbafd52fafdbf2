/*
 * engine/model_save.c: writing an opened model back out as a klabel
 * safetensors file (kl_model_save()), whatever it was opened from; this is
 * how a fastText .bin / .ftz becomes a klabel model (`klabel import`). A
 * quantized input matrix (quant.h: a quantized klabel file, or a .ftz kept
 * as codes) is written as it is, never re-quantized.
 */
#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"
#include "error.h"
#include "model.h"
#include "quant.h"
#include "tokmodel.h"

/* A copy of the "training" object of m's metadata, or NULL. */
static cJSON *training_copy(const struct kl_model *m)
{
    cJSON *root = m->meta.json ? cJSON_Parse(m->meta.json) : NULL;
    cJSON *t = root ? cJSON_DetachItemFromObjectCaseSensitive(root,
                                                              "training")
                    : NULL;

    cJSON_Delete(root);
    return t;
}

/* The "quant" metadata object of m's quantized input: the one its file had
 * (kept whole), or a new one for a fastText .ftz kept as codes. NULL for a
 * dense input, or when out of memory (*oom set). */
static cJSON *quant_object(const struct kl_model *m, int *oom)
{
    cJSON *root, *q;

    *oom = 0;
    if (m->quant.scheme == KL_QUANT_NONE)
        return NULL;
    root = m->meta.json ? cJSON_Parse(m->meta.json) : NULL;
    q = root ? cJSON_DetachItemFromObjectCaseSensitive(root, "quant") : NULL;
    cJSON_Delete(root);
    if (q == NULL &&
        ((q = cJSON_CreateObject()) == NULL ||
         !cJSON_AddStringToObject(q, "scheme",
                                  kl_quant_scheme_name(m->quant.scheme)) ||
         !cJSON_AddNumberToObject(q, "bits", 8) ||
         (m->quant.scheme == KL_QUANT_PQ &&
          (!cJSON_AddNumberToObject(q, "dsub", m->quant.dsub) ||
           !cJSON_AddNumberToObject(q, "ksub", KL_QUANT_KSUB))) ||
         !cJSON_AddNumberToObject(q, "rows", (double)m->quant.rows) ||
         !cJSON_AddStringToObject(q, "source", "fasttext"))) {
        cJSON_Delete(q);
        *oom = 1;
        return NULL;
    }
    return q;
}

/* The metadata JSON: m's, with id / version replaced, "training" and
 * "quant" kept. Caller frees with cJSON_free(); NULL when out of memory. */
static char *save_meta(const struct kl_model *m, const char *id,
                       const char *version)
{
    struct kl_meta meta = m->meta; /* shallow: borrowed for the call */
    cJSON *q, *root;
    char *json;
    int oom;

    meta.id = (char *)(id ? id : m->meta.id);
    meta.version = (char *)(version ? version : m->meta.version);
    json = kl_meta_format(&meta, training_copy(m));
    q = quant_object(m, &oom);
    if (json == NULL || oom || q == NULL) {
        cJSON_Delete(q);
        if (oom) {
            cJSON_free(json);
            return NULL;
        }
        return json;
    }
    root = cJSON_Parse(json);
    cJSON_free(json);
    json = NULL;
    if (root != NULL && cJSON_AddItemToObject(root, "quant", q)) {
        q = NULL;
        json = cJSON_PrintUnformatted(root);
    }
    cJSON_Delete(q);
    cJSON_Delete(root);
    return json;
}

/* Our model files keep a UTF-8 vocabulary (model.c checks it on open); a
 * fastText file may hold other bytes. */
static int check_vocab(const struct kl_model *m, const char *path, char *err,
                       size_t errsz)
{
    const struct kl_dict *d = &m->dict;
    size_t bad;

    if (d->vocab_len == 0 ||
        kl_utf8_validate(d->vocab, d->vocab_len, &bad) == KL_OK)
        return KL_OK;
    for (int32_t i = 0; i < d->nwords; i++)
        if (d->off[i + 1] > bad)
            return kl_error_set(err, errsz, KL_EINVAL,
                                "%s: vocabulary word %d is not valid UTF-8; "
                                "klabel model files need UTF-8 words (the "
                                "fastText file itself still opens)", path,
                                (int)i);
    return kl_error_set(err, errsz, KL_EINVAL,
                        "%s: the vocabulary is not valid UTF-8", path);
}

/* Contract in engine.h. */
int kl_model_save(const struct kl_model *m, const char *path, const char *id,
                  const char *version, char *err, size_t errsz)
{
    struct kl_st_out t[6 + KL_TOK_MODEL_TENSORS];
    const struct kl_qmat *q = &m->quant;
    const char *key = "klabel";
    char *json = NULL;
    size_t nt = 0;
    int rc;

    if (err != NULL && errsz > 0)
        err[0] = '\0';
    if (m == NULL || path == NULL)
        return kl_error_set(err, errsz, KL_EINVAL, "no model or path");
    if ((rc = check_vocab(m, path, err, errsz)) != KL_OK)
        return rc;
    if (m->input == NULL && q->scheme == KL_QUANT_NONE)
        return kl_error_set(err, errsz, KL_EINVAL, "%s: no input matrix",
                            path);
    if ((json = save_meta(m, id, version)) == NULL)
        return kl_error_set(err, errsz, KL_ENOMEM, "%s: out of memory",
                            path);
    /* 4-byte tensors first, byte tensors last: every tensor stays aligned
     * for mapping (the data starts at a multiple of KL_ST_ALIGN) */
    memset(t, 0, sizeof t);
    if (q->scheme == KL_QUANT_NONE)
        t[nt++] = (struct kl_st_out){"input", KL_ST_F32, 2,
                                     {(uint64_t)m->input_rows,
                                      (uint64_t)m->meta.dim}, m->input};
    t[nt++] = (struct kl_st_out){"output", KL_ST_F32, 2,
                                 {(uint64_t)m->meta.nlabels,
                                  (uint64_t)m->meta.dim}, m->output};
    if (q->scheme == KL_QUANT_INT8)
        t[nt++] = (struct kl_st_out){KL_QUANT_T_SCALE, KL_ST_F32, 1,
                                     {(uint64_t)q->rows}, q->scale};
    if (q->scheme == KL_QUANT_PQ)
        t[nt++] = (struct kl_st_out){KL_QUANT_T_CENTROIDS, KL_ST_F32, 3,
                                     {(uint64_t)q->nsubq, KL_QUANT_KSUB,
                                      (uint64_t)q->dsub}, q->centroids};
    if (m->dict.pruned)
        t[nt++] = (struct kl_st_out){"pruneidx", KL_ST_I32, 2,
                                     {(uint64_t)m->dict.prune_n, 2},
                                     m->dict.prune};
    if (q->scheme == KL_QUANT_INT8)
        t[nt++] = (struct kl_st_out){KL_QUANT_T_Q, KL_ST_I8, 2,
                                     {(uint64_t)q->rows, (uint64_t)q->dim},
                                     q->q};
    if (q->scheme == KL_QUANT_PQ)
        t[nt++] = (struct kl_st_out){KL_QUANT_T_CODES, KL_ST_U8, 2,
                                     {(uint64_t)q->rows, (uint64_t)q->nsubq},
                                     q->codes};
    if (m->dict.nwords > 0)
        t[nt++] = (struct kl_st_out){"vocab", KL_ST_U8, 1,
                                     {m->dict.vocab_len}, m->dict.vocab};
    nt += kl_tok_model_tensors(&m->meta.tok, t + nt);
    rc = kl_safetensors_write(path, &key, (const char *const *)&json, 1, t,
                              nt, err, errsz);
    cJSON_free(json);
    return rc;
}
