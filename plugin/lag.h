/*
 * Consumer lag from librdkafka's statistics: with metrics on, the consumer
 * emits its statistics JSON every metrics.stats.interval.ms, and each
 * assigned input partition's consumer_lag (end offset minus committed
 * offset) becomes klabel_consumer_lag{topic,partition}. Series of
 * partitions that are no longer assigned disappear; at most 1024 series
 * (plugin/metrics_stage.c) bound the label cardinality.
 */
#ifndef KL_PLUGIN_LAG_H
#define KL_PLUGIN_LAG_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

struct kl_config;

/* Prepares a consumer configuration: when metrics.port and
 * metrics.stats.interval.ms are both non-zero, sets statistics.interval.ms
 * (checked) and the statistics callback. Returns 0 or KL_EINVAL with
 * librdkafka's reason in err. */
int kl_lag_conf(const struct kl_config *cfg, rd_kafka_conf_t *conf, char *err,
                size_t errsz);

/* Reads one statistics JSON document (json[0..len), not NUL-terminated)
 * and sets the lag gauges of the partitions it shows as fetched; drops
 * those it does not show. Returns the number of partitions set, or
 * KL_EFORMAT when the document does not parse (gauges left as they
 * were). */
int kl_lag_update(const char *json, size_t len);

#endif
