/*
 * A bounded FIFO of pointers between threads (the stage's source thread
 * and its inference workers): non-blocking push, pop that sleeps up to a
 * timeout, and close, after which pop drains what is left and then
 * reports the end. Mutex + condition variable; one lock per operation.
 */
#ifndef KL_PLUGIN_RING_H
#define KL_PLUGIN_RING_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct kl_ring {
    pthread_mutex_t mu;
    pthread_cond_t nonempty;
    void **slot;        /* (cap) items, head first */
    size_t cap, head, n;
    int closed;
};

/* Initializes r with room for cap (>= 1) items. Caller-owned struct;
 * kl_ring_fini(). Returns 0 or KL_ENOMEM. */
int kl_ring_init(struct kl_ring *r, size_t cap);

/* Frees the slots (items still in it are not touched: the caller owns
 * them). */
void kl_ring_fini(struct kl_ring *r);

/* Appends p without waiting. Returns 0, KL_ERANGE when full, or KL_ESTATE
 * after kl_ring_close(). Thread-safe. */
int kl_ring_push(struct kl_ring *r, void *p);

/* Takes the oldest item into *p, waiting at most timeout_us for one (0 =
 * do not wait, < 0 = wait forever). Returns 0, KL_EEMPTY when none came in
 * time, or KL_ESTATE when the ring is closed and empty. Thread-safe. */
int kl_ring_pop(struct kl_ring *r, int64_t timeout_us, void **p);

/* Items in the ring now. Thread-safe (a snapshot). */
size_t kl_ring_len(struct kl_ring *r);

/* Refuses further pushes and wakes every waiting pop; items already in
 * the ring can still be popped. Thread-safe. */
void kl_ring_close(struct kl_ring *r);

#endif
