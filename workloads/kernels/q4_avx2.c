/* 4-bit weights x int8 activations for AVX2: vpmaddubsw of unsigned codes
 * (0..15) with signed activations cannot saturate (2 x 15 x 128 < 2^15),
 * so the group sums are exact; the float part follows the reference's
 * order (bit-exact). A tile is 4 rows x 16 channels (two ymm). */
#include <immintrin.h>
#include <string.h>
#include "kernel_impl.h"

#define MR 4

static void tile(const qb_q4_job *j, int64_t m0, int mvalid, int64_t blk, int nvalid)
{
    const qb_q4weights *w = j->w;
    const int64_t G = w->group, groups = w->kp / G;
    const size_t gbytes = (size_t)G * 8 + 64;
    const uint8_t *gp = w->data + (size_t)(blk * groups) * gbytes;
    const uint8_t *zp = w->zp ? w->zp + blk * groups * QB_Q4_BLOCK : NULL;
    const int16_t *cs = w->csum + blk * groups * QB_Q4_BLOCK;
    const __m256i a_zp = _mm256_set1_epi32(j->a_zp);
    const int8_t *ar[MR];
    const int32_t *gs[MR];
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++) {
        int64_t m = m0 + (r < mvalid ? r : mvalid - 1);
        ar[r] = j->a + m * j->lda;
        gs[r] = j->a_gsum + m * groups;
    }
    __m256 facc[MR][2];
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++) facc[r][0] = facc[r][1] = _mm256_setzero_ps();
    const __m256i m15 = _mm256_set1_epi8(15), one = _mm256_set1_epi16(1);
    for (int64_t g = 0; g < groups; g++) {
        __m256i iacc[MR][2];
#pragma GCC unroll 4
        for (int r = 0; r < MR; r++) iacc[r][0] = iacc[r][1] = _mm256_setzero_si256();
        for (int64_t t = 0; t < G / 8; t++) {
            __m256i v0 = _mm256_load_si256((const __m256i *)(gp + 64 * t));
            __m256i v1 = _mm256_load_si256((const __m256i *)(gp + 64 * t + 32));
            __m256i lo0 = _mm256_and_si256(v0, m15), hi0 = _mm256_and_si256(_mm256_srli_epi16(v0, 4), m15);
            __m256i lo1 = _mm256_and_si256(v1, m15), hi1 = _mm256_and_si256(_mm256_srli_epi16(v1, 4), m15);
#pragma GCC unroll 4
            for (int r = 0; r < MR; r++) {
                const int8_t *a = ar[r] + g * G + 8 * t;
                __m256i bl = _mm256_set1_epi32(qb_ld32(a)), bh = _mm256_set1_epi32(qb_ld32(a + 4));
                __m256i s0 = _mm256_add_epi16(_mm256_maddubs_epi16(lo0, bl), _mm256_maddubs_epi16(hi0, bh));
                __m256i s1 = _mm256_add_epi16(_mm256_maddubs_epi16(lo1, bl), _mm256_maddubs_epi16(hi1, bh));
                iacc[r][0] = _mm256_add_epi32(iacc[r][0], _mm256_madd_epi16(s0, one));
                iacc[r][1] = _mm256_add_epi32(iacc[r][1], _mm256_madd_epi16(s1, one));
            }
        }
        const float *sp = (const float *)(gp + G * 8);
        __m256 sc0 = _mm256_load_ps(sp), sc1 = _mm256_load_ps(sp + 8);
        __m256i z0 = _mm256_set1_epi32(8), z1 = z0;
        if (zp) {
            z0 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(zp + g * QB_Q4_BLOCK)));
            z1 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(zp + g * QB_Q4_BLOCK + 8)));
        }
        __m256i c0 = _mm256_setzero_si256(), c1 = c0; /* the activation zero point's term */
        if (j->a_zp) {
            __m128i c = _mm_loadu_si128((const __m128i *)(cs + g * QB_Q4_BLOCK));
            c0 = _mm256_mullo_epi32(_mm256_cvtepi16_epi32(c), a_zp);
            c1 = _mm256_mullo_epi32(_mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(cs + g * QB_Q4_BLOCK + 8))), a_zp);
        }
#pragma GCC unroll 4
        for (int r = 0; r < MR; r++) {
            __m256i s = _mm256_set1_epi32(gs[r][g]);
            __m256i d0 = _mm256_sub_epi32(_mm256_sub_epi32(iacc[r][0], _mm256_mullo_epi32(z0, s)), c0);
            __m256i d1 = _mm256_sub_epi32(_mm256_sub_epi32(iacc[r][1], _mm256_mullo_epi32(z1, s)), c1);
            facc[r][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d0), sc0, facc[r][0]);
            facc[r][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d1), sc1, facc[r][1]);
        }
        gp += gbytes;
    }
    int64_t n0 = blk * QB_Q4_BLOCK;
    float out[16];
    for (int r = 0; r < mvalid; r++) {
        _mm256_storeu_ps(out, facc[r][0]);
        _mm256_storeu_ps(out + 8, facc[r][1]);
        if (j->rq) {
            for (int i = 0; i < nvalid; i++) qb_store_f32(j->rq, j->y, (m0 + r) * j->ldy + n0 + i, out[i], n0 + i);
            continue;
        }
        float *y = j->y + (m0 + r) * j->ldy + n0;
        for (int i = 0; i < nvalid; i++) {
            /* scalar fmaf == the lane FMA: one rounding */
            y[i] = __builtin_fmaf(out[i], j->a_scale[m0 + r], j->bias ? j->bias[n0 + i] : 0.0f);
        }
    }
}

void qb_q4gemm_block_avx2(const qb_q4_job *j, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    int64_t b0 = n0 / QB_Q4_BLOCK, b1 = (n1 + QB_Q4_BLOCK - 1) / QB_Q4_BLOCK;
    for (int64_t m = m0; m < m1; m += MR) {
        int mv = (int)(m1 - m < MR ? m1 - m : MR);
        for (int64_t b = b0; b < b1; b++) {
            int64_t nend = (b + 1) * QB_Q4_BLOCK < n1 ? (b + 1) * QB_Q4_BLOCK : n1;
            tile(j, m, mv, b, (int)(nend - b * QB_Q4_BLOCK));
        }
    }
}
