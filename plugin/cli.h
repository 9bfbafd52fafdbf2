/*
 * The `klabel` commands. Each takes the arguments after the command name
 * (argv[0] is the command) and returns the process exit code: 0 ok, 1
 * failure, 2 usage error (usage printed on stderr). Only main() exits.
 */
#ifndef KL_PLUGIN_CLI_H
#define KL_PLUGIN_CLI_H

#include <stdio.h>

#define KL_EXIT_OK 0
#define KL_EXIT_FAIL 1
#define KL_EXIT_USAGE 2

int kl_cli_run(int argc, char **argv);      /* klabel run -c FILE [-X k=v] */
int kl_cli_config(int argc, char **argv);   /* klabel config --markdown */
int kl_cli_train(int argc, char **argv);    /* klabel train -i FILE -o MODEL */
int kl_cli_predict(int argc, char **argv);  /* klabel predict -m MODEL */
int kl_cli_inspect(int argc, char **argv);  /* klabel inspect MODEL */
int kl_cli_demo(int argc, char **argv);     /* klabel demo [--data TSV] */
int kl_cli_eval(int argc, char **argv);     /* klabel eval -m MODEL -i TEST */
int kl_cli_tokenize(int argc, char **argv); /* klabel tokenize [--segmenter DICT] */
int kl_cli_import(int argc, char **argv);   /* klabel import IN.bin -o OUT */
int kl_cli_quantize(int argc, char **argv); /* klabel quantize IN -o OUT */

/* The top-level usage text. */
void kl_cli_usage(FILE *out);

/* Parses a whole decimal / floating number; returns 0 or -1. */
int kl_cli_parse_long(const char *s, long min, long max, long *out);
int kl_cli_parse_double(const char *s, double *out);

/* The default model id of `train` and `import`: the base name of path
 * without its extension ("out/news.st" -> "news"), written into buf[0..n)
 * (truncated to fit). Returns buf, which stays caller-owned. */
const char *kl_cli_default_id(const char *path, char *buf, size_t n);

/* The options `eval` and `predict` share: -m MODEL, -i INPUT, -k N and
 * --threshold F. Strings are borrowed from argv. */
struct kl_cli_model_args {
    const char *model, *input; /* NULL until given */
    long k;                    /* labels per line, 1..KL_TOPK_MAX */
    double threshold;          /* 0..1 */
};

/* Applies option c (as getopt_long returned it) with value arg to a.
 * Returns 0 when c is 'm', 'i', 'k' or 't' with a valid value, -1 for any
 * other option or a bad value (the caller prints the usage). */
int kl_cli_model_arg(struct kl_cli_model_args *a, int c, const char *arg);

struct kl_model;

/* Label projections of the models `predict` and `eval` open: the default
 * of the stage's model.projection.max.mb (MiB). */
#define KL_CLI_PROJECTION_MAX_MB 256

/* Opens a->model into *m (caller owns it: kl_model_destroy()), with label
 * projections within KL_CLI_PROJECTION_MAX_MB, and a->input into *in (stdin when NULL or "-"; the caller fcloses any other
 * stream). On failure prints "klabel CMD: reason" or perror(input) on
 * stderr and returns -1, leaving whatever was opened in *m / *in for the
 * caller's cleanup; returns 0 on success. */
int kl_cli_open_model_input(const char *cmd, const struct kl_cli_model_args *a,
                            struct kl_model **m, FILE **in);

#endif
