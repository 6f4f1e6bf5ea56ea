/* The integer executor's element-wise and pooling steps on NHWC tensors,
 * written with GCC vector extensions so they vectorize in the base build
 * (no ISA flags). Each works on a range, so callers split them over
 * threads. Float results match the plain scalar expressions exactly. */
#ifndef QB_NHWC_OPS_H
#define QB_NHWC_OPS_H

#include <stdint.h>

/* y[i] = a[i] + b[i], then ReLU (y > 0 ? y : +0) when relu; y may be a or b. */
void qb_nhwc_add(const float *a, const float *b, float *y, int64_t n, int relu);
/* y[i] = x[i] > 0 ? x[i] : +0; y may be x. */
void qb_nhwc_relu(const float *x, float *y, int64_t n);
/* q[i] = max(q[i], lo): a ReLU on codes whose zero point is lo. */
void qb_nhwc_clamp_codes(uint8_t *q, int64_t n, uint8_t lo);
/* Max pooling k x k with stride s (no padding) of images [i0, i1): x
 * (n, h, w, c) -> y (n, oh, ow, c), floats or codes. */
void qb_nhwc_maxpool_f32(const float *x, float *y, int64_t i0, int64_t i1, int h, int w, int c, int k, int s,
                         int oh, int ow);
void qb_nhwc_maxpool_u8(const uint8_t *x, uint8_t *y, int64_t i0, int64_t i1, int h, int w, int c, int k,
                        int s, int oh, int ow);
/* Global average pooling of images [i0, i1): (n, hw, c) -> (n, c), each
 * channel's pixels summed in order, then divided by hw. */
void qb_nhwc_gap(const float *x, float *y, int64_t i0, int64_t i1, int hw, int c);

#endif
