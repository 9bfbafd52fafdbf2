/*
 * The stage's private state, shared by its files: stage.c (life cycle,
 * run, shutdown), stage_src.c (the source thread: poll, decode, route,
 * featurize, batch, backpressure), worker.c (inference threads: predict,
 * encode, produce) and stage_out.c (producing, delivery reports, rebalance
 * hooks).
 *
 * Threads and what they own:
 *  - source (the thread in kl_stage_run): the transport's poll/service/
 *    pause/resume, the batcher, the partition map, interned topics, its
 *    decode scratch and dead-letter headers; counters in src_st (src_mu).
 *  - worker i: the batches it pops, its scratch and encode buffer;
 *    counters in w->st (w->mu).
 *  - delivery reports may run on any of them (inside poll() or a
 *    produce() that waits for queue space): offsets, the delivery
 *    counters (dlv_st) and the failure reason are under s->mu.
 * Batches travel source -> worker through w->ring and come back empty
 * through w->free; each worker's pool grows on demand up to a bound
 * derived from queue.max.events, so memory is bounded.
 */
#ifndef KL_PLUGIN_STAGE_PRIV_H
#define KL_PLUGIN_STAGE_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "batch.h"
#include "batcher.h"
#include "buf.h"
#include "codec.h"
#include "dlq.h"
#include "flow.h"
#include "offsets.h"
#include "ring.h"
#include "route.h"
#include "stage.h"

#define COMP "stage"

/* What a produced record remembers until its delivery report. */
struct kl_inflight {
    const char *topic;   /* interned input topic (s->topics) */
    int32_t partition;
    int64_t offset;
    int64_t t_poll_us;
    int64_t ts_ms;       /* event time (ms since the epoch), -1 unknown */
    int is_dlq;
    const char *dlq_class; /* static error class name of a dead letter */
};

/* Time of two steps done one after the other per item (decode then
 * featurize on the source, encode then produce on a worker), read with
 * one clock read per item: each item's whole time adds to work_ns, and
 * every 8th item (the first of a run included) also reads the clock
 * between the steps. kl_split_fold() then gives the first step the sampled
 * mean times the items, the second the rest (waits included). */
struct kl_split {
    uint64_t work_ns, first_ns; /* all items; the sampled items' first step */
    unsigned n, samples;
};

/* 1 when the next item is to read the clock between its two steps. */
static inline int kl_split_sampled(const struct kl_split *a)
{
    return (a->n & 7) == 0;
}

/* Adds one item: its whole time, and (sampled) its first step's time. */
static inline void kl_split_add(struct kl_split *a, uint64_t work_ns,
                                int sampled, uint64_t first_ns)
{
    a->work_ns += work_ns;
    a->n++;
    if (sampled) {
        a->first_ns += first_ns;
        a->samples++;
    }
}

/* Adds a's estimate to the totals *first and *second and empties a. */
static inline void kl_split_fold(struct kl_split *a, uint64_t *first,
                                 uint64_t *second)
{
    uint64_t f = 0;

    if (a->samples > 0)
        f = (uint64_t)((double)a->first_ns * a->n / a->samples);
    if (f > a->work_ns)
        f = a->work_ns;
    *first += f;
    *second += a->work_ns - f;
    memset(a, 0, sizeof *a);
}

/* One inference thread. */
struct kl_worker {
    struct kl_stage *s;
    int id;
    pthread_t th;
    int started;
    atomic_int done;             /* its thread has returned */
    struct kl_ring ring;         /* closed batches, FIFO (source -> worker) */
    struct kl_ring free;         /* empty batches (worker -> source) */
    struct kl_batch **pool;      /* (maxpool) its batches; npool made so far */
    size_t npool, maxpool;       /* npool: source thread only */
    atomic_int busy;             /* holds a batch now */
    atomic_int quit;             /* workers=0: the guard thread may end */
    atomic_llong open_events;    /* events in the source's open batches */
    struct kl_scratch scratch;
    struct kl_buf enc;
    struct kl_encoder *encoder;  /* output.format codec (stage_codec.c) */
    struct kl_explanation xpl;   /* output.explain scratch */
    struct kl_split emit;        /* encode / produce times, worker-private;
                                    folded into st per batch */
    pthread_mutex_t mu;          /* guards st */
    struct kl_stage_stats st;    /* its share of the counters */
};

struct kl_stage {
    /* settings */
    char *output_topic, *dlq_topic, *instance;
    char *field_id, *field_text, *field_kind, *field_ts;
    struct kl_json_opts jo;
    size_t batch_max;
    int64_t batch_delay_us;
    int shutdown_ms;
    int top_k;
    float threshold;
    int nworkers;
    int inference;               /* stage.inference */
    size_t inline_max;           /* stage.inline.max.size */
    int inline_all;              /* workers=0: the source runs every batch
                                    on its own thread (w[0], no thread) */
    int in_tick;                 /* source thread: inside kl_stage_src_tick
                                    (a delivery callback) */
    uint64_t inline_runs;        /* source thread: batches it ran itself
                                    (so their time is not a message's) */
    _Atomic int64_t t_stop_us;   /* workers=0: when the guard saw the stop
                                    (or failure) asked; 0 = not yet */
    int close_idle;              /* batch.close.idle */
    int rt_priority;             /* stage.source.rt.priority, 0 = off */
    int64_t slice_us;            /* stage.cpu.slice.us */
    int same_partition;          /* output.partition=same */
    uint64_t q_max_events, q_max_bytes;
    double q_resume;
    int64_t q_hold_us;           /* queue.hold.ms, in us */
    /* parts */
    struct kl_routes routes;
    const struct kl_transport_ops *ops;
    struct kl_transport *t;
    struct kl_worker *w;         /* (nworkers) */
    /* delivery side, under mu */
    pthread_mutex_t mu;
    struct kl_offsets *offsets;
    struct kl_stage_stats dlv_st;
    char fail_reason[512];
    atomic_llong inflight;       /* produced, not yet reported */
    /* source thread */
    struct kl_batcher bt;
    struct kl_flow flow;
    struct kl_partmap parts;
    struct kl_msg *pollbuf;      /* (pollcap) */
    size_t pollcap;
    struct kl_event ev;          /* decode scratch */
    struct kl_decoder *dec;      /* input.format codec (stage_codec.c) */
    size_t explain;              /* output.explain: tokens per result */
    struct kl_features feat;     /* featurize scratch, swapped into batches */
    char reason[KL_BATCH_REASON_MAX];
    struct kl_dlq dlq;
    char **topics;               /* (ntopics) interned input topic names */
    size_t ntopics;
    int idle_check;              /* poll once more at once, then close idle */
    pthread_mutex_t src_mu;      /* guards src_st */
    struct kl_stage_stats src_st;
    atomic_llong queued_events;  /* held between poll and release */
    atomic_llong queued_bytes;
    /* state */
    atomic_int stop;
    atomic_int assigned;         /* input partitions assigned to us now */
    atomic_int failed;           /* a delivery failed or offsets could not be stored */
    atomic_int abort;            /* workers: produce nothing more */
    int ran;
    int eof;
};

/* The part of shutdown.timeout.ms that finishing the batches and awaiting
 * deliveries may use, in microseconds: all of it but the close's share (a
 * quarter, at most a second), which flushes, commits and leaves the
 * group. kl_stage_run() and the workers=0 guard count from a stop. */
static inline int64_t kl_stage_work_budget_us(const struct kl_stage *s)
{
    int64_t all = (int64_t)s->shutdown_ms * 1000, reserve = all / 4;

    return all - (reserve > 1000000 ? 1000000 : reserve);
}

static inline int64_t kl_stage_now_us(void)
{
    return (int64_t)(kl_now_ns() / 1000);
}

/* Records the first reason the stage must stop (later ones are only
 * logged by their callers) and sets s->failed. Thread-safe. */
void kl_stage_fail(struct kl_stage *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Transport callbacks (ud is the stage). */
void kl_stage_on_delivery(void *ud, const struct kl_delivery *d);

/* Stores (transport mark_done) each partition watermark that delivery
 * reports advanced since the last call. Call after every transport call
 * that may serve delivery reports (poll, service) and before close; takes
 * s->mu. */
void kl_stage_store_offsets(struct kl_stage *s);
void kl_stage_on_assign(void *ud, const char *topic, int32_t partition);
void kl_stage_on_revoke(void *ud, const char *topic, int32_t partition);

/* The interned copy of topic (kept until destroy), or NULL when out of
 * memory. Source thread only. */
const char *kl_stage_intern(struct kl_stage *s, const char *topic);

/* Produces the dead letter of msg (class, reason) from the source thread.
 * Returns 0 or a negative code with a reason in err. */
int kl_stage_emit_dead_letter(struct kl_stage *s, const struct kl_msg *msg,
                              int64_t t_poll_us, const char *cls,
                              const char *reason, char *err, size_t errsz);

/* Publishes this thread's pending decrease of the klabel_inflight gauge
 * (records reported, or counted and not handed over, since its last
 * call). */
void kl_stage_flush_inflight_metric(void);

/* The klabel_inflight gauge's share of a batch's records, counted in
 * s->inflight before they are produced (published at once). */
void kl_stage_count_inflight(struct kl_stage *s, size_t n);

/* Takes back n records that kl_stage_count_inflight() counted but that
 * were not handed over. */
void kl_stage_uncount_inflight(struct kl_stage *s, size_t n);

/* Encodes and produces the result of item i of batch b (worker w), which
 * the caller has counted with kl_stage_count_inflight() (a failure takes
 * it back). *t_ns: kl_now_ns() when the work began (the previous result's
 * end, one clock read less per result); set to when it ended. ts_ms: the
 * record's timestamp (ms since the epoch, one clock read per batch; 0:
 * the transport's clock). Times go to w->emit (kl_split). Returns 0 or a
 * negative code with a reason in err. */
int kl_stage_emit_result(struct kl_stage *s, struct kl_worker *w,
                         struct kl_batch *b, size_t i, uint64_t *t_ns,
                         int64_t ts_ms, char *err, size_t errsz);

/* The source thread's loop (stage_src.c): returns when stop is asked, the
 * input ends, the stage failed, or on a fatal error (then a negative code
 * with a reason in err). Open batches are left open. */
int kl_stage_source_loop(struct kl_stage *s, char *err, size_t errsz);

/* Closes the batches whose deadline is <= now when called on the source
 * thread (from a delivery report it serves); does nothing on any other
 * thread. */
void kl_stage_src_tick(struct kl_stage *s, int64_t now);

/* Hands a closed batch to its worker (the batcher's emit callback). */
void kl_stage_emit_batch(void *ud, struct kl_batch *b);

/* An empty batch of worker w from its free ring, or a new one while the
 * pool may still grow; NULL when all are in use (or out of memory).
 * Source thread. */
struct kl_batch *kl_worker_take_batch(struct kl_worker *w);

/* Predicts, produces and recycles batch b on the calling (source) thread
 * as worker w would: only while w is idle with nothing queued, so w's
 * partitions keep their order (with workers=0, for every batch: w has no
 * thread). */
void kl_worker_run_inline(struct kl_worker *w, struct kl_batch *b);

/* 1 when worker w has no empty batch and may not make another. Source
 * thread. */
int kl_worker_starved(struct kl_worker *w);

/* Workers (worker.c): allocate pools and rings, start, and tear down. */
int kl_workers_init(struct kl_stage *s, char *err, size_t errsz);
int kl_workers_start(struct kl_stage *s, char *err, size_t errsz);
/* Closes the rings, lets the workers finish what is queued until
 * deadline_us (serving deliveries meanwhile), then interrupts and joins
 * them. */
void kl_workers_finish(struct kl_stage *s, int64_t deadline_us);
void kl_workers_fini(struct kl_stage *s);

/* Codecs (stage_codec.c): the decoder and, after kl_workers_init(), one
 * encoder per worker. Returns 0 or a negative code with a reason in err;
 * kl_stage_codecs_fini() frees what was made (safe after a failure). */
struct kl_config;
int kl_stage_codecs_init(struct kl_stage *s, const struct kl_config *cfg,
                         char *err, size_t errsz);
void kl_stage_codecs_fini(struct kl_stage *s);

/* Encodes the result of item i of batch b into w->enc with w's encoder
 * (and, with output.explain, its explanation). Worker w's thread. Returns
 * 0, KL_ENOMEM or KL_EINVAL. */
int kl_stage_encode_result(struct kl_stage *s, struct kl_worker *w,
                           struct kl_batch *b, size_t i,
                           const struct kl_source *src);

/* Adds src's counters and histograms into dst. */
void kl_stage_stats_merge(struct kl_stage_stats *dst,
                          const struct kl_stage_stats *src);

#endif
