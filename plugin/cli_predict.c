/*
 * `klabel predict`: label lines of a file (or stdin) through the "file"
 * transport, 256 lines per kl_model_predict_batch() call.
 *
 * A line whose first non-blank character is '{' is a JSON event (it must
 * decode, with a "text" field) and gives a JSON result line (source topic
 * "-", partition -1, offset = line number; "top" only with -k above 1, as
 * in the stage). Any other line is plain text and
 * gives "label<TAB>prob[<TAB>label<TAB>prob...]" (or a JSON result with
 * --json). A line that cannot be labeled gives an error line on stderr with
 * its number and makes the exit code 1; nothing is skipped silently.
 */
#include <cblas.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "codec.h"
#include "klabel/engine.h"
#include "klabel/event.h"
#include "klabel/transport.h"

#define PREDICT_BATCH 256

enum line_kind { LINE_BAD = 0, LINE_PLAIN, LINE_JSON };

struct predict_ctx {
    const struct kl_model *m;
    const struct kl_model_info *mi;
    const struct kl_transport_ops *ops;
    struct kl_transport *t;
    struct kl_json_opts jo;
    int k, json;
    float threshold;
    struct kl_msg msgs[PREDICT_BATCH];
    struct kl_event ev[PREDICT_BATCH];
    struct kl_features feat[PREDICT_BATCH];
    int kind[PREDICT_BATCH];                    /* enum line_kind */
    const struct kl_features *good[PREDICT_BATCH];
    struct kl_prediction pred[PREDICT_BATCH];
    struct kl_explanation xpl[PREDICT_BATCH];   /* with --explain */
    size_t explain;                              /* --explain N (0 = off) */
    struct kl_scratch scratch;
    struct kl_buf line;
    unsigned long long bad, labeled, write_errors;
};

static void predict_usage(FILE *out)
{
    fprintf(out,
            "Usage: klabel predict -m MODEL [-i FILE] [-k N] [--threshold F] "
            "[--json]\n\n"
            "  -m, --model MODEL   model file\n"
            "  -i, --input FILE    input lines (default: standard input)\n"
            "  -k N                labels per line, best first (default 1, max %d)\n"
            "      --threshold F   leave out labels below this probability\n"
            "      --json          JSON results for plain text lines too\n"
            "      --explain N     JSON results with \"explain\": the N tokens that\n"
            "                      weigh most towards the label, and their weights\n\n"
            "A line starting with '{' is a JSON event with a \"text\" field and\n"
            "gives a JSON result (with \"top\", the k best labels, when k > 1);\n"
            "any other line is text and gives label<TAB>prob[<TAB>label<TAB>prob...].\n",
            KL_TOPK_MAX);
}

static void on_written(void *ud, const struct kl_delivery *d)
{
    struct predict_ctx *pc = ud;

    if (d->rc)
        pc->write_errors++;
}

static void line_error(struct predict_ctx *pc, int64_t lineno,
                       const char *cls, const char *why)
{
    fprintf(stderr, "klabel predict: line %lld: %s: %s\n", (long long)lineno,
            cls, why);
    pc->bad++;
}

/* Decides what line i is and featurizes it. */
static void classify(struct predict_ctx *pc, size_t i)
{
    const struct kl_msg *msg = &pc->msgs[i];
    const char *s = msg->value;
    size_t n = msg->value_len, j = 0;
    char why[256];
    int rc;

    pc->kind[i] = LINE_BAD;
    while (j < n && (s[j] == ' ' || s[j] == '\t'))
        j++;
    if (j < n && s[j] == '{') {
        rc = kl_json_decode_event(&pc->jo, s, n, &pc->ev[i], why, sizeof why);
        if (rc != KL_DEC_OK) {
            line_error(pc, msg->offset, kl_decode_error_name(rc), why);
            return;
        }
        pc->kind[i] = LINE_JSON;
    } else {
        if (kl_utf8_validate(s, n, NULL)) {
            line_error(pc, msg->offset, kl_decode_error_name(KL_DEC_UTF8),
                       "line is not valid UTF-8");
            return;
        }
        /* Borrowed text: the event is reset, not freed, after the batch. */
        pc->ev[i].text = (char *)s;
        pc->ev[i].text_len = n;
        pc->kind[i] = LINE_PLAIN;
    }
    rc = kl_model_featurize(pc->m, pc->ev[i].text, pc->ev[i].text_len,
                            &pc->feat[i]);
    if (rc) {
        line_error(pc, msg->offset,
                   rc == KL_EUTF8    ? kl_decode_error_name(KL_DEC_UTF8)
                   : rc == KL_EEMPTY ? kl_decode_error_name(KL_DEC_EMPTY_TEXT)
                   : rc == KL_ERANGE ? kl_decode_error_name(KL_DEC_OVERSIZE)
                                     : "error",
                   rc == KL_EEMPTY ? "text has no tokens" : kl_strerror(rc));
        if (pc->kind[i] == LINE_PLAIN)
            kl_event_init(&pc->ev[i]);
        else
            kl_event_fini(&pc->ev[i]);
        pc->kind[i] = LINE_BAD;
    }
}

/* Formats the output line of item i (prediction p) into pc->line. */
static int format_line(struct predict_ctx *pc, size_t i,
                       const struct kl_prediction *p,
                       const struct kl_explanation *x)
{
    struct kl_source src = {"-", -1, pc->msgs[i].offset};
    struct kl_result_opts ro = {.omit_top = pc->k == 1};
    int j, rc = KL_OK;

    kl_buf_reset(&pc->line);
    if (pc->kind[i] == LINE_JSON || pc->json)
        return kl_json_encode_result_opts(&pc->ev[i], p, pc->mi, &src, x, &ro,
                                          &pc->line);
    for (j = 0; j < p->k && !rc; j++)
        rc = kl_buf_printf(&pc->line, "%s%s\t%.6f", j ? "\t" : "",
                           pc->mi->labels[p->label[j]], (double)p->prob[j]);
    return rc;
}

/* Predicts and writes lines [0, n) of the batch. */
static int predict_batch(struct predict_ctx *pc, size_t n, char *err,
                         size_t errsz)
{
    struct kl_out_msg om;
    size_t i, ngood = 0, g = 0;
    int rc;

    for (i = 0; i < n; i++) {
        classify(pc, i);
        if (pc->kind[i] != LINE_BAD)
            pc->good[ngood++] = &pc->feat[i];
    }
    if (ngood) {
        rc = kl_model_predict_batch(pc->m, pc->good, ngood, pc->k,
                                    pc->threshold, &pc->scratch, pc->pred);
        if (rc) {
            snprintf(err, errsz, "predict: %s", kl_strerror(rc));
            return rc;
        }
        if (pc->explain &&
            (rc = kl_model_explain_batch(pc->m, pc->good, ngood, pc->pred,
                                         &pc->scratch, pc->explain,
                                         pc->xpl)) != 0) {
            snprintf(err, errsz, "explain: %s", kl_strerror(rc));
            return rc;
        }
    }
    memset(&om, 0, sizeof om);
    om.topic = "stdout";
    om.partition = -1;
    for (i = 0; i < n; i++) {
        if (pc->kind[i] == LINE_BAD)
            continue;
        rc = format_line(pc, i, &pc->pred[g], pc->explain ? &pc->xpl[g] : NULL);
        g++;
        if (!rc) {
            om.value = pc->line.data ? pc->line.data : "";
            om.value_len = pc->line.len;
            rc = pc->ops->produce(pc->t, &om, NULL, err, errsz);
        } else {
            snprintf(err, errsz, "format: %s", kl_strerror(rc));
        }
        if (rc)
            return rc;
        pc->labeled++;
    }
    return KL_OK;
}

/* Resets the events of a batch (plain lines only borrowed their text). */
static void reset_events(struct predict_ctx *pc, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (pc->kind[i] == LINE_PLAIN)
            kl_event_init(&pc->ev[i]);
        else
            kl_event_fini(&pc->ev[i]);
    }
}

static int predict_stream(struct predict_ctx *pc, FILE *in, char *err,
                          size_t errsz)
{
    struct kl_transport_params tp;
    size_t n;
    int rc, prc = KL_OK;

    memset(&tp, 0, sizeof tp);
    tp.in = in;
    tp.out = stdout;
    tp.in_name = "-";
    tp.on_delivery = on_written;
    tp.ud = pc;
    pc->ops = &kl_transport_file;
    rc = pc->ops->open(&tp, &pc->t, err, errsz);
    if (rc)
        return rc;
    do {
        n = 0;
        prc = pc->ops->poll(pc->t, pc->msgs, PREDICT_BATCH, 0, &n, err,
                            errsz);
        if (prc < 0)
            break;
        rc = predict_batch(pc, n, err, errsz);
        reset_events(pc, n);
        pc->ops->release(pc->t, pc->msgs, n);
    } while (!rc && prc != KL_TRANSPORT_END);
    if (!rc && prc < 0)
        rc = prc;
    if (pc->ops->close(pc->t, 0, rc ? NULL : err, rc ? 0 : errsz) && !rc)
        rc = KL_EIO;
    pc->t = NULL;
    if (!rc && pc->write_errors) {
        snprintf(err, errsz, "%llu line(s) could not be written",
                 pc->write_errors);
        rc = KL_EIO;
    }
    return rc;
}

int kl_cli_predict(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"input", required_argument, NULL, 'i'},
        {"threshold", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {"explain", required_argument, NULL, 'x'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct predict_ctx *pc = calloc(1, sizeof *pc);
    struct kl_model *m = NULL;
    struct kl_cli_model_args a = {.k = 1};
    FILE *in = NULL;
    char err[1024];
    int c, rc = KL_EXIT_FAIL;
    long xn = 0;
    size_t i;

    if (!pc) {
        fprintf(stderr, "klabel predict: out of memory\n");
        return KL_EXIT_FAIL;
    }
    for (i = 0; i < PREDICT_BATCH; i++) {
        kl_event_init(&pc->ev[i]);
        kl_features_init(&pc->feat[i]);
        kl_explanation_init(&pc->xpl[i]);
    }
    kl_scratch_init(&pc->scratch);
    kl_buf_init(&pc->line);
    optind = 0;
    while ((c = getopt_long(argc, argv, "+m:i:k:h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': pc->json = 1; break;
        case 'x':
            if (kl_cli_parse_long(optarg, 1, 1000, &xn))
                goto usage;
            pc->explain = (size_t)xn;
            pc->json = 1;
            break;
        case 'h': predict_usage(stdout); rc = KL_EXIT_OK; goto out;
        default:
            if (kl_cli_model_arg(&a, c, optarg))
                goto usage;
        }
    }
    if (optind < argc || !a.model)
        goto usage;
    if (kl_cli_open_model_input("predict", &a, &m, &in))
        goto out;
    openblas_set_num_threads(1); /* its threads lose on small batches */
    pc->m = m;
    pc->mi = kl_model_info(m);
    pc->k = (int)a.k;
    pc->threshold = (float)a.threshold;
    for (i = 0; pc->explain && i < PREDICT_BATCH; i++)
        pc->feat[i].want_origin = 1;
    pc->jo.field_id = "id";
    pc->jo.field_text = "text";
    pc->jo.field_kind = "kind";
    pc->jo.field_ts = "ts";
    pc->jo.max_bytes = 1 << 20;
    if (predict_stream(pc, in, err, sizeof err)) {
        fprintf(stderr, "klabel predict: %s\n", err);
        goto out;
    }
    if (fflush(stdout) == EOF) {
        perror("klabel predict: stdout");
        goto out;
    }
    if (pc->bad) {
        fprintf(stderr, "klabel predict: %llu line(s) labeled, %llu bad\n",
                pc->labeled, pc->bad);
        goto out;
    }
    rc = KL_EXIT_OK;
    goto out;
usage:
    if (optind < argc)
        fprintf(stderr, "klabel predict: unexpected argument '%s'\n",
                argv[optind]);
    else if (!a.model && c == -1)
        fprintf(stderr, "klabel predict: -m MODEL is required\n");
    else
        fprintf(stderr, "klabel predict: bad option or value\n");
    predict_usage(stderr);
    rc = KL_EXIT_USAGE;
out:
    if (in && in != stdin)
        fclose(in);
    for (i = 0; i < PREDICT_BATCH; i++) {
        kl_event_fini(&pc->ev[i]);
        kl_features_fini(&pc->feat[i]);
        kl_explanation_fini(&pc->xpl[i]);
    }
    kl_scratch_fini(&pc->scratch);
    kl_buf_fini(&pc->line);
    kl_model_destroy(m);
    free(pc);
    return rc;
}
