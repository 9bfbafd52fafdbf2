/*
 * engine/nn_model.c: a "bilstm" or "textcnn" model behind the public model
 * interface. Opening checks every tensor the "nn" metadata implies (names
 * and shapes in docs/model-format.md) and maps it without copying;
 * kl_model_predict_batch() runs kl_nn_forward() for the whole batch, then
 * softmax / sigmoid and the same top-k ranking as the fastText models.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"
#include "error.h"
#include "model.h"
#include "nn_model.h"
#include "tokmodel.h"
#include "topk.h"

/* The vocabulary tensor into m->dict (the featurizer's word lookup). */
static int nn_vocab(struct kl_model *m, const char *path, char *err,
                    size_t errsz)
{
    const struct kl_st_tensor *t = kl_safetensors_find(&m->st, "vocab");
    char why[256] = "";
    int rc;

    if (t == NULL || t->dtype != KL_ST_U8 || t->ndim != 1)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "%s: tensor 'vocab' is missing or not 1-D U8",
                            path);
    if (kl_utf8_validate((const char *)t->data, t->end - t->begin, NULL))
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "%s: tensor 'vocab' is not valid UTF-8", path);
    rc = kl_dict_init(&m->dict, (const char *)t->data,
                      (size_t)(t->end - t->begin), m->meta.nwords, why,
                      sizeof why);
    if (rc == KL_EFORMAT)
        return kl_error_set(err, errsz, rc, "%s: %s", path, why);
    return rc;
}

/* Every parameter tensor: present, F32, the shape the metadata implies,
 * 4-aligned; finite outside the embedding (which is too big to scan and
 * is clamped by nothing: a NaN there only spoils that word's texts). */
static int nn_tensors(struct kl_model *m, const char *path, char *err,
                      size_t errsz)
{
    struct kl_nn_tensor t[KL_NN_TENSORS_MAX];
    size_t total, nt = kl_nn_tensors(&m->nn->c, &m->nn->w, t, &total);

    for (size_t i = 0; i < nt; i++) {
        const struct kl_st_tensor *st = kl_safetensors_find(&m->st, t[i].name);
        int ok = st != NULL && st->dtype == KL_ST_F32 &&
                 st->ndim == t[i].ndim;
        for (int d = 0; ok && d < t[i].ndim; d++)
            ok = st->shape[d] == (uint64_t)t[i].shape[d];
        if (!ok)
            return kl_error_set(err, errsz, KL_EFORMAT,
                                "%s: tensor '%s' is missing or not F32 of "
                                "shape [%lld%s%.0lld%s%.0lld] (see "
                                "docs/model-format.md)", path, t[i].name,
                                (long long)t[i].shape[0],
                                t[i].ndim > 1 ? ", " : "",
                                (long long)(t[i].ndim > 1 ? t[i].shape[1] : 0),
                                t[i].ndim > 2 ? ", " : "",
                                (long long)(t[i].ndim > 2 ? t[i].shape[2] : 0));
        if (st->file_off % sizeof(float) != 0)
            return kl_error_set(err, errsz, KL_EFORMAT,
                                "%s: tensor '%s' is not 4-byte aligned in "
                                "the file", path, t[i].name);
        *t[i].slot = (const float *)(const void *)st->data;
        for (size_t j = 0; i > 0 && j < t[i].size; j++)
            if (!isfinite((*t[i].slot)[j]))
                return kl_error_set(err, errsz, KL_EFORMAT,
                                    "%s: tensor '%s' holds a non-finite "
                                    "value", path, t[i].name);
    }
    return KL_OK;
}

/* Contract in nn_model.h. */
int kl_nn_model_load(struct kl_model *m, const char *path, char *err,
                     size_t errsz)
{
    cJSON *root = cJSON_Parse(m->meta.json);
    char why[512] = "";
    int rc;

    m->arch = kl_nn_arch_of(m->meta.architecture);
    if (root == NULL || (m->nn = calloc(1, sizeof *m->nn)) == NULL) {
        rc = KL_ENOMEM;
        goto out;
    }
    if (m->meta.bucket != 0 || m->meta.nwords < 1) {
        rc = kl_error_set(err, errsz, KL_EFORMAT,
                          "%s: a neural model needs nwords >= 1 and bucket "
                          "0", path);
        goto out;
    }
    if ((rc = kl_nn_conf_parse(root, m->arch, m->meta.nlabels, m->meta.dim,
                               m->meta.loss, m->meta.nwords, &m->nn->c, why,
                               sizeof why)) != KL_OK) {
        rc = kl_error_set(err, errsz, rc, "%s: %s", path, why);
        goto out;
    }
    if ((rc = nn_vocab(m, path, err, errsz)) != KL_OK ||
        (rc = kl_tok_model_load(m, path, err, errsz)) != KL_OK ||
        (rc = nn_tensors(m, path, err, errsz)) != KL_OK ||
        (rc = kl_nn_prepare(m->nn)) != KL_OK)
        goto out;
    m->input_rows = m->nn->c.rows;
out:
    cJSON_Delete(root);
    return rc;
}

/* Contract in nn_model.h. */
void kl_nn_model_free(struct kl_model *m)
{
    if (m->nn == NULL)
        return;
    kl_nn_fini(m->nn);
    free(m->nn);
    m->nn = NULL;
}

/* Contract in nn_model.h. */
const struct kl_nn *kl_nn_of(const struct kl_model *m)
{
    return m ? m->nn : NULL;
}

/* Contract in nn_model.h. */
int kl_nn_featurize(const struct kl_model *m, const char *text, size_t len,
                    struct kl_features *f)
{
    return kl_nn_seq_ids(&m->dict, &m->nn->c, text, len, f);
}

/* Contract in nn_model.h. */
void kl_nn_scratch_free(void *nn)
{
    if (nn == NULL)
        return;
    kl_nn_scratch_fini(nn);
    free(nn);
}

/* Contract in nn_model.h. */
int kl_nn_model_logits(const struct kl_model *m,
                       const struct kl_features *const *feats, size_t n,
                       struct kl_scratch *s, const float **logits,
                       int32_t *nout)
{
    struct kl_nn_scratch *ns;
    int rc;

    if (m == NULL || m->nn == NULL || s == NULL || (n > 0 && feats == NULL))
        return KL_EINVAL;
    if (s->nn == NULL && (s->nn = calloc(1, sizeof *ns)) == NULL)
        return KL_ENOMEM;
    ns = s->nn;
    if (kl_nn_reserve((void **)&ns->seqv, &ns->vcap, n, sizeof *ns->seqv) ||
        kl_nn_reserve((void **)&ns->lenv, &ns->lvcap, n, sizeof *ns->lenv))
        return KL_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        ns->seqv[i] = feats[i] ? feats[i]->ids : NULL;
        ns->lenv[i] = feats[i] ? feats[i]->n : 0;
    }
    if ((rc = kl_nn_forward(m->nn, ns->seqv, ns->lenv, n, ns, NULL)) != KL_OK)
        return rc;
    *logits = ns->logits;
    *nout = m->nn->c.nout;
    return KL_OK;
}

/* Probabilities of the labels from one row of logits z, into p. */
static void head_probs(const struct kl_nn_conf *c, const float *z, float *p)
{
    int32_t nl = c->nlabels;

    if (c->head == KL_NN_HEAD_BINARY) {
        p[1] = 1.0f / (1.0f + expf(-z[0]));
        p[0] = 1.0f - p[1];
    } else if (c->head == KL_NN_HEAD_SIGMOID) {
        for (int32_t j = 0; j < nl; j++)
            p[j] = 1.0f / (1.0f + expf(-z[j]));
    } else {
        float max = z[0], sum = 0.0f;
        for (int32_t j = 1; j < nl; j++)
            max = z[j] > max ? z[j] : max;
        for (int32_t j = 0; j < nl; j++)
            sum += (p[j] = expf(z[j] - max));
        for (int32_t j = 0; j < nl; j++)
            p[j] /= sum;
    }
    for (int32_t j = 0; j < nl; j++) /* NaN -> 0, clamp to [0, 1] */
        p[j] = p[j] >= 0.0f ? (p[j] <= 1.0f ? p[j] : 1.0f) : 0.0f;
}

/* Contract in nn_model.h (and engine.h's kl_model_predict_batch). */
int kl_nn_predict_batch(const struct kl_model *m,
                        const struct kl_features *const *feats, size_t n,
                        int k, float threshold, struct kl_scratch *s,
                        struct kl_prediction *out)
{
    const struct kl_nn_conf *c = &m->nn->c;
    const float *z;
    int32_t nout, nl = c->nlabels;
    float *p;
    int rc;

    if (n == 0)
        return KL_OK;
    if (k > KL_TOPK_MAX)
        k = KL_TOPK_MAX;
    if (k > nl)
        k = nl;
    if (k < 1)
        k = 1;
    if ((rc = kl_nn_model_logits(m, feats, n, s, &z, &nout)) != KL_OK)
        return rc;
    if (kl_nn_reserve((void **)&s->logits, &s->logits_cap, (size_t)nl,
                      sizeof(float)))
        return KL_ENOMEM;
    p = s->logits;
    for (size_t i = 0; i < n; i++) {
        struct kl_topk h;

        out[i].k = 0;
        if (feats[i] == NULL || feats[i]->n == 0)
            continue;
        head_probs(c, z + i * (size_t)nout, p);
        kl_topk_init(&h, k);
        kl_topk_probs(&h, p, nl, threshold);
        kl_topk_sort(&h);
        out[i].k = h.n;
        for (int q = 0; q < h.n; q++) {
            out[i].label[q] = h.id[q];
            out[i].prob[q] = p[h.id[q]];
        }
    }
    return KL_OK;
}
