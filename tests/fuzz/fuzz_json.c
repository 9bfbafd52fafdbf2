/*
 * libFuzzer target of the JSON input codec (plugin/codec_json*.c): on any
 * input, kl_json_decode_event() with its fast path (codec_json_fast.c) and
 * without it (cJSON only) must give the same return code, reason and
 * event; a decoded event must have non-empty, NUL-free, valid UTF-8 text
 * and id / kind within their bounds.
 *
 * Input: one option byte (bit 0: the text field is the dotted path
 * "p.text"; bit 1: the id field is "text", colliding with it), then the
 * JSON value.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "codec_json_fast.h"
#include "fuzz_check.h"
#include "klabel/engine.h"

static int same_str(const char *a, size_t an, const char *b, size_t bn)
{
    return an == bn && !a == !b && (!a || !memcmp(a, b, an));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kl_json_opts o;
    struct kl_event a, b;
    char ea[512] = "", eb[512] = "";
    const char *doc;
    size_t n;
    int ra, rb;

    if (size < 1)
        return 0;
    memset(&o, 0, sizeof o);
    o.field_id = (data[0] & 2) ? "text" : "id";
    o.field_text = (data[0] & 1) ? "p.text" : "text";
    o.field_kind = "kind";
    o.field_ts = "ts";
    o.max_bytes = 65536;
    n = size - 1;
    doc = n ? (const char *)data + 1 : "";
    kl_event_init(&a);
    kl_event_init(&b);
    kl_json_set_fast(1);
    ra = kl_json_decode_event(&o, doc, n, &a, ea, sizeof ea);
    kl_json_set_fast(0);
    rb = kl_json_decode_event(&o, doc, n, &b, eb, sizeof eb);
    kl_json_set_fast(1);
    CHECK(ra == rb, "return codes differ: fast %d, cJSON %d", ra, rb);
    CHECK(!strcmp(ea, eb), "reasons differ: '%s' / '%s'", ea, eb);
    CHECK(same_str(a.text, a.text_len, b.text, b.text_len), "texts differ");
    CHECK(same_str(a.id, a.id_len, b.id, b.id_len), "ids differ");
    CHECK(same_str(a.kind, a.kind_len, b.kind, b.kind_len), "kinds differ");
    CHECK(a.id_is_number == b.id_is_number && a.ts_ms == b.ts_ms,
          "id type or ts differ");
    if (ra == KL_DEC_OK) {
        CHECK(a.text && a.text_len > 0 && strlen(a.text) == a.text_len &&
                  kl_utf8_validate(a.text, a.text_len, NULL) == KL_OK,
              "bad text");
        CHECK(!a.id || (a.id_len <= KL_EVENT_ID_MAX &&
                        strlen(a.id) == a.id_len), "bad id");
        CHECK(!a.kind || (a.kind_len <= KL_EVENT_KIND_MAX &&
                          strlen(a.kind) == a.kind_len), "bad kind");
    }
    kl_event_fini(&a);
    kl_event_fini(&b);
    return 0;
}
