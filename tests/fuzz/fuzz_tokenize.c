/*
 * tests/fuzz/fuzz_tokenize.c: libFuzzer target for the text path
 * (engine/utf8.c, tokenize.c, preprocess.c, example.c):
 *   - kl_utf8_validate() agrees with a slow reference decoder written here
 *     from the Unicode definition (value ranges, not byte tables), bad
 *     offset included;
 *   - kl_tokenize() in both modes, with several max_tokens, and (by the
 *     first input byte) with stop words, a stemmer and a tiny segmenter:
 *     a documented return code, at most max tokens, every token non-empty
 *     and inside tok->buf; fastText tokens are the text's non-space runs in
 *     order then "</s>"; unicode tokens are valid UTF-8; tokenizing again
 *     into fresh buffers gives the same tokens, and so does the unicode
 *     tokenizer with its normalization fast path off (utf8proc only);
 *   - kl_example_parse() on the text as a labeled line: label spans inside
 *     the line;
 *   - featurization (engine/featurize.c) over a small dictionary with CJK
 *     characters, words and bigrams, with several max_tokens: its
 *     one-pass lane gives the result code, token count and ids that the
 *     two-pass path (taken when origins are asked for) gives.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "klabel/engine.h"
#include "../../engine/dict.h"
#include "../../engine/tokenize.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct kl_stopwords *stop;  /* "the", "a", "的", "ǆ" */
static struct kl_segmenter *seg;   /* a few Chinese words */
static const char seg_dict[] =
    "中文 100 n\n新闻 80 n\n中文新闻 5\n股票 50 n\n上涨 40 v\n股 10\n"
    "房价 30 n\n下跌 30 v\n中 200\n文 90\n";

static struct kl_dict dict;        /* unicode tokenizer, word bigrams */
static const char dict_vocab[] =
    "中\0文\0新\0闻\0股\0the\0a\0foo\0bar\0abc\0\xc3\xa6\0"
    "\xe3\x81\x8b\0\xe3\x81\x8c\0" "2024\0";

/* Once per process: the stop-word set (through a temporary file, as
 * kl_stopwords_load() takes a path), the segmenter and the dictionary. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[] = "/tmp/kl_fuzz_stop.XXXXXX", err[256] = "";
    int fd = mkstemp(path);
    static const char words[] = "the\nA\n的\n\xc7\x84\n";

    (void)argc;
    (void)argv;
    CHECK(fd >= 0, "mkstemp");
    CHECK(write(fd, words, sizeof words - 1) == (ssize_t)(sizeof words - 1),
          "write");
    close(fd);
    CHECK(kl_stopwords_load(path, &stop, err, sizeof err) == KL_OK, "%s", err);
    unlink(path);
    CHECK(kl_segmenter_create(seg_dict, sizeof seg_dict - 1, &seg, err,
                              sizeof err) == KL_OK, "%s", err);
    CHECK(kl_dict_init(&dict, dict_vocab, sizeof dict_vocab - 1, 14, err,
                       sizeof err) == KL_OK, "%s", err);
    kl_dict_set_bucket(&dict, 1000);
    dict.word_ngrams = 2;
    dict.tok.mode = KL_TOK_UNICODE;
    return 0;
}

/* Featurizes text both ways (the lane without origins, the two-pass path
 * with them) under each max_tokens: the same code, token count and ids. */
static void check_lane(const char *text, size_t len)
{
    static const size_t maxes[] = {0, 1, 3};
    struct kl_features a, b;

    kl_features_init(&a);
    kl_features_init(&b);
    b.want_origin = 1;
    for (size_t mi = 0; mi < sizeof maxes / sizeof maxes[0]; mi++) {
        int ra, rb;

        dict.tok.max_tokens = maxes[mi];
        ra = kl_dict_featurize(&dict, text, len, &a);
        rb = kl_dict_featurize(&dict, text, len, &b);
        CHECK(ra == rb, "featurize: lane %d, two-pass %d", ra, rb);
        CHECK(a.ntokens == b.ntokens, "tokens: lane %zu, two-pass %zu",
              a.ntokens, b.ntokens);
        CHECK(a.n == b.n && (a.n == 0 || !memcmp(a.ids, b.ids,
                                                 a.n * sizeof *a.ids)),
              "ids: lane %zu, two-pass %zu", a.n, b.n);
    }
    dict.tok.max_tokens = 0;
    kl_features_fini(&a);
    kl_features_fini(&b);
}

/* Reference UTF-8 check: decode by bit pattern, then reject by value. */
static int ref_utf8(const uint8_t *s, size_t n, size_t *bad)
{
    size_t i = 0;

    while (i < n) {
        uint32_t c = s[i], min;
        size_t len, k;

        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            len = 2, c &= 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, c &= 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, c &= 0x07, min = 0x10000;
        } else {
            *bad = i;
            return -1;
        }
        for (k = 1; k < len; k++) {
            if (i + k >= n || (s[i + k] & 0xC0) != 0x80)
                break;
            c = c << 6 | (s[i + k] & 0x3F);
        }
        if (k < len || c < min || c > 0x10FFFF ||
            (c >= 0xD800 && c <= 0xDFFF)) {
            *bad = i;
            return -1;
        }
        i += len;
    }
    return 0;
}

static int is_ft_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
           c == '\r' || c == '\0';
}

/* Tokens of one tokenization, checked against the text. */
static void check_tokens(const struct kl_tok_opts *o, const uint8_t *text,
                         size_t len, const struct kl_tokens *tok, size_t max)
{
    size_t pos = 0;

    CHECK(tok->n <= max, "%zu tokens, max %zu", tok->n, max);
    CHECK(tok->buf_len <= tok->buf_cap && tok->n <= tok->cap,
          "buffers: %zu/%zu bytes, %zu/%zu tokens", tok->buf_len,
          tok->buf_cap, tok->n, tok->cap);
    for (size_t i = 0; i < tok->n; i++) {
        const char *t = tok->buf + tok->off[i];
        size_t n = tok->len[i];
        size_t bad;

        CHECK(n > 0, "token %zu empty", i);
        CHECK((size_t)tok->off[i] + n <= tok->buf_len,
              "token %zu [%u, +%zu) past %zu bytes", i, tok->off[i], n,
              tok->buf_len);
        if (o->mode == KL_TOK_UNICODE) {
            CHECK(ref_utf8((const uint8_t *)t, n, &bad) == 0,
                  "token %zu not UTF-8 at %zu", i, bad);
            continue;
        }
        if (i + 1 == tok->n) {
            CHECK(n == 4 && memcmp(t, "</s>", 4) == 0, "last token not </s>");
            continue;
        }
        for (size_t j = 0; j < n; j++)
            CHECK(!is_ft_space((uint8_t)t[j]), "token %zu holds a space", i);
        /* the next non-space run of the text */
        while (pos < len && is_ft_space(text[pos]))
            pos++;
        CHECK(pos + n <= len && memcmp(text + pos, t, n) == 0 &&
                  (pos + n == len || is_ft_space(text[pos + n])),
              "token %zu is not the text's next word", i);
        pos += n;
    }
    if (o->mode == KL_TOK_FASTTEXT) {
        CHECK(tok->n >= 1, "no </s>");
        if (tok->n < max) { /* not cut short: no word left */
            while (pos < len && is_ft_space(text[pos]))
                pos++;
            CHECK(pos == len, "word at %zu not tokenized", pos);
        }
    }
}

/* a and b hold the same tokens. */
static void check_same(const struct kl_tokens *a, const struct kl_tokens *b)
{
    CHECK(a->n == b->n, "%zu tokens, again %zu", a->n, b->n);
    for (size_t i = 0; i < a->n; i++)
        CHECK(a->len[i] == b->len[i] &&
                  memcmp(a->buf + a->off[i], b->buf + b->off[i], a->len[i]) ==
                      0,
              "token %zu differs", i);
}

static void check_example(const uint8_t *line, size_t len)
{
    struct kl_example ex;
    int rc;

    kl_example_init(&ex);
    rc = kl_example_parse((const char *)line, len, &ex);
    CHECK(rc == KL_OK || rc == KL_EEMPTY || rc == KL_EFORMAT,
          "example_parse: %d", rc);
    if (rc == KL_OK) {
        CHECK(ex.nlabels >= 1, "no labels");
        for (size_t i = 0; i < ex.nlabels; i++)
            CHECK((size_t)ex.label_off[i] + ex.label_len[i] <= len &&
                      ex.label_len[i] > 0,
                  "label %zu [%u, +%u) outside the line (%zu)", i,
                  ex.label_off[i], ex.label_len[i], len);
        CHECK(ex.text_len < ex.text_cap && ex.text[ex.text_len] == '\0',
              "text not NUL-terminated");
    }
    kl_example_fini(&ex);
}

/* Input: byte 0 picks the unicode extras (bit 0 stop words, bit 1
 * stemming, bit 2 segmenter); the rest is the text. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t maxes[] = {0, 1, 2, 5, 64};
    struct kl_tokens tok, again;
    size_t bad = (size_t)-1, rbad = (size_t)-1, len;
    uint8_t flags = size > 0 ? data[0] : 0;
    char *text;
    int valid, rc;

    /* validation on all the bytes */
    rc = kl_utf8_validate((const char *)data, size, &bad);
    valid = ref_utf8(data, size, &rbad) == 0;
    CHECK((rc == KL_OK) == valid, "validate %d, reference %d", rc, valid);
    CHECK(valid || bad == rbad, "bad offset %zu, reference %zu", bad, rbad);

    len = size > 0 ? size - 1 : 0;
    text = malloc(len ? len : 1); /* exact size: ASan sees overreads */
    CHECK(text != NULL, "malloc");
    memcpy(text, data + (size > 0), len);
    valid = ref_utf8((const uint8_t *)text, len, &rbad) == 0;
    kl_tokens_init(&tok);
    for (int mode = 0; mode < 2; mode++)
        for (size_t mi = 0; mi < sizeof maxes / sizeof maxes[0]; mi++) {
            struct kl_tok_opts o;
            size_t max = maxes[mi] ? maxes[mi] : 65536;

            memset(&o, 0, sizeof o);
            o.mode = mode;
            o.max_tokens = maxes[mi];
            if (mode == KL_TOK_UNICODE) {
                o.stop = (flags & 1) ? stop : NULL;
                if (flags & 2)
                    snprintf(o.stem, sizeof o.stem, "%s",
                             (flags & 8) ? "russian" : "english");
                o.seg = (flags & 4) ? seg : NULL;
            }
            rc = kl_tokenize(&o, text, len, &tok);
            if (mode == KL_TOK_UNICODE && !valid) {
                CHECK(rc == KL_EUTF8 && tok.n == 0,
                      "invalid text: rc %d, %zu tokens", rc, tok.n);
                continue;
            }
            CHECK(rc == KL_OK || rc == KL_ERANGE, "tokenize mode %d: %d",
                  mode, rc);
            if (rc != KL_OK)
                continue;
            check_tokens(&o, (const uint8_t *)text, len, &tok, max);
            kl_tokens_init(&again);
            CHECK(kl_tokenize(&o, text, len, &again) == KL_OK, "again");
            check_same(&tok, &again);
            if (mode == KL_TOK_UNICODE) {
                /* the normalization fast path against utf8proc's */
                kl_tokenize_set_fast(0);
                CHECK(kl_tokenize(&o, text, len, &again) == KL_OK,
                      "utf8proc path");
                kl_tokenize_set_fast(1);
                check_same(&tok, &again);
            }
            kl_tokens_fini(&again);
        }
    kl_tokens_fini(&tok);
    check_lane(text, len);
    check_example((const uint8_t *)text, len);
    free(text);
    return 0;
}
