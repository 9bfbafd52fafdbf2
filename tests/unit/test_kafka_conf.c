/*
 * tests/unit/test_kafka_conf.c: the librdkafka configurations the kafka
 * transport builds (plugin/kafka_conf.c): our defaults, the user's kafka.*
 * keys over them, and the settings at-least-once depends on, which no key
 * may contradict.
 */
#include <string.h>

#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>

#include "config.h"
#include "kafka_conf.h"
#include "klabel/engine.h"

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
