/*
 * engine/tokmodel.h: the tokenizer's resources (jieba dictionary, stop
 * words, stemmer language) on their way into a model file and back out of
 * it (tokmodel.c): loaded from paths for training, embedded as U8 tensors
 * with checks in the "tokenizer" metadata, rebuilt over the mapped tensors
 * when a model opens. Not installed.
 */
#ifndef KL_ENGINE_TOKMODEL_H
#define KL_ENGINE_TOKMODEL_H

#include <stddef.h>

#include "klabel/engine.h"
#include "meta.h"
#include "safetensors.h"

#define KL_TOK_MODEL_TENSORS 2 /* at most this many tensors are added */
#define KL_TOK_SEG_TENSOR "tokenizer.segmenter"  /* jieba dict.txt bytes */
#define KL_TOK_STOP_TENSOR "tokenizer.stopwords" /* NUL-terminated words */

/* What kl_tok_res_open() loaded (owned; kl_tok_res_close()). */
struct kl_tok_res {
    struct kl_segmenter *seg;
    struct kl_stopwords *stop;
};

/* *copy = *o with copy->tok.seg / .stop loaded from o->segmenter_path /
 * o->stopwords_path (into r), and checks: a path and the matching tok
 * field are not both set; segmenter, stop words and stem need
 * KL_TOK_UNICODE; the stem language exists. An empty stop-word list
 * leaves tok.stop NULL. Returns 0 or KL_EINVAL / KL_EIO / KL_EFORMAT /
 * KL_ENOMEM with a reason in err. r must be zeroed before; close it with
 * kl_tok_res_close() in any case. */
int kl_tok_res_open(struct kl_tok_res *r, const struct kl_train_opts *o,
                    struct kl_train_opts *copy, char *err, size_t errsz);

/* Frees what r holds; leaves it zeroed. */
void kl_tok_res_close(struct kl_tok_res *r);

/* Sets m's segmenter / stop-word fields from tok (for kl_meta_format()). */
void kl_tok_model_meta(const struct kl_tok_opts *tok, struct kl_meta *m);

/* Fills t[0..) with the tensors that embed tok's segmenter dictionary and
 * stop words (data borrowed from them) and returns how many (at most
 * KL_TOK_MODEL_TENSORS). */
size_t kl_tok_model_tensors(const struct kl_tok_opts *tok,
                            struct kl_st_out *t);

struct kl_model;

/* At model open, after the metadata was parsed: rebuilds the segmenter and
 * the stop words over their mapped tensors, checks them against the
 * metadata and the stem language against libstemmer, and points
 * m->meta.tok at them. Returns 0, KL_EFORMAT (reason naming path in err)
 * or KL_ENOMEM. */
int kl_tok_model_load(struct kl_model *m, const char *path, char *err,
                      size_t errsz);

/* Frees what kl_tok_model_load() built (m->seg, m->stop). */
void kl_tok_model_free(struct kl_model *m);

#endif /* KL_ENGINE_TOKMODEL_H */
