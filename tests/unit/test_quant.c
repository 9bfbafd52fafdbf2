/*
 * tests/unit/test_quant.c: quantized input matrices (engine/quant.c,
 * engine/quant_write.c, engine/quant_pq.c) and the tensor listing
 * (engine/tensors.c): int8 round-trip error bounds per row, product
 * quantization, quantized prediction close to float prediction, the
 * --cutoff prune, corrupted quantized files rejected at open, and the
 * size ratio on a trained model. Models are trained with kl_train_file()
 * on a synthetic three-topic set written here.
 */
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

static void setup(void)
{
    strcpy(dir, "/tmp/kl_test_quant.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(data_path, sizeof data_path, "%s/train.txt", dir);
    snprintf(model_path, sizeof model_path, "%s/model.safetensors", dir);
    snprintf(q_path, sizeof q_path, "%s/q.safetensors", dir);
    snprintf(bad_path, sizeof bad_path, "%s/bad.safetensors", dir);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

/* ------------------------------------------------ synthetic data set */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
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
static void synth_text(char *buf, size_t n, int l)
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

static void write_data(int lines)
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
static void train(int32_t dim, int32_t bucket)
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

static struct kl_model *open_ok(const char *p)
{
    struct kl_model *m = NULL;
    char err[512];

    cr_assert_eq(kl_model_open(p, &m, err, sizeof err), KL_OK, "%s", err);
    return m;
}

static void quantize(const struct kl_model *m, int scheme, int64_t cutoff)
{
    struct kl_quant_opts o;
    char err[512];

    kl_quant_opts_init(&o);
    o.scheme = scheme;
    o.cutoff = cutoff;
    cr_assert_eq(kl_model_quantize(m, &o, q_path, err, sizeof err), KL_OK,
                 "%s", err);
}

static long long fsize(const char *p)
{
    struct stat st;
    cr_assert_eq(stat(p, &st), 0);
    return (long long)st.st_size;
}

/* ---------------------------------------------------------- round trip */

TestSuite(quant, .init = setup, .fini = teardown);

Test(quant, int8_round_trip_error_per_row)
{
    struct kl_model *m, *q;
    float row[32];

    train(32, 2000);
    m = open_ok(model_path);
    quantize(m, KL_QUANT_INT8, 0);
    q = open_ok(q_path);
    cr_assert_eq(kl_model_info(q)->quant, KL_QUANT_INT8);
    cr_assert_null(q->input);
    cr_assert_eq(q->quant.rows, m->input_rows);
    for (int64_t r = 0; r < m->input_rows; r++) {
        const float *x = m->input + (size_t)r * 32;
        float mx = 0.0f, s = q->quant.scale[r];
        for (int d = 0; d < 32; d++)
            mx = fabsf(x[d]) > mx ? fabsf(x[d]) : mx;
        cr_assert_float_eq(s, mx / 127.0f, 1e-7f * (1.0f + mx),
                           "row %lld: scale %g, max %g", (long long)r, s, mx);
        kl_quant_row(&q->quant, r, row);
        for (int d = 0; d < 32; d++) {
            cr_assert_leq(abs(q->quant.q[(size_t)r * 32 + (size_t)d]), 127);
            cr_assert_leq(fabsf(row[d] - x[d]), s * 0.5f + 1e-6f * mx,
                          "row %lld dim %d: %g vs %g (scale %g)",
                          (long long)r, d, row[d], x[d], s);
        }
    }
    kl_model_destroy(q);
    kl_model_destroy(m);
}

Test(quant, pq_rows_close_and_codes_nearest)
{
    struct kl_model *m, *q;
    double err2 = 0.0, norm2 = 0.0;
    float row[16];

    train(16, 3000);
    m = open_ok(model_path);
    quantize(m, KL_QUANT_PQ, 0);
    q = open_ok(q_path);
    cr_assert_eq(kl_model_info(q)->quant, KL_QUANT_PQ);
    cr_assert_eq(q->quant.dsub, 2);
    cr_assert_eq(q->quant.nsubq, 8);
    for (int64_t r = 0; r < m->input_rows; r++) {
        const float *x = m->input + (size_t)r * 16;
        kl_quant_row(&q->quant, r, row);
        for (int j = 0; j < 8; j++) { /* the stored code is the nearest */
            const float *c = q->quant.centroids + (size_t)j * 256 * 2;
            float best = INFINITY, got;
            for (int k = 0; k < 256; k++) {
                float dx = x[2 * j] - c[2 * k], dy = x[2 * j + 1] - c[2 * k + 1];
                best = fminf(best, dx * dx + dy * dy);
            }
            got = (x[2 * j] - row[2 * j]) * (x[2 * j] - row[2 * j]) +
                  (x[2 * j + 1] - row[2 * j + 1]) * (x[2 * j + 1] - row[2 * j + 1]);
            cr_assert_leq(got, best * (1 + 1e-5f) + 1e-12f,
                          "row %lld sub %d: not the nearest centroid",
                          (long long)r, j);
        }
        for (int d = 0; d < 16; d++) {
            err2 += (double)(row[d] - x[d]) * (row[d] - x[d]);
            norm2 += (double)x[d] * x[d];
        }
    }
    /* 256 centroids for 2-D points: the relative error is small */
    cr_assert_lt(sqrt(err2 / norm2), 0.1, "relative error %g",
                 sqrt(err2 / norm2));
    kl_model_destroy(q);
    kl_model_destroy(m);
}

/* ---------------------------------------------------------- prediction */

/* Fraction of texts whose top label agrees between a and b, the largest
 * difference of a label's probability, and the largest relative distance
 * of the hidden vectors |ha - hb| / |ha| (probabilities saturate on
 * separable data; hidden vectors do not). */
static double hid_rel;

static void compare(const struct kl_model *a, const struct kl_model *b,
                    double *agree, double *maxdiff)
{
    size_t dim = (size_t)kl_model_info(a)->dim;

    struct kl_features fa, fb;
    struct kl_scratch sa, sb;
    struct kl_prediction pa, pb;
    const struct kl_features *pfa = &fa, *pfb = &fb;
    char text[256];
    int same = 0, n = 300;

    kl_features_init(&fa);
    kl_features_init(&fb);
    kl_scratch_init(&sa);
    kl_scratch_init(&sb);
    *maxdiff = 0.0;
    hid_rel = 0.0;
    rng_state = 99;
    for (int i = 0; i < n; i++) {
        synth_text(text, sizeof text, (int)rnd(3));
        cr_assert_eq(kl_model_featurize(a, text, strlen(text), &fa), KL_OK);
        cr_assert_eq(kl_model_featurize(b, text, strlen(text), &fb), KL_OK);
        cr_assert_eq(kl_model_predict_batch(a, &pfa, 1, 3, 0.0f, &sa, &pa), 0);
        cr_assert_eq(kl_model_predict_batch(b, &pfb, 1, 3, 0.0f, &sb, &pb), 0);
        same += pa.label[0] == pb.label[0];
        {
            double d2 = 0.0, n2 = 0.0;
            for (size_t d = 0; d < dim; d++) {
                d2 += (double)(sa.hidden[d] - sb.hidden[d]) *
                      (sa.hidden[d] - sb.hidden[d]);
                n2 += (double)sa.hidden[d] * sa.hidden[d];
            }
            if (n2 > 0 && sqrt(d2 / n2) > hid_rel)
                hid_rel = sqrt(d2 / n2);
        }
        for (int k = 0; k < 3; k++)
            for (int l = 0; l < 3; l++)
                if (pa.label[k] == pb.label[l] &&
                    fabs(pa.prob[k] - pb.prob[l]) > *maxdiff)
                    *maxdiff = fabs(pa.prob[k] - pb.prob[l]);
    }
    *agree = (double)same / n;
    kl_scratch_fini(&sa);
    kl_scratch_fini(&sb);
    kl_features_fini(&fa);
    kl_features_fini(&fb);
}

Test(quant, int8_prediction_close_to_float)
{
    struct kl_model *m, *q;
    double agree, maxdiff;

    train(32, 20000);
    m = open_ok(model_path);
    quantize(m, KL_QUANT_INT8, 0);
    q = open_ok(q_path);
    compare(m, q, &agree, &maxdiff);
    cr_assert_geq(agree, 0.99, "top-1 agreement %g", agree);
    cr_assert_lt(maxdiff, 0.02, "largest probability difference %g", maxdiff);
    cr_assert_lt(hid_rel, 0.02, "hidden vectors differ by %g", hid_rel);
    kl_model_destroy(q);
    kl_model_destroy(m);
}

Test(quant, pq_prediction_close_to_float)
{
    struct kl_model *m, *q;
    double agree, maxdiff;

    train(32, 20000);
    m = open_ok(model_path);
    quantize(m, KL_QUANT_PQ, 0);
    q = open_ok(q_path);
    compare(m, q, &agree, &maxdiff);
    cr_assert_geq(agree, 0.95, "top-1 agreement %g", agree);
    cr_assert_lt(maxdiff, 0.15, "largest probability difference %g", maxdiff);
    cr_assert_lt(hid_rel, 0.08, "hidden vectors differ by %g", hid_rel);
    kl_model_destroy(q);
    kl_model_destroy(m);
}

Test(quant, explain_on_quantized_model_sums_to_logit)
{
    struct kl_model *q, *m;
    struct kl_features f;
    struct kl_explanation x;
    struct kl_scratch s;
    struct kl_prediction p;
    const struct kl_features *pf = &f;
    const char *text = "goal match coach the today";
    float logit = 0.0f;

    train(16, 2000);
    m = open_ok(model_path);
    quantize(m, KL_QUANT_INT8, 0);
    q = open_ok(q_path);
    kl_features_init(&f);
    kl_explanation_init(&x);
    kl_scratch_init(&s);
    f.want_origin = 1;
    cr_assert_eq(kl_model_featurize(q, text, strlen(text), &f), KL_OK);
    cr_assert_eq(kl_model_predict_batch(q, &pf, 1, 1, 0.0f, &s, &p), KL_OK);
    cr_assert_eq(kl_model_explain(q, &f, p.label[0], 0, &x), KL_OK);
    for (int d = 0; d < 16; d++)
        logit += s.hidden[d] * q->output[(size_t)p.label[0] * 16 + (size_t)d];
    cr_assert_float_eq(x.logit, logit, 1e-4f * (1.0f + fabsf(logit)));
    kl_scratch_fini(&s);
    kl_explanation_fini(&x);
    kl_features_fini(&f);
    kl_model_destroy(q);
    kl_model_destroy(m);
}

/* ---------------------------------------------------------- size, cutoff */

Test(quant, size_ratio_on_trained_model)
{
    struct kl_model *m;
    long long full, q8, pq, cut;

    train(20, 100000); /* bucket rows dominate, as with real models */
    m = open_ok(model_path);
    full = fsize(model_path);
    quantize(m, KL_QUANT_PQ, 0);
    pq = fsize(q_path);
    quantize(m, KL_QUANT_INT8, 0);
    q8 = fsize(q_path);
    quantize(m, KL_QUANT_INT8, 5000);
    cut = fsize(q_path);
    cr_assert_geq((double)full / (double)pq, 4.0, "pq: %lld -> %lld", full, pq);
    cr_assert_geq((double)full / (double)pq, 7.0, "pq: %lld -> %lld", full, pq);
    /* int8 + one F32 scale per row of 20 floats: 80 / 24 bytes */
    cr_assert_geq((double)full / (double)q8, 3.2, "int8: %lld -> %lld", full, q8);
    cr_assert_geq((double)full / (double)cut, 4.0, "cutoff: %lld -> %lld",
                  full, cut);
    kl_model_destroy(m);
}

Test(quant, cutoff_keeps_rows_of_largest_norm)
{
    struct kl_model *m, *q;
    double agree, maxdiff, min_kept = INFINITY, max_dropped = 0.0;
    const int32_t cutoff = 300;

    train(16, 5000);
    m = open_ok(model_path);
    quantize(m, KL_QUANT_INT8, cutoff);
    q = open_ok(q_path);
    cr_assert_eq(q->input_rows, (int64_t)m->info.nwords + cutoff);
    cr_assert(q->dict.pruned);
    for (int32_t h = 0; h < m->info.bucket; h++) {
        const float *x = m->input + ((size_t)m->info.nwords + (size_t)h) * 16;
        double n2 = 0.0;
        for (int d = 0; d < 16; d++)
            n2 += (double)x[d] * x[d];
        if (kl_dict_prune_find(&q->dict, h) >= 0)
            min_kept = fmin(min_kept, n2);
        else
            max_dropped = fmax(max_dropped, n2);
    }
    cr_assert_geq(min_kept, max_dropped * (1 - 1e-6));
    compare(m, q, &agree, &maxdiff);
    cr_assert_geq(agree, 0.95, "top-1 agreement %g", agree);
    kl_model_destroy(q);
    kl_model_destroy(m);
}

Test(quant, refuses_requantize_and_bad_options)
{
    struct kl_model *m, *q;
    struct kl_quant_opts o;
    char err[512];

    train(16, 1000);
    m = open_ok(model_path);
    quantize(m, KL_QUANT_INT8, 0);
    q = open_ok(q_path);
    kl_quant_opts_init(&o);
    cr_assert_eq(kl_model_quantize(q, &o, bad_path, err, sizeof err),
                 KL_EINVAL);
    cr_assert(strstr(err, "quantized already") != NULL, "%s", err);
    o.scheme = KL_QUANT_PQ;
    o.dsub = 3; /* does not divide 16 */
    cr_assert_eq(kl_model_quantize(m, &o, bad_path, err, sizeof err),
                 KL_EINVAL);
    cr_assert(strstr(err, "dsub") != NULL, "%s", err);
    o.scheme = 7;
    cr_assert_eq(kl_model_quantize(m, &o, bad_path, err, sizeof err),
                 KL_EINVAL);
    cr_assert_eq(access(bad_path, F_OK), -1);
    kl_model_destroy(q);
    kl_model_destroy(m);
}

/* Any dim and row count: the byte tensors come after the float ones, so
 * every float tensor of the written file stays 4-aligned and it opens. */
Test(quant, odd_sizes_stay_aligned)
{
    struct kl_quant_opts o;
    struct kl_model *m, *q;
    char err[512];
    int odd = 0;

    kl_quant_opts_init(&o);
    o.scheme = KL_QUANT_PQ;
    o.dsub = 1; /* 5 one-byte codes a row */
    for (int32_t bucket = 999; bucket <= 1000; bucket++) {
        train(5, bucket);
        m = open_ok(model_path);
        odd |= (int)(m->input_rows % 2);
        quantize(m, KL_QUANT_INT8, 0);
        kl_model_destroy(open_ok(q_path));
        quantize(m, KL_QUANT_INT8, 333); /* odd pruned row count */
        kl_model_destroy(open_ok(q_path));
        cr_assert_eq(kl_model_quantize(m, &o, q_path, err, sizeof err),
                     KL_OK, "%s", err);
        q = open_ok(q_path);
        cr_assert_eq(q->quant.nsubq, 5);
        kl_model_destroy(q);
        kl_model_destroy(m);
    }
    cr_assert(odd, "no odd row count was tried");
}

/* ------------------------------------------------------ tensor listing */

Test(quant, tensor_listing)
{
    struct kl_model *q;
    struct kl_tensor_info t;
    int seen = 0;
    uint64_t sum = 0;

    train(16, 1000);
    q = open_ok(model_path);
    quantize(q, KL_QUANT_INT8, 0);
    kl_model_destroy(q);
    q = open_ok(q_path);
    cr_assert_geq(kl_model_tensor_count(q), 4);
    for (size_t i = 0; i < kl_model_tensor_count(q); i++) {
        cr_assert_eq(kl_model_tensor(q, i, &t), KL_OK);
        sum += t.bytes;
        if (strcmp(t.name, "input.q") == 0) {
            cr_assert_str_eq(t.dtype, "I8");
            cr_assert_eq(t.ndim, 2);
            cr_assert_eq(t.shape[0], (uint64_t)q->input_rows);
            cr_assert_eq(t.shape[1], 16);
            cr_assert_eq(t.bytes, (uint64_t)q->input_rows * 16);
            seen |= 1;
        } else if (strcmp(t.name, "input.scale") == 0) {
            cr_assert_str_eq(t.dtype, "F32");
            cr_assert_eq(t.ndim, 1);
            seen |= 2;
        }
    }
    cr_assert_eq(seen, 3);
    cr_assert_leq(sum, (uint64_t)fsize(q_path));
    cr_assert_eq(kl_model_tensor(q, kl_model_tensor_count(q), &t), KL_EINVAL);
    cr_assert_eq(kl_model_tensor(NULL, 0, &t), KL_EINVAL);
    cr_assert_eq(kl_model_tensor_count(NULL), 0);
    kl_model_destroy(q);
}

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
