/*
 * `klabel quantize IN -o OUT`: writes a model whose input matrix is
 * quantized (int8 rows with a per-row scale, or product quantization),
 * optionally keeping only the hashed n-gram rows of largest norm, through
 * kl_model_quantize(); the written file is opened again to make sure it
 * serves, and the sizes are reported.
 */
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "klabel/engine.h"

static void quantize_usage(FILE *out)
{
    fprintf(out,
            "Usage: klabel quantize IN -o OUT [--bits 8 | --pq [--dsub N]] "
            "[--cutoff N]\n\n"
            "Writes IN (a klabel model, or a fastText .bin/.ftz) with its\n"
            "input matrix quantized; prediction sums dequantized rows.\n\n"
            "  -o, --output OUT  model file to write (safetensors)\n"
            "      --bits 8      int8 rows, one F32 scale per row (max|x|/127):\n"
            "                    about 3.9x smaller, the default\n"
            "      --pq          product quantization: one byte per --dsub\n"
            "                    floats (256 centroids each): 8x smaller at\n"
            "                    dsub 2\n"
            "      --dsub N      floats per sub-vector with --pq (default 2;\n"
            "                    must divide dim)\n"
            "      --cutoff N    keep only the N hashed n-gram rows of largest\n"
            "                    norm (vocabulary rows are always kept)\n"
            "      --seed N      k-means seed with --pq (default 1)\n"
            "  -q, --quiet       no summary on stderr\n");
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

enum { OPT_BITS = 256, OPT_PQ, OPT_DSUB, OPT_CUTOFF, OPT_SEED };

/* Parses argv into o, *in and *outp; returns -1 (usage), 1 (--help), 0. */
static int quantize_args(int argc, char **argv, struct kl_quant_opts *o,
                         const char **in, const char **outp, int *quiet)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"bits", required_argument, NULL, OPT_BITS},
        {"pq", no_argument, NULL, OPT_PQ},
        {"dsub", required_argument, NULL, OPT_DSUB},
        {"cutoff", required_argument, NULL, OPT_CUTOFF},
        {"seed", required_argument, NULL, OPT_SEED},
        {NULL, 0, NULL, 0}};
    long v;
    int c;

    optind = 0;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': *outp = optarg; break;
        case 'q': *quiet = 1; break;
        case 'h': return 1;
        case OPT_BITS:
            if (kl_cli_parse_long(optarg, 8, 8, &v)) {
                fprintf(stderr, "klabel quantize: --bits must be 8\n");
                return -1;
            }
            o->scheme = KL_QUANT_INT8;
            break;
        case OPT_PQ: o->scheme = KL_QUANT_PQ; break;
        case OPT_DSUB:
            if (kl_cli_parse_long(optarg, 1, 64, &v))
                return -1;
            o->dsub = (int32_t)v;
            break;
        case OPT_CUTOFF:
            if (kl_cli_parse_long(optarg, 0, INT32_MAX, &v))
                return -1;
            o->cutoff = v;
            break;
        case OPT_SEED:
            if (kl_cli_parse_long(optarg, 0, LONG_MAX, &v))
                return -1;
            o->seed = (uint64_t)v;
            break;
        default: return -1;
        }
    }
    *in = optind < argc ? argv[optind++] : NULL;
    if (*in == NULL || *outp == NULL || optind < argc) {
        fprintf(stderr, "klabel quantize: %s\n",
                optind < argc ? "unexpected argument"
                              : "an input model and -o OUT are required");
        return -1;
    }
    return 0;
}

int kl_cli_quantize(int argc, char **argv)
{
    struct kl_quant_opts o;
    struct kl_model *m = NULL, *back = NULL;
    const char *in = NULL, *outp = NULL;
    char err[1024];
    long long a, b;
    int quiet = 0, rc = KL_EXIT_FAIL, r;

    kl_quant_opts_init(&o);
    r = quantize_args(argc, argv, &o, &in, &outp, &quiet);
    if (r != 0) {
        quantize_usage(r > 0 ? stdout : stderr);
        return r > 0 ? KL_EXIT_OK : KL_EXIT_USAGE;
    }
    o.verbose = !quiet;
    if (kl_model_open(in, &m, err, sizeof err) ||
        kl_model_quantize(m, &o, outp, err, sizeof err) ||
        kl_model_open(outp, &back, err, sizeof err)) {
        fprintf(stderr, "klabel quantize: %s\n", err);
        goto out;
    }
    a = file_size(in);
    b = file_size(outp);
    if (!quiet)
        fprintf(stderr,
                "klabel quantize: wrote %s (%s%s): %lld -> %lld bytes, "
                "%.2fx smaller\n", outp,
                o.scheme == KL_QUANT_PQ ? "pq" : "int8",
                o.cutoff > 0 ? ", cutoff" : "", a, b,
                b > 0 ? (double)a / (double)b : 0.0);
    rc = KL_EXIT_OK;
out:
    kl_model_destroy(back);
    kl_model_destroy(m);
    return rc;
}
