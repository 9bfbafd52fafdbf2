/*
 * Unit tests of plugin/batcher.c under a fake clock (microseconds given by
 * the test): close on size, on the deadline counted from the first event
 * (and the lateness of the close), the earliest deadline across open
 * batches, adaptive close of idle workers only, deferral of a due batch
 * while its worker has a backlog (it keeps growing; closes as "backlog"
 * once the backlog drains, or on size), the order close when a partition
 * switches model, flush, and the reason names.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "batcher.h"
#include "klabel/engine.h"

#define NB 8

static struct kl_batch pool[NB];
static struct kl_batch *emitted[64];
static int nemitted;

static void emit(void *ud, struct kl_batch *b)
{
    (void)ud;
    cr_assert_lt(nemitted, 64);
    emitted[nemitted++] = b;
}

/* Worker levels the tests set (enum kl_worker_level); IDLE unless set. */
static int levels[4];

static int level(void *ud, int w)
{
    (void)ud;
    return levels[w];
}

static void setup(void)
{
    int i;

    nemitted = 0;
    for (i = 0; i < 4; i++)
        levels[i] = KL_WORKER_IDLE;
    for (i = 0; i < NB; i++)
        cr_assert_eq(kl_batch_init(&pool[i], 16), 0);
}

static void teardown(void)
{
    int i;

    for (i = 0; i < NB; i++)
        kl_batch_fini(&pool[i]);
}

TestSuite(batcher, .init = setup, .fini = teardown);

/* Adds one (empty) event to b at time now. */
static int add(struct kl_batcher *bt, struct kl_batch *b, int64_t now)
{
    b->n++;
    return kl_batcher_added(bt, b, now);
}

Test(batcher, closes_on_size)
{
    struct kl_batcher bt;
    int i;

    cr_assert_eq(kl_batcher_init(&bt, 1, 1, 4, 1000, emit, NULL), 0);
    kl_batcher_begin(&bt, &pool[0], 0, 0, 100);
    cr_expect_eq(kl_batcher_get(&bt, 0, 0), &pool[0]);
    for (i = 0; i < 3; i++)
        cr_expect_eq(add(&bt, &pool[0], 101 + i), 0);
    cr_expect_eq(nemitted, 0);
    cr_expect_eq(add(&bt, &pool[0], 110), 1);
    cr_assert_eq(nemitted, 1);
    cr_expect_eq(emitted[0], &pool[0]);
    cr_expect_eq(pool[0].close_reason, KL_CLOSE_SIZE);
    cr_expect_eq(pool[0].t_close_us, 110);
    cr_expect_null(kl_batcher_get(&bt, 0, 0));
    cr_expect_eq(kl_batcher_nopen(&bt), 0);
    cr_expect_eq(kl_batcher_deadline(&bt), INT64_MAX);
    kl_batcher_fini(&bt);
}

Test(batcher, closes_on_deadline_from_first_event)
{
    struct kl_batcher bt;

    cr_assert_eq(kl_batcher_init(&bt, 1, 1, 100, 200, emit, NULL), 0);
    kl_batcher_begin(&bt, &pool[0], 0, 0, 1000);
    add(&bt, &pool[0], 1000);
    add(&bt, &pool[0], 1150); /* a later event does not move the deadline */
    cr_expect_eq(kl_batcher_deadline(&bt), 1200);
    cr_expect_eq(kl_batcher_deadline_of(&bt, &pool[0]), 1200);
    cr_expect_eq(kl_batcher_expire(&bt, 1199, level, NULL), 0);
    cr_expect_eq(nemitted, 0);
    cr_expect_eq(kl_batcher_expire(&bt, 1237, level, NULL), 1);
    cr_assert_eq(nemitted, 1);
    cr_expect_eq(pool[0].close_reason, KL_CLOSE_DEADLINE);
    cr_expect_eq(pool[0].t_close_us - kl_batcher_deadline_of(&bt, &pool[0]),
                 37, "lateness");
    kl_batcher_fini(&bt);
}

Test(batcher, earliest_deadline_over_workers_and_models)
{
    struct kl_batcher bt;

    cr_assert_eq(kl_batcher_init(&bt, 2, 2, 100, 500, emit, NULL), 0);
    kl_batcher_begin(&bt, &pool[0], 0, 1, 3000);
    kl_batcher_begin(&bt, &pool[1], 1, 0, 1000);
    kl_batcher_begin(&bt, &pool[2], 1, 1, 2000);
    cr_expect_eq(kl_batcher_nopen(&bt), 3);
    cr_expect_eq(kl_batcher_deadline(&bt), 1500);
    cr_expect_eq(kl_batcher_expire(&bt, 2600, level, NULL), 2);
    cr_expect_eq(nemitted, 2);
    cr_expect_eq(kl_batcher_deadline(&bt), 3500, "the one left");
    cr_expect_eq(kl_batcher_get(&bt, 0, 1), &pool[0]);
    cr_expect_null(kl_batcher_get(&bt, 1, 0));
    kl_batcher_fini(&bt);
}

Test(batcher, idle_closes_only_idle_workers)
{
    struct kl_batcher bt;

    cr_assert_eq(kl_batcher_init(&bt, 2, 2, 100, 1000000, emit, NULL), 0);
    kl_batcher_begin(&bt, &pool[0], 0, 0, 10);
    kl_batcher_begin(&bt, &pool[1], 1, 0, 10);
    kl_batcher_begin(&bt, &pool[2], 1, 1, 10);
    levels[0] = KL_WORKER_BUSY;
    cr_expect_eq(kl_batcher_close_idle(&bt, 20, level, NULL), 2);
    cr_assert_eq(nemitted, 2);
    cr_expect_eq(pool[1].close_reason, KL_CLOSE_IDLE);
    cr_expect_eq(pool[2].close_reason, KL_CLOSE_IDLE);
    cr_expect_eq(kl_batcher_get(&bt, 0, 0), &pool[0], "busy worker's stays");
    cr_expect_eq(kl_batcher_deadline(&bt), 1000010);
    kl_batcher_fini(&bt);
}

Test(batcher, order_close_when_partition_switches_model)
{
    struct kl_batcher bt;
    uint64_t seq0;

    cr_assert_eq(kl_batcher_init(&bt, 1, 2, 100, 1000, emit, NULL), 0);
    kl_batcher_begin(&bt, &pool[0], 0, 0, 10);
    seq0 = pool[0].seq;
    /* Same model: nothing to do. */
    cr_expect_eq(kl_batcher_order(&bt, 0, 0, 0, seq0, 11), 0);
    /* No previous event: nothing. */
    cr_expect_eq(kl_batcher_order(&bt, 0, 1, -1, 0, 11), 0);
    /* The partition's last event sits in the open model-0 batch and its
     * next goes to model 1: model 0's batch closes first. */
    cr_expect_eq(kl_batcher_order(&bt, 0, 1, 0, seq0, 12), 1);
    cr_assert_eq(nemitted, 1);
    cr_expect_eq(pool[0].close_reason, KL_CLOSE_ORDER);
    /* A new model-0 batch (another sequence) is not the partition's. */
    kl_batcher_begin(&bt, &pool[1], 0, 0, 13);
    cr_expect_neq(pool[1].seq, seq0);
    cr_expect_eq(kl_batcher_order(&bt, 0, 1, 0, seq0, 14), 0);
    cr_expect_eq(nemitted, 1);
    kl_batcher_fini(&bt);
}

Test(batcher, flush_closes_all)
{
    struct kl_batcher bt;

    cr_assert_eq(kl_batcher_init(&bt, 2, 1, 100, 1000, emit, NULL), 0);
    kl_batcher_begin(&bt, &pool[0], 0, 0, 10);
    kl_batcher_begin(&bt, &pool[1], 1, 0, 10);
    cr_expect_eq(kl_batcher_close_all(&bt, 50, KL_CLOSE_FLUSH), 2);
    cr_expect_eq(pool[0].close_reason, KL_CLOSE_FLUSH);
    cr_expect_eq(pool[1].t_close_us, 50);
    cr_expect_eq(kl_batcher_nopen(&bt), 0);
    kl_batcher_fini(&bt);
}

Test(batcher, bad_arguments_and_names)
{
    struct kl_batcher bt;

    cr_expect_eq(kl_batcher_init(&bt, 0, 1, 1, 0, emit, NULL), KL_EINVAL);
    cr_expect_eq(kl_batcher_init(&bt, 1, 1, 0, 0, emit, NULL), KL_EINVAL);
    cr_expect_eq(kl_batcher_init(&bt, 1, 1, 1, -1, emit, NULL), KL_EINVAL);
    cr_expect_str_eq(kl_close_reason_name(KL_CLOSE_SIZE), "size");
    cr_expect_str_eq(kl_close_reason_name(KL_CLOSE_DEADLINE), "deadline");
    cr_expect_str_eq(kl_close_reason_name(KL_CLOSE_IDLE), "idle");
    cr_expect_str_eq(kl_close_reason_name(KL_CLOSE_ORDER), "order");
    cr_expect_str_eq(kl_close_reason_name(KL_CLOSE_BACKLOG), "backlog");
    cr_expect_str_eq(kl_close_reason_name(KL_CLOSE_FLUSH), "flush");
    cr_expect_str_eq(kl_close_reason_name(99), "unknown");
}

Test(batcher, zero_delay_closes_at_once)
{
    struct kl_batcher bt;

    cr_assert_eq(kl_batcher_init(&bt, 1, 1, 100, 0, emit, NULL), 0);
    kl_batcher_begin(&bt, &pool[0], 0, 0, 500);
    add(&bt, &pool[0], 500);
    cr_expect_eq(kl_batcher_expire(&bt, 500, level, NULL), 1);
    cr_expect_eq(pool[0].close_reason, KL_CLOSE_DEADLINE);
    kl_batcher_fini(&bt);
}

Test(batcher, due_batch_waits_out_a_backlog)
{
    struct kl_batcher bt;

    cr_assert_eq(kl_batcher_init(&bt, 2, 1, 4, 200, emit, NULL), 0);
    kl_batcher_begin(&bt, &pool[0], 0, 0, 1000);
    kl_batcher_begin(&bt, &pool[1], 1, 0, 1100);
    add(&bt, &pool[0], 1000);
    levels[0] = KL_WORKER_BACKLOG; /* worker 0 has batches queued */
    levels[1] = KL_WORKER_BUSY;    /* worker 1 predicts, nothing queued */
    cr_expect_eq(kl_batcher_expire(&bt, 1300, level, NULL), 1);
    cr_assert_eq(nemitted, 1);
    cr_expect_eq(emitted[0], &pool[1], "busy without backlog: closes");
    cr_expect_eq(pool[1].close_reason, KL_CLOSE_DEADLINE);
    cr_expect_eq(kl_batcher_get(&bt, 0, 0), &pool[0], "deferred, still open");
    cr_expect(pool[0].deferred);
    cr_expect_eq(kl_batcher_deadline(&bt), INT64_MAX,
                 "a deferred batch has no deadline to wait for");
    cr_expect_eq(kl_batcher_expire(&bt, 1400, level, NULL), 0);
    /* Still backlogged: stays; it grows meanwhile. */
    cr_expect_eq(kl_batcher_close_deferred(&bt, 1500, level, NULL), 0);
    add(&bt, &pool[0], 1500);
    cr_expect_eq(kl_batcher_close_idle(&bt, 1500, level, NULL), 0);
    /* The backlog drained (the worker predicts its last one): it closes. */
    levels[0] = KL_WORKER_BUSY;
    cr_expect_eq(kl_batcher_close_deferred(&bt, 1600, level, NULL), 1);
    cr_assert_eq(nemitted, 2);
    cr_expect_eq(emitted[1], &pool[0]);
    cr_expect_eq(pool[0].close_reason, KL_CLOSE_BACKLOG);
    cr_expect_eq(pool[0].n, 2);
    cr_expect_eq(bt.ndeferred, 0);
    kl_batcher_fini(&bt);
}

Test(batcher, deferred_batch_still_closes_on_size_and_idle)
{
    struct kl_batcher bt;

    cr_assert_eq(kl_batcher_init(&bt, 1, 2, 3, 100, emit, NULL), 0);
    kl_batcher_begin(&bt, &pool[0], 0, 0, 0);
    kl_batcher_begin(&bt, &pool[1], 0, 1, 0);
    add(&bt, &pool[0], 0);
    add(&bt, &pool[1], 0);
    levels[0] = KL_WORKER_BACKLOG;
    cr_expect_eq(kl_batcher_expire(&bt, 150, level, NULL), 0);
    cr_expect_eq(bt.ndeferred, 2);
    add(&bt, &pool[0], 160);
    cr_expect_eq(add(&bt, &pool[0], 170), 1, "full");
    cr_expect_eq(pool[0].close_reason, KL_CLOSE_SIZE);
    cr_expect_eq(bt.ndeferred, 1);
    levels[0] = KL_WORKER_IDLE;
    cr_expect_eq(kl_batcher_close_idle(&bt, 180, level, NULL), 1);
    cr_expect_eq(pool[1].close_reason, KL_CLOSE_BACKLOG);
    cr_expect_eq(bt.ndeferred, 0);
    cr_expect_eq(kl_batcher_nopen(&bt), 0);
    kl_batcher_fini(&bt);
}
