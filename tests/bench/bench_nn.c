/*
 * tests/bench/bench_nn.c: speed of the neural architectures on one thread.
 *
 * Writes three models with random weights at the seed's sizes (vocabulary
 * 10,000, embedding 128; bilstm: hidden 64 per direction, last-state
 * pooling; textcnn: 100 filters of widths 3, 4, 5; binary head), plus a
 * fastText-style model of the same vocabulary (dim 100, 2,000,000 buckets,
 * word bigrams: its 2N - 1 feature rows per N-token text are random rows),
 * and times kl_model_predict_batch() on texts of exactly 40 and 200 tokens
 * in batches of 1, 32 and 256: events/s, best of ROUNDS rounds of at least
 * MIN_S seconds each; then the latency of single-event batches (40 tokens)
 * over LAT_CALLS calls, p50 and p99. Featurization is excluded (the stage
 * runs it on the source thread). Every figure is taken twice: in thread
 * CPU time (the cost of the work; stable on a loaded machine) and in wall
 * time (what a caller waits, preemption included). Prints a table and
 * writes JSON:
 *
 *   bench_nn WORKDIR OUT.json
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>
#include <cJSON.h>

#include "klabel/engine.h"
#include "../../engine/nn.h"
#include "../../engine/safetensors.h"

#define VOCAB 10000
#define DIM 128
#define HIDDEN 64
#define ROUNDS 3
#define MIN_S 0.4
#define LAT_CALLS 3000
#define FT_DIM 100
#define FT_BUCKET 2000000

static uint64_t rng = 42;

static float frand(float a)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return a * (2.0f * (float)(rng >> 40) / 16777216.0f - 1.0f);
}

static uint32_t irand(uint32_t n)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)((rng >> 33) % n);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU time of this thread: what the work costs, whatever else runs on the
 * (shared) machine. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The vocabulary tensor: "w0\0w1\0...". */
static char *vocab_bytes(size_t *len)
{
    char *v = malloc((size_t)VOCAB * 8);
    size_t pos = 0;

    for (int i = 0; i < VOCAB; i++)
        pos += (size_t)sprintf(v + pos, "w%d", i) + 1;
    *len = pos;
    return v;
}

/* A neural model file with random weights. */
static int write_nn(const char *path, int arch)
{
    struct kl_nn_conf c;
    struct kl_nn_weights w;
    struct kl_nn_tensor t[KL_NN_TENSORS_MAX];
    struct kl_st_out out[KL_NN_TENSORS_MAX + 1];
    size_t total, nt, vlen;
    char *vocab = vocab_bytes(&vlen), err[256], json[1024];
    const char *key = "klabel", *val = json;
    float *p;
    int rc;

    memset(&c, 0, sizeof c);
    c.arch = arch;
    c.rows = VOCAB + 2;
    c.dim = DIM;
    c.hidden = HIDDEN;
    c.layers = 1;
    c.channels = 100;
    c.nwidths = 3;
    c.widths[0] = 3;
    c.widths[1] = 4;
    c.widths[2] = 5;
    c.head = KL_NN_HEAD_BINARY;
    c.nout = 1;
    c.nlabels = 2;
    nt = kl_nn_tensors(&c, &w, t, &total);
    p = malloc(total * sizeof *p);
    for (size_t i = 0; i < total; i++)
        p[i] = frand(0.1f);
    memset(out, 0, sizeof out);
    for (size_t i = 0; i < nt; i++) {
        out[i].name = t[i].name;
        out[i].dtype = KL_ST_F32;
        out[i].ndim = t[i].ndim;
        for (int d = 0; d < t[i].ndim; d++)
            out[i].shape[d] = (uint64_t)t[i].shape[d];
        out[i].data = p + t[i].off;
    }
    out[nt++] = (struct kl_st_out){"vocab", KL_ST_U8, 1, {vlen}, vocab};
    snprintf(json, sizeof json,
             "{\"format\":1,\"architecture\":\"%s\",\"id\":\"bench\","
             "\"loss\":\"ova\",\"dim\":%d,\"nwords\":%d,\"bucket\":0,"
             "\"labels\":[\"economy\",\"politics\"],"
             "\"tokenizer\":{\"mode\":\"unicode\"},\"nn\":{\"rows\":%d,"
             "\"max_len\":1000,\"head\":\"binary\",%s}}",
             arch == KL_ARCH_BILSTM ? "bilstm" : "textcnn", DIM, VOCAB,
             VOCAB + 2,
             arch == KL_ARCH_BILSTM
                 ? "\"lstm\":{\"hidden\":64,\"pool\":\"last\"}"
                 : "\"conv\":{\"widths\":[3,4,5],\"channels\":100}");
    rc = kl_safetensors_write(path, &key, &val, 1, out, nt, err, sizeof err);
    if (rc != KL_OK)
        fprintf(stderr, "bench_nn: %s\n", err);
    free(p);
    free(vocab);
    return rc;
}

/* A fastText-style model file: random input rows, 2 labels. */
static int write_ft(const char *path)
{
    size_t rows = (size_t)VOCAB + FT_BUCKET, vlen;
    float *in = malloc(rows * FT_DIM * sizeof *in);
    float *o = malloc(2 * FT_DIM * sizeof *o);
    char *vocab = vocab_bytes(&vlen), err[256], json[512];
    const char *key = "klabel", *val = json;
    struct kl_st_out out[3];
    int rc;

    for (size_t i = 0; i < rows * FT_DIM; i++)
        in[i] = frand(0.01f);
    for (size_t i = 0; i < 2 * FT_DIM; i++)
        o[i] = frand(0.1f);
    out[0] = (struct kl_st_out){"input", KL_ST_F32, 2, {rows, FT_DIM}, in};
    out[1] = (struct kl_st_out){"output", KL_ST_F32, 2, {2, FT_DIM}, o};
    out[2] = (struct kl_st_out){"vocab", KL_ST_U8, 1, {vlen}, vocab};
    snprintf(json, sizeof json,
             "{\"format\":1,\"architecture\":\"fasttext\",\"id\":\"bench\","
             "\"loss\":\"softmax\",\"dim\":%d,\"nwords\":%d,\"bucket\":%d,"
             "\"word_ngrams\":2,\"labels\":[\"economy\",\"politics\"],"
             "\"tokenizer\":{\"mode\":\"unicode\"}}", FT_DIM, VOCAB,
             FT_BUCKET);
    rc = kl_safetensors_write(path, &key, &val, 1, out, 3, err, sizeof err);
    if (rc != KL_OK)
        fprintf(stderr, "bench_nn: %s\n", err);
    free(in);
    free(o);
    free(vocab);
    return rc;
}

/* n feature sets of a text of `tokens` tokens: token ids for neural
 * models, 2 * tokens - 1 rows (words and bigrams) for fastText. */
static struct kl_features *make_feats(int ft, size_t n, size_t tokens)
{
    struct kl_features *f = calloc(n, sizeof *f);

    for (size_t i = 0; i < n; i++) {
        size_t m = ft ? 2 * tokens - 1 : tokens;
        kl_features_init(&f[i]);
        f[i].ids = malloc(m * sizeof(int32_t));
        f[i].n = f[i].cap = m;
        f[i].ntokens = tokens;
        for (size_t j = 0; j < m; j++)
            f[i].ids[j] = ft ? (int32_t)(j < tokens ? irand(VOCAB)
                                                    : VOCAB + irand(FT_BUCKET))
                             : (int32_t)(2 + irand(VOCAB));
    }
    return f;
}

/* Events per CPU second at batch size b; *wall gets events per wall
 * second (best rounds of each). */
static double throughput(const struct kl_model *m, int ft, size_t tokens,
                         size_t b, double *wall)
{
    size_t pool = b < 256 ? 256 : b; /* distinct texts to cycle through */
    struct kl_features *f = make_feats(ft, pool, tokens);
    const struct kl_features **fp = malloc(pool * sizeof *fp);
    struct kl_prediction *pred = malloc(b * sizeof *pred);
    struct kl_scratch s;
    double best = 0;

    *wall = 0;
    kl_scratch_init(&s);
    for (size_t i = 0; i < pool; i++)
        fp[i] = &f[i];
    kl_model_predict_batch(m, fp, b, 1, 0.0f, &s, pred); /* warm up */
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now_s(), c0 = cpu_s(), el;
        size_t events = 0, at = 0;
        do {
            if (at + b > pool)
                at = 0;
            kl_model_predict_batch(m, fp + at, b, 1, 0.0f, &s, pred);
            at += b;
            events += b;
            el = cpu_s() - c0;
        } while (el < MIN_S);
        best = fmax(best, (double)events / el);
        *wall = fmax(*wall, (double)events / (now_s() - t0));
    }
    for (size_t i = 0; i < pool; i++)
        kl_features_fini(&f[i]);
    free(f);
    free(fp);
    free(pred);
    kl_scratch_fini(&s);
    return best;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* p50 and p99 (ms) of single-event batches of `tokens` tokens: q[0..1]
 * in CPU time, q[2..3] in wall time. */
static void latency(const struct kl_model *m, int ft, size_t tokens,
                    double *q)
{
    struct kl_features *f = make_feats(ft, 64, tokens);
    double *t = malloc(LAT_CALLS * sizeof *t);
    double *w = malloc(LAT_CALLS * sizeof *w);
    struct kl_prediction pred;
    struct kl_scratch s;

    kl_scratch_init(&s);
    for (int i = 0; i < 200; i++) { /* warm up */
        const struct kl_features *fp = &f[i % 64];
        kl_model_predict_batch(m, &fp, 1, 1, 0.0f, &s, &pred);
    }
    for (int i = 0; i < LAT_CALLS; i++) {
        const struct kl_features *fp = &f[i % 64];
        double t0 = now_s(), c0 = cpu_s();
        kl_model_predict_batch(m, &fp, 1, 1, 0.0f, &s, &pred);
        t[i] = (cpu_s() - c0) * 1e3;
        w[i] = (now_s() - t0) * 1e3;
    }
    qsort(t, LAT_CALLS, sizeof *t, cmp_d);
    qsort(w, LAT_CALLS, sizeof *w, cmp_d);
    q[0] = t[LAT_CALLS / 2];
    q[1] = t[LAT_CALLS * 99 / 100];
    q[2] = w[LAT_CALLS / 2];
    q[3] = w[LAT_CALLS * 99 / 100];
    free(w);
    for (int i = 0; i < 64; i++)
        kl_features_fini(&f[i]);
    free(f);
    free(t);
    kl_scratch_fini(&s);
}

int main(int argc, char **argv)
{
    static const char *names[] = {"bilstm", "textcnn", "fastText-style"};
    static const size_t lens[] = {40, 200}, batches[] = {1, 32, 256};
    struct kl_model *m[3] = {NULL, NULL, NULL};
    char path[3][512], err[512];
    cJSON *root = cJSON_CreateObject(), *rows, *lat, *lm;
    FILE *fp;
    char *txt;
    int rc = 1;

    if (argc != 3) {
        fprintf(stderr, "usage: bench_nn WORKDIR OUT.json\n");
        return 2;
    }
    openblas_set_num_threads(1);
    for (int i = 0; i < 3; i++) {
        snprintf(path[i], sizeof path[i], "%s/bench-%d.safetensors", argv[1],
                 i);
        if ((i < 2 ? write_nn(path[i], i == 0 ? KL_ARCH_BILSTM
                                               : KL_ARCH_TEXTCNN)
                   : write_ft(path[i])) != KL_OK)
            goto out;
        if (kl_model_open(path[i], &m[i], err, sizeof err) != KL_OK) {
            fprintf(stderr, "bench_nn: %s\n", err);
            goto out;
        }
    }
    cJSON_AddNumberToObject(root, "vocab", VOCAB);
    cJSON_AddNumberToObject(root, "dim", DIM);
    cJSON_AddNumberToObject(root, "hidden", HIDDEN);
    cJSON_AddNumberToObject(root, "rounds", ROUNDS);
    cJSON_AddNumberToObject(root, "min_seconds", MIN_S);
    rows = cJSON_AddArrayToObject(root, "rows");
    printf("events per CPU second (per wall second)\n%-15s %6s %18s %18s "
           "%18s %8s\n", "model", "tokens", "batch 1", "batch 32",
           "batch 256", "256 / 1");
    for (int i = 0; i < 3; i++)
        for (size_t l = 0; l < 2; l++) {
            cJSON *r = cJSON_CreateObject(), *e, *ew;
            double ev[3], wv[3];
            cJSON_AddItemToArray(rows, r);
            cJSON_AddStringToObject(r, "model", names[i]);
            cJSON_AddNumberToObject(r, "tokens", (double)lens[l]);
            e = cJSON_AddObjectToObject(r, "events_per_s");
            ew = cJSON_AddObjectToObject(r, "events_per_wall_s");
            for (size_t b = 0; b < 3; b++) {
                char k[8];
                ev[b] = throughput(m[i], i == 2, lens[l], batches[b], &wv[b]);
                snprintf(k, sizeof k, "%zu", batches[b]);
                cJSON_AddNumberToObject(e, k, round(ev[b]));
                cJSON_AddNumberToObject(ew, k, round(wv[b]));
            }
            printf("%-15s %6zu %9.0f (%6.0f) %9.0f (%6.0f) %9.0f (%6.0f) "
                   "%7.1fx\n", names[i], lens[l], ev[0], wv[0], ev[1], wv[1],
                   ev[2], wv[2], ev[2] / ev[0]);
            fflush(stdout);
        }
    lat = cJSON_AddObjectToObject(root, "latency");
    cJSON_AddNumberToObject(lat, "tokens", 40);
    cJSON_AddNumberToObject(lat, "calls", LAT_CALLS);
    lm = cJSON_AddObjectToObject(lat, "models");
    for (int i = 0; i < 3; i++) {
        double q[4];
        cJSON *o = cJSON_AddObjectToObject(lm, names[i]);
        latency(m[i], i == 2, 40, q);
        cJSON_AddNumberToObject(o, "p50_ms", round(q[0] * 1e4) / 1e4);
        cJSON_AddNumberToObject(o, "p99_ms", round(q[1] * 1e4) / 1e4);
        cJSON_AddNumberToObject(o, "wall_p50_ms", round(q[2] * 1e4) / 1e4);
        cJSON_AddNumberToObject(o, "wall_p99_ms", round(q[3] * 1e4) / 1e4);
        printf("latency %-15s batch 1, 40 tokens: CPU p50 %.3f ms p99 %.3f "
               "ms; wall p50 %.3f ms p99 %.3f ms\n", names[i], q[0], q[1],
               q[2], q[3]);
    }
    txt = cJSON_Print(root);
    if ((fp = fopen(argv[2], "w")) == NULL) {
        free(txt);
        goto out;
    }
    fputs(txt, fp);
    fputc('\n', fp);
    fclose(fp);
    free(txt);
    rc = 0;
out:
    for (int i = 0; i < 3; i++) {
        kl_model_destroy(m[i]);
        remove(path[i]);
    }
    cJSON_Delete(root);
    return rc;
}
