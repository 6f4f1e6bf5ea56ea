/* The executor's float paths: conv/dense layers whose quantized weights
 * are not integer codes, run on the kernels a deployment on this CPU would
 * use, equal to the simulated (fake-quantized) layer up to fp32 rounding:
 *
 *   fp8-e4m3, fp8-e5m2, bf16 weights -> bf16 GEMM (qkernels.h: AVX512_BF16
 *     vdpbf16ps on avx512-vnni, the backend's fp32 emulation elsewhere),
 *     fp32 accumulation. The operands are the formats' values of the codes,
 *     without their scales: every fp8 value is a bf16 value (3 or 2
 *     mantissa bits of bf16's 7, exponents well inside its range), and so
 *     are the activations' (fp8 values, bf16 values, or uniform codes minus
 *     the zero point, |q - z| <= 255). The per-channel weight scale and the
 *     activation scale multiply the fp32 output: y = acc s_w[c] s_x + bias.
 *   fp16 weights -> stored as fp16, converted to fp32 (F16C on AVX2
 *     backends) each call and multiplied in fp32 (sgemm, workloads/gemm.h):
 *     this CPU has no fp16 arithmetic (no AVX512-FP16).
 *   kmeans weights -> the codebook decoded to fp32 weights once, fp32 sgemm
 *     (weight sharing is a storage format).
 * Activations are quantized exactly as the simulation does (the quantizer
 * library's own rounding). Convolutions: im2col of the NHWC input, then the
 * GEMM. Outputs are NHWC floats; the executor quantizes them for readers.
 * Error convention: common/status.h. */
#ifndef QB_IEXEC_FLOAT_H
#define QB_IEXEC_FLOAT_H

#include "backend.h"
#include "pool.h"
#include "qeval.h"

typedef enum {
    QB_FPATH_NONE, /* integer kernels (iexec.c) */
    QB_FPATH_BF16, /* bf16 GEMM, scales on the output */
    QB_FPATH_FP16, /* fp16 weights, fp32 compute */
    QB_FPATH_FP32  /* decoded weights, fp32 compute */
} qb_fpath;

/* The float path of conv/dense layer `layer` of q by its weight scheme. */
qb_fpath qb_fpath_of(const qb_qmodel *q, int layer);

typedef struct qb_flayer qb_flayer;

/* Prepares conv/dense layer `layer` of q for batches of up to max_batch
 * images on backend be. A dense layer reading a flattened NHWC tensor of
 * flat_c channels x flat_hw pixels gets its weight columns in that order
 * (flat_c = 0: as stored). q's activation parameters must outlive it.
 * QB_ERR_UNSUPPORTED, naming the layer, for what has no exact path. */
qb_status qb_flayer_create(qb_flayer **out, const qb_qmodel *q, int layer, const qb_backend *be,
                           int max_batch, int flat_c, int flat_hw);
void qb_flayer_free(qb_flayer *f);

/* y = the layer on nb <= max_batch images x (NHWC floats), NHWC floats,
 * then ReLU (y > 0 ? y : +0) when relu. */
qb_status qb_flayer_forward(qb_flayer *f, qb_pool *pool, const float *x, int nb, float *y, int relu);

/* What runs, for the results' backend column: "avx512-bf16", "ref-bf16",
 * "onednn-fp32 (fp16 storage)", "onednn-fp32 (decoded kmeans)". */
const char *qb_flayer_label(const qb_flayer *f);

/* fp16 -> fp32 for n values, F16C when f16c (the caller checked the CPU). */
void qb_f16_to_f32(const uint16_t *h, float *f, int64_t n, int f16c);
void qb_f16_to_f32_avx2(const uint16_t *h, float *f, int64_t n);

#endif
