/*
 * tests/unit/test_kafka_poll.c: the process's poll() (plugin/kafka_poll.c).
 * A thread marked with kl_kafka_poll_mark_thread() waits up to its bound
 * where it asked for a zero timeout, and no longer than until a descriptor
 * is ready; every other poll is libc's. On a mock cluster whose broker
 * answers slower than the linger, the producer's broker threads (marked
 * through stage.producer.poll.wait.us) wait instead of spinning, and every
 * record is delivered in order.
 */
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "config.h"
#include "kafka_conf.h"
#include "kafka_poll.h"
#include "klabel/engine.h"
#include "mock.h"

int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fds_size);

static int64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* One poll of a pipe's read end, made by a fresh thread marked with mark
 * (0: unmarked); the other end gets a byte after write_after_us (< 0:
 * never; 0: before the poll). */
struct probe {
    int mark, timeout, write_after_us, chk;
    int rc;          /* poll's return */
    short revents;   /* of the read end */
    int64_t took_us; /* the poll's duration */
};

struct writer {
    int fd, after_us;
};

static void *write_later(void *arg)
{
    struct writer *w = arg;

    usleep((useconds_t)w->after_us);
    cr_assert_eq(write(w->fd, "x", 1), 1);
    return NULL;
}

static void *poll_thread(void *arg)
{
    struct probe *p = arg;
    int fds[2];
    struct pollfd pfd;
    struct writer w;
    pthread_t tw;
    int64_t t0;

    cr_assert_eq(pipe(fds), 0);
    kl_kafka_poll_mark_thread(p->mark);
    if (p->write_after_us == 0)
        cr_assert_eq(write(fds[1], "x", 1), 1);
    w.fd = fds[1];
    w.after_us = p->write_after_us;
    if (p->write_after_us > 0)
        cr_assert_eq(pthread_create(&tw, NULL, write_later, &w), 0);
    pfd.fd = fds[0];
    pfd.events = POLLIN;
    pfd.revents = 0;
    t0 = now_us();
    p->rc = p->chk ? __poll_chk(&pfd, 1, p->timeout, sizeof pfd)
                   : poll(&pfd, 1, p->timeout);
    p->took_us = now_us() - t0;
    p->revents = pfd.revents;
    if (p->write_after_us > 0)
        pthread_join(tw, NULL);
    close(fds[0]);
    close(fds[1]);
    return NULL;
}

static struct probe probe(int mark, int timeout, int write_after_us)
{
    struct probe p = {mark, timeout, write_after_us, 0, -2, 0, 0};
    pthread_t t;

    cr_assert_eq(pthread_create(&t, NULL, poll_thread, &p), 0);
    pthread_join(t, NULL);
    return p;
}

Test(kafka_poll, unmarked_zero_timeout_returns_at_once)
{
    unsigned long w0 = kl_kafka_poll_waits();
    struct probe p = probe(0, 0, -1);

    cr_expect_eq(p.rc, 0);
    cr_expect_lt(p.took_us, 200000, "took %lld us", (long long)p.took_us);
    cr_expect_eq(kl_kafka_poll_waits(), w0, "an unmarked poll was counted");
}

Test(kafka_poll, marked_zero_timeout_waits_up_to_the_mark)
{
    unsigned long w0 = kl_kafka_poll_waits();
    struct probe p = probe(30000, 0, -1);

    cr_expect_eq(p.rc, 0, "nothing was ready");
    cr_expect_geq(p.took_us, 29000, "took %lld us", (long long)p.took_us);
    cr_expect_lt(p.took_us, 1000000, "took %lld us", (long long)p.took_us);
    cr_expect_eq(kl_kafka_poll_waits(), w0 + 1);
}

/* The mark at its largest (100 ms): a byte written after 10 ms, or
 * before the poll, ends the wait well before the mark. */
Test(kafka_poll, marked_wait_ends_when_a_descriptor_is_ready)
{
    struct probe later = probe(KL_KAFKA_POLL_WAIT_MAX_US, 0, 10000);
    struct probe ready = probe(KL_KAFKA_POLL_WAIT_MAX_US, 0, 0);

    cr_expect_eq(later.rc, 1);
    cr_expect(later.revents & POLLIN);
    cr_expect_lt(later.took_us, 80000, "took %lld us (mark 100 ms)",
                 (long long)later.took_us);
    cr_expect_eq(ready.rc, 1);
    cr_expect(ready.revents & POLLIN);
    cr_expect_lt(ready.took_us, 80000, "took %lld us", (long long)ready.took_us);
}

/* A marked thread (100 ms) keeps its own timeouts: 30 ms ends at 30 ms,
 * 150 ms is not cut to the mark, and an infinite one sees a byte written
 * after 150 ms. None is counted as a wait. */
Test(kafka_poll, marked_thread_keeps_other_timeouts)
{
    unsigned long w0 = kl_kafka_poll_waits();
    struct probe shorter = probe(KL_KAFKA_POLL_WAIT_MAX_US, 30, -1);
    struct probe longer = probe(KL_KAFKA_POLL_WAIT_MAX_US, 150, -1);
    struct probe forever = probe(KL_KAFKA_POLL_WAIT_MAX_US, -1, 150000);

    cr_expect_eq(shorter.rc, 0);
    cr_expect_geq(shorter.took_us, 29000, "took %lld us",
                  (long long)shorter.took_us);
    cr_expect_lt(shorter.took_us, 90000, "took %lld us (its own 30 ms, not "
                 "the mark's 100)", (long long)shorter.took_us);
    cr_expect_eq(longer.rc, 0);
    cr_expect_geq(longer.took_us, 149000, "took %lld us (cut to the mark?)",
                  (long long)longer.took_us);
    cr_expect_eq(forever.rc, 1, "an infinite poll ended before the byte");
    cr_expect(forever.revents & POLLIN);
    cr_expect_eq(kl_kafka_poll_waits(), w0, "a timed poll was counted");
}

Test(kafka_poll, fortified_entry_point_behaves_the_same)
{
    struct probe p = {30000, 0, -1, 1, -2, 0, 0};
    pthread_t t;

    cr_assert_eq(pthread_create(&t, NULL, poll_thread, &p), 0);
    pthread_join(t, NULL);
    cr_expect_eq(p.rc, 0);
    cr_expect_geq(p.took_us, 29000, "took %lld us", (long long)p.took_us);
}

Test(kafka_poll, mark_is_bounded)
{
    struct probe negative = probe(-5, 0, -1);
    struct probe huge = probe(1 << 30, 0, -1);

    cr_expect_lt(negative.took_us, 20000, "a negative mark waited %lld us",
                 (long long)negative.took_us);
    cr_expect_geq(huge.took_us, KL_KAFKA_POLL_WAIT_MAX_US - 1000);
    cr_expect_lt(huge.took_us, 2 * KL_KAFKA_POLL_WAIT_MAX_US + 500000,
                 "took %lld us", (long long)huge.took_us);
}

/* Delivery reports: how many, how many failed, and whether the values
 * (record numbers) came back in order. */
struct drs {
    int n, failed, out_of_order, last;
};

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct drs *d = opaque;
    int v = -1;

    (void)rk;
    if (m->err)
        d->failed++;
    else if (sscanf((const char *)m->payload, "%d", &v) != 1 || v != d->last + 1)
        d->out_of_order++;
    d->last = v;
    d->n++;
}

/* Produces n records, one every 2 ms, to a one-partition topic of a mock
 * broker that answers after rtt_ms, through a producer configured with
 * stage.producer.poll.wait.us=wait_us; returns the waits counted. */
static unsigned long produce_slow_acks(int wait_us, int rtt_ms, int n,
                                       struct drs *d)
{
    struct kl_mock mock;
    struct kl_config *c = kl_config_create();
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk;
    char kv[64], bs[300], err[512];
    unsigned long w0;

    cr_assert_eq(kl_mock_start(&mock, 1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(kl_mock_topic(&mock, "t", 1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(rd_kafka_mock_broker_set_rtt(mock.mcluster, 1, rtt_ms), 0);
    snprintf(kv, sizeof kv, "stage.producer.poll.wait.us=%d", wait_us);
    snprintf(bs, sizeof bs, "kafka.bootstrap.servers=%s", mock.bootstraps);
    cr_assert_eq(kl_config_set_kv(c, kv, err, sizeof err), 0, "%s", err);
    cr_assert_eq(kl_config_set_kv(c, bs, err, sizeof err), 0, "%s", err);
    cr_assert_eq(kl_kafka_conf_producer(c, &conf, err, sizeof err), 0, "%s",
                 err);
    rd_kafka_conf_set_dr_msg_cb(conf, on_dr);
    rd_kafka_conf_set_opaque(conf, d);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    cr_assert_not_null(rk, "%s", err);
    memset(d, 0, sizeof *d);
    d->last = -1;
    w0 = kl_kafka_poll_waits();
    for (int i = 0; i < n; i++) {
        char v[16];
        int len = snprintf(v, sizeof v, "%d", i);

        cr_assert_eq(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("t"),
                                       RD_KAFKA_V_VALUE(v, (size_t)len + 1),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_END),
                     0);
        rd_kafka_poll(rk, 0);
        usleep(2000);
    }
    cr_assert_eq(rd_kafka_flush(rk, 30000), 0, "not all delivered");
    w0 = kl_kafka_poll_waits() - w0;
    rd_kafka_destroy(rk);
    kl_config_destroy(c);
    kl_mock_stop(&mock);
    return w0;
}

Test(kafka_poll, producer_broker_threads_wait_for_slow_acknowledgements)
{
    struct drs d;
    /* acknowledgements take 50 ms, the linger is 5 ms: every batch is
     * ready while the one before is in flight */
    unsigned long waits = produce_slow_acks(1000, 50, 150, &d);

    cr_expect_gt(waits, 0, "no zero-timeout poll became a wait");
    cr_expect_eq(d.n, 150);
    cr_expect_eq(d.failed, 0);
    cr_expect_eq(d.out_of_order, 0);
}

Test(kafka_poll, zero_wait_leaves_librdkafka_as_it_is)
{
    struct drs d;
    unsigned long waits = produce_slow_acks(0, 50, 50, &d);

    cr_expect_eq(waits, 0, "%lu polls became waits with the key at 0", waits);
    cr_expect_eq(d.n, 50);
    cr_expect_eq(d.failed, 0);
    cr_expect_eq(d.out_of_order, 0);
}
