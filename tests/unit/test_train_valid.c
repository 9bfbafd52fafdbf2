/*
 * tests/unit/test_train_valid.c: validation on a held-out file during
 * training (engine/train_valid.c, kl_train_opts.valid_path): the score of
 * every epoch lands in the metadata, labels training never saw and texts
 * without features count as wrong, a malformed line fails with its number,
 * and validating never changes the trained weights.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>
#include <criterion/criterion.h>

#include "klabel/engine.h"

static char dir[64], train_path[128], valid_path[128], m1[128], m2[128];

static void setup(void)
{
    FILE *fp;

    strcpy(dir, "/tmp/kl_test_valid.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(train_path, sizeof train_path, "%s/train.txt", dir);
    snprintf(valid_path, sizeof valid_path, "%s/valid.txt", dir);
    snprintf(m1, sizeof m1, "%s/a.safetensors", dir);
    snprintf(m2, sizeof m2, "%s/b.safetensors", dir);
    fp = fopen(train_path, "w");
    cr_assert_not_null(fp);
    for (int i = 0; i < 200; i++)
        fprintf(fp, i % 2 ? "tech\trobot code on the server %d\n"
                          : "sports\tthe striker scored a goal %d\n", i % 7);
    fclose(fp);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

static void write_file(const char *p, const char *s)
{
    FILE *fp = fopen(p, "w");
    cr_assert_not_null(fp);
    fputs(s, fp);
    fclose(fp);
}

static void opts(struct kl_train_opts *o)
{
    kl_train_opts_init(o);
    o->tok.mode = KL_TOK_UNICODE;
    o->dim = 8;
    o->epoch = 4;
    o->lr = 0.5f;
    o->bucket = 1000;
}

/* The data section of a safetensors file (everything after the header). */
static char *data_section(const char *p, size_t *n)
{
    FILE *fp = fopen(p, "rb");
    uint64_t hl;
    long size;
    char *buf;

    cr_assert_not_null(fp);
    cr_assert_eq(fread(&hl, 8, 1, fp), 1);
    fseek(fp, 0, SEEK_END);
    size = ftell(fp);
    *n = (size_t)size - 8 - (size_t)hl;
    buf = malloc(*n);
    fseek(fp, (long)(8 + hl), SEEK_SET);
    cr_assert_eq(fread(buf, 1, *n, fp), *n);
    fclose(fp);
    return buf;
}

Test(train_valid, scores_land_in_metadata, .init = setup, .fini = teardown)
{
    struct kl_train_opts o;
    struct kl_model *m = NULL;
    char err[512] = "";
    cJSON *meta, *v, *ep;

    write_file(valid_path, "sports\ta goal for the striker\n"
                           "tech\tcode for the robot\n"
                           "\n"
                           "__label__tech server code\n"
                           "weather\tsunny and warm\n"   /* unknown label */
                           "sports\t   \n");             /* no feature */
    opts(&o);
    o.valid_path = valid_path;
    cr_assert_eq(kl_train_file(&o, train_path, m1, err, sizeof err), KL_OK,
                 "%s", err);
    cr_assert_eq(kl_model_open(m1, &m, err, sizeof err), KL_OK, "%s", err);
    meta = cJSON_Parse(kl_model_info(m)->metadata_json);
    cr_assert_not_null(meta);
    v = cJSON_GetObjectItem(cJSON_GetObjectItem(meta, "training"), "validation");
    cr_assert_not_null(v, "%s", kl_model_info(m)->metadata_json);
    cr_expect_str_eq(cJSON_GetObjectItem(v, "file")->valuestring, "valid.txt");
    cr_expect_eq(cJSON_GetObjectItem(v, "examples")->valuedouble, 5);
    cr_expect_eq(cJSON_GetObjectItem(v, "unknown_label")->valuedouble, 1);
    cr_expect_eq(cJSON_GetObjectItem(v, "no_features")->valuedouble, 1);
    /* 3 of 5 can be right: the unknown label and the empty text cannot */
    cr_expect_float_eq(cJSON_GetObjectItem(v, "accuracy")->valuedouble, 0.6,
                       1e-9);
    cr_expect_gt(cJSON_GetObjectItem(v, "loss")->valuedouble, 0.0);
    ep = cJSON_GetObjectItem(v, "epochs");
    cr_assert_eq(cJSON_GetArraySize(ep), 4);
    for (int i = 0; i < 4; i++)
        cr_expect_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(ep, i), "epoch")
                         ->valuedouble, i + 1);
    cJSON_Delete(meta);
    kl_model_destroy(m);
}

Test(train_valid, weights_do_not_change, .init = setup, .fini = teardown)
{
    struct kl_train_opts o;
    char err[512] = "";
    size_t n1, n2;
    char *d1, *d2;

    write_file(valid_path, "sports\tgoal\ntech\trobot\n");
    opts(&o);
    cr_assert_eq(kl_train_file(&o, train_path, m1, err, sizeof err), KL_OK,
                 "%s", err);
    o.valid_path = valid_path;
    cr_assert_eq(kl_train_file(&o, train_path, m2, err, sizeof err), KL_OK,
                 "%s", err);
    d1 = data_section(m1, &n1);
    d2 = data_section(m2, &n2);
    cr_assert_eq(n1, n2);
    cr_expect_eq(memcmp(d1, d2, n1), 0, "validation changed the weights");
    free(d1);
    free(d2);
}

Test(train_valid, malformed_line_is_an_error, .init = setup,
     .fini = teardown)
{
    struct kl_train_opts o;
    char err[512] = "";

    write_file(valid_path, "sports\tgoal\nno label here\n");
    opts(&o);
    o.valid_path = valid_path;
    cr_expect_eq(kl_train_file(&o, train_path, m1, err, sizeof err),
                 KL_EFORMAT);
    cr_expect_not_null(strstr(err, "valid.txt: line 2"), "%s", err);
    cr_expect_neq(access(m1, F_OK), 0, "no model is written");
    o.valid_path = "/nonexistent/valid.txt";
    cr_expect_eq(kl_train_file(&o, train_path, m1, err, sizeof err), KL_EIO);
    write_file(valid_path, "\n\n");
    o.valid_path = valid_path;
    cr_expect_eq(kl_train_file(&o, train_path, m1, err, sizeof err),
                 KL_EEMPTY);
}
