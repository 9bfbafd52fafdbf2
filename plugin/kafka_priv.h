/*
 * The kafka transport's private state, shared by transport_kafka.c (the
 * transport operations) and kafka_client.c (librdkafka handles and their
 * callbacks). Not used anywhere else.
 */
#ifndef KL_PLUGIN_KAFKA_PRIV_H
#define KL_PLUGIN_KAFKA_PRIV_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "klabel/transport.h"

struct kl_kafka {
    struct kl_transport base;
    rd_kafka_t *consumer;
    rd_kafka_t *producer;
    rd_kafka_queue_t *cq;        /* consumer queue (main queue forwarded) */
    rd_kafka_queue_t *pq;        /* producer main queue: delivery reports */
    int wake[2];                 /* pipe: wake() and, while armed, the
                                    queues' events (kafka_wait.c) */
    rd_kafka_topic_t **rkts;     /* (nrkts) producer handles of out_topics */
    int nrkts;
    int paused;
    atomic_int woken;            /* wake() was called: poll() returns */
    atomic_int armed;            /* poll() sleeps until a queue wakes it */
    int64_t active_us;           /* when poll() last found work */
    atomic_int interrupted;      /* interrupt(): produce() waits no more */
    int fatal;                   /* a client raised a fatal error */
    int consumer_fatal;          /* ... and it was the consumer */
    char fatal_reason[512];
    void (*on_delivery)(void *ud, const struct kl_delivery *d);
    void (*on_assign)(void *ud, const char *topic, int32_t partition);
    void (*on_revoke)(void *ud, const char *topic, int32_t partition);
    void *ud;
};

/* CLOCK_MONOTONIC in microseconds (kafka_wait.c). */
int64_t kl_kafka_now_us(void);

/* rd_kafka_queue_cb_event_enable() callback for kk's queues (opaque: kk):
 * librdkafka calls it from its own threads, under the queue's lock, when
 * the queue goes from empty to non-empty; wakes kl_kafka_sleep_until()
 * only when it sleeps armed (kafka_wait.c). */
void kl_kafka_on_queue_event(rd_kafka_t *rk, void *opaque);

/* poll()'s wait, from poll()'s thread: until deadline_us at most, or
 * wake(), or (when idle) a queue event; kk->active_us tells busy from
 * idle. Returns 0 when a queue was found non-empty instead of sleeping,
 * else 1 (kafka_wait.c). */
int kl_kafka_sleep_until(struct kl_kafka *kk, int64_t deadline_us);

/* rd_kafka_poll(kk->producer, timeout_ms), with the delivery reports it
 * serves stamped (struct kl_delivery's t_us) from one clock read per 64
 * reports instead of the receiver reading the clock for each. Returns
 * rd_kafka_poll's count. Any thread (the stamp is per thread). */
int kl_kafka_poll_reports(struct kl_kafka *kk, int timeout_ms);

/* Flushes, commits, leaves the group and destroys kk's clients and queues
 * (kk itself is the caller's to free), within timeout_ms plus at most
 * 0.5 s for destroying the clients. Returns 0 or KL_EKAFKA with the first
 * problem in err. (kafka_close.c) */
int kl_kafka_close_clients(struct kl_kafka *kk, int timeout_ms, char *err,
                           size_t errsz);

/* Creates a client of type from conf (consumed, even on error) with kk as
 * opaque and our log/error callbacks, plus the rebalance callback
 * (consumer) or delivery report callback (producer). Returns 0 or
 * KL_EKAFKA with a reason in err; *out is owned by kk. */
int kl_kafka_client_new(rd_kafka_type_t type, rd_kafka_conf_t *conf,
                        struct kl_kafka *kk, rd_kafka_t **out, char *err,
                        size_t errsz);

#endif
