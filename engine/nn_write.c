/*
 * engine/nn_write.c: kl_nn_train_file(): sets a neural training run up
 * (tokenizer resources, vocabulary, examples, parameters, Adam), runs it
 * (nn_train.c), and writes the model: the klabel metadata with its "nn"
 * object and "training" summary, the vocabulary, the parameter tensors
 * under their PyTorch names, and the tokenizer's tensors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "klabel/engine.h"
#include "error.h"
#include "meta.h"
#include "nn.h"
#include "nn_data.h"
#include "nn_train.h"
#include "safetensors.h"
#include "tokmodel.h"

/* The "training" object, or NULL (out of memory). */
static cJSON *summary(const struct kl_nn_trainer *tr)
{
    const struct kl_train_opts *o = tr->o;
    cJSON *t = cJSON_CreateObject(), *v, *a;
    char when[32];
    int ok;

    kl_meta_created(when, sizeof when);
    ok = t != NULL &&
         cJSON_AddNumberToObject(t, "examples", (double)tr->train->n) &&
         cJSON_AddNumberToObject(t, "skipped", (double)tr->train->dropped) &&
         cJSON_AddNumberToObject(t, "tokens", (double)tr->train->tokens) &&
         cJSON_AddNumberToObject(t, "epochs", tr->epochs_run) &&
         cJSON_AddStringToObject(t, "optimizer", "adam") &&
         cJSON_AddNumberToObject(t, "lr", kl_meta_round6(o->nn.lr)) &&
         cJSON_AddNumberToObject(t, "batch", o->nn.batch) &&
         cJSON_AddNumberToObject(t, "dropout",
                                 kl_meta_round6(o->nn.dropout)) &&
         cJSON_AddNumberToObject(t, "clip", kl_meta_round6(o->nn.clip)) &&
         cJSON_AddNumberToObject(t, "min_count", o->min_count) &&
         cJSON_AddNumberToObject(t, "seed", (double)o->seed) &&
         cJSON_AddNumberToObject(t, "loss",
                                 kl_meta_round6(tr->train_loss)) &&
         cJSON_AddStringToObject(t, "created", when);
    if (ok && tr->valid != NULL) {
        v = cJSON_AddObjectToObject(t, "validation");
        ok = v && cJSON_AddStringToObject(v, "file", o->valid_path) &&
             cJSON_AddNumberToObject(v, "examples", (double)tr->valid->n) &&
             cJSON_AddNumberToObject(v, "best_epoch", tr->best_epoch) &&
             cJSON_AddNumberToObject(
                 v, "accuracy", kl_meta_round6(tr->vacc[tr->best_epoch - 1])) &&
             cJSON_AddNumberToObject(v, "loss",
                                     kl_meta_round6(tr->best_loss));
        a = ok ? cJSON_AddArrayToObject(v, "epochs") : NULL;
        ok = a != NULL;
        for (int32_t e = 0; ok && e < tr->epochs_run; e++) {
            cJSON *x = cJSON_CreateObject();
            ok = x && cJSON_AddItemToArray(a, x) &&
                 cJSON_AddNumberToObject(x, "epoch", e + 1) &&
                 cJSON_AddNumberToObject(x, "accuracy",
                                         kl_meta_round6(tr->vacc[e])) &&
                 cJSON_AddNumberToObject(x, "loss",
                                         kl_meta_round6(tr->vloss[e]));
        }
    }
    if (!ok) {
        cJSON_Delete(t);
        return NULL;
    }
    return t;
}

/* The metadata string (cJSON_free() it), or NULL when out of memory. */
static char *metadata(const struct kl_nn_trainer *tr,
                      const struct kl_nn_vocab *v)
{
    const struct kl_train_opts *o = tr->o;
    struct kl_meta m;
    cJSON *root, *nn;
    char *json, *out = NULL;

    memset(&m, 0, sizeof m);
    m.id = (char *)(o->id ? o->id : "");
    m.version = (char *)(o->version ? o->version : "");
    m.architecture = (char *)(o->arch == KL_ARCH_BILSTM ? "bilstm"
                                                        : "textcnn");
    m.loss = o->loss;
    m.dim = o->dim;
    m.nwords = v->nwords;
    m.word_ngrams = 1;
    m.nlabels = v->nlabels;
    m.labels = v->labels;
    m.label_counts = v->label_counts;
    m.tok = o->tok;
    kl_tok_model_meta(&o->tok, &m);
    if ((json = kl_meta_format(&m, summary(tr))) == NULL)
        return NULL;
    root = cJSON_Parse(json);
    cJSON_free(json);
    nn = kl_nn_conf_format(&tr->nn.c);
    if (root != NULL && nn != NULL && cJSON_AddItemToObject(root, "nn", nn)) {
        nn = NULL;
        out = cJSON_PrintUnformatted(root);
    }
    cJSON_Delete(nn);
    cJSON_Delete(root);
    return out;
}

/* Writes the model file. */
static int write_model(const struct kl_nn_trainer *tr,
                       const struct kl_nn_vocab *v, const float *params,
                       const char *path, char *err, size_t errsz)
{
    struct kl_st_out t[1 + KL_NN_TENSORS_MAX + KL_TOK_MODEL_TENSORS];
    struct kl_nn_tensor nt[KL_NN_TENSORS_MAX];
    struct kl_nn_weights w;
    const char *key = "klabel";
    size_t total, n = kl_nn_tensors(&tr->nn.c, &w, nt, &total), k = 0;
    char *json = metadata(tr, v);
    int rc;

    if (json == NULL)
        return kl_error_set(err, errsz, KL_ENOMEM, "%s: out of memory", path);
    memset(t, 0, sizeof t);
    for (size_t i = 0; i < n; i++, k++) { /* F32 first: they stay aligned */
        t[k].name = nt[i].name;
        t[k].dtype = KL_ST_F32;
        t[k].ndim = nt[i].ndim;
        for (int d = 0; d < nt[i].ndim; d++)
            t[k].shape[d] = (uint64_t)nt[i].shape[d];
        t[k].data = params + nt[i].off;
    }
    t[k++] = (struct kl_st_out){"vocab", KL_ST_U8, 1, {v->vocab_len},
                                v->vocab};
    k += kl_tok_model_tensors(&tr->o->tok, t + k);
    rc = kl_safetensors_write(path, &key, (const char *const *)&json, 1, t,
                              k, err, errsz);
    cJSON_free(json);
    return rc;
}

/* Contract in nn.h. */
int kl_nn_train_file(const struct kl_train_opts *o, const char *in_path,
                     const char *out_path, char *err, size_t errsz)
{
    struct kl_tok_res res;
    struct kl_train_opts oc;
    struct kl_nn_vocab v;
    struct kl_nn_set train, valid;
    struct kl_nn_trainer tr;
    struct kl_nn_tensor nt[KL_NN_TENSORS_MAX];
    int rc;

    memset(&res, 0, sizeof res);
    memset(&v, 0, sizeof v);
    memset(&train, 0, sizeof train);
    memset(&valid, 0, sizeof valid);
    memset(&tr, 0, sizeof tr);
    if ((rc = kl_tok_res_open(&res, o, &oc, err, errsz)) != KL_OK)
        goto out;
    o = &oc;
    if ((rc = kl_nn_check_opts(o, err, errsz)) != KL_OK ||
        (rc = kl_nn_vocab_build(&v, o, in_path, err, errsz)) != KL_OK)
        goto out;
    if (o->loss == KL_LOSS_OVA && v.nlabels < 2) {
        rc = kl_error_set(err, errsz, KL_EINVAL,
                          "%s: loss ova needs at least 2 labels", in_path);
        goto out;
    }
    tr.o = o;
    kl_nn_conf_make(o, &v, &tr.nn.c);
    if ((rc = kl_nn_set_load(&train, &v, &tr.nn.c, in_path, err,
                             errsz)) != KL_OK ||
        (o->valid_path != NULL &&
         (rc = kl_nn_set_load(&valid, &v, &tr.nn.c, o->valid_path, err,
                              errsz)) != KL_OK))
        goto out;
    tr.train = &train;
    tr.valid = o->valid_path ? &valid : NULL;
    kl_nn_tensors(&tr.nn.c, &tr.nn.w, nt, &tr.nparams);
    tr.params = malloc(tr.nparams * sizeof(float));
    tr.grad = malloc(tr.nparams * sizeof(float));
    tr.best = malloc(tr.nparams * sizeof(float));
    tr.vloss = calloc((size_t)o->epoch, sizeof *tr.vloss);
    tr.vacc = calloc((size_t)o->epoch, sizeof *tr.vacc);
    if (tr.params == NULL || tr.grad == NULL || tr.best == NULL ||
        tr.vloss == NULL || tr.vacc == NULL ||
        kl_adam_init(&tr.adam, tr.nparams, o->nn.lr) != KL_OK) {
        rc = kl_error_set(err, errsz, KL_ENOMEM,
                          "cannot allocate %zu parameters", tr.nparams);
        goto out;
    }
    kl_nn_init_params(&tr.nn.c, tr.params, o->seed);
    kl_nn_bind(&tr.nn, tr.params);
    if ((rc = kl_nn_prepare(&tr.nn)) != KL_OK)
        goto out;
    openblas_set_num_threads(o->threads);
    if (o->verbose)
        fprintf(stderr, "%s: %zu examples, %d words (+ pad, unknown), %d "
                "labels, %zu parameters\n", o->arch == KL_ARCH_BILSTM
                ? "bilstm" : "textcnn", train.n, (int)v.nwords,
                (int)v.nlabels, tr.nparams);
    if ((rc = kl_nn_train_loop(&tr, err, errsz)) != KL_OK)
        goto out;
    rc = write_model(&tr, &v, tr.valid && tr.best_epoch > 0 ? tr.best
                                                            : tr.params,
                     out_path, err, errsz);
out:
    kl_nn_fini(&tr.nn);
    kl_nn_scratch_fini(&tr.s);
    kl_nn_gscratch_fini(&tr.gs);
    kl_adam_fini(&tr.adam);
    free(tr.params);
    free(tr.grad);
    free(tr.best);
    free(tr.vloss);
    free(tr.vacc);
    free(tr.dlogits);
    kl_nn_set_fini(&train);
    kl_nn_set_fini(&valid);
    kl_nn_vocab_fini(&v);
    kl_tok_res_close(&res);
    return rc;
}
