/*
 * Unit tests of plugin/cpu_slice.c: the slice request is kept by the
 * kernel (Linux 6.12+; on an older kernel the call must say so instead),
 * clamped to the kernel's range, inherited by threads made afterwards,
 * and leaves the nice value alone.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/utsname.h>

#include "cpu_slice.h"
#include "klabel/engine.h"

/* 1 when the running kernel is 6.12 or later (per-thread slices). */
static int kernel_has_slices(void)
{
    struct utsname u;
    int major = 0, minor = 0;

    if (uname(&u) != 0 || sscanf(u.release, "%d.%d", &major, &minor) != 2)
        return 0;
    return major > 6 || (major == 6 && minor >= 12);
}

static void *child_slice(void *arg)
{
    *(int64_t *)arg = kl_cpu_slice_us();
    return NULL;
}

Test(cpu_slice, kept_clamped_and_inherited)
{
    char why[256] = "";
    int64_t seen = -1;
    pthread_t th;
    int rc;

    rc = kl_cpu_slice_set_us(250, why, sizeof why);
    if (!kernel_has_slices()) {
        cr_expect_eq(rc, KL_EIO, "an old kernel must be reported");
        cr_expect_neq(why[0], '\0');
        return;
    }
    cr_assert_eq(rc, KL_OK, "%s", why);
    cr_expect_eq(kl_cpu_slice_us(), 250);
    cr_assert_eq(pthread_create(&th, NULL, child_slice, &seen), 0);
    pthread_join(th, NULL);
    cr_expect_eq(seen, 250, "a thread made afterwards inherits the slice");
    cr_expect_eq(kl_cpu_slice_set_us(5, why, sizeof why), KL_OK);
    cr_expect_eq(kl_cpu_slice_us(), KL_CPU_SLICE_MIN_US);
    cr_expect_eq(kl_cpu_slice_set_us(10000000, why, sizeof why), KL_OK);
    cr_expect_eq(kl_cpu_slice_us(), KL_CPU_SLICE_MAX_US);
}

Test(cpu_slice, nice_value_is_kept)
{
    char why[256] = "";

    cr_assert_eq(setpriority(PRIO_PROCESS, 0, 5), 0);
    if (kl_cpu_slice_set_us(300, why, sizeof why) != KL_OK)
        cr_expect(!kernel_has_slices(), "%s", why);
    cr_expect_eq(getpriority(PRIO_PROCESS, 0), 5);
}
