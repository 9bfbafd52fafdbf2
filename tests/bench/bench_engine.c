/*
 * tests/bench/bench_engine.c: the engine's side of `make bench-engine`
 * (tests/bench/bench_engine.py runs it and fastText, and writes the table).
 *
 *   bench_engine predict MODEL TEXTS [rounds=3] [batch=256] [proj_mb=0]
 *     In-process batched prediction on one thread, I/O excluded: the lines
 *     of TEXTS are read into memory first, then each round featurizes and
 *     predicts (top 1) all of them in batches; best round. Reports docs/s
 *     for featurize + predict (by thread CPU time, and by wall time) and
 *     the CPU time split between the two. proj_mb > 0 first builds label
 *     projections within that many MiB (kl_model_project_labels(), what
 *     the stage does with model.projection.max.mb), so that the figures
 *     are the stage's prediction path; "projection_bytes" says whether
 *     they were built.
 *
 *   bench_engine memory MODEL TEXTS
 *     kl_model_open() time with the file evicted from the page cache
 *     (posix_fadvise DONTNEED, checked with mincore) and warm (5 opens),
 *     then resident memory (VmRSS, RssFile, RssAnon of /proc/self/status)
 *     after opening and after predicting the first 1, 100 and 10,000 lines,
 *     beside the distinct input rows and 4 KiB file pages those lines
 *     touched.
 *
 * Prints one JSON object on stdout.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>

#include "klabel/engine.h"

#define BATCH_MAX 1024
#define PAGE 4096u

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU time of this thread: on a shared machine wall time counts the time
 * other processes held the core; CPU time counts the work done. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Lines of path (without '\n'), owned by the caller; exits on error. */
static char **read_lines(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "r");
    char *line = NULL, **t = NULL;
    size_t cap = 0, tcap = 0;
    ssize_t got;

    *n = 0;
    if (fp == NULL) {
        perror(path);
        exit(1);
    }
    while ((got = getline(&line, &cap, fp)) > 0) {
        if (line[got - 1] == '\n')
            line[got - 1] = '\0';
        if (*n == tcap) {
            tcap = tcap ? tcap * 2 : 1024;
            t = realloc(t, tcap * sizeof *t);
        }
        t[(*n)++] = strdup(line);
    }
    free(line);
    fclose(fp);
    return t;
}

static struct kl_model *open_or_die(const char *path)
{
    struct kl_model *m = NULL;
    char err[1024];

    if (kl_model_open(path, &m, err, sizeof err) != KL_OK) {
        fprintf(stderr, "bench_engine: %s\n", err);
        exit(1);
    }
    return m;
}

/* ------------------------------------------------------------ predict */

static int cmd_predict(const char *model, const char *texts, int rounds,
                       int batch, long proj_mb)
{
    struct kl_model *m = open_or_die(model);
    struct kl_features f[BATCH_MAX];
    const struct kl_features *pf[BATCH_MAX];
    struct kl_prediction pred[BATCH_MAX];
    struct kl_scratch s;
    size_t n;
    char **t = read_lines(texts, &n);
    double best = 1e30, best_wall = 0, best_feat = 0, best_pred = 0;
    long long checksum = 0;

    if (proj_mb > 0)
        kl_model_project_labels(m, (size_t)proj_mb << 20);
    kl_scratch_init(&s);
    for (int j = 0; j < batch; j++) {
        kl_features_init(&f[j]);
        pf[j] = &f[j];
    }
    for (int r = 0; r < rounds; r++) {
        double t_feat = 0, t_pred = 0, t0 = now_s(), c0 = cpu_s();
        checksum = 0;
        for (size_t i = 0; i < n; i += (size_t)batch) {
            size_t nb = n - i < (size_t)batch ? n - i : (size_t)batch;
            double a = cpu_s(), b;
            for (size_t j = 0; j < nb; j++)
                if (kl_model_featurize(m, t[i + j], strlen(t[i + j]),
                                       &f[j]) != KL_OK)
                    f[j].n = 0; /* no features: predicts nothing */
            b = cpu_s();
            if (kl_model_predict_batch(m, pf, nb, 1, 0.0f, &s, pred) !=
                KL_OK) {
                fprintf(stderr, "bench_engine: predict failed\n");
                return 1;
            }
            t_pred += cpu_s() - b;
            t_feat += b - a;
            for (size_t j = 0; j < nb; j++)
                checksum += pred[j].k ? pred[j].label[0] : -1;
        }
        if (cpu_s() - c0 < best) {
            best = cpu_s() - c0;
            best_wall = now_s() - t0;
            best_feat = t_feat;
            best_pred = t_pred;
        }
    }
    printf("{\"model\": \"%s\", \"docs\": %zu, \"batch\": %d, \"rounds\": %d, "
           "\"cpu_s\": %.6f, \"wall_s\": %.6f, \"docs_per_s\": %.1f, "
           "\"docs_per_wall_s\": %.1f, \"featurize_s\": %.6f, "
           "\"predict_s\": %.6f, \"predict_only_docs_per_s\": %.1f, "
           "\"quant\": %d, \"projection_bytes\": %zu, \"checksum\": %lld}\n",
           model, n, batch, rounds, best, best_wall, (double)n / best,
           (double)n / best_wall, best_feat,
           best_pred, (double)n / best_pred, kl_model_info(m)->quant,
           kl_model_info(m)->projection_bytes, checksum);
    for (int j = 0; j < batch; j++)
        kl_features_fini(&f[j]);
    kl_scratch_fini(&s);
    for (size_t i = 0; i < n; i++)
        free(t[i]);
    free(t);
    kl_model_destroy(m);
    return 0;
}

/* ------------------------------------------------------------- memory */

struct rss {
    long vm, file, anon; /* kB */
};

static struct rss rss_now(void)
{
    struct rss r = {-1, -1, -1};
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];

    while (fp && fgets(line, sizeof line, fp)) {
        sscanf(line, "VmRSS: %ld", &r.vm);
        sscanf(line, "RssFile: %ld", &r.file);
        sscanf(line, "RssAnon: %ld", &r.anon);
    }
    if (fp)
        fclose(fp);
    return r;
}

/* Pages of path in the page cache (mincore over a fresh mapping). */
static long cached_pages(const char *path, long *total)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    unsigned char *vec;
    void *p;
    long n = 0;

    *total = 0;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0)
        return -1;
    *total = (long)((st.st_size + PAGE - 1) / PAGE);
    p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    vec = malloc((size_t)*total);
    if (p != MAP_FAILED && vec && mincore(p, (size_t)st.st_size, vec) == 0)
        for (long i = 0; i < *total; i++)
            n += vec[i] & 1;
    free(vec);
    if (p != MAP_FAILED)
        munmap(p, (size_t)st.st_size);
    close(fd);
    return n;
}

static void evict(const char *path)
{
    int fd = open(path, O_RDONLY);

    if (fd >= 0) {
        fdatasync(fd);
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
}

/* File offset and bytes per row of the model's input matrix (dense or
 * quantized rows), from the tensor listing. */
static void input_layout(const struct kl_model *m, uint64_t *off,
                         uint64_t *row_bytes)
{
    struct kl_tensor_info t;

    *off = 0;
    *row_bytes = 0;
    for (size_t i = 0; i < kl_model_tensor_count(m); i++)
        if (kl_model_tensor(m, i, &t) == KL_OK && t.ndim == 2 &&
            (!strcmp(t.name, "input") || !strcmp(t.name, "input.q") ||
             !strcmp(t.name, "input.codes"))) {
            *off = t.offset;
            *row_bytes = t.shape[0] ? t.bytes / t.shape[0] : 0;
        }
}

struct touch {
    unsigned char *rows, *pages; /* bitmaps */
    long nrows, npages;
    uint64_t off, row_bytes;
};

static void mark(unsigned char *bm, uint64_t i, long *count)
{
    if (!(bm[i >> 3] & (1u << (i & 7)))) {
        bm[i >> 3] |= (unsigned char)(1u << (i & 7));
        (*count)++;
    }
}

/* Predicts lines [from, to) in batches of 256, marking rows and pages. */
static void predict_range(const struct kl_model *m, char **t, size_t from,
                          size_t to, struct kl_features *f,
                          struct kl_scratch *s, struct touch *tc)
{
    const struct kl_features *pf[256];
    struct kl_prediction pred[256];

    for (size_t i = from; i < to; i += 256) {
        size_t nb = to - i < 256 ? to - i : 256;
        for (size_t j = 0; j < nb; j++) {
            pf[j] = &f[j];
            if (kl_model_featurize(m, t[i + j], strlen(t[i + j]), &f[j]))
                f[j].n = 0;
            for (size_t k = 0; k < f[j].n; k++) {
                uint64_t id = (uint64_t)f[j].ids[k];
                uint64_t a = tc->off + id * tc->row_bytes;
                mark(tc->rows, id, &tc->nrows);
                for (uint64_t p = a / PAGE; p <= (a + tc->row_bytes - 1) / PAGE;
                     p++)
                    mark(tc->pages, p, &tc->npages);
            }
        }
        kl_model_predict_batch(m, pf, nb, 1, 0.0f, s, pred);
    }
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmd_memory(const char *model, const char *texts)
{
    static const size_t stage[] = {1, 100, 10000};
    struct kl_features f[256];
    struct kl_scratch s;
    struct touch tc;
    struct rss r0, r1, rs[3];
    struct stat st;
    struct kl_model *m;
    double t0, cold, warm[5];
    long total, before_cold, after_evict;
    size_t n, done = 0, docs[3];
    long rows[3], pages[3];
    char **t = read_lines(texts, &n);

    if (stat(model, &st) != 0) {
        perror(model);
        return 1;
    }
    memset(&tc, 0, sizeof tc);
    for (int j = 0; j < 256; j++)
        kl_features_init(&f[j]);
    kl_scratch_init(&s);
    before_cold = cached_pages(model, &total);
    evict(model);
    after_evict = cached_pages(model, &total);
    t0 = now_s();
    m = open_or_die(model);
    cold = now_s() - t0;
    kl_model_destroy(m);
    for (int i = 0; i < 5; i++) {
        t0 = now_s();
        m = open_or_die(model);
        warm[i] = now_s() - t0;
        kl_model_destroy(m);
    }
    qsort(warm, 5, sizeof warm[0], cmp_d);
    /* bitmaps and scratch before the baseline, so they are not counted */
    tc.rows = calloc(((size_t)INT32_MAX >> 3) / 8 + 1, 8);
    tc.pages = calloc((size_t)(st.st_size / PAGE) / 8 + 2, 1);
    evict(model); /* RSS from a cold cache: faults read only what is used */
    r0 = rss_now();
    m = open_or_die(model);
    r1 = rss_now();
    input_layout(m, &tc.off, &tc.row_bytes);
    for (int k = 0; k < 3; k++) {
        size_t to = stage[k] < n ? stage[k] : n;
        predict_range(m, t, done, to, f, &s, &tc);
        done = to;
        rs[k] = rss_now();
        docs[k] = done;
        rows[k] = tc.nrows;
        pages[k] = tc.npages;
    }
    printf("{\"model\": \"%s\", \"file_bytes\": %lld, \"file_pages\": %ld, "
           "\"input_offset\": %llu, \"input_row_bytes\": %llu, "
           "\"cached_pages_before_evict\": %ld, "
           "\"cached_pages_after_evict\": %ld, \"open_cold_ms\": %.3f, "
           "\"open_warm_ms_min\": %.3f, \"open_warm_ms_median\": %.3f, "
           "\"rss_kb_before_open\": {\"vm\": %ld, \"file\": %ld, \"anon\": %ld}, "
           "\"rss_kb_after_open\": {\"vm\": %ld, \"file\": %ld, \"anon\": %ld}, "
           "\"after_docs\": [",
           model, (long long)st.st_size, total,
           (unsigned long long)tc.off, (unsigned long long)tc.row_bytes,
           before_cold, after_evict, cold * 1e3, warm[0] * 1e3, warm[2] * 1e3,
           r0.vm, r0.file, r0.anon, r1.vm, r1.file, r1.anon);
    for (int k = 0; k < 3; k++)
        printf("%s{\"docs\": %zu, \"rows_touched\": %ld, "
               "\"pages_touched\": %ld, \"rss_kb\": {\"vm\": %ld, "
               "\"file\": %ld, \"anon\": %ld}}", k ? ", " : "", docs[k],
               rows[k], pages[k], rs[k].vm, rs[k].file, rs[k].anon);
    printf("]}\n");
    kl_model_destroy(m);
    for (int j = 0; j < 256; j++)
        kl_features_fini(&f[j]);
    kl_scratch_fini(&s);
    free(tc.rows);
    free(tc.pages);
    for (size_t i = 0; i < n; i++)
        free(t[i]);
    free(t);
    return 0;
}

int main(int argc, char **argv)
{
    openblas_set_num_threads(1);
    if (argc >= 4 && !strcmp(argv[1], "predict")) {
        int rounds = argc > 4 ? atoi(argv[4]) : 3;
        int batch = argc > 5 ? atoi(argv[5]) : 256;
        long proj_mb = argc > 6 ? atol(argv[6]) : 0;
        if (rounds < 1 || batch < 1 || batch > BATCH_MAX || proj_mb < 0 ||
            proj_mb > 1048576)
            return 2;
        return cmd_predict(argv[2], argv[3], rounds, batch, proj_mb);
    }
    if (argc == 4 && !strcmp(argv[1], "memory"))
        return cmd_memory(argv[2], argv[3]);
    fprintf(stderr, "usage: bench_engine predict MODEL TEXTS [rounds] [batch] [proj_mb]\n"
                    "       bench_engine memory MODEL TEXTS\n");
    return 2;
}
