/*
 * tests/bench/bench_explain.c: the cost of explanations per event. Replays
 * the texts of a labeled file (label<TAB>text) in batches of 256 on one
 * thread and times, per event, (a) featurize + kl_model_predict_batch as
 * the stage does it, and (b) the same with feature origins recorded and
 * kl_model_explain_batch() (top N tokens) on each batch, best of R rounds.
 *
 * Usage: bench_explain MODEL FILE [rounds=5] [top=5]
 * Prints one JSON object: microseconds per event for both, their ratio.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "klabel/engine.h"

#define BATCH 256

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Texts of path (after the first tab of each line), owned by the caller. */
static char **read_texts(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "r");
    char *line = NULL, **t = NULL;
    size_t cap = 0, tcap = 0;
    ssize_t got;

    *n = 0;
    if (fp == NULL)
        return NULL;
    while ((got = getline(&line, &cap, fp)) > 0) {
        char *tab = strchr(line, '\t');
        if (line[got - 1] == '\n')
            line[got - 1] = '\0';
        if (*n == tcap) {
            tcap = tcap ? tcap * 2 : 1024;
            t = realloc(t, tcap * sizeof *t);
        }
        t[(*n)++] = strdup(tab ? tab + 1 : line);
    }
    free(line);
    fclose(fp);
    return t;
}

/* One pass over the texts; returns seconds. explain: top N (0 = off). */
static double pass(const struct kl_model *m, char **texts, size_t n,
                   size_t top, struct kl_features *f,
                   struct kl_explanation *x, struct kl_scratch *s,
                   double *checksum)
{
    const struct kl_features *fp[BATCH];
    struct kl_prediction pred[BATCH];
    double t0 = now_s();

    for (size_t b = 0; b < n; b += BATCH) {
        size_t k = n - b < BATCH ? n - b : BATCH, g = 0;
        for (size_t i = 0; i < k; i++) {
            f[i].want_origin = top > 0;
            if (kl_model_featurize(m, texts[b + i], strlen(texts[b + i]),
                                   &f[i]) == KL_OK)
                fp[g++] = &f[i];
        }
        if (kl_model_predict_batch(m, fp, g, 1, 0.0f, s, pred) != KL_OK)
            exit(1);
        if (top > 0 &&
            kl_model_explain_batch(m, fp, g, pred, s, top, x) != KL_OK)
            exit(1);
        for (size_t i = 0; i < g; i++)
            *checksum += pred[i].prob[0] + (top ? x[i].logit : 0.0f);
    }
    return now_s() - t0;
}

int main(int argc, char **argv)
{
    struct kl_features f[BATCH];
    struct kl_explanation x[BATCH];
    struct kl_scratch s;
    struct kl_model *m = NULL;
    char err[512], **texts;
    size_t n, top = argc > 4 ? (size_t)atoi(argv[4]) : 5;
    int rounds = argc > 3 ? atoi(argv[3]) : 5;
    double best_p = 1e9, best_x = 1e9, sum = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL FILE [rounds] [top]\n", argv[0]);
        return 2;
    }
    openblas_set_num_threads(1);
    if (kl_model_open(argv[1], &m, err, sizeof err) != KL_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if ((texts = read_texts(argv[2], &n)) == NULL || n == 0) {
        fprintf(stderr, "%s: no lines\n", argv[2]);
        return 1;
    }
    kl_scratch_init(&s);
    for (size_t i = 0; i < BATCH; i++) {
        kl_features_init(&f[i]);
        kl_explanation_init(&x[i]);
    }
    pass(m, texts, n, top, f, x, &s, &sum); /* warm-up */
    for (int r = 0; r < rounds; r++) {
        double a = pass(m, texts, n, 0, f, x, &s, &sum);
        double b = pass(m, texts, n, top, f, x, &s, &sum);
        best_p = a < best_p ? a : best_p;
        best_x = b < best_x ? b : best_x;
    }
    printf("{\"events\":%zu,\"batch\":%d,\"threads\":1,\"top\":%zu,"
           "\"rounds\":%d,\"predict_us_per_event\":%.3f,"
           "\"predict_explain_us_per_event\":%.3f,\"explain_extra_us\":%.3f,"
           "\"ratio\":%.3f,\"checksum\":%.3f}\n",
           n, BATCH, top, rounds, 1e6 * best_p / (double)n,
           1e6 * best_x / (double)n, 1e6 * (best_x - best_p) / (double)n,
           best_x / best_p, sum);
    for (size_t i = 0; i < BATCH; i++) {
        kl_features_fini(&f[i]);
        kl_explanation_fini(&x[i]);
    }
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
    kl_scratch_fini(&s);
    kl_model_destroy(m);
    return 0;
}
