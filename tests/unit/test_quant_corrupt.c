/*
 * tests/unit/test_quant_corrupt.c: quantized files whose header or
 * tensors were edited are rejected at open with a reason (fixture:
 * quant_fixture.h): int8 with a NaN or negative scale, input.q reshaped,
 * input.scale stored as I32 or missing, no quant metadata, an unknown
 * scheme; pq with an infinite centroid, a dsub that does not divide dim,
 * no quant metadata.
 */
#include "quant_fixture.h"

TestSuite(quant, .init = setup, .fini = teardown);

/* ------------------------------------------------- corrupted files */

/* The file at src rewritten to dst with its header edited by fn (the
 * data bytes copied; fn may also poke them through data). */
typedef void (*edit_fn)(cJSON *header, cJSON *meta, unsigned char *data);

static void rewrite(const char *src, const char *dst, edit_fn fn)
{
    FILE *fp = fopen(src, "rb");
    uint64_t hl, size, dlen;
    char *hdr, *js, *ms;
    unsigned char *data;
    cJSON *h, *md, *meta;

    cr_assert_not_null(fp);
    fseek(fp, 0, SEEK_END);
    size = (uint64_t)ftell(fp);
    rewind(fp);
    cr_assert_eq(fread(&hl, 8, 1, fp), 1);
    dlen = size - 8 - hl;
    hdr = calloc(1, hl + 1);
    data = malloc(dlen);
    cr_assert_eq(fread(hdr, 1, hl, fp), hl);
    cr_assert_eq(fread(data, 1, dlen, fp), dlen);
    fclose(fp);
    h = cJSON_Parse(hdr);
    md = cJSON_GetObjectItem(h, "__metadata__");
    meta = cJSON_Parse(cJSON_GetObjectItem(md, "klabel")->valuestring);
    fn(h, meta, data);
    ms = cJSON_PrintUnformatted(meta);
    cJSON_ReplaceItemInObject(md, "klabel", cJSON_CreateString(ms));
    js = cJSON_PrintUnformatted(h);
    hl = strlen(js);
    while ((8 + hl) % 64 != 0)
        hl++;
    fp = fopen(dst, "wb");
    fwrite(&hl, 8, 1, fp);
    fwrite(js, 1, strlen(js), fp);
    for (size_t i = strlen(js); i < hl; i++)
        fputc(' ', fp);
    fwrite(data, 1, dlen, fp);
    fclose(fp);
    cJSON_free(ms);
    cJSON_free(js);
    cJSON_Delete(meta);
    cJSON_Delete(h);
    free(hdr);
    free(data);
}

/* Start of tensor name's bytes in data. */
static unsigned char *tdata(cJSON *h, unsigned char *data, const char *name)
{
    cJSON *o = cJSON_GetObjectItem(cJSON_GetObjectItem(h, name),
                                   "data_offsets");
    return data + (size_t)cJSON_GetArrayItem(o, 0)->valuedouble;
}

static void identity(cJSON *h, cJSON *meta, unsigned char *data)
{
    (void)h;
    (void)meta;
    (void)data;
}

static void nan_scale(cJSON *h, cJSON *meta, unsigned char *data)
{
    float v = NAN;
    (void)meta;
    memcpy(tdata(h, data, "input.scale") + 4 * 3, &v, 4);
}

static void negative_scale(cJSON *h, cJSON *meta, unsigned char *data)
{
    float v = -0.5f;
    (void)meta;
    memcpy(tdata(h, data, "input.scale"), &v, 4);
}

static void reshape_q(cJSON *h, cJSON *meta, unsigned char *data)
{
    cJSON *s = cJSON_GetObjectItem(cJSON_GetObjectItem(h, "input.q"), "shape");
    double rows = cJSON_GetArrayItem(s, 0)->valuedouble;
    (void)meta;
    (void)data;
    /* same byte count, wrong shape: (rows * 2, dim / 2) */
    cJSON_ReplaceItemInArray(s, 0, cJSON_CreateNumber(rows * 2));
    cJSON_ReplaceItemInArray(s, 1, cJSON_CreateNumber(8));
}

static void scale_as_i32(cJSON *h, cJSON *meta, unsigned char *data)
{
    (void)meta;
    (void)data;
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(h, "input.scale"), "dtype",
                              cJSON_CreateString("I32"));
}

static void drop_quant_meta(cJSON *h, cJSON *meta, unsigned char *data)
{
    (void)h;
    (void)data;
    cJSON_DeleteItemFromObject(meta, "quant");
}

static void bad_scheme(cJSON *h, cJSON *meta, unsigned char *data)
{
    (void)h;
    (void)data;
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(meta, "quant"), "scheme",
                              cJSON_CreateString("int4"));
}

static void drop_scale(cJSON *h, cJSON *meta, unsigned char *data)
{
    (void)meta;
    (void)data;
    cJSON_DeleteItemFromObject(h, "input.scale");
}

static void expect_rejected(edit_fn fn, const char *why)
{
    struct kl_model *m = NULL;
    char err[512] = "";

    rewrite(q_path, bad_path, fn);
    cr_assert_eq(kl_model_open(bad_path, &m, err, sizeof err), KL_EFORMAT,
                 "%s: opened (%s)", why, err);
    cr_assert_null(m);
    cr_assert_neq(err[0], '\0');
}

Test(quant, corrupted_int8_tensors_rejected)
{
    struct kl_model *m;

    train(16, 1000);
    m = open_ok(model_path);
    quantize(m, KL_QUANT_INT8, 0);
    kl_model_destroy(m);
    rewrite(q_path, bad_path, identity); /* the rewrite keeps it valid */
    kl_model_destroy(open_ok(bad_path));
    expect_rejected(nan_scale, "NaN scale");
    expect_rejected(negative_scale, "negative scale");
    expect_rejected(reshape_q, "input.q reshaped");
    expect_rejected(scale_as_i32, "input.scale as I32");
    expect_rejected(drop_quant_meta, "tensors without quant metadata");
    expect_rejected(bad_scheme, "unknown scheme");
    expect_rejected(drop_scale, "input.scale missing");
}

static void nan_centroid(cJSON *h, cJSON *meta, unsigned char *data)
{
    float v = INFINITY;
    (void)meta;
    memcpy(tdata(h, data, "input.centroids") + 4 * 100, &v, 4);
}

static void bad_dsub(cJSON *h, cJSON *meta, unsigned char *data)
{
    (void)h;
    (void)data;
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(meta, "quant"), "dsub",
                              cJSON_CreateNumber(3));
}

Test(quant, corrupted_pq_tensors_rejected)
{
    struct kl_model *m;

    train(16, 1000);
    m = open_ok(model_path);
    quantize(m, KL_QUANT_PQ, 0);
    kl_model_destroy(m);
    rewrite(q_path, bad_path, identity); /* the rewrite keeps it valid */
    kl_model_destroy(open_ok(bad_path));
    expect_rejected(nan_centroid, "infinite centroid");
    expect_rejected(bad_dsub, "dsub 3");
    expect_rejected(drop_quant_meta, "tensors without quant metadata");
}
