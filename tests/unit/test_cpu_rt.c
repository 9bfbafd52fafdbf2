/*
 * Unit tests of plugin/cpu_rt.c: SCHED_FIFO for the calling thread only,
 * not for threads that already exist nor for threads it starts later
 * (SCHED_RESET_ON_FORK), back to the normal policy with the CPU slice
 * asked again, and a refusal that says what is missing. Raising a thread
 * needs CAP_SYS_NICE or an RLIMIT_RTPRIO: where the test runs without
 * either, the "allowed" test checks the refusal instead (it says so).
 * Criterion runs each test in its own process, so dropping privileges
 * below stays inside one test.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cpu_rt.h"
#include "cpu_slice.h"
#include "klabel/engine.h"

/* A thread that reports its tid and its policy, then waits to be let go. */
struct probe {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pid_t tid;
    int policy;
    int go;
};

static void *probe_main(void *arg)
{
    struct probe *p = arg;

    pthread_mutex_lock(&p->mu);
    p->tid = (pid_t)syscall(SYS_gettid);
    p->policy = sched_getscheduler(0);
    pthread_cond_broadcast(&p->cv);
    while (!p->go)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void probe_start(struct probe *p, pthread_t *th)
{
    memset(p, 0, sizeof *p);
    p->policy = -2;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    cr_assert_eq(pthread_create(th, NULL, probe_main, p), 0);
    pthread_mutex_lock(&p->mu);
    while (p->tid == 0)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

static void probe_stop(struct probe *p, pthread_t th)
{
    pthread_mutex_lock(&p->mu);
    p->go = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(th, NULL);
}

/* 1 when this process may use SCHED_FIFO at prio. */
static int may_raise(int prio)
{
    struct rlimit rl;

    if (geteuid() == 0)
        return 1;
    return getrlimit(RLIMIT_RTPRIO, &rl) == 0 &&
           (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= (rlim_t)prio);
}

static void expect_refusal(int rc, const char *why, int prio)
{
    char want[64];

    cr_expect_eq(rc, KL_EIO);
    cr_expect(strstr(why, "CAP_SYS_NICE") != NULL, "%s", why);
    cr_expect(strstr(why, "ulimit -r") != NULL, "%s", why);
    snprintf(want, sizeof want, "at least %d", prio);
    cr_expect(strstr(why, want) != NULL, "%s", why);
    cr_expect_eq(kl_cpu_rt_priority(), 0, "a refused thread stays as it was");
    cr_expect_eq(sched_getscheduler(0), SCHED_OTHER);
}

Test(cpu_rt, only_the_calling_thread_is_raised)
{
    struct probe before, after;
    pthread_t th_before, th_after;
    char why[256] = "";
    int rc, pol;

    probe_start(&before, &th_before);
    rc = kl_cpu_rt_enter(3, why, sizeof why);
    if (!may_raise(3)) {
        cr_log_warn("no CAP_SYS_NICE nor RLIMIT_RTPRIO: checking the refusal "
                    "only");
        expect_refusal(rc, why, 3);
        probe_stop(&before, th_before);
        return;
    }
    cr_assert_eq(rc, KL_OK, "%s", why);
    cr_expect_eq(kl_cpu_rt_priority(), 3);
    pol = sched_getscheduler(0);
    cr_expect_eq(pol & ~SCHED_RESET_ON_FORK, SCHED_FIFO);
    cr_expect(pol & SCHED_RESET_ON_FORK, "threads started later must not "
              "inherit SCHED_FIFO");
    cr_expect_eq(sched_getscheduler(before.tid), SCHED_OTHER,
                 "a thread that already ran keeps the normal policy");
    probe_start(&after, &th_after);
    cr_expect_eq(after.policy, SCHED_OTHER,
                 "a thread started while raised runs under the normal policy");
    probe_stop(&after, th_after);
    probe_stop(&before, th_before);
}

Test(cpu_rt, leave_restores_policy_and_slice)
{
    char why[256] = "";
    int rc;

    if (!may_raise(1)) {
        rc = kl_cpu_rt_enter(1, why, sizeof why);
        cr_log_warn("no CAP_SYS_NICE nor RLIMIT_RTPRIO: checking the refusal "
                    "only");
        expect_refusal(rc, why, 1);
        return;
    }
    cr_assert_eq(kl_cpu_rt_enter(1, why, sizeof why), KL_OK, "%s", why);
    cr_assert_eq(kl_cpu_rt_leave(250, why, sizeof why), KL_OK, "%s", why);
    cr_expect_eq(sched_getscheduler(0), SCHED_OTHER);
    cr_expect_eq(kl_cpu_rt_priority(), 0);
    /* The slice comes back where the kernel keeps slices (6.12+). */
    if (kl_cpu_slice_set_us(250, NULL, 0) == KL_OK) {
        cr_assert_eq(kl_cpu_rt_enter(1, why, sizeof why), KL_OK, "%s", why);
        cr_expect_eq(kl_cpu_slice_us(), 0, "SCHED_FIFO has no slice");
        cr_assert_eq(kl_cpu_rt_leave(250, why, sizeof why), KL_OK, "%s", why);
        cr_expect_eq(kl_cpu_slice_us(), 250);
    }
}

Test(cpu_rt, refusal_names_what_is_missing)
{
    struct rlimit zero = {0, 0};
    char why[256] = "";

    /* Without privilege and with RLIMIT_RTPRIO 0, the kernel must refuse. */
    cr_assert_eq(setrlimit(RLIMIT_RTPRIO, &zero), 0);
    if (geteuid() == 0)
        cr_assert_eq(setuid(65534), 0, "dropping root for this test");
    expect_refusal(kl_cpu_rt_enter(5, why, sizeof why), why, 5);
    cr_expect(strstr(why, "it is 0") != NULL, "%s", why);
}

Test(cpu_rt, priority_out_of_range)
{
    char why[256] = "";

    cr_expect_eq(kl_cpu_rt_enter(0, why, sizeof why), KL_EINVAL);
    cr_expect(strstr(why, "1..99") != NULL, "%s", why);
    cr_expect_eq(kl_cpu_rt_enter(KL_CPU_RT_MAX + 1, why, sizeof why),
                 KL_EINVAL);
    cr_expect_eq(kl_cpu_rt_priority(), 0);
}
