/*
 * Unit tests of consumer lag from librdkafka statistics (plugin/lag.c):
 * which partitions of a statistics document become
 * klabel_consumer_lag{topic,partition} series (fetched, known lag, not
 * librdkafka's internal partition -1), that partitions which disappear
 * lose their series, that a document that does not parse leaves the
 * gauges alone, and that statistics.interval.ms is set on the consumer
 * configuration only when metrics are on. The last test runs a real
 * consumer against librdkafka's mock cluster and waits for its lag.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "buf.h"
#include "config.h"
#include "klabel/engine.h"
#include "lag.h"
#include "log.h"
#include "metrics.h"
#include "mock.h"

static struct kl_buf out;

static void setup(void)
{
    char err[256];

    kl_log_level = KL_LOG_ERR;
    cr_assert_eq(kl_metrics_stage_init(err, sizeof err), 0, "%s", err);
    kl_buf_init(&out);
}

static void teardown(void)
{
    kl_buf_fini(&out);
    kl_metrics_stage_fini();
}

TestSuite(lag, .init = setup, .fini = teardown, .timeout = 60);

static const char *render(void)
{
    kl_buf_reset(&out);
    cr_assert_eq(kl_metrics_render(kl_metrics_global(), &out), 0);
    return out.data;
}

/* The lines of the rendering that start with klabel_consumer_lag{. */
static int lag_lines(void)
{
    const char *p = render();
    int n = 0;

    while ((p = strstr(p, "\nklabel_consumer_lag{")) != NULL) {
        n++;
        p++;
    }
    return n;
}

#define PART(id, state, lag)                                                  \
    "\"" #id "\":{\"partition\":" #id ",\"fetch_state\":\"" state "\","       \
    "\"committed_offset\":5,\"consumer_lag\":" #lag ",\"consumer_lag_stored\":0}"

static const char doc1[] =
    "{\"name\":\"klabel-consumer#consumer-1\",\"type\":\"consumer\","
    "\"topics\":{"
    "\"news\":{\"topic\":\"news\",\"partitions\":{"
    PART(0, "active", 12) "," PART(1, "active", 0) "," PART(2, "none", 5) ","
    PART(-1, "none", -1) "}},"
    "\"txn\":{\"topic\":\"txn\",\"partitions\":{"
    PART(0, "active", -1) "," PART(1, "offset-query", 1234567) "}}}}";

Test(lag, sets_fetched_partitions_with_a_known_lag)
{
    const char *t;

    cr_expect_eq(kl_lag_update(doc1, strlen(doc1)), 3);
    t = render();
    cr_expect_neq(strstr(t, "klabel_consumer_lag{topic=\"news\",partition=\"0\"} 12\n"),
                  NULL, "%s", t);
    cr_expect_neq(strstr(t, "klabel_consumer_lag{topic=\"news\",partition=\"1\"} 0\n"),
                  NULL);
    cr_expect_neq(strstr(t, "klabel_consumer_lag{topic=\"txn\",partition=\"1\"} 1234567\n"),
                  NULL);
    cr_expect_eq(lag_lines(), 3, "not partition 2 (not fetched), -1 or txn/0 (lag -1)");
}

Test(lag, gone_partitions_lose_their_series)
{
    static const char doc2[] =
        "{\"type\":\"consumer\",\"topics\":{\"news\":{\"partitions\":{"
        PART(1, "active", 3) "}}}}";
    static const char empty[] = "{\"type\":\"consumer\",\"topics\":{}}";

    cr_assert_eq(kl_lag_update(doc1, strlen(doc1)), 3);
    cr_assert_eq(kl_lag_update(doc2, strlen(doc2)), 1);
    cr_expect_eq(lag_lines(), 1);
    cr_expect_neq(strstr(render(), "partition=\"1\"} 3\n"), NULL);
    cr_assert_eq(kl_lag_update(empty, strlen(empty)), 0);
    cr_expect_eq(lag_lines(), 0);
}

Test(lag, bad_document_leaves_gauges)
{
    cr_assert_eq(kl_lag_update(doc1, strlen(doc1)), 3);
    cr_expect_eq(kl_lag_update(doc1, strlen(doc1) - 10), KL_EFORMAT,
                 "truncated");
    cr_expect_eq(kl_lag_update("", 0), KL_EFORMAT);
    cr_expect_eq(lag_lines(), 3);
}

/* statistics.interval.ms of a consumer configuration after kl_lag_conf,
 * "" when unset or 0. */
static void conf_interval(const char *port, const char *every, char *v,
                          size_t n)
{
    struct kl_config *cfg = kl_config_create();
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[256];

    cr_assert_eq(kl_config_set(cfg, "metrics.port", port, err, sizeof err), 0);
    if (every)
        cr_assert_eq(kl_config_set(cfg, "metrics.stats.interval.ms", every,
                                   err, sizeof err),
                     0);
    cr_assert_eq(kl_lag_conf(cfg, conf, err, sizeof err), 0, "%s", err);
    cr_assert_eq(rd_kafka_conf_get(conf, "statistics.interval.ms", v, &n),
                 RD_KAFKA_CONF_OK);
    if (!strcmp(v, "0"))
        v[0] = '\0';
    rd_kafka_conf_destroy(conf);
    kl_config_destroy(cfg);
}

Test(lag, statistics_only_with_metrics_on)
{
    char v[32];

    conf_interval("0", NULL, v, sizeof v);
    cr_expect_str_eq(v, "", "metrics off: no statistics");
    conf_interval("9464", NULL, v, sizeof v);
    cr_expect_str_eq(v, "5000", "the default");
    conf_interval("9464", "250", v, sizeof v);
    cr_expect_str_eq(v, "250");
    conf_interval("9464", "0", v, sizeof v);
    cr_expect_str_eq(v, "", "lag off");
}

/* A real consumer on the mock cluster: 30 messages, nothing committed at
 * first (no lag known), then offset 10 committed: lag 20. */
Test(lag, real_consumer_statistics)
{
    struct kl_mock mock;
    struct kl_config *cfg = kl_config_create();
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_topic_partition_list_t *parts;
    rd_kafka_message_t *m;
    rd_kafka_t *p, *c;
    char err[512];
    int i;

    cr_assert_eq(kl_mock_start(&mock, 1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(kl_mock_topic(&mock, "lagin", 1, err, sizeof err), 0);
    p = kl_mock_producer(mock.bootstraps, "lagin", err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    for (i = 0; i < 30; i++)
        cr_assert_eq(rd_kafka_producev(p, RD_KAFKA_V_TOPIC("lagin"),
                                       RD_KAFKA_V_VALUE("x", 1),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_END),
                     0);
    cr_assert_eq(rd_kafka_flush(p, 10000), 0);
    rd_kafka_destroy(p);
    cr_assert_eq(kl_config_set(cfg, "metrics.port", "9464", err, sizeof err), 0);
    cr_assert_eq(kl_config_set(cfg, "metrics.stats.interval.ms", "100", err,
                               sizeof err), 0);
    cr_assert_eq(kl_lag_conf(cfg, conf, err, sizeof err), 0, "%s", err);
    cr_assert_eq(rd_kafka_conf_set(conf, "bootstrap.servers", mock.bootstraps,
                                   err, sizeof err), RD_KAFKA_CONF_OK);
    cr_assert_eq(rd_kafka_conf_set(conf, "group.id", "laggroup", err,
                                   sizeof err), RD_KAFKA_CONF_OK);
    cr_assert_eq(rd_kafka_conf_set(conf, "enable.auto.commit", "false", err,
                                   sizeof err), RD_KAFKA_CONF_OK);
    c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    rd_kafka_poll_set_consumer(c); /* as the stage: stats on consumer_poll */
    parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, "lagin", 0)->offset = 10;
    cr_assert_eq(rd_kafka_commit(c, parts, 0), 0);
    rd_kafka_topic_partition_list_destroy(parts);
    parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, "lagin", 0)->offset =
        RD_KAFKA_OFFSET_STORED;
    cr_assert_eq(rd_kafka_assign(c, parts), 0);
    rd_kafka_topic_partition_list_destroy(parts);
    for (i = 0; i < 200; i++) {
        m = rd_kafka_consumer_poll(c, 50); /* serves stats_cb */
        if (m)
            rd_kafka_message_destroy(m);
        if (strstr(render(), "klabel_consumer_lag{topic=\"lagin\",partition=\"0\"} 20\n"))
            break;
    }
    cr_expect_lt(i, 200, "no lag 20 seen:\n%s", out.data);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    kl_config_destroy(cfg);
    kl_mock_stop(&mock);
}
