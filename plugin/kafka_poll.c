/*
 * plugin/kafka_poll.c: poll(2) for the klabel process, so that the
 * producer's broker threads wait for an acknowledgement instead of spinning
 * on it.
 *
 * librdkafka 2.0.2's idempotent producer counts in-flight *messages*
 * against its limit of five in-flight *requests* per partition
 * (rd_kafka_toppar_producer_serve), so a partition has one produce request
 * in flight. When the next batch of that partition is ready (its linger
 * has passed) before the acknowledgement arrives, the broker thread's
 * next wake-up is "now", and it calls poll() on its socket and wake-up
 * pipe with a zero timeout, again and again, until the acknowledgement
 * comes: at saturation about 200,000 times a second, a fifth of a core
 * (docs/architecture.md, "Threads and batching").
 *
 * This file defines poll() in the klabel binary, and __poll_chk(), which
 * is what Debian's librdkafka (built with _FORTIFY_SOURCE) calls instead:
 * librdkafka's calls resolve to the executable's definitions, which come
 * first. In a thread marked with kl_kafka_poll_mark_thread() (the
 * producer's broker threads, by the on_thread_start interceptor in
 * kafka_conf.c), a poll with a zero timeout waits up to the mark's bound
 * instead, and returns as soon as one of its descriptors is ready: the
 * broker's socket (the acknowledgement, or room to send) or librdkafka's
 * wake-up pipe (new messages, ops, termination). What it may delay, by
 * at most the bound, is work that came due on a timer while the thread
 * waited (another partition's linger). Every other call, and every call
 * of an unmarked thread, is libc's poll (through ppoll, which nothing
 * here redefines).
 */
#undef _FORTIFY_SOURCE /* its inline poll() would clash with ours */
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <time.h>

#include "kafka_poll.h"

static __thread int wait_us; /* 0: this thread's polls are libc's */
static unsigned long waits;   /* zero-timeout polls turned into waits */

/* Contract in kafka_poll.h. */
void kl_kafka_poll_mark_thread(int us)
{
    if (us > KL_KAFKA_POLL_WAIT_MAX_US)
        us = KL_KAFKA_POLL_WAIT_MAX_US;
    wait_us = us > 0 ? us : 0;
}

int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fds_size);

/* Contract in kafka_poll.h. */
unsigned long kl_kafka_poll_waits(void)
{
    return __atomic_load_n(&waits, __ATOMIC_RELAXED);
}

/* poll(2): libc's, except for a marked thread's zero timeout (above). */
int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    struct timespec ts;

    if (timeout == 0 && wait_us > 0 && n > 0) {
        ts.tv_sec = 0;
        ts.tv_nsec = (long)wait_us * 1000;
        __atomic_fetch_add(&waits, 1, __ATOMIC_RELAXED);
        return ppoll(fds, n, &ts, NULL);
    }
    if (timeout < 0)
        return ppoll(fds, n, NULL, NULL);
    ts.tv_sec = timeout / 1000;
    ts.tv_nsec = (long)(timeout % 1000) * 1000000;
    return ppoll(fds, n, &ts, NULL);
}

/* glibc's fortified poll: the same after its check that fds holds n
 * entries (glibc's answer to a failed check is to abort, too). */
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fds_size)
{
    if (fds_size / sizeof *fds < n)
        abort();
    return poll(fds, n, timeout);
}
