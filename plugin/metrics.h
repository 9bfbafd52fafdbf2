/*
 * Metrics: a small registry of counters, gauges and fixed-bucket histograms
 * rendered in the Prometheus text format 0.0.4, and the klabel catalogue of
 * metrics (klabel_*) with one-line hooks for the stage's call sites.
 *
 * A family is one metric name with its HELP text, type and label names; a
 * series is one combination of label values in a family. Families and
 * series are created on the setup path (a mutex, allocation); updating a
 * series is lock-free (relaxed atomics, no allocation), so the hot path may
 * call the update functions per event. Series live as long as the registry,
 * except in families created with KL_METRICS_REMOVABLE (see
 * kl_metrics_sweep()).
 *
 * Registry:  plugin/metrics.c       (families, series, updates)
 * Rendering: plugin/metrics_text.c  (text format 0.0.4)
 * Catalogue: plugin/metrics_stage.c (the klabel_* metrics and their hooks)
 * Internals shared by the first two: plugin/metrics_priv.h
 */
#ifndef KL_PLUGIN_METRICS_H
#define KL_PLUGIN_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum kl_metric_type { KL_METRIC_COUNTER, KL_METRIC_GAUGE, KL_METRIC_HISTOGRAM };

#define KL_METRICS_LABELS_MAX 3   /* label names per family */
#define KL_METRICS_BUCKETS_MAX 24 /* histogram bounds per family (+Inf extra) */
#define KL_METRICS_LABEL_VALUE_MAX 128 /* bytes of a label value; longer are cut */

/* Family flags: series may be removed by kl_metrics_sweep(); a counter
 * holds a double (updated with kl_metrics_gauge_set/add, e.g. seconds). */
#define KL_METRICS_REMOVABLE 1
#define KL_METRICS_FLOAT 2

struct kl_metrics;        /* a registry; opaque */
struct kl_metric_family;  /* one metric name; opaque, owned by the registry */
struct kl_metric;         /* one series; opaque, owned by its family */

/* Creates an empty registry. Caller owns; kl_metrics_destroy(). NULL when
 * out of memory. */
struct kl_metrics *kl_metrics_create(void);
/* Frees the registry, its families and series (NULL is fine). No other
 * thread may use it or any of its series any more. */
void kl_metrics_destroy(struct kl_metrics *m);

/* Adds a family. name must match [a-zA-Z_:][a-zA-Z0-9_:]* (counters end in
 * _total by convention), labels (NULL-terminated, may be NULL) are label
 * names matching [a-zA-Z_][a-zA-Z0-9_]* and not "le"; bounds (nbounds,
 * strictly ascending, finite) are a histogram's bucket upper bounds, the
 * +Inf bucket is implicit; max_series bounds the series count (>= 1).
 * A family without labels has its one series at once. help is copied.
 * Returns 0 and the family (borrowed, lives as long as m), KL_EINVAL (bad
 * name, label, bounds or a duplicate name; reason in err) or KL_ENOMEM. */
int kl_metrics_family(struct kl_metrics *m, const char *name, const char *help,
                      int type, const char *const *labels,
                      const double *bounds, size_t nbounds, size_t max_series,
                      int flags, struct kl_metric_family **out, char *err,
                      size_t errsz);

/* The series of fam with these label values (one per label name, in
 * order; NULL or a bad-UTF-8 value is stored with '?' in place of each bad
 * byte; values are cut to KL_METRICS_LABEL_VALUE_MAX bytes), created on
 * first use. Finding an existing series takes no lock (in a removable
 * family it does). Returns the series (borrowed: valid until the registry
 * is destroyed, or in a removable family until kl_metrics_sweep()), or
 * NULL when the family is full (max_series) or out of memory. */
struct kl_metric *kl_metrics_series(struct kl_metric_family *fam,
                                    const char *const *values);
/* The one series of a family without labels (NULL for a labeled one). */
struct kl_metric *kl_metrics_single(struct kl_metric_family *fam);

/* Lock-free updates; every function accepts NULL (and does nothing), so a
 * caller may keep the result of a failed kl_metrics_series(). */
void kl_metrics_counter_add(struct kl_metric *s, uint64_t n);
void kl_metrics_gauge_set(struct kl_metric *s, double v);
void kl_metrics_gauge_add(struct kl_metric *s, double d);
void kl_metrics_hist_observe(struct kl_metric *s, double v);

/* Reads (for tests and for the stage's own summaries). A histogram's
 * count is the sum of its buckets; *buckets (nbounds + 1 entries, may be
 * NULL) receives the per-bucket (not cumulative) counts, +Inf last. */
uint64_t kl_metrics_counter_get(const struct kl_metric *s);
double kl_metrics_gauge_get(const struct kl_metric *s);
uint64_t kl_metrics_hist_get(const struct kl_metric *s, double *sum,
                             uint64_t *buckets);

/* Removable families: every series not returned by kl_metrics_series()
 * since the previous sweep is removed (and freed). Call from the one
 * thread that updates the family. */
void kl_metrics_sweep(struct kl_metric_family *fam);

/* A callback run at the start of each kl_metrics_render(), on the
 * rendering thread, to refresh gauges computed on demand. At most 8 per
 * registry. Returns 0, KL_ERANGE or KL_ENOMEM. */
int kl_metrics_on_collect(struct kl_metrics *m, void (*fn)(void *ud),
                          void *ud);

/* Appends the whole registry to out in the Prometheus text format 0.0.4
 * (families in creation order, series in creation order): "# HELP" and
 * "# TYPE" lines, then samples; histograms as cumulative _bucket{le=..}
 * series ending with le="+Inf", then _sum and _count. Label values are
 * escaped (\\, \", \n). Thread-safe against updates. Returns 0 or
 * KL_ENOMEM. The content type to serve it with is KL_METRICS_CONTENT_TYPE. */
int kl_metrics_render(struct kl_metrics *m, struct kl_buf *out);
#define KL_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Appends v as the text format writes a float: the shortest form that
 * reads back exactly ("0.00025", "1e-06", "3"), "NaN", "+Inf" or "-Inf".
 * Returns 0 or KL_ENOMEM. */
int kl_metrics_format_double(struct kl_buf *out, double v);

/* ------------------------------------------------- the klabel catalogue */

/* Creates the process-wide registry with every klabel_* family (idempotent;
 * call from the main thread before the stage's threads start). Until then
 * every hook below does nothing, so code that runs without metrics (unit
 * tests, `klabel predict`) pays one pointer test. Returns 0 or KL_ENOMEM /
 * KL_EINVAL with a reason in err. */
int kl_metrics_stage_init(char *err, size_t errsz);
/* Frees the process-wide registry (no thread may use a hook any more). */
void kl_metrics_stage_fini(void);
/* The process-wide registry, or NULL before kl_metrics_stage_init().
 * Borrowed. */
struct kl_metrics *kl_metrics_global(void);

/* Hooks, callable from any thread, lock-free (except where noted). */
void kl_metrics_note_in(uint64_t n);          /* events consumed */
void kl_metrics_note_out(uint64_t n);         /* results delivered */
/* A dead letter delivered, by error class ("malformed", ...); finds the
 * class's series without a lock once it exists. */
void kl_metrics_note_dead_letter(const char *error_class);
void kl_metrics_note_delivery_failed(void);   /* a delivery failed */
/* A batch closed: why ("size", "deadline", "idle"; others are counted
 * too) and its size; for a "deadline" close also how late the close was
 * against the deadline, in nanoseconds (a negative value counts as 0;
 * closes for other reasons are not late by definition and are left out
 * of klabel_batch_close_lateness_seconds). */
void kl_metrics_note_batch(const char *reason, uint64_t size,
                           int64_t lateness_ns);
/* One event's wait between poll and the start of its batch's predict. */
void kl_metrics_note_queue_wait_us(int64_t us);
/* One batch's kl_model_predict_batch() time. */
void kl_metrics_note_model_ns(uint64_t ns);
/* One record delivered (result or dead letter): t_poll_us and now_us on
 * CLOCK_MONOTONIC give consume_to_produce; ts_ms (the event's time, ms
 * since the epoch, <= 0 if unknown) gives end_to_end against the wall
 * clock, taken as now_us plus the wall clock's offset from the monotonic
 * one (negative ages, from skewed clocks, count as 0). */
void kl_metrics_note_delivery(int64_t t_poll_us, int64_t now_us,
                              int64_t ts_ms);
/* A model being served: klabel_model_info{model=id,version=version} 1.
 * One series per model id (up to 16 models): a new version of the same id
 * replaces the old series. Takes locks: call at start and at a model
 * swap, not per event. */
void kl_metrics_set_model(const char *id, const char *version);
void kl_metrics_set_paused(int paused);       /* 1 while input is paused */
void kl_metrics_add_inflight(int64_t delta);  /* produced, not yet reported */
/* The committed-offset lag of one input partition (plugin/lag.c). */
void kl_metrics_set_lag(const char *topic, int32_t partition, int64_t lag);
/* Ends one statistics round: drops lag series not set since the last. */
void kl_metrics_sweep_lag(void);
/* Health and readiness, as the gauges klabel_healthy / klabel_ready. */
void kl_metrics_set_health(int healthy, int ready);

#endif
