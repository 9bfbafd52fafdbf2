/*
 * engine/nn_data.c: the vocabulary, labels and id sequences that neural
 * training reads (see nn_data.h). Counting reuses the fastText trainer's
 * loader (train_data.c: same tokenizer, same min_count, words by count
 * descending with ties in first-seen order), so both architectures see
 * the same words; the sequences come from kl_nn_seq_ids(), the featurizer
 * that serving runs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"
#include "error.h"
#include "nn_data.h"
#include "nn_model.h"
#include "train_data.h"

/* Contract in nn_data.h. */
int kl_nn_vocab_build(struct kl_nn_vocab *v, const struct kl_train_opts *o,
                      const char *path, char *err, size_t errsz)
{
    struct kl_train_opts co = *o;
    struct kl_train_data td;
    size_t keep = 0;
    int rc;

    memset(v, 0, sizeof *v);
    kl_strtab_init(&v->lab);
    co.bucket = 0; /* words only: no n-gram buckets to count */
    co.word_ngrams = 1;
    co.minn = co.maxn = 0;
    if ((rc = kl_train_data_load(&td, &co, path, err, errsz)) != KL_OK)
        return rc;
    v->nwords = td.nwords < o->nn.max_vocab ? td.nwords : o->nn.max_vocab;
    for (int32_t w = 0; w < v->nwords; w++)
        keep += strlen(td.vocab + keep) + 1;
    v->vocab = td.vocab; /* the first nwords words of it */
    v->vocab_len = keep;
    td.vocab = NULL;
    v->labels = td.labels;
    v->nlabels = td.nlabels;
    td.labels = NULL;
    td.nlabels = 0;
    v->label_counts = calloc((size_t)v->nlabels, sizeof *v->label_counts);
    if (v->label_counts == NULL) {
        rc = KL_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < td.lab_off[td.nex]; i++)
        v->label_counts[td.lab[i]]++;
    for (int32_t i = 0; i < v->nlabels; i++)
        if (kl_strtab_add(&v->lab, v->labels[i], strlen(v->labels[i])) != i) {
            rc = KL_ENOMEM;
            goto out;
        }
    if (v->nwords == 0) {
        rc = kl_error_set(err, errsz, KL_EEMPTY, "%s: no vocabulary word",
                          path);
        goto out;
    }
    rc = kl_dict_init(&v->dict, v->vocab, v->vocab_len, v->nwords, err,
                      errsz);
    v->dict.tok = o->tok;
out:
    kl_train_data_fini(&td);
    if (rc != KL_OK)
        kl_nn_vocab_fini(v);
    return rc;
}

/* Contract in nn_data.h. */
void kl_nn_vocab_fini(struct kl_nn_vocab *v)
{
    for (int32_t i = 0; v->labels != NULL && i < v->nlabels; i++)
        free(v->labels[i]);
    free(v->labels);
    free(v->vocab);
    free(v->label_counts);
    kl_dict_fini(&v->dict);
    kl_strtab_fini(&v->lab);
    memset(v, 0, sizeof *v);
}

/* Index of the label name[0..n), or -1 (the table keeps the unknown name:
 * its index is >= nlabels). */
static int32_t find_label(struct kl_nn_vocab *v, const char *name, size_t n)
{
    int64_t id = kl_strtab_add(&v->lab, name, n);

    return id >= 0 && id < v->nlabels ? (int32_t)id : -1;
}

/* Appends example (f's ids, labels lab[0..nl)) to set. */
static int push_example(struct kl_nn_set *set, const struct kl_features *f,
                        const int32_t *lab, size_t nl, size_t *caps)
{
    size_t n = set->n;

    if (kl_nn_reserve((void **)&set->ids, &caps[0], set->off[n] + f->n,
                      sizeof *set->ids) ||
        kl_nn_reserve((void **)&set->off, &caps[1], n + 2, sizeof *set->off) ||
        kl_nn_reserve((void **)&set->lab, &caps[2], set->lab_off[n] + nl,
                      sizeof *set->lab) ||
        kl_nn_reserve((void **)&set->lab_off, &caps[3], n + 2,
                      sizeof *set->lab_off))
        return KL_ENOMEM;
    memcpy(set->ids + set->off[n], f->ids, f->n * sizeof *f->ids);
    memcpy(set->lab + set->lab_off[n], lab, nl * sizeof *lab);
    set->off[n + 1] = set->off[n] + f->n;
    set->lab_off[n + 1] = set->lab_off[n] + nl;
    set->tokens += f->n;
    set->n++;
    return KL_OK;
}

/* One line: its known labels and ids into set (or dropped). */
static int load_line(struct kl_nn_set *set, struct kl_nn_vocab *v,
                     const struct kl_nn_conf *c, const char *line, size_t n,
                     struct kl_example *ex, struct kl_features *f,
                     int32_t **lab, size_t *lab_cap, size_t *caps)
{
    size_t nl = 0;
    int rc = kl_example_parse(line, n, ex);

    if (rc == KL_EEMPTY)
        return KL_OK;
    if (rc != KL_OK)
        return rc;
    if (kl_nn_reserve((void **)lab, lab_cap, ex->nlabels, sizeof **lab))
        return KL_ENOMEM;
    for (size_t i = 0; i < ex->nlabels; i++) {
        int32_t id = find_label(v, line + ex->label_off[i],
                                ex->label_len[i]);
        int dup = 0;
        for (size_t j = 0; j < nl; j++)
            dup |= (*lab)[j] == id;
        if (id >= 0 && !dup)
            (*lab)[nl++] = id;
    }
    rc = kl_nn_seq_ids(&v->dict, c, ex->text, ex->text_len, f);
    if (rc == KL_EEMPTY || (rc == KL_OK && nl == 0)) {
        set->dropped++;
        return KL_OK;
    }
    if (rc != KL_OK)
        return rc;
    return push_example(set, f, *lab, nl, caps);
}

/* Contract in nn_data.h. */
int kl_nn_set_load(struct kl_nn_set *set, struct kl_nn_vocab *v,
                   const struct kl_nn_conf *c, const char *path, char *err,
                   size_t errsz)
{
    FILE *fp = NULL;
    struct kl_example ex;
    struct kl_features f;
    char *line = NULL;
    size_t line_cap = 0, lineno = 0, caps[4] = {0}, lab_cap = 0;
    int32_t *lab = NULL;
    ssize_t got;
    int rc = KL_OK;

    memset(set, 0, sizeof *set);
    kl_example_init(&ex);
    kl_features_init(&f);
    if (kl_nn_reserve((void **)&set->off, &caps[1], 1, sizeof *set->off) ||
        kl_nn_reserve((void **)&set->lab_off, &caps[3], 1,
                      sizeof *set->lab_off)) {
        rc = KL_ENOMEM;
        goto out;
    }
    set->off[0] = set->lab_off[0] = 0;
    if ((fp = fopen(path, "rb")) == NULL) {
        rc = kl_error_set(err, errsz, KL_EIO, "%s: cannot open: %s", path,
                          strerror(errno));
        goto out;
    }
    while ((got = getline(&line, &line_cap, fp)) >= 0) {
        size_t n = (size_t)got;
        lineno++;
        if (n > 0 && line[n - 1] == '\n')
            n--;
        rc = load_line(set, v, c, line, n, &ex, &f, &lab, &lab_cap, caps);
        if (rc != KL_OK) {
            rc = kl_error_set(err, errsz, rc, "%s: line %zu: %s", path,
                              lineno, kl_strerror(rc));
            goto out;
        }
    }
    if (ferror(fp))
        rc = kl_error_set(err, errsz, KL_EIO, "%s: read error", path);
    else if (set->n == 0)
        rc = kl_error_set(err, errsz, KL_EEMPTY,
                          "%s: no line with a known label and a token", path);
out:
    if (fp != NULL)
        fclose(fp);
    free(line);
    free(lab);
    kl_example_fini(&ex);
    kl_features_fini(&f);
    if (rc != KL_OK)
        kl_nn_set_fini(set);
    return rc;
}

/* Contract in nn_data.h. */
void kl_nn_set_fini(struct kl_nn_set *set)
{
    free(set->ids);
    free(set->off);
    free(set->lab);
    free(set->lab_off);
    memset(set, 0, sizeof *set);
}
