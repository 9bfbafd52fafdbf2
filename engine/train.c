/*
 * engine/train.c: supervised training as fastText's FastText::train /
 * Model::update do it, then the model file.
 *
 * - Input matrix uniform(-1/dim, 1/dim), output matrix zeros.
 * - Per example: hidden = mean of its input rows; softmax loss (one label
 *   drawn uniformly at random when a line has several, as fastText does) or
 *   one-vs-all binary logistic losses over all labels (fastText's tabulated
 *   sigmoid, engine/sigmoid.h); the gradient goes to
 *   the output rows at once and, divided by the number of features, to each
 *   input row.
 * - lr = lr0 * (1 - tokens_done / (epoch * ntokens)), tokens counted in
 *   chunks of > 100 like fastText's lrUpdateRate.
 * - Examples are visited in file order (no shuffling, like fastText); with
 *   T threads, thread t starts at example t * n / T and wraps around.
 *   Threads update the shared matrices without locks (Hogwild, as fastText);
 *   with threads == 1 training is deterministic for a seed.
 * - The PRNG is splitmix64 (input init from seed; thread t uses seed + t).
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "klabel/engine.h"
#include "error.h"
#include "meta.h"
#include "nn.h"
#include "safetensors.h"
#include "sigmoid.h"
#include "pretrained.h"
#include "tokmodel.h"
#include "train_data.h"
#include "train_valid.h"

#define LR_UPDATE_RATE 100 /* tokens between updates of the shared count */

struct trainer {
    const struct kl_train_opts *o;
    const struct kl_train_data *td;
    float *input;             /* (nwords + bucket, dim) row-major */
    float *output;            /* (nlabels, dim) row-major */
    int64_t tokens_total;     /* epoch * ntokens */
    _Atomic int64_t tokens_done;
    struct timespec start;
    struct kl_valid *valid;       /* held-out set (o->valid_path) or NULL */
    struct kl_valid_score *vhist; /* (epoch) validation scores taken */
    int32_t vdone;                /* how many */
};

struct worker {
    struct trainer *tr;
    int id;
    pthread_t th;
    float *hidden;  /* (dim) */
    float *grad;    /* (dim) */
    float *out;     /* (nlabels) */
    uint64_t rng;
    double loss;    /* summed over the examples this worker saw */
    int64_t nseen;
};

/* Defaults listed in engine.h. o is caller-owned. */
void kl_train_opts_init(struct kl_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->id = "model";
    o->version = "1";
    o->tok.mode = KL_TOK_FASTTEXT;
    o->loss = KL_LOSS_SOFTMAX;
    o->dim = 100;
    o->epoch = 5;
    o->lr = 0.1f;
    o->word_ngrams = 2;
    o->bucket = 2000000;
    o->min_count = 1;
    o->threads = 1;
    o->seed = 1;
    kl_nn_opts_init(&o->nn);
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int check_opts(const struct kl_train_opts *o, char *err, size_t errsz)
{
    const char *bad = NULL;

    if (o->tok.mode != KL_TOK_FASTTEXT && o->tok.mode != KL_TOK_UNICODE)
        bad = "tok.mode must be KL_TOK_FASTTEXT or KL_TOK_UNICODE";
    else if (o->loss != KL_LOSS_SOFTMAX && o->loss != KL_LOSS_OVA)
        bad = "loss must be softmax or ova (hs is not supported yet)";
    else if (o->dim < 1 || o->dim > KL_META_DIM_MAX)
        bad = "dim must be in [1, 65536]";
    else if (o->epoch < 1 || o->epoch > 100000)
        bad = "epoch must be in [1, 100000]";
    else if (!(o->lr > 0.0f && o->lr <= 100.0f))
        bad = "lr must be in (0, 100]";
    else if (o->word_ngrams < 1 || o->word_ngrams > KL_META_NGRAMS_MAX)
        bad = "word_ngrams must be in [1, 32]";
    else if (o->bucket < 0)
        bad = "bucket must be >= 0";
    else if (o->min_count < 1)
        bad = "min_count must be >= 1";
    else if (o->threads < 1 || o->threads > 256)
        bad = "threads must be in [1, 256]";
    else if (o->minn < 0 || o->maxn < 0 || o->maxn > KL_META_NGRAMS_MAX ||
             (o->maxn > 0 && o->minn > o->maxn))
        bad = "need 0 <= minn <= maxn <= 32";
    if (bad != NULL)
        return kl_error_set(err, errsz, KL_EINVAL, "training options: %s", bad);
    return KL_OK;
}

static inline float dot(const float *restrict a, const float *restrict b,
                        int32_t n)
{
    float s = 0.0f;
    for (int32_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static inline void axpy(float *restrict y, const float *restrict x, float a,
                        int32_t n)
{
    for (int32_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

/* One SGD step on example e (fastText's Model::update). */
static void train_example(struct worker *w, size_t e, float lr)
{
    const struct kl_train_data *td = w->tr->td;
    const int32_t *ids = td->ids + td->ex_off[e];
    const int32_t *lab = td->lab + td->lab_off[e];
    size_t nf = td->ex_off[e + 1] - td->ex_off[e];
    size_t nlab = td->lab_off[e + 1] - td->lab_off[e];
    int32_t dim = w->tr->o->dim, nl = td->nlabels;
    float *input = w->tr->input, *output = w->tr->output;
    float scale = (float)(1.0 / (double)nf);

    if (nf == 0 || nlab == 0)
        return;
    memset(w->hidden, 0, (size_t)dim * sizeof *w->hidden);
    for (size_t i = 0; i < nf; i++)
        axpy(w->hidden, input + (size_t)ids[i] * dim, 1.0f, dim);
    for (int32_t d = 0; d < dim; d++)
        w->hidden[d] *= scale;
    memset(w->grad, 0, (size_t)dim * sizeof *w->grad);
    if (w->tr->o->loss == KL_LOSS_SOFTMAX) {
        int32_t target = lab[nlab > 1 ? splitmix64(&w->rng) % nlab : 0];
        float max = -INFINITY, z = 0.0f;
        for (int32_t j = 0; j < nl; j++) {
            w->out[j] = dot(output + (size_t)j * dim, w->hidden, dim);
            max = w->out[j] > max ? w->out[j] : max;
        }
        for (int32_t j = 0; j < nl; j++) {
            w->out[j] = expf(w->out[j] - max);
            z += w->out[j];
        }
        for (int32_t j = 0; j < nl; j++) {
            float alpha = lr * ((j == target ? 1.0f : 0.0f) - w->out[j] / z);
            axpy(w->grad, output + (size_t)j * dim, alpha, dim);
            axpy(output + (size_t)j * dim, w->hidden, alpha, dim);
        }
        w->loss += -log(w->out[target] / z + 1e-5);
    } else {
        for (int32_t j = 0; j < nl; j++) {
            int pos = 0;
            float score, alpha;
            for (size_t t = 0; t < nlab; t++)
                pos |= lab[t] == j;
            score = kl_sigmoid_fasttext(dot(output + (size_t)j * dim,
                                            w->hidden, dim));
            alpha = lr * ((float)pos - score);
            axpy(w->grad, output + (size_t)j * dim, alpha, dim);
            axpy(output + (size_t)j * dim, w->hidden, alpha, dim);
            w->loss += -log((pos ? score : 1.0f - score) + 1e-5);
        }
    }
    for (int32_t d = 0; d < dim; d++)
        w->grad[d] *= scale;
    for (size_t i = 0; i < nf; i++)
        axpy(input + (size_t)ids[i] * dim, w->grad, 1.0f, dim);
    w->nseen++;
}

/* The progress line fastText prints, on stderr. */
static void print_progress(const struct trainer *tr, const struct worker *w,
                           double progress, float lr)
{
    double el = now_s() - ((double)tr->start.tv_sec + tr->start.tv_nsec * 1e-9);
    double done = (double)atomic_load_explicit(&tr->tokens_done,
                                               memory_order_relaxed);
    double wst = el > 0 ? done / el / tr->o->threads : 0;
    long eta = progress > 0 ? (long)(el * (1 - progress) / progress) : 0;

    if (progress > 1)
        progress = 1;
    fprintf(stderr,
            "\rProgress: %.1f%%  words/sec/thread: %.0f  lr: %.4f  loss: "
            "%.4f  ETA: %ldh%2ldm%2lds", 100 * progress, wst, lr,
            w->nseen ? w->loss / (double)w->nseen : 0.0, eta / 3600,
            eta / 60 % 60, eta % 60);
    fflush(stderr);
}

/* Scores the validation set after `epoch` epochs and prints the score
 * when verbose. Worker 0 calls it between two examples: with threads > 1
 * the others keep training meanwhile (Hogwild), so only the final score,
 * taken after they joined, is exact. Training reads no state it changes. */
static void validate(struct trainer *tr, int32_t epoch)
{
    struct kl_valid_score *s = &tr->vhist[tr->vdone];

    if (kl_valid_score(tr->valid, tr->input, tr->output, tr->o->dim,
                       tr->td->nlabels, tr->o->loss, s) != KL_OK)
        return; /* out of memory: this epoch goes unscored */
    s->epoch = epoch;
    tr->vdone++;
    if (tr->o->verbose)
        fprintf(stderr, "%sepoch %d/%d: validation accuracy %.4f  loss %.4f"
                "  (%zu examples)\n", epoch < tr->o->epoch ? "\n" : "",
                (int)epoch, (int)tr->o->epoch, s->accuracy, s->loss,
                tr->valid->nex);
}

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    struct trainer *tr = w->tr;
    size_t nex = tr->td->nex, e = (size_t)w->id * nex / (size_t)tr->o->threads;
    int64_t local = 0, it = 0;
    double last_print = now_s();

    for (;;) {
        int64_t done = atomic_load_explicit(&tr->tokens_done,
                                            memory_order_relaxed);
        double progress = (double)done / (double)tr->tokens_total;
        float lr = tr->o->lr * (float)(1.0 - progress);

        if (done >= tr->tokens_total)
            break;
        if (w->id == 0 && tr->valid != NULL && tr->vdone + 1 < tr->o->epoch &&
            done >= (int64_t)(tr->vdone + 1) * (int64_t)tr->td->ntokens)
            validate(tr, tr->vdone + 1);
        train_example(w, e, lr);
        local += tr->td->ntok[e];
        if (local > LR_UPDATE_RATE) {
            atomic_fetch_add_explicit(&tr->tokens_done, local,
                                      memory_order_relaxed);
            local = 0;
        }
        e = e + 1 == nex ? 0 : e + 1;
        if (tr->o->verbose && w->id == 0 && (++it & 255) == 0 &&
            now_s() - last_print >= 0.1) {
            last_print = now_s();
            print_progress(tr, w, progress, lr);
        }
    }
    return NULL;
}

/* Runs the workers to the end of the schedule. */
static int train_run(struct trainer *tr, struct worker *ws, char *err,
                     size_t errsz)
{
    int32_t T = tr->o->threads, started = 0;
    int rc = KL_OK;

    clock_gettime(CLOCK_MONOTONIC, &tr->start);
    for (int32_t t = 0; t < T; t++) {
        struct worker *w = &ws[t];
        w->tr = tr;
        w->id = t;
        w->rng = tr->o->seed + (uint64_t)t;
        w->hidden = malloc((size_t)tr->o->dim * sizeof(float));
        w->grad = malloc((size_t)tr->o->dim * sizeof(float));
        w->out = malloc((size_t)tr->td->nlabels * sizeof(float));
        if (w->hidden == NULL || w->grad == NULL || w->out == NULL) {
            rc = KL_ENOMEM;
            break;
        }
    }
    for (int32_t t = 0; rc == KL_OK && t < T; t++) {
        if (T == 1) { /* no thread needed; same code path */
            worker_run(&ws[0]);
            continue;
        }
        if (pthread_create(&ws[t].th, NULL, worker_run, &ws[t]) != 0) {
            rc = kl_error_set(err, errsz, KL_ENOMEM,
                              "cannot start training thread %d", (int)t);
            /* stop the started ones */
            atomic_store(&tr->tokens_done, tr->tokens_total);
            break;
        }
        started++;
    }
    for (int32_t t = 0; t < started; t++)
        pthread_join(ws[t].th, NULL);
    if (rc == KL_OK && tr->o->verbose) {
        print_progress(tr, &ws[0], 1.0, 0.0f);
        fputc('\n', stderr);
    }
    if (rc == KL_OK && tr->valid != NULL)
        validate(tr, tr->o->epoch);
    return rc;
}

/* The training summary object of the metadata, or NULL (out of memory). */
static cJSON *training_summary(const struct trainer *tr,
                               const struct worker *ws)
{
    const struct kl_train_opts *o = tr->o;
    cJSON *t = cJSON_CreateObject();
    double loss = 0, seen = 0;
    char when[32];

    for (int32_t i = 0; i < o->threads; i++) {
        loss += ws[i].loss;
        seen += (double)ws[i].nseen;
    }
    kl_meta_created(when, sizeof when);
    if (t == NULL ||
        !cJSON_AddNumberToObject(t, "examples", (double)tr->td->nex) ||
        !cJSON_AddNumberToObject(t, "skipped", (double)tr->td->skipped) ||
        !cJSON_AddNumberToObject(t, "tokens", (double)tr->td->ntokens) ||
        !cJSON_AddNumberToObject(t, "epochs", o->epoch) ||
        !cJSON_AddNumberToObject(t, "lr", kl_meta_round6(o->lr)) ||
        !cJSON_AddNumberToObject(t, "min_count", o->min_count) ||
        !cJSON_AddNumberToObject(t, "threads", o->threads) ||
        !cJSON_AddNumberToObject(t, "seed", (double)o->seed) ||
        !cJSON_AddNumberToObject(t, "loss",
                                 kl_meta_round6(seen ? loss / seen : 0)) ||
        !cJSON_AddStringToObject(t, "created", when)) {
        cJSON_Delete(t);
        return NULL;
    }
    if (tr->valid != NULL) {
        cJSON *v = kl_valid_summary(tr->valid, o->valid_path, tr->vhist,
                                    (size_t)tr->vdone);
        if (v == NULL || !cJSON_AddItemToObject(t, "validation", v)) {
            cJSON_Delete(v);
            cJSON_Delete(t);
            return NULL;
        }
    }
    return t;
}

static int write_model(const struct trainer *tr, const struct worker *ws,
                       const char *path, char *err, size_t errsz)
{
    const struct kl_train_opts *o = tr->o;
    const struct kl_train_data *td = tr->td;
    struct kl_meta m;
    struct kl_st_out t[3 + KL_TOK_MODEL_TENSORS];
    const char *key = "klabel";
    char *json;
    size_t nt = 3;
    int rc;

    memset(&m, 0, sizeof m);
    m.id = (char *)(o->id ? o->id : "");
    m.version = (char *)(o->version ? o->version : "");
    m.loss = o->loss;
    m.dim = o->dim;
    m.nwords = td->nwords;
    m.bucket = o->bucket;
    m.word_ngrams = o->word_ngrams;
    m.minn = o->minn;
    m.maxn = o->maxn;
    m.nlabels = td->nlabels;
    m.labels = td->labels;
    m.tok = o->tok;
    kl_tok_model_meta(&o->tok, &m);
    json = kl_meta_format(&m, training_summary(tr, ws));
    if (json == NULL)
        return kl_error_set(err, errsz, KL_ENOMEM, "%s: out of memory", path);
    memset(t, 0, sizeof t);
    t[0] = (struct kl_st_out){"input", KL_ST_F32, 2,
                              {(uint64_t)td->nwords + (uint64_t)o->bucket,
                               (uint64_t)o->dim}, tr->input};
    t[1] = (struct kl_st_out){"output", KL_ST_F32, 2,
                              {(uint64_t)td->nlabels, (uint64_t)o->dim},
                              tr->output};
    t[2] = (struct kl_st_out){"vocab", KL_ST_U8, 1, {td->vocab_len},
                              td->vocab};
    nt += kl_tok_model_tensors(&o->tok, t + nt);
    rc = kl_safetensors_write(path, &key, (const char *const *)&json, 1, t, nt,
                              err, errsz);
    cJSON_free(json);
    return rc;
}

/* Contract in engine.h. Allocates the model matrices for the duration of
 * the call; writes out_path. */
int kl_train_file(const struct kl_train_opts *o, const char *in_path,
                  const char *out_path, char *err, size_t errsz)
{
    struct kl_train_data td;
    struct kl_valid valid;
    struct kl_tok_res res;     /* segmenter / stop words loaded for o */
    struct kl_train_opts oc;   /* o with them in oc.tok */
    struct trainer tr;
    struct worker *ws = NULL;
    size_t rows, nin, nout;
    uint64_t rng;
    float a;
    int rc;

    memset(&td, 0, sizeof td);
    memset(&valid, 0, sizeof valid);
    memset(&res, 0, sizeof res);
    memset(&tr, 0, sizeof tr);
    if (err != NULL && errsz > 0)
        err[0] = '\0';
    if (o == NULL || in_path == NULL || out_path == NULL) {
        rc = kl_error_set(err, errsz, KL_EINVAL, "no options or path");
        goto out;
    }
    if (o->arch != KL_ARCH_FASTTEXT) { /* bilstm / textcnn: nn_train.c */
        rc = kl_nn_train_file(o, in_path, out_path, err, errsz);
        goto out;
    }
    if ((rc = kl_tok_res_open(&res, o, &oc, err, errsz)) != KL_OK)
        goto out;
    o = &oc;
    if ((rc = check_opts(o, err, errsz)) != KL_OK ||
        (rc = kl_train_data_load(&td, o, in_path, err, errsz)) != KL_OK)
        goto out;
    if (o->valid_path != NULL) {
        if ((rc = kl_valid_load(&valid, &td, o, o->valid_path, err,
                                errsz)) != KL_OK)
            goto out;
        if ((tr.vhist = calloc((size_t)o->epoch, sizeof *tr.vhist)) == NULL) {
            rc = kl_error_set(err, errsz, KL_ENOMEM, "out of memory");
            goto out;
        }
        tr.valid = &valid;
    }
    rows = (size_t)td.nwords + (size_t)o->bucket;
    if (__builtin_mul_overflow(rows, (size_t)o->dim, &nin) ||
        nin > SIZE_MAX / sizeof(float)) {
        rc = kl_error_set(err, errsz, KL_ERANGE, "input matrix too large");
        goto out;
    }
    nout = (size_t)td.nlabels * (size_t)o->dim;
    tr.o = o;
    tr.td = &td;
    tr.input = malloc(nin * sizeof(float));
    tr.output = calloc(nout, sizeof(float));
    ws = calloc((size_t)o->threads, sizeof *ws);
    if (tr.input == NULL || tr.output == NULL || ws == NULL) {
        rc = kl_error_set(err, errsz, KL_ENOMEM,
                          "cannot allocate the %zu x %d input matrix", rows,
                          (int)o->dim);
        goto out;
    }
    rng = o->seed;
    a = 1.0f / (float)o->dim;
    for (size_t i = 0; i < nin; i++) /* uniform(-1/dim, 1/dim) */
        tr.input[i] = a * (2.0f * (float)(splitmix64(&rng) >> 40) *
                           (1.0f / 16777216.0f) - 1.0f);
    if (o->pretrained_vectors != NULL &&
        (rc = kl_pretrained_apply(o->pretrained_vectors, td.vocab,
                                  td.vocab_len, td.nwords, o->dim, tr.input,
                                  o->verbose, err, errsz)) != KL_OK)
        goto out;
    tr.tokens_total = (int64_t)o->epoch * (int64_t)td.ntokens;
    atomic_init(&tr.tokens_done, 0);
    if ((rc = train_run(&tr, ws, err, errsz)) != KL_OK ||
        (rc = write_model(&tr, ws, out_path, err, errsz)) != KL_OK)
        goto out;
out:
    for (int32_t t = 0; ws != NULL && t < o->threads; t++) {
        free(ws[t].hidden);
        free(ws[t].grad);
        free(ws[t].out);
    }
    free(ws);
    free(tr.input);
    free(tr.output);
    free(tr.vhist);
    kl_valid_fini(&valid);
    kl_train_data_fini(&td);
    kl_tok_res_close(&res);
    return rc;
}
