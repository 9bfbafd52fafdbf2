/*
 * The stage's inference workers (stage_priv.h): each pops closed batches
 * from its ring in order, predicts each with the batch's model (one
 * kl_model_predict_batch() per batch; OpenBLAS runs one thread per worker,
 * set once at stage creation), produces the results in input order,
 * releases the input messages and hands the empty batch back to the
 * source. Its counters are folded into w->st once per batch.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "health.h"
#include "log.h"
#include "metrics.h"
#include "stage_priv.h"

#define SLOTS_MIN 2     /* closed batches a worker's ring holds, at least */
#define SLOTS_MAX 1024  /* ... and at most */
#define POOL_START 2    /* batches made at start, besides one per model */

/* Wakes the source's poll when our queue is empty and it holds events in
 * an open batch for us. */
static void wake_source_if_waiting(struct kl_worker *w)
{
    struct kl_stage *s = w->s;

    if (atomic_load(&w->open_events) > 0 && kl_ring_len(&w->ring) == 0 &&
        s->ops->version >= 2 && s->ops->wake)
        s->ops->wake(s->t);
}

/* Produces every item of b, starting at t (kl_now_ns()); stops at the
 * first error (the stage fails). */
static void produce_batch(struct kl_worker *w, struct kl_batch *b, uint64_t t)
{
    struct kl_stage *s = w->s;
    char err[512];
    int64_t ts_ms = kl_wall_ms(); /* one record timestamp per batch */
    size_t i, failed = 0;
    int rc;

    /* All of them in flight at once (one atomic update, not one per
     * record); the ones not handed over are taken back below, a failed
     * one by kl_stage_emit_result(). */
    kl_stage_count_inflight(s, b->n);
    for (i = 0; i < b->n; i++) {
        if (atomic_load_explicit(&s->abort, memory_order_relaxed))
            break;
        if (i + 2 < b->n) {
            /* What producing item i + 2 reads besides the batch's own
             * arrays, scattered over memory the source wrote: its decoded
             * strings, its input's key and carried headers. */
            __builtin_prefetch(b->ev[i + 2].id);
            __builtin_prefetch(b->msgs[i + 2].key);
            __builtin_prefetch(b->msgs[i + 2].headers);
        }
        rc = kl_stage_emit_result(s, w, b, i, &t, ts_ms, err, sizeof err);
        if (rc) {
            KL_LOG(KL_LOG_ERR, COMP, "worker %d: %s", w->id, err);
            kl_stage_fail(s, "worker %d: %s", w->id, err);
            failed = 1; /* item i: taken back already */
            break;
        }
    }
    if (i + failed < b->n)
        kl_stage_uncount_inflight(s, b->n - i - failed);
    kl_stage_flush_inflight_metric();
    for (; i < b->n; i++)
        b->t_prod_us[i] = 0; /* not produced: no produce_us sample */
}

/* Folds one batch's numbers into w->st (one lock per batch). */
static void account(struct kl_worker *w, const struct kl_batch *b,
                    int64_t t_pick, uint64_t predict_ns)
{
    size_t i;

    pthread_mutex_lock(&w->mu);
    w->st.batches++;
    w->st.predict_ns += predict_ns;
    kl_split_fold(&w->emit, &w->st.encode_ns, &w->st.produce_ns);
    kl_hist_add(&w->st.batch_size, b->n);
    kl_hist_add(&w->st.model_us, predict_ns / 1000);
    for (i = 0; i < b->n; i++) {
        kl_hist_add(&w->st.queue_wait_us, (uint64_t)(t_pick - b->t_poll_us[i]));
        if (b->t_prod_us[i])
            kl_hist_add(&w->st.produce_us,
                        (uint64_t)(b->t_prod_us[i] - b->t_poll_us[i]));
    }
    pthread_mutex_unlock(&w->mu);
    kl_metrics_note_model_ns(predict_ns);
    for (i = 0; i < b->n; i++)
        kl_metrics_note_queue_wait_us(t_pick - b->t_poll_us[i]);
}

/* Predicts and produces one batch, then recycles it. Returns with w
 * idle (w->busy cleared). */
static void run_batch(struct kl_worker *w, struct kl_batch *b)
{
    struct kl_stage *s = w->s;
    const struct kl_route_model *rm = &s->routes.models[b->model];
    int64_t t_pick = kl_stage_now_us();
    uint64_t t0, t1, predict_ns = 0;
    size_t n = b->n, bytes = b->bytes;
    int rc;

    if (n && !atomic_load(&s->abort) && !atomic_load(&s->failed)) {
        kl_health_debug_stall();
        t0 = kl_now_ns();
        rc = kl_batch_predict(b, rm->model, s->top_k, s->threshold,
                              &w->scratch, s->inference);
        t1 = kl_now_ns();
        predict_ns = t1 - t0;
        if (rc) {
            KL_LOG(KL_LOG_ERR, COMP, "worker %d: predict: %s", w->id,
                   kl_strerror(rc));
            kl_stage_fail(s, "worker %d: predict: %s", w->id,
                          kl_strerror(rc));
        } else {
            produce_batch(w, b, t1); /* predict's end is produce's start */
        }
    } else {
        memset(b->t_prod_us, 0, n * sizeof *b->t_prod_us);
    }
    if (n)
        s->ops->release(s->t, b->msgs, n);
    account(w, b, t_pick, predict_ns);
    atomic_fetch_sub(&s->queued_events, (long long)n);
    atomic_fetch_sub(&s->queued_bytes, (long long)bytes);
    kl_health_note_progress(w->id, (int64_t)n);
    kl_batch_clear(b);
    kl_ring_push(&w->free, b);
    atomic_store(&w->busy, 0);
}

/* Contract in stage_priv.h. The source runs it: no wake-up to send. */
void kl_worker_run_inline(struct kl_worker *w, struct kl_batch *b)
{
    atomic_store(&w->busy, 1);
    run_batch(w, b);
}

static void *worker_main(void *arg)
{
    struct kl_worker *w = arg;
    void *p;
    int rc;

    for (;;) {
        rc = kl_ring_pop(&w->ring, -1, &p);
        if (rc == KL_ESTATE)
            break;
        if (rc != KL_OK)
            continue;
        atomic_store(&w->busy, 1);
        /* Our queue just drained while the source holds an open batch for
         * us: let it queue that batch behind this one now (a deferred one
         * waits for this). */
        wake_source_if_waiting(w);
        run_batch(w, p);
        /* Idle now while the source holds an open batch for us: let it
         * close that batch at once instead of at its deadline. */
        wake_source_if_waiting(w);
    }
    atomic_store(&w->done, 1);
    return NULL;
}

/* Most batches one worker's pool may hold: its open ones (one per model)
 * plus room for about twice queue.max.events of closed ones, within
 * bounds. They are made when first needed. */
static size_t pool_size(const struct kl_stage *s)
{
    uint64_t per = (uint64_t)s->nworkers * s->batch_max;
    uint64_t slots = (2 * s->q_max_events + per - 1) / per;

    if (slots < SLOTS_MIN)
        slots = SLOTS_MIN;
    if (slots > SLOTS_MAX)
        slots = SLOTS_MAX;
    return (size_t)slots + (size_t)s->routes.nmodels;
}

/* Makes one more batch for w's pool. NULL when out of memory. */
static struct kl_batch *make_batch(struct kl_worker *w)
{
    struct kl_batch *b = calloc(1, sizeof *b);

    if (!b || kl_batch_init(b, w->s->batch_max) != KL_OK) {
        free(b);
        return NULL;
    }
    b->worker = w->id;
    w->pool[w->npool++] = b;
    return b;
}

struct kl_batch *kl_worker_take_batch(struct kl_worker *w)
{
    void *p;

    if (kl_ring_pop(&w->free, 0, &p) == KL_OK)
        return p;
    if (w->npool < w->maxpool)
        return make_batch(w);
    return NULL;
}

int kl_worker_starved(struct kl_worker *w)
{
    return w->npool == w->maxpool && kl_ring_len(&w->free) == 0;
}

int kl_workers_init(struct kl_stage *s, char *err, size_t errsz)
{
    size_t npool = pool_size(s), j, start;
    int i, rc = KL_OK;

    s->w = calloc((size_t)s->nworkers, sizeof *s->w);
    if (!s->w) {
        rc = KL_ENOMEM;
        goto out;
    }
    for (i = 0; i < s->nworkers && !rc; i++) {
        struct kl_worker *w = &s->w[i];

        w->s = s;
        w->id = i;
        atomic_init(&w->done, 0);
        atomic_init(&w->busy, 0);
        atomic_init(&w->quit, 0);
        atomic_init(&w->open_events, 0);
        kl_scratch_init(&w->scratch);
        kl_buf_init(&w->enc);
        pthread_mutex_init(&w->mu, NULL);
        kl_hist_init(&w->st.latency_us);
        w->pool = calloc(npool, sizeof *w->pool);
        if (!w->pool || kl_ring_init(&w->ring, npool) ||
            kl_ring_init(&w->free, npool)) {
            rc = KL_ENOMEM;
            break;
        }
        w->maxpool = npool;
        start = (size_t)s->routes.nmodels + POOL_START;
        for (j = 0; j < start && j < npool && !rc; j++) {
            struct kl_batch *b = make_batch(w);

            if (b)
                kl_ring_push(&w->free, b);
            else
                rc = KL_ENOMEM;
        }
    }
out:
    if (rc == KL_ENOMEM)
        snprintf(err, errsz, "stage: out of memory for %d worker(s) of %zu "
                 "batches of %zu", s->nworkers, npool, s->batch_max);
    return rc;
}

/* workers=0: the source thread runs every batch, so when one blocks (the
 * producer's queue full while the broker is gone) no other thread of the
 * stage is left to give up on it, as kl_workers_finish() does for worker
 * threads. This guard thread is that other thread: once a stop or a
 * failure is asked it waits until the work deadline kl_stage_run()
 * allows (shutdown.timeout.ms from now, less the close's share); from
 * then on, until kl_workers_finish() lets it end, it interrupts the
 * transport once a batch is running (the open batches' flush comes after
 * the source loop ends, and may come after the deadline). It checks every
 * GUARD_TICK_MS and never touches a batch. */
#define GUARD_TICK_MS 20

static void *guard_main(void *arg)
{
    struct kl_worker *w = arg;
    struct kl_stage *s = w->s;
    struct timespec tick = {0, GUARD_TICK_MS * 1000000L};
    int64_t deadline = 0;
    int interrupted = 0;

    while (!atomic_load(&w->quit)) {
        if (!deadline && (atomic_load(&s->stop) || atomic_load(&s->failed))) {
            int64_t now = kl_stage_now_us();

            /* kl_stage_run() counts its deadlines from here too */
            atomic_store(&s->t_stop_us, now);
            deadline = now + kl_stage_work_budget_us(s);
        }
        if (deadline && !interrupted && atomic_load(&w->busy) &&
            kl_stage_now_us() >= deadline) {
            KL_LOG(KL_LOG_WARNING, COMP,
                   "a batch is still running at the shutdown deadline; "
                   "interrupting (its offsets will not be committed)");
            atomic_store(&s->abort, 1);
            if (s->ops->version >= 2 && s->ops->interrupt)
                s->ops->interrupt(s->t);
            interrupted = 1;
        }
        nanosleep(&tick, NULL);
    }
    atomic_store(&w->done, 1);
    return NULL;
}

int kl_workers_start(struct kl_stage *s, char *err, size_t errsz)
{
    int i, e;

    if (s->inline_all) {
        /* workers=0: the source runs w[0]'s batches; a guard watches */
        e = pthread_create(&s->w[0].th, NULL, guard_main, &s->w[0]);
        if (e) {
            snprintf(err, errsz, "stage: cannot start the guard thread: %s",
                     strerror(e));
            return KL_EIO;
        }
        s->w[0].started = 1;
        pthread_setname_np(s->w[0].th, "kl:guard");
        return KL_OK;
    }
    for (i = 0; i < s->nworkers; i++) {
        char name[16];

        e = pthread_create(&s->w[i].th, NULL, worker_main, &s->w[i]);
        if (e) {
            snprintf(err, errsz, "stage: cannot start worker %d: %s", i,
                     strerror(e));
            return KL_EIO;
        }
        s->w[i].started = 1;
        /* Shown by top -H and perf: "kl:worker0" (15 chars at most). */
        snprintf(name, sizeof name, "kl:worker%d", i % 100000);
        pthread_setname_np(s->w[i].th, name);
    }
    return KL_OK;
}

/* Recycles batches left in a ring whose worker never ran. */
static void drain_unstarted(struct kl_stage *s, struct kl_worker *w)
{
    void *p;

    while (kl_ring_pop(&w->ring, 0, &p) == KL_OK) {
        struct kl_batch *b = p;

        if (b->n)
            s->ops->release(s->t, b->msgs, b->n);
        atomic_fetch_sub(&s->queued_events, (long long)b->n);
        atomic_fetch_sub(&s->queued_bytes, (long long)b->bytes);
        kl_batch_clear(b);
        kl_ring_push(&w->free, b);
    }
}

void kl_workers_finish(struct kl_stage *s, int64_t deadline_us)
{
    char err[256];
    int i, running;

    if (!s->w)
        return;
    if (s->inline_all) /* the batches ran on this thread: all are done */
        atomic_store(&s->w[0].quit, 1);
    for (i = 0; i < s->nworkers; i++) {
        kl_ring_close(&s->w[i].ring);
        if (!s->w[i].started)
            drain_unstarted(s, &s->w[i]);
    }
    for (;;) {
        for (i = 0, running = 0; i < s->nworkers; i++)
            running += s->w[i].started && !atomic_load(&s->w[i].done);
        if (!running || kl_stage_now_us() >= deadline_us)
            break;
        /* Deliveries may be what the workers wait for. */
        if (s->ops->service(s->t, 5, err, sizeof err))
            break;
        kl_stage_store_offsets(s);
    }
    if (running) {
        KL_LOG(KL_LOG_WARNING, COMP,
               "%d worker(s) still busy at the shutdown deadline; "
               "interrupting (their offsets will not be committed)", running);
        atomic_store(&s->abort, 1);
        if (s->ops->version >= 2 && s->ops->interrupt)
            s->ops->interrupt(s->t);
    }
    for (i = 0; i < s->nworkers; i++) {
        if (s->w[i].started)
            pthread_join(s->w[i].th, NULL);
        s->w[i].started = 0;
    }
}

void kl_workers_fini(struct kl_stage *s)
{
    size_t j;
    int i;

    for (i = 0; s->w && i < s->nworkers; i++) {
        struct kl_worker *w = &s->w[i];

        for (j = 0; w->pool && j < w->npool; j++) {
            kl_batch_fini(w->pool[j]);
            free(w->pool[j]);
        }
        free(w->pool);
        kl_ring_fini(&w->ring);
        kl_ring_fini(&w->free);
        kl_scratch_fini(&w->scratch);
        kl_buf_fini(&w->enc);
        pthread_mutex_destroy(&w->mu);
    }
    free(s->w);
    s->w = NULL;
}
