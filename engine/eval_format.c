/*
 * engine/eval_format.c: a kl_eval report as text for people (summary,
 * per-class table, confusion matrix) and as one JSON object for programs.
 * Label names go last on each text row, so CJK names do not break the
 * column alignment.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "klabel/engine.h"
#include "eval.h"

#define TEXT_MATRIX_MAX 40 /* labels up to which text shows the matrix */

/* A growing NUL-terminated string; err sticks at the first failure. */
struct sbuf {
    char *p;
    size_t len, cap;
    int err;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->err)
        return;
    for (;;) {
        size_t room = b->cap - b->len;
        va_start(ap, fmt);
        n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->err = KL_EINVAL;
            return;
        }
        if (b->p != NULL && (size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        {
            size_t ncap = b->cap ? b->cap : 1024;
            char *q;
            while (ncap < b->len + (size_t)n + 1)
                ncap *= 2;
            if ((q = realloc(b->p, ncap)) == NULL) {
                b->err = KL_ENOMEM;
                return;
            }
            b->p = q;
            b->cap = ncap;
        }
    }
}

static const char *label_name(const char *const *labels, int32_t i)
{
    return labels && labels[i] ? labels[i] : "?";
}

/* Digits of v (>= 1). */
static int digits(int64_t v)
{
    int d = 1;
    while (v >= 10) {
        v /= 10;
        d++;
    }
    return d;
}

static void text_summary(struct sbuf *b, const struct kl_eval *e,
                         const struct kl_eval_report *r)
{
    sb_printf(b, "examples      %lld\n", (long long)r->examples);
    sb_printf(b, "accuracy      %.4f  (%lld of %lld)\n", r->accuracy,
              (long long)r->correct, (long long)r->examples);
    sb_printf(b, "macro-F1      %.4f  (precision %.4f, recall %.4f; over %d "
              "classes)\n", r->macro_f1, r->macro_precision, r->macro_recall,
              (int)r->macro_classes);
    sb_printf(b, "weighted-F1   %.4f\n", r->weighted_f1);
    if (r->k > 1)
        sb_printf(b, "P@%d           %.4f\nR@%d           %.4f\n", r->k,
                  r->precision_at_k, r->k, r->recall_at_k);
    sb_printf(b, "no prediction %lld\n", (long long)r->unpredicted);
    sb_printf(b, "unknown label %lld", (long long)r->unknown);
    for (size_t i = 0; i < e->unknown_names.n; i++)
        sb_printf(b, "%s%s (%lld)", i ? ", " : ": ",
                  kl_strtab_str(&e->unknown_names, i),
                  (long long)e->unknown_names.e[i].count);
    sb_printf(b, "\n\n");
}

static void text_classes(struct sbuf *b, const struct kl_eval_report *r,
                         const char *const *labels)
{
    sb_printf(b, "precision  recall      f1  support  predicted  label\n");
    for (int32_t i = 0; i < r->nlabels; i++) {
        const struct kl_eval_class *c = &r->cls[i];
        sb_printf(b, "   %.4f  %.4f  %.4f  %7lld  %9lld  %s\n", c->precision,
                  c->recall, c->f1, (long long)c->support,
                  (long long)c->predicted, label_name(labels, i));
    }
}

static void text_matrix(struct sbuf *b, const struct kl_eval_report *r,
                        const char *const *labels)
{
    size_t n = (size_t)r->nlabels + 1;
    int64_t max = (int64_t)n;
    int w;

    if (r->confusion == NULL || r->nlabels > TEXT_MATRIX_MAX) {
        sb_printf(b, "\n(confusion matrix left out for %d labels; see "
                  "the JSON output)\n", (int)r->nlabels);
        return;
    }
    for (size_t i = 0; i < n * n; i++)
        max = r->confusion[i] > max ? r->confusion[i] : max;
    w = digits(max) + 1;
    sb_printf(b, "\nconfusion matrix: row = true label, column = predicted "
              "label (by number); '-' = no prediction / a label the model "
              "lacks\n");
    sb_printf(b, "%*s", w + 1, "");
    for (size_t j = 0; j < n; j++) {
        if (j + 1 < n)
            sb_printf(b, "%*zu", w, j);
        else
            sb_printf(b, "%*s", w, "-");
    }
    sb_printf(b, "\n");
    for (size_t i = 0; i < n; i++) {
        sb_printf(b, "%*s", w + 1, "");
        for (size_t j = 0; j < n; j++)
            sb_printf(b, "%*lld", w, (long long)r->confusion[i * n + j]);
        if (i + 1 < n)
            sb_printf(b, "  %zu %s\n", i, label_name(labels, (int32_t)i));
        else
            sb_printf(b, "  - (labels the model lacks)\n");
    }
}

/* Contract in engine.h. */
int kl_eval_format_text(struct kl_eval *e, const char *const *labels,
                        char **out)
{
    struct kl_eval_report r;
    struct sbuf b = {0};
    int rc;

    if (out == NULL)
        return KL_EINVAL;
    *out = NULL;
    if ((rc = kl_eval_report(e, &r)) != KL_OK)
        return rc;
    text_summary(&b, e, &r);
    text_classes(&b, &r, labels);
    text_matrix(&b, &r, labels);
    if (b.err) {
        free(b.p);
        return b.err;
    }
    *out = b.p;
    return KL_OK;
}

/* A metric rounded to 6 significant digits (0.887 prints as 0.887). */
static double r6(double v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%.6g", v);
    return strtod(buf, NULL);
}

static int json_summary(cJSON *o, const struct kl_eval *e,
                        const struct kl_eval_report *r)
{
    cJSON *u;

    if (!cJSON_AddNumberToObject(o, "examples", (double)r->examples) ||
        !cJSON_AddNumberToObject(o, "correct", (double)r->correct) ||
        !cJSON_AddNumberToObject(o, "accuracy", r6(r->accuracy)) ||
        !cJSON_AddNumberToObject(o, "macro_precision", r6(r->macro_precision)) ||
        !cJSON_AddNumberToObject(o, "macro_recall", r6(r->macro_recall)) ||
        !cJSON_AddNumberToObject(o, "macro_f1", r6(r->macro_f1)) ||
        !cJSON_AddNumberToObject(o, "macro_classes", r->macro_classes) ||
        !cJSON_AddNumberToObject(o, "weighted_f1", r6(r->weighted_f1)) ||
        !cJSON_AddNumberToObject(o, "unpredicted", (double)r->unpredicted) ||
        !cJSON_AddNumberToObject(o, "unknown", (double)r->unknown))
        return KL_ENOMEM;
    if (r->k > 0 &&
        (!cJSON_AddNumberToObject(o, "k", r->k) ||
         !cJSON_AddNumberToObject(o, "precision_at_k", r6(r->precision_at_k)) ||
         !cJSON_AddNumberToObject(o, "recall_at_k", r6(r->recall_at_k))))
        return KL_ENOMEM;
    if ((u = cJSON_AddObjectToObject(o, "unknown_labels")) == NULL)
        return KL_ENOMEM;
    for (size_t i = 0; i < e->unknown_names.n; i++)
        if (!cJSON_AddNumberToObject(u, kl_strtab_str(&e->unknown_names, i),
                                     (double)e->unknown_names.e[i].count))
            return KL_ENOMEM;
    return KL_OK;
}

static int json_classes(cJSON *o, const struct kl_eval_report *r,
                        const char *const *labels)
{
    cJSON *a = cJSON_AddArrayToObject(o, "classes");

    if (a == NULL)
        return KL_ENOMEM;
    for (int32_t i = 0; i < r->nlabels; i++) {
        const struct kl_eval_class *c = &r->cls[i];
        cJSON *x = cJSON_CreateObject();
        if (x == NULL || !cJSON_AddItemToArray(a, x)) {
            cJSON_Delete(x);
            return KL_ENOMEM;
        }
        if (!cJSON_AddStringToObject(x, "label", label_name(labels, i)) ||
            !cJSON_AddNumberToObject(x, "precision", r6(c->precision)) ||
            !cJSON_AddNumberToObject(x, "recall", r6(c->recall)) ||
            !cJSON_AddNumberToObject(x, "f1", r6(c->f1)) ||
            !cJSON_AddNumberToObject(x, "support", (double)c->support) ||
            !cJSON_AddNumberToObject(x, "predicted", (double)c->predicted))
            return KL_ENOMEM;
    }
    return KL_OK;
}

/* "confusion": {"labels": [..., null], "matrix": [[...], ...]}: rows are
 * true labels, columns predicted ones; the last (null) label is "a label
 * the model lacks" as a row and "no prediction" as a column. */
static int json_matrix(cJSON *o, const struct kl_eval_report *r,
                       const char *const *labels)
{
    size_t n = (size_t)r->nlabels + 1;
    cJSON *c, *l, *m;

    if (r->confusion == NULL)
        return cJSON_AddNullToObject(o, "confusion") ? KL_OK : KL_ENOMEM;
    if ((c = cJSON_AddObjectToObject(o, "confusion")) == NULL ||
        (l = cJSON_AddArrayToObject(c, "labels")) == NULL ||
        (m = cJSON_AddArrayToObject(c, "matrix")) == NULL)
        return KL_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        cJSON *s = i + 1 < n ? cJSON_CreateString(label_name(labels, (int32_t)i))
                             : cJSON_CreateNull();
        cJSON *row = cJSON_CreateArray();
        if (s == NULL || !cJSON_AddItemToArray(l, s)) {
            cJSON_Delete(s);
            cJSON_Delete(row);
            return KL_ENOMEM;
        }
        if (row == NULL || !cJSON_AddItemToArray(m, row)) {
            cJSON_Delete(row);
            return KL_ENOMEM;
        }
        for (size_t j = 0; j < n; j++) {
            cJSON *v = cJSON_CreateNumber((double)r->confusion[i * n + j]);
            if (v == NULL || !cJSON_AddItemToArray(row, v)) {
                cJSON_Delete(v);
                return KL_ENOMEM;
            }
        }
    }
    return KL_OK;
}

/* Contract in engine.h. */
int kl_eval_format_json(struct kl_eval *e, const char *const *labels,
                        char **out)
{
    struct kl_eval_report r;
    cJSON *o = NULL;
    char *s = NULL;
    int rc;

    if (out == NULL)
        return KL_EINVAL;
    *out = NULL;
    if ((rc = kl_eval_report(e, &r)) != KL_OK)
        return rc;
    rc = KL_ENOMEM;
    if ((o = cJSON_CreateObject()) == NULL ||
        json_summary(o, e, &r) != KL_OK || json_classes(o, &r, labels) != KL_OK ||
        json_matrix(o, &r, labels) != KL_OK ||
        (s = cJSON_PrintUnformatted(o)) == NULL)
        goto out;
    if ((*out = strdup(s)) != NULL)
        rc = KL_OK;
out:
    cJSON_free(s);
    cJSON_Delete(o);
    return rc;
}
