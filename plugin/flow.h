/*
 * Backpressure: the state machine of the stage's input. When the events or
 * bytes held between poll and produce reach their limits (queue.max.events
 * / queue.max.bytes) or a worker has no empty batch left, the input is
 * first *held*: the source stops taking messages from the consumer, whose
 * prefetch librdkafka keeps bounded (queued.max.messages.kbytes), so
 * nothing is dropped and taking resumes at once. If the queue is still
 * full after queue.hold.ms, the input partitions are *paused* (which makes
 * librdkafka drop its prefetch and, in 2.0.2, take 0.5 to 1 s to fetch
 * again after the resume). Either way the input runs again once both
 * counts are at or below queue.resume.ratio of their limits and every
 * worker has an empty batch (hysteresis). Pure logic with caller-given
 * times; the caller does the pausing. Not thread-safe (the source's).
 */
#ifndef KL_PLUGIN_FLOW_H
#define KL_PLUGIN_FLOW_H

#include <stdint.h>

enum kl_flow_state { KL_FLOW_RUNNING = 0, KL_FLOW_HELD, KL_FLOW_PAUSED };

/* What kl_flow_update() asks of the caller. */
enum kl_flow_action {
    KL_FLOW_KEEP = 0,  /* nothing changes */
    KL_FLOW_HOLD,      /* stop taking input (keep serving everything else) */
    KL_FLOW_PAUSE,     /* pause the input partitions */
    KL_FLOW_RESUME,    /* take input again (resume the partitions if paused) */
};

struct kl_flow {
    uint64_t max_events, max_bytes;   /* full at or above either */
    uint64_t low_events, low_bytes;   /* runs again at or below both */
    int64_t hold_us;                  /* held this long, then paused */
    int state;                        /* enum kl_flow_state */
    int64_t held_since;               /* when the hold began */
    uint64_t holds, pauses, resumes;  /* transitions so far */
};

/* Sets the limits (each >= 1), the resume ratio (0 <= ratio < 1) and the
 * hold time (us, >= 0; 0 = pause at once); starts running. */
void kl_flow_init(struct kl_flow *f, uint64_t max_events, uint64_t max_bytes,
                  double resume_ratio, int64_t hold_us);

/* Given what is held now, whether some worker is out of empty batches
 * (starved) and the time (us, CLOCK_MONOTONIC), returns the action to take
 * (and records the new state), or KL_FLOW_KEEP. RESUME after a hold needs
 * nothing of the transport; after a pause it needs a resume. */
int kl_flow_update(struct kl_flow *f, uint64_t events, uint64_t bytes,
                   int starved, int64_t now_us);

#endif
