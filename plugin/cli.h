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

#endif
