/* The executor's float paths (see iexec_float.h): weight preparation per
 * path at creation; per call the activations' operands, im2col for
 * convolutions, the GEMM and an epilogue (scales, bias, ReLU), each split
 * over the pool's threads. */
#include "iexec_float.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "iweights.h"
#include "qkernels.h"
#include "quant.h"

struct qb_flayer {
    qb_fpath path;
    const qb_backend *be;
    char name[QB_NAME_LEN]; /* the layer's, for messages */
    char label[48];
    int conv;
    int in_h, in_w, in_c, out_h, out_w, kh, kw, stride, pad; /* conv geometry */
    int64_t in_numel;       /* per image */
    int64_t n, k, kp;       /* output channels, reduction length, k padded (bf16: even) */
    int max_batch;
    const qb_qparams *ap;   /* input quantization, NULL for float inputs */
    /* bf16 path */
    qb_bf16weights bw;      /* operands of the weight codes (n, kp) */
    uint16_t lut[256];      /* bf16 operand of each 8-bit activation code */
    int act_bf16;           /* activations are bf16 codes: their own operands */
    float *oscale;          /* (n) s_w[c] * s_x */
    /* fp16 and fp32 paths */
    uint16_t *w16;          /* (n, k) fp16 weights */
    float *w32;             /* (n, k) fp32 weights (fp16: converted each call) */
    int f16c;
    float *bias;            /* (n) */
    /* per-call buffers, max_batch images */
    void *xa;               /* input operands: bf16 or fp32, in_numel per image */
    uint8_t *codes;         /* 8-bit activation codes (bf16 path) */
    void *cols;             /* im2col rows (out pixels, kp) of bf16 or fp32 */
    qb_scratch scratch;
};

static int is_float_weights(qb_scheme_id id)
{
    return id == QB_SCHEME_FP8_E4M3 || id == QB_SCHEME_FP8_E5M2 || id == QB_SCHEME_BF16;
}

qb_fpath qb_fpath_of(const qb_qmodel *q, int layer)
{
    const qb_qparams *p = &q->wq[layer];
    if (q->wbits[layer] == QB_FLOAT_BITS || !p->scale) return QB_FPATH_NONE;
    if (is_float_weights(p->scheme->id)) return QB_FPATH_BF16;
    if (p->scheme->id == QB_SCHEME_FP16) return QB_FPATH_FP16;
    if (p->scheme->id == QB_SCHEME_KMEANS) return QB_FPATH_FP32;
    return QB_FPATH_NONE;
}

/* ---- weights --------------------------------------------------------------- */

/* dst(o, p * C + c) = src(o, c * P + p) for rows of k = C * P values of esz
 * bytes, dst rows padded with zeros to kp: OIHW conv weights to the (kh, kw,
 * c) order of NHWC im2col rows (P = kh kw), flattened (c, h, w) columns to
 * NHWC (P = h w), or a copy (P = 1). */
static void reorder(const void *src, void *dst, size_t esz, int64_t n, int64_t C, int64_t P, int64_t kp)
{
    const char *s = src;
    char *d = dst;
    int64_t k = C * P;
    for (int64_t o = 0; o < n; o++) {
        for (int64_t c = 0; c < C; c++)
            for (int64_t p = 0; p < P; p++)
                memcpy(d + (o * kp + p * C + c) * esz, s + (o * k + c * P + p) * esz, esz);
        memset(d + (o * kp + k) * esz, 0, (size_t)(kp - k) * esz);
    }
}

/* bf16: operands of the weight codes (the format's values), their scales
 * moved to the output. */
static qb_status prep_bf16(qb_flayer *f, const qb_qmodel *q, int li, const float *w, int64_t C, int64_t P)
{
    const qb_qparams *p = &q->wq[li];
    const qb_minifloat *fmt = p->scheme->format;
    int per_channel = p->gran.kind == QB_GRAN_CHANNEL;
    if (p->gran.kind == QB_GRAN_GROUP && (p->scheme->params & QB_PARAM_SCALE))
        return qb_error(QB_ERR_UNSUPPORTED, "layer %s: %s weight scales per group; the bf16 path folds scales "
                        "into the output, per tensor or per output channel", f->name, p->scheme->name);
    int64_t numel = f->n * f->k;
    int32_t *codes = qb_malloc((size_t)numel, sizeof(int32_t));
    float *vals = qb_malloc((size_t)numel, sizeof(float)), *ordered = qb_malloc((size_t)(f->n * f->kp), sizeof(float));
    qb_status st = QB_ERR_NOMEM;
    if (!codes || !vals || !ordered) goto done;
    if ((st = qb_quantize(p, w, numel, codes))) goto done;
    for (int64_t i = 0; i < numel; i++) {
        vals[i] = qb_minifloat_decode(fmt, (uint32_t)codes[i]);
        if (qb_bf16_to_f32(qb_f32_to_bf16(vals[i])) != vals[i]) {
            st = qb_error(QB_ERR_INTERNAL, "layer %s: %s weight value %g is not exact in bf16", f->name,
                          p->scheme->name, (double)vals[i]);
            goto done;
        }
    }
    for (int64_t c = 0; c < f->n; c++) f->oscale[c] *= qb_qparams_block(p, per_channel ? c : 0).scale;
    reorder(vals, ordered, sizeof(float), f->n, C, P, f->kp);
    st = qb_bf16weights_pack(&f->bw, f->n, f->kp, ordered, f->kp, 1);
done:
    free(codes), free(vals), free(ordered);
    return st;
}

/* bf16: the operand of each activation code, or bf16 codes as they are. */
static qb_status prep_bf16_inputs(qb_flayer *f)
{
    const qb_qparams *a = f->ap;
    if (!a)
        return qb_error(QB_ERR_UNSUPPORTED, "layer %s: float inputs; the bf16 path needs them quantized",
                        f->name);
    if (a->scheme->id == QB_SCHEME_BF16) {
        f->act_bf16 = 1;
        return QB_OK;
    }
    float vals[256], unit;
    if (qb_code_operands(a, vals, &unit))
        return qb_error(QB_ERR_UNSUPPORTED, "layer %s: inputs in %s at %d bits are not exact in bf16; the bf16 "
                        "path takes fp8, bf16 or uniform inputs of up to 8 bits", f->name, a->scheme->name,
                        a->bits);
    for (int i = 0; i < 256; i++) {
        f->lut[i] = qb_f32_to_bf16(vals[i]);
        if (qb_bf16_to_f32(f->lut[i]) != vals[i])
            return qb_error(QB_ERR_INTERNAL, "layer %s: input operand %g is not exact in bf16", f->name,
                            (double)vals[i]);
    }
    for (int64_t c = 0; c < f->n; c++) f->oscale[c] *= unit;
    return QB_OK;
}

/* fp16: the codes (fp16 bit patterns) stored; fp32: the decoded weights. */
static qb_status prep_fp(qb_flayer *f, const qb_qmodel *q, int li, const float *w, int64_t C, int64_t P)
{
    int64_t numel = f->n * f->k;
    if (!(f->w32 = qb_aligned_alloc((size_t)numel, sizeof(float)))) return QB_ERR_NOMEM;
    if (f->path == QB_FPATH_FP32) {
        reorder(w, f->w32, sizeof(float), f->n, C, P, f->k);
        return QB_OK;
    }
    uint16_t *codes = qb_malloc((size_t)numel, sizeof(uint16_t));
    if (!codes || !(f->w16 = qb_aligned_alloc((size_t)numel, sizeof(uint16_t)))) {
        free(codes);
        return QB_ERR_NOMEM;
    }
    qb_status st = qb_quantize_to(&q->wq[li], w, numel, QB_U16, codes);
    if (!st) reorder(codes, f->w16, sizeof(uint16_t), f->n, C, P, f->k);
    free(codes);
    return st;
}

static void make_label(qb_flayer *f)
{
    const char *gemm = qb_gemm_backend_name(qb_gemm_current());
    if (f->path == QB_FPATH_BF16)
        snprintf(f->label, sizeof f->label, "%s-bf16", strncmp(f->be->name, "avx512", 6) == 0 ? "avx512" : f->be->name);
    else if (f->path == QB_FPATH_FP16)
        snprintf(f->label, sizeof f->label, "%s-fp32 (fp16 storage%s)", gemm, f->f16c ? ", F16C" : "");
    else
        snprintf(f->label, sizeof f->label, "%s-fp32 (decoded kmeans)", gemm);
}

qb_status qb_flayer_create(qb_flayer **out, const qb_qmodel *q, int layer, const qb_backend *be,
                           int max_batch, int flat_c, int flat_hw)
{
    *out = NULL;
    const qb_layer *l = &q->model.layers[layer];
    qb_fpath path = qb_fpath_of(q, layer);
    if (path == QB_FPATH_NONE) return qb_error(QB_ERR_INTERNAL, "layer %s has no float path", l->name);
    qb_flayer *f = qb_calloc(1, sizeof *f);
    if (!f) return QB_ERR_NOMEM;
    f->path = path;
    f->be = be ? be : qb_backend_best();
    snprintf(f->name, sizeof f->name, "%s", l->name);
    f->conv = l->kind == QB_LAYER_CONV;
    f->in_h = l->in_h, f->in_w = l->in_w, f->in_c = l->in_c, f->out_h = l->h, f->out_w = l->w;
    f->kh = l->kh, f->kw = l->kw, f->stride = l->stride, f->pad = l->pad;
    f->in_numel = qb_layer_in_numel(l);
    const qb_tensor *wt = &l->params[QB_P_WEIGHT].value;
    f->n = wt->shape[0];
    f->k = qb_tensor_numel(wt) / f->n;
    f->kp = path == QB_FPATH_BF16 && f->conv ? (f->k + 1) / 2 * 2 : f->k; /* im2col rows in bf16 pairs */
    f->max_batch = max_batch;
    f->ap = q->abits[layer] != QB_FLOAT_BITS && q->aq[layer].scale ? &q->aq[layer] : NULL;
    f->f16c = path == QB_FPATH_FP16 && f->be->score > 0 && qb_cpu_has(QB_ISA_AVX2) && qb_cpu_has(QB_ISA_F16C);
    int64_t C = f->k, P = 1; /* weight columns as stored */
    if (f->conv) C = f->in_c, P = (int64_t)f->kh * f->kw;
    else if (flat_c > 0) C = flat_c, P = flat_hw;
    size_t esz = path == QB_FPATH_BF16 ? sizeof(uint16_t) : sizeof(float);
    int64_t rows = f->conv ? (int64_t)max_batch * f->out_h * f->out_w : 0;
    f->oscale = qb_malloc((size_t)f->n, sizeof(float));
    f->bias = qb_calloc((size_t)f->n, sizeof(float));
    f->xa = qb_aligned_alloc((size_t)(max_batch * f->in_numel), esz);
    f->codes = path == QB_FPATH_BF16 ? qb_aligned_alloc((size_t)(max_batch * f->in_numel), 1) : NULL;
    f->cols = rows ? qb_aligned_alloc((size_t)(rows * f->kp), esz) : NULL;
    qb_status st = QB_ERR_NOMEM;
    if (!f->oscale || !f->bias || !f->xa || (path == QB_FPATH_BF16 && !f->codes) || (rows && !f->cols)) goto fail;
    for (int64_t c = 0; c < f->n; c++) f->oscale[c] = 1.0f;
    if (l->params[QB_P_BIAS].value.data) memcpy(f->bias, l->params[QB_P_BIAS].value.data, (size_t)f->n * sizeof(float));
    if (path == QB_FPATH_BF16) {
        if ((st = prep_bf16_inputs(f)) || (st = prep_bf16(f, q, layer, wt->data, C, P))) goto fail;
    } else if ((st = prep_fp(f, q, layer, wt->data, C, P))) {
        goto fail;
    }
    make_label(f);
    *out = f;
    return QB_OK;
fail:
    qb_error_context(st, "preparing %s for the float path", l->name);
    qb_flayer_free(f);
    return st;
}

void qb_flayer_free(qb_flayer *f)
{
    if (!f) return;
    qb_bf16weights_free(&f->bw);
    free(f->oscale), free(f->bias), free(f->w16), free(f->w32), free(f->xa), free(f->codes), free(f->cols);
    qb_scratch_free(&f->scratch);
    free(f);
}

const char *qb_flayer_label(const qb_flayer *f) { return f->label; }

void qb_f16_to_f32(const uint16_t *h, float *f, int64_t n, int f16c)
{
    if (f16c) {
        qb_f16_to_f32_avx2(h, f, n);
        return;
    }
    for (int64_t i = 0; i < n; i++) f[i] = qb_minifloat_decode(&qb_fp16, h[i]);
}

/* ---- forward --------------------------------------------------------------- */

typedef struct {
    qb_flayer *f;
    const float *x;
    float *y;
    int nb, relu;
    int64_t m;              /* GEMM rows */
    const void *a;          /* GEMM operand rows */
    int64_t lda;
    qb_status st[64];
} fwd_ctx;

/* The input's operands, elements [b, e). */
static qb_status operands(qb_flayer *f, const float *x, int64_t b, int64_t e)
{
    if (f->path != QB_FPATH_BF16) {
        float *xa = (float *)f->xa + b;
        if (f->ap) return qb_fake_quantize(f->ap, x + b, e - b, xa); /* the simulation's own values */
        memcpy(xa, x + b, (size_t)(e - b) * sizeof(float));
        return QB_OK;
    }
    uint16_t *xa = (uint16_t *)f->xa + b;
    if (f->act_bf16) return qb_quantize_to(f->ap, x + b, e - b, QB_U16, xa);
    qb_status st = qb_quantize_to(f->ap, x + b, e - b, qb_scheme_code_dtype(f->ap->scheme, f->ap->bits), f->codes + b);
    for (int64_t i = b; i < e && !st; i++) xa[i - b] = f->lut[f->codes[i]];
    return st;
}

static void operands_task(void *p, int tid, int nt)
{
    fwd_ctx *c = p;
    qb_flayer *f = c->f;
    int64_t b, e;
    qb_split_range((int64_t)c->nb * f->in_numel, tid, nt, &b, &e);
    c->st[tid] = b < e ? operands(f, c->x, b, e) : QB_OK;
    if (f->path == QB_FPATH_FP16) { /* widen this thread's share of the stored weights */
        qb_split_range(f->n * f->k, tid, nt, &b, &e);
        qb_f16_to_f32(f->w16 + b, f->w32 + b, e - b, f->f16c);
    }
}

/* im2col rows [r0, r1) of the NHWC operands: row (image, oy, ox) holds the
 * kh x kw taps of in_c values in (ky, kx, c) order, zeros outside the image
 * (0.0 is the operand of a zero input) and up to kp. */
static void im2col(const qb_flayer *f, size_t esz, int64_t r0, int64_t r1)
{
    const char *x = f->xa;
    char *cols = f->cols;
    size_t run = (size_t)f->in_c * esz;
    int64_t hw = (int64_t)f->out_h * f->out_w;
    for (int64_t r = r0; r < r1; r++) {
        int64_t img = r / hw, oy = r % hw / f->out_w, ox = r % f->out_w;
        char *d = cols + r * f->kp * (int64_t)esz;
        for (int ky = 0; ky < f->kh; ky++)
            for (int kx = 0; kx < f->kw; kx++, d += run) {
                int64_t iy = oy * f->stride - f->pad + ky, ix = ox * f->stride - f->pad + kx;
                if (iy < 0 || iy >= f->in_h || ix < 0 || ix >= f->in_w) memset(d, 0, run);
                else memcpy(d, x + ((img * f->in_h + iy) * f->in_w + ix) * (int64_t)run, run);
            }
        memset(d, 0, (size_t)(f->kp - f->k) * esz);
    }
}

typedef float v4f __attribute__((vector_size(16))); /* SSE2 in the base build */
typedef int32_t v4i __attribute__((vector_size(16)));

static inline v4f ld4(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* y = acc * oscale + bias (bf16: the scales; else oscale is 1), then ReLU
 * (y > 0 ? y : +0), rows [r0, r1), 4 channels at a time. */
static void epilogue(const qb_flayer *f, float *y, int64_t r0, int64_t r1, int relu)
{
    const float *os = f->oscale, *b = f->bias;
    int64_t n = f->n, n4 = n / 4 * 4;
    for (int64_t r = r0; r < r1; r++) {
        float *row = y + r * n;
        for (int64_t c = 0; c < n4; c += 4) {
            v4f v = ld4(row + c) * ld4(os + c) + ld4(b + c);
            if (relu) v = (v4f)((v4i)v & (v4i)(v > (v4f){0}));
            memcpy(row + c, &v, sizeof v);
        }
        for (int64_t c = n4; c < n; c++) {
            float v = row[c] * os[c] + b[c];
            row[c] = relu ? (v > 0.0f ? v : 0.0f) : v;
        }
    }
}

static void im2col_task(void *p, int tid, int nt)
{
    fwd_ctx *c = p;
    int64_t b, e;
    qb_split_range(c->m, tid, nt, &b, &e);
    im2col(c->f, c->f->path == QB_FPATH_BF16 ? sizeof(uint16_t) : sizeof(float), b, e);
    c->st[tid] = QB_OK;
}

static void epilogue_task(void *p, int tid, int nt)
{
    fwd_ctx *c = p;
    int64_t b, e;
    qb_split_range(c->m, tid, nt, &b, &e);
    epilogue(c->f, c->y, b, e, c->relu);
    c->st[tid] = QB_OK;
}

/* fp32 paths: this thread's rows through sgemm (single-threaded calls),
 * then their epilogue. */
static void sgemm_task(void *p, int tid, int nt)
{
    fwd_ctx *c = p;
    qb_flayer *f = c->f;
    int64_t b, e;
    qb_split_range(c->m, tid, nt, &b, &e);
    if (b < e) {
        qb_sgemm(0, 1, e - b, f->n, f->k, 1.0f, (const float *)c->a + b * c->lda, c->lda, f->w32, f->k, 0.0f,
                 c->y + b * f->n, f->n);
        epilogue(f, c->y, b, e, c->relu);
    }
    c->st[tid] = QB_OK;
}

/* Runs fn on the pool's threads when the work is worth it (like iexec.c). */
static qb_status run(qb_pool *pool, int64_t work, qb_task_fn fn, fwd_ctx *c)
{
    int nt = pool && work > (1 << 16) ? qb_pool_size(pool) : 1;
    if (nt > 64) nt = 64;
    memset(c->st, 0, sizeof c->st);
    if (nt > 1) qb_pool_run(pool, fn, c);
    else fn(c, 0, 1);
    for (int t = 0; t < nt; t++)
        if (c->st[t]) return c->st[t];
    return QB_OK;
}

qb_status qb_flayer_forward(qb_flayer *f, qb_pool *pool, const float *x, int nb, float *y, int relu)
{
    if (nb < 1 || nb > f->max_batch)
        return qb_error(QB_ERR_ARG, "layer %s: batch %d is outside 1..%d", f->name, nb, f->max_batch);
    fwd_ctx c = {.f = f, .x = x, .y = y, .nb = nb, .relu = relu};
    int64_t in = (int64_t)nb * f->in_numel;
    qb_status st = run(pool, in + (f->path == QB_FPATH_FP16 ? f->n * f->k : 0), operands_task, &c);
    if (st) return qb_error_context(st, "layer %s: quantizing its input", f->name);
    if (f->conv) {
        c.m = (int64_t)nb * f->out_h * f->out_w;
        c.a = f->cols;
        c.lda = f->kp;
        if ((st = run(pool, c.m * f->kp, im2col_task, &c))) return st;
    } else {
        c.m = nb;
        c.a = f->xa;
        c.lda = f->in_numel;
    }
    int64_t macs = c.m * f->n * f->k;
    if (f->path != QB_FPATH_BF16) return run(pool, macs, sgemm_task, &c);
    if ((st = qb_bf16_gemm(f->be, pool, c.m, c.a, c.lda, &f->bw, NULL, y, f->n, &f->scratch)))
        return qb_error_context(st, "layer %s", f->name);
    return run(pool, c.m * f->n, epilogue_task, &c);
}
