/*
 * engine/train_data.c: a training file -> dictionary + pre-featurized
 * examples (see train_data.h). Two passes over the file held in memory:
 * the first parses labels and counts words, the second featurizes each
 * example through kl_dict_featurize(), the function prediction uses.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"
#include "dict.h"
#include "error.h"
#include "grow.h"
#include "strtab.h"
#include "tokenize.h"
#include "train_data.h"

/* One labeled line before featurization. */
struct raw_example {
    size_t off, len;   /* text in the file buffer (possibly compacted) */
    size_t lab_start;  /* first label in loader.rlab */
    uint32_t nlab;
};

struct loader {
    const struct kl_train_opts *o;
    char *buf;                 /* (len) the whole file, owned */
    size_t len;
    struct kl_strtab words, labels;
    struct kl_tokens tok;
    struct raw_example *raw;   /* (nraw) */
    size_t nraw, raw_cap;
    int32_t *rlab;             /* (nrlab) first-seen label indices */
    size_t nrlab, rlab_cap;
};

/* Reads the whole file at path into ld->buf. */
static int read_file(struct loader *ld, const char *path, char *err,
                     size_t errsz)
{
    FILE *fp = fopen(path, "rb");
    size_t cap = 0, n;
    int rc = KL_OK;

    if (fp == NULL)
        return kl_error_set(err, errsz, KL_EIO, "%s: cannot open: %s", path,
                            strerror(errno));
    for (;;) {
        if ((rc = kl_grow((void **)&ld->buf, &cap, ld->len + 65536, 1,
                          256)) != KL_OK)
            goto out;
        n = fread(ld->buf + ld->len, 1, cap - ld->len, fp);
        ld->len += n;
        if (n == 0)
            break;
    }
    if (ferror(fp))
        rc = kl_error_set(err, errsz, KL_EIO, "%s: read error", path);
out:
    fclose(fp);
    return rc;
}

static int add_label(struct loader *ld, const char *s, size_t n,
                     size_t lineno, char *err, size_t errsz)
{
    int64_t id;
    int rc;

    if (n == 0)
        return kl_error_set(err, errsz, KL_EFORMAT, "line %zu: empty label",
                            lineno);
    if (n > KL_LABEL_MAX)
        return kl_error_set(err, errsz, KL_ERANGE,
                            "line %zu: label longer than %d bytes", lineno,
                            KL_LABEL_MAX);
    if (memchr(s, '\0', n) != NULL)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "line %zu: label contains a NUL byte", lineno);
    if ((id = kl_strtab_add(&ld->labels, s, n)) < 0)
        return (int)id;
    if (ld->labels.n > KL_LABELS_MAX)
        return kl_error_set(err, errsz, KL_ERANGE,
                            "line %zu: more than %d distinct labels", lineno,
                            KL_LABELS_MAX);
    if ((rc = kl_grow((void **)&ld->rlab, &ld->rlab_cap, ld->nrlab + 1,
                      sizeof *ld->rlab, 256)) != KL_OK)
        return rc;
    ld->rlab[ld->nrlab++] = (int32_t)id;
    return KL_OK;
}

/* fastText format: every "__label__x" token is a label (anywhere in the
 * line); the other tokens, joined by single spaces, become the text,
 * compacted in place at the start of the line. Returns the text length. */
static int parse_fasttext_line(struct loader *ld, char *line, size_t n,
                               size_t lineno, size_t *text_len, char *err,
                               size_t errsz)
{
    char *dst = line;
    size_t i = 0, a;
    int rc;

    while (kl_tokenize_next(line, n, &i, &a)) {
        if (kl_tokenize_is_label(line + a, i - a)) {
            rc = add_label(ld, line + a + KL_LABEL_PREFIX_LEN,
                           i - a - KL_LABEL_PREFIX_LEN, lineno, err, errsz);
            if (rc != KL_OK)
                return rc;
            continue;
        }
        if (dst != line)
            *dst++ = ' ';
        memmove(dst, line + a, i - a); /* dst <= line + a */
        dst += i - a;
    }
    *text_len = (size_t)(dst - line);
    return KL_OK;
}

/* One line (without its '\n'): labels, text, word counts. */
static int parse_line(struct loader *ld, char *line, size_t n, size_t lineno,
                      char *err, size_t errsz)
{
    struct raw_example ex = {0};
    size_t i = 0, bad = 0;
    char *tab;
    int rc;

    if (n > 0 && line[n - 1] == '\r')
        n--;
    if (n > KL_TRAIN_LINE_MAX)
        return kl_error_set(err, errsz, KL_ERANGE,
                            "line %zu: longer than %zu bytes", lineno,
                            KL_TRAIN_LINE_MAX);
    if (kl_utf8_validate(line, n, &bad) != KL_OK)
        return kl_error_set(err, errsz, KL_EUTF8,
                            "line %zu: invalid UTF-8 at byte %zu", lineno,
                            bad + 1);
    while (i < n && kl_tokenize_is_space((unsigned char)line[i]))
        i++;
    if (i == n)
        return KL_OK; /* blank line */
    ex.lab_start = ld->nrlab;
    if (kl_tokenize_is_label(line + i, n - i)) {
        rc = parse_fasttext_line(ld, line, n, lineno, &ex.len, err, errsz);
        ex.off = (size_t)(line - ld->buf);
    } else if ((tab = memchr(line, '\t', n)) != NULL) {
        rc = add_label(ld, line, (size_t)(tab - line), lineno, err, errsz);
        ex.off = (size_t)(tab + 1 - ld->buf);
        ex.len = n - (size_t)(tab + 1 - line);
    } else {
        rc = kl_error_set(err, errsz, KL_EFORMAT,
                          "line %zu: no label (expected \"label<TAB>text\" "
                          "or \"__label__name text\")", lineno);
    }
    if (rc != KL_OK)
        return rc;
    ex.nlab = (uint32_t)(ld->nrlab - ex.lab_start);
    rc = kl_tokenize_validated(&ld->o->tok, ld->buf + ex.off, ex.len, &ld->tok);
    if (rc != KL_OK)
        return kl_error_set(err, errsz, rc, "line %zu: %s", lineno,
                            kl_strerror(rc));
    for (size_t t = 0; t < ld->tok.n; t++) {
        const char *w = ld->tok.buf + ld->tok.off[t];
        int64_t id;
        if (ld->o->tok.mode == KL_TOK_FASTTEXT &&
            kl_tokenize_is_label(w, ld->tok.len[t]))
            continue;
        if ((id = kl_strtab_add(&ld->words, w, ld->tok.len[t])) < 0)
            return (int)id;
    }
    if ((rc = kl_grow((void **)&ld->raw, &ld->raw_cap, ld->nraw + 1,
                      sizeof *ld->raw, 256)) != KL_OK)
        return rc;
    ld->raw[ld->nraw++] = ex;
    return KL_OK;
}

/* Vocabulary and label order from the counts. */
static int build_dictionary(struct loader *ld, struct kl_train_data *td,
                            int32_t **label_map, char *err, size_t errsz)
{
    int32_t *order = NULL;
    size_t n = 0, pos = 0;
    int rc;

    if ((rc = kl_strtab_sorted(&ld->words, ld->o->min_count, &order, &n)) != KL_OK)
        goto out;
    if ((int64_t)n + ld->o->bucket > INT32_MAX) {
        rc = kl_error_set(err, errsz, KL_ERANGE,
                          "%zu words + %d buckets exceed 2^31 - 1 rows", n,
                          (int)ld->o->bucket);
        goto out;
    }
    td->nwords = (int32_t)n;
    for (size_t i = 0; i < n; i++)
        td->vocab_len += ld->words.e[order[i]].len + 1;
    if ((td->vocab = malloc(td->vocab_len ? td->vocab_len : 1)) == NULL) {
        rc = KL_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct kl_strtab_entry *e = &ld->words.e[order[i]];
        memcpy(td->vocab + pos, ld->words.arena + e->off, e->len + 1);
        pos += e->len + 1;
    }
    free(order);
    order = NULL;
    if ((rc = kl_strtab_sorted(&ld->labels, 1, &order, &n)) != KL_OK)
        goto out;
    td->labels = calloc(n ? n : 1, sizeof *td->labels);
    *label_map = malloc((n ? n : 1) * sizeof **label_map);
    if (td->labels == NULL || *label_map == NULL) {
        rc = KL_ENOMEM;
        goto out;
    }
    td->nlabels = (int32_t)n;
    for (size_t i = 0; i < n; i++) {
        (*label_map)[order[i]] = (int32_t)i;
        if ((td->labels[i] = strdup(kl_strtab_str(&ld->labels, (size_t)order[i]))) == NULL) {
            rc = KL_ENOMEM;
            goto out;
        }
    }
out:
    free(order);
    return rc;
}

/* Second pass: every raw example through the featurizer. */
static int featurize_all(struct loader *ld, struct kl_train_data *td,
                         const int32_t *label_map)
{
    struct kl_dict d;
    struct kl_features f;
    size_t ids_cap = 0, lab_cap = 0, nids = 0, nlab = 0;
    int rc;

    kl_features_init(&f);
    rc = kl_dict_init(&d, td->vocab, td->vocab_len, td->nwords, NULL, 0);
    if (rc != KL_OK)
        return rc;
    kl_dict_set_bucket(&d, ld->o->bucket);
    d.word_ngrams = ld->o->word_ngrams;
    d.minn = ld->o->minn;
    d.maxn = ld->o->maxn;
    d.tok = ld->o->tok;
    td->ex_off = malloc((ld->nraw + 1) * sizeof *td->ex_off);
    td->lab_off = malloc((ld->nraw + 1) * sizeof *td->lab_off);
    td->ntok = malloc((ld->nraw + 1) * sizeof *td->ntok);
    if (td->ex_off == NULL || td->lab_off == NULL || td->ntok == NULL) {
        rc = KL_ENOMEM;
        goto out;
    }
    td->ex_off[0] = td->lab_off[0] = 0;
    for (size_t i = 0; i < ld->nraw; i++) {
        const struct raw_example *ex = &ld->raw[i];
        rc = kl_dict_featurize(&d, ld->buf + ex->off, ex->len, &f);
        if (rc == KL_EEMPTY) {
            td->skipped++;
            continue;
        }
        if (rc != KL_OK ||
            (rc = kl_grow((void **)&td->ids, &ids_cap, nids + f.n,
                          sizeof *td->ids, 256)) != KL_OK ||
            (rc = kl_grow((void **)&td->lab, &lab_cap, nlab + ex->nlab,
                          sizeof *td->lab, 256)) != KL_OK)
            goto out;
        memcpy(td->ids + nids, f.ids, f.n * sizeof *f.ids);
        nids += f.n;
        for (uint32_t j = 0; j < ex->nlab; j++)
            td->lab[nlab++] = label_map[ld->rlab[ex->lab_start + j]];
        td->ntok[td->nex] = (uint32_t)(f.ntokens + ex->nlab);
        td->ntokens += td->ntok[td->nex];
        td->nex++;
        td->ex_off[td->nex] = nids;
        td->lab_off[td->nex] = nlab;
    }
    rc = KL_OK;
out:
    kl_features_fini(&f);
    kl_dict_fini(&d);
    return rc;
}

/* Contract in train_data.h. */
int kl_train_data_load(struct kl_train_data *td, const struct kl_train_opts *o,
                       const char *path, char *err, size_t errsz)
{
    struct loader ld;
    int32_t *label_map = NULL;
    char why[300] = "";
    size_t pos = 0;
    int rc;

    memset(td, 0, sizeof *td);
    memset(&ld, 0, sizeof ld);
    ld.o = o;
    kl_strtab_init(&ld.words);
    kl_strtab_init(&ld.labels);
    kl_tokens_init(&ld.tok);
    if ((rc = read_file(&ld, path, err, errsz)) != KL_OK)
        goto out;
    while (pos < ld.len) {
        char *line = ld.buf + pos, *nl = memchr(line, '\n', ld.len - pos);
        size_t n = nl ? (size_t)(nl - line) : ld.len - pos;
        td->lines++;
        if ((rc = parse_line(&ld, line, n, td->lines, why, sizeof why)) != KL_OK) {
            rc = kl_error_set(err, errsz, rc, "%s: %s", path,
                              why[0] ? why : kl_strerror(rc));
            goto out;
        }
        pos += n + 1;
    }
    if (ld.nraw == 0) {
        rc = kl_error_set(err, errsz, KL_EEMPTY, "%s: no labeled line", path);
        goto out;
    }
    if ((rc = build_dictionary(&ld, td, &label_map, why, sizeof why)) != KL_OK ||
        (rc = featurize_all(&ld, td, label_map)) != KL_OK) {
        rc = kl_error_set(err, errsz, rc, "%s: %s", path,
                          why[0] ? why : kl_strerror(rc));
        goto out;
    }
    if (td->nex == 0)
        rc = kl_error_set(err, errsz, KL_EEMPTY,
                          "%s: no example has a feature (min_count %d too "
                          "high?)", path, (int)o->min_count);
out:
    free(label_map);
    free(ld.buf);
    free(ld.raw);
    free(ld.rlab);
    kl_strtab_fini(&ld.words);
    kl_strtab_fini(&ld.labels);
    kl_tokens_fini(&ld.tok);
    if (rc != KL_OK)
        kl_train_data_fini(td);
    return rc;
}

/* Contract in train_data.h. */
void kl_train_data_fini(struct kl_train_data *td)
{
    for (int32_t i = 0; td->labels != NULL && i < td->nlabels; i++)
        free(td->labels[i]);
    free(td->labels);
    free(td->vocab);
    free(td->ids);
    free(td->ex_off);
    free(td->lab);
    free(td->lab_off);
    free(td->ntok);
    memset(td, 0, sizeof *td);
}
