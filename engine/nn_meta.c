/*
 * engine/nn_meta.c: the "nn" object of the klabel metadata of a neural
 * model (architecture "bilstm" or "textcnn"): strict parsing with errors
 * that name the bad field, the writer used by training, and the list of
 * parameter tensors (names and shapes as docs/model-format.md gives them)
 * that the loader, the trainer and the writer share.
 */
#include <stdio.h>
#include <string.h>

#include "klabel/engine.h"
#include "error.h"
#include "nn.h"

static const char *const head_names[] = {"softmax", "sigmoid", "binary"};
static const char *const pad_names[] = {"none", "pre", "post"};
static const char *const pool_names[] = {"last", "max"};

/* Contract in nn.h. */
int kl_nn_arch_of(const char *name)
{
    if (name == NULL)
        return -1;
    if (strcmp(name, "fasttext") == 0)
        return KL_ARCH_FASTTEXT;
    if (strcmp(name, "bilstm") == 0)
        return KL_ARCH_BILSTM;
    if (strcmp(name, "textcnn") == 0)
        return KL_ARCH_TEXTCNN;
    return -1;
}

/* Contract in nn.h. */
int32_t kl_nn_feat_dim(const struct kl_nn_conf *c)
{
    return c->arch == KL_ARCH_BILSTM ? 2 * c->hidden
                                     : c->channels * c->nwidths;
}

/* An integer field of o in [lo, hi]; def when absent and not required. */
static int nn_int(const cJSON *o, const char *key, int required, int32_t def,
                  int32_t lo, int32_t hi, int32_t *out, char *err,
                  size_t errsz)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    double d;

    if (v == NULL) {
        if (required)
            return kl_error_set(err, errsz, KL_EFORMAT,
                                "metadata: nn.%s is missing", key);
        *out = def;
        return KL_OK;
    }
    d = cJSON_IsNumber(v) ? v->valuedouble : (double)lo - 1;
    if (!(d >= lo && d <= hi) || d != (double)(int32_t)d)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "metadata: nn.%s must be an integer in [%d, %d]",
                            key, (int)lo, (int)hi);
    *out = (int32_t)d;
    return KL_OK;
}

/* A string field of o that is one of names[0..n) (def when absent). */
static int nn_enum(const cJSON *o, const char *key, const char *const *names,
                   int n, int def, int *out, char *err, size_t errsz)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    *out = def;
    if (v == NULL)
        return KL_OK;
    for (int i = 0; cJSON_IsString(v) && i < n; i++)
        if (strcmp(v->valuestring, names[i]) == 0) {
            *out = i;
            return KL_OK;
        }
    return kl_error_set(err, errsz, KL_EFORMAT,
                        "metadata: nn.%s must be \"%s\"%s%s%s%s", key,
                        names[0], n > 1 ? " or \"" : "", n > 1 ? names[1] : "",
                        n > 2 ? "\" or \"" : "", n > 2 ? names[2] : "");
}

static int parse_lstm(const cJSON *nn, struct kl_nn_conf *c, char *err,
                      size_t errsz)
{
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(nn, "lstm");
    int rc;

    if (!cJSON_IsObject(l))
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "metadata: nn.lstm must be an object");
    if ((rc = nn_int(l, "hidden", 1, 0, 1, KL_NN_HIDDEN_MAX, &c->hidden, err,
                     errsz)) != KL_OK ||
        (rc = nn_int(l, "layers", 0, 1, 1, KL_NN_LAYERS_MAX, &c->layers, err,
                     errsz)) != KL_OK)
        return rc;
    return nn_enum(l, "pool", pool_names, 2, KL_NN_POOL_LAST, &c->pool, err,
                   errsz);
}

static int parse_conv(const cJSON *nn, struct kl_nn_conf *c, char *err,
                      size_t errsz)
{
    const cJSON *cv = cJSON_GetObjectItemCaseSensitive(nn, "conv");
    const cJSON *w = cv ? cJSON_GetObjectItemCaseSensitive(cv, "widths")
                        : NULL;
    const cJSON *v;
    int rc;

    if (!cJSON_IsObject(cv) || !cJSON_IsArray(w))
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "metadata: nn.conv must be an object with a "
                            "\"widths\" array");
    c->nwidths = cJSON_GetArraySize(w);
    if (c->nwidths < 1 || c->nwidths > KL_NN_WIDTHS_MAX)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "metadata: nn.conv.widths must hold 1 to %d "
                            "widths", KL_NN_WIDTHS_MAX);
    c->nwidths = 0;
    cJSON_ArrayForEach(v, w) {
        double d = cJSON_IsNumber(v) ? v->valuedouble : 0;
        if (!(d >= 1 && d <= KL_NN_WIDTH_MAX) || d != (double)(int)d)
            return kl_error_set(err, errsz, KL_EFORMAT,
                                "metadata: nn.conv.widths[%d] must be an "
                                "integer in [1, %d]", (int)c->nwidths,
                                KL_NN_WIDTH_MAX);
        c->widths[c->nwidths++] = (int32_t)d;
    }
    rc = nn_int(cv, "channels", 1, 0, 1, KL_NN_HIDDEN_MAX, &c->channels, err,
                errsz);
    return rc;
}

/* Contract in nn.h. */
int kl_nn_conf_parse(const cJSON *root, int arch, int32_t nlabels,
                     int32_t dim, int loss, int32_t nwords,
                     struct kl_nn_conf *c, char *err, size_t errsz)
{
    const cJSON *nn = cJSON_GetObjectItemCaseSensitive(root, "nn");
    int rc, trunc = 1;

    memset(c, 0, sizeof *c);
    c->arch = arch;
    c->dim = dim;
    c->nlabels = nlabels;
    if (!cJSON_IsObject(nn))
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "metadata: architecture %s needs an \"nn\" "
                            "object", arch == KL_ARCH_BILSTM ? "bilstm"
                                                             : "textcnn");
    if (loss != KL_LOSS_SOFTMAX && loss != KL_LOSS_OVA)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "metadata: neural models need loss \"softmax\" "
                            "or \"ova\"");
    if ((rc = nn_int(nn, "rows", 1, 0, 1, INT32_MAX, &c->rows, err,
                     errsz)) != KL_OK ||
        (rc = nn_int(nn, "vocab_offset", 0, 2, 0, INT32_MAX, &c->vocab_offset,
                     err, errsz)) != KL_OK ||
        (rc = nn_int(nn, "pad_id", 0, 0, -1, INT32_MAX, &c->pad_id, err,
                     errsz)) != KL_OK ||
        (rc = nn_int(nn, "oov_id", 0, 1, -1, INT32_MAX, &c->oov_id, err,
                     errsz)) != KL_OK ||
        (rc = nn_int(nn, "max_len", 0, 100, 1, 65536, &c->max_len, err,
                     errsz)) != KL_OK ||
        (rc = nn_enum(nn, "padding", pad_names, 3, KL_NN_PAD_NONE,
                      &c->padding, err, errsz)) != KL_OK ||
        (rc = nn_enum(nn, "truncating", pad_names + 1, 2, 1, &trunc, err,
                      errsz)) != KL_OK ||
        (rc = nn_enum(nn, "head", head_names, 3,
                      loss == KL_LOSS_OVA ? KL_NN_HEAD_SIGMOID
                                          : KL_NN_HEAD_SOFTMAX,
                      &c->head, err, errsz)) != KL_OK)
        return rc;
    c->trunc_pre = trunc == 0;
    if ((int64_t)c->vocab_offset + nwords > c->rows ||
        c->pad_id >= c->rows || c->oov_id >= c->rows)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "metadata: nn.rows %d is too small for "
                            "vocab_offset %d + %d words, pad_id %d and "
                            "oov_id %d", (int)c->rows, (int)c->vocab_offset,
                            (int)nwords, (int)c->pad_id, (int)c->oov_id);
    if (c->padding != KL_NN_PAD_NONE && c->pad_id < 0)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "metadata: nn.padding needs a pad_id");
    if ((c->head == KL_NN_HEAD_SOFTMAX) != (loss == KL_LOSS_SOFTMAX) ||
        (c->head == KL_NN_HEAD_BINARY && nlabels != 2))
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "metadata: nn.head \"%s\" does not fit loss "
                            "\"%s\" and %d labels (softmax: loss softmax; "
                            "sigmoid and binary: loss ova; binary: 2 "
                            "labels)", head_names[c->head],
                            loss == KL_LOSS_OVA ? "ova" : "softmax",
                            (int)nlabels);
    c->nout = c->head == KL_NN_HEAD_BINARY ? 1 : nlabels;
    rc = arch == KL_ARCH_BILSTM ? parse_lstm(nn, c, err, errsz)
                                : parse_conv(nn, c, err, errsz);
    return rc;
}

/* Contract in nn.h. */
cJSON *kl_nn_conf_format(const struct kl_nn_conf *c)
{
    cJSON *o = cJSON_CreateObject(), *sub, *a;
    int ok;

    if (o == NULL)
        return NULL;
    ok = cJSON_AddNumberToObject(o, "rows", c->rows) &&
         cJSON_AddNumberToObject(o, "vocab_offset", c->vocab_offset) &&
         cJSON_AddNumberToObject(o, "pad_id", c->pad_id) &&
         cJSON_AddNumberToObject(o, "oov_id", c->oov_id) &&
         cJSON_AddNumberToObject(o, "max_len", c->max_len) &&
         cJSON_AddStringToObject(o, "padding", pad_names[c->padding]) &&
         cJSON_AddStringToObject(o, "truncating",
                                 c->trunc_pre ? "pre" : "post") &&
         cJSON_AddStringToObject(o, "head", head_names[c->head]);
    if (ok && c->arch == KL_ARCH_BILSTM) {
        sub = cJSON_AddObjectToObject(o, "lstm");
        ok = sub && cJSON_AddNumberToObject(sub, "hidden", c->hidden) &&
             cJSON_AddNumberToObject(sub, "layers", c->layers) &&
             cJSON_AddStringToObject(sub, "pool", pool_names[c->pool]);
    } else if (ok) {
        sub = cJSON_AddObjectToObject(o, "conv");
        a = sub ? cJSON_AddArrayToObject(sub, "widths") : NULL;
        ok = a != NULL;
        for (int32_t i = 0; ok && i < c->nwidths; i++)
            ok = cJSON_AddItemToArray(a, cJSON_CreateNumber(c->widths[i]));
        ok = ok && cJSON_AddNumberToObject(sub, "channels", c->channels);
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* Appends one tensor entry. */
static void add_tensor(struct kl_nn_tensor *t, size_t *n, size_t *total,
                       const float **slot, int ndim, int64_t d0, int64_t d1,
                       int64_t d2, const char *fmt, int a, const char *b)
{
    struct kl_nn_tensor *e = &t[(*n)++];

    snprintf(e->name, sizeof e->name, fmt, a, b);
    e->ndim = ndim;
    e->shape[0] = d0;
    e->shape[1] = d1;
    e->shape[2] = d2;
    e->size = (size_t)d0 * (size_t)(ndim > 1 ? d1 : 1) *
              (size_t)(ndim > 2 ? d2 : 1);
    e->off = *total;
    e->slot = slot;
    *total += e->size;
}

/* Contract in nn.h. Names follow PyTorch's state_dict of a module with
 * attributes embedding (nn.Embedding), lstm (nn.LSTM, bidirectional,
 * batch_first irrelevant) or convs (nn.ModuleList of nn.Conv1d), and fc
 * (nn.Linear). */
size_t kl_nn_tensors(const struct kl_nn_conf *c, struct kl_nn_weights *w,
                     struct kl_nn_tensor *t, size_t *total)
{
    size_t n = 0;
    int64_t H = c->hidden, F = kl_nn_feat_dim(c);

    *total = 0;
    add_tensor(t, &n, total, &w->emb, 2, c->rows, c->dim, 0,
               "embedding.weight%.0d%s", 0, "");
    for (int32_t l = 0; c->arch == KL_ARCH_BILSTM && l < c->layers; l++) {
        int64_t in = l == 0 ? c->dim : 2 * H;
        for (int d = 0; d < 2; d++) {
            const char *sfx = d ? "_reverse" : "";
            struct kl_nn_lstm *p = &w->lstm[l][d];
            add_tensor(t, &n, total, &p->w_ih, 2, 4 * H, in, 0,
                       "lstm.weight_ih_l%d%s", (int)l, sfx);
            add_tensor(t, &n, total, &p->w_hh, 2, 4 * H, H, 0,
                       "lstm.weight_hh_l%d%s", (int)l, sfx);
            add_tensor(t, &n, total, &p->b_ih, 1, 4 * H, 0, 0,
                       "lstm.bias_ih_l%d%s", (int)l, sfx);
            add_tensor(t, &n, total, &p->b_hh, 1, 4 * H, 0, 0,
                       "lstm.bias_hh_l%d%s", (int)l, sfx);
        }
    }
    for (int32_t j = 0; c->arch == KL_ARCH_TEXTCNN && j < c->nwidths; j++) {
        add_tensor(t, &n, total, &w->conv_w[j], 3, c->channels, c->dim,
                   c->widths[j], "convs.%d.weight%s", (int)j, "");
        add_tensor(t, &n, total, &w->conv_b[j], 1, c->channels, 0, 0,
                   "convs.%d.bias%s", (int)j, "");
    }
    add_tensor(t, &n, total, &w->fc_w, 2, c->nout, F, 0, "fc.weight%.0d%s", 0,
               "");
    add_tensor(t, &n, total, &w->fc_b, 1, c->nout, 0, 0, "fc.bias%.0d%s", 0,
               "");
    return n;
}
