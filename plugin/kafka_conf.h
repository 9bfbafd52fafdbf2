/*
 * Building librdkafka configurations for the kafka transport: our defaults,
 * then the kafka.* pass-through keys, then the settings at-least-once
 * depends on. Private to transport_kafka.c.
 */
#ifndef KL_PLUGIN_KAFKA_CONF_H
#define KL_PLUGIN_KAFKA_CONF_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

struct kl_config;

/* Sets one property; returns 0 or KL_EINVAL with librdkafka's reason
 * ("role: key=value: reason") in err. */
int kl_kafka_conf_set(rd_kafka_conf_t *conf, const char *role, const char *key,
                      const char *value, char *err, size_t errsz);

/* Creates a consumer configuration: group.id from cfg, cooperative-sticky,
 * auto.offset.reset=earliest, enable.auto.commit=true, prefetch bounded to
 * more than a second of consumption (queued.min.messages=1000000,
 * queued.max.messages.kbytes=49152, fetch.max.bytes=16 MiB,
 * max.partition.fetch.bytes=4 MiB), then kafka.* / kafka.consumer.*, then
 * enable.auto.offset.store=false (a pass-through key that contradicts it
 * is an error). On success *out is caller-owned (rd_kafka_conf_destroy, or
 * give it to rd_kafka_new). */
int kl_kafka_conf_consumer(const struct kl_config *cfg, rd_kafka_conf_t **out,
                           char *err, size_t errsz);

/* Creates a producer configuration: enable.idempotence=true, acks=all,
 * linger.ms=5 (why: kafka_conf.c), queue.buffering.max.kbytes=32768, then
 * kafka.* / kafka.producer.* (which may change them); with
 * stage.producer.nice or stage.producer.poll.wait.us > 0, an interceptor
 * that, in each of the producer's broker threads as it starts, adds the
 * niceness and marks the thread's zero-timeout polls as waits of that
 * many microseconds (kafka_poll.c). On success *out is caller-owned. */
int kl_kafka_conf_producer(const struct kl_config *cfg, rd_kafka_conf_t **out,
                           char *err, size_t errsz);

#endif
