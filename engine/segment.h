/*
 * engine/segment.h: the jieba-compatible dictionary segmenter (see
 * segment.c): the prefix dictionary built from a jieba dict.txt, and the
 * internal entry point the unicode tokenizer uses to split a run of CJK
 * characters into words. The public part (kl_segmenter_*, kl_segment) is
 * in klabel/engine.h. Not installed.
 */
#ifndef KL_ENGINE_SEGMENT_H
#define KL_ENGINE_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "klabel/engine.h"

#define KL_SEG_DICT_MAX ((size_t)256 << 20) /* largest dict.txt (bytes) */
#define KL_SEG_LINE_MAX 4096                /* longest dict.txt line (bytes) */

/* One key of the prefix dictionary: a dictionary word (freq from its line)
 * or a prefix of one that is not itself a word (freq 0), as jieba's
 * gen_pfdict builds it. The key is src[off .. off + len). */
struct kl_seg_entry {
    uint32_t off;
    uint32_t freq;
    uint32_t hash;  /* seg_hash() of the key bytes */
    uint16_t len;
};

struct kl_segmenter {
    const char *src;          /* (src_len) dict.txt bytes; == own, or borrowed */
    size_t src_len;
    char *own;                /* src when the segmenter owns it, else NULL */
    struct kl_seg_entry *e;   /* (n) keys, in order of first insertion */
    size_t n, cap;
    uint32_t *slot;           /* (mask + 1) entry index + 1; 0 = empty */
    size_t mask;
    int64_t total;            /* sum of the frequencies of all lines */
    double log_total;         /* log(total) */
    int64_t words;            /* dictionary lines (words) read */
};

/* Splits the run of CJK characters tok->buf[start .. tok->buf_len) (valid
 * UTF-8, written there by the tokenizer) into words by sg's max-probability
 * route and appends them as tokens, stopping when tok->n reaches max.
 * Returns 0 or KL_ENOMEM. */
int kl_segmenter_split(const struct kl_segmenter *sg, struct kl_tokens *tok,
                       size_t start, size_t max);

#endif /* KL_ENGINE_SEGMENT_H */
