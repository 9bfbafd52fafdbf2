/*
 * tests/unit/test_nn_grad.c: gradient check of the neural architectures
 * (engine/bilstm_grad.c, engine/textcnn_grad.c, engine/nn_core.c's dense
 * head and engine/nn_train.c's losses). For small networks with random
 * weights and a batch of mixed lengths, the engine's analytic gradient of
 * the batch's mean loss with respect to EVERY parameter tensor must match
 * central finite differences: relative error ||g_analytic - g_numeric|| /
 * max(||g_analytic||, ||g_numeric||) under 1e-3 per tensor, over all of
 * its elements.
 *
 * The engine computes in float, whose rounding swamps a finite difference
 * of the small gradients deep in an LSTM; so the differences are taken on
 * a double-precision reference forward pass written here from the
 * definitions (step 1e-6), and the test first checks that this reference
 * and the engine's float forward give the same logits (to 1e-5), i.e. that
 * they are the same function.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "klabel/engine.h"
#include "../../engine/nn.h"
#include "../../engine/nn_data.h"
#include "../../engine/adam.h"
#include "../../engine/nn_train.h"

#define NSEQ 6

/* Lengths 1 .. 9, one shorter than the widest filter, one repeated. */
static const size_t lens[NSEQ] = {7, 1, 9, 3, 7, 2};

struct fixture {
    struct kl_nn nn;
    float *params, *grad;
    size_t nparams;
    struct kl_nn_set set;
    struct kl_nn_scratch s;
    struct kl_nn_gscratch gs;
    struct kl_nn_cache cache;
    size_t ex[NSEQ];
    const int32_t *seq[NSEQ];
    size_t len[NSEQ];
};

static uint64_t rng_state = 12345;

static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

/* A network of configuration c with weights uniform(-scale, scale) and a
 * batch of NSEQ sequences labeled in turn. */
static void setup_net(struct fixture *fx, const struct kl_nn_conf *c,
                      float scale)
{
    struct kl_nn_tensor t[KL_NN_TENSORS_MAX];
    size_t total = 0, nid = 0;

    memset(fx, 0, sizeof *fx);
    fx->nn.c = *c;
    kl_nn_tensors(&fx->nn.c, &fx->nn.w, t, &total);
    fx->nparams = total;
    fx->params = malloc(total * sizeof(float));
    fx->grad = calloc(total, sizeof(float));
    cr_assert(fx->params && fx->grad);
    for (size_t i = 0; i < total; i++)
        fx->params[i] = scale * (2.0f * (float)(rnd() % 100000) / 1e5f - 1.0f);
    kl_nn_bind(&fx->nn, fx->params);
    cr_assert_eq(kl_nn_prepare(&fx->nn), KL_OK);
    for (size_t i = 0; i < NSEQ; i++)
        nid += lens[i];
    fx->set.ids = malloc(nid * sizeof(int32_t));
    fx->set.off = malloc((NSEQ + 1) * sizeof(size_t));
    fx->set.lab = malloc(2 * NSEQ * sizeof(int32_t));
    fx->set.lab_off = malloc((NSEQ + 1) * sizeof(size_t));
    fx->set.off[0] = fx->set.lab_off[0] = 0;
    for (size_t i = 0; i < NSEQ; i++) {
        size_t nl = c->head == KL_NN_HEAD_SIGMOID && i % 2 ? 2 : 1;
        for (size_t j = 0; j < lens[i]; j++)
            fx->set.ids[fx->set.off[i] + j] = (int32_t)(rnd() % (uint32_t)c->rows);
        fx->set.off[i + 1] = fx->set.off[i] + lens[i];
        fx->set.lab[fx->set.lab_off[i]] = (int32_t)(i % (size_t)c->nlabels);
        if (nl == 2)
            fx->set.lab[fx->set.lab_off[i] + 1] =
                (int32_t)((i + 1) % (size_t)c->nlabels);
        fx->set.lab_off[i + 1] = fx->set.lab_off[i] + nl;
        fx->ex[i] = i;
        fx->seq[i] = fx->set.ids + fx->set.off[i];
        fx->len[i] = lens[i];
    }
    fx->set.n = NSEQ;
}

static void teardown_net(struct fixture *fx)
{
    kl_nn_fini(&fx->nn);
    kl_nn_scratch_fini(&fx->s);
    kl_nn_gscratch_fini(&fx->gs);
    kl_nn_cache_fini(&fx->cache);
    free(fx->params);
    free(fx->grad);
    free(fx->set.ids);
    free(fx->set.off);
    free(fx->set.lab);
    free(fx->set.lab_off);
}

/* The engine's analytic gradient of the batch's mean loss into fx->grad
 * (and its logits stay in fx->s.logits). */
static void engine_grad(struct fixture *fx)
{
    float *dl = malloc((size_t)NSEQ * (size_t)fx->nn.c.nout * sizeof(float));
    int32_t correct;

    cr_assert_not_null(dl);
    memset(fx->grad, 0, fx->nparams * sizeof(float));
    cr_assert_eq(kl_nn_forward(&fx->nn, fx->seq, fx->len, NSEQ, &fx->s,
                               &fx->cache), KL_OK);
    kl_nn_loss(&fx->nn.c, fx->s.logits, &fx->set, fx->ex, NSEQ, dl,
               &correct);
    cr_assert_eq(kl_nn_backward(&fx->nn, &fx->s, &fx->cache, dl, NSEQ,
                                fx->grad, &fx->gs), KL_OK);
    free(dl);
}

/* ------------------------------------------- double-precision reference */

/* The parameters as doubles, addressed like the engine's flat buffer. */
struct ref {
    const struct kl_nn_conf *c;
    const double *p;
    size_t emb, fcw, fcb;
    size_t wih[KL_NN_LAYERS_MAX][2], whh[KL_NN_LAYERS_MAX][2];
    size_t bih[KL_NN_LAYERS_MAX][2], bhh[KL_NN_LAYERS_MAX][2];
    size_t cw[KL_NN_WIDTHS_MAX], cb[KL_NN_WIDTHS_MAX];
};

static void ref_init(struct ref *r, const struct kl_nn_conf *c)
{
    struct kl_nn_weights w;
    struct kl_nn_tensor t[KL_NN_TENSORS_MAX];
    size_t total, nt = kl_nn_tensors(c, &w, t, &total);

    memset(r, 0, sizeof *r);
    r->c = c;
    for (size_t i = 0; i < nt; i++) { /* by the documented names */
        const char *nm = t[i].name;
        int rev = strstr(nm, "_reverse") != NULL;
        int l = 0, j = 0, end = 0;
#define NAMED(fmt, v) (end = 0, sscanf(nm, fmt "%n", &(v), &end) == 1 && \
                       (nm[end] == '\0' || !strcmp(nm + end, "_reverse")))
        if (!strcmp(nm, "embedding.weight")) r->emb = t[i].off;
        else if (!strcmp(nm, "fc.weight")) r->fcw = t[i].off;
        else if (!strcmp(nm, "fc.bias")) r->fcb = t[i].off;
        else if (NAMED("lstm.weight_ih_l%d", l)) r->wih[l][rev] = t[i].off;
        else if (NAMED("lstm.weight_hh_l%d", l)) r->whh[l][rev] = t[i].off;
        else if (NAMED("lstm.bias_ih_l%d", l)) r->bih[l][rev] = t[i].off;
        else if (NAMED("lstm.bias_hh_l%d", l)) r->bhh[l][rev] = t[i].off;
        else if (NAMED("convs.%d.weight", j)) r->cw[j] = t[i].off;
        else if (NAMED("convs.%d.bias", j)) r->cb[j] = t[i].off;
#undef NAMED
        else cr_assert_fail("unknown tensor %s", t[i].name);
    }
}

static double sg(double x) { return 1.0 / (1.0 + exp(-x)); }

#define TMAX 16
#define HMAX 8

/* One sequence through the bilstm into feat (2H). */
static void ref_bilstm(const struct ref *r, const int32_t *ids, size_t L,
                       double *feat)
{
    const struct kl_nn_conf *c = r->c;
    size_t H = (size_t)c->hidden, E = (size_t)c->dim;
    double x[TMAX][2 * HMAX + 8], y[TMAX][2 * HMAX];
    size_t in = E;

    cr_assert(L <= TMAX && H <= HMAX && E <= 2 * HMAX + 8);
    for (size_t t = 0; t < L; t++)
        for (size_t e = 0; e < E; e++)
            x[t][e] = r->p[r->emb + (size_t)ids[t] * E + e];
    for (int32_t l = 0; l < c->layers; l++) {
        for (int d = 0; d < 2; d++) {
            double h[HMAX] = {0}, cs[HMAX] = {0};
            const double *wih = r->p + r->wih[l][d], *whh = r->p + r->whh[l][d];
            const double *bih = r->p + r->bih[l][d], *bhh = r->p + r->bhh[l][d];
            for (size_t s = 0; s < L; s++) {
                size_t t = d == 0 ? s : L - 1 - s;
                double z[4 * HMAX], hn[HMAX];
                for (size_t q = 0; q < 4 * H; q++) {
                    z[q] = bih[q] + bhh[q];
                    for (size_t e = 0; e < in; e++)
                        z[q] += wih[q * in + e] * x[t][e];
                    for (size_t k = 0; k < H; k++)
                        z[q] += whh[q * H + k] * h[k];
                }
                for (size_t j = 0; j < H; j++) {
                    double ig = sg(z[j]), fg = sg(z[H + j]);
                    double gg = tanh(z[2 * H + j]), og = sg(z[3 * H + j]);
                    cs[j] = fg * cs[j] + ig * gg;
                    hn[j] = og * tanh(cs[j]);
                }
                memcpy(h, hn, H * sizeof *h);
                for (size_t j = 0; j < H; j++)
                    y[t][(size_t)d * H + j] = h[j];
            }
            if (l == c->layers - 1 && c->pool == KL_NN_POOL_LAST)
                memcpy(feat + (size_t)d * H, h, H * sizeof *h);
        }
        in = 2 * H;
        for (size_t t = 0; t < L; t++)
            memcpy(x[t], y[t], in * sizeof(double));
    }
    if (c->pool == KL_NN_POOL_MAX)
        for (size_t j = 0; j < 2 * H; j++) {
            feat[j] = y[0][j];
            for (size_t t = 1; t < L; t++)
                feat[j] = fmax(feat[j], y[t][j]);
        }
}

/* One sequence through the textcnn into feat (C * nwidths). */
static void ref_textcnn(const struct ref *r, const int32_t *ids, size_t L,
                        double *feat)
{
    const struct kl_nn_conf *c = r->c;
    size_t E = (size_t)c->dim, C = (size_t)c->channels, kmax = 1;
    double x[TMAX][16];

    for (int32_t j = 0; j < c->nwidths; j++)
        kmax = (size_t)c->widths[j] > kmax ? (size_t)c->widths[j] : kmax;
    cr_assert(L <= TMAX && kmax <= TMAX && E <= 16);
    for (size_t t = 0; t < (L > kmax ? L : kmax); t++) {
        int32_t id = t < L ? ids[t] : c->pad_id;
        for (size_t e = 0; e < E; e++)
            x[t][e] = id < 0 ? 0.0 : r->p[r->emb + (size_t)id * E + e];
    }
    if (L < kmax)
        L = kmax;
    for (int32_t j = 0; j < c->nwidths; j++) {
        size_t k = (size_t)c->widths[j];
        const double *w = r->p + r->cw[j], *b = r->p + r->cb[j];
        for (size_t ch = 0; ch < C; ch++) {
            double best = 0.0; /* ReLU then max: max(0, ...) */
            for (size_t m = 0; m + k <= L; m++) {
                double v = b[ch];
                for (size_t e = 0; e < E; e++)
                    for (size_t q = 0; q < k; q++)
                        v += w[ch * E * k + e * k + q] * x[m + q][e];
                best = fmax(best, v);
            }
            feat[(size_t)j * C + ch] = best;
        }
    }
}

/* Logits (NSEQ, nout) and the batch's mean loss, as kl_nn_loss defines
 * it (softmax: first label; binary: labels[1] positive; sigmoid: every
 * label of the line positive). */
static double ref_loss(const struct ref *r, const struct fixture *fx,
                       double *logits)
{
    const struct kl_nn_conf *c = r->c;
    size_t F = (size_t)kl_nn_feat_dim(c), O = (size_t)c->nout;
    double loss = 0.0, feat[64];

    cr_assert(F <= 64);
    for (size_t i = 0; i < NSEQ; i++) {
        const int32_t *lab = fx->set.lab + fx->set.lab_off[i];
        size_t nl = fx->set.lab_off[i + 1] - fx->set.lab_off[i];
        double *z = logits + i * O;
        if (c->arch == KL_ARCH_BILSTM)
            ref_bilstm(r, fx->seq[i], fx->len[i], feat);
        else
            ref_textcnn(r, fx->seq[i], fx->len[i], feat);
        for (size_t o = 0; o < O; o++) {
            z[o] = r->p[r->fcb + o];
            for (size_t f = 0; f < F; f++)
                z[o] += r->p[r->fcw + o * F + f] * feat[f];
        }
        if (c->head == KL_NN_HEAD_BINARY) {
            double p = sg(z[0]);
            loss -= lab[0] == 1 ? log(p) : log(1.0 - p);
        } else if (c->head == KL_NN_HEAD_SIGMOID) {
            for (size_t o = 0; o < O; o++) {
                int y = 0;
                for (size_t q = 0; q < nl; q++)
                    y |= lab[q] == (int32_t)o;
                loss -= y ? log(sg(z[o])) : log(1.0 - sg(z[o]));
            }
        } else {
            double mx = z[0], sum = 0.0;
            for (size_t o = 1; o < O; o++)
                mx = fmax(mx, z[o]);
            for (size_t o = 0; o < O; o++)
                sum += exp(z[o] - mx);
            loss -= z[lab[0]] - mx - log(sum);
        }
    }
    return loss / NSEQ;
}

/* Checks every tensor of the fixture's network against the reference;
 * returns the worst relative error. */
static double check_all(struct fixture *fx)
{
    struct kl_nn_tensor t[KL_NN_TENSORS_MAX];
    struct kl_nn_weights w;
    size_t total, nt = kl_nn_tensors(&fx->nn.c, &w, t, &total);
    size_t O = (size_t)fx->nn.c.nout;
    double *p = malloc(total * sizeof *p), *z = malloc(NSEQ * O * sizeof *z);
    double worst = 0.0, h = 1e-6;
    struct ref r;

    cr_assert(p && z);
    for (size_t i = 0; i < total; i++)
        p[i] = fx->params[i];
    ref_init(&r, &fx->nn.c);
    r.p = p;
    engine_grad(fx);
    ref_loss(&r, fx, z); /* the same function as the engine's? */
    for (size_t i = 0; i < NSEQ * O; i++)
        cr_assert_float_eq(z[i], fx->s.logits[i], 1e-5,
                           "logit %zu: reference %.7f, engine %.7f", i, z[i],
                           fx->s.logits[i]);
    for (size_t k = 0; k < nt; k++) {
        double da = 0, dn = 0, dd = 0, rel;
        for (size_t j = 0; j < t[k].size; j++) {
            size_t i = t[k].off + j;
            double a = fx->grad[i], keep = p[i], up, down, n;
            p[i] = keep + h;
            up = ref_loss(&r, fx, z);
            p[i] = keep - h;
            down = ref_loss(&r, fx, z);
            p[i] = keep;
            n = (up - down) / (2 * h);
            da += a * a;
            dn += n * n;
            dd += (a - n) * (a - n);
        }
        rel = sqrt(dd) / fmax(fmax(sqrt(da), sqrt(dn)), 1e-30);
        cr_log_info("%-26s %5zu values  |g| %.3e  rel err %.2e", t[k].name,
                    t[k].size, sqrt(da), rel);
        cr_expect_lt(rel, 1e-3, "tensor %s: relative error %.3e "
                     "(|analytic| %.3e, |numeric| %.3e)", t[k].name, rel,
                     sqrt(da), sqrt(dn));
        cr_expect_gt(sqrt(dn), 1e-6, "tensor %s: no gradient to check",
                     t[k].name);
        worst = fmax(worst, rel);
    }
    free(p);
    free(z);
    return worst;
}

static struct kl_nn_conf bilstm_conf(int layers, int pool, int head)
{
    struct kl_nn_conf c;

    memset(&c, 0, sizeof c);
    c.arch = KL_ARCH_BILSTM;
    c.rows = 12;
    c.dim = 5;
    c.vocab_offset = 2;
    c.oov_id = 1;
    c.max_len = 100;
    c.hidden = 4;
    c.layers = layers;
    c.pool = pool;
    c.head = head;
    c.nlabels = head == KL_NN_HEAD_BINARY ? 2 : 3;
    c.nout = head == KL_NN_HEAD_BINARY ? 1 : c.nlabels;
    return c;
}

static struct kl_nn_conf textcnn_conf(int head)
{
    struct kl_nn_conf c = bilstm_conf(1, 0, head);

    c.arch = KL_ARCH_TEXTCNN;
    c.channels = 4;
    c.nwidths = 3;
    c.widths[0] = 1;
    c.widths[1] = 2;
    c.widths[2] = 4;
    return c;
}

static void run(struct kl_nn_conf c, float scale)
{
    struct fixture fx;
    double worst;

    setup_net(&fx, &c, scale);
    worst = check_all(&fx);
    cr_log_info("worst relative error %.2e", worst);
    teardown_net(&fx);
}

Test(nn_grad, bilstm_last_softmax)
{
    run(bilstm_conf(1, KL_NN_POOL_LAST, KL_NN_HEAD_SOFTMAX), 0.5f);
}

Test(nn_grad, bilstm_two_layers_max_binary)
{
    run(bilstm_conf(2, KL_NN_POOL_MAX, KL_NN_HEAD_BINARY), 1.0f);
}

Test(nn_grad, bilstm_last_sigmoid_multilabel)
{
    run(bilstm_conf(1, KL_NN_POOL_LAST, KL_NN_HEAD_SIGMOID), 0.5f);
}

Test(nn_grad, textcnn_softmax)
{
    run(textcnn_conf(KL_NN_HEAD_SOFTMAX), 0.5f);
}

Test(nn_grad, textcnn_binary_no_pad_row)
{
    struct kl_nn_conf c = textcnn_conf(KL_NN_HEAD_BINARY);

    c.pad_id = -1; /* short texts padded with zeros, not a row */
    run(c, 0.5f);
}

/* Global-norm clipping as PyTorch's clip_grad_norm_ does it. */
Test(nn_grad, clipping_scales_to_max_norm)
{
    float g[4] = {3.0f, 4.0f, 0.0f, 0.0f};
    double n = kl_grad_clip(g, 4, 1.0f);

    cr_expect_float_eq(n, 5.0, 1e-9);
    cr_expect_float_eq(g[0], 0.6f, 1e-6);
    cr_expect_float_eq(g[1], 0.8f, 1e-6);
    n = kl_grad_clip(g, 4, 0.0f); /* 0 = no clipping */
    cr_expect_float_eq(g[0], 0.6f, 1e-6);
}

Test(nn_grad, adam_first_step_is_lr_times_sign)
{
    struct kl_adam a;
    float p[3] = {1.0f, 1.0f, 1.0f}, g[3] = {0.5f, -2.0f, 0.0f};

    cr_assert_eq(kl_adam_init(&a, 3, 0.1f), KL_OK);
    kl_adam_step(&a, p, g);
    /* bias-corrected first step: mhat / sqrt(vhat) = sign(g) */
    cr_expect_float_eq(p[0], 0.9f, 1e-5);
    cr_expect_float_eq(p[1], 1.1f, 1e-5);
    cr_expect_float_eq(p[2], 1.0f, 1e-7);
    kl_adam_fini(&a);
}
