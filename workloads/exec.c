/* The fp32 engine's executor (see exec.h): buffer planning, the per-layer
 * parallel loops over image chunks, and backward. */
#include "exec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "layers.h"

struct qb_exec {
    qb_model *m;
    qb_exec_mode mode;
    int max_batch, batch, nthreads;
    qb_pool *pool;
    qb_exec_hooks hooks;

    const float *input;    /* the current batch's model input */
    float **out;           /* per layer: output (batch, out_numel) */
    float **grad;          /* TRAIN: per layer d(loss)/d(output) */
    int *grad_ready;       /* TRAIN: grad[i] holds a value (else needs zeroing) */
    float *input_grad;     /* d(loss)/d(input), when wanted */
    int want_input_grad;
    float **owned;         /* buffers to free */
    int n_owned;
    int *consumers;        /* how many layer inputs read each layer */
    int *relu_only_reader; /* layer's only reader is a ReLU (fusable in INFER) */
    const float **wuse;    /* weights used by the last forward (hooks may swap) */
    float **xq;            /* TRAIN: conv/dense input copies given to the input hook */
    const float **xin;     /* TRAIN: the input each conv/dense layer computed with */
    float *xq_infer;       /* INFER: one shared copy */
    int sub;               /* INFER: images per depth-first sub-batch */
    float *logits;         /* INFER: (max_batch, n_classes), filled sub-batch by sub-batch */
    int64_t max_in;        /* largest per-image conv/dense input */

    /* BN, TRAIN: per layer batch mean and 1/std (c floats each) */
    float **bn_mean, **bn_invstd;
    double *chunk_stats;   /* (QB_EXEC_CHUNKS, 2 * max_c) */
    float *bn_scale, *bn_shift; /* (max_c) for INFER */
    int32_t **argmax;      /* maxpool, TRAIN */

    float **col, **dcol;   /* per thread im2col scratch */
    float *partial_w, *partial_b; /* (QB_EXEC_CHUNKS, max param) gradient partials */
    int64_t max_w, max_c;
    double *profile;       /* n_layers seconds, or NULL (qb_exec_set_profile) */
};

/* --- setup --------------------------------------------------------------- */

static float *own(qb_exec *e, int64_t n)
{
    float *p = qb_aligned_alloc((size_t)(n > 0 ? n : 1), sizeof(float));
    if (p) e->owned[e->n_owned++] = p;
    return p;
}

static int layer_reads(const qb_layer *l, int j)
{
    for (int k = 0; k < l->n_inputs; k++)
        if (l->inputs[k] == j) return 1;
    return 0;
}

/* INFER: give each layer a buffer of `sub` images, reusing those whose
 * readers have all run, and letting elementwise layers write over an input
 * only they read. The last layer writes into the logits instead. */
static qb_status plan_infer(qb_exec *e, int64_t max_out)
{
    const qb_model *m = e->m;
    int n = m->n_layers;
    int *last_use = qb_malloc((size_t)n, sizeof *last_use);
    int *buf_of = qb_malloc((size_t)n, sizeof *buf_of);
    float **bufs = qb_calloc((size_t)n, sizeof *bufs);
    int *busy = qb_calloc((size_t)n, sizeof *busy);
    qb_status s = QB_OK;
    if (!last_use || !buf_of || !bufs || !busy) {
        s = QB_ERR_NOMEM;
        goto done;
    }
    for (int i = 0; i < n; i++) last_use[i] = i == n - 1 ? n : i;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < m->layers[i].n_inputs; k++)
            if (m->layers[i].inputs[k] >= 0) last_use[m->layers[i].inputs[k]] = i;
    int nbufs = 0;
    for (int i = 0; i < n; i++) buf_of[i] = -1;
    for (int i = 0; i < n - 1; i++) {
        const qb_layer *l = &m->layers[i];
        for (int j = 0; j < i; j++)
            if (last_use[j] < i && buf_of[j] >= 0 && busy[buf_of[j]] == j + 1) busy[buf_of[j]] = 0;
        int in0 = l->inputs[0];
        int elementwise = l->kind == QB_LAYER_RELU || l->kind == QB_LAYER_BN ||
                          l->kind == QB_LAYER_FLATTEN || l->kind == QB_LAYER_ADD;
        if (elementwise && in0 >= 0 && last_use[in0] == i &&
            (l->n_inputs == 1 || l->inputs[1] != in0)) {
            buf_of[i] = buf_of[in0];
            busy[buf_of[i]] = i + 1;
            continue;
        }
        int b = 0;
        while (b < nbufs && busy[b]) b++;
        if (b == nbufs) {
            if (!(bufs[nbufs++] = own(e, max_out * e->sub))) {
                s = QB_ERR_NOMEM;
                goto done;
            }
        }
        buf_of[i] = b;
        busy[b] = i + 1;
    }
    for (int i = 0; i < n - 1; i++) e->out[i] = bufs[buf_of[i]];
done:
    free(last_use);
    free(buf_of);
    free(bufs);
    free(busy);
    return s;
}

void qb_exec_free(qb_exec *e)
{
    if (!e) return;
    for (int i = 0; i < e->n_owned; i++) free(e->owned[i]);
    if (e->argmax)
        for (int i = 0; i < e->m->n_layers; i++) free(e->argmax[i]);
    free(e->owned);
    free(e->out);
    free(e->grad);
    free(e->grad_ready);
    free(e->consumers);
    free(e->relu_only_reader);
    free(e->wuse);
    free(e->xq);
    free(e->xin);
    free(e->bn_mean);
    free(e->bn_invstd);
    free(e->chunk_stats);
    free(e->argmax);
    free(e->col);
    free(e->dcol);
    free(e);
}

qb_status qb_exec_create(qb_exec **out, qb_model *m, int max_batch, qb_pool *pool,
                         qb_exec_mode mode)
{
    *out = NULL;
    if (max_batch < 1) return qb_error(QB_ERR_ARG, "batch size must be at least 1, got %d", max_batch);
    qb_exec *e = qb_calloc(1, sizeof *e);
    if (!e) return QB_ERR_NOMEM;
    int n = m->n_layers;
    e->m = m;
    e->mode = mode;
    e->max_batch = max_batch;
    e->pool = pool;
    e->nthreads = pool ? qb_pool_size(pool) : 1;
    size_t nl = (size_t)n;
    e->owned = qb_calloc(6 * nl + 4 * (size_t)e->nthreads + 16, sizeof *e->owned);
    e->out = qb_calloc(nl, sizeof *e->out);
    e->grad = qb_calloc(nl, sizeof *e->grad);
    e->grad_ready = qb_calloc(nl, sizeof *e->grad_ready);
    e->consumers = qb_calloc(nl, sizeof *e->consumers);
    e->relu_only_reader = qb_calloc(nl, sizeof *e->relu_only_reader);
    e->wuse = qb_calloc(nl, sizeof *e->wuse);
    e->xq = qb_calloc(nl, sizeof *e->xq);
    e->xin = qb_calloc(nl, sizeof *e->xin);
    e->bn_mean = qb_calloc(nl, sizeof *e->bn_mean);
    e->bn_invstd = qb_calloc(nl, sizeof *e->bn_invstd);
    e->argmax = qb_calloc(nl, sizeof *e->argmax);
    e->col = qb_calloc((size_t)e->nthreads, sizeof *e->col);
    e->dcol = qb_calloc((size_t)e->nthreads, sizeof *e->dcol);
    if (!e->owned || !e->out || !e->grad || !e->grad_ready || !e->consumers ||
        !e->relu_only_reader || !e->wuse || !e->xq || !e->xin || !e->bn_mean || !e->bn_invstd ||
        !e->argmax || !e->col || !e->dcol)
        goto nomem;

    int64_t max_out = m->in_c * m->in_h * m->in_w, max_col = 1;
    e->max_c = 1;
    for (int i = 0; i < n; i++) {
        const qb_layer *l = &m->layers[i];
        for (int k = 0; k < l->n_inputs; k++)
            if (l->inputs[k] >= 0) e->consumers[l->inputs[k]]++;
        if (qb_layer_out_numel(l) > max_out) max_out = qb_layer_out_numel(l);
        if (l->c > e->max_c) e->max_c = l->c;
        if (l->kind == QB_LAYER_CONV && qb_conv_col_size(l) > max_col) max_col = qb_conv_col_size(l);
        if (qb_layer_has_weights(l)) {
            int64_t wn = qb_tensor_numel(&l->params[QB_P_WEIGHT].value);
            if (wn > e->max_w) e->max_w = wn;
            if (qb_layer_in_numel(l) > e->max_in) e->max_in = qb_layer_in_numel(l);
        }
    }
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (layer_reads(&m->layers[j], i) && e->consumers[i] == 1 &&
                m->layers[j].kind == QB_LAYER_RELU)
                e->relu_only_reader[i] = 1;

    for (int t = 0; t < e->nthreads; t++)
        if (!(e->col[t] = own(e, max_col)) || !(e->dcol[t] = own(e, max_col))) goto nomem;
    e->chunk_stats = qb_calloc((size_t)QB_EXEC_CHUNKS * 2 * (size_t)e->max_c, sizeof(double));
    if (!e->chunk_stats || !(e->bn_scale = own(e, e->max_c)) || !(e->bn_shift = own(e, e->max_c)))
        goto nomem;

    int64_t b = max_batch;
    if (mode == QB_EXEC_INFER) {
        /* Depth-first: a sub-batch goes through every layer before the next
         * starts, sized so one activation tensor per thread stays near 192 KB
         * (in L2) instead of streaming whole-batch tensors through L3. */
        int64_t per_thread = (192 << 10) / (max_out * (int64_t)sizeof(float));
        if (per_thread < 1) per_thread = 1;
        e->sub = (int)(per_thread * e->nthreads < max_batch ? per_thread * e->nthreads : max_batch);
        if (!(e->logits = own(e, (int64_t)max_batch * m->n_classes))) goto nomem;
        qb_status s = plan_infer(e, max_out);
        if (s != QB_OK) {
            qb_exec_free(e);
            return s;
        }
    } else {
        if (qb_model_alloc_grads(m) != QB_OK) goto nomem;
        if (!(e->partial_w = own(e, QB_EXEC_CHUNKS * e->max_w)) ||
            !(e->partial_b = own(e, QB_EXEC_CHUNKS * e->max_c)))
            goto nomem;
        for (int i = 0; i < n; i++) {
            const qb_layer *l = &m->layers[i];
            if (!(e->out[i] = own(e, b * qb_layer_out_numel(l))) ||
                !(e->grad[i] = own(e, b * qb_layer_out_numel(l))))
                goto nomem;
            if (l->kind == QB_LAYER_BN &&
                (!(e->bn_mean[i] = own(e, l->c)) || !(e->bn_invstd[i] = own(e, l->c))))
                goto nomem;
            if (l->kind == QB_LAYER_MAXPOOL &&
                !(e->argmax[i] = qb_malloc((size_t)(b * qb_layer_out_numel(l)), sizeof(int32_t))))
                goto nomem;
        }
    }
    *out = e;
    return QB_OK;
nomem:
    qb_exec_free(e);
    return qb_error(QB_ERR_NOMEM, "out of memory setting up the engine for model %s at batch %d",
                    m->arch, max_batch);
}

void qb_exec_set_profile(qb_exec *e, double *seconds) { e->profile = seconds; }

/* Adds the time since *t to layer i's profile entry and restarts *t. */
static void profile_lap(const qb_exec *e, int i, double *t)
{
    if (!e->profile) return;
    double t1 = qb_now();
    e->profile[i] += t1 - *t;
    *t = t1;
}

void qb_exec_set_hooks(qb_exec *e, const qb_exec_hooks *hooks)
{
    memset(&e->hooks, 0, sizeof e->hooks);
    if (hooks) e->hooks = *hooks;
}

void qb_exec_want_input_grad(qb_exec *e, int want) { e->want_input_grad = want; }

const float *qb_exec_logits(const qb_exec *e)
{
    return e->mode == QB_EXEC_INFER ? e->logits : e->out[e->m->n_layers - 1];
}

const float *qb_exec_output(const qb_exec *e, int layer)
{
    if (layer < 0 || layer >= e->m->n_layers) return NULL;
    if (layer == e->m->n_layers - 1) return qb_exec_logits(e);
    return e->mode == QB_EXEC_INFER ? NULL : e->out[layer];
}

const float *qb_exec_input_grad(const qb_exec *e) { return e->input_grad; }

/* --- parallel loops over image chunks ------------------------------------ */

typedef struct {
    qb_exec *e;
    int layer, phase;
    const float *x, *x2; /* inputs */
    float *y;
    int relu;
    void (*chunk)(qb_exec *e, const void *task, int chunk, int i0, int i1, int tid);
} task_t;

static int n_chunks(int batch) { return batch < QB_EXEC_CHUNKS ? batch : QB_EXEC_CHUNKS; }

static void run_task(void *ctx, int tid, int nt)
{
    task_t *t = ctx;
    int nc = n_chunks(t->e->batch);
    int64_t cb, ce;
    qb_split_range(nc, tid, nt, &cb, &ce);
    for (int64_t c = cb; c < ce; c++) {
        int64_t i0, i1;
        qb_split_range(t->e->batch, (int)c, nc, &i0, &i1);
        t->chunk(t->e, t, (int)c, (int)i0, (int)i1, tid);
    }
}

static void parallel(qb_exec *e, task_t *t)
{
    if (e->pool)
        qb_pool_run(e->pool, run_task, t);
    else
        run_task(t, 0, 1);
}

/* Layers that can apply a following ReLU in their own output loop. */
static int can_fuse_relu(qb_layer_kind k)
{
    return k == QB_LAYER_CONV || k == QB_LAYER_DENSE || k == QB_LAYER_BN || k == QB_LAYER_ADD;
}

static const float *layer_input(const qb_exec *e, int k)
{
    return k == QB_MODEL_INPUT ? e->input : e->out[k];
}

/* --- forward ------------------------------------------------------------- */

static void fwd_chunk(qb_exec *e, const void *task, int c, int i0, int i1, int tid)
{
    const task_t *t = task;
    const qb_layer *l = &e->m->layers[t->layer];
    int64_t in_n = qb_layer_in_numel(l), out_n = qb_layer_out_numel(l);
    const float *bias = l->params[QB_P_BIAS].value.data;
    switch (l->kind) {
    case QB_LAYER_CONV:
        for (int i = i0; i < i1; i++)
            qb_conv_forward_image(l, e->wuse[t->layer], bias, t->x + i * in_n, t->y + i * out_n,
                                  e->col[tid], t->relu);
        break;
    case QB_LAYER_DENSE:
        qb_dense_forward(l, e->wuse[t->layer], bias, t->x + i0 * in_n, t->y + i0 * out_n, i1 - i0,
                         t->relu);
        break;
    case QB_LAYER_RELU:
        qb_affine_relu(t->y + i0 * out_n, t->x + i0 * out_n, NULL, 1.0f, 0.0f, (i1 - i0) * out_n, 1);
        break;
    case QB_LAYER_ADD:
        qb_affine_relu(t->y + i0 * out_n, t->x + i0 * out_n, t->x2 + i0 * out_n, 1.0f, 0.0f,
                       (i1 - i0) * out_n, t->relu);
        break;
    case QB_LAYER_FLATTEN:
        if (t->y != t->x) memcpy(t->y + i0 * out_n, t->x + i0 * in_n, (size_t)((i1 - i0) * out_n) * sizeof(float));
        break;
    case QB_LAYER_MAXPOOL:
        for (int i = i0; i < i1; i++)
            qb_maxpool_forward_image(l, t->x + i * in_n, t->y + i * out_n,
                                     e->argmax[t->layer] ? e->argmax[t->layer] + i * out_n : NULL);
        break;
    case QB_LAYER_GAP:
        for (int i = i0; i < i1; i++) qb_gap_forward_image(l, t->x + i * in_n, t->y + i * out_n);
        break;
    case QB_LAYER_BN: {
        int64_t hw = (int64_t)l->h * l->w;
        if (t->phase == 0) { /* TRAIN: per-chunk sums for the batch statistics */
            double *st = e->chunk_stats + (int64_t)c * 2 * e->max_c;
            for (int ch = 0; ch < l->c; ch++) {
                double s = 0, s2 = 0;
                for (int i = i0; i < i1; i++) {
                    const float *v = t->x + i * in_n + ch * hw;
                    for (int64_t j = 0; j < hw; j++) {
                        s += v[j];
                        s2 += (double)v[j] * v[j];
                    }
                }
                st[ch] = s;
                st[e->max_c + ch] = s2;
            }
            break;
        }
        for (int i = i0; i < i1; i++)
            qb_bn_affine_image(l, t->x + i * in_n, t->y + i * out_n, e->bn_scale, e->bn_shift,
                               t->relu);
        break;
    }
    default:
        break;
    }
}

/* BN: fold statistics and gamma/beta into one scale and shift per channel. */
static void bn_prepare(qb_exec *e, int i, int batch)
{
    const qb_layer *l = &e->m->layers[i];
    const float *gamma = l->params[QB_P_WEIGHT].value.data, *beta = l->params[QB_P_BIAS].value.data;
    float *rm = l->params[QB_P_RUNNING_MEAN].value.data, *rv = l->params[QB_P_RUNNING_VAR].value.data;
    for (int ch = 0; ch < l->c; ch++) {
        double mean, var;
        if (e->mode == QB_EXEC_TRAIN) {
            double s = 0, s2 = 0, cnt = (double)batch * l->h * l->w;
            for (int c = 0; c < n_chunks(batch); c++) {
                s += e->chunk_stats[(int64_t)c * 2 * e->max_c + ch];
                s2 += e->chunk_stats[(int64_t)c * 2 * e->max_c + e->max_c + ch];
            }
            mean = s / cnt;
            var = s2 / cnt - mean * mean;
            if (var < 0) var = 0;
            float mom = l->momentum;
            rm[ch] = (1 - mom) * rm[ch] + mom * (float)mean;
            rv[ch] = (1 - mom) * rv[ch] + mom * (float)(cnt > 1 ? var * cnt / (cnt - 1) : var);
            e->bn_mean[i][ch] = (float)mean;
            e->bn_invstd[i][ch] = (float)(1.0 / sqrt(var + l->eps));
        } else {
            mean = rm[ch];
            var = rv[ch];
        }
        float inv = (float)(1.0 / sqrt(var + l->eps));
        e->bn_scale[ch] = gamma[ch] * inv;
        e->bn_shift[ch] = beta[ch] - (float)mean * gamma[ch] * inv;
    }
}

/* Runs every layer on `batch` images at x (the whole batch in TRAIN mode,
 * one sub-batch in INFER mode). */
static qb_status forward_layers(qb_exec *e, const float *x, int batch)
{
    qb_model *m = e->m;
    e->batch = batch;
    e->input = x;
    int fuse_ok = e->mode == QB_EXEC_INFER && !e->hooks.output;
    double t0 = e->profile ? qb_now() : 0;
    for (int i = 0; i < m->n_layers; i++) {
        if (i > 0) profile_lap(e, i - 1, &t0);
        qb_layer *l = &m->layers[i];
        task_t t = {.e = e, .layer = i, .x = layer_input(e, l->inputs[0]), .y = e->out[i],
                    .chunk = fwd_chunk};
        if (l->n_inputs > 1) t.x2 = layer_input(e, l->inputs[1]);
        t.relu = fuse_ok && can_fuse_relu(l->kind) && e->relu_only_reader[i];
        if (l->kind == QB_LAYER_RELU && fuse_ok && l->inputs[0] >= 0 &&
            e->relu_only_reader[l->inputs[0]] && can_fuse_relu(m->layers[l->inputs[0]].kind)) {
            /* fused into its input layer, whose buffer it shares */
            if (t.y != t.x) memcpy(t.y, t.x, (size_t)(batch * qb_layer_out_numel(l)) * sizeof(float));
            continue;
        }
        if (qb_layer_has_weights(l)) {
            const float *w = e->hooks.weight ? e->hooks.weight(e->hooks.ctx, i) : NULL;
            e->wuse[i] = w ? w : l->params[QB_P_WEIGHT].value.data;
            if (e->hooks.input) {
                int64_t n = (int64_t)batch * qb_layer_in_numel(l);
                float *copy;
                if (e->mode == QB_EXEC_TRAIN) {
                    /* kept: backward computes weight gradients from it */
                    if (!e->xq[i] && !(e->xq[i] = own(e, (int64_t)e->max_batch * qb_layer_in_numel(l))))
                        return QB_ERR_NOMEM;
                    copy = e->xq[i];
                } else {
                    if (!e->xq_infer && !(e->xq_infer = own(e, (int64_t)e->sub * e->max_in)))
                        return QB_ERR_NOMEM;
                    copy = e->xq_infer;
                }
                memcpy(copy, t.x, (size_t)n * sizeof(float));
                e->hooks.input(e->hooks.ctx, i, copy, batch);
                t.x = copy;
            }
            e->xin[i] = t.x;
        }
        if (l->kind == QB_LAYER_BN) {
            if (e->mode == QB_EXEC_TRAIN) {
                t.phase = 0;
                parallel(e, &t);
            }
            bn_prepare(e, i, batch);
            t.phase = 1;
        }
        parallel(e, &t);
        if (e->hooks.output) e->hooks.output(e->hooks.ctx, i, e->out[i], batch);
    }
    profile_lap(e, m->n_layers - 1, &t0);
    return QB_OK;
}

qb_status qb_exec_forward(qb_exec *e, const float *x, int batch)
{
    if (batch < 1 || batch > e->max_batch)
        return qb_error(QB_ERR_ARG, "batch of %d images does not fit this executor (1..%d)", batch,
                        e->max_batch);
    if (e->mode == QB_EXEC_TRAIN) return forward_layers(e, x, batch);
    const qb_model *m = e->m;
    int64_t in_n = (int64_t)m->in_c * m->in_h * m->in_w;
    for (int b0 = 0; b0 < batch; b0 += e->sub) {
        int n = batch - b0 < e->sub ? batch - b0 : e->sub;
        e->out[m->n_layers - 1] = e->logits + (int64_t)b0 * m->n_classes;
        qb_status s = forward_layers(e, x + b0 * in_n, n);
        if (s != QB_OK) return s;
    }
    return QB_OK;
}

/* --- backward ------------------------------------------------------------ */

/* The gradient buffer of input k of a layer, zeroed on first use; NULL when
 * k is the model input and its gradient is not wanted. */
static float *grad_of(qb_exec *e, int k)
{
    if (k == QB_MODEL_INPUT) {
        if (!e->want_input_grad) return NULL;
        int64_t n = (int64_t)e->max_batch * e->m->in_c * e->m->in_h * e->m->in_w;
        if (!e->input_grad && !(e->input_grad = own(e, n))) return NULL;
        return e->input_grad;
    }
    if (!e->grad_ready[k]) {
        memset(e->grad[k], 0, (size_t)(e->batch * qb_layer_out_numel(&e->m->layers[k])) * sizeof(float));
        e->grad_ready[k] = 1;
    }
    return e->grad[k];
}

typedef struct {
    task_t base;
    const float *dy;
    float *dx, *dx2;
} btask_t;

static void bwd_chunk(qb_exec *e, const void *task, int c, int i0, int i1, int tid)
{
    const btask_t *t = task;
    int li = t->base.layer;
    const qb_layer *l = &e->m->layers[li];
    int64_t in_n = qb_layer_in_numel(l), out_n = qb_layer_out_numel(l);
    const float *x = t->base.x, *y = e->out[li], *dy = t->dy;
    float *dx = t->dx;
    switch (l->kind) {
    case QB_LAYER_CONV:
    case QB_LAYER_DENSE: {
        float *dw = e->partial_w + (int64_t)c * e->max_w;
        float *db = l->params[QB_P_BIAS].value.data ? e->partial_b + (int64_t)c * e->max_c : NULL;
        memset(dw, 0, (size_t)qb_tensor_numel(&l->params[QB_P_WEIGHT].value) * sizeof(float));
        if (db) memset(db, 0, (size_t)l->c * sizeof(float));
        if (l->kind == QB_LAYER_DENSE) {
            qb_dense_backward(l, e->wuse[li], x + i0 * in_n, dy + i0 * out_n,
                              dx ? dx + i0 * in_n : NULL, dw, db, i1 - i0);
            break;
        }
        for (int i = i0; i < i1; i++)
            qb_conv_backward_image(l, e->wuse[li], x + i * in_n, dy + i * out_n,
                                   dx ? dx + i * in_n : NULL, dw, db, e->col[tid], e->dcol[tid]);
        break;
    }
    case QB_LAYER_RELU:
        for (int64_t j = i0 * out_n; j < i1 * out_n; j++)
            if (y[j] > 0.0f) dx[j] += dy[j];
        break;
    case QB_LAYER_ADD:
        for (int64_t j = i0 * out_n; j < i1 * out_n; j++) {
            if (dx) dx[j] += dy[j];
            if (t->dx2) t->dx2[j] += dy[j];
        }
        break;
    case QB_LAYER_FLATTEN:
        for (int64_t j = i0 * out_n; j < i1 * out_n; j++) dx[j] += dy[j];
        break;
    case QB_LAYER_MAXPOOL:
        for (int i = i0; i < i1; i++)
            qb_maxpool_backward_image(l, dy + i * out_n, e->argmax[li] + i * out_n, dx + i * in_n);
        break;
    case QB_LAYER_GAP:
        for (int i = i0; i < i1; i++) qb_gap_backward_image(l, dy + i * out_n, dx + i * in_n);
        break;
    case QB_LAYER_BN: {
        int64_t hw = (int64_t)l->h * l->w;
        const float *mean = e->bn_mean[li], *inv = e->bn_invstd[li];
        if (t->base.phase == 0) { /* per-chunk sum(dy) and sum(dy * xhat) */
            double *st = e->chunk_stats + (int64_t)c * 2 * e->max_c;
            for (int ch = 0; ch < l->c; ch++) {
                double s = 0, sx = 0;
                for (int i = i0; i < i1; i++) {
                    const float *g = dy + i * out_n + ch * hw, *v = x + i * in_n + ch * hw;
                    for (int64_t j = 0; j < hw; j++) {
                        s += g[j];
                        sx += (double)g[j] * (v[j] - mean[ch]) * inv[ch];
                    }
                }
                st[ch] = s;
                st[e->max_c + ch] = sx;
            }
            break;
        }
        if (!dx) break;
        const float *gamma = l->params[QB_P_WEIGHT].value.data;
        const float *dbeta = l->params[QB_P_BIAS].grad.data, *dgamma = l->params[QB_P_WEIGHT].grad.data;
        float cnt = (float)((double)e->batch * hw);
        for (int i = i0; i < i1; i++)
            for (int ch = 0; ch < l->c; ch++) {
                const float *g = dy + i * out_n + ch * hw, *v = x + i * in_n + ch * hw;
                float *d = dx + i * in_n + ch * hw;
                float k = gamma[ch] * inv[ch], mb = dbeta[ch] / cnt, mg = dgamma[ch] / cnt;
                for (int64_t j = 0; j < hw; j++) {
                    float xhat = (v[j] - mean[ch]) * inv[ch];
                    d[j] += k * (g[j] - mb - xhat * mg);
                }
            }
        break;
    }
    default:
        break;
    }
}

/* param grad = sum of the chunk partials, in chunk order. */
typedef struct {
    float *dst;
    const float *partials;
    int64_t n, stride;
    int chunks;
} reduce_t;

static void reduce_task(void *ctx, int tid, int nt)
{
    const reduce_t *r = ctx;
    int64_t b, end;
    qb_split_range(r->n, tid, nt, &b, &end);
    for (int64_t j = b; j < end; j++) {
        float s = 0.0f;
        for (int c = 0; c < r->chunks; c++) s += r->partials[c * r->stride + j];
        r->dst[j] = s;
    }
}

static void reduce_partials(qb_exec *e, float *dst, const float *partials, int64_t n, int64_t stride)
{
    reduce_t r = {dst, partials, n, stride, n_chunks(e->batch)};
    if (e->pool && n > 4096)
        qb_pool_run(e->pool, reduce_task, &r);
    else
        reduce_task(&r, 0, 1);
}

qb_status qb_exec_backward_from(qb_exec *e, const float *dlogits)
{
    qb_model *m = e->m;
    if (e->mode != QB_EXEC_TRAIN)
        return qb_error(QB_ERR_INTERNAL, "backward needs an executor created in TRAIN mode");
    int n = m->n_layers;
    memset(e->grad_ready, 0, (size_t)n * sizeof *e->grad_ready);
    qb_model_zero_grads(m);
    memcpy(e->grad[n - 1], dlogits, (size_t)(e->batch * m->n_classes) * sizeof(float));
    e->grad_ready[n - 1] = 1;
    if (e->want_input_grad && grad_of(e, QB_MODEL_INPUT))
        memset(e->input_grad, 0, (size_t)(e->batch * m->in_c * m->in_h * m->in_w) * sizeof(float));
    for (int i = n - 1; i >= 0; i--) {
        qb_layer *l = &m->layers[i];
        if (!e->grad_ready[i]) continue; /* does not reach the loss */
        btask_t t = {.base = {.e = e, .layer = i, .chunk = bwd_chunk}, .dy = e->grad[i]};
        t.base.x = qb_layer_has_weights(l) ? e->xin[i] : layer_input(e, l->inputs[0]);
        t.dx = grad_of(e, l->inputs[0]);
        if (l->n_inputs > 1) t.dx2 = grad_of(e, l->inputs[1]);
        if (l->kind == QB_LAYER_BN) {
            parallel(e, &t.base);
            float *dgamma = l->params[QB_P_WEIGHT].grad.data, *dbeta = l->params[QB_P_BIAS].grad.data;
            for (int ch = 0; ch < l->c; ch++) {
                double s = 0, sx = 0;
                for (int c = 0; c < n_chunks(e->batch); c++) {
                    s += e->chunk_stats[(int64_t)c * 2 * e->max_c + ch];
                    sx += e->chunk_stats[(int64_t)c * 2 * e->max_c + e->max_c + ch];
                }
                dbeta[ch] = (float)s;
                dgamma[ch] = (float)sx;
            }
            t.base.phase = 1;
        }
        if (l->kind == QB_LAYER_RELU || l->kind == QB_LAYER_FLATTEN ||
            l->kind == QB_LAYER_MAXPOOL || l->kind == QB_LAYER_GAP || l->kind == QB_LAYER_BN ||
            l->kind == QB_LAYER_ADD) {
            if (!t.dx && !t.dx2) continue;
        }
        parallel(e, &t.base);
        if (qb_layer_has_weights(l)) {
            qb_param *w = &l->params[QB_P_WEIGHT], *b = &l->params[QB_P_BIAS];
            reduce_partials(e, w->grad.data, e->partial_w, qb_tensor_numel(&w->value), e->max_w);
            if (b->value.data) reduce_partials(e, b->grad.data, e->partial_b, l->c, e->max_c);
        }
    }
    return QB_OK;
}

qb_status qb_exec_backward(qb_exec *e, const int *labels, float *loss, int *correct)
{
    qb_model *m = e->m;
    int b = e->batch;
    float *dl = qb_malloc((size_t)(b * m->n_classes), sizeof(float));
    if (!dl) return QB_ERR_NOMEM;
    for (int i = 0; i < b; i++)
        if (labels[i] < 0 || labels[i] >= m->n_classes) {
            free(dl);
            return qb_error(QB_ERR_ARG, "label %d of image %d is outside 0..%d", labels[i], i,
                            m->n_classes - 1);
        }
    double sum = qb_softmax_xent(qb_exec_logits(e), labels, b, m->n_classes, dl, 1.0f / (float)b,
                                 correct);
    if (loss) *loss = (float)(sum / b);
    qb_status s = qb_exec_backward_from(e, dl);
    free(dl);
    return s;
}
