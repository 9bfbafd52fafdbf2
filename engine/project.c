/*
 * engine/project.c: label projections of a linear model's input matrix.
 *
 * A fastText-style model's logits are W_out . mean(rows of the text's
 * features) = mean(W_out . row). Projecting every input row onto the output
 * rows once (kl_model_project_labels(), after open) turns prediction's
 * gather of n rows of dim floats (at dim 64: four cache lines each,
 * scattered over tens of MB, which is what bounds prediction speed) into a
 * gather of n rows of nlabels floats: one cache line each, in a table
 * dim / nlabels times smaller that mostly stays in the CPU's last-level
 * cache.
 *
 * The projection is kept only where it pays: dense (not quantized) input,
 * a projected row (nlabels rounded up to 16 floats, one 64-byte line per
 * 16 labels) at most half as wide as an input row, and a table within the
 * caller's memory budget. Building it reads the whole input matrix once;
 * the mapped rows are then dropped from resident memory. Its logits equal
 * the plain path's up to float rounding (the sum is taken after the dot
 * products instead of before; tests/unit/test_project.c bounds the
 * difference). Without it, or when its memory cannot be had, prediction
 * falls back to the plain path: it is an optimization, never a requirement.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cblas.h>

#include "model.h"
#include "prefetch.h"
#include "project.h"

#define PROJ_LINE 16 /* floats in a 64-byte cache line */
/* The table is allocated on 2 MiB boundaries and advised MADV_HUGEPAGE:
 * prediction touches one line per feature anywhere in it (13 MB for the
 * bench model), and with 4 KiB pages nearly every touch also missed the
 * TLB. `klabel predict` over 500k bench events: 0.71 -> 0.68 s user
 * (best of 5). Where transparent huge pages are off, the advice is
 * ignored and only the alignment remains. */
#define PROJ_HUGE ((size_t)2 << 20)

/* Width of a projected row for nl labels: a whole number of cache lines. */
static size_t proj_stride(size_t nl)
{
    return (nl + PROJ_LINE - 1) / PROJ_LINE * PROJ_LINE;
}

/* Contract in engine.h. */
int kl_model_project_labels(struct kl_model *m, size_t max_bytes)
{
    size_t dim, nl, stride, rows, bytes, rounded;
    float *p;

    if (m == NULL)
        return KL_EINVAL;
    kl_model_unproject(m);
    if (m->nn != NULL || m->input == NULL || m->output == NULL ||
        m->quant.scheme != KL_QUANT_NONE || m->input_rows <= 0 ||
        m->info.dim <= 0 || m->info.nlabels <= 0)
        return KL_OK;
    dim = (size_t)m->info.dim;
    nl = (size_t)m->info.nlabels;
    stride = proj_stride(nl);
    rows = (size_t)m->input_rows;
    if (2 * stride > dim || rows > INT32_MAX ||
        __builtin_mul_overflow(rows, stride * sizeof(float), &bytes) ||
        bytes > max_bytes)
        return KL_OK; /* not worth it, or too large: the plain path */
    rounded = (bytes + PROJ_HUGE - 1) / PROJ_HUGE * PROJ_HUGE;
    if ((p = aligned_alloc(PROJ_HUGE, rounded)) == NULL)
        return KL_OK;
    (void)madvise(p, rounded, MADV_HUGEPAGE);
    memset(p, 0, bytes); /* the padding columns stay 0 */
    kl_model_advise_tensor(m, "input", MADV_SEQUENTIAL); /* read once */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)rows,
                (blasint)nl, (blasint)dim, 1.0f, m->input, (blasint)dim,
                m->output, (blasint)dim, 0.0f, p, (blasint)stride);
    /* Prediction reads the input rows no more: out of resident memory,
     * back to random access for kl_model_explain(). */
    kl_model_advise_tensor(m, "input", MADV_DONTNEED);
    kl_model_advise_tensor(m, "input", MADV_RANDOM);
    m->proj = p;
    m->proj_stride = stride;
    m->info.projection_bytes = bytes;
    return KL_OK;
}

/* Contract in project.h. */
void kl_model_unproject(struct kl_model *m)
{
    if (m == NULL)
        return;
    free(m->proj);
    m->proj = NULL;
    m->proj_stride = 0;
    m->info.projection_bytes = 0;
}

/* Contract in project.h. */
void kl_proj_prefetch(const struct kl_model *m, const struct kl_features *f)
{
    size_t stride = m->proj_stride;

    if (stride == PROJ_LINE) {
        /* up to 16 labels: a row is one whole line (the table starts on
         * a 2 MiB boundary), so one prefetch, one unsigned bound check */
        uint32_t rows = (uint32_t)m->input_rows;

        for (size_t j = 0; j < f->n; j++) {
            uint32_t id = (uint32_t)f->ids[j];

            if (id < rows)
                __builtin_prefetch(m->proj + (size_t)id * PROJ_LINE, 0, 1);
        }
        return;
    }
    for (size_t j = 0; j < f->n; j++) {
        int32_t id = f->ids[j];

        if (id < 0 || id >= m->input_rows)
            continue;
        kl_prefetch_span(m->proj + (size_t)id * stride, stride * sizeof(float));
    }
}

/* acc[0..stride) += r[0..stride); stride is a multiple of 16, so gcc's
 * vectorizer turns the body into whole-line SIMD adds. */
static void add_line(float *restrict acc, const float *restrict r,
                     size_t stride)
{
    for (size_t d = 0; d < stride; d += PROJ_LINE)
        for (size_t k = 0; k < PROJ_LINE; k++)
            acc[d + k] += r[d + k];
}

/* Four floats of a projected row, as one SSE-sized vector (gcc's vector
 * extension: plain adds lane by lane, no reassociation). */
typedef float kl_v4 __attribute__((vector_size(16)));

/* acc[0..16) = the sum of f's rows of a one-line table (stride 16, up to
 * 16 labels), kept in four registers instead of re-stored per row: the
 * same additions in the same order per lane as add_line(). Returns
 * KL_EINVAL for a feature id outside the table. */
static int sum_one_line(const struct kl_model *m, const struct kl_features *f,
                        float *acc)
{
    kl_v4 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};

    for (size_t j = 0; j < f->n; j++) {
        int32_t id = f->ids[j];
        const kl_v4 *r;

        if (id < 0 || id >= m->input_rows)
            return KL_EINVAL;
        r = (const kl_v4 *)(m->proj + (size_t)id * PROJ_LINE);
        a0 += r[0];
        a1 += r[1];
        a2 += r[2];
        a3 += r[3];
    }
    memcpy(acc, &a0, sizeof a0);
    memcpy(acc + 4, &a1, sizeof a1);
    memcpy(acc + 8, &a2, sizeof a2);
    memcpy(acc + 12, &a3, sizeof a3);
    return KL_OK;
}

/* Contract in project.h. */
int kl_proj_logits(const struct kl_model *m, const struct kl_features *f,
                   float *acc, float *z)
{
    size_t stride = m->proj_stride, nl = (size_t)m->info.nlabels;
    float inv;

    if (stride == PROJ_LINE) {
        if (sum_one_line(m, f, acc) != KL_OK)
            return KL_EINVAL;
    } else {
        memset(acc, 0, stride * sizeof *acc);
        for (size_t j = 0; j < f->n; j++) {
            int32_t id = f->ids[j];

            if (id < 0 || id >= m->input_rows)
                return KL_EINVAL;
            add_line(acc, m->proj + (size_t)id * stride, stride);
        }
    }
    inv = (float)(1.0 / (double)f->n);
    for (size_t l = 0; l < nl; l++)
        z[l] = acc[l] * inv;
    return KL_OK;
}

/* Contract in project.h: the same additions in the same order as
 * add_line() makes in the label's lane, then the same product. */
float kl_proj_logit(const struct kl_model *m, const struct kl_features *f,
                    int32_t label)
{
    size_t stride = m->proj_stride;
    float acc = 0.0f;

    for (size_t j = 0; j < f->n; j++)
        acc += m->proj[(size_t)f->ids[j] * stride + (size_t)label];
    return acc * (float)(1.0 / (double)f->n);
}
