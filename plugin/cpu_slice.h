/*
 * The CPU time slice the stage asks of the Linux scheduler. Since Linux
 * 6.12 the fair scheduler (EEVDF) takes a per-thread slice request
 * (sched_setattr's sched_runtime for SCHED_OTHER / SCHED_BATCH): a thread
 * with a short slice gets an early virtual deadline, so when it wakes it
 * preempts threads running on longer slices instead of waiting for their
 * slice to end. On a busy two-core machine that wait is what makes the
 * latency tail (milliseconds), not the stage's own work. No privilege is
 * needed; threads created afterwards inherit the slice.
 */
#ifndef KL_PLUGIN_CPU_SLICE_H
#define KL_PLUGIN_CPU_SLICE_H

#include <stddef.h>
#include <stdint.h>

/* Shortest and longest slice the kernel accepts (us). */
#define KL_CPU_SLICE_MIN_US 100
#define KL_CPU_SLICE_MAX_US 100000

/* Asks a slice of us microseconds (clamped to the kernel's range) for the
 * calling thread, keeping its policy and nice value; threads it creates
 * afterwards inherit it. Returns 0 when the kernel kept the request,
 * KL_ESTATE when the thread is not under the fair scheduler (e.g. started
 * with chrt: left alone), KL_EIO when the kernel refused or does not keep
 * per-thread slices (before 6.12); a reason in why (may be NULL). */
int kl_cpu_slice_set_us(int64_t us, char *why, size_t whysz);

/* The calling thread's slice request in microseconds, 0 when none (the
 * kernel's default), or a negative code. */
int64_t kl_cpu_slice_us(void);

#endif
