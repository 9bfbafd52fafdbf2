/*
 * engine/tokmodel.c: moving the tokenizer's resources into and out of a
 * model file (see tokmodel.h). A model carries its jieba dictionary
 * (dict.txt as it was read, ~5 MB) and its normalized stop words as U8
 * tensors, so serving needs no file besides the model and tokenizes
 * exactly as training did; the metadata's counts catch a tensor that does
 * not belong to it.
 */
#include <stdio.h>
#include <string.h>

#include <libstemmer.h>

#include "klabel/engine.h"
#include "error.h"
#include "model.h"
#include "preprocess.h"
#include "segment.h"
#include "tokmodel.h"

/* The Snowball languages this libstemmer has, comma-separated, into buf. */
static const char *stem_list(char *buf, size_t n)
{
    const char **l = sb_stemmer_list();
    size_t pos = 0;

    buf[0] = '\0';
    for (size_t i = 0; l != NULL && l[i] != NULL && pos < n; i++)
        pos += (size_t)snprintf(buf + pos, n - pos, "%s%s", i ? ", " : "",
                                l[i]);
    return buf;
}

/* Contract in tokmodel.h. */
int kl_tok_res_open(struct kl_tok_res *r, const struct kl_train_opts *o,
                    struct kl_train_opts *copy, char *err, size_t errsz)
{
    struct kl_tok_opts *t = &copy->tok;
    char langs[512];
    int rc;

    *copy = *o;
    if ((o->segmenter_path && o->tok.seg) || (o->stopwords_path && o->tok.stop))
        return kl_error_set(err, errsz, KL_EINVAL,
                            "training options: give a segmenter (or stop "
                            "words) as a path or as an object, not both");
    if (o->segmenter_path != NULL) {
        if ((rc = kl_segmenter_load(o->segmenter_path, &r->seg, err,
                                    errsz)) != KL_OK)
            return rc;
        t->seg = r->seg;
    }
    if (o->stopwords_path != NULL) {
        if ((rc = kl_stopwords_load(o->stopwords_path, &r->stop, err,
                                    errsz)) != KL_OK)
            return rc;
        t->stop = kl_stopwords_count(r->stop) > 0 ? r->stop : NULL;
    }
    if ((t->seg || t->stop || t->stem[0]) && t->mode != KL_TOK_UNICODE)
        return kl_error_set(err, errsz, KL_EINVAL,
                            "training options: a segmenter, stop words and "
                            "stemming need the unicode tokenizer");
    if (t->stem[0] != '\0' && !kl_stem_supported(t->stem))
        return kl_error_set(err, errsz, KL_EINVAL,
                            "training options: no Snowball stemmer \"%.32s\" "
                            "(libstemmer has: %s)", t->stem,
                            stem_list(langs, sizeof langs));
    return KL_OK;
}

/* Contract in tokmodel.h. */
void kl_tok_res_close(struct kl_tok_res *r)
{
    kl_segmenter_destroy(r->seg);
    kl_stopwords_destroy(r->stop);
    r->seg = NULL;
    r->stop = NULL;
}

/* Contract in tokmodel.h. */
void kl_tok_model_meta(const struct kl_tok_opts *tok, struct kl_meta *m)
{
    m->seg_on = tok->seg != NULL;
    if (tok->seg != NULL)
        kl_segmenter_stats(tok->seg, NULL, NULL, &m->seg_words,
                           &m->seg_total);
    m->stop_on = tok->stop != NULL;
    m->stop_count = (int64_t)kl_stopwords_count(tok->stop);
}

/* Contract in tokmodel.h. */
size_t kl_tok_model_tensors(const struct kl_tok_opts *tok,
                            struct kl_st_out *t)
{
    const char *data;
    size_t len, nt = 0;

    if (tok->seg != NULL) {
        kl_segmenter_stats(tok->seg, &data, &len, NULL, NULL);
        t[nt++] = (struct kl_st_out){KL_TOK_SEG_TENSOR, KL_ST_U8, 1,
                                     {(uint64_t)len}, data};
    }
    if (tok->stop != NULL) {
        kl_stopwords_data(tok->stop, &data, &len);
        t[nt++] = (struct kl_st_out){KL_TOK_STOP_TENSOR, KL_ST_U8, 1,
                                     {(uint64_t)len}, data};
    }
    return nt;
}

/* The 1-D U8 tensor called name, or an error naming it. */
static int u8_tensor(const struct kl_model *m, const char *path,
                     const char *name, const struct kl_st_tensor **out,
                     char *err, size_t errsz)
{
    const struct kl_st_tensor *t = kl_safetensors_find(&m->st, name);

    if (t == NULL)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "%s: tensor '%s' is missing (the metadata's "
                            "tokenizer needs it)", path, name);
    if (t->dtype != KL_ST_U8 || t->ndim != 1)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "%s: tensor '%s' must be 1-D U8", path, name);
    *out = t;
    return KL_OK;
}

/* Contract in tokmodel.h. */
int kl_tok_model_load(struct kl_model *m, const char *path, char *err,
                      size_t errsz)
{
    const struct kl_st_tensor *t;
    char why[300] = "";
    int64_t words, total;
    int rc;

    if (m->meta.seg_on) {
        if ((rc = u8_tensor(m, path, KL_TOK_SEG_TENSOR, &t, err, errsz)) != KL_OK)
            return rc;
        rc = kl_segmenter_create((const char *)t->data,
                                 (size_t)(t->end - t->begin), &m->seg, why,
                                 sizeof why);
        if (rc != KL_OK)
            return kl_error_set(err, errsz, rc == KL_ENOMEM ? rc : KL_EFORMAT,
                                "%s: %s", path, why);
        kl_segmenter_stats(m->seg, NULL, NULL, &words, &total);
        if (words != m->meta.seg_words || total != m->meta.seg_total)
            return kl_error_set(err, errsz, KL_EFORMAT,
                                "%s: the segmenter dictionary has %lld words "
                                "of total frequency %lld, the metadata says "
                                "%lld and %lld", path, (long long)words,
                                (long long)total,
                                (long long)m->meta.seg_words,
                                (long long)m->meta.seg_total);
        m->meta.tok.seg = m->seg;
    }
    if (m->meta.stop_on) {
        if ((rc = u8_tensor(m, path, KL_TOK_STOP_TENSOR, &t, err, errsz)) != KL_OK)
            return rc;
        rc = kl_stopwords_create((const char *)t->data,
                                 (size_t)(t->end - t->begin),
                                 m->meta.stop_count, &m->stop, why,
                                 sizeof why);
        if (rc != KL_OK)
            return kl_error_set(err, errsz, rc == KL_ENOMEM ? rc : KL_EFORMAT,
                                "%s: %s", path, why);
        m->meta.tok.stop = m->stop;
    }
    if (m->meta.tok.stem[0] != '\0' && !kl_stem_supported(m->meta.tok.stem))
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "%s: the model stems with \"%s\", which this "
                            "libstemmer lacks", path, m->meta.tok.stem);
    return KL_OK;
}

/* Contract in tokmodel.h. */
void kl_tok_model_free(struct kl_model *m)
{
    kl_segmenter_destroy(m->seg);
    kl_stopwords_destroy(m->stop);
    m->seg = NULL;
    m->stop = NULL;
}
