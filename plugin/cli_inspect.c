/*
 * `klabel inspect MODEL`: what a model file says about itself — its
 * settings and labels from kl_model_info(), and the "klabel" metadata entry
 * pretty-printed, and a table of the file's tensors (kl_model_tensor():
 * name, dtype, shape, bytes, file offset) with the input matrix's
 * quantization.
 */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "klabel/engine.h"

static const char *loss_name(int loss)
{
    switch (loss) {
    case KL_LOSS_SOFTMAX: return "softmax";
    case KL_LOSS_OVA: return "ova";
    case KL_LOSS_HS: return "hs";
    }
    return "?";
}

static void print_info(FILE *out, const char *path,
                       const struct kl_model_info *mi)
{
    int32_t i;

    fprintf(out, "model        %s\n", path);
    fprintf(out, "format       %s\n", mi->file_format ? mi->file_format : "-");
    fprintf(out, "id           %s\n", mi->id ? mi->id : "-");
    fprintf(out, "version      %s\n", mi->version ? mi->version : "-");
    fprintf(out, "architecture %s\n",
            mi->architecture ? mi->architecture : "-");
    fprintf(out, "loss         %s\n", loss_name(mi->loss));
    fprintf(out, "tokenizer    %s (max_tokens %zu)\n",
            mi->tok.mode == KL_TOK_UNICODE ? "unicode" : "fasttext",
            mi->tok.max_tokens);
    fprintf(out, "dim          %d\n", (int)mi->dim);
    fprintf(out, "words        %d\n", (int)mi->nwords);
    fprintf(out, "buckets      %d\n", (int)mi->bucket);
    fprintf(out, "word_ngrams  %d\n", (int)mi->word_ngrams);
    fprintf(out, "char_ngrams  %d..%d\n", (int)mi->minn, (int)mi->maxn);
    fprintf(out, "labels       %d:", (int)mi->nlabels);
    for (i = 0; i < mi->nlabels; i++)
        fprintf(out, " %s", mi->labels[i]);
    fprintf(out, "\n");
}

/* The tensor table; a fastText .bin / .ftz has none (matrices in memory). */
static void print_tensors(FILE *out, const struct kl_model *m)
{
    static const char *const quant[] = {"none (F32)", "int8 rows + F32 scale",
                                        "product quantization"};
    const struct kl_model_info *mi = kl_model_info(m);
    size_t n = kl_model_tensor_count(m);
    unsigned long long total = 0;
    struct kl_tensor_info t;

    fprintf(out, "\nquant        %s\n",
            mi->quant >= 0 && mi->quant <= KL_QUANT_PQ ? quant[mi->quant]
                                                      : "?");
    fprintf(out, "\ntensors\n");
    if (n == 0) {
        fprintf(out, "  (none: a fastText file, read into memory)\n");
        return;
    }
    fprintf(out, "  %-22s %-5s %-22s %14s %12s\n", "name", "dtype", "shape",
            "bytes", "offset");
    for (size_t i = 0; i < n && kl_model_tensor(m, i, &t) == KL_OK; i++) {
        char shape[64];
        int len = snprintf(shape, sizeof shape, "[");
        for (int d = 0; d < t.ndim && len < (int)sizeof shape; d++)
            len += snprintf(shape + len, sizeof shape - (size_t)len, "%s%llu",
                            d ? ", " : "", (unsigned long long)t.shape[d]);
        if (len < (int)sizeof shape)
            snprintf(shape + len, sizeof shape - (size_t)len, "]");
        fprintf(out, "  %-22s %-5s %-22s %14llu %12llu\n", t.name, t.dtype,
                shape, (unsigned long long)t.bytes,
                (unsigned long long)t.offset);
        total += t.bytes;
    }
    fprintf(out, "  %zu tensors, %llu bytes of data\n", n, total);
}

int kl_cli_inspect(int argc, char **argv)
{
    struct kl_model *m = NULL;
    const struct kl_model_info *mi;
    cJSON *meta = NULL;
    char err[1024], *pretty = NULL;
    int rc = KL_EXIT_FAIL;

    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("Usage: klabel inspect MODEL\n");
        return KL_EXIT_OK;
    }
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "Usage: klabel inspect MODEL\n");
        return KL_EXIT_USAGE;
    }
    if (kl_model_open(argv[1], &m, err, sizeof err)) {
        fprintf(stderr, "klabel inspect: %s\n", err);
        goto out;
    }
    mi = kl_model_info(m);
    print_info(stdout, argv[1], mi);
    if (mi->metadata_json) {
        meta = cJSON_Parse(mi->metadata_json);
        pretty = meta ? cJSON_Print(meta) : NULL;
        printf("\nmetadata\n%s\n", pretty ? pretty : mi->metadata_json);
    }
    print_tensors(stdout, m);
    rc = KL_EXIT_OK;
out:
    free(pretty);
    cJSON_Delete(meta);
    kl_model_destroy(m);
    return rc;
}
