/*
 * The "kafka" transport: a group consumer (cooperative-sticky, offsets
 * stored by the stage after delivery, auto-committed) and an idempotent
 * producer, as one struct kl_transport.
 *
 * Both clients are served from the caller's thread; produce() and
 * release() may also come from the stage's workers (librdkafka's produce
 * and message destroy are thread-safe). poll() sleeps on one pipe with
 * microsecond timeouts: wake() writes to it, and so do both queues'
 * events when poll() has been idle; while busy, poll() naps in short
 * ticks; the last stretch before its deadline is spun (kafka_wait.c). A
 * result takes over its input's header list
 * (rd_kafka_message_detach_headers) instead of copying it. A record's
 * timestamp is the one the caller gives (kl_out_msg.ts_ms), else the
 * clock's. librdkafka's log lines go through KL_LOG; a fatal error
 * (error_cb with RD_KAFKA_RESP_ERR__FATAL) makes every later call fail so
 * the stage ends with a non-zero exit.
 * close() is bounded even with the broker gone (kafka_close.c). The
 * clients' callbacks are in kafka_client.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "kafka_conf.h"
#include "kafka_priv.h"
#include "klabel/engine.h"
#include "klabel/transport.h"
#include "log.h"

#define COMP "kafka"

static struct kl_kafka *kk_of(struct kl_transport *t)
{
    return (struct kl_kafka *)t;
}

/* ----------------------------------------------------------------- open */

/* The subscription list from input.topics. *topics is caller-owned. */
static int topics_from_config(const struct kl_config *cfg,
                              rd_kafka_topic_partition_list_t **topics,
                              char *err, size_t errsz)
{
    char **items = NULL;
    int n, i, rc = KL_OK;

    *topics = NULL;
    n = kl_config_get_list(cfg, "input.topics", &items);
    if (n <= 0) {
        snprintf(err, errsz, "input.topics: no topic given");
        rc = KL_EINVAL;
        goto out;
    }
    *topics = rd_kafka_topic_partition_list_new(n);
    for (i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(*topics, items[i],
                                          RD_KAFKA_PARTITION_UA);
out:
    for (i = 0; i < n; i++)
        free(items[i]);
    free(items);
    return rc;
}

/* Creates producer handles for the topics we will write and fetches their
 * metadata now, so the first record is not held back by the lookup. */
static int warm_topics(struct kl_kafka *kk, const char *const *topics,
                       char *err, size_t errsz)
{
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t kerr;
    int n = 0, i;

    while (topics && topics[n])
        n++;
    if (!n)
        return KL_OK;
    kk->rkts = calloc((size_t)n, sizeof *kk->rkts);
    if (!kk->rkts) {
        snprintf(err, errsz, "kafka transport: out of memory");
        return KL_ENOMEM;
    }
    for (i = 0; i < n; i++) {
        kk->rkts[i] = rd_kafka_topic_new(kk->producer, topics[i], NULL);
        if (!kk->rkts[i]) {
            snprintf(err, errsz, "topic %s: %s", topics[i],
                     rd_kafka_err2str(rd_kafka_last_error()));
            return KL_EKAFKA;
        }
        kk->nrkts++;
        kerr = rd_kafka_metadata(kk->producer, 0, kk->rkts[i], &md, 3000);
        if (kerr) {
            KL_LOG(KL_LOG_WARNING, COMP, "metadata of %s: %s", topics[i],
                   rd_kafka_err2str(kerr));
            continue;
        }
        if (md->topic_cnt == 1 && md->topics[0].err)
            KL_LOG(KL_LOG_WARNING, COMP, "output topic %s: %s", topics[i],
                   rd_kafka_err2str(md->topics[0].err));
        rd_kafka_metadata_destroy(md);
    }
    return KL_OK;
}

/* The producer handle of topic, or NULL when it was not warmed. */
static rd_kafka_topic_t *find_rkt(struct kl_kafka *kk, const char *topic)
{
    int i;

    for (i = 0; i < kk->nrkts; i++)
        if (!strcmp(rd_kafka_topic_name(kk->rkts[i]), topic))
            return kk->rkts[i];
    return NULL;
}

static void kk_free(struct kl_kafka *kk)
{
    int i;

    if (!kk)
        return;
    for (i = 0; i < kk->nrkts; i++)
        rd_kafka_topic_destroy(kk->rkts[i]);
    free(kk->rkts);
    if (kk->cq)
        rd_kafka_queue_destroy(kk->cq);
    if (kk->pq)
        rd_kafka_queue_destroy(kk->pq);
    if (kk->consumer)
        rd_kafka_destroy(kk->consumer);
    if (kk->producer)
        rd_kafka_destroy(kk->producer);
    if (kk->wake[0] >= 0)
        close(kk->wake[0]);
    if (kk->wake[1] >= 0)
        close(kk->wake[1]);
    free(kk);
}

static int kk_open(const struct kl_transport_params *p,
                   struct kl_transport **out, char *err, size_t errsz)
{
    struct kl_kafka *kk = NULL;
    rd_kafka_conf_t *cconf = NULL, *pconf = NULL;
    rd_kafka_topic_partition_list_t *topics = NULL;
    rd_kafka_resp_err_t kerr;
    int rc;

    *out = NULL;
    if (!p || !p->cfg || !p->on_delivery) {
        snprintf(err, errsz, "kafka transport: cfg and on_delivery required");
        rc = KL_EINVAL;
        goto out;
    }
    kk = calloc(1, sizeof *kk);
    if (!kk) {
        rc = KL_ENOMEM;
        snprintf(err, errsz, "kafka transport: out of memory");
        goto out;
    }
    kk->wake[0] = kk->wake[1] = -1;
    kk->base.ops = &kl_transport_kafka;
    kk->on_delivery = p->on_delivery;
    kk->on_assign = p->on_assign;
    kk->on_revoke = p->on_revoke;
    kk->ud = p->ud;
    if (pipe2(kk->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        snprintf(err, errsz, "pipe: %s", strerror(errno));
        rc = KL_EIO;
        goto out;
    }
    rc = topics_from_config(p->cfg, &topics, err, errsz);
    if (!rc)
        rc = kl_kafka_conf_consumer(p->cfg, &cconf, err, errsz);
    if (!rc)
        rc = kl_kafka_conf_producer(p->cfg, &pconf, err, errsz);
    if (rc)
        goto out;
    rc = kl_kafka_client_new(RD_KAFKA_PRODUCER, pconf, kk, &kk->producer, err,
                             errsz);
    pconf = NULL;
    if (rc)
        goto out;
    rc = kl_kafka_client_new(RD_KAFKA_CONSUMER, cconf, kk, &kk->consumer, err,
                             errsz);
    cconf = NULL;
    if (rc)
        goto out;
    rc = warm_topics(kk, p->out_topics, err, errsz);
    if (rc)
        goto out;
    rd_kafka_poll_set_consumer(kk->consumer);
    kk->cq = rd_kafka_queue_get_consumer(kk->consumer);
    kk->pq = rd_kafka_queue_get_main(kk->producer);
    rd_kafka_queue_cb_event_enable(kk->cq, kl_kafka_on_queue_event, kk);
    rd_kafka_queue_cb_event_enable(kk->pq, kl_kafka_on_queue_event, kk);
    kerr = rd_kafka_subscribe(kk->consumer, topics);
    if (kerr) {
        snprintf(err, errsz, "subscribe: %s", rd_kafka_err2str(kerr));
        rc = KL_EKAFKA;
        goto out;
    }
    KL_LOG(KL_LOG_INFO, COMP, "consumer %s and producer %s started (%s)",
           rd_kafka_name(kk->consumer), rd_kafka_name(kk->producer),
           rd_kafka_version_str());
    *out = &kk->base;
    kk = NULL;
out:
    if (cconf)
        rd_kafka_conf_destroy(cconf);
    if (pconf)
        rd_kafka_conf_destroy(pconf);
    if (topics)
        rd_kafka_topic_partition_list_destroy(topics);
    kk_free(kk);
    return rc;
}

/* ----------------------------------------------------------------- poll */

static int fatal_rc(struct kl_kafka *kk, char *err, size_t errsz)
{
    snprintf(err, errsz, "%s", kk->fatal_reason);
    return KL_EKAFKA;
}

/* Fills m from rkm; returns 0 or KL_ENOMEM. */
static int fill_msg(struct kl_msg *m, rd_kafka_message_t *rkm)
{
    rd_kafka_headers_t *hdrs = NULL;
    rd_kafka_timestamp_type_t tstype;
    struct kl_header *h = NULL;
    size_t i, n = 0;

    memset(m, 0, sizeof *m);
    if (rd_kafka_message_headers(rkm, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        (n = rd_kafka_header_cnt(hdrs)) > 0) {
        h = calloc(n, sizeof *h);
        if (!h)
            return KL_ENOMEM;
        for (i = 0; i < n; i++) {
            if (rd_kafka_header_get_all(hdrs, i, &h[i].name, &h[i].value,
                                        &h[i].value_len))
                break;
        }
        n = i;
    }
    m->topic = rd_kafka_topic_name(rkm->rkt);
    m->partition = rkm->partition;
    m->offset = rkm->offset;
    m->key = rkm->key;
    m->key_len = rkm->key_len;
    m->value = rkm->payload;
    m->value_len = rkm->len;
    m->headers = h;
    m->nheaders = n;
    m->ts_ms = rd_kafka_message_timestamp(rkm, &tstype);
    if (tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE)
        m->ts_ms = -1;
    m->priv = rkm;
    return KL_OK;
}

/* Handles a consumer error event. Returns 0 (logged) or a fatal code. */
static int consumer_error(struct kl_kafka *kk, rd_kafka_message_t *rkm,
                          char *err, size_t errsz)
{
    if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        return KL_OK;
    if (rkm->err == RD_KAFKA_RESP_ERR__FATAL || kk->fatal) {
        if (!kk->fatal) {
            char why[256];

            rd_kafka_fatal_error(kk->consumer, why, sizeof why);
            snprintf(kk->fatal_reason, sizeof kk->fatal_reason,
                     "consumer: fatal: %s", why);
            kk->fatal = 1;
            kk->consumer_fatal = 1;
        }
        return fatal_rc(kk, err, errsz);
    }
    KL_LOG(KL_LOG_WARNING, COMP, "consume %s[%d]: %s",
           rkm->rkt ? rd_kafka_topic_name(rkm->rkt) : "-",
           (int)rkm->partition, rd_kafka_message_errstr(rkm));
    return KL_OK;
}

static int kk_poll(struct kl_transport *t, struct kl_msg *msgs, size_t max,
                   int64_t timeout_us, size_t *n, char *err, size_t errsz)
{
    struct kl_kafka *kk = kk_of(t);
    int64_t now = kl_kafka_now_us(), deadline;
    rd_kafka_message_t *rkm;
    int rc = KL_OK;

    deadline = now + (timeout_us > 0 ? timeout_us : 0);
    *n = 0;
    for (;;) {
        int served = kl_kafka_poll_reports(kk, 0);

        while (!kk->fatal && *n < max &&
               (rkm = rd_kafka_consumer_poll(kk->consumer, 0)) != NULL) {
            if (rkm->err) {
                rc = consumer_error(kk, rkm, err, errsz);
                rd_kafka_message_destroy(rkm);
                if (rc)
                    goto out;
                continue;
            }
            rc = fill_msg(&msgs[*n], rkm);
            if (rc) {
                rd_kafka_message_destroy(rkm);
                snprintf(err, errsz, "kafka transport: out of memory");
                goto out;
            }
            (*n)++;
        }
        if (kk->fatal) {
            rc = fatal_rc(kk, err, errsz);
            goto out;
        }
        now = kl_kafka_now_us();
        if (*n > 0 || served > 0)
            kk->active_us = now;
        if (*n > 0 || now >= deadline || atomic_exchange(&kk->woken, 0))
            break;
        if (!kl_kafka_sleep_until(kk, deadline))
            continue; /* something arrived while arming */
        /* Woken by the timeout: the caller has a batch to close now;
         * delivery reports and new input wait for its next call. */
        if (kl_kafka_now_us() >= deadline)
            break;
    }
out:
    return rc;
}

static void kk_release(struct kl_transport *t, struct kl_msg *msgs, size_t n)
{
    size_t i;

    (void)t;
    for (i = 0; i < n; i++) {
        free((void *)msgs[i].headers);
        if (msgs[i].priv)
            rd_kafka_message_destroy(msgs[i].priv);
        msgs[i].priv = NULL;
        msgs[i].headers = NULL;
    }
}

/* -------------------------------------------------------------- produce */

static int kk_produce(struct kl_transport *t, const struct kl_out_msg *m,
                      void *token, char *err, size_t errsz)
{
    struct kl_kafka *kk = kk_of(t);
    rd_kafka_headers_t *hdrs = NULL;
    rd_kafka_topic_t *rkt = find_rkt(kk, m->topic);
    rd_kafka_resp_err_t kerr;
    size_t i;
    int rc = KL_OK;

    if (kk->fatal) {
        rc = fatal_rc(kk, err, errsz);
        goto out;
    }
    if (m->nheaders && m->headers_from && m->headers_from->priv) {
        rd_kafka_message_t *in = m->headers_from->priv;

        /* Take the input's list over only while it is the one m->headers
         * points into (same count); else copy below. */
        if (rd_kafka_message_headers(in, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR ||
            rd_kafka_header_cnt(hdrs) != m->nheaders ||
            rd_kafka_message_detach_headers(in, &hdrs) !=
                RD_KAFKA_RESP_ERR_NO_ERROR)
            hdrs = NULL;
    }
    if (m->nheaders && !hdrs) {
        hdrs = rd_kafka_headers_new(m->nheaders);
        for (i = 0; i < m->nheaders; i++)
            rd_kafka_header_add(hdrs, m->headers[i].name, -1,
                                m->headers[i].value,
                                (ssize_t)m->headers[i].value_len);
    }
    for (;;) {
        int32_t part = m->partition < 0 ? RD_KAFKA_PARTITION_UA : m->partition;

        if (rkt)
            kerr = rd_kafka_producev(
                kk->producer, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(part),
                RD_KAFKA_V_KEY((void *)m->key, m->key_len),
                RD_KAFKA_V_VALUE((void *)m->value, m->value_len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(token),
                RD_KAFKA_V_TIMESTAMP(m->ts_ms), RD_KAFKA_V_END);
        else
            kerr = rd_kafka_producev(
                kk->producer, RD_KAFKA_V_TOPIC(m->topic),
                RD_KAFKA_V_PARTITION(part),
                RD_KAFKA_V_KEY((void *)m->key, m->key_len),
                RD_KAFKA_V_VALUE((void *)m->value, m->value_len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(token),
                RD_KAFKA_V_TIMESTAMP(m->ts_ms), RD_KAFKA_V_END);
        if (!kerr) {
            hdrs = NULL; /* librdkafka owns them now */
            break;
        }
        if (kerr != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            snprintf(err, errsz, "produce to %s: %s", m->topic,
                     rd_kafka_err2str(kerr));
            rc = KL_EKAFKA;
            goto out;
        }
        /* Backpressure: serve delivery reports until there is room. */
        if (atomic_load(&kk->interrupted)) {
            snprintf(err, errsz, "produce to %s: queue full and interrupted "
                     "(shutdown deadline)", m->topic);
            rc = KL_ESTATE;
            goto out;
        }
        kl_kafka_poll_reports(kk, 10);
        if (kk->fatal) {
            rc = fatal_rc(kk, err, errsz);
            goto out;
        }
    }
out:
    if (hdrs)
        rd_kafka_headers_destroy(hdrs);
    return rc;
}

static int kk_service(struct kl_transport *t, int timeout_ms, char *err,
                      size_t errsz)
{
    struct kl_kafka *kk = kk_of(t);

    kl_kafka_poll_reports(kk, timeout_ms);
    if (kk->fatal)
        return fatal_rc(kk, err, errsz);
    return KL_OK;
}

/* -------------------------------------------------------------- offsets */

static int kk_mark_done(struct kl_transport *t, const char *topic,
                        int32_t partition, int64_t next_offset, char *err,
                        size_t errsz)
{
    struct kl_kafka *kk = kk_of(t);
    rd_kafka_topic_partition_list_t *parts;
    rd_kafka_resp_err_t perr;
    int rc = KL_OK;

    parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, partition)->offset =
        next_offset;
    rd_kafka_offsets_store(kk->consumer, parts);
    perr = parts->elems[0].err;
    if (perr == RD_KAFKA_RESP_ERR__STATE) {
        /* Not assigned any more: the next owner re-reads from the last
         * commit (at-least-once), nothing is lost. */
        KL_LOG(KL_LOG_DEBUG, COMP, "store %s[%d]@%lld: not assigned", topic,
               (int)partition, (long long)next_offset);
    } else if (perr) {
        snprintf(err, errsz, "store offset %s[%d]@%lld: %s", topic,
                 (int)partition, (long long)next_offset,
                 rd_kafka_err2str(perr));
        rc = KL_EKAFKA;
    }
    rd_kafka_topic_partition_list_destroy(parts);
    return rc;
}

static int pause_resume(struct kl_kafka *kk, int pause)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_resp_err_t kerr;

    kk->paused = pause;
    kerr = rd_kafka_assignment(kk->consumer, &parts);
    if (!kerr)
        kerr = pause ? rd_kafka_pause_partitions(kk->consumer, parts)
                     : rd_kafka_resume_partitions(kk->consumer, parts);
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    if (kerr) {
        KL_LOG(KL_LOG_ERR, COMP, "%s: %s", pause ? "pause" : "resume",
               rd_kafka_err2str(kerr));
        return KL_EKAFKA;
    }
    return KL_OK;
}

static void kk_wake(struct kl_transport *t)
{
    struct kl_kafka *kk = kk_of(t);
    ssize_t w;

    atomic_store(&kk->woken, 1);
    w = write(kk->wake[1], "w", 1); /* a full pipe wakes the reader too */
    (void)w;
}

static void kk_interrupt(struct kl_transport *t)
{
    atomic_store(&kk_of(t)->interrupted, 1);
}

static int kk_pause(struct kl_transport *t)
{
    return pause_resume(kk_of(t), 1);
}

static int kk_resume(struct kl_transport *t)
{
    return pause_resume(kk_of(t), 0);
}

/* ---------------------------------------------------------------- close */

static int kk_close(struct kl_transport *t, int timeout_ms, char *err,
                    size_t errsz)
{
    struct kl_kafka *kk = kk_of(t);
    int rc;

    if (!kk)
        return KL_OK;
    rc = kl_kafka_close_clients(kk, timeout_ms, err, errsz);
    kk_free(kk);
    return rc;
}

const struct kl_transport_ops kl_transport_kafka = {
    .version = KL_TRANSPORT_ABI_VERSION,
    .name = "kafka",
    .open = kk_open,
    .poll = kk_poll,
    .release = kk_release,
    .produce = kk_produce,
    .service = kk_service,
    .mark_done = kk_mark_done,
    .pause = kk_pause,
    .resume = kk_resume,
    .close = kk_close,
    .wake = kk_wake,
    .interrupt = kk_interrupt,
};
