/*
 * The metrics registry's internals, shared by plugin/metrics.c (families,
 * series, updates) and plugin/metrics_text.c (rendering). Not used
 * anywhere else.
 */
#ifndef KL_PLUGIN_METRICS_PRIV_H
#define KL_PLUGIN_METRICS_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

#define KL_METRICS_COLLECT_MAX 8

struct kl_metric {
    struct kl_metric_family *fam;
    char *values[KL_METRICS_LABELS_MAX]; /* (fam->nlabels) owned */
    _Atomic uint64_t v;    /* counter: count; gauge: bits of a double */
    _Atomic uint64_t sum;  /* histogram: bits of a double */
    _Atomic uint64_t *b;   /* histogram: (fam->nbounds + 1) counts, +Inf last */
    uint64_t seen;         /* removable families: fam->gen at last lookup */
};

struct kl_metric_family {
    struct kl_metrics *reg;
    char *name, *help;                   /* owned */
    int type;                            /* enum kl_metric_type */
    int flags;                           /* KL_METRICS_REMOVABLE */
    char *labels[KL_METRICS_LABELS_MAX]; /* (nlabels) owned */
    size_t nlabels;
    double bounds[KL_METRICS_BUCKETS_MAX]; /* (nbounds) ascending */
    size_t nbounds;
    size_t max_series;
    /* (max_series) slots; [0, n) are in use. Slots are written before n
     * is published (release), so readers that load n (acquire) may scan
     * them without the lock; only removable families ever shrink, and
     * those are read under reg->mu only. */
    struct kl_metric **series;
    _Atomic size_t n;
    uint64_t gen; /* removable families: sweep generation */
};

struct kl_metrics {
    pthread_mutex_t mu; /* guards families, series creation, sweep, render */
    struct kl_metric_family **fams; /* (nfams) owned, creation order */
    size_t nfams, cap;
    void (*collect_fn[KL_METRICS_COLLECT_MAX])(void *ud);
    void *collect_ud[KL_METRICS_COLLECT_MAX];
    size_t ncollect;
};

/* Bits of a double and back (the atomics hold doubles as uint64_t). */
static inline uint64_t kl_metrics_dbits(double d)
{
    union { double d; uint64_t u; } x;

    x.d = d;
    return x.u;
}

static inline double kl_metrics_bitsd(uint64_t u)
{
    union { double d; uint64_t u; } x;

    x.u = u;
    return x.d;
}

#endif
