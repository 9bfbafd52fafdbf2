/*
 * Unit tests of plugin/codec_json_fast.c: the fast path decodes typical
 * flat events itself, leaves nested, odd and bad ones to the full decoder,
 * and kl_json_decode_event() gives the same answer (return code, reason,
 * every event field) with the fast path on and off, on hand-written edge
 * cases and on 200,000 generated documents (flat and nested, escapes,
 * surrogates, repeated keys, every value type, truncations, stray bytes).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "codec_json_fast.h"

static const char *const names[4] = {"id", "text", "kind", "ts"};

/* Decodes doc with the fast path on and off; 1 when both agree. */
static int agree(const struct kl_json_opts *o, const char *doc, size_t n)
{
    struct kl_event a, b;
    char ea[512] = "", eb[512] = "";
    int ra, rb, same;

    kl_event_init(&a);
    kl_event_init(&b);
    kl_json_set_fast(1);
    ra = kl_json_decode_event(o, doc, n, &a, ea, sizeof ea);
    kl_json_set_fast(0);
    rb = kl_json_decode_event(o, doc, n, &b, eb, sizeof eb);
    kl_json_set_fast(1);
    same = ra == rb && !strcmp(ea, eb) && a.ts_ms == b.ts_ms &&
           a.id_is_number == b.id_is_number && a.text_len == b.text_len &&
           a.id_len == b.id_len && a.kind_len == b.kind_len &&
           !a.text == !b.text && !a.id == !b.id && !a.kind == !b.kind &&
           (!a.text || !memcmp(a.text, b.text, a.text_len)) &&
           (!a.id || !memcmp(a.id, b.id, a.id_len)) &&
           (!a.kind || !memcmp(a.kind, b.kind, a.kind_len));
    if (!same)
        cr_log_error("differs (%d/%d, '%s' / '%s'): %.*s", ra, rb, ea, eb,
                     (int)(n > 300 ? 300 : n), doc);
    kl_event_fini(&a);
    kl_event_fini(&b);
    return same;
}

static struct kl_json_opts opts_default(void)
{
    struct kl_json_opts o;

    memset(&o, 0, sizeof o);
    o.field_id = "id";
    o.field_text = "text";
    o.field_kind = "kind";
    o.field_ts = "ts";
    o.max_bytes = 1048576;
    return o;
}

Test(json_fast, takes_typical_events)
{
    static const char *const good[] = {
        "{\"id\":17,\"text\":\"恒生AH溢指收平\",\"kind\":\"news\",\"ts\":1700000000000,\"sent_us\":1.5e3}",
        "{\"text\":\"plain\"}",
        " {\"id\":\"a-1\",\"text\":\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\"\",\"ts\":null,\"kind\":null,\"x\":[]} "
    };
    struct kl_event ev;

    kl_event_init(&ev);
    cr_expect_eq(kl_json_decode_fast(names, good[0], strlen(good[0]), &ev), KL_DEC_OK);
    cr_expect_str_eq(ev.id, "17");
    cr_expect_eq(ev.id_is_number, 1);
    cr_expect_str_eq(ev.kind, "news");
    cr_expect_eq(ev.ts_ms, 1700000000000LL);
    cr_expect_eq(kl_json_decode_fast(names, good[1], strlen(good[1]), &ev), KL_DEC_OK);
    cr_expect_null(ev.id);
    cr_expect_eq(ev.ts_ms, -1);
    /* an array anywhere: the full decoder's business */
    cr_expect_eq(kl_json_decode_fast(names, good[2], strlen(good[2]), &ev), KL_JSON_FALLBACK);
    kl_event_fini(&ev);
}

Test(json_fast, leaves_the_rest_to_the_full_decoder)
{
    static const char *const rest[] = {
        "{\"text\":\"a\",\"text\":\"b\"}",           /* repeated field */
        "{\"te\\u0078t\":\"a\"}",                    /* escaped key */
        "{\"text\":\"a\",\"id\":12345678901234567}", /* > 15 digits */
        "{\"text\":\"a\",\"ts\":1.5}",               /* fraction */
        "{\"text\":\"a\",\"ts\":-1}",                /* bad field */
        "{\"text\":\"  \"}",                         /* blank */
        "{\"text\":\"a\\u0000b\"}",                  /* NUL */
        "{\"text\":\"\\udc00\"}",                    /* lone low surrogate */
        "{\"text\":\"a\",\"n\":01}",                 /* not JSON */
        "{\"text\":\"a\"} x",                        /* trailing data */
        "{\"p\":{\"text\":\"a\"}}",                  /* nested */
        "\xef\xbb\xbf{\"text\":\"a\"}",              /* BOM */
        "{\"text\":\"\xff\"}",                       /* invalid UTF-8 */
        "[]", "", "{", "{\"text\"}",
        /* cJSON reads at most 63 characters of a number */
        "{\"text\":\"a\",\"n\":1234567890123456789012345678901234567890"
        "123456789012345678901234567890}",
    };
    struct kl_json_opts o = opts_default();
    struct kl_event ev;

    kl_event_init(&ev);
    for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++) {
        cr_expect_eq(kl_json_decode_fast(names, rest[i], strlen(rest[i]), &ev),
                     KL_JSON_FALLBACK, "%s", rest[i]);
        cr_expect(agree(&o, rest[i], strlen(rest[i])));
    }
    kl_event_fini(&ev);
}

/* ---------------------------------------------------------- generator */

static unsigned rng_state = 2463534242u;

static unsigned rnd(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return n ? rng_state % n : 0;
}

static void put(char *b, size_t *n, size_t cap, const char *s)
{
    size_t k = strlen(s);

    if (*n + k < cap) {
        memcpy(b + *n, s, k);
        *n += k;
    }
}

static void gen_string(char *b, size_t *n, size_t cap)
{
    static const char *const parts[] = {
        "a", "Z", " ", "中", "国", "é", "\\n", "\\\"", "\\\\", "\\/", "\\t",
        "\\u00e9", "\\u4e2d", "\\ud83d\\ude00", "\\ud800", "\\udc00", "\\u0000",
        "\\uZZZZ", "\\x", "\t", "\xff", "\xc3", "😀", "  ", "\\u0041"};
    put(b, n, cap, "\"");
    for (unsigned k = rnd(6); k > 0; k--)
        put(b, n, cap, parts[rnd(sizeof parts / sizeof parts[0])]);
    put(b, n, cap, "\"");
}

static void gen_value(char *b, size_t *n, size_t cap, int depth)
{
    static const char *const nums[] = {
        "0", "-0", "7", "-3", "12", "1700000000000", "123456789012345",
        "1234567890123456", "99999999999999999999", "1.5", "2e3", "-1e-2",
        "01", "1.", ".5", "+1", "-", "1e999", "9223372036854775807",
        "9223372036854775808"};
    switch (rnd(depth > 2 ? 5 : 7)) {
    case 0: case 1: gen_string(b, n, cap); break;
    case 2: put(b, n, cap, nums[rnd(sizeof nums / sizeof nums[0])]); break;
    case 3: put(b, n, cap, rnd(2) ? "null" : rnd(2) ? "true" : "false"); break;
    case 4: put(b, n, cap, rnd(8) ? "\"x\"" : "nul"); break;
    case 5:
        put(b, n, cap, "[");
        for (unsigned k = rnd(3); k > 0; k--) {
            gen_value(b, n, cap, depth + 1);
            if (k > 1)
                put(b, n, cap, ",");
        }
        put(b, n, cap, "]");
        break;
    default: {
        static const char *const keys[] = {"\"text\"", "\"id\"", "\"kind\"",
                                           "\"ts\"", "\"x\"", "\"p\""};
        put(b, n, cap, "{");
        for (unsigned k = rnd(3); k > 0; k--) {
            put(b, n, cap, keys[rnd(6)]);
            put(b, n, cap, ":");
            gen_value(b, n, cap, depth + 1);
            if (k > 1)
                put(b, n, cap, ",");
        }
        put(b, n, cap, "}");
    }
    }
}

/* A mostly well-formed flat event with random members, sometimes broken. */
static size_t gen_doc(char *b, size_t cap)
{
    static const char *const keys[] = {"\"text\"", "\"id\"", "\"kind\"", "\"ts\"",
                                       "\"sent_us\"", "\"p\"", "\"te\\u0078t\"",
                                       "\"p.text\""};
    static const char *const ws[] = {"", "", "", " ", "\n", "\t", "\r\n"};
    size_t n = 0;
    unsigned members = 1 + rnd(6);

    put(b, &n, cap, ws[rnd(7)]);
    put(b, &n, cap, "{");
    if (rnd(4))
        put(b, &n, cap, "\"text\":\"恒生AH溢指 收平\",");
    for (unsigned m = 0; m < members; m++) {
        put(b, &n, cap, ws[rnd(7)]);
        put(b, &n, cap, keys[rnd(sizeof keys / sizeof keys[0])]);
        put(b, &n, cap, ws[rnd(7)]);
        put(b, &n, cap, ":");
        gen_value(b, &n, cap, rnd(3) ? 3 : 0);
        if (m + 1 < members)
            put(b, &n, cap, ",");
    }
    put(b, &n, cap, "}");
    put(b, &n, cap, ws[rnd(7)]);
    if (!rnd(20) && n > 2) /* truncate */
        n = 1 + rnd((unsigned)n - 1);
    if (!rnd(30) && n > 0) /* a stray byte */
        b[rnd((unsigned)n)] = (char)rnd(256);
    return n;
}

Test(json_fast, same_answers_on_generated_documents)
{
    struct kl_json_opts o = opts_default(), dotted = opts_default();
    struct kl_event ev;
    char doc[4096];
    size_t bad = 0, fast = 0;

    dotted.field_text = "p.text";
    kl_event_init(&ev);
    for (int i = 0; i < 200000 && bad < 5; i++) {
        size_t n = gen_doc(doc, sizeof doc);

        if (kl_json_decode_fast(names, doc, n, &ev) == KL_DEC_OK)
            fast++;
        bad += !agree(i % 5 ? &o : &dotted, doc, n);
    }
    kl_event_fini(&ev);
    cr_expect_eq(bad, 0);
    cr_log_info("%zu of 200000 documents on the fast path", fast);
    cr_expect_gt(fast, 10000, "the fast path is exercised (%zu)", fast);
}

/* A quote, backslash escape or control byte at every offset from an
 * 8-byte boundary, after plain ASCII and after UTF-8 runs, decodes as the
 * full decoder decodes it (the fast path must neither miss a closing
 * quote nor an escape, however it scans). */
Test(json_fast, string_scan_at_every_offset)
{
    static const char *const specials[] = {"\\\"", "\\\\", "\\n", "\\u00e9",
                                           "\x01", "\x1f", "\"x", "é"};
    struct kl_json_opts o = opts_default();
    char text[64], doc[160];
    int bad = 0;

    for (size_t s = 0; s < sizeof specials / sizeof specials[0]; s++)
        for (int before = 0; before < 24; before++)
            for (int utf = 0; utf < 2; utf++) {
                size_t n = 0;

                for (int i = 0; i < before; i++) {
                    if (utf && i % 3 == 0 && i + 3 <= before) {
                        memcpy(text + n, "\xe6\x81\x92", 3); /* 恒 */
                        n += 3;
                        i += 2;
                    } else {
                        text[n++] = (char)('a' + i % 26);
                    }
                }
                n += (size_t)snprintf(text + n, sizeof text - n, "%s%s",
                                      specials[s], "tail");
                snprintf(doc, sizeof doc, "{\"id\":1,\"text\":\"%.*s\",\"kind\":\"k\"}",
                         (int)n, text);
                bad += !agree(&o, doc, strlen(doc));
            }
    cr_expect_eq(bad, 0, "%d documents differ", bad);
}
