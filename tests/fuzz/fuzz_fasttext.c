/*
 * tests/fuzz/fuzz_fasttext.c: libFuzzer target for the fastText .bin/.ftz
 * reader (engine/fasttext_read.c, fasttext_quant.c, fasttext_model.c) and
 * prediction over whatever opens. Each input is read three ways:
 *   1. kl_fasttext_read() on the raw bytes: fails with a reason, or gives
 *      a structure whose counts agree with its buffers;
 *   2. kl_model_open() on the bytes with fastText's magic number forced
 *      into the first 4 (so mutations of the magic do not send every input
 *      to the safetensors reader): fails cleanly, or gives a model that
 *      passes fuzz_model.h's checks;
 *   3. such a model saved with kl_model_save() (what `klabel import`
 *      does) and opened again must predict exactly as the original
 *      (unless its words are not UTF-8: then saving fails with a reason).
 * Seeds: fastText-trained models and the committed fixtures
 * (tests/fuzz/make_corpus.sh).
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "fuzz_model.h"
#include "../../engine/fasttext_read.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char save_dir[96];   /* private folder on tmpfs, or /tmp */
static char save_path[128]; /* kl_model_save() target in it */
static uint8_t *buf;        /* the input with the magic forced */
static size_t buf_cap;

/* At exit: the private folder goes. */
static void remove_save_dir(void)
{
    unlink(save_path);
    rmdir(save_dir);
}

/* Once per process: memfd, OpenBLAS threads, a private tmpfs folder (no
 * fsync cost for kl_model_save()). */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    kl_fuzz_model_init();
    snprintf(save_dir, sizeof save_dir, "/dev/shm/kl_fuzz_ft.XXXXXX");
    if (mkdtemp(save_dir) == NULL) {
        snprintf(save_dir, sizeof save_dir, "/tmp/kl_fuzz_ft.XXXXXX");
        CHECK(mkdtemp(save_dir) != NULL, "mkdtemp");
    }
    snprintf(save_path, sizeof save_path, "%s/saved.safetensors", save_dir);
    atexit(remove_save_dir);
    return 0;
}

/* A successful raw read: buffers agree with the counts. */
static void check_read(const struct kl_fasttext *ft)
{
    size_t pos = 0;

    CHECK(ft->nwords >= 0 && ft->nlabels >= 0, "negative counts");
    for (int32_t i = 0; i < ft->nwords; i++) {
        const char *nul = memchr(ft->words + pos, '\0', ft->words_len - pos);
        CHECK(nul != NULL && nul != ft->words + pos,
              "word %d missing or empty", (int)i);
        pos = (size_t)(nul - ft->words) + 1;
    }
    CHECK(pos == ft->words_len, "words: %zu of %zu bytes used", pos,
          ft->words_len);
    CHECK(ft->input.cols == ft->args.dim &&
              ft->output.cols == ft->args.dim,
          "matrix widths %lld %lld, dim %d",
          (long long)ft->input.cols, (long long)ft->output.cols,
          (int)ft->args.dim);
    CHECK((ft->input.data != NULL || ft->input.quantized) &&
              (ft->output.data != NULL || ft->output.quantized),
          "no matrix data");
}

/* Predictions of a and b for the fixed texts are identical. */
static void check_same(const struct kl_model *a, const struct kl_model *b)
{
    struct kl_features f;
    struct kl_scratch s;
    struct kl_prediction pa, pb;
    const struct kl_features *fp = &f;

    kl_features_init(&f);
    kl_scratch_init(&s);
    for (size_t t = 0; t < KL_FUZZ_NTEXTS; t++) {
        int ra = kl_model_featurize(a, kl_fuzz_texts[t].s, kl_fuzz_texts[t].n,
                                    &f);
        if (ra != KL_OK)
            f.n = 0;
        CHECK(kl_model_predict_batch(a, &fp, 1, KL_TOPK_MAX, 0.0f, &s,
                                     &pa) == KL_OK, "predict a");
        int rb = kl_model_featurize(b, kl_fuzz_texts[t].s, kl_fuzz_texts[t].n,
                                    &f);
        if (rb != KL_OK)
            f.n = 0;
        CHECK(ra == rb, "text %zu: featurize %d, after save %d", t,
              ra, rb);
        CHECK(kl_model_predict_batch(b, &fp, 1, KL_TOPK_MAX, 0.0f, &s,
                                     &pb) == KL_OK, "predict b");
        CHECK(pa.k == pb.k, "text %zu: %d labels, after save %d", t,
              pa.k, pb.k);
        for (int i = 0; i < pa.k; i++)
            CHECK(pa.label[i] == pb.label[i] &&
                      memcmp(&pa.prob[i], &pb.prob[i],
                             sizeof(float)) == 0,
                  "text %zu: %d %.9g, after save %d %.9g", t,
                  (int)pa.label[i], (double)pa.prob[i],
                  (int)pb.label[i], (double)pb.prob[i]);
    }
    kl_features_fini(&f);
    kl_scratch_fini(&s);
}

/* kl_model_save() + kl_model_open() keeps m's predictions. */
static void check_save(const struct kl_model *m)
{
    struct kl_model *m2 = NULL;
    char err[1024] = "";
    int rc = kl_model_save(m, save_path, NULL, NULL, err, sizeof err);

    /* a fastText file may hold words that are not UTF-8: it opens, but
     * kl_model_save() refuses it with a reason */
    if (rc == KL_EINVAL && strstr(err, "not valid UTF-8") != NULL)
        return;
    CHECK(rc == KL_OK, "save: %d %s", rc, err);
    rc = kl_model_open(save_path, &m2, err, sizeof err);
    CHECK(rc == KL_OK, "reopen after save: %d %s", rc, err);
    check_same(m, m2);
    kl_model_destroy(m2);
    unlink(save_path);
}

/* One input: the bytes of a fastText model file. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kl_fasttext ft;
    struct kl_model *m = NULL;
    char err[1024] = "";
    int32_t magic = KL_FT_MAGIC;
    int rc;

    /* 1. the raw reader; the copy is exact-size so ASan sees overreads */
    uint8_t *raw = malloc(size ? size : 1);
    CHECK(raw != NULL, "malloc");
    memcpy(raw, data, size);
    rc = kl_fasttext_read(raw, size, "fuzz.bin", &ft, err, sizeof err);
    if (rc == KL_OK)
        check_read(&ft);
    else
        CHECK((rc == KL_EFORMAT || rc == KL_ERANGE ||
               rc == KL_ENOMEM) && err[0] != '\0',
              "read: %d (%s) reason \"%s\"", rc, kl_strerror(rc), err);
    kl_fasttext_fini(&ft);
    free(raw);

    /* 2. the model path, magic forced */
    if (size + 4 > buf_cap) {
        buf_cap = size + 4;
        buf = realloc(buf, buf_cap);
        CHECK(buf != NULL, "realloc");
    }
    memcpy(buf, data, size);
    if (size < 4)
        size = 4;
    memcpy(buf, &magic, 4);
    err[0] = '\0';
    rc = kl_model_open(kl_fuzz_write(buf, size), &m, err, sizeof err);
    if (rc != KL_OK) {
        kl_fuzz_check_failed_open(rc, m, err);
        return 0;
    }
    kl_fuzz_exercise_model(m);
    kl_fuzz_check_tensors(m, size);

    /* 3. save and reopen */
    check_save(m);
    kl_model_destroy(m);
    return 0;
}
