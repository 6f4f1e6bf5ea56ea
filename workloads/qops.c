/* ONNX integer operators on qbench's kernels (see qops.h). */
#include "qops.h"

#include <stdlib.h>
#include <string.h>
#include "qkernels.h"

/* ---- parameters ------------------------------------------------------ */

static int is_code_type(qb_dtype d) { return d == QB_U8 || d == QB_I8; }

/* A float tensor of 1 element or n: into out[n]. */
static qb_status scales(const qb_tensor *t, int64_t n, const char *what, float *out)
{
    if (!t || t->dtype != QB_F32)
        return qb_error(QB_ERR_ARG, "%s: expected a float32 tensor", what);
    int64_t c = qb_tensor_numel(t);
    if (c != 1 && c != n)
        return qb_error(QB_ERR_UNSUPPORTED, "%s: %lld values; qbench takes one, or one per output channel (%lld)",
                        what, (long long)c, (long long)n);
    for (int64_t i = 0; i < n; i++) out[i] = ((const float *)t->data)[c == 1 ? 0 : i];
    return QB_OK;
}

/* Zero points of type `type` (uint8 or int8), 1 element or n; NULL is 0. */
static qb_status zero_points(const qb_tensor *t, qb_dtype type, int64_t n, const char *what, int32_t *out)
{
    if (!t) {
        for (int64_t i = 0; i < n; i++) out[i] = 0;
        return QB_OK;
    }
    if (t->dtype != type)
        return qb_error(QB_ERR_ARG, "%s: is %s but its data is %s", what, qb_dtype_name(t->dtype), qb_dtype_name(type));
    int64_t c = qb_tensor_numel(t);
    if (c != 1 && c != n)
        return qb_error(QB_ERR_UNSUPPORTED, "%s: %lld values; qbench takes one, or %lld", what, (long long)c,
                        (long long)n);
    for (int64_t i = 0; i < n; i++) {
        int64_t j = c == 1 ? 0 : i;
        out[i] = type == QB_U8 ? ((const uint8_t *)t->data)[j] : ((const int8_t *)t->data)[j];
    }
    return QB_OK;
}

/* Activations as uint8 with their zero point: int8 codes move by 128. */
static uint8_t *act_u8(const qb_tensor *t, int32_t *zp)
{
    int64_t n = qb_tensor_numel(t);
    uint8_t *u = qb_malloc((size_t)n, 1);
    if (!u) return NULL;
    if (t->dtype == QB_U8) {
        memcpy(u, t->data, (size_t)n);
    } else {
        for (int64_t i = 0; i < n; i++) u[i] = (uint8_t)(((const int8_t *)t->data)[i] + 128);
        *zp += 128;
    }
    return u;
}

/* Requantization to y_zp's type, multiplier x_scale * w_scale[n] / y_scale
 * (computed in double from the float scales). */
typedef struct {
    int32_t *mult, *rshift;
    qb_requant rq;
} requant_buf;

static qb_status make_requant(requant_buf *r, int64_t n, float x_scale, const float *w_scale,
                              const qb_tensor *y_scale, const qb_tensor *y_zp, const int32_t *bias)
{
    memset(r, 0, sizeof *r);
    float ys;
    qb_status st = scales(y_scale, 1, "y_scale", &ys);
    if (st) return st;
    if (!y_zp || !is_code_type(y_zp->dtype) || qb_tensor_numel(y_zp) != 1)
        return qb_error(QB_ERR_ARG, "y_zero_point: expected one uint8 or int8 value");
    int32_t zp;
    zero_points(y_zp, y_zp->dtype, 1, "y_zero_point", &zp);
    r->mult = qb_malloc((size_t)n, sizeof(int32_t));
    r->rshift = qb_malloc((size_t)n, sizeof(int32_t));
    if (!r->mult || !r->rshift) return QB_ERR_NOMEM;
    for (int64_t i = 0; i < n; i++)
        if ((st = qb_requant_multiplier((double)x_scale * w_scale[i] / ys, &r->mult[i], &r->rshift[i]))) return st;
    int u8 = y_zp->dtype == QB_U8;
    r->rq = (qb_requant){.type = u8 ? QB_OUT_U8 : QB_OUT_S8, .bias = bias, .mult = r->mult, .rshift = r->rshift, .zp = zp,
                          .lo = u8 ? 0 : -128, .hi = u8 ? 255 : 127};
    return QB_OK;
}

static void free_requant(requant_buf *r)
{
    free(r->mult);
    free(r->rshift);
}

/* ---- matmul ------------------------------------------------------------ */

/* Shared by QLinearMatMul and MatMulInteger: batches of (M, K) x (K, N). */
static qb_status matmul(const qb_backend *be, qb_pool *pool, const qb_tensor *a, const qb_tensor *b,
                        const int32_t *a_zp_rows, int32_t a_zp, const int32_t *b_zp, const qb_requant *rq,
                        qb_dtype out_type, qb_tensor *y)
{
    memset(y, 0, sizeof *y);
    if (!a || !b || a->ndim < 2 || b->ndim < 2 || !is_code_type(a->dtype) || !is_code_type(b->dtype))
        return qb_error(QB_ERR_ARG, "matmul: inputs must be uint8 or int8 tensors of rank >= 2");
    int64_t M = a->shape[a->ndim - 2], K = a->shape[a->ndim - 1], N = b->shape[b->ndim - 1];
    if (b->shape[b->ndim - 2] != K)
        return qb_error(QB_ERR_ARG, "matmul: inner dimensions %lld and %lld differ", (long long)K,
                        (long long)b->shape[b->ndim - 2]);
    int64_t batch = qb_shape_numel(a->ndim - 2, a->shape), bbatch = qb_shape_numel(b->ndim - 2, b->shape);
    if (bbatch != 1 && (b->ndim != a->ndim || memcmp(a->shape, b->shape, (size_t)(a->ndim - 2) * sizeof(int64_t))))
        return qb_error(QB_ERR_UNSUPPORTED, "matmul: batch dimensions must match (or b must be 2-D)");
    if (a_zp_rows && batch != 1)
        return qb_error(QB_ERR_UNSUPPORTED, "matmul: per-row activation zero points need a 2-D a");
    int64_t shape[QB_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[a->ndim - 1] = N;
    qb_status st = qb_tensor_alloc(y, out_type, a->ndim, shape);
    if (st) return st;
    int32_t zp = a_zp;
    uint8_t *au = act_u8(a, &zp);
    int shift = zp - a_zp; /* 128 for int8 activations */
    if (!au) {
        qb_tensor_free(y);
        return QB_ERR_NOMEM;
    }
    size_t osize = qb_dtype_size(out_type);
    qb_qweights w = {0};
    for (int64_t bi = 0; bi < batch && !st; bi++) {
        if (bi == 0 || bbatch != 1) {
            qb_qweights_free(&w);
            const void *bp = (const char *)b->data + bi % bbatch * K * N;
            st = b->dtype == QB_U8 ? qb_qweights_pack_u8(&w, N, K, bp, 1, N, b_zp)
                                   : qb_qweights_pack_s8(&w, N, K, bp, 1, N, b_zp);
            if (st) break;
        }
        const uint8_t *ap = au + bi * M * K;
        char *yp = (char *)y->data + (size_t)(bi * M * N) * osize;
        if (a_zp_rows) { /* one call per row, each with its zero point */
            for (int64_t r = 0; r < M && !st; r++) {
                qb_qgemm_args g = {1, ap + r * K, K, a_zp_rows[r] + shift, &w, rq, yp + (size_t)(r * N) * osize, N, NULL};
                st = qb_qgemm(be, pool, &g);
            }
        } else {
            qb_qgemm_args g = {M, ap, K, zp, &w, rq, yp, N, NULL};
            st = qb_qgemm(be, pool, &g);
        }
    }
    qb_qweights_free(&w);
    free(au);
    if (st) qb_tensor_free(y);
    return st;
}

qb_status qb_qop_qlinear_matmul(const qb_backend *be, qb_pool *pool, const qb_tensor *a,
                                const qb_tensor *a_scale, const qb_tensor *a_zp, const qb_tensor *b,
                                const qb_tensor *b_scale, const qb_tensor *b_zp,
                                const qb_tensor *y_scale, const qb_tensor *y_zp, qb_tensor *y)
{
    memset(y, 0, sizeof *y);
    if (!a || !b || !is_code_type(a->dtype) || !is_code_type(b->dtype) || b->ndim < 2)
        return qb_error(QB_ERR_ARG, "QLinearMatMul: a and b must be uint8 or int8 tensors");
    int64_t N = b->shape[b->ndim - 1];
    float as;
    int32_t az;
    float *bs = qb_malloc((size_t)N, sizeof(float));
    int32_t *bz = qb_malloc((size_t)N, sizeof(int32_t));
    requant_buf r = {0};
    qb_status st = bs && bz ? QB_OK : QB_ERR_NOMEM;
    if (!st) st = scales(a_scale, 1, "a_scale", &as);
    if (!st) st = zero_points(a_zp, a->dtype, 1, "a_zero_point", &az);
    if (!st) st = scales(b_scale, N, "b_scale", bs);
    if (!st) st = zero_points(b_zp, b->dtype, N, "b_zero_point", bz);
    if (!st) st = make_requant(&r, N, as, bs, y_scale, y_zp, NULL);
    if (!st) st = matmul(be, pool, a, b, NULL, az, bz, &r.rq, y_zp->dtype, y);
    free_requant(&r);
    free(bs);
    free(bz);
    return st;
}

qb_status qb_qop_matmul_integer(const qb_backend *be, qb_pool *pool, const qb_tensor *a,
                                const qb_tensor *b, const qb_tensor *a_zp, const qb_tensor *b_zp,
                                qb_tensor *y)
{
    memset(y, 0, sizeof *y);
    if (!a || !b || !is_code_type(a->dtype) || !is_code_type(b->dtype) || a->ndim < 2 || b->ndim < 2)
        return qb_error(QB_ERR_ARG, "MatMulInteger: a and b must be uint8 or int8 tensors of rank >= 2");
    int64_t M = a->shape[a->ndim - 2], N = b->shape[b->ndim - 1];
    int per_row = a_zp && qb_tensor_numel(a_zp) > 1;
    int32_t *az = qb_malloc((size_t)(per_row ? M : 1), sizeof(int32_t));
    int32_t *bz = qb_malloc((size_t)N, sizeof(int32_t));
    qb_status st = az && bz ? QB_OK : QB_ERR_NOMEM;
    if (!st) st = zero_points(a_zp, a->dtype, per_row ? M : 1, "a_zero_point", az);
    if (!st) st = zero_points(b_zp, b->dtype, N, "b_zero_point", bz);
    qb_requant rq = {.type = QB_OUT_S32};
    if (!st) st = matmul(be, pool, a, b, per_row ? az : NULL, az[0], bz, &rq, QB_I32, y);
    free(az);
    free(bz);
    return st;
}

/* ---- convolution ------------------------------------------------------- */

/* ONNX attributes and tensor shapes into a qb_conv_shape. */
static qb_status conv_geometry(const qb_tensor *x, const qb_tensor *w, const qb_qop_conv_attrs *at,
                               qb_conv_shape *s)
{
    if (!x || !w || x->ndim != 4 || w->ndim != 4 || !is_code_type(x->dtype) || !is_code_type(w->dtype))
        return qb_error(QB_ERR_UNSUPPORTED, "conv: qbench runs 2-D convolutions of uint8/int8 NCHW inputs and OIHW weights");
    qb_qop_conv_attrs a = at ? *at : (qb_qop_conv_attrs){0};
    if (a.group > 1) return qb_error(QB_ERR_UNSUPPORTED, "conv: group %lld; qbench runs group 1", (long long)a.group);
    if (w->shape[1] != x->shape[1])
        return qb_error(QB_ERR_ARG, "conv: weights expect %lld input channels, input has %lld",
                        (long long)w->shape[1], (long long)x->shape[1]);
    for (int i = 0; i < 2; i++) {
        if (a.kernel_shape[i] && a.kernel_shape[i] != w->shape[2 + i])
            return qb_error(QB_ERR_ARG, "conv: kernel_shape does not match the weights");
        if (!a.strides[i]) a.strides[i] = 1;
        if (!a.dilations[i]) a.dilations[i] = 1;
    }
    *s = (qb_conv_shape){.batch = x->shape[0], .in_c = x->shape[1], .in_h = x->shape[2], .in_w = x->shape[3],
                         .out_c = w->shape[0], .k_h = w->shape[2], .k_w = w->shape[3],
                         .stride_h = a.strides[0], .stride_w = a.strides[1], .dil_h = a.dilations[0],
                         .dil_w = a.dilations[1], .pad_top = a.pads[0], .pad_left = a.pads[1],
                         .pad_bottom = a.pads[2], .pad_right = a.pads[3]};
    const char *ap = a.auto_pad;
    if (ap && (strcmp(ap, "SAME_UPPER") == 0 || strcmp(ap, "SAME_LOWER") == 0)) {
        int64_t in[2] = {s->in_h, s->in_w}, k[2] = {s->k_h, s->k_w}, st[2] = {s->stride_h, s->stride_w};
        int64_t dil[2] = {s->dil_h, s->dil_w}, lo[2], hi[2];
        for (int i = 0; i < 2; i++) {
            int64_t out = (in[i] + st[i] - 1) / st[i];
            int64_t total = (out - 1) * st[i] + (k[i] - 1) * dil[i] + 1 - in[i];
            if (total < 0) total = 0;
            lo[i] = ap[5] == 'U' ? total / 2 : total - total / 2;
            hi[i] = total - lo[i];
        }
        s->pad_top = lo[0], s->pad_left = lo[1], s->pad_bottom = hi[0], s->pad_right = hi[1];
    } else if (ap && strcmp(ap, "VALID") == 0) {
        s->pad_top = s->pad_left = s->pad_bottom = s->pad_right = 0;
    } else if (ap && *ap && strcmp(ap, "NOTSET") != 0) {
        return qb_error(QB_ERR_ARG, "conv: auto_pad '%s' is not NOTSET, VALID, SAME_UPPER or SAME_LOWER", ap);
    }
    return qb_conv_shape_init(s);
}

/* NCHW <-> NHWC for one element size. */
static void nchw_to_nhwc(const uint8_t *src, uint8_t *dst, int64_t n, int64_t c, int64_t hw)
{
    for (int64_t b = 0; b < n; b++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t p = 0; p < hw; p++) dst[(b * hw + p) * c + ch] = src[(b * c + ch) * hw + p];
}

static void nhwc_to_nchw(const char *src, char *dst, int64_t n, int64_t c, int64_t hw, size_t es)
{
    for (int64_t b = 0; b < n; b++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t p = 0; p < hw; p++)
                memcpy(dst + (size_t)((b * c + ch) * hw + p) * es, src + (size_t)((b * hw + p) * c + ch) * es, es);
}

static qb_status conv(const qb_backend *be, qb_pool *pool, const qb_tensor *x, int32_t x_zp, const qb_tensor *w,
                      const int32_t *w_zp, const qb_qop_conv_attrs *attrs, const qb_requant *rq,
                      qb_dtype out_type, qb_tensor *y)
{
    memset(y, 0, sizeof *y);
    qb_conv_shape s;
    qb_status st = conv_geometry(x, w, attrs, &s);
    if (st) return st;
    int64_t shape[4] = {s.batch, s.out_c, s.out_h, s.out_w};
    if ((st = qb_tensor_alloc(y, out_type, 4, shape))) return st;
    size_t es = qb_dtype_size(out_type);
    int32_t zp = x_zp;
    uint8_t *xu = act_u8(x, &zp);
    uint8_t *nhwc = qb_malloc((size_t)qb_tensor_numel(x), 1);
    char *out = qb_malloc((size_t)qb_tensor_numel(y), es);
    qb_qweights pw = {0};
    st = xu && nhwc && out ? QB_OK : QB_ERR_NOMEM;
    if (!st) {
        nchw_to_nhwc(xu, nhwc, s.batch, s.in_c, s.in_h * s.in_w);
        st = qb_qweights_pack_conv(&pw, s.out_c, s.in_c, s.k_h, s.k_w, w->data, w->dtype == QB_U8, w_zp);
    }
    if (!st) st = qb_qconv(be, pool, &s, nhwc, zp, &pw, rq, out, NULL);
    if (!st) nhwc_to_nchw(out, y->data, s.batch, s.out_c, s.out_h * s.out_w, es);
    qb_qweights_free(&pw);
    free(xu);
    free(nhwc);
    free(out);
    if (st) qb_tensor_free(y);
    return st;
}

qb_status qb_qop_conv_integer(const qb_backend *be, qb_pool *pool, const qb_tensor *x,
                              const qb_tensor *w, const qb_tensor *x_zp, const qb_tensor *w_zp,
                              const qb_qop_conv_attrs *attrs, qb_tensor *y)
{
    memset(y, 0, sizeof *y);
    if (!x || !w || !is_code_type(x->dtype) || !is_code_type(w->dtype) || w->ndim != 4)
        return qb_error(QB_ERR_ARG, "ConvInteger: x and w must be uint8 or int8 (w OIHW)");
    int64_t M = w->shape[0];
    int32_t xz, *wz = qb_malloc((size_t)M, sizeof(int32_t));
    qb_status st = wz ? QB_OK : QB_ERR_NOMEM;
    if (!st) st = zero_points(x_zp, x->dtype, 1, "x_zero_point", &xz);
    if (!st) st = zero_points(w_zp, w->dtype, M, "w_zero_point", wz);
    qb_requant rq = {.type = QB_OUT_S32};
    if (!st) st = conv(be, pool, x, xz, w, wz, attrs, &rq, QB_I32, y);
    free(wz);
    return st;
}

qb_status qb_qop_qlinear_conv(const qb_backend *be, qb_pool *pool, const qb_tensor *x,
                              const qb_tensor *x_scale, const qb_tensor *x_zp, const qb_tensor *w,
                              const qb_tensor *w_scale, const qb_tensor *w_zp,
                              const qb_tensor *y_scale, const qb_tensor *y_zp, const qb_tensor *bias,
                              const qb_qop_conv_attrs *attrs, qb_tensor *y)
{
    memset(y, 0, sizeof *y);
    if (!x || !w || !is_code_type(x->dtype) || !is_code_type(w->dtype) || w->ndim != 4)
        return qb_error(QB_ERR_ARG, "QLinearConv: x and w must be uint8 or int8 (w OIHW)");
    int64_t M = w->shape[0];
    if (bias && (bias->dtype != QB_I32 || qb_tensor_numel(bias) != M))
        return qb_error(QB_ERR_ARG, "QLinearConv: bias must be int32 with %lld values", (long long)M);
    float xs, *ws = qb_malloc((size_t)M, sizeof(float));
    int32_t xz, *wz = qb_malloc((size_t)M, sizeof(int32_t));
    requant_buf r = {0};
    qb_status st = ws && wz ? QB_OK : QB_ERR_NOMEM;
    if (!st) st = scales(x_scale, 1, "x_scale", &xs);
    if (!st) st = zero_points(x_zp, x->dtype, 1, "x_zero_point", &xz);
    if (!st) st = scales(w_scale, M, "w_scale", ws);
    if (!st) st = zero_points(w_zp, w->dtype, M, "w_zero_point", wz);
    if (!st) st = make_requant(&r, M, xs, ws, y_scale, y_zp, bias ? bias->data : NULL);
    if (!st) st = conv(be, pool, x, xz, w, wz, attrs, &r.rq, y_zp->dtype, y);
    free_requant(&r);
    free(ws);
    free(wz);
    return st;
}
