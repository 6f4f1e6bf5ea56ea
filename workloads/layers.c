/* fp32 layer kernels (see layers.h). */
#include "layers.h"

#include <math.h>
#include <string.h>

#include "gemm.h"

static int conv_is_pointwise(const qb_layer *l)
{
    return l->kh == 1 && l->kw == 1 && l->stride == 1 && l->pad == 0;
}

int qb_layer_gemm_shape(const qb_layer *l, int batch, int64_t *m, int64_t *n, int64_t *k,
                        int64_t *calls)
{
    if (l->kind == QB_LAYER_CONV) {
        *m = l->c;
        *n = (int64_t)l->h * l->w;
        *k = (int64_t)l->in_c * l->kh * l->kw;
        *calls = batch;
        return 1;
    }
    if (l->kind == QB_LAYER_DENSE) {
        *m = batch;
        *n = l->c;
        *k = qb_layer_in_numel(l);
        *calls = 1;
        return 1;
    }
    return 0;
}

int64_t qb_conv_col_size(const qb_layer *l)
{
    return (int64_t)l->in_c * l->kh * l->kw * l->h * l->w;
}

/* Output columns [*ox0, *ox1) whose input column ox*s - p + kx is inside
 * [0, in_w). */
static void valid_cols(int kx, int stride, int pad, int in_w, int out_w, int *ox0, int *ox1)
{
    int lo = pad - kx, hi = in_w + pad - kx; /* need lo <= ox*s < hi */
    int a = lo <= 0 ? 0 : (lo + stride - 1) / stride;
    int b = hi <= 0 ? 0 : (hi + stride - 1) / stride;
    if (b > out_w) b = out_w;
    if (a > b) a = b;
    *ox0 = a;
    *ox1 = b;
}

/* Zeroes n floats inline: the edges im2col clears are a row or two, where
 * a memset call costs more than the stores. */
static inline void zero_floats(float *p, int64_t n)
{
    int64_t j = 0;
    for (; j + 16 <= n; j += 16)
        for (int k = 0; k < 16; k++) p[j + k] = 0.0f;
    for (; j < n; j++) p[j] = 0.0f;
}

/* One im2col row for a stride-1 "same" convolution (output as wide as the
 * input): the row is the input plane shifted by (ky - pad, kx - pad), so it
 * is one block copy, then zeros where the window hangs off an edge: whole
 * rows at the top and bottom, single columns at the sides. */
static void im2col_row_same(const float *plane, float *row, int ih, int iw, int oh, int p, int ky,
                            int kx)
{
    int oy0 = p - ky > 0 ? p - ky : 0, oy1 = ih + p - ky < oh ? ih + p - ky : oh;
    int ox0 = p - kx > 0 ? p - kx : 0, ox1 = iw + p - kx < iw ? iw + p - kx : iw;
    if (oy1 <= oy0 || ox1 <= ox0) {
        zero_floats(row, (int64_t)oh * iw);
        return;
    }
    zero_floats(row, (int64_t)oy0 * iw);
    int64_t start = (int64_t)oy0 * iw + ox0, end = (int64_t)(oy1 - 1) * iw + ox1;
    int64_t shift = (int64_t)(ky - p) * iw + (kx - p);
    memcpy(row + start, plane + start + shift, (size_t)(end - start) * sizeof *row);
    for (int ox = 0; ox < ox0; ox++)
        for (int oy = oy0; oy < oy1; oy++) row[(int64_t)oy * iw + ox] = 0.0f;
    for (int ox = ox1; ox < iw; ox++)
        for (int oy = oy0; oy < oy1; oy++) row[(int64_t)oy * iw + ox] = 0.0f;
    zero_floats(row + (int64_t)oy1 * iw, (int64_t)(oh - oy1) * iw);
}

/* col (in_c*kh*kw, h*w): row (c, ky, kx) holds the input pixels each output
 * position sees through that tap, zero where the window hangs off the edge. */
static void im2col(const qb_layer *l, const float *x, float *col)
{
    const int ih = l->in_h, iw = l->in_w, oh = l->h, ow = l->w, s = l->stride, p = l->pad;
    int same = s == 1 && ow == iw;
    for (int c = 0; c < l->in_c; c++)
        for (int ky = 0; ky < l->kh; ky++)
            for (int kx = 0; kx < l->kw; kx++) {
                float *row = col + ((int64_t)(c * l->kh + ky) * l->kw + kx) * oh * ow;
                const float *plane = x + (int64_t)c * ih * iw;
                if (same) {
                    im2col_row_same(plane, row, ih, iw, oh, p, ky, kx);
                    continue;
                }
                int ox0, ox1;
                valid_cols(kx, s, p, iw, ow, &ox0, &ox1);
                for (int oy = 0; oy < oh; oy++) {
                    float *out = row + oy * ow;
                    int iy = oy * s - p + ky;
                    if (iy < 0 || iy >= ih) {
                        memset(out, 0, (size_t)ow * sizeof *out);
                        continue;
                    }
                    int base = iy * iw - p + kx; /* input index of output column 0 */
                    for (int ox = 0; ox < ox0; ox++) out[ox] = 0.0f;
                    if (s == 1 && ox1 > ox0)
                        memcpy(out + ox0, plane + base + ox0, (size_t)(ox1 - ox0) * sizeof *out);
                    else
                        for (int ox = ox0; ox < ox1; ox++) out[ox] = plane[base + ox * s];
                    for (int ox = ox1; ox < ow; ox++) out[ox] = 0.0f;
                }
            }
}

/* The adjoint of im2col: dx += each tap's column gradient. */
static void col2im_add(const qb_layer *l, const float *col, float *dx)
{
    const int ih = l->in_h, iw = l->in_w, oh = l->h, ow = l->w, s = l->stride, p = l->pad;
    for (int c = 0; c < l->in_c; c++)
        for (int ky = 0; ky < l->kh; ky++)
            for (int kx = 0; kx < l->kw; kx++) {
                const float *row = col + ((int64_t)(c * l->kh + ky) * l->kw + kx) * oh * ow;
                float *plane = dx + (int64_t)c * ih * iw;
                int ox0, ox1;
                valid_cols(kx, s, p, iw, ow, &ox0, &ox1);
                for (int oy = 0; oy < oh; oy++) {
                    int iy = oy * s - p + ky;
                    if (iy < 0 || iy >= ih) continue;
                    int base = iy * iw - p + kx;
                    const float *in = row + oy * ow;
                    for (int ox = ox0; ox < ox1; ox++) plane[base + ox * s] += in[ox];
                }
            }
}

#define BLOCK 16

/* The body of qb_affine_relu, specialised by the constant flags. */
static inline __attribute__((always_inline)) void affine_block(float *y, const float *x,
                                                               const float *x2, float a, float b,
                                                               int64_t n, const int has_x2,
                                                               const int relu)
{
    int64_t j = 0;
    for (; j + BLOCK <= n; j += BLOCK) {
        /* through a local block: y may be x, and the compiler then needs no
         * alias check to vectorise */
        float t[BLOCK];
        for (int k = 0; k < BLOCK; k++) t[k] = x[j + k] * a + b;
        if (has_x2)
            for (int k = 0; k < BLOCK; k++) t[k] += x2[j + k];
        for (int k = 0; k < BLOCK; k++) y[j + k] = relu ? qb_relu(t[k]) : t[k];
    }
    for (; j < n; j++) {
        float v = x[j] * a + b + (has_x2 ? x2[j] : 0.0f);
        y[j] = relu ? qb_relu(v) : v;
    }
}

void qb_affine_relu(float *y, const float *x, const float *x2, float a, float b, int64_t n,
                    int relu)
{
    if (x2)
        relu ? affine_block(y, x, x2, a, b, n, 1, 1) : affine_block(y, x, x2, a, b, n, 1, 0);
    else
        relu ? affine_block(y, x, NULL, a, b, n, 0, 1) : affine_block(y, x, NULL, a, b, n, 0, 0);
}

static void bias_relu(float *y, const float *bias, int rows, int64_t cols, int relu)
{
    if (!bias && !relu) return;
    for (int r = 0; r < rows; r++)
        qb_affine_relu(y + r * cols, y + r * cols, NULL, 1.0f, bias ? bias[r] : 0.0f, cols, relu);
}

void qb_conv_im2col(const qb_layer *l, const float *x, float *col)
{
    if (conv_is_pointwise(l))
        memcpy(col, x, (size_t)qb_conv_col_size(l) * sizeof *col);
    else
        im2col(l, x, col);
}

void qb_conv_forward_image(const qb_layer *l, const float *w, const float *bias, const float *x,
                           float *y, float *col, int relu)
{
    int64_t k = (int64_t)l->in_c * l->kh * l->kw, n = (int64_t)l->h * l->w;
    const float *b = x;
    if (!conv_is_pointwise(l)) {
        im2col(l, x, col);
        b = col;
    }
    qb_sgemm(0, 0, l->c, n, k, 1.0f, w, k, b, n, 0.0f, y, n);
    bias_relu(y, bias, l->c, n, relu);
}

void qb_conv_backward_image(const qb_layer *l, const float *w, const float *x, const float *dy,
                            float *dx, float *dw, float *db, float *col, float *dcol)
{
    int64_t k = (int64_t)l->in_c * l->kh * l->kw, n = (int64_t)l->h * l->w;
    int pointwise = conv_is_pointwise(l);
    const float *b = x;
    if (!pointwise) {
        im2col(l, x, col);
        b = col;
    }
    qb_sgemm(0, 1, l->c, k, n, 1.0f, dy, n, b, n, 1.0f, dw, k);
    if (db)
        for (int o = 0; o < l->c; o++) {
            float s = 0.0f;
            for (int64_t j = 0; j < n; j++) s += dy[o * n + j];
            db[o] += s;
        }
    if (!dx) return;
    if (pointwise) {
        qb_sgemm(1, 0, k, n, l->c, 1.0f, w, k, dy, n, 1.0f, dx, n);
        return;
    }
    qb_sgemm(1, 0, k, n, l->c, 1.0f, w, k, dy, n, 0.0f, dcol, n);
    col2im_add(l, dcol, dx);
}

void qb_dense_forward(const qb_layer *l, const float *w, const float *bias, const float *x,
                      float *y, int rows, int relu)
{
    int64_t in = qb_layer_in_numel(l), out = l->c;
    qb_sgemm(0, 1, rows, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
    for (int r = 0; r < rows; r++)
        qb_affine_relu(y + r * out, y + r * out, bias, 1.0f, 0.0f, out, relu);
}

void qb_dense_backward(const qb_layer *l, const float *w, const float *x, const float *dy,
                       float *dx, float *dw, float *db, int rows)
{
    int64_t in = qb_layer_in_numel(l), out = l->c;
    if (dx) qb_sgemm(0, 0, rows, in, out, 1.0f, dy, out, w, in, 1.0f, dx, in);
    qb_sgemm(1, 0, out, in, rows, 1.0f, dy, out, x, in, 1.0f, dw, in);
    if (db)
        for (int r = 0; r < rows; r++)
            for (int64_t j = 0; j < out; j++) db[j] += dy[r * out + j];
}

void qb_maxpool_forward_image(const qb_layer *l, const float *x, float *y, int32_t *argmax)
{
    const int ih = l->in_h, iw = l->in_w, k = l->kh, s = l->stride;
    for (int c = 0; c < l->c; c++) {
        const float *plane = x + (int64_t)c * ih * iw;
        for (int oy = 0; oy < l->h; oy++)
            for (int ox = 0; ox < l->w; ox++) {
                int best = (oy * s) * iw + ox * s;
                float m = plane[best];
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        int at = (oy * s + ky) * iw + ox * s + kx;
                        if (plane[at] > m) {
                            m = plane[at];
                            best = at;
                        }
                    }
                int64_t o = ((int64_t)c * l->h + oy) * l->w + ox;
                y[o] = m;
                if (argmax) argmax[o] = best;
            }
    }
}

void qb_maxpool_backward_image(const qb_layer *l, const float *dy, const int32_t *argmax,
                               float *dx)
{
    int64_t plane_out = (int64_t)l->h * l->w, plane_in = (int64_t)l->in_h * l->in_w;
    for (int c = 0; c < l->c; c++)
        for (int64_t o = 0; o < plane_out; o++)
            dx[c * plane_in + argmax[c * plane_out + o]] += dy[c * plane_out + o];
}

void qb_gap_forward_image(const qb_layer *l, const float *x, float *y)
{
    int64_t hw = (int64_t)l->in_h * l->in_w;
    for (int c = 0; c < l->c; c++) {
        float s = 0.0f;
        for (int64_t j = 0; j < hw; j++) s += x[c * hw + j];
        y[c] = s / (float)hw;
    }
}

void qb_gap_backward_image(const qb_layer *l, const float *dy, float *dx)
{
    int64_t hw = (int64_t)l->in_h * l->in_w;
    for (int c = 0; c < l->c; c++) {
        float g = dy[c] / (float)hw;
        for (int64_t j = 0; j < hw; j++) dx[c * hw + j] += g;
    }
}

void qb_bn_affine_image(const qb_layer *l, const float *x, float *y, const float *scale,
                        const float *shift, int relu)
{
    int64_t hw = (int64_t)l->h * l->w;
    for (int c = 0; c < l->c; c++) {
        qb_affine_relu(y + c * hw, x + c * hw, NULL, scale[c], shift[c], hw, relu);
    }
}

int qb_argmax(const float *v, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

double qb_softmax_xent(const float *logits, const int *labels, int rows, int classes,
                       float *dlogits, float grad_scale, int *correct)
{
    double loss = 0.0;
    int right = 0;
    for (int r = 0; r < rows; r++) {
        const float *z = logits + (int64_t)r * classes;
        int top = qb_argmax(z, classes);
        right += top == labels[r];
        double sum = 0.0;
        for (int j = 0; j < classes; j++) sum += exp((double)z[j] - z[top]);
        double log_sum = log(sum) + z[top];
        loss += log_sum - z[labels[r]];
        if (dlogits)
            for (int j = 0; j < classes; j++) {
                double p = exp((double)z[j] - log_sum);
                dlogits[(int64_t)r * classes + j] = (float)((p - (j == labels[r])) * grad_scale);
            }
    }
    if (correct) *correct = right;
    return loss;
}
