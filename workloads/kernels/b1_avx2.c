/* Binary GEMM for AVX2: popcount of a ^ w by nibble lookup (vpshufb) and
 * vpsadbw into 64-bit lanes; a tile is 2 rows x 8 channels (two ymm of 4
 * qword lanes). */
#include <immintrin.h>
#include "kernel_impl.h"

#define MR 2

QB_AI __m256i popcnt64(__m256i v)
{
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1,
                                         2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i m15 = _mm256_set1_epi8(15);
    __m256i c = _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_and_si256(v, m15)),
                                _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), m15)));
    return _mm256_sad_epu8(c, _mm256_setzero_si256());
}

static void tile(const qb_b1_job *j, int64_t m0, int mvalid, int64_t nc, int nvalid)
{
    const qb_b1weights *w = j->w;
    const uint64_t *wp = w->data + (nc / QB_B1_PANEL) * w->kw * QB_B1_PANEL + nc % QB_B1_PANEL;
    const uint64_t *ar[MR];
    for (int r = 0; r < MR; r++) ar[r] = j->a + (m0 + (r < mvalid ? r : mvalid - 1)) * w->kw;
    __m256i acc[MR][2];
#pragma GCC unroll 2
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    for (int64_t t = 0; t < w->kw; t++) {
        __m256i w0 = _mm256_loadu_si256((const __m256i *)(wp + t * QB_B1_PANEL));
        __m256i w1 = _mm256_loadu_si256((const __m256i *)(wp + t * QB_B1_PANEL + 4));
#pragma GCC unroll 2
        for (int r = 0; r < MR; r++) {
            __m256i b = _mm256_set1_epi64x((long long)ar[r][t]);
            acc[r][0] = _mm256_add_epi64(acc[r][0], popcnt64(_mm256_xor_si256(b, w0)));
            acc[r][1] = _mm256_add_epi64(acc[r][1], popcnt64(_mm256_xor_si256(b, w1)));
        }
    }
    for (int r = 0; r < mvalid; r++) {
        long long pop[8];
        _mm256_storeu_si256((__m256i *)pop, acc[r][0]);
        _mm256_storeu_si256((__m256i *)(pop + 4), acc[r][1]);
        for (int i = 0; i < nvalid; i++) {
            int32_t dot = (int32_t)(w->k - 2 * pop[i]);
            int64_t idx = (m0 + r) * j->ldy + nc + i;
            if (j->out == QB_OUT_S32)
                ((int32_t *)j->y)[idx] = dot;
            else
                ((float *)j->y)[idx] = __builtin_fmaf((float)dot, j->scale[nc + i], j->bias ? j->bias[nc + i] : 0.0f);
        }
    }
}

void qb_b1gemm_block_avx2(const qb_b1_job *j, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    for (int64_t m = m0; m < m1; m += MR) {
        int mv = (int)(m1 - m < MR ? m1 - m : MR);
        for (int64_t nc = n0; nc < n1; nc += 8) tile(j, m, mv, nc, (int)(n1 - nc < 8 ? n1 - nc : 8));
    }
}
