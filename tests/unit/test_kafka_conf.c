/*
 * tests/unit/test_kafka_conf.c: the librdkafka configurations the kafka
 * transport builds (plugin/kafka_conf.c): our defaults, the user's kafka.*
 * keys over them, and the settings at-least-once depends on, which no key
 * may contradict; stage.producer.nice lowers the priority of the
 * producer's broker threads only.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>

#include "config.h"
#include "kafka_conf.h"
#include "klabel/engine.h"
#include "mock.h"

static char err[512];

/* The value of key in conf, in a static buffer. */
static const char *get(rd_kafka_conf_t *conf, const char *key)
{
    static char v[256];
    size_t n = sizeof v;

    cr_assert_eq(rd_kafka_conf_get(conf, key, v, &n), RD_KAFKA_CONF_OK, "%s",
                 key);
    return v;
}

static struct kl_config *config(const char *const *kv)
{
    struct kl_config *c = kl_config_create();

    cr_assert_not_null(c);
    cr_assert_eq(kl_config_set(c, "group.id", "g", err, sizeof err), 0, "%s",
                 err);
    for (; kv && *kv; kv++)
        cr_assert_eq(kl_config_set_kv(c, *kv, err, sizeof err), 0, "%s", err);
    return c;
}

Test(kafka_conf, producer_defaults)
{
    struct kl_config *c = config(NULL);
    rd_kafka_conf_t *conf = NULL;

    cr_assert_eq(kl_kafka_conf_producer(c, &conf, err, sizeof err), 0, "%s",
                 err);
    cr_expect_str_eq(get(conf, "enable.idempotence"), "true");
    cr_expect_str_eq(get(conf, "acks"), "-1"); /* all */
    cr_expect_str_eq(get(conf, "linger.ms"), "5");
    cr_expect_str_eq(get(conf, "queue.buffering.max.kbytes"), "32768");
    rd_kafka_conf_destroy(conf);
    kl_config_destroy(c);
}

Test(kafka_conf, user_keys_override_defaults_per_role)
{
    static const char *const kv[] = {"kafka.producer.linger.ms=1",
                                     "kafka.consumer.fetch.max.bytes=1048576",
                                     "kafka.client.id=mine", NULL};
    struct kl_config *c = config(kv);
    rd_kafka_conf_t *p = NULL, *k = NULL;

    cr_assert_eq(kl_kafka_conf_producer(c, &p, err, sizeof err), 0, "%s", err);
    cr_assert_eq(kl_kafka_conf_consumer(c, &k, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(get(p, "linger.ms"), "1");
    cr_expect_str_eq(get(p, "client.id"), "mine");
    cr_expect_str_eq(get(k, "client.id"), "mine");
    cr_expect_str_eq(get(k, "fetch.max.bytes"), "1048576");
    cr_expect_str_eq(get(k, "group.id"), "g");
    cr_expect_str_eq(get(k, "enable.auto.offset.store"), "false");
    rd_kafka_conf_destroy(p);
    rd_kafka_conf_destroy(k);
    kl_config_destroy(c);
}

Test(kafka_conf, consumer_prefetch_holds_more_than_a_second)
{
    struct kl_config *c = config(NULL);
    rd_kafka_conf_t *conf = NULL;

    cr_assert_eq(kl_kafka_conf_consumer(c, &conf, err, sizeof err), 0, "%s",
                 err);
    cr_expect_str_eq(get(conf, "queued.min.messages"), "1000000");
    cr_expect_str_eq(get(conf, "queued.max.messages.kbytes"), "49152");
    cr_expect_str_eq(get(conf, "enable.auto.offset.store"), "false");
    rd_kafka_conf_destroy(conf);
    kl_config_destroy(c);
}

Test(kafka_conf, at_least_once_settings_cannot_be_changed)
{
    static const char *const kv[] = {
        "kafka.consumer.enable.auto.offset.store=true", NULL};
    struct kl_config *c = config(kv);
    rd_kafka_conf_t *conf = NULL;

    cr_expect_eq(kl_kafka_conf_consumer(c, &conf, err, sizeof err), KL_EINVAL);
    cr_expect_null(conf);
    cr_expect(strstr(err, "enable.auto.offset.store") != NULL, "%s", err);
    kl_config_destroy(c);
}

Test(kafka_conf, bad_value_names_role_and_key)
{
    static const char *const kv[] = {"kafka.producer.linger.ms=-3", NULL};
    struct kl_config *c = config(kv);
    rd_kafka_conf_t *conf = NULL;

    cr_expect_eq(kl_kafka_conf_producer(c, &conf, err, sizeof err), KL_EINVAL);
    cr_expect_null(conf);
    cr_expect(strstr(err, "producer") && strstr(err, "linger.ms"), "%s", err);
    kl_config_destroy(c);
}

/* Threads of this process whose name starts with prefix, counted by
 * niceness: t[0] at base, t[1] at base + delta (delta != 0), t[2] at
 * anything else. */
static void count_threads(const char *prefix, int base, int delta, int t[3])
{
    DIR *dir = opendir("/proc/self/task");
    struct dirent *e;

    cr_assert_not_null(dir);
    t[0] = t[1] = t[2] = 0;
    while ((e = readdir(dir)) != NULL) {
        char path[300], comm[64] = "";
        FILE *f;
        int nice;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        if ((f = fopen(path, "r")) == NULL)
            continue;
        if (!fgets(comm, sizeof comm, f))
            comm[0] = '\0';
        fclose(f);
        if (strncmp(comm, prefix, strlen(prefix)))
            continue;
        errno = 0;
        nice = getpriority(PRIO_PROCESS, (id_t)atoi(e->d_name));
        cr_assert(!(nice == -1 && errno), "getpriority %s", e->d_name);
        t[nice == base ? 0 : delta && nice == base + delta ? 1 : 2]++;
    }
    closedir(dir);
}

/* A producer made from the configuration with stage.producer.nice=n, on
 * a mock cluster, after one delivered record (its broker threads exist). */
static void niced_producer(int n, int t[3])
{
    struct kl_mock mock;
    struct kl_config *c;
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk;
    char kv[64], bs[300];
    const char *pairs[3] = {kv, bs, NULL};
    int base = getpriority(PRIO_PROCESS, 0);

    cr_assert_eq(kl_mock_start(&mock, 1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(kl_mock_topic(&mock, "t", 1, err, sizeof err), 0, "%s", err);
    snprintf(kv, sizeof kv, "stage.producer.nice=%d", n);
    snprintf(bs, sizeof bs, "kafka.bootstrap.servers=%s", mock.bootstraps);
    c = config(pairs);
    cr_assert_eq(kl_kafka_conf_producer(c, &conf, err, sizeof err), 0, "%s",
                 err);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    cr_assert_not_null(rk, "%s", err);
    cr_assert_eq(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("t"),
                                   RD_KAFKA_V_VALUE("x", 1),
                                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                   RD_KAFKA_V_END), 0);
    cr_assert_eq(rd_kafka_flush(rk, 10000), 0, "not delivered");
    count_threads("rdk:broker", base, n, t);
    cr_expect_eq(getpriority(PRIO_PROCESS, 0), base, "this thread changed");
    rd_kafka_destroy(rk);
    kl_config_destroy(c);
    kl_mock_stop(&mock);
}

Test(kafka_conf, producer_nice_lowers_only_its_broker_threads)
{
    int t[3];

    /* The mock cluster's own broker threads (it runs in a producer made
     * without the key) keep the base; the producer's are 7 lower. */
    niced_producer(7, t);
    cr_expect_geq(t[1], 1, "no broker thread lowered");
    cr_expect_geq(t[0], 1, "the mock cluster's threads were lowered too");
    cr_expect_eq(t[2], 0, "%d broker threads at another niceness", t[2]);
}

Test(kafka_conf, producer_nice_zero_changes_nothing)
{
    int t[3];

    niced_producer(0, t);
    cr_expect_eq(t[2], 0, "%d broker threads changed", t[2]);
    cr_expect_geq(t[0], 2);
}
