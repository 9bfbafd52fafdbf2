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

struct kl_tok_opts {
    int mode;           /* enum kl_tok_mode */
    size_t max_tokens;  /* stop after this many tokens (0 = 65536); in
                           KL_TOK_FASTTEXT mode the last one is "</s>" */
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
};

struct kl_model; /* opaque; immutable once opened, safe to share across threads */

/* Opens a safetensors model with klabel metadata. The weights are mmapped,
 * never copied; every size and offset is checked before use, so a model that
 * opens cannot crash prediction. On success *out is caller-owned: free with
 * kl_model_destroy(). */
int kl_model_open(const char *path, struct kl_model **out, char *err,
                  size_t errsz);

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
    struct kl_tokens tok;
    int32_t *hashes; /* (hashes_cap) scratch: hashes of the word tokens */
    size_t hashes_cap;
};

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
    float *hidden;  /* (rows, dim) */
    float *logits;  /* (rows, nlabels) */
    size_t rows_cap, hidden_cap, logits_cap;
};

void kl_scratch_init(struct kl_scratch *s);
void kl_scratch_fini(struct kl_scratch *s);

/* Predicts n texts in one pass: averaged embeddings, then one cblas_sgemm
 * for the output layer, then softmax (or sigmoid for one-vs-all) and top-k.
 * feats[i] must come from kl_model_featurize() with this model; a feature set
 * with n == 0 gives out[i].k == 0. k is clamped to [1, min(KL_TOPK_MAX,
 * nlabels)]; labels with probability < threshold are left out (k may drop to
 * 0). Returns 0 or KL_ENOMEM / KL_EINVAL. */
int kl_model_predict_batch(const struct kl_model *m,
                           const struct kl_features *const *feats, size_t n,
                           int k, float threshold, struct kl_scratch *s,
                           struct kl_prediction *out);

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
};

/* Fills o with the defaults above. */
void kl_train_opts_init(struct kl_train_opts *o);

/* Trains a supervised model from a file of one example per line, either
 * "label<TAB>text" or fastText's "__label__x [__label__y] text" (label names
 * are stored without the "__label__" prefix), and writes it to out_path as a
 * klabel safetensors model (through a temporary file and rename, so readers
 * never see half a file). Blank lines are skipped. The metadata's
 * "training.created" time is $SOURCE_DATE_EPOCH when set, so two runs with
 * threads == 1 and the same seed give byte-identical files. Returns 0 or an
 * error with a reason in err (e.g. the line number of a malformed line). */
int kl_train_file(const struct kl_train_opts *o, const char *in_path,
                  const char *out_path, char *err, size_t errsz);

#ifdef __cplusplus
}
#endif

#endif /* KLABEL_ENGINE_H */
