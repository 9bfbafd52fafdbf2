/*
 * The stage: consume -> decode -> route -> featurize -> batch -> predict ->
 * encode -> produce, at-least-once. The thread calling kl_stage_run() is
 * the source (poll, decode, featurize, batching, dead letters,
 * backpressure); `workers` inference threads each own a share of the input
 * partitions, predict the batches of that share and produce their results,
 * so one partition's results leave in offset order. kl_stage_stop() may be
 * called from any thread or a signal handler. docs/architecture.md tells
 * the whole story (threads, batching, backpressure, memory bound).
 */
#ifndef KL_PLUGIN_STAGE_H
#define KL_PLUGIN_STAGE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hist.h"
#include "klabel/engine.h"
#include "klabel/transport.h"

struct kl_config;
struct kl_stage; /* opaque */

/* Why a micro-batch closed. */
enum kl_close_reason {
    KL_CLOSE_SIZE = 0,  /* "size": batch.max.size events */
    KL_CLOSE_DEADLINE,  /* "deadline": its oldest event waited batch.max.delay.us */
    KL_CLOSE_IDLE,      /* "idle": its worker was idle and no more input was ready */
    KL_CLOSE_ORDER,     /* "order": a partition's next event went to another model */
    KL_CLOSE_BACKLOG,   /* "backlog": its deadline passed while its worker had
                           batches queued; it kept growing until they drained */
    KL_CLOSE_FLUSH,     /* "flush": the stage was stopping */
    KL_CLOSE_NREASONS
};

/* Static name of a close reason ("size", ...; "unknown" when out of
 * range). */
const char *kl_close_reason_name(int reason);

/* Optional overrides for kl_stage_create(); zero = the defaults. */
struct kl_stage_io {
    /* Transport to use; NULL = "kafka". */
    const struct kl_transport_ops *ops;
    /* For the file transport: streams (borrowed). */
    FILE *in, *out, *dlq_out;
    /* A model to use instead of opening model.path (for every configured
     * model). Borrowed: must outlive the stage. */
    const struct kl_model *model;
};

/* What the stage has done so far. Counters count records, times are summed
 * over all batches; gauges (marked) are values at the time of the copy.
 * Histograms are in microseconds unless named otherwise. */
struct kl_stage_stats {
    uint64_t in;            /* messages consumed */
    uint64_t out;           /* results delivered to output.topic */
    uint64_t dlq;           /* dead letters delivered to dlq.topic */
    uint64_t failed;        /* deliveries that failed (the stage stops) */
    uint64_t batches;       /* micro-batches predicted */
    uint64_t inflight;      /* produced, delivery not yet reported */
    uint64_t decode_ns;     /* JSON decode */
    uint64_t featurize_ns;  /* tokenize + hash */
    uint64_t predict_ns;    /* kl_model_predict_batch */
    uint64_t encode_ns;     /* result JSON + DLQ headers */
    uint64_t produce_ns;    /* handing records to the transport */
    int64_t first_poll_us;  /* CLOCK_MONOTONIC of the first message, 0 = none */
    int64_t last_done_us;   /* CLOCK_MONOTONIC of the last delivery report */
    /* Per record: from the poll that returned its input to its delivery
     * report, in microseconds (results and dead letters). */
    struct kl_hist latency_us;
    /* Per record: from that poll until produce() returned (the record was
     * handed to the producer), in microseconds. */
    struct kl_hist produce_us;
    /* Per event: from its poll until its batch started predicting. */
    struct kl_hist queue_wait_us;
    /* Per batch: events in it, and kl_model_predict_batch() time. */
    struct kl_hist batch_size;
    struct kl_hist model_us;
    /* Batches closed, by enum kl_close_reason, and for deadline closes how
     * late the close was against the deadline. */
    uint64_t closes[KL_CLOSE_NREASONS];
    struct kl_hist close_late_us;
    /* Backpressure: input held (not taken, queue.hold.ms at most),
     * partitions paused, and input taken again after either. */
    uint64_t holds, pauses, resumes;
    int paused;                /* gauge: the input is held or paused now */
    uint64_t queued;           /* gauge: events held between poll and produce */
    uint64_t queued_bytes;     /* gauge: their input bytes */
};

/* Creates a stage from cfg (validated here): opens the model (unless
 * io->model) and the transport (subscribes). cfg is read during this call
 * only. On success *out is caller-owned: kl_stage_destroy(). */
int kl_stage_create(const struct kl_config *cfg, const struct kl_stage_io *io,
                    struct kl_stage **out, char *err, size_t errsz);

/* Runs until kl_stage_stop(), the end of the input (file transport), a
 * fatal transport error or a failed delivery; then finishes the batch in
 * hand, waits for outstanding deliveries (shutdown.timeout.ms), stores and
 * commits offsets and closes the transport. Call once. Returns 0 after a
 * clean stop, else a negative code with the reason in err (a failed
 * delivery is KL_EKAFKA: its offset and later ones were not committed). */
int kl_stage_run(struct kl_stage *s, char *err, size_t errsz);

/* Asks kl_stage_run() to stop. Async-signal-safe and thread-safe. */
void kl_stage_stop(struct kl_stage *s);

/* Input partitions assigned to the stage right now (0 before its group
 * join). Thread-safe: lets a test or the demo wait for the stage. */
int kl_stage_assigned(const struct kl_stage *s);

/* Copies the counters into *st (about 60 KiB). Thread-safe: takes each
 * thread's stats lock in turn, so the copy is consistent per thread. */
void kl_stage_get_stats(const struct kl_stage *s, struct kl_stage_stats *st);

/* The models the stage serves, 0..n-1 (n >= 1), and their info and route
 * name ("default" for model.path). Borrowed, valid until destroy. */
int kl_stage_model_count(const struct kl_stage *s);
const struct kl_model_info *kl_stage_model_info(const struct kl_stage *s,
                                                int i, const char **name);

/* Inference worker threads of the stage (workers; 0 when the source
 * thread runs every batch itself). */
int kl_stage_worker_count(const struct kl_stage *s);

/* Writes the one-line summary that kl_stage_run() logs at exit. */
void kl_stage_format_summary(const struct kl_stage_stats *st, char *buf,
                             size_t bufsz);

/* Frees the stage (NULL is fine); closes the transport if run() was never
 * called. */
void kl_stage_destroy(struct kl_stage *s);

#endif
