/*
 * The Prometheus text format 0.0.4 of a metrics registry
 * (kl_metrics_render, plugin/metrics.h): HELP and TYPE lines per family,
 * one sample line per series, histograms as cumulative buckets with le
 * labels plus _sum and _count. Floats are written in their shortest exact
 * form; label values and HELP text are escaped as the format requires.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"
#include "metrics.h"
#include "metrics_priv.h"

int kl_metrics_format_double(struct kl_buf *out, double v)
{
    char s[40], *e;
    int prec, exp10;

    if (isnan(v))
        return kl_buf_append(out, "NaN", 3);
    if (isinf(v))
        return v > 0 ? kl_buf_append(out, "+Inf", 4)
                     : kl_buf_append(out, "-Inf", 4);
    for (prec = 1; prec <= 17; prec++) {
        snprintf(s, sizeof s, "%.*g", prec, v);
        if (strtod(s, NULL) == v)
            break;
    }
    /* %g writes 40 as "4e+01" at precision 1: numbers up to 1e17 are
     * written without an exponent instead. */
    e = strchr(s, 'e');
    if (e && e[1] == '+' && (exp10 = atoi(e + 2)) < 17)
        snprintf(s, sizeof s, "%.*f",
                 prec - 1 - exp10 > 0 ? prec - 1 - exp10 : 0, v);
    return kl_buf_append(out, s, strlen(s));
}

/* Appends s with '\\' and '\n' escaped, and '"' too when quote. */
static int append_escaped(struct kl_buf *out, const char *s, int quote)
{
    const char *run = s;
    int rc = KL_OK;

    for (; *s && !rc; s++) {
        const char *esc = NULL;

        if (*s == '\\')
            esc = "\\\\";
        else if (*s == '\n')
            esc = "\\n";
        else if (quote && *s == '"')
            esc = "\\\"";
        if (!esc)
            continue;
        rc = kl_buf_append(out, run, (size_t)(s - run));
        if (!rc)
            rc = kl_buf_append(out, esc, 2);
        run = s + 1;
    }
    if (!rc)
        rc = kl_buf_append(out, run, strlen(run));
    return rc;
}

/* Appends {l1="v1",...[,le="bound"]} (nothing when there are no labels and
 * no le). */
static int append_labels(struct kl_buf *out, const struct kl_metric *s,
                         const char *le)
{
    const struct kl_metric_family *f = s->fam;
    size_t i;
    int rc = KL_OK;

    if (f->nlabels == 0 && !le)
        return KL_OK;
    rc = kl_buf_append(out, "{", 1);
    for (i = 0; i < f->nlabels && !rc; i++) {
        rc = kl_buf_printf(out, "%s%s=\"", i ? "," : "", f->labels[i]);
        if (!rc)
            rc = append_escaped(out, s->values[i], 1);
        if (!rc)
            rc = kl_buf_append(out, "\"", 1);
    }
    if (le && !rc)
        rc = kl_buf_printf(out, "%sle=\"%s\"", f->nlabels ? "," : "", le);
    if (!rc)
        rc = kl_buf_append(out, "}", 1);
    return rc;
}

static int render_histogram(struct kl_buf *out, const struct kl_metric *s)
{
    const struct kl_metric_family *f = s->fam;
    uint64_t b[KL_METRICS_BUCKETS_MAX + 1], cum = 0, count;
    struct kl_buf le;
    double sum;
    size_t i;
    int rc = KL_OK;

    count = kl_metrics_hist_get(s, &sum, b);
    kl_buf_init(&le);
    for (i = 0; i <= f->nbounds && !rc; i++) {
        cum += b[i];
        kl_buf_reset(&le);
        if (i < f->nbounds)
            rc = kl_metrics_format_double(&le, f->bounds[i]);
        else
            rc = kl_buf_append(&le, "+Inf", 4);
        if (!rc)
            rc = kl_buf_printf(out, "%s_bucket", f->name);
        if (!rc)
            rc = append_labels(out, s, le.data);
        if (!rc)
            rc = kl_buf_printf(out, " %llu\n", (unsigned long long)cum);
    }
    kl_buf_fini(&le);
    if (!rc)
        rc = kl_buf_printf(out, "%s_sum", f->name);
    if (!rc)
        rc = append_labels(out, s, NULL);
    if (!rc)
        rc = kl_buf_append(out, " ", 1);
    if (!rc)
        rc = kl_metrics_format_double(out, sum);
    if (!rc)
        rc = kl_buf_printf(out, "\n%s_count", f->name);
    if (!rc)
        rc = append_labels(out, s, NULL);
    if (!rc)
        rc = kl_buf_printf(out, " %llu\n", (unsigned long long)count);
    return rc;
}

static int render_series(struct kl_buf *out, const struct kl_metric *s)
{
    const struct kl_metric_family *f = s->fam;
    int rc;

    if (f->type == KL_METRIC_HISTOGRAM)
        return render_histogram(out, s);
    rc = kl_buf_append(out, f->name, strlen(f->name));
    if (!rc)
        rc = append_labels(out, s, NULL);
    if (!rc && f->type == KL_METRIC_COUNTER && !(f->flags & KL_METRICS_FLOAT))
        rc = kl_buf_printf(out, " %llu\n",
                           (unsigned long long)kl_metrics_counter_get(s));
    else if (!rc) {
        rc = kl_buf_append(out, " ", 1);
        if (!rc)
            rc = kl_metrics_format_double(out, kl_metrics_gauge_get(s));
        if (!rc)
            rc = kl_buf_append(out, "\n", 1);
    }
    return rc;
}

static const char *type_word(int type)
{
    switch (type) {
    case KL_METRIC_COUNTER: return "counter";
    case KL_METRIC_GAUGE: return "gauge";
    default: return "histogram";
    }
}

int kl_metrics_render(struct kl_metrics *m, struct kl_buf *out)
{
    size_t i, j, n, ncollect;
    int rc = KL_OK;

    /* Collectors run outside the lock: they may create series. */
    pthread_mutex_lock(&m->mu);
    ncollect = m->ncollect;
    pthread_mutex_unlock(&m->mu);
    for (i = 0; i < ncollect; i++)
        m->collect_fn[i](m->collect_ud[i]);
    pthread_mutex_lock(&m->mu);
    for (i = 0; i < m->nfams && !rc; i++) {
        const struct kl_metric_family *f = m->fams[i];

        rc = kl_buf_printf(out, "# HELP %s ", f->name);
        if (!rc)
            rc = append_escaped(out, f->help, 0);
        if (!rc)
            rc = kl_buf_printf(out, "\n# TYPE %s %s\n", f->name,
                               type_word(f->type));
        n = atomic_load_explicit(&((struct kl_metric_family *)f)->n,
                                 memory_order_acquire);
        for (j = 0; j < n && !rc; j++)
            rc = render_series(out, f->series[j]);
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}
