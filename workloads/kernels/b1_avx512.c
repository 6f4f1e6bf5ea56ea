/* Binary GEMM for AVX-512 with VPOPCNTDQ: a tile of MR rows x 32 channels
 * (4 zmm of 8 qword lanes, one channel per lane) accumulates
 * popcount(a ^ w) per lane from a broadcast activation word. */
#include <immintrin.h>
#include "kernel_impl.h"

#define MR_MAX 6

QB_AI void tile(const qb_b1_job *j, int64_t m0, int mvalid, int64_t p, int nvalid, const int MR)
{
    const qb_b1weights *w = j->w;
    const uint64_t *wp = w->data + p * w->kw * QB_B1_PANEL;
    const uint64_t *ar[MR_MAX];
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) ar[r] = j->a + (m0 + (r < mvalid ? r : mvalid - 1)) * w->kw;
    __m512i acc[MR_MAX][4];
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) acc[r][c] = _mm512_setzero_si512();
    for (int64_t t = 0; t < w->kw; t++) {
        __m512i wv[4];
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) wv[c] = _mm512_load_si512(wp + t * QB_B1_PANEL + 8 * c);
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            __m512i b = _mm512_set1_epi64((long long)ar[r][t]);
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++)
                acc[r][c] = _mm512_add_epi64(acc[r][c], _mm512_popcnt_epi64(_mm512_xor_si512(b, wv[c])));
        }
    }
    int64_t n0 = p * QB_B1_PANEL;
    const __m512i k = _mm512_set1_epi64(w->k);
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
        int nv = nvalid - 8 * c;
        if (nv <= 0) break;
        __mmask8 km = nv >= 8 ? (__mmask8)0xff : (__mmask8)((1u << nv) - 1);
        int64_t nc = n0 + 8 * c;
        __m256 scale = _mm256_setzero_ps(), bias = _mm256_setzero_ps();
        if (j->out == QB_OUT_F32) {
            scale = _mm256_maskz_loadu_ps(km, j->scale + nc);
            if (j->bias) bias = _mm256_maskz_loadu_ps(km, j->bias + nc);
        }
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            if (r >= mvalid) break;
            __m256i dot = _mm512_cvtepi64_epi32(_mm512_sub_epi64(k, _mm512_slli_epi64(acc[r][c], 1)));
            int64_t idx = (m0 + r) * j->ldy + nc;
            if (j->out == QB_OUT_S32)
                _mm256_mask_storeu_epi32((int32_t *)j->y + idx, km, dot);
            else
                _mm256_mask_storeu_ps((float *)j->y + idx, km, _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), scale, bias));
        }
    }
}

typedef void (*tile_fn)(const qb_b1_job *, int64_t, int, int64_t, int);
#define TILE_FN(MR) \
    static void tile_##MR(const qb_b1_job *j, int64_t m0, int mv, int64_t p, int nv) { tile(j, m0, mv, p, nv, MR); }
TILE_FN(1)
TILE_FN(2)
TILE_FN(4)
TILE_FN(6)

void qb_b1gemm_block_avx512(const qb_b1_job *j, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    int64_t p0 = n0 / QB_B1_PANEL, p1 = (n1 + QB_B1_PANEL - 1) / QB_B1_PANEL;
    for (int64_t m = m0; m < m1; m += MR_MAX) {
        int mv = (int)(m1 - m < MR_MAX ? m1 - m : MR_MAX);
        tile_fn f = mv == 1 ? tile_1 : mv == 2 ? tile_2 : mv <= 4 ? tile_4 : tile_6;
        for (int64_t p = p0; p < p1; p++) {
            int64_t nend = (p + 1) * QB_B1_PANEL < n1 ? (p + 1) * QB_B1_PANEL : n1;
            f(j, m, mv, p, (int)(nend - p * QB_B1_PANEL));
        }
    }
}
