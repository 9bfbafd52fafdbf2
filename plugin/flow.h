/*
 * Backpressure: the pause/resume state machine of the stage's input. The
 * input pauses when the events or bytes held between poll and produce
 * reach their limits (queue.max.events / queue.max.bytes) or a worker has
 * no empty batch left, and resumes once both are back at or below
 * queue.resume.ratio of their limits and every worker has an empty batch
 * again (hysteresis, so it does not flap). Pure logic; the caller does the
 * pausing. Not thread-safe (the source thread's).
 */
#ifndef KL_PLUGIN_FLOW_H
#define KL_PLUGIN_FLOW_H

#include <stdint.h>

enum kl_flow_action { KL_FLOW_HOLD = 0, KL_FLOW_PAUSE, KL_FLOW_RESUME };

struct kl_flow {
    uint64_t max_events, max_bytes;   /* pause at or above either */
    uint64_t low_events, low_bytes;   /* resume at or below both */
    int paused;
    uint64_t pauses, resumes;         /* transitions so far */
};

/* Sets the limits (each >= 1) and the resume ratio (0 <= ratio < 1);
 * starts running (not paused). */
void kl_flow_init(struct kl_flow *f, uint64_t max_events, uint64_t max_bytes,
                  double resume_ratio);

/* Given what is held now and whether some worker is out of empty batches
 * (starved), returns KL_FLOW_PAUSE or KL_FLOW_RESUME when the state
 * changes (and records it), else KL_FLOW_HOLD. */
int kl_flow_update(struct kl_flow *f, uint64_t events, uint64_t bytes,
                   int starved);

#endif
