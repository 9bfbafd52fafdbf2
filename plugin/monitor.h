/*
 * Monitoring of a `klabel run` process, from the metrics.* and watchdog.ms
 * keys: the klabel_* metrics catalogue, health and readiness state, the
 * workers' watchdog thread, and the HTTP server of /metrics, /healthz and
 * /readyz (when metrics.port is not 0). One per process.
 */
#ifndef KL_PLUGIN_MONITOR_H
#define KL_PLUGIN_MONITOR_H

#include <stddef.h>

struct kl_config;
struct kl_stage;
struct kl_monitor; /* opaque */

/* Starts monitoring before the stage is created (so the stage's hooks
 * count from its first event): creates the metrics catalogue, configures
 * health (watchdog.ms, debug.worker.stall.ms), starts the watchdog and,
 * when metrics.port != 0, the HTTP server on metrics.bind. cfg is read
 * during the call only. On success *out is caller-owned:
 * kl_monitor_stop(). Returns 0, or KL_EIO / KL_EINVAL / KL_ENOMEM with a
 * reason naming the key in err. */
int kl_monitor_start(const struct kl_config *cfg, struct kl_monitor **out,
                     char *err, size_t errsz);

/* Tells readiness about the created stage: its model is loaded and
 * kl_stage_assigned(s) says whether partitions are assigned. s is
 * borrowed until kl_monitor_stop(). */
void kl_monitor_attach(struct kl_monitor *m, const struct kl_stage *s);

/* The HTTP port in use (0 when metrics are off). */
int kl_monitor_port(const struct kl_monitor *m);

/* Stops the HTTP server and the watchdog, forgets the stage, and frees m
 * (NULL is fine). Call before kl_stage_destroy(). The metrics catalogue
 * stays (it is freed at exit). */
void kl_monitor_stop(struct kl_monitor *m);

#endif
