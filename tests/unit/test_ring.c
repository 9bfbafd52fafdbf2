/*
 * Unit tests of plugin/ring.c: FIFO order, full and empty, pop timeouts
 * measured on CLOCK_MONOTONIC, close (drain then end, pushes refused,
 * sleepers woken), and one producer / one consumer thread passing 200,000
 * items in order.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "klabel/engine.h"
#include "ring.h"

static int64_t mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

Test(ring, fifo_full_empty)
{
    struct kl_ring r;
    void *p;
    intptr_t i;

    cr_assert_eq(kl_ring_init(&r, 3), 0);
    cr_expect_eq(kl_ring_pop(&r, 0, &p), KL_EEMPTY);
    cr_expect_null(p);
    for (i = 1; i <= 3; i++)
        cr_assert_eq(kl_ring_push(&r, (void *)i), 0);
    cr_expect_eq(kl_ring_push(&r, (void *)4), KL_ERANGE, "full at 3");
    cr_expect_eq(kl_ring_len(&r), 3);
    /* Wrap around: pop one, push one, then everything in order. */
    cr_assert_eq(kl_ring_pop(&r, 0, &p), 0);
    cr_expect_eq((intptr_t)p, 1);
    cr_assert_eq(kl_ring_push(&r, (void *)4), 0);
    for (i = 2; i <= 4; i++) {
        cr_assert_eq(kl_ring_pop(&r, 0, &p), 0);
        cr_expect_eq((intptr_t)p, i, "item %ld", (long)i);
    }
    cr_expect_eq(kl_ring_len(&r), 0);
    kl_ring_fini(&r);
}

Test(ring, pop_waits_for_its_timeout)
{
    struct kl_ring r;
    void *p;
    int64_t t0, dt;

    cr_assert_eq(kl_ring_init(&r, 2), 0);
    t0 = mono_us();
    cr_expect_eq(kl_ring_pop(&r, 20000, &p), KL_EEMPTY);
    dt = mono_us() - t0;
    cr_expect(dt >= 20000 && dt < 500000, "waited %lld us for 20000",
              (long long)dt);
    kl_ring_fini(&r);
}

Test(ring, close_drains_then_ends)
{
    struct kl_ring r;
    void *p;

    cr_assert_eq(kl_ring_init(&r, 4), 0);
    cr_assert_eq(kl_ring_push(&r, (void *)1), 0);
    kl_ring_close(&r);
    cr_expect_eq(kl_ring_push(&r, (void *)2), KL_ESTATE);
    cr_expect_eq(kl_ring_pop(&r, -1, &p), 0, "what was in it still comes");
    cr_expect_eq((intptr_t)p, 1);
    cr_expect_eq(kl_ring_pop(&r, -1, &p), KL_ESTATE, "then the end");
    kl_ring_fini(&r);
}

static void *closer(void *arg)
{
    struct timespec ts = {0, 20 * 1000 * 1000};

    nanosleep(&ts, NULL);
    kl_ring_close(arg);
    return NULL;
}

Test(ring, close_wakes_a_sleeping_pop)
{
    struct kl_ring r;
    pthread_t th;
    void *p;
    int64_t t0;

    cr_assert_eq(kl_ring_init(&r, 4), 0);
    cr_assert_eq(pthread_create(&th, NULL, closer, &r), 0);
    t0 = mono_us();
    cr_expect_eq(kl_ring_pop(&r, -1, &p), KL_ESTATE);
    cr_expect_lt(mono_us() - t0, 2000000);
    pthread_join(th, NULL);
    kl_ring_fini(&r);
}

#define NITEMS 200000

static void *producer(void *arg)
{
    struct kl_ring *r = arg;
    intptr_t i;

    for (i = 1; i <= NITEMS; i++)
        while (kl_ring_push(r, (void *)i) == KL_ERANGE)
            sched_yield();
    kl_ring_close(r);
    return NULL;
}

Test(ring, two_threads_keep_order, .timeout = 60)
{
    struct kl_ring r;
    pthread_t th;
    intptr_t want = 1, bad = 0;
    void *p;
    int rc;

    cr_assert_eq(kl_ring_init(&r, 8), 0);
    cr_assert_eq(pthread_create(&th, NULL, producer, &r), 0);
    /* Drain to the end (the producer must finish); note the first item
     * out of order. */
    while ((rc = kl_ring_pop(&r, -1, &p)) == 0) {
        if ((intptr_t)p != want && !bad)
            bad = want;
        want++;
    }
    pthread_join(th, NULL);
    cr_expect_eq(rc, KL_ESTATE);
    cr_expect_eq(bad, 0, "item %ld out of order", (long)bad);
    cr_expect_eq(want, NITEMS + 1, "items: %ld", (long)want - 1);
    kl_ring_fini(&r);
}
