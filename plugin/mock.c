/*
 * In-process mock Kafka cluster and client helpers (plugin/mock.h), for the
 * demo and the tests.
 */
#include "mock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafka_conf.h"
#include "klabel/engine.h"
#include "log.h"

static void mock_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                        const char *buf)
{
    KL_LOG(level, "mock", "%s: %s: %s", rd_kafka_name(rk), fac, buf);
}

/* A configuration with our log callback and the given pairs set. */
static rd_kafka_conf_t *conf_with(const char *const (*kv)[2], char *err,
                                  size_t errsz)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int i;

    rd_kafka_conf_set_log_cb(conf, mock_log_cb);
    if (getenv("KL_MOCK_DEBUG") &&
        kl_kafka_conf_set(conf, "mock", "debug", getenv("KL_MOCK_DEBUG"), err,
                          errsz)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    for (i = 0; kv && kv[i][0]; i++) {
        if (kl_kafka_conf_set(conf, "mock", kv[i][0], kv[i][1], err,
                              errsz)) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    return conf;
}

int kl_mock_start(struct kl_mock *m, int nbrokers, char *err, size_t errsz)
{
    const char *const kv[][2] = {{"client.id", "klabel-mock"}, {NULL, NULL}};
    rd_kafka_conf_t *conf = conf_with(kv, err, errsz);
    char why[256];
    int rc = KL_EKAFKA;

    memset(m, 0, sizeof *m);
    if (!conf)
        goto out;
    m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
    if (!m->rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errsz, "mock host producer: %s", why);
        goto out;
    }
    m->mcluster = rd_kafka_mock_cluster_new(m->rk, nbrokers);
    if (!m->mcluster) {
        snprintf(err, errsz, "rd_kafka_mock_cluster_new failed");
        goto out;
    }
    m->bootstraps = rd_kafka_mock_cluster_bootstraps(m->mcluster);
    rc = KL_OK;
out:
    if (rc)
        kl_mock_stop(m);
    return rc;
}

int kl_mock_topic(struct kl_mock *m, const char *topic, int partitions,
                  char *err, size_t errsz)
{
    rd_kafka_resp_err_t kerr;

    kerr = rd_kafka_mock_topic_create(m->mcluster, topic, partitions, 1);
    if (kerr) {
        snprintf(err, errsz, "create topic %s: %s", topic,
                 rd_kafka_err2str(kerr));
        return KL_EKAFKA;
    }
    return KL_OK;
}

void kl_mock_stop(struct kl_mock *m)
{
    if (m->mcluster)
        rd_kafka_mock_cluster_destroy(m->mcluster);
    if (m->rk)
        rd_kafka_destroy(m->rk);
    memset(m, 0, sizeof *m);
}

rd_kafka_t *kl_mock_producer(const char *bootstraps, const char *topic,
                             char *err, size_t errsz)
{
    const char *const kv[][2] = {{"bootstrap.servers", bootstraps},
                                 {"acks", "all"},
                                 {"linger.ms", "5"},
                                 {"client.id", "klabel-mock-producer"},
                                 {NULL, NULL}};
    rd_kafka_conf_t *conf = conf_with(kv, err, errsz);
    rd_kafka_t *rk;
    char why[256];

    if (!conf)
        return NULL;
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errsz, "producer: %s", why);
        return NULL;
    }
    if (topic) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        const struct rd_kafka_metadata *md = NULL;

        if (rkt && !rd_kafka_metadata(rk, 0, rkt, &md, 5000))
            rd_kafka_metadata_destroy(md);
        if (rkt)
            rd_kafka_topic_destroy(rkt);
    }
    return rk;
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A group-less consumer for bootstraps; NULL on error. */
static rd_kafka_t *reader_new(const char *bootstraps, const char *group)
{
    const char *const kv[][2] = {{"bootstrap.servers", bootstraps},
                                 {"group.id", group},
                                 {"enable.auto.commit", "false"},
                                 {"fetch.wait.max.ms", "5"},
                                 {"client.id", "klabel-mock-reader"},
                                 {NULL, NULL}};
    char err[512];
    rd_kafka_conf_t *conf = conf_with(kv, err, sizeof err);
    rd_kafka_t *rk;

    if (!conf) {
        KL_LOG(KL_LOG_ERR, "mock", "%s", err);
        return NULL;
    }
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        KL_LOG(KL_LOG_ERR, "mock", "reader: %s", err);
    }
    return rk;
}

long kl_mock_read(const char *bootstraps, const char *topic, int nparts,
                  int timeout_ms, kl_mock_read_fn *fn, void *ud,
                  atomic_int *stop)
{
    rd_kafka_t *rk = reader_new(bootstraps, "klabel-mock-reader");
    rd_kafka_topic_partition_list_t *parts = NULL;
    int64_t deadline = mono_ms() + timeout_ms;
    long n = -1;
    int i;

    if (!rk)
        goto out;
    parts = rd_kafka_topic_partition_list_new(nparts);
    for (i = 0; i < nparts; i++)
        rd_kafka_topic_partition_list_add(parts, topic, i)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    if (rd_kafka_assign(rk, parts))
        goto out;
    n = 0;
    while (mono_ms() < deadline && !(stop && atomic_load(stop))) {
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 50);
        int done;

        if (!rkm)
            continue;
        if (rkm->err) {
            if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                KL_LOG(KL_LOG_WARNING, "mock", "read %s: %s", topic,
                       rd_kafka_message_errstr(rkm));
            rd_kafka_message_destroy(rkm);
            continue;
        }
        n++;
        done = fn(ud, rkm);
        rd_kafka_message_destroy(rkm);
        if (done)
            break;
    }
out:
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    return n;
}

int64_t kl_mock_committed(const char *bootstraps, const char *group,
                          const char *topic, int32_t partition)
{
    rd_kafka_t *rk = reader_new(bootstraps, group);
    rd_kafka_topic_partition_list_t *parts;
    int64_t off = -2;

    if (!rk)
        return -2;
    parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, partition);
    if (!rd_kafka_committed(rk, parts, 10000) && !parts->elems[0].err)
        off = parts->elems[0].offset < 0 ? -1 : parts->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_destroy(rk);
    return off;
}
