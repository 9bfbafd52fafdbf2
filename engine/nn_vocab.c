/*
 * engine/nn_vocab.c: text -> embedding rows for the neural architectures.
 * The model's tokenizer (so Chinese goes through the segmenter when the
 * model has one), then each token's vocabulary id (row vocab_offset + w),
 * unknown words as oov_id (or dropped when there is none), truncated to
 * max_len and padded as the metadata says. Serving (kl_model_featurize)
 * and training (nn_train.c) both call kl_nn_seq_ids(), so they cannot
 * disagree.
 */
#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"
#include "dict.h"
#include "nn.h"
#include "nn_model.h"
#include "tokenize.h"

/* Makes f->ids hold need ids. */
static int reserve_ids(struct kl_features *f, size_t need)
{
    return kl_nn_reserve((void **)&f->ids, &f->cap, need, sizeof *f->ids);
}

/* Contract in nn_model.h. */
int kl_nn_seq_ids(const struct kl_dict *d, const struct kl_nn_conf *c,
                  const char *text, size_t len, struct kl_features *f)
{
    struct kl_tokens *tok = &f->tok;
    int fasttext = d->tok.mode == KL_TOK_FASTTEXT;
    size_t n = 0, max = (size_t)c->max_len, start = 0;
    int rc;

    if ((rc = kl_dict_tokenize(d, text, len, f)) != KL_OK)
        return rc;
    if ((rc = reserve_ids(f, tok->n > max ? tok->n : max)) != KL_OK)
        return rc;
    for (size_t i = 0; i < tok->n; i++) {
        const char *t = tok->buf + tok->off[i];
        size_t tl = tok->len[i];
        int32_t w;

        if (fasttext && kl_tokenize_is_label(t, tl))
            continue;
        w = kl_dict_find(d, t, tl, kl_hash_fnv1a(t, tl));
        if (w >= 0)
            f->ids[n++] = c->vocab_offset + w;
        else if (c->oov_id >= 0)
            f->ids[n++] = c->oov_id;
        if (n == max && !c->trunc_pre)
            break;
    }
    if (n > max) { /* truncating "pre": keep the last max_len */
        start = n - max;
        memmove(f->ids, f->ids + start, max * sizeof *f->ids);
        n = max;
    }
    if (n > 0 && n < max && c->padding == KL_NN_PAD_PRE) {
        memmove(f->ids + (max - n), f->ids, n * sizeof *f->ids);
        for (size_t i = 0; i < max - n; i++)
            f->ids[i] = c->pad_id;
        n = max;
    } else if (n > 0 && n < max && c->padding == KL_NN_PAD_POST) {
        for (; n < max; n++)
            f->ids[n] = c->pad_id;
    }
    f->n = n;
    return n == 0 ? KL_EEMPTY : KL_OK;
}
