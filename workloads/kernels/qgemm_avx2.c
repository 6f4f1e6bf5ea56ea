/* int8 and ternary GEMM tiles for AVX2 (no VNNI). vpmaddubsw multiplies
 * u8 x s8 pairs into saturating s16, which would clip 255 x -128 x 2, so
 * int8 weights are split into a low nibble (0..15) and a signed high nibble
 * (-8..7): each vpmaddubsw then stays within s16, and vpmaddwd by 1 and 16
 * recombines them into exact s32 sums. Ternary codes (0..2) need no split.
 * A tile is 4 rows x 16 channels (two ymm); the epilogue is scalar (the
 * shared qb_store_out), so it matches the reference by construction.
 * Compiled with the ISA_avx2 flags; only runs after the backend check. */
#include <immintrin.h>
#include <string.h>
#include "kernel_impl.h"

#define MR 4
#define BLOCK_BYTES (256 * 1024)

/* acc += the exact u8 x s8 dot products of 4-byte groups. */
QB_AI __m256i dot_s8(__m256i acc, __m256i b, __m256i lo, __m256i hi)
{
    const __m256i one = _mm256_set1_epi16(1), sixteen = _mm256_set1_epi16(16);
    __m256i pl = _mm256_madd_epi16(_mm256_maddubs_epi16(b, lo), one);
    __m256i ph = _mm256_madd_epi16(_mm256_maddubs_epi16(b, hi), sixteen);
    return _mm256_add_epi32(acc, _mm256_add_epi32(pl, ph));
}

QB_AI void split_nibbles(__m256i w, __m256i *lo, __m256i *hi)
{
    const __m256i m15 = _mm256_set1_epi8(15), eight = _mm256_set1_epi8(8);
    *lo = _mm256_and_si256(w, m15);
    __m256i h = _mm256_and_si256(_mm256_srli_epi16(w, 4), m15);
    *hi = _mm256_sub_epi8(_mm256_xor_si256(h, eight), eight);
}

/* One tile: rows x 16 channels starting at column vector c of a panel
 * whose k-rows are `stride` bytes apart. */
QB_AI void tile(const qb_qgemm_job *j, const uint8_t *const *rows, int mr, const int8_t *wc,
                int64_t stride, int64_t m0, int mvalid, int64_t n0, int nvalid, const int BITS)
{
    __m256i acc[MR][2];
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    const int8_t *w = wc;
    const int64_t steps = j->seg_k / (BITS == 8 ? 4 : 16);
    const __m256i one = _mm256_set1_epi16(1), m3 = _mm256_set1_epi8(3);
    for (int s = 0; s < j->nseg; s++) {
        const uint8_t *rp[MR];
#pragma GCC unroll 4
        for (int r = 0; r < MR; r++) rp[r] = rows[s * mr + (r < mr ? r : mr - 1)];
        for (int64_t t = 0; t < steps; t++) {
            if (BITS == 8) {
                __m256i lo0, hi0, lo1, hi1;
                split_nibbles(_mm256_load_si256((const __m256i *)w), &lo0, &hi0);
                split_nibbles(_mm256_load_si256((const __m256i *)(w + 32)), &lo1, &hi1);
#pragma GCC unroll 4
                for (int r = 0; r < MR; r++) {
                    __m256i b = _mm256_set1_epi32(qb_ld32(rp[r] + 4 * t));
                    acc[r][0] = dot_s8(acc[r][0], b, lo0, hi0);
                    acc[r][1] = dot_s8(acc[r][1], b, lo1, hi1);
                }
            } else {
                __m256i raw0 = _mm256_load_si256((const __m256i *)w);
                __m256i raw1 = _mm256_load_si256((const __m256i *)(w + 32));
#pragma GCC unroll 4
                for (int sub = 0; sub < 4; sub++) {
                    __m256i c0 = _mm256_and_si256(_mm256_srli_epi16(raw0, 2 * sub), m3);
                    __m256i c1 = _mm256_and_si256(_mm256_srli_epi16(raw1, 2 * sub), m3);
#pragma GCC unroll 4
                    for (int r = 0; r < MR; r++) {
                        __m256i b = _mm256_set1_epi32(qb_ld32(rp[r] + 16 * t + 4 * sub));
                        acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(_mm256_maddubs_epi16(b, c0), one));
                        acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(_mm256_maddubs_epi16(b, c1), one));
                    }
                }
            }
            w += stride;
        }
    }
    int32_t out[16];
    for (int r = 0; r < mvalid; r++) {
        _mm256_storeu_si256((__m256i *)out, acc[r][0]);
        _mm256_storeu_si256((__m256i *)(out + 8), acc[r][1]);
        int64_t m = m0 + r;
        for (int i = 0; i < nvalid; i++) {
            int64_t n = n0 + i;
            uint32_t v = (uint32_t)out[i] + (uint32_t)j->off[n];
            if (j->rowsum) v -= (uint32_t)j->w->zp[n] * (uint32_t)j->rowsum[m];
            qb_store_out(j->rq, j->c, m * j->ldc + n, (int32_t)v, n);
        }
    }
}

static void tile8(const qb_qgemm_job *j, const uint8_t *const *rows, int mr, const int8_t *wc,
                  int64_t stride, int64_t m0, int mvalid, int64_t n0, int nvalid)
{
    tile(j, rows, mr, wc, stride, m0, mvalid, n0, nvalid, 8);
}

static void tile2(const qb_qgemm_job *j, const uint8_t *const *rows, int mr, const int8_t *wc,
                  int64_t stride, int64_t m0, int mvalid, int64_t n0, int nvalid)
{
    tile(j, rows, mr, wc, stride, m0, mvalid, n0, nvalid, 2);
}

void qb_qgemm_block_avx2(const qb_qgemm_job *j, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    const qb_qweights *w = j->w;
    const uint8_t *rows[QB_MAX_SEGS * MR];
    int64_t p0 = n0 / QB_PANEL, p1 = (n1 + QB_PANEL - 1) / QB_PANEL;
    int64_t panel_bytes = QB_PANEL * w->kp * w->bits / 8;
    int64_t per_block = BLOCK_BYTES / panel_bytes > 1 ? BLOCK_BYTES / panel_bytes : 1;
    for (int64_t pb = p0; pb < p1; pb += per_block) {
        int64_t pe = pb + per_block < p1 ? pb + per_block : p1;
        qb_row_cursor at = qb_row_cursor_at(j, m0);
        for (int64_t m = m0; m < m1; m += MR, qb_row_cursor_advance(j, &at, MR)) {
            int mvalid = (int)(m1 - m < MR ? m1 - m : MR);
            qb_job_rows_at(j, &at, mvalid, mvalid, rows);
            for (int64_t p = pb; p < pe; p++) {
                int pw = qb_panel_width(w->n, p);
                const int8_t *wp = (const int8_t *)w->data + qb_panel_offset(w, p);
                for (int c = 0; c < pw / 16; c++) {
                    int64_t nc = p * QB_PANEL + 16 * c;
                    if (nc >= n1) break;
                    int nvalid = (int)(n1 - nc < 16 ? n1 - nc : 16);
                    (w->bits == 8 ? tile8 : tile2)(j, rows, mvalid, wp + 64 * c, (int64_t)pw * 4, m,
                                                   mvalid, nc, nvalid);
                }
            }
        }
    }
}
