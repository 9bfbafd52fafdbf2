/*
 * tests/unit/test_quant.c: quantized input matrices (engine/quant.c,
 * engine/quant_write.c, engine/quant_pq.c) and the tensor listing
 * (engine/tensors.c): int8 round-trip error bounds per row, product
 * quantization, quantized prediction close to float prediction, the
 * --cutoff prune and the size ratio on a trained model. Models are trained
 * with kl_train_file() on a synthetic three-topic set (quant_fixture.h);
 * corrupted quantized files: test_quant_corrupt.c.
 */
#include "quant_fixture.h"

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

/* Trains a float model, quantizes it with scheme and checks that the two
 * predict alike: top-1 agreement >= min_agree, probabilities within
 * max_diff, hidden vectors within max_hid (relative). */
static void prediction_close(int scheme, double min_agree, double max_diff,
                             double max_hid)
{
    struct kl_model *m, *q;
    double agree, maxdiff;

    train(32, 20000);
    m = open_ok(model_path);
    quantize(m, scheme, 0);
    q = open_ok(q_path);
    compare(m, q, &agree, &maxdiff);
    cr_assert_geq(agree, min_agree, "top-1 agreement %g", agree);
    cr_assert_lt(maxdiff, max_diff, "largest probability difference %g",
                 maxdiff);
    cr_assert_lt(hid_rel, max_hid, "hidden vectors differ by %g", hid_rel);
    kl_model_destroy(q);
    kl_model_destroy(m);
}

Test(quant, int8_prediction_close_to_float)
{
    prediction_close(KL_QUANT_INT8, 0.99, 0.02, 0.02);
}

Test(quant, pq_prediction_close_to_float)
{
    prediction_close(KL_QUANT_PQ, 0.95, 0.15, 0.08);
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
