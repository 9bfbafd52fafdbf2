/*
 * JSON output codec (plugin/codec.h): a labeled result -> one JSON value,
 * optionally with the input text (output.include.text) and the
 * prediction's explanation, "explain":[{"token":..,"weight":..},..]
 * (kl_model_explain() in the engine), for the stage's output.format=json
 * and `klabel predict [--explain N]`.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "numfmt.h"

/* Appends "%.6g" of v (numfmt.h: no printf). */
static int put_g6(struct kl_buf *out, float v)
{
    char num[KL_NUMFMT_MAX];

    return kl_buf_append(out, num, kl_fmt_g6(num, v));
}

/* Appends prefix, then v in decimal. */
static int put_i64(struct kl_buf *out, const char *prefix, int64_t v)
{
    char num[KL_NUMFMT_MAX];
    int rc = kl_buf_append(out, prefix, strlen(prefix));

    return rc ? rc : kl_buf_append(out, num, kl_fmt_i64(num, v));
}

/* Appends a probability as a JSON number ("%.6g"; NaN and infinities as 0). */
static int put_score(struct kl_buf *out, float p)
{
    if (!isfinite(p))
        return kl_buf_append(out, "0", 1);
    return put_g6(out, p);
}

/* Appends a model label name by index, or null when it is unknown. */
static int put_label(struct kl_buf *out, const struct kl_model_info *mi,
                     int32_t label)
{
    const char *s;

    if (!mi || !mi->labels || label < 0 || label >= mi->nlabels || !mi->labels[label])
        return kl_buf_append(out, "null", 4);
    s = mi->labels[label];
    return kl_buf_json_str(out, s, strlen(s));
}

static int put_str_or_null(struct kl_buf *out, const char *s)
{
    if (!s)
        return kl_buf_append(out, "null", 4);
    return kl_buf_json_str(out, s, strlen(s));
}

/* 1 when s[0..n) is an integer literal JSON accepts as a number. */
static int is_int_text(const char *s, size_t n)
{
    size_t j = n && s[0] == '-';

    if (n <= j || (s[j] == '0' && n > j + 1))
        return 0;
    return strspn(s + j, "0123456789") == n - j;
}

/* Appends one result object to out (shape in codec.h; "ts" is null when
 * the event has none; "model" and "source" are null when mi or src is
 * NULL). Nothing is appended on failure. Returns 0, KL_ENOMEM or
 * KL_EINVAL (NULL ev, p or out). */
int kl_json_encode_result(const struct kl_event *ev,
                          const struct kl_prediction *p,
                          const struct kl_model_info *mi,
                          const struct kl_source *src, struct kl_buf *out)
{
    size_t old;
    int i, k, rc = 0;

    if (!ev || !p || !out)
        return KL_EINVAL;
    old = out->len;
    k = p->k < 0 ? 0 : p->k > KL_TOPK_MAX ? KL_TOPK_MAX : p->k;

#define PUT(x) do { if ((rc = (x)) != 0) goto out; } while (0)
    PUT(kl_buf_append(out, "{\"id\":", 6));
    if (!ev->id)
        PUT(kl_buf_append(out, "null", 4));
    else if (ev->id_is_number && is_int_text(ev->id, ev->id_len))
        PUT(kl_buf_append(out, ev->id, ev->id_len));
    else
        PUT(kl_buf_json_str(out, ev->id, ev->id_len));
    PUT(kl_buf_append(out, ",\"label\":", 9));
    if (k > 0) {
        PUT(put_label(out, mi, p->label[0]));
        PUT(kl_buf_append(out, ",\"score\":", 9));
        PUT(put_score(out, p->prob[0]));
    } else {
        PUT(kl_buf_append(out, "null,\"score\":0", 14));
    }
    PUT(kl_buf_append(out, ",\"top\":[", 8));
    for (i = 0; i < k; i++) {
        PUT(kl_buf_append(out, i ? ",{\"label\":" : "{\"label\":", i ? 10 : 9));
        PUT(put_label(out, mi, p->label[i]));
        PUT(kl_buf_append(out, ",\"score\":", 9));
        PUT(put_score(out, p->prob[i]));
        PUT(kl_buf_append(out, "}", 1));
    }
    PUT(kl_buf_append(out, "],\"model\":", 10));
    if (mi) {
        PUT(kl_buf_append(out, "{\"id\":", 6));
        PUT(put_str_or_null(out, mi->id));
        PUT(kl_buf_append(out, ",\"version\":", 11));
        PUT(put_str_or_null(out, mi->version));
        PUT(kl_buf_append(out, "}", 1));
    } else {
        PUT(kl_buf_append(out, "null", 4));
    }
    PUT(kl_buf_append(out, ",\"source\":", 10));
    if (src) {
        PUT(kl_buf_append(out, "{\"topic\":", 9));
        PUT(put_str_or_null(out, src->topic));
        PUT(put_i64(out, ",\"partition\":", src->partition));
        PUT(put_i64(out, ",\"offset\":", src->offset));
        PUT(kl_buf_append(out, "}", 1));
    } else {
        PUT(kl_buf_append(out, "null", 4));
    }
    if (ev->ts_ms >= 0)
    {
        PUT(put_i64(out, ",\"ts\":", ev->ts_ms));
        PUT(kl_buf_append(out, "}", 1));
    }
    else
        PUT(kl_buf_append(out, ",\"ts\":null}", 11));
#undef PUT
out:
    if (rc != 0) {
        out->len = old;
        if (out->data)
            out->data[old] = '\0';
    }
    return rc;
}

/* Contract in codec.h. */
int kl_json_encode_result_explain(const struct kl_event *ev,
                                  const struct kl_prediction *p,
                                  const struct kl_model_info *mi,
                                  const struct kl_source *src,
                                  const struct kl_explanation *x,
                                  struct kl_buf *out)
{
    return kl_json_encode_result_opts(ev, p, mi, src, x, NULL, out);
}

/* Contract in codec.h. */
int kl_json_encode_result_opts(const struct kl_event *ev,
                               const struct kl_prediction *p,
                               const struct kl_model_info *mi,
                               const struct kl_source *src,
                               const struct kl_explanation *x,
                               const struct kl_result_opts *ro,
                               struct kl_buf *out)
{
    int text = ro && ro->include_text && ev && ev->text;
    size_t old;
    int rc;

    if (!out)
        return KL_EINVAL;
    old = out->len;
    if ((rc = kl_json_encode_result(ev, p, mi, src, out)) != 0 || (!x && !text))
        return rc;
    out->len--; /* the result's closing '}' */
    if (text) {
        rc = kl_buf_append(out, ",\"text\":", 8);
        if (!rc)
            rc = kl_buf_json_str(out, ev->text, ev->text_len);
    }
    if (!rc && !x) {
        rc = kl_buf_append(out, "}", 1);
        goto out;
    }
    if (!rc)
        rc = kl_buf_append(out, ",\"explain\":[", 12);
    for (size_t i = 0; !rc && i < x->n; i++) {
        const struct kl_contrib *c = &x->items[i];
        float w = c->weight;
        if (i)
            rc = kl_buf_append(out, ",", 1);
        if (!rc)
            rc = kl_buf_append(out, "{\"token\":", 9);
        if (!rc)
            rc = kl_buf_json_str(out, x->names + c->off, c->len);
        if (!rc)
            rc = kl_buf_append(out, ",\"weight\":", 10);
        if (!rc)
            rc = put_g6(out, isfinite(w) ? w : 0.0f);
        if (!rc)
            rc = kl_buf_append(out, "}", 1);
    }
    if (!rc)
        rc = kl_buf_append(out, "]}", 2);
out:
    if (rc) {
        out->len = old;
        if (out->data)
            out->data[old] = '\0';
    }
    return rc;
}
