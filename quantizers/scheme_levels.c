/* Sign-and-magnitude schemes with a few fixed levels per block:
 * pow2:    codes -M..M with M = 2^(b-1)-1; q = 0 is 0.0 and |q| = m >= 1 is
 *          sign * s * 2^(m-M), s a power of two: the levels are exact powers
 *          of two (multiplication becomes a shift). s is the power of two
 *          nearest the calibrated amax (INQ's rule: s = 2^floor(log2(4/3 amax))).
 * binary:  codes -1, +1: x^ = q * alpha, alpha = mean|x|; 0 encodes as +1.
 * ternary: codes -1, 0, +1: x^ = q * alpha (TWN): |x| > threshold = 0.7 mean|x|
 *          keeps its sign, alpha = mean |x| over the kept values.
 * Nearest rounding picks the closer level, ties to the even |code|
 * (ternary uses its threshold instead, as TWN defines it); down/up pick the
 * neighbouring levels below/above, which is what stochastic rounding needs. */
#include "scheme.h"

#include <math.h>

static void pow2_range(int bits, int narrow, int32_t *qmin, int32_t *qmax)
{
    (void)narrow;
    *qmax = (int32_t)(1u << (bits - 1)) - 1;
    *qmin = -*qmax;
}

static qb_status pow2_fit(const qb_dist *d, const qb_fit_args *a, qb_block *b, float *codebook)
{
    (void)d;
    (void)codebook;
    double amax = fmax(fabs((double)a->lo), fabs((double)a->hi));
    int e = 0;
    if (amax > 0) frexp(amax * 4.0 / 3.0, &e); /* 4/3 amax in [2^(e-1), 2^e) */
    int top = amax > 0 ? e - 1 : 0;
    if (top > 127) top = 127;
    if (top < -126) top = -126;
    b->scale = ldexpf(1.0f, top);
    return QB_OK;
}

static float pow2_level(int32_t m, const qb_block *b)
{
    return m == 0 ? 0.0f : ldexpf(b->scale, m - b->qmax);
}

/* The magnitude code 0..M for a >= 0. */
static int32_t pow2_mag(float a, const qb_block *b, qb_round_dir dir)
{
    const int32_t M = b->qmax;
    if (a >= b->scale) return M;
    float r = a / b->scale; /* exact: scale is a power of two */
    if (r == 0.0f) return 0;
    int e = 0;
    frexpf(r, &e); /* r in [2^(e-1), 2^e) */
    int32_t lo = e - 1 + M, hi;
    if (lo < 1) {
        lo = 0;
        hi = 1;
    } else {
        hi = lo + 1;
    }
    float llo = pow2_level(lo, b), lhi = pow2_level(hi, b);
    if (a == llo) return lo;
    if (dir == QB_DIR_DOWN) return lo;
    if (dir == QB_DIR_UP) return hi;
    float dlo = a - llo, dhi = lhi - a;
    if (dlo != dhi) return dlo < dhi ? lo : hi;
    return (lo & 1) ? hi : lo;
}

static int32_t pow2_quantize(float x, const qb_block *b, qb_round_dir dir)
{
    if (x < 0.0f) {
        qb_round_dir mdir = dir == QB_DIR_DOWN ? QB_DIR_UP : dir == QB_DIR_UP ? QB_DIR_DOWN : dir;
        return -pow2_mag(-x, b, mdir);
    }
    return pow2_mag(x, b, dir);
}

static float pow2_dequantize(int32_t q, const qb_block *b)
{
    return q < 0 ? -pow2_level(-q, b) : pow2_level(q, b);
}

const qb_scheme qb_scheme_pow2 = {
    .id = QB_SCHEME_POW2,
    .name = "pow2",
    .levels = "0 and +-s*2^-k, k = 0..2^(b-1)-2, s = the power of two nearest amax",
    .bits_mask = 0x7C, /* 2-6 */
    .default_bits = 4,
    .params = QB_PARAM_SCALE,
    .calibrated = 1,
    .symmetric = 1,
    .signed_codes = 1,
    .code_step = 1,
    .code_range = pow2_range,
    .fit = pow2_fit,
    .quantize = pow2_quantize,
    .dequantize = pow2_dequantize,
};

/* ---- binary and ternary: x^ = q * alpha ---- */

static void plus_minus_one(int bits, int narrow, int32_t *qmin, int32_t *qmax)
{
    (void)bits;
    (void)narrow;
    *qmin = -1;
    *qmax = 1;
}

static qb_status binary_fit(const qb_dist *d, const qb_fit_args *a, qb_block *b, float *codebook)
{
    (void)codebook;
    b->scale = (float)qb_dist_mean_abs(d, a->lo, a->hi, -1.0f, NULL);
    return QB_OK;
}

static int32_t binary_quantize(float x, const qb_block *b, qb_round_dir dir)
{
    if (dir == QB_DIR_DOWN) return x >= b->scale ? 1 : -1;
    if (dir == QB_DIR_UP) return x <= -b->scale ? -1 : 1;
    return x >= 0.0f ? 1 : -1;
}

static float times_alpha(int32_t q, const qb_block *b) { return (float)q * b->scale; }

const qb_scheme qb_scheme_binary = {
    .id = QB_SCHEME_BINARY,
    .name = "binary",
    .levels = "+-alpha, alpha = mean|x| (0 encodes as +alpha)",
    .bits_mask = 0x2, /* 1 */
    .default_bits = 1,
    .params = QB_PARAM_SCALE,
    .calibrated = 1,
    .symmetric = 1,
    .signed_codes = 1,
    .code_step = 2,
    .code_range = plus_minus_one,
    .fit = binary_fit,
    .quantize = binary_quantize,
    .dequantize = times_alpha,
};

static qb_status ternary_fit(const qb_dist *d, const qb_fit_args *a, qb_block *b, float *codebook)
{
    (void)codebook;
    double mean = qb_dist_mean_abs(d, a->lo, a->hi, -1.0f, NULL);
    float t = (float)(0.7 * mean);
    double kept = 0;
    double alpha = qb_dist_mean_abs(d, a->lo, a->hi, t, &kept);
    b->threshold = t;
    b->scale = (float)(kept > 0 ? alpha : mean);
    return QB_OK;
}

static int32_t ternary_quantize(float x, const qb_block *b, qb_round_dir dir)
{
    float alpha = b->scale;
    if (dir == QB_DIR_DOWN) return x >= alpha ? 1 : x >= 0.0f ? 0 : -1;
    if (dir == QB_DIR_UP) return x <= -alpha ? -1 : x <= 0.0f ? 0 : 1;
    return x > b->threshold ? 1 : x < -b->threshold ? -1 : 0;
}

const qb_scheme qb_scheme_ternary = {
    .id = QB_SCHEME_TERNARY,
    .name = "ternary",
    .levels = "0, +-alpha (TWN: |x| > 0.7 mean|x| keeps its sign, alpha = their mean |x|)",
    .bits_mask = 0x4, /* 2 */
    .default_bits = 2,
    .params = QB_PARAM_SCALE | QB_PARAM_THRESHOLD,
    .calibrated = 1,
    .symmetric = 1,
    .signed_codes = 1,
    .code_step = 1,
    .code_range = plus_minus_one,
    .fit = ternary_fit,
    .quantize = ternary_quantize,
    .dequantize = times_alpha,
};
