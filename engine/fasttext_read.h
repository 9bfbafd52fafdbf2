/*
 * engine/fasttext_read.h: a bounded, validating reader of fastText's model
 * files (.bin with dense matrices, .ftz with product-quantized ones and a
 * pruned dictionary), written from fastText's documented behaviour and from
 * files the reference (fastText 0.9.2) writes. The file is untrusted: every
 * count and size is checked against the bytes left before anything is
 * allocated, and errors say what was wrong where. Quantized matrices are
 * dequantized into dense floats while reading (see fasttext_quant.c).
 *
 * Layout (all little-endian; "bool" is one byte, 0 or 1):
 *   int32 magic 793712314, int32 version (11 or 12)
 *   Args: int32 dim, ws, epoch, minCount, neg, wordNgrams, loss, model,
 *         bucket, minn, maxn, lrUpdateRate; double t
 *   Dictionary: int32 size, nwords, nlabels; int64 ntokens, pruneidx_size;
 *         size entries (NUL-terminated word, int64 count, int8 type);
 *         pruneidx_size pairs (int32 hashed n-gram id, int32 row)
 *   bool quant_input; input matrix; bool qout; output matrix
 *   dense matrix:  int64 m, n; m * n float32
 *   quant matrix:  bool qnorm; int64 m, n; int32 codesize; codesize bytes;
 *         product quantizer; [qnorm: m norm codes; norm quantizer]
 *   product quantizer: int32 dim, nsubq, dsub, lastdsub; dim * 256 float32
 * Not installed.
 */
#ifndef KL_ENGINE_FASTTEXT_READ_H
#define KL_ENGINE_FASTTEXT_READ_H

#include <stddef.h>
#include <stdint.h>

#define KL_FT_MAGIC 793712314
#define KL_FT_VERSION 12
#define KL_FT_KSUB 256 /* centroids per sub-quantizer (8-bit codes) */

/* fastText's enums as stored in Args. */
enum { KL_FT_LOSS_HS = 1, KL_FT_LOSS_NS = 2, KL_FT_LOSS_SOFTMAX = 3,
       KL_FT_LOSS_OVA = 4 };
enum { KL_FT_MODEL_CBOW = 1, KL_FT_MODEL_SG = 2, KL_FT_MODEL_SUP = 3 };

struct kl_ft_args {
    int32_t dim, ws, epoch, min_count, neg, word_ngrams, loss, model, bucket,
        minn, maxn, lr_update_rate;
    double t;
};

/* A matrix as read. A quantized one keeps its codes and centroids; its
 * dense floats exist only after kl_ft_dequantize(). */
struct kl_ft_matrix {
    int64_t rows, cols;
    float *data;          /* (rows, cols) row-major, owned; NULL for a
                             quantized matrix until kl_ft_dequantize() */
    int quantized;        /* 1: stored as product-quantized codes */
    int qnorm;            /* quantized: row norms quantized separately */
    int32_t nsubq, dsub, lastdsub; /* quantized: the quantizer's layout */
    uint8_t *codes;       /* quantized: (rows, nsubq), owned */
    float *centroids;     /* quantized: (cols * 256) in fastText's layout:
                             sub-quantizer j < nsubq - 1 at j * 256 * dsub,
                             centroid k of it k * dsub further; the last one
                             with lastdsub floats a centroid; owned */
    uint8_t *norm_codes;  /* qnorm: (rows), owned */
    float *norm_centroids; /* qnorm: (256), owned */
};

/* One fastText model file, read. Caller-owned: kl_fasttext_fini(). */
struct kl_fasttext {
    int32_t version;
    struct kl_ft_args args;  /* as stored (maxn is 0 for a version-11
                                supervised model, as fastText loads it) */
    int32_t nwords, nlabels;
    int64_t ntokens;
    int64_t pruneidx_size;   /* -1: not pruned; else pairs in pruneidx */
    char *words;             /* (words_len) nwords words in id order, each
                                NUL-terminated */
    size_t words_len;
    char *labels;            /* (labels_len) nlabels labels in id order, each
                                NUL-terminated, as stored ("__label__x") */
    size_t labels_len;
    int64_t *counts;         /* (nwords + nlabels) counts: words, then labels */
    int32_t *pruneidx;       /* (pruneidx_size, 2) (hashed n-gram id in
                                [0, bucket), input row - nwords) in file order */
    int quant_input, qout;
    struct kl_ft_matrix input;  /* (nwords + bucket, dim); pruned:
                                   (nwords + pruneidx_size, dim) */
    struct kl_ft_matrix output; /* (nlabels, dim); cbow/skipgram:
                                   (nwords, dim) */
};

/* 1 when buf[0..len) starts with fastText's magic number, else 0. */
int kl_fasttext_sniff(const unsigned char *buf, size_t len);

/* Reads a whole model from buf[0..len) (borrowed for the call; nothing
 * points into it afterwards). name prefixes error messages ("model.bin:
 * dictionary claims 4294967296 words, file has 1204 bytes left"). Checks
 * the structure: magic and version, Args ranges, entry types (words first,
 * then labels), matrix shapes against Args and the dictionary, prune
 * index keys in [0, bucket) and rows in range, quantizer layout, no bytes
 * after the output matrix. Quantized matrices are not dequantized here
 * (kl_ft_dequantize()). Returns 0, KL_EFORMAT or KL_ERANGE (reason in
 * err) or KL_ENOMEM. On success ft is caller-owned: kl_fasttext_fini();
 * on failure it is left empty. */
int kl_fasttext_read(const unsigned char *buf, size_t len, const char *name,
                     struct kl_fasttext *ft, char *err, size_t errsz);

/* kl_fasttext_read() on the file at path (mapped read-only for the call).
 * KL_EIO when it cannot be opened or mapped. */
int kl_fasttext_read_file(const char *path, struct kl_fasttext *ft, char *err,
                          size_t errsz);

/* Frees what ft owns and zeroes it (a zeroed ft is fine). */
void kl_fasttext_fini(struct kl_fasttext *ft);

/* --- internal to the reader (fasttext_read.c, fasttext_quant.c) --- */

/* A bounded cursor over the file. */
struct kl_ft_cursor {
    const unsigned char *p;
    size_t len, off;
    const char *name;
    char *err;
    size_t errsz;
};

/* Fails with "name: <what> needs N bytes at offset O, file has R bytes
 * left" unless n bytes remain. */
int kl_ft_need(struct kl_ft_cursor *c, uint64_t n, const char *what);
int kl_ft_i32(struct kl_ft_cursor *c, int32_t *v, const char *what);
int kl_ft_i64(struct kl_ft_cursor *c, int64_t *v, const char *what);
int kl_ft_bool(struct kl_ft_cursor *c, int *v, const char *what);

/* Reads a quantized matrix (after its quant flag) of cols == dim into m
 * (codes and centroids; m->data stays NULL). Contract as
 * kl_fasttext_read(). */
int kl_ft_read_quant(struct kl_ft_cursor *c, const char *what, int32_t dim,
                     struct kl_ft_matrix *m);

/* Fills m->data of a quantized m: row r is norm[r] * the concatenation of
 * its centroids, exactly the floats fastText adds for row r. Does nothing
 * when m->data is already there. Returns 0 or KL_ENOMEM (the dense matrix
 * takes rows * cols * 4 bytes, at most 4 * 64 times the code bytes). */
int kl_ft_dequantize(struct kl_ft_matrix *m);

#endif /* KL_ENGINE_FASTTEXT_READ_H */
