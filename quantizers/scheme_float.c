/* Float formats as schemes: the code is the format's bit pattern.
 * fp16, bf16: plain casts (round to nearest even, saturating at the largest
 *   finite value); no parameters.
 * fp8-e4m3 (e4m3fn), fp8-e5m2: a scale per block from the calibrated amax,
 *   as FP8 training recipes do: s = amax / max_finite, x is encoded as x / s
 *   (round to nearest even, saturating) and decoded times s. */
#include "scheme.h"

#include <float.h>
#include <math.h>

static void code_range_16(int bits, int narrow, int32_t *qmin, int32_t *qmax)
{
    (void)bits;
    (void)narrow;
    *qmin = 0;
    *qmax = 0xFFFF;
}

static void code_range_8(int bits, int narrow, int32_t *qmin, int32_t *qmax)
{
    (void)bits;
    (void)narrow;
    *qmin = 0;
    *qmax = 0xFF;
}

static qb_status cast_fit(const qb_dist *d, const qb_fit_args *a, qb_block *b, float *codebook)
{
    (void)d;
    (void)a;
    (void)codebook;
    b->scale = 1.0f;
    return QB_OK;
}

static qb_status fp8_fit(const qb_dist *d, const qb_fit_args *a, qb_block *b, float *codebook,
                         const qb_minifloat *f)
{
    (void)d;
    (void)codebook;
    float amax = fmaxf(fabsf(a->lo), fabsf(a->hi));
    float s = amax / f->max;
    b->scale = s >= FLT_MIN && isfinite(s) ? s : 1.0f;
    return QB_OK;
}

static qb_status e4m3_fit(const qb_dist *d, const qb_fit_args *a, qb_block *b, float *codebook)
{
    return fp8_fit(d, a, b, codebook, &qb_fp8_e4m3);
}

static qb_status e5m2_fit(const qb_dist *d, const qb_fit_args *a, qb_block *b, float *codebook)
{
    return fp8_fit(d, a, b, codebook, &qb_fp8_e5m2);
}

/* One quantize/dequantize pair per format: the table wants plain functions. */
#define FORMAT_FUNCS(tag, fmt)                                                         \
    static int32_t tag##_quantize(float x, const qb_block *b, qb_round_dir dir)        \
    {                                                                                  \
        return (int32_t)qb_minifloat_encode(&(fmt), x / b->scale, dir);                \
    }                                                                                  \
    static float tag##_dequantize(int32_t q, const qb_block *b)                        \
    {                                                                                  \
        return qb_minifloat_decode(&(fmt), (uint32_t)q) * b->scale;                    \
    }
FORMAT_FUNCS(fp16, qb_fp16)
FORMAT_FUNCS(bf16, qb_bf16)
FORMAT_FUNCS(e4m3, qb_fp8_e4m3)
FORMAT_FUNCS(e5m2, qb_fp8_e5m2)

const qb_scheme qb_scheme_fp16 = {
    .id = QB_SCHEME_FP16,
    .name = "fp16",
    .levels = "IEEE half precision (cast, saturating at +-65504)",
    .bits_mask = 1u << 16,
    .default_bits = 16,
    .code_step = 1,
    .format = &qb_fp16,
    .code_range = code_range_16,
    .fit = cast_fit,
    .quantize = fp16_quantize,
    .dequantize = fp16_dequantize,
};

const qb_scheme qb_scheme_bf16 = {
    .id = QB_SCHEME_BF16,
    .name = "bf16",
    .levels = "bfloat16 (cast, saturating at +-3.39e38)",
    .bits_mask = 1u << 16,
    .default_bits = 16,
    .code_step = 1,
    .format = &qb_bf16,
    .code_range = code_range_16,
    .fit = cast_fit,
    .quantize = bf16_quantize,
    .dequantize = bf16_dequantize,
};

const qb_scheme qb_scheme_fp8_e4m3 = {
    .id = QB_SCHEME_FP8_E4M3,
    .name = "fp8-e4m3",
    .levels = "e4m3fn * s, s = amax/448 per block (saturating)",
    .bits_mask = 1u << 8,
    .default_bits = 8,
    .params = QB_PARAM_SCALE,
    .calibrated = 1,
    .symmetric = 1,
    .code_step = 1,
    .format = &qb_fp8_e4m3,
    .code_range = code_range_8,
    .fit = e4m3_fit,
    .quantize = e4m3_quantize,
    .dequantize = e4m3_dequantize,
};

const qb_scheme qb_scheme_fp8_e5m2 = {
    .id = QB_SCHEME_FP8_E5M2,
    .name = "fp8-e5m2",
    .levels = "e5m2 * s, s = amax/57344 per block (saturating)",
    .bits_mask = 1u << 8,
    .default_bits = 8,
    .params = QB_PARAM_SCALE,
    .calibrated = 1,
    .symmetric = 1,
    .code_step = 1,
    .format = &qb_fp8_e5m2,
    .code_range = code_range_8,
    .fit = e5m2_fit,
    .quantize = e5m2_quantize,
    .dequantize = e5m2_dequantize,
};
