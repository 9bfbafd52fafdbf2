/*
 * librdkafka configurations for the kafka transport (plugin/kafka_conf.h).
 * Order: our defaults, then the user's kafka.* keys, then the settings that
 * at-least-once cannot work without. Every rd_kafka_conf_set is checked.
 */
#include "kafka_conf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config.h"
#include "kafka_poll.h"
#include "klabel/engine.h"
#include "lag.h"

/* Settings the user may not change, per role. */
struct fixed_setting {
    const char *role, *key, *value, *why;
};

static const struct fixed_setting fixed[] = {
    {"consumer", "enable.auto.offset.store", "false",
     "offsets are stored only after delivery (at_least_once)"},
    {NULL, NULL, NULL, NULL}};

struct pass_ctx {
    rd_kafka_conf_t *conf;
    const char *role;
    char *err;
    size_t errsz;
    int rc;
};

int kl_kafka_conf_set(rd_kafka_conf_t *conf, const char *role, const char *key,
                      const char *value, char *err, size_t errsz)
{
    char why[512];

    if (rd_kafka_conf_set(conf, key, value, why, sizeof why) !=
        RD_KAFKA_CONF_OK) {
        snprintf(err, errsz, "%s: %s=%s: %s", role, key, value, why);
        return KL_EINVAL;
    }
    return KL_OK;
}

/* kl_config_foreach_kafka callback: one pass-through key. */
static int pass_one(const char *k, const char *v, void *ud)
{
    struct pass_ctx *pc = ud;
    const struct fixed_setting *f;

    for (f = fixed; f->key; f++) {
        if (strcmp(f->role, pc->role) || strcmp(f->key, k))
            continue;
        if (strcasecmp(v, f->value)) {
            snprintf(pc->err, pc->errsz, "kafka.[%s.]%s must be %s: %s",
                     pc->role, k, f->value, f->why);
            pc->rc = KL_EINVAL;
            return 1;
        }
    }
    pc->rc = kl_kafka_conf_set(pc->conf, pc->role, k, v, pc->err, pc->errsz);
    return pc->rc ? 1 : 0;
}

/* Applies the user's keys, then the fixed settings of role. */
static int apply_user_and_fixed(const struct kl_config *cfg,
                                rd_kafka_conf_t *conf, const char *role,
                                char *err, size_t errsz)
{
    struct pass_ctx pc = {conf, role, err, errsz, KL_OK};
    const struct fixed_setting *f;
    int rc;

    if (kl_config_foreach_kafka(cfg, role, pass_one, &pc) != 0) {
        rc = pc.rc ? pc.rc : KL_EINVAL;
        goto out;
    }
    for (f = fixed; f->key; f++) {
        if (strcmp(f->role, role))
            continue;
        rc = kl_kafka_conf_set(conf, role, f->key, f->value, err, errsz);
        if (rc)
            goto out;
    }
    rc = KL_OK;
out:
    return rc;
}

int kl_kafka_conf_consumer(const struct kl_config *cfg, rd_kafka_conf_t **out,
                           char *err, size_t errsz)
{
    static const char *const defaults[][2] = {
        {"partition.assignment.strategy", "cooperative-sticky"},
        {"enable.auto.commit", "true"},
        {"auto.offset.reset", "earliest"},
        {"client.id", "klabel-consumer"},
        /* Bound librdkafka's prefetch (default 64 MiB queued + 50 MiB a
         * fetch) so resident memory stays bounded under a flood; see
         * docs/architecture.md, "Memory". Once the queue reaches either
         * threshold, librdkafka 2.0.2 looks again only when its broker
         * thread wakes, at the latest after 1 s (rd_kafka_max_block_ms),
         * so the queue must hold more than a second of consumption: with
         * the default 100,000 messages (16 MiB of bench events) the
         * fetcher idled half of every second and capped the stage at
         * ~190k events/s; 1,000,000 messages / 48 MiB: 245-277k. */
        {"queued.min.messages", "1000000"},
        {"queued.max.messages.kbytes", "49152"},
        {"fetch.max.bytes", "16777216"},
        {"max.partition.fetch.bytes", "4194304"},
        {NULL, NULL}};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int rc, i;

    *out = NULL;
    rc = kl_kafka_conf_set(conf, "consumer", "group.id",
                           kl_config_get(cfg, "group.id"), err, errsz);
    for (i = 0; !rc && defaults[i][0]; i++)
        rc = kl_kafka_conf_set(conf, "consumer", defaults[i][0],
                               defaults[i][1], err, errsz);
    if (!rc) /* statistics for klabel_consumer_lag, when metrics are on */
        rc = kl_lag_conf(cfg, conf, err, errsz);
    if (!rc)
        rc = apply_user_and_fixed(cfg, conf, "consumer", err, errsz);
    if (rc)
        goto out;
    *out = conf;
    conf = NULL;
out:
    if (conf)
        rd_kafka_conf_destroy(conf);
    return rc;
}

/* What the producer's broker threads get as they start, packed into the
 * interceptor's opaque: the niceness to add (stage.producer.nice, low 5
 * bits) and the wait of a zero-timeout poll (stage.producer.poll.wait.us,
 * the rest; kafka_poll.c). */
#define NICE_BITS 5
#define NICE_MASK ((1 << NICE_BITS) - 1)

/* on_thread_start interceptor of the producer: in each broker thread,
 * marks its polls (kafka_poll.c) and lowers its priority by the niceness.
 * A refused priority change leaves the thread as it is (it only ever
 * lowers). */
static rd_kafka_resp_err_t start_broker_thread(rd_kafka_t *rk,
                                               rd_kafka_thread_type_t type,
                                               const char *name, void *opaque)
{
    id_t tid = (id_t)gettid();
    intptr_t packed = (intptr_t)opaque;
    int nice = (int)(packed & NICE_MASK), cur;

    (void)rk;
    (void)name;
    if (type != RD_KAFKA_THREAD_BROKER)
        return RD_KAFKA_RESP_ERR_NO_ERROR;
    kl_kafka_poll_mark_thread((int)(packed >> NICE_BITS));
    if (nice == 0)
        return RD_KAFKA_RESP_ERR_NO_ERROR;
    errno = 0;
    cur = getpriority(PRIO_PROCESS, tid);
    if (cur == -1 && errno != 0)
        return RD_KAFKA_RESP_ERR_NO_ERROR;
    (void)setpriority(PRIO_PROCESS, tid, cur + nice > 19 ? 19 : cur + nice);
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* on_new interceptor: installs start_broker_thread on the new producer. */
static rd_kafka_resp_err_t add_thread_start(rd_kafka_t *rk,
                                            const rd_kafka_conf_t *conf,
                                            void *opaque, char *errstr,
                                            size_t errstr_size)
{
    (void)conf;
    (void)errstr;
    (void)errstr_size;
    return rd_kafka_interceptor_add_on_thread_start(
        rk, "klabel-broker-thread", start_broker_thread, opaque);
}

int kl_kafka_conf_producer(const struct kl_config *cfg, rd_kafka_conf_t **out,
                           char *err, size_t errsz)
{
    static const char *const defaults[][2] = {
        {"enable.idempotence", "true"},
        {"acks", "all"},
        /* librdkafka's own default. Its idempotent producer (2.0.2)
         * counts in-flight *messages* against the limit of 5 in-flight
         * *requests* per partition, so a partition has one request in
         * flight; a batch whose linger has expired meanwhile makes the
         * broker thread poll(2) with a zero timeout until the
         * acknowledgement arrives. With linger.ms=1 that busy poll was the
         * producer thread's largest cost: ~0.5 CPU us an event at
         * saturation (1.0 vs 0.5 with 5 ms) and 216k vs 39k poll calls in
         * 6 s at 10k events/s (delivery p50 2.1 -> 3.8 ms, p99 11.5 ->
         * 7.6 ms; at 1k/s p50 1.7 -> 5.4 ms). kafka.producer.linger.ms=1
         * trades that CPU for the 2-4 ms (docs/architecture.md). */
        {"linger.ms", "5"},
        {"client.id", "klabel-producer"},
        /* Results waiting for the broker (default 1 GiB). */
        {"queue.buffering.max.kbytes", "32768"},
        {NULL, NULL}};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int nice = (int)kl_config_get_int(cfg, "stage.producer.nice");
    int wait = (int)kl_config_get_int(cfg, "stage.producer.poll.wait.us");
    int rc = KL_OK, i;

    *out = NULL;
    for (i = 0; !rc && defaults[i][0]; i++)
        rc = kl_kafka_conf_set(conf, "producer", defaults[i][0],
                               defaults[i][1], err, errsz);
    if (!rc)
        rc = apply_user_and_fixed(cfg, conf, "producer", err, errsz);
    if (!rc && (nice > 0 || wait > 0) &&
        rd_kafka_conf_interceptor_add_on_new(
            conf, "klabel-broker-thread", add_thread_start,
            (void *)((intptr_t)wait << NICE_BITS | (nice & NICE_MASK)))) {
        snprintf(err, errsz, "producer: cannot add the broker thread "
                 "interceptor");
        rc = KL_EKAFKA;
    }
    if (rc)
        goto out;
    *out = conf;
    conf = NULL;
out:
    if (conf)
        rd_kafka_conf_destroy(conf);
    return rc;
}
