/* AdaRound / GPTQ over a quantized model, layer by layer (see layerround.h). */
#include "layerround.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adaround.h"
#include "gemm.h"
#include "gptq.h"
#include "layers.h"
#include "layerwise.h"
#include "qforward.h"

typedef struct {
    const qb_layer *l;
    int layer;
    int64_t k;
    float *hf;  /* (k, k) this batch's sum */
    float *col; /* one image's patches (conv) */
    double *h;
} hess_ctx;

static qb_status add_inputs(void *vc, int layer, const float *x, int batch)
{
    hess_ctx *c = vc;
    if (layer != c->layer) return QB_OK;
    const qb_layer *l = c->l;
    int64_t k = c->k;
    memset(c->hf, 0, (size_t)(k * k) * sizeof *c->hf);
    if (l->kind == QB_LAYER_DENSE) {
        qb_sgemm(1, 0, k, k, batch, 1.0f, x, k, x, k, 0.0f, c->hf, k);
    } else {
        int64_t p = (int64_t)l->h * l->w, in = qb_layer_in_numel(l);
        for (int b = 0; b < batch; b++) {
            qb_conv_im2col(l, x + b * in, c->col);
            qb_sgemm(0, 1, k, k, p, 1.0f, c->col, p, c->col, p, 1.0f, c->hf, k);
        }
    }
    for (int64_t i = 0; i < k * k; i++) c->h[i] += c->hf[i];
    return QB_OK;
}

qb_status qb_layer_hessian(qb_qmodel *q, int layer, const qb_images *images, qb_pool *pool,
                           double **h, int64_t *k)
{
    const qb_layer *l = &q->model.layers[layer];
    const qb_tensor *w = &l->params[QB_P_WEIGHT].value;
    hess_ctx c = {l, layer, qb_tensor_numel(w) / w->shape[0], NULL, NULL, NULL};
    c.hf = qb_malloc((size_t)(c.k * c.k), sizeof *c.hf);
    c.h = qb_calloc((size_t)(c.k * c.k), sizeof *c.h);
    if (l->kind == QB_LAYER_CONV) c.col = qb_malloc((size_t)qb_conv_col_size(l), sizeof *c.col);
    qb_status s = QB_OK;
    if (!c.hf || !c.h || (l->kind == QB_LAYER_CONV && !c.col)) s = QB_ERR_NOMEM;
    qb_taps taps = {.ctx = &c, .input = add_inputs};
    if (s == QB_OK) s = qb_forward_qmodel(q, images, pool, &taps, NULL, NULL);
    free(c.hf);
    free(c.col);
    if (s != QB_OK) {
        free(c.h);
        return s;
    }
    *h = c.h;
    *k = c.k;
    return QB_OK;
}

/* New weights for layer i of q from the float weights w (rows, k). */
static qb_status round_layer(qb_qmodel *q, int i, const float *w, int64_t rows, int64_t k,
                             const double *h, qb_weight_method method, int iters, qb_pool *pool,
                             double *e0, double *e1)
{
    qb_qparams *p = &q->wq[i];
    float *out = q->model.layers[i].params[QB_P_WEIGHT].value.data;
    int64_t n = rows * k;
    qb_status s;
    if (method == QB_ROUNDING_GPTQ) {
        qb_gptq_options o;
        qb_gptq_options_init(&o);
        s = qb_gptq(p, w, rows, k, h, &o, NULL, out);
    } else {
        qb_adaround_options o;
        qb_adaround_options_init(&o);
        o.gemm = qb_sgemm;
        o.pool = pool;
        if (iters > 0) o.iters = iters;
        uint8_t *dir = qb_malloc((size_t)n, 1);
        int32_t *codes = qb_malloc((size_t)n, sizeof *codes);
        s = dir && codes ? QB_OK : QB_ERR_NOMEM;
        if (s == QB_OK) s = qb_adaround(p, w, rows, k, h, &o, dir, NULL);
        if (s == QB_OK) s = qb_quantize_directed(p, w, n, dir, codes);
        if (s == QB_OK) s = qb_dequantize(p, codes, n, out);
        free(dir);
        free(codes);
    }
    if (s != QB_OK) return s;
    float *near = qb_malloc((size_t)n, sizeof *near);
    if (!near) return QB_ERR_NOMEM;
    if ((s = qb_fake_quantize(p, w, n, near)) == QB_OK) {
        *e0 = qb_recon_error(w, near, rows, k, h);
        *e1 = qb_recon_error(w, out, rows, k, h);
    }
    free(near);
    return s;
}

qb_status qb_layer_rounding(qb_qmodel *q, const qb_model *ref, qb_weight_method method,
                            int adaround_iters, const qb_images *calib, qb_pool *pool, FILE *log,
                            double *err_nearest, double *err_corrected)
{
    if (method != QB_ROUNDING_ADAROUND && method != QB_ROUNDING_GPTQ)
        return qb_error(QB_ERR_INTERNAL, "layer rounding: method %d is not adaround or gptq", method);
    for (int i = 0; i < q->model.n_layers; i++) {
        if (err_nearest) err_nearest[i] = err_corrected[i] = NAN;
        const qb_layer *l = &q->model.layers[i];
        if (!qb_layer_has_weights(l) || q->wbits[i] == QB_FLOAT_BITS) continue;
        const qb_tensor *w = &ref->layers[i].params[QB_P_WEIGHT].value;
        double *h, e0 = NAN, e1 = NAN;
        int64_t k;
        qb_status s = qb_layer_hessian(q, i, calib, pool, &h, &k);
        if (s == QB_OK) s = round_layer(q, i, w->data, w->shape[0], k, h, method, adaround_iters, pool, &e0, &e1);
        free(h);
        if (s != QB_OK) return qb_error_context(s, "%s of layer %s",
                                                method == QB_ROUNDING_GPTQ ? "GPTQ" : "AdaRound", l->name);
        if (err_nearest) {
            err_nearest[i] = e0;
            err_corrected[i] = e1;
        }
        if (log) {
            fprintf(log, "%s %s: reconstruction error %.4g -> %.4g (%.1f%%)\n",
                    method == QB_ROUNDING_GPTQ ? "gptq" : "adaround", l->name, e0, e1,
                    e0 > 0 ? 100.0 * e1 / e0 : 100.0);
            fflush(log);
        }
    }
    return QB_OK;
}
