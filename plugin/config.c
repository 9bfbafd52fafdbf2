/*
 * Stage configuration values (plugin/config.h): parsing and validating
 * values against the key table of config_keys.c and storing them, with the
 * kafka.* pass-through list and the keys of patterns. The typed getters
 * are config_get.c; the properties-file reader is config_file.c.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_pattern.h"
#include "config_priv.h"
#include "klabel/engine.h"
#include "str.h"

/* Contract in config_priv.h. */
int kl_config_find_def(const char *key)
{
    const struct kl_cfg_def *t = kl_config_table();
    int i;

    for (i = 0; t[i].name; i++)
        if (!kl_config_is_pattern(t[i].name) && strcmp(t[i].name, key) == 0)
            return i;
    return -1;
}

static int choice_ok(const char *choices, const char *v)
{
    size_t n = strlen(v);
    const char *p = choices;

    while (p && *p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);

        if (len == n && memcmp(p, v, n) == 0)
            return 1;
        p = bar ? bar + 1 : NULL;
    }
    return 0;
}

/* Parses v (trimmed) as a value of d into out (out->s is not touched).
 * Returns 0 or KL_EINVAL / KL_ERANGE with a reason naming key, value and
 * range. */
static int parse_value(const struct kl_cfg_def *d, const char *v,
                       struct kl_cfg_val *out, char *err, size_t errsz)
{
    char *end = NULL;

    switch (d->type) {
    case KL_CFG_INT: {
        long long x;

        errno = 0;
        x = strtoll(v, &end, 10);
        if (!*v || *end || errno == ERANGE || isspace((unsigned char)*v)) {
            kl_str_format(err, errsz,
                          "invalid value '%s' for '%s': expected an integer in %.0f..%.0f",
                          v, d->name, d->min, d->max);
            return KL_EINVAL;
        }
        if ((double)x < d->min || (double)x > d->max) {
            kl_str_format(err, errsz, "value '%s' for '%s' is out of range %.0f..%.0f",
                          v, d->name, d->min, d->max);
            return KL_ERANGE;
        }
        out->i = x;
        return 0;
    }
    case KL_CFG_DOUBLE: {
        double x;

        errno = 0;
        x = strtod(v, &end);
        if (!*v || *end || errno == ERANGE || !isfinite(x) ||
            isspace((unsigned char)*v)) {
            kl_str_format(err, errsz,
                          "invalid value '%s' for '%s': expected a number in %g..%g",
                          v, d->name, d->min, d->max);
            return KL_EINVAL;
        }
        if (x < d->min || x > d->max) {
            kl_str_format(err, errsz, "value '%s' for '%s' is out of range %g..%g", v,
                          d->name, d->min, d->max);
            return KL_ERANGE;
        }
        out->d = x;
        return 0;
    }
    case KL_CFG_BOOL:
        if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1")) {
            out->i = 1;
            return 0;
        }
        if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcmp(v, "0")) {
            out->i = 0;
            return 0;
        }
        kl_str_format(err, errsz,
                      "invalid value '%s' for '%s': expected true, false, yes, no, 1 or 0",
                      v, d->name);
        return KL_EINVAL;
    case KL_CFG_ENUM:
        if (choice_ok(d->choices, v))
            return 0;
        kl_str_format(err, errsz, "invalid value '%s' for '%s': expected one of %s", v,
                      d->name, d->choices);
        return KL_EINVAL;
    default: /* KL_CFG_STR, KL_CFG_LIST: any text */
        return 0;
    }
}

/* Validates value against d (see config.h). */
int kl_config_check(const struct kl_cfg_def *d, const char *value, char *err,
                    size_t errsz)
{
    struct kl_cfg_val v = { NULL, 0, 0.0 };
    char *t;
    int rc;

    if (!d || !value) {
        kl_str_format(err, errsz, "kl_config_check: NULL argument");
        return KL_EINVAL;
    }
    t = kl_str_dup_trimmed(value, strlen(value));
    if (!t) {
        kl_str_format(err, errsz, "out of memory");
        return KL_ENOMEM;
    }
    rc = parse_value(d, t, &v, err, errsz);
    free(t);
    return rc;
}

/* Stores a kafka.* key (replacing an earlier value of the same key). */
static int set_kafka(struct kl_config *c, const char *key, const char *value,
                     char *err, size_t errsz)
{
    const char *rest = key + strlen("kafka.");
    char *k = NULL, *v = NULL;
    size_t i;
    int rc = 0;

    if (!*rest || !strcmp(rest, "consumer.") || !strcmp(rest, "producer.")) {
        kl_str_format(err, errsz, "configuration key '%s' names no librdkafka property",
                      key);
        rc = KL_EINVAL;
        goto out;
    }
    v = strdup(value);
    if (!v) {
        rc = KL_ENOMEM;
        goto out;
    }
    for (i = 0; i < c->nkafka; i++) {
        if (!strcmp(c->kafka[i].k, key)) {
            free(c->kafka[i].v);
            c->kafka[i].v = v;
            v = NULL;
            goto out;
        }
    }
    if (c->nkafka == c->kafka_cap) {
        size_t cap = c->kafka_cap ? c->kafka_cap * 2 : 16;
        struct kl_cfg_kv *p = realloc(c->kafka, cap * sizeof(*p));

        if (!p) {
            rc = KL_ENOMEM;
            goto out;
        }
        c->kafka = p;
        c->kafka_cap = cap;
    }
    k = strdup(key);
    if (!k) {
        rc = KL_ENOMEM;
        goto out;
    }
    c->kafka[c->nkafka].k = k;
    c->kafka[c->nkafka].v = v;
    c->nkafka++;
    k = v = NULL;
out:
    if (rc == KL_ENOMEM)
        kl_str_format(err, errsz, "out of memory setting '%s'", key);
    free(k);
    free(v);
    return rc;
}

/* Stores a key of a pattern (trimmed value, already validated), replacing
 * an earlier value of the same key. */
static int set_dyn(struct kl_config *c, const char *key, char *value)
{
    size_t i;
    char *k;

    for (i = 0; i < c->ndyn; i++) {
        if (!strcmp(c->dyn[i].k, key)) {
            free(c->dyn[i].v);
            c->dyn[i].v = value;
            return 0;
        }
    }
    if (c->ndyn == c->dyn_cap) {
        size_t cap = c->dyn_cap ? c->dyn_cap * 2 : 16;
        struct kl_cfg_kv *p = realloc(c->dyn, cap * sizeof(*p));

        if (!p)
            return KL_ENOMEM;
        c->dyn = p;
        c->dyn_cap = cap;
    }
    k = strdup(key);
    if (!k)
        return KL_ENOMEM;
    c->dyn[c->ndyn].k = k;
    c->dyn[c->ndyn].v = value;
    c->ndyn++;
    return 0;
}

/* Sets one key: declared keys are trimmed and validated against the table
 * (errors name key, value and range); "kafka.*" keys are kept as given;
 * anything else is an unknown key. The last setting of a key wins. c keeps
 * copies of key and value. Returns 0, KL_EINVAL, KL_ERANGE or KL_ENOMEM. */
int kl_config_set(struct kl_config *c, const char *key, const char *value,
                  char *err, size_t errsz)
{
    struct kl_cfg_val nv = { NULL, 0, 0.0 };
    int i, rc = 0;

    if (!c || !key || !value) {
        kl_str_format(err, errsz, "kl_config_set: NULL argument");
        return KL_EINVAL;
    }
    if (!strncmp(key, "kafka.", 6))
        return set_kafka(c, key, value, err, errsz);
    i = kl_config_find_def(key);
    if (i < 0 && (i = kl_config_find_pattern(key)) >= 0) {
        struct kl_cfg_def d = kl_config_table()[i];

        d.name = key; /* errors name the key, not the pattern */
        nv.s = kl_str_dup_trimmed(value, strlen(value));
        if (!nv.s) {
            rc = KL_ENOMEM;
        } else {
            rc = parse_value(&d, nv.s, &nv, err, errsz);
            if (!rc && (rc = set_dyn(c, key, nv.s)) == 0)
                nv.s = NULL;
        }
        if (rc == KL_ENOMEM)
            kl_str_format(err, errsz, "out of memory setting '%s'", key);
        goto out;
    }
    if (i < 0) {
        kl_str_format(err, errsz,
                      "unknown configuration key '%s' (see klabel run --help)", key);
        return KL_EINVAL;
    }
    nv.s = kl_str_dup_trimmed(value, strlen(value));
    if (!nv.s) {
        kl_str_format(err, errsz, "out of memory setting '%s'", key);
        rc = KL_ENOMEM;
        goto out;
    }
    rc = parse_value(&kl_config_table()[i], nv.s, &nv, err, errsz);
    if (rc != 0)
        goto out;
    free(c->vals[i].s);
    c->vals[i] = nv;
    nv.s = NULL;
out:
    free(nv.s);
    return rc;
}

/* Sets "key=value" (as given to -X); both sides trimmed. */
int kl_config_set_kv(struct kl_config *c, const char *kv, char *err,
                     size_t errsz)
{
    const char *eq = kv ? strchr(kv, '=') : NULL;
    char *key = NULL, *value = NULL;
    int rc;

    if (!eq) {
        kl_str_format(err, errsz, "expected key=value, got '%s'", kv ? kv : "(null)");
        return KL_EINVAL;
    }
    key = kl_str_dup_trimmed(kv, (size_t)(eq - kv));
    value = kl_str_dup_trimmed(eq + 1, strlen(eq + 1));
    if (!key || !value) {
        kl_str_format(err, errsz, "out of memory");
        rc = KL_ENOMEM;
        goto out;
    }
    if (!*key) {
        kl_str_format(err, errsz, "expected key=value, got '%s'", kv);
        rc = KL_EINVAL;
        goto out;
    }
    rc = kl_config_set(c, key, value, err, errsz);
out:
    free(key);
    free(value);
    return rc;
}

/* Creates a config holding the table's defaults (required keys unset).
 * Caller owns; kl_config_destroy(). NULL when out of memory. */
struct kl_config *kl_config_create(void)
{
    const struct kl_cfg_def *t = kl_config_table();
    struct kl_config *c = calloc(1, sizeof(*c));
    char err[256];
    size_t i;
    int rc = 0;

    if (!c)
        return NULL;
    while (t[c->n].name)
        c->n++;
    c->vals = calloc(c->n, sizeof(*c->vals));
    if (!c->vals) {
        rc = KL_ENOMEM;
        goto out;
    }
    for (i = 0; i < c->n && rc == 0; i++) {
        if (t[i].def && !kl_config_is_pattern(t[i].name))
            rc = kl_config_set(c, t[i].name, t[i].def, err, sizeof(err));
    }
out:
    if (rc != 0) {
        kl_config_destroy(c);
        c = NULL;
    }
    return c;
}

/* Frees c and everything it holds (NULL is fine). */
void kl_config_destroy(struct kl_config *c)
{
    size_t i;

    if (!c)
        return;
    for (i = 0; c->vals && i < c->n; i++)
        free(c->vals[i].s);
    for (i = 0; i < c->nkafka; i++) {
        free(c->kafka[i].k);
        free(c->kafka[i].v);
    }
    for (i = 0; i < c->ndyn; i++) {
        free(c->dyn[i].k);
        free(c->dyn[i].v);
    }
    free(c->vals);
    free(c->kafka);
    free(c->dyn);
    free(c);
}

/* Contract in config_priv.h. */
int kl_config_list_count(const char *s)
{
    int n = 0, item = 0;

    for (; s && *s; s++) {
        if (*s == ',') {
            n += item;
            item = 0;
        } else if (!kl_str_is_space((unsigned char)*s)) {
            item = 1;
        }
    }
    return n + item;
}

/* Checks that every required key has a non-empty value; the error lists
 * all missing keys. Returns 0 or KL_EINVAL. */
int kl_config_validate(const struct kl_config *c, char *err, size_t errsz)
{
    const struct kl_cfg_def *t = kl_config_table();
    size_t i, used = 0;
    int missing = 0;

    for (i = 0; i < c->n; i++) {
        const char *v = c->vals[i].s;
        int empty = !v || !*v ||
                    (t[i].type == KL_CFG_LIST && kl_config_list_count(v) == 0);

        if (t[i].def || !empty || kl_config_is_pattern(t[i].name))
            continue;
        if (err && errsz > used) {
            int w = snprintf(err + used, errsz - used, "%s'%s'",
                             missing ? ", " : "missing required configuration key(s): ",
                             t[i].name);
            used += w > 0 ? (size_t)w : 0;
        }
        missing++;
    }
    if (!missing)
        return 0;
    if (err && errsz > used)
        snprintf(err + used, errsz - used,
                 " (set in the properties file or with -X key=value)");
    return KL_EINVAL;
}
