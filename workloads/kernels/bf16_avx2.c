/* bf16 GEMM for AVX2 (no BF16 instructions): a bf16 is the top half of an
 * fp32, so shifting or masking 32-bit lanes widens a pair exactly; FMAs
 * then accumulate k in order, the same sums as the reference (bit-exact).
 * A tile is 4 rows x 16 channels. */
#include <immintrin.h>
#include "kernel_impl.h"

#define MR 4

static void tile(const qb_bf16_job *j, int64_t m0, int mvalid, const uint16_t *wc, int64_t stride,
                 int64_t n0, int nvalid)
{
    const uint16_t *ar[MR];
    for (int r = 0; r < MR; r++) ar[r] = j->a + (m0 + (r < mvalid ? r : mvalid - 1)) * j->lda;
    __m256 acc[MR][2];
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    const __m256i hi_mask = _mm256_set1_epi32((int)0xffff0000u);
    const int64_t steps = j->w->kp / 2;
    for (int64_t t = 0; t < steps; t++) {
        const uint16_t *w = wc + t * stride;
        __m256i v0 = _mm256_load_si256((const __m256i *)w), v1 = _mm256_load_si256((const __m256i *)(w + 16));
        __m256 e0 = _mm256_castsi256_ps(_mm256_slli_epi32(v0, 16)), o0 = _mm256_castsi256_ps(_mm256_and_si256(v0, hi_mask));
        __m256 e1 = _mm256_castsi256_ps(_mm256_slli_epi32(v1, 16)), o1 = _mm256_castsi256_ps(_mm256_and_si256(v1, hi_mask));
#pragma GCC unroll 4
        for (int r = 0; r < MR; r++) {
            /* the pair as one 32-bit word: the high bf16 is already an fp32 once
             * the low half is masked off; the low one moves up 16 bits */
            __m256i pair = _mm256_set1_epi32(qb_ld32(ar[r] + 2 * t));
            __m256 a0 = _mm256_castsi256_ps(_mm256_slli_epi32(pair, 16));
            __m256 a1 = _mm256_castsi256_ps(_mm256_and_si256(pair, hi_mask));
            acc[r][0] = _mm256_fmadd_ps(a1, o0, _mm256_fmadd_ps(a0, e0, acc[r][0]));
            acc[r][1] = _mm256_fmadd_ps(a1, o1, _mm256_fmadd_ps(a0, e1, acc[r][1]));
        }
    }
    for (int r = 0; r < mvalid; r++) {
        float out[16];
        _mm256_storeu_ps(out, acc[r][0]);
        _mm256_storeu_ps(out + 8, acc[r][1]);
        float *y = j->y + (m0 + r) * j->ldy + n0;
        for (int i = 0; i < nvalid; i++) y[i] = out[i] + (j->bias ? j->bias[n0 + i] : 0.0f);
    }
}

void qb_bf16gemm_block_avx2(const qb_bf16_job *j, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    const qb_bf16weights *w = j->w;
    int64_t p0 = n0 / QB_PANEL, p1 = (n1 + QB_PANEL - 1) / QB_PANEL;
    for (int64_t m = m0; m < m1; m += MR) {
        int mv = (int)(m1 - m < MR ? m1 - m : MR);
        for (int64_t p = p0; p < p1; p++) {
            int pw = qb_panel_width(w->n, p);
            const uint16_t *panel = w->data + p * QB_PANEL * w->kp;
            for (int c = 0; c < pw / 16; c++) {
                int64_t nc = p * QB_PANEL + 16 * c;
                if (nc >= n1) break;
                tile(j, m, mv, panel + 32 * c, (int64_t)pw * 2, nc, (int)(n1 - nc < 16 ? n1 - nc : 16));
            }
        }
    }
}
