/*
 * Unit tests of the Avro codecs (plugin/codec_avro*.c) with vectors that
 * fastavro wrote (fixtures/avro/gen.py -> vectors.h): every vector decodes
 * to its expected class; good ones give the right fields whatever the
 * writer's field order, extra fields, enum kinds or int ids; optional
 * fields the writer lacks are absent; dotted paths reach nested records;
 * unknown schema ids are remembered; the bounded scan refuses lengths,
 * counts and depths Avro-C would trust; the encoder reproduces fastavro's
 * bytes of a LabelResult exactly and frames them; the compiled-in result
 * schema equals schemas/label_result.avsc.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_avro.h"
#include "fixtures/avro/vectors.h"

#define NVECS (sizeof vecs / sizeof vecs[0])
#define NSCHEMAS (sizeof schema_vecs / sizeof schema_vecs[0])

static struct kl_avro_dec *dec, *dec_nested;
static struct kl_event ev;
static char err[512];

static struct kl_avro_dec *make_dec(const char *fid, const char *ftext,
                                    const char *fkind)
{
    struct kl_avro_dec_opts o;
    struct kl_avro_dec *d = NULL;
    size_t i;

    memset(&o, 0, sizeof o);
    o.field_id = fid;
    o.field_text = ftext;
    o.field_kind = fkind;
    o.max_bytes = 8192;
    cr_assert_eq(kl_avro_dec_create(&o, &d, err, sizeof err), 0, "%s", err);
    for (i = 0; i < NSCHEMAS; i++) {
        int rc = kl_avro_dec_add_schema(d, schema_vecs[i].id, schema_vecs[i].json,
                                        strlen(schema_vecs[i].json), err, sizeof err);
        /* "string" parses, it is just not a record: refused at decode time */
        cr_assert_eq(rc, strcmp(schema_vecs[i].name, "not_record") ? 0 : KL_EFORMAT,
                     "%s: %s", schema_vecs[i].name, err);
    }
    return d;
}

static void setup(void)
{
    kl_event_init(&ev);
    dec = make_dec(NULL, NULL, NULL);
    dec_nested = make_dec("meta.id", "payload.body", "meta.kind");
}

static void teardown(void)
{
    kl_event_fini(&ev);
    kl_avro_dec_destroy(dec);
    kl_avro_dec_destroy(dec_nested);
}

static const struct avro_vec *vec(const char *name)
{
    size_t i;

    for (i = 0; i < NVECS; i++)
        if (!strcmp(vecs[i].name, name))
            return &vecs[i];
    cr_assert_fail("no vector %s", name);
    return NULL;
}

static int decode(struct kl_avro_dec *d, const char *name)
{
    const struct avro_vec *v = vec(name);

    err[0] = '\0';
    return kl_avro_decode_event(d, v->buf, v->len, &ev, err, sizeof err);
}

TestSuite(avro, .init = setup, .fini = teardown);

Test(avro, every_vector_gets_its_class)
{
    size_t i;

    /* "not_record" was refused by add_schema: give it through the cache
     * path that a registry answer takes (entry kept, state bad). */
    for (i = 0; i < NVECS; i++) {
        struct kl_avro_dec *d = strncmp(vecs[i].name, "nested", 6) ? dec : dec_nested;
        int rc;

        if (!strcmp(vecs[i].name, "not_record") || !strcmp(vecs[i].name, "unknown_id"))
            continue; /* need a registry: tested below */
        err[0] = '\0';
        rc = kl_avro_decode_event(d, vecs[i].buf, vecs[i].len, &ev, err, sizeof err);
        cr_expect_eq(rc, vecs[i].want, "%s (%s): got %s (%s), want %s", vecs[i].name,
                     vecs[i].what, kl_decode_error_name(rc), err,
                     kl_decode_error_name(vecs[i].want));
        if (rc != KL_DEC_OK) {
            cr_expect(err[0], "%s: no reason", vecs[i].name);
            cr_expect_null(ev.text, "%s: event not left empty", vecs[i].name);
        } else {
            cr_expect_not_null(ev.text, "%s", vecs[i].name);
        }
    }
}

Test(avro, good_event_fields)
{
    cr_assert_eq(decode(dec, "good"), KL_DEC_OK, "%s", err);
    cr_expect_str_eq(ev.id, "a-1");
    cr_expect_eq(ev.id_len, 3);
    cr_expect_eq(ev.id_is_number, 0);
    cr_expect_str_eq(ev.text, "stocks rally as banks gain");
    cr_expect_eq(ev.text_len, strlen("stocks rally as banks gain"));
    cr_expect_str_eq(ev.kind, "news");
    cr_expect_eq(ev.ts_ms, 1700000000123LL);
}

Test(avro, nulls_are_absent)
{
    cr_assert_eq(decode(dec, "good_nulls"), KL_DEC_OK, "%s", err);
    cr_expect_null(ev.id);
    cr_expect_null(ev.kind);
    cr_expect_eq(ev.ts_ms, -1);
    cr_expect_str_eq(ev.text, "多地 发布 暴雨 预警");
}

Test(avro, writer_without_optional_fields)
{
    cr_assert_eq(decode(dec, "minimal"), KL_DEC_OK, "%s", err);
    cr_expect_str_eq(ev.id, "9007199254740993"); /* exact beyond 2^53 */
    cr_expect_eq(ev.id_is_number, 1);
    cr_expect_null(ev.kind);
    cr_expect_eq(ev.ts_ms, -1);
}

Test(avro, other_order_extra_fields_enum_int)
{
    cr_assert_eq(decode(dec, "reordered"), KL_DEC_OK, "%s", err);
    cr_expect_str_eq(ev.id, "-7");
    cr_expect_eq(ev.id_is_number, 1);
    cr_expect_str_eq(ev.text, "card payment");
    cr_expect_str_eq(ev.kind, "transaction");
    cr_expect_eq(ev.ts_ms, 42);
}

Test(avro, dotted_paths)
{
    cr_assert_eq(decode(dec_nested, "nested"), KL_DEC_OK, "%s", err);
    cr_expect_str_eq(ev.id, "n-1");
    cr_expect_str_eq(ev.kind, "news");
    cr_expect_str_eq(ev.text, "hello world");
    cr_assert_eq(decode(dec_nested, "nested_null"), KL_DEC_OK, "%s", err);
    cr_expect_null(ev.id);
    cr_expect_null(ev.kind);
    /* the default paths find no text in that schema */
    cr_expect_eq(decode(dec, "nested"), KL_DEC_MISSING_TEXT);
    cr_expect(strstr(err, "no field 'text'"), "%s", err);
}

Test(avro, reasons_name_the_problem)
{
    cr_expect_eq(decode(dec, "magic"), KL_DEC_BAD_FRAMING);
    cr_expect(strstr(err, "magic byte is 0x01"), "%s", err);
    cr_expect_eq(decode(dec, "huge_len"), KL_DEC_BAD_AVRO);
    cr_expect(strstr(err, "length past the end"), "%s", err);
    cr_expect_eq(decode(dec, "trailing"), KL_DEC_BAD_AVRO);
    cr_expect(strstr(err, "trailing"), "%s", err);
    cr_expect_eq(decode(dec, "deep"), KL_DEC_BAD_AVRO);
    cr_expect(strstr(err, "too deep"), "%s", err);
    cr_expect_eq(decode(dec, "null_items"), KL_DEC_BAD_AVRO);
    cr_expect(strstr(err, "items"), "%s", err);
    cr_expect_eq(decode(dec, "text_int"), KL_DEC_MISSING_TEXT);
    cr_expect(strstr(err, "an int, not a string"), "%s", err);
}

Test(avro, unknown_ids_without_registry)
{
    cr_expect_eq(decode(dec, "unknown_id"), KL_DEC_UNKNOWN_SCHEMA);
    cr_expect(strstr(err, "4242"), "%s", err);
    /* remembered: the same answer again, and good ids still work */
    cr_expect_eq(decode(dec, "unknown_id"), KL_DEC_UNKNOWN_SCHEMA);
    cr_expect_eq(decode(dec, "good"), KL_DEC_OK, "%s", err);
}

Test(avro, oversize_first)
{
    struct kl_avro_dec_opts o;
    struct kl_avro_dec *d = NULL;
    const struct avro_vec *v = vec("good");

    memset(&o, 0, sizeof o);
    o.max_bytes = 16;
    cr_assert_eq(kl_avro_dec_create(&o, &d, err, sizeof err), 0);
    cr_expect_eq(kl_avro_decode_event(d, v->buf, v->len, &ev, err, sizeof err),
                 KL_DEC_OVERSIZE);
    kl_avro_dec_destroy(d);
}

Test(avro, bad_schema_text_is_refused)
{
    cr_expect_eq(kl_avro_dec_add_schema(dec, 77, "{\"type\":", 8, err, sizeof err),
                 KL_EFORMAT);
    cr_expect(err[0]);
}

Test(avro, bad_path_settings)
{
    struct kl_avro_dec_opts o;
    struct kl_avro_dec *d = NULL;

    memset(&o, 0, sizeof o);
    o.field_text = "a.b.c.d.e.f.g.h.i";
    cr_expect_eq(kl_avro_dec_create(&o, &d, err, sizeof err), KL_EINVAL);
    o.field_text = "...";
    cr_expect_eq(kl_avro_dec_create(&o, &d, err, sizeof err), KL_EINVAL);
    cr_expect_null(d);
}

/* ------------------------------------------------------------- scanning */

Test(avro, scan_every_truncation_of_a_good_datum)
{
    avro_schema_t sc;
    const struct avro_vec *v = vec("reordered");
    size_t n;

    cr_assert_eq(avro_schema_from_json_length(schema_vecs[2].json,
                                              strlen(schema_vecs[2].json), &sc), 0);
    cr_expect_eq(kl_avro_scan(sc, v->buf + 5, v->len - 5, err, sizeof err), 0, "%s", err);
    for (n = 0; n < v->len - 5; n++)
        cr_expect_eq(kl_avro_scan(sc, v->buf + 5, n, err, sizeof err), -1,
                     "a datum cut to %zu bytes passed", n);
    avro_schema_decref(sc);
}

/* -------------------------------------------------------------- encoding */

static const char *const labels[] = {"finance", "sports"};

static void result_inputs(struct kl_event *e, struct kl_prediction *p,
                          struct kl_model_info *mi, struct kl_source *src,
                          struct kl_explanation *x)
{
    static char names[] = "stock\0bank shares";
    static struct kl_contrib items[2] = {{0, 5, 1.5f}, {6, 11, -0.5f}};

    kl_event_init(e);
    e->id = strdup("r-1");
    e->id_len = 3;
    e->text = strdup("stock bank shares");
    e->text_len = strlen(e->text);
    e->ts_ms = 1700000000123LL;
    memset(p, 0, sizeof *p);
    p->k = 2;
    p->label[0] = 0;
    p->prob[0] = 0.75f;
    p->label[1] = 1;
    p->prob[1] = 0.25f;
    memset(mi, 0, sizeof *mi);
    mi->id = "tiny";
    mi->version = "v1";
    mi->labels = (const char *const *)labels;
    mi->nlabels = 2;
    src->topic = "in";
    src->partition = 2;
    src->offset = 1234567890123LL;
    memset(x, 0, sizeof *x);
    x->label = 0;
    x->n = 2;
    x->items = items;
    x->names = names;
    x->names_len = sizeof names;
}

Test(avro_out, matches_fastavro_bytes)
{
    struct kl_avro_enc *e = NULL;
    struct kl_event re;
    struct kl_prediction p;
    struct kl_model_info mi;
    struct kl_source src;
    struct kl_explanation x;
    struct kl_result_opts ro = {.include_text = 1};
    struct kl_buf out;

    kl_buf_init(&out);
    result_inputs(&re, &p, &mi, &src, &x);
    cr_assert_eq(kl_avro_enc_create(-1, &e, err, sizeof err), 0, "%s", err);
    cr_assert_eq(kl_avro_encode_result(e, &re, &p, &mi, &src, &x, &ro, &out), 0);
    cr_expect_eq(out.len, sizeof result_full);
    cr_expect(!memcmp(out.data, result_full, sizeof result_full),
              "encoded bytes differ from fastavro's");
    /* the bare result: no id, no label, no ts, no explain, no text */
    free(re.id);
    re.id = NULL;
    re.id_len = 0;
    re.ts_ms = -1;
    p.k = 0;
    ro.include_text = 0;
    cr_assert_eq(kl_avro_encode_result(e, &re, &p, &mi, &src, NULL, &ro, &out), 0);
    cr_expect_eq(out.len, sizeof result_bare);
    cr_expect(!memcmp(out.data, result_bare, sizeof result_bare),
              "bare result differs from fastavro's");
    kl_event_fini(&re);
    kl_buf_fini(&out);
    kl_avro_enc_destroy(e);
}

Test(avro_out, confluent_header_and_round_trip)
{
    struct kl_avro_enc *e = NULL;
    struct kl_avro_dec *d = NULL;
    struct kl_avro_dec_opts o;
    struct kl_event re, back;
    struct kl_prediction p;
    struct kl_model_info mi;
    struct kl_source src;
    struct kl_explanation x;
    struct kl_buf out;
    const char *schema = kl_avro_result_schema_json();

    kl_buf_init(&out);
    kl_event_init(&back);
    result_inputs(&re, &p, &mi, &src, &x);
    cr_assert_eq(kl_avro_enc_create(0x01020304, &e, err, sizeof err), 0, "%s", err);
    cr_assert_eq(kl_avro_encode_result(e, &re, &p, &mi, &src, &x, NULL, &out), 0);
    cr_assert_gt(out.len, 5);
    cr_expect(!memcmp(out.data, "\x00\x01\x02\x03\x04", 5), "bad Confluent header");
    /* Our own decoder reads results too: id and text ("text" absent without
     * include_text, so read the label as the text). */
    memset(&o, 0, sizeof o);
    o.field_text = "label";
    cr_assert_eq(kl_avro_dec_create(&o, &d, err, sizeof err), 0);
    cr_assert_eq(kl_avro_dec_add_schema(d, 0x01020304, schema, strlen(schema), err,
                                        sizeof err), 0, "%s", err);
    cr_assert_eq(kl_avro_decode_event(d, out.data, out.len, &back, err, sizeof err),
                 KL_DEC_OK, "%s", err);
    cr_expect_str_eq(back.id, "r-1");
    cr_expect_str_eq(back.text, "finance");
    cr_expect_eq(back.ts_ms, 1700000000123LL);
    kl_event_fini(&back);
    kl_event_fini(&re);
    kl_buf_fini(&out);
    kl_avro_enc_destroy(e);
    kl_avro_dec_destroy(d);
}

Test(avro_out, compiled_schema_is_the_file)
{
    FILE *f = fopen("schemas/label_result.avsc", "rb");
    char buf[16384];
    size_t n;

    cr_assert_not_null(f, "run the tests from the repository root");
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    cr_expect_str_eq(kl_avro_result_schema_json(), buf,
                     "plugin/codec_avro_out.c's copy differs from schemas/label_result.avsc");
}

Test(avro_out, reader_schema_file_parses)
{
    FILE *f = fopen("schemas/text_event.avsc", "rb");
    char buf[16384];
    avro_schema_t sc;
    size_t n;

    cr_assert_not_null(f);
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    cr_assert_eq(avro_schema_from_json_length(buf, n, &sc), 0, "%s", avro_strerror());
    cr_expect_eq(avro_typeof(sc), AVRO_RECORD);
    cr_expect_eq(avro_schema_record_size(sc), 4);
    avro_schema_decref(sc);
}
