/*
 * Unit tests of the properties-file reader (plugin/config_file.c) and -X
 * overrides: parsing, CRLF and a BOM, errors that name the file, line and
 * key, a NUL byte in a setting, over-long lines, a missing file, and
 * overrides applied after the file.
 */
#include "config_helpers.h"

Test(config, file_parse)
{
    const char *text =
        "# a comment\n"
        "! another comment\n"
        "\n"
        "   \t\n"
        "input.topics = news, txn\n"
        "output.topic: labels\n"
        "  model.path   /models/m.safetensors   \n"
        "model.top.k=5\n"
        "model.threshold = 0.25\n"
        "group.id=first\n"
        "group.id=second\n"
        "instance.id = a\\\n"
        "    b\\tc\n"
        "dlq.topic = d\\u00e9\\=x\n"
        "kafka.bootstrap.servers=127.0.0.1:9092\n"
        "kafka.sasl.jaas.config = x=y:z # not a comment\n"
        "input.field.text=payload.text";  /* no newline at the end */
    int rc;
    struct kl_config *c = load_str(text, &rc);

    cr_assert_eq(rc, 0, "%s", err);
    cr_expect_str_eq(kl_config_get(c, "input.topics"), "news, txn");
    cr_expect_str_eq(kl_config_get(c, "output.topic"), "labels");
    cr_expect_str_eq(kl_config_get(c, "model.path"), "/models/m.safetensors");
    cr_expect_eq(kl_config_get_int(c, "model.top.k"), 5);
    cr_expect_float_eq(kl_config_get_double(c, "model.threshold"), 0.25, 1e-12);
    cr_expect_str_eq(kl_config_get(c, "group.id"), "second");
    cr_expect_str_eq(kl_config_get(c, "instance.id"), "ab\tc");
    cr_expect_str_eq(kl_config_get(c, "dlq.topic"), "d\xc3\xa9=x");
    cr_expect_str_eq(kl_config_get(c, "input.field.text"), "payload.text");
    cr_expect_eq(kl_config_validate(c, err, sizeof(err)), 0, "%s", err);
    kl_config_destroy(c);
}

Test(config, file_crlf_and_bom)
{
    const char *text = "\xEF\xBB\xBFinput.topics=a\r\n"
                       "# c\r\n"
                       "output.topic=b\r\n"
                       "model.top.k=7\r\n"
                       "model.path=m\r\n"
                       "instance.id = x\\\r\n"
                       "   y\r\n";
    int rc;
    struct kl_config *c = load_str(text, &rc);

    cr_assert_eq(rc, 0, "%s", err);
    cr_expect_str_eq(kl_config_get(c, "input.topics"), "a");
    cr_expect_str_eq(kl_config_get(c, "output.topic"), "b");
    cr_expect_eq(kl_config_get_int(c, "model.top.k"), 7);
    cr_expect_str_eq(kl_config_get(c, "model.path"), "m");
    cr_expect_str_eq(kl_config_get(c, "instance.id"), "xy"); /* continued over CRLF */
    kl_config_destroy(c);
}

Test(config, file_errors_name_file_line_and_key)
{
    int rc;
    struct kl_config *c = load_str("input.topics=a\n# x\nfoo.bar=1\n", &rc);
    char want[256];

    cr_expect_eq(rc, KL_EINVAL);
    cr_expect(strstr(err, ":3: unknown configuration key 'foo.bar' (see klabel run --help)"),
              "%s", err);
    cr_expect(strstr(err, "/tmp/kl_test_cfg_"), "%s", err);
    kl_config_destroy(c);

    c = load_str("\n\nmodel.top.k = 99\n", &rc);
    cr_expect_eq(rc, KL_ERANGE);
    snprintf(want, sizeof(want), ":3: value '99' for 'model.top.k' is out of range 1..16");
    cr_expect(strstr(err, want), "%s", err);
    kl_config_destroy(c);

    /* continuation: the error names the line where the entry starts */
    c = load_str("a.b = 1\\\n  2\n", &rc);
    cr_expect_eq(rc, KL_EINVAL);
    cr_expect(strstr(err, ":1: unknown configuration key 'a.b'"), "%s", err);
    kl_config_destroy(c);

    c = load_str("input.topics\n", &rc);
    cr_expect_eq(rc, KL_EINVAL);
    cr_expect(strstr(err, ":1: expected key=value"), "%s", err);
    kl_config_destroy(c);

    c = load_str("dlq.topic=\\u12\n", &rc);
    cr_expect_eq(rc, KL_EINVAL);
    cr_expect(strstr(err, "escape"), "%s", err);
    kl_config_destroy(c);
}

/* A NUL byte would cut the key or value short without a word: it is an
 * error in a setting, and ignored in a comment like any other byte. */
Test(config, file_nul_byte_is_an_error)
{
    static const char bad[] = "output.topic=labels\nmodel.path=/m\0.st\n";
    static const char comment[] = "# a\0b\noutput.topic=labels\n";
    struct kl_config *c = kl_config_create();
    const char *path = write_tmp(bad, sizeof bad - 1);

    cr_assert_not_null(c);
    cr_expect_eq(kl_config_load_file(c, path, err, sizeof err), KL_EINVAL);
    cr_expect(strstr(err, ":2: NUL byte in the line"), "%s", err);
    cr_expect_str_eq(kl_config_get(c, "output.topic"), "labels");
    cr_expect_str_empty(kl_config_get(c, "model.path")); /* not "/m" */
    unlink(path);
    kl_config_destroy(c);

    c = kl_config_create();
    path = write_tmp(comment, sizeof comment - 1);
    cr_expect_eq(kl_config_load_file(c, path, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(kl_config_get(c, "output.topic"), "labels");
    unlink(path);
    kl_config_destroy(c);
}

Test(config, file_long_line)
{
    size_t n = 70000;
    char *text = malloc(90000);
    struct kl_config *c = kl_config_create();
    const char *path;
    int rc;

    cr_assert_not_null(text);
    memcpy(text, "dlq.topic=", 10);
    memset(text + 10, 'x', n - 10);
    strcpy(text + n, "\n");
    path = write_tmp(text, strlen(text));
    rc = kl_config_load_file(c, path, err, sizeof(err));
    unlink(path);
    cr_expect_eq(rc, KL_ERANGE);
    cr_expect(strstr(err, ":1: line is longer than 65536 bytes"), "%s", err);

    /* just under the limit is fine */
    memset(text + 10, 'y', 65000);
    strcpy(text + 65010, "\r\n");
    path = write_tmp(text, strlen(text));
    rc = kl_config_load_file(c, path, err, sizeof(err));
    unlink(path);
    cr_expect_eq(rc, 0, "%s", err);
    cr_expect_eq(strlen(kl_config_get(c, "dlq.topic")), 65000);

    /* continued lines count together */
    memset(text + 10, 'z', 40000);
    memcpy(text + 40010, "\\\n", 2);
    memset(text + 40012, 'w', 40000);
    strcpy(text + 80012, "\n");
    path = write_tmp(text, strlen(text));
    rc = kl_config_load_file(c, path, err, sizeof(err));
    unlink(path);
    cr_expect_eq(rc, KL_ERANGE);
    cr_expect(strstr(err, ":1: line is longer than 65536 bytes"), "%s", err);
    free(text);
    kl_config_destroy(c);
}

Test(config, file_missing)
{
    struct kl_config *c = kl_config_create();

    cr_expect_eq(kl_config_load_file(c, "/nonexistent/klabel.properties", err,
                                     sizeof(err)), KL_EIO);
    cr_expect(strstr(err, "/nonexistent/klabel.properties"), "%s", err);
    kl_config_destroy(c);
}

Test(config, overrides_after_file)
{
    int rc;
    struct kl_config *c = load_str("model.top.k=5\ngroup.id=g1\n", &rc);

    cr_assert_eq(rc, 0, "%s", err);
    cr_expect_eq(kl_config_set_kv(c, "model.top.k=9", err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(kl_config_set_kv(c, " group.id = g2 ", err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(kl_config_set_kv(c, "kafka.linger.ms=5", err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(kl_config_get_int(c, "model.top.k"), 9);
    cr_expect_str_eq(kl_config_get(c, "group.id"), "g2");
    cr_expect_eq(kl_config_set_kv(c, "model.top.k", err, sizeof(err)), KL_EINVAL);
    cr_expect(strstr(err, "expected key=value"), "%s", err);
    cr_expect_eq(kl_config_set_kv(c, "=3", err, sizeof(err)), KL_EINVAL);
    /* a failed set leaves the old value */
    cr_expect_eq(kl_config_set_kv(c, "model.top.k=x", err, sizeof(err)), KL_EINVAL);
    cr_expect_eq(kl_config_get_int(c, "model.top.k"), 9);
    /* value may contain '=' */
    cr_expect_eq(kl_config_set_kv(c, "instance.id=a=b", err, sizeof(err)), 0);
    cr_expect_str_eq(kl_config_get(c, "instance.id"), "a=b");
    kl_config_destroy(c);
}
