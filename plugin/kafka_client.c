/*
 * librdkafka handles of the kafka transport and the callbacks they call:
 * log lines through KL_LOG, errors (a fatal one marks the transport dead),
 * delivery reports to the stage, and rebalances (incremental with the
 * cooperative protocol, eager otherwise), which tell the stage which
 * partitions it gained or lost.
 */
#include <stdio.h>
#include <string.h>

#include "health.h"
#include "kafka_priv.h"
#include "klabel/engine.h"
#include "log.h"

#define COMP "kafka"

static void kk_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                      const char *buf)
{
    KL_LOG(level, "rdkafka", "%s: %s: %s", rd_kafka_name(rk), fac, buf);
}

static void kk_error_cb(rd_kafka_t *rk, int err, const char *reason,
                        void *opaque)
{
    struct kl_kafka *kk = opaque;
    char why[256];
    rd_kafka_resp_err_t ferr;

    if (err != RD_KAFKA_RESP_ERR__FATAL) {
        /* Transient (broker down, transport): librdkafka retries. */
        KL_LOG(KL_LOG_WARNING, COMP, "%s: %s: %s", rd_kafka_name(rk),
               rd_kafka_err2name(err), reason);
        return;
    }
    ferr = rd_kafka_fatal_error(rk, why, sizeof why);
    snprintf(kk->fatal_reason, sizeof kk->fatal_reason, "%s: fatal %s: %s",
             rd_kafka_name(rk), rd_kafka_err2name(ferr), why);
    kk->fatal = 1;
    if (rk == kk->consumer)
        kk->consumer_fatal = 1;
    KL_LOG(KL_LOG_ERR, COMP, "%s", kk->fatal_reason);
    kl_health_set_fatal(kk->fatal_reason); /* /healthz: 503 until exit */
}

/* The delivery clock of this thread's kl_kafka_poll_reports() call: the
 * reports one call serves come back to back, so they share a stamp,
 * read again every DR_STAMP_EVERY reports (one clock read per event was
 * 1.5% of the stage's CPU at saturation). */
#define DR_STAMP_EVERY 64
static __thread int tl_dr_stamping; /* inside kl_kafka_poll_reports() */
static __thread int tl_dr_left;     /* reports the stamp still serves */
static __thread int64_t tl_dr_us;

/* Contract in kafka_priv.h. */
int kl_kafka_poll_reports(struct kl_kafka *kk, int timeout_ms)
{
    int served;

    tl_dr_stamping = 1;
    tl_dr_left = 0;
    served = rd_kafka_poll(kk->producer, timeout_ms);
    tl_dr_stamping = 0;
    return served;
}

static void kk_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                     void *opaque)
{
    struct kl_kafka *kk = opaque;
    struct kl_delivery d;

    (void)rk;
    d.token = rkm->_private;
    d.rc = rkm->err ? KL_EKAFKA : KL_OK;
    d.errstr = rkm->err ? rd_kafka_err2str(rkm->err) : NULL;
    d.topic = rd_kafka_topic_name(rkm->rkt);
    d.partition = rkm->partition;
    d.offset = rkm->err ? -1 : rkm->offset;
    d.t_us = 0;
    if (tl_dr_stamping) {
        if (tl_dr_left-- <= 0) {
            tl_dr_us = kl_kafka_now_us();
            tl_dr_left = DR_STAMP_EVERY - 1;
        }
        d.t_us = tl_dr_us;
    }
    kk->on_delivery(kk->ud, &d);
}

static void log_parts(const char *what,
                      const rd_kafka_topic_partition_list_t *parts)
{
    char line[1024];
    size_t n = 0;
    int i, w;

    line[0] = '\0';
    for (i = 0; i < parts->cnt && n < sizeof line - 1; i++) {
        w = snprintf(line + n, sizeof line - n, "%s%s[%d]", i ? " " : "",
                     parts->elems[i].topic, (int)parts->elems[i].partition);
        if (w < 0)
            break;
        n += (size_t)w;
    }
    KL_LOG(KL_LOG_INFO, COMP, "%s %d partition(s): %s", what, parts->cnt,
           line);
}

static void kk_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                            rd_kafka_topic_partition_list_t *parts,
                            void *opaque)
{
    struct kl_kafka *kk = opaque;
    int coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t aerr = RD_KAFKA_RESP_ERR_NO_ERROR;
    int i;

    switch (err) {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
        log_parts("assigned", parts);
        if (coop)
            error = rd_kafka_incremental_assign(rk, parts);
        else
            aerr = rd_kafka_assign(rk, parts);
        if (kk->paused)
            rd_kafka_pause_partitions(rk, parts);
        for (i = 0; kk->on_assign && i < parts->cnt; i++)
            kk->on_assign(kk->ud, parts->elems[i].topic,
                          parts->elems[i].partition);
        break;
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
        log_parts(rd_kafka_assignment_lost(rk) ? "lost" : "revoked", parts);
        for (i = 0; kk->on_revoke && i < parts->cnt; i++)
            kk->on_revoke(kk->ud, parts->elems[i].topic,
                          parts->elems[i].partition);
        if (coop)
            error = rd_kafka_incremental_unassign(rk, parts);
        else
            aerr = rd_kafka_assign(rk, NULL);
        break;
    default:
        KL_LOG(KL_LOG_ERR, COMP, "rebalance failed: %s",
               rd_kafka_err2str(err));
        for (i = 0; kk->on_revoke && i < parts->cnt; i++)
            kk->on_revoke(kk->ud, parts->elems[i].topic,
                          parts->elems[i].partition);
        if (coop)
            error = rd_kafka_incremental_unassign(rk, parts);
        else
            aerr = rd_kafka_assign(rk, NULL);
        break;
    }
    if (error) {
        KL_LOG(KL_LOG_ERR, COMP, "incremental (un)assign failed: %s",
               rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else if (aerr) {
        KL_LOG(KL_LOG_ERR, COMP, "(un)assign failed: %s",
               rd_kafka_err2str(aerr));
    }
}

int kl_kafka_client_new(rd_kafka_type_t type, rd_kafka_conf_t *conf,
                        struct kl_kafka *kk, rd_kafka_t **out, char *err,
                        size_t errsz)
{
    char why[512];

    rd_kafka_conf_set_opaque(conf, kk);
    rd_kafka_conf_set_log_cb(conf, kk_log_cb);
    rd_kafka_conf_set_error_cb(conf, kk_error_cb);
    if (type == RD_KAFKA_CONSUMER)
        rd_kafka_conf_set_rebalance_cb(conf, kk_rebalance_cb);
    else
        rd_kafka_conf_set_dr_msg_cb(conf, kk_dr_cb);
    *out = rd_kafka_new(type, conf, why, sizeof why);
    if (!*out) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errsz, "%s: %s",
                 type == RD_KAFKA_CONSUMER ? "consumer" : "producer", why);
        return KL_EKAFKA;
    }
    return KL_OK;
}

