/*
 * At-least-once offset tracking: per input partition, the offsets in flight
 * and the contiguous low watermark of those whose output was delivered.
 * Delivery reports of different output partitions arrive out of order, so
 * an offset may only be stored once every lower tracked offset is done.
 * Not thread-safe: use from the thread that serves delivery reports.
 */
#ifndef KL_PLUGIN_OFFSETS_H
#define KL_PLUGIN_OFFSETS_H

#include <stdint.h>

struct kl_offsets; /* opaque */

/* Caller owns; kl_offsets_destroy(). */
struct kl_offsets *kl_offsets_create(void);
void kl_offsets_destroy(struct kl_offsets *t);

/* Registers an offset as in flight. Offsets of one partition must be
 * tracked in increasing order (gaps are fine: compacted topics, control
 * records). Returns 0, KL_EINVAL (not increasing) or KL_ENOMEM. */
int kl_offsets_track(struct kl_offsets *t, const char *topic, int32_t partition,
                     int64_t offset);

/* Marks a tracked offset done. Returns 1 and sets *store_next to the offset
 * to store (last contiguous done offset + 1) when the watermark advanced,
 * 0 when it did not, KL_EINVAL for an offset that is not in flight. */
int kl_offsets_done(struct kl_offsets *t, const char *topic, int32_t partition,
                    int64_t offset, int64_t *store_next);

/* Offsets still in flight, over all partitions. */
uint64_t kl_offsets_inflight(const struct kl_offsets *t);

/* Drops a partition's state (on revoke or lost). */
void kl_offsets_forget(struct kl_offsets *t, const char *topic,
                       int32_t partition);

#endif
