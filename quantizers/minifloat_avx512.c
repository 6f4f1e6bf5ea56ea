/* The float formats' array encoder (minifloat.h) 16 values at a time with
 * AVX-512, lane for lane the scalar qb_minifloat_rne_encode: the same
 * division by the scale, bit rounding for normal results, the 2^23 trick
 * for subnormal ones, saturation. */
#include <immintrin.h>
#include "minifloat.h"

int qb_minifloat_rne_run_avx512(const qb_minifloat_rne *r, const float *x, int64_t n, float s, void *codes,
                                int code_bytes, float *y)
{
    const __m512 vs = _mm512_set1_ps(s), vmax = _mm512_set1_ps(r->max), vmin = _mm512_set1_ps(r->min_normal);
    const __m512 vsub = _mm512_set1_ps(r->sub_scale), vq = _mm512_set1_ps(r->quantum), magic = _mm512_set1_ps(0x1p23f);
    const __m512i absm = _mm512_set1_epi32(0x7fffffff), one = _mm512_set1_epi32(1);
    const __m512i half = _mm512_set1_epi32((1 << (r->shift - 1)) - 1), keep = _mm512_set1_epi32(~((1 << r->shift) - 1));
    const __m512i rebias = _mm512_set1_epi32((int)r->rebias), maxc = _mm512_set1_epi32((int)r->max_code);
    const __m512i signb = _mm512_set1_epi32((int)r->sign_bit);
    const __m128i shift = _mm_cvtsi32_si128(r->shift);
    __mmask16 nan = 0;
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 xv = _mm512_maskz_loadu_ps(m, x + i);
        __mmask16 isnan = _mm512_mask_cmp_ps_mask(m, xv, xv, _CMP_UNORD_Q);
        nan |= isnan;
        __m512i u = _mm512_castps_si512(_mm512_div_ps(xv, vs));
        __m512i au = _mm512_and_si512(u, absm);
        __m512 a = _mm512_castsi512_ps(au);
        /* normal: round the bit pattern at the format's mantissa width */
        __m512i odd = _mm512_and_si512(_mm512_srl_epi32(au, shift), one);
        __m512i ru = _mm512_and_si512(_mm512_add_epi32(au, _mm512_add_epi32(half, odd)), keep);
        __m512i code = _mm512_sub_epi32(_mm512_srl_epi32(ru, shift), rebias);
        __m512 v = _mm512_castsi512_ps(ru);
        /* subnormal: an integer number of quanta */
        __mmask16 sub = _mm512_cmp_ps_mask(a, vmin, _CMP_LT_OQ);
        __m512 k = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(a, vsub), magic), magic);
        code = _mm512_mask_mov_epi32(code, sub, _mm512_cvttps_epi32(k));
        v = _mm512_mask_mov_ps(v, sub, _mm512_mul_ps(k, vq));
        /* saturation: beyond the largest value, or rounded past it */
        __mmask16 sat = _mm512_cmp_ps_mask(a, vmax, _CMP_GE_OQ) | _mm512_cmpgt_epu32_mask(code, maxc);
        code = _mm512_mask_mov_epi32(code, sat, maxc);
        v = _mm512_mask_mov_ps(v, sat, vmax);
        /* the sign; NaN lanes give code 0 and value 0 */
        __mmask16 neg = _mm512_test_epi32_mask(u, _mm512_set1_epi32((int)0x80000000u));
        code = _mm512_maskz_mov_epi32((__mmask16)~isnan, _mm512_mask_or_epi32(code, neg, code, signb));
        v = _mm512_maskz_mov_ps((__mmask16)~isnan,
                                _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(v),
                                                                    _mm512_and_si512(u, _mm512_set1_epi32((int)0x80000000u)))));
        if (y) _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(v, vs));
        if (!codes) continue;
        if (code_bytes == 1) _mm512_mask_cvtepi32_storeu_epi8((char *)codes + i, m, code);
        else if (code_bytes == 2) _mm512_mask_cvtepi32_storeu_epi16((char *)codes + 2 * i, m, code);
        else _mm512_mask_storeu_epi32((char *)codes + 4 * i, m, code);
    }
    return nan != 0;
}
