/*
 * tests/fuzz/fuzz_config.c: libFuzzer target of the configuration reader
 * (plugin/config_file.c, config.c, config_get.c, config_pattern.c). The
 * input is a whole properties file, read by kl_config_load_file() from a
 * memory file. Properties:
 *   - it returns one of its documented codes; a failure names the file
 *     and the line ("path:line: reason");
 *   - whatever it set (keys before a failing line stay set), every
 *     declared key reads back as declared: an int or a double in its
 *     range, a bool 0 or 1, an enum one of its choices, a list with as
 *     many non-empty, trimmed items as kl_config_list_count() says;
 *     kl_config_validate() and the walks over pattern and kafka.* keys
 *     return documented codes;
 *   - reading the file again into a fresh config gives the same code and
 *     the same settings;
 *   - a file of one plain line (printable ASCII without a backslash, a
 *     key without ':' or blanks, then '=') sets what `-X line` sets
 *     (kl_config_set_kv() on a fresh config): the same code and settings;
 *   - a NUL byte outside a comment is an error (it would cut the value).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "config_priv.h"
#include "fuzz_check.h"
#include "fuzz_file.h"
#include "klabel/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *path; /* the input as a file (fuzz_file.h) */

/* A growing string: the settings of a config, for comparing two. */
struct dump {
    char *s;
    size_t n, cap;
};

static void put(struct dump *d, const char *a, const char *b)
{
    size_t la = strlen(a), lb = b ? strlen(b) : 6;

    if (d->n + la + lb + 3 > d->cap) {
        d->cap = (d->n + la + lb + 3) * 2;
        d->s = realloc(d->s, d->cap);
        CHECK(d->s != NULL, "out of memory");
    }
    memcpy(d->s + d->n, a, la);
    d->s[d->n + la] = '=';
    memcpy(d->s + d->n + la + 1, b ? b : "(null)", lb);
    d->n += la + lb + 1;
    d->s[d->n++] = '\n';
    d->s[d->n] = '\0';
}

static int put_kv(const char *k, const char *v, void *ud)
{
    put(ud, k, v);
    return 0;
}

/* 1 when v is one of the '|'-separated choices. */
static int is_choice(const char *choices, const char *v)
{
    size_t n = strlen(v);

    for (const char *p = choices; p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);

        if (len == n && !memcmp(p, v, n))
            return 1;
        p = bar ? bar + 1 : NULL;
    }
    return 0;
}

/* Checks every declared key of c against its declaration and returns the
 * settings as text (caller frees). */
static char *check_and_dump(const struct kl_config *c)
{
    const struct kl_cfg_def *t = kl_config_table();
    struct dump d = {NULL, 0, 0};
    char err[1024];
    int rc;

    put(&d, "#", "settings");
    for (int i = 0; t[i].name; i++) {
        const char *v;

        if (strchr(t[i].name, '<')) { /* a pattern: the keys set under it */
            rc = kl_config_foreach_match(c, t[i].name, put_kv, &d);
            CHECK(rc == 0, "foreach_match %s: %d", t[i].name, rc);
            continue;
        }
        v = kl_config_get(c, t[i].name);
        put(&d, t[i].name, v);
        switch (t[i].type) {
        case KL_CFG_INT: {
            int64_t x = kl_config_get_int(c, t[i].name);

            CHECK(v == NULL || ((double)x >= t[i].min && (double)x <= t[i].max),
                  "%s = %lld outside [%g, %g]", t[i].name, (long long)x,
                  t[i].min, t[i].max);
            break;
        }
        case KL_CFG_DOUBLE: {
            double x = kl_config_get_double(c, t[i].name);

            CHECK(v == NULL || (isfinite(x) && x >= t[i].min && x <= t[i].max),
                  "%s = %g outside [%g, %g]", t[i].name, x, t[i].min, t[i].max);
            break;
        }
        case KL_CFG_BOOL: {
            int x = kl_config_get_bool(c, t[i].name);

            CHECK(x == 0 || x == 1, "%s = %d", t[i].name, x);
            break;
        }
        case KL_CFG_ENUM:
            CHECK(v == NULL || is_choice(t[i].choices, v),
                  "%s = '%s' is not one of %s", t[i].name, v, t[i].choices);
            break;
        case KL_CFG_LIST: {
            char **items = NULL;
            int n = kl_config_get_list(c, t[i].name, &items);

            CHECK(n == kl_config_list_count(v), "%s: %d items, counted %d",
                  t[i].name, n, kl_config_list_count(v));
            for (int k = 0; k < n; k++) {
                size_t len = strlen(items[k]);

                CHECK(len > 0 && items[k][0] != ' ' && items[k][len - 1] != ' ',
                      "%s: item '%s'", t[i].name, items[k]);
                free(items[k]);
            }
            free(items);
            break;
        }
        default:
            break;
        }
    }
    put(&d, "#", "consumer");
    CHECK(kl_config_foreach_kafka(c, "consumer", put_kv, &d) == 0, "kafka walk");
    put(&d, "#", "producer");
    CHECK(kl_config_foreach_kafka(c, "producer", put_kv, &d) == 0, "kafka walk");
    rc = kl_config_validate(c, err, sizeof err);
    CHECK(rc == 0 || (rc == KL_EINVAL && err[0]), "validate: %d", rc);
    return d.s;
}

/* kl_config_load_file() of the input; the code, and *dump the settings. */
static int load(const uint8_t *data, size_t size, char **dump)
{
    struct kl_config *c = kl_config_create();
    char err[1024] = "";
    int rc;

    CHECK(c != NULL, "out of memory");
    path = kl_fuzz_write(data, size);
    rc = kl_config_load_file(c, path, err, sizeof err);
    CHECK(rc == 0 || rc == KL_EINVAL || rc == KL_ERANGE || rc == KL_ENOMEM,
          "load: code %d (%s)", rc, err);
    CHECK(rc == 0 || (!strncmp(err, path, strlen(path)) &&
                      err[strlen(path)] == ':'),
          "load: error '%s' does not name the file", err);
    *dump = check_and_dump(c);
    kl_config_destroy(c);
    return rc;
}

/* 1 when the input is one plain "key=value" line (see the top). */
static int plain_line(const uint8_t *data, size_t size)
{
    size_t i = 0, eq = 0;

    if (size && data[size - 1] == '\n')
        size--;
    for (i = 0; i < size; i++)
        if (data[i] < 0x20 || data[i] > 0x7E || data[i] == '\\')
            return 0;
    for (i = 0; i < size && data[i] == ' '; i++)
        ;
    if (i == size || data[i] == '#' || data[i] == '!' || data[i] == '=')
        return 0;
    for (eq = i; eq < size && data[eq] != '='; eq++)
        if (data[eq] == ':')
            return 0;
    if (eq == size)
        return 0;
    while (eq > i && data[eq - 1] == ' ')
        eq--;
    for (; i < eq; i++)
        if (data[i] == ' ')
            return 0;
    return 1;
}

/* 1 when a line that is not a comment holds a NUL byte. */
static int nul_outside_comment(const uint8_t *data, size_t size)
{
    size_t i = 0;

    while (i < size) {
        size_t e = i, j = i;

        while (e < size && data[e] != '\n')
            e++;
        if (i == 0 && e >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3))
            j = 3; /* a BOM before the first line */
        while (j < e && (data[j] == ' ' || data[j] == '\t' || data[j] == '\f' ||
                         data[j] == '\v' || data[j] == '\r'))
            j++;
        if (j < e && data[j] != '#' && data[j] != '!' && memchr(data + j, 0, e - j))
            return 1;
        i = e + 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *a = NULL, *b = NULL;
    int ra, rb;

    if (size > 1 << 17)
        return 0;
    ra = load(data, size, &a);
    rb = load(data, size, &b);
    CHECK(ra == rb && !strcmp(a, b), "a second read differs: %d / %d", ra, rb);
    if (nul_outside_comment(data, size))
        CHECK(ra != 0, "a NUL byte in a setting was accepted");
    if (plain_line(data, size)) {
        struct kl_config *c = kl_config_create();
        char *line = strndup((const char *)data, size), err[1024], *x;
        size_t n = strlen(line);

        CHECK(c && line, "out of memory");
        if (n && line[n - 1] == '\n')
            line[n - 1] = '\0';
        rb = kl_config_set_kv(c, line, err, sizeof err);
        x = check_and_dump(c);
        CHECK(ra == rb, "file %d, -X %d for '%s'", ra, rb, line);
        CHECK(ra != 0 || !strcmp(a, x), "file and -X set different values for '%s'",
              line);
        free(x);
        free(line);
        kl_config_destroy(c);
    }
    free(a);
    free(b);
    return 0;
}
