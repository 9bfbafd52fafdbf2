/*
 * Unit tests of plugin/codec_json.c: decoding good events (string and
 * numeric ids, dotted paths), every decode error class and the order of
 * the checks, and encoding results (parsed back with cJSON).
 */
#include <criterion/criterion.h>
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

static char err[512];
static struct kl_event ev;
static struct kl_json_opts opts;

static void setup(void)
{
    kl_event_init(&ev);
    memset(&opts, 0, sizeof(opts));
    opts.field_id = "id";
    opts.field_text = "text";
    opts.field_kind = "kind";
    opts.field_ts = "ts";
    opts.max_bytes = 1048576;
    err[0] = '\0';
}

static void teardown(void)
{
    kl_event_fini(&ev);
}

static int dec_n(const char *s, size_t n)
{
    err[0] = '\0';
    return kl_json_decode_event(&opts, s, n, &ev, err, sizeof(err));
}

static int dec(const char *s)
{
    return dec_n(s, strlen(s));
}

#define EXPECT_DEC(json, want)                                                    \
    do {                                                                          \
        int rc_ = dec(json);                                                      \
        cr_expect_eq(rc_, (want), "%s: got %s (%s), want %s", json,               \
                     kl_decode_error_name(rc_), err, kl_decode_error_name(want)); \
        if (rc_ != KL_DEC_OK)                                                     \
            cr_expect(err[0] != '\0', "%s: no reason", json);                     \
    } while (0)

TestSuite(decode, .init = setup, .fini = teardown);

Test(decode, error_names)
{
    cr_expect_str_eq(kl_decode_error_name(KL_DEC_OK), "ok");
    cr_expect_str_eq(kl_decode_error_name(KL_DEC_OVERSIZE), "oversize");
    cr_expect_str_eq(kl_decode_error_name(KL_DEC_MALFORMED), "malformed");
    cr_expect_str_eq(kl_decode_error_name(KL_DEC_UTF8), "invalid_utf8");
    cr_expect_str_eq(kl_decode_error_name(KL_DEC_MISSING_TEXT), "missing_text");
    cr_expect_str_eq(kl_decode_error_name(KL_DEC_EMPTY_TEXT), "empty_text");
    cr_expect_str_eq(kl_decode_error_name(KL_DEC_BAD_FIELD), "bad_field");
    cr_expect_str_eq(kl_decode_error_name(99), "unknown");
}

Test(decode, string_id)
{
    cr_assert_eq(dec("{\"id\":\"a-1\",\"text\":\"Stocks rally\",\"kind\":\"news\","
                     "\"ts\":1700000000123}"), KL_DEC_OK, "%s", err);
    cr_expect_str_eq(ev.id, "a-1");
    cr_expect_eq(ev.id_len, 3);
    cr_expect_eq(ev.id_is_number, 0);
    cr_expect_str_eq(ev.text, "Stocks rally");
    cr_expect_eq(ev.text_len, 12);
    cr_expect_str_eq(ev.kind, "news");
    cr_expect_eq(ev.kind_len, 4);
    cr_expect_eq(ev.ts_ms, 1700000000123LL);
}

Test(decode, numeric_ids)
{
    cr_assert_eq(dec("{\"id\":42,\"text\":\"x\"}"), KL_DEC_OK, "%s", err);
    cr_expect_str_eq(ev.id, "42");
    cr_expect_eq(ev.id_is_number, 1);
    cr_assert_eq(dec("{\"id\":-7,\"text\":\"x\"}"), KL_DEC_OK, "%s", err);
    cr_expect_str_eq(ev.id, "-7");
    /* beyond 2^53: kept digit for digit, not through a double */
    cr_assert_eq(dec("{\"id\":9007199254740993,\"text\":\"x\"}"), KL_DEC_OK, "%s", err);
    cr_expect_str_eq(ev.id, "9007199254740993");
    cr_assert_eq(dec("{\"id\":9223372036854775807,\"text\":\"x\"}"), KL_DEC_OK, "%s", err);
    cr_expect_str_eq(ev.id, "9223372036854775807");
    cr_assert_eq(dec("{\"id\":1e3,\"text\":\"x\"}"), KL_DEC_OK, "%s", err);
    cr_expect_str_eq(ev.id, "1000");
    /* the same literal elsewhere in the document must not confuse it */
    cr_assert_eq(dec("{\"a\":[1,\"id\",{\"b\":2.5}],\"id\":123,\"n\":-9,\"text\":\"x\"}"),
                 KL_DEC_OK, "%s", err);
    cr_expect_str_eq(ev.id, "123");
}

Test(decode, absent_and_null_fields)
{
    cr_assert_eq(dec("{\"text\":\"only text\"}"), KL_DEC_OK, "%s", err);
    cr_expect_null(ev.id);
    cr_expect_null(ev.kind);
    cr_expect_eq(ev.ts_ms, -1);
    cr_assert_eq(dec("{\"text\":\"t\",\"id\":null,\"kind\":null,\"ts\":null}"), KL_DEC_OK,
                 "%s", err);
    cr_expect_null(ev.id);
    cr_expect_null(ev.kind);
    cr_expect_eq(ev.ts_ms, -1);
}

Test(decode, ts_float_is_floored)
{
    cr_assert_eq(dec("{\"text\":\"t\",\"ts\":1700000000123.9}"), KL_DEC_OK, "%s", err);
    cr_expect_eq(ev.ts_ms, 1700000000123LL);
    cr_assert_eq(dec("{\"text\":\"t\",\"ts\":0}"), KL_DEC_OK, "%s", err);
    cr_expect_eq(ev.ts_ms, 0);
}

Test(decode, dotted_paths)
{
    opts.field_text = "payload.body.text";
    opts.field_id = "meta.id";
    opts.field_kind = "a.b";
    opts.field_ts = "meta.time.ms";
    cr_assert_eq(dec("{\"meta\":{\"id\":77,\"time\":{\"ms\":5}},\"a.b\":\"txn\","
                     "\"payload\":{\"body\":{\"text\":\"deep\"}}}"), KL_DEC_OK, "%s", err);
    cr_expect_str_eq(ev.text, "deep");
    cr_expect_str_eq(ev.id, "77");
    cr_expect_str_eq(ev.kind, "txn"); /* a key with a dot in it */
    cr_expect_eq(ev.ts_ms, 5);
    /* a prefix that is not an object does not resolve */
    EXPECT_DEC("{\"payload\":\"flat\"}", KL_DEC_MISSING_TEXT);
    cr_expect_str_eq(err, "field 'payload.body.text' is missing");
    EXPECT_DEC("{\"payload\":{\"body\":[{\"text\":\"x\"}]}}", KL_DEC_MISSING_TEXT);
}

Test(decode, unicode_and_escapes)
{
    cr_assert_eq(dec("{\"text\":\"\xe8\x82\xa1\xe5\xb8\x82 caf\\u00e9 \\ud83d\\ude00\\n\\\"q\\\"\"}"),
                 KL_DEC_OK, "%s", err);
    cr_expect_str_eq(ev.text, "\xe8\x82\xa1\xe5\xb8\x82 caf\xc3\xa9 \xf0\x9f\x98\x80\n\"q\"");
    /* an escaped backslash before u0000 is text, not a NUL */
    cr_assert_eq(dec("{\"text\":\"a\\\\u0000b\"}"), KL_DEC_OK, "%s", err);
    cr_expect_str_eq(ev.text, "a\\u0000b");
}

Test(decode, duplicate_keys_last_wins_and_reuse)
{
    cr_assert_eq(dec("{\"text\":\"first\",\"text\":\"second\"}"), KL_DEC_OK, "%s", err);
    cr_expect_str_eq(ev.text, "second");
    /* decoding into a used event frees and replaces its content */
    cr_assert_eq(dec(" {\"text\":\"again\",\"id\":\"z\"} \r\n\t"), KL_DEC_OK, "%s", err);
    cr_expect_str_eq(ev.text, "again");
    cr_expect_str_eq(ev.id, "z");
    /* and a failed decode leaves it empty */
    EXPECT_DEC("{}", KL_DEC_MISSING_TEXT);
    cr_expect_null(ev.text);
    cr_expect_null(ev.id);
    cr_expect_eq(ev.ts_ms, -1);
}

Test(decode, oversize)
{
    size_t n = 2000000;
    char *big = malloc(n);

    cr_assert_not_null(big);
    memset(big, ' ', n);
    memcpy(big, "{\"text\":\"x\"}", 12);
    cr_expect_eq(dec_n(big, n), KL_DEC_OVERSIZE);
    cr_expect_str_eq(err, "value is 2000000 bytes, input.max.bytes is 1048576");
    /* oversize wins over malformed */
    memset(big, 'x', n);
    cr_expect_eq(dec_n(big, 1048577), KL_DEC_OVERSIZE);
    opts.max_bytes = 16;
    cr_expect_eq(dec("{\"text\":\"seventeen b\"}"), KL_DEC_OVERSIZE);
    free(big);
}

Test(decode, one_mib_boundary)
{
    size_t n = 1048576, i;
    char *big = malloc(n + 1);

    cr_assert_not_null(big);
    memcpy(big, "{\"text\":\"", 9);
    for (i = 9; i < n - 2; i++)
        big[i] = (char)('a' + i % 26);
    memcpy(big + n - 2, "\"}", 2);
    cr_expect_eq(dec_n(big, n), KL_DEC_OK, "%s", err);
    cr_expect_eq(ev.text_len, n - 11);
    big[n - 1] = ' ';
    big[n] = '}';
    cr_expect_eq(dec_n(big, n + 1), KL_DEC_OVERSIZE);
    free(big);
}

Test(decode, malformed)
{
    EXPECT_DEC("{\"text\":\"abc\"", KL_DEC_MALFORMED);  /* truncated */
    EXPECT_DEC("{\"text\":\"ab", KL_DEC_MALFORMED);     /* truncated in a string */
    EXPECT_DEC("{\"text\":\"a\\", KL_DEC_MALFORMED);     /* ends in an escape */
    EXPECT_DEC("[{\"text\":\"a\"}]", KL_DEC_MALFORMED); /* array top level */
    cr_expect(strstr(err, "array"), "%s", err);
    EXPECT_DEC("\"text\"", KL_DEC_MALFORMED);
    EXPECT_DEC("42", KL_DEC_MALFORMED);
    EXPECT_DEC("", KL_DEC_MALFORMED);
    EXPECT_DEC("   ", KL_DEC_MALFORMED);
    EXPECT_DEC("{\"text\":\"a\"} x", KL_DEC_MALFORMED);       /* trailing data */
    EXPECT_DEC("{\"text\":\"a\"}{}", KL_DEC_MALFORMED);
    EXPECT_DEC("{\"text\":\"a\x01z\"}", KL_DEC_MALFORMED);    /* raw control char */
    EXPECT_DEC("{\"text\":\"a\tb\"}", KL_DEC_MALFORMED);      /* raw tab in a string */
    EXPECT_DEC("{\x0b\"text\":\"a\"}", KL_DEC_MALFORMED);     /* VT is not white space */
    EXPECT_DEC("{\"text\":\"\\ud800\"}", KL_DEC_MALFORMED);   /* lone surrogate */
    EXPECT_DEC("{\"text\":'a'}", KL_DEC_MALFORMED);
    EXPECT_DEC("{\"text\":\"a\",}", KL_DEC_MALFORMED);
    EXPECT_DEC("{\"text\":\"a\",\"n\":NaN}", KL_DEC_MALFORMED);
    cr_expect_eq(dec_n("{\"text\":\"a\"}\0", 13), KL_DEC_MALFORMED); /* NUL byte */
    cr_expect_eq(dec_n("{\"text\":\"a\0b\"}", 14), KL_DEC_MALFORMED);
}

Test(decode, missing_text)
{
    EXPECT_DEC("{}", KL_DEC_MISSING_TEXT);
    cr_expect_str_eq(err, "field 'text' is missing");
    EXPECT_DEC("{\"txt\":\"a\"}", KL_DEC_MISSING_TEXT);
    EXPECT_DEC("{\"text\":5}", KL_DEC_MISSING_TEXT);
    cr_expect_str_eq(err, "field 'text' is a number, not a string");
    EXPECT_DEC("{\"text\":null}", KL_DEC_MISSING_TEXT);
    EXPECT_DEC("{\"text\":[\"a\"]}", KL_DEC_MISSING_TEXT);
    EXPECT_DEC("{\"Text\":\"case matters\"}", KL_DEC_MISSING_TEXT);
    /* a key written with \u0000 is not "text" */
    EXPECT_DEC("{\"text\\u0000\":\"a\"}", KL_DEC_MISSING_TEXT);
    /* missing_text is checked before invalid_utf8 */
    EXPECT_DEC("{\"x\":\"\xff\"}", KL_DEC_MISSING_TEXT);
}

Test(decode, nul_key_never_matches)
{
    /* without the check, "last wins" would pick the NUL-cut key */
    cr_assert_eq(dec("{\"text\":\"real\",\"text\\u0000junk\":\"fake\"}"), KL_DEC_OK, "%s", err);
    cr_expect_str_eq(ev.text, "real");
    /* a NUL in a field we do not read is fine */
    cr_assert_eq(dec("{\"meta\":\"x\\u0000y\",\"text\":\"ok\"}"), KL_DEC_OK, "%s", err);
    cr_expect_str_eq(ev.text, "ok");
}

Test(decode, invalid_utf8)
{
    EXPECT_DEC("{\"text\":\"caf\xe9\"}", KL_DEC_UTF8);           /* Latin-1 byte */
    cr_expect_str_eq(err, "invalid UTF-8 at byte 12");
    EXPECT_DEC("{\"text\":\"\xc0\xaf\"}", KL_DEC_UTF8);           /* overlong '/' */
    EXPECT_DEC("{\"text\":\"\xe0\x80\xaf\"}", KL_DEC_UTF8);       /* overlong, 3 bytes */
    EXPECT_DEC("{\"text\":\"\xed\xa0\x80\"}", KL_DEC_UTF8);       /* encoded surrogate */
    EXPECT_DEC("{\"text\":\"\xf4\x90\x80\x80\"}", KL_DEC_UTF8);   /* > U+10FFFF */
    EXPECT_DEC("{\"text\":\"ab\xe4\xb8\"}", KL_DEC_UTF8);         /* truncated sequence */
    EXPECT_DEC("{\"text\":\"ok\",\"other\":\"\xff\"}", KL_DEC_UTF8); /* anywhere */
    EXPECT_DEC("{\"text\":\"ok\",\"\xfe\":1}", KL_DEC_UTF8);        /* in a key */
}

Test(decode, nul_escape_in_text)
{
    EXPECT_DEC("{\"text\":\"abc\\u0000def\"}", KL_DEC_UTF8);
    cr_expect_str_eq(err, "field 'text' contains a NUL character (\\u0000)");
    EXPECT_DEC("{\"text\":\"\\u0000\"}", KL_DEC_UTF8);
    opts.field_text = "p.t";
    EXPECT_DEC("{\"p\":{\"x\":\"\\u0000\",\"t\":\"a\\u0000\"}}", KL_DEC_UTF8);
    EXPECT_DEC("{\"p\":{\"x\":\"\\u0000\",\"t\":\"fine\"}}", KL_DEC_OK);
}

Test(decode, empty_text)
{
    EXPECT_DEC("{\"text\":\"\"}", KL_DEC_EMPTY_TEXT);
    cr_expect_str_eq(err, "field 'text' is empty");
    EXPECT_DEC("{\"text\":\" \\t\\n\\r \"}", KL_DEC_EMPTY_TEXT);
    cr_expect_str_eq(err, "field 'text' is only white space");
    EXPECT_DEC("{\"text\":\"\\u3000\\u00a0\xe2\x80\x83\"}", KL_DEC_EMPTY_TEXT); /* Unicode spaces */
    EXPECT_DEC("{\"text\":\" .\"}", KL_DEC_OK);
    /* invalid_utf8 comes before empty_text, empty_text before bad_field */
    EXPECT_DEC("{\"text\":\"\",\"x\":\"\xff\"}", KL_DEC_UTF8);
    EXPECT_DEC("{\"text\":\" \",\"id\":true}", KL_DEC_EMPTY_TEXT);
}

Test(decode, bad_field)
{
    char *json;
    size_t i;

    EXPECT_DEC("{\"text\":\"t\",\"id\":true}", KL_DEC_BAD_FIELD);
    cr_expect_str_eq(err, "field 'id' is a boolean, not a string or an integer");
    EXPECT_DEC("{\"text\":\"t\",\"id\":1.5}", KL_DEC_BAD_FIELD);
    EXPECT_DEC("{\"text\":\"t\",\"id\":{\"a\":1}}", KL_DEC_BAD_FIELD);
    EXPECT_DEC("{\"text\":\"t\",\"id\":[1]}", KL_DEC_BAD_FIELD);
    EXPECT_DEC("{\"text\":\"t\",\"id\":9223372036854775808}", KL_DEC_BAD_FIELD);
    EXPECT_DEC("{\"text\":\"t\",\"id\":123456789012345678901234567890123}", KL_DEC_BAD_FIELD);
    EXPECT_DEC("{\"text\":\"t\",\"id\":\"a\\u0000b\"}", KL_DEC_BAD_FIELD);
    EXPECT_DEC("{\"text\":\"t\",\"kind\":3}", KL_DEC_BAD_FIELD);
    EXPECT_DEC("{\"text\":\"t\",\"kind\":\"n\\u0000\"}", KL_DEC_BAD_FIELD);
    EXPECT_DEC("{\"text\":\"t\",\"ts\":\"2024-01-01T00:00:00Z\"}", KL_DEC_BAD_FIELD);
    EXPECT_DEC("{\"text\":\"t\",\"ts\":-1}", KL_DEC_BAD_FIELD);
    EXPECT_DEC("{\"text\":\"t\",\"ts\":1e300}", KL_DEC_BAD_FIELD);
    EXPECT_DEC("{\"text\":\"t\",\"ts\":true}", KL_DEC_BAD_FIELD);

    /* length bounds: exactly the maximum is fine, one more is not */
    json = malloc(KL_EVENT_ID_MAX + 64);
    cr_assert_not_null(json);
    for (i = KL_EVENT_ID_MAX; i <= KL_EVENT_ID_MAX + 1; i++) {
        int n = sprintf(json, "{\"text\":\"t\",\"id\":\"");
        memset(json + n, 'i', i);
        strcpy(json + n + i, "\"}");
        EXPECT_DEC(json, i == KL_EVENT_ID_MAX ? KL_DEC_OK : KL_DEC_BAD_FIELD);
    }
    cr_expect_str_eq(err, "field 'id' is 1025 bytes, at most 1024 allowed");
    for (i = KL_EVENT_KIND_MAX; i <= KL_EVENT_KIND_MAX + 1; i++) {
        int n = sprintf(json, "{\"text\":\"t\",\"kind\":\"");
        memset(json + n, 'k', i);
        strcpy(json + n + i, "\"}");
        EXPECT_DEC(json, i == KL_EVENT_KIND_MAX ? KL_DEC_OK : KL_DEC_BAD_FIELD);
    }
    free(json);
}

Test(decode, bad_arguments)
{
    cr_expect_eq(kl_json_decode_event(&opts, NULL, 5, &ev, err, sizeof(err)), KL_EINVAL);
    cr_expect_eq(kl_json_decode_event(&opts, "{}", 2, NULL, err, sizeof(err)), KL_EINVAL);
    /* NULL opts: default field names and limit; NULL err is fine */
    cr_expect_eq(kl_json_decode_event(NULL, "{\"text\":\"a\"}", 12, &ev, NULL, 0), KL_DEC_OK);
}

/* ------------------------------------------------------------- encode */

static const char *labels[] = { "sport", "fin\"ance\\", "ctl\x01\n", "\xe8\xb4\xa2\xe7\xbb\x8f" };
static struct kl_model_info mi;
static struct kl_source src;
static struct kl_prediction pred;
static struct kl_buf out;

static void enc_setup(void)
{
    setup();
    memset(&mi, 0, sizeof(mi));
    mi.id = "news-zh";
    mi.version = "7";
    mi.nlabels = 4;
    mi.labels = labels;
    src.topic = "in\"put";
    src.partition = 3;
    src.offset = 123456789012LL;
    memset(&pred, 0, sizeof(pred));
    pred.k = 3;
    pred.label[0] = 1;
    pred.prob[0] = 0.75f;
    pred.label[1] = 2;
    pred.prob[1] = 0.125f;
    pred.label[2] = 3;
    pred.prob[2] = 1e-7f;
    kl_buf_init(&out);
}

static void enc_teardown(void)
{
    teardown();
    kl_buf_fini(&out);
}

TestSuite(encode, .init = enc_setup, .fini = enc_teardown);

static cJSON *encode_parse(void)
{
    cJSON *j;

    kl_buf_reset(&out);
    cr_assert_eq(kl_json_encode_result(&ev, &pred, &mi, &src, &out), 0);
    cr_assert_eq(strlen(out.data), out.len);
    j = cJSON_ParseWithLength(out.data, out.len);
    cr_assert_not_null(j, "not JSON: %s", out.data);
    return j;
}

static const cJSON *get(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    cr_assert_not_null(v, "no '%s'", k);
    return v;
}

Test(encode, full_result_round_trips)
{
    const cJSON *top, *t;
    cJSON *j;

    cr_assert_eq(dec("{\"id\":42,\"text\":\"hello\",\"ts\":1700000000123}"), KL_DEC_OK);
    j = encode_parse();
    cr_expect(cJSON_IsNumber(get(j, "id")));
    cr_expect_float_eq(get(j, "id")->valuedouble, 42.0, 1e-9);
    cr_expect_str_eq(get(j, "label")->valuestring, "fin\"ance\\");
    cr_expect_float_eq(get(j, "score")->valuedouble, 0.75, 1e-6);
    top = get(j, "top");
    cr_assert(cJSON_IsArray(top));
    cr_assert_eq(cJSON_GetArraySize(top), 3);
    t = cJSON_GetArrayItem(top, 1);
    cr_expect_str_eq(get(t, "label")->valuestring, "ctl\x01\n");
    cr_expect_float_eq(get(t, "score")->valuedouble, 0.125, 1e-6);
    t = cJSON_GetArrayItem(top, 2);
    cr_expect_str_eq(get(t, "label")->valuestring, "\xe8\xb4\xa2\xe7\xbb\x8f");
    cr_expect_float_eq(get(t, "score")->valuedouble, 1e-7, 1e-12);
    cr_expect_str_eq(get(get(j, "model"), "id")->valuestring, "news-zh");
    cr_expect_str_eq(get(get(j, "model"), "version")->valuestring, "7");
    cr_expect_str_eq(get(get(j, "source"), "topic")->valuestring, "in\"put");
    cr_expect_float_eq(get(get(j, "source"), "partition")->valuedouble, 3, 1e-9);
    cr_expect_float_eq(get(get(j, "source"), "offset")->valuedouble, 123456789012.0, 1e-3);
    cr_expect_float_eq(get(j, "ts")->valuedouble, 1700000000123.0, 1e-3);
    /* control characters go out as \u00XX, quotes escaped */
    cr_expect(strstr(out.data, "\"ctl\\u0001\\u000a\""), "%s", out.data);
    cr_expect(strstr(out.data, "\"fin\\\"ance\\\\\""), "%s", out.data);
    cJSON_Delete(j);
}

Test(encode, string_id_keeps_type_and_escapes)
{
    cJSON *j;

    cr_assert_eq(dec("{\"id\":\"a\\\"b\\\\c\\n\\u0002\\u00e9\",\"text\":\"t\"}"), KL_DEC_OK, "%s", err);
    j = encode_parse();
    cr_expect(cJSON_IsString(get(j, "id")));
    cr_expect_str_eq(get(j, "id")->valuestring, "a\"b\\c\n\x02\xc3\xa9");
    cr_expect(cJSON_IsNull(get(j, "ts")));
    cJSON_Delete(j);

    /* a numeric-looking string id stays a string */
    cr_assert_eq(dec("{\"id\":\"42\",\"text\":\"t\"}"), KL_DEC_OK);
    j = encode_parse();
    cr_expect(cJSON_IsString(get(j, "id")));
    cJSON_Delete(j);
}

Test(encode, big_numeric_id_exact)
{
    cr_assert_eq(dec("{\"id\":9007199254740993,\"text\":\"t\"}"), KL_DEC_OK);
    cJSON_Delete(encode_parse());
    cr_expect(strstr(out.data, "{\"id\":9007199254740993,"), "%s", out.data);
}

Test(encode, no_labels_and_nulls)
{
    cJSON *j;

    cr_assert_eq(dec("{\"text\":\"t\"}"), KL_DEC_OK);
    pred.k = 0;
    j = encode_parse();
    cr_expect(cJSON_IsNull(get(j, "id")));
    cr_expect(cJSON_IsNull(get(j, "label")));
    cr_expect_float_eq(get(j, "score")->valuedouble, 0.0, 1e-12);
    cr_expect_eq(cJSON_GetArraySize(get(j, "top")), 0);
    cJSON_Delete(j);

    kl_buf_reset(&out);
    pred.k = 1;
    cr_assert_eq(kl_json_encode_result(&ev, &pred, NULL, NULL, &out), 0);
    j = cJSON_Parse(out.data);
    cr_assert_not_null(j, "%s", out.data);
    cr_expect(cJSON_IsNull(get(j, "model")));
    cr_expect(cJSON_IsNull(get(j, "source")));
    cr_expect(cJSON_IsNull(get(j, "label"))); /* no model: names unknown */
    cJSON_Delete(j);
}

Test(encode, scores_always_valid_json)
{
    cJSON *j;

    cr_assert_eq(dec("{\"text\":\"t\"}"), KL_DEC_OK);
    pred.prob[0] = NAN;
    pred.prob[1] = INFINITY;
    pred.prob[2] = -INFINITY;
    pred.label[2] = 99; /* out of range: null label, still valid */
    j = encode_parse();
    cr_expect_float_eq(get(j, "score")->valuedouble, 0.0, 1e-12);
    cr_expect(cJSON_IsNull(get(cJSON_GetArrayItem(get(j, "top"), 2), "label")));
    cr_expect(!strstr(out.data, "nan") && !strstr(out.data, "inf"), "%s", out.data);
    cJSON_Delete(j);
}

Test(encode, invalid_utf8_label_is_replaced)
{
    static const char *bad[] = { "ok\xff", "x" };
    cJSON *j;

    cr_assert_eq(dec("{\"text\":\"t\"}"), KL_DEC_OK);
    mi.labels = bad;
    mi.nlabels = 2;
    pred.k = 1;
    pred.label[0] = 0;
    j = encode_parse();
    cr_expect_str_eq(get(j, "label")->valuestring, "ok\xef\xbf\xbd");
    cJSON_Delete(j);
}

Test(encode, omit_top_leaves_only_top_out)
{
    struct kl_result_opts ro = {.omit_top = 1};
    struct kl_buf full;
    const char *top;
    cJSON *j;

    cr_assert_eq(dec("{\"id\":7,\"text\":\"t\",\"ts\":5}"), KL_DEC_OK);
    kl_buf_init(&full);
    cr_assert_eq(kl_json_encode_result(&ev, &pred, &mi, &src, &full), 0);
    cr_assert_eq(kl_json_encode_result_opts(&ev, &pred, &mi, &src, NULL, &ro, &out), 0);
    j = cJSON_Parse(out.data);
    cr_assert_not_null(j, "%s", out.data);
    cr_expect_null(cJSON_GetObjectItemCaseSensitive(j, "top"), "%s", out.data);
    cr_expect_str_eq(get(j, "label")->valuestring, "fin\"ance\\");
    cJSON_Delete(j);
    /* the same bytes as the full result with its "top" member cut out */
    top = strstr(full.data, ",\"top\":[");
    cr_assert_not_null(top);
    cr_expect_eq(out.len + (size_t)(strstr(top, "],\"model\"") + 1 - top), full.len);
    cr_expect_eq(memcmp(out.data, full.data, (size_t)(top - full.data)), 0);
    cr_expect_str_eq(out.data + (top - full.data), strstr(top, "],\"model\"") + 1);
    kl_buf_fini(&full);
}

Test(encode, appends_without_newline)
{
    cr_assert_eq(dec("{\"text\":\"t\",\"id\":1}"), KL_DEC_OK);
    cr_assert_eq(kl_buf_append(&out, "prefix", 6), 0);
    cr_assert_eq(kl_json_encode_result(&ev, &pred, &mi, &src, &out), 0);
    cr_expect_eq(strncmp(out.data, "prefix{\"id\":1,\"label\":", 22), 0, "%s", out.data);
    cr_expect_eq(out.data[out.len - 1], '}');
    cr_expect_eq(kl_json_encode_result(NULL, &pred, &mi, &src, &out), KL_EINVAL);
}

/* The encoder makes room once for the whole result: every string at its
 * worst escaping (control characters as \u00XX, invalid bytes as \ufffd,
 * six bytes each), all KL_TOPK_MAX labels, the widest integers. What it
 * writes stays within that room, and is JSON carrying every string back. */
Test(encode, worst_case_escaping_fits)
{
    static char ctl[KL_TOPK_MAX][300], junk[3][300];
    const char *names[KL_TOPK_MAX];
    char id[1200];
    cJSON *j;

    for (int i = 0; i < KL_TOPK_MAX; i++) {
        memset(ctl[i], 0x01 + i, sizeof ctl[i] - 1);
        names[i] = ctl[i];
        pred.label[i] = i;
        pred.prob[i] = 1e-7f * (float)(i + 1);
    }
    for (int i = 0; i < 3; i++)
        memset(junk[i], 0xff, sizeof junk[i] - 1);
    memset(id, 0x1f, sizeof id - 1);
    id[sizeof id - 1] = '\0';
    cr_assert_eq(dec("{\"text\":\"t\",\"ts\":9007199254740991}"), KL_DEC_OK);
    ev.id = id;
    ev.id_len = strlen(id);
    ev.id_is_number = 0;
    mi.labels = names;
    mi.nlabels = KL_TOPK_MAX;
    mi.id = junk[0];
    mi.version = junk[1];
    src.topic = junk[2];
    src.partition = INT32_MIN;
    src.offset = INT64_MIN;
    pred.k = KL_TOPK_MAX;
    j = encode_parse();
    cr_assert_leq(out.len, kl_json_result_room(&ev, &pred, &mi, &src));
    cr_assert_geq(out.len, kl_json_result_room(&ev, &pred, &mi, &src) / 2,
                  "a loose bound: %zu of %zu", out.len,
                  kl_json_result_room(&ev, &pred, &mi, &src));
    cr_expect_eq(strlen(get(j, "id")->valuestring), sizeof id - 1);
    cr_assert_eq(cJSON_GetArraySize(get(j, "top")), KL_TOPK_MAX);
    for (int i = 0; i < KL_TOPK_MAX; i++)
        cr_expect_str_eq(
            get(cJSON_GetArrayItem(get(j, "top"), i), "label")->valuestring,
            ctl[i]);
    cr_expect_eq(strlen(get(get(j, "model"), "id")->valuestring),
                 3 * (sizeof junk[0] - 1)); /* U+FFFD is 3 bytes */
    cr_expect(strstr(out.data, ",\"offset\":-9223372036854775808}"), "%s",
              out.data + out.len - 80);
    ev.id = NULL;
    cJSON_Delete(j);
}
