/* Quantization-aware fine-tuning: LSQ, shared weights, refitted schemes
 * (see qat.h). */
#include "qat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftshared.h"

/* ALPHA: binary and ternary, signs (and TWN's threshold) from the latent
 * weights, alpha per block learned */
typedef enum { QAT_FLOAT, QAT_LSQ, QAT_SHARED, QAT_ALPHA, QAT_REFIT } qat_kind;

typedef struct {
    qb_ft_base base;       /* first: the shared input hook sees it */
    qb_model *m;
    const qb_prune_masks *masks;
    int n;
    qat_kind *kind;
    qb_quant_config *cfg;  /* per layer, for refits */
    float **fq;            /* per layer: the fake-quantized weights the forward uses */
    int32_t **codes;       /* QAT_SHARED: each weight's centroid */
    float **pgrad;         /* learned parameters' gradients (LSQ scales, centroids) */
    int64_t **count;       /* LSQ: values per block; shared: weights per centroid */
    float **range;         /* binary, ternary: each block's starting max |w|, the clip of the
                            * straight-through estimator */
    qb_ft_state state;     /* learned parameters and their momentum, checkpointed */
    float momentum;
} qat_ctx;

static float *layer_w(qat_ctx *c, int i) { return c->m->layers[i].params[QB_P_WEIGHT].value.data; }
static float *layer_g(qat_ctx *c, int i) { return c->m->layers[i].params[QB_P_WEIGHT].grad.data; }
static int64_t layer_n(qat_ctx *c, int i) { return qb_tensor_numel(&c->m->layers[i].params[QB_P_WEIGHT].value); }
static const float *layer_mask(qat_ctx *c, int i) { return c->masks ? c->masks->mask[i] : NULL; }

static int64_t n_learned(const qb_qparams *p, qat_kind k)
{
    return k == QAT_LSQ || k == QAT_ALPHA ? p->nblocks : k == QAT_SHARED ? p->nblocks << p->bits : 0;
}
static float *learned(qb_qparams *p, qat_kind k) { return k == QAT_SHARED ? p->codebook : p->scale; }

static const float *qat_weight(void *vc, int layer)
{
    qat_ctx *c = vc;
    return c->kind[layer] == QAT_FLOAT ? NULL : c->fq[layer];
}

/* TWN's threshold, 0.7 mean |w| per block, follows the latent weights. */
static void twn_thresholds(qb_qparams *p, const float *w, int64_t n, const int64_t *count)
{
    for (int64_t b = 0; b < p->nblocks; b++) p->threshold[b] = 0.0f;
    for (int64_t j = 0; j < n; j++) p->threshold[qb_qparams_block_of(p, j)] += fabsf(w[j]);
    for (int64_t b = 0; b < p->nblocks; b++)
        p->threshold[b] *= 0.7f / (float)(count[b] > 0 ? count[b] : 1);
}

static qb_status qat_begin_step(void *vc)
{
    qat_ctx *c = vc;
    qb_qmodel *q = c->base.q;
    for (int i = 0; i < c->n; i++) {
        if (c->kind[i] == QAT_FLOAT) continue;
        float *w = layer_w(c, i), *fq = c->fq[i];
        int64_t n = layer_n(c, i);
        qb_qparams *p = &q->wq[i];
        qb_status s = QB_OK;
        if (c->kind[i] == QAT_SHARED) {
            int k = 1 << p->bits;
            for (int64_t j = 0; j < n; j++) fq[j] = p->codebook[qb_qparams_block_of(p, j) * k + c->codes[i][j]];
        } else {
            if (c->kind[i] == QAT_REFIT) {
                int64_t shape[2] = {p->shape[0], p->shape[1]};
                qb_qparams_free(p);
                s = qb_qparams_fit(p, &c->cfg[i], w, 2, shape);
            }
            if (c->kind[i] == QAT_ALPHA && p->threshold) twn_thresholds(p, w, n, c->count[i]);
            if (s == QB_OK) s = qb_fake_quantize(p, w, n, fq);
        }
        if (s != QB_OK) return qb_error_context(s, "fake-quantizing %s", c->m->layers[i].name);
        qb_ft_mask(fq, layer_mask(c, i), n);
    }
    return QB_OK;
}

/* w^ = code * alpha: d w^/d alpha is the code (-1, 0, +1), the gradient
 * scaled by 1/sqrt(block size) as LSQ's with one positive level. */
static void alpha_grads(qat_ctx *c, int i)
{
    qb_qparams *p = &c->base.q->wq[i];
    const float *fq = c->fq[i], *g = layer_g(c, i);
    float *ga = c->pgrad[i];
    int64_t n = layer_n(c, i), *cnt = c->count[i];
    for (int64_t b = 0; b < p->nblocks; b++) ga[b] = 0.0f;
    for (int64_t j = 0; j < n; j++) {
        int64_t b = qb_qparams_block_of(p, j);
        ga[b] += g[j] * (fq[j] > 0.0f ? 1.0f : fq[j] < 0.0f ? -1.0f : 0.0f);
    }
    for (int64_t b = 0; b < p->nblocks; b++) ga[b] /= sqrtf((float)(cnt[b] > 0 ? cnt[b] : 1));
}

/* LSQ: d w^/d s is (round(w/s) - w/s) inside the range and the clipped
 * level outside, where d w^/d w is 0. */
static void lsq_grads(qat_ctx *c, int i)
{
    qb_qparams *p = &c->base.q->wq[i];
    float *w = layer_w(c, i), *g = layer_g(c, i), *gs = c->pgrad[i];
    int64_t n = layer_n(c, i), *cnt = c->count[i];
    for (int64_t b = 0; b < p->nblocks; b++) gs[b] = 0.0f;
    for (int64_t j = 0; j < n; j++) {
        int64_t b = qb_qparams_block_of(p, j);
        float s = p->scale[b], t = w[j] / s, r = rintf(t);
        int32_t z = p->zero_point ? p->zero_point[b] : 0;
        float code = r + (float)z, d;
        if (code < (float)p->qmin) {
            d = (float)(p->qmin - z);
            gs[b] += g[j] * d;
            g[j] = 0.0f;
        } else if (code > (float)p->qmax) {
            d = (float)(p->qmax - z);
            gs[b] += g[j] * d;
            g[j] = 0.0f;
        } else {
            gs[b] += g[j] * (r - t);
        }
    }
    for (int64_t b = 0; b < p->nblocks; b++) {
        int32_t z = p->zero_point ? p->zero_point[b] : 0;
        double qp = (double)(p->qmax - z) > 1 ? (double)(p->qmax - z) : 1.0;
        gs[b] *= (float)(1.0 / sqrt((double)(cnt[b] > 0 ? cnt[b] : 1) * qp));
    }
}

/* Binary and ternary keep their latent weights within each block's
 * starting range (BinaryConnect's clip; XNOR-Net's hardtanh estimator:
 * no gradient beyond it): unclipped, weights the sign function ignores
 * drift without bound. With alpha learned too, ResNet-20 binary (first and
 * last layers at 8 bits, one epoch) lost 3.57 pp instead of 10.65. */
static int clipped(const qb_qparams *p)
{
    return p->scheme->id == QB_SCHEME_BINARY || p->scheme->id == QB_SCHEME_TERNARY;
}

static void clip_weights(qat_ctx *c, int i, float *g)
{
    const qb_qparams *p = &c->base.q->wq[i];
    float *w = layer_w(c, i);
    int64_t n = layer_n(c, i);
    for (int64_t j = 0; j < n; j++) {
        float r = c->range[i][qb_qparams_block_of(p, j)];
        if (g) {
            if (fabsf(w[j]) > r) g[j] = 0.0f;
        } else {
            w[j] = fminf(fmaxf(w[j], -r), r);
        }
    }
}

static qb_status qat_after_backward(void *vc)
{
    qat_ctx *c = vc;
    for (int i = 0; i < c->n; i++) {
        if (c->kind[i] == QAT_FLOAT) continue;
        float *g = layer_g(c, i);
        int64_t n = layer_n(c, i);
        qb_ft_mask(g, layer_mask(c, i), n);
        if (c->kind[i] == QAT_ALPHA) alpha_grads(c, i); /* before the clip zeroes g */
        if (c->range[i]) clip_weights(c, i, g);
        if (c->kind[i] == QAT_LSQ) {
            lsq_grads(c, i);
        } else if (c->kind[i] == QAT_SHARED) {
            qb_qparams *p = &c->base.q->wq[i];
            int k = 1 << p->bits;
            memset(c->pgrad[i], 0, (size_t)(p->nblocks * k) * sizeof(float));
            for (int64_t j = 0; j < n; j++) {
                c->pgrad[i][qb_qparams_block_of(p, j) * k + c->codes[i][j]] += g[j];
                g[j] = 0.0f; /* the shared values learn, not the weights */
            }
            /* the sum scaled by 1/sqrt(members): a centroid shared by
             * thousands of weights would otherwise take steps thousands of
             * times a weight's (SGD at the weights' rate diverges), while
             * the plain mean barely moves it */
            for (int64_t b = 0; b < p->nblocks * k; b++)
                c->pgrad[i][b] /= sqrtf((float)(c->count[i][b] > 0 ? c->count[i][b] : 1));
        }
    }
    return QB_OK;
}

static qb_status qat_after_step(void *vc, float lr)
{
    qat_ctx *c = vc;
    for (int i = 0; i < c->n; i++) {
        if (c->kind[i] == QAT_FLOAT) continue;
        qb_ft_mask(layer_w(c, i), layer_mask(c, i), layer_n(c, i));
        if (c->range[i]) clip_weights(c, i, NULL);
        if (c->kind[i] == QAT_REFIT) continue;
        qb_qparams *p = &c->base.q->wq[i];
        float *v = learned(p, c->kind[i]), *mom = qb_ft_state_momentum(&c->state, i);
        for (int64_t b = 0; b < n_learned(p, c->kind[i]); b++) {
            mom[b] = c->momentum * mom[b] + c->pgrad[i][b];
            v[b] -= lr * mom[b];
            if (c->kind[i] != QAT_SHARED && v[b] < 1e-8f) v[b] = 1e-8f;
        }
    }
    return QB_OK;
}

static void ctx_free(qat_ctx *c)
{
    for (int i = 0; i < c->n; i++) {
        if (c->fq) free(c->fq[i]);
        if (c->codes) free(c->codes[i]);
        if (c->pgrad) free(c->pgrad[i]);
        if (c->count) free(c->count[i]);
        if (c->range) free(c->range[i]);
    }
    free(c->kind);
    free(c->cfg);
    free(c->fq);
    free(c->codes);
    free(c->pgrad);
    free(c->count);
    free(c->range);
    qb_ft_state_free(&c->state);
}

static qb_status ctx_init(qat_ctx *c, qb_model *m, qb_qmodel *q, const qb_prune_masks *masks,
                          float momentum)
{
    memset(c, 0, sizeof *c);
    c->base.q = q;
    c->m = m;
    c->masks = masks;
    c->momentum = momentum;
    c->n = m->n_layers;
    size_t n = (size_t)c->n;
    c->kind = qb_calloc(n, sizeof *c->kind);
    c->cfg = qb_calloc(n, sizeof *c->cfg);
    c->fq = qb_calloc(n, sizeof *c->fq);
    c->codes = qb_calloc(n, sizeof *c->codes);
    c->pgrad = qb_calloc(n, sizeof *c->pgrad);
    c->count = qb_calloc(n, sizeof *c->count);
    c->range = qb_calloc(n, sizeof *c->range);
    if (!c->kind || !c->cfg || !c->fq || !c->codes || !c->pgrad || !c->count || !c->range ||
        qb_ft_state_init(&c->state, c->n) != QB_OK)
        return QB_ERR_NOMEM;
    for (int i = 0; i < c->n; i++) {
        if (!qb_layer_has_weights(&m->layers[i]) || q->wbits[i] == QB_FLOAT_BITS) continue;
        qb_qparams *p = &q->wq[i];
        int64_t nw = layer_n(c, i);
        c->kind[i] = p->scheme->affine ? QAT_LSQ : p->scheme->id == QB_SCHEME_KMEANS ? QAT_SHARED
                     : clipped(p) ? QAT_ALPHA : QAT_REFIT;
        c->cfg[i] = (qb_quant_config){.scheme = p->scheme, .bits = p->bits, .narrow_range = p->narrow,
                                      .gran = p->gran, .rounding = p->rounding};
        c->fq[i] = qb_malloc((size_t)nw, sizeof(float));
        if (!c->fq[i]) return QB_ERR_NOMEM;
        int64_t nl = n_learned(p, c->kind[i]);
        if (nl > 0) {
            c->pgrad[i] = qb_calloc((size_t)nl, sizeof(float));
            if (!c->pgrad[i]) return QB_ERR_NOMEM;
            const char *what = c->kind[i] == QAT_SHARED ? "codebook" : "scale";
            qb_status s = qb_ft_state_add(&c->state, i, "qat", what,
                                          m->layers[i].params[QB_P_WEIGHT].name, learned(p, c->kind[i]), nl, 1);
            if (s != QB_OK) return s;
        }
        if (c->kind[i] == QAT_LSQ || c->kind[i] == QAT_ALPHA) {
            c->count[i] = qb_calloc((size_t)p->nblocks, sizeof(int64_t));
            if (!c->count[i]) return QB_ERR_NOMEM;
            for (int64_t j = 0; j < nw; j++) c->count[i][qb_qparams_block_of(p, j)]++;
        }
        if (c->kind[i] == QAT_ALPHA) {
            c->range[i] = qb_calloc((size_t)p->nblocks, sizeof(float));
            if (!c->range[i]) return QB_ERR_NOMEM;
            const float *w = layer_w(c, i);
            for (int64_t j = 0; j < nw; j++) {
                float *r = &c->range[i][qb_qparams_block_of(p, j)];
                *r = fmaxf(*r, fabsf(w[j]));
            }
        }
        if (c->kind[i] == QAT_SHARED) {
            c->codes[i] = qb_malloc((size_t)nw, sizeof(int32_t));
            if (!c->codes[i]) return QB_ERR_NOMEM;
            qb_status s = qb_quantize(p, layer_w(c, i), nw, c->codes[i]);
            if (s != QB_OK) return s;
            int k = 1 << p->bits;
            c->count[i] = qb_calloc((size_t)(p->nblocks * k), sizeof(int64_t));
            if (!c->count[i]) return QB_ERR_NOMEM;
            for (int64_t j = 0; j < nw; j++) c->count[i][qb_qparams_block_of(p, j) * k + c->codes[i][j]]++;
        }
    }
    return QB_OK;
}

/* k-means codebooks must stay ascending for the quantizer: sort each
 * block's centroids (the weights keep their values, so their codes follow). */
static void sort_codebooks(qb_qparams *p)
{
    int k = 1 << p->bits;
    for (int64_t b = 0; b < p->nblocks; b++) qb_sort_floats(p->codebook + b * k, k);
}

qb_status qb_qat(qb_model *m, qb_qmodel *q, const qb_prune_masks *masks, const qb_fmnist *data,
                 const qb_finetune_options *o, qb_finetune_result *res)
{
    qat_ctx c;
    qb_status s = ctx_init(&c, m, q, masks, o->recipe.momentum);
    if (s != QB_OK) {
        ctx_free(&c);
        return s;
    }
    qb_finetune_hooks h = {.ctx = &c,
                           .exec = {.ctx = &c, .input = qb_ft_input, .weight = qat_weight},
                           .begin_step = qat_begin_step,
                           .after_backward = qat_after_backward,
                           .after_step = qat_after_step,
                           .state = c.state.named,
                           .n_state = c.state.n};
    s = qb_finetune(m, data, o, &h, res);
    if (s == QB_OK) s = c.base.status;
    if (s == QB_OK && res->stopped) { /* not finished: q stays as it was */
        ctx_free(&c);
        return QB_OK;
    }
    if (s == QB_OK) s = qat_begin_step(&c); /* the final quantized weights */
    if (s == QB_OK) {
        for (int i = 0; i < c.n; i++)
            if (c.kind[i] == QAT_SHARED) sort_codebooks(&q->wq[i]);
        s = qb_ft_refresh(q, m, c.fq);
    }
    ctx_free(&c);
    return s;
}
