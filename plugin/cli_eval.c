/*
 * `klabel eval`: scores a model on a labeled test file ("label<TAB>text"
 * or fastText "__label__x text" lines): accuracy, macro-F1, per-class
 * precision/recall/F1, the confusion matrix (engine/eval.c), and with
 * -k N > 1 precision@N / recall@N as fastText's `test` reports them. Text
 * for people by default, one JSON object with --json.
 *
 * A line's true label for accuracy and the confusion matrix is its first
 * label the model knows, or the predicted one when the line has several
 * and the prediction is among them (so accuracy is fastText's P@1). Labels
 * the model does not know count as wrong and are listed; a text without
 * features counts as "no prediction". Malformed lines are reported with
 * their number and make the exit code 1.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "klabel/engine.h"

#define EVAL_BATCH 256

struct eval_ctx {
    const struct kl_model *m;
    const struct kl_model_info *mi;
    struct kl_eval *acc;
    int k;
    float threshold;
    char *line[EVAL_BATCH];              /* getline buffers, reused */
    size_t line_cap[EVAL_BATCH];
    long long lineno[EVAL_BATCH];
    struct kl_example ex[EVAL_BATCH];
    struct kl_features feat[EVAL_BATCH];
    const struct kl_features *good[EVAL_BATCH];
    struct kl_prediction pred[EVAL_BATCH];
    int has_feat[EVAL_BATCH];
    int32_t *truth;                      /* (truth_cap) scratch */
    size_t truth_cap;
    struct kl_scratch scratch;
    unsigned long long bad, lines;
};

static void eval_usage(FILE *out)
{
    fprintf(out,
            "Usage: klabel eval -m MODEL -i TEST [-k N] [--threshold F] "
            "[--json]\n\n"
            "  -m, --model MODEL   model file\n"
            "  -i, --input TEST    labeled lines: label<TAB>text or "
            "__label__x text\n"
            "                      ('-' = standard input)\n"
            "  -k N                also precision@N / recall@N over the N best "
            "labels\n"
            "                      (default 1, max %d)\n"
            "      --threshold F   leave out labels below this probability\n"
            "      --json          one JSON object instead of text\n",
            KL_TOPK_MAX);
}

/* The true labels of item i as model indices (-1 = unknown) in
 * pc->truth[0..n). */
static int map_truth(struct eval_ctx *pc, size_t i, size_t *n)
{
    const struct kl_example *ex = &pc->ex[i];

    if (ex->nlabels > pc->truth_cap) {
        int32_t *t = realloc(pc->truth, ex->nlabels * sizeof *t);
        if (t == NULL)
            return KL_ENOMEM;
        pc->truth = t;
        pc->truth_cap = ex->nlabels;
    }
    for (size_t j = 0; j < ex->nlabels; j++)
        pc->truth[j] = kl_model_find_label(pc->m,
                                           pc->line[i] + ex->label_off[j],
                                           ex->label_len[j]);
    *n = ex->nlabels;
    return KL_OK;
}

/* Counts item i (prediction p, NULL when it had no features). */
static int count_one(struct eval_ctx *pc, size_t i,
                     const struct kl_prediction *p)
{
    const struct kl_example *ex = &pc->ex[i];
    int32_t pred = p && p->k > 0 ? p->label[0] : -1, truth = -1;
    int32_t top[KL_TOPK_MAX];
    size_t nt, first = 0;
    int rc, np = p ? p->k : 0;

    if ((rc = map_truth(pc, i, &nt)) != KL_OK)
        return rc;
    while (first < nt && pc->truth[first] < 0)
        first++;
    for (size_t j = 0; j < nt; j++)
        if (pred >= 0 && pc->truth[j] == pred)
            truth = pred;
    if (truth < 0 && first < nt)
        truth = pc->truth[first];
    if (truth >= 0)
        rc = kl_eval_add(pc->acc, truth, pred);
    else
        rc = kl_eval_add_unknown(pc->acc, pc->line[i] + ex->label_off[0],
                                 ex->label_len[0], pred);
    for (int j = 0; j < np; j++)
        top[j] = p->label[j];
    if (rc == KL_OK)
        rc = kl_eval_add_topk(pc->acc, pc->k, pc->truth, nt, top, (size_t)np);
    return rc;
}

/* Parses, featurizes, predicts and counts lines [0, n) of the batch. */
static int eval_batch(struct eval_ctx *pc, size_t n, char *err, size_t errsz)
{
    size_t ngood = 0, g = 0;
    int rc;

    for (size_t i = 0; i < n; i++) {
        pc->has_feat[i] = 0;
        rc = kl_model_featurize(pc->m, pc->ex[i].text, pc->ex[i].text_len,
                                &pc->feat[i]);
        if (rc == KL_OK) {
            pc->has_feat[i] = 1;
            pc->good[ngood++] = &pc->feat[i];
        } else if (rc != KL_EEMPTY) {
            snprintf(err, errsz, "line %lld: %s", pc->lineno[i],
                     kl_strerror(rc));
            return rc;
        }
    }
    if (ngood > 0 &&
        (rc = kl_model_predict_batch(pc->m, pc->good, ngood, pc->k,
                                     pc->threshold, &pc->scratch,
                                     pc->pred)) != KL_OK) {
        snprintf(err, errsz, "predict: %s", kl_strerror(rc));
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        rc = count_one(pc, i, pc->has_feat[i] ? &pc->pred[g++] : NULL);
        if (rc != KL_OK) {
            snprintf(err, errsz, "line %lld: %s", pc->lineno[i],
                     kl_strerror(rc));
            return rc;
        }
    }
    return KL_OK;
}

/* Reads in to the end, EVAL_BATCH labeled lines at a time. */
static int eval_stream(struct eval_ctx *pc, FILE *in, char *err,
                       size_t errsz)
{
    size_t n = 0;
    ssize_t got;
    int rc = KL_OK;

    for (;;) {
        got = getline(&pc->line[n], &pc->line_cap[n], in);
        if (got < 0)
            break;
        pc->lines++;
        if (got > 0 && pc->line[n][got - 1] == '\n')
            got--;
        if (kl_utf8_validate(pc->line[n], (size_t)got, NULL) != KL_OK) {
            fprintf(stderr, "klabel eval: line %llu: invalid UTF-8\n",
                    pc->lines);
            pc->bad++;
            continue;
        }
        rc = kl_example_parse(pc->line[n], (size_t)got, &pc->ex[n]);
        if (rc == KL_EEMPTY)
            continue;
        if (rc != KL_OK) {
            fprintf(stderr, "klabel eval: line %llu: %s\n", pc->lines,
                    rc == KL_EFORMAT ? "no label (expected label<TAB>text "
                                       "or __label__x text)"
                                     : kl_strerror(rc));
            pc->bad++;
            if (rc == KL_ENOMEM)
                return rc;
            continue;
        }
        pc->lineno[n++] = (long long)pc->lines;
        if (n == EVAL_BATCH) {
            if ((rc = eval_batch(pc, n, err, errsz)) != KL_OK)
                return rc;
            n = 0;
        }
    }
    if (ferror(in)) {
        snprintf(err, errsz, "read error");
        return KL_EIO;
    }
    return n > 0 ? eval_batch(pc, n, err, errsz) : KL_OK;
}

/* Prints the report: text, or JSON wrapped with the model and the input. */
static int eval_print(struct eval_ctx *pc, const char *input, int json)
{
    struct kl_buf b;
    char *s = NULL;
    int rc;

    if (!json) {
        if ((rc = kl_eval_format_text(pc->acc, pc->mi->labels, &s)) != KL_OK)
            return rc;
        printf("model         %s (version %s)\n%s", pc->mi->id,
               pc->mi->version, s);
        free(s);
        return KL_OK;
    }
    if ((rc = kl_eval_format_json(pc->acc, pc->mi->labels, &s)) != KL_OK)
        return rc;
    kl_buf_init(&b);
    rc = kl_buf_append(&b, "{\"model\":{\"id\":", 15);
    if (!rc) rc = kl_buf_json_str(&b, pc->mi->id, strlen(pc->mi->id));
    if (!rc) rc = kl_buf_append(&b, ",\"version\":", 11);
    if (!rc) rc = kl_buf_json_str(&b, pc->mi->version, strlen(pc->mi->version));
    if (!rc) rc = kl_buf_append(&b, "},\"input\":", 10);
    if (!rc) rc = kl_buf_json_str(&b, input, strlen(input));
    if (!rc) rc = kl_buf_printf(&b, ",\"threshold\":%g,\"bad_lines\":%llu,",
                                (double)pc->threshold, pc->bad);
    if (!rc) rc = kl_buf_append(&b, s + 1, strlen(s + 1)); /* past its '{' */
    if (!rc)
        printf("%s\n", b.data);
    kl_buf_fini(&b);
    free(s);
    return rc;
}

int kl_cli_eval(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"input", required_argument, NULL, 'i'},
        {"threshold", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct eval_ctx *pc = calloc(1, sizeof *pc);
    struct kl_model *m = NULL;
    struct kl_cli_model_args a = {.k = 1};
    FILE *in = NULL;
    char err[1024] = "";
    int c, json = 0, rc = KL_EXIT_FAIL;

    if (!pc) {
        fprintf(stderr, "klabel eval: out of memory\n");
        return KL_EXIT_FAIL;
    }
    for (size_t i = 0; i < EVAL_BATCH; i++) {
        kl_example_init(&pc->ex[i]);
        kl_features_init(&pc->feat[i]);
    }
    kl_scratch_init(&pc->scratch);
    optind = 0;
    while ((c = getopt_long(argc, argv, "+m:i:k:h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'h': eval_usage(stdout); rc = KL_EXIT_OK; goto out;
        default:
            if (kl_cli_model_arg(&a, c, optarg))
                goto usage;
        }
    }
    if (optind < argc || !a.model || !a.input)
        goto usage;
    if (kl_cli_open_model_input("eval", &a, &m, &in))
        goto out;
    pc->m = m;
    pc->mi = kl_model_info(m);
    pc->k = (int)a.k;
    pc->threshold = (float)a.threshold;
    if (kl_eval_create(pc->mi->nlabels, &pc->acc) != KL_OK) {
        fprintf(stderr, "klabel eval: out of memory\n");
        goto out;
    }
    if (eval_stream(pc, in, err, sizeof err) != KL_OK) {
        fprintf(stderr, "klabel eval: %s: %s\n", a.input, err);
        goto out;
    }
    if (eval_print(pc, a.input, json) != KL_OK || fflush(stdout) == EOF) {
        fprintf(stderr, "klabel eval: cannot write the report\n");
        goto out;
    }
    if (pc->bad) {
        fprintf(stderr, "klabel eval: %llu bad line(s) left out\n", pc->bad);
        goto out;
    }
    rc = KL_EXIT_OK;
    goto out;
usage:
    if (optind < argc)
        fprintf(stderr, "klabel eval: unexpected argument '%s'\n",
                argv[optind]);
    else if ((!a.model || !a.input) && c == -1)
        fprintf(stderr, "klabel eval: -m MODEL and -i TEST are required\n");
    else
        fprintf(stderr, "klabel eval: bad option or value\n");
    eval_usage(stderr);
    rc = KL_EXIT_USAGE;
out:
    if (in && in != stdin)
        fclose(in);
    for (size_t i = 0; i < EVAL_BATCH; i++) {
        kl_example_fini(&pc->ex[i]);
        kl_features_fini(&pc->feat[i]);
        free(pc->line[i]);
    }
    free(pc->truth);
    kl_scratch_fini(&pc->scratch);
    kl_eval_destroy(pc->acc);
    kl_model_destroy(m);
    free(pc);
    return rc;
}
