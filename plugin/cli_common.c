/*
 * Shared pieces of the `klabel` commands: the top-level usage text,
 * strict number parsing for options, the default model id, and the model
 * and input options of `eval` and `predict`.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "klabel/engine.h"
#include "klabel/version.h"

void kl_cli_usage(FILE *out)
{
    fprintf(out,
        "klabel %s - label text events in a Kafka stream\n"
        "\n"
        "Usage:\n"
        "  klabel run -c FILE [-X key=value ...]   run the stage (see `klabel run --help`)\n"
        "  klabel config --markdown                print docs/configuration.md\n"
        "  klabel train -i FILE -o MODEL [options] train a model (see `klabel train --help`)\n"
        "  klabel predict -m MODEL [-i FILE] [-k N] [--threshold F] [--json]\n"
        "                                          label lines of text or JSON events\n"
        "  klabel eval -m MODEL -i TEST [--json]   accuracy, macro-F1, per-class scores and\n"
        "                                          confusion matrix on a labeled file\n"
        "  klabel inspect MODEL                    print a model's metadata and tensors\n"
        "  klabel import IN.bin|IN.ftz -o MODEL    convert a fastText model (see\n"
        "                                          `klabel import --help`)\n"
        "  klabel quantize IN -o OUT [--pq] [--cutoff N]\n"
        "                                          int8 / product-quantized embeddings\n"
        "  klabel tokenize [-m MODEL | --segmenter DICT ...] [--raw] [--json]\n"
        "                                          print the tokens of lines of text\n"
        "  klabel demo [--data TSV] [--events N]   train, then stream N events through an\n"
        "                                          in-process mock Kafka cluster\n"
        "  klabel version                          print the version\n"
        "  klabel help                             print this text\n",
        KL_VERSION);
}

int kl_cli_parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int kl_cli_parse_double(const char *s, double *out)
{
    char *end;
    double v;

    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* Contract in cli.h. */
const char *kl_cli_default_id(const char *path, char *buf, size_t n)
{
    const char *base = strrchr(path, '/');
    char *dot;

    snprintf(buf, n, "%s", base ? base + 1 : path);
    dot = strrchr(buf, '.');
    if (dot && dot != buf)
        *dot = '\0';
    return buf;
}

/* Contract in cli.h. */
int kl_cli_model_arg(struct kl_cli_model_args *a, int c, const char *arg)
{
    switch (c) {
    case 'm': a->model = arg; return 0;
    case 'i': a->input = arg; return 0;
    case 'k': return kl_cli_parse_long(arg, 1, KL_TOPK_MAX, &a->k);
    case 't':
        if (kl_cli_parse_double(arg, &a->threshold) || a->threshold < 0 ||
            a->threshold > 1)
            return -1;
        return 0;
    }
    return -1;
}

/* Contract in cli.h. */
int kl_cli_open_model_input(const char *cmd, const struct kl_cli_model_args *a,
                            struct kl_model **m, FILE **in)
{
    char err[1024];
    int rc;

    if (kl_model_open(a->model, m, err, sizeof err)) {
        fprintf(stderr, "klabel %s: %s\n", cmd, err);
        return -1;
    }
    /* the stage's default budget (model.projection.max.mb) */
    rc = kl_model_project_labels(*m, (size_t)KL_CLI_PROJECTION_MAX_MB << 20);
    if (rc) {
        fprintf(stderr, "klabel %s: label projections: %s\n", cmd,
                kl_strerror(rc));
        return -1;
    }
    *in = a->input && strcmp(a->input, "-") ? fopen(a->input, "r") : stdin;
    if (!*in) {
        perror(a->input);
        return -1;
    }
    return 0;
}
