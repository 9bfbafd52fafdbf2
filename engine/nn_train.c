/*
 * engine/nn_train.c: training of the neural architectures ("bilstm",
 * "textcnn") behind kl_train_file() when kl_train_opts.arch says so.
 *
 * - Vocabulary: the nn.max_vocab most frequent training words (min_count
 *   applies); row 0 pads, row 1 stands for unknown words, word w is row
 *   2 + w. Texts keep their first nn.max_len tokens, unpadded.
 * - Initialization (seeded splitmix64): embedding uniform(-0.05, 0.05),
 *   LSTM and convolution weights uniform(-1/sqrt(fan), 1/sqrt(fan)) as
 *   PyTorch does, forget-gate bias 1, dense uniform(-1/sqrt(F), ..), bias 0.
 * - Each epoch visits the examples in a fresh seeded shuffle, in
 *   mini-batches of nn.batch; the loss is the batch mean of the softmax
 *   cross-entropy (first label of a line), or of the sigmoid binary
 *   cross-entropies (loss ova; one output when there are 2 labels, the
 *   seed's Dense(1, sigmoid)). Back-propagation through time (bilstm_grad.c)
 *   or through the convolutions (textcnn_grad.c), gradient clipping by
 *   global norm, dropout on the embedded tokens and the pooled features,
 *   then one Adam step.
 * - With valid_path, the validation loss after each epoch drives early
 *   stopping (nn.patience) and the best epoch's weights are written.
 * - One thread, OpenBLAS set to o->threads: same seed, same file.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "klabel/engine.h"
#include "adam.h"
#include "error.h"
#include "nn.h"
#include "nn_data.h"
#include "nn_train.h"
#include "tokmodel.h"

/* Contract in nn.h. */
void kl_nn_opts_init(struct kl_nn_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_vocab = 10000;
    o->max_len = 100;
    o->hidden = 64;
    o->layers = 1;
    o->pool = KL_NN_POOL_LAST;
    o->channels = 100;
    o->nwidths = 3;
    o->widths[0] = 3;
    o->widths[1] = 4;
    o->widths[2] = 5;
    o->batch = 32;
    o->lr = 0.002f;
    o->dropout = 0.2f;
    o->clip = 5.0f;
    o->patience = 2;
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Uniform in [-a, a). */
static float uniform(uint64_t *rng, float a)
{
    return a * (2.0f * (float)(splitmix64(rng) >> 40) *
                    (1.0f / 16777216.0f) - 1.0f);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Contract in nn_train.h. */
int kl_nn_check_opts(const struct kl_train_opts *o, char *err, size_t errsz)
{
    const struct kl_nn_opts *n = &o->nn;
    const char *bad = NULL;

    if (o->arch != KL_ARCH_BILSTM && o->arch != KL_ARCH_TEXTCNN)
        bad = "arch must be bilstm or textcnn";
    else if (o->loss != KL_LOSS_SOFTMAX && o->loss != KL_LOSS_OVA)
        bad = "loss must be softmax or ova";
    else if (o->dim < 1 || o->dim > 4096)
        bad = "dim (embedding width) must be in [1, 4096]";
    else if (o->epoch < 1 || o->epoch > 100000)
        bad = "epoch must be in [1, 100000]";
    else if (n->max_vocab < 1 || n->max_len < 1 || n->max_len > 65536)
        bad = "max_vocab must be >= 1 and max_len in [1, 65536]";
    else if (n->hidden < 1 || n->hidden > KL_NN_HIDDEN_MAX || n->layers < 1 ||
             n->layers > KL_NN_LAYERS_MAX)
        bad = "hidden must be in [1, 4096] and layers in [1, 4]";
    else if (n->pool != KL_NN_POOL_LAST && n->pool != KL_NN_POOL_MAX)
        bad = "pool must be last or max";
    else if (n->channels < 1 || n->channels > KL_NN_HIDDEN_MAX ||
             n->nwidths < 1 || n->nwidths > KL_NN_WIDTHS_MAX)
        bad = "channels must be in [1, 4096] and 1 to 8 widths";
    else if (n->batch < 1 || n->batch > 65536)
        bad = "batch must be in [1, 65536]";
    else if (!(n->lr > 0.0f && n->lr <= 1.0f))
        bad = "nn.lr must be in (0, 1]";
    else if (!(n->dropout >= 0.0f && n->dropout < 1.0f))
        bad = "dropout must be in [0, 1)";
    else if (!(n->clip >= 0.0f) || n->patience < 1)
        bad = "clip must be >= 0 and patience >= 1";
    for (int32_t j = 0; bad == NULL && o->arch == KL_ARCH_TEXTCNN &&
                        j < n->nwidths; j++)
        if (n->widths[j] < 1 || n->widths[j] > KL_NN_WIDTH_MAX)
            bad = "convolution widths must be in [1, 32]";
    if (bad != NULL)
        return kl_error_set(err, errsz, KL_EINVAL, "training options: %s",
                            bad);
    return KL_OK;
}

/* Contract in nn_train.h. */
void kl_nn_conf_make(const struct kl_train_opts *o,
                      const struct kl_nn_vocab *v, struct kl_nn_conf *c)
{
    memset(c, 0, sizeof *c);
    c->arch = o->arch;
    c->dim = o->dim;
    c->vocab_offset = 2;
    c->pad_id = 0;
    c->oov_id = 1;
    c->rows = 2 + v->nwords;
    c->max_len = o->nn.max_len;
    c->padding = KL_NN_PAD_NONE;
    c->hidden = o->nn.hidden;
    c->layers = o->nn.layers;
    c->pool = o->nn.pool;
    c->channels = o->nn.channels;
    c->nwidths = o->nn.nwidths;
    memcpy(c->widths, o->nn.widths, sizeof c->widths);
    c->nlabels = v->nlabels;
    c->head = o->loss == KL_LOSS_SOFTMAX ? KL_NN_HEAD_SOFTMAX
              : v->nlabels == 2          ? KL_NN_HEAD_BINARY
                                         : KL_NN_HEAD_SIGMOID;
    c->nout = c->head == KL_NN_HEAD_BINARY ? 1 : v->nlabels;
}

/* Contract in nn_train.h. */
void kl_nn_init_params(const struct kl_nn_conf *c, float *params,
                       uint64_t seed)
{
    struct kl_nn_weights w;
    struct kl_nn_tensor t[KL_NN_TENSORS_MAX];
    size_t total, nt = kl_nn_tensors(c, &w, t, &total);
    uint64_t rng = seed;

    for (size_t i = 0; i < nt; i++) {
        float *p = params + t[i].off, a;
        int is_bias = t[i].ndim == 1;
        if (i == 0)
            a = 0.05f; /* embedding */
        else if (strncmp(t[i].name, "lstm.", 5) == 0)
            a = 1.0f / sqrtf((float)c->hidden);
        else if (strncmp(t[i].name, "convs.", 6) == 0)
            a = 1.0f / sqrtf((float)(c->dim * (int32_t)t[i].shape[
                                                  t[i].ndim == 3 ? 2 : 0]));
        else
            a = is_bias ? 0.0f : 1.0f / sqrtf((float)kl_nn_feat_dim(c));
        for (size_t j = 0; j < t[i].size; j++)
            p[j] = uniform(&rng, a);
        if (strncmp(t[i].name, "lstm.bias_ih", 12) == 0)
            for (int32_t j = 0; j < c->hidden; j++)
                p[c->hidden + j] = 1.0f; /* forget gate */
        else if (strncmp(t[i].name, "lstm.bias_hh", 12) == 0)
            memset(p, 0, t[i].size * sizeof *p);
    }
}

/* Contract in nn_train.h. */
double kl_nn_loss(const struct kl_nn_conf *c, const float *logits,
                  const struct kl_nn_set *set, const size_t *ex, size_t n,
                  float *dlogits, int32_t *correct)
{
    size_t O = (size_t)c->nout;
    double loss = 0.0;

    *correct = 0;
    for (size_t b = 0; b < n; b++) {
        const float *z = logits + b * O;
        const int32_t *lab = set->lab + set->lab_off[ex[b]];
        size_t nl = set->lab_off[ex[b] + 1] - set->lab_off[ex[b]];
        float *dz = dlogits ? dlogits + b * O : NULL;
        int32_t best = 0;

        if (c->head == KL_NN_HEAD_BINARY) {
            double p = 1.0 / (1.0 + exp(-(double)z[0]));
            int y = lab[0] == 1;
            loss -= y ? log(p + 1e-12) : log(1.0 - p + 1e-12);
            if (dz)
                dz[0] = (float)((p - y) / (double)n);
            best = p > 0.5;
        } else if (c->head == KL_NN_HEAD_SIGMOID) {
            for (size_t j = 0; j < O; j++) {
                double p = 1.0 / (1.0 + exp(-(double)z[j]));
                int y = 0;
                for (size_t q = 0; q < nl; q++)
                    y |= lab[q] == (int32_t)j;
                loss -= y ? log(p + 1e-12) : log(1.0 - p + 1e-12);
                if (dz)
                    dz[j] = (float)((p - y) / (double)n);
                best = z[j] > z[best] ? (int32_t)j : best;
            }
        } else {
            double max = z[0], sum = 0.0;
            for (size_t j = 1; j < O; j++)
                max = z[j] > max ? z[j] : max;
            for (size_t j = 0; j < O; j++)
                sum += exp((double)z[j] - max);
            loss -= (double)z[lab[0]] - max - log(sum);
            for (size_t j = 0; j < O; j++) {
                double p = exp((double)z[j] - max) / sum;
                if (dz)
                    dz[j] = (float)((p - (lab[0] == (int32_t)j)) / (double)n);
                best = z[j] > z[best] ? (int32_t)j : best;
            }
        }
        for (size_t q = 0; q < nl; q++)
            if (lab[q] == best) {
                (*correct)++;
                break;
            }
    }
    return loss;
}

/* Points seq / len at the examples ex[0..n) of set. */
static void gather(const struct kl_nn_set *set, const size_t *ex, size_t n,
                   const int32_t **seq, size_t *len)
{
    for (size_t b = 0; b < n; b++) {
        seq[b] = set->ids + set->off[ex[b]];
        len[b] = set->off[ex[b] + 1] - set->off[ex[b]];
    }
}

/* Contract in nn_train.h. */
int kl_nn_evaluate(const struct kl_nn *nn, const struct kl_nn_set *set,
                   struct kl_nn_scratch *s, double *loss, double *accuracy)
{
    size_t ex[256], len[256];
    const int32_t *seq[256];
    double sum = 0.0;
    int64_t right = 0;
    int rc;

    for (size_t b0 = 0; b0 < set->n; b0 += 256) {
        size_t n = set->n - b0 < 256 ? set->n - b0 : 256;
        int32_t correct;
        for (size_t b = 0; b < n; b++)
            ex[b] = b0 + b;
        gather(set, ex, n, seq, len);
        if ((rc = kl_nn_forward(nn, seq, len, n, s, NULL)) != KL_OK)
            return rc;
        sum += kl_nn_loss(&nn->c, s->logits, set, ex, n, NULL, &correct);
        right += correct;
    }
    *loss = sum / (double)set->n;
    *accuracy = (double)right / (double)set->n;
    return KL_OK;
}

/* The progress line of the fastText trainer (train.c), on stderr. */
static void print_progress(double start, double progress, double tokens,
                           float lr, double loss)
{
    double el = now_s() - start;
    long eta = progress > 0 ? (long)(el * (1 - progress) / progress) : 0;

    if (progress > 1)
        progress = 1;
    fprintf(stderr,
            "\rProgress: %.1f%%  words/sec/thread: %.0f  lr: %.4f  loss: "
            "%.4f  ETA: %ldh%2ldm%2lds", 100 * progress,
            el > 0 ? tokens / el : 0.0, lr, loss, eta / 3600, eta / 60 % 60,
            eta % 60);
    fflush(stderr);
}

/* Contract in nn_train.h. */
int kl_nn_train_loop(struct kl_nn_trainer *tr, char *err, size_t errsz)
{
    const struct kl_train_opts *o = tr->o;
    const struct kl_nn_set *set = tr->train;
    size_t B = (size_t)o->nn.batch, *order = NULL, *len = NULL;
    const int32_t **seq = NULL;
    struct kl_nn_cache cache;
    double start = now_s(), last = 0, done_tok = 0, run_loss = 0;
    int64_t run_n = 0, steps = (int64_t)o->epoch * (int64_t)set->n;
    int32_t bad_epochs = 0;
    uint64_t rng = o->seed ^ UINT64_C(0x5DEECE66D);
    int rc = KL_OK;

    memset(&cache, 0, sizeof cache);
    cache.drop = o->nn.dropout;
    cache.rng = o->seed + 1;
    order = malloc(set->n * sizeof *order);
    len = malloc(B * sizeof *len);
    seq = malloc(B * sizeof *seq);
    if (order == NULL || len == NULL || seq == NULL) {
        rc = kl_error_set(err, errsz, KL_ENOMEM, "out of memory");
        goto out;
    }
    tr->best_loss = INFINITY;
    for (int32_t ep = 0; ep < o->epoch; ep++) {
        for (size_t i = 0; i < set->n; i++)
            order[i] = i;
        for (size_t i = set->n; i > 1; i--) { /* Fisher-Yates */
            size_t j = (size_t)(splitmix64(&rng) % i), t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
        for (size_t b0 = 0; b0 < set->n; b0 += B) {
            size_t n = set->n - b0 < B ? set->n - b0 : B;
            int32_t correct;
            gather(set, order + b0, n, seq, len);
            if ((rc = kl_nn_forward(&tr->nn, seq, len, n, &tr->s,
                                    &cache)) != KL_OK ||
                kl_nn_reserve((void **)&tr->dlogits, &tr->dlogits_cap,
                              n * (size_t)tr->nn.c.nout, sizeof(float))) {
                rc = rc ? rc : KL_ENOMEM;
                goto out;
            }
            run_loss += kl_nn_loss(&tr->nn.c, tr->s.logits, set, order + b0,
                                   n, tr->dlogits, &correct);
            run_n += (int64_t)n;
            memset(tr->grad, 0, tr->nparams * sizeof(float));
            if ((rc = kl_nn_backward(&tr->nn, &tr->s, &cache, tr->dlogits, n,
                                     tr->grad, &tr->gs)) != KL_OK)
                goto out;
            kl_grad_clip(tr->grad, tr->nparams, o->nn.clip);
            kl_adam_step(&tr->adam, tr->params, tr->grad);
            if ((rc = kl_nn_prepare(&tr->nn)) != KL_OK)
                goto out;
            tr->seen += (int64_t)n;
            for (size_t b = 0; b < n; b++)
                done_tok += (double)len[b];
            if (o->verbose && now_s() - last >= 0.1) {
                last = now_s();
                print_progress(start, (double)tr->seen / (double)steps,
                               done_tok, o->nn.lr, run_loss / (double)run_n);
            }
        }
        tr->epochs_run = ep + 1;
        tr->train_loss = run_loss / (double)(run_n ? run_n : 1);
        run_loss = 0;
        run_n = 0;
        if (tr->valid == NULL)
            continue;
        if ((rc = kl_nn_evaluate(&tr->nn, tr->valid, &tr->s,
                                 &tr->vloss[ep], &tr->vacc[ep])) != KL_OK)
            goto out;
        if (o->verbose)
            fprintf(stderr, "\nepoch %d/%d: validation accuracy %.4f  loss "
                    "%.4f  (%zu examples)\n", (int)ep + 1, (int)o->epoch,
                    tr->vacc[ep], tr->vloss[ep], tr->valid->n);
        if (tr->vloss[ep] < tr->best_loss) {
            tr->best_loss = tr->vloss[ep];
            tr->best_epoch = ep + 1;
            memcpy(tr->best, tr->params, tr->nparams * sizeof(float));
            bad_epochs = 0;
        } else if (++bad_epochs >= o->nn.patience) {
            if (o->verbose)
                fprintf(stderr, "early stop: no better validation loss in %d "
                        "epochs; keeping epoch %d\n", (int)bad_epochs,
                        (int)tr->best_epoch);
            break;
        }
    }
    if (o->verbose) {
        print_progress(start, 1.0, done_tok, o->nn.lr, tr->train_loss);
        fputc('\n', stderr);
    }
out:
    if (rc != KL_OK && (err == NULL || errsz == 0 || err[0] == '\0'))
        rc = kl_error_set(err, errsz, rc, "training: %s", kl_strerror(rc));
    kl_nn_cache_fini(&cache);
    free(order);
    free(len);
    free(seq);
    return rc;
}
