/*
 * kl_trace_ic.c: a librdkafka interceptor plugin for the stage benchmark
 * (tests/bench). Loaded into a stage's own clients through librdkafka's
 * `plugin.library.paths` (klabel: -X kafka.plugin.library.paths=...), it
 * stamps the two moments that define consume-to-produce latency without
 * touching the stage's code:
 *
 *   on_consume  a record is handed to the application by
 *               rd_kafka_consumer_poll(): header "bench.c_us" is added;
 *   on_send     the application calls rd_kafka_produce*(): header
 *               "bench.p_us" is added.
 *
 * A stage that carries input headers over to its output (klabel does)
 * thus writes both stamps into every result; the latency collector
 * (klbench collect) subtracts them. Values are CLOCK_REALTIME microseconds
 * as decimal ASCII, the clock the load generator and the collector use too.
 * Only for benchmarks: it adds two headers (~40 bytes) to every record.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "numfmt.h"

#define IC_NAME "kl_trace_ic"

static long long realtime_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* Adds header name = now (µs) to rkm, creating its header list if needed. */
static void stamp(rd_kafka_message_t *rkm, const char *name)
{
    rd_kafka_headers_t *hdrs = NULL;
    char v[KL_NUMFMT_MAX];
    /* Not snprintf (plugin/numfmt.h): in a process that has libquadmath
     * loaded every printf call takes glibc's slow path, and this runs
     * twice per record inside the stage being measured. */
    size_t n = kl_fmt_i64(v, realtime_us());

    if (rd_kafka_message_headers(rkm, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        !hdrs) {
        hdrs = rd_kafka_headers_new(2);
        rd_kafka_message_set_headers(rkm, hdrs);
    }
    /* A record that is traced twice (stage chains) keeps the latest stamp. */
    rd_kafka_header_remove(hdrs, name);
    rd_kafka_header_add(hdrs, name, -1, v, (ssize_t)n);
}

static rd_kafka_resp_err_t on_consume(rd_kafka_t *rk, rd_kafka_message_t *rkm,
                                      void *ic_opaque)
{
    (void)rk;
    (void)ic_opaque;
    if (!rkm->err)
        stamp(rkm, "bench.c_us");
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

static rd_kafka_resp_err_t on_send(rd_kafka_t *rk, rd_kafka_message_t *rkm,
                                   void *ic_opaque)
{
    (void)rk;
    (void)ic_opaque;
    stamp(rkm, "bench.p_us");
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

static rd_kafka_resp_err_t on_new(rd_kafka_t *rk, const rd_kafka_conf_t *conf,
                                  void *ic_opaque, char *errstr,
                                  size_t errstr_size)
{
    (void)conf;
    (void)errstr;
    (void)errstr_size;
    rd_kafka_interceptor_add_on_consume(rk, IC_NAME, on_consume, ic_opaque);
    rd_kafka_interceptor_add_on_send(rk, IC_NAME, on_send, ic_opaque);
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

static rd_kafka_resp_err_t on_conf_dup(rd_kafka_conf_t *new_conf,
                                       const rd_kafka_conf_t *old_conf,
                                       size_t filter_cnt, const char **filter,
                                       void *ic_opaque);

/* Registers the interceptors on conf (and on every copy made of it). */
static void add_conf_interceptors(rd_kafka_conf_t *conf)
{
    rd_kafka_conf_interceptor_add_on_new(conf, IC_NAME, on_new, NULL);
    rd_kafka_conf_interceptor_add_on_conf_dup(conf, IC_NAME, on_conf_dup,
                                              NULL);
}

static rd_kafka_resp_err_t on_conf_dup(rd_kafka_conf_t *new_conf,
                                       const rd_kafka_conf_t *old_conf,
                                       size_t filter_cnt, const char **filter,
                                       void *ic_opaque)
{
    (void)old_conf;
    (void)filter_cnt;
    (void)filter;
    (void)ic_opaque;
    add_conf_interceptors(new_conf);
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* The plugin entry point librdkafka looks up (rd_kafka_plugin_new). */
rd_kafka_resp_err_t conf_init(rd_kafka_conf_t *conf, void **plug_opaquep,
                              char *errstr, size_t errstr_size);
rd_kafka_resp_err_t conf_init(rd_kafka_conf_t *conf, void **plug_opaquep,
                              char *errstr, size_t errstr_size)
{
    (void)errstr;
    (void)errstr_size;
    *plug_opaquep = NULL;
    add_conf_interceptors(conf);
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}
