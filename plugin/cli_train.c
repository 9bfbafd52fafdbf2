/*
 * `klabel train`: supervised training from a "label<TAB>text" (or
 * fastText "__label__x text") file into a klabel safetensors model, through
 * the engine's kl_train_file().
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "klabel/engine.h"

static void train_usage(FILE *out)
{
    fprintf(out,
            "Usage: klabel train -i FILE -o MODEL [options]\n\n"
            "  -i, --input FILE        examples, one per line: label<TAB>text or\n"
            "                          __label__x text\n"
            "  -o, --output MODEL      model file to write (safetensors)\n"
            "      --id ID             model id (default: the output's base name)\n"
            "      --version V         model version (default 1)\n"
            "      --tokenizer T       unicode (default) or fasttext\n"
            "      --dim N             embedding width (default 100)\n"
            "      --epoch N           passes over the data (default 5)\n"
            "      --lr F              learning rate (default 0.1)\n"
            "      --word-ngrams N     word n-gram length (default 2)\n"
            "      --bucket N          hashed n-gram rows (default 2000000)\n"
            "      --min-count N       least count of a vocabulary word (default 1)\n"
            "      --threads N         training threads (default 1)\n"
            "      --seed N            random seed (default 1)\n"
            "      --loss L            softmax (default) or ova\n"
            "      --valid FILE        held-out examples (same formats), scored\n"
            "                          after each epoch and kept in the metadata\n"
            "      --segmenter DICT    jieba dict.txt: split Chinese into words (the\n"
            "                          dictionary is embedded in the model)\n"
            "      --stopwords FILE    drop these words, one per line (embedded)\n"
            "      --stem LANG         Snowball stemming (english, porter, ...)\n"
            "      --pretrained-vectors FILE  .vec file: initial word vectors\n"
            "                          (its dim must equal --dim)\n"
            "  -q, --quiet             no progress on stderr\n"
            "\nNeural models (--arch bilstm|textcnn; --dim is the embedding width,\n"
            "--lr the Adam step, default 0.002; --loss ova with 2 labels = one\n"
            "sigmoid output; --valid enables early stopping):\n"
            "      --arch A            fasttext (default), bilstm or textcnn\n"
            "      --vocab-size N      most frequent words kept (default 10000)\n"
            "      --max-len N         tokens kept per text (default 100)\n"
            "      --hidden N          bilstm: LSTM units per direction (default 64)\n"
            "      --layers N          bilstm: stacked layers, 1-4 (default 1)\n"
            "      --pool P            bilstm: last (default) or max\n"
            "      --channels N        textcnn: filters per width (default 100)\n"
            "      --widths LIST       textcnn: filter widths (default 3,4,5)\n"
            "      --batch N           mini-batch size (default 32)\n"
            "      --dropout F         dropout rate (default 0.2)\n"
            "      --clip F            gradient-norm clip, 0 = off (default 5)\n"
            "      --patience N        early-stopping patience (default 2)\n");
}

enum { OPT_ID = 256, OPT_VERSION, OPT_TOK, OPT_DIM, OPT_EPOCH, OPT_LR,
       OPT_NGRAMS, OPT_BUCKET, OPT_MINCOUNT, OPT_THREADS, OPT_SEED, OPT_LOSS };
enum { OPT_SEGMENTER = 1000, OPT_STOPWORDS, OPT_STEM, OPT_PRETRAINED };
enum { OPT_ARCH = 2000, OPT_VOCAB, OPT_MAXLEN, OPT_HIDDEN, OPT_LAYERS,
       OPT_POOL, OPT_CHANNELS, OPT_WIDTHS, OPT_BATCH, OPT_DROPOUT, OPT_CLIP,
       OPT_PATIENCE };

/* Applies one option of the neural architectures; returns 0 or -1. */
static int set_nn(struct kl_train_opts *o, int c, const char *v)
{
    struct kl_nn_opts *nn = &o->nn;
    long n;
    double f;
    char *end;

    switch (c) {
    case OPT_ARCH:
        if (!strcmp(v, "fasttext")) o->arch = KL_ARCH_FASTTEXT;
        else if (!strcmp(v, "bilstm")) o->arch = KL_ARCH_BILSTM;
        else if (!strcmp(v, "textcnn")) o->arch = KL_ARCH_TEXTCNN;
        else return -1;
        return 0;
    case OPT_POOL:
        if (!strcmp(v, "last")) nn->pool = KL_NN_POOL_LAST;
        else if (!strcmp(v, "max")) nn->pool = KL_NN_POOL_MAX;
        else return -1;
        return 0;
    case OPT_WIDTHS: /* "3,4,5" */
        nn->nwidths = 0;
        do {
            n = strtol(v, &end, 10);
            if (end == v || n < 1 || n > 32 || nn->nwidths == KL_NN_WIDTHS_MAX)
                return -1;
            nn->widths[nn->nwidths++] = (int32_t)n;
            v = *end == ',' ? end + 1 : end;
        } while (*end == ',');
        return *end ? -1 : 0;
    case OPT_DROPOUT:
        if (kl_cli_parse_double(v, &f) || f < 0 || f >= 1) return -1;
        nn->dropout = (float)f; return 0;
    case OPT_CLIP:
        if (kl_cli_parse_double(v, &f) || f < 0 || f > 1e6) return -1;
        nn->clip = (float)f; return 0;
    }
    if (kl_cli_parse_long(v, 1, c == OPT_LAYERS ? KL_NN_LAYERS_MAX : 100000000,
                          &n))
        return -1;
    switch (c) {
    case OPT_VOCAB: nn->max_vocab = (int32_t)n; return 0;
    case OPT_MAXLEN: return n > 65536 ? -1 : (nn->max_len = (int32_t)n, 0);
    case OPT_HIDDEN: return n > 4096 ? -1 : (nn->hidden = (int32_t)n, 0);
    case OPT_LAYERS: nn->layers = (int32_t)n; return 0;
    case OPT_CHANNELS: return n > 4096 ? -1 : (nn->channels = (int32_t)n, 0);
    case OPT_BATCH: return n > 65536 ? -1 : (nn->batch = (int32_t)n, 0);
    case OPT_PATIENCE: nn->patience = (int32_t)n; return 0;
    }
    return -1;
}

/* Applies one numeric option; returns 0 or -1 (bad value). */
static int set_numeric(struct kl_train_opts *o, int c, const char *v)
{
    long n;
    double f;

    switch (c) {
    case OPT_DIM:
        if (kl_cli_parse_long(v, 1, 10000, &n)) return -1;
        o->dim = (int32_t)n; return 0;
    case OPT_EPOCH:
        if (kl_cli_parse_long(v, 1, 100000, &n)) return -1;
        o->epoch = (int32_t)n; return 0;
    case OPT_LR:
        if (kl_cli_parse_double(v, &f) || f <= 0 || f > 100) return -1;
        o->lr = (float)f; return 0;
    case OPT_NGRAMS:
        if (kl_cli_parse_long(v, 1, 16, &n)) return -1;
        o->word_ngrams = (int32_t)n; return 0;
    case OPT_BUCKET:
        if (kl_cli_parse_long(v, 0, 100000000, &n)) return -1;
        o->bucket = (int32_t)n; return 0;
    case OPT_MINCOUNT:
        if (kl_cli_parse_long(v, 1, 1000000000, &n)) return -1;
        o->min_count = (int32_t)n; return 0;
    case OPT_THREADS:
        if (kl_cli_parse_long(v, 1, 256, &n)) return -1;
        o->threads = (int32_t)n; return 0;
    case OPT_SEED:
        if (kl_cli_parse_long(v, 0, 0x7fffffffL, &n)) return -1;
        o->seed = (uint64_t)n; return 0;
    }
    return -1;
}

int kl_cli_train(int argc, char **argv)
{
    static const struct option opts[] = {
        {"input", required_argument, NULL, 'i'},
        {"output", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"id", required_argument, NULL, OPT_ID},
        {"version", required_argument, NULL, OPT_VERSION},
        {"tokenizer", required_argument, NULL, OPT_TOK},
        {"dim", required_argument, NULL, OPT_DIM},
        {"epoch", required_argument, NULL, OPT_EPOCH},
        {"lr", required_argument, NULL, OPT_LR},
        {"word-ngrams", required_argument, NULL, OPT_NGRAMS},
        {"bucket", required_argument, NULL, OPT_BUCKET},
        {"min-count", required_argument, NULL, OPT_MINCOUNT},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"seed", required_argument, NULL, OPT_SEED},
        {"loss", required_argument, NULL, OPT_LOSS},
        {"valid", required_argument, NULL, 'V'},
        {"segmenter", required_argument, NULL, OPT_SEGMENTER},
        {"stopwords", required_argument, NULL, OPT_STOPWORDS},
        {"stem", required_argument, NULL, OPT_STEM},
        {"pretrained-vectors", required_argument, NULL, OPT_PRETRAINED},
        {"arch", required_argument, NULL, OPT_ARCH},
        {"vocab-size", required_argument, NULL, OPT_VOCAB},
        {"max-len", required_argument, NULL, OPT_MAXLEN},
        {"hidden", required_argument, NULL, OPT_HIDDEN},
        {"layers", required_argument, NULL, OPT_LAYERS},
        {"pool", required_argument, NULL, OPT_POOL},
        {"channels", required_argument, NULL, OPT_CHANNELS},
        {"widths", required_argument, NULL, OPT_WIDTHS},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"dropout", required_argument, NULL, OPT_DROPOUT},
        {"clip", required_argument, NULL, OPT_CLIP},
        {"patience", required_argument, NULL, OPT_PATIENCE},
        {NULL, 0, NULL, 0}};
    struct kl_train_opts o;
    const char *in = NULL, *outp = NULL;
    char idbuf[256], err[1024];
    int c, idx, have_id = 0, lr_given = 0;

    kl_train_opts_init(&o);
    o.tok.mode = KL_TOK_UNICODE;
    o.verbose = 1;
    o.version = "1";
    optind = 0;
    while ((c = getopt_long(argc, argv, "+i:o:qh", opts, &idx)) != -1) {
        switch (c) {
        case 'i': in = optarg; break;
        case 'o': outp = optarg; break;
        case 'q': o.verbose = 0; break;
        case 'V': o.valid_path = optarg; break;
        case OPT_SEGMENTER: o.segmenter_path = optarg; break;
        case OPT_STOPWORDS: o.stopwords_path = optarg; break;
        case OPT_PRETRAINED: o.pretrained_vectors = optarg; break;
        case OPT_STEM: /* kl_train_file() checks the name (and lists them) */
            if (strlen(optarg) >= sizeof o.tok.stem)
                goto bad_value;
            snprintf(o.tok.stem, sizeof o.tok.stem, "%s", optarg);
            break;
        case 'h': train_usage(stdout); return KL_EXIT_OK;
        case OPT_ID: o.id = optarg; have_id = 1; break;
        case OPT_VERSION: o.version = optarg; break;
        case OPT_TOK:
            if (!strcmp(optarg, "unicode"))
                o.tok.mode = KL_TOK_UNICODE;
            else if (!strcmp(optarg, "fasttext"))
                o.tok.mode = KL_TOK_FASTTEXT;
            else
                goto bad_value;
            break;
        case OPT_LOSS:
            if (!strcmp(optarg, "softmax"))
                o.loss = KL_LOSS_SOFTMAX;
            else if (!strcmp(optarg, "ova"))
                o.loss = KL_LOSS_OVA;
            else
                goto bad_value;
            break;
        case '?':
            train_usage(stderr);
            return KL_EXIT_USAGE;
        default:
            if (c >= OPT_ARCH ? set_nn(&o, c, optarg)
                              : set_numeric(&o, c, optarg))
                goto bad_value;
            lr_given |= c == OPT_LR;
            break;
        }
        continue;
    bad_value:
        fprintf(stderr, "klabel train: bad value '%s' for --%s\n", optarg,
                opts[idx].name);
        train_usage(stderr);
        return KL_EXIT_USAGE;
    }
    if (optind < argc || !in || !outp) {
        if (optind < argc)
            fprintf(stderr, "klabel train: unexpected argument '%s'\n",
                    argv[optind]);
        else
            fprintf(stderr, "klabel train: -i and -o are required\n");
        train_usage(stderr);
        return KL_EXIT_USAGE;
    }
    if (!have_id)
        o.id = kl_cli_default_id(outp, idbuf, sizeof idbuf);
    if (lr_given) /* neural models: the Adam step */
        o.nn.lr = o.lr;
    if (kl_train_file(&o, in, outp, err, sizeof err)) {
        fprintf(stderr, "klabel train: %s\n", err);
        return KL_EXIT_FAIL;
    }
    if (o.verbose)
        fprintf(stderr, "klabel train: wrote %s\n", outp);
    return KL_EXIT_OK;
}
