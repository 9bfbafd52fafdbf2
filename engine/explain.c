/*
 * engine/explain.c: why a text got its label, for the linear ("fasttext")
 * architecture. The label's logit is w_label . hidden with hidden the mean
 * of the text's input rows, so it splits exactly into one term per feature,
 * (w_label . row_j) / n. The terms are summed per word (its vocabulary row
 * and its char n-grams) and per word n-gram ("tok1 tok2"), using the
 * origins kl_model_featurize() records with want_origin; groups with the
 * same name are merged; the largest come first.
 */
#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"
#include "model.h"
#include "project.h"

/* Contract in engine.h. x owns nothing yet. */
void kl_explanation_init(struct kl_explanation *x)
{
    memset(x, 0, sizeof *x);
    x->label = -1;
}

/* Contract in engine.h. Leaves x initialized. */
void kl_explanation_fini(struct kl_explanation *x)
{
    free(x->items);
    free(x->names);
    free(x->groups);
    kl_explanation_init(x);
}

/* a[0..dim) . b[0..dim) in float, in blocks of 8 so gcc vectorizes it. */
static float dot(const float *restrict a, const float *restrict b,
                 size_t dim)
{
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0}, t = 0.0f;
    size_t d = 0;

    for (; d + 8 <= dim; d += 8)
        for (int k = 0; k < 8; k++)
            s[k] += a[d + k] * b[d + k];
    for (; d < dim; d++)
        t += a[d] * b[d];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])) +
           t;
}

static int push_item(struct kl_explanation *x, uint32_t off, uint32_t len,
                     float w)
{
    if (x->n == x->cap) {
        size_t ncap = x->cap ? x->cap * 2 : 32;
        struct kl_contrib *q = realloc(x->items, ncap * sizeof *q);
        if (q == NULL)
            return KL_ENOMEM;
        x->items = q;
        x->cap = ncap;
    }
    x->items[x->n++] = (struct kl_contrib){off, len, w};
    return KL_OK;
}

/* Appends s[0..n) to x->names (NUL-terminated) and sets *off. */
static int push_name(struct kl_explanation *x, const char *s, size_t n)
{
    if (x->names_len + n + 2 > x->names_cap) {
        size_t ncap = x->names_cap ? x->names_cap : 256;
        char *q;
        while (ncap < x->names_len + n + 2)
            ncap *= 2;
        if ((q = realloc(x->names, ncap)) == NULL)
            return KL_ENOMEM;
        x->names = q;
        x->names_cap = ncap;
    }
    memcpy(x->names + x->names_len, s, n);
    x->names_len += n;
    x->names[x->names_len] = '\0';
    return KL_OK;
}

/* The name of origin o ("tok" or "tok1 tok2 ...") into x->names. */
static int name_origin(struct kl_explanation *x, const struct kl_features *f,
                       uint32_t o, uint32_t *off, uint32_t *len)
{
    uint32_t w = KL_ORIGIN_WORD(o), span = KL_ORIGIN_SPAN(o);
    size_t start = x->names_len;
    int rc;

    if ((size_t)w + span > f->nword_tok)
        return KL_EINVAL;
    for (uint32_t k = 0; k < span; k++) {
        uint32_t t = f->word_tok[w + k];
        if (t >= f->tok.n)
            return KL_EINVAL;
        if ((k > 0 && (rc = push_name(x, " ", 1)) != KL_OK) ||
            (rc = push_name(x, f->tok.buf + f->tok.off[t], f->tok.len[t])) !=
                KL_OK)
            return rc;
    }
    *off = (uint32_t)start;
    *len = (uint32_t)(x->names_len - start);
    x->names_len++; /* keep the NUL */
    return KL_OK;
}

/* One group of features: what produced them and their summed term. */
struct group {
    uint64_t key;    /* FNV-1a 64 of the group's tokens (merging) */
    uint32_t origin; /* KL_ORIGIN_* of its first feature */
    float weight;
};

/* The key of origin o (its words' bytes, separated), or KL_EINVAL when
 * o points past the text's words. */
static int group_key(const struct kl_features *f, uint32_t o, uint64_t *key)
{
    uint32_t w = KL_ORIGIN_WORD(o), span = KL_ORIGIN_SPAN(o);
    uint64_t h = UINT64_C(14695981039346656037);

    if ((size_t)w + span > f->nword_tok)
        return KL_EINVAL;
    for (uint32_t k = 0; k < span; k++) {
        uint32_t t = f->word_tok[w + k];
        const unsigned char *p;
        if (t >= f->tok.n)
            return KL_EINVAL;
        p = (const unsigned char *)f->tok.buf + f->tok.off[t];
        for (uint32_t i = 0; i < f->tok.len[t]; i++)
            h = (h ^ p[i]) * UINT64_C(1099511628211);
        h = (h ^ 0x100) * UINT64_C(1099511628211); /* no byte is 0x100 */
    }
    *key = h;
    return KL_OK;
}

/* 1 when origins a and b name the same words. */
static int same_words(const struct kl_features *f, uint32_t a, uint32_t b)
{
    uint32_t span = KL_ORIGIN_SPAN(a);

    if (span != KL_ORIGIN_SPAN(b))
        return 0;
    for (uint32_t k = 0; k < span; k++) {
        uint32_t s = f->word_tok[KL_ORIGIN_WORD(a) + k];
        uint32_t t = f->word_tok[KL_ORIGIN_WORD(b) + k];
        if (f->tok.len[s] != f->tok.len[t] ||
            memcmp(f->tok.buf + f->tok.off[s], f->tok.buf + f->tok.off[t],
                   f->tok.len[s]) != 0)
            return 0;
    }
    return 1;
}

static int by_key(const void *a, const void *b)
{
    const struct group *p = a, *q = b;

    if (p->key != q->key)
        return p->key < q->key ? -1 : 1;
    return (p->origin > q->origin) - (p->origin < q->origin);
}

static int by_weight(const void *a, const void *b)
{
    const struct group *p = a, *q = b;

    if (p->weight != q->weight)
        return p->weight < q->weight ? 1 : -1;
    return by_key(a, b);
}

/* Sorts g[0..n) by cmp: insertion sort for the few groups of a short text
 * (glibc's qsort is a merge sort with a temporary buffer), qsort past 32. */
static void sort_groups(struct group *g, size_t n,
                        int (*cmp)(const void *, const void *))
{
    if (n > 32) {
        qsort(g, n, sizeof *g, cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        struct group v = g[i];
        size_t j = i;
        while (j > 0 && cmp(&g[j - 1], &v) > 0) {
            g[j] = g[j - 1];
            j--;
        }
        g[j] = v;
    }
}

/* Moves the k best groups by weight (by_weight order) to g[0..k), sorted;
 * the others follow in no order. O(n k) for the usual small k. */
static void select_top(struct group *g, size_t n, size_t k)
{
    if (k == 0 || k >= n || k > 32) {
        sort_groups(g, n, by_weight);
        return;
    }
    for (size_t i = 0; i < k; i++) {
        size_t best = i;
        for (size_t j = i + 1; j < n; j++)
            if (by_weight(&g[j], &g[best]) < 0)
                best = j;
        if (best != i) {
            struct group t = g[i];
            g[i] = g[best];
            g[best] = t;
        }
    }
}

/* Merges groups of the same words (g sorted by key); returns how many are
 * left. */
static size_t merge_groups(const struct kl_features *f, struct group *g,
                           size_t n)
{
    size_t m = 0;

    for (size_t i = 0; i < n; i++) {
        size_t j = m;
        /* equal keys are adjacent; compare words among them */
        while (j > 0 && g[j - 1].key == g[i].key &&
               !same_words(f, g[j - 1].origin, g[i].origin))
            j--;
        if (j > 0 && g[j - 1].key == g[i].key)
            g[j - 1].weight += g[i].weight;
        else
            g[m++] = g[i];
    }
    return m;
}

/* Groups f's terms for label into x->groups; returns their number in *ng.
 * *total is the sum of all terms (the logit). */
static int group_terms(const struct kl_model *m, const struct kl_features *f,
                       int32_t label, struct kl_explanation *x, size_t *ng,
                       double *total)
{
    size_t dim = (size_t)m->info.dim, n = 0;
    int64_t rows = m->input_rows; /* nwords + bucket, or pruned rows */
    const float *w = m->output + (size_t)label * dim;
    double inv = 1.0 / (double)f->n;
    struct group *g;
    int rc;

    if (f->n > x->groups_cap) {
        void *q = realloc(x->groups, f->n * sizeof *g);
        if (q == NULL)
            return KL_ENOMEM;
        x->groups = q;
        x->groups_cap = f->n;
    }
    g = x->groups;
    *total = 0.0;
    for (size_t j = 0; j < f->n;) {
        uint32_t o = f->origin[j];
        double sum = 0.0;
        for (; j < f->n && f->origin[j] == o; j++) {
            int32_t id = f->ids[j];
            if (id < 0 || id >= rows)
                return KL_EINVAL;
            sum += m->quant.scheme != KL_QUANT_NONE /* quant.c */
                       ? kl_quant_dot(&m->quant, id, w)
                       : dot(w, m->input + (size_t)id * dim, dim);
        }
        sum *= inv;
        *total += sum;
        if ((rc = group_key(f, o, &g[n].key)) != KL_OK)
            return rc;
        g[n].origin = o;
        g[n++].weight = (float)sum;
    }
    *ng = n;
    return KL_OK;
}

/* The explanation of label for f, with the logit as the sum of the terms.
 * Names are made for the kept groups only. */
static int explain_one(const struct kl_model *m, const struct kl_features *f,
                       int32_t label, size_t top, struct kl_explanation *x)
{
    struct group *g;
    size_t ng = 0, keep;
    double total = 0.0, rest = 0.0;
    int rc;

    x->label = label;
    x->logit = 0.0f;
    x->rest = 0.0f;
    x->n = 0;
    x->names_len = 0;
    if (f->n == 0)
        return KL_OK;
    if (!f->want_origin || f->origin == NULL || f->word_tok == NULL)
        return KL_EINVAL;
    if ((rc = group_terms(m, f, label, x, &ng, &total)) != KL_OK)
        return rc;
    g = x->groups;
    sort_groups(g, ng, by_key);
    ng = merge_groups(f, g, ng);
    keep = top > 0 && ng > top ? top : ng;
    select_top(g, ng, keep);
    for (size_t i = keep; i < ng; i++)
        rest += g[i].weight;
    for (size_t i = 0; i < keep; i++) {
        uint32_t off, len;
        if ((rc = name_origin(x, f, g[i].origin, &off, &len)) != KL_OK ||
            (rc = push_item(x, off, len, g[i].weight)) != KL_OK)
            return rc;
    }
    x->logit = (float)total;
    x->rest = (float)rest;
    return KL_OK;
}

/* Only softmax and one-vs-all have one output row per label. */
static int check_model(const struct kl_model *m)
{
    if (m == NULL || m->output == NULL || m->info.loss == KL_LOSS_HS ||
        (m->info.architecture != NULL &&
         strcmp(m->info.architecture, "fasttext") != 0))
        return KL_EINVAL;
    return KL_OK;
}

/* Contract in engine.h. x is caller-owned; the model is only read. */
int kl_model_explain(const struct kl_model *m, const struct kl_features *f,
                     int32_t label, size_t top, struct kl_explanation *x)
{
    int rc;

    if (f == NULL || x == NULL || (rc = check_model(m)) != KL_OK)
        return KL_EINVAL;
    if (label < 0 || label >= m->info.nlabels)
        return KL_EINVAL;
    return explain_one(m, f, label, top, x);
}

/* Contract in engine.h. s holds the hidden vectors of the batch that
 * kl_model_predict_batch() just computed (unless the model has label
 * projections, project.c); it is only read. */
int kl_model_explain_batch(const struct kl_model *m,
                           const struct kl_features *const *feats, size_t n,
                           const struct kl_prediction *pred,
                           const struct kl_scratch *s, size_t top,
                           struct kl_explanation *x)
{
    size_t dim;
    int rc;

    if ((rc = check_model(m)) != KL_OK)
        return rc;
    if (n == 0)
        return KL_OK;
    if (feats == NULL || pred == NULL || s == NULL || x == NULL ||
        (m->proj == NULL && s->hidden == NULL) || s->rows_cap < n)
        return KL_EINVAL;
    dim = (size_t)m->info.dim;
    for (size_t i = 0; i < n; i++) {
        const struct kl_features *f = feats[i];
        int32_t label = pred[i].k > 0 ? pred[i].label[0] : -1;

        if (f == NULL || f->n == 0 || label < 0) {
            x[i].label = -1;
            x[i].logit = x[i].rest = 0.0f;
            x[i].n = x[i].names_len = 0;
            continue;
        }
        if (label >= m->info.nlabels)
            return KL_EINVAL;
        if ((rc = explain_one(m, f, label, top, &x[i])) != KL_OK)
            return rc;
        /* the logit the prediction used: from the projected rows, or
         * from the batch's hidden row */
        x[i].logit = m->proj != NULL
                         ? kl_proj_logit(m, f, label)
                         : dot(m->output + (size_t)label * dim,
                               s->hidden + i * dim, dim);
    }
    return KL_OK;
}
