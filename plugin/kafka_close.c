/*
 * Closing the kafka transport's clients (kafka_priv.h), bounded even when
 * the broker is unreachable: the producer is flushed until the deadline,
 * the commit waits on a queue with the deadline (a synchronous commit to a
 * dead coordinator waits for socket.timeout.ms), the group is left while
 * time remains, records that could not be delivered are purged, and the
 * handles are destroyed on a helper thread that close stops waiting for
 * 0.5 s after its deadline (librdkafka's destroy, too, waits for requests
 * to a dead coordinator).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "kafka_priv.h"
#include "klabel/engine.h"
#include "log.h"

#define COMP "kafka"

static int remaining_ms(int64_t deadline)
{
    int64_t r = (deadline - kl_kafka_now_us()) / 1000;

    return r < 0 ? 0 : (int)r;
}

/* Commits the stored offsets, waiting for the result until deadline (a
 * synchronous commit to a coordinator that is gone waits for the socket
 * timeout). Returns 0, or KL_EKAFKA with the reason logged. */
static int commit_bounded(struct kl_kafka *kk, int64_t deadline, char *err,
                          size_t errsz)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(kk->consumer);
    rd_kafka_event_t *ev = NULL;
    rd_kafka_resp_err_t kerr;
    int rc = KL_OK;

    kerr = rd_kafka_commit_queue(kk->consumer, NULL, q, NULL, NULL);
    while (!kerr && !ev && kl_kafka_now_us() < deadline)
        ev = rd_kafka_queue_poll(q, remaining_ms(deadline) < 50
                                        ? remaining_ms(deadline) : 50);
    if (!kerr && !ev) {
        snprintf(err, errsz, "commit: no answer before the shutdown "
                 "deadline; offsets stored since the last auto-commit are "
                 "not committed");
        rc = KL_EKAFKA;
    } else {
        if (!kerr)
            kerr = rd_kafka_event_error(ev);
        if (kerr && kerr != RD_KAFKA_RESP_ERR__NO_OFFSET) {
            snprintf(err, errsz, "commit: %s; offsets stored since the last "
                     "auto-commit are not committed", rd_kafka_err2str(kerr));
            rc = KL_EKAFKA;
        }
    }
    if (rc)
        KL_LOG(KL_LOG_ERR, COMP, "%s", err);
    else
        KL_LOG(KL_LOG_INFO, COMP, "offsets committed");
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    return rc;
}

/* Serves one event of the close queue. The queue is served as events, not
 * callbacks: messages fetched before the close arrive on it too, and
 * librdkafka 2.0.2 asserts when a fetched message meets the callback path
 * (rdkafka_queue.c: res != RD_KAFKA_OP_RES_PASS). Fetched messages are
 * dropped (their offsets were never stored); a rebalance is answered with
 * the (incremental) assign or unassign it asks for. Takes ownership of ev
 * (NULL is fine). */
static void serve_close_event(rd_kafka_t *consumer, rd_kafka_event_t *ev)
{
    if (ev == NULL)
        return;
    if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE) {
        rd_kafka_topic_partition_list_t *parts =
            rd_kafka_event_topic_partition_list(ev);
        int assign = rd_kafka_event_error(ev) ==
                     RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
        const char *proto = rd_kafka_rebalance_protocol(consumer);

        if (proto && strcmp(proto, "COOPERATIVE") == 0) {
            rd_kafka_error_t *error =
                assign ? rd_kafka_incremental_assign(consumer, parts)
                       : rd_kafka_incremental_unassign(consumer, parts);
            if (error)
                rd_kafka_error_destroy(error);
        } else {
            rd_kafka_assign(consumer, assign ? parts : NULL);
        }
    }
    rd_kafka_event_destroy(ev);
}

/* Leaves the group, serving rebalances, until closed or deadline. */
static int close_consumer(struct kl_kafka *kk, int64_t deadline)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(kk->consumer);
    rd_kafka_error_t *error;
    int rc = KL_OK;

    error = rd_kafka_consumer_close_queue(kk->consumer, q);
    if (error) {
        KL_LOG(KL_LOG_WARNING, COMP, "consumer close: %s",
               rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        rc = KL_EKAFKA;
        goto out;
    }
    while (!rd_kafka_consumer_closed(kk->consumer)) {
        if (kl_kafka_now_us() >= deadline) {
            KL_LOG(KL_LOG_WARNING, COMP,
                   "consumer close did not finish in time");
            rc = KL_EKAFKA;
            break;
        }
        serve_close_event(kk->consumer, rd_kafka_queue_poll(q, 50));
    }
out:
    rd_kafka_queue_destroy(q);
    return rc;
}

#define DESTROY_GRACE_US 500000 /* destroy may run this long past close's deadline */

/* The librdkafka handles being destroyed on a helper thread. */
struct destroy_job {
    rd_kafka_t *consumer, *producer;
    int consumer_closed;
    atomic_int done;
};

static void *destroy_main(void *arg)
{
    struct destroy_job *j = arg;

    if (j->consumer_closed)
        rd_kafka_destroy(j->consumer);
    else
        rd_kafka_destroy_flags(j->consumer,
                               RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    /* What could not be delivered in time is dropped now (its offsets were
     * never stored), so destroying the producer does not wait for it. */
    if (rd_kafka_outq_len(j->producer) > 0)
        rd_kafka_purge(j->producer, RD_KAFKA_PURGE_F_QUEUE |
                                        RD_KAFKA_PURGE_F_INFLIGHT |
                                        RD_KAFKA_PURGE_F_NON_BLOCKING);
    rd_kafka_destroy(j->producer);
    atomic_store(&j->done, 1);
    return NULL;
}

/* Destroys both handles, waiting until deadline + DESTROY_GRACE_US; past
 * that the helper thread is left to finish on its own (and the process
 * may exit under it). No callback of ours runs during destroy except the
 * log callback, which uses nothing of kk. */
static void destroy_bounded(rd_kafka_t *consumer, int consumer_closed,
                            rd_kafka_t *producer, int64_t deadline)
{
    struct destroy_job *j = calloc(1, sizeof *j);
    pthread_t th;

    if (j) {
        j->consumer = consumer;
        j->producer = producer;
        j->consumer_closed = consumer_closed;
        atomic_init(&j->done, 0);
    }
    if (!j || pthread_create(&th, NULL, destroy_main, j) != 0) {
        if (j) {
            destroy_main(j);
            free(j);
        }
        return;
    }
    while (!atomic_load(&j->done) &&
           kl_kafka_now_us() < deadline + DESTROY_GRACE_US) {
        struct timespec ts = {0, 5 * 1000 * 1000};

        nanosleep(&ts, NULL);
    }
    if (atomic_load(&j->done)) {
        pthread_join(th, NULL);
        free(j);
        return;
    }
    KL_LOG(KL_LOG_WARNING, COMP,
           "librdkafka is still shutting down its clients (broker "
           "unreachable?); not waiting for it any longer");
    pthread_detach(th); /* j is the thread's now; freed with the process */
}

int kl_kafka_close_clients(struct kl_kafka *kk, int timeout_ms, char *err,
                           size_t errsz)
{
    int64_t t0 = kl_kafka_now_us(), deadline = t0 + (int64_t)timeout_ms * 1000;
    rd_kafka_resp_err_t kerr;
    char cerr[512];
    int rc = KL_OK, closed, i;

    /* Wake events are not wanted any more (the pipe closes below). */
    rd_kafka_queue_cb_event_enable(kk->cq, NULL, NULL);
    rd_kafka_queue_cb_event_enable(kk->pq, NULL, NULL);
    kerr = rd_kafka_flush(kk->producer, remaining_ms(deadline));
    if (kerr) {
        snprintf(err, errsz, "flush: %d record(s) not delivered: %s",
                 rd_kafka_outq_len(kk->producer), rd_kafka_err2str(kerr));
        rc = KL_EKAFKA;
    }
    KL_LOG(KL_LOG_DEBUG, COMP, "close: flush %lld ms",
           (long long)(kl_kafka_now_us() - t0) / 1000);
    /* Offsets are stored only for delivered results, so they may be
     * committed even after a fatal producer error. */
    if (!kk->consumer_fatal &&
        commit_bounded(kk, deadline, cerr, sizeof cerr) != KL_OK) {
        if (!rc)
            snprintf(err, errsz, "%s", cerr);
        rc = KL_EKAFKA;
    }
    if (kk->fatal && !rc) {
        snprintf(err, errsz, "%s", kk->fatal_reason);
        rc = KL_EKAFKA;
    }
    closed = close_consumer(kk, deadline) == KL_OK;
    KL_LOG(KL_LOG_DEBUG, COMP, "close: commit and leave %lld ms",
           (long long)(kl_kafka_now_us() - t0) / 1000);
    rd_kafka_queue_destroy(kk->cq);
    kk->cq = NULL;
    rd_kafka_queue_destroy(kk->pq);
    kk->pq = NULL;
    for (i = 0; i < kk->nrkts; i++)
        rd_kafka_topic_destroy(kk->rkts[i]);
    kk->nrkts = 0;
    destroy_bounded(kk->consumer, closed, kk->producer, deadline);
    kk->consumer = NULL;
    kk->producer = NULL;
    KL_LOG(KL_LOG_DEBUG, COMP, "close: clients destroyed %lld ms",
           (long long)(kl_kafka_now_us() - t0) / 1000);
    return rc;
}

