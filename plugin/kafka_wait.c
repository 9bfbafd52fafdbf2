/*
 * How the kafka transport's poll() waits (transport_kafka.c): on one pipe,
 * with microsecond timeouts. wake() writes to it; librdkafka's two queues
 * (records, delivery reports) write to it only while poll() sleeps armed,
 * after KK_ACTIVE_US without work, because librdkafka signals a queue that
 * became non-empty while it holds that queue's lock (see
 * kl_kafka_on_queue_event). While busy, poll() naps in ticks of at most
 * KK_NAP_US; the last KK_SPIN_US before its deadline are spun, not slept.
 */
#include <poll.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "kafka_priv.h"

#define KK_ACTIVE_US 500  /* work within this: busy, poll() naps in ticks */
#define KK_NAP_US 200     /* a busy poll()'s longest nap */
/* Timers on the bench VM fire late: a 150 us ppoll() or clock_nanosleep()
 * under SCHED_FIFO woke 20 us late at the median, 50 us at p99 when quiet
 * and 50-65 us typically at 50k events/s. poll() sleeps until this much
 * before its deadline (the caller's batch deadline) and spins the rest. */
#define KK_SPIN_US 70

/* Contract in kafka_priv.h. */
int64_t kl_kafka_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* librdkafka calls this from its own threads, under the queue's lock,
 * when cq or pq goes from empty to non-empty. Waking poll() from there
 * made a real-time source thread preempt the thread that holds the lock
 * it needs next, and wait for it (tens to hundreds of us on a busy
 * machine): the pipe is written only while poll() sleeps armed, i.e. when
 * it has been idle; while busy it naps in short ticks instead. */
void kl_kafka_on_queue_event(rd_kafka_t *rk, void *opaque)
{
    struct kl_kafka *kk = opaque;
    ssize_t w;

    (void)rk;
    if (atomic_exchange(&kk->armed, 0)) {
        w = write(kk->wake[1], "q", 1); /* full pipe: a wake-up is pending */
        (void)w;
    }
}

/* Sleeps until either queue has something or timeout_us passes. */
static void wait_wake(struct kl_kafka *kk, int64_t timeout_us)
{
    struct pollfd pfd = {kk->wake[0], POLLIN, 0};
    struct timespec ts;
    char drain[64];

    ts.tv_sec = timeout_us / 1000000;
    ts.tv_nsec = (timeout_us % 1000000) * 1000;
    if (ppoll(&pfd, 1, &ts, NULL) > 0)
        while (read(kk->wake[0], drain, sizeof drain) > 0)
            ;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Waits until deadline_us at most. Within KK_SPIN_US of it: spins (or
 * until wake()). Else sleeps until KK_SPIN_US before it at most: busy
 * (work found within KK_ACTIVE_US), a nap of at most KK_NAP_US, woken
 * early only by wake(); idle, armed, so that the first record or delivery
 * report wakes it at once. Returns 0 when a queue turned out non-empty
 * while arming (no sleep), else 1. */
int kl_kafka_sleep_until(struct kl_kafka *kk, int64_t deadline_us)
{
    int64_t now = kl_kafka_now_us(), left = deadline_us - now;

    if (left <= KK_SPIN_US) {
        while (kl_kafka_now_us() < deadline_us && !atomic_load(&kk->woken))
            cpu_relax();
        return 1;
    }
    left -= KK_SPIN_US;
    if (now - kk->active_us < KK_ACTIVE_US) {
        wait_wake(kk, left < KK_NAP_US ? left : KK_NAP_US);
        return 1;
    }
    atomic_store(&kk->armed, 1);
    /* An event before the store above found us unarmed: look again. */
    if (rd_kafka_queue_length(kk->cq) > 0 ||
        rd_kafka_queue_length(kk->pq) > 0) {
        atomic_store(&kk->armed, 0);
        return 0;
    }
    wait_wake(kk, left);
    atomic_store(&kk->armed, 0);
    return 1;
}
