/* The fp32 layer kernels on plain pointers, one image (or one row range) at
 * a time; exec.c runs them over a batch in parallel and owns the buffers.
 * Conventions: x input, y output, dy/dx gradients (dx is accumulated into,
 * +=), dw/db weight gradients (accumulated into). Shapes come from the
 * qb_layer (model.h). Convolutions are im2col + qb_sgemm. */
#ifndef QB_LAYERS_H
#define QB_LAYERS_H

#include <stdint.h>
#include "model.h"

/* The GEMMs a forward pass of `batch` images makes for layer l (conv: one
 * per image; dense: one per chunk of rows, counted here as one per batch):
 * *calls multiplies of (m x k) by (k x n). Returns 0 for layers without
 * weights. Benchmarks time the GEMM library alone on these shapes. */
int qb_layer_gemm_shape(const qb_layer *l, int batch, int64_t *m, int64_t *n, int64_t *k,
                        int64_t *calls);

/* max(v, 0) as a plain compare, which compilers vectorise (fmaxf is a
 * libm call at -O2); NaN becomes 0. */
static inline float qb_relu(float v) { return v > 0.0f ? v : 0.0f; }

/* y[j] = relu?(a * x[j] + b (+ x2[j])) for j < n; y may equal x or x2;
 * x2 may be NULL. Written in fixed blocks so -O2 vectorises it without
 * branches (the ReLU's sign is data: a branch would mispredict half the
 * time). The elementwise work of every layer goes through it. */
void qb_affine_relu(float *y, const float *x, const float *x2, float a, float b, int64_t n,
                    int relu);

/* Floats of scratch one thread needs for conv layer l (im2col buffer). */
int64_t qb_conv_col_size(const qb_layer *l);

/* col (in_c*kh*kw, h*w): the input patch each output position sees, zero
 * where the window hangs off the edge (a pointwise conv's is x itself).
 * Layer-wise corrections build their reconstruction Hessians from it. */
void qb_conv_im2col(const qb_layer *l, const float *x, float *col);

/* y (c, h, w) = conv(x) + bias; relu != 0 applies ReLU in the same pass. */
void qb_conv_forward_image(const qb_layer *l, const float *w, const float *bias, const float *x,
                           float *y, float *col, int relu);
/* dw += dy (x) col(x)^T, db += sum(dy); dx += col2im(w^T dy) when dx != NULL. */
void qb_conv_backward_image(const qb_layer *l, const float *w, const float *x, const float *dy,
                            float *dx, float *dw, float *db, float *col, float *dcol);

/* y (rows, out) = x (rows, in) w^T + bias. */
void qb_dense_forward(const qb_layer *l, const float *w, const float *bias, const float *x,
                      float *y, int rows, int relu);
/* dx += dy w (when dx != NULL), dw += dy^T x, db += column sums of dy. */
void qb_dense_backward(const qb_layer *l, const float *w, const float *x, const float *dy,
                       float *dx, float *dw, float *db, int rows);

/* Max pool of one image; argmax (may be NULL) records each output's source
 * index within its input plane. */
void qb_maxpool_forward_image(const qb_layer *l, const float *x, float *y, int32_t *argmax);
void qb_maxpool_backward_image(const qb_layer *l, const float *dy, const int32_t *argmax,
                               float *dx);

void qb_gap_forward_image(const qb_layer *l, const float *x, float *y);
void qb_gap_backward_image(const qb_layer *l, const float *dy, float *dx);

/* BatchNorm with given per-channel scale and shift: y = x * scale + shift. */
void qb_bn_affine_image(const qb_layer *l, const float *x, float *y, const float *scale,
                        const float *shift, int relu);

/* Softmax cross-entropy over rows of logits; returns the summed loss,
 * writes dlogits = (softmax - onehot) * grad_scale (when not NULL) and
 * counts correct top-1 predictions (first maximum wins). */
double qb_softmax_xent(const float *logits, const int *labels, int rows, int classes,
                       float *dlogits, float grad_scale, int *correct);

/* Index of the largest of n values (the first on ties). */
int qb_argmax(const float *v, int n);

#endif
