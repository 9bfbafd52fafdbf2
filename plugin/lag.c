/*
 * Consumer lag from librdkafka statistics (plugin/lag.h). The statistics
 * callback runs on the thread that serves the consumer's queue (the
 * stage's poll), every metrics.stats.interval.ms; it parses the document
 * with cJSON and sets klabel_consumer_lag{topic,partition} for every
 * partition that is being fetched and has a known lag.
 *
 * Document shape (librdkafka STATISTICS.md):
 *   {"type":"consumer", "topics":{"<topic>":{"partitions":{"<id>":
 *     {"partition":0, "fetch_state":"active", "consumer_lag":12, ...}}}}}
 * Partition "-1" is librdkafka's internal unassigned partition; a
 * fetch_state of "none" means not assigned here; consumer_lag is -1 while
 * nothing has been committed.
 */
#include "lag.h"

#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "config.h"
#include "kafka_conf.h"
#include "klabel/engine.h"
#include "log.h"
#include "metrics.h"

#define COMP "lag"

int kl_lag_update(const char *json, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(json, len), *topics, *t, *parts, *p,
          *lag, *state;
    int n = 0;

    if (!root)
        return KL_EFORMAT;
    topics = cJSON_GetObjectItemCaseSensitive(root, "topics");
    cJSON_ArrayForEach(t, topics) {
        parts = cJSON_GetObjectItemCaseSensitive(t, "partitions");
        cJSON_ArrayForEach(p, parts) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(p, "partition");

            lag = cJSON_GetObjectItemCaseSensitive(p, "consumer_lag");
            state = cJSON_GetObjectItemCaseSensitive(p, "fetch_state");
            if (!t->string || !cJSON_IsNumber(id) || id->valuedouble < 0 ||
                !cJSON_IsNumber(lag) || lag->valuedouble < 0 ||
                (cJSON_IsString(state) && !strcmp(state->valuestring, "none")))
                continue;
            kl_metrics_set_lag(t->string, (int32_t)id->valuedouble,
                               (int64_t)lag->valuedouble);
            n++;
        }
    }
    cJSON_Delete(root);
    kl_metrics_sweep_lag();
    return n;
}

/* librdkafka's stats_cb: json is ours to read during the call only (we
 * return 0, librdkafka frees it). */
static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    (void)opaque;
    if (kl_lag_update(json, len) < 0)
        KL_LOG(KL_LOG_WARNING, COMP, "%s: statistics did not parse",
               rd_kafka_name(rk));
    return 0;
}

int kl_lag_conf(const struct kl_config *cfg, rd_kafka_conf_t *conf, char *err,
                size_t errsz)
{
    int64_t port = kl_config_get_int(cfg, "metrics.port");
    int64_t every = kl_config_get_int(cfg, "metrics.stats.interval.ms");
    char v[24];
    int rc;

    if (!port || !every)
        return KL_OK;
    snprintf(v, sizeof v, "%lld", (long long)every);
    rc = kl_kafka_conf_set(conf, "consumer", "statistics.interval.ms", v, err,
                           errsz);
    if (rc)
        return rc;
    rd_kafka_conf_set_stats_cb(conf, stats_cb);
    return KL_OK;
}
