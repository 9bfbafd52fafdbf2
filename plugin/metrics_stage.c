/*
 * The klabel catalogue of metrics (plugin/metrics.h, second half): one
 * process-wide registry holding every klabel_* family plus the standard
 * process_* ones, and the hooks the stage calls at its call sites. Each
 * hook is a pointer test and one or two relaxed atomic updates; series
 * that the hot path uses are resolved once at init.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "klabel/engine.h"
#include "klabel/version.h"
#include "metrics.h"

#define LAG_MAX_SERIES 1024   /* input partitions with a lag series */
#define CLASS_MAX_SERIES 64   /* dead-letter error classes */
#define REASON_MAX_SERIES 16  /* batch close reasons */
#define MODEL_MAX_SERIES 16   /* models served by one stage */

struct catalog {
    struct kl_metrics *reg;
    struct kl_metric *in, *out, *failed, *paused, *inflight, *healthy,
        *ready, *batch_size, *lateness, *queue_wait, *model, *c2p, *e2e,
        *close_size, *close_deadline, *close_idle, *cpu, *rss, *start;
    struct kl_metric_family *dead, *batches, *lag, *model_info;
    long page;
    pthread_mutex_t model_mu; /* models, and model_info's series */
    char models[MODEL_MAX_SERIES][2][KL_METRICS_LABEL_VALUE_MAX + 1];
    size_t nmodels;           /* (id, version) served now */
    /* CLOCK_REALTIME - CLOCK_MONOTONIC in us: end_to_end's wall clock;
     * refreshed at every scrape and every 65536 deliveries of a thread. */
    _Atomic int64_t wall_off_us;
};

static _Atomic(struct catalog *) g_cat;

static struct catalog *cat(void)
{
    return atomic_load_explicit(&g_cat, memory_order_acquire);
}

/* Bucket bounds, in seconds unless named otherwise. */
static const double b_batch_size[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512,
                                      1024, 2048, 4096, 16384, 65536};
static const double b_lateness[] = {1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5,
                                    1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2};
static const double b_short[] = {1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4,
                                 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2,
                                 0.1, 0.25, 0.5, 1, 2.5, 10};
static const double b_e2e[] = {1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2,
                               2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
                               30, 60, 300, 3600};

#define NB(a) (sizeof(a) / sizeof((a)[0]))

/* One family of the catalogue. */
struct fam_def {
    const char *name, *help;
    int type;
    const char *labels[KL_METRICS_LABELS_MAX + 1];
    const double *bounds;
    size_t nbounds, max_series;
    int flags;
};

static void refresh_wall_offset(struct catalog *c)
{
    struct timespec w, m;

    clock_gettime(CLOCK_REALTIME, &w);
    clock_gettime(CLOCK_MONOTONIC, &m);
    atomic_store_explicit(&c->wall_off_us,
                          ((int64_t)w.tv_sec - (int64_t)m.tv_sec) * 1000000 +
                              (w.tv_nsec - m.tv_nsec) / 1000,
                          memory_order_relaxed);
}

/* Refreshes the process_* gauges (a collect callback). */
static void collect_process(void *ud)
{
    struct catalog *c = ud;
    struct rusage ru;
    long pages = 0, size = 0;
    FILE *f;

    refresh_wall_offset(c);
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        kl_metrics_gauge_set(c->cpu, (double)ru.ru_utime.tv_sec +
                                         ru.ru_utime.tv_usec / 1e6 +
                                         (double)ru.ru_stime.tv_sec +
                                         ru.ru_stime.tv_usec / 1e6);
    f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &pages) == 2)
            kl_metrics_gauge_set(c->rss, (double)pages * (double)c->page);
        fclose(f);
    }
}

/* Creates every family; fills c. Returns 0 or a negative code. */
static int build(struct catalog *c, char *err, size_t errsz)
{
    static const struct fam_def defs[] = {
        {"klabel_build_info", "klabel build; the version is a label, the value is 1",
         KL_METRIC_GAUGE, {"version", NULL}, NULL, 0, 1, 0},
        {"klabel_up", "1 while the stage process serves metrics", KL_METRIC_GAUGE,
         {NULL}, NULL, 0, 1, 0},
        {"klabel_healthy", "1 when /healthz answers 200 (no fatal error, model workers progressing)",
         KL_METRIC_GAUGE, {NULL}, NULL, 0, 1, 0},
        {"klabel_ready", "1 when /readyz answers 200 (partitions assigned, model loaded)",
         KL_METRIC_GAUGE, {NULL}, NULL, 0, 1, 0},
        {"klabel_model_info", "the model being served; the value is 1",
         KL_METRIC_GAUGE, {"model", "version", NULL}, NULL, 0, MODEL_MAX_SERIES,
         KL_METRICS_REMOVABLE},
        {"klabel_events_in_total", "input events consumed", KL_METRIC_COUNTER,
         {NULL}, NULL, 0, 1, 0},
        {"klabel_results_out_total", "labeled results delivered to output.topic",
         KL_METRIC_COUNTER, {NULL}, NULL, 0, 1, 0},
        {"klabel_dead_letters_total", "dead letters delivered to dlq.topic, by error class",
         KL_METRIC_COUNTER, {"class", NULL}, NULL, 0, CLASS_MAX_SERIES, 0},
        {"klabel_delivery_failures_total",
         "records (results or dead letters) whose delivery failed; the stage stops at the first",
         KL_METRIC_COUNTER, {NULL}, NULL, 0, 1, 0},
        {"klabel_batches_total",
         "micro-batches closed, by reason (size, deadline, idle, order, backlog, flush)",
         KL_METRIC_COUNTER, {"reason", NULL}, NULL, 0, REASON_MAX_SERIES, 0},
        {"klabel_batch_size", "events per micro-batch", KL_METRIC_HISTOGRAM, {NULL},
         b_batch_size, NB(b_batch_size), 1, 0},
        {"klabel_batch_close_lateness_seconds",
         "how late a deadline close came after the batch's deadline (batch.max.delay.us)",
         KL_METRIC_HISTOGRAM, {NULL}, b_lateness, NB(b_lateness), 1, 0},
        {"klabel_queue_wait_seconds", "per event: from poll to the start of its batch's inference",
         KL_METRIC_HISTOGRAM, {NULL}, b_short, NB(b_short), 1, 0},
        {"klabel_model_seconds", "per batch: time in the model (kl_model_predict_batch)",
         KL_METRIC_HISTOGRAM, {NULL}, b_short, NB(b_short), 1, 0},
        {"klabel_consume_to_produce_seconds",
         "per record: from the poll that returned its input to its delivery report",
         KL_METRIC_HISTOGRAM, {NULL}, b_short, NB(b_short), 1, 0},
        {"klabel_end_to_end_seconds",
         "per record: from the event's timestamp (wall clock) to its delivery report",
         KL_METRIC_HISTOGRAM, {NULL}, b_e2e, NB(b_e2e), 1, 0},
        {"klabel_consumer_lag",
         "messages between the committed offset and the end of an input partition (librdkafka statistics)",
         KL_METRIC_GAUGE, {"topic", "partition", NULL}, NULL, 0, LAG_MAX_SERIES,
         KL_METRICS_REMOVABLE},
        {"klabel_paused", "1 while input partitions are paused (backpressure)",
         KL_METRIC_GAUGE, {NULL}, NULL, 0, 1, 0},
        {"klabel_inflight", "records produced whose delivery report has not come yet",
         KL_METRIC_GAUGE, {NULL}, NULL, 0, 1, 0},
        {"process_cpu_seconds_total", "user and system CPU time of the process",
         KL_METRIC_COUNTER, {NULL}, NULL, 0, 1, KL_METRICS_FLOAT},
        {"process_resident_memory_bytes", "resident memory of the process",
         KL_METRIC_GAUGE, {NULL}, NULL, 0, 1, 0},
        {"process_start_time_seconds", "start time of the process since the epoch",
         KL_METRIC_GAUGE, {NULL}, NULL, 0, 1, 0},
    };
    /* Close reasons of plugin/batcher.c besides the three of the hot path;
     * any other reason still gets a series when it first occurs. */
    static const char *const other_reasons[] = {"order", "backlog", "flush"};
    struct kl_metric_family *f[NB(defs)];
    const char *v[2];
    struct timespec now;
    size_t i;
    int rc;

    for (i = 0; i < NB(defs); i++) {
        rc = kl_metrics_family(c->reg, defs[i].name, defs[i].help, defs[i].type,
                               defs[i].labels, defs[i].bounds, defs[i].nbounds,
                               defs[i].max_series, defs[i].flags, &f[i], err,
                               errsz);
        if (rc)
            return rc;
    }
    v[0] = KL_VERSION;
    kl_metrics_gauge_set(kl_metrics_series(f[0], v), 1);
    kl_metrics_gauge_set(kl_metrics_single(f[1]), 1);
    c->healthy = kl_metrics_single(f[2]);
    c->ready = kl_metrics_single(f[3]);
    c->model_info = f[4];
    c->in = kl_metrics_single(f[5]);
    c->out = kl_metrics_single(f[6]);
    c->dead = f[7];
    c->failed = kl_metrics_single(f[8]);
    c->batches = f[9];
    c->batch_size = kl_metrics_single(f[10]);
    c->lateness = kl_metrics_single(f[11]);
    c->queue_wait = kl_metrics_single(f[12]);
    c->model = kl_metrics_single(f[13]);
    c->c2p = kl_metrics_single(f[14]);
    c->e2e = kl_metrics_single(f[15]);
    c->lag = f[16];
    c->paused = kl_metrics_single(f[17]);
    c->inflight = kl_metrics_single(f[18]);
    c->cpu = kl_metrics_single(f[19]);
    c->rss = kl_metrics_single(f[20]);
    c->start = kl_metrics_single(f[21]);
    v[0] = "size";
    c->close_size = kl_metrics_series(c->batches, v);
    v[0] = "deadline";
    c->close_deadline = kl_metrics_series(c->batches, v);
    v[0] = "idle";
    c->close_idle = kl_metrics_series(c->batches, v);
    for (i = 0; i < NB(other_reasons); i++) /* present at 0 from the start */
        kl_metrics_series(c->batches, &other_reasons[i]);
    clock_gettime(CLOCK_REALTIME, &now);
    kl_metrics_gauge_set(c->start, (double)now.tv_sec);
    refresh_wall_offset(c);
    c->page = sysconf(_SC_PAGESIZE);
    if (c->page <= 0)
        c->page = 4096;
    return kl_metrics_on_collect(c->reg, collect_process, c);
}

int kl_metrics_stage_init(char *err, size_t errsz)
{
    struct catalog *c = NULL;
    int rc = KL_ENOMEM, mu = 0;

    if (cat())
        return KL_OK;
    c = calloc(1, sizeof *c);
    if (!c || !(c->reg = kl_metrics_create()))
        goto out;
    if (pthread_mutex_init(&c->model_mu, NULL) != 0)
        goto out;
    mu = 1;
    rc = build(c, err, errsz);
    if (rc)
        goto out;
    atomic_store_explicit(&g_cat, c, memory_order_release);
    c = NULL;
out:
    if (rc == KL_ENOMEM)
        snprintf(err, errsz, "metrics: out of memory");
    if (c) {
        kl_metrics_destroy(c->reg);
        if (mu)
            pthread_mutex_destroy(&c->model_mu);
        free(c);
    }
    return rc;
}

void kl_metrics_stage_fini(void)
{
    struct catalog *c = atomic_exchange(&g_cat, NULL);

    if (!c)
        return;
    kl_metrics_destroy(c->reg);
    pthread_mutex_destroy(&c->model_mu);
    free(c);
}

struct kl_metrics *kl_metrics_global(void)
{
    struct catalog *c = cat();

    return c ? c->reg : NULL;
}

/* ----------------------------------------------------------------- hooks */

void kl_metrics_note_in(uint64_t n)
{
    struct catalog *c = cat();

    if (c)
        kl_metrics_counter_add(c->in, n);
}

void kl_metrics_note_out(uint64_t n)
{
    struct catalog *c = cat();

    if (c)
        kl_metrics_counter_add(c->out, n);
}

void kl_metrics_note_dead_letter(const char *error_class)
{
    struct catalog *c = cat();

    if (c)
        kl_metrics_counter_add(kl_metrics_series(c->dead, &error_class), 1);
}

void kl_metrics_note_delivery_failed(void)
{
    struct catalog *c = cat();

    if (c)
        kl_metrics_counter_add(c->failed, 1);
}

void kl_metrics_note_batch(const char *reason, uint64_t size,
                           int64_t lateness_ns)
{
    struct catalog *c = cat();
    struct kl_metric *r;

    if (!c)
        return;
    if (!strcmp(reason, "size"))
        r = c->close_size;
    else if (!strcmp(reason, "deadline"))
        r = c->close_deadline;
    else if (!strcmp(reason, "idle"))
        r = c->close_idle;
    else
        r = kl_metrics_series(c->batches, &reason);
    kl_metrics_counter_add(r, 1);
    kl_metrics_hist_observe(c->batch_size, (double)size);
    if (r == c->close_deadline)
        kl_metrics_hist_observe(c->lateness,
                                lateness_ns > 0 ? lateness_ns / 1e9 : 0.0);
}

void kl_metrics_note_queue_wait_us(int64_t us)
{
    struct catalog *c = cat();

    if (c)
        kl_metrics_hist_observe(c->queue_wait, us > 0 ? us / 1e6 : 0.0);
}

void kl_metrics_note_model_ns(uint64_t ns)
{
    struct catalog *c = cat();

    if (c)
        kl_metrics_hist_observe(c->model, ns / 1e9);
}

void kl_metrics_note_delivery(int64_t t_poll_us, int64_t now_us,
                              int64_t ts_ms)
{
    static _Thread_local unsigned calls;
    struct catalog *c = cat();
    double age;

    if (!c)
        return;
    kl_metrics_hist_observe(c->c2p, now_us > t_poll_us
                                        ? (now_us - t_poll_us) / 1e6
                                        : 0.0);
    if (ts_ms <= 0)
        return;
    /* Wall clock from the monotonic now_us: reading CLOCK_REALTIME per
     * record costs more than all the rest here (150+ ns on these VMs). */
    if ((++calls & 0xffff) == 0)
        refresh_wall_offset(c);
    age = (double)(now_us + atomic_load_explicit(&c->wall_off_us,
                                                 memory_order_relaxed) -
                   ts_ms * 1000) / 1e6;
    kl_metrics_hist_observe(c->e2e, age > 0 ? age : 0.0);
}

void kl_metrics_set_model(const char *id, const char *version)
{
    struct catalog *c = cat();
    const char *v[2];
    size_t i;

    if (!c)
        return;
    pthread_mutex_lock(&c->model_mu);
    for (i = 0; i < c->nmodels; i++)
        if (!strcmp(c->models[i][0], id ? id : ""))
            break;
    if (i == c->nmodels && c->nmodels < MODEL_MAX_SERIES) {
        snprintf(c->models[i][0], sizeof c->models[i][0], "%s", id ? id : "");
        c->nmodels++;
    }
    if (i < c->nmodels)
        snprintf(c->models[i][1], sizeof c->models[i][1], "%s",
                 version ? version : "");
    /* One series per model id, with its latest version. */
    for (i = 0; i < c->nmodels; i++) {
        v[0] = c->models[i][0];
        v[1] = c->models[i][1];
        kl_metrics_gauge_set(kl_metrics_series(c->model_info, v), 1);
    }
    kl_metrics_sweep(c->model_info);
    pthread_mutex_unlock(&c->model_mu);
}

void kl_metrics_set_paused(int paused)
{
    struct catalog *c = cat();

    if (c)
        kl_metrics_gauge_set(c->paused, paused ? 1 : 0);
}

void kl_metrics_add_inflight(int64_t delta)
{
    struct catalog *c = cat();

    if (c)
        kl_metrics_gauge_add(c->inflight, (double)delta);
}

void kl_metrics_set_lag(const char *topic, int32_t partition, int64_t lag)
{
    struct catalog *c = cat();
    char p[16];
    const char *v[2];

    if (!c)
        return;
    snprintf(p, sizeof p, "%d", (int)partition);
    v[0] = topic;
    v[1] = p;
    kl_metrics_gauge_set(kl_metrics_series(c->lag, v), (double)lag);
}

void kl_metrics_sweep_lag(void)
{
    struct catalog *c = cat();

    if (c)
        kl_metrics_sweep(c->lag);
}

void kl_metrics_set_health(int healthy, int ready)
{
    struct catalog *c = cat();

    if (!c)
        return;
    kl_metrics_gauge_set(c->healthy, healthy ? 1 : 0);
    kl_metrics_gauge_set(c->ready, ready ? 1 : 0);
}
