/*
 * Health and readiness of the stage process, for /healthz and /readyz
 * (plugin/http.c) and the klabel_healthy / klabel_ready gauges.
 *
 * Healthy: no fatal error was reported, and no model worker has gone
 * watchdog.ms without progress while events wait for it. librdkafka 2.0.2
 * resets max.poll.interval.ms on any poll, so the consumer group alone
 * does not notice a stuck worker; this watchdog does. Ready: the model is
 * loaded and the consumer holds at least one partition.
 *
 * Process-wide state (one stage per process). The note_* hooks are
 * lock-free and cheap (one clock read, two relaxed atomics): call them per
 * poll and per batch. The watchdog thread logs once when the process turns
 * unhealthy and once when it recovers.
 */
#ifndef KL_PLUGIN_HEALTH_H
#define KL_PLUGIN_HEALTH_H

#include <stddef.h>
#include <stdint.h>

#define KL_HEALTH_WORKERS_MAX 64 /* model workers the watchdog watches */
#define KL_HEALTH_REASON_MAX 256 /* bytes of a reason */

/* Resets every flag and worker slot and sets the watchdog's limit
 * (watchdog_ms, 0 = no watchdog) and the test-only stall of
 * kl_health_debug_stall() (stall_ms, 0 = none). Call before the stage's
 * threads start (tests call it between cases). */
void kl_health_configure(int64_t watchdog_ms, int64_t stall_ms);

/* n events were queued for worker w (a poll handed them over). When the
 * worker had nothing waiting, its stall clock starts now. Out-of-range w
 * is ignored. */
void kl_health_note_queued(int w, int64_t n);
/* Worker w finished n of its queued events (a batch went out). */
void kl_health_note_progress(int w, int64_t n);

/* A fatal error: /healthz answers 503 with reason from now on (the first
 * reason is kept). Logged by the caller. Thread-safe. */
void kl_health_set_fatal(const char *reason);
/* Whether the model is loaded (ready needs it). */
void kl_health_set_model_loaded(int loaded);
/* How readiness learns that partitions are assigned: fn(ud) returns the
 * number assigned now; it is called from the HTTP thread, so it must be
 * thread-safe (kl_stage_assigned is). NULL fn = never ready. */
void kl_health_set_assigned_probe(int (*fn)(const void *ud), const void *ud);

/* 1 when healthy, else 0 with the reason in why (may be NULL). now_us is
 * CLOCK_MONOTONIC in microseconds (0 = read the clock). Thread-safe. */
int kl_health_live(int64_t now_us, char *why, size_t whysz);
/* 1 when ready, else 0 with the reason in why (may be NULL). */
int kl_health_ready(char *why, size_t whysz);

/* Starts the watchdog thread (ticks at watchdog.ms / 4, at most every
 * 250 ms; logs health transitions). Does nothing when watchdog.ms is 0.
 * Returns 0 or KL_EIO. */
int kl_health_watchdog_start(void);
/* Stops and joins it (fine when it was not started). */
void kl_health_watchdog_stop(void);

/* For tests only (debug.worker.stall.ms): sleeps stall_ms when set, so a
 * test can stall the model worker. Call in the worker before a batch. */
void kl_health_debug_stall(void);

#endif
