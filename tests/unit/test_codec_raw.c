/*
 * Unit tests of plugin/codec_raw.c (input.format=raw): the whole value is
 * the text, the key the id (or topic/partition/offset without a key), the
 * record timestamp the event time; each error class in its order.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "codec.h"

static struct kl_event ev;
static char err[256];
static struct kl_raw_opts ro;

static void setup(void)
{
    kl_event_init(&ev);
    ro.max_bytes = 64;
    err[0] = '\0';
}

static void teardown(void)
{
    kl_event_fini(&ev);
}

static struct kl_msg msg(const char *key, const void *value, size_t len)
{
    struct kl_msg m;

    memset(&m, 0, sizeof m);
    m.topic = "news";
    m.partition = 2;
    m.offset = 1234;
    m.key = key;
    m.key_len = key ? strlen(key) : 0;
    m.value = value;
    m.value_len = len;
    m.ts_ms = 1700000000000LL;
    return m;
}

static int dec(const char *key, const void *value, size_t len)
{
    struct kl_msg m = msg(key, value, len);

    err[0] = '\0';
    return kl_raw_decode_event(&ro, &m, &ev, err, sizeof err);
}

TestSuite(raw, .init = setup, .fini = teardown);

Test(raw, text_key_and_timestamp)
{
    cr_assert_eq(dec("k-1", "股市 大涨 stocks up", strlen("股市 大涨 stocks up")), KL_DEC_OK, "%s", err);
    cr_expect_str_eq(ev.text, "股市 大涨 stocks up");
    cr_expect_eq(ev.text_len, strlen("股市 大涨 stocks up"));
    cr_expect_str_eq(ev.id, "k-1");
    cr_expect_eq(ev.id_len, 3);
    cr_expect_eq(ev.id_is_number, 0);
    cr_expect_null(ev.kind);
    cr_expect_eq(ev.ts_ms, 1700000000000LL);
}

Test(raw, no_key_gives_coordinates)
{
    cr_assert_eq(dec(NULL, "hello", 5), KL_DEC_OK, "%s", err);
    cr_expect_str_eq(ev.id, "news/2/1234");
    cr_expect_eq(ev.id_len, strlen("news/2/1234"));
}

Test(raw, no_timestamp)
{
    struct kl_msg m = msg(NULL, "x", 1);

    m.ts_ms = -1;
    cr_assert_eq(kl_raw_decode_event(&ro, &m, &ev, err, sizeof err), KL_DEC_OK);
    cr_expect_eq(ev.ts_ms, -1);
}

Test(raw, the_value_is_not_parsed)
{
    cr_assert_eq(dec(NULL, "{\"text\": 1", 10), KL_DEC_OK);
    cr_expect_str_eq(ev.text, "{\"text\": 1");
}

Test(raw, error_classes)
{
    char big[65];

    memset(big, 'a', sizeof big);
    cr_expect_eq(dec("k", NULL, 0), KL_DEC_MISSING_TEXT);
    cr_expect(strstr(err, "tombstone"), "%s", err);
    cr_expect_eq(dec("k", big, sizeof big), KL_DEC_OVERSIZE);
    cr_expect(strstr(err, "65 bytes"), "%s", err);
    cr_expect_eq(dec("k", big, 64), KL_DEC_OK);
    cr_expect_eq(dec("k", "ab\xff", 3), KL_DEC_UTF8);
    cr_expect(strstr(err, "byte 2"), "%s", err);
    cr_expect_eq(dec("k", "a\0b", 3), KL_DEC_UTF8);
    cr_expect(strstr(err, "NUL"), "%s", err);
    cr_expect_eq(dec("k", "", 0), KL_DEC_EMPTY_TEXT);
    cr_expect_eq(dec("k", " \t\n\xe3\x80\x80", 6), KL_DEC_EMPTY_TEXT);
    cr_expect(strstr(err, "white space"), "%s", err);
    cr_expect_eq(dec("\xff", "text", 4), KL_DEC_BAD_FIELD);
    cr_expect_null(ev.text);
}

Test(raw, key_too_long)
{
    static char key[KL_EVENT_ID_MAX + 2];

    memset(key, 'k', KL_EVENT_ID_MAX + 1);
    cr_expect_eq(dec(key, "text", 4), KL_DEC_BAD_FIELD);
    key[KL_EVENT_ID_MAX] = '\0';
    cr_expect_eq(dec(key, "text", 4), KL_DEC_OK);
    cr_expect_eq(ev.id_len, KL_EVENT_ID_MAX);
}

Test(raw, order_of_checks)
{
    char big[80];

    memset(big, 0xff, sizeof big); /* oversize and invalid: oversize wins */
    cr_expect_eq(dec("\xff", big, sizeof big), KL_DEC_OVERSIZE);
    cr_expect_eq(dec("\xff", "\xff", 1), KL_DEC_UTF8);  /* text before key */
    cr_expect_eq(dec("\xff", "  ", 2), KL_DEC_EMPTY_TEXT);
}

Test(raw, default_max_is_1mib)
{
    struct kl_msg m = msg("k", NULL, 0);
    static char v[1048577];

    memset(v, 'a', sizeof v);
    m.value = v;
    m.value_len = sizeof v;
    cr_expect_eq(kl_raw_decode_event(NULL, &m, &ev, err, sizeof err), KL_DEC_OVERSIZE);
    m.value_len = sizeof v - 1;
    cr_expect_eq(kl_raw_decode_event(NULL, &m, &ev, err, sizeof err), KL_DEC_OK);
}
