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

/* The writers below put a result together at w in room reserved once
 * (result_room): literal pieces are fixed-size copies the compiler turns
 * into a few moves, numbers are formatted in place (numfmt.h writes a NUL
 * that the next piece overwrites). */

/* Writes the literal s (a string constant) at w. */
#define LIT(w, s) (memcpy((w), (s), sizeof(s) - 1), (w) + sizeof(s) - 1)

/* Writes a probability as a JSON number ("%.6g"; NaN and infinities as
 * 0). */
static char *score_to(char *w, float p)
{
    if (!isfinite(p)) {
        *w = '0';
        return w + 1;
    }
    return w + kl_fmt_g6(w, p);
}

/* A string to write as JSON, or NULL for null, with its length. */
struct jstr {
    const char *s;
    size_t n;
};

static struct jstr jstr_of(const char *s)
{
    return (struct jstr){s, s ? strlen(s) : 0};
}

/* A model's label name by index; NULL when it is unknown. */
static struct jstr label_of(const struct kl_model_info *mi, int32_t label)
{
    if (!mi || !mi->labels || label < 0 || label >= mi->nlabels)
        return (struct jstr){NULL, 0};
    return jstr_of(mi->labels[label]);
}

/* Writes j as a JSON string, or null. */
static char *jstr_to(char *w, struct jstr j)
{
    return j.s ? kl_json_str_to(w, j.s, j.n) : LIT(w, "null");
}

/* 1 when s[0..n) is an integer literal JSON accepts as a number. */
static int is_int_text(const char *s, size_t n)
{
    size_t j = n && s[0] == '-';

    if (n <= j || (s[j] == '0' && n > j + 1))
        return 0;
    return strspn(s + j, "0123456789") == n - j;
}

/* The strings of one result, measured once. */
struct parts {
    int k;
    struct jstr label[KL_TOPK_MAX], mid, mver, topic;
};

static void parts_of(const struct kl_prediction *p,
                     const struct kl_model_info *mi,
                     const struct kl_source *src, struct parts *r)
{
    r->k = p->k < 0 ? 0 : p->k > KL_TOPK_MAX ? KL_TOPK_MAX : p->k;
    for (int i = 0; i < r->k; i++)
        r->label[i] = label_of(mi, p->label[i]);
    r->mid = mi ? jstr_of(mi->id) : (struct jstr){NULL, 0};
    r->mver = mi ? jstr_of(mi->version) : (struct jstr){NULL, 0};
    r->topic = src ? jstr_of(src->topic) : (struct jstr){NULL, 0};
}

/* Room for the result, NULs of the number formatters included: at most
 * 128 bytes of keys and punctuation beside its strings and three
 * integers, 24 per label beside its name and score, and the best label's
 * name and score once more (they appear again in "top"). */
static size_t parts_room(const struct kl_event *ev, const struct parts *r)
{
    size_t room = 128 + 3 * KL_NUMFMT_MAX + KL_JSON_STR_MAX(ev->id_len) +
                  KL_JSON_STR_MAX(r->mid.n) + KL_JSON_STR_MAX(r->mver.n) +
                  KL_JSON_STR_MAX(r->topic.n);

    for (int i = 0; i < r->k; i++)
        room += 24 + KL_NUMFMT_MAX + KL_JSON_STR_MAX(r->label[i].n);
    if (r->k > 0)
        room += 24 + KL_NUMFMT_MAX + KL_JSON_STR_MAX(r->label[0].n);
    return room;
}

/* Contract in codec.h. */
size_t kl_json_result_room(const struct kl_event *ev,
                           const struct kl_prediction *p,
                           const struct kl_model_info *mi,
                           const struct kl_source *src)
{
    struct parts r;

    parts_of(p, mi, src, &r);
    return parts_room(ev, &r);
}

/* Writes ,"top":[..] at w: r's k labels with p's scores, the first from
 * the best's "label":..,"score":.. already written at best[0..best_len). */
static char *top_to(char *w, const struct kl_prediction *p,
                    const struct parts *r, const char *best, size_t best_len)
{
    w = LIT(w, ",\"top\":[");
    for (int i = 0; i < r->k; i++) {
        if (i == 0) {
            w = LIT(w, "{");
            w = (char *)memcpy(w, best, best_len) + best_len;
        } else {
            w = LIT(w, ",{\"label\":");
            w = jstr_to(w, r->label[i]);
            w = LIT(w, ",\"score\":");
            w = score_to(w, p->prob[i]);
        }
        w = LIT(w, "}");
    }
    return LIT(w, "]");
}

/* Appends one result object to out (shape in codec.h; "ts" is null when
 * the event has none; "model" and "source" are null when mi or src is
 * NULL; no "top" when omit_top). Nothing is appended on failure. Returns
 * 0, KL_ENOMEM or KL_EINVAL (NULL ev, p or out). */
static int encode(const struct kl_event *ev, const struct kl_prediction *p,
                  const struct kl_model_info *mi, const struct kl_source *src,
                  int omit_top, struct kl_buf *out)
{
    struct parts r;
    char *w, *best = NULL;
    size_t best_len = 0;

    if (!ev || !p || !out)
        return KL_EINVAL;
    parts_of(p, mi, src, &r);
    if (kl_buf_reserve(out, parts_room(ev, &r)) != 0)
        return KL_ENOMEM;
    w = LIT(out->data + out->len, "{\"id\":");
    if (!ev->id)
        w = LIT(w, "null");
    else if (ev->id_is_number && is_int_text(ev->id, ev->id_len))
        w = (char *)memcpy(w, ev->id, ev->id_len) + ev->id_len;
    else
        w = kl_json_str_to(w, ev->id, ev->id_len);
    w = LIT(w, ",");
    if (r.k > 0) {
        best = w; /* "label":..,"score":.. of the best, again in "top" */
        w = LIT(w, "\"label\":");
        w = jstr_to(w, r.label[0]);
        w = LIT(w, ",\"score\":");
        w = score_to(w, p->prob[0]);
        best_len = (size_t)(w - best);
    } else {
        w = LIT(w, "\"label\":null,\"score\":0");
    }
    if (!omit_top)
        w = top_to(w, p, &r, best, best_len);
    w = LIT(w, ",\"model\":");
    if (mi) {
        w = LIT(w, "{\"id\":");
        w = jstr_to(w, r.mid);
        w = LIT(w, ",\"version\":");
        w = jstr_to(w, r.mver);
        w = LIT(w, "}");
    } else {
        w = LIT(w, "null");
    }
    w = LIT(w, ",\"source\":");
    if (src) {
        w = LIT(w, "{\"topic\":");
        w = jstr_to(w, r.topic);
        w = LIT(w, ",\"partition\":");
        w += kl_fmt_i64(w, src->partition);
        w = LIT(w, ",\"offset\":");
        w += kl_fmt_i64(w, src->offset);
        w = LIT(w, "}");
    } else {
        w = LIT(w, "null");
    }
    if (ev->ts_ms >= 0) {
        w = LIT(w, ",\"ts\":");
        w += kl_fmt_i64(w, ev->ts_ms);
        w = LIT(w, "}");
    } else {
        w = LIT(w, ",\"ts\":null}");
    }
    out->len = (size_t)(w - out->data);
    out->data[out->len] = '\0';
    return 0;
}

/* Contract in codec.h. */
int kl_json_encode_result(const struct kl_event *ev,
                          const struct kl_prediction *p,
                          const struct kl_model_info *mi,
                          const struct kl_source *src, struct kl_buf *out)
{
    return encode(ev, p, mi, src, 0, out);
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
    rc = encode(ev, p, mi, src, ro && ro->omit_top, out);
    if (rc != 0 || (!x && !text))
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
