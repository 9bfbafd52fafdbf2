/*
 * Unit tests of plugin/config.c and plugin/config_keys.c: defaults,
 * value validation and its error texts, required keys, lists, kafka.*
 * pass-through, pattern keys, help and markdown. Properties files and
 * -X overrides: test_config_file.c.
 */
#include "config_helpers.h"

Test(config, defaults)
{
    struct kl_config *c = kl_config_create();

    cr_assert_not_null(c);
    cr_expect_str_eq(kl_config_get(c, "group.id"), "klabel");
    cr_expect_str_eq(kl_config_get(c, "input.format"), "json");
    cr_expect_str_eq(kl_config_get(c, "input.field.id"), "id");
    cr_expect_str_eq(kl_config_get(c, "input.field.text"), "text");
    cr_expect_str_eq(kl_config_get(c, "input.field.kind"), "kind");
    cr_expect_str_eq(kl_config_get(c, "input.field.ts"), "ts");
    cr_expect_eq(kl_config_get_int(c, "input.max.bytes"), 1048576);
    cr_expect_str_eq(kl_config_get(c, "output.format"), "json");
    cr_expect_eq(kl_config_get_int(c, "model.top.k"), 3);
    cr_expect_float_eq(kl_config_get_double(c, "model.threshold"), 0.0, 1e-12);
    cr_expect_eq(kl_config_get_int(c, "batch.max.size"), 256);
    cr_expect_eq(kl_config_get_int(c, "batch.max.delay.us"), 1000);
    cr_expect_str_eq(kl_config_get(c, "dlq.topic"), "klabel-dlq");
    cr_expect_str_eq(kl_config_get(c, "processing.guarantee"), "at_least_once");
    cr_expect_str_eq(kl_config_get(c, "instance.id"), "");
    cr_expect_str_eq(kl_config_get(c, "log.level"), "info");
    cr_expect_eq(kl_config_get_int(c, "shutdown.timeout.ms"), 10000);
    cr_expect_null(kl_config_get(c, "input.topics"));
    cr_expect_null(kl_config_get(c, "output.topic"));
    cr_expect_str_eq(kl_config_get(c, "model.path"), "",
                     "optional: model.path or models (plugin/route.c checks)");
    cr_expect_eq(kl_config_get_int(c, "workers"), 1);
    cr_expect_eq(kl_config_get_bool(c, "stage.inference"), 1);
    cr_expect_str_eq(kl_config_get(c, "output.partition"), "key");
    kl_config_destroy(c);
}

Test(config, every_default_is_valid_and_every_key_documented)
{
    const struct kl_cfg_def *d;
    int n = 0;

    for (d = kl_config_table(); d->name; d++, n++) {
        cr_expect_not_null(d->desc, "%s has no description", d->name);
        cr_expect(d->desc && strlen(d->desc) > 5, "%s: description too short", d->name);
        if (d->def)
            cr_expect_eq(kl_config_check(d, d->def, err, sizeof(err)), 0,
                         "default of %s: %s", d->name, err);
        if (d->type == KL_CFG_INT || d->type == KL_CFG_DOUBLE)
            cr_expect(d->min <= d->max, "%s: empty range", d->name);
        if (d->type == KL_CFG_ENUM)
            cr_expect_not_null(d->choices, "%s: enum without choices", d->name);
    }
    /* Keys are added by several modules; each checks its own. */
    cr_expect_geq(n, 20);
}

Test(config, required_missing)
{
    struct kl_config *c = kl_config_create();

    cr_assert_eq(kl_config_validate(c, err, sizeof(err)), KL_EINVAL);
    cr_expect(strstr(err, "'input.topics'"), "%s", err);
    cr_expect(strstr(err, "'output.topic'"), "%s", err);
    cr_expect(!strstr(err, "'model.path'"), "%s", err); /* route.c checks it */
    cr_expect(strstr(err, "missing required"), "%s", err);
    cr_assert_eq(kl_config_set(c, "input.topics", "a", err, sizeof(err)), 0);
    cr_assert_eq(kl_config_validate(c, err, sizeof(err)), KL_EINVAL);
    cr_expect(!strstr(err, "'input.topics'"), "%s", err);
    cr_expect(strstr(err, "'output.topic'"), "%s", err);
    /* an empty value does not count, nor a list of empty items */
    cr_assert_eq(kl_config_set(c, "output.topic", "  ", err, sizeof(err)), 0);
    cr_expect_eq(kl_config_validate(c, err, sizeof(err)), KL_EINVAL);
    cr_assert_eq(kl_config_set(c, "output.topic", "out", err, sizeof(err)), 0);
    cr_expect_eq(kl_config_validate(c, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(kl_config_set(c, "input.topics", " , ,", err, sizeof(err)), 0);
    cr_expect_eq(kl_config_validate(c, err, sizeof(err)), KL_EINVAL);
    cr_expect(strstr(err, "'input.topics'"), "%s", err);
    kl_config_destroy(c);
}

Test(config, unknown_key_text)
{
    struct kl_config *c = kl_config_create();

    cr_expect_eq(kl_config_set(c, "foo.bar", "1", err, sizeof(err)), KL_EINVAL);
    cr_expect_str_eq(err, "unknown configuration key 'foo.bar' (see klabel run --help)");
    cr_expect_eq(kl_config_set_kv(c, "model.topk=1", err, sizeof(err)), KL_EINVAL);
    cr_expect_str_eq(err, "unknown configuration key 'model.topk' (see klabel run --help)");
    kl_config_destroy(c);
}

Test(config, bad_int)
{
    struct kl_config *c = kl_config_create();
    const char *bad[] = { "abc", "12x", "", "1.5", "0x10", "99999999999999999999", "3 4" };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_expect_eq(kl_config_set(c, "model.top.k", bad[i], err, sizeof(err)), KL_EINVAL,
                     "'%s' accepted", bad[i]);
        cr_expect(strstr(err, "'model.top.k'") && strstr(err, "1..16"), "%s", err);
    }
    cr_expect_eq(kl_config_set(c, "model.top.k", "abc", err, sizeof(err)), KL_EINVAL);
    cr_expect_str_eq(err, "invalid value 'abc' for 'model.top.k': expected an integer in 1..16");
    cr_expect_eq(kl_config_set(c, "model.top.k", " 16 ", err, sizeof(err)), 0);
    cr_expect_eq(kl_config_get_int(c, "model.top.k"), 16);
    kl_config_destroy(c);
}

Test(config, int_range)
{
    struct kl_config *c = kl_config_create();

    cr_expect_eq(kl_config_set(c, "model.top.k", "17", err, sizeof(err)), KL_ERANGE);
    cr_expect_str_eq(err, "value '17' for 'model.top.k' is out of range 1..16");
    cr_expect_eq(kl_config_set(c, "model.top.k", "0", err, sizeof(err)), KL_ERANGE);
    cr_expect_eq(kl_config_set(c, "input.max.bytes", "15", err, sizeof(err)), KL_ERANGE);
    cr_expect(strstr(err, "16..67108864"), "%s", err);
    cr_expect_eq(kl_config_set(c, "input.max.bytes", "16", err, sizeof(err)), 0);
    cr_expect_eq(kl_config_set(c, "input.max.bytes", "67108864", err, sizeof(err)), 0);
    cr_expect_eq(kl_config_get_int(c, "input.max.bytes"), 67108864);
    cr_expect_eq(kl_config_set(c, "input.max.bytes", "67108865", err, sizeof(err)), KL_ERANGE);
    cr_expect_eq(kl_config_set(c, "batch.max.delay.us", "0", err, sizeof(err)), 0);
    cr_expect_eq(kl_config_set(c, "batch.max.delay.us", "-1", err, sizeof(err)), KL_ERANGE);
    cr_expect_eq(kl_config_set(c, "shutdown.timeout.ms", "99", err, sizeof(err)), KL_ERANGE);
    kl_config_destroy(c);
}

Test(config, bad_double)
{
    struct kl_config *c = kl_config_create();

    cr_expect_eq(kl_config_set(c, "model.threshold", "1.5", err, sizeof(err)), KL_ERANGE);
    cr_expect(strstr(err, "'model.threshold'") && strstr(err, "0..1"), "%s", err);
    cr_expect_eq(kl_config_set(c, "model.threshold", "nan", err, sizeof(err)), KL_EINVAL);
    cr_expect_eq(kl_config_set(c, "model.threshold", "0.5x", err, sizeof(err)), KL_EINVAL);
    cr_expect_eq(kl_config_set(c, "model.threshold", "1", err, sizeof(err)), 0);
    cr_expect_float_eq(kl_config_get_double(c, "model.threshold"), 1.0, 1e-12);
    kl_config_destroy(c);
}

Test(config, bad_enum)
{
    struct kl_config *c = kl_config_create();

    cr_expect_eq(kl_config_set(c, "input.format", "protobuf", err, sizeof(err)), KL_EINVAL);
    cr_expect_str_eq(err, "invalid value 'protobuf' for 'input.format': expected one of json|avro|raw");
    cr_expect_eq(kl_config_set(c, "processing.guarantee", "exactly_once", err,
                               sizeof(err)), KL_EINVAL);
    cr_expect_eq(kl_config_set(c, "log.level", "verbose", err, sizeof(err)), KL_EINVAL);
    cr_expect(strstr(err, "error|warn|info|debug"), "%s", err);
    cr_expect_eq(kl_config_set(c, "log.level", "inf", err, sizeof(err)), KL_EINVAL);
    cr_expect_eq(kl_config_set(c, "log.level", "debug", err, sizeof(err)), 0);
    cr_expect_str_eq(kl_config_get(c, "log.level"), "debug");
    kl_config_destroy(c);
}

Test(config, bool_values)
{
    const struct kl_cfg_def d = { "x.enable", KL_CFG_BOOL, "false", 0, 0, NULL, "test" };
    const char *good[] = { "true", "false", "1", "0", "yes", "no", "TRUE", "No" };
    const char *bad[] = { "maybe", "2", "", "on", "truex" };
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_expect_eq(kl_config_check(&d, good[i], err, sizeof(err)), 0, "%s", good[i]);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_expect_eq(kl_config_check(&d, bad[i], err, sizeof(err)), KL_EINVAL, "%s", bad[i]);
        cr_expect(strstr(err, "'x.enable'") && strstr(err, "true, false"), "%s", err);
    }
}

Test(config, list_parsing)
{
    struct kl_config *c = kl_config_create();
    char **items = NULL;
    int n, i;

    cr_assert_eq(kl_config_set(c, "input.topics", " news , txn,,  ,a.b-c_1 ,", err,
                               sizeof(err)), 0);
    n = kl_config_get_list(c, "input.topics", &items);
    cr_assert_eq(n, 3);
    cr_expect_str_eq(items[0], "news");
    cr_expect_str_eq(items[1], "txn");
    cr_expect_str_eq(items[2], "a.b-c_1");
    for (i = 0; i < n; i++)
        free(items[i]);
    free(items);

    cr_assert_eq(kl_config_set(c, "input.topics", "one", err, sizeof(err)), 0);
    n = kl_config_get_list(c, "input.topics", &items);
    cr_assert_eq(n, 1);
    cr_expect_str_eq(items[0], "one");
    free(items[0]);
    free(items);

    cr_assert_eq(kl_config_set(c, "input.topics", ",", err, sizeof(err)), 0);
    items = (char **)1;
    cr_expect_eq(kl_config_get_list(c, "input.topics", &items), 0);
    cr_expect_null(items);
    kl_config_destroy(c);
}

struct seen {
    char buf[1024];
};

static int collect(const char *k, const char *v, void *ud)
{
    struct seen *s = ud;
    size_t n = strlen(s->buf);

    snprintf(s->buf + n, sizeof(s->buf) - n, "%s=%s;", k, v);
    return 0;
}

static int stop_at_second(const char *k, const char *v, void *ud)
{
    int *n = ud;

    (void)k;
    (void)v;
    return ++*n == 2 ? 42 : 0;
}

Test(config, kafka_passthrough_per_role)
{
    struct kl_config *c = set_required();
    struct seen s;
    int n = 0;

    cr_assert_eq(kl_config_set(c, "kafka.consumer.fetch.min.bytes", "10", err, sizeof(err)), 0);
    cr_assert_eq(kl_config_set(c, "kafka.bootstrap.servers", "h:1", err, sizeof(err)), 0);
    cr_assert_eq(kl_config_set(c, "kafka.producer.linger.ms", "2", err, sizeof(err)), 0);
    cr_assert_eq(kl_config_set(c, "kafka.client.id", "shared", err, sizeof(err)), 0);
    cr_assert_eq(kl_config_set(c, "kafka.consumer.client.id", "cons", err, sizeof(err)), 0);
    cr_assert_eq(kl_config_set(c, "kafka.bootstrap.servers", "h:2", err, sizeof(err)), 0);
    cr_assert_eq(kl_config_set(c, "kafka.sasl.password", " with spaces ", err, sizeof(err)), 0);

    memset(&s, 0, sizeof(s));
    cr_assert_eq(kl_config_foreach_kafka(c, "consumer", collect, &s), 0);
    cr_expect_str_eq(s.buf, "bootstrap.servers=h:2;client.id=shared;"
                            "sasl.password= with spaces ;"
                            "fetch.min.bytes=10;client.id=cons;");
    memset(&s, 0, sizeof(s));
    cr_assert_eq(kl_config_foreach_kafka(c, "producer", collect, &s), 0);
    cr_expect_str_eq(s.buf, "bootstrap.servers=h:2;client.id=shared;"
                            "sasl.password= with spaces ;linger.ms=2;");
    cr_expect_eq(kl_config_foreach_kafka(c, "producer", stop_at_second, &n), 42);
    cr_expect_eq(n, 2);

    cr_expect_eq(kl_config_set(c, "kafka.", "x", err, sizeof(err)), KL_EINVAL);
    cr_expect_eq(kl_config_set(c, "kafka.consumer.", "x", err, sizeof(err)), KL_EINVAL);
    /* kafka keys do not make a config valid or invalid */
    cr_expect_eq(kl_config_validate(c, err, sizeof(err)), 0, "%s", err);
    kl_config_destroy(c);
}

/* -X trims the white space around a value as the file reader does, for
 * kafka.* keys too (kl_config_set keeps theirs as given); found by
 * fuzz_config: "kafka.consumer.x =   c" set "c" from a file, "   c" by -X. */
Test(config, set_kv_trims_like_the_file)
{
    struct kl_config *c = kl_config_create();
    struct seen s;

    cr_assert_eq(kl_config_set_kv(c, " kafka.consumer.client.id =   c \t", err, sizeof(err)),
                 0, "%s", err);
    cr_assert_eq(kl_config_set_kv(c, "group.id= g ", err, sizeof(err)), 0, "%s", err);
    memset(&s, 0, sizeof(s));
    cr_assert_eq(kl_config_foreach_kafka(c, "consumer", collect, &s), 0);
    cr_expect_str_eq(s.buf, "client.id=c;");
    cr_expect_str_eq(kl_config_get(c, "group.id"), "g");
    kl_config_destroy(c);
}

static char *render(void (*fn)(FILE *))
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);

    cr_assert_not_null(f);
    fn(f);
    fclose(f);
    return text;
}

Test(config, help_and_markdown_list_every_key)
{
    char *help = render(kl_config_print_help), *md = render(kl_config_print_markdown);
    const struct kl_cfg_def *d;
    char cell[128];

    for (d = kl_config_table(); d->name; d++) {
        cr_expect(strstr(help, d->name), "help lacks %s", d->name);
        cr_expect(strstr(help, d->desc), "help lacks the description of %s", d->name);
        snprintf(cell, sizeof(cell), "| `%s` |", d->name);
        cr_expect(strstr(md, cell), "markdown lacks %s", d->name);
    }
    cr_expect(strstr(help, "kafka.consumer."), "%s", help);
    cr_expect(strstr(help, "1..16"), "help lacks the range of model.top.k");
    cr_expect(strstr(help, "(required)"));
    cr_expect(strstr(md, "klabel config --markdown"));
    cr_expect(strstr(md, "| Key | Type | Default | Range / choices | Description |"));
    cr_expect(strstr(md, "`kafka.consumer.<prop>`"));
    cr_expect(strstr(md, "`error\\|warn\\|info\\|debug`"), "enum pipes not escaped");
    free(help);
    free(md);
}

Test(config, help_is_aligned)
{
    char *help = render(kl_config_print_help), *line, *save = NULL;
    long col = -1;

    /* the TYPE column starts at the same place on every table line */
    for (line = strtok_r(help, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *t = strstr(line, "  int ");
        if (!t)
            t = strstr(line, "  string ");
        if (!t || strncmp(line, "  ", 2) != 0)
            continue;
        if (col < 0)
            col = t - line;
        cr_expect_eq(t - line, col, "misaligned: %s", line);
    }
    cr_expect(col > 0);
    free(help);
}

Test(config, getter_of_undeclared_key_aborts, .signal = SIGABRT)
{
    struct kl_config *c = kl_config_create();

    kl_config_get(c, "no.such.key");
}

Test(config, getter_of_wrong_type_aborts, .signal = SIGABRT)
{
    struct kl_config *c = kl_config_create();

    kl_config_get_int(c, "group.id");
}

Test(config, pattern_keys)
{
    struct kl_config *c = kl_config_create();
    struct kl_config *f;
    int rc;

    cr_assert_not_null(c);
    cr_expect_eq(kl_config_set(c, "model.news.path", " /n.safetensors ", err,
                               sizeof(err)), 0, "%s", err);
    cr_expect_eq(kl_config_set(c, "route.topic.eu.cards.v1", "txn", err,
                               sizeof(err)), 0, "%s", err);
    cr_expect_eq(kl_config_set(c, "route.kind.transaction", "txn", err,
                               sizeof(err)), 0, "%s", err);
    cr_expect_eq(kl_config_set(c, "route.kind.transaction", "news", err,
                               sizeof(err)), 0, "last setting wins");
    cr_expect_str_eq(kl_config_get_match(c, "model.news.path"), "/n.safetensors");
    cr_expect_str_eq(kl_config_get_match(c, "model.txn.path"), "",
                     "unset: the pattern's default");
    cr_expect_null(kl_config_get_match(c, "model.path.x"));
    cr_expect_str_eq(kl_config_get_match(c, "route.topic.eu.cards.v1"), "txn");
    /* The wildcard must hold text; near misses are unknown keys. */
    cr_expect_eq(kl_config_set(c, "model..path", "x", err, sizeof(err)), KL_EINVAL);
    cr_expect(strstr(err, "unknown configuration key 'model..path'"), "%s", err);
    cr_expect_eq(kl_config_set(c, "route.kind.", "x", err, sizeof(err)), KL_EINVAL);
    cr_expect_eq(kl_config_set(c, "route.topics.a", "x", err, sizeof(err)), KL_EINVAL);
    /* Declared keys keep their own entries. */
    cr_expect_eq(kl_config_set(c, "route.default", "news", err, sizeof(err)), 0);
    cr_expect_str_eq(kl_config_get(c, "route.default"), "news");
    cr_expect_null(kl_config_get_match(c, "route.default"));
    kl_config_destroy(c);
    /* From a file too. */
    f = load_str("models = a,b\nmodel.a.path=/a\nroute.kind.x.y = b\n", &rc);
    cr_expect_eq(rc, 0, "%s", err);
    cr_expect_str_eq(kl_config_get_match(f, "route.kind.x.y"), "b");
    kl_config_destroy(f);
}

/* kl_config_foreach_match callback: appends "wild=value;" to ud. */
static int collect_match(const char *wild, const char *v, void *ud)
{
    char *out = ud;

    strcat(out, wild);
    strcat(out, "=");
    strcat(out, v);
    strcat(out, ";");
    return strcmp(wild, "stop") == 0 ? 7 : 0;
}

Test(config, pattern_foreach)
{
    struct kl_config *c = kl_config_create();
    char out[256] = "";

    cr_assert_not_null(c);
    cr_assert_eq(kl_config_set(c, "route.kind.b", "2", err, sizeof(err)), 0);
    cr_assert_eq(kl_config_set(c, "route.topic.t", "9", err, sizeof(err)), 0);
    cr_assert_eq(kl_config_set(c, "route.kind.a.b", "1", err, sizeof(err)), 0);
    cr_assert_eq(kl_config_set(c, "route.kind.b", "3", err, sizeof(err)), 0);
    cr_expect_eq(kl_config_foreach_match(c, "route.kind.<kind>", collect_match, out), 0);
    cr_expect_str_eq(out, "b=3;a.b=1;", "first-set order, last value");
    out[0] = '\0';
    cr_assert_eq(kl_config_set(c, "route.kind.stop", "4", err, sizeof(err)), 0);
    cr_expect_eq(kl_config_foreach_match(c, "route.kind.<kind>", collect_match, out), 7);
    out[0] = '\0';
    cr_expect_eq(kl_config_foreach_match(c, "model.<name>.path", collect_match, out), 0);
    cr_expect_str_eq(out, "");
    kl_config_destroy(c);
}
