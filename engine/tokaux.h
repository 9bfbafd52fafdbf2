/*
 * engine/tokaux.h: per-struct-kl_tokens scratch of the segmenter and of
 * the stop-word / stemming pass (route arrays, a second token buffer and
 * the Snowball stemmer, which is not thread-safe: one per scratch). Created
 * on first use, freed by kl_tokens_fini(). Implemented in preprocess.c.
 * Not installed.
 */
#ifndef KL_ENGINE_TOKAUX_H
#define KL_ENGINE_TOKAUX_H

#include <stddef.h>
#include <stdint.h>

#include "klabel/engine.h"

struct sb_stemmer;

struct kl_tok_aux {
    uint32_t *coff;   /* (cap + 1) byte offset of each character of a run */
    int32_t *end;     /* (cap + 1) route: last character of the best word
                         starting at character i */
    double *lp;       /* (cap + 1) route: best log probability from i on */
    size_t cap;
    char *buf;        /* (buf_cap) output buffer of kl_preprocess_apply() */
    size_t buf_cap;
    struct sb_stemmer *stemmer;  /* for stem_lang, or NULL */
    char stem_lang[KL_STEM_LANG_MAX];
};

/* tok->aux, created (zeroed) when absent. Returns 0 or KL_ENOMEM. The aux
 * is owned by tok. */
int kl_tok_aux_get(struct kl_tokens *tok, struct kl_tok_aux **out);

/* Makes a's route arrays hold nchars + 1 items. Returns 0 or KL_ENOMEM. */
int kl_tok_aux_reserve(struct kl_tok_aux *a, size_t nchars);

/* Frees a and what it owns (NULL is fine). */
void kl_tok_aux_destroy(struct kl_tok_aux *a);

#endif /* KL_ENGINE_TOKAUX_H */
