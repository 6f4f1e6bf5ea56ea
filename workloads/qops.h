/* ONNX's integer operators on qbench's kernels, with ONNX's tensors and
 * layouts (NCHW, weights OIHW, scales and zero points as tensors of one
 * element or one per output channel): QLinearMatMul, MatMulInteger,
 * QLinearConv and ConvInteger. They convert layouts and signedness around
 * the kernels of workloads/kernels (int8 codes become uint8 + 128 with the
 * zero point moved by 128, which leaves every difference unchanged), so
 * the arithmetic is the kernels' own: exact integer sums and qbench's
 * fixed-point requantization. Used by the ONNX conformance tests and by
 * anyone running ONNX integer nodes.
 *
 * Outputs are allocated here (qb_tensor_free them). Errors: common/status.h;
 * QB_ERR_UNSUPPORTED names what qbench does not run (grouped or non-2-D
 * convolutions, per-row activation zero points with batching, ...). */
#ifndef QB_QOPS_H
#define QB_QOPS_H

#include "backend.h"
#include "pool.h"
#include "tensor.h"

/* Convolution attributes as ONNX spells them (2-D only). Zero means "not
 * given" for kernel_shape, strides and dilations (ONNX's defaults apply). */
typedef struct {
    int64_t kernel_shape[2];
    int64_t strides[2];
    int64_t pads[4];         /* top, left, bottom, right (x1_begin, x2_begin, x1_end, x2_end) */
    int64_t dilations[2];
    int64_t group;           /* only 1 */
    const char *auto_pad;    /* NULL or "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER" */
} qb_qop_conv_attrs;

/* y = saturate(round((a - a_zp)(b - b_zp) * a_scale * b_scale / y_scale) + y_zp),
 * a [..., M, K], b [..., K, N] (b's batch dims equal a's, or b 2-D);
 * b_scale / b_zp per tensor or per column; y has y_zp's type. */
qb_status qb_qop_qlinear_matmul(const qb_backend *be, qb_pool *pool, const qb_tensor *a,
                                const qb_tensor *a_scale, const qb_tensor *a_zp, const qb_tensor *b,
                                const qb_tensor *b_scale, const qb_tensor *b_zp,
                                const qb_tensor *y_scale, const qb_tensor *y_zp, qb_tensor *y);

/* y (int32) = (a - a_zp)(b - b_zp); zero points optional (NULL), a_zp per
 * tensor or per row of a 2-D a, b_zp per tensor or per column. */
qb_status qb_qop_matmul_integer(const qb_backend *be, qb_pool *pool, const qb_tensor *a,
                                const qb_tensor *b, const qb_tensor *a_zp, const qb_tensor *b_zp,
                                qb_tensor *y);

/* y (int32, NCHW) = conv(x - x_zp, w - w_zp); x NCHW, w OIHW. */
qb_status qb_qop_conv_integer(const qb_backend *be, qb_pool *pool, const qb_tensor *x,
                              const qb_tensor *w, const qb_tensor *x_zp, const qb_tensor *w_zp,
                              const qb_qop_conv_attrs *attrs, qb_tensor *y);

/* y (NCHW, y_zp's type) = requantized conv(x - x_zp, w - w_zp) + bias (int32,
 * optional); w_scale / w_zp per tensor or per output channel. */
qb_status qb_qop_qlinear_conv(const qb_backend *be, qb_pool *pool, const qb_tensor *x,
                              const qb_tensor *x_scale, const qb_tensor *x_zp, const qb_tensor *w,
                              const qb_tensor *w_scale, const qb_tensor *w_zp,
                              const qb_tensor *y_scale, const qb_tensor *y_zp, const qb_tensor *bias,
                              const qb_qop_conv_attrs *attrs, qb_tensor *y);

#endif
