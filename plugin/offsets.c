/*
 * At-least-once offset tracking (plugin/offsets.h). A hash map from
 * (topic, partition) to a ring of in-flight offsets in increasing order,
 * each with a done flag. Delivery reports mark offsets done in any order;
 * the head of the ring advances while it is done, and the offset after the
 * last one popped is what may be stored. track and an in-order done are
 * O(1) amortized; an out-of-order done finds its slot by binary search.
 * A partition's advanced watermark also waits in the part until the caller
 * takes it (kl_offsets_take_unstored), so that a burst of delivery reports
 * is stored with one call per partition instead of one per report.
 */
#include "offsets.h"

#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"

#define KL_OFFSETS_RING_MIN 16

struct kl_offset_slot {
    int64_t off;
    int done;
};

/* One partition's state. */
struct kl_offsets_part {
    struct kl_offsets_part *next; /* hash chain */
    uint32_t hash;
    int32_t partition;
    char *topic;
    struct kl_offset_slot *ring;  /* (cap) slots, cap a power of two */
    size_t head, n, cap;          /* n slots from head, increasing offsets */
    size_t pending;               /* slots not yet done */
    int64_t last;                 /* highest offset ever tracked, -1 none */
    int64_t unstored;             /* watermark not yet taken by
                                     kl_offsets_take_unstored(), -1 none */
};

struct kl_offsets {
    struct kl_offsets_part **buckets; /* (nbuckets) chains, a power of two */
    size_t nbuckets, nparts;
    uint64_t inflight;                /* sum of pending */
    size_t nunstored;                 /* parts with unstored >= 0 */
};

static uint32_t part_hash(const char *topic, int32_t partition)
{
    uint32_t h = 2166136261u;
    const unsigned char *s = (const unsigned char *)topic;

    for (; *s; s++)
        h = (h ^ *s) * 16777619u;
    h ^= (uint32_t)partition * 0x9E3779B1u;
    h ^= h >> 15;
    return h * 0x85EBCA6Bu;
}

/* Creates an empty tracker. Caller owns; kl_offsets_destroy(). NULL when
 * out of memory. */
struct kl_offsets *kl_offsets_create(void)
{
    struct kl_offsets *t = calloc(1, sizeof(*t));

    if (!t)
        return NULL;
    t->nbuckets = 64;
    t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
    if (!t->buckets) {
        free(t);
        return NULL;
    }
    return t;
}

static void part_free(struct kl_offsets_part *p)
{
    free(p->topic);
    free(p->ring);
    free(p);
}

/* Frees t and all partition state (NULL is fine). */
void kl_offsets_destroy(struct kl_offsets *t)
{
    size_t i;

    if (!t)
        return;
    for (i = 0; i < t->nbuckets; i++) {
        struct kl_offsets_part *p = t->buckets[i], *nx;

        for (; p; p = nx) {
            nx = p->next;
            part_free(p);
        }
    }
    free(t->buckets);
    free(t);
}

/* The chain link that points at (topic, partition)'s state, or at the
 * chain's terminating NULL. */
static struct kl_offsets_part **part_link(const struct kl_offsets *t,
                                          const char *topic, int32_t partition,
                                          uint32_t h)
{
    struct kl_offsets_part **pp = &t->buckets[h & (t->nbuckets - 1)];

    for (; *pp; pp = &(*pp)->next) {
        if ((*pp)->hash == h && (*pp)->partition == partition &&
            !strcmp((*pp)->topic, topic))
            break;
    }
    return pp;
}

/* Doubles the bucket array (keeps the old one if out of memory). */
static void rehash(struct kl_offsets *t)
{
    size_t nb = t->nbuckets * 2, i;
    struct kl_offsets_part **b = calloc(nb, sizeof(*b));

    if (!b)
        return;
    for (i = 0; i < t->nbuckets; i++) {
        struct kl_offsets_part *p = t->buckets[i], *nx;

        for (; p; p = nx) {
            nx = p->next;
            p->next = b[p->hash & (nb - 1)];
            b[p->hash & (nb - 1)] = p;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
}

/* Moves p's n slots into a new ring of cap slots (cap >= n, a power of
 * two). Returns 0 or KL_ENOMEM (p unchanged). */
static int ring_resize(struct kl_offsets_part *p, size_t cap)
{
    struct kl_offset_slot *r = malloc(cap * sizeof(*r));
    size_t i;

    if (!r)
        return KL_ENOMEM;
    for (i = 0; i < p->n; i++)
        r[i] = p->ring[(p->head + i) & (p->cap - 1)];
    free(p->ring);
    p->ring = r;
    p->cap = cap;
    p->head = 0;
    return 0;
}

/* Registers offset as in flight (see offsets.h). Offsets of a partition
 * must increase until it is forgotten. Returns 0, KL_EINVAL (not above the
 * last tracked offset, negative, or NULL topic) or KL_ENOMEM. */
int kl_offsets_track(struct kl_offsets *t, const char *topic, int32_t partition,
                     int64_t offset)
{
    struct kl_offsets_part **pp, *p;
    uint32_t h;

    if (!t || !topic || offset < 0)
        return KL_EINVAL;
    h = part_hash(topic, partition);
    pp = part_link(t, topic, partition, h);
    p = *pp;
    if (!p) {
        p = calloc(1, sizeof(*p));
        if (!p)
            return KL_ENOMEM;
        p->topic = strdup(topic);
        p->ring = malloc(KL_OFFSETS_RING_MIN * sizeof(*p->ring));
        if (!p->topic || !p->ring) {
            part_free(p);
            return KL_ENOMEM;
        }
        p->cap = KL_OFFSETS_RING_MIN;
        p->hash = h;
        p->partition = partition;
        p->last = -1;
        p->unstored = -1;
        *pp = p;
        t->nparts++;
        if (t->nparts > t->nbuckets / 4 * 3)
            rehash(t);
    }
    if (offset <= p->last)
        return KL_EINVAL;
    if (p->n == p->cap && ring_resize(p, p->cap * 2) != 0)
        return KL_ENOMEM;
    p->ring[(p->head + p->n) & (p->cap - 1)].off = offset;
    p->ring[(p->head + p->n) & (p->cap - 1)].done = 0;
    p->n++;
    p->pending++;
    p->last = offset;
    t->inflight++;
    return 0;
}

/* Index (from head) of offset in p's ring, or -1. */
static long ring_find(const struct kl_offsets_part *p, int64_t offset)
{
    size_t lo = 0, hi = p->n, mask = p->cap - 1;

    if (p->n && p->ring[p->head].off == offset)
        return 0; /* the common case: delivery in order */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t v = p->ring[(p->head + mid) & mask].off;

        if (v == offset)
            return (long)mid;
        if (v < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Marks a tracked offset done (see offsets.h). store_next may be NULL.
 * Returns 1 (watermark advanced; *store_next set), 0, or KL_EINVAL for an
 * offset that is not in flight (never tracked, already done, or of an
 * unknown partition). */
int kl_offsets_done(struct kl_offsets *t, const char *topic, int32_t partition,
                    int64_t offset, int64_t *store_next)
{
    struct kl_offsets_part *p;
    struct kl_offset_slot *s;
    long idx;
    int64_t popped = -1;

    if (!t || !topic)
        return KL_EINVAL;
    p = *part_link(t, topic, partition, part_hash(topic, partition));
    if (!p)
        return KL_EINVAL;
    idx = ring_find(p, offset);
    if (idx < 0)
        return KL_EINVAL;
    s = &p->ring[(p->head + (size_t)idx) & (p->cap - 1)];
    if (s->done)
        return KL_EINVAL;
    s->done = 1;
    p->pending--;
    t->inflight--;
    if (idx != 0)
        return 0;
    while (p->n && p->ring[p->head].done) {
        popped = p->ring[p->head].off;
        p->head = (p->head + 1) & (p->cap - 1);
        p->n--;
    }
    /* give memory back after a burst; halving at 1/8 full keeps this O(1)
     * amortized (failure to shrink is harmless) */
    if (p->cap > KL_OFFSETS_RING_MIN * 4 && p->n < p->cap / 8)
        (void)ring_resize(p, p->cap / 2);
    if (p->unstored < 0)
        t->nunstored++;
    p->unstored = popped + 1;
    if (store_next)
        *store_next = popped + 1;
    return 1;
}

/* Offsets tracked and not yet done, over all partitions. */
uint64_t kl_offsets_inflight(const struct kl_offsets *t)
{
    return t ? t->inflight : 0;
}

/* Drops (topic, partition)'s state, in-flight offsets included; the next
 * track of it may start at any offset. Unknown partitions are ignored. */
void kl_offsets_forget(struct kl_offsets *t, const char *topic,
                       int32_t partition)
{
    struct kl_offsets_part **pp, *p;

    if (!t || !topic)
        return;
    pp = part_link(t, topic, partition, part_hash(topic, partition));
    p = *pp;
    if (!p)
        return;
    *pp = p->next;
    t->inflight -= p->pending;
    if (p->unstored >= 0)
        t->nunstored--;
    t->nparts--;
    part_free(p);
}

/* Partitions whose watermark advanced since it was last taken. */
size_t kl_offsets_unstored(const struct kl_offsets *t)
{
    return t ? t->nunstored : 0;
}

/* Hands each advanced watermark to fn once, then forgets it (see
 * offsets.h). Stops at fn's first non-zero return, which it returns; the
 * watermarks not handed yet stay. */
int kl_offsets_take_unstored(struct kl_offsets *t, kl_offsets_store_fn fn,
                             void *ud)
{
    size_t i;
    int rc;

    if (!t || !fn)
        return KL_EINVAL;
    for (i = 0; i < t->nbuckets && t->nunstored > 0; i++) {
        struct kl_offsets_part *p;

        for (p = t->buckets[i]; p; p = p->next) {
            int64_t next = p->unstored;

            if (next < 0)
                continue;
            p->unstored = -1;
            t->nunstored--;
            if ((rc = fn(ud, p->topic, p->partition, next)) != 0)
                return rc;
        }
    }
    return 0;
}
