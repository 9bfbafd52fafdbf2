/*
 * tests/fuzz/fuzz_segment.c: libFuzzer target for the jieba-compatible
 * segmenter (engine/segment.c and its use by the unicode tokenizer).
 * The input is a dictionary and a text separated by the first 0xFF byte
 * (never part of valid UTF-8; without one, the whole input is both):
 *   - kl_segmenter_create() over an exact-size copy of the dictionary
 *     bytes, and kl_segmenter_load() of the same bytes as a file, agree:
 *     both fail with a known code and a reason, or both give the same
 *     word count and total;
 *   - a segmenter that builds splits the text: a known code, KL_EUTF8
 *     exactly when the text is not UTF-8, and otherwise non-empty tokens
 *     that concatenate to the text (kl_segment does not normalize), the
 *     same again into fresh buffers; the unicode tokenizer with it
 *     returns a known code and tokens inside its buffer;
 *   - the text is also split with jieba's real dict.txt, loaded once from
 *     $KL_DATA_DIR/jieba-dict.txt (default .cache/data/), when present.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "klabel/engine.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct kl_segmenter *jieba; /* the real dictionary, or NULL */
static int dict_fd = -1;           /* memfd for kl_segmenter_load() */
static char dict_path[64];

/* Once per process: jieba's dict.txt (if present) and the memfd. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("KL_DATA_DIR");
    char path[512], err[512] = "";

    (void)argc;
    (void)argv;
    snprintf(path, sizeof path, "%s/jieba-dict.txt",
             dir && dir[0] ? dir : ".cache/data");
    if (access(path, R_OK) == 0) {
        CHECK(kl_segmenter_load(path, &jieba, err, sizeof err) == KL_OK,
              "%s", err);
    } else {
        fprintf(stderr, "fuzz_segment: %s absent; fuzzing small "
                "dictionaries only\n", path);
    }
    dict_fd = memfd_create("kl_fuzz_dict", MFD_CLOEXEC);
    CHECK(dict_fd >= 0, "memfd_create");
    snprintf(dict_path, sizeof dict_path, "/proc/self/fd/%d", dict_fd);
    return 0;
}

/* The segmenter of dict[0..n) both ways; returns the created one (or
 * NULL), the loaded one freed after comparison. */
static struct kl_segmenter *build(const char *dict, size_t n)
{
    struct kl_segmenter *a = NULL, *b = NULL;
    char ea[512] = "", eb[512] = "";
    int64_t wa, ta, wb, tb;
    int ra, rb;
    size_t done = 0;

    ra = kl_segmenter_create(dict, n, &a, ea, sizeof ea);
    CHECK(ra == KL_OK || ((ra == KL_EFORMAT || ra == KL_ERANGE) &&
                          ea[0] != '\0' && a == NULL),
          "create: %d (%s) \"%s\"", ra, kl_strerror(ra), ea);
    CHECK(ftruncate(dict_fd, 0) == 0, "ftruncate");
    while (done < n) {
        ssize_t w = pwrite(dict_fd, dict + done, n - done, (off_t)done);
        CHECK(w > 0, "pwrite");
        done += (size_t)w;
    }
    rb = kl_segmenter_load(dict_path, &b, eb, sizeof eb);
    CHECK(ra == rb, "create %d, load %d (%s)", ra, rb, eb);
    if (ra == KL_OK) {
        kl_segmenter_stats(a, NULL, NULL, &wa, &ta);
        kl_segmenter_stats(b, NULL, NULL, &wb, &tb);
        CHECK(wa == wb && ta == tb && wa >= 1 && ta >= 1,
              "stats %lld/%lld vs %lld/%lld", (long long)wa, (long long)ta,
              (long long)wb, (long long)tb);
    } else {
        CHECK(strstr(eb, dict_path) != NULL, "load error names no file: %s",
              eb);
    }
    kl_segmenter_destroy(b);
    return a;
}

/* kl_segment's tokens concatenate to the text; again gives the same. */
static void check_segment(const struct kl_segmenter *sg, const char *text,
                          size_t len, int valid)
{
    struct kl_tokens tok, again;
    size_t pos = 0;
    int rc;

    kl_tokens_init(&tok);
    rc = kl_segment(sg, text, len, &tok);
    if (!valid) {
        CHECK(rc == KL_EUTF8 && tok.n == 0, "invalid text: %d", rc);
        kl_tokens_fini(&tok);
        return;
    }
    CHECK(rc == KL_OK, "segment: %d (%s)", rc, kl_strerror(rc));
    for (size_t i = 0; i < tok.n; i++) {
        CHECK(tok.len[i] > 0, "token %zu empty", i);
        CHECK((size_t)tok.off[i] + tok.len[i] <= tok.buf_len,
              "token %zu past the buffer", i);
        CHECK(pos + tok.len[i] <= len &&
                  memcmp(text + pos, tok.buf + tok.off[i], tok.len[i]) == 0,
              "token %zu is not the text at %zu", i, pos);
        pos += tok.len[i];
    }
    CHECK(pos == len, "tokens cover %zu of %zu bytes", pos, len);
    kl_tokens_init(&again);
    CHECK(kl_segment(sg, text, len, &again) == KL_OK, "again");
    CHECK(again.n == tok.n, "%zu tokens, again %zu", tok.n, again.n);
    for (size_t i = 0; i < tok.n; i++)
        CHECK(again.len[i] == tok.len[i] && again.off[i] == tok.off[i],
              "token %zu differs", i);
    kl_tokens_fini(&again);
    kl_tokens_fini(&tok);
}

/* The unicode tokenizer with sg: a known code, tokens in the buffer. */
static void check_tokenize(const struct kl_segmenter *sg, const char *text,
                           size_t len, int valid)
{
    struct kl_tok_opts o;
    struct kl_tokens tok;
    int rc;

    memset(&o, 0, sizeof o);
    o.mode = KL_TOK_UNICODE;
    o.seg = sg;
    kl_tokens_init(&tok);
    rc = kl_tokenize(&o, text, len, &tok);
    CHECK(valid ? (rc == KL_OK || rc == KL_ERANGE) : rc == KL_EUTF8,
          "tokenize: %d (valid %d)", rc, valid);
    for (size_t i = 0; rc == KL_OK && i < tok.n; i++)
        CHECK(tok.len[i] > 0 &&
                  (size_t)tok.off[i] + tok.len[i] <= tok.buf_len,
              "token %zu [%u, +%u) of %zu bytes", i, tok.off[i], tok.len[i],
              tok.buf_len);
    kl_tokens_fini(&tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *sep = memchr(data, 0xFF, size);
    size_t dlen = sep ? (size_t)(sep - data) : size;
    size_t tlen = sep ? size - dlen - 1 : size;
    char *dict = malloc(dlen ? dlen : 1), *text = malloc(tlen ? tlen : 1);
    struct kl_segmenter *sg;
    int valid;

    CHECK(dict != NULL && text != NULL, "malloc");
    memcpy(dict, data, dlen);
    memcpy(text, sep ? sep + 1 : data, tlen);
    valid = kl_utf8_validate(text, tlen, NULL) == KL_OK;
    sg = build(dict, dlen);
    if (sg != NULL) {
        check_segment(sg, text, tlen, valid);
        check_tokenize(sg, text, tlen, valid);
        kl_segmenter_destroy(sg);
    }
    if (jieba != NULL) {
        check_segment(jieba, text, tlen, valid);
        check_tokenize(jieba, text, tlen, valid);
    }
    free(dict);
    free(text);
    return 0;
}
