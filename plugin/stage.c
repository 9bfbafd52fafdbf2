/*
 * The stage's life cycle and run loop (plugin/stage.h): build a micro-batch
 * from the transport's poll (closed by batch.max.size or when its oldest
 * message has waited batch.max.delay.us), decode and featurize as messages
 * arrive, predict once per batch, then produce results and dead letters in
 * input order. At-least-once: every input offset is tracked before its
 * output is produced, marked done by the delivery report, and stored only
 * when the partition's contiguous low watermark advances. A failed
 * delivery stops the stage without storing that offset.
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
#include "dlq.h"
#include "log.h"
#include "offsets.h"
#include "stage_priv.h"

#define IDLE_POLL_US 100000 /* wait for the first message of a batch */

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
    return KL_OK;
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
    kl_scratch_init(&s->scratch);
    kl_dlq_init(&s->dlq);
    kl_buf_init(&s->enc);
    kl_hist_init(&s->st.latency_us);
    rc = read_settings(s, cfg);
    if (rc)
        goto out;
    if (io->model) {
        s->model = io->model;
    } else {
        rc = kl_model_open(kl_config_get(cfg, "model.path"), &s->own_model,
                           err, errsz);
        if (rc)
            goto out;
        s->model = s->own_model;
    }
    s->mi = kl_model_info(s->model);
    /* One inference thread in this version: OpenBLAS's own threads only
     * lose on two cores (DESIGN.md section 4). */
    openblas_set_num_threads(1);
    rc = kl_batch_init(&s->b, s->batch_max);
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
    KL_LOG(KL_LOG_INFO, COMP,
           "instance %s: model %s version %s (%d labels), transport %s, "
           "batch %zu / %" PRId64 " us, output %s, dlq %s",
           s->instance, s->mi->id ? s->mi->id : "?",
           s->mi->version ? s->mi->version : "?", (int)s->mi->nlabels,
           s->ops->name, s->batch_max, s->batch_delay_us, s->output_topic,
           s->dlq_topic);
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
    kl_batch_fini(&s->b);
    kl_scratch_fini(&s->scratch);
    kl_dlq_fini(&s->dlq);
    kl_buf_fini(&s->enc);
    kl_offsets_destroy(s->offsets);
    kl_model_destroy(s->own_model);
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

void kl_stage_get_stats(const struct kl_stage *s, struct kl_stage_stats *st)
{
    *st = s->st;
}

/* ---------------------------------------------------------------- batch */

/* Tracks the offsets of messages [from, b->n) as in flight. */
static int track_new(struct kl_stage *s, size_t from, char *err, size_t errsz)
{
    size_t i;
    int rc;

    for (i = from; i < s->b.n; i++) {
        const struct kl_msg *m = &s->b.msgs[i];

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
        if (rc) {
            snprintf(err, errsz, "offset tracking: %s", kl_strerror(rc));
            return rc;
        }
    }
    return KL_OK;
}

/* Polls until the batch is full, its oldest message has waited
 * batch_delay_us, stop is asked, or the input ends. Messages are decoded,
 * featurized and tracked as they arrive. */
static int fill_batch(struct kl_stage *s, char *err, size_t errsz)
{
    struct kl_batch *b = &s->b;
    int64_t first = 0, wait, t;
    size_t k, i, from;
    int rc = KL_OK, rc2;

    while (b->n < b->cap && !atomic_load(&s->stop) && !s->failed) {
        if (b->n == 0) {
            wait = IDLE_POLL_US;
        } else {
            wait = first + s->batch_delay_us - kl_stage_now_us();
            if (wait <= 0)
                break;
        }
        k = 0;
        rc = s->ops->poll(s->t, b->msgs + b->n, b->cap - b->n, wait, &k, err,
                          errsz);
        if (k > 0) {
            t = kl_stage_now_us();
            if (b->n == 0)
                first = t;
            if (!s->st.first_poll_us)
                s->st.first_poll_us = t;
            from = b->n;
            for (i = from; i < from + k; i++)
                b->t_poll_us[i] = t;
            b->n += k;
            s->st.in += k;
            if (rc >= 0 && (rc2 = track_new(s, from, err, errsz)) != 0)
                rc = rc2;
            if (rc >= 0 &&
                kl_batch_prepare(b, from, &s->jo, s->model, &s->st.decode_ns,
                                 &s->st.featurize_ns)) {
                snprintf(err, errsz, "decode/featurize: out of memory");
                rc = KL_ENOMEM;
            }
        }
        if (rc == KL_TRANSPORT_END) {
            s->eof = 1;
            rc = KL_OK;
            break;
        }
        if (rc < 0)
            break;
    }
    return rc;
}

static void release_batch(struct kl_stage *s)
{
    if (s->b.n)
        s->ops->release(s->t, s->b.msgs, s->b.n);
    kl_batch_clear(&s->b);
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
             " p99=%" PRIu64 " max=%" PRIu64,
             st->in, st->out, st->dlq, st->failed, st->inflight, st->batches,
             st->batches ? (double)st->in / (double)st->batches : 0.0, secs,
             secs > 0 ? (double)(st->out + st->dlq) / secs : 0.0,
             st->decode_ns / 1e6, st->featurize_ns / 1e6,
             st->predict_ns / 1e6, st->encode_ns / 1e6, st->produce_ns / 1e6,
             kl_hist_percentile(&st->latency_us, 0.50),
             kl_hist_percentile(&st->latency_us, 0.95),
             kl_hist_percentile(&st->latency_us, 0.99), st->latency_us.max);
}

/* Serves deliveries until none is outstanding or deadline passes, then
 * closes the transport (flush, commit, leave the group). */
static int shutdown_transport(struct kl_stage *s, char *err, size_t errsz)
{
    int64_t deadline = kl_stage_now_us() + (int64_t)s->shutdown_ms * 1000, left;
    char cerr[512] = "";
    int rc = KL_OK, rc2;

    while (s->st.inflight > 0 && kl_stage_now_us() < deadline) {
        rc = s->ops->service(s->t, 50, err, errsz);
        if (rc)
            break;
    }
    if (!rc && s->st.inflight > 0) {
        snprintf(err, errsz,
                 "%" PRIu64 " record(s) not delivered within "
                 "shutdown.timeout.ms=%d; their offsets are not committed",
                 s->st.inflight, s->shutdown_ms);
        rc = KL_EKAFKA;
    }
    left = (deadline - kl_stage_now_us()) / 1000;
    rc2 = s->ops->close(s->t, left > 1000 ? (int)left : 1000, cerr,
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
    char why[512] = "", why2[512] = "", summary[512];
    int rc = KL_OK, rc2;

    if (s->ran || !s->t) {
        snprintf(err, errsz, "stage: run() called twice");
        return KL_ESTATE;
    }
    s->ran = 1;
    while (!rc && !atomic_load(&s->stop) && !s->failed && !s->eof) {
        rc = fill_batch(s, why, sizeof why);
        /* The batch in hand is finished even when we are stopping. */
        if (!rc && s->b.n)
            rc = kl_stage_process_batch(s, why, sizeof why);
        release_batch(s);
    }
    if (rc)
        KL_LOG(KL_LOG_ERR, COMP, "stopping: %s", why);
    else if (s->failed)
        KL_LOG(KL_LOG_ERR, COMP, "stopping: %s", s->fail_reason);
    else
        KL_LOG(KL_LOG_INFO, COMP, "stopping: %s",
               s->eof ? "end of input" : "asked to stop");
    rc2 = shutdown_transport(s, why2, sizeof why2);
    if (rc2)
        KL_LOG(KL_LOG_ERR, COMP, "shutdown: %s", why2);
    kl_stage_format_summary(&s->st, summary, sizeof summary);
    KL_LOG(KL_LOG_INFO, COMP, "summary: %s", summary);
    if (rc) {
        snprintf(err, errsz, "%s", why);
    } else if (s->failed) {
        snprintf(err, errsz, "%s", s->fail_reason);
        rc = KL_EKAFKA;
    } else if (rc2) {
        snprintf(err, errsz, "%s", why2);
        rc = rc2;
    }
    return rc;
}
