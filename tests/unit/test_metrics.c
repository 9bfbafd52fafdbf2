/*
 * Unit tests of the metrics registry and its text format
 * (plugin/metrics.c, metrics_text.c) and of the klabel catalogue
 * (plugin/metrics_stage.c): histogram bucket math (le is inclusive, +Inf
 * catches the rest, buckets are cumulative), the exact rendering of a
 * small registry, escaping of label values and HELP text, the shortest
 * float form, family validation, series limits and sweeping, and
 * concurrent updates from two threads summing exactly.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "klabel/engine.h"
#include "metrics.h"

static struct kl_metrics *reg;
static struct kl_buf out;

static void setup(void)
{
    reg = kl_metrics_create();
    cr_assert_not_null(reg);
    kl_buf_init(&out);
}

static void teardown(void)
{
    kl_metrics_destroy(reg);
    kl_buf_fini(&out);
}

TestSuite(metrics, .init = setup, .fini = teardown, .timeout = 60);

static struct kl_metric_family *fam(const char *name, int type,
                                    const char *const *labels,
                                    const double *bounds, size_t nb,
                                    size_t max_series, int flags)
{
    struct kl_metric_family *f = NULL;
    char err[256];

    cr_assert_eq(kl_metrics_family(reg, name, "help text", type, labels,
                                   bounds, nb, max_series, flags, &f, err,
                                   sizeof err),
                 0, "%s: %s", name, err);
    return f;
}

static const char *render(void)
{
    kl_buf_reset(&out);
    cr_assert_eq(kl_metrics_render(reg, &out), 0);
    return out.data ? out.data : "";
}

static void expect_line(const char *text, const char *line)
{
    char want[512];

    snprintf(want, sizeof want, "%s\n", line);
    cr_expect_neq(strstr(text, want), NULL, "missing line '%s' in:\n%s", line,
                  text);
}

/* ------------------------------------------------------------ histograms */

Test(metrics, histogram_bucket_math)
{
    static const double b[] = {0.1, 1, 10};
    struct kl_metric *h = kl_metrics_single(
        fam("t_seconds", KL_METRIC_HISTOGRAM, NULL, b, 3, 1, 0));
    uint64_t per[4];
    double sum;

    kl_metrics_hist_observe(h, 0.05);  /* <= 0.1 */
    kl_metrics_hist_observe(h, 0.1);   /* le is inclusive: <= 0.1 */
    kl_metrics_hist_observe(h, 0.5);   /* <= 1 */
    kl_metrics_hist_observe(h, 10);    /* <= 10 */
    kl_metrics_hist_observe(h, 11);    /* +Inf */
    kl_metrics_hist_observe(h, NAN);   /* +Inf too */
    cr_expect_eq(kl_metrics_hist_get(h, &sum, per), 6);
    cr_expect_eq(per[0], 2);
    cr_expect_eq(per[1], 1);
    cr_expect_eq(per[2], 1);
    cr_expect_eq(per[3], 2);
    cr_expect(isnan(sum)); /* NaN poisons the sum, as in Prometheus */
}

Test(metrics, histogram_renders_cumulative_buckets_sum_and_count)
{
    static const double b[] = {0.00025, 0.5, 2};
    struct kl_metric *h = kl_metrics_single(
        fam("t_wait_seconds", KL_METRIC_HISTOGRAM, NULL, b, 3, 1, 0));
    const char *t;

    kl_metrics_hist_observe(h, 0.0001220703125); /* 2^-13: sums exactly */
    kl_metrics_hist_observe(h, 0.25);
    kl_metrics_hist_observe(h, 0.25);
    kl_metrics_hist_observe(h, 3);
    t = render();
    expect_line(t, "# HELP t_wait_seconds help text");
    expect_line(t, "# TYPE t_wait_seconds histogram");
    expect_line(t, "t_wait_seconds_bucket{le=\"0.00025\"} 1");
    expect_line(t, "t_wait_seconds_bucket{le=\"0.5\"} 3");
    expect_line(t, "t_wait_seconds_bucket{le=\"2\"} 3");
    expect_line(t, "t_wait_seconds_bucket{le=\"+Inf\"} 4");
    expect_line(t, "t_wait_seconds_sum 3.5001220703125");
    expect_line(t, "t_wait_seconds_count 4");
}

Test(metrics, labeled_histogram_puts_le_last)
{
    static const double b[] = {1};
    static const char *const l[] = {"model", NULL};
    static const char *const v[] = {"news"};
    struct kl_metric_family *f =
        fam("t_h", KL_METRIC_HISTOGRAM, l, b, 1, 4, 0);

    kl_metrics_hist_observe(kl_metrics_series(f, v), 2);
    expect_line(render(), "t_h_bucket{model=\"news\",le=\"1\"} 0");
    expect_line(render(), "t_h_bucket{model=\"news\",le=\"+Inf\"} 1");
    expect_line(render(), "t_h_count{model=\"news\"} 1");
}

/* ------------------------------------------------------------- rendering */

Test(metrics, renders_a_small_registry_exactly)
{
    static const char *const l[] = {"reason", NULL};
    static const char *const size[] = {"size"}, *const dl[] = {"deadline"};
    struct kl_metric_family *c = fam("t_events_total", KL_METRIC_COUNTER,
                                     NULL, NULL, 0, 1, 0);
    struct kl_metric_family *r = fam("t_batches_total", KL_METRIC_COUNTER, l,
                                     NULL, 0, 8, 0);
    struct kl_metric_family *g = fam("t_paused", KL_METRIC_GAUGE, NULL, NULL,
                                     0, 1, 0);

    kl_metrics_counter_add(kl_metrics_single(c), 41);
    kl_metrics_counter_add(kl_metrics_single(c), 1);
    kl_metrics_counter_add(kl_metrics_series(r, size), 3);
    kl_metrics_counter_add(kl_metrics_series(r, dl), 2);
    kl_metrics_counter_add(kl_metrics_series(r, size), 1);
    kl_metrics_gauge_set(kl_metrics_single(g), 1);
    kl_metrics_gauge_add(kl_metrics_single(g), -0.5);
    cr_expect_str_eq(render(),
                     "# HELP t_events_total help text\n"
                     "# TYPE t_events_total counter\n"
                     "t_events_total 42\n"
                     "# HELP t_batches_total help text\n"
                     "# TYPE t_batches_total counter\n"
                     "t_batches_total{reason=\"size\"} 4\n"
                     "t_batches_total{reason=\"deadline\"} 2\n"
                     "# HELP t_paused help text\n"
                     "# TYPE t_paused gauge\n"
                     "t_paused 0.5\n");
}

Test(metrics, escapes_label_values_and_help)
{
    static const char *const l[] = {"a", "b", NULL};
    static const char *const v[] = {"back\\slash \"quoted\"\nnext", "x"};
    struct kl_metric_family *f = NULL;
    char err[256];

    cr_assert_eq(kl_metrics_family(reg, "t_info", "line one\nback\\slash \"q\"",
                                   KL_METRIC_GAUGE, l, NULL, 0, 4, 0, &f, err,
                                   sizeof err),
                 0, "%s", err);
    kl_metrics_gauge_set(kl_metrics_series(f, v), 1);
    expect_line(render(), "# HELP t_info line one\\nback\\\\slash \"q\"");
    expect_line(render(),
                "t_info{a=\"back\\\\slash \\\"quoted\\\"\\nnext\",b=\"x\"} 1");
}

Test(metrics, bad_utf8_and_long_label_values_are_cleaned)
{
    static const char *const l[] = {"v", NULL};
    const char *v[1];
    char longv[300];
    struct kl_metric_family *f =
        fam("t_u", KL_METRIC_GAUGE, l, NULL, 0, 8, 0);
    struct kl_metric *a, *b;

    v[0] = "ok\xff\xfe-\xc3\xa9";
    a = kl_metrics_series(f, v);
    cr_assert_not_null(a);
    cr_expect_eq(kl_metrics_series(f, v), a, "found again by its raw value");
    kl_metrics_gauge_set(a, 2);
    expect_line(render(), "t_u{v=\"ok?" "?-\xc3\xa9\"} 2");
    memset(longv, 'x', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    v[0] = longv;
    b = kl_metrics_series(f, v);
    cr_assert_not_null(b);
    kl_metrics_gauge_set(b, 3);
    longv[KL_METRICS_LABEL_VALUE_MAX] = '\0';
    {
        char want[400];

        snprintf(want, sizeof want, "t_u{v=\"%s\"} 3", longv);
        expect_line(render(), want);
    }
}

Test(metrics, shortest_float_form)
{
    static const struct { double v; const char *s; } cases[] = {
        {0.00025, "0.00025"}, {1e-06, "1e-06"}, {3, "3"}, {0.1, "0.1"},
        {2.5e-05, "2.5e-05"}, {65536, "65536"}, {-1.5, "-1.5"},
        {40, "40"}, {1e6, "1000000"}, {1.5e9, "1500000000"}, {1e20, "1e+20"},
        {1.0 / 3, "0.3333333333333333"}, {INFINITY, "+Inf"},
        {-INFINITY, "-Inf"}, {NAN, "NaN"}};
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kl_buf_reset(&out);
        cr_assert_eq(kl_metrics_format_double(&out, cases[i].v), 0);
        cr_expect_str_eq(out.data, cases[i].s);
        if (isfinite(cases[i].v))
            cr_expect_eq(strtod(out.data, NULL), cases[i].v);
    }
}

Test(metrics, float_counter_renders_as_double)
{
    struct kl_metric_family *f = fam("t_cpu_seconds_total", KL_METRIC_COUNTER,
                                     NULL, NULL, 0, 1, KL_METRICS_FLOAT);

    kl_metrics_gauge_add(kl_metrics_single(f), 1.25);
    expect_line(render(), "t_cpu_seconds_total 1.25");
    expect_line(render(), "# TYPE t_cpu_seconds_total counter");
}

Test(metrics, labeled_family_without_series_renders_help_and_type_only)
{
    static const char *const l[] = {"class", NULL};

    fam("t_dead_total", KL_METRIC_COUNTER, l, NULL, 0, 8, 0);
    cr_expect_str_eq(render(), "# HELP t_dead_total help text\n"
                               "# TYPE t_dead_total counter\n");
}

/* ------------------------------------------------------------ validation */

Test(metrics, family_validation)
{
    static const double up[] = {1, 2}, down[] = {2, 1}, inf[] = {1, INFINITY};
    static const char *const le[] = {"le", NULL}, *const bad[] = {"1x", NULL},
                             *const dup[] = {"a", "a", NULL},
                             *const many[] = {"a", "b", "c", "d", NULL};
    struct kl_metric_family *f;
    char err[256];

    cr_expect_eq(kl_metrics_family(reg, "bad-name", "", KL_METRIC_COUNTER,
                                   NULL, NULL, 0, 1, 0, &f, err, sizeof err),
                 KL_EINVAL);
    cr_expect_neq(strstr(err, "bad-name"), NULL, "%s", err);
    cr_expect_eq(kl_metrics_family(reg, "0x", "", KL_METRIC_COUNTER, NULL,
                                   NULL, 0, 1, 0, &f, err, sizeof err),
                 KL_EINVAL);
    cr_expect_eq(kl_metrics_family(reg, "h", "", KL_METRIC_HISTOGRAM, le, up,
                                   2, 1, 0, &f, err, sizeof err),
                 KL_EINVAL, "le is reserved in histograms");
    cr_expect_eq(kl_metrics_family(reg, "h", "", KL_METRIC_HISTOGRAM, NULL,
                                   down, 2, 1, 0, &f, err, sizeof err),
                 KL_EINVAL);
    cr_expect_eq(kl_metrics_family(reg, "h", "", KL_METRIC_HISTOGRAM, NULL,
                                   inf, 2, 1, 0, &f, err, sizeof err),
                 KL_EINVAL);
    cr_expect_eq(kl_metrics_family(reg, "h", "", KL_METRIC_HISTOGRAM, NULL,
                                   NULL, 0, 1, 0, &f, err, sizeof err),
                 KL_EINVAL);
    cr_expect_eq(kl_metrics_family(reg, "g", "", KL_METRIC_GAUGE, bad, NULL,
                                   0, 1, 0, &f, err, sizeof err),
                 KL_EINVAL);
    cr_expect_eq(kl_metrics_family(reg, "g", "", KL_METRIC_GAUGE, dup, NULL,
                                   0, 1, 0, &f, err, sizeof err),
                 KL_EINVAL);
    cr_expect_eq(kl_metrics_family(reg, "g", "", KL_METRIC_GAUGE, many, NULL,
                                   0, 1, 0, &f, err, sizeof err),
                 KL_EINVAL);
    cr_expect_eq(kl_metrics_family(reg, "ok:name_1", "", KL_METRIC_HISTOGRAM,
                                   NULL, up, 2, 1, 0, &f, err, sizeof err),
                 0, "%s", err);
    cr_expect_eq(kl_metrics_family(reg, "ok:name_1", "", KL_METRIC_GAUGE,
                                   NULL, NULL, 0, 1, 0, &f, err, sizeof err),
                 KL_EINVAL, "a duplicate name");
    cr_expect_neq(strstr(err, "twice"), NULL, "%s", err);
}

Test(metrics, series_limit_and_null_updates)
{
    static const char *const l[] = {"k", NULL};
    const char *v[1];
    struct kl_metric_family *f =
        fam("t_lim_total", KL_METRIC_COUNTER, l, NULL, 0, 2, 0);
    struct kl_metric *s;

    v[0] = "a";
    cr_expect_not_null(kl_metrics_series(f, v));
    v[0] = "b";
    cr_expect_not_null(kl_metrics_series(f, v));
    v[0] = "c";
    s = kl_metrics_series(f, v);
    cr_expect_null(s, "a third series is over the limit");
    kl_metrics_counter_add(s, 1); /* no-ops on NULL */
    kl_metrics_gauge_set(s, 1);
    kl_metrics_hist_observe(s, 1);
    cr_expect_eq(kl_metrics_counter_get(s), 0);
    cr_expect_null(strstr(render(), "k=\"c\""));
    cr_expect_null(kl_metrics_single(f), "labeled: no single series");
}

Test(metrics, sweep_drops_series_not_set_since)
{
    static const char *const l[] = {"topic", "partition", NULL};
    static const char *const a[] = {"in", "0"}, *const b[] = {"in", "1"};
    struct kl_metric_family *f = fam("t_lag", KL_METRIC_GAUGE, l, NULL, 0, 8,
                                     KL_METRICS_REMOVABLE);

    kl_metrics_gauge_set(kl_metrics_series(f, a), 5);
    kl_metrics_gauge_set(kl_metrics_series(f, b), 7);
    kl_metrics_sweep(f);
    expect_line(render(), "t_lag{topic=\"in\",partition=\"0\"} 5");
    expect_line(render(), "t_lag{topic=\"in\",partition=\"1\"} 7");
    kl_metrics_gauge_set(kl_metrics_series(f, b), 6);
    kl_metrics_sweep(f);
    cr_expect_null(strstr(render(), "partition=\"0\""), "%s", out.data);
    expect_line(render(), "t_lag{topic=\"in\",partition=\"1\"} 6");
    kl_metrics_sweep(f);
    cr_expect_null(strstr(render(), "t_lag{"), "%s", out.data);
}

/* ------------------------------------------------------------ concurrency */

#define PER_THREAD 8000000

struct hammer {
    struct kl_metric *c, *g, *h;
    struct kl_metric_family *lf;
    pthread_barrier_t go;
};

static void *hammer_main(void *arg)
{
    struct hammer *hm = arg;
    static const char *const v[] = {"shared"};
    long i;

    pthread_barrier_wait(&hm->go);
    for (i = 0; i < PER_THREAD; i++)   /* counters alone: a tight race */
        kl_metrics_counter_add(hm->c, 1);
    pthread_barrier_wait(&hm->go);
    for (i = 0; i < PER_THREAD / 4; i++) {
        kl_metrics_gauge_add(hm->g, 1);
        kl_metrics_hist_observe(hm->h, (double)(i % 4)); /* sum exact */
        if (i % 1000 == 0)
            kl_metrics_counter_add(kl_metrics_series(hm->lf, v), 1);
    }
    return NULL;
}

static void *render_main(void *arg)
{
    struct kl_buf b;
    int i;

    (void)arg;
    kl_buf_init(&b);
    for (i = 0; i < 50; i++) {
        kl_buf_reset(&b);
        kl_metrics_render(reg, &b);
    }
    kl_buf_fini(&b);
    return NULL;
}

Test(metrics, two_threads_sum_exactly)
{
    static const double bounds[] = {0.5, 1.5, 2.5};
    static const char *const l[] = {"k", NULL}, *const v[] = {"shared"};
    static struct hammer hm;
    pthread_t t1, t2, t3;
    uint64_t per[4], n = PER_THREAD / 4;
    double sum;

    hm.c = kl_metrics_single(fam("t_c_total", KL_METRIC_COUNTER, NULL, NULL,
                                 0, 1, 0));
    hm.g = kl_metrics_single(fam("t_g", KL_METRIC_GAUGE, NULL, NULL, 0, 1, 0));
    hm.h = kl_metrics_single(fam("t_h", KL_METRIC_HISTOGRAM, NULL, bounds, 3,
                                 1, 0));
    hm.lf = fam("t_l_total", KL_METRIC_COUNTER, l, NULL, 0, 4, 0);
    cr_assert_eq(pthread_barrier_init(&hm.go, NULL, 2), 0);
    cr_assert_eq(pthread_create(&t1, NULL, hammer_main, &hm), 0);
    cr_assert_eq(pthread_create(&t2, NULL, hammer_main, &hm), 0);
    cr_assert_eq(pthread_create(&t3, NULL, render_main, NULL), 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    pthread_join(t3, NULL);
    pthread_barrier_destroy(&hm.go);
    cr_expect_eq(kl_metrics_counter_get(hm.c), 2 * PER_THREAD);
    cr_expect_eq(kl_metrics_gauge_get(hm.g), 2.0 * n);
    cr_expect_eq(kl_metrics_hist_get(hm.h, &sum, per), 2 * n);
    cr_expect_eq(per[0], 2 * n / 4);
    cr_expect_eq(per[3], 2 * n / 4);
    cr_expect_eq(sum, 2.0 * (n / 4) * (0 + 1 + 2 + 3));
    cr_expect_eq(kl_metrics_counter_get(kl_metrics_series(hm.lf, v)),
                 2 * n / 1000, "one series, created once");
}

/* ------------------------------------------------------------- catalogue */

static int count_lines_starting(const char *t, const char *prefix)
{
    const char *p = t;
    int n = 0;

    while (p && *p) {
        if (!strncmp(p, prefix, strlen(prefix)))
            n++;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return n;
}

Test(metrics_stage, catalogue_hooks)
{
    struct kl_buf b;
    char err[256];
    const char *t;

    kl_metrics_note_in(5); /* before init: a no-op, no crash */
    cr_assert_eq(kl_metrics_stage_init(err, sizeof err), 0, "%s", err);
    cr_assert_eq(kl_metrics_stage_init(err, sizeof err), 0, "idempotent");
    kl_metrics_note_in(10);
    kl_metrics_note_in(5);
    kl_metrics_note_out(12);
    kl_metrics_note_dead_letter("malformed");
    kl_metrics_note_dead_letter("malformed");
    kl_metrics_note_dead_letter("invalid_utf8");
    kl_metrics_note_batch("size", 256, 0);
    kl_metrics_note_batch("deadline", 3, 30000);   /* 30 us late */
    kl_metrics_note_batch("idle", 1, 999999);      /* not counted as late */
    kl_metrics_note_batch("flush", 2, 0);
    kl_metrics_note_queue_wait_us(150);
    kl_metrics_note_model_ns(2000000);
    kl_metrics_note_delivery(1000, 1300, 0);       /* no event time */
    kl_metrics_set_model("news", "7");
    kl_metrics_set_model("txn", "2");
    kl_metrics_set_model("news", "8");
    kl_metrics_set_paused(1);
    kl_metrics_add_inflight(3);
    kl_metrics_add_inflight(-1);
    kl_metrics_set_lag("in", 2, 40);
    kl_metrics_set_health(1, 0);
    kl_buf_init(&b);
    cr_assert_eq(kl_metrics_render(kl_metrics_global(), &b), 0);
    t = b.data;
    expect_line(t, "klabel_events_in_total 15");
    expect_line(t, "klabel_results_out_total 12");
    expect_line(t, "klabel_dead_letters_total{class=\"malformed\"} 2");
    expect_line(t, "klabel_dead_letters_total{class=\"invalid_utf8\"} 1");
    expect_line(t, "klabel_batches_total{reason=\"size\"} 1");
    expect_line(t, "klabel_batches_total{reason=\"deadline\"} 1");
    expect_line(t, "klabel_batches_total{reason=\"idle\"} 1");
    expect_line(t, "klabel_batches_total{reason=\"flush\"} 1");
    expect_line(t, "klabel_batches_total{reason=\"order\"} 0");
    kl_metrics_note_batch("other", 1, 0);
    expect_line(t, "klabel_batch_size_count 4");
    expect_line(t, "klabel_batch_size_sum 262");
    expect_line(t, "klabel_batch_close_lateness_seconds_count 1");
    expect_line(t, "klabel_batch_close_lateness_seconds_bucket{le=\"2.5e-05\"} 0");
    expect_line(t, "klabel_batch_close_lateness_seconds_bucket{le=\"5e-05\"} 1");
    expect_line(t, "klabel_queue_wait_seconds_bucket{le=\"0.00025\"} 1");
    expect_line(t, "klabel_model_seconds_bucket{le=\"0.0025\"} 1");
    expect_line(t, "klabel_consume_to_produce_seconds_bucket{le=\"0.0005\"} 1");
    expect_line(t, "klabel_end_to_end_seconds_count 0");
    expect_line(t, "klabel_model_info{model=\"news\",version=\"8\"} 1");
    expect_line(t, "klabel_model_info{model=\"txn\",version=\"2\"} 1");
    cr_expect_eq(count_lines_starting(t, "klabel_model_info{"), 2,
                 "the old version's series is gone");
    expect_line(t, "klabel_paused 1");
    expect_line(t, "klabel_inflight 2");
    expect_line(t, "klabel_consumer_lag{topic=\"in\",partition=\"2\"} 40");
    expect_line(t, "klabel_healthy 1");
    expect_line(t, "klabel_ready 0");
    expect_line(t, "klabel_up 1");
    cr_expect_neq(strstr(t, "klabel_build_info{version=\""), NULL);
    cr_expect_neq(strstr(t, "\nprocess_resident_memory_bytes "), NULL);
    cr_expect_null(strstr(t, "process_resident_memory_bytes 0\n"),
                   "RSS is read at render time");
    kl_buf_fini(&b);
    kl_metrics_stage_fini();
}

Test(metrics_stage, end_to_end_uses_the_event_time)
{
    struct kl_buf b;
    struct timespec now, mono;
    char err[256];
    int64_t now_ms, mono_us;

    cr_assert_eq(kl_metrics_stage_init(err, sizeof err), 0, "%s", err);
    clock_gettime(CLOCK_REALTIME, &now);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    mono_us = (int64_t)mono.tv_sec * 1000000 + mono.tv_nsec / 1000;
    kl_metrics_note_delivery(0, mono_us, now_ms - 2000);  /* ~2 s old */
    kl_metrics_note_delivery(0, mono_us, now_ms + 60000); /* clock skew: 0 */
    /* Three seconds later on the monotonic clock: ~5 s old. */
    kl_metrics_note_delivery(0, mono_us + 3000000, now_ms - 2000);
    kl_buf_init(&b);
    cr_assert_eq(kl_metrics_render(kl_metrics_global(), &b), 0);
    expect_line(b.data, "klabel_end_to_end_seconds_count 3");
    expect_line(b.data, "klabel_end_to_end_seconds_bucket{le=\"0.0001\"} 1");
    expect_line(b.data, "klabel_end_to_end_seconds_bucket{le=\"1\"} 1");
    expect_line(b.data, "klabel_end_to_end_seconds_bucket{le=\"2.5\"} 2");
    expect_line(b.data, "klabel_end_to_end_seconds_bucket{le=\"5\"} 2");
    expect_line(b.data, "klabel_end_to_end_seconds_bucket{le=\"10\"} 3");
    kl_buf_fini(&b);
    kl_metrics_stage_fini();
}
