/*
 * The batcher of plugin/batcher.h: a (workers x models) table of open
 * batches, the earliest deadline cached so the per-event check is one
 * comparison, and the close rules (size, deadline, idle, order, backlog,
 * flush).
 */
#include "batcher.h"

#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"

static const char *const close_names[KL_CLOSE_NREASONS] = {
    "size", "deadline", "idle", "order", "backlog", "flush"};

const char *kl_close_reason_name(int reason)
{
    if (reason < 0 || reason >= KL_CLOSE_NREASONS)
        return "unknown";
    return close_names[reason];
}

int kl_batcher_init(struct kl_batcher *bt, int nworkers, int nmodels,
                    size_t max_size, int64_t delay_us,
                    kl_batcher_emit_fn *emit, void *ud)
{
    memset(bt, 0, sizeof *bt);
    if (nworkers < 1 || nmodels < 1 || max_size < 1 || delay_us < 0 || !emit)
        return KL_EINVAL;
    bt->open = calloc((size_t)nworkers * (size_t)nmodels, sizeof *bt->open);
    if (!bt->open)
        return KL_ENOMEM;
    bt->nworkers = nworkers;
    bt->nmodels = nmodels;
    bt->max_size = max_size;
    bt->delay_us = delay_us;
    bt->next_deadline = INT64_MAX;
    bt->emit = emit;
    bt->ud = ud;
    return KL_OK;
}

void kl_batcher_fini(struct kl_batcher *bt)
{
    free(bt->open);
    memset(bt, 0, sizeof *bt);
}

static struct kl_batch **slot(const struct kl_batcher *bt, int w, int m)
{
    return &bt->open[(size_t)w * (size_t)bt->nmodels + (size_t)m];
}

struct kl_batch *kl_batcher_get(const struct kl_batcher *bt, int w, int m)
{
    return *slot(bt, w, m);
}

int64_t kl_batcher_deadline_of(const struct kl_batcher *bt,
                               const struct kl_batch *b)
{
    return b->t_open_us + bt->delay_us;
}

static void recompute_deadline(struct kl_batcher *bt)
{
    size_t i, n = (size_t)bt->nworkers * (size_t)bt->nmodels;
    int64_t d = INT64_MAX;

    for (i = 0; i < n && bt->nopen; i++)
        if (bt->open[i] && !bt->open[i]->deferred &&
            kl_batcher_deadline_of(bt, bt->open[i]) < d)
            d = kl_batcher_deadline_of(bt, bt->open[i]);
    bt->next_deadline = d;
}

void kl_batcher_begin(struct kl_batcher *bt, struct kl_batch *b, int w, int m,
                      int64_t t_first_us)
{
    b->worker = w;
    b->model = m;
    b->seq = ++bt->seq;
    b->t_open_us = t_first_us;
    b->t_close_us = 0;
    b->deferred = 0;
    *slot(bt, w, m) = b;
    bt->nopen++;
    if (kl_batcher_deadline_of(bt, b) < bt->next_deadline)
        bt->next_deadline = kl_batcher_deadline_of(bt, b);
}

/* Closes the open batch of (w, m) with reason and hands it to emit. */
static void close_slot(struct kl_batcher *bt, int w, int m, int reason,
                       int64_t now)
{
    struct kl_batch **s = slot(bt, w, m), *b = *s;
    int was_first = !b->deferred &&
                    kl_batcher_deadline_of(bt, b) <= bt->next_deadline;

    *s = NULL;
    bt->nopen--;
    if (b->deferred)
        bt->ndeferred--;
    b->close_reason = reason;
    b->t_close_us = now;
    if (was_first)
        recompute_deadline(bt);
    bt->emit(bt->ud, b);
}

int kl_batcher_added(struct kl_batcher *bt, struct kl_batch *b, int64_t now)
{
    if (b->n < bt->max_size && b->n < b->cap)
        return 0;
    close_slot(bt, b->worker, b->model, KL_CLOSE_SIZE, now);
    return 1;
}

int kl_batcher_order(struct kl_batcher *bt, int w, int m, int last_m,
                     uint64_t last_seq, int64_t now)
{
    struct kl_batch *b;

    if (last_m < 0 || last_m == m || last_m >= bt->nmodels)
        return 0;
    b = *slot(bt, w, last_m);
    if (!b || b->seq != last_seq)
        return 0;
    close_slot(bt, w, last_m, KL_CLOSE_ORDER, now);
    return 1;
}

size_t kl_batcher_expire(struct kl_batcher *bt, int64_t now,
                         kl_batcher_level_fn *level, void *ud)
{
    size_t closed = 0;
    int w, m, deferred = 0;

    if (now < bt->next_deadline)
        return 0;
    for (w = 0; w < bt->nworkers; w++) {
        int lv = -1;

        for (m = 0; m < bt->nmodels; m++) {
            struct kl_batch *b = *slot(bt, w, m);

            if (!b || b->deferred || kl_batcher_deadline_of(bt, b) > now)
                continue;
            if (lv < 0)
                lv = level(ud, w);
            if (lv == KL_WORKER_BACKLOG) {
                b->deferred = 1;
                bt->ndeferred++;
                deferred = 1;
                continue;
            }
            close_slot(bt, w, m, KL_CLOSE_DEADLINE, now);
            closed++;
        }
    }
    if (deferred)
        recompute_deadline(bt);
    return closed;
}

/* Closes open batches of workers at or above min_level: all of them
 * (reason) or, with deferred_only, the deferred ones (KL_CLOSE_BACKLOG);
 * deferred ones also close at KL_WORKER_BUSY. */
static size_t close_by_level(struct kl_batcher *bt, int64_t now,
                             kl_batcher_level_fn *level, void *ud,
                             int deferred_only)
{
    size_t closed = 0;
    int w, m;

    for (w = 0; w < bt->nworkers && bt->nopen; w++) {
        int lv = -1;

        for (m = 0; m < bt->nmodels; m++) {
            struct kl_batch *b = *slot(bt, w, m);

            if (!b || (deferred_only && !b->deferred))
                continue;
            if (lv < 0)
                lv = level(ud, w);
            if (b->deferred && lv >= KL_WORKER_BUSY) {
                close_slot(bt, w, m, KL_CLOSE_BACKLOG, now);
                closed++;
            } else if (!deferred_only && lv == KL_WORKER_IDLE) {
                close_slot(bt, w, m, KL_CLOSE_IDLE, now);
                closed++;
            }
        }
    }
    return closed;
}

size_t kl_batcher_close_deferred(struct kl_batcher *bt, int64_t now,
                                 kl_batcher_level_fn *level, void *ud)
{
    if (!bt->ndeferred)
        return 0;
    return close_by_level(bt, now, level, ud, 1);
}

size_t kl_batcher_close_idle(struct kl_batcher *bt, int64_t now,
                             kl_batcher_level_fn *level, void *ud)
{
    return close_by_level(bt, now, level, ud, 0);
}

size_t kl_batcher_close_all(struct kl_batcher *bt, int64_t now, int reason)
{
    size_t closed = 0;
    int w, m;

    for (w = 0; w < bt->nworkers && bt->nopen; w++)
        for (m = 0; m < bt->nmodels; m++)
            if (*slot(bt, w, m)) {
                close_slot(bt, w, m, reason, now);
                closed++;
            }
    return closed;
}

int64_t kl_batcher_deadline(const struct kl_batcher *bt)
{
    return bt->next_deadline;
}

size_t kl_batcher_nopen(const struct kl_batcher *bt)
{
    return bt->nopen;
}
