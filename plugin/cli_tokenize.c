/*
 * `klabel tokenize`: prints the tokens of each input line, as a model's
 * tokenizer (or the given tokenizer options) makes them, or, with --raw,
 * as the jieba-compatible segmenter cuts the raw text (what
 * tests/parity/segment_check.py compares with jieba.lcut(HMM=False)).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "klabel/engine.h"

static void tokenize_usage(FILE *out)
{
    fprintf(out,
            "Usage: klabel tokenize [options]\n\n"
            "Prints the tokens of each line of text, one output line per input line.\n\n"
            "  -i, --input FILE        text lines (default: standard input)\n"
            "  -m, --model MODEL       tokenize as this model does\n"
            "      --tokenizer T       unicode (default) or fasttext\n"
            "      --segmenter DICT    jieba dict.txt: split CJK runs into words\n"
            "      --stopwords FILE    drop these words (one per line)\n"
            "      --stem LANG         Snowball stemmer (english, porter, ...)\n"
            "      --raw               the segmenter alone on the raw text, as\n"
            "                          jieba.lcut(text, HMM=False) (needs --segmenter)\n"
            "      --tsv               lines are label<TAB>text: tokenize the text\n"
            "      --json              a JSON array of strings per line (default:\n"
            "                          tokens joined by single spaces)\n"
            "      --stats             dictionary load time and lines/s on stderr\n");
}

/* Prints t[0..n) as a JSON string. */
static void put_json_string(FILE *out, const char *t, size_t n)
{
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c == '\r')
            fputs("\\r", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void put_tokens(FILE *out, const struct kl_tokens *tok, int json)
{
    if (json)
        fputc('[', out);
    for (size_t i = 0; i < tok->n; i++) {
        if (i > 0)
            fputs(json ? ", " : " ", out);
        if (json)
            put_json_string(out, tok->buf + tok->off[i], tok->len[i]);
        else
            fwrite(tok->buf + tok->off[i], 1, tok->len[i], out);
    }
    fputs(json ? "]\n" : "\n", out);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct tok_cli {
    const char *in, *model, *seg_path, *stop_path;
    int raw, tsv, json, stats;
    struct kl_tok_opts o;
};

enum { OPT_TOK = 256, OPT_SEG, OPT_STOP, OPT_STEM, OPT_RAW, OPT_TSV, OPT_JSON,
       OPT_STATS };

/* Parses argv into c; returns -1 (usage error), 1 (--help) or 0. */
static int tokenize_args(int argc, char **argv, struct tok_cli *c)
{
    static const struct option opts[] = {
        {"input", required_argument, NULL, 'i'},
        {"model", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {"tokenizer", required_argument, NULL, OPT_TOK},
        {"segmenter", required_argument, NULL, OPT_SEG},
        {"stopwords", required_argument, NULL, OPT_STOP},
        {"stem", required_argument, NULL, OPT_STEM},
        {"raw", no_argument, NULL, OPT_RAW},
        {"tsv", no_argument, NULL, OPT_TSV},
        {"json", no_argument, NULL, OPT_JSON},
        {"stats", no_argument, NULL, OPT_STATS},
        {NULL, 0, NULL, 0}};
    int ch, idx;

    c->o.mode = KL_TOK_UNICODE;
    optind = 0;
    while ((ch = getopt_long(argc, argv, "+i:m:h", opts, &idx)) != -1) {
        switch (ch) {
        case 'i': c->in = optarg; break;
        case 'm': c->model = optarg; break;
        case 'h': return 1;
        case OPT_SEG: c->seg_path = optarg; break;
        case OPT_STOP: c->stop_path = optarg; break;
        case OPT_RAW: c->raw = 1; break;
        case OPT_TSV: c->tsv = 1; break;
        case OPT_JSON: c->json = 1; break;
        case OPT_STATS: c->stats = 1; break;
        case OPT_TOK:
            if (!strcmp(optarg, "unicode"))
                c->o.mode = KL_TOK_UNICODE;
            else if (!strcmp(optarg, "fasttext"))
                c->o.mode = KL_TOK_FASTTEXT;
            else {
                fprintf(stderr, "klabel tokenize: bad value '%s' for "
                        "--tokenizer\n", optarg);
                return -1;
            }
            break;
        case OPT_STEM:
            if (!kl_stem_supported(optarg)) {
                fprintf(stderr, "klabel tokenize: no Snowball stemmer "
                        "'%s'\n", optarg);
                return -1;
            }
            snprintf(c->o.stem, sizeof c->o.stem, "%s", optarg);
            break;
        default:
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "klabel tokenize: unexpected argument '%s'\n",
                argv[optind]);
        return -1;
    }
    if (c->raw && c->seg_path == NULL) {
        fprintf(stderr, "klabel tokenize: --raw needs --segmenter\n");
        return -1;
    }
    if (c->model != NULL && (c->seg_path || c->stop_path || c->o.stem[0])) {
        fprintf(stderr, "klabel tokenize: -m takes the tokenizer settings "
                "from the model; drop --segmenter/--stopwords/--stem\n");
        return -1;
    }
    return 0;
}

int kl_cli_tokenize(int argc, char **argv)
{
    struct tok_cli c;
    struct kl_segmenter *sg = NULL;
    struct kl_stopwords *sw = NULL;
    struct kl_model *m = NULL;
    struct kl_tokens tok;
    FILE *in = stdin;
    char *line = NULL, err[1024];
    size_t cap = 0, lineno = 0, bad = 0;
    ssize_t n;
    double t0, t_seg = 0;
    int rc = KL_EXIT_FAIL, a;

    memset(&c, 0, sizeof c);
    kl_tokens_init(&tok);
    if ((a = tokenize_args(argc, argv, &c)) != 0) {
        tokenize_usage(a > 0 ? stdout : stderr);
        return a > 0 ? KL_EXIT_OK : KL_EXIT_USAGE;
    }
    t0 = now_s();
    if (c.seg_path && kl_segmenter_load(c.seg_path, &sg, err, sizeof err)) {
        fprintf(stderr, "klabel tokenize: %s\n", err);
        goto out;
    }
    if (c.stats && sg)
        fprintf(stderr, "klabel tokenize: dictionary loaded in %.1f ms\n",
                (now_s() - t0) * 1e3);
    if (c.stop_path && kl_stopwords_load(c.stop_path, &sw, err, sizeof err)) {
        fprintf(stderr, "klabel tokenize: %s\n", err);
        goto out;
    }
    if (c.model) {
        if (kl_model_open(c.model, &m, err, sizeof err)) {
            fprintf(stderr, "klabel tokenize: %s\n", err);
            goto out;
        }
        c.o = kl_model_info(m)->tok;
    } else {
        c.o.seg = sg;
        c.o.stop = sw;
    }
    if (c.in && (in = fopen(c.in, "rb")) == NULL) {
        perror(c.in);
        goto out;
    }
    while ((n = getline(&line, &cap, in)) >= 0) {
        const char *text = line;
        char *tab;
        double t1;
        int r;

        lineno++;
        if (n > 0 && line[n - 1] == '\n')
            n--;
        if (n > 0 && line[n - 1] == '\r')
            n--;
        if (c.tsv && (tab = memchr(line, '\t', (size_t)n)) != NULL) {
            n -= tab + 1 - line;
            text = tab + 1;
        }
        t1 = now_s();
        r = c.raw ? kl_segment(sg, text, (size_t)n, &tok)
                  : kl_tokenize(&c.o, text, (size_t)n, &tok);
        t_seg += now_s() - t1;
        if (r != KL_OK) {
            fprintf(stderr, "klabel tokenize: line %zu: %s\n", lineno,
                    kl_strerror(r));
            bad++;
            tok.n = 0;
        }
        put_tokens(stdout, &tok, c.json);
    }
    if (c.stats)
        fprintf(stderr, "klabel tokenize: %zu lines in %.1f ms: %.0f lines/s\n",
                lineno, t_seg * 1e3, t_seg > 0 ? (double)lineno / t_seg : 0.0);
    rc = bad ? KL_EXIT_FAIL : KL_EXIT_OK;
out:
    if (in != NULL && in != stdin)
        fclose(in);
    free(line);
    kl_tokens_fini(&tok);
    kl_model_destroy(m);
    kl_stopwords_destroy(sw);
    kl_segmenter_destroy(sg);
    return rc;
}
