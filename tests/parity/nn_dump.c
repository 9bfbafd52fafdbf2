/*
 * tests/parity/nn_dump.c: prints what a neural klabel model computes, for
 * the ONNX parity check (nn_onnx_check.py). Reads lines from stdin: texts
 * (featurized with the model's tokenizer and vocabulary), or with --ids
 * space-separated embedding-row ids (an empty line is a text without
 * tokens). All lines go through the engine as batches of up to --batch
 * (default: all at once, so lengths mix within a batch) and each gives
 * one JSON line {"ids": [..], "logits": [..], "probs": [..]}: the dense
 * layer's outputs and the probability of every label (label order),
 * from kl_model_predict_batch().
 *
 *   nn_dump MODEL [--ids] [--batch N] < lines > out.jsonl
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "klabel/engine.h"
#include "../../engine/nn_model.h"

struct line {
    struct kl_features f;
    int rc;
};

/* Parses "3 17 5" into f->ids. Returns 0 or -1. */
static int parse_ids(const char *s, struct kl_features *f)
{
    char *end;

    f->n = 0;
    for (;;) {
        long v;
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '\0' || *s == '\n')
            return 0;
        v = strtol(s, &end, 10);
        if (end == s)
            return -1;
        if (f->n == f->cap) {
            size_t nc = f->cap ? 2 * f->cap : 64;
            int32_t *q = realloc(f->ids, nc * sizeof *q);
            if (q == NULL)
                return -1;
            f->ids = q;
            f->cap = nc;
        }
        f->ids[f->n++] = (int32_t)v;
        s = end;
    }
}

/* One batch lines[0..n): logits and probabilities to stdout. */
static int run_batch(const struct kl_model *m, struct line *lines, size_t n,
                     struct kl_scratch *s)
{
    const struct kl_model_info *mi = kl_model_info(m);
    const struct kl_features **feats = calloc(n, sizeof *feats);
    struct kl_prediction *pred = calloc(n, sizeof *pred);
    const float *z;
    float *zc = NULL;
    int32_t nout;
    int rc = -1, k = mi->nlabels < KL_TOPK_MAX ? mi->nlabels : KL_TOPK_MAX;

    if (feats == NULL || pred == NULL)
        goto out;
    for (size_t i = 0; i < n; i++)
        feats[i] = &lines[i].f;
    if (kl_nn_model_logits(m, feats, n, s, &z, &nout) != KL_OK ||
        (zc = malloc(n * (size_t)nout * sizeof *zc)) == NULL)
        goto out;
    memcpy(zc, z, n * (size_t)nout * sizeof *zc);
    if (kl_model_predict_batch(m, feats, n, k, 0.0f, s, pred) != KL_OK)
        goto out;
    for (size_t i = 0; i < n; i++) {
        float p[KL_TOPK_MAX];
        printf("{\"ids\": [");
        for (size_t j = 0; j < lines[i].f.n; j++)
            printf("%s%d", j ? ", " : "", (int)lines[i].f.ids[j]);
        printf("], \"logits\": [");
        for (int32_t j = 0; j < nout; j++)
            printf("%s%.9g", j ? ", " : "", zc[i * (size_t)nout + (size_t)j]);
        printf("], \"probs\": [");
        for (int j = 0; j < KL_TOPK_MAX; j++)
            p[j] = 0.0f;
        for (int j = 0; j < pred[i].k; j++)
            p[pred[i].label[j]] = pred[i].prob[j];
        for (int j = 0; j < k; j++)
            printf("%s%.9g", j ? ", " : "", p[j]);
        printf("]}\n");
    }
    rc = 0;
out:
    free(feats);
    free(pred);
    free(zc);
    return rc;
}

int main(int argc, char **argv)
{
    struct kl_model *m = NULL;
    struct kl_scratch s;
    struct line *lines = NULL;
    size_t n = 0, cap = 0, batch = 0;
    char err[512], *buf = NULL;
    size_t bufcap = 0;
    ssize_t got;
    int ids = 0, rc = 1;

    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--ids") == 0)
            ids = 1;
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
            batch = (size_t)strtoul(argv[++i], NULL, 10);
    }
    if (argc < 2) {
        fprintf(stderr, "usage: nn_dump MODEL [--ids] [--batch N] < lines\n");
        return 2;
    }
    openblas_set_num_threads(1);
    kl_scratch_init(&s);
    if (kl_model_open(argv[1], &m, err, sizeof err) != KL_OK) {
        fprintf(stderr, "nn_dump: %s\n", err);
        goto out;
    }
    while ((got = getline(&buf, &bufcap, stdin)) >= 0) {
        size_t len = (size_t)got;
        if (len > 0 && buf[len - 1] == '\n')
            buf[--len] = '\0';
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 256;
            struct line *q = realloc(lines, nc * sizeof *q);
            if (q == NULL)
                goto out;
            lines = q;
            cap = nc;
        }
        kl_features_init(&lines[n].f);
        lines[n].rc = ids ? parse_ids(buf, &lines[n].f)
                          : kl_model_featurize(m, buf, len, &lines[n].f);
        if (lines[n].rc != KL_OK && lines[n].rc != KL_EEMPTY) {
            fprintf(stderr, "nn_dump: line %zu: error %d\n", n + 1,
                    lines[n].rc);
            n++;
            goto out;
        }
        n++;
    }
    if (batch == 0)
        batch = n ? n : 1;
    for (size_t b = 0; b < n; b += batch)
        if (run_batch(m, lines + b, n - b < batch ? n - b : batch, &s)) {
            fprintf(stderr, "nn_dump: the engine failed on batch %zu\n",
                    b / batch);
            goto out;
        }
    rc = 0;
out:
    for (size_t i = 0; i < n; i++)
        kl_features_fini(&lines[i].f);
    free(lines);
    free(buf);
    kl_scratch_fini(&s);
    kl_model_destroy(m);
    return rc;
}
