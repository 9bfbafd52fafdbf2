/*
 * klabel transports: the plugin ABI between the stage and a message system.
 *
 * A transport is a table of functions (struct kl_transport_ops) in the manner
 * of SQLite's sqlite3_io_methods: `version` comes first so the table can grow
 * without breaking older plugins; a transport object starts with a
 * struct kl_transport whose `ops` points back at its table. Transports are
 * registered in a static table (kl_transport_find); no code generation.
 *
 * Threading: open(), poll(), service(), mark_done(), pause(), resume()
 * and close() are called from one thread (the stage's source thread);
 * produce() and release() may also be called from other threads (the
 * stage's inference workers) at the same time, and so may wake() and
 * interrupt(). Revoke/assign callbacks run on the source thread inside
 * poll(); completion callbacks run on whichever thread is inside poll(),
 * service(), produce() (when it waits for queue space) or close(), so
 * they must be thread-safe.
 */
#ifndef KLABEL_TRANSPORT_H
#define KLABEL_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KL_TRANSPORT_ABI_VERSION 2

/* poll() returns this (positive) when the input has ended for good (end of
 * file); *n may still be > 0 on that call. */
#define KL_TRANSPORT_END 1

struct kl_config; /* plugin/config.h */

/* One message header. Not NUL-terminated: value[0..value_len); value may be
 * NULL for a null header. */
struct kl_header {
    const char *name;   /* NUL-terminated */
    const void *value;
    size_t value_len;
};

/* One consumed message. Every pointer is borrowed from the transport and
 * valid until release() of this message. */
struct kl_msg {
    const char *topic;
    int32_t partition;         /* -1 when the source has none (files) */
    int64_t offset;            /* Kafka offset; line number for files */
    const void *key;           /* NULL when absent */
    size_t key_len;
    const void *value;         /* NULL for a tombstone */
    size_t value_len;
    const struct kl_header *headers; /* (nheaders) */
    size_t nheaders;
    int64_t ts_ms;             /* message time, ms since epoch, -1 if none */
    void *priv;                /* the transport's own; do not touch */
};

/* One record to produce. Everything is copied by produce(); the caller may
 * free it as soon as produce() returns. */
struct kl_out_msg {
    const char *topic;
    int32_t partition;         /* -1 = the transport's partitioner (by key) */
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
    const struct kl_header *headers; /* (nheaders) */
    size_t nheaders;
    /* NULL, or the input message (of this transport's poll()) whose
     * headers are exactly headers[0..nheaders): the caller releases it
     * after produce() and reads its headers no more, so the transport may
     * move them over instead of copying (the kafka transport does).
     * Transports that ignore it stay correct. */
    const struct kl_msg *headers_from;
    /* The record's timestamp, ms since the epoch; 0: the transport's clock
     * when produce() is called. */
    int64_t ts_ms;
};

/* What the transport says about one produced record. Pointers are borrowed
 * for the duration of the callback. */
struct kl_delivery {
    void *token;          /* the token given to produce() */
    int rc;               /* 0 delivered, else a negative KL_E* code */
    const char *errstr;   /* reason when rc != 0, else NULL */
    const char *topic;
    int32_t partition;    /* where it landed, -1 if unknown */
    int64_t offset;       /* its offset, -1 if unknown */
    int64_t t_us;         /* CLOCK_MONOTONIC us when the report was served,
                             or 0: not stamped (the receiver reads the
                             clock) */
};

/* Given to open(). Callbacks are called on the transport's thread. */
struct kl_transport_params {
    /* kafka: input.topics and the kafka.* pass-through keys. Borrowed for
     * the duration of open(). */
    const struct kl_config *cfg;
    /* file: input and output streams (borrowed; not closed by close()).
     * Records produced to dlq_topic go to dlq_out (NULL = dropped with a
     * log line) and all others to out. */
    FILE *in;
    FILE *out;
    FILE *dlq_out;
    const char *dlq_topic;
    const char *in_name;       /* file: topic name given to input lines ("-") */
    /* Topics the caller will produce to, NULL-terminated (may be NULL):
     * kafka looks up their metadata at open so the first record does not
     * wait for it. */
    const char *const *out_topics;
    /* Exactly one call per successful produce(): ok or a permanent error. */
    void (*on_delivery)(void *ud, const struct kl_delivery *d);
    /* A partition is now ours / no longer ours (revoked or lost: forget
     * its state). Either may be NULL. */
    void (*on_assign)(void *ud, const char *topic, int32_t partition);
    void (*on_revoke)(void *ud, const char *topic, int32_t partition);
    void *ud;
};

/* The base of every transport object; implementations embed it first. */
struct kl_transport {
    const struct kl_transport_ops *ops;
};

struct kl_transport_ops {
    int version;       /* KL_TRANSPORT_ABI_VERSION; first, so the table can grow */
    const char *name;  /* "kafka", "file" */

    /* Opens a transport (for kafka: a consumer subscribed to input.topics
     * and a producer). On success *out is owned by the caller: free with
     * close(). Returns 0 or KL_EINVAL / KL_ENOMEM / KL_EKAFKA / KL_EIO with
     * a reason in err. */
    int (*open)(const struct kl_transport_params *p, struct kl_transport **out,
                char *err, size_t errsz);

    /* Fills msgs[0..max) with up to max messages, waiting at most
     * timeout_us for the first one (0 = do not wait), and sets *n. Serves
     * delivery reports while it waits. Messages are borrowed until
     * release(). Returns 0, KL_TRANSPORT_END when the input has ended, or a
     * negative code (fatal: the stage must stop). */
    int (*poll)(struct kl_transport *t, struct kl_msg *msgs, size_t max,
                int64_t timeout_us, size_t *n, char *err, size_t errsz);

    /* Gives back n messages obtained from poll(). */
    void (*release)(struct kl_transport *t, struct kl_msg *msgs, size_t n);

    /* Queues one record; on 0 the on_delivery callback will be called once
     * with token. Waits (serving deliveries) while the local queue is full.
     * Returns 0 or a negative code (then no callback will come). */
    int (*produce)(struct kl_transport *t, const struct kl_out_msg *m,
                   void *token, char *err, size_t errsz);

    /* Serves delivery reports and events, waiting at most timeout_ms.
     * Returns 0, or a negative code after a fatal error. */
    int (*service)(struct kl_transport *t, int timeout_ms, char *err,
                   size_t errsz);

    /* Records that every input message of (topic, partition) below
     * next_offset is done (at-least-once: the next offset to commit).
     * Returns 0 or a negative code; a partition no longer assigned is not
     * an error (0). */
    int (*mark_done)(struct kl_transport *t, const char *topic,
                     int32_t partition, int64_t next_offset, char *err,
                     size_t errsz);

    /* Stops / restarts fetching from every assigned partition (and from
     * partitions assigned while paused). Returns 0 or a negative code. */
    int (*pause)(struct kl_transport *t);
    int (*resume)(struct kl_transport *t);

    /* Flushes what was produced (serving deliveries), commits the marked
     * offsets, leaves the group and frees t (always, even on error).
     * Bounded by timeout_ms (kafka: plus at most 0.5 s to destroy its
     * clients, even with the broker unreachable). Returns 0, or a negative
     * code when something could not be flushed or committed in time. */
    int (*close)(struct kl_transport *t, int timeout_ms, char *err,
                 size_t errsz);

    /* Version 2; either may be NULL. Both thread-safe. */
    /* Makes a poll() that is waiting return at once (with what it has),
     * or the next one if none is waiting. */
    void (*wake)(struct kl_transport *t);
    /* From now on, produce() calls waiting for queue space (and later
     * ones that would wait) return KL_ESTATE: a shutdown deadline has
     * passed. */
    void (*interrupt)(struct kl_transport *t);
};

extern const struct kl_transport_ops kl_transport_kafka;
extern const struct kl_transport_ops kl_transport_file;

/* The registered transport of that name, or NULL. Static; never freed. */
const struct kl_transport_ops *kl_transport_find(const char *name);

/* The registered transports, NULL terminated. Static. */
const struct kl_transport_ops *const *kl_transport_list(void);

#ifdef __cplusplus
}
#endif

#endif /* KLABEL_TRANSPORT_H */
