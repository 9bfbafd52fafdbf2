/*
 * `klbench gen`: produces COUNT JSON events to a topic, either as fast as
 * the client goes (rate 0: pre-loading for the saturation runs) or paced
 * at a fixed offered rate. Event i (id = id_base + i) carries headline
 * (id mod lines) of the texts file, so the set is replayed as often as
 * needed:
 *
 *   key   = "<id>"
 *   value = {"id":<id>,"text":"...","kind":"news","ts":<ms>,"sent_us":<us>}
 *   header bench.sent_us = <us>
 *
 * ts and sent_us are CLOCK_REALTIME read just before the record is handed
 * to rd_kafka_producev(). Pacing: record i is due at t0 + i / rate
 * (CLOCK_MONOTONIC); the generator sends every record that is due, then
 * sleeps until the next one is due but at least TICK_US, so at 50,000/s it
 * wakes 2,000 times a second and sends bursts of ~25 while keeping the
 * mean rate exact; linger.ms=1, as a real upstream producer would (one
 * produce request per record would load the broker more than the stages).
 * How far behind schedule it ever was is reported, so a generator that
 * could not offer the rate is seen. Prints one JSON line of figures at the
 * end.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "klbench.h"

#define TICK_US 500 /* shortest sleep between bursts of paced sends */

struct gen_texts {
    char **s;      /* (n) JSON-escaped headline content, no quotes */
    size_t *len;   /* (n) */
    size_t n, maxlen;
};

struct gen_stats {
    uint64_t delivered, failed;
};

/* Loads one text a line; returns 0 or -1 (message printed). */
static int texts_load(const char *path, struct gen_texts *t)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, acap = 0;
    ssize_t n;
    int rc = -1;

    memset(t, 0, sizeof *t);
    if (!f) {
        perror(path);
        return -1;
    }
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue;
        if (t->n == acap) {
            acap = acap ? 2 * acap : 1024;
            t->s = realloc(t->s, acap * sizeof *t->s);
            t->len = realloc(t->len, acap * sizeof *t->len);
            if (!t->s || !t->len)
                goto out;
        }
        t->s[t->n] = strdup(line);
        if (!t->s[t->n])
            goto out;
        t->len[t->n] = (size_t)n;
        if ((size_t)n > t->maxlen)
            t->maxlen = (size_t)n;
        t->n++;
    }
    rc = t->n ? 0 : -1;
    if (rc)
        fprintf(stderr, "klbench gen: %s has no text\n", path);
out:
    free(line);
    fclose(f);
    return rc;
}

static void texts_free(struct gen_texts *t)
{
    size_t i;

    for (i = 0; i < t->n; i++)
        free(t->s[i]);
    free(t->s);
    free(t->len);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                        void *opaque)
{
    struct gen_stats *st = opaque;

    (void)rk;
    if (rkm->err) {
        if (st->failed++ < 5)
            fprintf(stderr, "klbench gen: delivery failed: %s\n",
                    rd_kafka_err2str(rkm->err));
    } else {
        st->delivered++;
    }
}

/* Sends one event; waits (serving reports) while the queue is full. */
static int send_one(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int64_t id,
                    const char *kind, const struct gen_texts *t, char *buf,
                    size_t bufsz, int64_t *sent_us)
{
    size_t k = (size_t)id % t->n;
    rd_kafka_headers_t *hdrs;
    char key[32], hv[32];
    int kn, vn, hn;
    int64_t now;

    for (;;) {
        now = kl_bench_realtime_us();
        kn = snprintf(key, sizeof key, "%" PRId64, id);
        vn = snprintf(buf, bufsz,
                      "{\"id\":%" PRId64 ",\"text\":\"%s\",\"kind\":\"%s\","
                      "\"ts\":%" PRId64 ",\"sent_us\":%" PRId64 "}",
                      id, t->s[k], kind, now / 1000, now);
        hn = snprintf(hv, sizeof hv, "%" PRId64, now);
        hdrs = rd_kafka_headers_new(1);
        rd_kafka_header_add(hdrs, "bench.sent_us", -1, hv, hn);
        if (rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt),
                              RD_KAFKA_V_KEY(key, (size_t)kn),
                              RD_KAFKA_V_VALUE(buf, (size_t)vn),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_HEADERS(hdrs),
                              RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        rd_kafka_headers_destroy(hdrs);
        if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            fprintf(stderr, "klbench gen: produce: %s\n",
                    rd_kafka_err2str(rd_kafka_last_error()));
            return -1;
        }
        rd_kafka_poll(rk, 5);
        if (kl_bench_stop)
            return -1;
    }
    *sent_us = now;
    return 0;
}

static void sleep_until_mono(int64_t t_us)
{
    struct timespec ts;

    ts.tv_sec = t_us / 1000000;
    ts.tv_nsec = (t_us % 1000000) * 1000;
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

static void gen_usage(FILE *out)
{
    fprintf(out,
            "Usage: klbench gen -b BOOTSTRAP -t TOPIC -i TEXTS [options]\n\n"
            "  -b BOOTSTRAP      Kafka bootstrap servers\n"
            "  -t TOPIC          topic to produce to\n"
            "  -i TEXTS          one JSON-escaped text a line (replayed)\n"
            "  -r RATE           events/s; 0 = as fast as possible (default 0)\n"
            "  -n COUNT          events to send (default rate x seconds)\n"
            "  -d SECONDS        duration at RATE (default 10)\n"
            "      --id-base N   id of the first event (default 0)\n"
            "      --kind K      \"kind\" field (default news)\n"
            "  -X key=value      librdkafka producer property (repeatable)\n");
}

int kl_bench_gen_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"id-base", required_argument, NULL, 'I'},
        {"kind", required_argument, NULL, 'K'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *bs = NULL, *topic = NULL, *texts_path = NULL, *kind = "news";
    double rate = 0, secs = 10;
    int64_t count = -1, id_base = 0, i, t0, due, now, behind, behind_max = 0;
    int64_t first_sent = 0, last_sent = 0, sent_us, late_1ms = 0;
    struct gen_texts t = {0};
    struct gen_stats st = {0, 0};
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_t *rkt = NULL;
    char errstr[512], *buf = NULL, **xs = calloc((size_t)argc + 1, sizeof *xs);
    size_t bufsz, nx = 0, x;
    int c, rc = 1;

    optind = 0;
    while (xs && (c = getopt_long(argc, argv, "b:t:i:r:n:d:X:h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': bs = optarg; break;
        case 't': topic = optarg; break;
        case 'i': texts_path = optarg; break;
        case 'r': rate = atof(optarg); break;
        case 'n': count = atoll(optarg); break;
        case 'd': secs = atof(optarg); break;
        case 'I': id_base = atoll(optarg); break;
        case 'K': kind = optarg; break;
        case 'X': xs[nx++] = optarg; break;
        case 'h': gen_usage(stdout); rc = 0; goto out;
        default: gen_usage(stderr); rc = 2; goto out;
        }
    }
    if (!xs || !bs || !topic || !texts_path || rate < 0) {
        gen_usage(stderr);
        rc = 2;
        goto out;
    }
    if (count < 0)
        count = (int64_t)(rate * secs + 0.5);
    if (texts_load(texts_path, &t))
        goto out;
    bufsz = t.maxlen + strlen(kind) + 160;
    buf = malloc(bufsz);
    conf = rd_kafka_conf_new();
    if (!buf || kl_bench_conf_set(conf, "bootstrap.servers", bs) ||
        kl_bench_conf_set(conf, "client.id", "klbench-gen") ||
        kl_bench_conf_set(conf, "acks", "1") ||
        kl_bench_conf_set(conf, "enable.idempotence", "false") ||
        kl_bench_conf_set(conf, "linger.ms", rate > 0 ? "1" : "5") ||
        kl_bench_conf_set(conf, "batch.num.messages", "10000") ||
        kl_bench_conf_set(conf, "queue.buffering.max.messages", "2000000") ||
        kl_bench_conf_set(conf, "queue.buffering.max.kbytes", "1048576"))
        goto out;
    for (x = 0; x < nx; x++)
        if (kl_bench_conf_kv(conf, xs[x]))
            goto out;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &st);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "klbench gen: %s\n", errstr);
        goto out;
    }
    conf = NULL;
    rkt = rd_kafka_topic_new(rk, topic, NULL);
    kl_bench_signals();
    t0 = kl_bench_mono_us() + 1000;
    for (i = 0; i < count && !kl_bench_stop; i++) {
        if (rate > 0) {
            due = t0 + (int64_t)((double)i * 1e6 / rate);
            now = kl_bench_mono_us();
            if (now < due) {
                rd_kafka_poll(rk, 0);
                sleep_until_mono(due > now + TICK_US ? due : now + TICK_US);
                now = kl_bench_mono_us();
            }
            behind = now - due;
            if (behind > behind_max)
                behind_max = behind;
            if (behind > 1000)
                late_1ms++;
        }
        if (send_one(rk, rkt, id_base + i, kind, &t, buf, bufsz, &sent_us))
            break;
        if (!first_sent)
            first_sent = sent_us;
        last_sent = sent_us;
        if ((i & 255) == 0)
            rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 60000);
    printf("{\"sent\":%" PRId64 ",\"delivered\":%" PRIu64 ",\"failed\":%" PRIu64
           ",\"rate\":%.1f,\"first_sent_us\":%" PRId64 ",\"last_sent_us\":%" PRId64
           ",\"achieved_rate\":%.1f,\"behind_max_us\":%" PRId64
           ",\"late_over_1ms\":%" PRId64 ",\"id_base\":%" PRId64 "}\n",
           i, st.delivered, st.failed, rate, first_sent, last_sent,
           last_sent > first_sent ? (double)(i - 1) * 1e6 / (double)(last_sent - first_sent) : 0.0,
           behind_max, late_1ms, id_base);
    rc = (st.failed || (uint64_t)i != st.delivered || i < count) ? 1 : 0;
out:
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    if (rk)
        rd_kafka_destroy(rk);
    if (conf)
        rd_kafka_conf_destroy(conf);
    texts_free(&t);
    free(buf);
    free(xs);
    return rc;
}
