/*
 * Avro output codec (plugin/codec_avro.h): one klabel.LabelResult datum per
 * result, written with Avro-C from a reused generic value, with the
 * Confluent header when a schema id is known. The schema is compiled in
 * (a copy of schemas/label_result.avsc; a unit test keeps them equal).
 */
#include "codec_avro.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Field indices of klabel.LabelResult, in schema order. */
enum { R_ID, R_LABEL, R_SCORE, R_TOP, R_MODEL, R_SOURCE, R_TS, R_EXPLAIN, R_TEXT };

static const char result_schema[] =
    "{\n"
    "  \"type\": \"record\",\n"
    "  \"name\": \"LabelResult\",\n"
    "  \"namespace\": \"klabel\",\n"
    "  \"doc\": \"One labeled result (output.format=avro). Mirrors the JSON result; see docs/formats.md.\",\n"
    "  \"fields\": [\n"
    "    {\"name\": \"id\", \"type\": [\"null\", \"string\"], \"default\": null,\n"
    "     \"doc\": \"the input event's id (a numeric id as its decimal text)\"},\n"
    "    {\"name\": \"label\", \"type\": [\"null\", \"string\"], \"default\": null,\n"
    "     \"doc\": \"the best label; null when no label passed model.threshold\"},\n"
    "    {\"name\": \"score\", \"type\": \"float\", \"doc\": \"its probability, 0 when label is null\"},\n"
    "    {\"name\": \"top\", \"type\": {\"type\": \"array\", \"items\": {\n"
    "      \"type\": \"record\", \"name\": \"LabelScore\", \"fields\": [\n"
    "        {\"name\": \"label\", \"type\": [\"null\", \"string\"], \"default\": null},\n"
    "        {\"name\": \"score\", \"type\": \"float\"}]}},\n"
    "     \"doc\": \"up to model.top.k labels, best first\"},\n"
    "    {\"name\": \"model\", \"type\": {\"type\": \"record\", \"name\": \"ModelRef\", \"fields\": [\n"
    "      {\"name\": \"id\", \"type\": [\"null\", \"string\"], \"default\": null},\n"
    "      {\"name\": \"version\", \"type\": [\"null\", \"string\"], \"default\": null}]},\n"
    "     \"doc\": \"the model that labeled the event\"},\n"
    "    {\"name\": \"source\", \"type\": {\"type\": \"record\", \"name\": \"SourceRef\", \"fields\": [\n"
    "      {\"name\": \"topic\", \"type\": \"string\"},\n"
    "      {\"name\": \"partition\", \"type\": \"int\"},\n"
    "      {\"name\": \"offset\", \"type\": \"long\"}]},\n"
    "     \"doc\": \"where the input event was read\"},\n"
    "    {\"name\": \"ts\", \"type\": [\"null\", {\"type\": \"long\", \"logicalType\": \"timestamp-millis\"}],\n"
    "     \"default\": null, \"doc\": \"the input event's time, ms since the epoch\"},\n"
    "    {\"name\": \"explain\", \"type\": [\"null\", {\"type\": \"array\", \"items\": {\n"
    "      \"type\": \"record\", \"name\": \"TokenWeight\", \"fields\": [\n"
    "        {\"name\": \"token\", \"type\": \"string\"},\n"
    "        {\"name\": \"weight\", \"type\": \"float\"}]}}],\n"
    "     \"default\": null, \"doc\": \"output.explain > 0: the tokens that pushed the label most\"},\n"
    "    {\"name\": \"text\", \"type\": [\"null\", \"string\"], \"default\": null,\n"
    "     \"doc\": \"the input text, only with output.include.text=true\"}\n"
    "  ]\n"
    "}\n";

struct kl_avro_enc {
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t v;
    int has_value;
    avro_writer_t w;
    int32_t schema_id;  /* -1: no Confluent header */
    char *scratch;      /* (scratch_cap) the datum being written */
    size_t scratch_cap;
};

/* Contract in codec_avro.h. */
const char *kl_avro_result_schema_json(void)
{
    return result_schema;
}

/* Contract in codec_avro.h. */
int kl_avro_enc_create(int32_t schema_id, struct kl_avro_enc **out,
                       char *err, size_t errsz)
{
    struct kl_avro_enc *e = calloc(1, sizeof *e);
    int rc = KL_OK;

    *out = NULL;
    if (!e)
        goto nomem;
    e->schema_id = schema_id < 0 ? -1 : schema_id;
    if (avro_schema_from_json_length(result_schema, sizeof result_schema - 1,
                                     &e->schema) != 0) {
        e->schema = NULL;
        snprintf(err, errsz, "avro: the result schema does not parse: %s",
                 avro_strerror());
        rc = KL_EFORMAT;
        goto out;
    }
    if (!(e->iface = avro_generic_class_from_schema(e->schema)) ||
        avro_generic_value_new(e->iface, &e->v) != 0)
        goto nomem;
    e->has_value = 1;
    if (!(e->w = avro_writer_memory("", 0)))
        goto nomem;
    *out = e;
    e = NULL;
    goto out;
nomem:
    snprintf(err, errsz, "avro: out of memory");
    rc = KL_ENOMEM;
out:
    kl_avro_enc_destroy(e);
    return rc;
}

/* Contract in codec_avro.h. */
void kl_avro_enc_destroy(struct kl_avro_enc *e)
{
    if (!e)
        return;
    if (e->w)
        avro_writer_free(e->w);
    if (e->has_value)
        avro_value_decref(&e->v);
    if (e->iface)
        avro_value_iface_decref(e->iface);
    if (e->schema)
        avro_schema_decref(e->schema);
    free(e->scratch);
    free(e);
}

/* Sets the ["null","string"] union u to s (NUL-terminated), or null. */
static int set_opt_str(avro_value_t *u, const char *s)
{
    avro_value_t b;

    if (!s)
        return avro_value_set_branch(u, 0, &b) || avro_value_set_null(&b);
    return avro_value_set_branch(u, 1, &b) || avro_value_set_string(&b, s);
}

static const char *label_name(const struct kl_model_info *mi, int32_t label)
{
    if (!mi || !mi->labels || label < 0 || label >= mi->nlabels)
        return NULL;
    return mi->labels[label];
}

static float finite_or_0(float x)
{
    return isfinite(x) ? x : 0.0f;
}

/* Fills e->v from the result. Returns 0 or -1 (Avro-C failed: memory). */
static int fill(struct kl_avro_enc *e, const struct kl_event *ev,
                const struct kl_prediction *p, const struct kl_model_info *mi,
                const struct kl_source *src, const struct kl_explanation *x,
                const struct kl_result_opts *ro)
{
    avro_value_t f, g, item, b;
    int i, k = p->k < 0 ? 0 : p->k > KL_TOPK_MAX ? KL_TOPK_MAX : p->k;
    size_t j;

    if (avro_value_reset(&e->v))
        return -1;
    if (avro_value_get_by_index(&e->v, R_ID, &f, NULL) || set_opt_str(&f, ev->id))
        return -1;
    if (avro_value_get_by_index(&e->v, R_LABEL, &f, NULL) ||
        set_opt_str(&f, k > 0 ? label_name(mi, p->label[0]) : NULL))
        return -1;
    if (avro_value_get_by_index(&e->v, R_SCORE, &f, NULL) ||
        avro_value_set_float(&f, k > 0 ? finite_or_0(p->prob[0]) : 0.0f))
        return -1;
    if (avro_value_get_by_index(&e->v, R_TOP, &f, NULL))
        return -1;
    for (i = 0; i < k; i++) {
        if (avro_value_append(&f, &item, NULL) ||
            avro_value_get_by_index(&item, 0, &g, NULL) ||
            set_opt_str(&g, label_name(mi, p->label[i])) ||
            avro_value_get_by_index(&item, 1, &g, NULL) ||
            avro_value_set_float(&g, finite_or_0(p->prob[i])))
            return -1;
    }
    if (avro_value_get_by_index(&e->v, R_MODEL, &f, NULL) ||
        avro_value_get_by_index(&f, 0, &g, NULL) ||
        set_opt_str(&g, mi ? mi->id : NULL) ||
        avro_value_get_by_index(&f, 1, &g, NULL) ||
        set_opt_str(&g, mi ? mi->version : NULL))
        return -1;
    if (avro_value_get_by_index(&e->v, R_SOURCE, &f, NULL) ||
        avro_value_get_by_index(&f, 0, &g, NULL) ||
        avro_value_set_string(&g, src && src->topic ? src->topic : "") ||
        avro_value_get_by_index(&f, 1, &g, NULL) ||
        avro_value_set_int(&g, src ? src->partition : -1) ||
        avro_value_get_by_index(&f, 2, &g, NULL) ||
        avro_value_set_long(&g, src ? src->offset : -1))
        return -1;
    if (avro_value_get_by_index(&e->v, R_TS, &f, NULL))
        return -1;
    if (ev->ts_ms < 0) {
        if (avro_value_set_branch(&f, 0, &b) || avro_value_set_null(&b))
            return -1;
    } else if (avro_value_set_branch(&f, 1, &b) || avro_value_set_long(&b, ev->ts_ms)) {
        return -1;
    }
    if (avro_value_get_by_index(&e->v, R_EXPLAIN, &f, NULL))
        return -1;
    if (!x) {
        if (avro_value_set_branch(&f, 0, &b) || avro_value_set_null(&b))
            return -1;
    } else {
        if (avro_value_set_branch(&f, 1, &b))
            return -1;
        for (j = 0; j < x->n; j++) {
            const struct kl_contrib *c = &x->items[j];

            /* names are NUL-terminated: names[off + len] == '\0' */
            if (avro_value_append(&b, &item, NULL) ||
                avro_value_get_by_index(&item, 0, &g, NULL) ||
                avro_value_set_string_len(&g, x->names + c->off, (size_t)c->len + 1) ||
                avro_value_get_by_index(&item, 1, &g, NULL) ||
                avro_value_set_float(&g, finite_or_0(c->weight)))
                return -1;
        }
    }
    if (avro_value_get_by_index(&e->v, R_TEXT, &f, NULL) ||
        set_opt_str(&f, ro && ro->include_text ? ev->text : NULL))
        return -1;
    return 0;
}

/* Contract in codec_avro.h. */
int kl_avro_encode_result(struct kl_avro_enc *e, const struct kl_event *ev,
                          const struct kl_prediction *p,
                          const struct kl_model_info *mi,
                          const struct kl_source *src,
                          const struct kl_explanation *x,
                          const struct kl_result_opts *ro,
                          struct kl_buf *out)
{
    unsigned char hdr[KL_AVRO_HEADER];
    size_t size = 0;
    int rc = KL_OK;

    if (!e || !ev || !p || !out)
        return KL_EINVAL;
    kl_buf_reset(out);
    if (fill(e, ev, p, mi, src, x, ro) || avro_value_sizeof(&e->v, &size)) {
        rc = KL_ENOMEM;
        goto out;
    }
    if (size > e->scratch_cap) {
        char *s = realloc(e->scratch, size);

        if (!s) {
            rc = KL_ENOMEM;
            goto out;
        }
        e->scratch = s;
        e->scratch_cap = size;
    }
    avro_writer_memory_set_dest(e->w, e->scratch, (int64_t)size);
    if (avro_value_write(e->w, &e->v) || avro_writer_tell(e->w) != (int64_t)size) {
        rc = KL_ENOMEM;
        goto out;
    }
    if (e->schema_id >= 0) {
        hdr[0] = 0;
        hdr[1] = (unsigned char)((uint32_t)e->schema_id >> 24);
        hdr[2] = (unsigned char)((uint32_t)e->schema_id >> 16);
        hdr[3] = (unsigned char)((uint32_t)e->schema_id >> 8);
        hdr[4] = (unsigned char)e->schema_id;
        rc = kl_buf_append(out, hdr, sizeof hdr);
    }
    if (!rc)
        rc = kl_buf_append(out, e->scratch, size);
out:
    if (rc)
        kl_buf_reset(out);
    return rc;
}
