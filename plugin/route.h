/*
 * Routing: the named models one stage serves and which one labels an
 * event (route.kind.<kind>, then route.topic.<topic>, then route.default),
 * and which inference worker owns an input partition. Also the source
 * thread's per-partition memory (worker, topic route, the batch its last
 * event went into). Parsing is separate from opening the models, so the
 * rules can be tested without model files.
 */
#ifndef KL_PLUGIN_ROUTE_H
#define KL_PLUGIN_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "klabel/engine.h"

struct kl_config;

#define KL_ROUTE_NONE (-1) /* no model serves the event: no_route */

struct kl_route_model {
    char *name;                      /* "news"; "default" for model.path */
    char *path;                      /* its model file */
    const struct kl_model *model;    /* after kl_routes_open() */
    struct kl_model *own;            /* set when we opened it */
    const struct kl_model_info *mi;
};

struct kl_route_rule {
    char *key;     /* topic or kind */
    size_t len;
    int model;     /* index into models */
};

struct kl_routes {
    struct kl_route_model *models;   /* (nmodels) */
    int nmodels;
    struct kl_route_rule *by_topic;  /* (ntopic) */
    size_t ntopic;
    struct kl_route_rule *by_kind;   /* (nkind) */
    size_t nkind;
    int def;                         /* model for the rest, or KL_ROUTE_NONE */
    size_t proj_max_bytes;           /* model.projection.max.mb, in bytes */
};

/* Reads the models (model.path, or models + model.<name>.path) and the
 * route.* keys of cfg into r (caller-owned; kl_routes_fini()), checking
 * that every route names a listed model. Models are not opened. Returns 0,
 * KL_EINVAL with a reason naming the key, or KL_ENOMEM. */
int kl_routes_parse(struct kl_routes *r, const struct kl_config *cfg,
                    char *err, size_t errsz);

/* Opens every model of r, with label projections within
 * r->proj_max_bytes (kl_model_project_labels()); with given (borrowed,
 * must outlive r), uses it for every model instead of opening files.
 * Returns 0 or the engine's error with a reason naming the model. */
int kl_routes_open(struct kl_routes *r, const struct kl_model *given,
                   char *err, size_t errsz);

/* Frees r and the models it opened. Safe on a zeroed or failed r. */
void kl_routes_fini(struct kl_routes *r);

/* The model routed by topic alone (route.topic.<topic>, else the
 * default): an index, or KL_ROUTE_NONE. */
int kl_route_by_topic(const struct kl_routes *r, const char *topic);

/* The model of an event of kind (kind[0..kind_len), NULL = none) whose
 * topic routes to topic_model (from kl_route_by_topic()): route.kind.*
 * first, then topic_model. An index, or KL_ROUTE_NONE. */
int kl_route_pick(const struct kl_routes *r, int topic_model,
                  const char *kind, size_t kind_len);

/* The worker (0..nworkers-1) that owns (topic, partition): a hash of the
 * topic plus the partition, so the partitions of one topic spread round
 * robin. Stable for the life of the process. */
int kl_route_worker(const char *topic, int32_t partition, int nworkers);

/* ------------------------------------------------- per-partition memory */

struct kl_part {
    const char *topic;   /* interned by the caller: compared by pointer */
    int32_t partition;
    int worker;          /* kl_route_worker() */
    int topic_model;     /* kl_route_by_topic() */
    int last_model;      /* model of its last event's batch, -1 none */
    uint64_t last_seq;   /* that batch's sequence number */
};

/* Open-addressing map of kl_part by (interned topic, partition). */
struct kl_partmap {
    struct kl_part *slot; /* (cap) topic NULL = empty */
    size_t cap, n;
};

void kl_partmap_init(struct kl_partmap *pm);
void kl_partmap_fini(struct kl_partmap *pm);

/* The entry of (topic, partition), or NULL when none. */
struct kl_part *kl_partmap_find(struct kl_partmap *pm, const char *topic,
                                int32_t partition);

/* The entry of (topic, partition), added (worker, topic_model set from r
 * and nworkers; last_model -1) when new. NULL when out of memory. */
struct kl_part *kl_partmap_get(struct kl_partmap *pm, const char *topic,
                               int32_t partition, const struct kl_routes *r,
                               int nworkers);

/* Forgets (topic, partition) (revoked); fine when absent. */
void kl_partmap_del(struct kl_partmap *pm, const char *topic,
                    int32_t partition);

#endif
