/*
 * Unit tests of the stage's threads on librdkafka's mock cluster
 * (fixture: stage_mock.h): with two workers and output.partition=same
 * every input partition's results come out in offset order, and so they
 * do with none (workers=0: the source thread runs every batch); routing by
 * kind sends events to two models (the result names the model) and
 * dead-letters an unrouted kind as no_route; pass-through
 * (stage.inference=false) labels nothing and still delivers; a slow
 * worker and a small queue make the input pause and resume (or, with a
 * long queue.hold.ms, only hold) with nothing lost; without
 * batch.close.idle batches close by deadline or size only.
 */
#include "stage_mock.h"

TestSuite(stage_mock, .init = setup, .fini = teardown, .timeout = 90);

/* ------------------------------------------------------------- threads */

/* Produces a good event of the given kind (NULL: no kind). */
static void produce_kind(rd_kafka_t *rk, long id, const char *kind)
{
    char v[256];

    if (kind)
        snprintf(v, sizeof v, "{\"id\":%ld,\"text\":\"%s %s\",\"kind\":\"%s\"}",
                 id, id % 2 ? "stock" : "football", id % 2 ? "market" : "goal",
                 kind);
    else
        snprintf(v, sizeof v, "{\"id\":%ld,\"text\":\"%s\"}", id,
                 id % 2 ? "stock market" : "football goal");
    produce_input(rk, id, v, strlen(v), 0);
}

/* Checks that, read per output partition, results carry strictly
 * increasing source offsets of the same input partition. */
static void expect_partition_order(const struct sink *out)
{
    int64_t last[IN_PARTS];
    long i;
    int p;

    for (p = 0; p < IN_PARTS; p++)
        last[p] = -1;
    for (i = 0; i < out->n; i++) {
        cJSON *j = cJSON_Parse(out->r[i].value);
        const cJSON *src = cJSON_GetObjectItem(j, "source");
        const cJSON *sp = cJSON_GetObjectItem(src, "partition");
        const cJSON *so = cJSON_GetObjectItem(src, "offset");
        int32_t part;
        int64_t off;

        cr_assert(cJSON_IsNumber(sp) && cJSON_IsNumber(so), "%s",
                  out->r[i].value);
        part = (int32_t)sp->valuedouble;
        off = (int64_t)so->valuedouble;
        cr_assert(part >= 0 && part < IN_PARTS);
        cr_expect_eq(out->r[i].part, part,
                     "output.partition=same: input %d went to %d", (int)part,
                     (int)out->r[i].part);
        cr_expect_gt(off, last[part], "partition %d: offset %lld after %lld",
                     (int)part, (long long)off, (long long)last[part]);
        last[part] = off;
        cJSON_Delete(j);
    }
}

/* 900 events through a stage with the given workers setting and
 * output.partition=same: every result once, each input partition's in
 * offset order, the counters consistent, every offset committed. */
static void order_run(const char *topic, const char *workers, int threads)
{
    static struct sink out;
    char err[512];
    rd_kafka_t *rk;
    long i, n = 900;
    struct kl_stage_stats st;

    cr_assert_eq(kl_mock_topic(&fx.mock, topic, IN_PARTS, err, sizeof err),
                 0);
    cfg_set("output.topic", topic);
    cfg_set("output.partition", "same");
    cfg_set("workers", workers);
    cfg_set("batch.max.size", "16");
    cfg_set("batch.max.delay.us", "300");
    start_stage();
    cr_expect_eq(kl_stage_worker_count(fx.s), threads);
    rk = input_producer();
    for (i = 0; i < n; i++)
        produce_good(rk, i);
    finish_inputs(rk);
    read_topic(topic, IN_PARTS, n, &out);
    cr_assert_eq(out.n, n, "results: %ld of %ld", out.n, n);
    cr_assert_eq(stop_stage(), 0, "stage: %s", fx.err);
    expect_partition_order(&out);
    kl_stage_get_stats(fx.s, &st);
    cr_expect_eq(st.out, (uint64_t)n);
    cr_expect_geq(st.batches, (uint64_t)n / 16);
    cr_expect_eq(st.batch_size.count, st.batches);
    cr_expect_eq(st.queue_wait_us.count, (uint64_t)n);
    cr_expect_eq(st.produce_us.count, (uint64_t)n);
    cr_expect_eq(st.queued, 0);
    /* Decode and featurize split the sampled total: both get a share. */
    cr_expect_gt(st.decode_ns, 0);
    cr_expect_gt(st.featurize_ns, 0);
    /* ... and so do encode and produce, on the workers or the source. */
    cr_expect_gt(st.encode_ns, 0);
    cr_expect_gt(st.produce_ns, 0);
    expect_committed_end(rk);
    free_sink(&out);
    rd_kafka_destroy(rk);
}

Test(stage_mock, two_workers_keep_partition_order)
{
    order_run("out3", "2", 2);
}

/* workers=0: the source thread runs every batch; nothing queues between
 * threads, so even a queue of two batches never holds or pauses the input
 * (with one worker thread the same queue held 18-27 times). */
Test(stage_mock, no_worker_thread_keeps_partition_order)
{
    struct kl_stage_stats st;

    cfg_set("queue.max.events", "32");
    order_run("out0", "0", 0);
    kl_stage_get_stats(fx.s, &st);
    cr_expect_eq(st.pauses, 0);
    cr_expect_eq(st.holds, 0);
}

Test(stage_mock, routes_by_kind_to_two_models)
{
    static struct sink out, dlq;
    char err[512], txn_path[160];
    rd_kafka_t *rk;
    long i, n = 300, id;
    const char *kinds[] = {"news", "transaction", "sport"};
    const struct kl_model_info *mi;
    const char *name;

    snprintf(txn_path, sizeof txn_path, "%s/txn.safetensors", dir);
    train_into(txn_path, "txn-model");
    cr_assert_eq(kl_mock_topic(&fx.mock, "out3", IN_PARTS, err, sizeof err),
                 0);
    cfg_set("output.topic", "out3");
    cfg_set("output.partition", "same");
    cfg_set("model.path", "");
    cfg_set("models", "news,txn");
    cfg_set("model.news.path", model_path);
    cfg_set("model.txn.path", txn_path);
    cfg_set("route.kind.news", "news");
    cfg_set("route.kind.transaction", "txn");
    cfg_set("route.default", "none");
    cfg_set("batch.max.size", "8");
    start_stage();
    cr_assert_eq(kl_stage_model_count(fx.s), 2);
    mi = kl_stage_model_info(fx.s, 1, &name);
    cr_expect_str_eq(name, "txn");
    cr_expect_str_eq(mi->id, "txn-model");
    rk = input_producer();
    for (i = 0; i < n; i++)
        produce_kind(rk, i, kinds[i % 3]);
    finish_inputs(rk);
    read_topic("out3", IN_PARTS, n / 3 * 2, &out);
    read_topic(T_DLQ, 1, n / 3, &dlq);
    cr_assert_eq(out.n, n / 3 * 2, "results: %ld", out.n);
    cr_assert_eq(dlq.n, n / 3, "dead letters: %ld", dlq.n);
    cr_assert_eq(stop_stage(), 0, "stage: %s", fx.err);
    for (i = 0; i < out.n; i++) {
        cJSON *j = cJSON_Parse(out.r[i].value);
        const cJSON *mid = cJSON_GetObjectItem(
            cJSON_GetObjectItem(j, "model"), "id");

        check_result(&out.r[i], &id);
        cr_expect_neq(id % 3, 2, "sport was labeled");
        cr_expect(cJSON_IsString(mid) &&
                      !strcmp(mid->valuestring,
                              id % 3 == 0 ? "tiny" : "txn-model"),
                  "id %ld (%s) labeled by %s", id, kinds[id % 3],
                  cJSON_IsString(mid) ? mid->valuestring : "?");
        cJSON_Delete(j);
    }
    /* Kinds alternate within each partition: results still in order. */
    expect_partition_order(&out);
    for (i = 0; i < dlq.n; i++)
        cr_expect_str_eq(dlq.r[i].cls, "no_route", "%s", dlq.r[i].reason);
    expect_committed_end(rk);
    free_sink(&out);
    free_sink(&dlq);
    rd_kafka_destroy(rk);
}

Test(stage_mock, pass_through_labels_nothing)
{
    static struct sink out;
    rd_kafka_t *rk;
    long i, n = 100;
    struct kl_stage_stats st;

    cfg_set("stage.inference", "false");
    rk = run_good_events(n, &out);
    for (i = 0; i < out.n; i++) {
        cJSON *j = cJSON_Parse(out.r[i].value);
        const cJSON *mid = cJSON_GetObjectItem(
            cJSON_GetObjectItem(j, "model"), "id");

        cr_expect(cJSON_IsNull(cJSON_GetObjectItem(j, "label")), "%s",
                  out.r[i].value);
        cr_expect(cJSON_IsString(mid) && !strcmp(mid->valuestring, "tiny"));
        cJSON_Delete(j);
    }
    kl_stage_get_stats(fx.s, &st);
    cr_expect_eq(st.featurize_ns, 0, "nothing featurized");
    expect_committed_end(rk);
    free_sink(&out);
    rd_kafka_destroy(rk);
}

/* n good events in one go, then the stage's counters: every id has a
 * result whatever closed the batches. */
static void few_events(long n, struct kl_stage_stats *st)
{
    static struct sink out;
    rd_kafka_t *rk = run_good_events(n, &out);

    kl_stage_get_stats(fx.s, st);
    expect_committed_end(rk);
    free_sink(&out);
    rd_kafka_destroy(rk);
}

Test(stage_mock, idle_worker_takes_the_batch_at_once)
{
    struct kl_stage_stats st;

    cfg_set("batch.max.delay.us", "2000000");
    few_events(10, &st);
    cr_expect_gt(st.closes[KL_CLOSE_IDLE], 0, "idle closes");
    cr_expect_eq(st.closes[KL_CLOSE_DEADLINE], 0, "deadline closes");
    cr_expect_lt(st.queue_wait_us.max, 1000000, "longest queue wait %llu us",
                 (unsigned long long)st.queue_wait_us.max);
}

Test(stage_mock, without_idle_close_the_deadline_closes)
{
    struct kl_stage_stats st;

    cfg_set("batch.close.idle", "false");
    cfg_set("batch.max.delay.us", "20000");
    few_events(10, &st);
    cr_expect_eq(st.closes[KL_CLOSE_IDLE], 0, "idle closes");
    cr_expect_gt(st.closes[KL_CLOSE_DEADLINE], 0, "deadline closes");
    /* a batch's first event waited the whole delay */
    cr_expect_geq(st.queue_wait_us.max, 20000, "longest queue wait %llu us",
                  (unsigned long long)st.queue_wait_us.max);
}

/* 400 good events through a stage whose worker sleeps 3 ms per batch and
 * whose queue holds 24 events (batches of 8), with the extra settings
 * already made: every id has a result, nothing stays queued, the end
 * offsets are committed. The stage's counters go to *st. */
static void flood_slow_worker(struct kl_stage_stats *st)
{
    static struct sink out;
    rd_kafka_t *rk;
    unsigned char seen[MAXN] = {0};
    long i, n = 400, id, distinct = 0;

    kl_health_configure(0, 3); /* the worker sleeps 3 ms before each batch */
    cfg_set("queue.max.events", "24");
    cfg_set("batch.max.size", "8");
    start_stage();
    rk = input_producer();
    for (i = 0; i < n; i++)
        produce_good(rk, i);
    finish_inputs(rk);
    read_topic(T_OUT, 2, n, &out);
    cr_assert_eq(stop_stage(), 0, "stage: %s", fx.err);
    kl_health_configure(0, 0);
    for (i = 0; i < out.n; i++) {
        check_result(&out.r[i], &id);
        if (!seen[id]++)
            distinct++;
    }
    cr_expect_eq(distinct, n, "distinct results %ld of %ld", distinct, n);
    kl_stage_get_stats(fx.s, st);
    cr_expect_eq(st->queued, 0);
    expect_committed_end(rk);
    free_sink(&out);
    rd_kafka_destroy(rk);
}

Test(stage_mock, small_queue_pauses_and_resumes_without_loss)
{
    struct kl_stage_stats st;

    cfg_set("queue.resume.ratio", "0.25");
    cfg_set("queue.hold.ms", "0"); /* pause at once, no hold first */
    flood_slow_worker(&st);
    cr_expect_gt(st.pauses, 0, "never paused");
    cr_expect_gt(st.resumes, 0, "never resumed");
    cr_expect_eq(st.paused, 0, "ends resumed or stopped with an empty queue");
}

Test(stage_mock, full_queue_holds_input_without_pausing)
{
    struct kl_stage_stats st;

    cfg_set("queue.hold.ms", "60000"); /* never long enough to pause */
    flood_slow_worker(&st);
    cr_expect_gt(st.holds, 0, "never held");
    cr_expect_eq(st.pauses, 0, "paused although the hold never ran out");
}
