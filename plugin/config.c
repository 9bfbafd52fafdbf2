/*
 * Stage configuration values (plugin/config.h): parsing and validating
 * values against the key table of config_keys.c, typed getters and the
 * kafka.* pass-through list. The properties-file reader is config_file.c.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_pattern.h"
#include "klabel/engine.h"
#include "str.h"

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

static int find_def(const char *key)
{
    const struct kl_cfg_def *t = kl_config_table();
    int i;

    for (i = 0; t[i].name; i++)
        if (!kl_config_is_pattern(t[i].name) && strcmp(t[i].name, key) == 0)
            return i;
    return -1;
}

/* Looks up a declared key of the given type; anything else is a
 * programming error, so it aborts. */
static const struct kl_cfg_val *must_get(const struct kl_config *c,
                                         const char *key, int type)
{
    int i = find_def(key);

    if (i < 0 || (type >= 0 && kl_config_table()[i].type != type)) {
        fprintf(stderr, "kl_config: %s '%s'\n",
                i < 0 ? "get of an undeclared key" : "typed get of another type",
                key);
        abort();
    }
    return &c->vals[i];
}

static int is_space(int ch)
{
    return ch == ' ' || ch == '\t' || ch == '\f' || ch == '\r' || ch == '\n' ||
           ch == '\v';
}

/* Returns a malloc'ed copy of s[0..n) without surrounding white space. */
static char *dup_trimmed(const char *s, size_t n)
{
    char *r;

    while (n && is_space((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && is_space((unsigned char)s[n - 1]))
        n--;
    r = malloc(n + 1);
    if (r) {
        memcpy(r, s, n);
        r[n] = '\0';
    }
    return r;
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
    t = dup_trimmed(value, strlen(value));
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
    i = find_def(key);
    if (i < 0 && (i = kl_config_find_pattern(key)) >= 0) {
        struct kl_cfg_def d = kl_config_table()[i];

        d.name = key; /* errors name the key, not the pattern */
        nv.s = dup_trimmed(value, strlen(value));
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
    nv.s = dup_trimmed(value, strlen(value));
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
    char *key = NULL;
    int rc;

    if (!eq) {
        kl_str_format(err, errsz, "expected key=value, got '%s'", kv ? kv : "(null)");
        return KL_EINVAL;
    }
    key = dup_trimmed(kv, (size_t)(eq - kv));
    if (!key) {
        kl_str_format(err, errsz, "out of memory");
        return KL_ENOMEM;
    }
    if (!*key) {
        kl_str_format(err, errsz, "expected key=value, got '%s'", kv);
        rc = KL_EINVAL;
        goto out;
    }
    rc = kl_config_set(c, key, eq + 1, err, errsz);
out:
    free(key);
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

/* Counts the non-empty comma-separated items of s. */
static int list_count(const char *s)
{
    int n = 0, item = 0;

    for (; s && *s; s++) {
        if (*s == ',') {
            n += item;
            item = 0;
        } else if (!is_space((unsigned char)*s)) {
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
                    (t[i].type == KL_CFG_LIST && list_count(v) == 0);

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
    int n = list_count(s), k = 0, rc = 0;
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
        char *item = dup_trimmed(p, len);

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
