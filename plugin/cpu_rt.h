/*
 * Real-time priority for the stage's source thread (stage.source.rt.priority).
 * Under SCHED_FIFO the source thread, which sleeps most of the time at low
 * load, runs the moment it wakes instead of waiting behind the broker, the
 * workers or librdkafka's threads on a busy machine: batch deadlines and
 * consume-to-produce latency then follow the stage's own work. Only that
 * one thread is raised; a CPU-bound worker under SCHED_FIFO would starve
 * everything else on its core. Needs CAP_SYS_NICE or an RLIMIT_RTPRIO
 * (ulimit -r) of at least the priority.
 */
#ifndef KL_PLUGIN_CPU_RT_H
#define KL_PLUGIN_CPU_RT_H

#include <stddef.h>
#include <stdint.h>

/* Highest priority accepted (sched_get_priority_max(SCHED_FIFO)). */
#define KL_CPU_RT_MAX 99

/* Puts the calling thread under SCHED_FIFO at prio (1..KL_CPU_RT_MAX),
 * with SCHED_RESET_ON_FORK so threads it starts later run under the
 * normal policy. Returns 0; KL_EINVAL for a prio out of range; KL_EIO
 * when the kernel refuses (not permitted: why names CAP_SYS_NICE and the
 * current RLIMIT_RTPRIO), with a reason in why (may be NULL). */
int kl_cpu_rt_enter(int prio, char *why, size_t whysz);

/* Puts the calling thread back under SCHED_OTHER (nice unchanged) and,
 * when slice_us > 0, asks that CPU slice again (cpu_slice.h; changing the
 * policy drops it), best effort: a kernel that keeps no slices is not an
 * error here. Returns 0 or KL_EIO with a reason in why (may be NULL). */
int kl_cpu_rt_leave(int64_t slice_us, char *why, size_t whysz);

/* The calling thread's SCHED_FIFO priority, 0 when under another policy. */
int kl_cpu_rt_priority(void);

#endif
