/*
 * engine/model_save.c: writing an opened model back out as a klabel
 * safetensors file (kl_model_save()), whatever it was opened from; this is
 * how a fastText .bin / .ftz becomes a klabel model (`klabel import`).
 */
#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"
#include "error.h"
#include "model.h"
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
    struct kl_st_out t[4 + KL_TOK_MODEL_TENSORS];
    struct kl_meta meta;
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
    meta = m->meta; /* shallow: borrowed for kl_meta_format() only */
    meta.id = (char *)(id ? id : m->meta.id);
    meta.version = (char *)(version ? version : m->meta.version);
    if ((json = kl_meta_format(&meta, training_copy(m))) == NULL)
        return kl_error_set(err, errsz, KL_ENOMEM, "%s: out of memory",
                            path);
    memset(t, 0, sizeof t);
    t[nt++] = (struct kl_st_out){"input", KL_ST_F32, 2,
                                 {(uint64_t)m->input_rows,
                                  (uint64_t)m->meta.dim}, m->input};
    t[nt++] = (struct kl_st_out){"output", KL_ST_F32, 2,
                                 {(uint64_t)m->meta.nlabels,
                                  (uint64_t)m->meta.dim}, m->output};
    if (m->dict.pruned)
        t[nt++] = (struct kl_st_out){"pruneidx", KL_ST_I32, 2,
                                     {(uint64_t)m->dict.prune_n, 2},
                                     m->dict.prune};
    if (m->dict.nwords > 0)
        t[nt++] = (struct kl_st_out){"vocab", KL_ST_U8, 1,
                                     {m->dict.vocab_len}, m->dict.vocab};
    nt += kl_tok_model_tensors(&m->meta.tok, t + nt);
    rc = kl_safetensors_write(path, &key, (const char *const *)&json, 1, t,
                              nt, err, errsz);
    cJSON_free(json);
    return rc;
}
