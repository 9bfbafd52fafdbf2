/*
 * Unit tests of plugin/dlq.c: a dead letter keeps the original key, value
 * and non-klabel headers, adds the class, a bounded reason cut on a UTF-8
 * boundary, the source topic/partition/offset/timestamp and the instance;
 * dead-lettering a dead letter again replaces the klabel.* headers
 * instead of piling them up; every class name is stable.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "codec.h"
#include "dlq.h"

static struct kl_dlq d;

static void setup(void)
{
    kl_dlq_init(&d);
}

static void teardown(void)
{
    kl_dlq_fini(&d);
}

TestSuite(dlq, .init = setup, .fini = teardown);

/* The value of header name in om as a string ("" + found=0 if absent);
 * fails on a second one. */
static const char *hdr(const struct kl_out_msg *om, const char *name, int *count)
{
    static char buf[1024];
    size_t i;

    *count = 0;
    buf[0] = '\0';
    for (i = 0; i < om->nheaders; i++) {
        if (strcmp(om->headers[i].name, name))
            continue;
        (*count)++;
        snprintf(buf, sizeof buf, "%.*s", (int)om->headers[i].value_len,
                 (const char *)om->headers[i].value);
    }
    return buf;
}

#define EXPECT_HDR(om, name, want)                                          \
    do {                                                                    \
        int n_;                                                             \
        const char *v_ = hdr((om), (name), &n_);                            \
        cr_expect_eq(n_, 1, "%s appears %d times", (name), n_);             \
        cr_expect_str_eq(v_, (want), "header %s", (name));                  \
    } while (0)

static struct kl_msg input(struct kl_header *h, size_t nh)
{
    struct kl_msg m;

    memset(&m, 0, sizeof m);
    m.topic = "news-in";
    m.partition = 7;
    m.offset = 9876543210LL;
    m.key = "key-1";
    m.key_len = 5;
    m.value = "{bad json";
    m.value_len = 9;
    m.headers = h;
    m.nheaders = nh;
    m.ts_ms = 1700000000123LL;
    return m;
}

Test(dlq, original_record_and_headers)
{
    struct kl_header h[2] = {{"trace-id", "abc", 3}, {"null-header", NULL, 0}};
    struct kl_msg m = input(h, 2);
    struct kl_out_msg om;
    int n;

    cr_assert_eq(kl_dlq_build(&d, &m, "dlq", "malformed", "not valid JSON", "inst-1", &om), 0);
    cr_expect_str_eq(om.topic, "dlq");
    cr_expect_eq(om.partition, -1);
    cr_expect_eq(om.key_len, 5);
    cr_expect(!memcmp(om.key, "key-1", 5));
    cr_expect_eq(om.value_len, 9);
    cr_expect(!memcmp(om.value, "{bad json", 9));
    EXPECT_HDR(&om, "trace-id", "abc");
    hdr(&om, "null-header", &n);
    cr_expect_eq(n, 1);
    EXPECT_HDR(&om, KL_HDR_ERROR_CLASS, "malformed");
    EXPECT_HDR(&om, KL_HDR_ERROR_REASON, "not valid JSON");
    EXPECT_HDR(&om, KL_HDR_SOURCE_TOPIC, "news-in");
    EXPECT_HDR(&om, KL_HDR_SOURCE_PARTITION, "7");
    EXPECT_HDR(&om, KL_HDR_SOURCE_OFFSET, "9876543210");
    EXPECT_HDR(&om, KL_HDR_SOURCE_TIMESTAMP, "1700000000123");
    EXPECT_HDR(&om, KL_HDR_INSTANCE, "inst-1");
    cr_expect_eq(om.nheaders, 9);
}

Test(dlq, no_timestamp_no_header)
{
    struct kl_msg m = input(NULL, 0);
    struct kl_out_msg om;
    int n;

    m.ts_ms = -1;
    m.key = NULL;
    m.key_len = 0;
    cr_assert_eq(kl_dlq_build(&d, &m, "dlq", "oversize", "big", "i", &om), 0);
    hdr(&om, KL_HDR_SOURCE_TIMESTAMP, &n);
    cr_expect_eq(n, 0);
    cr_expect_null(om.key);
    cr_expect_eq(om.nheaders, 6);
}

Test(dlq, twice_replaces_klabel_headers)
{
    struct kl_header h[1] = {{"keep", "1", 1}};
    struct kl_msg m = input(h, 1), again;
    struct kl_out_msg om;
    struct kl_header copy[16];
    struct kl_dlq d2;
    size_t i;

    cr_assert_eq(kl_dlq_build(&d, &m, "dlq", "bad_avro", "first", "inst-1", &om), 0);
    /* the dead letter is read back from the DLQ topic and fails again */
    cr_assert_leq(om.nheaders, 16);
    for (i = 0; i < om.nheaders; i++)
        copy[i] = om.headers[i];
    again = input(copy, om.nheaders);
    again.topic = "dlq";
    again.partition = 0;
    again.offset = 5;
    kl_dlq_init(&d2);
    cr_assert_eq(kl_dlq_build(&d2, &again, "dlq2", "no_route", "second", "inst-2", &om), 0);
    EXPECT_HDR(&om, "keep", "1");
    EXPECT_HDR(&om, KL_HDR_ERROR_CLASS, "no_route");
    EXPECT_HDR(&om, KL_HDR_ERROR_REASON, "second");
    EXPECT_HDR(&om, KL_HDR_SOURCE_TOPIC, "dlq");
    EXPECT_HDR(&om, KL_HDR_SOURCE_OFFSET, "5");
    EXPECT_HDR(&om, KL_HDR_INSTANCE, "inst-2");
    cr_expect_eq(om.nheaders, 8);
    kl_dlq_fini(&d2);
}

Test(dlq, reason_is_bounded_on_a_utf8_boundary)
{
    char reason[KL_DLQ_REASON_MAX * 2 + 1];
    struct kl_msg m = input(NULL, 0);
    struct kl_out_msg om;
    size_t i;
    int n;

    /* "é" is 2 bytes; start with one ASCII byte so the cut falls inside one */
    reason[0] = 'x';
    for (i = 1; i + 1 < sizeof reason - 1; i += 2) {
        reason[i] = '\xc3';
        reason[i + 1] = '\xa9';
    }
    reason[i] = '\0';
    cr_assert_eq(kl_dlq_build(&d, &m, "dlq", "bad_field", reason, "i", &om), 0);
    hdr(&om, KL_HDR_ERROR_REASON, &n);
    for (i = 0; i < om.nheaders; i++)
        if (!strcmp(om.headers[i].name, KL_HDR_ERROR_REASON))
            break;
    cr_assert_lt(i, om.nheaders);
    cr_expect_leq(om.headers[i].value_len, KL_DLQ_REASON_MAX);
    cr_expect_geq(om.headers[i].value_len, KL_DLQ_REASON_MAX - 1);
    cr_expect_eq(kl_utf8_validate(om.headers[i].value, om.headers[i].value_len, NULL), 0,
                 "the cut reason is not valid UTF-8");
}

Test(dlq, headers_grow_with_the_input)
{
    struct kl_header h[40];
    struct kl_msg m;
    struct kl_out_msg om;
    size_t i;

    for (i = 0; i < 40; i++) {
        h[i].name = i % 2 ? "klabel.error.class" : "x";
        h[i].value = "v";
        h[i].value_len = 1;
    }
    m = input(h, 40);
    cr_assert_eq(kl_dlq_build(&d, &m, "dlq", "empty_text", "r", "i", &om), 0);
    cr_expect_eq(om.nheaders, 20 + 7);
}

Test(dlq, class_names_are_stable)
{
    static const struct { int e; const char *name; } want[] = {
        {KL_DEC_OVERSIZE, "oversize"}, {KL_DEC_MALFORMED, "malformed"},
        {KL_DEC_UTF8, "invalid_utf8"}, {KL_DEC_MISSING_TEXT, "missing_text"},
        {KL_DEC_EMPTY_TEXT, "empty_text"}, {KL_DEC_BAD_FIELD, "bad_field"},
        {KL_DEC_BAD_AVRO, "bad_avro"}, {KL_DEC_UNKNOWN_SCHEMA, "unknown_schema_id"},
        {KL_DEC_BAD_FRAMING, "bad_framing"}, {KL_DEC_NO_ROUTE, "no_route"},
    };
    size_t i;

    for (i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_expect_str_eq(kl_decode_error_name(want[i].e), want[i].name);
}
