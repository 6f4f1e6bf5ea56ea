/* AVX-512 variant of the uniform kernels (see uniform_kernels.h); compiled
 * with AVX-512 flags, run only after qb_uniform_kernels_usable().
 * Each kernel is one inline step over 16 lanes under a mask, called with a
 * constant full mask in the main loop (the compiler then emits plain loads
 * and stores: masked ones cost 2x on Zen 5) and once with the tail mask. */
#include "uniform_kernels.h"

#include <immintrin.h>

#define FULL ((__mmask16)0xFFFF)

static inline __mmask16 tail_mask(int64_t left) { return (__mmask16)((1u << left) - 1u); }

/* rne(clamp(x / s, lo, hi)); flags NaN lanes in *nan. */
static inline __m512 round_clamped(__m512 x, __m512 s, __m512 lo, __m512 hi, __mmask16 m,
                                   __mmask16 *nan)
{
    __m512 v = _mm512_div_ps(x, s);
    *nan |= _mm512_mask_cmp_ps_mask(m, v, v, _CMP_UNORD_Q);
    v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
    return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

/* Per-lane bounds qmin - zp and qmax - zp as floats. */
static inline void bounds(__m512i zp, int32_t qmin, int32_t qmax, __m512 *lo, __m512 *hi)
{
    *lo = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_set1_epi32(qmin), zp));
    *hi = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_set1_epi32(qmax), zp));
}

/* Codes outside [qmin, qmax] among the lanes in m. */
static inline __mmask16 out_of_range(__m512i q, int32_t qmin, int32_t qmax, __mmask16 m)
{
    return _mm512_mask_cmplt_epi32_mask(m, q, _mm512_set1_epi32(qmin)) |
           _mm512_mask_cmpgt_epi32_mask(m, q, _mm512_set1_epi32(qmax));
}

/* The parameters of 16 lanes: broadcast (per run) or loaded (per value). */
typedef struct {
    __m512 s, lo, hi;
    __m512i zp;
} lane_params;

static inline lane_params params_const(float s, int32_t zp, int32_t qmin, int32_t qmax)
{
    lane_params p;
    p.s = _mm512_set1_ps(s);
    p.zp = _mm512_set1_epi32(zp);
    bounds(p.zp, qmin, qmax, &p.lo, &p.hi);
    return p;
}

static inline lane_params params_at(const float *s, const int32_t *zp, int32_t qmin, int32_t qmax,
                                    __mmask16 m)
{
    lane_params p;
    p.s = _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), m, s); /* 1 in idle lanes: no 0/0 */
    p.zp = _mm512_maskz_loadu_epi32(m, zp);
    bounds(p.zp, qmin, qmax, &p.lo, &p.hi);
    return p;
}

/* The low bytes of 16 codes. */
static inline void store8(uint8_t *q, __m512i c, __mmask16 m)
{
    _mm_mask_storeu_epi8(q, m, _mm512_cvtepi32_epi8(c));
}

static inline __m512i load8(const uint8_t *q, int is_signed, __mmask16 m)
{
    __m128i b = _mm_maskz_loadu_epi8(m, q);
    return is_signed ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b);
}

/* ---- the steps ---- */

static inline void fake_step(const float *x, float *y, lane_params p, __mmask16 m, __mmask16 *nan)
{
    __m512 r = round_clamped(_mm512_maskz_loadu_ps(m, x), p.s, p.lo, p.hi, m, nan);
    _mm512_mask_storeu_ps(y, m, _mm512_mul_ps(r, p.s));
}

static inline __m512i code_step(const float *x, lane_params p, __mmask16 m, __mmask16 *nan)
{
    __m512 r = round_clamped(_mm512_maskz_loadu_ps(m, x), p.s, p.lo, p.hi, m, nan);
    return _mm512_add_epi32(_mm512_cvttps_epi32(r), p.zp);
}

static inline void dequant_step(__m512i c, float *y, lane_params p, int32_t qmin, int32_t qmax,
                                __mmask16 m, __mmask16 *bad)
{
    *bad |= out_of_range(c, qmin, qmax, m);
    __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(c, p.zp));
    _mm512_mask_storeu_ps(y, m, _mm512_mul_ps(v, p.s));
}

/* ---- the kernels: a full-mask loop, then the tail ---- */

#define LOOP(step_call)                                  \
    int64_t i = 0;                                       \
    for (; i + 16 <= n; i += 16) {                       \
        const __mmask16 m = FULL;                        \
        step_call;                                       \
    }                                                    \
    if (i < n) {                                         \
        const __mmask16 m = tail_mask(n - i);            \
        step_call;                                       \
    }

static int fake(const float *x, float *y, int64_t n, float s, int32_t zp, int32_t qmin,
                int32_t qmax)
{
    const lane_params p = params_const(s, zp, qmin, qmax);
    __mmask16 nan = 0;
    LOOP(fake_step(x + i, y + i, p, m, &nan))
    return nan != 0;
}

static int fake_vec(const float *x, float *y, int64_t n, const float *s, const int32_t *zp,
                    int32_t qmin, int32_t qmax)
{
    __mmask16 nan = 0;
    LOOP(fake_step(x + i, y + i, params_at(s + i, zp + i, qmin, qmax, m), m, &nan))
    return nan != 0;
}

static int quant(const float *x, int32_t *q, int64_t n, float s, int32_t zp, int32_t qmin,
                 int32_t qmax)
{
    const lane_params p = params_const(s, zp, qmin, qmax);
    __mmask16 nan = 0;
    LOOP(_mm512_mask_storeu_epi32(q + i, m, code_step(x + i, p, m, &nan)))
    return nan != 0;
}

static int quant_vec(const float *x, int32_t *q, int64_t n, const float *s, const int32_t *zp,
                     int32_t qmin, int32_t qmax)
{
    __mmask16 nan = 0;
    LOOP(_mm512_mask_storeu_epi32(q + i, m, code_step(x + i, params_at(s + i, zp + i, qmin, qmax, m), m, &nan)))
    return nan != 0;
}

static int quant8(const float *x, uint8_t *q, int64_t n, float s, int32_t zp, int32_t qmin,
                  int32_t qmax)
{
    const lane_params p = params_const(s, zp, qmin, qmax);
    __mmask16 nan = 0;
    LOOP(store8(q + i, code_step(x + i, p, m, &nan), m))
    return nan != 0;
}

static int quant8_vec(const float *x, uint8_t *q, int64_t n, const float *s, const int32_t *zp,
                      int32_t qmin, int32_t qmax)
{
    __mmask16 nan = 0;
    LOOP(store8(q + i, code_step(x + i, params_at(s + i, zp + i, qmin, qmax, m), m, &nan), m))
    return nan != 0;
}

static int dequant(const int32_t *q, float *y, int64_t n, float s, int32_t zp, int32_t qmin,
                   int32_t qmax)
{
    const lane_params p = params_const(s, zp, qmin, qmax);
    __mmask16 bad = 0;
    LOOP(dequant_step(_mm512_maskz_loadu_epi32(m, q + i), y + i, p, qmin, qmax, m, &bad))
    return bad != 0;
}

static int dequant_vec(const int32_t *q, float *y, int64_t n, const float *s, const int32_t *zp,
                       int32_t qmin, int32_t qmax)
{
    __mmask16 bad = 0;
    LOOP(dequant_step(_mm512_maskz_loadu_epi32(m, q + i), y + i,
                      params_at(s + i, zp + i, qmin, qmax, m), qmin, qmax, m, &bad))
    return bad != 0;
}

static int dequant8(const uint8_t *q, int is_signed, float *y, int64_t n, float s, int32_t zp,
                    int32_t qmin, int32_t qmax)
{
    const lane_params p = params_const(s, zp, qmin, qmax);
    __mmask16 bad = 0;
    LOOP(dequant_step(load8(q + i, is_signed, m), y + i, p, qmin, qmax, m, &bad))
    return bad != 0;
}

static int dequant8_vec(const uint8_t *q, int is_signed, float *y, int64_t n, const float *s,
                        const int32_t *zp, int32_t qmin, int32_t qmax)
{
    __mmask16 bad = 0;
    LOOP(dequant_step(load8(q + i, is_signed, m), y + i, params_at(s + i, zp + i, qmin, qmax, m),
                      qmin, qmax, m, &bad))
    return bad != 0;
}

const qb_uniform_kernels qb_uniform_avx512 = {
    .name = "avx512", .fake = fake, .fake_vec = fake_vec, .quant = quant, .quant_vec = quant_vec,
    .dequant = dequant, .dequant_vec = dequant_vec, .quant8 = quant8, .quant8_vec = quant8_vec,
    .dequant8 = dequant8, .dequant8_vec = dequant8_vec,
};
