/*
 * Unit tests of plugin/codec.c, the codec dispatch: input.format picks
 * JSON, Avro (schemas from schema.registry.dir) or raw text;
 * output.format picks JSON or Avro with or without the Confluent header;
 * output.include.text, output.explain and model.top.k (JSON "top" only
 * above 1) reach the results; settings that
 * cannot work together fail at create with the key named.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "config.h"

static struct kl_config *cfg;
static char err[512];
static struct kl_event ev;

static void setup(void)
{
    cfg = kl_config_create();
    cr_assert_not_null(cfg);
    kl_event_init(&ev);
}

static void teardown(void)
{
    kl_event_fini(&ev);
    kl_config_destroy(cfg);
}

static void set(const char *k, const char *v)
{
    cr_assert_eq(kl_config_set(cfg, k, v, err, sizeof err), 0, "%s", err);
}

static struct kl_msg msg(const void *v, size_t n)
{
    struct kl_msg m;

    memset(&m, 0, sizeof m);
    m.topic = "t";
    m.partition = 1;
    m.offset = 5;
    m.key = "key";
    m.key_len = 3;
    m.value = v;
    m.value_len = n;
    m.ts_ms = 77;
    return m;
}

TestSuite(codec, .init = setup, .fini = teardown);

Test(codec, json_is_the_default)
{
    struct kl_decoder *d = NULL;
    const char *j = "{\"id\":3,\"text\":\"hello\"}";
    struct kl_msg m = msg(j, strlen(j));

    cr_assert_eq(kl_decoder_create(cfg, &d, err, sizeof err), 0, "%s", err);
    cr_expect_eq(kl_decoder_decode(d, &m, &ev, err, sizeof err), KL_DEC_OK);
    cr_expect_str_eq(ev.text, "hello");
    m = msg("plain", 5);
    cr_expect_eq(kl_decoder_decode(d, &m, &ev, err, sizeof err), KL_DEC_MALFORMED);
    kl_decoder_destroy(d);
}

Test(codec, raw)
{
    struct kl_decoder *d = NULL;
    struct kl_msg m = msg("plain text", 10);

    set("input.format", "raw");
    cr_assert_eq(kl_decoder_create(cfg, &d, err, sizeof err), 0, "%s", err);
    cr_expect_eq(kl_decoder_decode(d, &m, &ev, err, sizeof err), KL_DEC_OK);
    cr_expect_str_eq(ev.text, "plain text");
    cr_expect_str_eq(ev.id, "key");
    cr_expect_eq(ev.ts_ms, 77);
    kl_decoder_destroy(d);
}

Test(codec, avro_from_a_folder)
{
    char dir[] = "/tmp/klabel-codec-XXXXXX", path[128];
    struct kl_decoder *d = NULL;
    unsigned char v[] = {0, 0, 0, 0, 12, 0x0a, 'h', 'e', 'l', 'l', 'o'};
    struct kl_msg m = msg(v, sizeof v);
    FILE *f;

    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/12.avsc", dir);
    f = fopen(path, "w");
    fputs("{\"type\":\"record\",\"name\":\"E\",\"fields\":[{\"name\":\"text\",\"type\":\"string\"}]}", f);
    fclose(f);
    set("input.format", "avro");
    cr_expect_eq(kl_decoder_create(cfg, &d, err, sizeof err), KL_EINVAL);
    cr_expect(strstr(err, "schema.registry"), "%s", err);
    set("schema.registry.dir", dir);
    cr_assert_eq(kl_decoder_create(cfg, &d, err, sizeof err), 0, "%s", err);
    cr_expect_eq(kl_decoder_decode(d, &m, &ev, err, sizeof err), KL_DEC_OK, "%s", err);
    cr_expect_str_eq(ev.text, "hello");
    v[4] = 13;
    cr_expect_eq(kl_decoder_decode(d, &m, &ev, err, sizeof err), KL_DEC_UNKNOWN_SCHEMA);
    m = msg(NULL, 0);
    cr_expect_eq(kl_decoder_decode(d, &m, &ev, err, sizeof err), KL_DEC_BAD_FRAMING);
    kl_decoder_destroy(d);
    unlink(path);
    rmdir(dir);
}

static const char *const labels[] = {"finance", "sports"};

static void result(struct kl_prediction *p, struct kl_model_info *mi)
{
    memset(p, 0, sizeof *p);
    p->k = 1;
    p->label[0] = 1;
    p->prob[0] = 0.5f;
    memset(mi, 0, sizeof *mi);
    mi->id = "m";
    mi->version = "1";
    mi->labels = labels;
    mi->nlabels = 2;
}

Test(codec, json_output_text_and_explain)
{
    struct kl_encoder *e = NULL;
    struct kl_prediction p;
    struct kl_model_info mi;
    struct kl_source src = {"t", 1, 5};
    struct kl_buf out;
    struct kl_explanation x;
    static char names[] = "goal";
    struct kl_contrib c = {0, 4, 2.0f};

    kl_buf_init(&out);
    result(&p, &mi);
    ev.text = strdup("secret text");
    ev.text_len = strlen(ev.text);
    cr_assert_eq(kl_encoder_create(cfg, &e, err, sizeof err), 0, "%s", err);
    cr_expect_eq(kl_encoder_explain(e), 0);
    cr_assert_eq(kl_encoder_encode(e, &ev, &p, &mi, &src, NULL, &out), 0);
    cr_expect_null(strstr(out.data, "secret"), "text copied by default: %s", out.data);
    cr_expect(strstr(out.data, "\"label\":\"sports\""), "%s", out.data);
    kl_encoder_destroy(e);

    set("output.include.text", "true");
    set("output.explain", "3");
    cr_assert_eq(kl_encoder_create(cfg, &e, err, sizeof err), 0, "%s", err);
    cr_expect_eq(kl_encoder_explain(e), 3);
    memset(&x, 0, sizeof x);
    x.n = 1;
    x.items = &c;
    x.names = names;
    cr_assert_eq(kl_encoder_encode(e, &ev, &p, &mi, &src, &x, &out), 0);
    cr_expect(strstr(out.data, "\"text\":\"secret text\",\"explain\":[{\"token\":\"goal\",\"weight\":2}]}"),
              "%s", out.data);
    kl_encoder_destroy(e);
    kl_buf_fini(&out);
}

/* Encodes result()'s label (k 1) or none (k 0) for an event with the text
 * "x" through an encoder made from cfg as it is now, into out (reset). */
static void encode_one(int k, struct kl_buf *out)
{
    struct kl_encoder *e = NULL;
    struct kl_prediction p;
    struct kl_model_info mi;
    struct kl_source src = {"t", 1, 5};

    result(&p, &mi);
    p.k = k;
    if (ev.text == NULL) {
        ev.text = strdup("x");
        ev.text_len = 1;
    }
    cr_assert_eq(kl_encoder_create(cfg, &e, err, sizeof err), 0, "%s", err);
    cr_assert_eq(kl_encoder_encode(e, &ev, &p, &mi, &src, NULL, out), 0);
    kl_encoder_destroy(e);
}

/* "top" goes with model.top.k above 1 only: at 1 it would repeat "label"
 * and "score". Avro results keep it (the schema requires the field). */
Test(codec, json_top_only_when_top_k_above_one)
{
    struct kl_buf out;

    kl_buf_init(&out);
    encode_one(1, &out); /* model.top.k 3, the default */
    cr_expect(strstr(out.data, ",\"top\":[{\"label\":\"sports\",\"score\":0.5}],\"model\":"),
              "top.k 3: %s", out.data);
    set("model.top.k", "1");
    encode_one(1, &out);
    cr_expect_str_eq(out.data, "{\"id\":null,\"label\":\"sports\",\"score\":0.5,"
                               "\"model\":{\"id\":\"m\",\"version\":\"1\"},"
                               "\"source\":{\"topic\":\"t\",\"partition\":1,\"offset\":5},"
                               "\"ts\":null}");
    encode_one(0, &out); /* no label passed the threshold */
    cr_expect(strstr(out.data, "\"label\":null,\"score\":0,\"model\":"), "%s", out.data);

    set("output.format", "avro");
    encode_one(1, &out);
    /* id null, label "sports", score, then top: a block of one item */
    cr_assert_gt(out.len, 14);
    cr_expect(!memcmp(out.data, "\x00\x02\x0csports", 9), "avro head");
    cr_expect_eq(out.data[13], 2, "top block count (zigzag 1): %d", out.data[13]);
    kl_buf_fini(&out);
}

Test(codec, avro_output_framing)
{
    struct kl_buf out;

    kl_buf_init(&out);
    set("output.format", "avro");
    encode_one(1, &out);
    cr_expect_eq(out.data[0], 0); /* union branch 0: id null */
    cr_expect_eq(out.data[1], 2); /* label present */
    set("output.schema.id", "258");
    encode_one(1, &out);
    cr_expect(!memcmp(out.data, "\x00\x00\x00\x01\x02", 5), "no Confluent header");
    kl_buf_fini(&out);
}

Test(codec, conflicting_output_settings)
{
    struct kl_encoder *e = NULL;

    set("output.schema.id", "4");
    cr_expect_eq(kl_encoder_create(cfg, &e, err, sizeof err), KL_EINVAL);
    cr_expect(strstr(err, "output.format=avro"), "%s", err);
    set("output.format", "avro");
    set("output.schema.register", "true");
    cr_expect_eq(kl_encoder_create(cfg, &e, err, sizeof err), KL_EINVAL);
    cr_expect(strstr(err, "not both"), "%s", err);
    set("output.schema.id", "-1");
    cr_expect_eq(kl_encoder_create(cfg, &e, err, sizeof err), KL_EINVAL);
    cr_expect(strstr(err, "schema.registry.url"), "%s", err);
    cr_expect_null(e);
}

Test(codec, bad_values_fail_with_the_key)
{
    cr_expect_neq(kl_config_set(cfg, "input.format", "xml", err, sizeof err), 0);
    cr_expect(strstr(err, "input.format"), "%s", err);
    cr_expect_neq(kl_config_set(cfg, "output.explain", "65", err, sizeof err), 0);
    cr_expect_neq(kl_config_set(cfg, "schema.registry.timeout.ms", "0", err, sizeof err), 0);
}
