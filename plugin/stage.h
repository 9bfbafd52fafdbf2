/*
 * The stage: consume -> decode -> featurize -> batch -> predict -> encode ->
 * produce, at-least-once. Single-threaded in this version: kl_stage_run()
 * does everything on the calling thread; kl_stage_stop() may be called from
 * any thread or a signal handler.
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

/* Optional overrides for kl_stage_create(); zero = the defaults. */
struct kl_stage_io {
    /* Transport to use; NULL = "kafka". */
    const struct kl_transport_ops *ops;
    /* For the file transport: streams (borrowed). */
    FILE *in, *out, *dlq_out;
    /* A model to use instead of opening model.path. Borrowed: must outlive
     * the stage. */
    const struct kl_model *model;
};

/* What the stage has done so far. Counters count records, times are summed
 * over all batches. */
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

/* Copies the counters into *st. Call from the thread running the stage or
 * after kl_stage_run() has returned. */
void kl_stage_get_stats(const struct kl_stage *s, struct kl_stage_stats *st);

/* Writes the one-line summary that kl_stage_run() logs at exit. */
void kl_stage_format_summary(const struct kl_stage_stats *st, char *buf,
                             size_t bufsz);

/* Frees the stage (NULL is fine); closes the transport if run() was never
 * called. */
void kl_stage_destroy(struct kl_stage *s);

#endif
