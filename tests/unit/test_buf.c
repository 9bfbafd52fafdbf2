/*
 * Unit tests of plugin/buf.c: growth, printf, reset, and JSON string
 * escaping (quotes, backslashes, control characters, UTF-8 kept, invalid
 * UTF-8 replaced).
 */
#include <criterion/criterion.h>
#include <cJSON.h>
#include <string.h>

#include "buf.h"

static struct kl_buf b;

static void setup(void)
{
    kl_buf_init(&b);
}

static void teardown(void)
{
    kl_buf_fini(&b);
}

TestSuite(buf, .init = setup, .fini = teardown);

Test(buf, append_grows_and_terminates)
{
    int i;

    for (i = 0; i < 10000; i++)
        cr_assert_eq(kl_buf_append(&b, "abc", 3), 0);
    cr_expect_eq(b.len, 30000);
    cr_expect(b.cap > b.len);
    cr_expect_eq(b.data[b.len], '\0');
    cr_expect_eq(memcmp(b.data + 29997, "abc", 3), 0);
    kl_buf_reset(&b);
    cr_expect_eq(b.len, 0);
    cr_expect_str_eq(b.data, "");
    cr_assert_eq(kl_buf_append(&b, "", 0), 0);
    cr_expect_str_eq(b.data, "");
}

Test(buf, printf_long_and_short)
{
    char big[5000];

    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    cr_assert_eq(kl_buf_printf(&b, "%d-%s", 42, "x"), 0);
    cr_assert_eq(kl_buf_printf(&b, "[%s]", big), 0);
    cr_expect_eq(b.len, 4 + 2 + 4999);
    cr_expect_eq(strncmp(b.data, "42-x[zzz", 8), 0);
    cr_expect_eq(b.data[b.len - 1], ']');
    cr_expect_eq(strlen(b.data), b.len);
}

static const char *json_of(const char *s, size_t n)
{
    kl_buf_reset(&b);
    cr_assert_eq(kl_buf_json_str(&b, s, n), 0);
    return b.data;
}

Test(buf, json_escapes)
{
    cr_expect_str_eq(json_of("plain", 5), "\"plain\"");
    cr_expect_str_eq(json_of("", 0), "\"\"");
    cr_expect_str_eq(json_of(NULL, 0), "\"\"");
    cr_expect_str_eq(json_of("a\"b\\c", 5), "\"a\\\"b\\\\c\"");
    cr_expect_str_eq(json_of("\n\t\x01\x1f ", 5), "\"\\u000a\\u0009\\u0001\\u001f \"");
    cr_expect_str_eq(json_of("a\0b", 3), "\"a\\u0000b\"");
    cr_expect_str_eq(json_of("/\x7f", 2), "\"/\x7f\"");
    /* valid UTF-8 as is */
    cr_expect_str_eq(json_of("\xe8\x82\xa1 \xf0\x9f\x98\x80", 8), "\"\xe8\x82\xa1 \xf0\x9f\x98\x80\"");
    /* each invalid byte becomes U+FFFD */
    cr_expect_str_eq(json_of("a\xff" "b\xc0\xaf", 5), "\"a\\ufffdb\\ufffd\\ufffd\"");
    cr_expect_str_eq(json_of("\xe8\x82", 2), "\"\\ufffd\\ufffd\"");
}

Test(buf, json_every_byte_round_trips)
{
    char all[128];
    cJSON *j;
    int i;

    for (i = 0; i < 128; i++)
        all[i] = (char)i;
    kl_buf_reset(&b);
    cr_assert_eq(kl_buf_json_str(&b, all + 1, 127), 0);
    j = cJSON_Parse(b.data);
    cr_assert_not_null(j, "%s", b.data);
    cr_assert(cJSON_IsString(j));
    cr_expect_eq(memcmp(j->valuestring, all + 1, 127), 0);
    cJSON_Delete(j);
}

/* Plain ASCII takes a one-copy path when it fits: at every fill level
 * around the growth boundaries the bytes, length and terminator are those
 * of the general path. */
Test(buf, json_ascii_at_every_fill_level)
{
    char want[512];

    for (size_t fill = 0; fill < 300; fill++) {
        struct kl_buf c;

        kl_buf_init(&c);
        memset(want, 'x', fill);
        memcpy(want + fill, "\"sports\"", 9);
        for (size_t i = 0; i < fill; i++)
            cr_assert_eq(kl_buf_append(&c, "x", 1), 0);
        cr_assert_eq(kl_buf_json_str(&c, "sports", 6), 0);
        cr_expect_eq(c.len, fill + 8, "fill %zu: len %zu", fill, c.len);
        cr_expect_str_eq(c.data, want, "fill %zu", fill);
        cr_expect(c.cap > c.len, "fill %zu: no room for the NUL", fill);
        kl_buf_fini(&c);
    }
}
