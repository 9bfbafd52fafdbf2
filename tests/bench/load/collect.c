/*
 * `klbench collect`: reads every result of a topic (all partitions from the
 * beginning, no consumer group) and writes one struct kl_bench_rec per
 * result to OUT: its receive time (CLOCK_REALTIME, taken as
 * rd_kafka_consumer_poll() returns it), the generator's send time and the
 * stage's consume / produce stamps from the headers the stage carried over
 * (bench.sent_us, bench.c_us, bench.p_us), its "id" and its top "label"
 * (an index into OUT.labels, one label a line). Results are expected to be
 * JSON objects starting with "id" (klabel's and the peers' shape).
 *
 * Prints "P <count> <last_recv_us>" every --progress-ms to stdout so the
 * driver can follow; runs until SIGTERM/SIGINT, then prints "END <count>".
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klbench.h"

#define MAX_LABELS 256

struct labels {
    char *name[MAX_LABELS];
    size_t n;
};

/* Index of label s[0..n) in lb, added if new; -1 when the table is full. */
static int label_index(struct labels *lb, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < lb->n; i++)
        if (strlen(lb->name[i]) == n && !memcmp(lb->name[i], s, n))
            return (int)i;
    if (lb->n == MAX_LABELS || !(lb->name[lb->n] = strndup(s, n)))
        return -1;
    return (int)lb->n++;
}

/* Parses a decimal integer of at most n bytes; 0 if there is none. */
static int64_t parse_i64(const char *s, size_t n)
{
    char tmp[32];

    if (!s || n == 0 || n >= sizeof tmp)
        return 0;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    return strtoll(tmp, NULL, 10);
}

static int64_t header_i64(rd_kafka_headers_t *hdrs, const char *name)
{
    const void *v;
    size_t n;

    if (!hdrs || rd_kafka_header_get_last(hdrs, name, &v, &n))
        return 0;
    return parse_i64(v, n);
}

/* The value after the first `"key":` in p[0..n), or NULL. */
static const char *field(const char *p, size_t n, const char *key,
                         size_t *rest)
{
    size_t kn = strlen(key);
    const char *q = memmem(p, n, key, kn);

    if (!q)
        return NULL;
    q += kn;
    while (q < p + n && (*q == ' ' || *q == '\t')) /* json.dumps writes ": " */
        q++;
    *rest = n - (size_t)(q - p);
    return q;
}

static void parse_value(const rd_kafka_message_t *rkm, struct labels *lb,
                        struct kl_bench_rec *r)
{
    const char *p = rkm->payload, *q, *e;
    size_t n = rkm->len, rest;

    r->id = -1;
    r->label = -1;
    if (!p)
        return;
    q = field(p, n, "\"id\":", &rest);
    if (q) {
        if (rest && *q == '"') { /* a string id */
            q++;
            rest--;
        }
        e = q;
        while ((size_t)(e - q) < rest && *e >= '0' && *e <= '9')
            e++;
        if (e > q)
            r->id = parse_i64(q, (size_t)(e - q));
    }
    q = field(p, n, "\"label\":", &rest);
    if (q && rest && *q == '"') {
        q++;
        e = memchr(q, '"', rest - 1);
        if (e)
            r->label = label_index(lb, q, (size_t)(e - q));
    }
}

static int assign_all(rd_kafka_t *rk, const char *topic)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_partition_list_t *parts;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t err;
    int i, rc = -1;

    err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    if (err || md->topic_cnt != 1 || md->topics[0].err ||
        md->topics[0].partition_cnt < 1) {
        fprintf(stderr, "klbench collect: metadata of %s: %s\n", topic,
                rd_kafka_err2str(err ? err : md->topics[0].err));
        goto out;
    }
    parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
    for (i = 0; i < md->topics[0].partition_cnt; i++)
        rd_kafka_topic_partition_list_add(parts, topic,
                                          md->topics[0].partitions[i].id)
            ->offset = RD_KAFKA_OFFSET_BEGINNING;
    err = rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (err) {
        fprintf(stderr, "klbench collect: assign: %s\n", rd_kafka_err2str(err));
        goto out;
    }
    rc = 0;
out:
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return rc;
}

static void collect_usage(FILE *out)
{
    fprintf(out,
            "Usage: klbench collect -b BOOTSTRAP -t TOPIC -o OUT [options]\n\n"
            "  -o OUT             binary records (struct kl_bench_rec)\n"
            "      --labels FILE  label names (default OUT.labels)\n"
            "      --progress-ms N  progress line interval (default 100)\n"
            "  -X key=value       librdkafka consumer property (repeatable)\n");
}

static int write_labels(const char *path, const struct labels *lb)
{
    FILE *f = fopen(path, "w");
    size_t i;

    if (!f) {
        perror(path);
        return -1;
    }
    for (i = 0; i < lb->n; i++)
        fprintf(f, "%s\n", lb->name[i]);
    return fclose(f) ? -1 : 0;
}

int kl_bench_collect_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"labels", required_argument, NULL, 'L'},
        {"progress-ms", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *bs = NULL, *topic = NULL, *outp = NULL, *labels_path = NULL;
    char lbuf[4096], errstr[512], **xs = calloc((size_t)argc + 1, sizeof *xs);
    struct labels lb = {{0}, 0};
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;
    FILE *out = NULL;
    uint64_t count = 0;
    int64_t last_recv = 0, next_progress, progress_us = 100000;
    size_t nx = 0, x;
    int c, rc = 1;

    optind = 0;
    while (xs && (c = getopt_long(argc, argv, "b:t:o:X:h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': bs = optarg; break;
        case 't': topic = optarg; break;
        case 'o': outp = optarg; break;
        case 'L': labels_path = optarg; break;
        case 'P': progress_us = atoll(optarg) * 1000; break;
        case 'X': xs[nx++] = optarg; break;
        case 'h': collect_usage(stdout); rc = 0; goto out;
        default: collect_usage(stderr); rc = 2; goto out;
        }
    }
    if (!xs || !bs || !topic || !outp || progress_us <= 0) {
        collect_usage(stderr);
        rc = 2;
        goto out;
    }
    if (!labels_path) {
        snprintf(lbuf, sizeof lbuf, "%s.labels", outp);
        labels_path = lbuf;
    }
    out = fopen(outp, "wb");
    if (!out) {
        perror(outp);
        goto out;
    }
    setvbuf(out, NULL, _IOFBF, 1 << 20);
    conf = rd_kafka_conf_new();
    if (kl_bench_conf_set(conf, "bootstrap.servers", bs) ||
        kl_bench_conf_set(conf, "client.id", "klbench-collect") ||
        kl_bench_conf_set(conf, "group.id", "klbench-collect") ||
        kl_bench_conf_set(conf, "enable.auto.commit", "false") ||
        kl_bench_conf_set(conf, "enable.partition.eof", "false") ||
        kl_bench_conf_set(conf, "fetch.wait.max.ms", "100") ||
        /* librdkafka 2.0.2 stops fetching once its queue holds
         * queued.min.messages (default 100,000) and looks again only when
         * its broker thread wakes, up to a second later (the pause
         * plugin/kafka_conf.c sizes klabel's own consumer against). A
         * collector that fell that far behind a saturated stage sat idle
         * for 0.8-0.9 s at a time, then read back at 1.3-2M results/s:
         * the last result came seconds late, and five of ten (a) rounds
         * measured 253-455k events/s instead of 536-640k. Room for a whole
         * round's results means it never pauses. */
        kl_bench_conf_set(conf, "queued.min.messages", "10000000") ||
        kl_bench_conf_set(conf, "queued.max.messages.kbytes", "2097151"))
        goto out;
    for (x = 0; x < nx; x++)
        if (kl_bench_conf_kv(conf, xs[x]))
            goto out;
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "klbench collect: %s\n", errstr);
        goto out;
    }
    conf = NULL;
    rd_kafka_poll_set_consumer(rk);
    if (assign_all(rk, topic))
        goto out;
    kl_bench_signals();
    printf("READY\n");
    fflush(stdout);
    next_progress = kl_bench_mono_us() + progress_us;
    while (!kl_bench_stop) {
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 20);
        int64_t now;

        if (rkm) {
            struct kl_bench_rec r;
            rd_kafka_headers_t *hdrs = NULL;

            r.recv_us = kl_bench_realtime_us();
            if (!rkm->err) {
                if (rd_kafka_message_headers(rkm, &hdrs))
                    hdrs = NULL;
                r.sent_us = header_i64(hdrs, "bench.sent_us");
                r.c_us = header_i64(hdrs, "bench.c_us");
                r.p_us = header_i64(hdrs, "bench.p_us");
                r.partition = rkm->partition;
                parse_value(rkm, &lb, &r);
                if (fwrite(&r, sizeof r, 1, out) != 1) {
                    perror(outp);
                    rd_kafka_message_destroy(rkm);
                    goto out;
                }
                count++;
                last_recv = r.recv_us;
            } else {
                fprintf(stderr, "klbench collect: %s\n",
                        rd_kafka_message_errstr(rkm));
            }
            rd_kafka_message_destroy(rkm);
        }
        now = kl_bench_mono_us();
        if (now >= next_progress) {
            printf("P %" PRIu64 " %" PRId64 "\n", count, last_recv);
            fflush(stdout);
            next_progress = now + progress_us;
        }
    }
    if (fflush(out) || write_labels(labels_path, &lb))
        goto out;
    printf("END %" PRIu64 "\n", count);
    fflush(stdout);
    rc = 0;
out:
    if (out)
        fclose(out);
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    if (conf)
        rd_kafka_conf_destroy(conf);
    for (x = 0; x < lb.n; x++)
        free(lb.name[x]);
    free(xs);
    return rc;
}
