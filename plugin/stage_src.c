/*
 * The stage's source thread (stage_priv.h): polls the transport, decodes
 * each message, routes it to a model, featurizes it with that model and
 * adds it to the open batch of (its partition's worker, model); bad input
 * becomes a dead letter at once. The batcher closes batches on size,
 * deadline, an idle worker or a model switch within a partition; closed
 * batches go to their worker's ring. The poll never sleeps past the
 * earliest open deadline (the transport waits with a microsecond
 * timeout; the thread's timer slack is set to 1 ns so the kernel does not
 * round that up by 50 us). Backpressure: the input pauses when the queue
 * is full and resumes below queue.resume.ratio.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "cpu_rt.h"
#include "health.h"
#include "log.h"
#include "metrics.h"
#include "stage_priv.h"

#define IDLE_POLL_US 100000 /* longest poll wait (stop and flow checks) */
#define PAUSED_NAP_US 200   /* nap while paused and the input returns nothing */

/* ----------------------------------------------------------- batching */

/* workers=0: runs the batches queued on w's ring (closed inside a delivery
 * callback, kl_stage_src_tick) here, in order. */
static void run_queued(struct kl_worker *w)
{
    void *p;

    while (kl_ring_pop(&w->ring, 0, &p) == KL_OK) {
        w->s->inline_runs++;
        kl_worker_run_inline(w, p);
    }
}

void kl_stage_emit_batch(void *ud, struct kl_batch *b)
{
    struct kl_stage *s = ud;
    struct kl_worker *w = &s->w[b->worker];
    int64_t late = 0;

    atomic_fetch_sub(&w->open_events, (long long)b->n);
    if (b->close_reason == KL_CLOSE_DEADLINE)
        late = b->t_close_us - kl_batcher_deadline_of(&s->bt, b);
    pthread_mutex_lock(&s->src_mu);
    s->src_st.closes[b->close_reason]++;
    if (b->close_reason == KL_CLOSE_DEADLINE)
        kl_hist_add(&s->src_st.close_late_us, late > 0 ? (uint64_t)late : 0);
    pthread_mutex_unlock(&s->src_mu);
    kl_metrics_note_batch(kl_close_reason_name(b->close_reason), b->n,
                          late * 1000);
    kl_health_note_queued(b->worker, (int64_t)b->n);
    if (s->inline_all && !s->in_tick) {
        /* workers=0: every batch is run here, in order, at once. */
        run_queued(w);
        s->inline_runs++;
        kl_worker_run_inline(w, b);
        return;
    }
    /* (workers=0 inside a delivery callback: queued, run by the source
     * loop once the call that served the callback has returned; producing
     * from there could wait for queue space by polling the producer from
     * within its own poll) */
    if (!s->inline_all && b->close_reason == KL_CLOSE_IDLE &&
        b->n <= s->inline_max && kl_ring_len(&w->ring) == 0 &&
        !atomic_load(&w->busy)) {
        /* Low load: waking the idle worker would cost more than the
         * batch; run it here (the worker has nothing queued, so its
         * partitions keep their order). */
        s->inline_runs++;
        kl_worker_run_inline(w, b);
        return;
    }
    /* The ring holds the whole pool: this cannot be full. */
    if (kl_ring_push(&w->ring, b) != KL_OK) {
        KL_LOG(KL_LOG_ERR, COMP, "worker %d: ring refused a batch", w->id);
        if (b->n)
            s->ops->release(s->t, b->msgs, b->n);
        atomic_fetch_sub(&s->queued_events, (long long)b->n);
        atomic_fetch_sub(&s->queued_bytes, (long long)b->bytes);
        kl_batch_clear(b);
        kl_ring_push(&w->free, b);
    }
}

/* How busy worker wi is (enum kl_worker_level): the batcher's view. */
static int worker_level(void *ud, int wi)
{
    struct kl_stage *s = ud;
    struct kl_worker *w = &s->w[wi];

    if (kl_ring_len(&w->ring) > 0)
        return KL_WORKER_BACKLOG;
    return atomic_load(&w->busy) ? KL_WORKER_BUSY : KL_WORKER_IDLE;
}

/* ---------------------------------------------------------- backpressure */

/* Holds, pauses or resumes the input as the flow state machine says. */
static void flow_step(struct kl_stage *s)
{
    uint64_t ev = (uint64_t)atomic_load(&s->queued_events);
    uint64_t by = (uint64_t)atomic_load(&s->queued_bytes);
    int starved = 0, act, i, rc = KL_OK, was = s->flow.state, lvl;
    const char *what;

    for (i = 0; i < s->nworkers; i++)
        starved |= kl_worker_starved(&s->w[i]);
    act = kl_flow_update(&s->flow, ev, by, starved, kl_stage_now_us());
    if (act == KL_FLOW_KEEP)
        return;
    if (act == KL_FLOW_PAUSE) {
        rc = s->ops->pause(s->t);
        what = "pausing input partitions";
    } else if (act == KL_FLOW_RESUME && was == KL_FLOW_PAUSED) {
        rc = s->ops->resume(s->t);
        what = "resuming input partitions";
    } else {
        what = act == KL_FLOW_HOLD ? "holding input" : "taking input again";
    }
    /* Pauses are worth a line each at first, then one in 1000 (a flood
     * makes many); holds are routine. */
    lvl = act == KL_FLOW_HOLD || (act == KL_FLOW_RESUME && was == KL_FLOW_HELD)
              ? KL_LOG_DEBUG
              : s->flow.pauses <= 10 || s->flow.pauses % 1000 == 0
                    ? KL_LOG_INFO : KL_LOG_DEBUG;
    KL_LOG(lvl, COMP,
           "%s (%" PRIu64 " holds, %" PRIu64 " pauses so far): %" PRIu64
           " events, %" PRIu64 " bytes queued (limits %" PRIu64 " / %" PRIu64
           "%s)%s", what, s->flow.holds, s->flow.pauses, ev, by,
           s->flow.max_events, s->flow.max_bytes,
           starved ? ", a worker has no free batch" : "",
           rc ? ": transport refused" : "");
    pthread_mutex_lock(&s->src_mu);
    s->src_st.holds = s->flow.holds;
    s->src_st.pauses = s->flow.pauses;
    s->src_st.resumes = s->flow.resumes;
    s->src_st.paused = s->flow.state != KL_FLOW_RUNNING;
    pthread_mutex_unlock(&s->src_mu);
    kl_metrics_set_paused(s->flow.state != KL_FLOW_RUNNING);
}

/* An empty batch of worker wi: from its free ring, else (all in use)
 * pauses the input and waits for the worker, serving deliveries. NULL
 * when stopping or failed meanwhile (the caller drops the message; it is
 * not committed). */
static struct kl_batch *take_batch(struct kl_stage *s, int wi)
{
    struct kl_worker *w = &s->w[wi];
    struct kl_batch *b = kl_worker_take_batch(w);
    char err[256];
    void *p;

    if (b)
        return b;
    if (s->inline_all && !s->in_tick) {
        /* workers=0: only this thread frees batches */
        run_queued(w);
        if ((b = kl_worker_take_batch(w)) != NULL)
            return b;
    }
    flow_step(s);
    while (!atomic_load(&s->stop) && !atomic_load(&s->failed)) {
        if (kl_ring_pop(&w->free, 1000, &p) == KL_OK)
            return p;
        if (s->ops->service(s->t, 0, err, sizeof err))
            break;
        kl_stage_store_offsets(s);
    }
    return NULL;
}

/* ------------------------------------------------------------- messages */

/* Interns the topics of msgs[0..k) and tracks their offsets, in order. */
static int track(struct kl_stage *s, struct kl_msg *msgs, size_t k,
                 char *err, size_t errsz)
{
    size_t i;
    int rc = KL_OK;

    for (i = 0; i < k; i++) {
        const char *t = kl_stage_intern(s, msgs[i].topic);

        if (!t) {
            snprintf(err, errsz, "stage: out of memory");
            return KL_ENOMEM;
        }
        msgs[i].topic = t;
    }
    pthread_mutex_lock(&s->mu);
    for (i = 0; i < k && !rc; i++) {
        const struct kl_msg *m = &msgs[i];

        rc = kl_offsets_track(s->offsets, m->topic, m->partition, m->offset);
        if (rc == KL_EINVAL) {
            /* Offsets went back (reset or re-assignment without a revoke):
             * start the partition afresh. */
            KL_LOG(KL_LOG_WARNING, COMP,
                   "%s[%d]: offset %lld is not after the last one; "
                   "tracking restarts", m->topic, (int)m->partition,
                   (long long)m->offset);
            kl_offsets_forget(s->offsets, m->topic, m->partition);
            rc = kl_offsets_track(s->offsets, m->topic, m->partition,
                                  m->offset);
        }
        if (rc)
            snprintf(err, errsz, "offset tracking: %s", kl_strerror(rc));
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* Adds the decoded, routed event of m (features in s->feat) to the open
 * batch of (worker of m's partition, model); *t_ns is set to the time
 * after waiting for a free batch, if it had to. Returns 0, KL_ESTATE
 * when no batch could be had (stopping), or KL_ENOMEM (the batch could
 * not hold the feature ids); m was released on either error. */
static int add_to_batch(struct kl_stage *s, struct kl_part *part, int model,
                        const struct kl_msg *m, int64_t t_poll, int64_t now,
                        uint64_t *t_ns)
{
    struct kl_batch *b;
    struct kl_features tmp;
    size_t held;
    int wi = part->worker;

    kl_batcher_order(&s->bt, wi, model, part->last_model, part->last_seq, now);
    b = kl_batcher_get(&s->bt, wi, model);
    if (!b) {
        b = take_batch(s, wi);
        *t_ns = kl_now_ns(); /* it may have waited for a free batch */
        if (!b) {
            s->ops->release(s->t, (struct kl_msg *)m, 1);
            return KL_ESTATE;
        }
        kl_batcher_begin(&s->bt, b, wi, model, t_poll);
    }
    if (s->explain) {
        /* Explanations name tokens: the whole feature set travels. */
        tmp = b->feat[b->n];
        b->feat[b->n] = s->feat;
        s->feat = tmp;
    } else if (kl_batch_add_ids(b, &s->feat) != KL_OK) {
        s->ops->release(s->t, (struct kl_msg *)m, 1);
        return KL_ENOMEM;
    }
    held = kl_batch_push(b, m, t_poll, &s->ev);
    part->last_model = model;
    part->last_seq = b->seq;
    atomic_fetch_add(&s->queued_events, 1);
    atomic_fetch_add(&s->queued_bytes, (long long)held);
    atomic_fetch_add(&s->w[wi].open_events, 1);
    kl_batcher_added(&s->bt, b, now);
    return KL_OK;
}

/* Timings of one poll's messages, folded into src_st at the end. t_ns:
 * when the last message's work ended, the next one's start (one clock
 * read less per message). A message that is decoded and featurized goes
 * to split (kl_split: decode, then featurize); one that is only decoded
 * (dead letter, pass-through, no route) to decode_ns. */
struct src_acc {
    uint64_t decode_ns, t_ns;
    struct kl_split split;
};

/* Decodes, routes and featurizes one message; adds it to a batch or
 * dead-letters it. Returns 0 or a fatal negative code (m released). */
static int handle_one(struct kl_stage *s, struct kl_msg *m, int64_t t_poll,
                      struct src_acc *acc, char *err, size_t errsz)
{
    const struct kl_route_model *rm;
    struct kl_part *part;
    uint64_t t0 = acc->t_ns, t1 = 0, runs = s->inline_runs;
    int64_t now = (int64_t)(t0 / 1000);
    int dec, model = KL_ROUTE_NONE, rc;
    int sample = kl_split_sampled(&acc->split);

    kl_batcher_expire(&s->bt, now, worker_level, s);
    if (s->inline_runs != runs) {
        /* a batch ran here (workers=0): its time is not this message's */
        t0 = kl_now_ns();
        now = (int64_t)(t0 / 1000);
        runs = s->inline_runs;
    }
    part = kl_partmap_get(&s->parts, m->topic, m->partition, &s->routes,
                          s->nworkers);
    if (!part) {
        s->ops->release(s->t, m, 1);
        snprintf(err, errsz, "stage: out of memory");
        return KL_ENOMEM;
    }
    s->reason[0] = '\0';
    dec = kl_decoder_decode(s->dec, m, &s->ev, s->reason, sizeof s->reason);
    if (sample || dec != KL_DEC_OK || !s->inference)
        t1 = kl_now_ns();
    if (dec == KL_DEC_OK) {
        model = kl_route_pick(&s->routes, part->topic_model, s->ev.kind,
                              s->ev.kind_len);
        if (model == KL_ROUTE_NONE) {
            dec = KL_DEC_NO_ROUTE;
            snprintf(s->reason, sizeof s->reason,
                     "no model serves topic %.100s, kind %.64s", m->topic,
                     s->ev.kind ? s->ev.kind : "(none)");
        }
    }
    if (dec == KL_DEC_OK && s->inference) {
        rm = &s->routes.models[model];
        s->feat.want_origin = s->explain > 0; /* kl_model_explain() needs it */
        dec = kl_batch_featurize(rm->model, &s->ev, &s->feat, s->reason,
                                 sizeof s->reason);
        acc->t_ns = kl_now_ns();
        kl_split_add(&acc->split, acc->t_ns - t0, sample, t1 - t0);
    } else {
        if (t1 == 0) /* decoded, then routed nowhere: not read yet */
            t1 = kl_now_ns();
        acc->decode_ns += t1 - t0;
        acc->t_ns = t1;
    }
    if (dec == KL_DEC_OK) {
        rc = add_to_batch(s, part, model, m, t_poll, now, &acc->t_ns);
        if (s->inline_runs != runs) /* the next message starts after it */
            acc->t_ns = kl_now_ns();
        if (rc == KL_ENOMEM)
            snprintf(err, errsz, "stage: out of memory");
        return rc == KL_ESTATE ? KL_OK : rc;
    }
    if (dec < 0) {
        s->ops->release(s->t, m, 1);
        snprintf(err, errsz, "decode: %s: %s", kl_strerror(dec), s->reason);
        return dec;
    }
    rc = kl_stage_emit_dead_letter(s, m, t_poll, kl_decode_error_name(dec),
                                   s->reason, err, errsz);
    s->ops->release(s->t, m, 1);
    acc->t_ns = kl_now_ns(); /* producing may have waited */
    return rc;
}

/* Handles the k messages of one poll. On a fatal error the rest are
 * released and the code returned. */
static int handle(struct kl_stage *s, struct kl_msg *msgs, size_t k,
                  int64_t t_poll, char *err, size_t errsz)
{
    struct src_acc acc = {0, 0, {0, 0, 0, 0}};
    size_t i = 0;
    int rc;

    rc = track(s, msgs, k, err, errsz);
    acc.t_ns = kl_now_ns(); /* the first message's decode starts here */
    for (; i < k && !rc; i++)
        rc = handle_one(s, &msgs[i], t_poll, &acc, err, errsz);
    if (i < k)
        s->ops->release(s->t, msgs + i, k - i);
    pthread_mutex_lock(&s->src_mu);
    s->src_st.in += k;
    if (!s->src_st.first_poll_us)
        s->src_st.first_poll_us = t_poll;
    s->src_st.decode_ns += acc.decode_ns;
    kl_split_fold(&acc.split, &s->src_st.decode_ns, &s->src_st.featurize_ns);
    pthread_mutex_unlock(&s->src_mu);
    kl_metrics_note_in(k);
    return rc;
}

/* ----------------------------------------------------------------- loop */

/* The stage whose source loop runs on this thread, if any. */
static _Thread_local struct kl_stage *tl_source;

void kl_stage_src_tick(struct kl_stage *s, int64_t now)
{
    if (tl_source == s && now >= kl_batcher_deadline(&s->bt)) {
        s->in_tick = 1;
        kl_batcher_expire(&s->bt, now, worker_level, s);
        s->in_tick = 0;
    }
}

static void nap_us(int64_t us)
{
    struct timespec ts = {0, (long)us * 1000};

    nanosleep(&ts, NULL);
}

int kl_stage_source_loop(struct kl_stage *s, char *err, size_t errsz)
{
    int64_t now, wait, deadline, waited;
    size_t k;
    int rc = KL_OK;

    /* Sleep exactly as long as asked (default slack: 50 us). */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    /* Every thread of the stage exists by now (workers, librdkafka's):
     * only this one is raised (stage.source.rt.priority). */
    if (s->rt_priority > 0) {
        rc = kl_cpu_rt_enter(s->rt_priority, err, errsz);
        if (rc)
            return rc;
        KL_LOG(KL_LOG_INFO, COMP, "source thread runs under SCHED_FIFO "
               "priority %d", s->rt_priority);
    }
    tl_source = s;
    while (!atomic_load(&s->stop) && !atomic_load(&s->failed) && !s->eof) {
        now = kl_stage_now_us();
        kl_batcher_expire(&s->bt, now, worker_level, s);
        kl_batcher_close_deferred(&s->bt, now, worker_level, s);
        deadline = kl_batcher_deadline(&s->bt);
        if (s->idle_check)
            wait = 0;
        else if (deadline == INT64_MAX || deadline - now > IDLE_POLL_US)
            wait = IDLE_POLL_US;
        else
            wait = deadline > now ? deadline - now : 0;
        k = 0;
        if (s->flow.state == KL_FLOW_HELD) {
            /* Held: take nothing from the consumer (its prefetch waits,
             * bounded); serve deliveries while the workers catch up. */
            rc = s->ops->service(s->t, 1, err, errsz);
            wait = 1000;
        } else {
            rc = s->ops->poll(s->t, s->pollbuf, s->pollcap, wait, &k, err,
                              errsz);
        }
        kl_stage_store_offsets(s); /* what the call's reports advanced */
        if (s->inline_all)
            run_queued(&s->w[0]);
        waited = kl_stage_now_us() - now;
        if (k > 0) {
            int rc2 = handle(s, s->pollbuf, k, kl_stage_now_us(), err, errsz);

            if (rc2 && rc >= 0)
                rc = rc2;
        }
        if (rc == KL_TRANSPORT_END) {
            s->eof = 1;
            rc = KL_OK;
        }
        if (rc < 0)
            break;
        if (k == 0) {
            /* Nothing more is ready: an idle worker takes its open batch
             * now (adaptive close), unless batch.close.idle is off. */
            s->idle_check = 0;
            if (s->close_idle && kl_batcher_nopen(&s->bt))
                kl_batcher_close_idle(&s->bt, kl_stage_now_us(), worker_level,
                                      s);
            /* A transport that does not wait (files) while paused. */
            if (s->flow.state != KL_FLOW_RUNNING && !s->eof && waited < wait)
                nap_us(wait - waited < PAUSED_NAP_US ? wait - waited
                                                     : PAUSED_NAP_US);
        } else {
            s->idle_check = s->close_idle;
        }
        flow_step(s);
    }
    tl_source = NULL;
    if (s->rt_priority > 0) {
        char why[256];

        /* Shutdown (and the threads it starts) runs under the normal
         * policy again. */
        if (kl_cpu_rt_leave(s->slice_us, why, sizeof why))
            KL_LOG(KL_LOG_WARNING, COMP, "%s", why);
    }
    return rc;
}
