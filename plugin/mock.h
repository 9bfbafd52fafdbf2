/*
 * An in-process Kafka cluster (librdkafka's mock cluster) and small client
 * helpers around it, for the embedded demo and the unit tests. Not for
 * production paths. Mock limits: at most 100,000 message sets / 5 MiB per
 * partition; the first group join takes about 3 s.
 */
#ifndef KL_PLUGIN_MOCK_H
#define KL_PLUGIN_MOCK_H

#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

/* A running mock cluster. Caller-owned struct; kl_mock_stop(). */
struct kl_mock {
    rd_kafka_t *rk;                     /* dummy producer that hosts it */
    rd_kafka_mock_cluster_t *mcluster;
    const char *bootstraps;             /* borrowed from mcluster */
};

/* Starts a cluster of nbrokers brokers. Returns 0 or KL_EKAFKA. */
int kl_mock_start(struct kl_mock *m, int nbrokers, char *err, size_t errsz);

/* Creates a topic (replication factor 1). Returns 0 or KL_EKAFKA. */
int kl_mock_topic(struct kl_mock *m, const char *topic, int partitions,
                  char *err, size_t errsz);

/* Stops the cluster (a zeroed m is fine). */
void kl_mock_stop(struct kl_mock *m);

/* A plain producer for bootstraps (acks=all, linger.ms=5) that has already
 * looked up the metadata of topic (may be NULL), so its first records are
 * not held back. Caller owns the result: rd_kafka_flush() then
 * rd_kafka_destroy(). NULL on error. */
rd_kafka_t *kl_mock_producer(const char *bootstraps, const char *topic,
                             char *err, size_t errsz);

/* Called for each message kl_mock_read() gets; return non-zero to stop. */
typedef int (kl_mock_read_fn)(void *ud, const rd_kafka_message_t *rkm);

/* Reads topic (partitions 0..nparts-1, from the beginning, no group) until
 * fn returns non-zero, *stop becomes non-zero (may be NULL), or timeout_ms
 * passes. Returns the number of messages given to fn, or -1 on error. */
long kl_mock_read(const char *bootstraps, const char *topic, int nparts,
                  int timeout_ms, kl_mock_read_fn *fn, void *ud,
                  atomic_int *stop);

/* The committed offset of (group, topic, partition), or -1 if none, or
 * -2 on error. */
int64_t kl_mock_committed(const char *bootstraps, const char *group,
                          const char *topic, int32_t partition);

#endif
