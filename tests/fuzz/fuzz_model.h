/*
 * tests/fuzz/fuzz_model.h: what the model fuzzers (fuzz_safetensors.c,
 * fuzz_fasttext.c) share: the bytes of one input as a file kl_model_open()
 * can read (fuzz_file.h), and the checks every model that opens must pass
 * on a fixed set of texts: featurization returns a documented code,
 * prediction succeeds (batch and one by one, identical), labels are in
 * range and distinct, probabilities finite, in [0, 1], best first, a
 * softmax sums to at most 1 + 1e-5, and explanations (linear models,
 * softmax / one-vs-all) stay inside their buffers, tensor descriptions fit
 * in the file. A failed check aborts, which libFuzzer reports as a crash.
 * Header-only: each fuzzer is one translation unit.
 */
#ifndef KL_FUZZ_MODEL_H
#define KL_FUZZ_MODEL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cblas.h>

#include "fuzz_file.h"
#include "klabel/engine.h"

/* The texts every opened model predicts: plain words of the seed models'
 * training lines, the golden inputs (line ends, unusual spaces, emoji, CJK,
 * invalid UTF-8, NUL bytes, empty), a fastText label token. */
static const struct {
    const char *s;
    size_t n;
} kl_fuzz_texts[] = {
#define T(lit) {lit, sizeof lit - 1}
    T("foo bar"), T("grain corn wheat price"), T("中文 新闻 股票 上涨"),
    T("股市上涨，房价下跌"), T(""), T("\n"), T("\r\n"), T("a\xc2\xa0" "b"),
    T("a\xe2\x80\x89" "b"), T("\xe3\x80\x80中文\xe3\x80\x80"),
    T("\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7 ok"),
    T("\xe2\x9d\xa4\xef\xb8\x8f love"), T("bad \xff\xfe utf8"),
    T("cut \xe4\xb8"), T("nul\0in\0side"), T("__label__a foo"),
    T("Free entry in 2 a wkly comp to win FA Cup final tkts"),
#undef T
};
#define KL_FUZZ_NTEXTS (sizeof kl_fuzz_texts / sizeof kl_fuzz_texts[0])

/* OpenBLAS single-threaded (the input file is fuzz_file.h's
 * kl_fuzz_write()). */
static void kl_fuzz_model_init(void)
{
    openblas_set_num_threads(1);
}

/* The engine maps model files with mmap(), and a read past the end of a
 * file but inside its last page goes unnoticed there. These fuzzers link
 * with -Wl,--wrap=mmap,--wrap=munmap (Makefile), so a read-only mapping of
 * the input's memfd becomes a heap copy of exactly the file's bytes, and
 * ASan reports any read past its end. Other mappings pass through. */
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off);
int __real_munmap(void *addr, size_t len);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off);
int __wrap_munmap(void *addr, size_t len);

#define KL_FUZZ_MAPS 8
static void *kl_fuzz_maps[KL_FUZZ_MAPS]; /* live heap "mappings" */

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off)
{
    struct stat a, b;
    size_t done = 0;
    unsigned char *p;
    int slot = -1;

    if (fd < 0 || kl_fuzz_fd < 0 || off != 0 || (prot & PROT_WRITE) ||
        fstat(fd, &a) != 0 || fstat(kl_fuzz_fd, &b) != 0 ||
        a.st_ino != b.st_ino || a.st_dev != b.st_dev)
        return __real_mmap(addr, len, prot, flags, fd, off);
    for (int i = 0; i < KL_FUZZ_MAPS && slot < 0; i++)
        if (kl_fuzz_maps[i] == NULL)
            slot = i;
    CHECK(slot >= 0, "more than %d live mappings", KL_FUZZ_MAPS);
    p = malloc(len ? len : 1);
    CHECK(p != NULL, "malloc");
    while (done < len) {
        ssize_t r = pread(fd, p + done, len - done, (off_t)done);
        CHECK(r > 0, "pread of the mapped memfd");
        done += (size_t)r;
    }
    kl_fuzz_maps[slot] = p;
    return p;
}

int __wrap_munmap(void *addr, size_t len)
{
    for (int i = 0; i < KL_FUZZ_MAPS; i++)
        if (addr != NULL && kl_fuzz_maps[i] == addr) {
            free(addr);
            kl_fuzz_maps[i] = NULL;
            return 0;
        }
    return __real_munmap(addr, len);
}

/* A failed open: a known code and a reason. */
static void kl_fuzz_check_failed_open(int rc, const struct kl_model *m,
                                      const char *err)
{
    CHECK(m == NULL, "failed open (rc %d) left a model", rc);
    CHECK(rc == KL_EFORMAT || rc == KL_ERANGE || rc == KL_EIO ||
              rc == KL_ENOMEM,
          "open returned %d (%s): %s", rc, kl_strerror(rc), err);
    CHECK(err[0] != '\0', "open failed (%s) without a reason",
          kl_strerror(rc));
}

/* fastText's ranking score of a probability: log(p + 1e-5) in float. */
static float kl_fuzz_score(float p)
{
    return (float)log((double)p + 1e-5);
}

/* One prediction's invariants for a model of nl labels and loss. */
static void kl_fuzz_check_pred(const struct kl_prediction *p, int32_t nl,
                               int k, int loss, const char *what)
{
    double sum = 0.0;

    CHECK(p->k >= 0 && p->k <= k && p->k <= KL_TOPK_MAX,
          "%s: k %d, asked for %d", what, p->k, k);
    for (int i = 0; i < p->k; i++) {
        CHECK(p->label[i] >= 0 && p->label[i] < nl,
              "%s: label %d of %d", what, (int)p->label[i], (int)nl);
        CHECK(isfinite(p->prob[i]) && p->prob[i] >= 0.0f &&
                  p->prob[i] <= 1.0f,
              "%s: probability %g", what, (double)p->prob[i]);
        /* best first by fastText's score, log(p + 1e-5) in float (ties
         * in any order); hierarchical softmax: by probability */
        CHECK(i == 0 || (loss == KL_LOSS_HS
                             ? p->prob[i] <= p->prob[i - 1]
                             : kl_fuzz_score(p->prob[i]) <=
                                   kl_fuzz_score(p->prob[i - 1])),
              "%s: probability %d (%g) above its predecessor (%g)",
              what, i, (double)p->prob[i], (double)p->prob[i - 1]);
        for (int j = 0; j < i; j++)
            CHECK(p->label[j] != p->label[i],
                  "%s: label %d twice", what, (int)p->label[i]);
        sum += p->prob[i];
    }
    if (loss == KL_LOSS_SOFTMAX)
        CHECK(sum <= 1.0 + 1e-5, "%s: softmax sums to %.9g", what,
              sum);
}

/* An explanation's items and names stay inside x's buffers. */
static void kl_fuzz_check_explanation(const struct kl_explanation *x,
                                      size_t top)
{
    CHECK(top == 0 || x->n <= top, "explanation has %zu items, top "
          "%zu", x->n, top);
    for (size_t i = 0; i < x->n; i++) {
        const struct kl_contrib *c = &x->items[i];
        CHECK((size_t)c->off + c->len <= x->names_len &&
                  x->names[c->off + c->len] == '\0',
              "explanation item %zu [%u, +%u) past names (%zu)", i,
              c->off, c->len, x->names_len);
    }
}

/* Every tensor kl_model_tensor() describes lies inside the file of size
 * bytes and names itself. */
static void kl_fuzz_check_tensors(const struct kl_model *m, size_t size)
{
    size_t n = kl_model_tensor_count(m);
    struct kl_tensor_info t;

    for (size_t i = 0; i < n; i++) {
        CHECK(kl_model_tensor(m, i, &t) == KL_OK, "tensor %zu", i);
        CHECK(t.name != NULL && t.dtype != NULL && t.ndim >= 0 &&
                  t.ndim <= 4,
              "tensor %zu: name, dtype or ndim %d", i, t.ndim);
        CHECK(t.offset <= size && t.bytes <= size - t.offset,
              "tensor '%s' [%llu, +%llu) outside %zu bytes", t.name,
              (unsigned long long)t.offset,
              (unsigned long long)t.bytes, size);
    }
    CHECK(kl_model_tensor(m, n, &t) == KL_EINVAL,
          "tensor %zu of %zu described", n, n);
}

/* Feature ids of m lie in [0, bound): nwords + bucket for fastText
 * models, the rows of "embedding.weight" for the neural ones
 * (docs/model-format.md), or -1 when unknown. */
static int64_t kl_fuzz_id_bound(const struct kl_model *m)
{
    const struct kl_model_info *info = kl_model_info(m);
    struct kl_tensor_info t;

    if (info->architecture == NULL ||
        strcmp(info->architecture, "fasttext") == 0)
        return (int64_t)info->nwords + info->bucket;
    for (size_t i = 0; i < kl_model_tensor_count(m); i++)
        if (kl_model_tensor(m, i, &t) == KL_OK &&
            strcmp(t.name, "embedding.weight") == 0 && t.ndim == 2)
            return (int64_t)t.shape[0];
    return -1;
}

/* Featurizes and predicts every text of kl_fuzz_texts with m (batch and
 * one by one), explaining where the loss allows it. Aborts on a broken
 * invariant. */
static void kl_fuzz_exercise_model(const struct kl_model *m)
{
    const struct kl_model_info *info = kl_model_info(m);
    struct kl_features f[KL_FUZZ_NTEXTS];
    const struct kl_features *fp[KL_FUZZ_NTEXTS];
    struct kl_prediction batch[KL_FUZZ_NTEXTS], one;
    struct kl_explanation x[KL_FUZZ_NTEXTS], x1;
    struct kl_scratch s;
    int k = KL_TOPK_MAX, rc;
    /* explanations exist for the linear architecture, without hs */
    int explain = info->loss != KL_LOSS_HS && info->architecture != NULL &&
                  strcmp(info->architecture, "fasttext") == 0;
    int64_t bound = kl_fuzz_id_bound(m);

    CHECK(info->nlabels >= 1 && info->labels != NULL && info->dim >= 1,
          "opened model has %d labels, dim %d", (int)info->nlabels,
          (int)info->dim);
    for (int32_t i = 0; i < info->nlabels; i++)
        CHECK(info->labels[i] != NULL && info->labels[i][0] != '\0',
              "label %d empty", (int)i);
    kl_scratch_init(&s);
    kl_explanation_init(&x1);
    for (size_t t = 0; t < KL_FUZZ_NTEXTS; t++) {
        kl_features_init(&f[t]);
        kl_explanation_init(&x[t]);
        f[t].want_origin = explain;
        rc = kl_model_featurize(m, kl_fuzz_texts[t].s, kl_fuzz_texts[t].n,
                                &f[t]);
        CHECK(rc == KL_OK || rc == KL_EEMPTY || rc == KL_EUTF8,
              "featurize text %zu: %d (%s)", t, rc, kl_strerror(rc));
        CHECK((rc == KL_OK) == (f[t].n > 0),
              "featurize text %zu: rc %d with %zu features", t, rc,
              f[t].n);
        if (rc != KL_OK)
            f[t].n = 0;
        for (size_t j = 0; j < f[t].n; j++)
            CHECK(f[t].ids[j] >= 0 &&
                      (bound < 0 || (int64_t)f[t].ids[j] < bound),
                  "text %zu: feature id %d out of [0, %lld)", t,
                  (int)f[t].ids[j], (long long)bound);
        fp[t] = &f[t];
    }
    rc = kl_model_predict_batch(m, fp, KL_FUZZ_NTEXTS, k, 0.0f, &s, batch);
    CHECK(rc == KL_OK, "predict_batch: %d (%s)", rc, kl_strerror(rc));
    for (size_t t = 0; t < KL_FUZZ_NTEXTS; t++) {
        int kk = k < info->nlabels ? k : info->nlabels;
        kl_fuzz_check_pred(&batch[t], info->nlabels, kk, info->loss, "batch");
        CHECK(f[t].n > 0 || batch[t].k == 0,
              "text %zu without features got %d labels", t,
              batch[t].k);
    }
    if (explain) {
        rc = kl_model_explain_batch(m, fp, KL_FUZZ_NTEXTS, batch, &s, 3, x);
        CHECK(rc == KL_OK, "explain_batch: %d (%s)", rc,
              kl_strerror(rc));
        for (size_t t = 0; t < KL_FUZZ_NTEXTS; t++)
            kl_fuzz_check_explanation(&x[t], 3);
    }
    for (size_t t = 0; t < KL_FUZZ_NTEXTS; t++) {
        rc = kl_model_predict_batch(m, &fp[t], 1, k, 0.0f, &s, &one);
        CHECK(rc == KL_OK, "predict one: %d (%s)", rc,
              kl_strerror(rc));
        CHECK(one.k == batch[t].k, "text %zu: %d labels alone, %d in "
              "the batch", t, one.k, batch[t].k);
        for (int i = 0; i < one.k; i++)
            CHECK(one.label[i] == batch[t].label[i] &&
                      fabsf(one.prob[i] - batch[t].prob[i]) <= 1e-5f,
                  "text %zu: alone %d %g, batch %d %g", t,
                  (int)one.label[i], (double)one.prob[i],
                  (int)batch[t].label[i], (double)batch[t].prob[i]);
        if (explain && f[t].n > 0) {
            rc = kl_model_explain(m, &f[t], info->nlabels - 1, 0, &x1);
            CHECK(rc == KL_OK, "explain: %d (%s)", rc,
                  kl_strerror(rc));
            kl_fuzz_check_explanation(&x1, 0);
        }
    }
    for (size_t t = 0; t < KL_FUZZ_NTEXTS; t++) {
        kl_features_fini(&f[t]);
        kl_explanation_fini(&x[t]);
    }
    kl_explanation_fini(&x1);
    kl_scratch_fini(&s);
}

#endif /* KL_FUZZ_MODEL_H */
