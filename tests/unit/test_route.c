/*
 * Unit tests of plugin/route.c: models from model.path or models +
 * model.<name>.path, routes by kind (first), then topic, then the default
 * (and "none"), configuration errors that name the key, topic names with
 * dots, the partition -> worker mapping, and the per-partition map
 * (insert, find, delete keeping probe chains).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "klabel/engine.h"
#include "route.h"

static char err[512];

static struct kl_config *cfg_of(const char *const *kv)
{
    struct kl_config *c = kl_config_create();

    cr_assert_not_null(c);
    for (; *kv; kv += 2)
        cr_assert_eq(kl_config_set(c, kv[0], kv[1], err, sizeof err), 0,
                     "%s=%s: %s", kv[0], kv[1], err);
    return c;
}

Test(route, single_model_path_serves_everything)
{
    static const char *const kv[] = {"model.path", "/m.safetensors", NULL};
    struct kl_config *c = cfg_of(kv);
    struct kl_routes r;

    cr_assert_eq(kl_routes_parse(&r, c, err, sizeof err), 0, "%s", err);
    cr_expect_eq(r.nmodels, 1);
    cr_expect_str_eq(r.models[0].name, "default");
    cr_expect_str_eq(r.models[0].path, "/m.safetensors");
    cr_expect_eq(kl_route_by_topic(&r, "anything"), 0);
    cr_expect_eq(kl_route_pick(&r, 0, "transaction", 11), 0);
    kl_routes_fini(&r);
    kl_config_destroy(c);
}

/* model.projection.max.mb reaches kl_routes_open() in bytes (default
 * 256 MiB; 0 = no label projections). */
Test(route, projection_budget_from_config)
{
    static const char *const kv[] = {"model.path", "/m.safetensors", NULL};
    static const char *const kv0[] = {"model.path", "/m.safetensors",
                                      "model.projection.max.mb", "0", NULL};
    static const char *const kv9[] = {"model.path", "/m.safetensors",
                                      "model.projection.max.mb", "9", NULL};
    const char *const *cases[] = {kv, kv0, kv9};
    size_t want[] = {(size_t)256 << 20, 0, (size_t)9 << 20};

    for (int i = 0; i < 3; i++) {
        struct kl_config *c = cfg_of(cases[i]);
        struct kl_routes r;

        cr_assert_eq(kl_routes_parse(&r, c, err, sizeof err), 0, "%s", err);
        cr_expect_eq(r.proj_max_bytes, want[i], "case %d: %zu", i,
                     r.proj_max_bytes);
        kl_routes_fini(&r);
        kl_config_destroy(c);
    }
}

Test(route, kind_then_topic_then_default)
{
    static const char *const kv[] = {
        "models", "news, txn",
        "model.news.path", "/news.safetensors",
        "model.txn.path", "/txn.safetensors",
        "route.topic.payments", "txn",
        "route.topic.eu.cards.v1", "txn",
        "route.kind.transaction", "txn",
        "route.kind.article", "news",
        "route.default", "news", NULL};
    struct kl_config *c = cfg_of(kv);
    struct kl_routes r;
    int news, txn, pay;

    cr_assert_eq(kl_routes_parse(&r, c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(r.nmodels, 2);
    cr_expect_str_eq(r.models[1].path, "/txn.safetensors");
    news = kl_route_by_topic(&r, "wire");
    pay = kl_route_by_topic(&r, "payments");
    txn = 1;
    cr_expect_eq(news, 0, "default for an unrouted topic");
    cr_expect_eq(pay, txn);
    cr_expect_eq(kl_route_by_topic(&r, "eu.cards.v1"), txn, "dotted topic");
    cr_expect_eq(kl_route_by_topic(&r, "eu.cards"), news);
    cr_expect_eq(kl_route_pick(&r, news, NULL, 0), news);
    cr_expect_eq(kl_route_pick(&r, news, "transaction", 11), txn,
                 "kind wins over topic");
    cr_expect_eq(kl_route_pick(&r, pay, "article", 7), news);
    cr_expect_eq(kl_route_pick(&r, pay, "transact", 8), pay, "no prefix match");
    cr_expect_eq(kl_route_pick(&r, pay, "other", 5), pay);
    kl_routes_fini(&r);
    kl_config_destroy(c);
}

Test(route, no_default_means_no_route)
{
    static const char *const kv[] = {
        "models", "news,txn", "model.news.path", "/a", "model.txn.path", "/b",
        "route.kind.news", "news", NULL};
    static const char *const kv1[] = {"model.path", "/a", "route.default",
                                      "none", NULL};
    struct kl_config *c = cfg_of(kv);
    struct kl_routes r;

    cr_assert_eq(kl_routes_parse(&r, c, err, sizeof err), 0, "%s", err);
    cr_expect_eq(kl_route_by_topic(&r, "t"), KL_ROUTE_NONE,
                 "two models and no default");
    cr_expect_eq(kl_route_pick(&r, KL_ROUTE_NONE, "news", 4), 0);
    cr_expect_eq(kl_route_pick(&r, KL_ROUTE_NONE, "sport", 5), KL_ROUTE_NONE);
    kl_routes_fini(&r);
    kl_config_destroy(c);
    c = cfg_of(kv1);
    cr_assert_eq(kl_routes_parse(&r, c, err, sizeof err), 0, "%s", err);
    cr_expect_eq(kl_route_by_topic(&r, "t"), KL_ROUTE_NONE, "default none");
    kl_routes_fini(&r);
    kl_config_destroy(c);
}

/* Parses kv and expects KL_EINVAL with want in the reason. */
static void expect_bad(const char *const *kv, const char *want)
{
    struct kl_config *c = cfg_of(kv);
    struct kl_routes r;

    err[0] = '\0';
    cr_expect_eq(kl_routes_parse(&r, c, err, sizeof err), KL_EINVAL,
                 "accepted (want %s)", want);
    cr_expect(strstr(err, want), "reason '%s' lacks '%s'", err, want);
    kl_routes_fini(&r);
    kl_config_destroy(c);
}

Test(route, errors_name_the_key)
{
    static const char *const none[] = {NULL};
    static const char *const both[] = {"model.path", "/a", "models", "x",
                                       "model.x.path", "/x", NULL};
    static const char *const nopath[] = {"models", "news,txn",
                                         "model.news.path", "/a", NULL};
    static const char *const twice[] = {"models", "a,a", "model.a.path", "/a",
                                        NULL};
    static const char *const badroute[] = {"model.path", "/a",
                                           "route.kind.card", "txn", NULL};
    static const char *const badtopic[] = {"model.path", "/a",
                                           "route.topic.in.x", "nope", NULL};
    static const char *const baddef[] = {"model.path", "/a", "route.default",
                                         "txn", NULL};

    expect_bad(none, "'model.path'");
    expect_bad(both, "not both");
    expect_bad(nopath, "model.txn.path");
    expect_bad(twice, "twice");
    expect_bad(badroute, "route.kind.card");
    expect_bad(badtopic, "route.topic.in.x");
    expect_bad(baddef, "route.default");
}

Test(route, worker_mapping_spreads_a_topic_round_robin)
{
    int counts[3] = {0, 0, 0}, p, w, first;

    for (p = 0; p < 12; p++) {
        w = kl_route_worker("news", p, 3);
        cr_assert(w >= 0 && w < 3);
        counts[w]++;
        cr_expect_eq(w, kl_route_worker("news", p, 3), "stable");
    }
    cr_expect(counts[0] == 4 && counts[1] == 4 && counts[2] == 4,
              "12 partitions over 3 workers: %d %d %d", counts[0], counts[1],
              counts[2]);
    first = kl_route_worker("news", 0, 2);
    cr_expect_neq(kl_route_worker("news", 1, 2), first, "neighbours differ");
    cr_expect_eq(kl_route_worker("news", 7, 1), 0);
    cr_expect_eq(kl_route_worker("-", -1, 4), kl_route_worker("-", 0, 4),
                 "no partition counts as 0");
}

Test(route, partition_map_insert_find_delete)
{
    static const char *const kv[] = {"models", "a,b", "model.a.path", "/a",
                                     "model.b.path", "/b", "route.topic.t1",
                                     "b", "route.default", "a", NULL};
    static const char t1[] = "t1", t2[] = "t2";
    struct kl_config *c = cfg_of(kv);
    struct kl_routes r;
    struct kl_partmap pm;
    struct kl_part *p;
    int32_t i;

    cr_assert_eq(kl_routes_parse(&r, c, err, sizeof err), 0, "%s", err);
    kl_partmap_init(&pm);
    cr_expect_null(kl_partmap_find(&pm, t1, 0));
    for (i = 0; i < 300; i++) {
        p = kl_partmap_get(&pm, i % 2 ? t1 : t2, i, &r, 4);
        cr_assert_not_null(p);
        cr_expect_eq(p->last_model, -1);
        cr_expect_eq(p->topic_model, i % 2 ? 1 : 0);
        cr_expect_eq(p->worker, kl_route_worker(i % 2 ? t1 : t2, i, 4));
        p->last_seq = (uint64_t)i + 1;
    }
    cr_expect_eq(pm.n, 300);
    for (i = 0; i < 300; i += 3)
        kl_partmap_del(&pm, i % 2 ? t1 : t2, i);
    kl_partmap_del(&pm, t1, 100000); /* absent: fine */
    for (i = 0; i < 300; i++) {
        p = kl_partmap_find(&pm, i % 2 ? t1 : t2, i);
        if (i % 3 == 0) {
            cr_expect_null(p, "partition %d deleted", i);
        } else {
            cr_assert_not_null(p, "partition %d lost", i);
            cr_expect_eq(p->last_seq, (uint64_t)i + 1);
        }
    }
    cr_expect_eq(pm.n, 200);
    kl_partmap_fini(&pm);
    kl_routes_fini(&r);
    kl_config_destroy(c);
}
