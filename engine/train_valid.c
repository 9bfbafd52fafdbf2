/*
 * engine/train_valid.c: the validation set of training (see
 * train_valid.h): each line parsed by kl_example_parse(), its labels
 * looked up among the training labels, its text featurized with the
 * training dictionary by kl_dict_featurize() (the code prediction uses),
 * then scored as prediction would score it.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"
#include "dict.h"
#include "error.h"
#include "grow.h"
#include "meta.h"
#include "sigmoid.h"
#include "strtab.h"
#include "train_valid.h"

struct vloader {
    struct kl_valid *v;
    struct kl_dict d;
    struct kl_strtab labels;   /* training labels first: entry i = label i */
    int32_t nlabels;
    struct kl_example ex;
    struct kl_features f;
    size_t ids_cap, lab_cap, exo_cap, labo_cap, nids, nlab;
};

/* One non-blank line into v. */
static int add_line(struct vloader *L, const char *line, size_t n,
                    size_t lineno, char *err, size_t errsz)
{
    struct kl_valid *v = L->v;
    size_t known = 0;
    int rc = kl_example_parse(line, n, &L->ex);

    if (rc == KL_EEMPTY)
        return KL_OK;
    if (rc != KL_OK)
        return kl_error_set(err, errsz, rc, "line %zu: %s", lineno,
                            rc == KL_EFORMAT
                                ? "no label (expected \"label<TAB>text\" or "
                                  "\"__label__name text\")"
                                : kl_strerror(rc));
    rc = kl_dict_featurize(&L->d, L->ex.text, L->ex.text_len, &L->f);
    if (rc == KL_EEMPTY) {
        L->f.n = 0;
        v->empty++;
    } else if (rc != KL_OK) {
        return kl_error_set(err, errsz, rc, "line %zu: %s", lineno,
                            kl_strerror(rc));
    }
    if ((rc = kl_grow((void **)&v->ex_off, &L->exo_cap, v->nex + 2,
                      sizeof *v->ex_off, 256)) != KL_OK ||
        (rc = kl_grow((void **)&v->lab_off, &L->labo_cap, v->nex + 2,
                      sizeof *v->lab_off, 256)) != KL_OK ||
        (rc = kl_grow((void **)&v->ids, &L->ids_cap, L->nids + L->f.n,
                      sizeof *v->ids, 256)) != KL_OK ||
        (rc = kl_grow((void **)&v->lab, &L->lab_cap, L->nlab + L->ex.nlabels,
                      sizeof *v->lab, 256)) != KL_OK)
        return rc;
    if (L->f.n > 0)
        memcpy(v->ids + L->nids, L->f.ids, L->f.n * sizeof *L->f.ids);
    L->nids += L->f.n;
    for (size_t i = 0; i < L->ex.nlabels; i++) {
        int64_t id = kl_strtab_add(&L->labels, line + L->ex.label_off[i],
                                   L->ex.label_len[i]);
        if (id < 0)
            return (int)id;
        if (id < L->nlabels) {
            v->lab[L->nlab++] = (int32_t)id;
            known++;
        }
    }
    v->unknown += known == 0;
    v->nex++;
    v->ex_off[v->nex] = L->nids;
    v->lab_off[v->nex] = L->nlab;
    return KL_OK;
}

/* Every line of path through add_line(). */
static int read_lines(struct vloader *L, const char *path, char *err,
                      size_t errsz)
{
    FILE *fp = fopen(path, "rb");
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t got;
    int rc = KL_OK;

    if (fp == NULL)
        return kl_error_set(err, errsz, KL_EIO, "%s: cannot open: %s", path,
                            strerror(errno));
    while ((got = getline(&line, &cap, fp)) >= 0) {
        size_t n = (size_t)got;
        lineno++;
        if (n > 0 && line[n - 1] == '\n')
            n--;
        if (kl_utf8_validate(line, n, NULL) != KL_OK) {
            rc = kl_error_set(err, errsz, KL_EUTF8,
                              "%s: line %zu: invalid UTF-8", path, lineno);
            break;
        }
        if ((rc = add_line(L, line, n, lineno, err, errsz)) != KL_OK) {
            char why[512];
            snprintf(why, sizeof why, "%s", err ? err : "");
            rc = kl_error_set(err, errsz, rc, "%s: %s", path, why);
            break;
        }
    }
    if (rc == KL_OK && ferror(fp))
        rc = kl_error_set(err, errsz, KL_EIO, "%s: read error", path);
    free(line);
    fclose(fp);
    return rc;
}

/* Contract in train_valid.h. */
int kl_valid_load(struct kl_valid *v, const struct kl_train_data *td,
                  const struct kl_train_opts *o, const char *path, char *err,
                  size_t errsz)
{
    struct vloader L;
    int rc;

    memset(v, 0, sizeof *v);
    memset(&L, 0, sizeof L);
    L.v = v;
    L.nlabels = td->nlabels;
    kl_strtab_init(&L.labels);
    kl_example_init(&L.ex);
    kl_features_init(&L.f);
    rc = kl_dict_init(&L.d, td->vocab, td->vocab_len, td->nwords, NULL, 0);
    if (rc != KL_OK)
        goto out;
    kl_dict_set_bucket(&L.d, o->bucket);
    L.d.word_ngrams = o->word_ngrams;
    L.d.minn = o->minn;
    L.d.maxn = o->maxn;
    L.d.tok = o->tok;
    for (int32_t i = 0; i < td->nlabels; i++)
        if ((rc = (int)kl_strtab_add(&L.labels, td->labels[i],
                                     strlen(td->labels[i]))) < 0)
            goto out;
    rc = KL_ENOMEM;
    if ((v->ex_off = calloc(1, sizeof *v->ex_off)) == NULL ||
        (v->lab_off = calloc(1, sizeof *v->lab_off)) == NULL)
        goto out;
    /* ex_off[0] = lab_off[0] = 0; the caps stay 0 so the first
     * add_line() reallocates them (keeping element 0). */
    if ((rc = read_lines(&L, path, err, errsz)) != KL_OK)
        goto out;
    if (v->nex == 0)
        rc = kl_error_set(err, errsz, KL_EEMPTY, "%s: no labeled line", path);
out:
    if (rc == KL_ENOMEM && err != NULL && errsz > 0)
        kl_error_set(err, errsz, rc, "%s: out of memory", path);
    kl_dict_fini(&L.d);
    kl_strtab_fini(&L.labels);
    kl_example_fini(&L.ex);
    kl_features_fini(&L.f);
    if (rc != KL_OK)
        kl_valid_fini(v);
    return rc;
}

/* Contract in train_valid.h. */
void kl_valid_fini(struct kl_valid *v)
{
    free(v->ids);
    free(v->ex_off);
    free(v->lab);
    free(v->lab_off);
    memset(v, 0, sizeof *v);
}

/* Contract in train_valid.h. */
int kl_valid_score(const struct kl_valid *v, const float *input,
                   const float *output, int32_t dim, int32_t nlabels,
                   int loss, struct kl_valid_score *s)
{
    float *h = malloc((size_t)dim * sizeof *h);
    float *z = malloc((size_t)nlabels * sizeof *z);
    double lsum = 0.0;
    size_t correct = 0, nloss = 0;

    if (h == NULL || z == NULL) {
        free(h);
        free(z);
        return KL_ENOMEM;
    }
    for (size_t e = 0; e < v->nex; e++) {
        const int32_t *ids = v->ids + v->ex_off[e];
        const int32_t *lab = v->lab + v->lab_off[e];
        size_t nf = v->ex_off[e + 1] - v->ex_off[e];
        size_t nl = v->lab_off[e + 1] - v->lab_off[e];
        float inv, max = -INFINITY, sum = 0.0f;
        int32_t best = 0;

        if (nf == 0)
            continue;
        memset(h, 0, (size_t)dim * sizeof *h);
        for (size_t i = 0; i < nf; i++) {
            const float *r = input + (size_t)ids[i] * (size_t)dim;
            for (int32_t d = 0; d < dim; d++)
                h[d] += r[d];
        }
        inv = (float)(1.0 / (double)nf);
        for (int32_t d = 0; d < dim; d++)
            h[d] *= inv;
        for (int32_t j = 0; j < nlabels; j++) {
            const float *w = output + (size_t)j * (size_t)dim;
            float a = 0.0f;
            for (int32_t d = 0; d < dim; d++)
                a += w[d] * h[d];
            z[j] = loss == KL_LOSS_OVA ? kl_sigmoid_fasttext(a) : a;
            if (z[j] > max) {
                max = z[j];
                best = j;
            }
        }
        for (size_t t = 0; t < nl; t++)
            if (lab[t] == best) {
                correct++;
                break;
            }
        if (nl == 0)
            continue;
        nloss++;
        if (loss == KL_LOSS_OVA) {
            for (int32_t j = 0; j < nlabels; j++) {
                int pos = 0;
                for (size_t t = 0; t < nl; t++)
                    pos |= lab[t] == j;
                lsum += -log((pos ? z[j] : 1.0f - z[j]) + 1e-5);
            }
        } else {
            for (int32_t j = 0; j < nlabels; j++)
                sum += expf(z[j] - max);
            lsum += -log(expf(z[lab[0]] - max) / sum + 1e-5);
        }
    }
    s->accuracy = v->nex ? (double)correct / (double)v->nex : 0.0;
    s->loss = nloss ? lsum / (double)nloss : 0.0;
    free(h);
    free(z);
    return KL_OK;
}

/* Contract in train_valid.h. */
cJSON *kl_valid_summary(const struct kl_valid *v, const char *path,
                        const struct kl_valid_score *hist, size_t n)
{
    const char *base = strrchr(path, '/');
    cJSON *o = cJSON_CreateObject(), *a;

    if (o == NULL ||
        !cJSON_AddStringToObject(o, "file", base ? base + 1 : path) ||
        !cJSON_AddNumberToObject(o, "examples", (double)v->nex) ||
        !cJSON_AddNumberToObject(o, "unknown_label", (double)v->unknown) ||
        !cJSON_AddNumberToObject(o, "no_features", (double)v->empty) ||
        (n > 0 &&
         (!cJSON_AddNumberToObject(o, "accuracy",
                                   kl_meta_round6(hist[n - 1].accuracy)) ||
          !cJSON_AddNumberToObject(o, "loss",
                                   kl_meta_round6(hist[n - 1].loss)))) ||
        (a = cJSON_AddArrayToObject(o, "epochs")) == NULL)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        cJSON *x = cJSON_CreateObject();
        if (x == NULL || !cJSON_AddItemToArray(a, x)) {
            cJSON_Delete(x);
            goto fail;
        }
        if (!cJSON_AddNumberToObject(x, "epoch", hist[i].epoch) ||
            !cJSON_AddNumberToObject(x, "accuracy",
                                     kl_meta_round6(hist[i].accuracy)) ||
            !cJSON_AddNumberToObject(x, "loss", kl_meta_round6(hist[i].loss)))
            goto fail;
    }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}
