/*
 * engine/nn.h: the neural architectures ("bilstm", "textcnn"): their
 * configuration (the "nn" object of the klabel metadata, nn_meta.c), their
 * weights (safetensors tensors named as PyTorch names them, nn_model.c),
 * the token-id featurizer (nn_vocab.c), the batched forward passes
 * (bilstm.c, textcnn.c) with an optional cache for training, and the
 * backward passes (bilstm_grad.c, textcnn_grad.c). Not installed.
 *
 * Weights live in one of two places: mapped from a model file, or in the
 * trainer's flat parameter buffer (kl_nn_bind()). Either way the forward
 * pass reads them through struct kl_nn_weights plus a few derived copies
 * (struct kl_nn_prep, rebuilt by kl_nn_prepare() after every change).
 */
#ifndef KL_ENGINE_NN_H
#define KL_ENGINE_NN_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "klabel/engine.h"

enum kl_nn_head {
    KL_NN_HEAD_SOFTMAX = 0, /* nlabels outputs, softmax (loss "softmax") */
    KL_NN_HEAD_SIGMOID = 1, /* nlabels outputs, a sigmoid each ("ova") */
    KL_NN_HEAD_BINARY = 2   /* 2 labels, 1 output: p(labels[1]) = sigmoid */
};

enum kl_nn_padding {
    KL_NN_PAD_NONE = 0, /* each text keeps its own length (default) */
    KL_NN_PAD_PRE = 1,  /* pad_id before the tokens up to max_len */
    KL_NN_PAD_POST = 2  /* pad_id after the tokens up to max_len */
};

#define KL_NN_TENSORS_MAX (2 + 8 * KL_NN_LAYERS_MAX + 2 * KL_NN_WIDTHS_MAX + 2)
#define KL_NN_WIDTH_MAX 32     /* widest convolution */
#define KL_NN_HIDDEN_MAX 4096  /* LSTM units and conv channels */

/* The "nn" metadata object, checked. */
struct kl_nn_conf {
    int arch;             /* KL_ARCH_BILSTM or KL_ARCH_TEXTCNN */
    int32_t rows, dim;    /* embedding (rows, dim) */
    int32_t vocab_offset; /* vocabulary word w is embedding row offset + w */
    int32_t pad_id;       /* padding row, or -1 (zeros) */
    int32_t oov_id;       /* row of unknown words, or -1 (dropped) */
    int32_t max_len;      /* tokens kept per text */
    int padding;          /* enum kl_nn_padding */
    int trunc_pre;        /* 1: keep the last max_len tokens, 0: the first */
    int32_t hidden, layers; /* bilstm */
    int pool;             /* bilstm: enum kl_nn_pool */
    int32_t channels, nwidths, widths[KL_NN_WIDTHS_MAX]; /* textcnn */
    int head;             /* enum kl_nn_head */
    int32_t nout;         /* dense outputs: nlabels, or 1 (binary) */
    int32_t nlabels;
};

/* One LSTM direction of one layer (PyTorch nn.LSTM layout, gates in the
 * order i, f, g, o). */
struct kl_nn_lstm {
    const float *w_ih; /* (4H, in) */
    const float *w_hh; /* (4H, H) */
    const float *b_ih; /* (4H) */
    const float *b_hh; /* (4H) */
};

/* The parameters, borrowed (file mapping or trainer buffer). */
struct kl_nn_weights {
    const float *emb;                               /* (rows, dim) */
    struct kl_nn_lstm lstm[KL_NN_LAYERS_MAX][2];    /* [layer][0 fwd, 1 rev] */
    const float *conv_w[KL_NN_WIDTHS_MAX];          /* (C, dim, k) */
    const float *conv_b[KL_NN_WIDTHS_MAX];          /* (C) */
    const float *fc_w;                              /* (nout, F) */
    const float *fc_b;                              /* (nout) */
};

/* Derived copies for the GEMMs, owned. */
struct kl_nn_prep {
    float *w_ih[KL_NN_LAYERS_MAX]; /* (8H, in): forward rows, reverse rows */
    float *bias[KL_NN_LAYERS_MAX]; /* (8H) b_ih + b_hh, same order */
    float *conv[KL_NN_WIDTHS_MAX]; /* (C, k * dim): [c][j*dim + e] =
                                      conv_w[c][e][j] (im2col order) */
};

struct kl_nn {
    struct kl_nn_conf c;
    struct kl_nn_weights w;
    struct kl_nn_prep p;
};

/* One parameter tensor: its file name and shape, and where it sits in a
 * flat buffer of all parameters (in the order kl_nn_tensors() lists). */
struct kl_nn_tensor {
    char name[48];
    int ndim;
    int64_t shape[3];
    size_t off, size;      /* floats: buffer[off .. off + size) */
    const float **slot;    /* the kl_nn_weights field it binds */
};

/* ---------------------------------------------------------- nn_meta.c */

/* Parses the "nn" object of the metadata root (architecture arch, nlabels
 * labels, embedding width dim, loss enum kl_loss, nwords vocabulary words)
 * into c. Returns 0 or KL_EFORMAT with a reason in err. */
int kl_nn_conf_parse(const cJSON *root, int arch, int32_t nlabels,
                     int32_t dim, int loss, int32_t nwords,
                     struct kl_nn_conf *c, char *err, size_t errsz);

/* The "nn" object for c (caller owns it), or NULL when out of memory. */
cJSON *kl_nn_conf_format(const struct kl_nn_conf *c);

/* "bilstm" -> KL_ARCH_BILSTM, "textcnn" -> KL_ARCH_TEXTCNN, "fasttext" ->
 * KL_ARCH_FASTTEXT, else -1. */
int kl_nn_arch_of(const char *name);

/* Width of the pooled features: 2H or C * nwidths. */
int32_t kl_nn_feat_dim(const struct kl_nn_conf *c);

/* Lists the parameter tensors of c into t (KL_NN_TENSORS_MAX entries, slots
 * pointing into w) and returns how many; *total gets the floats of all. */
size_t kl_nn_tensors(const struct kl_nn_conf *c, struct kl_nn_weights *w,
                     struct kl_nn_tensor *t, size_t *total);

/* --------------------------------------------------------- nn_model.c */

/* Points nn->w into the flat buffer params (kl_nn_tensors() order). */
void kl_nn_bind(struct kl_nn *nn, const float *params);

/* (Re)builds nn->p from nn->w. Returns 0 or KL_ENOMEM. */
int kl_nn_prepare(struct kl_nn *nn);

/* Frees nn->p. */
void kl_nn_fini(struct kl_nn *nn);

/* ----------------------------------------------------------- forward */

/* Per-thread buffers of the forward passes, grown on demand (never shrunk),
 * so steady-state batches allocate nothing. Caller-owned; zero it first,
 * free with kl_nn_scratch_fini(). */
struct kl_nn_scratch {
    int32_t *order;  /* (bcap) batch rows sorted by length, longest first */
    int32_t *len;    /* (bcap) their lengths, in that order */
    int32_t *bsz;    /* (tcap) bilstm: sequences still running at step t */
    size_t *off;     /* (tcap + 1) bilstm: first packed row of step t;
                        textcnn: first row of sequence r */
    size_t bcap, lcap, tcap, ocap;
    float *x;        /* (xcap) bilstm (N, dim) time-major packed rows;
                        textcnn (sum of padded lengths, dim) by sequence */
    float *proj;     /* (projcap) (N, 8H) input projections of a layer */
    float *y[2];     /* (ycap each) (N, 2H) outputs of a layer, ping-pong */
    float *hc;       /* (hccap) h and c: (2 dirs, 2, B, H) */
    float *g;        /* (gcap) (B, 4H) gates of one step, or conv output */
    float *col;      /* (colcap) textcnn im2col chunk (rows, k * dim) */
    float *feat;     /* (featcap) (B, F) pooled features, batch order */
    float *logits;   /* (logcap) (B, nout) */
    size_t xcap, projcap, ycap, ycap1, hccap, gcap, colcap, featcap, logcap;
    const int32_t **seqv; /* (vcap) kl_nn_predict_batch: feats[i]->ids */
    size_t *lenv;         /* (lvcap) and their lengths */
    size_t vcap, lvcap;
};

void kl_nn_scratch_fini(struct kl_nn_scratch *s);

/* What the training forward keeps for the backward pass, and the dropout
 * to apply (caller-owned: zero it, set drop and rng; free with
 * kl_nn_cache_fini()). All packed rows follow the scratch's order. */
struct kl_nn_cache {
    float drop;          /* dropout rate of x and feat (0 = off) */
    uint64_t rng;        /* splitmix64 state for the masks */
    float *xmask;        /* (N, dim) 0 or 1/(1-drop) */
    float *fmask;        /* (B, F) */
    int32_t *tok;        /* (N) token id of each x row */
    size_t ntok;         /* N */
    float *ys[KL_NN_LAYERS_MAX];       /* (N, 2H) bilstm layer outputs */
    float *gates[KL_NN_LAYERS_MAX][2]; /* (N, 4H) i, f, g, o activations */
    float *cell[KL_NN_LAYERS_MAX][2];  /* (N, H) cell states */
    int32_t *argmax;     /* (B, F) pooling's chosen packed row (bilstm max,
                            textcnn: row within the sequence); -1 = none */
    float *feat_raw;     /* (B, F) pooled features before dropout */
    size_t caps[8 + 5 * KL_NN_LAYERS_MAX]; /* [0] xmask [1] fmask [2] tok
                              [3] argmax [4] feat_raw, then per layer l
                              at 8 + 5 l: ys, gates f/r, cell f/r */
};

void kl_nn_cache_fini(struct kl_nn_cache *c);

/* Runs the network on n sequences: seq[i][0 .. len[i]) are embedding rows
 * (each < rows; len[i] may be 0, giving logits of the bias alone) and
 * writes the dense layer's outputs to s->logits (n, nout), batch order.
 * With cache, keeps what kl_nn_backward() needs and applies dropout.
 * Returns 0, KL_EINVAL (an id out of range) or KL_ENOMEM. */
int kl_nn_forward(const struct kl_nn *nn, const int32_t *const *seq,
                  const size_t *len, size_t n, struct kl_nn_scratch *s,
                  struct kl_nn_cache *cache);

/* Architecture halves (bilstm.c, textcnn.c): from the batch to
 * s->feat; same contract. */
int kl_bilstm_forward(const struct kl_nn *nn, const int32_t *const *seq,
                      const size_t *len, size_t n, struct kl_nn_scratch *s,
                      struct kl_nn_cache *cache);
int kl_textcnn_forward(const struct kl_nn *nn, const int32_t *const *seq,
                       const size_t *len, size_t n, struct kl_nn_scratch *s,
                       struct kl_nn_cache *cache);

/* Applies the cache's dropout to x[0..n) (the embedded tokens) and keeps
 * the mask in cache->xmask; nothing when cache is NULL or drop is 0.
 * Returns 0 or KL_ENOMEM. */
int kl_nn_dropout_x(struct kl_nn_cache *cache, float *x, size_t n);

/* Grows *p to hold need elements of size elem (doubling; contents kept):
 * kl_grow() starting from 64 elements. Returns 0 or KL_ENOMEM. */
int kl_nn_reserve(void **p, size_t *cap, size_t need, size_t elem);

/* ---------------------------------------------------------- backward */

/* Gradients of the loss with respect to every parameter, accumulated into
 * grad (flat, kl_nn_tensors() order; caller zeroes it), given dlogits
 * (n, nout) = dLoss/dlogits for the batch of the last kl_nn_forward() with
 * this cache and scratch. Scratch buffers of the backward pass are in gs.
 * Returns 0 or KL_ENOMEM. */
struct kl_nn_gscratch {
    float *dfeat;  /* (B, F) */
    float *dy;     /* (N, 2H) or (N, dim) gradient flowing down */
    float *dx;     /* (N, 2H) */
    float *da;     /* (N, 4H) pre-activation gate gradients */
    float *hprev;  /* (N, H) */
    float *dh;     /* (2, B, H) dh and dc carried back */
    float *step;   /* (B, 4H) one reverse step's gate gradients */
    float *dhp;    /* (B, H) */
    size_t caps[8];
};

void kl_nn_gscratch_fini(struct kl_nn_gscratch *g);

int kl_nn_backward(const struct kl_nn *nn, const struct kl_nn_scratch *s,
                   const struct kl_nn_cache *cache, const float *dlogits,
                   size_t n, float *grad, struct kl_nn_gscratch *gs);

int kl_bilstm_backward(const struct kl_nn *nn, const struct kl_nn_scratch *s,
                       const struct kl_nn_cache *cache, const float *dfeat,
                       size_t n, float *grad, struct kl_nn_gscratch *gs);
int kl_textcnn_backward(const struct kl_nn *nn, const struct kl_nn_scratch *s,
                        const struct kl_nn_cache *cache, const float *dfeat,
                        size_t n, float *grad, struct kl_nn_gscratch *gs);

/* Offset (in floats) of the tensor bound to slot in the flat buffer. */
size_t kl_nn_grad_off(const struct kl_nn *nn, const float *const *slot);

/* --------------------------------------------------------- nn_train.c */

/* Fills o with the defaults listed in engine.h. */
void kl_nn_opts_init(struct kl_nn_opts *o);

/* kl_train_file() for o->arch bilstm / textcnn: same contract. */
int kl_nn_train_file(const struct kl_train_opts *o, const char *in_path,
                     const char *out_path, char *err, size_t errsz);

#endif /* KL_ENGINE_NN_H */
