/*
 * Unit tests of health, readiness and the watchdog (plugin/health.c): the
 * stall rule (events waiting and no progress for watchdog.ms; the clock
 * starts when a worker goes from idle to busy; any progress restarts it),
 * several workers, watchdog.ms=0, the sticky first fatal reason, the
 * readiness rule, the watchdog thread logging exactly once per
 * transition, and the test-only stall.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "health.h"
#include "klabel/engine.h"
#include "log.h"

static int64_t mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void setup(void)
{
    kl_log_level = KL_LOG_INFO;
    kl_health_configure(1000, 0);
}

TestSuite(health, .init = setup, .timeout = 30);

Test(health, stall_needs_waiting_events_and_time)
{
    char why[512];
    int64_t t0 = mono_us();

    cr_expect_eq(kl_health_live(t0 + 60000000, why, sizeof why), 1,
                 "idle for a minute is not a stall");
    kl_health_note_queued(0, 3);
    cr_expect_eq(kl_health_live(t0 + 900000, why, sizeof why), 1,
                 "the clock starts when events arrive, not at the last "
                 "progress");
    cr_expect_eq(kl_health_live(t0 + 1100000 + 50000, why, sizeof why), 0);
    cr_expect_neq(strstr(why, "model worker 0 made no progress for 11"), NULL,
                  "%s", why);
    cr_expect_neq(strstr(why, "3 event(s) waiting (watchdog.ms=1000)"), NULL,
                  "%s", why);
}

Test(health, progress_restarts_the_clock)
{
    int64_t t0 = mono_us();

    kl_health_note_queued(0, 10);
    usleep(20000);
    kl_health_note_progress(0, 4); /* partial: 6 still wait */
    cr_expect_eq(kl_health_live(t0 + 1010000, NULL, 0), 1,
                 "progress 20 ms in moves the clock");
    cr_expect_eq(kl_health_live(t0 + 1500000, NULL, 0), 0);
    kl_health_note_progress(0, 6);
    cr_expect_eq(kl_health_live(t0 + 100000000, NULL, 0), 1,
                 "nothing waits any more");
    /* Idle for long, then busy again: not stalled at once. */
    kl_health_note_queued(0, 1);
    cr_expect_eq(kl_health_live(mono_us() + 500000, NULL, 0), 1);
}

Test(health, each_worker_has_its_own_clock)
{
    char why[512];
    int64_t t0 = mono_us();

    kl_health_note_queued(0, 1);
    kl_health_note_queued(3, 2);
    kl_health_note_progress(0, 1);
    cr_expect_eq(kl_health_live(t0 + 1200000, why, sizeof why), 0);
    cr_expect_neq(strstr(why, "model worker 3"), NULL, "%s", why);
    kl_health_note_queued(-1, 5);                    /* ignored */
    kl_health_note_queued(KL_HEALTH_WORKERS_MAX, 5); /* ignored */
    kl_health_note_progress(3, 2);
    cr_expect_eq(kl_health_live(t0 + 1200000, why, sizeof why), 1, "%s", why);
}

Test(health, watchdog_off)
{
    kl_health_configure(0, 0);
    kl_health_note_queued(0, 1);
    cr_expect_eq(kl_health_live(mono_us() + 3600000000LL, NULL, 0), 1);
    cr_expect_eq(kl_health_watchdog_start(), 0, "no thread, no error");
    kl_health_watchdog_stop();
}

Test(health, fatal_is_sticky_and_keeps_the_first_reason)
{
    char why[512];

    kl_health_set_fatal("producer: fatal OUT_OF_ORDER_SEQUENCE_NUMBER");
    kl_health_set_fatal("second");
    cr_expect_eq(kl_health_live(0, why, sizeof why), 0);
    cr_expect_str_eq(why,
                     "fatal error: producer: fatal OUT_OF_ORDER_SEQUENCE_NUMBER");
    kl_health_configure(1000, 0);
    cr_expect_eq(kl_health_live(0, why, sizeof why), 1, "configure resets");
}

static int nassigned;

static int probe(const void *ud)
{
    cr_expect_eq(ud, &nassigned);
    return nassigned;
}

Test(health, ready_needs_model_and_partitions)
{
    char why[128];

    cr_expect_eq(kl_health_ready(why, sizeof why), 0);
    cr_expect_str_eq(why, "model not loaded");
    kl_health_set_model_loaded(1);
    cr_expect_eq(kl_health_ready(why, sizeof why), 0);
    cr_expect_str_eq(why, "no input partition assigned");
    nassigned = 0;
    kl_health_set_assigned_probe(probe, &nassigned);
    cr_expect_eq(kl_health_ready(why, sizeof why), 0);
    nassigned = 2;
    cr_expect_eq(kl_health_ready(why, sizeof why), 1);
    cr_expect_str_eq(why, "");
    kl_health_set_model_loaded(0);
    cr_expect_eq(kl_health_ready(NULL, 0), 0);
}

/* Counts lines of f holding needle. */
static int count_in(const char *path, const char *needle)
{
    char line[1024];
    FILE *f = fopen(path, "r");
    int n = 0;

    cr_assert_not_null(f);
    while (fgets(line, sizeof line, f))
        if (strstr(line, needle))
            n++;
    fclose(f);
    return n;
}

Test(health, watchdog_thread_logs_each_transition_once)
{
    char path[] = "/tmp/klabel-test-health-XXXXXX";
    int fd = mkstemp(path), saved = dup(2);

    cr_assert_geq(fd, 0);
    cr_assert_eq(dup2(fd, 2), 2);
    kl_health_configure(100, 0);
    cr_assert_eq(kl_health_watchdog_start(), 0);
    kl_health_note_queued(0, 2);
    usleep(450000);                 /* stalled for ~350 ms: logged once */
    kl_health_note_progress(0, 2);
    usleep(200000);                 /* recovered: logged once */
    kl_health_watchdog_stop();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    cr_expect_eq(count_in(path, "unhealthy: model worker 0 made no progress"),
                 1);
    cr_expect_eq(count_in(path, "healthy again"), 1);
    unlink(path);
}

Test(health, debug_stall_sleeps_only_when_set)
{
    int64_t t0 = mono_us();

    kl_health_debug_stall();
    cr_expect_lt(mono_us() - t0, 20000);
    kl_health_configure(1000, 120);
    t0 = mono_us();
    kl_health_debug_stall();
    cr_expect_geq(mono_us() - t0, 120000);
}
