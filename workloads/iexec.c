/* The integer executor (see iexec.h). At creation every tensor of the
 * folded graph gets the representations its readers need: float (NHWC)
 * for adds, average pooling and logits, and uint8 codes under a reader's
 * activation parameters for conv/dense layers; the needs flow backwards
 * through ReLU, max pooling and flatten, which work on codes as well as on
 * floats. Then each layer is bound to the cheapest way to produce them. */
#include "iexec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "iexec_float.h"
#include "iweights.h"
#include "nhwc_ops.h"
#include "qkernels.h"
#include "quant.h"

#define MAX_FORMS 4        /* distinct code forms of one tensor */
/* Floats of the widest tensor of one pass, per thread: a layer touches
 * 3 or 4 tensors (input codes, residual, float output, codes), which then
 * stay in each core's L2 (1 MB here). Measured (bench-kernels --layers):
 * 1 MB per pass made ResNet-20 20-25% slower; 128 KB cut the MLP's batch
 * of 64 into two passes (5% slower) and gained nothing on ResNet-20. */
#define SUB_BATCH_BYTES (1 << 18)

/* Codes of a tensor under one reader's activation parameters, stored as
 * uint8 (signed codes + 128). */
typedef struct {
    int consumer;          /* the conv/dense layer whose parameters these are */
    const qb_qparams *p;
    qb_dtype dtype;        /* the scheme's code type (uint8 or int8) */
    float scale;
    int32_t zp, lo, hi;    /* in stored units */
    int offset;            /* 128 for signed codes */
    uint8_t *buf;          /* sub x numel */
} qform;

typedef struct {
    int64_t numel;         /* per image */
    int c, h, w;
    int need_f;
    float *f;              /* sub x numel, NHWC */
    int nq;
    qform q[MAX_FORMS];
    int alias;             /* buffers belong to another value (flatten, fused ReLU) */
} value;

/* A conv or dense layer bound to the kernels. */
typedef struct {
    qb_qweights w;
    qb_conv_shape cs;      /* conv (batch set per pass) */
    int in_form;           /* which code form of its input it reads */
    float *fscale, *fbias; /* float output: y = acc * fscale + fbias */
    int32_t *mult, *rshift, *ibias;
    qb_requant rq;
    qb_flayer *fl;         /* float weights (fp8, bf16, fp16, kmeans): iexec_float.h; else NULL */
    qb_q4weights w4;       /* weights with scales per group of k (w4.data set): the 4-bit group
                            * kernel, conv (and a dense layer reading a flattened tensor, as a
                            * conv whose kernel is the whole image) through qb_q4a8_conv */
    int w4_conv;           /* run as qb_q4a8_conv on cs */
} wlayer;

struct qb_iexec {
    qb_model model;        /* copy of the folded graph (weights not needed after create) */
    const qb_backend *be;
    qb_pool *pool;
    int max_batch, sub;
    value *vals;           /* n_layers + 1: vals[0] is the input, vals[l + 1] layer l */
    wlayer *wl;            /* per layer (used for conv/dense) */
    int *fused;            /* per layer: 1 for a ReLU folded into its producer's clamp */
    int *add_into;         /* per conv/dense layer: the Add computed in its epilogue, or -1 */
    int *add_by;           /* per Add layer: the conv/dense layer that computes it, or -1 */
    float *logits;         /* max_batch x n_classes */
    float *in_nhwc;        /* sub x input numel (multi-channel inputs) */
    qb_scratch scratch;
    double *profile;       /* n_layers + 1 seconds, or NULL (qb_iexec_set_profile) */
    char label[48];        /* what ran (qb_iexec_backend_label) */
};

static value *val(const qb_iexec *e, int layer) { return &e->vals[layer + 1]; }

/* ---- parameters ---------------------------------------------------------- */

static int is_weighted(const qb_layer *l) { return l->kind == QB_LAYER_CONV || l->kind == QB_LAYER_DENSE; }

static qb_status act_form(const qb_qmodel *q, int layer, qform *f)
{
    const qb_layer *l = &q->model.layers[layer];
    const qb_qparams *p = &q->aq[layer];
    if (q->abits[layer] == QB_FLOAT_BITS || !p->scale)
        return qb_error(QB_ERR_UNSUPPORTED, "layer %s: its input is not quantized; the integer executor "
                        "needs every conv/dense layer at 2..8 bits", l->name);
    if (!p->scheme->affine || p->bits > 8 || p->gran.kind != QB_GRAN_TENSOR)
        return qb_error(QB_ERR_UNSUPPORTED, "layer %s: inputs in %s at %d bits; the integer executor takes "
                        "uniform-asym or uniform-sym activations of 2..8 bits per tensor", l->name,
                        p->scheme->name, p->bits);
    qb_block b = qb_qparams_block(p, 0);
    memset(f, 0, sizeof *f);
    f->consumer = layer;
    f->p = p;
    f->dtype = qb_scheme_code_dtype(p->scheme, p->bits);
    f->offset = f->dtype == QB_I8 ? 128 : 0;
    f->scale = b.scale;
    f->zp = b.zero_point + f->offset;
    f->lo = b.qmin + f->offset;
    f->hi = b.qmax + f->offset;
    return QB_OK;
}

static int same_form(const qform *a, const qform *b)
{
    return a->scale == b->scale && a->zp == b->zp && a->lo == b->lo && a->hi == b->hi && a->offset == b->offset &&
           a->dtype == b->dtype;
}

/* Adds form f to v (or finds an identical one); returns its index or -1. */
static int add_form(value *v, const qform *f)
{
    for (int i = 0; i < v->nq; i++)
        if (same_form(&v->q[i], f)) return i;
    if (v->nq == MAX_FORMS) return -1;
    v->q[v->nq] = *f;
    return v->nq++;
}

static int find_form(const value *v, const qform *f)
{
    for (int i = 0; i < v->nq; i++)
        if (same_form(&v->q[i], f)) return i;
    return -1;
}

/* ---- weights --------------------------------------------------------------- */

/* Column order of a dense layer's input when it reads a flattened NHWC
 * tensor of (c, h, w): weight column (ch, y, x) moves to (y, x, ch). */
static void nhwc_columns(int8_t *codes, int64_t rows, int c, int hw, int8_t *tmp)
{
    for (int64_t r = 0; r < rows; r++) {
        int8_t *row = codes + r * (int64_t)c * hw;
        for (int ch = 0; ch < c; ch++)
            for (int p = 0; p < hw; p++) tmp[p * c + ch] = row[ch * hw + p];
        memcpy(row, tmp, (size_t)c * hw);
    }
}

/* The (c, h, w) a dense layer's flatten input had, if it came through one. */
static int flattened_from(const qb_model *m, const qb_layer *l, int *c, int *hw)
{
    int in = l->inputs[0];
    if (in < 0 || m->layers[in].kind != QB_LAYER_FLATTEN) return 0;
    const qb_layer *f = &m->layers[in];
    *c = f->in_c;
    *hw = f->in_h * f->in_w;
    return *c > 1 && *hw > 1;
}

/* Weights with a scale (and zero code) per output channel and group of k.
 * Their k order must stay the model's (groups are runs of it), so a conv
 * and a dense layer reading a flattened NHWC tensor take the group
 * kernel's conv path, whose im2col gathers activations in that order. */
static int has_group_weights(const qb_qmodel *q, int li)
{
    return q->wbits[li] != QB_FLOAT_BITS && q->wq[li].scale && q->wq[li].gran.kind == QB_GRAN_GROUP &&
           !qb_fpath_of(q, li);
}

/* A conv layer's geometry for one image (the executor sets the batch per pass). */
static qb_conv_shape layer_conv_shape(const qb_layer *l)
{
    return (qb_conv_shape){.batch = 1, .in_h = l->in_h, .in_w = l->in_w, .in_c = l->in_c, .out_c = l->c,
                           .k_h = l->kh, .k_w = l->kw, .stride_h = l->stride, .stride_w = l->stride,
                           .dil_h = 1, .dil_w = 1, .pad_top = l->pad, .pad_left = l->pad,
                           .pad_bottom = l->pad, .pad_right = l->pad};
}

static qb_status pack_group_weights(const qb_qmodel *q, int li, const qform *in, wlayer *w)
{
    const qb_layer *l = &q->model.layers[li];
    const qb_qparams *p = &q->wq[li];
    int64_t G = p->gran.group;
    if (!p->scheme->affine || p->bits > 4)
        return qb_error(QB_ERR_UNSUPPORTED, "layer %s: %s weights at %d bits with scales per group; the integer "
                        "executor runs group scales on its 4-bit kernel: uniform-sym or uniform-asym at 2..4 bits "
                        "(wider weights: per tensor or per output channel)", l->name, p->scheme->name, p->bits);
    if (p->ndim != 2 || p->gran.axis != 1 || G % 8 || G > 1024)
        return qb_error(QB_ERR_UNSUPPORTED, "layer %s: weight groups of %lld; the 4-bit group kernel takes groups "
                        "along the input dimension of 8..1024 weights, a multiple of 8", l->name, (long long)G);
    const qb_tensor *wt = &l->params[QB_P_WEIGHT].value;
    int64_t n = p->shape[0], k = p->shape[1], groups = p->groups;
    qb_dtype dt = qb_scheme_code_dtype(p->scheme, p->bits);
    int off = dt == QB_I8 ? 8 : 0; /* signed codes -8..7 are stored + 8 */
    uint8_t *codes = qb_malloc((size_t)(n * k), 1), *zp = qb_malloc((size_t)(n * groups), 1);
    float *scales = qb_malloc((size_t)(n * groups), sizeof(float));
    w->fscale = qb_malloc((size_t)n, sizeof(float));
    w->fbias = qb_malloc((size_t)n, sizeof(float));
    qb_status st = QB_ERR_NOMEM;
    if (!codes || !zp || !scales || !w->fscale || !w->fbias) goto done;
    /* the fake-quantized weights quantize back to their codes */
    if ((st = qb_quantize_to(p, wt->data, n * k, dt, codes))) goto done;
    for (int64_t i = 0; i < n * k; i++) codes[i] = (uint8_t)(codes[i] + off);
    int sym = 1;
    for (int64_t b = 0; b < n * groups; b++) {
        qb_block blk = qb_qparams_block(p, b); /* block of channel b / groups, group b % groups */
        scales[b] = blk.scale;
        zp[b] = (uint8_t)(blk.zero_point + off);
        sym &= zp[b] == 8;
    }
    const float *bias = l->params[QB_P_BIAS].value.data;
    for (int64_t i = 0; i < n; i++) {
        w->fscale[i] = in->scale; /* y = s_x sum_g scale(n, g) S_g + bias */
        w->fbias[i] = bias ? bias[i] : 0.0f;
    }
    int c, hw;
    if (l->kind == QB_LAYER_CONV) {
        w->cs = layer_conv_shape(l);
        w->w4_conv = 1;
    } else if (flattened_from(&q->model, l, &c, &hw)) {
        const qb_layer *f = &q->model.layers[l->inputs[0]];
        w->cs = (qb_conv_shape){.batch = 1, .in_h = f->in_h, .in_w = f->in_w, .in_c = c, .out_c = n,
                                .k_h = f->in_h, .k_w = f->in_w, .stride_h = 1, .stride_w = 1, .dil_h = 1, .dil_w = 1};
        w->w4_conv = 1;
    }
    if (w->w4_conv && (st = qb_conv_shape_init(&w->cs))) goto done;
    st = qb_q4weights_pack(&w->w4, n, k, G, codes, scales, sym ? NULL : zp);
done:
    if (st) qb_error_context(st, "packing the weights of %s", l->name);
    free(codes), free(zp), free(scales);
    return st;
}

/* Weight zero points cost the kernels a sum of every activation row
 * (qgemm.h). Up to 7 bits, code - zp lies in -127..127: the codes become
 * those signed differences and the zero points 0, the same integer sums.
 * Returns the codes' new dtype. */
static qb_dtype fold_weight_zero_points(int8_t *codes, int64_t n, int64_t k, qb_dtype dt, int32_t *zp)
{
    int any = 0;
    for (int64_t i = 0; i < n; i++) any |= zp[i] != 0;
    if (!any && dt == QB_I8) return dt;
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < k; j++) {
            int32_t c = dt == QB_U8 ? ((uint8_t *)codes)[i * k + j] : codes[i * k + j];
            codes[i * k + j] = (int8_t)(c - zp[i]);
        }
        zp[i] = 0;
    }
    return QB_I8;
}

static qb_status pack_weights(const qb_qmodel *q, int li, const qform *in, wlayer *w)
{
    const qb_layer *l = &q->model.layers[li];
    const qb_qparams *p = &q->wq[li];
    if (q->wbits[li] == QB_FLOAT_BITS || !p->scale)
        return qb_error(QB_ERR_UNSUPPORTED, "layer %s: float weights; the integer executor needs every conv/dense "
                        "layer quantized", l->name);
    int pow2 = p->scheme->id == QB_SCHEME_POW2; /* exact integers up to 4 bits (iweights.h) */
    int ternary = p->scheme->id == QB_SCHEME_TERNARY || p->scheme->id == QB_SCHEME_BINARY || (pow2 && p->bits == 2);
    if (pow2 && p->bits > QB_POW2_INT8_MAX_BITS)
        return qb_error(QB_ERR_UNSUPPORTED, "layer %s: pow2 weights at %d bits are integers up to +-2^%d, "
                        "beyond int8 (pow2 runs on the int8 kernels at 2..%d bits)", l->name, p->bits,
                        (1 << (p->bits - 1)) - 2, QB_POW2_INT8_MAX_BITS);
    if (!(p->scheme->affine && p->bits <= 8) && !ternary && !pow2)
        return qb_error(QB_ERR_UNSUPPORTED, "layer %s: %s weights at %d bits; the integer executor takes "
                        "uniform-sym/uniform-asym (2..8 bits), pow2 (2..%d), ternary or binary", l->name,
                        p->scheme->name, p->bits, QB_POW2_INT8_MAX_BITS);
    if (p->gran.kind == QB_GRAN_GROUP && !ternary && !pow2) return pack_group_weights(q, li, in, w);
    if (p->gran.kind == QB_GRAN_GROUP || (p->gran.kind == QB_GRAN_CHANNEL && p->gran.axis != 0))
        return qb_error(QB_ERR_UNSUPPORTED, "layer %s: %s weight scales per group; the integer executor takes "
                        "them per tensor or per output channel (group scales: uniform-sym/uniform-asym at 2..4 "
                        "bits)", l->name, p->scheme->name);
    const qb_tensor *wt = &l->params[QB_P_WEIGHT].value;
    int64_t n = wt->shape[0], numel = qb_tensor_numel(wt), k = numel / n;
    qb_dtype dt = qb_scheme_code_dtype(p->scheme, p->bits);
    int8_t *codes = qb_malloc((size_t)numel, 1), *tmp = qb_malloc((size_t)k, 1);
    int32_t *zp = qb_calloc((size_t)n, sizeof(int32_t));
    w->fscale = qb_malloc((size_t)n, sizeof(float));
    w->fbias = qb_malloc((size_t)n, sizeof(float));
    w->mult = qb_malloc((size_t)n, sizeof(int32_t));
    w->rshift = qb_malloc((size_t)n, sizeof(int32_t));
    w->ibias = qb_malloc((size_t)n, sizeof(int32_t));
    qb_status st = QB_ERR_NOMEM;
    if (!codes || !tmp || !zp || !w->fscale || !w->fbias || !w->mult || !w->rshift || !w->ibias) goto done;
    /* the fake-quantized weights quantize back to their codes */
    if ((st = qb_quantize_to(p, wt->data, numel, dt, codes))) goto done;
    float unit = pow2 ? qb_pow2_int_codes(codes, numel, p->bits) : 1.0f; /* of one integer code */
    const float *bias = l->params[QB_P_BIAS].value.data;
    for (int64_t i = 0; i < n; i++) {
        qb_block b = qb_qparams_block(p, p->gran.kind == QB_GRAN_CHANNEL ? i : 0);
        zp[i] = p->zero_point ? b.zero_point : 0;
        w->fscale[i] = in->scale * (b.scale * unit); /* the float path's unit of one accumulator step */
        w->fbias[i] = bias ? bias[i] : 0.0f;
    }
    if (!ternary && !pow2 && p->bits <= 7) dt = fold_weight_zero_points(codes, n, k, dt, zp);
    int c, hw;
    if (l->kind == QB_LAYER_DENSE && flattened_from(&q->model, l, &c, &hw)) nhwc_columns(codes, n, c, hw, tmp);
    if (l->kind == QB_LAYER_CONV) {
        w->cs = layer_conv_shape(l);
        if ((st = qb_conv_shape_init(&w->cs))) goto done;
        st = ternary ? qb_qweights_pack_ternary_conv(&w->w, n, l->in_c, l->kh, l->kw, codes)
                     : qb_qweights_pack_conv(&w->w, n, l->in_c, l->kh, l->kw, codes, dt == QB_U8, zp);
    } else {
        st = ternary ? qb_qweights_pack_ternary(&w->w, n, k, codes, k, 1)
             : dt == QB_U8 ? qb_qweights_pack_u8(&w->w, n, k, (const uint8_t *)codes, k, 1, zp)
                           : qb_qweights_pack_s8(&w->w, n, k, codes, k, 1, zp);
    }
done:
    if (st) qb_error_context(st, "packing the weights of %s", l->name);
    free(codes);
    free(tmp);
    free(zp);
    return st;
}

/* Requantization of layer li's sums into form `out` (codes for its reader). */
static qb_status bind_requant(const qb_qmodel *q, int li, wlayer *w, const qform *out, int relu)
{
    int64_t n = w->w.n;
    for (int64_t i = 0; i < n; i++) {
        double unit = w->fscale[i]; /* s_x * s_w */
        double real = unit / out->scale;
        if (!(real > 0) || !isfinite(real) || real < 0x1p-40) {
            w->mult[i] = 0;
            w->rshift[i] = 1;
        } else {
            qb_status st = qb_requant_multiplier(real, &w->mult[i], &w->rshift[i]);
            if (st) return qb_error_context(st, "layer %s", q->model.layers[li].name);
        }
        double b = unit > 0 ? nearbyint(w->fbias[i] / unit) : 0;
        w->ibias[i] = (int32_t)(b > 2147483647.0 ? 2147483647.0 : b < -2147483648.0 ? -2147483648.0 : b);
    }
    int32_t lo = relu && out->zp > out->lo ? out->zp : out->lo;
    w->rq = (qb_requant){.type = QB_OUT_U8, .bias = w->ibias, .mult = w->mult, .rshift = w->rshift, .zp = out->zp, .lo = lo,
                          .hi = out->hi};
    return QB_OK;
}

/* ---- creation -------------------------------------------------------------- */

/* The kernels that ran, for the results' backend column: the backend's
 * name for the integer kernels, each float path's label (iexec_float.h),
 * joined with '+' when a model mixes them. */
static int label_has(const char *label, const char *s)
{
    size_t len = strlen(s);
    for (const char *p = label; (p = strstr(p, s)); p += len)
        if ((p == label || p[-1] == '+') && (p[len] == 0 || p[len] == '+')) return 1;
    return 0;
}

/* The 4-bit group kernel on backend `be`: "avx512-vnni-int4g". */
static const char *int4g_label(const qb_backend *be, char *buf, size_t len)
{
    snprintf(buf, len, "%s-int4g", be->name);
    return buf;
}

static void make_label(qb_iexec *e)
{
    size_t n = 0;
    e->label[0] = 0;
    for (int li = 0; li < e->model.n_layers; li++) {
        if (!is_weighted(&e->model.layers[li])) continue;
        char buf[32];
        const char *s = e->wl[li].fl ? qb_flayer_label(e->wl[li].fl)
                        : e->wl[li].w4.data ? int4g_label(e->be, buf, sizeof buf) : e->be->name;
        if (label_has(e->label, s)) continue;
        n += (size_t)snprintf(e->label + n, sizeof e->label - n, "%s%s", n ? "+" : "", s);
        if (n >= sizeof e->label) break;
    }
}

static int n_readers(const qb_model *m, int layer)
{
    int n = 0;
    for (int i = 0; i < m->n_layers; i++)
        for (int k = 0; k < m->layers[i].n_inputs; k++) n += m->layers[i].inputs[k] == layer;
    return n;
}

/* Works out what each tensor must provide (see the file comment). */
static qb_status plan_needs(qb_iexec *e, const qb_qmodel *q)
{
    const qb_model *m = &e->model;
    val(e, m->n_layers - 1)->need_f = 1; /* logits */
    for (int li = m->n_layers - 1; li >= 0; li--) {
        const qb_layer *l = &m->layers[li];
        value *out = val(e, li);
        if (l->kind == QB_LAYER_ADD || l->kind == QB_LAYER_GAP) out->need_f = 1; /* they compute in floats */
        for (int k = 0; k < l->n_inputs; k++) {
            value *in = val(e, l->inputs[k]);
            switch (l->kind) {
            case QB_LAYER_CONV:
            case QB_LAYER_DENSE: {
                if (qb_fpath_of(q, li)) { /* float paths quantize floats themselves */
                    in->need_f = 1;
                    break;
                }
                qform f;
                qb_status st = act_form(q, li, &f);
                if (st) return st;
                if (add_form(in, &f) < 0) goto too_many;
                break;
            }
            case QB_LAYER_RELU: {
                /* folded into its producer when it is the producer's only
                 * reader (a clamp on codes, max(y, 0) on floats) */
                int p = l->inputs[0];
                if (p >= 0 && n_readers(m, p) == 1 &&
                    (is_weighted(&m->layers[p]) || m->layers[p].kind == QB_LAYER_ADD)) {
                    e->fused[li] = 1;
                    in->need_f |= out->need_f;
                    for (int j = 0; j < out->nq; j++)
                        if (add_form(in, &out->q[j]) < 0) goto too_many;
                } else {
                    in->need_f = 1;
                }
                break;
            }
            case QB_LAYER_MAXPOOL:
            case QB_LAYER_FLATTEN:
                in->need_f |= out->need_f;
                for (int j = 0; j < out->nq; j++)
                    if (add_form(in, &out->q[j]) < 0) goto too_many;
                break;
            case QB_LAYER_ADD:
            case QB_LAYER_GAP: in->need_f = 1; break;
            default:
                return qb_error(QB_ERR_UNSUPPORTED, "layer %s: %s layers are not run by the integer executor "
                                "(fold batch norms first)", l->name, qb_layer_kind_name(l->kind));
            }
        }
    }
    /* a conv/dense output with several code forms and no float, from a
     * float path, or from group scales unless its one reader's codes come
     * out of the kernel's epilogue (nearest rounding, see bind_float): make
     * floats */
    for (int li = 0; li < m->n_layers; li++) {
        const value *v = val(e, li);
        int codes_only = v->nq == 1 && v->q[0].p->rounding.mode == QB_ROUND_NEAREST;
        if (is_weighted(&m->layers[li]) &&
            (v->nq > 1 || qb_fpath_of(q, li) || (has_group_weights(q, li) && !codes_only)))
            val(e, li)->need_f = 1;
    }
    return QB_OK;
too_many:
    return qb_error(QB_ERR_UNSUPPORTED, "a tensor is read by conv/dense layers with more than %d different "
                    "activation parameters", MAX_FORMS);
}

/* Residual Adds computed in a producer's epilogue: an Add whose later
 * input is a conv/dense layer that nothing else reads gets that layer's
 * sums with the other input (already computed) added in the kernel, then
 * the Add's ReLU, and writes the Add's floats (and codes, see bind_float)
 * in one pass instead of three. */
static void plan_add_fusion(qb_iexec *e, const qb_qmodel *q)
{
    const qb_model *m = &e->model;
    for (int li = 0; li < m->n_layers; li++) e->add_into[li] = e->add_by[li] = -1;
    for (int a = 0; a < m->n_layers; a++) {
        const qb_layer *l = &m->layers[a];
        if (l->kind != QB_LAYER_ADD || l->n_inputs != 2) continue;
        int p = l->inputs[0] > l->inputs[1] ? l->inputs[0] : l->inputs[1];
        if (p < 0 || l->inputs[0] == l->inputs[1] || !is_weighted(&m->layers[p]) || n_readers(m, p) != 1 ||
            val(e, p)->nq > 0 || qb_fpath_of(q, p)) /* float paths (iexec_float.h) write plain floats */
            continue;
        e->add_into[p] = a;
        e->add_by[a] = p;
    }
}

static qb_status alloc_values(qb_iexec *e)
{
    const qb_model *m = &e->model;
    for (int li = -1; li < m->n_layers; li++) {
        value *v = val(e, li);
        const qb_layer *l = li >= 0 ? &m->layers[li] : NULL;
        v->c = l ? l->c : m->in_c;
        v->h = l ? l->h : m->in_h;
        v->w = l ? l->w : m->in_w;
        v->numel = (int64_t)v->c * v->h * v->w;
        if (l && e->add_into[li] >= 0) { /* writes the Add's buffers (set below) */
            v->alias = 1;
            continue;
        }
        if (l && (l->kind == QB_LAYER_FLATTEN || e->fused[li])) { /* share the input's buffers */
            const value *in = val(e, l->inputs[0]);
            v->alias = 1;
            v->f = in->f;
            for (int j = 0; j < v->nq; j++) {
                int idx = find_form(in, &v->q[j]);
                if (idx < 0) return qb_error(QB_ERR_INTERNAL, "layer %s: no matching input form", l->name);
                v->q[j].buf = in->q[idx].buf;
            }
            continue;
        }
        size_t n = (size_t)e->sub * (size_t)v->numel;
        if (v->need_f && !(v->f = qb_aligned_alloc(n, sizeof(float)))) return QB_ERR_NOMEM;
        for (int j = 0; j < v->nq; j++)
            if (!(v->q[j].buf = qb_aligned_alloc(n, 1))) return QB_ERR_NOMEM;
    }
    for (int li = 0; li < m->n_layers; li++)
        if (e->add_into[li] >= 0) val(e, li)->f = val(e, e->add_into[li])->f;
    return QB_OK;
}

/* Float output of layer li (y = acc * fscale + fbias, ReLU'd when relu),
 * with the residual fused Add's other input, and the codes of `out` when it
 * has exactly one code form computed by nearest rounding (the kernel
 * rounds exactly as qb_quantize_to does). */
static void bind_float(qb_iexec *e, int li, int relu, const float *residual, const value *out)
{
    wlayer *w = &e->wl[li];
    w->rq = (qb_requant){.type = QB_OUT_F32, .scale = w->fscale, .fbias = w->fbias, .relu = relu,
                         .residual = residual};
    if (out->nq != 1 || out->q[0].p->rounding.mode != QB_ROUND_NEAREST) return;
    const qform *f = &out->q[0];
    w->rq.codes = f->buf;
    w->rq.code_scale = f->scale;
    w->rq.code_zp = f->zp;
    w->rq.code_lo = f->lo;
    w->rq.code_hi = f->hi;
}

qb_status qb_iexec_create(qb_iexec **out, const qb_qmodel *q, const qb_backend *be, int max_batch,
                          qb_pool *pool)
{
    *out = NULL;
    if (!q || max_batch < 1) return qb_error(QB_ERR_ARG, "integer executor: no model or batch < 1");
    qb_iexec *e = qb_calloc(1, sizeof *e);
    if (!e) return QB_ERR_NOMEM;
    qb_status st = qb_model_clone(&q->model, &e->model);
    if (st) {
        free(e);
        return st;
    }
    const qb_model *m = &e->model;
    e->be = be ? be : qb_backend_best();
    e->pool = pool;
    e->max_batch = max_batch;
    e->vals = qb_calloc((size_t)m->n_layers + 1, sizeof *e->vals);
    e->wl = qb_calloc((size_t)m->n_layers, sizeof *e->wl);
    e->fused = qb_calloc((size_t)m->n_layers, sizeof *e->fused);
    e->add_into = qb_calloc((size_t)m->n_layers, sizeof *e->add_into);
    e->add_by = qb_calloc((size_t)m->n_layers, sizeof *e->add_by);
    e->logits = qb_malloc((size_t)max_batch * (size_t)m->n_classes, sizeof(float));
    if (!e->vals || !e->wl || !e->fused || !e->add_into || !e->add_by || !e->logits) {
        st = QB_ERR_NOMEM;
        goto fail;
    }
    if ((st = plan_needs(e, q))) goto fail;
    plan_add_fusion(e, q);
    /* sub-batch: the widest tensor's floats in SUB_BATCH_BYTES per thread */
    int64_t widest = m->in_c * m->in_h * m->in_w;
    for (int li = 0; li < m->n_layers; li++)
        if (qb_layer_out_numel(&m->layers[li]) > widest) widest = qb_layer_out_numel(&m->layers[li]);
    e->sub = (int)(SUB_BATCH_BYTES * (pool ? qb_pool_size(pool) : 1) / (widest * 4));
    e->sub = e->sub < 1 ? 1 : e->sub > max_batch ? max_batch : e->sub;
    if ((st = alloc_values(e))) goto fail;
    if (m->in_c > 1 && !(e->in_nhwc = qb_aligned_alloc((size_t)e->sub * (size_t)val(e, -1)->numel, sizeof(float)))) {
        st = QB_ERR_NOMEM;
        goto fail;
    }
    for (int li = 0; li < m->n_layers && !st; li++) {
        const qb_layer *l = &m->layers[li];
        if (!is_weighted(l)) continue;
        wlayer *w = &e->wl[li];
        if (qb_fpath_of(q, li)) {
            int c = 0, hw = 0;
            if (l->kind == QB_LAYER_DENSE && !flattened_from(m, l, &c, &hw)) c = hw = 0;
            st = qb_flayer_create(&w->fl, q, li, e->be, e->sub, c, hw);
            continue;
        }
        qform f;
        if ((st = act_form(q, li, &f))) break;
        w->in_form = find_form(val(e, l->inputs[0]), &f);
        if ((st = pack_weights(q, li, &f, w))) break;
        value *o = val(e, li);
        int a = e->add_into[li];
        if (a >= 0) {
            const qb_layer *al = &m->layers[a];
            int other = al->inputs[0] == li ? al->inputs[1] : al->inputs[0];
            bind_float(e, li, qb_iexec_relu_fused(e, a), val(e, other)->f, val(e, a));
        } else if (!o->need_f && o->nq == 1 && !w->w4.data) {
            st = bind_requant(q, li, w, &o->q[0], qb_iexec_relu_fused(e, li));
        } else {
            bind_float(e, li, qb_iexec_relu_fused(e, li), NULL, o);
        }
    }
    if (st) goto fail;
    make_label(e);
    /* the float weights are no longer needed */
    for (int li = 0; li < m->n_layers; li++)
        for (int p = 0; p < e->model.layers[li].n_params; p++) qb_tensor_free(&e->model.layers[li].params[p].value);
    *out = e;
    return QB_OK;
fail:
    qb_iexec_free(e);
    return st;
}

void qb_iexec_free(qb_iexec *e)
{
    if (!e) return;
    for (int li = -1; e->vals && li < e->model.n_layers; li++) {
        value *v = val(e, li);
        if (v->alias) continue;
        free(v->f);
        for (int j = 0; j < v->nq; j++) free(v->q[j].buf);
    }
    for (int li = 0; e->wl && li < e->model.n_layers; li++) {
        wlayer *w = &e->wl[li];
        qb_qweights_free(&w->w);
        qb_q4weights_free(&w->w4);
        qb_flayer_free(w->fl);
        free(w->fscale), free(w->fbias), free(w->mult), free(w->rshift), free(w->ibias);
    }
    free(e->vals), free(e->wl), free(e->fused), free(e->add_into), free(e->add_by), free(e->logits), free(e->in_nhwc);
    qb_scratch_free(&e->scratch);
    qb_model_free(&e->model);
    free(e);
}

/* ---- element-wise work, split over the pool ----------------------------- */

typedef struct {
    qb_status st[64];
    int64_t n;             /* items (elements or images) */
    void (*fn)(void *ctx, int64_t b, int64_t e, qb_status *st);
    void *ctx;
} par_ctx;

static void par_task(void *p, int tid, int nt)
{
    par_ctx *c = p;
    int64_t b, e;
    qb_split_range(c->n, tid, nt, &b, &e);
    c->st[tid % 64] = QB_OK;
    if (b < e) c->fn(c->ctx, b, e, &c->st[tid % 64]);
}

static qb_status parallel(qb_iexec *e, int64_t n, int64_t work, void (*fn)(void *, int64_t, int64_t, qb_status *),
                          void *ctx)
{
    par_ctx c = {.n = n, .fn = fn, .ctx = ctx};
    int nt = e->pool && work > (1 << 16) ? qb_pool_size(e->pool) : 1;
    if (nt > 1) qb_pool_run(e->pool, par_task, &c);
    else par_task(&c, 0, 1);
    for (int t = 0; t < nt && t < 64; t++)
        if (c.st[t]) return c.st[t];
    return QB_OK;
}

typedef struct {
    const float *x;
    const qform *f;
    uint8_t *q;
} quant_ctx;

static void quant_range(void *p, int64_t b, int64_t e, qb_status *st)
{
    quant_ctx *c = p;
    *st = qb_quantize_to(c->f->p, c->x + b, e - b, c->f->dtype, c->q + b);
    if (c->f->offset)
        for (int64_t i = b; i < e; i++) c->q[i] ^= 0x80; /* int8 + 128 */
}

/* Every code form of v from its floats. */
static qb_status quantize_forms(qb_iexec *e, value *v, int64_t n, const float *x)
{
    for (int j = 0; j < v->nq; j++) {
        quant_ctx c = {x, &v->q[j], v->q[j].buf};
        qb_status st = parallel(e, n, n, quant_range, &c);
        if (st) return st;
    }
    return QB_OK;
}

typedef struct {
    const float *a, *b;
    float *y;
    int relu;
} add_ctx;

static void add_range(void *p, int64_t b, int64_t e, qb_status *st)
{
    add_ctx *c = p;
    qb_nhwc_add(c->a + b, c->b + b, c->y + b, e - b, c->relu);
    *st = QB_OK;
}

static void relu_range(void *p, int64_t b, int64_t e, qb_status *st)
{
    add_ctx *c = p;
    qb_nhwc_relu(c->a + b, c->y + b, e - b);
    *st = QB_OK;
}

typedef struct {
    uint8_t *q;
    uint8_t lo;
} clamp_ctx;

static void clamp_range(void *p, int64_t b, int64_t e, qb_status *st)
{
    clamp_ctx *c = p;
    qb_nhwc_clamp_codes(c->q + b, e - b, c->lo);
    *st = QB_OK;
}

typedef struct {
    const qb_layer *l;
    const void *x;
    void *y;
    int codes;
} pool_ctx;

static void pool_range(void *p, int64_t b, int64_t e, qb_status *st)
{
    pool_ctx *c = p;
    const qb_layer *l = c->l;
    if (c->codes)
        qb_nhwc_maxpool_u8(c->x, c->y, b, e, l->in_h, l->in_w, l->c, l->kh, l->stride, l->h, l->w);
    else
        qb_nhwc_maxpool_f32(c->x, c->y, b, e, l->in_h, l->in_w, l->c, l->kh, l->stride, l->h, l->w);
    *st = QB_OK;
}

typedef struct {
    const qb_layer *l;
    const float *x;
    float *y;
} gap_ctx;

static void gap_range(void *p, int64_t b, int64_t e, qb_status *st)
{
    gap_ctx *c = p;
    qb_nhwc_gap(c->x, c->y, b, e, c->l->in_h * c->l->in_w, c->l->in_c);
    *st = QB_OK;
}

/* ---- forward --------------------------------------------------------------- */

static qb_status run_weighted(qb_iexec *e, int li, int nb)
{
    const qb_layer *l = &e->model.layers[li];
    wlayer *w = &e->wl[li];
    const value *in = val(e, l->inputs[0]);
    value *o = val(e, li);
    if (w->fl) {
        qb_status st = qb_flayer_forward(w->fl, e->pool, in->f, nb, o->f, qb_iexec_relu_fused(e, li));
        return st ? st : quantize_forms(e, o, nb * o->numel, o->f);
    }
    const qform *f = &in->q[w->in_form];
    void *dst = w->rq.type == QB_OUT_F32 ? (void *)o->f : (void *)o->q[0].buf;
    qb_status st;
    if (w->w4.data && w->w4_conv) {
        qb_conv_shape cs = w->cs;
        cs.batch = nb;
        st = qb_q4a8_conv(e->be, e->pool, &cs, f->buf, f->zp, &w->w4, &w->rq, dst, &e->scratch);
    } else if (w->w4.data) {
        qb_q4a8_args g = {nb, f->buf, in->numel, f->zp, &w->w4, &w->rq, dst, l->c, &e->scratch};
        st = qb_q4a8_gemm(e->be, e->pool, &g);
    } else if (l->kind == QB_LAYER_CONV) {
        qb_conv_shape cs = w->cs;
        cs.batch = nb;
        st = qb_qconv(e->be, e->pool, &cs, f->buf, f->zp, &w->w, &w->rq, dst, &e->scratch);
    } else {
        qb_qgemm_args g = {nb, f->buf, in->numel, f->zp, &w->w, &w->rq, dst, l->c, &e->scratch};
        st = qb_qgemm(e->be, e->pool, &g);
    }
    if (st || w->rq.type != QB_OUT_F32 || w->rq.codes) return st;
    value *out = e->add_into[li] >= 0 ? val(e, e->add_into[li]) : o; /* whose floats were written */
    return quantize_forms(e, out, nb * out->numel, out->f);
}

static qb_status run_layer(qb_iexec *e, int li, int nb)
{
    const qb_layer *l = &e->model.layers[li];
    value *o = val(e, li);
    const value *in = val(e, l->inputs[0]);
    int64_t n = nb * o->numel;
    qb_status st = QB_OK;
    switch (l->kind) {
    case QB_LAYER_CONV:
    case QB_LAYER_DENSE: return run_weighted(e, li, nb);
    case QB_LAYER_FLATTEN: return QB_OK; /* NHWC data, shared buffers */
    case QB_LAYER_RELU: {
        if (e->fused[li]) return QB_OK; /* done by the producer */
        if (o->need_f) { /* floats, then codes from them */
            add_ctx c = {in->f, NULL, o->f, 1};
            if ((st = parallel(e, n, n, relu_range, &c))) return st;
            return quantize_forms(e, o, n, o->f);
        }
        /* codes only: quantize(relu(x)) = max(quantize(x), zero point) */
        if ((st = quantize_forms(e, o, n, in->f))) return st;
        for (int j = 0; j < o->nq; j++) {
            clamp_ctx c = {o->q[j].buf, (uint8_t)o->q[j].zp};
            if ((st = parallel(e, n, n, clamp_range, &c))) return st;
        }
        return QB_OK;
    }
    case QB_LAYER_MAXPOOL: {
        if (o->need_f) {
            pool_ctx c = {l, in->f, o->f, 0};
            if ((st = parallel(e, nb, n * l->kh * l->kh, pool_range, &c))) return st;
        }
        for (int j = 0; j < o->nq; j++) {
            pool_ctx c = {l, in->q[find_form(in, &o->q[j])].buf, o->q[j].buf, 1};
            if ((st = parallel(e, nb, n * l->kh * l->kh, pool_range, &c))) return st;
        }
        return QB_OK;
    }
    case QB_LAYER_ADD: {
        if (e->add_by[li] >= 0) return QB_OK; /* computed by its producer */
        add_ctx c = {in->f, val(e, l->inputs[1])->f, o->f, qb_iexec_relu_fused(e, li)};
        if ((st = parallel(e, n, n, add_range, &c))) return st;
        return quantize_forms(e, o, n, o->f);
    }
    case QB_LAYER_GAP: {
        gap_ctx c = {l, in->f, o->f};
        if ((st = parallel(e, nb, nb * qb_layer_in_numel(l), gap_range, &c))) return st;
        return quantize_forms(e, o, n, o->f);
    }
    default: return qb_error(QB_ERR_INTERNAL, "layer %s: unexpected kind", l->name);
    }
}

/* Adds the time since *t to slot and restarts *t (profiling only). */
static void profile_lap(const qb_iexec *e, int slot, double *t)
{
    if (!e->profile) return;
    double t1 = qb_now();
    e->profile[slot] += t1 - *t;
    *t = t1;
}

qb_status qb_iexec_forward(qb_iexec *e, const float *x, int batch)
{
    if (batch < 1 || batch > e->max_batch)
        return qb_error(QB_ERR_ARG, "integer executor: batch %d is outside 1..%d", batch, e->max_batch);
    const qb_model *m = &e->model;
    value *in = val(e, -1);
    int hw = m->in_h * m->in_w, k = m->n_classes;
    for (int b0 = 0; b0 < batch; b0 += e->sub) {
        int nb = batch - b0 < e->sub ? batch - b0 : e->sub;
        double t = e->profile ? qb_now() : 0;
        const float *xb = x + (int64_t)b0 * in->numel;
        if (e->in_nhwc) { /* NCHW -> NHWC */
            for (int i = 0; i < nb; i++)
                for (int c = 0; c < m->in_c; c++)
                    for (int p = 0; p < hw; p++)
                        e->in_nhwc[((int64_t)i * hw + p) * m->in_c + c] = xb[((int64_t)i * m->in_c + c) * hw + p];
            xb = e->in_nhwc;
        }
        if (in->need_f) memcpy(in->f, xb, (size_t)nb * (size_t)in->numel * sizeof(float));
        qb_status st = quantize_forms(e, in, nb * in->numel, xb);
        profile_lap(e, m->n_layers, &t);
        for (int li = 0; li < m->n_layers && !st; li++) {
            st = run_layer(e, li, nb);
            profile_lap(e, li, &t);
        }
        if (st) return st;
        memcpy(e->logits + (int64_t)b0 * k, val(e, m->n_layers - 1)->f, (size_t)nb * (size_t)k * sizeof(float));
    }
    return QB_OK;
}

const float *qb_iexec_logits(const qb_iexec *e) { return e->logits; }

int qb_iexec_sub_batch(const qb_iexec *e) { return e->sub; }

void qb_iexec_set_profile(qb_iexec *e, double *seconds) { e->profile = seconds; }

const char *qb_iexec_backend_label(const qb_iexec *e) { return e->label; }

const uint8_t *qb_iexec_input_codes(const qb_iexec *e, int layer, int *offset)
{
    const qb_layer *l = &e->model.layers[layer];
    if (!is_weighted(l) || e->wl[layer].fl) return NULL;
    const qform *f = &val(e, l->inputs[0])->q[e->wl[layer].in_form];
    if (offset) *offset = f->offset;
    return f->buf;
}

void qb_iexec_layer_output(const qb_iexec *e, int layer, const float **floats, const uint8_t **codes,
                           int *consumer, int *offset)
{
    const value *v = val(e, layer);
    if (floats) *floats = v->need_f ? v->f : NULL;
    if (codes) *codes = v->nq ? v->q[0].buf : NULL;
    if (consumer) *consumer = v->nq ? v->q[0].consumer : -1;
    if (offset) *offset = v->nq ? v->q[0].offset : 0;
}

int qb_iexec_relu_fused(const qb_iexec *e, int layer)
{
    for (int r = 0; r < e->model.n_layers; r++)
        if (e->fused[r] && e->model.layers[r].inputs[0] == layer) return 1;
    return 0;
}

int qb_iexec_add_fused(const qb_iexec *e, int layer) { return e->add_into[layer]; }

void qb_iexec_describe(const qb_iexec *e, char *buf, size_t len)
{
    size_t n = (size_t)snprintf(buf, len, "backend %s, %d images per pass\n", e->be->name, e->sub);
    for (int li = 0; li < e->model.n_layers && n < len; li++) {
        const qb_layer *l = &e->model.layers[li];
        const value *v = val(e, li);
        const char *how = e->fused[li]                   ? "clamp in the producer"
                          : e->add_by[li] >= 0              ? "computed by its producer"
                          : !is_weighted(l)                 ? ""
                          : e->wl[li].fl                    ? qb_flayer_label(e->wl[li].fl)
                          : e->wl[li].rq.type == QB_OUT_U8  ? "requantized"
                          : e->add_into[li] >= 0            ? (e->wl[li].rq.codes ? "+ residual add, float and codes out"
                                                                                  : "+ residual add, float out")
                          : e->wl[li].rq.codes              ? (v->need_f ? "float and codes out" : "codes out")
                                                            : "float out";
        const char *kernel = !is_weighted(l) || e->wl[li].fl || e->fused[li] || e->add_by[li] >= 0 ? ""
                             : e->wl[li].w4.data                ? "int4 group kernel, "
                             : qb_qweights_has_zp(&e->wl[li].w) ? "int8 kernel with activation row sums, "
                                                                    : "int8 kernel, ";
        n += (size_t)snprintf(buf + n, len - n, "  %-24s %-8s %-6s %-9s %s%s\n", l->name, qb_layer_kind_name(l->kind),
                              v->need_f ? "float" : "", v->nq == 1 ? "codes" : v->nq > 1 ? "codes xN" : "", kernel, how);
    }
}
