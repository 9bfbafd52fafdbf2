/*
 * plugin/codec_json_explain.c: the JSON result of codec_json.c with the
 * input text (output.include.text) and the prediction's explanation
 * appended as "text":.. and "explain":[{"token":..,"weight":..},..]
 * (kl_model_explain() in the engine), for `klabel predict --explain N` and
 * the stage's output.explain.
 */
#include <math.h>
#include <string.h>

#include "codec.h"

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
            rc = kl_buf_printf(out, ",\"weight\":%.6g}",
                               isfinite(w) ? (double)w : 0.0);
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
