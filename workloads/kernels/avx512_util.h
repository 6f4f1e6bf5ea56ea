/* Small AVX-512 helpers the int8 and 4-bit kernels share. Include only from
 * files built with the ISA_avx512 flags (*_avx512.c). */
#ifndef QB_AVX512_UTIL_H
#define QB_AVX512_UTIL_H

#include <immintrin.h>
#include <stdint.h>
#include "kernel_impl.h"

/* The first nv of 16 lanes. */
QB_AI __mmask16 lanes(int nv) { return nv >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nv) - 1); }

/* Codes of floats y, as qb_float_code: y / scale clamped to [lo, hi] (code
 * range minus the zero point), rounded to nearest even, plus the zero
 * point; NaN gives the zero point. The constants come in as vectors so
 * that a loop can keep them in registers. */
QB_AI void store_float_codes(__m512 y, __m512 scale, __m512 lo, __m512 hi, __m512i zp, uint8_t *dst, __mmask16 km)
{
    __m512 v = _mm512_min_ps(_mm512_max_ps(_mm512_div_ps(y, scale), lo), hi);
    __m512i q = _mm512_add_epi32(_mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), zp);
    q = _mm512_mask_mov_epi32(q, _mm512_cmp_ps_mask(y, y, _CMP_UNORD_Q), zp);
    _mm512_mask_cvtepi32_storeu_epi8(dst, km, q);
}

#endif
