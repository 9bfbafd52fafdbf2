/*
 * Unit tests of a `klabel run` process's monitoring (plugin/monitor.c and
 * its wiring in plugin/cli_run.c), on librdkafka's mock cluster: the
 * whole command, run in-process with metrics on, serves /readyz once its
 * partitions are assigned and counts events in /metrics; a fatal error of
 * the idempotent producer ends `klabel run` with exit code 1 and leaves
 * /healthz unhealthy with the reason; a metrics.port in use fails the
 * start naming the key.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "health.h"
#include "klabel/engine.h"
#include "log.h"
#include "mock.h"
#include "monitor.h"

#define API_PRODUCE 0 /* Kafka protocol ApiKey of Produce */

static char dir[64], model_path[128];
static struct kl_mock mock;

static void train_tiny(void)
{
    struct kl_train_opts o;
    char train[160], err[256];
    FILE *f;
    int i;

    snprintf(dir, sizeof dir, "/tmp/klabel-test-monitor-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(train, sizeof train, "%s/train.tsv", dir);
    snprintf(model_path, sizeof model_path, "%s/tiny.safetensors", dir);
    f = fopen(train, "w");
    cr_assert_not_null(f);
    for (i = 0; i < 100; i++)
        fprintf(f, "%s\t%s\n", i % 2 ? "finance" : "sports",
                i % 2 ? "stock market bank" : "football goal team");
    fclose(f);
    kl_train_opts_init(&o);
    o.id = "tiny";
    o.version = "3";
    o.tok.mode = KL_TOK_UNICODE;
    o.dim = 8;
    o.epoch = 5;
    o.bucket = 1000;
    o.verbose = 0;
    cr_assert_eq(kl_train_file(&o, train, model_path, err, sizeof err), 0,
                 "train: %s", err);
    unlink(train);
}

static void setup(void)
{
    char err[512];

    kl_log_level = KL_LOG_CRIT;
    train_tiny();
    cr_assert_eq(kl_mock_start(&mock, 1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(kl_mock_topic(&mock, "in", 2, err, sizeof err), 0);
    cr_assert_eq(kl_mock_topic(&mock, "out", 1, err, sizeof err), 0);
    cr_assert_eq(kl_mock_topic(&mock, "dlq", 1, err, sizeof err), 0);
}

static void teardown(void)
{
    kl_mock_stop(&mock);
    unlink(model_path);
    rmdir(dir);
}

TestSuite(monitor, .init = setup, .fini = teardown, .timeout = 90);

static int free_port(void)
{
    struct sockaddr_in sa;
    socklen_t n = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &n), 0);
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/* GET path on 127.0.0.1:port; returns the status (0 = no answer) and the
 * body in body. */
static int get(int port, const char *path, char *body, size_t bodysz)
{
    struct sockaddr_in sa;
    char req[256], buf[65536];
    size_t n = 0;
    ssize_t k;
    int fd = socket(AF_INET, SOCK_STREAM, 0), status = 0;
    char *sep;

    body[0] = '\0';
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return 0;
    }
    snprintf(req, sizeof req, "GET %s HTTP/1.0\r\n\r\n", path);
    if (write(fd, req, strlen(req)) < 0) {
        close(fd);
        return 0;
    }
    while (n < sizeof buf - 1 && (k = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)k;
    close(fd);
    buf[n] = '\0';
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        return 0;
    sep = strstr(buf, "\r\n\r\n");
    snprintf(body, bodysz, "%s", sep ? sep + 4 : "");
    return status;
}

struct run {
    char *argv[40];
    int argc;
    char args[40][256];
    int rc;
};

static void arg(struct run *r, const char *fmt, const char *v)
{
    snprintf(r->args[r->argc], sizeof r->args[0], fmt, v);
    r->argv[r->argc] = r->args[r->argc];
    r->argc++;
}

static void args_for(struct run *r, int port)
{
    char p[16];

    snprintf(p, sizeof p, "%d", port);
    r->argc = 0;
    arg(r, "%s", "run");
    arg(r, "-X%s", "input.topics=in");
    arg(r, "-X%s", "output.topic=out");
    arg(r, "-X%s", "dlq.topic=dlq");
    arg(r, "-Xmodel.path=%s", model_path);
    arg(r, "-X%s", "group.id=monitor-test");
    arg(r, "-Xkafka.bootstrap.servers=%s", mock.bootstraps);
    arg(r, "-X%s", "kafka.consumer.fetch.wait.max.ms=10");
    arg(r, "-X%s", "log.level=error");
    arg(r, "-Xmetrics.port=%s", p);
    arg(r, "-X%s", "metrics.stats.interval.ms=200");
    r->argv[r->argc] = NULL;
}

static void *run_main(void *p)
{
    struct run *r = p;

    r->rc = kl_cli_run(r->argc, r->argv);
    return NULL;
}

static void produce_inputs(int n)
{
    char err[512], v[128];
    rd_kafka_t *p = kl_mock_producer(mock.bootstraps, "in", err, sizeof err);
    int i;

    cr_assert_not_null(p, "%s", err);
    for (i = 0; i < n; i++) {
        snprintf(v, sizeof v, "{\"id\":%d,\"text\":\"%s\"}", i,
                 i % 2 ? "stock market" : "football goal");
        cr_assert_eq(rd_kafka_producev(p, RD_KAFKA_V_TOPIC("in"),
                                       RD_KAFKA_V_VALUE(v, strlen(v)),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_END),
                     0);
    }
    cr_assert_eq(rd_kafka_flush(p, 10000), 0);
    rd_kafka_destroy(p);
}

/* Waits (up to secs) until GET path answers want; returns the last status. */
static int wait_for(int port, const char *path, int want, int secs,
                    char *body, size_t bodysz)
{
    int i, st = 0;

    for (i = 0; i < secs * 20; i++) {
        st = get(port, path, body, bodysz);
        if (st == want)
            break;
        usleep(50000);
    }
    return st;
}

Test(monitor, run_serves_readiness_and_counts)
{
    static char body[65536];
    struct run r;
    pthread_t th;
    int port = free_port();

    args_for(&r, port);
    produce_inputs(40);
    cr_assert_eq(pthread_create(&th, NULL, run_main, &r), 0);
    cr_expect_eq(wait_for(port, "/readyz", 200, 30, body, sizeof body), 200,
                 "%s", body);
    cr_expect_eq(wait_for(port, "/healthz", 200, 5, body, sizeof body), 200,
                 "%s", body);
    cr_expect_eq(get(port, "/metrics", body, sizeof body), 200);
    cr_expect_neq(strstr(body, "klabel_model_info{model=\"tiny\",version=\"3\"} 1\n"),
                  NULL, "%s", body);
    {
        int i;

        for (i = 0; i < 200; i++) {
            get(port, "/metrics", body, sizeof body);
            if (strstr(body, "\nklabel_results_out_total 40\n"))
                break;
            usleep(50000);
        }
    }
    cr_expect_neq(strstr(body, "\nklabel_events_in_total 40\n"), NULL, "%s",
                  body);
    cr_expect_neq(strstr(body, "\nklabel_results_out_total 40\n"), NULL, "%s",
                  body);
    kill(getpid(), SIGTERM); /* the stage's handler: a clean stop */
    pthread_join(th, NULL);
    cr_expect_eq(r.rc, KL_EXIT_OK);
    cr_expect_eq(get(port, "/healthz", body, sizeof body), 0,
                 "the server stops with the command");
}

Test(monitor, fatal_error_exits_1_and_healthz_says_why)
{
    static char body[4096];
    struct run r;
    char why[512];
    int port = free_port();

    args_for(&r, port);
    /* Gapless idempotence: a refused sequence is a fatal producer error. */
    arg(&r, "-X%s", "kafka.producer.enable.gapless.guarantee=true");
    r.argv[r.argc] = NULL;
    produce_inputs(20);
    rd_kafka_mock_push_request_errors(
        mock.mcluster, API_PRODUCE, 1,
        RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    r.rc = kl_cli_run(r.argc, r.argv);
    cr_expect_eq(r.rc, KL_EXIT_FAIL, "klabel run must end non-zero");
    cr_expect_eq(kl_health_live(0, why, sizeof why), 0);
    cr_expect_neq(strstr(why, "fatal"), NULL, "%s", why);
    cr_expect_eq(get(port, "/healthz", body, sizeof body), 0, "server gone");
}

Test(monitor, port_in_use_fails_the_start)
{
    struct kl_config *cfg = kl_config_create();
    struct kl_monitor *m = NULL;
    struct sockaddr_in sa;
    socklen_t n = sizeof sa;
    char err[512], p[16];
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(listen(fd, 1), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &n), 0);
    snprintf(p, sizeof p, "%d", ntohs(sa.sin_port));
    cr_assert_eq(kl_config_set(cfg, "metrics.port", p, err, sizeof err), 0);
    cr_expect_eq(kl_monitor_start(cfg, &m, err, sizeof err), KL_EIO);
    cr_expect_null(m);
    cr_expect_neq(strstr(err, "metrics.port"), NULL, "%s", err);
    cr_assert_eq(kl_config_set(cfg, "metrics.port", "0", err, sizeof err), 0);
    cr_expect_eq(kl_monitor_start(cfg, &m, err, sizeof err), 0, "%s", err);
    cr_expect_eq(kl_monitor_port(m), 0, "metrics off: no server");
    kl_monitor_stop(m);
    close(fd);
    kl_config_destroy(cfg);
}
