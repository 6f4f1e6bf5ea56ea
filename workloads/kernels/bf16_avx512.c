/* bf16 GEMM for AVX512_BF16: vdpbf16ps multiplies 2 bf16 pairs per fp32
 * lane; a tile of MR rows x NR vectors of 16 channels, like the int8 one. */
#include <immintrin.h>
#include <string.h>
#include "kernel_impl.h"

#define MR_MAX 6

QB_AI void tile(const qb_bf16_job *j, int64_t m0, int mvalid, const uint16_t *wp, int64_t n0,
                int nvalid, const int MR, const int NR)
{
    const uint16_t *ar[MR_MAX];
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) ar[r] = j->a + (m0 + (r < mvalid ? r : mvalid - 1)) * j->lda;
    __m512 acc[MR_MAX][4];
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++) acc[r][c] = _mm512_setzero_ps();
    const int64_t steps = j->w->kp / 2;
    const uint16_t *w = wp;
    for (int64_t t = 0; t < steps; t++) {
        __m512bh wv[4];
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++) wv[c] = (__m512bh)_mm512_load_si512(w + 32 * c);
        w += 32 * NR;
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            __m512bh b = (__m512bh)_mm512_set1_epi32(qb_ld32(ar[r] + 2 * t));
#pragma GCC unroll 4
            for (int c = 0; c < NR; c++) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], b, wv[c]);
        }
    }
#pragma GCC unroll 4
    for (int c = 0; c < NR; c++) {
        int nv = nvalid - 16 * c;
        if (nv <= 0) break;
        __mmask16 km = nv >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nv) - 1);
        int64_t nc = n0 + 16 * c;
        __m512 bias = j->bias ? _mm512_maskz_loadu_ps(km, j->bias + nc) : _mm512_setzero_ps();
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++)
            if (r < mvalid) _mm512_mask_storeu_ps(j->y + (m0 + r) * j->ldy + nc, km, _mm512_add_ps(acc[r][c], bias));
    }
}

typedef void (*tile_fn)(const qb_bf16_job *, int64_t, int, const uint16_t *, int64_t, int);
#define TILE_FN(MR, NR)                                                                       \
    static void tile_##MR##_##NR(const qb_bf16_job *j, int64_t m0, int mv, const uint16_t *wp, \
                                 int64_t n0, int nv)                                          \
    {                                                                                         \
        tile(j, m0, mv, wp, n0, nv, MR, NR);                                                  \
    }
#define TILE_NR(NR) TILE_FN(1, NR) TILE_FN(2, NR) TILE_FN(4, NR) TILE_FN(6, NR)
TILE_NR(1)
TILE_NR(2)
TILE_NR(3)
TILE_NR(4)
#define ROW_TILES(NR) {tile_1_##NR, tile_2_##NR, tile_4_##NR, tile_6_##NR}
static const tile_fn tiles[4][4] = {ROW_TILES(1), ROW_TILES(2), ROW_TILES(3), ROW_TILES(4)};

void qb_bf16gemm_block_avx512(const qb_bf16_job *j, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    const qb_bf16weights *w = j->w;
    int64_t p0 = n0 / QB_PANEL, p1 = (n1 + QB_PANEL - 1) / QB_PANEL;
    int64_t panel_bytes = QB_PANEL * w->kp * 2;
    int64_t per_block = (384 * 1024) / panel_bytes > 1 ? (384 * 1024) / panel_bytes : 1;
    for (int64_t pb = p0; pb < p1; pb += per_block) {
        int64_t pe = pb + per_block < p1 ? pb + per_block : p1;
        for (int64_t m = m0; m < m1; m += MR_MAX) {
            int mv = (int)(m1 - m < MR_MAX ? m1 - m : MR_MAX);
            int ti = mv == 1 ? 0 : mv == 2 ? 1 : mv <= 4 ? 2 : 3;
            for (int64_t p = pb; p < pe; p++) {
                int pw = qb_panel_width(w->n, p);
                int64_t nend = p * QB_PANEL + QB_PANEL < n1 ? p * QB_PANEL + QB_PANEL : n1;
                tiles[pw / 16 - 1][ti](j, m, mv, w->data + p * QB_PANEL * w->kp, p * QB_PANEL,
                                       (int)(nend - p * QB_PANEL));
            }
        }
    }
}
