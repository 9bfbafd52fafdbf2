/*
 * klabel engine: text in, labels out.
 *
 * The public interface of engine/ (libklabel.a): UTF-8 checks, the
 * tokenizer, fastText-compatible feature hashing, the safetensors model
 * file, batched prediction and supervised training. Pure C11 + OpenBLAS +
 * utf8proc (+ cJSON for the safetensors header); nothing here knows Kafka.
 *
 * Conventions (DESIGN.md section 8): functions return 0 or a negative KL_E*
 * code and fill `err` (at most `errsz` bytes, NUL-terminated) with a reason
 * where one helps; `err` may be NULL when errsz is 0.
 */
#ifndef KLABEL_ENGINE_H
#define KLABEL_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- errors */

enum {
    KL_OK = 0,
    KL_EINVAL = -1,  /* bad argument or option */
    KL_ENOMEM = -2,  /* allocation failed */
    KL_EIO = -3,     /* file system or OS error */
    KL_EFORMAT = -4, /* malformed file or record */
    KL_EUTF8 = -5,   /* text is not valid UTF-8 */
    KL_ERANGE = -6,  /* a length or count is out of its bounds */
    KL_EEMPTY = -7,  /* text has no tokens / data has no examples */
    KL_EKAFKA = -8,  /* a librdkafka call failed (plugin only) */
    KL_ESTATE = -9   /* call not valid in the object's current state */
};

/* Static string naming an error code ("invalid UTF-8", ...). Never NULL. */
const char *kl_strerror(int rc);

/* ------------------------------------------------------------------ text */

/* Returns 0 when s[0..len) is valid UTF-8 (no overlongs, no surrogates, no
 * code points past U+10FFFF; NUL bytes are allowed), else KL_EUTF8 and, when
 * bad_off is not NULL, the offset of the first bad byte. */
int kl_utf8_validate(const char *s, size_t len, size_t *bad_off);

enum kl_tok_mode {
    /* fastText's own preprocessing: split on ASCII white space
     * (' ', \t, \n, \v, \f, \r, \0), keep bytes as they are, and append the
     * end-of-line token "</s>". */
    KL_TOK_FASTTEXT = 0,
    /* NFKC + case folding (utf8proc); split on white space and punctuation
     * (Unicode categories Z*, P*, S*, C*); every CJK ideograph, kana or
     * hangul syllable is a token of its own (word n-grams then give
     * character bigrams). Variation selectors, and combining marks that
     * follow no letter, are dropped. No end-of-line token. */
    KL_TOK_UNICODE = 1
};

struct kl_segmenter; /* opaque: a jieba dictionary segmenter (below) */
struct kl_stopwords; /* opaque: a stop-word set (below) */

#define KL_STEM_LANG_MAX 32 /* bytes of a Snowball language name + NUL */

struct kl_tok_opts {
    int mode;           /* enum kl_tok_mode */
    size_t max_tokens;  /* stop after this many tokens (0 = 65536); in
                           KL_TOK_FASTTEXT mode the last one is "</s>" */
    /* KL_TOK_UNICODE only (all NULL / "" = off). Borrowed; must outlive
     * every kl_tokenize() with these options (a model owns its own). */
    const struct kl_segmenter *seg;  /* runs of CJK characters are split
                                        into dictionary words instead of
                                        single characters */
    const struct kl_stopwords *stop; /* tokens in this set are dropped
                                        (after normalization) */
    char stem[KL_STEM_LANG_MAX];     /* Snowball language ("english",
                                        "porter", ...; libstemmer): every
                                        token that is not CJK is stemmed,
                                        after stop-word removal */
};

/* Longest text kl_tokenize() and kl_model_featurize() accept (bytes);
 * longer ones give KL_ERANGE. */
#define KL_TEXT_MAX ((size_t)16 << 20)

/* Tokens of one text: token i is tok->buf[tok->off[i] .. + tok->len[i]),
 * not NUL-terminated. Caller-owned; reuse across calls to avoid allocation. */
struct kl_tokens {
    char *buf;        /* (buf_cap) normalized bytes of all tokens */
    size_t buf_len, buf_cap;
    uint32_t *off;    /* (cap) start of each token in buf */
    uint32_t *len;    /* (cap) byte length of each token */
    size_t n, cap;
    int32_t *cp;      /* (cp_cap) scratch: normalized code points (unicode mode) */
    size_t cp_cap;
    struct kl_tok_aux *aux; /* scratch of the segmenter, stop words and the
                               stemmer (opaque; NULL until needed) */
};

void kl_tokens_init(struct kl_tokens *tok);
void kl_tokens_fini(struct kl_tokens *tok);

/* Splits text[0..len) into tokens (replacing tok's previous content).
 * The text must be valid UTF-8 in KL_TOK_UNICODE mode (KL_EUTF8 otherwise).
 * Returns 0 (possibly with tok->n == 0), KL_EUTF8, KL_ENOMEM, KL_EINVAL or
 * KL_ERANGE (len > KL_TEXT_MAX, or a normalization that would grow the text
 * more than 4-fold). */
int kl_tokenize(const struct kl_tok_opts *o, const char *text, size_t len,
                struct kl_tokens *tok);

/* ------------------------------------------------------------ segmenter */

/* A jieba-compatible Chinese word segmenter built from jieba's dict.txt
 * (UTF-8 lines "word freq [tag]"; lines of at most 4096 bytes; blank
 * lines skipped). Immutable once built: share it across threads. */

/* Builds a segmenter over data[0..len) (the dict.txt bytes, borrowed: they
 * must outlive it). Returns 0, KL_EFORMAT / KL_ERANGE (reason with the
 * line number in err), KL_EINVAL or KL_ENOMEM. On success *out is
 * caller-owned: free with kl_segmenter_destroy(). */
int kl_segmenter_create(const char *data, size_t len,
                        struct kl_segmenter **out, char *err, size_t errsz);

/* kl_segmenter_create() over the file at path, read into memory the
 * segmenter owns. Also KL_EIO. */
int kl_segmenter_load(const char *path, struct kl_segmenter **out, char *err,
                      size_t errsz);

/* Frees sg (NULL is fine). */
void kl_segmenter_destroy(struct kl_segmenter *sg);

/* What sg was built from: its dict.txt bytes (borrowed), the number of
 * word lines and the sum of their frequencies. Any pointer may be NULL. */
void kl_segmenter_stats(const struct kl_segmenter *sg, const char **data,
                        size_t *len, int64_t *words, int64_t *total);

/* Splits the raw text[0..len) exactly as jieba.lcut(text, HMM=False) does
 * with the same dictionary: dictionary words by the maximum-probability
 * route in blocks of CJK ideographs, ASCII letters, digits and "+#&._%-"
 * (runs of one-character ASCII letters/digits glued together); every
 * other code point a token of its own, white space included ("\r\n" is
 * one token). No normalization. Replaces tok's content; returns 0,
 * KL_EUTF8, KL_ERANGE (len > KL_TEXT_MAX), KL_EINVAL or KL_ENOMEM. */
int kl_segment(const struct kl_segmenter *sg, const char *text, size_t len,
               struct kl_tokens *tok);

/* ------------------------------------------------------------ stop words */

/* Reads a stop-word list: one word per line (UTF-8, surrounding white
 * space trimmed, blank lines skipped, at most 1024 bytes a line), each
 * normalized as KL_TOK_UNICODE normalizes text (NFKC + case folding);
 * duplicates are merged. Returns 0, KL_EIO, KL_EFORMAT / KL_EUTF8 /
 * KL_ERANGE (with the line number in err) or KL_ENOMEM. On success *out is
 * caller-owned: free with kl_stopwords_destroy(). Immutable: share it
 * across threads. */
int kl_stopwords_load(const char *path, struct kl_stopwords **out, char *err,
                      size_t errsz);

/* Frees sw (NULL is fine). */
void kl_stopwords_destroy(struct kl_stopwords *sw);

/* Number of distinct stop words in sw. */
size_t kl_stopwords_count(const struct kl_stopwords *sw);

/* 1 when the Snowball stemmer for lang exists in this libstemmer. */
int kl_stem_supported(const char *lang);

/* --------------------------------------------------------------- hashing */

/* fastText's string hash: FNV-1a over bytes sign-extended from int8. */
uint32_t kl_hash_fnv1a(const char *s, size_t len);

/* --------------------------------------------------------------- models */

#define KL_TOPK_MAX 16
#define KL_LABEL_MAX 256     /* bytes in one label name */
#define KL_LABELS_MAX 65536  /* labels in one model */

enum kl_loss { KL_LOSS_SOFTMAX = 0, KL_LOSS_OVA = 1, KL_LOSS_HS = 2 };

/* What a model file says about itself. Strings are owned by the model and
 * valid until kl_model_destroy(). */
struct kl_model_info {
    const char *id;           /* model id, e.g. "thucnews" */
    const char *version;      /* e.g. "1" or a date */
    const char *architecture; /* "fasttext" */
    int loss;                 /* enum kl_loss */
    int32_t dim;              /* embedding width */
    int32_t nwords;           /* vocabulary rows */
    int32_t bucket;           /* hashed n-gram rows after the vocabulary */
    int32_t word_ngrams;      /* 1 = unigrams only */
    int32_t minn, maxn;       /* char n-gram lengths (0,0 = none) */
    int32_t nlabels;
    const char *const *labels; /* (nlabels) label names */
    struct kl_tok_opts tok;
    const char *metadata_json; /* the raw "klabel" metadata entry */
    const int64_t *label_counts; /* (nlabels) training examples per label,
                                    or NULL when the file has none */
    const char *file_format;   /* "safetensors", "fasttext-bin" or
                                  "fasttext-ftz" (a quantized fastText file) */
    int quant;                 /* enum kl_quant_scheme of the input matrix
                                  (KL_QUANT_NONE: dense floats) */
    size_t projection_bytes;   /* memory of the label projections
                                  kl_model_project_labels() built, 0: none */
};

struct kl_model; /* opaque; immutable once opened, safe to share across threads */

/* Opens a safetensors model with klabel metadata. The weights are mmapped,
 * never copied; every size and offset is checked before use, so a model that
 * opens cannot crash prediction. On success *out is caller-owned: free with
 * kl_model_destroy().
 * A fastText model file (.bin, or quantized .ftz; recognized by its magic
 * number, whatever its name) opens too, with identical predictions: it is
 * read and checked as untrusted input, its matrices are copied into memory
 * the model owns (a .ftz input matrix stays product-quantized codes,
 * info.quant KL_QUANT_PQ, when the "pq" layout below holds it exactly: no
 * separate norms (qnorm) and every sub-vector dsub wide; otherwise it is
 * dequantized into rows x dim floats, as is a quantized output matrix), its
 * labels lose the "__label__" prefix (when all have it) and its tokenizer
 * is KL_TOK_FASTTEXT. Supervised models only. */
int kl_model_open(const char *path, struct kl_model **out, char *err,
                  size_t errsz);

/* Builds label projections for prediction: every input row of a dense
 * linear ("fasttext") model multiplied by the output rows, once (one
 * sgemm, reading the whole input matrix), so that kl_model_predict_batch()
 * sums one short row per feature instead of dim floats. Built only when a
 * projected row (nlabels rounded up to 16 floats) is at most half as wide
 * as an input row and the table takes at most max_bytes (rows x that width
 * x 4 bytes: 128 MiB for 2M buckets and up to 16 labels); otherwise, or
 * when the memory cannot be had, nothing changes. Predictions stay the
 * same up to float rounding. Call after kl_model_open() and before m is
 * shared between threads; the mapped input rows are dropped from resident
 * memory afterwards (they are read again only by kl_model_explain()).
 * kl_model_info(m)->projection_bytes tells whether it was built. Returns 0
 * or KL_EINVAL (m NULL). */
int kl_model_project_labels(struct kl_model *m, size_t max_bytes);

/* Writes m as a klabel safetensors model to path (temporary file, then
 * rename): tensors "input" (rows, dim) or, for a quantized input, the
 * tensors of its kl_quant_scheme as they are (never re-quantized), "output"
 * (nlabels, dim), "vocab", and "pruneidx" (pairs, 2) I32 for a pruned
 * dictionary (fastText .ftz); metadata as kl_model_info(m) says (with
 * "label_counts" when known), its "training" and "quant" objects kept, and
 * id / version replaced when not NULL. The
 * file opens with kl_model_open() and predicts exactly as m. This is how
 * `klabel import` converts fastText files. Returns 0, KL_EIO, KL_ENOMEM or
 * KL_EINVAL with a reason in err. */
int kl_model_save(const struct kl_model *m, const char *path, const char *id,
                  const char *version, char *err, size_t errsz);

/* Frees a model (NULL is fine). No kl_features or prediction of it may be in
 * use. */
void kl_model_destroy(struct kl_model *m);

/* Borrowed; valid until kl_model_destroy(). */
const struct kl_model_info *kl_model_info(const struct kl_model *m);

/* Feature ids of one text: rows of the model's input matrix. Caller-owned,
 * reusable; holds its own token scratch. */
struct kl_features {
    int32_t *ids;   /* (n) row ids in [0, nwords + bucket) */
    size_t n, cap;
    size_t ntokens; /* tokens the text had */
    struct kl_tokens tok; /* the tokens, when want_origin is set (without
                             it the featurizer may take them one by one
                             and leave tok empty) */
    int32_t *hashes; /* (hashes_cap) scratch: hashes of the word tokens */
    size_t hashes_cap;
    /* Set want_origin to 1 before kl_model_featurize() to have it fill
     * origin: what produced each feature id (for kl_model_explain()). */
    int want_origin;
    /* Set text_is_utf8 to 1 when the caller has already checked that the
     * text is valid UTF-8: the unicode tokenizer then skips its own check
     * (it still refuses invalid text, with KL_EUTF8, while normalizing). */
    int text_is_utf8;
    uint32_t *origin; /* (n) when want_origin: see KL_ORIGIN_WORD/SPAN */
    size_t origin_cap;
    uint32_t *word_tok; /* (nword_tok) when want_origin: word w of the text
                           (a token that featurization used, in order) is
                           token word_tok[w] of tok */
    size_t nword_tok, word_tok_cap;
};

/* origin[j] of feature ids[j]: the index w of the first word (see
 * word_tok) that produced it, and how many words did: span 1 is the word
 * itself (its vocabulary row and its char n-grams), span n > 1 the word
 * n-gram of words w .. w + n - 1. */
#define KL_ORIGIN_WORD(o) ((uint32_t)(o) >> 5)
#define KL_ORIGIN_SPAN(o) (((uint32_t)(o) & 31u) + 1u)

void kl_features_init(struct kl_features *f);
void kl_features_fini(struct kl_features *f);

/* Tokenizes text with the model's tokenizer settings and turns the tokens
 * into feature ids as fastText does: vocabulary words, char n-grams when
 * maxn > 0, and word n-grams hashed into buckets. In KL_TOK_FASTTEXT mode
 * tokens starting with "__label__" are skipped, as fastText does. Returns 0,
 * KL_EUTF8 (text is not valid UTF-8), KL_EEMPTY (no features), KL_ERANGE
 * (text longer than KL_TEXT_MAX), KL_ENOMEM. */
int kl_model_featurize(const struct kl_model *m, const char *text, size_t len,
                       struct kl_features *f);

struct kl_prediction {
    int k;                      /* labels filled, <= requested k */
    int32_t label[KL_TOPK_MAX]; /* label indices, best first */
    float prob[KL_TOPK_MAX];    /* their probabilities, in [0, 1] */
};

/* Per-thread buffers for kl_model_predict_batch(). Caller-owned. */
struct kl_scratch {
    float *hidden;  /* (rows, dim): the hidden vectors of the last batch,
                       except for a model with label projections (see
                       kl_model_predict_batch()) */
    float *logits;  /* (rows, nlabels) */
    size_t rows_cap, hidden_cap, logits_cap;
    void *nn;       /* private: the neural architectures' buffers
                       (engine/nn.h), grown on demand, freed by
                       kl_scratch_fini() */
};

void kl_scratch_init(struct kl_scratch *s);
void kl_scratch_fini(struct kl_scratch *s);

/* Predicts n texts in one pass: averaged embeddings, then one cblas_sgemm
 * for the output layer (or, after kl_model_project_labels(), the average
 * of the features' projected rows: the same logits to float rounding, a
 * quarter or less of the memory traffic), then softmax (or sigmoid for one-vs-all) and top-k,
 * or fastText's tree search for hierarchical softmax. Labels are ranked and
 * tie-broken exactly as fastText's predict ranks them (by log(p + 1e-5) in
 * float, through its heap), so a tie is not necessarily broken by label
 * index. feats[i] must come from kl_model_featurize() with this model; a
 * feature set with n == 0 gives out[i].k == 0. k is clamped to [1,
 * min(KL_TOPK_MAX, nlabels)]; labels with probability < threshold are left
 * out (k may drop to 0; with hierarchical softmax, as in fastText, a branch
 * whose probability falls below threshold + 1e-5 is cut, so even threshold 0
 * may return fewer than k labels). Returns 0 or KL_ENOMEM / KL_EINVAL. */
int kl_model_predict_batch(const struct kl_model *m,
                           const struct kl_features *const *feats, size_t n,
                           int k, float threshold, struct kl_scratch *s,
                           struct kl_prediction *out);

/* ------------------------------------------------------- neural models */

/* Model architectures. kl_model_info.architecture names them: "fasttext";
 * "bilstm" (token embedding -> one or more bidirectional LSTM layers ->
 * last-state or max-over-time pooling -> dense layer with softmax or
 * sigmoid); "textcnn" (token embedding -> parallel 1-D convolutions of
 * several widths -> ReLU -> max over time -> dense layer). For the neural
 * ones kl_model_featurize() gives vocabulary ids (embedding rows) in text
 * order and kl_model_predict_batch() runs the network; tensors and
 * metadata are in docs/model-format.md. */
enum kl_arch { KL_ARCH_FASTTEXT = 0, KL_ARCH_BILSTM = 1, KL_ARCH_TEXTCNN = 2 };

enum kl_nn_pool { KL_NN_POOL_LAST = 0, KL_NN_POOL_MAX = 1 };

#define KL_NN_LAYERS_MAX 4 /* stacked bilstm layers */
#define KL_NN_WIDTHS_MAX 8 /* textcnn convolution widths */

/* Training options of the neural architectures (kl_train_opts.nn); the
 * shared ones (dim = embedding width, epoch, seed, loss, tokenizer,
 * valid_path, min_count, verbose) stay in kl_train_opts. */
struct kl_nn_opts {
    int32_t max_vocab;  /* most frequent words kept (default 10000) */
    int32_t max_len;    /* tokens kept per text, the first ones (100) */
    int32_t hidden;     /* bilstm: LSTM units per direction (default 64) */
    int32_t layers;     /* bilstm: stacked layers (default 1) */
    int pool;           /* bilstm: enum kl_nn_pool (default last) */
    int32_t channels;   /* textcnn: filters per width (default 100) */
    int32_t nwidths;    /* textcnn: widths used (default 3) */
    int32_t widths[KL_NN_WIDTHS_MAX]; /* (nwidths) default 3, 4, 5 */
    int32_t batch;      /* mini-batch size (default 32) */
    float lr;           /* Adam step size (default 0.002) */
    float dropout;      /* on embeddings and pooled features (0.2) */
    float clip;         /* global gradient-norm clip, 0 = none (5) */
    int32_t patience;   /* early stopping with valid_path: stop after this
                           many epochs without a better validation loss,
                           keep the best epoch's weights (default 2) */
};

/* ------------------------------------------------------------- training */

struct kl_train_opts {
    const char *id;         /* model id written into the file */
    const char *version;    /* model version written into the file */
    struct kl_tok_opts tok;
    int loss;               /* enum kl_loss (softmax / ova in this version) */
    int32_t dim;            /* default 100 */
    int32_t epoch;          /* default 5 */
    float lr;               /* default 0.1 */
    int32_t word_ngrams;    /* default 2 */
    int32_t bucket;         /* default 2000000 */
    int32_t min_count;      /* default 1 */
    int32_t threads;        /* default 1 */
    uint64_t seed;          /* default 1 */
    int verbose;            /* 1 = progress on stderr */
    int32_t minn, maxn;     /* char n-gram lengths, default 0, 0 (none) */
    const char *valid_path; /* held-out file (same formats) scored after
                               each epoch; NULL (default) = none */
    /* Preprocessing (KL_TOK_UNICODE only; NULL = off). The dictionary and
     * the stop words are embedded in the model file; tok.stem names the
     * Snowball language. tok.seg / tok.stop may be set instead of the
     * paths (borrowed; their content is embedded likewise). */
    const char *segmenter_path;     /* jieba dict.txt */
    const char *stopwords_path;     /* one word per line (UTF-8) */
    const char *pretrained_vectors; /* .vec text file ("count dim", then
                                       "word v1 .. vdim"): initial input
                                       rows of the vocabulary words found
                                       in it; its dim must equal dim */
    int arch;               /* enum kl_arch (default fasttext); bilstm and
                               textcnn train with o->nn, mini-batch Adam
                               and cross-entropy (softmax, or sigmoid for
                               ova: a single output with 2 labels) */
    struct kl_nn_opts nn;   /* arch bilstm / textcnn only */
};

/* Fills o with the defaults above. */
void kl_train_opts_init(struct kl_train_opts *o);

/* Trains a supervised model from a file of one example per line, either
 * "label<TAB>text" or fastText's "__label__x [__label__y] text" (label names
 * are stored without the "__label__" prefix), and writes it to out_path as a
 * klabel safetensors model (through a temporary file and rename, so readers
 * never see half a file). Blank lines are skipped. The metadata's
 * "training.created" time is $SOURCE_DATE_EPOCH when set, so two runs with
 * threads == 1 and the same seed give byte-identical files. With
 * o->valid_path, that file is read with the training dictionary and
 * labels, scored after every epoch (accuracy and loss, on stderr when
 * verbose) and summarized under "training.validation" in the metadata;
 * it never changes the trained weights. Returns 0 or an
 * error with a reason in err (e.g. the line number of a malformed line). */
int kl_train_file(const struct kl_train_opts *o, const char *in_path,
                  const char *out_path, char *err, size_t errsz);

#ifdef __cplusplus
}
#endif

#endif /* KLABEL_ENGINE_H */

/* The rest of the API, in headers of their own. */
#include "klabel/engine_eval.h"
#include "klabel/engine_quant.h"
