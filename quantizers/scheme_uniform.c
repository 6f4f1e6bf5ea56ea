/* Uniform (affine) schemes with ONNX QuantizeLinear semantics:
 * q = saturate(round_half_even(x / scale) + zero_point), x^ = (q - zero_point) * scale.
 * uniform-asym: unsigned codes 0..2^b-1 and a zero point, range from [lo, hi];
 * uniform-sym: signed codes, zero point 0, scale = amax / (2^(b-1) - 1).
 * The fit does its arithmetic in float, in the order ONNX's
 * DynamicQuantizeLinear does, so that the conformance tests hold bit for bit. */
#include "scheme.h"

#include <float.h>
#include <math.h>

static void asym_range(int bits, int narrow, int32_t *qmin, int32_t *qmax)
{
    (void)narrow;
    *qmin = 0;
    *qmax = (int32_t)((1u << bits) - 1);
}

static void sym_range(int bits, int narrow, int32_t *qmin, int32_t *qmax)
{
    int32_t half = (int32_t)(1u << (bits - 1));
    *qmin = narrow ? -(half - 1) : -half;
    *qmax = half - 1;
}

/* A usable step: positive, finite and normal (x / scale must not blow up). */
static float sane_scale(float s)
{
    if (!(s >= FLT_MIN) || !isfinite(s)) return 1.0f;
    return s;
}

static qb_status asym_fit(const qb_dist *d, const qb_fit_args *a, qb_block *b, float *codebook)
{
    (void)d;
    (void)codebook;
    /* The range must hold 0 exactly (zero padding, ReLU outputs). */
    float lo = a->lo < 0.0f ? a->lo : 0.0f;
    float hi = a->hi > 0.0f ? a->hi : 0.0f;
    float span = hi - lo;
    if (isinf(span)) span = (float)((double)hi - (double)lo); /* still inf: sane_scale */
    float scale = span / (float)(b->qmax - b->qmin);
    if (!(scale >= FLT_MIN) || !isfinite(scale)) {
        b->scale = sane_scale(scale);
        b->zero_point = b->qmin;
        return QB_OK;
    }
    float zp = (float)b->qmin - lo / scale;
    zp = zp < (float)b->qmin ? (float)b->qmin : zp > (float)b->qmax ? (float)b->qmax : zp;
    b->scale = scale;
    b->zero_point = (int32_t)rintf(zp);
    return QB_OK;
}

static qb_status sym_fit(const qb_dist *d, const qb_fit_args *a, qb_block *b, float *codebook)
{
    (void)d;
    (void)codebook;
    float amax = fmaxf(fabsf(a->lo), fabsf(a->hi));
    b->scale = sane_scale(amax / (float)b->qmax);
    b->zero_point = 0;
    return QB_OK;
}

static int32_t uniform_quantize(float x, const qb_block *b, qb_round_dir dir)
{
    float v = x / b->scale;
    float lo = (float)(b->qmin - b->zero_point), hi = (float)(b->qmax - b->zero_point);
    /* Clamping before rounding equals rounding then saturating, since the
     * bounds are integers, and keeps the float -> int conversion in range. */
    v = v < lo ? lo : v > hi ? hi : v;
    if (v != v) return b->zero_point;
    float r = dir == QB_DIR_NEAREST ? rintf(v) : dir == QB_DIR_DOWN ? floorf(v) : ceilf(v);
    return (int32_t)r + b->zero_point;
}

static float uniform_dequantize(int32_t q, const qb_block *b)
{
    return (float)(q - b->zero_point) * b->scale;
}

const qb_scheme qb_scheme_uniform_asym = {
    .id = QB_SCHEME_UNIFORM_ASYM,
    .name = "uniform-asym",
    .levels = "(q - z) * s, q in 0..2^b-1, zero point z in the code range",
    .bits_mask = 0x1FE, /* 1-8 */
    .default_bits = 8,
    .params = QB_PARAM_SCALE | QB_PARAM_ZERO_POINT,
    .calibrated = 1,
    .code_step = 1,
    .affine = 1,
    .code_range = asym_range,
    .fit = asym_fit,
    .quantize = uniform_quantize,
    .dequantize = uniform_dequantize,
};

const qb_scheme qb_scheme_uniform_sym = {
    .id = QB_SCHEME_UNIFORM_SYM,
    .name = "uniform-sym",
    .levels = "q * s, q in -2^(b-1)..2^(b-1)-1 (narrow: from -(2^(b-1)-1)), s = amax/(2^(b-1)-1)",
    .bits_mask = 0x1FC, /* 2-8 */
    .default_bits = 8,
    .params = QB_PARAM_SCALE,
    .calibrated = 1,
    .symmetric = 1,
    .narrow_ok = 1,
    .signed_codes = 1,
    .code_step = 1,
    .affine = 1,
    .code_range = sym_range,
    .fit = sym_fit,
    .quantize = uniform_quantize,
    .dequantize = uniform_dequantize,
};
