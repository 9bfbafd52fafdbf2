/*
 * At-least-once offset tracking: per input partition, the offsets in flight
 * and the contiguous low watermark of those whose output was delivered.
 * Delivery reports of different output partitions arrive out of order, so
 * an offset may only be stored once every lower tracked offset is done.
 * Not thread-safe: use from the thread that serves delivery reports.
 */
#ifndef KL_PLUGIN_OFFSETS_H
#define KL_PLUGIN_OFFSETS_H

#include <stddef.h>
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

/* Drops a partition's state (on revoke or lost), its untaken watermark
 * included: take it first (kl_offsets_take_unstored) to store it. */
void kl_offsets_forget(struct kl_offsets *t, const char *topic,
                       int32_t partition);

/* How many partitions have a watermark that advanced (kl_offsets_done()
 * returned 1) since it was last taken. */
size_t kl_offsets_unstored(const struct kl_offsets *t);

/* Receives one partition's watermark to store: the latest next offset of
 * its kl_offsets_done() calls. topic is the tracker's, valid for the call.
 * Returns 0, or non-zero to stop the walk. */
typedef int (*kl_offsets_store_fn)(void *ud, const char *topic,
                                   int32_t partition, int64_t next);

/* Calls fn once for each partition whose watermark advanced since it was
 * last taken, and marks it taken. Returns 0, fn's first non-zero return
 * (the partitions not reached keep theirs), or KL_EINVAL (t or fn NULL). */
int kl_offsets_take_unstored(struct kl_offsets *t, kl_offsets_store_fn fn,
                             void *ud);

#endif
