/* Quantized evaluation (see qeval.h). */
#include "qeval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "layers.h"
#include "metrics.h"
#include "modelfile.h"
#include "stats.h"

#define EVAL_BATCH QB_QEVAL_BATCH

struct qb_qeval {
    qb_model model;        /* folded fp32 */
    const qb_fmnist *data;
    qb_pool *pool;
    float *fp32_logits;    /* (test n, classes) */
    int *labels;           /* (test n) */
    double fp32_accuracy;
    qb_observer **obs;     /* per layer: input observer (conv/dense), else NULL */
    int first, last;       /* first and last conv/dense layer */
};

/* --- configuration -------------------------------------------------------- */

qb_status qb_qeval_config_parse(qb_qeval_config *c, const char *scheme, int wbits, int abits,
                                const char *granularity, const char *calib, const char *ascheme)
{
    memset(c, 0, sizeof *c);
    c->only_layer = -1;
    c->wbits = wbits;
    c->abits = abits;
    const qb_scheme *ws = qb_scheme_find(scheme);
    if (!ws) return QB_ERR_ARG;
    if (!ascheme) ascheme = ws->format ? ws->name : "uniform-asym";
    /* Entropy calibration is defined on activation histograms (TensorRT, and
     * ONNX Runtime's Entropy method, calibrate weights by their maximum):
     * a channel's few hundred weights spread over 2048 bins give a noisy
     * histogram, and the thresholds it picked cost up to 10 pp at W4. */
    const char *wcalib = calib && strcmp(calib, "kl") == 0 ? "minmax" : calib;
    qb_status s = qb_quant_config_parse(&c->weights, scheme, wbits == QB_FLOAT_BITS ? 0 : wbits,
                                        granularity, wcalib, NULL);
    if (s != QB_OK) return qb_error_context(s, "weights");
    if ((s = qb_quant_config_parse(&c->activations, ascheme, abits == QB_FLOAT_BITS ? 0 : abits,
                                   "tensor", calib, NULL)) != QB_OK)
        return qb_error_context(s, "activations (--abits %d, scheme %s)", abits, ascheme);
    return QB_OK;
}

/* --- opening: fp32 reference and observers --------------------------------- */

const qb_model *qb_qeval_model(const qb_qeval *ev) { return &ev->model; }
double qb_qeval_fp32_accuracy(const qb_qeval *ev) { return ev->fp32_accuracy; }

const qb_observer *qb_qeval_observer(const qb_qeval *ev, int layer)
{
    return layer >= 0 && layer < ev->model.n_layers ? ev->obs[layer] : NULL;
}

const qb_fmnist *qb_qeval_data(const qb_qeval *ev) { return ev->data; }
qb_pool *qb_qeval_pool(const qb_qeval *ev) { return ev->pool; }

void qb_qeval_first_last(const qb_qeval *ev, int *first, int *last)
{
    *first = ev->first;
    *last = ev->last;
}

uint64_t qb_qeval_fp32_size(const qb_qeval *ev)
{
    uint64_t n = 0;
    for (int i = 0; i < ev->model.n_layers; i++)
        for (int p = 0; p < ev->model.layers[i].n_params; p++)
            if (ev->model.layers[i].params[p].value.data)
                n += qb_tensor_bytes(&ev->model.layers[i].params[p].value);
    return n;
}

static void observe_input(void *ctx, int layer, float *x, int batch)
{
    qb_qeval *ev = ctx;
    qb_observer_update(ev->obs[layer], x, (int64_t)batch * qb_layer_in_numel(&ev->model.layers[layer]));
}

qb_status qb_images_forward(qb_model *m, const qb_images *images, qb_pool *pool,
                            const qb_exec_hooks *hooks, qb_batch_fn fn, void *ctx)
{
    qb_exec *e;
    qb_status s = qb_exec_create(&e, m, EVAL_BATCH, pool, QB_EXEC_INFER);
    if (s != QB_OK) return s;
    qb_exec_set_hooks(e, hooks);
    int64_t per = (int64_t)images->c * images->h * images->w;
    float *x = qb_malloc((size_t)(EVAL_BATCH * per), sizeof *x);
    if (!x) s = QB_ERR_NOMEM;
    for (int b = 0; s == QB_OK && b < images->n; b += EVAL_BATCH) {
        int n = images->n - b < EVAL_BATCH ? images->n - b : EVAL_BATCH;
        int idx[EVAL_BATCH];
        for (int i = 0; i < n; i++) idx[i] = b + i;
        qb_images_batch(images, idx, n, x, NULL);
        if ((s = qb_exec_forward(e, x, n)) == QB_OK) s = fn(ctx, b, n, qb_exec_logits(e));
    }
    free(x);
    qb_exec_free(e);
    return s;
}

static qb_status keep_fp32_logits(void *ctx, int first, int n, const float *logits)
{
    qb_qeval *ev = ctx;
    memcpy(ev->fp32_logits + (int64_t)first * ev->model.n_classes, logits,
           (size_t)(n * ev->model.n_classes) * sizeof *logits);
    return QB_OK;
}

static qb_status ignore_logits(void *ctx, int first, int n, const float *logits)
{
    (void)ctx, (void)first, (void)n, (void)logits;
    return QB_OK;
}

qb_status qb_qeval_open(qb_qeval **out, const char *model_path, const qb_fmnist *data,
                        qb_pool *pool)
{
    *out = NULL;
    qb_qeval *ev = qb_calloc(1, sizeof *ev);
    if (!ev) return QB_ERR_NOMEM;
    ev->data = data;
    ev->pool = pool;
    qb_model trained;
    qb_status s = qb_model_load(model_path, &trained, NULL, NULL);
    if (s != QB_OK) {
        free(ev);
        return s;
    }
    s = qb_model_fold_bn(&trained, &ev->model);
    qb_model_free(&trained);
    if (s != QB_OK) {
        free(ev);
        return s;
    }
    const qb_model *m = &ev->model;
    const qb_images *t = &data->test;
    if (t->c != m->in_c || t->h != m->in_h || t->w != m->in_w || t->n_classes != m->n_classes) {
        s = qb_error(QB_ERR_ARG,
                     "%s: the model takes %dx%dx%d images and %d classes; the data has %dx%dx%d "
                     "and %d",
                     model_path, m->in_c, m->in_h, m->in_w, m->n_classes, t->c, t->h, t->w,
                     t->n_classes);
        goto fail;
    }
    ev->first = ev->last = -1;
    for (int i = 0; i < m->n_layers; i++)
        if (qb_layer_has_weights(&m->layers[i])) {
            if (ev->first < 0) ev->first = i;
            ev->last = i;
        }
    ev->fp32_logits = qb_malloc((size_t)t->n * (size_t)m->n_classes, sizeof(float));
    ev->labels = qb_malloc((size_t)t->n, sizeof(int));
    ev->obs = qb_calloc((size_t)m->n_layers, sizeof *ev->obs);
    if (!ev->fp32_logits || !ev->labels || !ev->obs) {
        s = QB_ERR_NOMEM;
        goto fail;
    }
    for (int i = 0; i < t->n; i++) ev->labels[i] = t->labels[i];
    if ((s = qb_images_forward(&ev->model, t, pool, NULL, keep_fp32_logits, ev)) != QB_OK) goto fail;
    long right = 0;
    for (int i = 0; i < t->n; i++)
        right += qb_argmax(ev->fp32_logits + (int64_t)i * m->n_classes, m->n_classes) == ev->labels[i];
    ev->fp32_accuracy = 100.0 * (double)right / t->n;

    for (int i = 0; i < m->n_layers; i++)
        if (qb_layer_has_weights(&m->layers[i]) && (s = qb_observer_create(&ev->obs[i])) != QB_OK)
            goto fail;
    qb_exec_hooks h = {.ctx = ev, .input = observe_input};
    if ((s = qb_images_forward(&ev->model, &data->calib, pool, &h, ignore_logits, NULL)) != QB_OK) goto fail;
    *out = ev;
    return QB_OK;
fail:
    qb_qeval_close(ev);
    return s;
}

void qb_qeval_close(qb_qeval *ev)
{
    if (!ev) return;
    if (ev->obs)
        for (int i = 0; i < ev->model.n_layers; i++) qb_observer_free(ev->obs[i]);
    free(ev->obs);
    free(ev->fp32_logits);
    free(ev->labels);
    qb_model_free(&ev->model);
    free(ev);
}

/* --- quantizing ------------------------------------------------------------ */

void qb_qmodel_free(qb_qmodel *q)
{
    if (!q) return;
    for (int i = 0; i < q->model.n_layers; i++) {
        if (q->wq) qb_qparams_free(&q->wq[i]);
        if (q->aq) qb_qparams_free(&q->aq[i]);
    }
    free(q->wq);
    free(q->aq);
    free(q->wbits);
    free(q->abits);
    qb_model_free(&q->model);
    memset(q, 0, sizeof *q);
}

/* The config a layer gets: the run's, or for first/last layers the kept
 * width (in the same scheme when it takes that width). */
static qb_status layer_config(const qb_qeval *ev, const qb_qeval_config *c, int i,
                              qb_quant_config *w, qb_quant_config *a, int *wbits, int *abits)
{
    *w = c->weights;
    *a = c->activations;
    *wbits = c->wbits;
    *abits = c->abits;
    if (c->only_layer >= 0 && c->only_layer != i) {
        *wbits = *abits = QB_FLOAT_BITS;
        return QB_OK;
    }
    if (c->keep_first_last > 0 && (i == ev->first || i == ev->last)) {
        int k = c->keep_first_last;
        *wbits = *abits = k;
        if (k == QB_FLOAT_BITS) return QB_OK;
        if (!qb_scheme_accepts_bits(w->scheme, k)) {
            qb_quant_config keep = *w;
            qb_quant_config_init(&keep, qb_scheme_find("uniform-sym"));
            keep.gran = w->gran;
            keep.calib = w->calib;
            *w = keep;
        }
        if (!qb_scheme_accepts_bits(a->scheme, k)) {
            qb_calib cal = a->calib;
            qb_quant_config_init(a, qb_scheme_find("uniform-asym"));
            a->calib = cal;
        }
        w->bits = a->bits = k;
    } else {
        w->bits = *wbits;
        a->bits = *abits;
    }
    if (c->layer_wbits && c->layer_wbits[i] > 0) {
        *wbits = c->layer_wbits[i];
        if (*wbits != QB_FLOAT_BITS) w->bits = *wbits;
    }
    qb_status s = QB_OK;
    if (*wbits != QB_FLOAT_BITS && (s = qb_quant_config_check(w)) != QB_OK)
        return qb_error_context(s, "layer %s weights", ev->model.layers[i].name);
    if (*abits != QB_FLOAT_BITS && (s = qb_quant_config_check(a)) != QB_OK)
        return qb_error_context(s, "layer %s inputs", ev->model.layers[i].name);
    return QB_OK;
}

qb_status qb_qeval_quantize(const qb_qeval *ev, const qb_qeval_config *c, qb_qmodel *q)
{
    return qb_qeval_quantize_from(ev, &ev->model, ev->obs, c, q);
}

qb_status qb_qeval_quantize_from(const qb_qeval *ev, const qb_model *m, qb_observer *const *obs,
                                 const qb_qeval_config *c, qb_qmodel *q)
{
    memset(q, 0, sizeof *q);
    if (m->n_layers != ev->model.n_layers)
        return qb_error(QB_ERR_ARG, "the model to quantize has %d layers; %s has %d", m->n_layers,
                        ev->model.arch, ev->model.n_layers);
    if (c->only_layer >= 0 &&
        (c->only_layer >= m->n_layers || !qb_layer_has_weights(&m->layers[c->only_layer])))
        return qb_error(QB_ERR_ARG, "layer %d of %s is not a conv or dense layer", c->only_layer,
                        m->arch);
    qb_status s = qb_model_clone(m, &q->model);
    if (s != QB_OK) return s;
    size_t n = (size_t)m->n_layers;
    q->wbits = qb_malloc(n, sizeof *q->wbits);
    q->abits = qb_malloc(n, sizeof *q->abits);
    q->wq = qb_calloc(n, sizeof *q->wq);
    q->aq = qb_calloc(n, sizeof *q->aq);
    if (!q->wbits || !q->abits || !q->wq || !q->aq) {
        qb_qmodel_free(q);
        return QB_ERR_NOMEM;
    }
    for (int i = 0; i < m->n_layers; i++) {
        qb_layer *l = &q->model.layers[i];
        q->wbits[i] = q->abits[i] = QB_FLOAT_BITS;
        for (int p = 0; p < l->n_params; p++)
            if (l->params[p].value.data) q->size_bytes += qb_tensor_bytes(&l->params[p].value);
        if (!qb_layer_has_weights(l)) continue;
        qb_quant_config wc, ac;
        if ((s = layer_config(ev, c, i, &wc, &ac, &q->wbits[i], &q->abits[i])) != QB_OK) break;
        qb_tensor *w = &l->params[QB_P_WEIGHT].value;
        int64_t numel = qb_tensor_numel(w), shape2[2] = {w->shape[0], numel / w->shape[0]};
        if (q->wbits[i] != QB_FLOAT_BITS) {
            if ((s = qb_qparams_fit(&q->wq[i], &wc, w->data, 2, shape2)) != QB_OK ||
                (s = qb_fake_quantize(&q->wq[i], w->data, numel, w->data)) != QB_OK) {
                qb_error_context(s, "quantizing %s", l->params[QB_P_WEIGHT].name);
                break;
            }
            q->size_bytes += qb_qparams_size_bytes(&q->wq[i], numel) - qb_tensor_bytes(w);
        }
        if (q->abits[i] != QB_FLOAT_BITS) {
            if ((s = qb_qparams_from_observer(&q->aq[i], &ac, obs[i])) != QB_OK) {
                qb_error_context(s, "calibrating the input of %s", l->name);
                break;
            }
            q->size_bytes += qb_qparams_size_bytes(&q->aq[i], 0);
        }
    }
    if (s != QB_OK) qb_qmodel_free(q);
    return s;
}

/* --- evaluating ------------------------------------------------------------ */

typedef struct {
    const qb_qeval *ev;
    const qb_qmodel *q;
    qb_qeval_result *res;
    qb_status status;
    float *orig;          /* copy of the input before fake-quantization */
    int64_t orig_cap;
    int64_t right, agree;
    double kl;
    /* the current hook call, for the parallel part */
    const qb_qparams *p;
    float *x;
    int64_t n;
    double signal[64], noise[64]; /* per thread partial sums */
    qb_status tstatus[64];
} eval_ctx;

/* Fake-quantizes this thread's share of c->x in place; with
 * measure_inputs, also sums the signal and the error it made. */
static void fake_quant_task(void *ctx, int tid, int nt)
{
    eval_ctx *c = ctx;
    int64_t b, e;
    qb_split_range(c->n, tid, nt, &b, &e);
    if (!c->q->measure_inputs) {
        c->tstatus[tid] = qb_fake_quantize(c->p, c->x + b, e - b, c->x + b);
        return;
    }
    memcpy(c->orig + b, c->x + b, (size_t)(e - b) * sizeof(float));
    c->tstatus[tid] = qb_fake_quantize(c->p, c->orig + b, e - b, c->x + b);
    double s = 0, z = 0;
    for (int64_t j = b; j < e; j++) {
        double d = (double)c->x[j] - c->orig[j];
        s += (double)c->orig[j] * c->orig[j];
        z += d * d;
    }
    c->signal[tid] = s;
    c->noise[tid] = z;
}

static void quantize_input(void *ctx, int layer, float *x, int batch)
{
    eval_ctx *c = ctx;
    if (c->status != QB_OK || c->q->abits[layer] == QB_FLOAT_BITS) return;
    int64_t n = (int64_t)batch * qb_layer_in_numel(&c->q->model.layers[layer]);
    if (c->q->measure_inputs && n > c->orig_cap) {
        free(c->orig);
        c->orig = qb_malloc((size_t)n, sizeof(float));
        c->orig_cap = c->orig ? n : 0;
        if (!c->orig) {
            c->status = QB_ERR_NOMEM;
            return;
        }
    }
    c->p = &c->q->aq[layer];
    c->x = x;
    c->n = n;
    int nt = c->ev->pool && n >= 8192 ? qb_pool_size(c->ev->pool) : 1;
    if (nt > 64) nt = 64;
    memset(c->signal, 0, sizeof c->signal);
    memset(c->noise, 0, sizeof c->noise);
    if (nt > 1)
        qb_pool_run(c->ev->pool, fake_quant_task, c);
    else
        fake_quant_task(c, 0, 1);
    for (int t = 0; t < nt; t++) {
        if (c->tstatus[t] != QB_OK && c->status == QB_OK) c->status = c->tstatus[t];
        c->res->act_signal[layer] += c->signal[t];
        c->res->act_noise[layer] += c->noise[t];
    }
}

static void softmax(const float *z, int k, double *p)
{
    double mx = z[qb_argmax(z, k)], sum = 0;
    for (int j = 0; j < k; j++) sum += p[j] = exp((double)z[j] - mx);
    for (int j = 0; j < k; j++) p[j] /= sum;
}

static qb_status score_batch(void *ctx, int first, int n, const float *logits)
{
    eval_ctx *c = ctx;
    if (c->status != QB_OK) return c->status;
    int k = c->ev->model.n_classes;
    double p[64], r[64];
    for (int i = 0; i < n; i++) {
        int img = first + i;
        const float *zq = logits + (int64_t)i * k, *zf = c->ev->fp32_logits + (int64_t)img * k;
        int top = qb_argmax(zq, k);
        if (top == c->ev->labels[img]) {
            c->right++;
            c->res->correct[img >> 3] |= (uint8_t)(1u << (img & 7));
        }
        c->agree += top == qb_argmax(zf, k);
        softmax(zf, k, p);
        softmax(zq, k, r);
        for (int j = 0; j < k; j++)
            if (p[j] > 0) c->kl += p[j] * (log(p[j]) - log(r[j] > 1e-300 ? r[j] : 1e-300));
    }
    return QB_OK;
}

void qb_paired_drop_ci(long long b, long long c, long long n, double *lo, double *hi)
{
    double nn = (double)n + 2.0, p12 = (b + 0.5) / nn, p21 = (c + 0.5) / nn;
    double d = p12 - p21, se = sqrt(((p12 + p21) - d * d) / nn);
    double z = qb_norm_quantile(0.975);
    *lo = 100.0 * (d - z * se);
    *hi = 100.0 * (d + z * se);
}

void qb_qeval_result_free(qb_qeval_result *r)
{
    if (!r) return;
    free(r->correct);
    free(r->act_signal);
    free(r->act_noise);
    memset(r, 0, sizeof *r);
}

qb_status qb_qeval_evaluate(const qb_qeval *ev, const qb_qmodel *q, qb_qeval_result *res)
{
    memset(res, 0, sizeof *res);
    const qb_images *t = &ev->data->test;
    int k = ev->model.n_classes;
    if (k > 64) return qb_error(QB_ERR_UNSUPPORTED, "evaluation supports up to 64 classes");
    res->n = t->n;
    res->n_layers = q->model.n_layers;
    res->correct = qb_calloc((size_t)(t->n + 7) / 8, 1);
    res->act_signal = qb_calloc((size_t)q->model.n_layers, sizeof(double));
    res->act_noise = qb_calloc((size_t)q->model.n_layers, sizeof(double));
    if (!res->correct || !res->act_signal || !res->act_noise) {
        qb_qeval_result_free(res);
        return QB_ERR_NOMEM;
    }
    eval_ctx c = {.ev = ev, .q = q, .res = res};
    qb_exec_hooks h = {.ctx = &c, .input = quantize_input};
    qb_model *m = (qb_model *)&q->model; /* INFER mode only reads the model */
    qb_status s = qb_images_forward(m, t, ev->pool, &h, score_batch, &c);
    free(c.orig);
    if (s == QB_OK) s = c.status;
    if (s != QB_OK) {
        qb_qeval_result_free(res);
        return s;
    }
    long long b = 0, cc = 0;
    for (int i = 0; i < t->n; i++) {
        int f = qb_argmax(ev->fp32_logits + (int64_t)i * k, k) == ev->labels[i];
        int qv = qb_bit(res->correct, i);
        b += f && !qv;
        cc += !f && qv;
    }
    res->fp32_accuracy = ev->fp32_accuracy;
    res->accuracy = 100.0 * (double)c.right / t->n;
    res->drop_pp = res->fp32_accuracy - res->accuracy;
    res->fp32_only = b;
    res->quant_only = cc;
    qb_paired_drop_ci(b, cc, t->n, &res->drop_ci_low, &res->drop_ci_high);
    qb_mcnemar mc;
    qb_mcnemar_test(b, cc, &mc);
    res->mcnemar_p = mc.p_mid;
    res->agreement = 100.0 * (double)c.agree / t->n;
    res->kl = c.kl / t->n;
    res->size_bytes = q->size_bytes;
    res->fp32_size_bytes = qb_qeval_fp32_size(ev);
    res->prep_seconds = res->prep_peak_mb = NAN; /* qb_protect_run measures them */
    return QB_OK;
}

qb_status qb_qeval_run(const qb_qeval *ev, const qb_qeval_config *c, qb_qeval_result *res)
{
    qb_qmodel q;
    qb_status s = qb_qeval_quantize(ev, c, &q);
    if (s != QB_OK) return s;
    s = qb_qeval_evaluate(ev, &q, res);
    qb_qmodel_free(&q);
    return s;
}

/* --- per-layer analysis ---------------------------------------------------- */

static double sqnr_db(double signal, double noise)
{
    if (noise == 0) return signal == 0 ? NAN : INFINITY;
    return 10.0 * log10(signal / noise);
}

qb_status qb_qeval_layers(const qb_qeval *ev, const qb_qeval_config *c, qb_layer_report **rows,
                          int *n)
{
    *rows = NULL;
    *n = 0;
    const qb_model *m = &ev->model;
    qb_layer_report *out = qb_calloc((size_t)m->n_layers, sizeof *out);
    if (!out) return QB_ERR_NOMEM;
    qb_status s = QB_OK;
    int k = 0;
    for (int i = 0; i < m->n_layers && s == QB_OK; i++) {
        const qb_layer *l = &m->layers[i];
        if (!qb_layer_has_weights(l)) continue;
        qb_qeval_config one = *c;
        one.only_layer = i;
        qb_qmodel q;
        qb_qeval_result r;
        if ((s = qb_qeval_quantize(ev, &one, &q)) != QB_OK) break;
        q.measure_inputs = 1;
        if ((s = qb_qeval_evaluate(ev, &q, &r)) != QB_OK) {
            qb_qmodel_free(&q);
            break;
        }
        qb_layer_report *row = &out[k++];
        row->layer = i;
        snprintf(row->name, sizeof row->name, "%s", l->name);
        row->kind = l->kind;
        row->wbits = q.wbits[i];
        row->abits = q.abits[i];
        row->sensitivity_pp = r.drop_pp;
        row->act_sqnr_db = q.abits[i] == QB_FLOAT_BITS ? NAN : sqnr_db(r.act_signal[i], r.act_noise[i]);
        row->weight_sqnr_db = NAN;
        if (q.wbits[i] != QB_FLOAT_BITS) {
            qb_error_metrics em;
            const qb_tensor *w0 = &l->params[QB_P_WEIGHT].value;
            qb_error_metrics_compute(w0->data, q.model.layers[i].params[QB_P_WEIGHT].value.data,
                                     qb_tensor_numel(w0), &em);
            row->weight_sqnr_db = em.sqnr_db;
        }
        qb_qeval_result_free(&r);
        qb_qmodel_free(&q);
    }
    if (s != QB_OK) {
        free(out);
        return s;
    }
    *rows = out;
    *n = k;
    return QB_OK;
}

void qb_qeval_set_pool(qb_qeval *ev, qb_pool *pool) { ev->pool = pool; }
