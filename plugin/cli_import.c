/*
 * `klabel import`: converts a fastText model (.bin, or quantized .ftz) into
 * a klabel safetensors model through the engine: kl_model_open() reads and
 * checks the fastText file, kl_model_save() writes it (a .ftz's codes as
 * klabel "pq" tensors when that layout holds them, else dequantized; its
 * prune index as the "pruneidx" tensor; label counts in the metadata), and
 * the written file is opened again to make sure it serves.
 */
#include <getopt.h>
#include <stdlib.h>

#include "cli.h"
#include "klabel/engine.h"

static void import_usage(FILE *out)
{
    fprintf(out,
            "Usage: klabel import IN.bin|IN.ftz -o MODEL [--id ID] "
            "[--version V]\n\n"
            "Converts a supervised fastText model (fastText 0.9 .bin, or a\n"
            "quantized .ftz) into a klabel safetensors model that predicts\n"
            "exactly as the fastText file does. A .ftz keeps its codes when\n"
            "klabel's pq layout holds them (quantized without -qnorm, dsub\n"
            "dividing dim); otherwise it is dequantized.\n\n"
            "  -o, --output MODEL  model file to write (safetensors)\n"
            "      --id ID         model id (default: the output's base name)\n"
            "      --version V     model version (default 1)\n"
            "  -q, --quiet         no summary on stderr\n");
}

enum { OPT_ID = 256, OPT_VERSION };

int kl_cli_import(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"id", required_argument, NULL, OPT_ID},
        {"version", required_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0}};
    struct kl_model *m = NULL, *back = NULL;
    const struct kl_model_info *mi;
    const char *in, *outp = NULL, *id = NULL, *version = "1";
    char idbuf[256], err[1024];
    int c, quiet = 0, rc = KL_EXIT_FAIL;

    optind = 0;
    /* no "+": GNU getopt permutes, so IN may come before or after options */
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': outp = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': import_usage(stdout); return KL_EXIT_OK;
        case OPT_ID: id = optarg; break;
        case OPT_VERSION: version = optarg; break;
        default: import_usage(stderr); return KL_EXIT_USAGE;
        }
    }
    in = optind < argc ? argv[optind++] : NULL;
    if (in == NULL || outp == NULL || optind < argc) {
        fprintf(stderr, "klabel import: %s\n",
                optind < argc ? "unexpected argument"
                              : "an input model and -o MODEL are required");
        import_usage(stderr);
        return KL_EXIT_USAGE;
    }
    if (id == NULL)
        id = kl_cli_default_id(outp, idbuf, sizeof idbuf);
    if (kl_model_open(in, &m, err, sizeof err)) {
        fprintf(stderr, "klabel import: %s\n", err);
        goto out;
    }
    mi = kl_model_info(m);
    if (kl_model_save(m, outp, id, version, err, sizeof err) ||
        kl_model_open(outp, &back, err, sizeof err)) {
        fprintf(stderr, "klabel import: %s\n", err);
        goto out;
    }
    if (!quiet)
        fprintf(stderr,
                "klabel import: wrote %s from %s (%s): loss %s, %d labels, "
                "%d words, %d buckets, dim %d, input %s\n", outp, in,
                mi->file_format,
                mi->loss == KL_LOSS_HS ? "hs"
                : mi->loss == KL_LOSS_OVA ? "ova" : "softmax",
                (int)mi->nlabels, (int)mi->nwords, (int)mi->bucket,
                (int)mi->dim,
                mi->quant == KL_QUANT_PQ     ? "pq codes"
                : mi->quant == KL_QUANT_INT8 ? "int8"
                                             : "dense F32");
    rc = KL_EXIT_OK;
out:
    kl_model_destroy(back);
    kl_model_destroy(m);
    return rc;
}
