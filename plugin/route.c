/*
 * Routing (plugin/route.h): reading models and route.* keys, picking a
 * model per event, mapping partitions to workers, and the source thread's
 * per-partition map.
 */
#include "route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* ---------------------------------------------------------------- parse */

static int find_model(const struct kl_routes *r, const char *name)
{
    int i;

    for (i = 0; i < r->nmodels; i++)
        if (!strcmp(r->models[i].name, name))
            return i;
    return KL_ROUTE_NONE;
}

static int add_model(struct kl_routes *r, const char *name, const char *path)
{
    struct kl_route_model *p;

    p = realloc(r->models, (size_t)(r->nmodels + 1) * sizeof *p);
    if (!p)
        return KL_ENOMEM;
    r->models = p;
    p = &r->models[r->nmodels];
    memset(p, 0, sizeof *p);
    p->name = strdup(name);
    p->path = strdup(path);
    r->nmodels++;
    return p->name && p->path ? KL_OK : KL_ENOMEM;
}

struct rule_ctx {
    struct kl_routes *r;
    struct kl_route_rule **rules;
    size_t *n;
    const char *what;  /* "route.topic" / "route.kind" */
    char *err;
    size_t errsz;
};

/* kl_config_foreach_match callback: one route.topic.* / route.kind.* key. */
static int add_rule(const char *wild, const char *v, void *ud)
{
    struct rule_ctx *c = ud;
    struct kl_route_rule *p;
    int m = find_model(c->r, v);

    if (m == KL_ROUTE_NONE) {
        snprintf(c->err, c->errsz,
                 "%s.%s: '%s' is not a model (models: %s%s)", c->what, wild,
                 v, c->r->nmodels ? c->r->models[0].name : "none",
                 c->r->nmodels > 1 ? ", ..." : "");
        return KL_EINVAL;
    }
    p = realloc(*c->rules, (*c->n + 1) * sizeof *p);
    if (!p)
        return KL_ENOMEM;
    *c->rules = p;
    p[*c->n].key = strdup(wild);
    if (!p[*c->n].key)
        return KL_ENOMEM;
    p[*c->n].len = strlen(wild);
    p[*c->n].model = m;
    (*c->n)++;
    return 0;
}

/* Reads model.path or models + model.<name>.path. */
static int parse_models(struct kl_routes *r, const struct kl_config *cfg,
                        char *err, size_t errsz)
{
    const char *single = kl_config_get(cfg, "model.path");
    char **names = NULL, key[512];
    int n, i, rc = KL_OK;

    n = kl_config_get_list(cfg, "models", &names);
    if (n < 0)
        return KL_ENOMEM;
    if (n > 0 && single && single[0]) {
        snprintf(err, errsz, "set either model.path or models, not both");
        rc = KL_EINVAL;
        goto out;
    }
    if (n == 0) {
        if (!single || !single[0]) {
            snprintf(err, errsz,
                     "missing required configuration key(s): 'model.path' "
                     "(or 'models' with 'model.<name>.path')");
            rc = KL_EINVAL;
            goto out;
        }
        rc = add_model(r, "default", single);
        goto out;
    }
    for (i = 0; i < n && !rc; i++) {
        const char *path;

        if (find_model(r, names[i]) != KL_ROUTE_NONE) {
            snprintf(err, errsz, "models: '%s' is listed twice", names[i]);
            rc = KL_EINVAL;
            break;
        }
        snprintf(key, sizeof key, "model.%s.path", names[i]);
        path = kl_config_get_match(cfg, key);
        if (!path || !path[0]) {
            snprintf(err, errsz, "missing required configuration key '%s' "
                     "(models lists '%s')", key, names[i]);
            rc = KL_EINVAL;
            break;
        }
        rc = add_model(r, names[i], path);
    }
out:
    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

int kl_routes_parse(struct kl_routes *r, const struct kl_config *cfg,
                    char *err, size_t errsz)
{
    struct rule_ctx c = {r, NULL, NULL, NULL, err, errsz};
    const char *def;
    int rc;

    memset(r, 0, sizeof *r);
    r->def = KL_ROUTE_NONE;
    r->proj_max_bytes =
        (size_t)kl_config_get_int(cfg, "model.projection.max.mb") << 20;
    rc = parse_models(r, cfg, err, errsz);
    if (rc)
        goto out;
    c.rules = &r->by_topic;
    c.n = &r->ntopic;
    c.what = "route.topic";
    rc = kl_config_foreach_match(cfg, "route.topic.<topic>", add_rule, &c);
    if (rc)
        goto out;
    c.rules = &r->by_kind;
    c.n = &r->nkind;
    c.what = "route.kind";
    rc = kl_config_foreach_match(cfg, "route.kind.<kind>", add_rule, &c);
    if (rc)
        goto out;
    def = kl_config_get(cfg, "route.default");
    if (!def || !def[0]) {
        r->def = r->nmodels == 1 ? 0 : KL_ROUTE_NONE;
    } else if (strcmp(def, "none") != 0) {
        r->def = find_model(r, def);
        if (r->def == KL_ROUTE_NONE) {
            snprintf(err, errsz, "route.default: '%s' is not a model", def);
            rc = KL_EINVAL;
        }
    }
out:
    if (rc == KL_ENOMEM)
        snprintf(err, errsz, "routes: out of memory");
    if (rc)
        kl_routes_fini(r);
    return rc;
}

int kl_routes_open(struct kl_routes *r, const struct kl_model *given,
                   char *err, size_t errsz)
{
    char why[512];
    int i, rc = KL_OK;

    for (i = 0; i < r->nmodels && !rc; i++) {
        struct kl_route_model *m = &r->models[i];

        if (given) {
            m->model = given;
        } else {
            rc = kl_model_open(m->path, &m->own, why, sizeof why);
            if (rc) {
                snprintf(err, errsz, "model %s: %s", m->name, why);
                break;
            }
            rc = kl_model_project_labels(m->own, r->proj_max_bytes);
            if (rc) {
                snprintf(err, errsz, "model %s: label projections: %s",
                         m->name, kl_strerror(rc));
                break;
            }
            m->model = m->own;
        }
        m->mi = kl_model_info(m->model);
    }
    return rc;
}

void kl_routes_fini(struct kl_routes *r)
{
    size_t j;
    int i;

    for (i = 0; i < r->nmodels; i++) {
        kl_model_destroy(r->models[i].own);
        free(r->models[i].name);
        free(r->models[i].path);
    }
    for (j = 0; j < r->ntopic; j++)
        free(r->by_topic[j].key);
    for (j = 0; j < r->nkind; j++)
        free(r->by_kind[j].key);
    free(r->models);
    free(r->by_topic);
    free(r->by_kind);
    memset(r, 0, sizeof *r);
    r->def = KL_ROUTE_NONE;
}

/* ----------------------------------------------------------------- pick */

int kl_route_by_topic(const struct kl_routes *r, const char *topic)
{
    size_t j;

    for (j = 0; j < r->ntopic; j++)
        if (!strcmp(r->by_topic[j].key, topic))
            return r->by_topic[j].model;
    return r->def;
}

int kl_route_pick(const struct kl_routes *r, int topic_model,
                  const char *kind, size_t kind_len)
{
    size_t j;

    for (j = 0; kind && j < r->nkind; j++)
        if (r->by_kind[j].len == kind_len &&
            !memcmp(r->by_kind[j].key, kind, kind_len))
            return r->by_kind[j].model;
    return topic_model;
}

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

int kl_route_worker(const char *topic, int32_t partition, int nworkers)
{
    uint32_t p = partition < 0 ? 0 : (uint32_t)partition;

    if (nworkers <= 1)
        return 0;
    return (int)((fnv1a(topic) + p) % (uint32_t)nworkers);
}

/* ------------------------------------------------------- partition map */

void kl_partmap_init(struct kl_partmap *pm)
{
    memset(pm, 0, sizeof *pm);
}

void kl_partmap_fini(struct kl_partmap *pm)
{
    free(pm->slot);
    kl_partmap_init(pm);
}

static size_t slot_of(const struct kl_partmap *pm, const char *topic,
                      int32_t partition)
{
    uint64_t h = (uint64_t)(uintptr_t)topic * 0x9E3779B97F4A7C15ull ^
                 (uint64_t)(uint32_t)partition * 0xC2B2AE3D27D4EB4Full;

    return (size_t)((h ^ (h >> 29)) & (pm->cap - 1));
}

struct kl_part *kl_partmap_find(struct kl_partmap *pm, const char *topic,
                                int32_t partition)
{
    size_t i;

    if (!pm->cap)
        return NULL;
    for (i = slot_of(pm, topic, partition); pm->slot[i].topic;
         i = (i + 1) & (pm->cap - 1))
        if (pm->slot[i].topic == topic && pm->slot[i].partition == partition)
            return &pm->slot[i];
    return NULL;
}

/* Doubles the table (keeps the load under one half). */
static int grow(struct kl_partmap *pm)
{
    struct kl_partmap big;
    size_t i;

    big.cap = pm->cap ? pm->cap * 2 : 64;
    big.n = 0;
    big.slot = calloc(big.cap, sizeof *big.slot);
    if (!big.slot)
        return KL_ENOMEM;
    for (i = 0; i < pm->cap; i++) {
        size_t j;

        if (!pm->slot[i].topic)
            continue;
        j = slot_of(&big, pm->slot[i].topic, pm->slot[i].partition);
        while (big.slot[j].topic)
            j = (j + 1) & (big.cap - 1);
        big.slot[j] = pm->slot[i];
        big.n++;
    }
    free(pm->slot);
    *pm = big;
    return KL_OK;
}

struct kl_part *kl_partmap_get(struct kl_partmap *pm, const char *topic,
                               int32_t partition, const struct kl_routes *r,
                               int nworkers)
{
    struct kl_part *p = kl_partmap_find(pm, topic, partition);
    size_t i;

    if (p)
        return p;
    if ((pm->n + 1) * 2 > pm->cap && grow(pm))
        return NULL;
    i = slot_of(pm, topic, partition);
    while (pm->slot[i].topic)
        i = (i + 1) & (pm->cap - 1);
    p = &pm->slot[i];
    p->topic = topic;
    p->partition = partition;
    p->worker = kl_route_worker(topic, partition, nworkers);
    p->topic_model = kl_route_by_topic(r, topic);
    p->last_model = -1;
    p->last_seq = 0;
    pm->n++;
    return p;
}

void kl_partmap_del(struct kl_partmap *pm, const char *topic,
                    int32_t partition)
{
    struct kl_part *p = kl_partmap_find(pm, topic, partition);
    size_t i, j;

    if (!p)
        return;
    /* Backward-shift deletion keeps every probe chain whole. */
    i = (size_t)(p - pm->slot);
    pm->slot[i].topic = NULL;
    pm->n--;
    for (j = (i + 1) & (pm->cap - 1); pm->slot[j].topic;
         j = (j + 1) & (pm->cap - 1)) {
        size_t home = slot_of(pm, pm->slot[j].topic, pm->slot[j].partition);

        /* Move j back to i when its home is not in (i, j]. */
        if ((j > i && (home <= i || home > j)) ||
            (j < i && (home <= i && home > j))) {
            pm->slot[i] = pm->slot[j];
            pm->slot[j].topic = NULL;
            i = j;
        }
    }
}
