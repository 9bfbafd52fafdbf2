/*
 * klbench jitter: how often this machine takes the CPU away from a thread
 * that wants it all the time. One thread reads CLOCK_MONOTONIC in a loop
 * for -s seconds; every gap between two reads longer than 10 us is time
 * the thread did not run (another task, an interrupt, or the hypervisor
 * running another guest). Prints one JSON object: gaps per second above
 * 50 us, 100 us, 300 us and 1 ms, the longest, the share of time lost,
 * and the thread's involuntary context switches (gaps without one came
 * from interrupts or the hypervisor, which no scheduling setting avoids).
 * The stage benchmark runs it before the stages: it is the floor under
 * any latency or batch close lateness measured on this machine.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "klbench.h"

static const int64_t LIMITS_NS[] = {50000, 100000, 300000, 1000000};
#define NLIMITS (sizeof LIMITS_NS / sizeof LIMITS_NS[0])

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int kl_bench_jitter_main(int argc, char **argv)
{
    double secs = 5;
    int64_t end, last, now, gap, longest = 0, lost = 0, t0;
    long above[NLIMITS] = {0};
    struct rusage ru;
    size_t i;
    int c;

    while ((c = getopt(argc, argv, "s:h")) != -1) {
        if (c == 's') {
            secs = atof(optarg);
        } else {
            fprintf(c == 'h' ? stdout : stderr,
                    "Usage: klbench jitter [-s SECONDS]  (default 5)\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (!(secs > 0 && secs <= 3600)) {
        fprintf(stderr, "klbench jitter: -s must be in (0, 3600]\n");
        return 2;
    }
    t0 = last = mono_ns();
    end = t0 + (int64_t)(secs * 1e9);
    do {
        now = mono_ns();
        gap = now - last;
        last = now;
        if (gap > 10000) {
            lost += gap;
            if (gap > longest)
                longest = gap;
            for (i = 0; i < NLIMITS; i++)
                above[i] += gap > LIMITS_NS[i];
        }
    } while (now < end);
    getrusage(RUSAGE_SELF, &ru);
    secs = (double)(now - t0) / 1e9;
    printf("{\"seconds\": %.3f, \"gaps_per_s_over_50us\": %.2f, "
           "\"gaps_per_s_over_100us\": %.2f, \"gaps_per_s_over_300us\": %.2f, "
           "\"gaps_per_s_over_1ms\": %.2f, \"longest_gap_us\": %.1f, "
           "\"lost_share\": %.5f, \"involuntary_switches\": %ld}\n",
           secs, above[0] / secs, above[1] / secs, above[2] / secs,
           above[3] / secs, (double)longest / 1000.0,
           (double)lost / 1e9 / secs, ru.ru_nivcsw);
    return 0;
}
