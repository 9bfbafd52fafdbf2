/*
 * The stage's output side: results and dead letters go to the transport in
 * input order, each with an in-flight token; delivery reports come back
 * here, mark the input offset done and store the partition's new low
 * watermark. A failed delivery marks the stage failed (its offset is never
 * stored). Also the rebalance hooks that keep the offset tracker in step
 * with the assignment.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "codec.h"
#include "dlq.h"
#include "log.h"
#include "offsets.h"
#include "stage_priv.h"

/* Records the first reason the stage must stop; later ones are logged by
 * their callers only. */
static void fail(struct kl_stage *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fail(struct kl_stage *s, const char *fmt, ...)
{
    va_list ap;

    if (!s->failed) {
        va_start(ap, fmt);
        vsnprintf(s->fail_reason, sizeof s->fail_reason, fmt, ap);
        va_end(ap);
    }
    s->failed = 1;
}

void kl_stage_on_delivery(void *ud, const struct kl_delivery *d)
{
    struct kl_stage *s = ud;
    struct kl_inflight *inf = d->token;
    char err[256];
    int64_t next, t = kl_stage_now_us();
    int rc;

    s->st.inflight--;
    s->st.last_done_us = t;
    if (d->rc) {
        s->st.failed++;
        KL_LOG(s->failed ? KL_LOG_DEBUG : KL_LOG_ERR, COMP,
               "delivery of %s for input %s[%d]@%lld to %s failed: %s; "
               "stopping, this offset will not be committed",
               inf->is_dlq ? "dead letter" : "result", inf->topic,
               (int)inf->partition, (long long)inf->offset,
               d->topic ? d->topic : "?", d->errstr ? d->errstr : "?");
        fail(s, "delivery for input %s[%d]@%lld failed: %s", inf->topic,
             (int)inf->partition, (long long)inf->offset,
             d->errstr ? d->errstr : "?");
        goto out;
    }
    if (inf->is_dlq)
        s->st.dlq++;
    else
        s->st.out++;
    kl_hist_add(&s->st.latency_us, (uint64_t)(t - inf->t_poll_us));
    rc = kl_offsets_done(s->offsets, inf->topic, inf->partition, inf->offset,
                         &next);
    if (rc == 1) {
        rc = s->ops->mark_done(s->t, inf->topic, inf->partition, next, err,
                               sizeof err);
        if (rc) {
            KL_LOG(KL_LOG_ERR, COMP, "%s", err);
            fail(s, "storing offset %s[%d]@%lld failed: %s", inf->topic,
                 (int)inf->partition, (long long)next, err);
        }
    } else if (rc < 0) {
        /* The partition was revoked since: its next owner re-reads it. */
        KL_LOG(KL_LOG_DEBUG, COMP, "delivered %s[%d]@%lld: not tracked",
               inf->topic, (int)inf->partition, (long long)inf->offset);
    }
out:
    free(inf);
}

void kl_stage_on_assign(void *ud, const char *topic, int32_t partition)
{
    struct kl_stage *s = ud;

    (void)topic;
    (void)partition;
    atomic_fetch_add(&s->assigned, 1);
}

void kl_stage_on_revoke(void *ud, const char *topic, int32_t partition)
{
    struct kl_stage *s = ud;

    kl_offsets_forget(s->offsets, topic, partition);
    atomic_fetch_sub(&s->assigned, 1);
}

/* ----------------------------------------------------------------- emit */

/* The interned copy of topic (kept until destroy), or NULL. */
static const char *intern_topic(struct kl_stage *s, const char *topic)
{
    char **p, *copy;
    size_t i;

    for (i = 0; i < s->ntopics; i++)
        if (!strcmp(s->topics[i], topic))
            return s->topics[i];
    p = realloc(s->topics, (s->ntopics + 1) * sizeof *p);
    if (!p)
        return NULL;
    s->topics = p;
    copy = strdup(topic);
    if (!copy)
        return NULL;
    s->topics[s->ntopics++] = copy;
    return copy;
}

/* Hands one record to the transport with a fresh in-flight token. */
static int produce_one(struct kl_stage *s, size_t i,
                       const struct kl_out_msg *om, int is_dlq, char *err,
                       size_t errsz)
{
    const struct kl_msg *m = &s->b.msgs[i];
    struct kl_inflight *inf = malloc(sizeof *inf);
    uint64_t t0 = kl_now_ns();
    int rc;

    if (!inf || !(inf->topic = intern_topic(s, m->topic))) {
        free(inf);
        snprintf(err, errsz, "stage: out of memory");
        return KL_ENOMEM;
    }
    inf->partition = m->partition;
    inf->offset = m->offset;
    inf->t_poll_us = s->b.t_poll_us[i];
    inf->is_dlq = is_dlq;
    s->st.inflight++;
    rc = s->ops->produce(s->t, om, inf, err, errsz);
    if (rc) {
        s->st.inflight--;
        free(inf);
    }
    s->st.produce_ns += kl_now_ns() - t0;
    return rc;
}

/* Encodes and produces the result of item i. */
static int emit_result(struct kl_stage *s, size_t i, char *err, size_t errsz)
{
    const struct kl_msg *m = &s->b.msgs[i];
    struct kl_source src = {m->topic, m->partition, m->offset};
    struct kl_out_msg om;
    uint64_t t0 = kl_now_ns();
    int rc;

    kl_buf_reset(&s->enc);
    rc = kl_json_encode_result(&s->b.ev[i], &s->b.pred[s->b.pred_idx[i]],
                               s->mi, &src, &s->enc);
    s->st.encode_ns += kl_now_ns() - t0;
    if (rc) {
        snprintf(err, errsz, "encode: %s", kl_strerror(rc));
        return rc;
    }
    memset(&om, 0, sizeof om);
    om.topic = s->output_topic;
    om.partition = -1;
    om.key = m->key;
    om.key_len = m->key_len;
    om.value = s->enc.data;
    om.value_len = s->enc.len;
    om.headers = m->headers;
    om.nheaders = m->nheaders;
    return produce_one(s, i, &om, 0, err, errsz);
}

/* Produces the dead letter of item i. */
static int emit_dead_letter(struct kl_stage *s, size_t i, char *err,
                            size_t errsz)
{
    const struct kl_msg *m = &s->b.msgs[i];
    const char *cls = kl_decode_error_name(s->b.dec[i]);
    struct kl_out_msg om;
    uint64_t t0 = kl_now_ns();
    int rc;

    rc = kl_dlq_build(&s->dlq, m, s->dlq_topic, cls, s->b.reason[i],
                      s->instance, &om);
    s->st.encode_ns += kl_now_ns() - t0;
    if (rc) {
        snprintf(err, errsz, "stage: out of memory");
        return rc;
    }
    KL_LOG(KL_LOG_DEBUG, COMP, "dead letter %s[%d]@%lld: %s: %s", m->topic,
           (int)m->partition, (long long)m->offset, cls, s->b.reason[i]);
    return produce_one(s, i, &om, 1, err, errsz);
}

/* Predicts, then produces every item of the batch in input order. */
int kl_stage_process_batch(struct kl_stage *s, char *err, size_t errsz)
{
    uint64_t t0 = kl_now_ns();
    size_t i;
    int rc;

    rc = kl_batch_predict(&s->b, s->model, s->top_k, s->threshold,
                          &s->scratch);
    s->st.predict_ns += kl_now_ns() - t0;
    s->st.batches++;
    if (rc) {
        snprintf(err, errsz, "predict: %s", kl_strerror(rc));
        return rc;
    }
    for (i = 0; i < s->b.n && !rc; i++) {
        if (s->b.dec[i] == KL_DEC_OK)
            rc = emit_result(s, i, err, errsz);
        else
            rc = emit_dead_letter(s, i, err, errsz);
    }
    return rc;
}

