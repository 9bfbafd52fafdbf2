/*
 * The stage's output side: results (from the workers) and dead letters
 * (from the source thread) go to the transport, each with an in-flight
 * token; delivery reports come back here, on whichever thread served them,
 * and mark the input offset done (under s->mu); the partitions' new low
 * watermarks are stored after each call that served reports
 * (kl_stage_store_offsets), one store per partition for a burst. A failed
 * delivery marks the stage failed (its offset is never stored). Also the
 * rebalance hooks that keep the offset tracker in step with the
 * assignment.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "codec.h"
#include "dlq.h"
#include "log.h"
#include "metrics.h"
#include "offsets.h"
#include "stage_priv.h"

/* Records reason as the stage's failure if it is the first; s->mu held. */
static void fail_locked(struct kl_stage *s, const char *fmt, va_list ap)
{
    if (!atomic_load(&s->failed))
        vsnprintf(s->fail_reason, sizeof s->fail_reason, fmt, ap);
    atomic_store(&s->failed, 1);
}

static void fail_in(struct kl_stage *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fail_in(struct kl_stage *s, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fail_locked(s, fmt, ap);
    va_end(ap);
}

void kl_stage_fail(struct kl_stage *s, const char *fmt, ...)
{
    va_list ap;

    pthread_mutex_lock(&s->mu);
    va_start(ap, fmt);
    fail_locked(s, fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&s->mu);
}

/* This thread's decrease of the klabel_inflight gauge not yet published
 * (delivery reports, records a batch counted but did not hand over): one
 * atomic update per burst of reports or batch instead of one per record
 * (kl_stage_flush_inflight_metric()). Increases are published before the
 * records go out, so the gauge lags high, never below the true count. */
static _Thread_local int64_t tl_inflight_delta;

void kl_stage_flush_inflight_metric(void)
{
    if (tl_inflight_delta != 0) {
        kl_metrics_add_inflight(tl_inflight_delta);
        tl_inflight_delta = 0;
    }
}

void kl_stage_count_inflight(struct kl_stage *s, size_t n)
{
    atomic_fetch_add(&s->inflight, (long long)n);
    kl_metrics_add_inflight((int64_t)n);
}

void kl_stage_uncount_inflight(struct kl_stage *s, size_t n)
{
    atomic_fetch_sub(&s->inflight, (long long)n);
    tl_inflight_delta -= (int64_t)n;
}

void kl_stage_on_delivery(void *ud, const struct kl_delivery *d)
{
    struct kl_stage *s = ud;
    struct kl_inflight *inf = d->token;
    int64_t t = d->t_us > 0 ? d->t_us : kl_stage_now_us();
    int rc;

    atomic_fetch_sub(&s->inflight, 1);
    tl_inflight_delta--;
    pthread_mutex_lock(&s->mu);
    s->dlv_st.last_done_us = t;
    if (d->rc) {
        s->dlv_st.failed++;
        kl_metrics_note_delivery_failed();
        KL_LOG(atomic_load(&s->failed) ? KL_LOG_DEBUG : KL_LOG_ERR, COMP,
               "delivery of %s for input %s[%d]@%lld to %s failed: %s; "
               "stopping, this offset will not be committed",
               inf->is_dlq ? "dead letter" : "result", inf->topic,
               (int)inf->partition, (long long)inf->offset,
               d->topic ? d->topic : "?", d->errstr ? d->errstr : "?");
        fail_in(s, "delivery for input %s[%d]@%lld failed: %s", inf->topic,
                (int)inf->partition, (long long)inf->offset,
                d->errstr ? d->errstr : "?");
        goto out;
    }
    if (inf->is_dlq) {
        s->dlv_st.dlq++;
        kl_metrics_note_dead_letter(inf->dlq_class);
    } else {
        s->dlv_st.out++;
        kl_metrics_note_out(1);
    }
    kl_hist_add(&s->dlv_st.latency_us, (uint64_t)(t - inf->t_poll_us));
    kl_metrics_note_delivery(inf->t_poll_us, t, inf->ts_ms);
    /* An advanced watermark is stored by kl_stage_store_offsets(), once
     * per partition for the whole burst of reports. */
    rc = kl_offsets_done(s->offsets, inf->topic, inf->partition, inf->offset,
                         NULL);
    if (rc < 0) {
        /* The partition was revoked since: its next owner re-reads it. */
        KL_LOG(KL_LOG_DEBUG, COMP, "delivered %s[%d]@%lld: not tracked",
               inf->topic, (int)inf->partition, (long long)inf->offset);
    }
out:
    pthread_mutex_unlock(&s->mu);
    free(inf);
    /* Hundreds of reports can come in one burst: a batch deadline that
     * passes meanwhile is kept here, not after the burst. */
    kl_stage_src_tick(s, t);
}

/* kl_offsets_store_fn: stores one partition's watermark; s->mu held. */
static int store_one(void *ud, const char *topic, int32_t partition,
                     int64_t next)
{
    struct kl_stage *s = ud;
    char err[256];

    if (s->t == NULL) /* closed: the next owner re-reads (at-least-once) */
        return 0;
    if (s->ops->mark_done(s->t, topic, partition, next, err, sizeof err)) {
        KL_LOG(KL_LOG_ERR, COMP, "%s", err);
        fail_in(s, "storing offset %s[%d]@%lld failed: %s", topic,
                (int)partition, (long long)next, err);
    }
    return 0;
}

/* Stores the watermarks that advanced since the last call; s->mu held. */
static void store_offsets_locked(struct kl_stage *s)
{
    if (kl_offsets_unstored(s->offsets) > 0)
        (void)kl_offsets_take_unstored(s->offsets, store_one, s);
}

void kl_stage_store_offsets(struct kl_stage *s)
{
    kl_stage_flush_inflight_metric(); /* the reports' share, too */
    pthread_mutex_lock(&s->mu);
    store_offsets_locked(s);
    pthread_mutex_unlock(&s->mu);
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

    pthread_mutex_lock(&s->mu);
    store_offsets_locked(s); /* the revoked partition's last watermark */
    kl_offsets_forget(s->offsets, topic, partition);
    pthread_mutex_unlock(&s->mu);
    atomic_fetch_sub(&s->assigned, 1);
}

/* ----------------------------------------------------------------- emit */

const char *kl_stage_intern(struct kl_stage *s, const char *topic)
{
    char **p, *copy;
    size_t i;

    for (i = 0; i < s->ntopics; i++)
        if (s->topics[i] == topic || !strcmp(s->topics[i], topic))
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

/* Hands one record for input msg (topic interned) to the transport with a
 * fresh in-flight token. counted: s->inflight already holds it (a batch
 * counts its results at once); a failed hand-over takes it back. */
static int produce_one(struct kl_stage *s, const struct kl_msg *m,
                       int64_t t_poll_us, int64_t ts_ms,
                       const struct kl_out_msg *om, const char *dlq_class,
                       int counted, char *err, size_t errsz)
{
    struct kl_inflight *inf = malloc(sizeof *inf);
    int rc;

    if (!inf) {
        if (counted) {
            atomic_fetch_sub(&s->inflight, 1);
            tl_inflight_delta--;
        }
        snprintf(err, errsz, "stage: out of memory");
        return KL_ENOMEM;
    }
    inf->topic = m->topic;
    inf->partition = m->partition;
    inf->offset = m->offset;
    inf->t_poll_us = t_poll_us;
    inf->ts_ms = ts_ms;
    inf->is_dlq = dlq_class != NULL;
    inf->dlq_class = dlq_class;
    if (!counted) {
        atomic_fetch_add(&s->inflight, 1);
        kl_metrics_add_inflight(1);
    }
    rc = s->ops->produce(s->t, om, inf, err, errsz);
    if (rc) {
        atomic_fetch_sub(&s->inflight, 1);
        if (counted)
            tl_inflight_delta--;
        else
            kl_metrics_add_inflight(-1);
        free(inf);
    }
    return rc;
}

int kl_stage_emit_result(struct kl_stage *s, struct kl_worker *w,
                         struct kl_batch *b, size_t i, uint64_t *t_ns,
                         int64_t ts_ms, char *err, size_t errsz)
{
    const struct kl_msg *m = &b->msgs[i];
    const struct kl_event *ev = &b->ev[i];
    struct kl_source src = {m->topic, m->partition, m->offset};
    struct kl_out_msg om;
    uint64_t t0 = *t_ns, t1 = 0, t2;
    int sample = kl_split_sampled(&w->emit);
    int rc;

    rc = kl_stage_encode_result(s, w, b, i, &src);
    if (sample || rc)
        t1 = kl_now_ns();
    if (rc) {
        kl_split_add(&w->emit, t1 - t0, 0, 0);
        *t_ns = t1;
        atomic_fetch_sub(&s->inflight, 1); /* counted by the caller */
        tl_inflight_delta--;
        snprintf(err, errsz, "encode: %s", kl_strerror(rc));
        return rc;
    }
    memset(&om, 0, sizeof om);
    om.topic = s->output_topic;
    om.partition = s->same_partition && m->partition >= 0 ? m->partition : -1;
    om.key = m->key;
    om.key_len = m->key_len;
    om.value = w->enc.data;
    om.value_len = w->enc.len;
    om.headers = m->headers;
    om.nheaders = m->nheaders;
    om.headers_from = m; /* released after this, headers not read again */
    om.ts_ms = ts_ms;
    rc = produce_one(s, m, b->t_poll_us[i], ev->ts_ms >= 0 ? ev->ts_ms : m->ts_ms,
                     &om, NULL, 1, err, errsz);
    t2 = kl_now_ns();
    *t_ns = t2;
    b->t_prod_us[i] = (int64_t)(t2 / 1000);
    kl_split_add(&w->emit, t2 - t0, sample, t1 - t0);
    return rc;
}

int kl_stage_emit_dead_letter(struct kl_stage *s, const struct kl_msg *m,
                              int64_t t_poll_us, const char *cls,
                              const char *reason, char *err, size_t errsz)
{
    struct kl_out_msg om;
    uint64_t t0 = kl_now_ns(), t1;
    int rc;

    rc = kl_dlq_build(&s->dlq, m, s->dlq_topic, cls, reason, s->instance,
                      &om);
    t1 = kl_now_ns();
    if (rc) {
        snprintf(err, errsz, "stage: out of memory");
        return rc;
    }
    KL_LOG(KL_LOG_DEBUG, COMP, "dead letter %s[%d]@%lld: %s: %s", m->topic,
           (int)m->partition, (long long)m->offset, cls, reason);
    rc = produce_one(s, m, t_poll_us, m->ts_ms, &om, cls, 0, err, errsz);
    pthread_mutex_lock(&s->src_mu);
    s->src_st.encode_ns += t1 - t0;
    s->src_st.produce_ns += kl_now_ns() - t1;
    kl_hist_add(&s->src_st.produce_us,
                (uint64_t)(kl_stage_now_us() - t_poll_us));
    pthread_mutex_unlock(&s->src_mu);
    return rc;
}
