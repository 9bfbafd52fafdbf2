/*
 * The JSON input codec's fast path (codec_json_fast.h): one strict pass
 * over a flat event object that validates it and picks the id, text, kind
 * and ts members without building a tree. It only answers when the event
 * is well-formed and every field is good and plain; anything else (nested
 * values, escapes in keys, repeated fields, numbers the full decoder would
 * round, any error) is left to the full decoder (codec_json.c), which
 * names the dead-letter reason. So both give the same result on every
 * input: tests/unit/test_codec_json.c and tests/fuzz/fuzz_json.c compare
 * them.
 */
#include "codec_json_fast.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"
#include "numfmt.h"

static int fast_off;

void kl_json_set_fast(int on)
{
    fast_off = !on;
}

/* A member value the caller wants. */
struct val {
    int type;           /* 0 absent, 's' string, 'n' number, 'z' null, 'o' other */
    const char *p;      /* string: between the quotes; number: the literal */
    size_t n;
    int escaped;        /* string holds backslash escapes */
};

struct scan {
    const unsigned char *s, *end;
};

static void skip_ws(struct scan *sc)
{
    while (sc->s < sc->end && (*sc->s == ' ' || *sc->s == '\t' ||
                               *sc->s == '\n' || *sc->s == '\r'))
        sc->s++;
}

static int hex4(const unsigned char *p, unsigned *out)
{
    unsigned v = 0;

    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d;

        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

/* One \uXXXX escape at p (p[0] == '\\', p[1] == 'u') with its low
 * surrogate if it is a high one: the code point and the escape's length,
 * or -1 for anything the fast path does not take (bad hex, lone or
 * misordered surrogates, U+0000). */
static int u_escape(const unsigned char *p, const unsigned char *end,
                    unsigned *cp, size_t *used)
{
    unsigned hi, lo;

    if (end - p < 6 || hex4(p + 2, &hi))
        return -1;
    if (hi == 0 || (hi >= 0xDC00 && hi <= 0xDFFF))
        return -1;
    if (hi < 0xD800 || hi > 0xDBFF) {
        *cp = hi;
        *used = 6;
        return 0;
    }
    if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || hex4(p + 8, &lo) ||
        lo < 0xDC00 || lo > 0xDFFF)
        return -1;
    *cp = 0x10000 + (((hi & 0x3FF) << 10) | (lo & 0x3FF));
    *used = 12;
    return 0;
}

/* A string at sc->s (on the opening quote): its content span in *v.
 * Returns 0 or -1 (not for the fast path). */
static int scan_string(struct scan *sc, struct val *v)
{
    const unsigned char *p = sc->s + 1;

    v->type = 's';
    v->escaped = 0;
    v->p = (const char *)p;
    while (p < sc->end && *p != '"') {
        if (*p < 0x20)
            return -1;
        if (*p == '\\') {
            unsigned cp;
            size_t used;

            if (p + 1 >= sc->end)
                return -1;
            v->escaped = 1;
            if (p[1] == 'u') {
                if (u_escape(p, sc->end, &cp, &used))
                    return -1;
                p += used;
                continue;
            }
            if (!strchr("\"\\/bfnrt", p[1]) || p[1] == '\0')
                return -1;
            p += 2;
            continue;
        }
        p++;
    }
    if (p >= sc->end)
        return -1;
    v->n = (size_t)(p - (const unsigned char *)v->p);
    sc->s = p + 1;
    return 0;
}

/* A number (RFC 8259 grammar) at sc->s. Returns 0 or -1. */
static int scan_number(struct scan *sc, struct val *v)
{
    const unsigned char *p = sc->s, *e = sc->end;

    v->type = 'n';
    v->p = (const char *)p;
    if (p < e && *p == '-')
        p++;
    if (p < e && *p == '0')
        p++;
    else if (p < e && *p >= '1' && *p <= '9')
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    else
        return -1;
    if (p < e && *p == '.') {
        p++;
        if (p >= e || *p < '0' || *p > '9')
            return -1;
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || *p < '0' || *p > '9')
            return -1;
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    v->n = (size_t)(p - (const unsigned char *)v->p);
    sc->s = p;
    return v->n > 63 ? -1 : 0; /* cJSON reads at most 63 characters */
}

static int literal(struct scan *sc, const char *word, struct val *v, int type)
{
    size_t n = strlen(word);

    if ((size_t)(sc->end - sc->s) < n || memcmp(sc->s, word, n))
        return -1;
    v->type = type;
    v->p = (const char *)sc->s;
    v->n = n;
    sc->s += n;
    return 0;
}

/* A plain integer literal (no fraction or exponent) of at most 15 digits
 * (exact in a double, as the full decoder reads ts): its value in *x. */
static int plain_int(const struct val *v, int64_t *x)
{
    size_t i = v->p[0] == '-';
    int64_t r = 0;

    if (v->n <= i || v->n - i > 15)
        return -1;
    for (; i < v->n; i++) {
        if (v->p[i] < '0' || v->p[i] > '9')
            return -1;
        r = r * 10 + (v->p[i] - '0');
    }
    *x = v->p[0] == '-' ? -r : r;
    return 0;
}

/* Writes the decoded content of string v, NUL-terminated, at out (room
 * for v->n + 1 bytes: decoding never lengthens); returns its length.
 * Escapes were checked. */
static size_t unescape_into(const struct val *v, char *out)
{
    const unsigned char *p = (const unsigned char *)v->p, *e = p + v->n;
    char *o = out;

    if (!v->escaped) {
        memcpy(out, v->p, v->n);
        out[v->n] = '\0';
        return v->n;
    }
    while (p < e) {
        unsigned cp;
        size_t used;

        if (*p != '\\') {
            *o++ = (char)*p++;
            continue;
        }
        switch (p[1]) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u':
            u_escape(p, e, &cp, &used);
            if (cp < 0x80) {
                *o++ = (char)cp;
            } else if (cp < 0x800) {
                *o++ = (char)(0xC0 | cp >> 6);
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                *o++ = (char)(0xE0 | cp >> 12);
                *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else {
                *o++ = (char)(0xF0 | cp >> 18);
                *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
                *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            }
            p += used;
            continue;
        default: *o++ = (char)p[1]; break; /* " \ / */
        }
        p += 2;
    }
    *o = '\0';
    return (size_t)(o - out);
}

/* Which of the wanted fields (names, lens) key[0..n) is (0..3), or -1. */
static int field_of(const char *const *names, const size_t *lens,
                    const char *key, size_t n)
{
    for (int f = 0; f < 4; f++)
        if (lens[f] == n && !memcmp(names[f], key, n))
            return f;
    return -1;
}

int kl_json_decode_fast(const char *const names[4], const void *buf,
                        size_t len, struct kl_event *ev)
{
    struct scan sc = {buf, (const unsigned char *)buf + len};
    struct val vals[4];
    size_t tlen = 0, ilen = 0, klen = 0;
    int64_t ts = -1, idnum = 0;
    char *block, *text, *id = NULL, *kind = NULL, num[KL_NUMFMT_MAX];
    size_t lens[4];

    for (int f = 0; f < 4; f++)
        lens[f] = strlen(names[f]);
    if (fast_off || kl_utf8_validate(buf, len, NULL) != KL_OK)
        return KL_JSON_FALLBACK;
    memset(vals, 0, sizeof vals);
    skip_ws(&sc);
    if (sc.s >= sc.end || *sc.s != '{')
        return KL_JSON_FALLBACK;
    sc.s++;
    skip_ws(&sc);
    if (sc.s < sc.end && *sc.s == '}') {
        sc.s++;
    } else {
        for (;;) {
            struct val key, v;
            int f;

            if (sc.s >= sc.end || *sc.s != '"' || scan_string(&sc, &key) ||
                key.escaped)
                return KL_JSON_FALLBACK;
            skip_ws(&sc);
            if (sc.s >= sc.end || *sc.s != ':')
                return KL_JSON_FALLBACK;
            sc.s++;
            skip_ws(&sc);
            if (sc.s >= sc.end)
                return KL_JSON_FALLBACK;
            memset(&v, 0, sizeof v);
            switch (*sc.s) {
            case '"': if (scan_string(&sc, &v)) return KL_JSON_FALLBACK; break;
            case 't': if (literal(&sc, "true", &v, 'o')) return KL_JSON_FALLBACK; break;
            case 'f': if (literal(&sc, "false", &v, 'o')) return KL_JSON_FALLBACK; break;
            case 'n': if (literal(&sc, "null", &v, 'z')) return KL_JSON_FALLBACK; break;
            default:
                if (scan_number(&sc, &v))
                    return KL_JSON_FALLBACK; /* objects, arrays, junk */
            }
            f = field_of(names, lens, key.p, key.n);
            if (f >= 0) {
                if (vals[f].type) /* repeated: the full decoder decides */
                    return KL_JSON_FALLBACK;
                vals[f] = v;
            }
            skip_ws(&sc);
            if (sc.s < sc.end && *sc.s == ',') {
                sc.s++;
                skip_ws(&sc);
                continue;
            }
            if (sc.s < sc.end && *sc.s == '}') {
                sc.s++;
                break;
            }
            return KL_JSON_FALLBACK;
        }
    }
    skip_ws(&sc);
    if (sc.s != sc.end)
        return KL_JSON_FALLBACK;
    /* vals: 0 id, 1 text, 2 kind, 3 ts; only good, plain fields here */
    if (vals[1].type != 's' || (vals[0].type && vals[0].type != 's' &&
                                vals[0].type != 'n' && vals[0].type != 'z') ||
        (vals[2].type && vals[2].type != 's' && vals[2].type != 'z') ||
        (vals[3].type && vals[3].type != 'n' && vals[3].type != 'z'))
        return KL_JSON_FALLBACK;
    if (vals[3].type == 'n' && (plain_int(&vals[3], &ts) || ts < 0))
        return KL_JSON_FALLBACK;
    if (vals[0].type == 'n' && plain_int(&vals[0], &idnum))
        return KL_JSON_FALLBACK;
    /* One allocation for text, id and kind (ev->block): a string never
     * grows when unescaped, a number's id is at most KL_NUMFMT_MAX. */
    if (vals[0].type == 'n')
        ilen = kl_fmt_i64(num, idnum);
    block = malloc(vals[1].n + 1 + (vals[0].type == 's' ? vals[0].n + 1
                                    : vals[0].type == 'n' ? ilen + 1 : 0) +
                   (vals[2].type == 's' ? vals[2].n + 1 : 0));
    if (!block)
        return KL_ENOMEM;
    text = block;
    tlen = unescape_into(&vals[1], text);
    if (kl_text_is_blank(text, tlen))
        goto fallback;
    if (vals[0].type == 's') {
        id = text + tlen + 1;
        ilen = unescape_into(&vals[0], id);
        if (ilen > KL_EVENT_ID_MAX)
            goto fallback;
    } else if (vals[0].type == 'n') {
        id = text + tlen + 1;
        memcpy(id, num, ilen + 1);
    }
    if (vals[2].type == 's') {
        kind = (id ? id + ilen : text + tlen) + 1;
        klen = unescape_into(&vals[2], kind);
        if (klen > KL_EVENT_KIND_MAX)
            goto fallback;
    }
    kl_event_fini(ev);
    ev->block = block;
    ev->text = text;
    ev->text_len = tlen;
    ev->id = id;
    ev->id_len = ilen;
    ev->id_is_number = vals[0].type == 'n';
    ev->kind = kind;
    ev->kind_len = klen;
    ev->ts_ms = vals[3].type == 'n' ? ts : -1;
    return KL_DEC_OK;
fallback:
    free(block);
    return KL_JSON_FALLBACK;
}
