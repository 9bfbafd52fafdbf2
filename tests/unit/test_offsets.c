/*
 * Unit tests of plugin/offsets.c: the contiguous low watermark per
 * partition under in-order, out-of-order and gapped delivery, many
 * partitions, forget, contract violations, a randomized comparison
 * against a simple reference model, and the watermarks left to store
 * (one per partition for a burst of reports).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "offsets.h"
#include "klabel/engine.h"

static struct kl_offsets *t;

static void setup(void)
{
    t = kl_offsets_create();
    cr_assert_not_null(t);
}

static void teardown(void)
{
    kl_offsets_destroy(t);
}

TestSuite(offsets, .init = setup, .fini = teardown);

Test(offsets, in_order)
{
    int64_t next = -1, o;

    for (o = 0; o < 100; o++)
        cr_assert_eq(kl_offsets_track(t, "news", 0, o), 0);
    cr_expect_eq(kl_offsets_inflight(t), 100);
    for (o = 0; o < 100; o++) {
        cr_assert_eq(kl_offsets_done(t, "news", 0, o, &next), 1);
        cr_expect_eq(next, o + 1);
    }
    cr_expect_eq(kl_offsets_inflight(t), 0);
}

Test(offsets, out_of_order)
{
    int64_t next = -1;
    int o;

    for (o = 10; o < 15; o++)
        cr_assert_eq(kl_offsets_track(t, "txn", 2, o), 0);
    cr_expect_eq(kl_offsets_done(t, "txn", 2, 12, &next), 0);
    cr_expect_eq(kl_offsets_done(t, "txn", 2, 14, &next), 0);
    cr_expect_eq(kl_offsets_done(t, "txn", 2, 11, &next), 0);
    cr_expect_eq(kl_offsets_inflight(t), 2);
    next = -1;
    cr_expect_eq(kl_offsets_done(t, "txn", 2, 10, &next), 1);
    cr_expect_eq(next, 13); /* 10, 11, 12 done; 13 still in flight */
    cr_expect_eq(kl_offsets_done(t, "txn", 2, 13, &next), 1);
    cr_expect_eq(next, 15);
    cr_expect_eq(kl_offsets_inflight(t), 0);
}

Test(offsets, gaps)
{
    int64_t next = -1;

    /* compacted topic / control records: offsets jump */
    cr_assert_eq(kl_offsets_track(t, "c", 0, 5), 0);
    cr_assert_eq(kl_offsets_track(t, "c", 0, 9), 0);
    cr_assert_eq(kl_offsets_track(t, "c", 0, 20), 0);
    cr_expect_eq(kl_offsets_done(t, "c", 0, 20, &next), 0);
    cr_expect_eq(kl_offsets_done(t, "c", 0, 5, &next), 1);
    cr_expect_eq(next, 6);
    cr_expect_eq(kl_offsets_done(t, "c", 0, 9, &next), 1);
    cr_expect_eq(next, 21);
    /* an offset in a gap was never tracked */
    cr_assert_eq(kl_offsets_track(t, "c", 0, 30), 0);
    cr_expect_eq(kl_offsets_done(t, "c", 0, 25, &next), KL_EINVAL);
    cr_expect_eq(kl_offsets_done(t, "c", 0, 30, NULL), 1);
}

Test(offsets, partitions_are_independent)
{
    int64_t next = -1;

    cr_assert_eq(kl_offsets_track(t, "a", 0, 1), 0);
    cr_assert_eq(kl_offsets_track(t, "a", 1, 1), 0);
    cr_assert_eq(kl_offsets_track(t, "b", 0, 1), 0);
    cr_assert_eq(kl_offsets_track(t, "a", 0, 2), 0);
    cr_expect_eq(kl_offsets_done(t, "a", 1, 1, &next), 1);
    cr_expect_eq(next, 2);
    cr_expect_eq(kl_offsets_done(t, "a", 0, 2, &next), 0);
    cr_expect_eq(kl_offsets_inflight(t), 2);
    cr_expect_eq(kl_offsets_done(t, "b", 0, 1, &next), 1);
    cr_expect_eq(kl_offsets_done(t, "a", 0, 1, &next), 1);
    cr_expect_eq(next, 3);
}

Test(offsets, many_partitions)
{
    char topic[32];
    int64_t next;
    int p, k, o;

    for (o = 0; o < 20; o++)
        for (k = 0; k < 3; k++)
            for (p = 0; p < 1000; p++) {
                snprintf(topic, sizeof(topic), "topic-%d", k);
                cr_assert_eq(kl_offsets_track(t, topic, p, 100 + o * 3), 0);
            }
    cr_expect_eq(kl_offsets_inflight(t), 60000);
    /* finish in reverse order per partition: only the last done advances */
    for (k = 0; k < 3; k++)
        for (p = 0; p < 1000; p++) {
            snprintf(topic, sizeof(topic), "topic-%d", k);
            for (o = 19; o >= 0; o--) {
                next = -1;
                cr_assert_eq(kl_offsets_done(t, topic, p, 100 + o * 3, &next), o == 0);
                if (o == 0)
                    cr_assert_eq(next, 100 + 19 * 3 + 1);
            }
        }
    cr_expect_eq(kl_offsets_inflight(t), 0);
}

Test(offsets, forget)
{
    int64_t next;

    cr_assert_eq(kl_offsets_track(t, "a", 0, 10), 0);
    cr_assert_eq(kl_offsets_track(t, "a", 0, 11), 0);
    cr_assert_eq(kl_offsets_track(t, "a", 1, 10), 0);
    cr_assert_eq(kl_offsets_done(t, "a", 0, 11, &next), 0);
    kl_offsets_forget(t, "a", 0);
    cr_expect_eq(kl_offsets_inflight(t), 1);
    cr_expect_eq(kl_offsets_done(t, "a", 0, 10, &next), KL_EINVAL);
    /* after forget the partition may start anywhere (re-assigned, rewound) */
    cr_expect_eq(kl_offsets_track(t, "a", 0, 3), 0);
    cr_expect_eq(kl_offsets_done(t, "a", 0, 3, &next), 1);
    cr_expect_eq(next, 4);
    kl_offsets_forget(t, "nope", 7); /* unknown: ignored */
    cr_expect_eq(kl_offsets_inflight(t), 1);
}

Test(offsets, track_must_increase)
{
    int64_t next;

    cr_assert_eq(kl_offsets_track(t, "a", 0, 10), 0);
    cr_expect_eq(kl_offsets_track(t, "a", 0, 10), KL_EINVAL);
    cr_expect_eq(kl_offsets_track(t, "a", 0, 9), KL_EINVAL);
    cr_expect_eq(kl_offsets_track(t, "a", 0, -1), KL_EINVAL);
    /* also once everything before is done */
    cr_assert_eq(kl_offsets_done(t, "a", 0, 10, &next), 1);
    cr_expect_eq(kl_offsets_track(t, "a", 0, 10), KL_EINVAL);
    cr_expect_eq(kl_offsets_track(t, "a", 0, 11), 0);
    cr_expect_eq(kl_offsets_inflight(t), 1);
}

Test(offsets, done_of_unknown_offset)
{
    int64_t next = 77;

    cr_expect_eq(kl_offsets_done(t, "a", 0, 1, &next), KL_EINVAL); /* unknown partition */
    cr_assert_eq(kl_offsets_track(t, "a", 0, 5), 0);
    cr_assert_eq(kl_offsets_track(t, "a", 0, 7), 0);
    cr_expect_eq(kl_offsets_done(t, "a", 0, 4, &next), KL_EINVAL);
    cr_expect_eq(kl_offsets_done(t, "a", 0, 6, &next), KL_EINVAL);
    cr_expect_eq(kl_offsets_done(t, "a", 0, 8, &next), KL_EINVAL);
    cr_expect_eq(kl_offsets_done(t, "a", 1, 5, &next), KL_EINVAL); /* other partition */
    cr_expect_eq(kl_offsets_done(t, "b", 0, 5, &next), KL_EINVAL); /* other topic */
    cr_expect_eq(kl_offsets_done(t, "a", 0, 7, &next), 0);
    cr_expect_eq(kl_offsets_done(t, "a", 0, 7, &next), KL_EINVAL); /* twice */
    cr_expect_eq(kl_offsets_done(t, "a", 0, 5, &next), 1);
    cr_expect_eq(kl_offsets_done(t, "a", 0, 5, &next), KL_EINVAL); /* already stored */
    cr_expect_eq(next, 8);
    cr_expect_eq(kl_offsets_inflight(t), 0);
}

/* ---------------------------------------------------- reference model */

#define NPART 8

struct ref_part {
    int64_t *off; /* (n) tracked, not yet popped, increasing */
    int *done;
    size_t n, cap;
    int64_t last;
};

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static int ref_done(struct ref_part *r, int64_t off, int64_t *next)
{
    size_t i, k;

    for (i = 0; i < r->n; i++)
        if (r->off[i] == off)
            break;
    if (i == r->n || r->done[i])
        return KL_EINVAL;
    r->done[i] = 1;
    if (i != 0)
        return 0;
    for (k = 0; k < r->n && r->done[k]; k++)
        *next = r->off[k] + 1;
    memmove(r->off, r->off + k, (r->n - k) * sizeof(*r->off));
    memmove(r->done, r->done + k, (r->n - k) * sizeof(*r->done));
    r->n -= k;
    return 1;
}

Test(offsets, randomized_against_reference)
{
    struct ref_part ref[NPART];
    const char *topics[2] = { "rand-a", "rand-b" };
    uint64_t ref_inflight = 0;
    int op, p;

    memset(ref, 0, sizeof(ref));
    for (p = 0; p < NPART; p++) {
        ref[p].cap = 1 << 16;
        ref[p].off = malloc(ref[p].cap * sizeof(int64_t));
        ref[p].done = malloc(ref[p].cap * sizeof(int));
        cr_assert(ref[p].off && ref[p].done);
        ref[p].last = -1;
    }
    for (op = 0; op < 100000; op++) {
        uint64_t r = rnd();
        struct ref_part *rp;
        const char *topic;
        int32_t part;
        int64_t got_next = -1, want_next = -1, off;
        int kind = (int)(r % 100), got, want;
        size_t i;

        p = (int)((r >> 8) % NPART);
        rp = &ref[p];
        topic = topics[p % 2];
        part = p / 2;
        if (kind < 50) { /* track, with random gaps, now and then a bad one */
            if (kind == 0 && rp->last >= 0)
                off = rp->last - (int64_t)((r >> 20) % 3);
            else
                off = rp->last + 1 + (int64_t)((r >> 20) % 4 == 0 ? (r >> 24) % 5 : 0);
            want = off > rp->last && rp->n < rp->cap ? 0 : KL_EINVAL;
            got = kl_offsets_track(t, topic, part, off);
            cr_assert_eq(got, want, "op %d: track %s/%d %lld", op, topic, part, (long long)off);
            if (want == 0) {
                rp->off[rp->n] = off;
                rp->done[rp->n++] = 0;
                rp->last = off;
                ref_inflight++;
            }
        } else if (kind < 98) { /* done: mostly a pending one, sometimes a bogus one */
            if (rp->n && kind < 95) {
                i = (size_t)((r >> 20) % rp->n);
                if (kind < 60)
                    i = 0;
                off = rp->off[i];
            } else {
                off = (int64_t)((r >> 20) % (uint64_t)(rp->last + 3));
            }
            want = ref_done(rp, off, &want_next);
            got = kl_offsets_done(t, topic, part, off, &got_next);
            cr_assert_eq(got, want, "op %d: done %s/%d %lld", op, topic, part, (long long)off);
            if (want == 1)
                cr_assert_eq(got_next, want_next, "op %d: store %lld, want %lld", op,
                             (long long)got_next, (long long)want_next);
            if (want >= 0)
                ref_inflight--;
        } else { /* forget */
            kl_offsets_forget(t, topic, part);
            for (i = 0; i < rp->n; i++)
                ref_inflight -= !rp->done[i];
            rp->n = 0;
            rp->last = -1;
        }
        cr_assert_eq(kl_offsets_inflight(t), ref_inflight, "op %d", op);
    }
    for (p = 0; p < NPART; p++) {
        free(ref[p].off);
        free(ref[p].done);
    }
}

Test(offsets, burst_then_drain_bounded)
{
    int64_t next = 0, o;

    /* a million in flight in one partition, then delivered in order */
    for (o = 0; o < 1000000; o++)
        cr_assert_eq(kl_offsets_track(t, "burst", 0, o), 0);
    for (o = 999999; o >= 500000; o--)
        cr_assert_eq(kl_offsets_done(t, "burst", 0, o, &next), 0);
    for (o = 0; o < 500000; o++) {
        cr_assert_eq(kl_offsets_done(t, "burst", 0, o, &next), 1);
        cr_assert_eq(next, o == 499999 ? 1000000 : o + 1);
    }
    cr_expect_eq(kl_offsets_inflight(t), 0);
    cr_expect_eq(kl_offsets_track(t, "burst", 0, 1000000), 0);
}

/* What kl_offsets_take_unstored() handed out, in call order. */
struct taken {
    char topic[16][16];
    int32_t part[16];
    int64_t next[16];
    int n, stop_after;
};

static int take_cb(void *ud, const char *topic, int32_t partition,
                   int64_t next)
{
    struct taken *k = ud;

    cr_assert_lt(k->n, 16);
    snprintf(k->topic[k->n], sizeof k->topic[0], "%s", topic);
    k->part[k->n] = partition;
    k->next[k->n] = next;
    k->n++;
    return k->stop_after && k->n == k->stop_after ? 7 : 0;
}

/* A burst of reports leaves one watermark per partition to store: the
 * latest; taking it once empties the set. */
Test(offsets, unstored_coalesces_a_burst)
{
    struct taken k = {0};
    int64_t o;

    for (o = 0; o < 10; o++)
        cr_assert_eq(kl_offsets_track(t, "news", 3, o), 0);
    cr_expect_eq(kl_offsets_unstored(t), 0);
    for (o = 0; o < 10; o++)
        cr_assert_eq(kl_offsets_done(t, "news", 3, o, NULL), 1);
    cr_expect_eq(kl_offsets_unstored(t), 1);
    cr_assert_eq(kl_offsets_take_unstored(t, take_cb, &k), 0);
    cr_assert_eq(k.n, 1);
    cr_expect_str_eq(k.topic[0], "news");
    cr_expect_eq(k.part[0], 3);
    cr_expect_eq(k.next[0], 10);
    cr_expect_eq(kl_offsets_unstored(t), 0);
    k.n = 0;
    cr_assert_eq(kl_offsets_take_unstored(t, take_cb, &k), 0);
    cr_expect_eq(k.n, 0, "taken twice");
}

/* A report that does not advance the watermark leaves nothing to store;
 * the one that closes the gap stores past both. */
Test(offsets, unstored_only_when_the_watermark_moves)
{
    struct taken k = {0};

    cr_assert_eq(kl_offsets_track(t, "tx", 0, 5), 0);
    cr_assert_eq(kl_offsets_track(t, "tx", 0, 6), 0);
    cr_assert_eq(kl_offsets_done(t, "tx", 0, 6, NULL), 0);
    cr_expect_eq(kl_offsets_unstored(t), 0);
    cr_assert_eq(kl_offsets_take_unstored(t, take_cb, &k), 0);
    cr_expect_eq(k.n, 0);
    cr_assert_eq(kl_offsets_done(t, "tx", 0, 5, NULL), 1);
    cr_assert_eq(kl_offsets_take_unstored(t, take_cb, &k), 0);
    cr_assert_eq(k.n, 1);
    cr_expect_eq(k.next[0], 7);
}

/* Several partitions each get their own latest watermark; forget drops a
 * partition's untaken one; a callback's error stops the walk and keeps
 * the rest for the next take. */
Test(offsets, unstored_per_partition_forget_and_stop)
{
    struct taken k = {0};
    int64_t sum = 0;

    for (int p = 0; p < 4; p++) {
        cr_assert_eq(kl_offsets_track(t, "news", p, 100 * p), 0);
        cr_assert_eq(kl_offsets_track(t, "news", p, 100 * p + 1), 0);
        cr_assert_eq(kl_offsets_done(t, "news", p, 100 * p, NULL), 1);
        cr_assert_eq(kl_offsets_done(t, "news", p, 100 * p + 1, NULL), 1);
    }
    cr_expect_eq(kl_offsets_unstored(t), 4);
    kl_offsets_forget(t, "news", 2);
    cr_expect_eq(kl_offsets_unstored(t), 3);
    k.stop_after = 2;
    cr_assert_eq(kl_offsets_take_unstored(t, take_cb, &k), 7);
    cr_assert_eq(k.n, 2);
    cr_expect_eq(kl_offsets_unstored(t), 1);
    k.stop_after = 0;
    cr_assert_eq(kl_offsets_take_unstored(t, take_cb, &k), 0);
    cr_assert_eq(k.n, 3);
    for (int i = 0; i < 3; i++) {
        cr_expect_neq(k.part[i], 2, "forgotten partition stored");
        cr_expect_eq(k.next[i], 100 * k.part[i] + 2);
        sum += k.part[i];
    }
    cr_expect_eq(sum, 0 + 1 + 3, "each partition once");
    cr_expect_eq(kl_offsets_take_unstored(NULL, take_cb, &k), KL_EINVAL);
}
