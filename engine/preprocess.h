/*
 * engine/preprocess.h: what the unicode tokenizer does after splitting:
 * stop-word removal and Snowball stemming (preprocess.c), and the stop-word
 * set itself. The public part (kl_stopwords_load & co) is in
 * klabel/engine.h. Not installed.
 */
#ifndef KL_ENGINE_PREPROCESS_H
#define KL_ENGINE_PREPROCESS_H

#include <stddef.h>
#include <stdint.h>

#include "klabel/engine.h"
#include "dict.h"

#define KL_STOPWORD_LINE_MAX 1024 /* longest stop-word line (bytes) */

struct kl_stopwords {
    const char *words; /* (len) distinct normalized words, each followed by
                          a NUL; == own, or borrowed (a model tensor) */
    size_t len;
    char *own;
    struct kl_dict d;  /* exact look-up over words */
};

/* A stop-word set over words[0..len): count distinct, non-empty,
 * NUL-terminated, already normalized words (borrowed: must outlive the
 * set). Returns 0, KL_EFORMAT (reason in err) or KL_ENOMEM; on success *out
 * is caller-owned: kl_stopwords_destroy(). */
int kl_stopwords_create(const char *words, size_t len, int64_t count,
                        struct kl_stopwords **out, char *err, size_t errsz);

/* Borrowed words buffer of sw (as kl_stopwords_create() takes it). */
void kl_stopwords_data(const struct kl_stopwords *sw, const char **words,
                       size_t *len);

/* Drops the tokens of tok that are in o->stop, then stems the remaining
 * tokens that hold no CJK character with o->stem's Snowball stemmer (kept
 * in tok->aux, one per struct kl_tokens). Tokens that become empty are
 * dropped. Returns 0, KL_EINVAL (o->stem names no stemmer) or KL_ENOMEM. */
int kl_preprocess_apply(const struct kl_tok_opts *o, struct kl_tokens *tok);

#endif /* KL_ENGINE_PREPROCESS_H */
