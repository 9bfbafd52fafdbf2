/*
 * A fixed-size log-linear histogram of non-negative integers (latencies in
 * microseconds): exact below 16, then 16 sub-buckets per power of two, so a
 * percentile is within about 6% of the true value. No allocation; the
 * struct is caller-owned and copyable.
 */
#ifndef KL_PLUGIN_HIST_H
#define KL_PLUGIN_HIST_H

#include <stdint.h>

#define KL_HIST_SUB 16                          /* sub-buckets per octave */
#define KL_HIST_NB (KL_HIST_SUB + 60 * KL_HIST_SUB) /* buckets in all */

struct kl_hist {
    uint64_t count;
    uint64_t sum;
    uint64_t min, max;
    uint64_t b[KL_HIST_NB]; /* (KL_HIST_NB) counts per bucket */
};

/* Zeroes h. */
void kl_hist_init(struct kl_hist *h);
/* Counts one value. */
void kl_hist_add(struct kl_hist *h, uint64_t v);
/* Adds every count of src to dst. */
void kl_hist_merge(struct kl_hist *dst, const struct kl_hist *src);
/* The value below which a fraction p (0..1) of the values fall (the middle
 * of its bucket, clamped to [min, max]); 0 when h is empty. */
uint64_t kl_hist_percentile(const struct kl_hist *h, double p);

#endif
