/*
 * klbench: the load generator and the latency collector of the stage
 * benchmark (tests/bench/stage_bench.py), in C on librdkafka so that they
 * can offer 50,000 events/s and read every result on a 2-core machine
 * without becoming the bottleneck themselves.
 *
 *   klbench gen      paced producer of JSON events (gen.c)
 *   klbench collect  consumer of the results, one binary record per result
 *                    (collect.c)
 *
 * Clocks: every timestamp that crosses a process boundary is
 * CLOCK_REALTIME in microseconds (one machine, one clock): the generator's
 * send time ("bench.sent_us" header and "sent_us" field), the stage's
 * consume and produce stamps ("bench.c_us", "bench.p_us" headers, see
 * kl_trace_ic.c) and the collector's receive time. Pacing uses
 * CLOCK_MONOTONIC.
 */
#ifndef KL_BENCH_KLBENCH_H
#define KL_BENCH_KLBENCH_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

/* One result as the collector writes it (48 bytes, native endian). */
struct kl_bench_rec {
    int64_t id;       /* the event id of the result ("id" field), -1 if none */
    int64_t recv_us;  /* collector: consumer_poll returned it (REALTIME) */
    int64_t sent_us;  /* generator: produce() of the input (0 if missing) */
    int64_t c_us;     /* stage: consumed the input (0 if missing) */
    int64_t p_us;     /* stage: produced the result (0 if missing) */
    int32_t partition;/* output partition */
    int32_t label;    /* index into the labels file, -1 = no label */
};

/* Microseconds of CLOCK_REALTIME / CLOCK_MONOTONIC. */
int64_t kl_bench_realtime_us(void);
int64_t kl_bench_mono_us(void);

/* Sets key=value on conf; on failure prints why and returns -1. */
int kl_bench_conf_set(rd_kafka_conf_t *conf, const char *key,
                      const char *value);

/* Applies "key=value" (an -X option) to conf; -1 on a bad one. */
int kl_bench_conf_kv(rd_kafka_conf_t *conf, const char *kv);

/* Set by SIGINT/SIGTERM; the loops stop when it is non-zero. */
extern volatile int kl_bench_stop;
/* Installs the handlers that set kl_bench_stop. */
void kl_bench_signals(void);

/* The subcommands; argv[0] is the subcommand's name. Exit codes: 0 ok,
 * 1 failure, 2 usage. */
int kl_bench_gen_main(int argc, char **argv);
int kl_bench_collect_main(int argc, char **argv);

/* klbench jitter (jitter.c): spins one thread and prints, as one JSON
 * line, how often and how long the machine took the CPU away from it.
 * Returns the exit code. */
int kl_bench_jitter_main(int argc, char **argv);

#endif
