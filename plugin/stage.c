/*
 * The stage's life cycle (plugin/stage.h): settings, models and routes,
 * the workers and their batch pools, the transport; kl_stage_run() starts
 * the workers, runs the source loop on the calling thread (stage_src.c),
 * then shuts down within shutdown.timeout.ms: open batches are flushed to
 * the workers, the workers finish (or are interrupted at the deadline),
 * outstanding deliveries are awaited, offsets committed. At-least-once:
 * every input offset is tracked before its output is produced, marked
 * done by the delivery report, and stored only when the partition's
 * contiguous low watermark advances. A failed delivery stops the stage
 * without storing that offset. Also the stats snapshot.
 */
#include "stage.h"

#include <cblas.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "buf.h"
#include "codec.h"
#include "config.h"
#include "cpu_rt.h"
#include "cpu_slice.h"
#include "dlq.h"
#include "log.h"
#include "metrics.h"
#include "offsets.h"
#include "stage_priv.h"

#define POLL_MAX 32 /* messages taken from one poll, at most */

/* ---------------------------------------------------------------- setup */

static char *dup_cfg(const struct kl_config *cfg, const char *key)
{
    const char *v = kl_config_get(cfg, key);

    return strdup(v ? v : "");
}

static int default_instance(char **out)
{
    char host[256];

    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "klabel");
    host[sizeof host - 1] = '\0';
    if (asprintf(out, "%s-%ld", host, (long)getpid()) < 0) {
        *out = NULL;
        return KL_ENOMEM;
    }
    return KL_OK;
}

static int read_settings(struct kl_stage *s, const struct kl_config *cfg)
{
    s->output_topic = dup_cfg(cfg, "output.topic");
    s->dlq_topic = dup_cfg(cfg, "dlq.topic");
    s->instance = dup_cfg(cfg, "instance.id");
    s->field_id = dup_cfg(cfg, "input.field.id");
    s->field_text = dup_cfg(cfg, "input.field.text");
    s->field_kind = dup_cfg(cfg, "input.field.kind");
    s->field_ts = dup_cfg(cfg, "input.field.ts");
    if (!s->output_topic || !s->dlq_topic || !s->instance || !s->field_id ||
        !s->field_text || !s->field_kind || !s->field_ts)
        return KL_ENOMEM;
    if (!s->instance[0]) {
        free(s->instance);
        if (default_instance(&s->instance))
            return KL_ENOMEM;
    }
    s->jo.field_id = s->field_id;
    s->jo.field_text = s->field_text;
    s->jo.field_kind = s->field_kind;
    s->jo.field_ts = s->field_ts;
    s->jo.max_bytes = (size_t)kl_config_get_int(cfg, "input.max.bytes");
    s->batch_max = (size_t)kl_config_get_int(cfg, "batch.max.size");
    s->batch_delay_us = kl_config_get_int(cfg, "batch.max.delay.us");
    s->shutdown_ms = (int)kl_config_get_int(cfg, "shutdown.timeout.ms");
    s->top_k = (int)kl_config_get_int(cfg, "model.top.k");
    s->threshold = (float)kl_config_get_double(cfg, "model.threshold");
    /* workers=0: one worker's state (batches, scratch, watchdog slot),
     * run by the source thread */
    s->nworkers = (int)kl_config_get_int(cfg, "workers");
    s->inline_all = s->nworkers == 0;
    if (s->inline_all)
        s->nworkers = 1;
    s->inference = kl_config_get_bool(cfg, "stage.inference");
    s->inline_max = (size_t)kl_config_get_int(cfg, "stage.inline.max.size");
    s->close_idle = kl_config_get_bool(cfg, "batch.close.idle");
    s->rt_priority = (int)kl_config_get_int(cfg, "stage.source.rt.priority");
    s->slice_us = kl_config_get_int(cfg, "stage.cpu.slice.us");
    s->same_partition = !strcmp(kl_config_get(cfg, "output.partition"),
                                "same");
    s->q_max_events = (uint64_t)kl_config_get_int(cfg, "queue.max.events");
    s->q_max_bytes = (uint64_t)kl_config_get_int(cfg, "queue.max.bytes");
    s->q_resume = kl_config_get_double(cfg, "queue.resume.ratio");
    s->q_hold_us = kl_config_get_int(cfg, "queue.hold.ms") * 1000;
    return KL_OK;
}

/* Asks the scheduler for a short slice (cpu_slice.h) before any thread
 * is made, so the workers, librdkafka's threads and the source (this
 * thread) all have it. Not getting it only costs latency: logged. */
static void set_cpu_slice(int64_t us)
{
    char why[256];
    int rc;

    if (us <= 0)
        return;
    rc = kl_cpu_slice_set_us(us, why, sizeof why);
    if (rc == KL_OK)
        KL_LOG(KL_LOG_DEBUG, COMP, "CPU slice %lld us", (long long)us);
    else
        KL_LOG(KL_LOG_INFO, COMP, "stage.cpu.slice.us=%lld not applied: %s",
               (long long)us, why);
}

/* Checks at start that the source thread may run under SCHED_FIFO
 * (cpu_rt.h): this thread enters it and leaves at once; the source loop
 * enters it for good. */
static int check_rt_priority(const struct kl_stage *s, char *err,
                             size_t errsz)
{
    char why[256];
    int rc;

    if (s->rt_priority <= 0)
        return KL_OK;
    rc = kl_cpu_rt_enter(s->rt_priority, why, sizeof why);
    if (rc == KL_OK)
        rc = kl_cpu_rt_leave(s->slice_us, why, sizeof why);
    if (rc == KL_OK)
        return KL_OK;
    snprintf(err, errsz, "stage.source.rt.priority=%d: %s", s->rt_priority,
             why);
    return KL_EINVAL;
}

/* Allocates the source thread's parts: poll buffer, batcher, flow. */
static int source_init(struct kl_stage *s)
{
    s->pollcap = s->batch_max < POLL_MAX ? s->batch_max : POLL_MAX;
    s->pollbuf = calloc(s->pollcap, sizeof *s->pollbuf);
    if (!s->pollbuf)
        return KL_ENOMEM;
    kl_flow_init(&s->flow, s->q_max_events, s->q_max_bytes, s->q_resume,
                 s->q_hold_us);
    return kl_batcher_init(&s->bt, s->nworkers, s->routes.nmodels,
                           s->batch_max, s->batch_delay_us,
                           kl_stage_emit_batch, s);
}

/* One line naming what the stage serves, for the log. */
static void log_start(const struct kl_stage *s)
{
    char models[512];
    size_t n = 0;
    int i, w;

    models[0] = '\0';
    for (i = 0; i < s->routes.nmodels && n < sizeof models; i++) {
        const struct kl_route_model *m = &s->routes.models[i];

        w = snprintf(models + n, sizeof models - n,
                     "%s%s=%s/%s(%d labels, %.0f MiB label projections)",
                     i ? " " : "", m->name, m->mi->id ? m->mi->id : "?",
                     m->mi->version ? m->mi->version : "?",
                     (int)m->mi->nlabels,
                     (double)m->mi->projection_bytes / 1048576.0);
        if (w < 0)
            break;
        n += (size_t)w;
    }
    KL_LOG(KL_LOG_INFO, COMP,
           "instance %s: models %s; transport %s, %d worker(s)%s, batch %zu / "
           "%" PRId64 " us, queue %" PRIu64 " events / %" PRIu64
           " bytes, inference %s, output %s, dlq %s",
           s->instance, models, s->ops->name, s->inline_all ? 0 : s->nworkers,
           s->inline_all ? " (the source thread runs every batch)" : "",
           s->batch_max,
           s->batch_delay_us, s->q_max_events, s->q_max_bytes,
           s->inference ? "on" : "off (pass-through)", s->output_topic,
           s->dlq_topic);
}

int kl_stage_create(const struct kl_config *cfg, const struct kl_stage_io *io,
                    struct kl_stage **out, char *err, size_t errsz)
{
    static const struct kl_stage_io no_io;
    struct kl_transport_params tp;
    const char *out_topics[3];
    struct kl_stage *s = NULL;
    int rc;

    *out = NULL;
    if (!io)
        io = &no_io;
    rc = kl_config_validate(cfg, err, errsz);
    if (rc)
        goto out;
    s = calloc(1, sizeof *s);
    if (!s) {
        rc = KL_ENOMEM;
        goto out;
    }
    atomic_init(&s->stop, 0);
    atomic_init(&s->assigned, 0);
    atomic_init(&s->failed, 0);
    atomic_init(&s->abort, 0);
    atomic_init(&s->t_stop_us, 0);
    atomic_init(&s->inflight, 0);
    atomic_init(&s->queued_events, 0);
    atomic_init(&s->queued_bytes, 0);
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->src_mu, NULL);
    kl_dlq_init(&s->dlq);
    kl_event_init(&s->ev);
    kl_features_init(&s->feat);
    kl_partmap_init(&s->parts);
    s->routes.def = KL_ROUTE_NONE;
    rc = read_settings(s, cfg);
    if (rc)
        goto out;
    set_cpu_slice(s->slice_us);
    rc = check_rt_priority(s, err, errsz);
    if (rc)
        goto out;
    rc = kl_routes_parse(&s->routes, cfg, err, errsz);
    if (!rc)
        rc = kl_routes_open(&s->routes, io->model, err, errsz);
    if (rc)
        goto out;
    /* One BLAS thread: OpenBLAS's pthread build sets this for the whole
     * process, and its own threads only lose on two cores (DESIGN.md
     * section 4); parallelism comes from `workers`, one BLAS thread each. */
    openblas_set_num_threads(1);
    rc = kl_workers_init(s, err, errsz);
    if (!rc)
        rc = kl_stage_codecs_init(s, cfg, err, errsz);
    if (!rc)
        rc = source_init(s);
    if (rc)
        goto out;
    s->offsets = kl_offsets_create();
    if (!s->offsets) {
        rc = KL_ENOMEM;
        goto out;
    }
    s->ops = io->ops ? io->ops : &kl_transport_kafka;
    if (s->ops->version < 1) {
        snprintf(err, errsz, "transport %s: ABI version %d not supported",
                 s->ops->name, s->ops->version);
        rc = KL_EINVAL;
        goto out;
    }
    memset(&tp, 0, sizeof tp);
    tp.cfg = cfg;
    tp.in = io->in;
    tp.out = io->out;
    tp.dlq_out = io->dlq_out;
    tp.dlq_topic = s->dlq_topic;
    out_topics[0] = s->output_topic;
    out_topics[1] = s->dlq_topic;
    out_topics[2] = NULL;
    tp.out_topics = out_topics;
    tp.on_delivery = kl_stage_on_delivery;
    tp.on_assign = kl_stage_on_assign;
    tp.on_revoke = kl_stage_on_revoke;
    tp.ud = s;
    rc = s->ops->open(&tp, &s->t, err, errsz);
    if (rc)
        goto out;
    log_start(s);
    for (int mk = 0; mk < s->routes.nmodels; mk++) /* klabel_model_info */
        kl_metrics_set_model(s->routes.models[mk].mi->id,
                             s->routes.models[mk].mi->version);
    *out = s;
    s = NULL;
out:
    if (rc == KL_ENOMEM)
        snprintf(err, errsz, "stage: out of memory");
    kl_stage_destroy(s);
    return rc;
}

void kl_stage_destroy(struct kl_stage *s)
{
    size_t i;
    char err[256];

    if (!s)
        return;
    if (s->t) /* run() was never called */
        s->ops->close(s->t, 2000, err, sizeof err);
    kl_stage_codecs_fini(s);
    kl_workers_fini(s);
    kl_batcher_fini(&s->bt);
    free(s->pollbuf);
    kl_partmap_fini(&s->parts);
    kl_event_fini(&s->ev);
    kl_features_fini(&s->feat);
    kl_dlq_fini(&s->dlq);
    kl_offsets_destroy(s->offsets);
    kl_routes_fini(&s->routes);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->src_mu);
    for (i = 0; i < s->ntopics; i++)
        free(s->topics[i]);
    free(s->topics);
    free(s->output_topic);
    free(s->dlq_topic);
    free(s->instance);
    free(s->field_id);
    free(s->field_text);
    free(s->field_kind);
    free(s->field_ts);
    free(s);
}

void kl_stage_stop(struct kl_stage *s)
{
    atomic_store(&s->stop, 1);
}

int kl_stage_assigned(const struct kl_stage *s)
{
    return atomic_load(&((struct kl_stage *)s)->assigned);
}

void kl_stage_stats_merge(struct kl_stage_stats *dst,
                          const struct kl_stage_stats *src)
{
    int i;

    dst->in += src->in;
    dst->out += src->out;
    dst->dlq += src->dlq;
    dst->failed += src->failed;
    dst->batches += src->batches;
    dst->decode_ns += src->decode_ns;
    dst->featurize_ns += src->featurize_ns;
    dst->predict_ns += src->predict_ns;
    dst->encode_ns += src->encode_ns;
    dst->produce_ns += src->produce_ns;
    if (src->first_poll_us &&
        (!dst->first_poll_us || src->first_poll_us < dst->first_poll_us))
        dst->first_poll_us = src->first_poll_us;
    if (src->last_done_us > dst->last_done_us)
        dst->last_done_us = src->last_done_us;
    kl_hist_merge(&dst->latency_us, &src->latency_us);
    kl_hist_merge(&dst->produce_us, &src->produce_us);
    kl_hist_merge(&dst->queue_wait_us, &src->queue_wait_us);
    kl_hist_merge(&dst->batch_size, &src->batch_size);
    kl_hist_merge(&dst->model_us, &src->model_us);
    kl_hist_merge(&dst->close_late_us, &src->close_late_us);
    for (i = 0; i < KL_CLOSE_NREASONS; i++)
        dst->closes[i] += src->closes[i];
    dst->holds += src->holds;
    dst->pauses += src->pauses;
    dst->resumes += src->resumes;
    dst->paused |= src->paused;
}

void kl_stage_get_stats(const struct kl_stage *cs, struct kl_stage_stats *st)
{
    struct kl_stage *s = (struct kl_stage *)cs;
    int i;

    memset(st, 0, sizeof *st);
    pthread_mutex_lock(&s->mu);
    kl_stage_stats_merge(st, &s->dlv_st);
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_lock(&s->src_mu);
    kl_stage_stats_merge(st, &s->src_st);
    pthread_mutex_unlock(&s->src_mu);
    for (i = 0; s->w && i < s->nworkers; i++) {
        pthread_mutex_lock(&s->w[i].mu);
        kl_stage_stats_merge(st, &s->w[i].st);
        pthread_mutex_unlock(&s->w[i].mu);
    }
    st->inflight = (uint64_t)atomic_load(&s->inflight);
    st->queued = (uint64_t)atomic_load(&s->queued_events);
    st->queued_bytes = (uint64_t)atomic_load(&s->queued_bytes);
}

int kl_stage_model_count(const struct kl_stage *s)
{
    return s->routes.nmodels;
}

const struct kl_model_info *kl_stage_model_info(const struct kl_stage *s,
                                                int i, const char **name)
{
    if (i < 0 || i >= s->routes.nmodels)
        return NULL;
    if (name)
        *name = s->routes.models[i].name;
    return s->routes.models[i].mi;
}

int kl_stage_worker_count(const struct kl_stage *s)
{
    return s->inline_all ? 0 : s->nworkers;
}

/* ------------------------------------------------------------------ run */

void kl_stage_format_summary(const struct kl_stage_stats *st, char *buf,
                             size_t bufsz)
{
    double secs = 0;

    if (st->first_poll_us && st->last_done_us > st->first_poll_us)
        secs = (double)(st->last_done_us - st->first_poll_us) / 1e6;
    snprintf(buf, bufsz,
             "in=%" PRIu64 " out=%" PRIu64 " dlq=%" PRIu64
             " failed=%" PRIu64 " inflight=%" PRIu64 " batches=%" PRIu64
             " avg_batch=%.1f secs=%.3f rate=%.0f/s"
             " | ms decode=%.1f featurize=%.1f predict=%.1f encode=%.1f"
             " produce=%.1f | latency_us p50=%" PRIu64 " p95=%" PRIu64
             " p99=%" PRIu64 " max=%" PRIu64 " | produce_us p50=%" PRIu64
             " p99=%" PRIu64 " | queue_wait_us p50=%" PRIu64 " p99=%" PRIu64
             " | closes size=%" PRIu64 " deadline=%" PRIu64
             " idle=%" PRIu64 " order=%" PRIu64 " backlog=%" PRIu64
             " flush=%" PRIu64
             " late_us p50=%" PRIu64 " p99=%" PRIu64 " | holds=%" PRIu64
             " pauses=%" PRIu64,
             st->in, st->out, st->dlq, st->failed, st->inflight, st->batches,
             st->batches ? (double)st->in / (double)st->batches : 0.0, secs,
             secs > 0 ? (double)(st->out + st->dlq) / secs : 0.0,
             st->decode_ns / 1e6, st->featurize_ns / 1e6,
             st->predict_ns / 1e6, st->encode_ns / 1e6, st->produce_ns / 1e6,
             kl_hist_percentile(&st->latency_us, 0.50),
             kl_hist_percentile(&st->latency_us, 0.95),
             kl_hist_percentile(&st->latency_us, 0.99), st->latency_us.max,
             kl_hist_percentile(&st->produce_us, 0.50),
             kl_hist_percentile(&st->produce_us, 0.99),
             kl_hist_percentile(&st->queue_wait_us, 0.50),
             kl_hist_percentile(&st->queue_wait_us, 0.99),
             st->closes[KL_CLOSE_SIZE], st->closes[KL_CLOSE_DEADLINE],
             st->closes[KL_CLOSE_IDLE], st->closes[KL_CLOSE_ORDER],
             st->closes[KL_CLOSE_BACKLOG], st->closes[KL_CLOSE_FLUSH],
             kl_hist_percentile(&st->close_late_us, 0.50),
             kl_hist_percentile(&st->close_late_us, 0.99), st->holds,
             st->pauses);
}

/* Serves deliveries until none is outstanding or work_deadline passes,
 * then closes the transport (flush, commit, leave the group) within
 * deadline. */
static int shutdown_transport(struct kl_stage *s, int64_t work_deadline,
                              int64_t deadline, char *err, size_t errsz)
{
    int64_t left;
    char cerr[512] = "";
    int rc = KL_OK, rc2;

    while (atomic_load(&s->inflight) > 0 &&
           kl_stage_now_us() < work_deadline) {
        rc = s->ops->service(s->t, 10, err, errsz);
        kl_stage_store_offsets(s);
        if (rc)
            break;
    }
    kl_stage_store_offsets(s); /* reports served by the workers' produce */
    if (!rc && atomic_load(&s->inflight) > 0) {
        snprintf(err, errsz,
                 "%lld record(s) not delivered within "
                 "shutdown.timeout.ms=%d; their offsets are not committed",
                 (long long)atomic_load(&s->inflight), s->shutdown_ms);
        rc = KL_EKAFKA;
    }
    left = (deadline - kl_stage_now_us()) / 1000;
    rc2 = s->ops->close(s->t, left > 100 ? (int)left : 100, cerr,
                        sizeof cerr);
    s->t = NULL;
    if (rc2 && !rc) {
        snprintf(err, errsz, "close: %s", cerr);
        rc = rc2;
    } else if (rc2 && !strstr(err, cerr)) {
        KL_LOG(KL_LOG_ERR, COMP, "close: %s", cerr);
    }
    return rc;
}

int kl_stage_run(struct kl_stage *s, char *err, size_t errsz)
{
    struct kl_stage_stats st;
    char why[512] = "", why2[512] = "", summary[1024];
    int64_t t_stop, deadline, work_deadline;
    int rc = KL_OK, rc2;

    if (s->ran || !s->t) {
        snprintf(err, errsz, "stage: run() called twice");
        return KL_ESTATE;
    }
    s->ran = 1;
    rc = kl_workers_start(s, why, sizeof why);
    if (!rc)
        rc = kl_stage_source_loop(s, why, sizeof why);
    if (rc) {
        KL_LOG(KL_LOG_ERR, COMP, "stopping: %s", why);
    } else if (atomic_load(&s->failed)) {
        pthread_mutex_lock(&s->mu);
        KL_LOG(KL_LOG_ERR, COMP, "stopping: %s", s->fail_reason);
        pthread_mutex_unlock(&s->mu);
    } else {
        KL_LOG(KL_LOG_INFO, COMP, "stopping: %s",
               s->eof ? "end of input" : "asked to stop");
    }
    /* The batches in hand are finished even when we are stopping. */
    /* The whole shutdown fits in shutdown.timeout.ms: the workers and the
     * deliveries get kl_stage_work_budget_us() of it, the close the rest. */
    t_stop = kl_stage_now_us();
    /* workers=0: the stop may have been asked while the source thread was
     * in a batch; the time since counts against the bound */
    if (s->inline_all && atomic_load(&s->t_stop_us) > 0 &&
        atomic_load(&s->t_stop_us) < t_stop)
        t_stop = atomic_load(&s->t_stop_us);
    deadline = t_stop + (int64_t)s->shutdown_ms * 1000;
    work_deadline = t_stop + kl_stage_work_budget_us(s);
    kl_batcher_close_all(&s->bt, kl_stage_now_us(), KL_CLOSE_FLUSH);
    kl_workers_finish(s, work_deadline);
    rc2 = shutdown_transport(s, work_deadline, deadline, why2, sizeof why2);
    if (rc2)
        KL_LOG(KL_LOG_ERR, COMP, "shutdown: %s", why2);
    kl_stage_get_stats(s, &st);
    kl_stage_format_summary(&st, summary, sizeof summary);
    KL_LOG(KL_LOG_INFO, COMP, "summary: %s", summary);
    if (rc) {
        snprintf(err, errsz, "%s", why);
    } else if (atomic_load(&s->failed)) {
        pthread_mutex_lock(&s->mu);
        snprintf(err, errsz, "%s", s->fail_reason);
        pthread_mutex_unlock(&s->mu);
        rc = KL_EKAFKA;
    } else if (rc2) {
        snprintf(err, errsz, "%s", why2);
        rc = rc2;
    }
    return rc;
}
