/*
 * Unit tests of the stage (plugin/stage.c, stage_src.c, worker.c,
 * stage_out.c, transport_kafka.c) against librdkafka's in-process mock
 * cluster (fixture: stage_mock.h): good events give results with the
 * right ids, keys, headers and source coordinates and commit the end
 * offsets, also when stopped with results in flight; bad events go to the
 * dead-letter topic with the right klabel.*
 * headers while their neighbours are labeled; retriable produce errors
 * still end with every result delivered and committed; a permanent
 * produce error stops the stage with an error and leaves its offset
 * uncommitted; a fatal producer error stops it too. The last test runs
 * the same stage over the "file" transport (no broker). Threads, routing
 * and backpressure: test_stage_threads.c.
 */
#include "stage_mock.h"

TestSuite(stage_mock, .init = setup, .fini = teardown, .timeout = 90);

/* ---------------------------------------------------------------- tests */

Test(stage_mock, good_events_labeled_and_committed)
{
    static struct sink out;
    rd_kafka_t *rk;
    unsigned char seen[MAXN] = {0};
    long i, id, n = 200;
    struct kl_stage_stats st;

    rk = run_good_events(n, &out);
    for (i = 0; i < out.n; i++) {
        check_result(&out.r[i], &id);
        cr_expect_eq(seen[id], 0, "id %ld twice", id);
        seen[id] = 1;
    }
    kl_stage_get_stats(fx.s, &st);
    cr_expect_eq(st.in, (uint64_t)n);
    cr_expect_eq(st.out, (uint64_t)n);
    cr_expect_eq(st.dlq, 0);
    cr_expect_eq(st.inflight, 0);
    cr_expect_eq(st.latency_us.count, (uint64_t)n);
    expect_committed_end(rk);
    free_sink(&out);
    rd_kafka_destroy(rk);
}

/* Stopped while results still wait for the broker's answer (a 1 s round
 * trip): shutdown serves those deliveries and stores and
 * commits their offsets before it closes (offsets are stored in one call
 * per partition after the reports are served, kl_stage_store_offsets). */
Test(stage_mock, stop_with_results_in_flight_commits_them)
{
    rd_kafka_t *rk;
    long i, n = 60;
    struct kl_stage_stats st;

    start_stage();
    cr_assert_eq(rd_kafka_mock_broker_set_rtt(fx.mock.mcluster, 1, 1000), 0);
    rk = input_producer();
    for (i = 0; i < n; i++)
        produce_good(rk, i);
    finish_inputs(rk);
    /* every input consumed, some results still unacknowledged */
    for (i = 0; i < 10000; i++) {
        kl_stage_get_stats(fx.s, &st);
        if (st.in == (uint64_t)n && st.inflight > 0)
            break;
        usleep(1000);
    }
    cr_assert_eq(st.in, (uint64_t)n, "consumed %llu of %ld",
                 (unsigned long long)st.in, n);
    cr_assert_gt(st.inflight, 0, "nothing in flight: the test proves nothing");
    cr_assert_eq(stop_stage(), 0, "stage: %s", fx.err);
    kl_stage_get_stats(fx.s, &st);
    cr_expect_eq(st.out, (uint64_t)n);
    cr_expect_eq(st.inflight, 0);
    cr_assert_eq(rd_kafka_mock_broker_set_rtt(fx.mock.mcluster, 1, 0), 0);
    expect_committed_end(rk);
    rd_kafka_destroy(rk);
}

/* One bad input and the class its dead letter must carry. */
struct bad {
    long id;
    const char *cls;
};

Test(stage_mock, bad_events_dead_lettered)
{
    static struct sink out, dlq;
    static const char bad_utf8[] = "{\"id\":11,\"text\":\"ok \xff\xfe bad\"}";
    static const char empty[] = "{\"id\":12,\"text\":\"\"}";
    static const char malformed[] = "{\"id\":13,\"text\":";
    static const char no_tokens[] = "{\"id\":15,\"text\":\"!!! ??? ...\"}";
    const struct bad bads[] = {{11, "invalid_utf8"}, {12, "empty_text"},
                               {13, "malformed"},    {14, "oversize"},
                               {15, "empty_text"}};
    char big[2048];
    rd_kafka_t *rk;
    long i, j, id, ngood = 0;
    struct kl_stage_stats st;

    cfg_set("input.max.bytes", "1024");
    start_stage();
    rk = input_producer();
    for (i = 0; i < 10; i++, ngood++)
        produce_good(rk, i);
    produce_input(rk, 11, bad_utf8, strlen(bad_utf8), 1);
    produce_input(rk, 12, empty, strlen(empty), 0);
    produce_input(rk, 13, malformed, strlen(malformed), 0);
    memset(big, 'a', sizeof big);
    memcpy(big, "{\"id\":14,\"text\":\"", 17);
    memcpy(big + sizeof big - 2, "\"}", 2);
    produce_input(rk, 14, big, sizeof big, 0);
    produce_input(rk, 15, no_tokens, strlen(no_tokens), 0);
    for (i = 20; i < 30; i++, ngood++)
        produce_good(rk, i);
    finish_inputs(rk);
    read_topic(T_OUT, 2, ngood, &out);
    read_topic(T_DLQ, 1, 5, &dlq);
    cr_assert_eq(out.n, ngood, "results: %ld of %ld", out.n, ngood);
    cr_assert_eq(dlq.n, 5, "dead letters: %ld of 5", dlq.n);
    cr_assert_eq(stop_stage(), 0, "stage: %s", fx.err);
    for (i = 0; i < out.n; i++)
        check_result(&out.r[i], &id);
    for (j = 0; j < 5; j++) {
        const struct rec *r = NULL;
        char key[32], num[32];

        snprintf(key, sizeof key, "k%ld", bads[j].id);
        for (i = 0; i < dlq.n; i++)
            if (!strcmp(dlq.r[i].key, key))
                r = &dlq.r[i];
        cr_assert_not_null(r, "no dead letter for id %ld", bads[j].id);
        cr_expect_str_eq(r->cls, bads[j].cls, "class of id %ld (%s)",
                         bads[j].id, r->reason);
        cr_expect_eq(r->nclass, 1, "klabel.error.class headers of id %ld",
                     bads[j].id);
        cr_expect_neq(r->reason[0], '\0');
        cr_expect_leq(strlen(r->reason), 256);
        cr_expect_str_eq(r->src_topic, T_IN);
        snprintf(num, sizeof num, "%d", (int)in_part[bads[j].id]);
        cr_expect_str_eq(r->src_part, num);
        snprintf(num, sizeof num, "%lld", (long long)in_off[bads[j].id]);
        cr_expect_str_eq(r->src_off, num);
        cr_expect_str_eq(r->instance, "test-1");
        snprintf(num, sizeof num, "t-%ld", bads[j].id);
        cr_expect_str_eq(r->hdr_trace, num, "original headers kept");
    }
    /* The original value is kept byte for byte. */
    for (i = 0; i < dlq.n; i++)
        if (!strcmp(dlq.r[i].key, "k11"))
            cr_expect(dlq.r[i].len == strlen(bad_utf8) &&
                      !memcmp(dlq.r[i].value, bad_utf8, dlq.r[i].len));
    kl_stage_get_stats(fx.s, &st);
    cr_expect_eq(st.out, (uint64_t)ngood);
    cr_expect_eq(st.dlq, 5);
    expect_committed_end(rk);
    free_sink(&out);
    free_sink(&dlq);
    rd_kafka_destroy(rk);
}

Test(stage_mock, retriable_produce_errors_still_deliver)
{
    static struct sink out;
    rd_kafka_t *rk;
    unsigned char seen[MAXN] = {0};
    long i, id, n = 100, distinct = 0;

    rk = input_producer();
    for (i = 0; i < n; i++)
        produce_good(rk, i);
    finish_inputs(rk);
    /* The next Produce requests (the stage's: the inputs are all in) fail
     * with retriable errors. */
    rd_kafka_mock_push_request_errors(
        fx.mock.mcluster, API_PRODUCE, 4,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE);
    start_stage();
    read_topic(T_OUT, 2, n, &out);
    cr_assert_eq(stop_stage(), 0, "stage: %s", fx.err);
    for (i = 0; i < out.n; i++) {
        check_result(&out.r[i], &id);
        if (!seen[id]++)
            distinct++;
    }
    cr_expect_eq(distinct, n, "distinct results %ld of %ld", distinct, n);
    expect_committed_end(rk);
    free_sink(&out);
    rd_kafka_destroy(rk);
}

Test(stage_mock, permanent_produce_error_stops_uncommitted)
{
    rd_kafka_resp_err_t errs[64];
    rd_kafka_t *rk;
    long i, n = 20;
    int32_t p;
    int waited;
    struct kl_stage_stats st;

    rk = input_producer();
    for (i = 0; i < n; i++)
        produce_good(rk, i);
    finish_inputs(rk);
    /* Every Produce of the stage is refused for good. */
    for (i = 0; i < 64; i++)
        errs[i] = RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED;
    rd_kafka_mock_push_request_errors_array(fx.mock.mcluster, API_PRODUCE, 64,
                                            errs);
    start_stage();
    /* The stage stops by itself, with an error. */
    for (waited = 0; waited < 3000; waited++) {
        if (pthread_tryjoin_np(fx.th, NULL) == 0) {
            fx.started = 0;
            break;
        }
        usleep(10000);
    }
    cr_assert_eq(fx.started, 0, "the stage did not stop by itself");
    cr_expect_neq(fx.rc, 0, "kl_stage_run must fail");
    cr_expect_neq(strstr(fx.err, "failed"), NULL, "reason: %s", fx.err);
    kl_stage_get_stats(fx.s, &st);
    cr_expect_gt(st.failed, 0);
    cr_expect_eq(st.out, 0);
    for (p = 0; p < IN_PARTS; p++)
        cr_expect_eq(kl_mock_committed(fx.mock.bootstraps, GROUP, T_IN, p),
                     -1, "partition %d must stay uncommitted", (int)p);
    rd_kafka_destroy(rk);
}

Test(stage_mock, fatal_producer_error_stops_stage)
{
    rd_kafka_t *rk;
    long i, n = 20;
    int waited;

    /* With the gapless guarantee, a message the broker refuses as out of
     * sequence is a fatal error of the idempotent producer. */
    cfg_set("kafka.producer.enable.gapless.guarantee", "true");
    rk = input_producer();
    for (i = 0; i < n; i++)
        produce_good(rk, i);
    finish_inputs(rk);
    rd_kafka_mock_push_request_errors(
        fx.mock.mcluster, API_PRODUCE, 1,
        RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    start_stage();
    for (waited = 0; waited < 3000; waited++) {
        if (pthread_tryjoin_np(fx.th, NULL) == 0) {
            fx.started = 0;
            break;
        }
        usleep(10000);
    }
    cr_assert_eq(fx.started, 0, "the stage did not stop by itself");
    cr_expect_neq(fx.rc, 0, "kl_stage_run must fail");
    cr_expect_neq(strstr(fx.err, "fatal"), NULL, "reason: %s", fx.err);
    rd_kafka_destroy(rk);
}

/* ------------------------------------------------ the same stage on files */

static void file_setup(void)
{
    kl_log_level = KL_LOG_WARNING;
    train_tiny();
}

static void file_teardown(void)
{
    char p[160];

    snprintf(p, sizeof p, "%s/tiny.safetensors", dir);
    unlink(p);
    rmdir(dir);
}

Test(stage_file, lines_in_results_and_dead_letters_out, .init = file_setup,
     .fini = file_teardown, .timeout = 60)
{
    FILE *in = tmpfile(), *out = tmpfile(), *dlq = tmpfile();
    struct kl_config *cfg = kl_config_create();
    struct kl_stage_io io;
    struct kl_stage *s = NULL;
    struct kl_stage_stats st;
    char err[512], line[4096];
    long nout = 0, ndlq = 0, i;

    cr_assert(in && out && dlq && cfg);
    for (i = 0; i < 300; i++)
        fprintf(in, "{\"id\":%ld,\"text\":\"%s\"}\n", i,
                i % 2 ? "stock market" : "football goal");
    fprintf(in, "not json\n{\"id\":\"x\",\"text\":\"\"}\n");
    rewind(in);
    cr_assert_eq(kl_config_set(cfg, "input.topics", "-", err, sizeof err), 0);
    cr_assert_eq(kl_config_set(cfg, "output.topic", "out", err, sizeof err), 0);
    cr_assert_eq(kl_config_set(cfg, "model.path", model_path, err,
                               sizeof err), 0);
    cr_assert_eq(kl_config_set(cfg, "batch.max.size", "64", err, sizeof err),
                 0);
    /* Batches close on size only (and the last at the end of input). */
    cr_assert_eq(kl_config_set(cfg, "batch.max.delay.us", "10000000", err,
                               sizeof err), 0);
    memset(&io, 0, sizeof io);
    io.ops = &kl_transport_file;
    io.in = in;
    io.out = out;
    io.dlq_out = dlq;
    cr_assert_eq(kl_stage_create(cfg, &io, &s, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(kl_stage_run(s, err, sizeof err), 0, "%s", err);
    kl_stage_get_stats(s, &st);
    cr_expect_eq(st.in, 302);
    cr_expect_eq(st.out, 300);
    cr_expect_eq(st.dlq, 2);
    cr_expect_eq(st.batches, 5); /* 64 * 4 + 46 */
    cr_expect_eq(st.closes[KL_CLOSE_SIZE], 4);
    cr_expect_eq(st.closes[KL_CLOSE_FLUSH], 1);
    cr_expect_eq(st.batch_size.count, 5);
    cr_expect_eq(st.queue_wait_us.count, 300);
    cr_expect_eq(st.queued, 0);
    rewind(out);
    while (fgets(line, sizeof line, out)) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *id = cJSON_GetObjectItem(j, "id");
        const cJSON *label = cJSON_GetObjectItem(j, "label");

        cr_assert(cJSON_IsNumber(id), "%s", line);
        cr_expect_eq((long)id->valuedouble, nout, "results in input order");
        cr_expect_str_eq(label->valuestring,
                         nout % 2 ? "finance" : "sports");
        cJSON_Delete(j);
        nout++;
    }
    rewind(dlq);
    while (fgets(line, sizeof line, dlq))
        ndlq++;
    cr_expect_eq(nout, 300);
    cr_expect_eq(ndlq, 2);
    kl_stage_destroy(s);
    kl_config_destroy(cfg);
    fclose(in);
    fclose(out);
    fclose(dlq);
}
