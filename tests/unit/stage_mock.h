/*
 * tests/unit/stage_mock.h: the fixture of the stage tests on librdkafka's
 * mock cluster (test_stage_mock.c, test_stage_threads.c): a tiny model
 * trained per test, the stage run on a thread with a config to tweak,
 * an input producer that records where each id landed, a reader of the
 * output topics and the checks of a result. Static: each test binary
 * includes it once.
 */
#ifndef KL_TESTS_STAGE_MOCK_H
#define KL_TESTS_STAGE_MOCK_H

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
static inline void train_into(const char *path, const char *id)
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

static inline void train_tiny(void)
{
    snprintf(dir, sizeof dir, "/tmp/klabel-test-stage-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(model_path, sizeof model_path, "%s/tiny.safetensors", dir);
    train_into(model_path, "tiny");
}

/* ------------------------------------------------------------ the stage */

static inline void *run_thread(void *arg)
{
    struct fixture *f = arg;

    f->rc = kl_stage_run(f->s, f->err, sizeof f->err);
    return NULL;
}

static inline void cfg_set(const char *k, const char *v)
{
    char err[512];

    cr_assert_eq(kl_config_set(fx.cfg, k, v, err, sizeof err), 0, "%s=%s: %s",
                 k, v, err);
}

static inline void base_config(void);

static inline void setup(void)
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
static inline void base_config(void)
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
static inline void start_stage(void)
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
static inline int stop_stage(void)
{
    if (fx.started) {
        kl_stage_stop(fx.s);
        pthread_join(fx.th, NULL);
        fx.started = 0;
    }
    return fx.rc;
}

static inline void teardown(void)
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


/* ---------------------------------------------------------------- input */

static inline void on_input_dr(rd_kafka_t *rk,
                               const rd_kafka_message_t *rkm, void *opaque)
{
    long id = (long)(intptr_t)rkm->_private;

    (void)rk;
    (void)opaque;
    if (!rkm->err && id >= 0 && id < MAXN) {
        in_part[id] = rkm->partition;
        in_off[id] = rkm->offset;
    }
}

static inline rd_kafka_t *input_producer(void)
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
static inline void produce_input(rd_kafka_t *rk, long id, const void *v,
                                 size_t n, int stale_header)
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

static inline void produce_good(rd_kafka_t *rk, long id)
{
    char v[256];

    snprintf(v, sizeof v, "{\"id\":%ld,\"text\":\"%s %s\",\"kind\":\"news\"}",
             id, id % 2 ? "stock" : "football", id % 2 ? "market" : "goal");
    produce_input(rk, id, v, strlen(v), 0);
}

static inline void finish_inputs(rd_kafka_t *rk)
{
    cr_assert_eq(rd_kafka_flush(rk, 10000), 0);
}

static inline int64_t end_offset(rd_kafka_t *rk, int32_t p)
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

static inline void hdr_copy(rd_kafka_headers_t *h, const char *name,
                            char *dst, size_t n)
{
    const void *v;
    size_t len;

    dst[0] = '\0';
    if (h && !rd_kafka_header_get_last(h, name, &v, &len) && v)
        snprintf(dst, n, "%.*s", (int)len, (const char *)v);
}

static inline int on_record(void *ud, const rd_kafka_message_t *rkm)
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

static inline void read_topic(const char *topic, int nparts, long want,
                       struct sink *s)
{
    s->n = 0;
    s->want = want;
    kl_mock_read(fx.mock.bootstraps, topic, nparts, 30000, on_record, s,
                 NULL);
}

static inline void free_sink(struct sink *s)
{
    long i;

    for (i = 0; i < s->n; i++)
        free(s->r[i].value);
}

/* Starts the stage, produces good events 0..n-1, reads their results into
 * *out (asserting all n came) and stops the stage (asserting a clean
 * stop). Returns the input producer: the caller checks the commits
 * (expect_committed_end), then destroys it and frees *out. */
static inline rd_kafka_t *run_good_events(long n, struct sink *out)
{
    rd_kafka_t *rk;
    long i;

    start_stage();
    rk = input_producer();
    for (i = 0; i < n; i++)
        produce_good(rk, i);
    finish_inputs(rk);
    read_topic(T_OUT, 2, n, out);
    cr_assert_eq(out->n, n, "results: %ld of %ld", out->n, n);
    cr_assert_eq(stop_stage(), 0, "stage: %s", fx.err);
    return rk;
}

/* Checks that result r is the labeled event of input id. */
static inline void check_result(const struct rec *r, long *id_out)
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

static inline void expect_committed_end(rd_kafka_t *rk)
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

#endif
