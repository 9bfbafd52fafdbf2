/*
 * Reading the stage configuration (plugin/config.h): the typed getters of
 * declared keys, the kafka.* pass-through keys for a client role, and the
 * keys set under declared patterns. Values are set by config.c.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_pattern.h"
#include "config_priv.h"
#include "klabel/engine.h"
#include "str.h"

/* Looks up a declared key of the given type; anything else is a
 * programming error, so it aborts. */
static const struct kl_cfg_val *must_get(const struct kl_config *c,
                                         const char *key, int type)
{
    int i = kl_config_find_def(key);

    if (i < 0 || (type >= 0 && kl_config_table()[i].type != type)) {
        fprintf(stderr, "kl_config: %s '%s'\n",
                i < 0 ? "get of an undeclared key" : "typed get of another type",
                key);
        abort();
    }
    return &c->vals[i];
}

/* Current value of a declared key as text; NULL for an unset required
 * key. Borrowed until the key is set again. Aborts on an undeclared key. */
const char *kl_config_get(const struct kl_config *c, const char *key)
{
    return must_get(c, key, -1)->s;
}

/* Value of a declared KL_CFG_INT key; aborts on any other key. */
int64_t kl_config_get_int(const struct kl_config *c, const char *key)
{
    return must_get(c, key, KL_CFG_INT)->i;
}

/* Value of a declared KL_CFG_DOUBLE key; aborts on any other key. */
double kl_config_get_double(const struct kl_config *c, const char *key)
{
    return must_get(c, key, KL_CFG_DOUBLE)->d;
}

/* Value of a declared KL_CFG_BOOL key (0/1); aborts on any other key. */
int kl_config_get_bool(const struct kl_config *c, const char *key)
{
    return (int)must_get(c, key, KL_CFG_BOOL)->i;
}

/* Items of a KL_CFG_LIST key: comma-separated, trimmed, empty ones dropped.
 * Returns the count (0 with *items == NULL when there are none) or
 * KL_ENOMEM; *items is caller-owned (free each, then the array). */
int kl_config_get_list(const struct kl_config *c, const char *key,
                       char ***items)
{
    const char *s = must_get(c, key, KL_CFG_LIST)->s, *p;
    int n = kl_config_list_count(s), k = 0, rc = 0;
    char **v = NULL;

    *items = NULL;
    if (n == 0)
        return 0;
    v = calloc((size_t)n, sizeof(*v));
    if (!v)
        return KL_ENOMEM;
    for (p = s; k < n; p++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char *item = kl_str_dup_trimmed(p, len);

        if (!item) {
            rc = KL_ENOMEM;
            goto out;
        }
        if (*item)
            v[k++] = item;
        else
            free(item);
        if (!comma)
            break;
        p = comma;
    }
out:
    if (rc != 0) {
        while (k > 0)
            free(v[--k]);
        free(v);
        return rc;
    }
    *items = v;
    return k;
}

/* Calls fn(k, v, ud) for each kafka.* key for role: first the shared
 * "kafka.<prop>" keys, then "kafka.<role>.<prop>", so a role-specific value
 * is applied last and wins. Prefixes are removed; strings are borrowed for
 * the call. Keys of the other role ("kafka.consumer." / "kafka.producer.")
 * are skipped. Returns 0 or fn's first non-zero result. */
int kl_config_foreach_kafka(const struct kl_config *c, const char *role,
                            int (*fn)(const char *k, const char *v, void *ud),
                            void *ud)
{
    char prefix[64];
    size_t i, plen;
    int pass, rc;

    snprintf(prefix, sizeof(prefix), "kafka.%s.", role ? role : "");
    plen = strlen(prefix);
    for (pass = 0; pass < 2; pass++) {
        for (i = 0; i < c->nkafka; i++) {
            const char *k = c->kafka[i].k;
            int mine = role && *role && !strncmp(k, prefix, plen);
            int other = mine || !strncmp(k, "kafka.consumer.", 15) ||
                        !strncmp(k, "kafka.producer.", 15);

            if (pass == 0 && !other)
                rc = fn(k + 6, c->kafka[i].v, ud);
            else if (pass == 1 && mine)
                rc = fn(k + plen, c->kafka[i].v, ud);
            else
                continue;
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* Value of key under a declared pattern ("model.news.path" under
 * "model.<name>.path"): the value set, else the pattern's default; NULL
 * when no pattern matches key. Borrowed until the key is set again. */
const char *kl_config_get_match(const struct kl_config *c, const char *key)
{
    int i = kl_config_find_pattern(key);
    size_t j;

    if (i < 0)
        return NULL;
    for (j = 0; j < c->ndyn; j++)
        if (!strcmp(c->dyn[j].k, key))
            return c->dyn[j].v;
    return kl_config_table()[i].def;
}

/* Calls fn(wild, value, ud) for each key set under the pattern named
 * pattern (its table name, e.g. "route.kind.<kind>"), in first-set order;
 * wild is the text the "<...>" part stands for. Returns 0, KL_ENOMEM, or
 * fn's first non-zero result. */
int kl_config_foreach_match(const struct kl_config *c, const char *pattern,
                            int (*fn)(const char *wild, const char *v,
                                      void *ud),
                            void *ud)
{
    size_t j, w, wl;
    char *wild;
    int i, rc;

    for (j = 0; j < c->ndyn; j++) {
        i = kl_config_find_pattern(c->dyn[j].k);
        if (i < 0 || strcmp(kl_config_table()[i].name, pattern) != 0 ||
            !kl_config_pattern_match(pattern, c->dyn[j].k, &w, &wl))
            continue;
        wild = strndup(c->dyn[j].k + w, wl);
        if (!wild)
            return KL_ENOMEM;
        rc = fn(wild, c->dyn[j].v, ud);
        free(wild);
        if (rc != 0)
            return rc;
    }
    return 0;
}
