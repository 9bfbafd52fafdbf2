/*
 * tests/unit/test_eval.c: the evaluation accumulator (engine/eval.c) and
 * its text / JSON renderers (engine/eval_format.c) on confusion matrices
 * computed by hand: a class that is never predicted, a class that never
 * occurs, zero divisions, labels the model lacks, precision@k /
 * recall@k, and the matrix cut-off for very many labels.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <criterion/criterion.h>

#include "klabel/engine.h"

#define EPS 1e-9

static const char *const names[4] = {"sports", "tech", "health", "unused"};

/* 8 examples over classes 0..2 (class 3 never occurs): class 2 is never
 * predicted. Hand counts: support 3/3/2, predicted 4/4/0, tp 2/2/0. */
static struct kl_eval *fixture(void)
{
    static const int32_t pairs[8][2] = {{0, 0}, {0, 0}, {0, 1}, {1, 1},
                                        {1, 0}, {1, 1}, {2, 0}, {2, 1}};
    struct kl_eval *e = NULL;

    cr_assert_eq(kl_eval_create(4, &e), KL_OK);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(kl_eval_add(e, pairs[i][0], pairs[i][1]), KL_OK);
    return e;
}

Test(eval, hand_computed_metrics)
{
    struct kl_eval *e = fixture();
    struct kl_eval_report r;

    cr_assert_eq(kl_eval_report(e, &r), KL_OK);
    cr_expect_eq(r.examples, 8);
    cr_expect_eq(r.correct, 4);
    cr_expect_float_eq(r.accuracy, 0.5, EPS);
    /* class 0: P 2/4, R 2/3, F1 4/7; class 1 the same */
    cr_expect_float_eq(r.cls[0].precision, 0.5, EPS);
    cr_expect_float_eq(r.cls[0].recall, 2.0 / 3, EPS);
    cr_expect_float_eq(r.cls[0].f1, 4.0 / 7, EPS);
    cr_expect_float_eq(r.cls[1].f1, 4.0 / 7, EPS);
    cr_expect_eq(r.cls[0].support, 3);
    cr_expect_eq(r.cls[0].predicted, 4);
    cr_expect_eq(r.cls[0].tp, 2);
    /* class 2 never predicted: precision 0/0 -> 0, recall 0/2, F1 0 */
    cr_expect_eq(r.cls[2].predicted, 0);
    cr_expect_float_eq(r.cls[2].precision, 0.0, EPS);
    cr_expect_float_eq(r.cls[2].recall, 0.0, EPS);
    cr_expect_float_eq(r.cls[2].f1, 0.0, EPS);
    /* class 3 never occurs nor is predicted: left out of the averages */
    cr_expect_eq(r.macro_classes, 3);
    cr_expect_float_eq(r.macro_precision, 1.0 / 3, EPS);
    cr_expect_float_eq(r.macro_recall, 4.0 / 9, EPS);
    cr_expect_float_eq(r.macro_f1, 8.0 / 21, EPS);
    cr_expect_float_eq(r.weighted_f1, 3.0 / 7, EPS);
    cr_expect_eq(r.unknown, 0);
    cr_expect_eq(r.unpredicted, 0);
    cr_expect_eq(r.k, 0);
    kl_eval_destroy(e);
}

Test(eval, confusion_matrix_cells)
{
    struct kl_eval *e = fixture();
    struct kl_eval_report r;
    size_t n = 5; /* 4 labels + the unknown / no-prediction row & column */
    int64_t sum = 0;

    cr_assert_eq(kl_eval_add(e, 0, -1), KL_OK); /* nothing predicted */
    cr_assert_eq(kl_eval_report(e, &r), KL_OK);
    cr_assert_not_null(r.confusion);
    cr_expect_eq(r.confusion[0 * n + 0], 2);
    cr_expect_eq(r.confusion[0 * n + 1], 1);
    cr_expect_eq(r.confusion[1 * n + 0], 1);
    cr_expect_eq(r.confusion[1 * n + 1], 2);
    cr_expect_eq(r.confusion[2 * n + 0], 1);
    cr_expect_eq(r.confusion[2 * n + 1], 1);
    cr_expect_eq(r.confusion[2 * n + 2], 0);
    cr_expect_eq(r.confusion[0 * n + 4], 1);
    for (size_t i = 0; i < n * n; i++)
        sum += r.confusion[i];
    cr_expect_eq(sum, 9);
    cr_expect_eq(r.unpredicted, 1);
    cr_expect_float_eq(r.accuracy, 4.0 / 9, EPS);
    cr_expect_float_eq(r.cls[0].recall, 2.0 / 4, EPS);
    kl_eval_destroy(e);
}

Test(eval, unknown_labels_count_as_wrong)
{
    struct kl_eval *e = fixture();
    struct kl_eval_report r;
    char *js = NULL;
    cJSON *o, *u;

    cr_assert_eq(kl_eval_add_unknown(e, "zzz", 3, 1), KL_OK);
    cr_assert_eq(kl_eval_add_unknown(e, "zzz", 3, 0), KL_OK);
    cr_assert_eq(kl_eval_add_unknown(e, "qq", 2, -1), KL_OK);
    cr_assert_eq(kl_eval_report(e, &r), KL_OK);
    cr_expect_eq(r.examples, 11);
    cr_expect_eq(r.correct, 4);
    cr_expect_eq(r.unknown, 3);
    cr_expect_float_eq(r.accuracy, 4.0 / 11, EPS);
    /* wrong predictions of unknown-label examples lower precision */
    cr_expect_float_eq(r.cls[1].precision, 2.0 / 5, EPS);
    cr_expect_float_eq(r.cls[0].precision, 2.0 / 5, EPS);
    cr_expect_eq(r.confusion[4 * 5 + 1], 1);
    cr_expect_eq(r.confusion[4 * 5 + 4], 1);
    cr_assert_eq(kl_eval_format_json(e, names, &js), KL_OK);
    o = cJSON_Parse(js);
    cr_assert_not_null(o, "not JSON: %s", js);
    u = cJSON_GetObjectItem(o, "unknown_labels");
    cr_expect_eq(cJSON_GetObjectItem(u, "zzz")->valuedouble, 2);
    cr_expect_eq(cJSON_GetObjectItem(u, "qq")->valuedouble, 1);
    cr_expect_eq(cJSON_GetObjectItem(o, "unknown")->valuedouble, 3);
    cJSON_Delete(o);
    free(js);
    kl_eval_destroy(e);
}

Test(eval, precision_recall_at_k)
{
    struct kl_eval *e = NULL;
    struct kl_eval_report r;
    const int32_t t1[] = {0, 2}, p1[] = {2, 1}; /* 1 hit of 2 */
    const int32_t t2[] = {1}, p2[] = {1, 0};     /* 1 hit of 2 */
    const int32_t t3[] = {-1}, p3[] = {0};       /* unknown truth: no hit */

    cr_assert_eq(kl_eval_create(3, &e), KL_OK);
    cr_assert_eq(kl_eval_add_topk(e, 2, t1, 2, p1, 2), KL_OK);
    cr_assert_eq(kl_eval_add_topk(e, 2, t2, 1, p2, 2), KL_OK);
    cr_assert_eq(kl_eval_add_topk(e, 2, t3, 1, p3, 1), KL_OK);
    cr_assert_eq(kl_eval_report(e, &r), KL_OK);
    cr_expect_eq(r.k, 2);
    cr_expect_eq(r.k_tp, 2);
    cr_expect_eq(r.k_predicted, 5);
    cr_expect_eq(r.k_true, 4);
    cr_expect_float_eq(r.precision_at_k, 2.0 / 5, EPS);
    cr_expect_float_eq(r.recall_at_k, 2.0 / 4, EPS);
    cr_expect_eq(kl_eval_add_topk(e, 2, t1, 2, (const int32_t[]){3}, 1),
                 KL_EINVAL);
    kl_eval_destroy(e);
}

Test(eval, empty_accumulator_divides_by_nothing)
{
    struct kl_eval *e = NULL;
    struct kl_eval_report r;
    char *s = NULL;

    cr_assert_eq(kl_eval_create(2, &e), KL_OK);
    cr_assert_eq(kl_eval_report(e, &r), KL_OK);
    cr_expect_float_eq(r.accuracy, 0.0, EPS);
    cr_expect_float_eq(r.macro_f1, 0.0, EPS);
    cr_expect_float_eq(r.weighted_f1, 0.0, EPS);
    cr_expect_eq(r.macro_classes, 0);
    cr_expect(!isnan(r.precision_at_k));
    cr_assert_eq(kl_eval_format_text(e, names, &s), KL_OK);
    free(s);
    kl_eval_destroy(e);
}

Test(eval, bad_arguments)
{
    struct kl_eval *e = NULL;

    cr_expect_eq(kl_eval_create(0, &e), KL_EINVAL);
    cr_expect_null(e);
    cr_expect_eq(kl_eval_create(KL_LABELS_MAX + 1, &e), KL_EINVAL);
    cr_assert_eq(kl_eval_create(2, &e), KL_OK);
    cr_expect_eq(kl_eval_add(e, 2, 0), KL_EINVAL);
    cr_expect_eq(kl_eval_add(e, 0, 2), KL_EINVAL);
    cr_expect_eq(kl_eval_add(e, -2, 0), KL_EINVAL);
    cr_expect_eq(kl_eval_add(NULL, 0, 0), KL_EINVAL);
    cr_expect_eq(kl_eval_add_unknown(e, "x", 1, 5), KL_EINVAL);
    cr_expect_eq(kl_eval_add_topk(e, 0, NULL, 0, NULL, 0), KL_EINVAL);
    kl_eval_destroy(e);
    kl_eval_destroy(NULL);
}

Test(eval, text_report)
{
    struct kl_eval *e = fixture();
    char *s = NULL;

    cr_assert_eq(kl_eval_format_text(e, names, &s), KL_OK);
    cr_expect_not_null(strstr(s, "accuracy      0.5000  (4 of 8)"), "%s", s);
    cr_expect_not_null(strstr(s, "macro-F1      0.3810"), "%s", s);
    cr_expect_not_null(strstr(s, "0.5000  0.6667  0.5714        3          4  sports"), "%s", s);
    cr_expect_not_null(strstr(s, "0.0000  0.0000  0.0000        2          0  health"), "%s", s);
    cr_expect_not_null(strstr(s, "confusion matrix"), "%s", s);
    cr_expect_not_null(strstr(s, " 1 1 0 0 0  2 health\n"), "%s", s);
    free(s);
    kl_eval_destroy(e);
}

Test(eval, json_report)
{
    struct kl_eval *e = fixture();
    char *js = NULL;
    cJSON *o, *cls, *c2, *conf, *m;

    cr_assert_eq(kl_eval_format_json(e, names, &js), KL_OK);
    o = cJSON_Parse(js);
    cr_assert_not_null(o, "not JSON: %s", js);
    cr_expect_float_eq(cJSON_GetObjectItem(o, "accuracy")->valuedouble, 0.5, EPS);
    cr_expect_float_eq(cJSON_GetObjectItem(o, "macro_f1")->valuedouble, 0.380952, 1e-6);
    cls = cJSON_GetObjectItem(o, "classes");
    cr_assert_eq(cJSON_GetArraySize(cls), 4);
    c2 = cJSON_GetArrayItem(cls, 2);
    cr_expect_str_eq(cJSON_GetObjectItem(c2, "label")->valuestring, "health");
    cr_expect_eq(cJSON_GetObjectItem(c2, "support")->valuedouble, 2);
    cr_expect_eq(cJSON_GetObjectItem(c2, "precision")->valuedouble, 0);
    conf = cJSON_GetObjectItem(o, "confusion");
    m = cJSON_GetObjectItem(conf, "matrix");
    cr_assert_eq(cJSON_GetArraySize(m), 5);
    cr_expect_eq(cJSON_GetArrayItem(cJSON_GetArrayItem(m, 2), 1)->valuedouble, 1);
    cr_expect(cJSON_IsNull(cJSON_GetArrayItem(cJSON_GetObjectItem(conf, "labels"), 4)));
    cr_expect_null(cJSON_GetObjectItem(o, "k")); /* no top-k counted */
    cJSON_Delete(o);
    free(js);
    kl_eval_destroy(e);
}

Test(eval, no_matrix_past_the_limit)
{
    struct kl_eval *e = NULL;
    struct kl_eval_report r;
    char *js = NULL;
    cJSON *o;

    cr_assert_eq(kl_eval_create(KL_EVAL_MATRIX_MAX + 1, &e), KL_OK);
    cr_assert_eq(kl_eval_add(e, KL_EVAL_MATRIX_MAX, KL_EVAL_MATRIX_MAX), KL_OK);
    cr_assert_eq(kl_eval_report(e, &r), KL_OK);
    cr_expect_null(r.confusion);
    cr_expect_float_eq(r.accuracy, 1.0, EPS);
    cr_assert_eq(kl_eval_format_json(e, NULL, &js), KL_OK);
    o = cJSON_Parse(js);
    cr_assert_not_null(o);
    cr_expect(cJSON_IsNull(cJSON_GetObjectItem(o, "confusion")));
    cJSON_Delete(o);
    free(js);
    kl_eval_destroy(e);
}

/* ------------------------------------------------- labeled lines */

Test(example, tab_and_fasttext_lines)
{
    struct kl_example ex;
    const char *l1 = "sports\tgoal in the  last minute\r";
    const char *l2 = "  __label__a some __label__bb text ";

    kl_example_init(&ex);
    cr_assert_eq(kl_example_parse(l1, strlen(l1), &ex), KL_OK);
    cr_assert_eq(ex.nlabels, 1);
    cr_expect_eq(ex.label_len[0], 6);
    cr_expect_eq(strncmp(l1 + ex.label_off[0], "sports", 6), 0);
    cr_expect_str_eq(ex.text, "goal in the  last minute");
    cr_assert_eq(kl_example_parse(l2, strlen(l2), &ex), KL_OK);
    cr_assert_eq(ex.nlabels, 2);
    cr_expect_eq(strncmp(l2 + ex.label_off[0], "a", ex.label_len[0]), 0);
    cr_expect_eq(ex.label_len[1], 2);
    cr_expect_eq(strncmp(l2 + ex.label_off[1], "bb", 2), 0);
    cr_expect_str_eq(ex.text, "some text");
    cr_expect_eq(ex.text_len, 9);
    cr_expect_eq(kl_example_parse("   ", 3, &ex), KL_EEMPTY);
    cr_expect_eq(kl_example_parse("no label", 8, &ex), KL_EFORMAT);
    cr_expect_eq(kl_example_parse("\ttext", 5, &ex), KL_EFORMAT);
    cr_expect_eq(kl_example_parse("__label__ x", 11, &ex), KL_EFORMAT);
    kl_example_fini(&ex);
}
