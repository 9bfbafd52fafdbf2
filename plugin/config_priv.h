/*
 * plugin/config_priv.h: the insides of struct kl_config, shared by the
 * files of the configuration module only (config.c sets and validates
 * values, config_get.c reads them). Not for other modules.
 */
#ifndef KL_PLUGIN_CONFIG_PRIV_H
#define KL_PLUGIN_CONFIG_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct kl_cfg_val {
    char *s;     /* value as text (trimmed); NULL = unset */
    int64_t i;   /* KL_CFG_INT, and KL_CFG_BOOL as 0/1 */
    double d;    /* KL_CFG_DOUBLE */
};

struct kl_cfg_kv {
    char *k, *v; /* full key ("kafka.x.y") and value, as given */
};

struct kl_config {
    size_t n;                /* declared keys */
    struct kl_cfg_val *vals; /* (n) parallel to kl_config_table() */
    struct kl_cfg_kv *kafka; /* (nkafka) pass-through keys, first-set order */
    size_t nkafka, kafka_cap;
    struct kl_cfg_kv *dyn;   /* (ndyn) keys of patterns ("model.<name>.path") */
    size_t ndyn, dyn_cap;
};

/* Index in kl_config_table() of the declared (non-pattern) key named key,
 * or -1. */
int kl_config_find_def(const char *key);

/* The number of non-empty comma-separated items of s (0 for NULL). */
int kl_config_list_count(const char *s);

#endif /* KL_PLUGIN_CONFIG_PRIV_H */
