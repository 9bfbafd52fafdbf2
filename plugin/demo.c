/*
 * `klabel demo`: the whole path with no broker to install. Splits the
 * THUCNews headlines 80/20, trains a model on the 80%, starts an in-process
 * mock Kafka cluster, runs the same stage as `klabel run` in a thread,
 * produces N held-out headlines as JSON events, reads the labeled results
 * back with a separate consumer and prints samples, accuracy, throughput,
 * latency and the stage's counters.
 */
#include <cJSON.h>
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "config.h"
#include "demo.h"
#include "hist.h"
#include "klabel/engine.h"
#include "log.h"
#include "mock.h"
#include "stage.h"

#define T_IN "klabel-demo-news"
#define T_OUT "klabel-demo-labels"
#define T_DLQ "klabel-demo-dlq"
#define IN_PARTS 3
#define OUT_PARTS 3
#define NSAMPLES 5

struct demo {
    pthread_t reader;
    int reader_started;
    long nread;
    atomic_int reader_stop;
    const char *data_path;
    char **xs;                /* (nx) -X key=value overrides */
    int nx;
    long nevents;
    char dir[64];
    char train_path[96], model_path[96];
    struct kl_demo_data data;
    struct kl_mock mock;
    struct kl_config *cfg;
    struct kl_stage *stage;
    pthread_t thread;
    int thread_started;
    int stage_rc;
    char stage_err[512];
    /* results, by event id (1..nevents) */
    unsigned char *seen;      /* (nevents + 1) */
    long nresults, ncorrect, nduplicates;
    struct kl_hist e2e_us;    /* event ts -> read by the demo consumer */
    struct {
        long id;
        char label[64];
        double score;
    } sample[NSAMPLES];
    int nsample;
};

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void demo_usage(FILE *out)
{
    fprintf(out,
            "Usage: klabel demo [--data THUCNEWS_TSV] [--events N]\n\n"
            "  --data FILE   label<TAB>text lines (default "
            "$KL_DATA_DIR/thucnews.tsv,\n"
            "                else .cache/data/thucnews.tsv; fetch it with\n"
            "                `bash tests/data/fetch.sh thucnews`)\n"
            "  --events N    events to stream (default 3000, max 50000)\n"
            "  -X key=value  set a stage configuration key (repeatable; see\n"
            "                `klabel run --help`)\n"
            "Log lines at KL_LOG_LEVEL (default warn) go to stderr.\n");
}

/* -------------------------------------------------------------- training */

static int demo_train(struct demo *dm, char *err, size_t errsz)
{
    struct kl_train_opts o;
    double t0;
    int rc;

    rc = kl_demo_data_split(dm->data_path, dm->train_path, &dm->data, err,
                            errsz);
    if (rc)
        return rc;
    printf("data       %s: %zu train / %zu test lines (every 5th held out), "
           "%zu labels\n",
           dm->data_path, dm->data.ntrain, dm->data.ntest, dm->data.nlabels);
    kl_train_opts_init(&o);
    o.id = "thucnews-demo";
    o.version = "1";
    o.tok.mode = KL_TOK_UNICODE;
    o.loss = KL_LOSS_SOFTMAX;
    o.dim = 50;
    o.epoch = 15;
    o.lr = 0.8f;
    o.word_ngrams = 2;
    o.bucket = 200000;
    o.threads = 1;
    o.seed = 1;
    o.verbose = 0;
    t0 = mono_s();
    rc = kl_train_file(&o, dm->train_path, dm->model_path, err, errsz);
    if (rc)
        return rc;
    printf("train      unicode tokenizer, word_ngrams %d, dim %d, epoch %d, "
           "lr %.1f, bucket %d: %.1f s\n",
           (int)o.word_ngrams, (int)o.dim, (int)o.epoch, (double)o.lr,
           (int)o.bucket, mono_s() - t0);
    return KL_OK;
}

/* ----------------------------------------------------------------- stage */

static void *reader_thread(void *arg);

static void *stage_thread(void *arg)
{
    struct demo *dm = arg;

    dm->stage_rc = kl_stage_run(dm->stage, dm->stage_err,
                                sizeof dm->stage_err);
    return NULL;
}

static int demo_config(struct demo *dm, char *err, size_t errsz)
{
    const char *const kv[][2] = {
        {"input.topics", T_IN},
        {"output.topic", T_OUT},
        {"dlq.topic", T_DLQ},
        {"model.path", dm->model_path},
        {"group.id", "klabel-demo"},
        {"instance.id", "demo"},
        {"kafka.bootstrap.servers", dm->mock.bootstraps},
        /* The mock answers an empty fetch only after fetch.wait.max.ms,
         * even when data arrives meanwhile (a real broker answers at
         * once): keep it short so the demo shows the stage's latency. */
        {"kafka.consumer.fetch.wait.max.ms", "5"},
        {NULL, NULL}};
    int i, rc;

    dm->cfg = kl_config_create();
    if (!dm->cfg) {
        snprintf(err, errsz, "out of memory");
        return KL_ENOMEM;
    }
    for (i = 0; kv[i][0]; i++) {
        rc = kl_config_set(dm->cfg, kv[i][0], kv[i][1], err, errsz);
        if (rc)
            return rc;
    }
    for (i = 0; i < dm->nx; i++) {
        rc = kl_config_set_kv(dm->cfg, dm->xs[i], err, errsz);
        if (rc)
            return rc;
    }
    return KL_OK;
}

static int demo_start(struct demo *dm, char *err, size_t errsz)
{
    double t0 = mono_s();
    int rc;

    rc = kl_mock_start(&dm->mock, 1, err, errsz);
    if (!rc)
        rc = kl_mock_topic(&dm->mock, T_IN, IN_PARTS, err, errsz);
    if (!rc)
        rc = kl_mock_topic(&dm->mock, T_OUT, OUT_PARTS, err, errsz);
    if (!rc)
        rc = kl_mock_topic(&dm->mock, T_DLQ, 1, err, errsz);
    if (!rc)
        rc = demo_config(dm, err, errsz);
    if (!rc)
        rc = kl_stage_create(dm->cfg, NULL, &dm->stage, err, errsz);
    if (rc)
        return rc;
    if (pthread_create(&dm->thread, NULL, stage_thread, dm)) {
        snprintf(err, errsz, "pthread_create failed");
        return KL_ENOMEM;
    }
    dm->thread_started = 1;
    /* The reader of the results starts now, so it is ready when they come. */
    if (pthread_create(&dm->reader, NULL, reader_thread, dm)) {
        snprintf(err, errsz, "pthread_create failed");
        return KL_ENOMEM;
    }
    dm->reader_started = 1;
    /* Wait for the group join (the mock delays the first one ~3 s). */
    while (kl_stage_assigned(dm->stage) < IN_PARTS && mono_s() - t0 < 30)
        usleep(10000);
    /* After the assignment the consumer still looks up its start offsets
     * (~0.1 s); let it, so the latency below is the stage's, not start-up's. */
    usleep(500000);
    printf("kafka      mock cluster %s; topics %s (%d partitions), %s (%d), "
           "%s (1); stage joined group in %.1f s\n",
           dm->mock.bootstraps, T_IN, IN_PARTS, T_OUT, OUT_PARTS, T_DLQ,
           mono_s() - t0);
    return KL_OK;
}

/* -------------------------------------------------------------- events */

static int demo_produce(struct demo *dm, char *err, size_t errsz)
{
    rd_kafka_t *rk = kl_mock_producer(dm->mock.bootstraps, T_IN, err, errsz);
    struct kl_buf b;
    char key[32];
    long id;
    int rc = KL_OK;
    rd_kafka_resp_err_t kerr;

    if (!rk)
        return KL_EKAFKA;
    kl_buf_init(&b);
    for (id = 1; id <= dm->nevents && !rc; id++) {
        const struct kl_demo_example *ex =
            &dm->data.test[(size_t)(id - 1) % dm->data.ntest];

        kl_buf_reset(&b);
        rc = kl_buf_printf(&b, "{\"id\":%ld,\"text\":", id);
        if (!rc)
            rc = kl_buf_json_str(&b, ex->text, strlen(ex->text));
        if (!rc)
            rc = kl_buf_printf(&b, ",\"kind\":\"news\",\"ts\":%lld}",
                               (long long)wall_ms());
        if (rc) {
            snprintf(err, errsz, "out of memory");
            break;
        }
        snprintf(key, sizeof key, "%ld", id);
        do {
            kerr = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(T_IN), RD_KAFKA_V_KEY(key, strlen(key)),
                RD_KAFKA_V_VALUE(b.data, b.len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(rk, 10);
        } while (kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL);
        if (kerr) {
            snprintf(err, errsz, "produce: %s", rd_kafka_err2str(kerr));
            rc = KL_EKAFKA;
        }
        rd_kafka_poll(rk, 0);
    }
    if (rd_kafka_flush(rk, 10000) && !rc) {
        snprintf(err, errsz, "producer flush timed out");
        rc = KL_EKAFKA;
    }
    rd_kafka_destroy(rk);
    kl_buf_fini(&b);
    return rc;
}

/* kl_mock_read callback: one labeled result. */
static int on_result(void *ud, const rd_kafka_message_t *rkm)
{
    struct demo *dm = ud;
    cJSON *j = cJSON_ParseWithLength(rkm->payload, rkm->len);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
    const cJSON *label = cJSON_GetObjectItemCaseSensitive(j, "label");
    const cJSON *score = cJSON_GetObjectItemCaseSensitive(j, "score");
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(j, "ts");
    const struct kl_demo_example *ex;
    long n;

    if (!cJSON_IsNumber(id) || id->valuedouble < 1 ||
        id->valuedouble > (double)dm->nevents) {
        KL_LOG(KL_LOG_WARNING, "demo", "unexpected result: %.*s",
               (int)rkm->len, (const char *)rkm->payload);
        goto out;
    }
    n = (long)id->valuedouble;
    if (dm->seen[n]) {
        dm->nduplicates++;
        goto out;
    }
    dm->seen[n] = 1;
    dm->nresults++;
    ex = &dm->data.test[(size_t)(n - 1) % dm->data.ntest];
    if (cJSON_IsString(label) && !strcmp(label->valuestring, ex->label))
        dm->ncorrect++;
    if (cJSON_IsNumber(ts))
        kl_hist_add(&dm->e2e_us,
                    (uint64_t)(wall_ms() - (int64_t)ts->valuedouble) * 1000);
    if (n <= NSAMPLES) {
        dm->sample[n - 1].id = n;
        snprintf(dm->sample[n - 1].label, sizeof dm->sample[0].label, "%s",
                 cJSON_IsString(label) ? label->valuestring : "(none)");
        dm->sample[n - 1].score =
            cJSON_IsNumber(score) ? score->valuedouble : 0;
        dm->nsample++;
    }
out:
    cJSON_Delete(j);
    return dm->nresults >= dm->nevents;
}

static void *reader_thread(void *arg)
{
    struct demo *dm = arg;

    dm->nread = kl_mock_read(dm->mock.bootstraps, T_OUT, OUT_PARTS, 40000,
                             on_result, dm, &dm->reader_stop);
    return NULL;
}

/* -------------------------------------------------------------- report */

/* Prints s cut to at most max code points ("…" when cut), padded to width
 * columns (CJK counts two). */
static void print_cell(const char *s, int max, int width)
{
    const unsigned char *p = (const unsigned char *)s;
    int cps = 0, cols = 0;

    while (*p && cps < max) {
        int n = *p < 0x80 ? 1 : *p < 0xE0 ? 2 : *p < 0xF0 ? 3 : 4;

        cols += n >= 3 ? 2 : 1;
        fwrite(p, 1, (size_t)n, stdout);
        p += n;
        cps++;
    }
    if (*p) {
        fputs("…", stdout);
        cols++;
    }
    for (; cols < width; cols++)
        putchar(' ');
}

static void demo_report(struct demo *dm)
{
    struct kl_stage_stats st;
    char summary[512];
    double secs = 0;
    int i;

    kl_stage_get_stats(dm->stage, &st);
    printf("\nsample results\n  %-4s  %-36s  %-13s  %-13s  %s\n", "id",
           "text", "true", "predicted", "score");
    for (i = 0; i < NSAMPLES; i++) {
        const struct kl_demo_example *ex;

        if (!dm->sample[i].id)
            continue;
        ex = &dm->data.test[(size_t)(dm->sample[i].id - 1) % dm->data.ntest];
        printf("  %-4ld  ", dm->sample[i].id);
        print_cell(ex->text, 17, 36);
        printf("  %-13s  %-13s  %.3f\n", ex->label, dm->sample[i].label,
               dm->sample[i].score);
    }
    printf("\naccuracy   %ld / %ld = %.1f%% (held-out headlines)\n",
           dm->ncorrect, dm->nresults,
           dm->nresults ? 100.0 * (double)dm->ncorrect / (double)dm->nresults
                        : 0.0);
    if (st.first_poll_us && st.last_done_us > st.first_poll_us)
        secs = (double)(st.last_done_us - st.first_poll_us) / 1e6;
    printf("throughput %llu events in %.3f s = %.0f events/s "
           "(stage: first poll to last delivery report, 1 thread)\n",
           (unsigned long long)(st.out + st.dlq), secs,
           secs > 0 ? (double)(st.out + st.dlq) / secs : 0.0);
    printf("latency    poll -> delivery report (stage):  p50 %.2f ms  "
           "p95 %.2f ms  p99 %.2f ms  max %.2f ms\n",
           kl_hist_percentile(&st.latency_us, 0.50) / 1e3,
           kl_hist_percentile(&st.latency_us, 0.95) / 1e3,
           kl_hist_percentile(&st.latency_us, 0.99) / 1e3,
           st.latency_us.max / 1e3);
    printf("           end-to-end (event ts -> demo consumer): p50 %.2f ms  "
           "p95 %.2f ms  p99 %.2f ms\n",
           kl_hist_percentile(&dm->e2e_us, 0.50) / 1e3,
           kl_hist_percentile(&dm->e2e_us, 0.95) / 1e3,
           kl_hist_percentile(&dm->e2e_us, 0.99) / 1e3);
    kl_stage_format_summary(&st, summary, sizeof summary);
    printf("stage      %s\n", summary);
    if (dm->nduplicates)
        printf("duplicates %ld (at-least-once)\n", dm->nduplicates);
}

/* ------------------------------------------------------------------ main */

static void demo_cleanup(struct demo *dm)
{
    if (dm->reader_started) {
        atomic_store(&dm->reader_stop, 1);
        pthread_join(dm->reader, NULL);
    }
    if (dm->thread_started) {
        kl_stage_stop(dm->stage);
        pthread_join(dm->thread, NULL);
    }
    kl_stage_destroy(dm->stage);
    kl_config_destroy(dm->cfg);
    kl_mock_stop(&dm->mock);
    kl_demo_data_fini(&dm->data);
    free(dm->seen);
    free(dm->xs);
    if (dm->dir[0]) {
        unlink(dm->train_path);
        unlink(dm->model_path);
        rmdir(dm->dir);
    }
}

static int parse_args(struct demo *dm, int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},
        {"events", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    static char def[4096];
    const char *dir = getenv("KL_DATA_DIR");
    int c;

    snprintf(def, sizeof def, "%s/thucnews.tsv",
             dir && *dir ? dir : ".cache/data");
    dm->data_path = def;
    dm->nevents = 3000;
    optind = 0;
    dm->xs = calloc((size_t)argc + 1, sizeof *dm->xs);
    if (!dm->xs)
        return KL_EXIT_FAIL;
    while ((c = getopt_long(argc, argv, "+hX:", opts, NULL)) != -1) {
        switch (c) {
        case 'X': dm->xs[dm->nx++] = optarg; break;
        case 'd': dm->data_path = optarg; break;
        case 'n':
            if (kl_cli_parse_long(optarg, 1, 50000, &dm->nevents)) {
                fprintf(stderr, "klabel demo: --events: 1..50000\n");
                return KL_EXIT_USAGE;
            }
            break;
        case 'h': demo_usage(stdout); return -1;
        default: demo_usage(stderr); return KL_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "klabel demo: unexpected argument '%s'\n",
                argv[optind]);
        demo_usage(stderr);
        return KL_EXIT_USAGE;
    }
    return 0;
}

int kl_cli_demo(int argc, char **argv)
{
    struct demo *dm = calloc(1, sizeof *dm);
    char err[1024] = "";
    double t0 = mono_s();
    long nread;
    int rc = KL_EXIT_FAIL, prc;

    if (!dm)
        return KL_EXIT_FAIL;
    prc = parse_args(dm, argc, argv);
    if (prc) {
        rc = prc < 0 ? KL_EXIT_OK : prc;
        goto out;
    }
    kl_log_level = KL_LOG_WARNING;
    if (getenv("KL_LOG_LEVEL") &&
        kl_log_parse_level(getenv("KL_LOG_LEVEL")) >= 0)
        kl_log_level = kl_log_parse_level(getenv("KL_LOG_LEVEL"));
    kl_hist_init(&dm->e2e_us);
    dm->seen = calloc((size_t)dm->nevents + 1, 1);
    snprintf(dm->dir, sizeof dm->dir, "/tmp/klabel-demo-XXXXXX");
    if (!dm->seen || !mkdtemp(dm->dir)) {
        dm->dir[0] = '\0';
        snprintf(err, sizeof err, "cannot create a temporary folder");
        goto fail;
    }
    snprintf(dm->train_path, sizeof dm->train_path, "%s/train.tsv", dm->dir);
    snprintf(dm->model_path, sizeof dm->model_path, "%s/model.safetensors",
             dm->dir);
    printf("klabel demo: THUCNews headlines through an in-process mock Kafka "
           "cluster (librdkafka %s)\n", rd_kafka_version_str());
    if (demo_train(dm, err, sizeof err) || demo_start(dm, err, sizeof err))
        goto fail;
    /* The results are read while the events are produced. */
    if (kl_stage_assigned(dm->stage) < IN_PARTS) {
        snprintf(err, sizeof err, "the stage did not join its group in time");
        goto fail;
    }
    prc = demo_produce(dm, err, sizeof err);
    if (prc)
        atomic_store(&dm->reader_stop, 1);
    else
        printf("events     %ld JSON events produced to %s, keyed by id "
               "(held-out set, cycled)\n", dm->nevents, T_IN);
    pthread_join(dm->reader, NULL);
    dm->reader_started = 0;
    if (prc)
        goto fail;
    nread = dm->nread;
    kl_stage_stop(dm->stage);
    pthread_join(dm->thread, NULL);
    dm->thread_started = 0;
    if (nread < 0 || dm->nresults < dm->nevents) {
        snprintf(err, sizeof err, "only %ld of %ld results came back%s%s",
                 dm->nresults, dm->nevents, dm->stage_rc ? ": " : "",
                 dm->stage_rc ? dm->stage_err : "");
        goto fail;
    }
    if (dm->stage_rc) {
        snprintf(err, sizeof err, "stage: %s", dm->stage_err);
        goto fail;
    }
    demo_report(dm);
    rc = KL_EXIT_OK;
    goto out;
fail:
    fprintf(stderr, "klabel demo: %s\n", err);
out:
    demo_cleanup(dm);
    free(dm);
    if (rc == KL_EXIT_OK && prc == 0)
        printf("\ndone in %.1f s: stage stopped and committed, mock cluster "
               "shut down\n", mono_s() - t0);
    return rc;
}
