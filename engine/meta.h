/*
 * engine/meta.h: the "klabel" metadata entry of a model file (a JSON
 * string inside the safetensors "__metadata__"): parsed and checked when a
 * model opens, produced when training writes one. Not installed.
 */
#ifndef KL_ENGINE_META_H
#define KL_ENGINE_META_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "klabel/engine.h"

#define KL_META_FORMAT 1
#define KL_META_DIM_MAX 65536
#define KL_META_NGRAMS_MAX 32 /* word_ngrams and maxn */

/* What the metadata says. All strings owned (kl_meta_fini()). */
struct kl_meta {
    char *id, *version, *architecture;
    int loss;                 /* enum kl_loss */
    int32_t dim, nwords, bucket, word_ngrams, minn, maxn;
    int32_t nlabels;
    char **labels;            /* (nlabels) NUL-terminated names */
    struct kl_tok_opts tok;   /* seg and stop stay NULL here (model.c) */
    char *json;               /* the raw metadata string */
    /* tokenizer.segmenter {"type": "jieba", "words", "total"} and
     * tokenizer.stopwords {"count"}: the embedded tensors' checks */
    int seg_on, stop_on;
    int64_t seg_words, seg_total, stop_count;
    int64_t *label_counts;    /* (nlabels) training examples per label, or
                                 NULL; "label_counts", required by loss "hs"
                                 (its Huffman tree is built from them) */
};

/* Parses and checks json: format 1, architecture "fasttext" (or "bilstm" /
 * "textcnn", whose "nn" object nn_meta.c checks), loss
 * "softmax"|"ova"|"hs" ("hs" needs "label_counts": nlabels integers in
 * [0, 2^53]; optional otherwise), dim in [1, KL_META_DIM_MAX], nwords/bucket >= 0 with
 * nwords + bucket in [1, INT32_MAX], word_ngrams in [1, 32], 0 <= minn <=
 * maxn <= 32, 1..KL_LABELS_MAX distinct labels of 1..KL_LABEL_MAX bytes of
 * valid UTF-8, tokenizer mode "fasttext"|"unicode" (in unicode mode
 * optionally with "segmenter", "stopwords" and "stem"). id, version,
 * word_ngrams, minn, maxn and tokenizer may be absent (defaults "", "", 1,
 * 0, 0, fasttext). Returns 0, KL_EFORMAT (reason in err) or KL_ENOMEM; on
 * success m is caller-owned: kl_meta_fini(). */
int kl_meta_parse(const char *json, struct kl_meta *m, char *err,
                  size_t errsz);

/* Frees what m owns; a zeroed m is fine. */
void kl_meta_fini(struct kl_meta *m);

/* The metadata JSON for m (m->json is ignored), with `training` (may be
 * NULL; ownership passes to this call) as the "training" object. Caller
 * frees the result with cJSON_free(); NULL when out of memory. */
char *kl_meta_format(const struct kl_meta *m, cJSON *training);

/* "softmax"/"ova"/"hs" and back; -1 for an unknown name. */
const char *kl_meta_loss_name(int loss);

/* The "created" time of a written model: $SOURCE_DATE_EPOCH when set
 * (reproducible files), else now; ISO 8601 UTC ("2024-01-31T12:00:00Z")
 * into buf[0..n) (32 bytes are enough). */
void kl_meta_created(char *buf, size_t n);

/* v rounded to 6 significant digits, so that a float such as 0.1f or
 * 0.002f is written into the metadata as 0.1 or 0.002. */
double kl_meta_round6(double v);

#endif /* KL_ENGINE_META_H */
