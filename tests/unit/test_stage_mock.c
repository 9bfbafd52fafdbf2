/*
 * Unit tests of the stage (plugin/stage.c, stage_src.c, worker.c,
 * stage_out.c, transport_kafka.c) against librdkafka's in-process mock
 * cluster: good events give results
 * with the right ids, keys, headers and source coordinates and commit the
 * end offsets; bad events go to the dead-letter topic with the right
 * klabel.* headers while their neighbours are labeled; retriable produce
 * errors still end with every result delivered and committed; a permanent
 * produce error stops the stage with an error and leaves its offset
 * uncommitted; a fatal producer error stops it too. Threads: with two
 * workers and output.partition=same every input partition's results come
 * out in offset order; routing by kind sends events to two models (the
 * result names the model) and dead-letters an unrouted kind as no_route;
 * pass-through (stage.inference=false) labels nothing and still delivers;
 * a slow worker and a small queue make the input pause and resume (or,
 * with a long queue.hold.ms, only hold) with nothing lost. The last test runs the same stage over the "file"
 * transport (no broker). A tiny model is trained in each test's init.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "config.h"
#include "health.h"
#include "klabel/engine.h"
#include "log.h"
#include "mock.h"
#include "stage.h"

#define T_IN "in"
#define T_OUT "out"
#define T_DLQ "dlq"
#define IN_PARTS 3
#define GROUP "klabel-test"
#define MAXN 1024
#define API_PRODUCE 0 /* Kafka protocol ApiKey of Produce */

static char dir[64], model_path[128];

/* Inputs as produced: where each id landed. */
static int32_t in_part[MAXN];
static int64_t in_off[MAXN];

struct fixture {
    struct kl_mock mock;
    struct kl_config *cfg;
    struct kl_stage *s;
    pthread_t th;
    int started;
    int rc;
    char err[512];
};

static struct fixture fx;

/* ----------------------------------------------------------------- model */

static const char *const sports[] = {"football", "goal", "match", "team",
                                     "league", "coach", "score", "player"};
static const char *const money[] = {"stock", "market", "bank", "price",
                                    "shares", "profit", "trader", "bonds"};

/* Trains the tiny sports/finance model with id `id` into path. */
static void train_into(const char *path, const char *id)
{
    struct kl_train_opts o;
    char train[160], err[256];
    FILE *f;
    int i;

    snprintf(train, sizeof train, "%s/train.tsv", dir);
    f = fopen(train, "w");
    cr_assert_not_null(f);
    for (i = 0; i < 200; i++) {
        const char *const *w = i % 2 ? money : sports;

        fprintf(f, "%s\t%s %s %s\n", i % 2 ? "finance" : "sports", w[i % 8],
                w[(i / 2 + 3) % 8], w[(i / 3 + 5) % 8]);
    }
    fclose(f);
    kl_train_opts_init(&o);
    o.id = id;
    o.version = "1";
    o.tok.mode = KL_TOK_UNICODE;
    o.dim = 8;
    o.epoch = 20;
    o.lr = 0.5f;
    o.bucket = 1000;
    o.verbose = 0;
    cr_assert_eq(kl_train_file(&o, train, path, err, sizeof err), 0,
                 "train: %s", err);
    unlink(train);
}

static void train_tiny(void)
{
    snprintf(dir, sizeof dir, "/tmp/klabel-test-stage-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(model_path, sizeof model_path, "%s/tiny.safetensors", dir);
    train_into(model_path, "tiny");
}

/* ------------------------------------------------------------ the stage */

static void *run_thread(void *arg)
{
    struct fixture *f = arg;

    f->rc = kl_stage_run(f->s, f->err, sizeof f->err);
    return NULL;
}

static void cfg_set(const char *k, const char *v)
{
    char err[512];

    cr_assert_eq(kl_config_set(fx.cfg, k, v, err, sizeof err), 0, "%s=%s: %s",
                 k, v, err);
}

static void base_config(void);

static void setup(void)
{
    char err[512];

    kl_log_level = KL_LOG_WARNING;
    memset(&fx, 0, sizeof fx);
    train_tiny();
    cr_assert_eq(kl_mock_start(&fx.mock, 1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(kl_mock_topic(&fx.mock, T_IN, IN_PARTS, err, sizeof err), 0);
    cr_assert_eq(kl_mock_topic(&fx.mock, T_OUT, 2, err, sizeof err), 0);
    cr_assert_eq(kl_mock_topic(&fx.mock, T_DLQ, 1, err, sizeof err), 0);
    fx.cfg = kl_config_create();
    cr_assert_not_null(fx.cfg);
    base_config();
}

/* The configuration every test starts from (set in setup; a test may
 * override keys before start_stage()). */
static void base_config(void)
{
    cfg_set("input.topics", T_IN);
    cfg_set("output.topic", T_OUT);
    cfg_set("dlq.topic", T_DLQ);
    cfg_set("model.path", model_path);
    cfg_set("group.id", GROUP);
    cfg_set("instance.id", "test-1");
    cfg_set("batch.max.size", "32");
    cfg_set("shutdown.timeout.ms", "10000");
    cfg_set("kafka.bootstrap.servers", fx.mock.bootstraps);
    cfg_set("kafka.consumer.fetch.wait.max.ms", "10");
}

/* Starts the stage in a thread; waits for its assignment. */
static void start_stage(void)
{
    char err[512];
    int i;

    cr_assert_eq(kl_stage_create(fx.cfg, NULL, &fx.s, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(pthread_create(&fx.th, NULL, run_thread, &fx), 0);
    fx.started = 1;
    for (i = 0; i < 3000 && kl_stage_assigned(fx.s) < IN_PARTS; i++)
        usleep(10000);
    cr_assert_eq(kl_stage_assigned(fx.s), IN_PARTS, "no assignment");
}

/* Stops the stage and returns kl_stage_run()'s result. */
static int stop_stage(void)
{
    if (fx.started) {
        kl_stage_stop(fx.s);
        pthread_join(fx.th, NULL);
        fx.started = 0;
    }
    return fx.rc;
}

static void teardown(void)
{
    char p[160];

    stop_stage();
    kl_stage_destroy(fx.s);
    kl_config_destroy(fx.cfg);
    kl_mock_stop(&fx.mock);
    snprintf(p, sizeof p, "%s/tiny.safetensors", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/txn.safetensors", dir);
    unlink(p);
    rmdir(dir);
}

TestSuite(stage_mock, .init = setup, .fini = teardown, .timeout = 90);

/* ---------------------------------------------------------------- input */

static void on_input_dr(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                        void *opaque)
{
    long id = (long)(intptr_t)rkm->_private;

    (void)rk;
    (void)opaque;
    if (!rkm->err && id >= 0 && id < MAXN) {
        in_part[id] = rkm->partition;
        in_off[id] = rkm->offset;
    }
}

static rd_kafka_t *input_producer(void)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;

    cr_assert_eq(rd_kafka_conf_set(conf, "bootstrap.servers",
                                   fx.mock.bootstraps, err, sizeof err),
                 RD_KAFKA_CONF_OK);
    cr_assert_eq(rd_kafka_conf_set(conf, "linger.ms", "2", err, sizeof err),
                 RD_KAFKA_CONF_OK);
    rd_kafka_conf_set_dr_msg_cb(conf, on_input_dr);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    cr_assert_not_null(rk, "%s", err);
    memset(in_part, 0xff, sizeof in_part);
    memset(in_off, 0xff, sizeof in_off);
    return rk;
}

/* Produces one input keyed "k<id>" with a "trace" header (and optionally a
 * stale klabel.error.class header). */
static void produce_input(rd_kafka_t *rk, long id, const void *v, size_t n,
                          int stale_header)
{
    char key[32], trace[32];
    rd_kafka_headers_t *h = rd_kafka_headers_new(2);
    rd_kafka_resp_err_t kerr;

    snprintf(key, sizeof key, "k%ld", id);
    snprintf(trace, sizeof trace, "t-%ld", id);
    rd_kafka_header_add(h, "trace", -1, trace, -1);
    if (stale_header)
        rd_kafka_header_add(h, "klabel.error.class", -1, "stale", -1);
    kerr = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(T_IN),
                             RD_KAFKA_V_KEY(key, strlen(key)),
                             RD_KAFKA_V_VALUE((void *)v, n),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_HEADERS(h),
                             RD_KAFKA_V_OPAQUE((void *)(intptr_t)id),
                             RD_KAFKA_V_END);
    cr_assert_eq(kerr, 0, "produce: %s", rd_kafka_err2str(kerr));
}

static void produce_good(rd_kafka_t *rk, long id)
{
    char v[256];

    snprintf(v, sizeof v, "{\"id\":%ld,\"text\":\"%s %s\",\"kind\":\"news\"}",
             id, id % 2 ? "stock" : "football", id % 2 ? "market" : "goal");
    produce_input(rk, id, v, strlen(v), 0);
}

static void finish_inputs(rd_kafka_t *rk)
{
    cr_assert_eq(rd_kafka_flush(rk, 10000), 0);
}

static int64_t end_offset(rd_kafka_t *rk, int32_t p)
{
    int64_t lo = -1, hi = -1;

    cr_assert_eq(rd_kafka_query_watermark_offsets(rk, T_IN, p, &lo, &hi,
                                                  5000), 0);
    return hi;
}

/* --------------------------------------------------------------- output */

struct rec {
    char key[32];
    int32_t part;          /* output partition */
    char *value;           /* owned */
    size_t len;
    char hdr_trace[32];
    char cls[32], reason[300], src_topic[32], src_part[16], src_off[24],
        instance[32];
    int nclass;            /* klabel.error.class headers seen */
};

struct sink {
    struct rec r[MAXN];
    long n, want;
};

static void hdr_copy(rd_kafka_headers_t *h, const char *name, char *dst,
                     size_t n)
{
    const void *v;
    size_t len;

    dst[0] = '\0';
    if (h && !rd_kafka_header_get_last(h, name, &v, &len) && v)
        snprintf(dst, n, "%.*s", (int)len, (const char *)v);
}

static int on_record(void *ud, const rd_kafka_message_t *rkm)
{
    struct sink *s = ud;
    struct rec *r;
    rd_kafka_headers_t *h = NULL;
    const char *name;
    const void *v;
    size_t len, i;

    if (s->n >= MAXN)
        return 1;
    r = &s->r[s->n++];
    memset(r, 0, sizeof *r);
    r->part = rkm->partition;
    snprintf(r->key, sizeof r->key, "%.*s", (int)rkm->key_len,
             (const char *)rkm->key);
    r->value = malloc(rkm->len + 1);
    memcpy(r->value, rkm->payload, rkm->len);
    r->value[rkm->len] = '\0';
    r->len = rkm->len;
    if (!rd_kafka_message_headers(rkm, &h)) {
        hdr_copy(h, "trace", r->hdr_trace, sizeof r->hdr_trace);
        hdr_copy(h, "klabel.error.class", r->cls, sizeof r->cls);
        hdr_copy(h, "klabel.error.reason", r->reason, sizeof r->reason);
        hdr_copy(h, "klabel.source.topic", r->src_topic, sizeof r->src_topic);
        hdr_copy(h, "klabel.source.partition", r->src_part,
                 sizeof r->src_part);
        hdr_copy(h, "klabel.source.offset", r->src_off, sizeof r->src_off);
        hdr_copy(h, "klabel.instance", r->instance, sizeof r->instance);
        for (i = 0; !rd_kafka_header_get_all(h, i, &name, &v, &len); i++)
            if (!strcmp(name, "klabel.error.class"))
                r->nclass++;
    }
    return s->n >= s->want;
}

static void read_topic(const char *topic, int nparts, long want,
                       struct sink *s)
{
    s->n = 0;
    s->want = want;
    kl_mock_read(fx.mock.bootstraps, topic, nparts, 30000, on_record, s,
                 NULL);
}

static void free_sink(struct sink *s)
{
    long i;

    for (i = 0; i < s->n; i++)
        free(s->r[i].value);
}

/* Checks that result r is the labeled event of input id. */
static void check_result(const struct rec *r, long *id_out)
{
    cJSON *j = cJSON_Parse(r->value);
    const cJSON *id, *label, *src, *t, *p, *o;
    char key[32];
    long n;

    cr_assert_not_null(j, "not JSON: %s", r->value);
    id = cJSON_GetObjectItem(j, "id");
    label = cJSON_GetObjectItem(j, "label");
    src = cJSON_GetObjectItem(j, "source");
    t = cJSON_GetObjectItem(src, "topic");
    p = cJSON_GetObjectItem(src, "partition");
    o = cJSON_GetObjectItem(src, "offset");
    cr_assert(cJSON_IsNumber(id), "%s", r->value);
    n = (long)id->valuedouble;
    cr_assert(n >= 0 && n < MAXN);
    snprintf(key, sizeof key, "k%ld", n);
    cr_expect_str_eq(r->key, key, "key of id %ld", n);
    snprintf(key, sizeof key, "t-%ld", n);
    cr_expect_str_eq(r->hdr_trace, key, "header carried over for id %ld", n);
    cr_expect(cJSON_IsString(label) &&
                  !strcmp(label->valuestring, n % 2 ? "finance" : "sports"),
              "label of id %ld: %s", n, r->value);
    cr_expect(cJSON_IsString(t) && !strcmp(t->valuestring, T_IN));
    cr_expect(cJSON_IsNumber(p) && (int32_t)p->valuedouble == in_part[n],
              "partition of id %ld", n);
    cr_expect(cJSON_IsNumber(o) && (int64_t)o->valuedouble == in_off[n],
              "offset of id %ld", n);
    *id_out = n;
    cJSON_Delete(j);
}

static void expect_committed_end(rd_kafka_t *rk)
{
    int32_t p;

    for (p = 0; p < IN_PARTS; p++) {
        int64_t end = end_offset(rk, p);
        int64_t c = kl_mock_committed(fx.mock.bootstraps, GROUP, T_IN, p);

        cr_expect_eq(c, end > 0 ? end : -1,
                     "partition %d: committed %lld, end %lld", (int)p,
                     (long long)c, (long long)end);
    }
}

/* ---------------------------------------------------------------- tests */

Test(stage_mock, good_events_labeled_and_committed)
{
    static struct sink out;
    rd_kafka_t *rk;
    unsigned char seen[MAXN] = {0};
    long i, id, n = 200;
    struct kl_stage_stats st;

    start_stage();
    rk = input_producer();
    for (i = 0; i < n; i++)
        produce_good(rk, i);
    finish_inputs(rk);
    read_topic(T_OUT, 2, n, &out);
    cr_assert_eq(out.n, n, "results: %ld of %ld", out.n, n);
    cr_assert_eq(stop_stage(), 0, "stage: %s", fx.err);
    for (i = 0; i < out.n; i++) {
        check_result(&out.r[i], &id);
        cr_expect_eq(seen[id], 0, "id %ld twice", id);
        seen[id] = 1;
    }
    kl_stage_get_stats(fx.s, &st);
    cr_expect_eq(st.in, (uint64_t)n);
    cr_expect_eq(st.out, (uint64_t)n);
    cr_expect_eq(st.dlq, 0);
    cr_expect_eq(st.inflight, 0);
    cr_expect_eq(st.latency_us.count, (uint64_t)n);
    expect_committed_end(rk);
    free_sink(&out);
    rd_kafka_destroy(rk);
}

/* One bad input and the class its dead letter must carry. */
struct bad {
    long id;
    const char *cls;
};

Test(stage_mock, bad_events_dead_lettered)
{
    static struct sink out, dlq;
    static const char bad_utf8[] = "{\"id\":11,\"text\":\"ok \xff\xfe bad\"}";
    static const char empty[] = "{\"id\":12,\"text\":\"\"}";
    static const char malformed[] = "{\"id\":13,\"text\":";
    static const char no_tokens[] = "{\"id\":15,\"text\":\"!!! ??? ...\"}";
    const struct bad bads[] = {{11, "invalid_utf8"}, {12, "empty_text"},
                               {13, "malformed"},    {14, "oversize"},
                               {15, "empty_text"}};
    char big[2048];
    rd_kafka_t *rk;
    long i, j, id, ngood = 0;
    struct kl_stage_stats st;

    cfg_set("input.max.bytes", "1024");
    start_stage();
    rk = input_producer();
    for (i = 0; i < 10; i++, ngood++)
        produce_good(rk, i);
    produce_input(rk, 11, bad_utf8, strlen(bad_utf8), 1);
    produce_input(rk, 12, empty, strlen(empty), 0);
    produce_input(rk, 13, malformed, strlen(malformed), 0);
    memset(big, 'a', sizeof big);
    memcpy(big, "{\"id\":14,\"text\":\"", 17);
    memcpy(big + sizeof big - 2, "\"}", 2);
    produce_input(rk, 14, big, sizeof big, 0);
    produce_input(rk, 15, no_tokens, strlen(no_tokens), 0);
    for (i = 20; i < 30; i++, ngood++)
        produce_good(rk, i);
    finish_inputs(rk);
    read_topic(T_OUT, 2, ngood, &out);
    read_topic(T_DLQ, 1, 5, &dlq);
    cr_assert_eq(out.n, ngood, "results: %ld of %ld", out.n, ngood);
    cr_assert_eq(dlq.n, 5, "dead letters: %ld of 5", dlq.n);
    cr_assert_eq(stop_stage(), 0, "stage: %s", fx.err);
    for (i = 0; i < out.n; i++)
        check_result(&out.r[i], &id);
    for (j = 0; j < 5; j++) {
        const struct rec *r = NULL;
        char key[32], num[32];

        snprintf(key, sizeof key, "k%ld", bads[j].id);
        for (i = 0; i < dlq.n; i++)
            if (!strcmp(dlq.r[i].key, key))
                r = &dlq.r[i];
        cr_assert_not_null(r, "no dead letter for id %ld", bads[j].id);
        cr_expect_str_eq(r->cls, bads[j].cls, "class of id %ld (%s)",
                         bads[j].id, r->reason);
        cr_expect_eq(r->nclass, 1, "klabel.error.class headers of id %ld",
                     bads[j].id);
        cr_expect_neq(r->reason[0], '\0');
        cr_expect_leq(strlen(r->reason), 256);
        cr_expect_str_eq(r->src_topic, T_IN);
        snprintf(num, sizeof num, "%d", (int)in_part[bads[j].id]);
        cr_expect_str_eq(r->src_part, num);
        snprintf(num, sizeof num, "%lld", (long long)in_off[bads[j].id]);
        cr_expect_str_eq(r->src_off, num);
        cr_expect_str_eq(r->instance, "test-1");
        snprintf(num, sizeof num, "t-%ld", bads[j].id);
        cr_expect_str_eq(r->hdr_trace, num, "original headers kept");
    }
    /* The original value is kept byte for byte. */
    for (i = 0; i < dlq.n; i++)
        if (!strcmp(dlq.r[i].key, "k11"))
            cr_expect(dlq.r[i].len == strlen(bad_utf8) &&
                      !memcmp(dlq.r[i].value, bad_utf8, dlq.r[i].len));
    kl_stage_get_stats(fx.s, &st);
    cr_expect_eq(st.out, (uint64_t)ngood);
    cr_expect_eq(st.dlq, 5);
    expect_committed_end(rk);
    free_sink(&out);
    free_sink(&dlq);
    rd_kafka_destroy(rk);
}

Test(stage_mock, retriable_produce_errors_still_deliver)
{
    static struct sink out;
    rd_kafka_t *rk;
    unsigned char seen[MAXN] = {0};
    long i, id, n = 100, distinct = 0;

    rk = input_producer();
    for (i = 0; i < n; i++)
        produce_good(rk, i);
    finish_inputs(rk);
    /* The next Produce requests (the stage's: the inputs are all in) fail
     * with retriable errors. */
    rd_kafka_mock_push_request_errors(
        fx.mock.mcluster, API_PRODUCE, 4,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE);
    start_stage();
    read_topic(T_OUT, 2, n, &out);
    cr_assert_eq(stop_stage(), 0, "stage: %s", fx.err);
    for (i = 0; i < out.n; i++) {
        check_result(&out.r[i], &id);
        if (!seen[id]++)
            distinct++;
    }
    cr_expect_eq(distinct, n, "distinct results %ld of %ld", distinct, n);
    expect_committed_end(rk);
    free_sink(&out);
    rd_kafka_destroy(rk);
}

Test(stage_mock, permanent_produce_error_stops_uncommitted)
{
    rd_kafka_resp_err_t errs[64];
    rd_kafka_t *rk;
    long i, n = 20;
    int32_t p;
    int waited;
    struct kl_stage_stats st;

    rk = input_producer();
    for (i = 0; i < n; i++)
        produce_good(rk, i);
    finish_inputs(rk);
    /* Every Produce of the stage is refused for good. */
    for (i = 0; i < 64; i++)
        errs[i] = RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED;
    rd_kafka_mock_push_request_errors_array(fx.mock.mcluster, API_PRODUCE, 64,
                                            errs);
    start_stage();
    /* The stage stops by itself, with an error. */
    for (waited = 0; waited < 3000; waited++) {
        if (pthread_tryjoin_np(fx.th, NULL) == 0) {
            fx.started = 0;
            break;
        }
        usleep(10000);
    }
    cr_assert_eq(fx.started, 0, "the stage did not stop by itself");
    cr_expect_neq(fx.rc, 0, "kl_stage_run must fail");
    cr_expect_neq(strstr(fx.err, "failed"), NULL, "reason: %s", fx.err);
    kl_stage_get_stats(fx.s, &st);
    cr_expect_gt(st.failed, 0);
    cr_expect_eq(st.out, 0);
    for (p = 0; p < IN_PARTS; p++)
        cr_expect_eq(kl_mock_committed(fx.mock.bootstraps, GROUP, T_IN, p),
                     -1, "partition %d must stay uncommitted", (int)p);
    rd_kafka_destroy(rk);
}

Test(stage_mock, fatal_producer_error_stops_stage)
{
    rd_kafka_t *rk;
    long i, n = 20;
    int waited;

    /* With the gapless guarantee, a message the broker refuses as out of
     * sequence is a fatal error of the idempotent producer. */
    cfg_set("kafka.producer.enable.gapless.guarantee", "true");
    rk = input_producer();
    for (i = 0; i < n; i++)
        produce_good(rk, i);
    finish_inputs(rk);
    rd_kafka_mock_push_request_errors(
        fx.mock.mcluster, API_PRODUCE, 1,
        RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    start_stage();
    for (waited = 0; waited < 3000; waited++) {
        if (pthread_tryjoin_np(fx.th, NULL) == 0) {
            fx.started = 0;
            break;
        }
        usleep(10000);
    }
    cr_assert_eq(fx.started, 0, "the stage did not stop by itself");
    cr_expect_neq(fx.rc, 0, "kl_stage_run must fail");
    cr_expect_neq(strstr(fx.err, "fatal"), NULL, "reason: %s", fx.err);
    rd_kafka_destroy(rk);
}

/* ------------------------------------------------------------- threads */

/* Produces a good event of the given kind (NULL: no kind). */
static void produce_kind(rd_kafka_t *rk, long id, const char *kind)
{
    char v[256];

    if (kind)
        snprintf(v, sizeof v, "{\"id\":%ld,\"text\":\"%s %s\",\"kind\":\"%s\"}",
                 id, id % 2 ? "stock" : "football", id % 2 ? "market" : "goal",
                 kind);
    else
        snprintf(v, sizeof v, "{\"id\":%ld,\"text\":\"%s\"}", id,
                 id % 2 ? "stock market" : "football goal");
    produce_input(rk, id, v, strlen(v), 0);
}

/* Checks that, read per output partition, results carry strictly
 * increasing source offsets of the same input partition. */
static void expect_partition_order(const struct sink *out)
{
    int64_t last[IN_PARTS];
    long i;
    int p;

    for (p = 0; p < IN_PARTS; p++)
        last[p] = -1;
    for (i = 0; i < out->n; i++) {
        cJSON *j = cJSON_Parse(out->r[i].value);
        const cJSON *src = cJSON_GetObjectItem(j, "source");
        const cJSON *sp = cJSON_GetObjectItem(src, "partition");
        const cJSON *so = cJSON_GetObjectItem(src, "offset");
        int32_t part;
        int64_t off;

        cr_assert(cJSON_IsNumber(sp) && cJSON_IsNumber(so), "%s",
                  out->r[i].value);
        part = (int32_t)sp->valuedouble;
        off = (int64_t)so->valuedouble;
        cr_assert(part >= 0 && part < IN_PARTS);
        cr_expect_eq(out->r[i].part, part,
                     "output.partition=same: input %d went to %d", (int)part,
                     (int)out->r[i].part);
        cr_expect_gt(off, last[part], "partition %d: offset %lld after %lld",
                     (int)part, (long long)off, (long long)last[part]);
        last[part] = off;
        cJSON_Delete(j);
    }
}

Test(stage_mock, two_workers_keep_partition_order)
{
    static struct sink out;
    char err[512];
    rd_kafka_t *rk;
    long i, n = 900;
    struct kl_stage_stats st;

    cr_assert_eq(kl_mock_topic(&fx.mock, "out3", IN_PARTS, err, sizeof err),
                 0);
    cfg_set("output.topic", "out3");
    cfg_set("output.partition", "same");
    cfg_set("workers", "2");
    cfg_set("batch.max.size", "16");
    cfg_set("batch.max.delay.us", "300");
    start_stage();
    cr_expect_eq(kl_stage_worker_count(fx.s), 2);
    rk = input_producer();
    for (i = 0; i < n; i++)
        produce_good(rk, i);
    finish_inputs(rk);
    read_topic("out3", IN_PARTS, n, &out);
    cr_assert_eq(out.n, n, "results: %ld of %ld", out.n, n);
    cr_assert_eq(stop_stage(), 0, "stage: %s", fx.err);
    expect_partition_order(&out);
    kl_stage_get_stats(fx.s, &st);
    cr_expect_eq(st.out, (uint64_t)n);
    cr_expect_geq(st.batches, (uint64_t)n / 16);
    cr_expect_eq(st.batch_size.count, st.batches);
    cr_expect_eq(st.queue_wait_us.count, (uint64_t)n);
    cr_expect_eq(st.produce_us.count, (uint64_t)n);
    cr_expect_eq(st.queued, 0);
    expect_committed_end(rk);
    free_sink(&out);
    rd_kafka_destroy(rk);
}

Test(stage_mock, routes_by_kind_to_two_models)
{
    static struct sink out, dlq;
    char err[512], txn_path[160];
    rd_kafka_t *rk;
    long i, n = 300, id;
    const char *kinds[] = {"news", "transaction", "sport"};
    const struct kl_model_info *mi;
    const char *name;

    snprintf(txn_path, sizeof txn_path, "%s/txn.safetensors", dir);
    train_into(txn_path, "txn-model");
    cr_assert_eq(kl_mock_topic(&fx.mock, "out3", IN_PARTS, err, sizeof err),
                 0);
    cfg_set("output.topic", "out3");
    cfg_set("output.partition", "same");
    cfg_set("model.path", "");
    cfg_set("models", "news,txn");
    cfg_set("model.news.path", model_path);
    cfg_set("model.txn.path", txn_path);
    cfg_set("route.kind.news", "news");
    cfg_set("route.kind.transaction", "txn");
    cfg_set("route.default", "none");
    cfg_set("batch.max.size", "8");
    start_stage();
    cr_assert_eq(kl_stage_model_count(fx.s), 2);
    mi = kl_stage_model_info(fx.s, 1, &name);
    cr_expect_str_eq(name, "txn");
    cr_expect_str_eq(mi->id, "txn-model");
    rk = input_producer();
    for (i = 0; i < n; i++)
        produce_kind(rk, i, kinds[i % 3]);
    finish_inputs(rk);
    read_topic("out3", IN_PARTS, n / 3 * 2, &out);
    read_topic(T_DLQ, 1, n / 3, &dlq);
    cr_assert_eq(out.n, n / 3 * 2, "results: %ld", out.n);
    cr_assert_eq(dlq.n, n / 3, "dead letters: %ld", dlq.n);
    cr_assert_eq(stop_stage(), 0, "stage: %s", fx.err);
    for (i = 0; i < out.n; i++) {
        cJSON *j = cJSON_Parse(out.r[i].value);
        const cJSON *mid = cJSON_GetObjectItem(
            cJSON_GetObjectItem(j, "model"), "id");

        check_result(&out.r[i], &id);
        cr_expect_neq(id % 3, 2, "sport was labeled");
        cr_expect(cJSON_IsString(mid) &&
                      !strcmp(mid->valuestring,
                              id % 3 == 0 ? "tiny" : "txn-model"),
                  "id %ld (%s) labeled by %s", id, kinds[id % 3],
                  cJSON_IsString(mid) ? mid->valuestring : "?");
        cJSON_Delete(j);
    }
    /* Kinds alternate within each partition: results still in order. */
    expect_partition_order(&out);
    for (i = 0; i < dlq.n; i++)
        cr_expect_str_eq(dlq.r[i].cls, "no_route", "%s", dlq.r[i].reason);
    expect_committed_end(rk);
    free_sink(&out);
    free_sink(&dlq);
    rd_kafka_destroy(rk);
}

Test(stage_mock, pass_through_labels_nothing)
{
    static struct sink out;
    rd_kafka_t *rk;
    long i, n = 100;
    struct kl_stage_stats st;

    cfg_set("stage.inference", "false");
    start_stage();
    rk = input_producer();
    for (i = 0; i < n; i++)
        produce_good(rk, i);
    finish_inputs(rk);
    read_topic(T_OUT, 2, n, &out);
    cr_assert_eq(out.n, n);
    cr_assert_eq(stop_stage(), 0, "stage: %s", fx.err);
    for (i = 0; i < out.n; i++) {
        cJSON *j = cJSON_Parse(out.r[i].value);
        const cJSON *mid = cJSON_GetObjectItem(
            cJSON_GetObjectItem(j, "model"), "id");

        cr_expect(cJSON_IsNull(cJSON_GetObjectItem(j, "label")), "%s",
                  out.r[i].value);
        cr_expect(cJSON_IsString(mid) && !strcmp(mid->valuestring, "tiny"));
        cJSON_Delete(j);
    }
    kl_stage_get_stats(fx.s, &st);
    cr_expect_eq(st.featurize_ns, 0, "nothing featurized");
    expect_committed_end(rk);
    free_sink(&out);
    rd_kafka_destroy(rk);
}

Test(stage_mock, small_queue_pauses_and_resumes_without_loss)
{
    static struct sink out;
    rd_kafka_t *rk;
    unsigned char seen[MAXN] = {0};
    long i, n = 400, id, distinct = 0;
    struct kl_stage_stats st;

    kl_health_configure(0, 3); /* the worker sleeps 3 ms before each batch */
    cfg_set("queue.max.events", "24");
    cfg_set("queue.resume.ratio", "0.25");
    cfg_set("queue.hold.ms", "0"); /* pause at once, no hold first */
    cfg_set("batch.max.size", "8");
    start_stage();
    rk = input_producer();
    for (i = 0; i < n; i++)
        produce_good(rk, i);
    finish_inputs(rk);
    read_topic(T_OUT, 2, n, &out);
    cr_assert_eq(stop_stage(), 0, "stage: %s", fx.err);
    kl_health_configure(0, 0);
    for (i = 0; i < out.n; i++) {
        check_result(&out.r[i], &id);
        if (!seen[id]++)
            distinct++;
    }
    cr_expect_eq(distinct, n, "distinct results %ld of %ld", distinct, n);
    kl_stage_get_stats(fx.s, &st);
    cr_expect_gt(st.pauses, 0, "never paused");
    cr_expect_gt(st.resumes, 0, "never resumed");
    cr_expect_eq(st.paused, 0, "ends resumed or stopped with an empty queue");
    cr_expect_eq(st.queued, 0);
    expect_committed_end(rk);
    free_sink(&out);
    rd_kafka_destroy(rk);
}

Test(stage_mock, full_queue_holds_input_without_pausing)
{
    static struct sink out;
    rd_kafka_t *rk;
    unsigned char seen[MAXN] = {0};
    long i, n = 400, id, distinct = 0;
    struct kl_stage_stats st;

    kl_health_configure(0, 3);
    cfg_set("queue.max.events", "24");
    cfg_set("queue.hold.ms", "60000"); /* never long enough to pause */
    cfg_set("batch.max.size", "8");
    start_stage();
    rk = input_producer();
    for (i = 0; i < n; i++)
        produce_good(rk, i);
    finish_inputs(rk);
    read_topic(T_OUT, 2, n, &out);
    cr_assert_eq(stop_stage(), 0, "stage: %s", fx.err);
    kl_health_configure(0, 0);
    for (i = 0; i < out.n; i++) {
        check_result(&out.r[i], &id);
        if (!seen[id]++)
            distinct++;
    }
    cr_expect_eq(distinct, n, "distinct results %ld of %ld", distinct, n);
    kl_stage_get_stats(fx.s, &st);
    cr_expect_gt(st.holds, 0, "never held");
    cr_expect_eq(st.pauses, 0, "paused although the hold never ran out");
    cr_expect_eq(st.queued, 0);
    expect_committed_end(rk);
    free_sink(&out);
    rd_kafka_destroy(rk);
}

/* ------------------------------------------------ the same stage on files */

static void file_setup(void)
{
    kl_log_level = KL_LOG_WARNING;
    train_tiny();
}

static void file_teardown(void)
{
    char p[160];

    snprintf(p, sizeof p, "%s/tiny.safetensors", dir);
    unlink(p);
    rmdir(dir);
}

Test(stage_file, lines_in_results_and_dead_letters_out, .init = file_setup,
     .fini = file_teardown, .timeout = 60)
{
    FILE *in = tmpfile(), *out = tmpfile(), *dlq = tmpfile();
    struct kl_config *cfg = kl_config_create();
    struct kl_stage_io io;
    struct kl_stage *s = NULL;
    struct kl_stage_stats st;
    char err[512], line[4096];
    long nout = 0, ndlq = 0, i;

    cr_assert(in && out && dlq && cfg);
    for (i = 0; i < 300; i++)
        fprintf(in, "{\"id\":%ld,\"text\":\"%s\"}\n", i,
                i % 2 ? "stock market" : "football goal");
    fprintf(in, "not json\n{\"id\":\"x\",\"text\":\"\"}\n");
    rewind(in);
    cr_assert_eq(kl_config_set(cfg, "input.topics", "-", err, sizeof err), 0);
    cr_assert_eq(kl_config_set(cfg, "output.topic", "out", err, sizeof err), 0);
    cr_assert_eq(kl_config_set(cfg, "model.path", model_path, err,
                               sizeof err), 0);
    cr_assert_eq(kl_config_set(cfg, "batch.max.size", "64", err, sizeof err),
                 0);
    /* Batches close on size only (and the last at the end of input). */
    cr_assert_eq(kl_config_set(cfg, "batch.max.delay.us", "10000000", err,
                               sizeof err), 0);
    memset(&io, 0, sizeof io);
    io.ops = &kl_transport_file;
    io.in = in;
    io.out = out;
    io.dlq_out = dlq;
    cr_assert_eq(kl_stage_create(cfg, &io, &s, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(kl_stage_run(s, err, sizeof err), 0, "%s", err);
    kl_stage_get_stats(s, &st);
    cr_expect_eq(st.in, 302);
    cr_expect_eq(st.out, 300);
    cr_expect_eq(st.dlq, 2);
    cr_expect_eq(st.batches, 5); /* 64 * 4 + 46 */
    cr_expect_eq(st.closes[KL_CLOSE_SIZE], 4);
    cr_expect_eq(st.closes[KL_CLOSE_FLUSH], 1);
    cr_expect_eq(st.batch_size.count, 5);
    cr_expect_eq(st.queue_wait_us.count, 300);
    cr_expect_eq(st.queued, 0);
    rewind(out);
    while (fgets(line, sizeof line, out)) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *id = cJSON_GetObjectItem(j, "id");
        const cJSON *label = cJSON_GetObjectItem(j, "label");

        cr_assert(cJSON_IsNumber(id), "%s", line);
        cr_expect_eq((long)id->valuedouble, nout, "results in input order");
        cr_expect_str_eq(label->valuestring,
                         nout % 2 ? "finance" : "sports");
        cJSON_Delete(j);
        nout++;
    }
    rewind(dlq);
    while (fgets(line, sizeof line, dlq))
        ndlq++;
    cr_expect_eq(nout, 300);
    cr_expect_eq(ndlq, 2);
    kl_stage_destroy(s);
    kl_config_destroy(cfg);
    fclose(in);
    fclose(out);
    fclose(dlq);
}
