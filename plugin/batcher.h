/*
 * The batcher: which micro-batches are open (at most one per worker and
 * model) and when each closes: on size (batch.max.size), on its deadline
 * (its oldest event has waited batch.max.delay.us), at once when its
 * worker is idle and the input has nothing more ready (adaptive), before
 * a partition's next event goes to another model (so one partition's
 * results keep their order), or when the stage flushes. A batch whose
 * deadline comes while its worker still has closed batches queued is not
 * queued behind them: it is deferred and keeps growing until that backlog
 * drains (then it closes as "backlog") or it is full, as Triton's dynamic
 * batcher forms the next batch when a model instance frees up. Pure logic
 * over caller-owned batches and caller-given times (CLOCK_MONOTONIC us),
 * so it runs the same under a fake clock in tests. Used by the source
 * thread only; not thread-safe.
 */
#ifndef KL_PLUGIN_BATCHER_H
#define KL_PLUGIN_BATCHER_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "stage.h"

/* Called for every batch that closes, with b->close_reason and
 * b->t_close_us set; the batch is no longer open (the callee owns it). */
typedef void kl_batcher_emit_fn(void *ud, struct kl_batch *b);

/* How busy a worker is. */
enum kl_worker_level {
    KL_WORKER_BACKLOG = 0, /* closed batches wait in its queue */
    KL_WORKER_BUSY = 1,    /* predicting one, nothing queued behind it */
    KL_WORKER_IDLE = 2     /* nothing in hand, nothing queued */
};

/* Says how busy worker w is now (enum kl_worker_level). */
typedef int kl_batcher_level_fn(void *ud, int w);

struct kl_batcher {
    int nworkers, nmodels;
    size_t max_size;
    int64_t delay_us;
    struct kl_batch **open;  /* (nworkers, nmodels) row-major; NULL = none */
    size_t nopen;
    size_t ndeferred;        /* open ones whose deadline passed (backlog) */
    int64_t next_deadline;   /* earliest deadline of the open, not deferred */
    uint64_t seq;            /* last sequence number given */
    kl_batcher_emit_fn *emit;
    void *ud;
};

/* Initializes bt for nworkers x nmodels open slots. Caller-owned struct;
 * kl_batcher_fini(). Returns 0, KL_EINVAL or KL_ENOMEM. */
int kl_batcher_init(struct kl_batcher *bt, int nworkers, int nmodels,
                    size_t max_size, int64_t delay_us,
                    kl_batcher_emit_fn *emit, void *ud);

/* Frees the slot table; batches still open are left to the caller (flush
 * first). */
void kl_batcher_fini(struct kl_batcher *bt);

/* The open batch of (w, m), or NULL. */
struct kl_batch *kl_batcher_get(const struct kl_batcher *bt, int w, int m);

/* Opens the empty batch b for (w, m) (none may be open there); t_first_us
 * is the poll time of the event about to be added: the deadline counts
 * from it. Gives b a new sequence number. */
void kl_batcher_begin(struct kl_batcher *bt, struct kl_batch *b, int w, int m,
                      int64_t t_first_us);

/* After an event was added to the open batch b: closes it when full
 * (KL_CLOSE_SIZE). Returns 1 if it closed. */
int kl_batcher_added(struct kl_batcher *bt, struct kl_batch *b, int64_t now);

/* A partition's last event went into the batch with sequence last_seq of
 * model last_m on worker w; its next goes to model m. If that batch is
 * still open and m differs, closes it first (KL_CLOSE_ORDER). Returns 1 if
 * it closed. */
int kl_batcher_order(struct kl_batcher *bt, int w, int m, int last_m,
                     uint64_t last_seq, int64_t now);

/* Every open batch whose deadline is <= now closes (KL_CLOSE_DEADLINE)
 * unless level() says its worker has a backlog: then it is deferred (no
 * longer counted in kl_batcher_deadline()). Returns how many closed. O(1)
 * when none is due. */
size_t kl_batcher_expire(struct kl_batcher *bt, int64_t now,
                         kl_batcher_level_fn *level, void *ud);

/* Closes the deferred batches whose worker's backlog has drained
 * (KL_CLOSE_BACKLOG). Returns how many closed; O(1) when none is
 * deferred. */
size_t kl_batcher_close_deferred(struct kl_batcher *bt, int64_t now,
                                 kl_batcher_level_fn *level, void *ud);

/* The input has nothing more ready: closes every open batch whose worker
 * is idle (KL_CLOSE_IDLE), and deferred ones whose backlog drained
 * (KL_CLOSE_BACKLOG). Returns how many closed. */
size_t kl_batcher_close_idle(struct kl_batcher *bt, int64_t now,
                             kl_batcher_level_fn *level, void *ud);

/* Closes every open batch (reason, normally KL_CLOSE_FLUSH). Returns how
 * many closed. */
size_t kl_batcher_close_all(struct kl_batcher *bt, int64_t now, int reason);

/* The earliest deadline of the open batches that are not deferred,
 * INT64_MAX when none. */
int64_t kl_batcher_deadline(const struct kl_batcher *bt);

/* Open batches now. */
size_t kl_batcher_nopen(const struct kl_batcher *bt);

/* A batch's deadline: the poll time of its first event + delay_us. */
int64_t kl_batcher_deadline_of(const struct kl_batcher *bt,
                               const struct kl_batch *b);

#endif
