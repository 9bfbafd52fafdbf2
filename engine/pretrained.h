/*
 * engine/pretrained.h: pretrained word vectors in fastText's / word2vec's
 * .vec text format as the starting input rows of training (what
 * fastText's -pretrainedVectors does for the vocabulary's words).
 * Not installed.
 */
#ifndef KL_ENGINE_PRETRAINED_H
#define KL_ENGINE_PRETRAINED_H

#include <stddef.h>
#include <stdint.h>

#define KL_VEC_WORD_MAX 4096 /* longest word in a .vec line (bytes) */

/* Reads the .vec file at path: a header line "count dim", then count lines
 * "word v1 .. vdim" (fields separated by spaces or tabs, trailing white
 * space allowed; blank lines after the last vector are ignored). dim must
 * equal the training dim. For each line whose word is one of the nwords
 * NUL-terminated words of vocab[0..vocab_len) (exact bytes), copies its
 * vector into that word's row of input ((nwords + bucket, dim) row-major;
 * a later line of the same word wins). With verbose, says on stderr how
 * many vocabulary words were found. Returns 0, KL_EIO, KL_EINVAL (dim
 * mismatch), KL_EFORMAT (also a NUL byte in a line) / KL_ERANGE (with the
 * line number in err) or KL_ENOMEM. */
int kl_pretrained_apply(const char *path, const char *vocab,
                        size_t vocab_len, int32_t nwords, int32_t dim,
                        float *input, int verbose, char *err, size_t errsz);

#endif /* KL_ENGINE_PRETRAINED_H */
