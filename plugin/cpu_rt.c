/*
 * SCHED_FIFO for the calling thread (plugin/cpu_rt.h). On Linux
 * sched_setscheduler(0, ...) acts on the calling thread alone, not the
 * whole process, so no pthread handle is needed.
 */
#include "cpu_rt.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "cpu_slice.h"
#include "klabel/engine.h"

static void say_rlimit(char *why, size_t whysz, int prio, int e)
{
    struct rlimit rl;
    char cur[32] = "unknown";

    if (!why || !whysz)
        return;
    if (getrlimit(RLIMIT_RTPRIO, &rl) == 0)
        snprintf(cur, sizeof cur, "%llu", (unsigned long long)rl.rlim_cur);
    snprintf(why, whysz, "SCHED_FIFO priority %d: %s (needs CAP_SYS_NICE or "
             "an RLIMIT_RTPRIO of at least %d, `ulimit -r`; it is %s)", prio,
             strerror(e), prio, cur);
}

int kl_cpu_rt_enter(int prio, char *why, size_t whysz)
{
    struct sched_param sp;

    if (prio < 1 || prio > KL_CPU_RT_MAX) {
        if (why && whysz)
            snprintf(why, whysz, "SCHED_FIFO priority %d is outside 1..%d",
                     prio, KL_CPU_RT_MAX);
        return KL_EINVAL;
    }
    memset(&sp, 0, sizeof sp);
    sp.sched_priority = prio;
    if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp) != 0) {
        int e = errno;

        if (e == EPERM)
            say_rlimit(why, whysz, prio, e);
        else if (why && whysz)
            snprintf(why, whysz, "sched_setscheduler(SCHED_FIFO, %d): %s",
                     prio, strerror(e));
        return KL_EIO;
    }
    return KL_OK;
}

int kl_cpu_rt_leave(int64_t slice_us, char *why, size_t whysz)
{
    struct sched_param sp;

    memset(&sp, 0, sizeof sp);
    if (sched_setscheduler(0, SCHED_OTHER, &sp) != 0) {
        if (why && whysz)
            snprintf(why, whysz, "sched_setscheduler(SCHED_OTHER): %s",
                     strerror(errno));
        return KL_EIO;
    }
    if (slice_us > 0)
        (void)kl_cpu_slice_set_us(slice_us, NULL, 0);
    return KL_OK;
}

int kl_cpu_rt_priority(void)
{
    struct sched_param sp;
    int pol = sched_getscheduler(0);

    if (pol < 0 || (pol & ~SCHED_RESET_ON_FORK) != SCHED_FIFO)
        return 0;
    if (sched_getparam(0, &sp) != 0)
        return 0;
    return sp.sched_priority;
}
