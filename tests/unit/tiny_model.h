/*
 * tests/unit/tiny_model.h: what test_model.c and test_predict.c share: a
 * temporary folder per test and a tiny fastText model written by hand
 * (cJSON safetensors header + raw floats: dim 4, vocab foo bar, 3 buckets,
 * labels pos neg), so that each field can be broken on purpose. Static:
 * each test binary includes it once.
 */
#ifndef KL_TESTS_TINY_MODEL_H
#define KL_TESTS_TINY_MODEL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <criterion/criterion.h>

#include "klabel/engine.h"

static char dir[64];
static char path[128];

static inline void setup(void)
{
    strcpy(dir, "/tmp/kl_test_model.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
}

static inline void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

/* ---------------------------------------------------- a model by hand */

struct tspec {
    const char *name, *dtype;
    int ndim;
    double shape[2];
    double begin, end;
};

#define META_FMT                                                            \
    "{\"format\":1,\"architecture\":\"fasttext\",\"id\":\"tiny\","          \
    "\"version\":\"3\",\"loss\":\"%s\",\"dim\":4,\"nwords\":%d,"            \
    "\"bucket\":3,\"word_ngrams\":1,\"minn\":0,\"maxn\":0,"                 \
    "\"labels\":%s,\"tokenizer\":{\"mode\":\"fasttext\",\"max_tokens\":0}}"

static char meta_buf[1024];

static inline const char *meta(const char *loss, int nwords, const char *labels)
{
    snprintf(meta_buf, sizeof meta_buf, META_FMT, loss, nwords, labels);
    return meta_buf;
}

/* The tensors of the good tiny model: dim 4, vocab foo bar, 3 buckets,
 * labels pos neg. */
static float data_f[5 * 4 + 2 * 4 + 2]; /* input, output, vocab bytes */
static const struct tspec good[] = {
    {"input", "F32", 2, {5, 4}, 0, 80},
    {"output", "F32", 2, {2, 4}, 80, 112},
    {"vocab", "U8", 1, {8, 0}, 112, 120},
};

static inline void fill_data(void)
{
    memset(data_f, 0, sizeof data_f);
    data_f[0] = 1.0f;        /* foo = e0 */
    data_f[4 + 1] = 1.0f;    /* bar = e1 */
    data_f[20 + 0] = 2.0f;   /* pos . hidden = 2 * hidden[0] */
    memcpy(&data_f[28], "foo\0bar\0", 8);
}

/* Writes header (meta may be NULL) + data, with the data starting at an
 * offset that is (align_mod) modulo 8. */
static inline void write_raw(const char *p, const char *meta_json, const struct tspec *t,
                      int nt, const void *data, size_t dlen, int align_mod)
{
    cJSON *h = cJSON_CreateObject();
    char *js;
    size_t len;
    uint64_t hl;
    FILE *fp;

    if (meta_json) {
        cJSON *m = cJSON_AddObjectToObject(h, "__metadata__");
        cJSON_AddStringToObject(m, "klabel", meta_json);
    }
    for (int i = 0; i < nt; i++) {
        cJSON *o = cJSON_AddObjectToObject(h, t[i].name);
        cJSON *s = cJSON_AddArrayToObject(o, "shape");
        cJSON *d = cJSON_AddArrayToObject(o, "data_offsets");
        cJSON_AddStringToObject(o, "dtype", t[i].dtype);
        for (int k = 0; k < t[i].ndim; k++)
            cJSON_AddItemToArray(s, cJSON_CreateNumber(t[i].shape[k]));
        cJSON_AddItemToArray(d, cJSON_CreateNumber(t[i].begin));
        cJSON_AddItemToArray(d, cJSON_CreateNumber(t[i].end));
    }
    js = cJSON_PrintUnformatted(h);
    len = strlen(js);
    hl = len;
    while ((8 + hl) % 8 != (uint64_t)align_mod)
        hl++;
    fp = fopen(p, "wb");
    cr_assert_not_null(fp);
    fwrite(&hl, 8, 1, fp);
    fwrite(js, 1, len, fp);
    for (uint64_t i = len; i < hl; i++)
        fputc(' ', fp);
    fwrite(data, 1, dlen, fp);
    fclose(fp);
    cJSON_free(js);
    cJSON_Delete(h);
}

static inline void write_good(const char *loss)
{
    fill_data();
    write_raw(path, meta(loss, 2, "[\"pos\",\"neg\"]"), good, 3, data_f, 120, 0);
}

#endif
