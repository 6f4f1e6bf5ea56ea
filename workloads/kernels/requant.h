/* Requantization: how an int32 accumulator becomes the next layer's input
 * code, with ONNX QLinearConv / QLinearMatMul semantics
 *     y = saturate(round_half_even(acc * real_multiplier) + zero_point)
 * where real_multiplier = x_scale * w_scale / y_scale. The multiplier is held
 * as a fixed-point pair (mult, rshift): real = mult * 2^-rshift with mult in
 * [2^30, 2^31), so every backend computes the same bits with integer
 * arithmetic only. A fused ReLU is a narrower clamp (lo = zero_point). */
#ifndef QB_REQUANT_H
#define QB_REQUANT_H

#include <math.h>
#include <stdint.h>
#include "status.h"

typedef enum {
    QB_OUT_U8,  /* requantized uint8 codes */
    QB_OUT_S8,  /* requantized int8 codes */
    QB_OUT_S32, /* the raw accumulator (+ bias): MatMulInteger / ConvInteger */
    QB_OUT_F32  /* dequantized: acc * scale[n] (logits, or a float next layer) */
} qb_out_type;

typedef struct {
    qb_out_type type;
    const int32_t *bias;   /* (n) added to the accumulator, in accumulator units; NULL = none */
    const int32_t *mult;   /* (n) U8/S8: fixed-point multiplier, 0 or in [2^30, 2^31) */
    const int32_t *rshift; /* (n) U8/S8: right shift, 1..62 */
    int32_t zp;            /* U8/S8: output zero point */
    int32_t lo, hi;        /* U8/S8: clamp of the stored code (lo = zp fuses a ReLU) */
    const float *scale;    /* (n) F32: output scale */
    const float *fbias;    /* (n) F32: y = fma(acc, scale, fbias), or NULL (0) */
    int relu;              /* F32: y = y > 0 ? y : 0 (a fused ReLU, after the residual) */
    /* F32, optional: a residual Add fused into the epilogue, and the result
     * also stored as codes for the next layer (per-call data, same (m, ldc)
     * layout as the output):
     *   y = relu( fma(acc, scale, fbias) + residual )
     *   code = rint(clamp(y / code_scale, code_lo - code_zp, code_hi - code_zp)) + code_zp
     * which is exactly the quantizer library's nearest rounding of y
     * (qb_quantize_to) in stored units (signed codes + 128). */
    const float *residual; /* or NULL */
    uint8_t *codes;        /* or NULL */
    float code_scale;      /* > 0 */
    int32_t code_zp, code_lo, code_hi; /* 0..255, lo <= zp <= hi */
} qb_requant;

/* Fixed-point form of a positive real multiplier. Multipliers below 2^-32
 * become (0, 1): the result is the zero point. Fails for real <= 0, NaN or
 * real >= 2^30. */
qb_status qb_requant_multiplier(double real, int32_t *mult, int32_t *rshift);

/* Checks a requant description for an output of n channels. */
qb_status qb_requant_check(const qb_requant *rq, int64_t n);

/* round_half_even(acc * mult / 2^rshift): the scalar definition every
 * backend must match. (Right shifts of negative values are arithmetic, as
 * GCC and Clang define them.) */
static inline int64_t qb_requant_scale(int32_t acc, int32_t mult, int32_t rshift)
{
    int64_t p = (int64_t)acc * mult;
    int64_t half_m1 = ((int64_t)1 << (rshift - 1)) - 1;
    return (p + half_m1 + ((p >> rshift) & 1)) >> rshift;
}

static inline int32_t qb_requant_code(int32_t acc, int32_t mult, int32_t rshift, int32_t zp,
                                      int32_t lo, int32_t hi)
{
    int64_t q = qb_requant_scale(acc, mult, rshift) + zp;
    return (int32_t)(q < lo ? lo : q > hi ? hi : q);
}

/* A float's code as qb_requant describes (NaN gives the zero point, as the
 * quantizer library does). */
static inline uint8_t qb_float_code(float y, float scale, int32_t zp, int32_t lo, int32_t hi)
{
    float v = y / scale, l = (float)(lo - zp), h = (float)(hi - zp);
    v = v < l ? l : v > h ? h : v;
    if (v != v) return (uint8_t)zp;
    return (uint8_t)((int32_t)rintf(v) + zp);
}

#endif
