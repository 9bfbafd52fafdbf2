/*
 * The bounded pointer FIFO of plugin/ring.h: a circular array under one
 * mutex; pop sleeps on a CLOCK_MONOTONIC condition variable.
 */
#include "ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "klabel/engine.h"

int kl_ring_init(struct kl_ring *r, size_t cap)
{
    pthread_condattr_t ca;
    int rc = KL_ENOMEM;

    memset(r, 0, sizeof *r);
    if (cap < 1)
        cap = 1;
    r->slot = calloc(cap, sizeof *r->slot);
    if (!r->slot)
        goto out;
    r->cap = cap;
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->nonempty, &ca);
    pthread_condattr_destroy(&ca);
    rc = KL_OK;
out:
    return rc;
}

void kl_ring_fini(struct kl_ring *r)
{
    if (!r->slot)
        return;
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->nonempty);
    free(r->slot);
    memset(r, 0, sizeof *r);
}

int kl_ring_push(struct kl_ring *r, void *p)
{
    int rc = KL_OK;

    pthread_mutex_lock(&r->mu);
    if (r->closed) {
        rc = KL_ESTATE;
    } else if (r->n == r->cap) {
        rc = KL_ERANGE;
    } else {
        r->slot[(r->head + r->n) % r->cap] = p;
        r->n++;
        pthread_cond_signal(&r->nonempty);
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* The CLOCK_MONOTONIC time timeout_us from now. */
static struct timespec deadline_in(int64_t timeout_us)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(timeout_us / 1000000);
    ts.tv_nsec += (long)(timeout_us % 1000000) * 1000;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

int kl_ring_pop(struct kl_ring *r, int64_t timeout_us, void **p)
{
    struct timespec until = deadline_in(timeout_us > 0 ? timeout_us : 0);
    int rc = KL_OK;

    *p = NULL;
    pthread_mutex_lock(&r->mu);
    while (r->n == 0 && !r->closed && timeout_us != 0) {
        if (timeout_us < 0) {
            pthread_cond_wait(&r->nonempty, &r->mu);
        } else if (pthread_cond_timedwait(&r->nonempty, &r->mu, &until) ==
                   ETIMEDOUT) {
            break;
        }
    }
    if (r->n > 0) {
        *p = r->slot[r->head];
        r->head = (r->head + 1) % r->cap;
        r->n--;
    } else {
        rc = r->closed ? KL_ESTATE : KL_EEMPTY;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

size_t kl_ring_len(struct kl_ring *r)
{
    size_t n;

    pthread_mutex_lock(&r->mu);
    n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

void kl_ring_close(struct kl_ring *r)
{
    pthread_mutex_lock(&r->mu);
    r->closed = 1;
    pthread_cond_broadcast(&r->nonempty);
    pthread_mutex_unlock(&r->mu);
}
