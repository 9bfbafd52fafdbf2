/*
 * The scheduler slice request of plugin/cpu_slice.h: sched_getattr /
 * sched_setattr through syscall(2) (glibc 2.36 has no wrappers), with the
 * kernel's struct sched_attr (SCHED_ATTR_SIZE_VER0 layout) declared here.
 */
#include "cpu_slice.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "klabel/engine.h"

/* include/uapi/linux/sched/types.h, version 0 (48 bytes). */
struct kl_sched_attr {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime; /* fair policies: the slice request, ns */
    uint64_t sched_deadline;
    uint64_t sched_period;
};

#define POLICY_OTHER 0
#define POLICY_BATCH 3

static int get_attr(struct kl_sched_attr *a)
{
    memset(a, 0, sizeof *a);
    return (int)syscall(SYS_sched_getattr, 0, a, sizeof *a, 0);
}

int64_t kl_cpu_slice_us(void)
{
    struct kl_sched_attr a;

    if (get_attr(&a) != 0)
        return KL_EIO;
    return (int64_t)(a.sched_runtime / 1000);
}

static void say(char *why, size_t whysz, const char *fmt, const char *arg)
{
    if (why && whysz)
        snprintf(why, whysz, fmt, arg);
}

int kl_cpu_slice_set_us(int64_t us, char *why, size_t whysz)
{
    struct kl_sched_attr a;

    if (us < KL_CPU_SLICE_MIN_US)
        us = KL_CPU_SLICE_MIN_US;
    if (us > KL_CPU_SLICE_MAX_US)
        us = KL_CPU_SLICE_MAX_US;
    if (get_attr(&a) != 0) {
        say(why, whysz, "sched_getattr: %s", strerror(errno));
        return KL_EIO;
    }
    if (a.sched_policy != POLICY_OTHER && a.sched_policy != POLICY_BATCH) {
        say(why, whysz, "%s", "the thread runs under a real-time or deadline "
            "policy; its scheduling is left as it is");
        return KL_ESTATE;
    }
    a.size = sizeof a;
    a.sched_flags = 0;
    a.sched_runtime = (uint64_t)us * 1000;
    a.sched_deadline = a.sched_period = 0;
    if (syscall(SYS_sched_setattr, 0, &a, 0) != 0) {
        say(why, whysz, "sched_setattr: %s", strerror(errno));
        return KL_EIO;
    }
    if (kl_cpu_slice_us() != us) {
        say(why, whysz, "%s", "this kernel does not keep per-thread slices "
            "(Linux 6.12 or later does)");
        return KL_EIO;
    }
    return KL_OK;
}
