/*
 * tests/unit/test_train.c: supervised training (engine/train.c,
 * engine/train_data.c): accuracy on a synthetic separable set, determinism,
 * the input formats and their errors, and accuracy on THUCNews headlines
 * ($KL_DATA_DIR/thucnews.tsv, from tests/data/fetch.sh).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "klabel/engine.h"

static char dir[64];
static char data_path[128], model_path[128];

static void setup(void)
{
    strcpy(dir, "/tmp/kl_test_train.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(data_path, sizeof data_path, "%s/train.txt", dir);
    snprintf(model_path, sizeof model_path, "%s/model.safetensors", dir);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

static void write_text(const char *p, const char *s, size_t n)
{
    FILE *fp = fopen(p, "wb");
    cr_assert_not_null(fp);
    cr_assert_eq(fwrite(s, 1, n, fp), n);
    fclose(fp);
}

#define WRITE(p, lit) write_text((p), (lit), sizeof(lit) - 1)

static char *read_all(const char *p, size_t *n)
{
    FILE *fp = fopen(p, "rb");
    char *buf;
    long size;

    cr_assert_not_null(fp, "cannot open %s", p);
    fseek(fp, 0, SEEK_END);
    size = ftell(fp);
    rewind(fp);
    buf = malloc((size_t)size + 1);
    cr_assert_eq(fread(buf, 1, (size_t)size, fp), (size_t)size);
    fclose(fp);
    buf[size] = '\0';
    *n = (size_t)size;
    return buf;
}

/* ------------------------------------------------ synthetic data set */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005u + 1442695040888963407u;
    return (uint32_t)(rng_state >> 33) % n;
}

/* Line of label l: 4 words from l's list, 3 shared noise words, and with
 * probability 1/4 one word of the other label's list. */
static void synth_line(FILE *fp, int l)
{
    static const char *lists[2][12] = {
        {"goal", "match", "coach", "league", "score", "team", "striker",
         "penalty", "season", "keeper", "derby", "cup"},
        {"chip", "cloud", "server", "software", "startup", "robot", "code",
         "network", "laptop", "data", "browser", "kernel"}};
    static const char *noise[10] = {"the", "a", "new", "big", "today",
                                    "report", "says", "after", "week", "more"};
    fprintf(fp, "%s\t", l ? "tech" : "sport");
    for (int i = 0; i < 7; i++) {
        const char *w = i < 4 ? lists[l][rnd(12)] : noise[rnd(10)];
        fprintf(fp, "%s%s", i ? " " : "", w);
    }
    if (rnd(4) == 0)
        fprintf(fp, " %s", lists[1 - l][rnd(12)]);
    fputc('\n', fp);
}

static void synth_file(const char *p, int n, uint64_t seed)
{
    FILE *fp = fopen(p, "w");
    cr_assert_not_null(fp);
    rng_state = seed;
    for (int i = 0; i < n; i++)
        synth_line(fp, (int)rnd(2));
    fclose(fp);
}

/* Accuracy of the model at model_path on a "label<TAB>text" file. */
static double accuracy(const char *test_path)
{
    struct kl_model *m = NULL;
    struct kl_features f;
    struct kl_scratch s;
    struct kl_prediction out;
    const struct kl_features *fp = &f;
    char err[512] = "", *buf, *line, *save = NULL;
    size_t n;
    int total = 0, correct = 0;

    cr_assert_eq(kl_model_open(model_path, &m, err, sizeof err), KL_OK, "%s", err);
    kl_features_init(&f);
    kl_scratch_init(&s);
    buf = read_all(test_path, &n);
    for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *tab = strchr(line, '\t');
        cr_assert_not_null(tab);
        *tab = '\0';
        total++;
        if (kl_model_featurize(m, tab + 1, strlen(tab + 1), &f) != KL_OK)
            continue;
        cr_assert_eq(kl_model_predict_batch(m, &fp, 1, 1, 0.0f, &s, &out), KL_OK);
        correct += out.k == 1 &&
                   strcmp(kl_model_info(m)->labels[out.label[0]], line) == 0;
    }
    free(buf);
    kl_features_fini(&f);
    kl_scratch_fini(&s);
    kl_model_destroy(m);
    cr_assert_gt(total, 0);
    return (double)correct / total;
}

static void small_opts(struct kl_train_opts *o)
{
    kl_train_opts_init(o);
    o->dim = 16;
    o->epoch = 10;
    o->lr = 0.5f;
    o->bucket = 10000;
}

Test(train, separable_softmax, .init = setup, .fini = teardown)
{
    struct kl_train_opts o;
    char test_path[160], err[512] = "";
    double acc;

    synth_file(data_path, 1000, 1);
    snprintf(test_path, sizeof test_path, "%s/test.txt", dir);
    synth_file(test_path, 300, 2);
    small_opts(&o);
    cr_assert_eq(kl_train_file(&o, data_path, model_path, err, sizeof err), KL_OK, "%s", err);
    acc = accuracy(test_path);
    cr_expect_gt(acc, 0.95, "held-out accuracy %.3f", acc);
}

Test(train, separable_ova_two_threads_unicode, .init = setup, .fini = teardown)
{
    struct kl_train_opts o;
    char test_path[160], err[512] = "";
    double acc;

    synth_file(data_path, 1000, 3);
    snprintf(test_path, sizeof test_path, "%s/test.txt", dir);
    synth_file(test_path, 300, 4);
    small_opts(&o);
    o.loss = KL_LOSS_OVA;
    o.threads = 2;
    o.tok.mode = KL_TOK_UNICODE;
    o.minn = 2;
    o.maxn = 4;
    cr_assert_eq(kl_train_file(&o, data_path, model_path, err, sizeof err), KL_OK, "%s", err);
    acc = accuracy(test_path);
    cr_expect_gt(acc, 0.95, "held-out accuracy %.3f", acc);
}

Test(train, deterministic_with_one_thread, .init = setup, .fini = teardown)
{
    struct kl_train_opts o;
    char second[160], third[160], err[512] = "";
    char *a, *b, *c;
    size_t na, nb, nc;

    synth_file(data_path, 300, 5);
    snprintf(second, sizeof second, "%s/second.safetensors", dir);
    snprintf(third, sizeof third, "%s/third.safetensors", dir);
    setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
    small_opts(&o);
    o.seed = 42;
    cr_assert_eq(kl_train_file(&o, data_path, model_path, err, sizeof err), KL_OK, "%s", err);
    sleep(1); /* the file must not depend on the clock */
    cr_assert_eq(kl_train_file(&o, data_path, second, err, sizeof err), KL_OK, "%s", err);
    o.seed = 43;
    cr_assert_eq(kl_train_file(&o, data_path, third, err, sizeof err), KL_OK, "%s", err);
    a = read_all(model_path, &na);
    b = read_all(second, &nb);
    c = read_all(third, &nc);
    cr_expect(na == nb && memcmp(a, b, na) == 0, "same seed, different files");
    cr_expect(na != nc || memcmp(a, c, na) != 0, "different seeds, same file");
    cr_expect(strstr(a + 8, "2023-11-14T22:13:20Z") != NULL, "created time not from SOURCE_DATE_EPOCH");
    free(a);
    free(b);
    free(c);
}

Test(train, malformed_line_is_named, .init = setup, .fini = teardown)
{
    struct kl_train_opts o;
    char err[512] = "";

    WRITE(data_path, "a\tone two\nb\tthree four\nno label on this line\n");
    small_opts(&o);
    cr_expect_eq(kl_train_file(&o, data_path, model_path, err, sizeof err), KL_EFORMAT);
    cr_expect(strstr(err, "line 3") != NULL && strstr(err, "no label") != NULL, "%s", err);
    cr_expect_eq(access(model_path, F_OK), -1, "a model was written");
    WRITE(data_path, "a\tone\n\tempty label\n");
    cr_expect_eq(kl_train_file(&o, data_path, model_path, err, sizeof err), KL_EFORMAT);
    cr_expect(strstr(err, "line 2") != NULL && strstr(err, "empty label") != NULL, "%s", err);
    WRITE(data_path, "__label__ text\n");
    cr_expect_eq(kl_train_file(&o, data_path, model_path, err, sizeof err), KL_EFORMAT);
    cr_expect(strstr(err, "line 1") != NULL, "%s", err);
}

Test(train, invalid_utf8_is_named, .init = setup, .fini = teardown)
{
    struct kl_train_opts o;
    char err[512] = "";

    WRITE(data_path, "a\tone two\nb\tthr\xED\xA0\x80" "ee\n");
    small_opts(&o);
    cr_expect_eq(kl_train_file(&o, data_path, model_path, err, sizeof err), KL_EUTF8);
    cr_expect(strstr(err, "line 2") != NULL && strstr(err, "UTF-8") != NULL, "%s", err);
}

Test(train, long_line_is_rejected, .init = setup, .fini = teardown)
{
    struct kl_train_opts o;
    char err[512] = "";
    size_t n = (1u << 20) + 10;
    char *big = malloc(n);

    memset(big, 'x', n);
    memcpy(big, "a\t", 2);
    big[n - 1] = '\n';
    write_text(data_path, big, n);
    free(big);
    small_opts(&o);
    cr_expect_eq(kl_train_file(&o, data_path, model_path, err, sizeof err), KL_ERANGE);
    cr_expect(strstr(err, "line 1") != NULL, "%s", err);
}

Test(train, empty_input_and_bad_options, .init = setup, .fini = teardown)
{
    struct kl_train_opts o;
    char err[512] = "";

    WRITE(data_path, "\n   \n\r\n");
    small_opts(&o);
    cr_expect_eq(kl_train_file(&o, data_path, model_path, err, sizeof err), KL_EEMPTY);
    cr_expect_eq(kl_train_file(&o, "/nonexistent/x", model_path, err, sizeof err), KL_EIO);
    WRITE(data_path, "a\tb\n");
    o.dim = 0;
    cr_expect_eq(kl_train_file(&o, data_path, model_path, err, sizeof err), KL_EINVAL);
    cr_expect(strstr(err, "dim") != NULL, "%s", err);
    small_opts(&o);
    o.loss = KL_LOSS_HS;
    cr_expect_eq(kl_train_file(&o, data_path, model_path, err, sizeof err), KL_EINVAL);
    small_opts(&o);
    cr_expect_eq(kl_train_file(&o, data_path, "/nonexistent/dir/m.safetensors", err, sizeof err), KL_EIO);
    cr_expect(strstr(err, "cannot create") != NULL, "%s", err);
}

Test(train, fasttext_format_and_dictionary, .init = setup, .fini = teardown)
{
    struct kl_train_opts o;
    struct kl_model *m = NULL;
    const struct kl_model_info *i;
    char err[512] = "";

    /* label b is more frequent than a; "</s>" appears once per line (5),
     * "x" 4 times, "y" twice, "z" once (dropped by min_count 2) */
    WRITE(data_path, "__label__a x y\n\n__label__b __label__a x\r\n"
                     "__label__b x z __label__c\n"
                     "b\tx y\n__label__b\n");
    small_opts(&o);
    o.min_count = 2;
    o.id = "fmt";
    o.version = "7";
    cr_assert_eq(kl_train_file(&o, data_path, model_path, err, sizeof err), KL_OK, "%s", err);
    cr_assert_eq(kl_model_open(model_path, &m, err, sizeof err), KL_OK, "%s", err);
    i = kl_model_info(m);
    cr_assert_eq(i->nlabels, 3);
    cr_expect_str_eq(i->labels[0], "b");
    cr_expect_str_eq(i->labels[1], "a");
    cr_expect_str_eq(i->labels[2], "c");
    cr_expect_eq(i->nwords, 3, "nwords %d", i->nwords);
    cr_expect_str_eq(i->id, "fmt");
    cr_expect_str_eq(i->version, "7");
    cr_expect(strstr(i->metadata_json, "\"examples\":5") != NULL, "%s", i->metadata_json);
    cr_expect(strstr(i->metadata_json, "\"created\":") != NULL, "%s", i->metadata_json);
    kl_model_destroy(m);
}

Test(train, verbose_progress_line, .init = setup, .fini = teardown)
{
    struct kl_train_opts o;
    char log_path[160], err[512] = "", *log;
    size_t n;
    int saved = dup(2);
    FILE *fp;

    snprintf(log_path, sizeof log_path, "%s/stderr.txt", dir);
    synth_file(data_path, 200, 9);
    small_opts(&o);
    o.verbose = 1;
    fflush(stderr);
    fp = freopen(log_path, "w", stderr);
    cr_assert_not_null(fp);
    cr_assert_eq(kl_train_file(&o, data_path, model_path, err, sizeof err), KL_OK, "%s", err);
    fflush(stderr);
    dup2(saved, 2);
    log = read_all(log_path, &n);
    cr_expect(strstr(log, "\rProgress: 100.0%  words/sec/thread: ") != NULL, "%s", log);
    cr_expect(strstr(log, "  lr: 0.0000  loss: ") != NULL, "%s", log);
    cr_expect(strstr(log, "  ETA: 0h 0m 0s\n") != NULL, "%s", log);
    free(log);
}

/* THUCNews headlines: 10 labels, Chinese; 90% train, 10% test. */
Test(train, thucnews_accuracy, .init = setup, .fini = teardown, .timeout = 300)
{
    const char *ddir = getenv("KL_DATA_DIR");
    char src[512], test_path[160], err[512] = "", *buf, *p;
    struct kl_train_opts o;
    size_t n, lines = 0, cut = 0, k = 0;
    double acc;

    snprintf(src, sizeof src, "%s/thucnews.tsv", ddir && *ddir ? ddir : ".cache/data");
    cr_assert_eq(access(src, R_OK), 0,
                 "%s is missing: run `make data` (tests/data/fetch.sh) or set KL_DATA_DIR", src);
    buf = read_all(src, &n);
    for (p = buf; p < buf + n; p++)
        lines += *p == '\n';
    cr_assert_geq(lines, 1000, "%s has only %zu lines", src, lines);
    for (p = buf; p < buf + n && k < lines * 9 / 10; p++)
        if (*p == '\n')
            k++;
    cut = (size_t)(p - buf);
    snprintf(test_path, sizeof test_path, "%s/test.txt", dir);
    write_text(data_path, buf, cut);
    write_text(test_path, buf + cut, n - cut);
    free(buf);
    kl_train_opts_init(&o);
    o.tok.mode = KL_TOK_UNICODE;
    o.word_ngrams = 2;
    o.dim = 100;
    o.epoch = 25;
    o.lr = 0.5f;
    o.bucket = 200000;
    cr_assert_eq(kl_train_file(&o, data_path, model_path, err, sizeof err), KL_OK, "%s", err);
    acc = accuracy(test_path);
    cr_log_info("thucnews accuracy %.4f", acc);
    cr_expect_geq(acc, 0.80, "THUCNews test accuracy %.4f < 0.80", acc);
}
