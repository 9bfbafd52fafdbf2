/*
 * Codec dispatch (plugin/codec.h): struct kl_decoder picks the input codec
 * by input.format (json, avro, raw) and struct kl_encoder the output codec
 * by output.format (json, avro), each set up once from the configuration,
 * so the stage makes one call per message and per result.
 */
#include "codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_avro.h"
#include "config.h"
#include "log.h"
#include "schema_registry.h"

#define COMP "codec"

enum { FMT_JSON, FMT_AVRO, FMT_RAW };

struct kl_decoder {
    int fmt;
    struct kl_json_opts jo;
    struct kl_raw_opts ro;
    char *field[4];             /* id, text, kind, ts (owned) */
    struct kl_sr *sr;
    struct kl_avro_dec *avro;
};

struct kl_encoder {
    int fmt;
    struct kl_result_opts ro;
    size_t explain;
    struct kl_avro_enc *avro;
};

static int parse_fmt(const char *s)
{
    if (!strcmp(s, "avro"))
        return FMT_AVRO;
    if (!strcmp(s, "raw"))
        return FMT_RAW;
    return FMT_JSON;
}

/* The registry client of cfg (schema.registry.*), or *out = NULL when
 * neither url nor dir is set. */
static int sr_from_cfg(const struct kl_config *cfg, struct kl_sr **out,
                       char *err, size_t errsz)
{
    struct kl_sr_opts so;

    *out = NULL;
    memset(&so, 0, sizeof so);
    so.dir = kl_config_get(cfg, "schema.registry.dir");
    so.url = kl_config_get(cfg, "schema.registry.url");
    so.timeout_ms = (int)kl_config_get_int(cfg, "schema.registry.timeout.ms");
    if ((!so.dir || !so.dir[0]) && (!so.url || !so.url[0]))
        return KL_OK;
    return kl_sr_create(&so, out, err, errsz);
}

/* Contract in codec.h. */
int kl_decoder_create(const struct kl_config *cfg, struct kl_decoder **out,
                      char *err, size_t errsz)
{
    static const char *const keys[4] = {"input.field.id", "input.field.text",
                                        "input.field.kind", "input.field.ts"};
    struct kl_avro_dec_opts ao;
    struct kl_decoder *d;
    int i, rc = KL_OK;

    *out = NULL;
    d = calloc(1, sizeof *d);
    if (!d) {
        rc = KL_ENOMEM;
        goto out;
    }
    d->fmt = parse_fmt(kl_config_get(cfg, "input.format"));
    for (i = 0; i < 4; i++)
        if (!(d->field[i] = strdup(kl_config_get(cfg, keys[i])))) {
            rc = KL_ENOMEM;
            goto out;
        }
    d->jo.field_id = d->field[0];
    d->jo.field_text = d->field[1];
    d->jo.field_kind = d->field[2];
    d->jo.field_ts = d->field[3];
    d->jo.max_bytes = (size_t)kl_config_get_int(cfg, "input.max.bytes");
    d->ro.max_bytes = d->jo.max_bytes;
    if (d->fmt == FMT_AVRO) {
        rc = sr_from_cfg(cfg, &d->sr, err, errsz);
        if (rc)
            goto out;
        if (!d->sr) {
            snprintf(err, errsz, "input.format=avro needs schema.registry.url "
                                 "or schema.registry.dir");
            rc = KL_EINVAL;
            goto out;
        }
        memset(&ao, 0, sizeof ao);
        ao.field_id = d->field[0];
        ao.field_text = d->field[1];
        ao.field_kind = d->field[2];
        ao.field_ts = d->field[3];
        ao.max_bytes = d->jo.max_bytes;
        ao.sr = d->sr;
        ao.unknown_retry_ms = kl_config_get_int(cfg, "schema.registry.unknown.retry.ms");
        rc = kl_avro_dec_create(&ao, &d->avro, err, errsz);
        if (rc)
            goto out;
    }
    *out = d;
    d = NULL;
out:
    if (rc == KL_ENOMEM)
        snprintf(err, errsz, "codec: out of memory");
    kl_decoder_destroy(d);
    return rc;
}

/* Contract in codec.h. */
int kl_decoder_decode(struct kl_decoder *d, const struct kl_msg *m,
                      struct kl_event *ev, char *err, size_t errsz)
{
    const void *v = m->value ? m->value : "";

    switch (d->fmt) {
    case FMT_AVRO:
        if (!m->value) {
            kl_event_fini(ev);
            snprintf(err, errsz, "the value is null (a tombstone)");
            return KL_DEC_BAD_FRAMING;
        }
        return kl_avro_decode_event(d->avro, v, m->value_len, ev, err, errsz);
    case FMT_RAW:
        return kl_raw_decode_event(&d->ro, m, ev, err, errsz);
    default:
        return kl_json_decode_event(&d->jo, v, m->value_len, ev, err, errsz);
    }
}

/* Contract in codec.h. */
void kl_decoder_destroy(struct kl_decoder *d)
{
    int i;

    if (!d)
        return;
    kl_avro_dec_destroy(d->avro);
    kl_sr_destroy(d->sr);
    for (i = 0; i < 4; i++)
        free(d->field[i]);
    free(d);
}

/* Registers the result schema under "<output.topic>-value". */
static int register_result_schema(const struct kl_config *cfg, int32_t *id,
                                  char *err, size_t errsz)
{
    struct kl_sr *sr = NULL;
    char subject[512];
    int rc;

    rc = sr_from_cfg(cfg, &sr, err, errsz);
    if (rc)
        return rc;
    snprintf(subject, sizeof subject, "%s-value", kl_config_get(cfg, "output.topic"));
    rc = kl_sr_register(sr, subject, kl_avro_result_schema_json(), id, err, errsz);
    kl_sr_destroy(sr);
    if (!rc)
        KL_LOG(KL_LOG_INFO, COMP, "result schema registered as subject %s: id %d",
               subject, (int)*id);
    return rc;
}

/* Contract in codec.h. */
int kl_encoder_create(const struct kl_config *cfg, struct kl_encoder **out,
                      char *err, size_t errsz)
{
    struct kl_encoder *e;
    int64_t sid = kl_config_get_int(cfg, "output.schema.id");
    int reg = kl_config_get_bool(cfg, "output.schema.register");
    int32_t id = -1;
    int rc = KL_OK;

    *out = NULL;
    e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errsz, "codec: out of memory");
        return KL_ENOMEM;
    }
    e->fmt = parse_fmt(kl_config_get(cfg, "output.format"));
    e->ro.include_text = kl_config_get_bool(cfg, "output.include.text");
    e->ro.omit_top = kl_config_get_int(cfg, "model.top.k") == 1;
    e->explain = (size_t)kl_config_get_int(cfg, "output.explain");
    if (e->fmt != FMT_AVRO && (sid >= 0 || reg)) {
        snprintf(err, errsz, "output.schema.id and output.schema.register "
                             "need output.format=avro");
        rc = KL_EINVAL;
        goto out;
    }
    if (sid >= 0 && reg) {
        snprintf(err, errsz, "set output.schema.id or output.schema.register, "
                             "not both");
        rc = KL_EINVAL;
        goto out;
    }
    if (e->fmt == FMT_AVRO) {
        if (reg && !kl_config_get(cfg, "schema.registry.url")[0]) {
            snprintf(err, errsz, "output.schema.register needs schema.registry.url");
            rc = KL_EINVAL;
            goto out;
        }
        if (reg)
            rc = register_result_schema(cfg, &id, err, errsz);
        else
            id = (int32_t)sid;
        if (!rc)
            rc = kl_avro_enc_create(id, &e->avro, err, errsz);
        if (rc)
            goto out;
    }
    *out = e;
    e = NULL;
out:
    kl_encoder_destroy(e);
    return rc;
}

/* Contract in codec.h. */
size_t kl_encoder_explain(const struct kl_encoder *e)
{
    return e ? e->explain : 0;
}

/* Contract in codec.h. */
int kl_encoder_encode(struct kl_encoder *e, const struct kl_event *ev,
                      const struct kl_prediction *p,
                      const struct kl_model_info *mi,
                      const struct kl_source *src,
                      const struct kl_explanation *x, struct kl_buf *out)
{
    kl_buf_reset(out);
    if (e->fmt == FMT_AVRO)
        return kl_avro_encode_result(e->avro, ev, p, mi, src, x, &e->ro, out);
    return kl_json_encode_result_opts(ev, p, mi, src, x, &e->ro, out);
}

/* Contract in codec.h. */
void kl_encoder_destroy(struct kl_encoder *e)
{
    if (!e)
        return;
    kl_avro_enc_destroy(e->avro);
    free(e);
}
