/* The model graph: building, shape inference, parameters, cloning and BN
 * folding (see model.h). */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

static const char *kind_names[QB_LAYER_KIND_COUNT] = {
    [QB_LAYER_CONV] = "conv",   [QB_LAYER_DENSE] = "dense",     [QB_LAYER_BN] = "bn",
    [QB_LAYER_RELU] = "relu",   [QB_LAYER_MAXPOOL] = "maxpool", [QB_LAYER_GAP] = "gap",
    [QB_LAYER_ADD] = "add",     [QB_LAYER_FLATTEN] = "flatten",
};

const char *qb_layer_kind_name(qb_layer_kind k)
{
    return k < QB_LAYER_KIND_COUNT ? kind_names[k] : "?";
}

int qb_layer_has_weights(const qb_layer *l)
{
    return l->kind == QB_LAYER_CONV || l->kind == QB_LAYER_DENSE;
}

int64_t qb_layer_out_numel(const qb_layer *l) { return (int64_t)l->c * l->h * l->w; }
int64_t qb_layer_in_numel(const qb_layer *l) { return (int64_t)l->in_c * l->in_h * l->in_w; }

int64_t qb_layer_macs(const qb_layer *l)
{
    if (l->kind == QB_LAYER_CONV)
        return (int64_t)l->c * l->h * l->w * l->in_c * l->kh * l->kw;
    if (l->kind == QB_LAYER_DENSE) return (int64_t)l->c * qb_layer_in_numel(l);
    return 0;
}

int64_t qb_model_macs(const qb_model *m)
{
    int64_t n = 0;
    for (int i = 0; i < m->n_layers; i++) n += qb_layer_macs(&m->layers[i]);
    return n;
}

int64_t qb_model_n_params(const qb_model *m)
{
    int64_t n = 0;
    for (int i = 0; i < m->n_layers; i++)
        for (int p = 0; p < m->layers[i].n_params; p++)
            if (m->layers[i].params[p].value.data) n += qb_tensor_numel(&m->layers[i].params[p].value);
    return n;
}

int qb_model_find_layer(const qb_model *m, const char *name)
{
    for (int i = 0; i < m->n_layers; i++)
        if (strcmp(m->layers[i].name, name) == 0) return i;
    return -1;
}

qb_param *qb_model_find_param(qb_model *m, const char *name)
{
    for (int i = 0; i < m->n_layers; i++)
        for (int p = 0; p < m->layers[i].n_params; p++) {
            qb_param *q = &m->layers[i].params[p];
            if (q->value.data && strcmp(q->name, name) == 0) return q;
        }
    return NULL;
}

int qb_model_weighted_layers(const qb_model *m, int *out)
{
    int n = 0;
    for (int i = 0; i < m->n_layers; i++)
        if (qb_layer_has_weights(&m->layers[i])) out[n++] = i;
    return n;
}

/* --- building ----------------------------------------------------------- */

qb_status qb_model_begin(qb_model *m, const char *arch, int in_c, int in_h, int in_w,
                         int n_classes)
{
    memset(m, 0, sizeof *m);
    if (in_c < 1 || in_h < 1 || in_w < 1 || n_classes < 2)
        return qb_error(QB_ERR_ARG, "model %s: bad input shape (%d, %d, %d) or class count %d",
                        arch, in_c, in_h, in_w, n_classes);
    snprintf(m->arch, sizeof m->arch, "%s", arch);
    m->in_c = in_c;
    m->in_h = in_h;
    m->in_w = in_w;
    m->n_classes = n_classes;
    return QB_OK;
}

static int fail(qb_model *m, qb_status s)
{
    if (m->build_status == QB_OK) m->build_status = s;
    return QB_MODEL_BUILD_FAILED;
}

/* Appends a layer reading `input` (shape checked), returning it or NULL. */
static qb_layer *append(qb_model *m, qb_layer_kind kind, const char *name, int input)
{
    if (m->build_status != QB_OK) return NULL;
    if (input < QB_MODEL_INPUT || input >= m->n_layers) {
        fail(m, qb_error(QB_ERR_INTERNAL, "model %s: layer %s reads layer %d, which does not exist",
                         m->arch, name, input));
        return NULL;
    }
    if (strlen(name) >= QB_NAME_LEN) {
        fail(m, qb_error(QB_ERR_INTERNAL, "model %s: layer name '%s' is too long", m->arch, name));
        return NULL;
    }
    if (m->n_layers == m->cap_layers) {
        int cap = m->cap_layers ? 2 * m->cap_layers : 16;
        qb_layer *nl = realloc(m->layers, (size_t)cap * sizeof *nl);
        if (!nl) {
            fail(m, qb_error(QB_ERR_NOMEM, "out of memory building model %s", m->arch));
            return NULL;
        }
        m->layers = nl;
        m->cap_layers = cap;
    }
    qb_layer *l = &m->layers[m->n_layers++];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    snprintf(l->name, sizeof l->name, "%s", name);
    l->inputs[0] = input;
    l->n_inputs = 1;
    if (input == QB_MODEL_INPUT) {
        l->in_c = m->in_c;
        l->in_h = m->in_h;
        l->in_w = m->in_w;
    } else {
        const qb_layer *p = &m->layers[input];
        l->in_c = p->c;
        l->in_h = p->h;
        l->in_w = p->w;
    }
    l->c = l->in_c;
    l->h = l->in_h;
    l->w = l->in_w;
    return l;
}

static int add_param(qb_model *m, qb_layer *l, int slot, const char *suffix, int ndim,
                     const int64_t *shape, int trainable, int decay)
{
    qb_param *p = &l->params[slot];
    snprintf(p->name, sizeof p->name, "%s.%s", l->name, suffix);
    qb_status s = qb_tensor_alloc(&p->value, QB_F32, ndim, shape);
    if (s != QB_OK) return fail(m, s);
    p->trainable = trainable;
    p->decay = decay;
    if (slot + 1 > l->n_params) l->n_params = slot + 1;
    return 0;
}

static int index_of(const qb_model *m, const qb_layer *l) { return (int)(l - m->layers); }

int qb_model_conv(qb_model *m, const char *name, int input, int out_ch, int k, int stride,
                  int pad, int bias)
{
    qb_layer *l = append(m, QB_LAYER_CONV, name, input);
    if (!l) return QB_MODEL_BUILD_FAILED;
    if (out_ch < 1 || k < 1 || stride < 1 || pad < 0 || l->in_h + 2 * pad < k ||
        l->in_w + 2 * pad < k)
        return fail(m, qb_error(QB_ERR_INTERNAL,
                                "model %s: conv %s (out %d, k %d, stride %d, pad %d) does not fit "
                                "its input (%d, %d, %d)",
                                m->arch, name, out_ch, k, stride, pad, l->in_c, l->in_h, l->in_w));
    l->kh = l->kw = k;
    l->stride = stride;
    l->pad = pad;
    l->c = out_ch;
    l->h = (l->in_h + 2 * pad - k) / stride + 1;
    l->w = (l->in_w + 2 * pad - k) / stride + 1;
    int64_t ws[4] = {out_ch, l->in_c, k, k}, bs[1] = {out_ch};
    if (add_param(m, l, QB_P_WEIGHT, "weight", 4, ws, 1, 1) < 0) return QB_MODEL_BUILD_FAILED;
    if (bias && add_param(m, l, QB_P_BIAS, "bias", 1, bs, 1, 0) < 0) return QB_MODEL_BUILD_FAILED;
    l->n_params = 2;
    return index_of(m, l);
}

int qb_model_dense(qb_model *m, const char *name, int input, int out, int bias)
{
    qb_layer *l = append(m, QB_LAYER_DENSE, name, input);
    if (!l) return QB_MODEL_BUILD_FAILED;
    if (out < 1 || l->in_h != 1 || l->in_w != 1)
        return fail(m, qb_error(QB_ERR_INTERNAL,
                                "model %s: dense %s needs a flat input, got (%d, %d, %d)", m->arch,
                                name, l->in_c, l->in_h, l->in_w));
    l->c = out;
    int64_t ws[2] = {out, l->in_c}, bs[1] = {out};
    if (add_param(m, l, QB_P_WEIGHT, "weight", 2, ws, 1, 1) < 0) return QB_MODEL_BUILD_FAILED;
    if (bias && add_param(m, l, QB_P_BIAS, "bias", 1, bs, 1, 0) < 0) return QB_MODEL_BUILD_FAILED;
    l->n_params = 2;
    return index_of(m, l);
}

int qb_model_bn(qb_model *m, const char *name, int input)
{
    qb_layer *l = append(m, QB_LAYER_BN, name, input);
    if (!l) return QB_MODEL_BUILD_FAILED;
    l->eps = 1e-5f;
    l->momentum = 0.1f;
    int64_t s[1] = {l->c};
    if (add_param(m, l, QB_P_WEIGHT, "weight", 1, s, 1, 0) < 0 ||
        add_param(m, l, QB_P_BIAS, "bias", 1, s, 1, 0) < 0 ||
        add_param(m, l, QB_P_RUNNING_MEAN, "running_mean", 1, s, 0, 0) < 0 ||
        add_param(m, l, QB_P_RUNNING_VAR, "running_var", 1, s, 0, 0) < 0)
        return QB_MODEL_BUILD_FAILED;
    return index_of(m, l);
}

int qb_model_relu(qb_model *m, const char *name, int input)
{
    qb_layer *l = append(m, QB_LAYER_RELU, name, input);
    return l ? index_of(m, l) : QB_MODEL_BUILD_FAILED;
}

int qb_model_maxpool(qb_model *m, const char *name, int input, int k, int stride)
{
    qb_layer *l = append(m, QB_LAYER_MAXPOOL, name, input);
    if (!l) return QB_MODEL_BUILD_FAILED;
    if (k < 1 || stride < 1 || k > l->in_h || k > l->in_w)
        return fail(m, qb_error(QB_ERR_INTERNAL, "model %s: maxpool %s k %d does not fit (%d, %d)",
                                m->arch, name, k, l->in_h, l->in_w));
    l->kh = l->kw = k;
    l->stride = stride;
    l->h = (l->in_h - k) / stride + 1;
    l->w = (l->in_w - k) / stride + 1;
    return index_of(m, l);
}

int qb_model_gap(qb_model *m, const char *name, int input)
{
    qb_layer *l = append(m, QB_LAYER_GAP, name, input);
    if (!l) return QB_MODEL_BUILD_FAILED;
    l->h = l->w = 1;
    return index_of(m, l);
}

int qb_model_flatten(qb_model *m, const char *name, int input)
{
    qb_layer *l = append(m, QB_LAYER_FLATTEN, name, input);
    if (!l) return QB_MODEL_BUILD_FAILED;
    l->c = l->in_c * l->in_h * l->in_w;
    l->h = l->w = 1;
    return index_of(m, l);
}

int qb_model_add(qb_model *m, const char *name, int a, int b)
{
    qb_layer *l = append(m, QB_LAYER_ADD, name, a);
    if (!l) return QB_MODEL_BUILD_FAILED;
    if (b < QB_MODEL_INPUT || b >= m->n_layers - 1)
        return fail(m, qb_error(QB_ERR_INTERNAL, "model %s: add %s reads a missing layer %d",
                                m->arch, name, b));
    int bc = b == QB_MODEL_INPUT ? m->in_c : m->layers[b].c;
    int bh = b == QB_MODEL_INPUT ? m->in_h : m->layers[b].h;
    int bw = b == QB_MODEL_INPUT ? m->in_w : m->layers[b].w;
    if (bc != l->c || bh != l->h || bw != l->w)
        return fail(m, qb_error(QB_ERR_INTERNAL,
                                "model %s: add %s joins shapes (%d, %d, %d) and (%d, %d, %d)",
                                m->arch, name, l->c, l->h, l->w, bc, bh, bw));
    l->inputs[1] = b;
    l->n_inputs = 2;
    return index_of(m, l);
}

qb_status qb_model_finish(qb_model *m)
{
    if (m->build_status != QB_OK) return m->build_status;
    if (m->n_layers == 0) return qb_error(QB_ERR_INTERNAL, "model %s has no layers", m->arch);
    const qb_layer *last = &m->layers[m->n_layers - 1];
    if (last->c != m->n_classes || last->h != 1 || last->w != 1)
        return m->build_status = qb_error(
                   QB_ERR_INTERNAL, "model %s: last layer %s gives (%d, %d, %d), not %d logits",
                   m->arch, last->name, last->c, last->h, last->w, m->n_classes);
    return QB_OK;
}

/* --- parameters ---------------------------------------------------------- */

void qb_model_init_params(qb_model *m, uint64_t seed)
{
    qb_rng rng;
    qb_rng_seed(&rng, seed);
    for (int i = 0; i < m->n_layers; i++) {
        qb_layer *l = &m->layers[i];
        for (int p = 0; p < l->n_params; p++) {
            qb_tensor *t = &l->params[p].value;
            if (!t->data) continue;
            float *v = t->data;
            int64_t n = qb_tensor_numel(t);
            float fill = 0.0f;
            if (l->kind == QB_LAYER_BN && (p == QB_P_WEIGHT || p == QB_P_RUNNING_VAR)) fill = 1.0f;
            if (qb_layer_has_weights(l) && p == QB_P_WEIGHT) {
                float std = sqrtf(2.0f / (float)(n / t->shape[0]));
                for (int64_t j = 0; j < n; j++) v[j] = std * qb_rng_normal(&rng);
            } else {
                for (int64_t j = 0; j < n; j++) v[j] = fill;
            }
        }
    }
}

void qb_model_free(qb_model *m)
{
    if (!m) return;
    for (int i = 0; i < m->n_layers; i++)
        for (int p = 0; p < QB_LAYER_MAX_PARAMS; p++) {
            qb_tensor_free(&m->layers[i].params[p].value);
            qb_tensor_free(&m->layers[i].params[p].grad);
        }
    free(m->layers);
    memset(m, 0, sizeof *m);
}

static qb_status copy_tensor(const qb_tensor *src, qb_tensor *dst)
{
    memset(dst, 0, sizeof *dst);
    if (!src->data) return QB_OK;
    qb_status s = qb_tensor_alloc(dst, src->dtype, src->ndim, src->shape);
    if (s == QB_OK) memcpy(dst->data, src->data, qb_tensor_bytes(src));
    return s;
}

qb_status qb_model_clone(const qb_model *src, qb_model *dst)
{
    *dst = *src;
    dst->layers = qb_calloc((size_t)(src->n_layers ? src->n_layers : 1), sizeof *dst->layers);
    dst->cap_layers = src->n_layers;
    if (!dst->layers) {
        memset(dst, 0, sizeof *dst);
        return QB_ERR_NOMEM;
    }
    for (int i = 0; i < src->n_layers; i++) {
        dst->layers[i] = src->layers[i];
        for (int p = 0; p < QB_LAYER_MAX_PARAMS; p++) {
            qb_param *dp = &dst->layers[i].params[p];
            memset(&dp->value, 0, sizeof dp->value);
            memset(&dp->grad, 0, sizeof dp->grad);
        }
    }
    for (int i = 0; i < src->n_layers; i++)
        for (int p = 0; p < src->layers[i].n_params; p++) {
            qb_status s = copy_tensor(&src->layers[i].params[p].value, &dst->layers[i].params[p].value);
            if (s != QB_OK) {
                qb_model_free(dst);
                return s;
            }
        }
    return QB_OK;
}

qb_status qb_model_fold_bn(const qb_model *src, qb_model *dst)
{
    qb_status s = qb_model_clone(src, dst);
    if (s != QB_OK) return s;
    int *remap = qb_malloc((size_t)src->n_layers + 1, sizeof *remap);
    if (!remap) {
        qb_model_free(dst);
        return QB_ERR_NOMEM;
    }
    int n = 0;
    for (int i = 0; i < dst->n_layers; i++) {
        qb_layer *l = &dst->layers[i];
        int in = l->inputs[0];
        int foldable = l->kind == QB_LAYER_BN && in != QB_MODEL_INPUT &&
                       src->layers[in].kind == QB_LAYER_CONV;
        /* The conv's output must feed only this BN, or folding would change
         * what the other readers see. */
        for (int j = 0; foldable && j < src->n_layers; j++)
            for (int k = 0; k < src->layers[j].n_inputs; k++)
                if (j != i && src->layers[j].inputs[k] == in) foldable = 0;
        if (!foldable) {
            for (int k = 0; k < l->n_inputs; k++)
                if (l->inputs[k] != QB_MODEL_INPUT) l->inputs[k] = remap[l->inputs[k]];
            remap[i] = n;
            if (n != i) {
                dst->layers[n] = *l;
                memset(l->params, 0, sizeof l->params);
            }
            n++;
            continue;
        }
        qb_layer *conv = &dst->layers[remap[in]];
        const float *gamma = l->params[QB_P_WEIGHT].value.data, *beta = l->params[QB_P_BIAS].value.data;
        const float *mean = l->params[QB_P_RUNNING_MEAN].value.data;
        const float *var = l->params[QB_P_RUNNING_VAR].value.data;
        if (!conv->params[QB_P_BIAS].value.data) {
            int64_t bs[1] = {conv->c};
            snprintf(conv->params[QB_P_BIAS].name, QB_PARAM_NAME_LEN, "%s.bias", conv->name);
            conv->params[QB_P_BIAS].trainable = 1;
            if ((s = qb_tensor_alloc(&conv->params[QB_P_BIAS].value, QB_F32, 1, bs)) != QB_OK) {
                free(remap);
                qb_model_free(dst);
                return s;
            }
        }
        float *w = conv->params[QB_P_WEIGHT].value.data, *b = conv->params[QB_P_BIAS].value.data;
        int64_t per = qb_tensor_numel(&conv->params[QB_P_WEIGHT].value) / conv->c;
        for (int o = 0; o < conv->c; o++) {
            float g = gamma[o] / sqrtf(var[o] + l->eps);
            for (int64_t j = 0; j < per; j++) w[o * per + j] *= g;
            b[o] = (b[o] - mean[o]) * g + beta[o];
        }
        for (int p = 0; p < QB_LAYER_MAX_PARAMS; p++) qb_tensor_free(&l->params[p].value);
        remap[i] = remap[in]; /* readers of the BN now read the conv */
    }
    dst->n_layers = n;
    free(remap);
    return QB_OK;
}

qb_status qb_model_alloc_grads(qb_model *m)
{
    for (int i = 0; i < m->n_layers; i++)
        for (int p = 0; p < m->layers[i].n_params; p++) {
            qb_param *q = &m->layers[i].params[p];
            if (!q->value.data || !q->trainable || q->grad.data) continue;
            qb_status s = qb_tensor_alloc(&q->grad, QB_F32, q->value.ndim, q->value.shape);
            if (s != QB_OK) return s;
        }
    return QB_OK;
}

void qb_model_zero_grads(qb_model *m)
{
    for (int i = 0; i < m->n_layers; i++)
        for (int p = 0; p < m->layers[i].n_params; p++) {
            qb_param *q = &m->layers[i].params[p];
            if (q->grad.data) memset(q->grad.data, 0, qb_tensor_bytes(&q->grad));
        }
}
