/*
 * The metrics registry (plugin/metrics.h): families and their series,
 * created under one mutex, updated lock-free with relaxed atomics. A
 * histogram keeps one counter per bucket (not cumulative) and its sum as
 * the bits of a double, added with a compare-and-swap loop; its count is
 * the sum of its buckets, so a rendering is always self-consistent.
 */
#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"
#include "metrics_priv.h"

/* ------------------------------------------------------------- registry */

struct kl_metrics *kl_metrics_create(void)
{
    struct kl_metrics *m = calloc(1, sizeof *m);

    if (!m)
        return NULL;
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

static void series_free(struct kl_metric *s)
{
    size_t i;

    if (!s)
        return;
    for (i = 0; i < KL_METRICS_LABELS_MAX; i++)
        free(s->values[i]);
    free((void *)s->b);
    free(s);
}

static void family_free(struct kl_metric_family *f)
{
    size_t i, n;

    if (!f)
        return;
    n = atomic_load(&f->n);
    for (i = 0; i < n; i++)
        series_free(f->series[i]);
    free(f->series);
    for (i = 0; i < f->nlabels; i++)
        free(f->labels[i]);
    free(f->name);
    free(f->help);
    free(f);
}

void kl_metrics_destroy(struct kl_metrics *m)
{
    size_t i;

    if (!m)
        return;
    for (i = 0; i < m->nfams; i++)
        family_free(m->fams[i]);
    free(m->fams);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

int kl_metrics_on_collect(struct kl_metrics *m, void (*fn)(void *ud),
                          void *ud)
{
    int rc = KL_OK;

    pthread_mutex_lock(&m->mu);
    if (m->ncollect >= KL_METRICS_COLLECT_MAX) {
        rc = KL_ERANGE;
        goto out;
    }
    m->collect_fn[m->ncollect] = fn;
    m->collect_ud[m->ncollect] = ud;
    m->ncollect++;
out:
    pthread_mutex_unlock(&m->mu);
    return rc;
}

/* -------------------------------------------------------------- families */

static int valid_name(const char *s, int colon)
{
    size_t i;

    if (!s || !*s)
        return 0;
    for (i = 0; s[i]; i++) {
        char c = s[i];
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '_' || (colon && c == ':');

        if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
            return 0;
    }
    return 1;
}

/* Checks name, labels and bounds of a new family; 0 or KL_EINVAL. */
static int check_family(struct kl_metrics *m, const char *name, int type,
                        const char *const *labels, const double *bounds,
                        size_t nbounds, size_t max_series, char *err,
                        size_t errsz)
{
    size_t i, j;

    if (!valid_name(name, 1)) {
        snprintf(err, errsz, "metric name '%s' is not valid", name ? name : "");
        return KL_EINVAL;
    }
    for (i = 0; i < m->nfams; i++) {
        if (!strcmp(m->fams[i]->name, name)) {
            snprintf(err, errsz, "metric %s: declared twice", name);
            return KL_EINVAL;
        }
    }
    if (type != KL_METRIC_COUNTER && type != KL_METRIC_GAUGE &&
        type != KL_METRIC_HISTOGRAM) {
        snprintf(err, errsz, "metric %s: unknown type %d", name, type);
        return KL_EINVAL;
    }
    for (i = 0; labels && labels[i]; i++) {
        if (i >= KL_METRICS_LABELS_MAX || !valid_name(labels[i], 0) ||
            !strncmp(labels[i], "__", 2) ||
            (type == KL_METRIC_HISTOGRAM && !strcmp(labels[i], "le"))) {
            snprintf(err, errsz, "metric %s: label '%s' is not valid or one "
                     "too many", name, labels[i]);
            return KL_EINVAL;
        }
        for (j = 0; j < i; j++) {
            if (!strcmp(labels[i], labels[j])) {
                snprintf(err, errsz, "metric %s: label %s twice", name,
                         labels[i]);
                return KL_EINVAL;
            }
        }
    }
    if (type == KL_METRIC_HISTOGRAM &&
        (nbounds == 0 || nbounds > KL_METRICS_BUCKETS_MAX || !bounds)) {
        snprintf(err, errsz, "metric %s: 1..%d bucket bounds needed", name,
                 KL_METRICS_BUCKETS_MAX);
        return KL_EINVAL;
    }
    for (i = 0; type == KL_METRIC_HISTOGRAM && i < nbounds; i++) {
        if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
            snprintf(err, errsz, "metric %s: bounds must be finite and "
                     "strictly ascending", name);
            return KL_EINVAL;
        }
    }
    if (max_series < 1) {
        snprintf(err, errsz, "metric %s: max_series must be >= 1", name);
        return KL_EINVAL;
    }
    return KL_OK;
}

static struct kl_metric *series_new(struct kl_metric_family *f,
                                    const char *const *values);

int kl_metrics_family(struct kl_metrics *m, const char *name, const char *help,
                      int type, const char *const *labels,
                      const double *bounds, size_t nbounds, size_t max_series,
                      int flags, struct kl_metric_family **out, char *err,
                      size_t errsz)
{
    struct kl_metric_family *f = NULL, **p;
    struct kl_metric *s;
    int rc;

    *out = NULL;
    pthread_mutex_lock(&m->mu);
    rc = check_family(m, name, type, labels, bounds, nbounds, max_series, err,
                      errsz);
    if (rc)
        goto out;
    rc = KL_ENOMEM;
    f = calloc(1, sizeof *f);
    if (!f)
        goto out;
    f->reg = m;
    f->type = type;
    f->flags = flags;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    for (; labels && labels[f->nlabels]; f->nlabels++)
        if (!(f->labels[f->nlabels] = strdup(labels[f->nlabels])))
            goto out;
    if (type == KL_METRIC_HISTOGRAM) {
        memcpy(f->bounds, bounds, nbounds * sizeof *bounds);
        f->nbounds = nbounds;
    }
    if (f->nlabels == 0)
        max_series = 1;
    f->max_series = max_series;
    f->series = calloc(max_series, sizeof *f->series);
    if (!f->name || !f->help || !f->series)
        goto out;
    if (f->nlabels == 0) {
        s = series_new(f, NULL);
        if (!s)
            goto out;
        f->series[0] = s;
        atomic_store(&f->n, 1);
    }
    if (m->nfams == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 16;

        p = realloc(m->fams, cap * sizeof *p);
        if (!p)
            goto out;
        m->fams = p;
        m->cap = cap;
    }
    m->fams[m->nfams++] = f;
    *out = f;
    f = NULL;
    rc = KL_OK;
out:
    pthread_mutex_unlock(&m->mu);
    if (rc == KL_ENOMEM)
        snprintf(err, errsz, "metrics: out of memory");
    family_free(f);
    return rc;
}

/* ---------------------------------------------------------------- series */

/* A copy of v (NULL = ""), cut to KL_METRICS_LABEL_VALUE_MAX bytes at a
 * character boundary, with every byte of invalid UTF-8 replaced by '?'. */
static char *label_value_dup(const char *v)
{
    size_t n = v ? strlen(v) : 0, off, i;
    char *c;

    if (n > KL_METRICS_LABEL_VALUE_MAX) {
        n = KL_METRICS_LABEL_VALUE_MAX;
        while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
            n--;
    }
    c = malloc(n + 1);
    if (!c)
        return NULL;
    if (n)
        memcpy(c, v, n);
    c[n] = '\0';
    for (i = 0; i < n;) {
        if (kl_utf8_validate(c + i, n - i, &off) == KL_OK)
            break;
        c[i + off] = '?';
        i += off + 1;
    }
    return c;
}

static struct kl_metric *series_new(struct kl_metric_family *f,
                                    const char *const *values)
{
    struct kl_metric *s = calloc(1, sizeof *s);
    size_t i;

    if (!s)
        return NULL;
    s->fam = f;
    s->seen = f->gen;
    for (i = 0; i < f->nlabels; i++) {
        s->values[i] = label_value_dup(values ? values[i] : NULL);
        if (!s->values[i])
            goto fail;
    }
    if (f->type == KL_METRIC_HISTOGRAM) {
        s->b = calloc(f->nbounds + 1, sizeof *s->b);
        if (!s->b)
            goto fail;
    }
    atomic_init(&s->v, 0);
    atomic_init(&s->sum, kl_metrics_dbits(0.0));
    return s;
fail:
    series_free(s);
    return NULL;
}

/* Does series s carry exactly these values? (values as given: a value
 * that was cut or cleaned at creation does not match, and gets found by
 * the locked search that compares cleaned copies.) */
static int series_match(const struct kl_metric *s, const char *const *values)
{
    size_t i;

    for (i = 0; i < s->fam->nlabels; i++) {
        const char *v = values && values[i] ? values[i] : "";

        if (strcmp(s->values[i], v))
            return 0;
    }
    return 1;
}

static struct kl_metric *find_in(struct kl_metric_family *f, size_t n,
                                 const char *const *values)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (series_match(f->series[i], values))
            return f->series[i];
    return NULL;
}

struct kl_metric *kl_metrics_series(struct kl_metric_family *f,
                                    const char *const *values)
{
    const char *clean[KL_METRICS_LABELS_MAX] = {NULL};
    struct kl_metric *s = NULL, *c = NULL;
    size_t n, i;

    if (!f)
        return NULL;
    if (!(f->flags & KL_METRICS_REMOVABLE)) {
        n = atomic_load_explicit(&f->n, memory_order_acquire);
        s = find_in(f, n, values);
        if (s)
            return s;
    }
    /* Slow path: create it, unless another thread just did. */
    c = series_new(f, values);
    pthread_mutex_lock(&f->reg->mu);
    n = atomic_load_explicit(&f->n, memory_order_relaxed);
    if (c) {
        for (i = 0; i < f->nlabels; i++)
            clean[i] = c->values[i];
        s = find_in(f, n, clean);
    }
    if (!s && c && n < f->max_series) {
        f->series[n] = c;
        atomic_store_explicit(&f->n, n + 1, memory_order_release);
        s = c;
        c = NULL;
    }
    if (s)
        s->seen = f->gen;
    pthread_mutex_unlock(&f->reg->mu);
    series_free(c);
    return s;
}

struct kl_metric *kl_metrics_single(struct kl_metric_family *f)
{
    if (!f || f->nlabels)
        return NULL;
    return f->series[0];
}

void kl_metrics_sweep(struct kl_metric_family *f)
{
    size_t i, j, n;

    if (!f || !(f->flags & KL_METRICS_REMOVABLE))
        return;
    pthread_mutex_lock(&f->reg->mu);
    n = atomic_load(&f->n);
    for (i = j = 0; i < n; i++) {
        if (f->series[i]->seen == f->gen)
            f->series[j++] = f->series[i];
        else
            series_free(f->series[i]);
    }
    for (i = j; i < n; i++)
        f->series[i] = NULL;
    atomic_store(&f->n, j);
    f->gen++;
    pthread_mutex_unlock(&f->reg->mu);
}

/* --------------------------------------------------------------- updates */

void kl_metrics_counter_add(struct kl_metric *s, uint64_t n)
{
    if (s)
        atomic_fetch_add_explicit(&s->v, n, memory_order_relaxed);
}

void kl_metrics_gauge_set(struct kl_metric *s, double v)
{
    if (s)
        atomic_store_explicit(&s->v, kl_metrics_dbits(v),
                              memory_order_relaxed);
}

/* *a += d on the bits of a double. */
static void add_double(_Atomic uint64_t *a, double d)
{
    uint64_t old = atomic_load_explicit(a, memory_order_relaxed);

    while (!atomic_compare_exchange_weak_explicit(
        a, &old, kl_metrics_dbits(kl_metrics_bitsd(old) + d),
        memory_order_relaxed, memory_order_relaxed))
        ;
}

void kl_metrics_gauge_add(struct kl_metric *s, double d)
{
    if (s)
        add_double(&s->v, d);
}

void kl_metrics_hist_observe(struct kl_metric *s, double v)
{
    const struct kl_metric_family *f;
    size_t i;

    if (!s || !s->b)
        return;
    f = s->fam;
    /* First bound >= v (le is inclusive); NaN lands in +Inf. */
    for (i = 0; i < f->nbounds && !(v <= f->bounds[i]); i++)
        ;
    atomic_fetch_add_explicit(&s->b[i], 1, memory_order_relaxed);
    add_double(&s->sum, v);
}

uint64_t kl_metrics_counter_get(const struct kl_metric *s)
{
    return s ? atomic_load_explicit(&((struct kl_metric *)s)->v,
                                    memory_order_relaxed)
             : 0;
}

double kl_metrics_gauge_get(const struct kl_metric *s)
{
    return s ? kl_metrics_bitsd(atomic_load_explicit(
                   &((struct kl_metric *)s)->v, memory_order_relaxed))
             : 0.0;
}

uint64_t kl_metrics_hist_get(const struct kl_metric *cs, double *sum,
                             uint64_t *buckets)
{
    struct kl_metric *s = (struct kl_metric *)cs;
    uint64_t total = 0, c;
    size_t i;

    if (sum)
        *sum = 0;
    if (!s || !s->b)
        return 0;
    for (i = 0; i <= s->fam->nbounds; i++) {
        c = atomic_load_explicit(&s->b[i], memory_order_relaxed);
        if (buckets)
            buckets[i] = c;
        total += c;
    }
    if (sum)
        *sum = kl_metrics_bitsd(
            atomic_load_explicit(&s->sum, memory_order_relaxed));
    return total;
}
