/*
 * Health, readiness and the model workers' watchdog (plugin/health.h).
 * Each worker has a slot: events waiting for it, when that wait began and
 * when it last made progress. A worker is stalled when events wait and
 * neither the start of the wait nor its last progress is more recent than
 * watchdog.ms. The watchdog thread only logs transitions; /healthz
 * evaluates the same rule itself at request time.
 */
#include "health.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "klabel/engine.h"
#include "log.h"

#define COMP "health"

struct slot {
    _Atomic int64_t pending;     /* events queued, not yet finished */
    _Atomic int64_t since_us;    /* when pending last rose from 0 */
    _Atomic int64_t progress_us; /* last kl_health_note_progress() */
};

static struct slot slots[KL_HEALTH_WORKERS_MAX];
static atomic_int nslots;        /* 1 + the highest worker index seen */
static _Atomic int64_t watchdog_ms, stall_ms;
static atomic_int fatal, model_loaded;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER; /* the fields below */
static char fatal_reason[KL_HEALTH_REASON_MAX];
static int (*assigned_fn)(const void *ud);
static const void *assigned_ud;

/* The watchdog thread. */
static pthread_mutex_t wd_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cv;
static pthread_t wd_th;
static int wd_running, wd_stop;

static int64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void kl_health_configure(int64_t wd_ms, int64_t st_ms)
{
    int i;

    for (i = 0; i < KL_HEALTH_WORKERS_MAX; i++) {
        atomic_store(&slots[i].pending, 0);
        atomic_store(&slots[i].since_us, 0);
        atomic_store(&slots[i].progress_us, 0);
    }
    atomic_store(&nslots, 0);
    atomic_store(&watchdog_ms, wd_ms > 0 ? wd_ms : 0);
    atomic_store(&stall_ms, st_ms > 0 ? st_ms : 0);
    atomic_store(&fatal, 0);
    atomic_store(&model_loaded, 0);
    pthread_mutex_lock(&mu);
    fatal_reason[0] = '\0';
    assigned_fn = NULL;
    assigned_ud = NULL;
    pthread_mutex_unlock(&mu);
}

/* ---------------------------------------------------------------- hooks */

static struct slot *slot_of(int w)
{
    int n;

    if (w < 0 || w >= KL_HEALTH_WORKERS_MAX)
        return NULL;
    n = atomic_load_explicit(&nslots, memory_order_relaxed);
    while (n <= w && !atomic_compare_exchange_weak(&nslots, &n, w + 1))
        ;
    return &slots[w];
}

void kl_health_note_queued(int w, int64_t n)
{
    struct slot *s = slot_of(w);

    if (!s || n <= 0)
        return;
    if (atomic_load_explicit(&s->pending, memory_order_relaxed) <= 0)
        atomic_store_explicit(&s->since_us, now_us(), memory_order_relaxed);
    atomic_fetch_add_explicit(&s->pending, n, memory_order_release);
}

void kl_health_note_progress(int w, int64_t n)
{
    struct slot *s = slot_of(w);

    if (!s)
        return;
    atomic_store_explicit(&s->progress_us, now_us(), memory_order_relaxed);
    if (n > 0)
        atomic_fetch_sub_explicit(&s->pending, n, memory_order_release);
}

void kl_health_set_fatal(const char *reason)
{
    pthread_mutex_lock(&mu);
    if (!atomic_load(&fatal))
        snprintf(fatal_reason, sizeof fatal_reason, "%s",
                 reason ? reason : "fatal error");
    atomic_store(&fatal, 1);
    pthread_mutex_unlock(&mu);
}

void kl_health_set_model_loaded(int loaded)
{
    atomic_store(&model_loaded, loaded ? 1 : 0);
}

void kl_health_set_assigned_probe(int (*fn)(const void *ud), const void *ud)
{
    pthread_mutex_lock(&mu);
    assigned_fn = fn;
    assigned_ud = ud;
    pthread_mutex_unlock(&mu);
}

/* --------------------------------------------------------------- checks */

int kl_health_live(int64_t now, char *why, size_t whysz)
{
    int64_t limit_us = atomic_load(&watchdog_ms) * 1000, pending, ref, t;
    char dummy[8];
    int i, n;

    if (!why || !whysz) {
        why = dummy;
        whysz = sizeof dummy;
    }
    why[0] = '\0';
    if (atomic_load(&fatal)) {
        pthread_mutex_lock(&mu);
        snprintf(why, whysz, "fatal error: %s", fatal_reason);
        pthread_mutex_unlock(&mu);
        return 0;
    }
    if (!limit_us)
        return 1;
    if (!now)
        now = now_us();
    n = atomic_load(&nslots);
    for (i = 0; i < n; i++) {
        pending = atomic_load_explicit(&slots[i].pending, memory_order_acquire);
        if (pending <= 0)
            continue;
        ref = atomic_load_explicit(&slots[i].since_us, memory_order_relaxed);
        t = atomic_load_explicit(&slots[i].progress_us, memory_order_relaxed);
        if (t > ref)
            ref = t;
        if (now - ref > limit_us) {
            snprintf(why, whysz,
                     "model worker %d made no progress for %" PRId64
                     " ms with %" PRId64 " event(s) waiting (watchdog.ms=%"
                     PRId64 ")",
                     i, (now - ref) / 1000, pending, limit_us / 1000);
            return 0;
        }
    }
    return 1;
}

int kl_health_ready(char *why, size_t whysz)
{
    int (*fn)(const void *ud);
    const void *ud;
    char dummy[8];
    int n;

    if (!why || !whysz) {
        why = dummy;
        whysz = sizeof dummy;
    }
    why[0] = '\0';
    if (!atomic_load(&model_loaded)) {
        snprintf(why, whysz, "model not loaded");
        return 0;
    }
    pthread_mutex_lock(&mu);
    fn = assigned_fn;
    ud = assigned_ud;
    pthread_mutex_unlock(&mu);
    n = fn ? fn(ud) : 0;
    if (n <= 0) {
        snprintf(why, whysz, "no input partition assigned");
        return 0;
    }
    return 1;
}

/* ------------------------------------------------------------- watchdog */

static void *watchdog_main(void *arg)
{
    int64_t tick_ms = atomic_load(&watchdog_ms) / 4;
    char why[KL_HEALTH_REASON_MAX + 64];
    struct timespec ts;
    int healthy = 1, h;

    (void)arg;
    if (tick_ms > 250)
        tick_ms = 250;
    if (tick_ms < 1)
        tick_ms = 1;
    pthread_mutex_lock(&wd_mu);
    while (!wd_stop) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += (long)(tick_ms % 1000) * 1000000L;
        ts.tv_sec += (time_t)(tick_ms / 1000) + ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&wd_cv, &wd_mu, &ts);
        if (wd_stop)
            break;
        h = kl_health_live(0, why, sizeof why);
        if (h == healthy)
            continue;
        healthy = h;
        if (!h)
            KL_LOG(KL_LOG_ERR, COMP, "unhealthy: %s", why);
        else
            KL_LOG(KL_LOG_NOTICE, COMP, "healthy again");
    }
    pthread_mutex_unlock(&wd_mu);
    return NULL;
}

int kl_health_watchdog_start(void)
{
    pthread_condattr_t ca;
    int rc = KL_OK;

    if (!atomic_load(&watchdog_ms) || wd_running)
        return KL_OK;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wd_cv, &ca);
    pthread_condattr_destroy(&ca);
    wd_stop = 0;
    if (pthread_create(&wd_th, NULL, watchdog_main, NULL) != 0) {
        pthread_cond_destroy(&wd_cv);
        rc = KL_EIO;
    } else {
        wd_running = 1;
    }
    return rc;
}

void kl_health_watchdog_stop(void)
{
    if (!wd_running)
        return;
    pthread_mutex_lock(&wd_mu);
    wd_stop = 1;
    pthread_cond_signal(&wd_cv);
    pthread_mutex_unlock(&wd_mu);
    pthread_join(wd_th, NULL);
    pthread_cond_destroy(&wd_cv);
    wd_running = 0;
}

void kl_health_debug_stall(void)
{
    int64_t ms = atomic_load_explicit(&stall_ms, memory_order_relaxed);
    struct timespec ts;

    if (ms <= 0)
        return;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0)
        ;
}
