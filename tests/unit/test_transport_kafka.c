/*
 * tests/unit/test_transport_kafka.c: how the kafka transport's poll()
 * sleeps (plugin/transport_kafka.c), on librdkafka's mock cluster. Idle,
 * poll() sleeps armed and the first record or delivery report wakes it at
 * once (no lost wake-up between its last look at the queues and its
 * sleep); busy, it naps in short ticks and still sees what arrives; wake()
 * ends a long poll(); a poll ends at its timeout, never before. Bounds are
 * generous (a wake-up must come well before the poll's timeout, which is
 * what a lost wake-up would cost). A record carries the timestamp given
 * to produce(), or the clock's when none is. Delivery reports carry the
 * time poll() served them.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>

#include "config.h"
#include "klabel/engine.h"
#include "klabel/transport.h"
#include "log.h"
#include "mock.h"

#define T_IN "tin"
#define T_OUT "tout"

static struct kl_mock mock;
static struct kl_config *cfg;
static struct kl_transport *t;
static atomic_int assigned, delivered;
static atomic_llong delivered_at_us;
/* Delivery stamps (struct kl_delivery's t_us): how many reports carried
 * one, how many were not between the clock before the produce calls and
 * the clock when the report was handled, and how many went back. */
static atomic_int stamped, stamp_outside, stamp_back;
static atomic_llong stamp_from_us, stamp_last_us;

static long long mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void on_delivery(void *ud, const struct kl_delivery *d)
{
    (void)ud;
    long long now = mono_us();

    cr_expect_eq(d->rc, 0, "delivery failed: %s", d->errstr ? d->errstr : "");
    if (d->t_us != 0) {
        atomic_fetch_add(&stamped, 1);
        if (d->t_us < atomic_load(&stamp_from_us) || d->t_us > now)
            atomic_fetch_add(&stamp_outside, 1);
        if (d->t_us < atomic_load(&stamp_last_us))
            atomic_fetch_add(&stamp_back, 1);
        atomic_store(&stamp_last_us, d->t_us);
    }
    atomic_store(&delivered_at_us, now);
    atomic_fetch_add(&delivered, 1);
}

static void on_assign(void *ud, const char *topic, int32_t partition)
{
    (void)ud;
    (void)topic;
    (void)partition;
    atomic_fetch_add(&assigned, 1);
}

static void set(const char *k, const char *v)
{
    char err[512];

    cr_assert_eq(kl_config_set(cfg, k, v, err, sizeof err), 0, "%s", err);
}

/* A transport on a fresh mock cluster, assigned its one input partition. */
static void setup(void)
{
    static const char *const outs[] = {T_OUT, NULL};
    struct kl_transport_params p;
    struct kl_msg m[4];
    char err[512];
    size_t n;

    kl_log_level = KL_LOG_WARNING;
    atomic_store(&assigned, 0);
    atomic_store(&stamped, 0);
    atomic_store(&stamp_outside, 0);
    atomic_store(&stamp_back, 0);
    atomic_store(&stamp_last_us, 0);
    atomic_store(&stamp_from_us, 0);
    atomic_store(&delivered, 0);
    cr_assert_eq(kl_mock_start(&mock, 1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(kl_mock_topic(&mock, T_IN, 1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(kl_mock_topic(&mock, T_OUT, 1, err, sizeof err), 0, "%s",
                 err);
    cfg = kl_config_create();
    cr_assert_not_null(cfg);
    set("input.topics", T_IN);
    set("group.id", "transport-test");
    set("kafka.bootstrap.servers", mock.bootstraps);
    memset(&p, 0, sizeof p);
    p.cfg = cfg;
    p.out_topics = outs;
    p.on_delivery = on_delivery;
    p.on_assign = on_assign;
    cr_assert_eq(kl_transport_kafka.open(&p, &t, err, sizeof err), 0, "%s",
                 err);
    for (int i = 0; i < 200 && atomic_load(&assigned) < 1; i++) {
        cr_assert_eq(kl_transport_kafka.poll(t, m, 4, 50000, &n, err,
                                             sizeof err), 0, "%s", err);
        cr_assert_eq(n, 0);
    }
    cr_assert_eq(atomic_load(&assigned), 1, "not assigned");
}

static void teardown(void)
{
    char err[512];

    if (t)
        kl_transport_kafka.close(t, 2000, err, sizeof err);
    t = NULL;
    kl_config_destroy(cfg);
    kl_mock_stop(&mock);
}

TestSuite(transport_kafka, .init = setup, .fini = teardown, .timeout = 60);

/* Produces one record to T_IN after delay_ms, from its own thread. */
static void *late_record(void *arg)
{
    int delay_ms = *(int *)arg;
    char err[512];
    rd_kafka_t *rk;

    usleep((useconds_t)delay_ms * 1000);
    rk = kl_mock_producer(mock.bootstraps, T_IN, err, sizeof err);
    cr_assert_not_null(rk, "%s", err);
    cr_assert_eq(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(T_IN),
                                   RD_KAFKA_V_VALUE("hello", 5),
                                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                   RD_KAFKA_V_END), 0);
    rd_kafka_flush(rk, 5000);
    rd_kafka_destroy(rk);
    return NULL;
}

/* Polls (timeout_us) until a record comes; returns when it came (us since
 * the start), or -1 at the timeout. */
static long long poll_for_record(long long timeout_us)
{
    struct kl_msg m[4];
    long long t0 = mono_us();
    char err[512];
    size_t n = 0;

    while (mono_us() - t0 < timeout_us) {
        cr_assert_eq(kl_transport_kafka.poll(t, m, 4, timeout_us, &n, err,
                                             sizeof err), 0, "%s", err);
        if (n > 0) {
            cr_expect_eq(n, 1);
            cr_expect_eq(m[0].value_len, 5);
            kl_transport_kafka.release(t, m, n);
            return mono_us() - t0;
        }
    }
    return -1;
}

/* Idle for a while (poll() sleeps armed): a record produced 300 ms into
 * an 8 s poll ends it long before the timeout. */
Test(transport_kafka, idle_poll_wakes_on_first_record)
{
    pthread_t th;
    int delay = 300;
    long long got;

    usleep(50000); /* well past the busy window */
    cr_assert_eq(pthread_create(&th, NULL, late_record, &delay), 0);
    got = poll_for_record(8000000);
    pthread_join(th, NULL);
    cr_assert_geq(got, 0, "no record within 8 s");
    cr_expect_lt(got, 4000000, "woken after %lld us: the wake-up was lost",
                 got);
}

/* A delivery report wakes an idle poll(): it is served (callback) while
 * that poll still waits, not at its end. */
Test(transport_kafka, idle_poll_serves_delivery_report)
{
    struct kl_out_msg o;
    struct kl_msg m[4];
    char err[512];
    size_t n;
    long long t0;

    memset(&o, 0, sizeof o);
    o.topic = T_OUT;
    o.partition = -1;
    o.value = "result";
    o.value_len = 6;
    usleep(50000);
    t0 = mono_us();
    cr_assert_eq(kl_transport_kafka.produce(t, &o, NULL, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(kl_transport_kafka.poll(t, m, 4, 3000000, &n, err,
                                         sizeof err), 0, "%s", err);
    cr_assert_eq(n, 0);
    cr_assert_eq(atomic_load(&delivered), 1, "no delivery report");
    cr_expect_lt(atomic_load(&delivered_at_us) - t0, 1500000,
                 "delivery report served after %lld us",
                 atomic_load(&delivered_at_us) - t0);
}

/* Reports served by poll() carry the time they were served, one clock
 * read shared by up to 64 of them: in each of two rounds 200 ms apart,
 * every stamp lies between the clock before that round's produce calls
 * and the clock in the callback (a stamp kept from the first round would
 * be too old in the second), and stamps do not go back. */
Test(transport_kafka, delivery_reports_are_stamped)
{
    struct kl_out_msg o;
    struct kl_msg m[4];
    char err[512];
    size_t n;

    memset(&o, 0, sizeof o);
    o.topic = T_OUT;
    o.partition = -1;
    o.value = "result";
    o.value_len = 6;
    for (int round = 1; round <= 2; round++) {
        if (round == 2)
            usleep(200000);
        atomic_store(&stamp_from_us, mono_us());
        for (int i = 0; i < 150; i++)
            cr_assert_eq(kl_transport_kafka.produce(t, &o, NULL, err,
                                                    sizeof err),
                         0, "%s", err);
        for (int i = 0; i < 100 && atomic_load(&delivered) < 150 * round; i++)
            cr_assert_eq(kl_transport_kafka.poll(t, m, 4, 50000, &n, err,
                                                 sizeof err), 0, "%s", err);
        cr_assert_eq(atomic_load(&delivered), 150 * round);
    }
    cr_expect_eq(atomic_load(&stamped), 300, "%d of 300 reports stamped",
                 atomic_load(&stamped));
    cr_expect_eq(atomic_load(&stamp_outside), 0);
    cr_expect_eq(atomic_load(&stamp_back), 0);
}

/* Busy (a record just came): the next records still arrive through the
 * short naps; each poll returns soon after its record. */
Test(transport_kafka, busy_poll_sees_records)
{
    for (int i = 0; i < 5; i++) {
        pthread_t th;
        int delay = 1; /* within the busy window after the last record */
        long long got;

        cr_assert_eq(pthread_create(&th, NULL, late_record, &delay), 0);
        got = poll_for_record(8000000);
        pthread_join(th, NULL);
        cr_assert_geq(got, 0, "record %d: none within 8 s", i);
        cr_expect_lt(got, 4000000, "record %d after %lld us", i, got);
    }
}

static void *wake_later(void *arg)
{
    (void)arg;
    usleep(200000);
    kl_transport_kafka.wake(t);
    return NULL;
}

/* wake() ends a long idle poll() early, with nothing. */
Test(transport_kafka, wake_ends_idle_poll)
{
    struct kl_msg m[4];
    char err[512];
    pthread_t th;
    size_t n;
    long long t0;

    usleep(50000);
    cr_assert_eq(pthread_create(&th, NULL, wake_later, NULL), 0);
    t0 = mono_us();
    cr_assert_eq(kl_transport_kafka.poll(t, m, 4, 8000000, &n, err,
                                         sizeof err), 0, "%s", err);
    pthread_join(th, NULL);
    cr_expect_eq(n, 0);
    cr_expect_lt(mono_us() - t0, 4000000, "wake() did not end the poll");
}

/* A poll() with nothing to return ends at its timeout, never before it
 * (its last stretch is spun, not slept: kk_poll), and not long after. */
Test(transport_kafka, poll_ends_at_its_timeout_not_before)
{
    struct kl_msg m[4];
    char err[512];
    long long late[200], t0;
    size_t n;
    int within = 0;

    for (int i = 0; i < 200; i++) {
        int64_t timeout = 100 + 10 * (i % 30); /* 100 .. 390 us */

        t0 = mono_us();
        cr_assert_eq(kl_transport_kafka.poll(t, m, 4, timeout, &n, err,
                                             sizeof err), 0, "%s", err);
        late[i] = mono_us() - t0 - timeout;
        cr_assert_eq(n, 0);
        cr_assert_geq(late[i], 0, "poll %d ended %lld us early", i, -late[i]);
        within += late[i] < 1000;
    }
    cr_expect_geq(within, 100, "only %d of 200 polls ended within 1 ms of "
                  "their timeout", within);
}

/* The timestamp of the record whose value is `value`. */
struct ts_probe {
    const char *value;
    int64_t ts;
    rd_kafka_timestamp_type_t type;
};

/* kl_mock_read callback over two probes: done once both are seen. */
static int keep_ts(void *ud, const rd_kafka_message_t *rkm)
{
    struct ts_probe *p = ud;

    for (int i = 0; i < 2; i++)
        if (rkm->len == strlen(p[i].value) &&
            !memcmp(rkm->payload, p[i].value, rkm->len))
            p[i].ts = rd_kafka_message_timestamp(rkm, &p[i].type);
    return p[0].ts >= 0 && p[1].ts >= 0;
}

/* A record produced with ts_ms carries it as its CreateTime; one produced
 * with 0 carries the clock at produce(). */
Test(transport_kafka, record_timestamp_is_the_given_one_or_now)
{
    struct kl_out_msg o;
    struct kl_msg m[4];
    struct timespec now;
    struct ts_probe p[2] = {{"given", -1, RD_KAFKA_TIMESTAMP_NOT_AVAILABLE},
                            {"clock", -1, RD_KAFKA_TIMESTAMP_NOT_AVAILABLE}};
    char err[512];
    int64_t t0, t1;
    size_t n;

    memset(&o, 0, sizeof o);
    o.topic = T_OUT;
    o.partition = 0;
    o.value = "given";
    o.value_len = 5;
    o.ts_ms = 1234567890123;
    cr_assert_eq(kl_transport_kafka.produce(t, &o, NULL, err, sizeof err), 0,
                 "%s", err);
    clock_gettime(CLOCK_REALTIME, &now);
    t0 = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    o.value = "clock";
    o.ts_ms = 0;
    cr_assert_eq(kl_transport_kafka.produce(t, &o, NULL, err, sizeof err), 0,
                 "%s", err);
    clock_gettime(CLOCK_REALTIME, &now);
    t1 = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    for (int i = 0; i < 100 && atomic_load(&delivered) < 2; i++)
        cr_assert_eq(kl_transport_kafka.poll(t, m, 4, 50000, &n, err,
                                             sizeof err), 0, "%s", err);
    cr_assert_eq(atomic_load(&delivered), 2, "not delivered");
    cr_assert_eq(kl_mock_read(mock.bootstraps, T_OUT, 1, 5000, keep_ts, p,
                              NULL), 2);
    cr_expect_eq(p[0].type, RD_KAFKA_TIMESTAMP_CREATE_TIME);
    cr_expect_eq(p[0].ts, 1234567890123);
    cr_expect_eq(p[1].type, RD_KAFKA_TIMESTAMP_CREATE_TIME);
    cr_expect(p[1].ts >= t0 && p[1].ts <= t1, "%lld not in [%lld, %lld]",
              (long long)p[1].ts, (long long)t0, (long long)t1);
}
