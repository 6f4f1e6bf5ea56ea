/* Low-precision GEMM and convolution kernels: the formats of packed weights,
 * how to pack them, and the calls that run them on a backend (backend.h)
 * over a thread pool (common/pool.h; NULL runs on the calling thread).
 *
 * Conventions
 *   - GEMM: C(m, n) = f( sum_k A(m, k) W(n, k) ): A holds activations, one
 *     row per image / pixel / time step (row-major, stride lda); W holds one
 *     row per output channel. Weights are packed once (at model load) into
 *     panels of up to 64 channels; the layout is shared by every backend.
 *   - Convolution: activations NHWC (N, H, W, C), weights OIHW as in ONNX,
 *     packed with k ordered (kh, kw, c) to match NHWC; output NHWC.
 *   - Integer paths are exact: every backend returns the same bits as the
 *     scalar reference. bf16 accumulates in fp32 and may differ from the
 *     reference by rounding (see tests/test_kernels_bf16.c for the bound).
 *   - Functions return qb_status with a message in qb_last_error().
 *   - Each call adds its multiply-accumulates, packed weight bytes read and
 *     requantized elements to the work counters (common/workcount.h). */
#ifndef QB_QKERNELS_H
#define QB_QKERNELS_H

#include <stddef.h>
#include <stdint.h>
#include "pool.h"
#include "requant.h"
#include "status.h"

typedef struct qb_backend qb_backend;

/* A grow-only buffer a caller keeps across calls so that kernels needing
 * temporary memory (im2col, quantized activations) do not allocate each
 * time. Zero-initialize; release with qb_scratch_free. */
typedef struct {
    void *p;
    size_t cap;
} qb_scratch;
void qb_scratch_free(qb_scratch *s);

/* ---- int8 and ternary weights --------------------------------------- */

typedef struct {
    int64_t n, k;     /* output channels, reduction length */
    int64_t kp;       /* k rounded up to the code group (4 for int8, 16 for ternary);
                       * padding codes are 0, so activations there are ignored */
    int bits;         /* 8: int8 codes; 2: ternary codes 0, 1, 2 meaning -1, 0, +1 */
    void *data;       /* panels of 64 channels (the last one 16, 32, 48 or 64 wide):
                       * bits 8: [panel][kp/4][width][4] int8;
                       * bits 2: [panel][kp/16][width][4] bytes, byte j of a channel
                       * holding k = 16t + 4s + j in bits 2s..2s+1 */
    size_t bytes;     /* size of data: the packed weight bytes a call reads */
    int32_t *colsum;  /* (n) sum over k of the codes */
    int32_t *zp;      /* (n) weight zero point in code units, or NULL (all 0); ternary: all 1 */
    int64_t seg, segp;/* conv: a kernel row's k_w * in_c codes, padded to segp (the code
                       * group) with zero codes, so kp = k_h * segp; matrices: 0 */
    int32_t *segsum;  /* int8 conv: (k_h, n) sum of each kernel row's codes (what a kernel
                       * row reading only padding adds, per unit of zero point); else NULL */
} qb_qweights;

/* Packs int8 weights W(n, k) = w[n * stride_n + k * stride_k] with optional
 * per-channel zero points (NULL: symmetric). */
qb_status qb_qweights_pack_s8(qb_qweights *out, int64_t n, int64_t k, const int8_t *w,
                              int64_t stride_n, int64_t stride_k, const int32_t *zp);
/* The same for uint8 weight codes (ONNX allows them): stored as code - 128
 * with zero point zp - 128, which leaves (w - zp) unchanged. zp may be NULL (0). */
qb_status qb_qweights_pack_u8(qb_qweights *out, int64_t n, int64_t k, const uint8_t *w,
                              int64_t stride_n, int64_t stride_k, const int32_t *zp);
/* Convolution weights in ONNX order (cout, cin, kh, kw), int8 or uint8
 * (u8 != 0), for qb_qconv. Each kernel row (k_w taps of cin channels) is
 * padded with zero codes to whole code groups, so that the kernels can read
 * it straight from NHWC memory. */
qb_status qb_qweights_pack_conv(qb_qweights *out, int64_t cout, int64_t cin, int64_t kh, int64_t kw,
                                const void *w, int u8, const int32_t *zp);
/* Ternary weights t(n, k) in {-1, 0, +1} (int8), 2 bits each. */
qb_status qb_qweights_pack_ternary(qb_qweights *out, int64_t n, int64_t k, const int8_t *t,
                                   int64_t stride_n, int64_t stride_k);
/* Ternary convolution weights, (cout, cin, kh, kw). */
qb_status qb_qweights_pack_ternary_conv(qb_qweights *out, int64_t cout, int64_t cin, int64_t kh,
                                        int64_t kw, const int8_t *t);
void qb_qweights_free(qb_qweights *w);
/* 1 when some channel has a non-zero weight zero point: the kernels then
 * also sum every activation row (qb_qgemm_job.rowsum). */
int qb_qweights_has_zp(const qb_qweights *w);
/* The code at packed position (n, k), k < kp (tests and the reference
 * kernel read it; padding positions hold 0). */
int32_t qb_qweights_code(const qb_qweights *w, int64_t n, int64_t k);

/* ---- int8 / ternary GEMM and convolution ---------------------------- */

/* C(m, n) = requant( sum_k (A(m, k) - a_zp) (W(n, k) - w.zp[n]) + bias[n] )
 * A: uint8 activations, rows of at least k bytes. */
typedef struct {
    int64_t m;
    const uint8_t *a;
    int64_t lda;
    int32_t a_zp;           /* activation zero point, 0..255 */
    const qb_qweights *w;
    const qb_requant *rq;
    void *c;                /* (m, ldc) elements of rq->type */
    int64_t ldc;
    qb_scratch *scratch;    /* optional */
} qb_qgemm_args;

qb_status qb_qgemm(const qb_backend *be, qb_pool *pool, const qb_qgemm_args *g);

/* A 2-D convolution's geometry. Fill the inputs, then qb_conv_shape_init
 * checks them and computes out_h and out_w. */
typedef struct {
    int64_t batch, in_h, in_w, in_c;
    int64_t out_c, k_h, k_w;
    int64_t stride_h, stride_w;  /* >= 1 */
    int64_t dil_h, dil_w;        /* >= 1 */
    int64_t pad_top, pad_left, pad_bottom, pad_right;
    int64_t out_h, out_w;        /* computed */
} qb_conv_shape;

qb_status qb_conv_shape_init(qb_conv_shape *s);
/* *out = *shape, checked: qb_conv_shape_init must have filled its outputs. */
qb_status qb_conv_shape_checked(const qb_conv_shape *shape, qb_conv_shape *out);

/* y = requant(conv(x - x_zp, w - w.zp) + bias), NHWC uint8 input, padding
 * with the zero point (so padded taps contribute nothing), NHWC output of
 * rq->type. Runs as an implicit GEMM straight from the input (kernel rows
 * are contiguous in NHWC), copied first into a buffer with a border of
 * zero points when the convolution pads (scratch memory: one pass over the
 * input); only dilated kernel columns (dil_w > 1) go through an im2col
 * buffer. */
qb_status qb_qconv(const qb_backend *be, qb_pool *pool, const qb_conv_shape *s, const uint8_t *x,
                   int32_t x_zp, const qb_qweights *w, const qb_requant *rq, void *y,
                   qb_scratch *scratch);

/* im2col of uint8 NHWC activations: row m (an output pixel) of dst, ldd >=
 * k_h * segp bytes, gets for each kernel row ky, at ky * segp, its k_w taps of
 * in_c bytes in (kw, c) order followed by zeros up to segp (>= k_w * in_c);
 * taps outside the image are filled with pad (the zero point) and bytes
 * past k_h * segp with 0. Rows [m0, m1) only, so threads can share it. */
void qb_im2col_u8(const qb_conv_shape *s, const uint8_t *x, uint8_t pad, int64_t m0, int64_t m1,
                  uint8_t *dst, int64_t ldd, int64_t segp);
/* The same with dst pointing at row m0 (a buffer for rows [m0, m1) only). */
void qb_im2col_u8_at(const qb_conv_shape *s, const uint8_t *x, uint8_t pad, int64_t m0, int64_t m1,
                     uint8_t *dst, int64_t ldd, int64_t segp);

/* ---- 4-bit weights with group scales x int8 activations ------------- */

typedef struct {
    int64_t n, k;     /* output channels, reduction length */
    int64_t group;    /* weights per scale along k: a multiple of 8, <= 1024 */
    int64_t kp;       /* k rounded up to a multiple of group */
    uint8_t *data;    /* blocks of 16 channels; per block and group: group/8 vectors of
                       * [16 channels][4 bytes] (low nibbles k = 8t + j, high nibbles
                       * k = 8t + 4 + j), then 16 float scales */
    uint8_t *zp;      /* [block][group][16] zero codes, or NULL: 8 for all (symmetric) */
    int16_t *csum;    /* [block][group][16] sum over the group of code - zero code: the
                       * activation zero point's term (qb_q4a8_gemm), |sum| <= 15 * 1024 */
    size_t bytes;     /* data bytes (codes and scales) + zero-point bytes */
    size_t csum_bytes;/* bytes of csum (read by qb_q4a8_gemm / qb_q4a8_conv only) */
} qb_q4weights;

/* codes(n, k) in 0..15, row stride k; scales(n, g) row stride ceil(k / group);
 * zp(n, g) the same shape, or NULL (8: codes - 8 in -8..7). */
qb_status qb_q4weights_pack(qb_q4weights *out, int64_t n, int64_t k, int64_t group,
                            const uint8_t *codes, const float *scales, const uint8_t *zp);
void qb_q4weights_free(qb_q4weights *w);

/* y(m, n) = s_a(m) * sum_g scale(n, g) * sum_{k in g} a(m, k) (code(n, k) - zp(n, g)) + bias(n)
 * where a(m, .) = round_half_even(x(m, .) * (127 / max|x(m, .)|)) in -127..127 and
 * s_a(m) = max|x(m, .)| / 127 (both 1 for an all-zero row), all in float; the sums
 * are accumulated group by group with fused multiply-adds, in k order
 * (dynamic per-row quantization of the float activations). */
qb_status qb_q4_gemm(const qb_backend *be, qb_pool *pool, int64_t m, const float *x, int64_t ldx,
                     const qb_q4weights *w, const float *bias, float *y, int64_t ldy,
                     qb_scratch *scratch);

/* ---- 4-bit weights with group scales x uint8 activation codes ------- */

/* The int8 executor's activations (uint8 codes with a per-tensor zero point)
 * times 4-bit weights with a scale (and zero code) per output channel and
 * group of w->group weights along k, as llama.cpp Q4_0 / Q4_1 and GPTQ/AWQ
 * store them. Per group, the exact int32 sum
 *     S(m, n, g) = sum_{k in g} (A(m, k) - a_zp) (code(n, k) - zp(n, g)),
 * then, in float, group by group in k order with fused multiply-adds,
 *     acc = fma((float)S(m, n, g), scale(n, g), acc)       (acc = 0 first)
 * and the F32 epilogue of qb_requant (requant.h) on acc:
 *     y = relu( fma(acc, rq->scale[n], rq->fbias[n]) + rq->residual ), and codes.
 * A NULL y stores only rq->codes (a next int8 layer's input that nothing
 * else reads as floats: half the bytes written).
 * rq->scale[n] is the activation scale (the same for every n in the executor)
 * times anything per channel; rq->type must be QB_OUT_F32 (the group scales
 * make the output float; a next int8 layer reads rq->codes). It runs the
 * same packed weights as qb_q4_gemm (the activations go in as code - 128,
 * int8; on AVX-512 as the codes themselves, with the weights as signed
 * code - zero code). Every backend returns the reference's bits. */
typedef struct {
    int64_t m;
    const uint8_t *a;       /* (m, lda) codes, lda >= k */
    int64_t lda;
    int32_t a_zp;           /* 0..255 */
    const qb_q4weights *w;
    const qb_requant *rq;   /* QB_OUT_F32 */
    float *y;               /* (m, ldy), or NULL when rq->codes is set: codes only */
    int64_t ldy;
    qb_scratch *scratch;    /* optional */
} qb_q4a8_args;

qb_status qb_q4a8_gemm(const qb_backend *be, qb_pool *pool, const qb_q4a8_args *g);

/* The same as a convolution: x NHWC uint8 codes, weights packed from ONNX
 * (cout, cin * kh * kw) order (groups run along cin, kh, kw as the model
 * stores them), padding with the zero point, y NHWC floats (rq as above).
 * Runs through an im2col buffer (scratch) whose (kh, kw, c) rows the
 * backend permutes into the weights' (c, kh, kw) order while it makes the
 * int8 rows (the groups would cut across NHWC rows); AVX-512 gathers the
 * permuted rows straight from x instead (im2col only for dilated rows). A window that is the
 * whole unpadded image (a dense layer reading a flattened NHWC tensor) is
 * read in place. */
qb_status qb_q4a8_conv(const qb_backend *be, qb_pool *pool, const qb_conv_shape *s, const uint8_t *x,
                       int32_t x_zp, const qb_q4weights *w, const qb_requant *rq, float *y,
                       qb_scratch *scratch);

/* ---- binary weights and activations (XNOR + popcount) --------------- */

typedef struct {
    int64_t n, k;
    int64_t kw;       /* 64-bit words per row: ceil(k / 64) */
    uint64_t *data;   /* panels of 32 channels: [panel][kw][32]; bit b of word t is
                       * k = 64t + b, 1 meaning -1; bits past k are 0 */
    size_t bytes;
} qb_b1weights;

/* Packs the signs of W(n, k) (w < 0 -> -1, otherwise +1). */
qb_status qb_b1weights_pack(qb_b1weights *out, int64_t n, int64_t k, const float *w,
                            int64_t stride_n, int64_t stride_k);
void qb_b1weights_free(qb_b1weights *w);
/* Packs the signs of x(m, k) into rows of ceil(k / 64) words. */
void qb_b1_pack_rows(int64_t m, int64_t k, const float *x, int64_t ldx, uint64_t *bits);

/* dot(m, n) = sum_k a(m, k) w(n, k) over +-1 values = k - 2 popcount(a xor w).
 * out QB_OUT_S32: y = dot; QB_OUT_F32: y = dot * scale[n] (+ bias[n]). */
qb_status qb_b1_gemm(const qb_backend *be, qb_pool *pool, int64_t m, const uint64_t *a,
                     const qb_b1weights *w, qb_out_type out, const float *scale, const float *bias,
                     void *y, int64_t ldy);

/* ---- bf16 ----------------------------------------------------------- */

typedef struct {
    int64_t n, k, kp; /* kp: k rounded up to even */
    uint16_t *data;   /* panels of 64 channels: [panel][kp/2][width][2] bf16 */
    size_t bytes;
} qb_bf16weights;

uint16_t qb_f32_to_bf16(float x); /* round to nearest even; NaN stays NaN */
float qb_bf16_to_f32(uint16_t h);
void qb_f32_to_bf16_rows(int64_t m, int64_t k, const float *x, int64_t ldx, uint16_t *out, int64_t ldo);
qb_status qb_bf16weights_pack(qb_bf16weights *out, int64_t n, int64_t k, const float *w,
                              int64_t stride_n, int64_t stride_k);
void qb_bf16weights_free(qb_bf16weights *w);

/* y(m, n) = sum_k a(m, k) w(n, k) (+ bias[n]) in fp32 from bf16 inputs. */
qb_status qb_bf16_gemm(const qb_backend *be, qb_pool *pool, int64_t m, const uint16_t *a,
                       int64_t lda, const qb_bf16weights *w, const float *bias, float *y,
                       int64_t ldy, qb_scratch *scratch);

#endif
