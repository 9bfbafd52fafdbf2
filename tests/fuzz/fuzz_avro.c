/*
 * libFuzzer target of the Avro input codec (plugin/codec_avro*.c): the
 * bounded scan must refuse every datum Avro-C would mishandle, so that no
 * input crashes, leaks (a truncated string), over-allocates or recurses
 * too deep, and a decoded event must keep the codec's promises.
 *
 * Input: one mode byte, then
 *   mode even: a Confluent-framed value, decoded against the writer
 *              schemas of tests/unit/fixtures/avro/vectors.h (ids 1-11:
 *              records, unions, enums, maps, arrays, a recursive list);
 *   mode odd:  a writer schema (JSON, up to the first NUL) and a datum,
 *              registered as id 1 and decoded.
 * A good event must have valid, NUL-free UTF-8 text (and id, kind) within
 * their bounds; it is then encoded as a LabelResult with its text and read
 * back, and the text must survive the round trip.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_avro.h"
#include "../unit/fixtures/avro/vectors.h"

/* Everything is made and freed per input: LeakSanitizer cannot see into
 * Avro-C values that outlive an input (a false "leak" of a static). */
static void check(const char *s, size_t n, size_t max)
{
    if (!s)
        return;
    if (n > max || strlen(s) != n || kl_utf8_validate(s, n, NULL) != 0)
        abort();
}

/* A good event: its promises, then the result round trip. */
static void good(const struct kl_event *ev)
{
    static const char *const labels[] = {"a"};
    struct kl_prediction p;
    struct kl_model_info mi;
    struct kl_source src = {"t", 0, 1};
    struct kl_result_opts ro = {.include_text = 1};
    struct kl_avro_dec_opts o;
    struct kl_avro_dec *results = NULL;
    struct kl_avro_enc *enc = NULL;
    const char *rs = kl_avro_result_schema_json();
    struct kl_event back;
    struct kl_buf out;
    char err[256];

    if (!ev->text || !ev->text_len)
        abort();
    check(ev->text, ev->text_len, (size_t)-1);
    check(ev->id, ev->id_len, KL_EVENT_ID_MAX);
    check(ev->kind, ev->kind_len, KL_EVENT_KIND_MAX);
    memset(&p, 0, sizeof p);
    p.k = 1;
    p.prob[0] = 1.0f;
    memset(&mi, 0, sizeof mi);
    mi.labels = labels;
    mi.nlabels = 1;
    memset(&o, 0, sizeof o);
    if (kl_avro_dec_create(&o, &results, err, sizeof err) ||
        kl_avro_dec_add_schema(results, 99, rs, strlen(rs), err, sizeof err) ||
        kl_avro_enc_create(99, &enc, err, sizeof err))
        abort();
    kl_buf_init(&out);
    kl_event_init(&back);
    if (kl_avro_encode_result(enc, ev, &p, &mi, &src, NULL, &ro, &out) ||
        kl_avro_decode_event(results, out.data, out.len, &back, err, sizeof err) != KL_DEC_OK ||
        back.text_len != ev->text_len || memcmp(back.text, ev->text, ev->text_len))
        abort();
    kl_event_fini(&back);
    kl_buf_fini(&out);
    kl_avro_enc_destroy(enc);
    kl_avro_dec_destroy(results);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kl_avro_dec *d = NULL;
    struct kl_avro_dec_opts o;
    struct kl_event ev;
    unsigned char *msg = NULL;
    const uint8_t *nul;
    char err[256];
    size_t i;
    int rc;

    if (size < 1)
        return 0;
    kl_event_init(&ev);
    memset(&o, 0, sizeof o);
    o.max_bytes = 1 << 20;
    if (kl_avro_dec_create(&o, &d, err, sizeof err))
        abort();
    if (!(data[0] & 1)) {
        /* only the schema the header names: fast, and nothing outlives us */
        for (i = 0; size >= 6 && i < sizeof schema_vecs / sizeof schema_vecs[0]; i++)
            if (!memcmp(data + 2, "\0\0\0", 3) && data[5] == schema_vecs[i].id)
                kl_avro_dec_add_schema(d, schema_vecs[i].id, schema_vecs[i].json,
                                       strlen(schema_vecs[i].json), err, sizeof err);
        rc = kl_avro_decode_event(d, data + 1, size - 1, &ev, err, sizeof err);
    } else {
        nul = memchr(data + 1, 0, size - 1);
        if (!nul || nul - data > 4096) {
            kl_avro_dec_destroy(d);
            return 0;
        }
        if (kl_avro_dec_add_schema(d, 1, (const char *)data + 1,
                                   (size_t)(nul - data - 1), err, sizeof err)) {
            kl_avro_dec_destroy(d);
            return 0;
        }
        size -= (size_t)(nul - data) + 1;
        msg = malloc(size + 5);
        if (!msg)
            abort();
        memcpy(msg, "\x00\x00\x00\x00\x01", 5);
        memcpy(msg + 5, nul + 1, size);
        rc = kl_avro_decode_event(d, msg, size + 5, &ev, err, sizeof err);
    }
    if (rc < 0 && rc != KL_ENOMEM)
        abort(); /* no registry here: nothing else is possible */
    if (rc == KL_DEC_OK)
        good(&ev);
    else if (ev.text || !err[0])
        abort(); /* failures leave the event empty and say why */
    kl_event_fini(&ev);
    kl_avro_dec_destroy(d);
    free(msg);
    return 0;
}
