/* AVX2 variant of the uniform kernels (see uniform_kernels.h); compiled
 * with AVX2 flags, run only after qb_uniform_kernels_usable(). Tails go to
 * the scalar reference. */
#include "uniform_kernels.h"

#include <immintrin.h>

static inline __m256 round_clamped(__m256 x, __m256 s, __m256 lo, __m256 hi, __m256 *nan)
{
    __m256 v = _mm256_div_ps(x, s);
    *nan = _mm256_or_ps(*nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
    return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

static inline void bounds(__m256i zp, int32_t qmin, int32_t qmax, __m256 *lo, __m256 *hi)
{
    *lo = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_set1_epi32(qmin), zp));
    *hi = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_set1_epi32(qmax), zp));
}

static int fake(const float *x, float *y, int64_t n, float s, int32_t zp, int32_t qmin,
                int32_t qmax)
{
    const __m256 vs = _mm256_set1_ps(s);
    __m256 lo, hi, nan = _mm256_setzero_ps();
    bounds(_mm256_set1_epi32(zp), qmin, qmax, &lo, &hi);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 r = round_clamped(_mm256_loadu_ps(x + i), vs, lo, hi, &nan);
        _mm256_storeu_ps(y + i, _mm256_mul_ps(r, vs));
    }
    int tail = qb_uniform_ref.fake(x + i, y + i, n - i, s, zp, qmin, qmax);
    return tail | (_mm256_movemask_ps(nan) != 0);
}

static int fake_vec(const float *x, float *y, int64_t n, const float *s, const int32_t *zp,
                    int32_t qmin, int32_t qmax)
{
    __m256 nan = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 vs = _mm256_loadu_ps(s + i), lo, hi;
        bounds(_mm256_loadu_si256((const __m256i *)(zp + i)), qmin, qmax, &lo, &hi);
        __m256 r = round_clamped(_mm256_loadu_ps(x + i), vs, lo, hi, &nan);
        _mm256_storeu_ps(y + i, _mm256_mul_ps(r, vs));
    }
    int tail = qb_uniform_ref.fake_vec(x + i, y + i, n - i, s + i, zp + i, qmin, qmax);
    return tail | (_mm256_movemask_ps(nan) != 0);
}

static int quant(const float *x, int32_t *q, int64_t n, float s, int32_t zp, int32_t qmin,
                 int32_t qmax)
{
    const __m256 vs = _mm256_set1_ps(s);
    const __m256i vzp = _mm256_set1_epi32(zp);
    __m256 lo, hi, nan = _mm256_setzero_ps();
    bounds(vzp, qmin, qmax, &lo, &hi);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 r = round_clamped(_mm256_loadu_ps(x + i), vs, lo, hi, &nan);
        _mm256_storeu_si256((__m256i *)(q + i), _mm256_add_epi32(_mm256_cvttps_epi32(r), vzp));
    }
    int tail = qb_uniform_ref.quant(x + i, q + i, n - i, s, zp, qmin, qmax);
    return tail | (_mm256_movemask_ps(nan) != 0);
}

static int quant_vec(const float *x, int32_t *q, int64_t n, const float *s, const int32_t *zp,
                     int32_t qmin, int32_t qmax)
{
    __m256 nan = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i vzp = _mm256_loadu_si256((const __m256i *)(zp + i));
        __m256 vs = _mm256_loadu_ps(s + i), lo, hi;
        bounds(vzp, qmin, qmax, &lo, &hi);
        __m256 r = round_clamped(_mm256_loadu_ps(x + i), vs, lo, hi, &nan);
        _mm256_storeu_si256((__m256i *)(q + i), _mm256_add_epi32(_mm256_cvttps_epi32(r), vzp));
    }
    int tail = qb_uniform_ref.quant_vec(x + i, q + i, n - i, s + i, zp + i, qmin, qmax);
    return tail | (_mm256_movemask_ps(nan) != 0);
}

/* All-ones lanes where a code is outside [qmin, qmax]. */
static inline __m256i out_of_range(__m256i q, int32_t qmin, int32_t qmax)
{
    return _mm256_or_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(qmin), q),
                           _mm256_cmpgt_epi32(q, _mm256_set1_epi32(qmax)));
}

static int dequant(const int32_t *q, float *y, int64_t n, float s, int32_t zp, int32_t qmin,
                   int32_t qmax)
{
    const __m256 vs = _mm256_set1_ps(s);
    const __m256i vzp = _mm256_set1_epi32(zp);
    __m256i bad = _mm256_setzero_si256();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i c = _mm256_loadu_si256((const __m256i *)(q + i));
        bad = _mm256_or_si256(bad, out_of_range(c, qmin, qmax));
        __m256 v = _mm256_cvtepi32_ps(_mm256_sub_epi32(c, vzp));
        _mm256_storeu_ps(y + i, _mm256_mul_ps(v, vs));
    }
    int tail = qb_uniform_ref.dequant(q + i, y + i, n - i, s, zp, qmin, qmax);
    return tail | !_mm256_testz_si256(bad, bad);
}

static int dequant_vec(const int32_t *q, float *y, int64_t n, const float *s, const int32_t *zp,
                       int32_t qmin, int32_t qmax)
{
    __m256i bad = _mm256_setzero_si256();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i c = _mm256_loadu_si256((const __m256i *)(q + i));
        bad = _mm256_or_si256(bad, out_of_range(c, qmin, qmax));
        __m256i z = _mm256_loadu_si256((const __m256i *)(zp + i));
        __m256 v = _mm256_cvtepi32_ps(_mm256_sub_epi32(c, z));
        _mm256_storeu_ps(y + i, _mm256_mul_ps(v, _mm256_loadu_ps(s + i)));
    }
    int tail = qb_uniform_ref.dequant_vec(q + i, y + i, n - i, s + i, zp + i, qmin, qmax);
    return tail | !_mm256_testz_si256(bad, bad);
}

const qb_uniform_kernels qb_uniform_avx2 = {
    .name = "avx2", .fake = fake, .fake_vec = fake_vec, .quant = quant, .quant_vec = quant_vec,
    .dequant = dequant, .dequant_vec = dequant_vec, /* one-byte codes: staged by the caller */
};
