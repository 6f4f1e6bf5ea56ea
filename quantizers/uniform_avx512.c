/* AVX-512 variant of the uniform kernels (see uniform_kernels.h); compiled
 * with AVX-512 flags, run only after qb_uniform_kernels_usable(). Tails use
 * masked loads and stores. */
#include "uniform_kernels.h"

#include <immintrin.h>

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

static int fake(const float *x, float *y, int64_t n, float s, int32_t zp, int32_t qmin,
                int32_t qmax)
{
    const __m512 vs = _mm512_set1_ps(s);
    __m512 lo, hi;
    bounds(_mm512_set1_epi32(zp), qmin, qmax, &lo, &hi);
    __mmask16 nan = 0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 r = round_clamped(_mm512_loadu_ps(x + i), vs, lo, hi, 0xFFFF, &nan);
        _mm512_storeu_ps(y + i, _mm512_mul_ps(r, vs));
    }
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        __m512 r = round_clamped(_mm512_maskz_loadu_ps(m, x + i), vs, lo, hi, m, &nan);
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(r, vs));
    }
    return nan != 0;
}

static int fake_vec(const float *x, float *y, int64_t n, const float *s, const int32_t *zp,
                    int32_t qmin, int32_t qmax)
{
    __mmask16 nan = 0;
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xFFFF : tail_mask(n - i);
        __m512 vs = _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), m, s + i);
        __m512 lo, hi;
        bounds(_mm512_maskz_loadu_epi32(m, zp + i), qmin, qmax, &lo, &hi);
        __m512 r = round_clamped(_mm512_maskz_loadu_ps(m, x + i), vs, lo, hi, m, &nan);
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(r, vs));
    }
    return nan != 0;
}

static int quant(const float *x, int32_t *q, int64_t n, float s, int32_t zp, int32_t qmin,
                 int32_t qmax)
{
    const __m512 vs = _mm512_set1_ps(s);
    const __m512i vzp = _mm512_set1_epi32(zp);
    __m512 lo, hi;
    bounds(vzp, qmin, qmax, &lo, &hi);
    __mmask16 nan = 0;
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xFFFF : tail_mask(n - i);
        __m512 r = round_clamped(_mm512_maskz_loadu_ps(m, x + i), vs, lo, hi, m, &nan);
        __m512i c = _mm512_add_epi32(_mm512_cvttps_epi32(r), vzp);
        _mm512_mask_storeu_epi32(q + i, m, c);
    }
    return nan != 0;
}

static int quant_vec(const float *x, int32_t *q, int64_t n, const float *s, const int32_t *zp,
                     int32_t qmin, int32_t qmax)
{
    __mmask16 nan = 0;
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xFFFF : tail_mask(n - i);
        __m512 vs = _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), m, s + i);
        __m512i vzp = _mm512_maskz_loadu_epi32(m, zp + i);
        __m512 lo, hi;
        bounds(vzp, qmin, qmax, &lo, &hi);
        __m512 r = round_clamped(_mm512_maskz_loadu_ps(m, x + i), vs, lo, hi, m, &nan);
        _mm512_mask_storeu_epi32(q + i, m, _mm512_add_epi32(_mm512_cvttps_epi32(r), vzp));
    }
    return nan != 0;
}

const qb_uniform_kernels qb_uniform_avx512 = {"avx512", fake, fake_vec, quant, quant_vec};
