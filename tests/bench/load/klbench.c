/*
 * klbench: entry point and shared helpers of the benchmark's load tools
 * (see klbench.h).
 */
#include "klbench.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

volatile int kl_bench_stop;

int64_t kl_bench_realtime_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t kl_bench_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int kl_bench_conf_set(rd_kafka_conf_t *conf, const char *key,
                      const char *value)
{
    char why[512];

    if (rd_kafka_conf_set(conf, key, value, why, sizeof why) !=
        RD_KAFKA_CONF_OK) {
        fprintf(stderr, "klbench: %s=%s: %s\n", key, value, why);
        return -1;
    }
    return 0;
}

int kl_bench_conf_kv(rd_kafka_conf_t *conf, const char *kv)
{
    char key[256];
    const char *eq = strchr(kv, '=');

    if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof key) {
        fprintf(stderr, "klbench: -X %s: expected key=value\n", kv);
        return -1;
    }
    memcpy(key, kv, (size_t)(eq - kv));
    key[eq - kv] = '\0';
    return kl_bench_conf_set(conf, key, eq + 1);
}

static void on_signal(int sig)
{
    (void)sig;
    kl_bench_stop = 1;
}

void kl_bench_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: klbench gen -b BOOTSTRAP -t TOPIC -i TEXTS [options]\n"
            "       klbench collect -b BOOTSTRAP -t TOPIC -o OUT [options]\n"
            "       klbench jitter [-s SECONDS]\n"
            "       klbench SUBCOMMAND --help\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "gen"))
        return kl_bench_gen_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "collect"))
        return kl_bench_collect_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "jitter"))
        return kl_bench_jitter_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
