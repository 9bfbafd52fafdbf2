/*
 * tests/unit/quant_fixture.h: what test_quant.c and test_quant_corrupt.c
 * share: a temporary folder per test, a synthetic three-topic data set,
 * kl_train_file() on it, opening and quantizing a model. Static: each test
 * binary includes it once.
 */
#ifndef KL_TESTS_QUANT_FIXTURE_H
#define KL_TESTS_QUANT_FIXTURE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>
#include <criterion/criterion.h>

#include "klabel/engine.h"
#include "../../engine/model.h"

static char dir[64];
static char data_path[128], model_path[128], q_path[128], bad_path[128];

static inline void setup(void)
{
    strcpy(dir, "/tmp/kl_test_quant.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(data_path, sizeof data_path, "%s/train.txt", dir);
    snprintf(model_path, sizeof model_path, "%s/model.safetensors", dir);
    snprintf(q_path, sizeof q_path, "%s/q.safetensors", dir);
    snprintf(bad_path, sizeof bad_path, "%s/bad.safetensors", dir);
}

static inline void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

/* ------------------------------------------------ synthetic data set */

static uint64_t rng_state;

static inline uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005u + 1442695040888963407u;
    return (uint32_t)(rng_state >> 33) % n;
}

static const char *const topics[3][8] = {
    {"goal", "match", "coach", "league", "score", "team", "striker", "cup"},
    {"chip", "cloud", "server", "software", "robot", "code", "kernel", "data"},
    {"stock", "bond", "market", "yield", "bank", "fund", "rate", "price"}};
static const char *const noise[6] = {"the", "a", "of", "today", "new", "big"};

/* One text of topic l: 4 topic words, 2 noise words, one stray word. */
static inline void synth_text(char *buf, size_t n, int l)
{
    size_t len = 0;

    buf[0] = '\0';
    for (int i = 0; i < 7; i++) {
        const char *w = i < 4   ? topics[l][rnd(8)]
                        : i < 6 ? noise[rnd(6)]
                                : topics[rnd(3)][rnd(8)];
        len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? " " : "", w);
    }
}

static inline void write_data(int lines)
{
    FILE *fp = fopen(data_path, "w");
    char text[256];

    cr_assert_not_null(fp);
    rng_state = 7;
    for (int i = 0; i < lines; i++) {
        int l = (int)rnd(3);
        synth_text(text, sizeof text, l);
        fprintf(fp, "t%d\t%s\n", l, text);
    }
    fclose(fp);
}

/* Trains the float model at model_path (dim, bucket as given). */
static inline void train(int32_t dim, int32_t bucket)
{
    struct kl_train_opts o;
    char err[512];

    write_data(600);
    kl_train_opts_init(&o);
    o.dim = dim;
    o.bucket = bucket;
    o.epoch = 10;
    o.lr = 0.5f;
    o.word_ngrams = 2;
    cr_assert_eq(kl_train_file(&o, data_path, model_path, err, sizeof err),
                 KL_OK, "%s", err);
}

static inline struct kl_model *open_ok(const char *p)
{
    struct kl_model *m = NULL;
    char err[512];

    cr_assert_eq(kl_model_open(p, &m, err, sizeof err), KL_OK, "%s", err);
    return m;
}

static inline void quantize(const struct kl_model *m, int scheme, int64_t cutoff)
{
    struct kl_quant_opts o;
    char err[512];

    kl_quant_opts_init(&o);
    o.scheme = scheme;
    o.cutoff = cutoff;
    cr_assert_eq(kl_model_quantize(m, &o, q_path, err, sizeof err), KL_OK,
                 "%s", err);
}

static inline long long fsize(const char *p)
{
    struct stat st;
    cr_assert_eq(stat(p, &st), 0);
    return (long long)st.st_size;
}

#endif
