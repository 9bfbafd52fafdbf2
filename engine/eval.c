/*
 * engine/eval.c: the evaluation accumulator. Counts (true, predicted)
 * pairs into per-class counts and a confusion matrix, and precision@k /
 * recall@k as fastText's `test` does; kl_eval_report() turns the counts
 * into accuracy, per-class precision/recall/F1 and macro averages.
 * Rendering is in eval_format.c.
 */
#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"
#include "eval.h"

/* Contract in engine.h. */
int kl_eval_create(int32_t nlabels, struct kl_eval **out)
{
    struct kl_eval *e = NULL;
    size_t nl = (size_t)nlabels;
    int rc = KL_ENOMEM;

    if (out == NULL)
        return KL_EINVAL;
    *out = NULL;
    if (nlabels < 1 || nlabels > KL_LABELS_MAX)
        return KL_EINVAL;
    if ((e = calloc(1, sizeof *e)) == NULL)
        goto out;
    e->nl = nlabels;
    kl_strtab_init(&e->unknown_names);
    e->support = calloc(nl, sizeof *e->support);
    e->predicted = calloc(nl, sizeof *e->predicted);
    e->tp = calloc(nl, sizeof *e->tp);
    e->cls = calloc(nl, sizeof *e->cls);
    if (e->support == NULL || e->predicted == NULL || e->tp == NULL ||
        e->cls == NULL)
        goto out;
    if (nlabels <= KL_EVAL_MATRIX_MAX &&
        (e->confusion = calloc((nl + 1) * (nl + 1), sizeof *e->confusion)) ==
            NULL)
        goto out;
    *out = e;
    e = NULL;
    rc = KL_OK;
out:
    kl_eval_destroy(e);
    return rc;
}

/* Contract in engine.h. */
void kl_eval_destroy(struct kl_eval *e)
{
    if (e == NULL)
        return;
    free(e->support);
    free(e->predicted);
    free(e->tp);
    free(e->confusion);
    free(e->cls);
    kl_strtab_fini(&e->unknown_names);
    free(e);
}

/* Contract in engine.h. */
int kl_eval_add(struct kl_eval *e, int32_t truth, int32_t predicted)
{
    size_t row, col;

    if (e == NULL || truth < -1 || truth >= e->nl || predicted < -1 ||
        predicted >= e->nl)
        return KL_EINVAL;
    e->examples++;
    if (truth >= 0)
        e->support[truth]++;
    else
        e->unknown++;
    if (predicted >= 0)
        e->predicted[predicted]++;
    else
        e->unpredicted++;
    if (truth >= 0 && truth == predicted) {
        e->correct++;
        e->tp[truth]++;
    }
    if (e->confusion != NULL) {
        row = truth >= 0 ? (size_t)truth : (size_t)e->nl;
        col = predicted >= 0 ? (size_t)predicted : (size_t)e->nl;
        e->confusion[row * ((size_t)e->nl + 1) + col]++;
    }
    return KL_OK;
}

/* Contract in engine.h. */
int kl_eval_add_unknown(struct kl_eval *e, const char *name, size_t len,
                        int32_t predicted)
{
    int64_t id;

    if (e == NULL || (name == NULL && len > 0) || predicted < -1 ||
        predicted >= e->nl)
        return KL_EINVAL;
    if ((id = kl_strtab_add(&e->unknown_names, name ? name : "", len)) < 0)
        return (int)id;
    return kl_eval_add(e, -1, predicted);
}

/* Contract in engine.h. */
int kl_eval_add_topk(struct kl_eval *e, int k, const int32_t *truth,
                     size_t ntruth, const int32_t *pred, size_t npred)
{
    if (e == NULL || k < 1 || (ntruth > 0 && truth == NULL) ||
        (npred > 0 && pred == NULL))
        return KL_EINVAL;
    for (size_t i = 0; i < npred; i++)
        if (pred[i] < 0 || pred[i] >= e->nl)
            return KL_EINVAL;
    for (size_t i = 0; i < npred; i++) {
        size_t j = 0;
        while (j < ntruth && truth[j] != pred[i])
            j++;
        e->k_tp += j < ntruth;
    }
    if (k > e->k)
        e->k = k;
    e->k_examples++;
    e->k_true += (int64_t)ntruth;
    e->k_predicted += (int64_t)npred;
    return KL_OK;
}

static double ratio(int64_t a, int64_t b)
{
    return b > 0 ? (double)a / (double)b : 0.0;
}

/* Contract in engine.h. */
int kl_eval_report(struct kl_eval *e, struct kl_eval_report *r)
{
    double sp = 0, sr = 0, sf = 0, wf = 0;
    int64_t known = 0;
    int32_t used = 0;

    if (e == NULL || r == NULL)
        return KL_EINVAL;
    memset(r, 0, sizeof *r);
    for (int32_t i = 0; i < e->nl; i++) {
        struct kl_eval_class *c = &e->cls[i];
        c->support = e->support[i];
        c->predicted = e->predicted[i];
        c->tp = e->tp[i];
        c->precision = ratio(c->tp, c->predicted);
        c->recall = ratio(c->tp, c->support);
        c->f1 = c->precision + c->recall > 0
                    ? 2 * c->precision * c->recall /
                          (c->precision + c->recall)
                    : 0.0;
        if (c->support > 0 || c->predicted > 0) {
            used++;
            sp += c->precision;
            sr += c->recall;
            sf += c->f1;
        }
        wf += c->f1 * (double)c->support;
        known += c->support;
    }
    r->nlabels = e->nl;
    r->examples = e->examples;
    r->correct = e->correct;
    r->unknown = e->unknown;
    r->unpredicted = e->unpredicted;
    r->accuracy = ratio(e->correct, e->examples);
    r->macro_classes = used;
    r->macro_precision = used ? sp / used : 0.0;
    r->macro_recall = used ? sr / used : 0.0;
    r->macro_f1 = used ? sf / used : 0.0;
    r->weighted_f1 = known ? wf / (double)known : 0.0;
    r->k = e->k;
    r->k_examples = e->k_examples;
    r->k_true = e->k_true;
    r->k_predicted = e->k_predicted;
    r->k_tp = e->k_tp;
    r->precision_at_k = ratio(e->k_tp, e->k_predicted);
    r->recall_at_k = ratio(e->k_tp, e->k_true);
    r->cls = e->cls;
    r->confusion = e->confusion;
    return KL_OK;
}
