/*
 * klabel engine: labeled lines, evaluation (accuracy, F1, confusion matrix)
 * and explanations (per-token contributions to a label).
 * Part of the engine API; include "klabel/engine.h", which includes this.
 */
#ifndef KLABEL_ENGINE_EVAL_H
#define KLABEL_ENGINE_EVAL_H

#include "klabel/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --------------------------------------------------------- labeled lines */

/* One line of a labeled file split into its labels and its text. The line
 * is "label<TAB>text", or fastText's format where every token that starts
 * with "__label__" (anywhere in the line) is a label and the other tokens
 * are the text. Caller-owned, reusable (kl_example_init/fini). */
struct kl_example {
    size_t nlabels;
    uint32_t *label_off;  /* (label_cap) label i is line[label_off[i] ..) */
    uint32_t *label_len;  /* (label_cap) its length, "__label__" removed */
    size_t label_cap;
    char *text;           /* (text_cap) the text, NUL-terminated, owned;
                             fastText lines: the non-label tokens joined by
                             single spaces */
    size_t text_len, text_cap;
};

void kl_example_init(struct kl_example *ex);
void kl_example_fini(struct kl_example *ex);

/* Splits line[0..n) (without its '\n'; a trailing '\r' is dropped) into
 * ex. Label positions point into line, which must outlive their use.
 * Returns 0, KL_EEMPTY (a blank line: ex->nlabels == 0), KL_EFORMAT (no
 * label, or an empty one), KL_ERANGE (n > KL_TEXT_MAX) or KL_ENOMEM. */
int kl_example_parse(const char *line, size_t n, struct kl_example *ex);

/* Index of the model label name[0..len) (without "__label__"), or -1. */
int32_t kl_model_find_label(const struct kl_model *m, const char *name,
                            size_t len);

/* ------------------------------------------------------------ evaluation */

struct kl_eval; /* opaque: a confusion-matrix accumulator */

/* Up to this many labels the accumulator keeps the full confusion matrix;
 * past it, per-class counts only (kl_eval_report's confusion is NULL). */
#define KL_EVAL_MATRIX_MAX 1024

/* A new accumulator for a model of nlabels labels (1..KL_LABELS_MAX).
 * Returns 0, KL_EINVAL or KL_ENOMEM; on success *out is caller-owned:
 * free with kl_eval_destroy(). */
int kl_eval_create(int32_t nlabels, struct kl_eval **out);

/* Frees e (NULL is fine). */
void kl_eval_destroy(struct kl_eval *e);

/* Counts one example: truth is its true label's index, or -1 when the
 * model does not know the label (counted as a wrong prediction; name it
 * with kl_eval_add_unknown() instead to have it reported); predicted is the
 * predicted label's index, or -1 when nothing was predicted (threshold, or
 * a text without features; counted as wrong). Returns 0 or KL_EINVAL (an
 * index out of range). */
int kl_eval_add(struct kl_eval *e, int32_t truth, int32_t predicted);

/* kl_eval_add(e, -1, predicted) that also counts the unknown label's name
 * name[0..len) for the report. Returns 0, KL_EINVAL or KL_ENOMEM. */
int kl_eval_add_unknown(struct kl_eval *e, const char *name, size_t len,
                        int32_t predicted);

/* Counts one example for precision@k / recall@k as fastText's `test`
 * computes them: truth[0..ntruth) are its true labels (-1 for labels the
 * model does not know: they are never matched), pred[0..npred) its
 * predicted labels (at most k, above the threshold). True positives are
 * predicted labels among the true ones; precision@k = TP / predicted
 * labels, recall@k = TP / true labels. Returns 0 or KL_EINVAL. */
int kl_eval_add_topk(struct kl_eval *e, int k, const int32_t *truth,
                     size_t ntruth, const int32_t *pred, size_t npred);

struct kl_eval_class {
    int64_t support;    /* examples whose true label is this class */
    int64_t predicted;  /* examples predicted as this class */
    int64_t tp;         /* both */
    double precision;   /* tp / predicted; 0 when predicted == 0 */
    double recall;      /* tp / support; 0 when support == 0 */
    double f1;          /* 2PR / (P + R); 0 when P + R == 0 */
};

/* The metrics of everything counted so far. Macro averages run over the
 * classes that occur in the truth or in the predictions (as scikit-learn
 * does by default); a class with a zero denominator counts as 0. */
struct kl_eval_report {
    int32_t nlabels;
    int64_t examples;      /* kl_eval_add / kl_eval_add_unknown calls */
    int64_t correct;       /* predicted == truth */
    int64_t unknown;       /* examples whose true label the model lacks */
    int64_t unpredicted;   /* examples with no predicted label */
    double accuracy;       /* correct / examples (0 when none) */
    double macro_precision, macro_recall, macro_f1;
    double weighted_f1;    /* per-class F1 weighted by support */
    int32_t macro_classes; /* classes the macro averages ran over */
    int k;                 /* largest k given to kl_eval_add_topk (0 = none) */
    int64_t k_examples, k_true, k_predicted, k_tp;
    double precision_at_k, recall_at_k;
    const struct kl_eval_class *cls; /* (nlabels) borrowed from e */
    /* (nlabels + 1, nlabels + 1) row-major, row = true label, column =
     * predicted label; row nlabels = labels the model lacks, column
     * nlabels = no prediction. Borrowed from e; NULL past
     * KL_EVAL_MATRIX_MAX labels. */
    const int64_t *confusion;
};

/* Fills r from e. Borrowed pointers in r stay valid until the next
 * kl_eval_add* or kl_eval_destroy() on e. Returns 0 or KL_EINVAL. */
int kl_eval_report(struct kl_eval *e, struct kl_eval_report *r);

/* The report as text (summary, per-class table, and the confusion matrix
 * for up to 40 labels) or as one JSON object (summary, "classes",
 * "unknown_labels", "confusion" with its labels), with label names from
 * labels (nlabels of them, e.g. kl_model_info()->labels). On success *out
 * is a NUL-terminated string the caller frees with free(). Returns 0,
 * KL_EINVAL or KL_ENOMEM. */
int kl_eval_format_text(struct kl_eval *e, const char *const *labels,
                        char **out);
int kl_eval_format_json(struct kl_eval *e, const char *const *labels,
                        char **out);

/* ---------------------------------------------------------- explanations */

/* One explained token (or word n-gram) and its share of a label's logit. */
struct kl_contrib {
    uint32_t off, len; /* its name: names[off .. off + len), the token as
                          the tokenizer gave it, or "tok1 tok2" for an
                          n-gram (NUL-terminated) */
    float weight;      /* its contribution to the label's logit */
};

/* Why a text got a label. Caller-owned, reusable
 * (kl_explanation_init/fini). */
struct kl_explanation {
    int32_t label;           /* the explained label; -1 for none */
    float logit;             /* w_label . hidden: the sum of all
                                contributions (fastText has no bias) */
    float rest;              /* sum of the contributions not in items */
    size_t n;                /* items filled, largest weight first */
    struct kl_contrib *items; /* (cap) */
    size_t cap;
    char *names;             /* (names_cap) item names */
    size_t names_len, names_cap;
    void *groups;            /* private: (groups_cap) per-group scratch */
    size_t groups_cap;
};

void kl_explanation_init(struct kl_explanation *x);
void kl_explanation_fini(struct kl_explanation *x);

/* Explains label for f (linear "fasttext" architecture, softmax or
 * one-vs-all loss): the label's logit is w_label . mean(rows) = sum over
 * features j of (w_label . row_j) / n, exactly; the terms are grouped by
 * what produced them (a word with its char n-grams; a word n-gram as
 * "tok1 tok2"), groups of the same name (a word seen twice) are merged,
 * and the top groups by weight (all when top == 0) go into x, largest
 * first (equal weights in an unspecified but fixed order). f must come from
 * kl_model_featurize() with f->want_origin set. Returns 0, KL_EINVAL (no
 * origin, label out of range, a feature id out of range) or KL_ENOMEM;
 * f->n == 0 gives x->n == 0. */
int kl_model_explain(const struct kl_model *m, const struct kl_features *f,
                     int32_t label, size_t top, struct kl_explanation *x);

/* kl_model_explain() for a batch just predicted: row i explains
 * pred[i].label[0] (x[i].label = -1 and x[i].n = 0 when pred[i].k == 0),
 * and takes its logit from the hidden vectors that
 * kl_model_predict_batch(m, feats, n, ..., s, pred) left in s. Same
 * returns. */
int kl_model_explain_batch(const struct kl_model *m,
                           const struct kl_features *const *feats, size_t n,
                           const struct kl_prediction *pred,
                           const struct kl_scratch *s, size_t top,
                           struct kl_explanation *x);

#ifdef __cplusplus
}
#endif

#endif /* KLABEL_ENGINE_EVAL_H */
