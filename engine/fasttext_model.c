/*
 * engine/fasttext_model.c: fastText models as klabel models. Opens a
 * fastText .bin / .ftz directly (kl_model_open() sends it here after
 * sniffing the magic number): the file is read by fasttext_read.c, its
 * settings become klabel metadata (formatted, then parsed back by meta.c so
 * that every check of a klabel file applies), and the model takes over the
 * reader's matrices and vocabulary. Also the two pieces a safetensors model
 * needs for what fastText files brought in: the prune index tensor and the
 * hierarchical-softmax tree.
 */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "klabel/engine.h"
#include "error.h"
#include "fasttext_read.h"
#include "model.h"
#include "tokenize.h"

#define FT_LABEL_PREFIX "__label__"
#define FT_LABEL_PREFIX_LEN 9

/* Contract in model.h. */
int kl_model_is_fasttext(const char *path)
{
    unsigned char b[4];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return 0;
    n = read(fd, b, sizeof b);
    close(fd);
    return n == (ssize_t)sizeof b && kl_fasttext_sniff(b, sizeof b);
}

/* Contract in model.h. */
int64_t kl_model_input_rows(const struct kl_model *m)
{
    const struct kl_st_tensor *t = kl_safetensors_find(&m->st, "pruneidx");

    if (t != NULL && t->ndim == 2 && t->shape[1] == 2 &&
        t->shape[0] <= INT32_MAX)
        return (int64_t)m->meta.nwords + (int64_t)t->shape[0];
    return (int64_t)m->meta.nwords + m->meta.bucket;
}

/* Contract in model.h. */
int kl_model_load_extras(struct kl_model *m, const char *path, char *err,
                         size_t errsz)
{
    const struct kl_st_tensor *t = kl_safetensors_find(&m->st, "pruneidx");
    char why[256] = "";
    int rc;

    m->input_rows = kl_model_input_rows(m);
    if (t != NULL) {
        if (t->dtype != KL_ST_I32 || t->ndim != 2 || t->shape[1] != 2 ||
            t->shape[0] > INT32_MAX)
            return kl_error_set(err, errsz, KL_EFORMAT,
                                "%s: tensor 'pruneidx' must be I32 of shape "
                                "(pairs, 2)", path);
        kl_dict_set_bucket(&m->dict, m->meta.bucket);
        rc = kl_dict_set_prune(&m->dict, t->data, (size_t)t->shape[0], why,
                               sizeof why);
        if (rc != KL_OK)
            return kl_error_set(err, errsz, rc, "%s: %s", path,
                                why[0] ? why : kl_strerror(rc));
    }
    if (m->meta.loss == KL_LOSS_HS &&
        (rc = kl_hs_build(&m->hs, m->meta.label_counts, m->meta.nlabels)) !=
            KL_OK)
        return kl_error_set(err, errsz, rc, "%s: hierarchical softmax: %s",
                            path, kl_strerror(rc));
    return KL_OK;
}

/* Base name of path without directories and extension, into buf. */
static const char *base_name(const char *path, char *buf, size_t n)
{
    const char *b = strrchr(path, '/');
    char *dot;

    snprintf(buf, n, "%s", b ? b + 1 : path);
    dot = strrchr(buf, '.');
    if (dot != NULL && dot != buf)
        *dot = '\0';
    return buf;
}

/* The "training" object of an imported model: where it came from and the
 * fastText settings that have no klabel equivalent. Owned by the caller
 * (or NULL when out of memory). */
static cJSON *import_summary(const struct kl_fasttext *ft, const char *path)
{
    static const char *const losses[] = {"?", "hs", "ns", "softmax", "ova"};
    const struct kl_ft_args *a = &ft->args;
    const char *b = strrchr(path, '/');
    cJSON *t = cJSON_CreateObject();

    if (t == NULL ||
        !cJSON_AddStringToObject(t, "source", "fasttext") ||
        !cJSON_AddStringToObject(t, "file", b ? b + 1 : path) ||
        !cJSON_AddNumberToObject(t, "fasttext_version", ft->version) ||
        !cJSON_AddStringToObject(t, "fasttext_loss", losses[a->loss]) ||
        !cJSON_AddNumberToObject(t, "epochs", a->epoch) ||
        !cJSON_AddNumberToObject(t, "min_count", a->min_count) ||
        !cJSON_AddNumberToObject(t, "ws", a->ws) ||
        !cJSON_AddNumberToObject(t, "neg", a->neg) ||
        !cJSON_AddNumberToObject(t, "lr_update_rate", a->lr_update_rate) ||
        !cJSON_AddNumberToObject(t, "t", a->t) ||
        !cJSON_AddNumberToObject(t, "tokens", (double)ft->ntokens) ||
        !cJSON_AddBoolToObject(t, "quantized", ft->quant_input) ||
        (ft->quant_input &&
         (!cJSON_AddBoolToObject(t, "qnorm", ft->input.qnorm) ||
          !cJSON_AddBoolToObject(t, "qout", ft->qout) ||
          !cJSON_AddNumberToObject(t, "dsub", ft->input.dsub))) ||
        !cJSON_AddNumberToObject(t, "pruned_ngrams",
                                 (double)ft->pruneidx_size)) {
        cJSON_Delete(t);
        return NULL;
    }
    return t;
}

/* Metadata JSON for ft, checked by parsing it back into m->meta. */
static int ft_meta(struct kl_model *m, const struct kl_fasttext *ft,
                   const char *path, char *err, size_t errsz)
{
    const struct kl_ft_args *a = &ft->args;
    struct kl_meta t;
    char idbuf[256], why[512] = "", *json = NULL;
    const char *p = ft->labels;
    int strip = 1, rc = KL_OK;

    memset(&t, 0, sizeof t);
    if (a->model != KL_FT_MODEL_SUP || ft->nlabels < 1)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "%s: not a supervised fastText model (%s, %d "
                            "labels): nothing to classify with", path,
                            a->model == KL_FT_MODEL_CBOW ? "cbow"
                            : a->model == KL_FT_MODEL_SG ? "skipgram"
                                                         : "supervised",
                            (int)ft->nlabels);
    if (ft->nlabels > KL_LABELS_MAX)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "%s: %d labels, klabel supports at most %d",
                            path, (int)ft->nlabels, KL_LABELS_MAX);
    t.labels = malloc((size_t)ft->nlabels * sizeof *t.labels);
    if (t.labels == NULL)
        return KL_ENOMEM;
    for (int32_t i = 0; i < ft->nlabels; i++) {
        t.labels[i] = (char *)p;
        strip = strip &&
                strncmp(p, FT_LABEL_PREFIX, FT_LABEL_PREFIX_LEN) == 0 &&
                p[FT_LABEL_PREFIX_LEN] != '\0';
        p += strlen(p) + 1;
    }
    for (int32_t i = 0; strip && i < ft->nlabels; i++)
        t.labels[i] += FT_LABEL_PREFIX_LEN;
    t.id = (char *)base_name(path, idbuf, sizeof idbuf);
    t.version = (char *)"";
    t.loss = a->loss == KL_FT_LOSS_HS        ? KL_LOSS_HS
             : a->loss == KL_FT_LOSS_SOFTMAX ? KL_LOSS_SOFTMAX
                                             : KL_LOSS_OVA; /* ns, ova */
    t.dim = a->dim;
    t.nwords = ft->nwords;
    t.bucket = a->bucket;
    /* fastText treats wordNgrams <= 1 as unigrams, minn < 1 as 1, and
     * makes no char n-grams when maxn < 1 or minn > maxn */
    t.word_ngrams = a->word_ngrams < 1 ? 1 : a->word_ngrams;
    t.maxn = a->maxn < 1 || a->minn > a->maxn ? 0 : a->maxn;
    t.minn = t.maxn == 0 ? 0 : a->minn < 1 ? 1 : a->minn;
    t.nlabels = ft->nlabels;
    t.tok.mode = KL_TOK_FASTTEXT;
    t.label_counts = ft->counts + ft->nwords;
    if ((int64_t)t.nwords + t.bucket > INT32_MAX) {
        rc = kl_error_set(err, errsz, KL_EFORMAT,
                          "%s: %d words + %d buckets exceed 2^31 - 1 rows",
                          path, (int)t.nwords, (int)t.bucket);
        goto out;
    }
    if ((json = kl_meta_format(&t, import_summary(ft, path))) == NULL) {
        rc = KL_ENOMEM;
        goto out;
    }
    if ((rc = kl_meta_parse(json, &m->meta, why, sizeof why)) != KL_OK)
        rc = kl_error_set(err, errsz, rc,
                          "%s: this fastText model cannot be served: %s",
                          path, why);
out:
    cJSON_free(json);
    free(t.labels);
    return rc;
}

/* The input matrix: product-quantized codes that klabel's "pq" layout
 * holds exactly (no separate norms, all sub-vectors dsub wide; quant.h)
 * stay codes, predicted through kl_quant_add_row() bit for bit as fastText
 * adds them; anything else is dequantized into dense floats. */
static int ft_adopt_input(struct kl_model *m, struct kl_fasttext *ft,
                          const char *path, char *err, size_t errsz)
{
    struct kl_ft_matrix *in = &ft->input;
    size_t nc = in->quantized ? (size_t)in->cols * KL_FT_KSUB : 0;
    int rc;

    /* non-finite centroids: rejected as the safetensors reader rejects
     * them (quant.c), so an imported model opens like its .ftz */
    for (size_t i = 0; i < nc; i++)
        if (!isfinite(in->centroids[i]) ||
            (in->qnorm && i < KL_FT_KSUB && !isfinite(in->norm_centroids[i])))
            return kl_error_set(err, errsz, KL_EFORMAT,
                                "%s: the input matrix's quantizer holds a "
                                "non-finite centroid", path);
    if (in->quantized && !in->qnorm && in->lastdsub == in->dsub &&
        in->dsub <= KL_QUANT_DSUB_MAX) {
        m->own_codes = in->codes;
        m->own_centroids = in->centroids;
        in->codes = NULL;
        in->centroids = NULL;
        m->quant = (struct kl_qmat){.scheme = KL_QUANT_PQ,
                                    .rows = in->rows,
                                    .dim = (int32_t)in->cols,
                                    .codes = m->own_codes,
                                    .centroids = m->own_centroids,
                                    .nsubq = in->nsubq,
                                    .dsub = in->dsub};
        m->input = NULL;
        return KL_OK;
    }
    if ((rc = kl_ft_dequantize(in)) != KL_OK)
        return rc;
    m->own_input = in->data;
    in->data = NULL;
    m->input = m->own_input;
    return KL_OK;
}

/* Takes over ft's vocabulary, prune index and matrices. */
static int ft_adopt(struct kl_model *m, struct kl_fasttext *ft,
                    const char *path, char *err, size_t errsz)
{
    size_t nout = (size_t)ft->output.rows * (size_t)ft->output.cols;
    char why[256] = "";
    int rc;

    m->own_vocab = ft->words;
    ft->words = NULL;
    rc = kl_dict_init(&m->dict, ft->nwords > 0 ? m->own_vocab : NULL,
                      ft->nwords > 0 ? ft->words_len : 0, ft->nwords, why,
                      sizeof why);
    if (rc != KL_OK)
        return kl_error_set(err, errsz, rc, "%s: %s", path,
                            why[0] ? why : kl_strerror(rc));
    kl_dict_set_bucket(&m->dict, m->meta.bucket);
    if (ft->pruneidx_size >= 0 &&
        (rc = kl_dict_set_prune(&m->dict, ft->pruneidx,
                                (size_t)ft->pruneidx_size, why,
                                sizeof why)) != KL_OK)
        return kl_error_set(err, errsz, rc, "%s: %s", path,
                            why[0] ? why : kl_strerror(rc));
    m->input_rows = ft->input.rows;
    if ((rc = ft_adopt_input(m, ft, path, err, errsz)) != KL_OK ||
        (rc = kl_ft_dequantize(&ft->output)) != KL_OK)
        return rc;
    m->own_output = ft->output.data;
    ft->output.data = NULL;
    m->output = m->own_output;
    for (size_t i = 0; i < nout; i++)
        if (!isfinite(m->output[i]))
            return kl_error_set(err, errsz, KL_EFORMAT,
                                "%s: the output matrix holds a non-finite "
                                "value at row %zu", path,
                                i / (size_t)ft->output.cols);
    if (m->meta.loss == KL_LOSS_HS &&
        (rc = kl_hs_build(&m->hs, m->meta.label_counts, m->meta.nlabels)) !=
            KL_OK)
        return rc;
    return KL_OK;
}

/* Contract in model.h (and engine.h, kl_model_open). */
int kl_model_open_fasttext(const char *path, struct kl_model **out,
                           char *err, size_t errsz)
{
    struct kl_fasttext ft;
    struct kl_model *m = NULL;
    int rc;

    memset(&ft, 0, sizeof ft);
    *out = NULL;
    if ((m = calloc(1, sizeof *m)) == NULL) {
        rc = KL_ENOMEM;
        goto out;
    }
    if ((rc = kl_fasttext_read_file(path, &ft, err, errsz)) != KL_OK ||
        (rc = ft_meta(m, &ft, path, err, errsz)) != KL_OK ||
        (rc = ft_adopt(m, &ft, path, err, errsz)) != KL_OK)
        goto out;
    kl_model_fill_info(m);
    kl_tokenize_prepare(); /* not on the first text */
    m->info.file_format = ft.quant_input ? "fasttext-ftz" : "fasttext-bin";
    m->info.quant = m->quant.scheme;
    *out = m;
    m = NULL;
out:
    if (rc == KL_ENOMEM && err != NULL && errsz > 0 && err[0] == '\0')
        kl_error_set(err, errsz, rc, "%s: out of memory", path);
    kl_fasttext_fini(&ft);
    kl_model_destroy(m);
    return rc;
}
