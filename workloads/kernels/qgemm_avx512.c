/* int8 and ternary GEMM tiles for AVX-512 VNNI. A tile holds MR rows x NR
 * vectors of 16 channels in 24 or fewer zmm accumulators; each step
 * broadcasts 4 activation bytes per row and issues vpdpbusd against NR
 * weight vectors (u8 x s8 -> s32, 4 products per lane). Ternary weights are
 * unpacked from 2-bit codes on the fly. The epilogue requantizes in 64-bit
 * lanes (vpmuldq) with round-half-even, matching qb_requant_code exactly.
 * Compiled with the ISA_avx512 flags; only runs after the backend check. */
#include <immintrin.h>
#include <string.h>
#include "kernel_impl.h"

#define MR_MAX 6
/* Weight panels per block: a block's weights stay in L2 while the row
 * tiles stream past them. */
#define BLOCK_BYTES (384 * 1024)

QB_AI int32_t ld32(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

QB_AI void prefetch_at(const uint8_t *p, int64_t ahead)
{
    _mm_prefetch((const char *)((uintptr_t)p + (uintptr_t)ahead), _MM_HINT_T0);
}

/* Stores 16 channels of one row: offsets, zero-point correction, then the
 * output conversion. */
QB_AI void store_vec(const qb_qgemm_job *j, __m512i acc, int64_t m, int64_t n0, __mmask16 km,
                     __m512i off, __m512i zpw, __m512i mult, __m512i mult_o, __m512i sh_e,
                     __m512i sh_o, __m512i half_e, __m512i half_o, __m512 fscale)
{
    const qb_requant *rq = j->rq;
    acc = _mm512_add_epi32(acc, off);
    if (j->rowsum) acc = _mm512_sub_epi32(acc, _mm512_mullo_epi32(zpw, _mm512_set1_epi32(j->rowsum[m])));
    int64_t idx = m * j->ldc + n0;
    switch (rq->type) {
    case QB_OUT_S32: _mm512_mask_storeu_epi32((int32_t *)j->c + idx, km, acc); return;
    case QB_OUT_F32:
        _mm512_mask_storeu_ps((float *)j->c + idx, km, _mm512_mul_ps(_mm512_cvtepi32_ps(acc), fscale));
        return;
    default: break;
    }
    const __m512i one = _mm512_set1_epi64(1);
    __m512i pe = _mm512_mul_epi32(acc, mult);
    __m512i po = _mm512_mul_epi32(_mm512_srli_epi64(acc, 32), mult_o);
    pe = _mm512_srav_epi64(_mm512_add_epi64(_mm512_add_epi64(pe, half_e),
                                            _mm512_and_si512(_mm512_srav_epi64(pe, sh_e), one)), sh_e);
    po = _mm512_srav_epi64(_mm512_add_epi64(_mm512_add_epi64(po, half_o),
                                            _mm512_and_si512(_mm512_srav_epi64(po, sh_o), one)), sh_o);
    const __m512i lo = _mm512_set1_epi64(rq->lo - rq->zp), hi = _mm512_set1_epi64(rq->hi - rq->zp);
    pe = _mm512_max_epi64(_mm512_min_epi64(pe, hi), lo);
    po = _mm512_max_epi64(_mm512_min_epi64(po, hi), lo);
    __m512i r = _mm512_mask_blend_epi32(0xAAAA, pe, _mm512_slli_epi64(po, 32));
    r = _mm512_add_epi32(r, _mm512_set1_epi32(rq->zp));
    _mm512_mask_cvtepi32_storeu_epi8((int8_t *)j->c + idx, km, r);
}

QB_AI void epilogue(const qb_qgemm_job *j, __m512i acc[MR_MAX][4], int64_t m0, int mvalid,
                    int64_t n0, int nvalid, const int MR, const int NR)
{
    const qb_requant *rq = j->rq;
    int quant = rq->type == QB_OUT_U8 || rq->type == QB_OUT_S8;
#pragma GCC unroll 4
    for (int c = 0; c < NR; c++) {
        int nv = nvalid - 16 * c;
        if (nv <= 0) break;
        int64_t nc = n0 + 16 * c;
        __mmask16 km = nv >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nv) - 1);
        __m512i off = _mm512_maskz_loadu_epi32(km, j->off + nc);
        __m512i zpw = j->rowsum ? _mm512_maskz_loadu_epi32(km, j->w->zp + nc) : _mm512_setzero_si512();
        __m512i mult = _mm512_setzero_si512(), mult_o = mult, sh_e = mult, sh_o = mult, half_e = mult,
                half_o = mult;
        __m512 fscale = _mm512_setzero_ps();
        if (quant) {
            const __m512i one = _mm512_set1_epi64(1);
            mult = _mm512_maskz_loadu_epi32(km, rq->mult + nc);
            __m512i sh = _mm512_mask_loadu_epi32(_mm512_set1_epi32(1), km, rq->rshift + nc);
            mult_o = _mm512_srli_epi64(mult, 32);
            sh_e = _mm512_and_si512(sh, _mm512_set1_epi64(0xffffffff));
            sh_o = _mm512_srli_epi64(sh, 32);
            half_e = _mm512_sub_epi64(_mm512_sllv_epi64(one, _mm512_sub_epi64(sh_e, one)), one);
            half_o = _mm512_sub_epi64(_mm512_sllv_epi64(one, _mm512_sub_epi64(sh_o, one)), one);
        } else if (rq->type == QB_OUT_F32) {
            fscale = _mm512_maskz_loadu_ps(km, rq->scale + nc);
        }
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++)
            if (r < mvalid)
                store_vec(j, acc[r][c], m0 + r, nc, km, off, zpw, mult, mult_o, sh_e, sh_o, half_e,
                          half_o, fscale);
    }
}

/* One register tile over every segment of the rows. BITS 8: a step is 4 k
 * (one vpdpbusd per row and vector); BITS 2: a step is 16 k from one load
 * per vector, unpacked into 4 code vectors. */
QB_AI void tile(const qb_qgemm_job *j, const uint8_t *const *rows, const int8_t *wp, int64_t ahead,
                int64_t m0, int mvalid, int64_t n0, int nvalid, const int MR, const int NR,
                const int BITS)
{
    __m512i acc[MR_MAX][4];
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++) acc[r][c] = _mm512_setzero_si512();
    const int8_t *w = wp;
    const int64_t kstep = BITS == 8 ? 4 : 16;
    const int64_t steps = j->seg_k / kstep;
    const __m512i m3 = _mm512_set1_epi8(3);
    for (int s = 0; s < j->nseg; s++) {
        const uint8_t *rp[MR_MAX];
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) rp[r] = rows[s * MR + r];
        for (int64_t t = 0; t < steps; t++) {
            if (BITS == 8) {
                __m512i wv[4];
#pragma GCC unroll 4
                for (int c = 0; c < NR; c++) wv[c] = _mm512_load_si512(w + 64 * c);
                w += 64 * NR;
                if ((t & 15) == 0) {
#pragma GCC unroll 8
                    for (int r = 0; r < MR; r++) prefetch_at(rp[r] + 4 * t, ahead);
                }
#pragma GCC unroll 8
                for (int r = 0; r < MR; r++) {
                    __m512i b = _mm512_set1_epi32(ld32(rp[r] + 4 * t));
#pragma GCC unroll 4
                    for (int c = 0; c < NR; c++) acc[r][c] = _mm512_dpbusd_epi32(acc[r][c], b, wv[c]);
                }
            } else {
                if ((t & 3) == 0) {
#pragma GCC unroll 8
                    for (int r = 0; r < MR; r++) prefetch_at(rp[r] + 16 * t, ahead);
                }
#pragma GCC unroll 4
                for (int sub = 0; sub < 4; sub++) {
                    __m512i wv[4];
#pragma GCC unroll 4
                    for (int c = 0; c < NR; c++)
                        wv[c] = _mm512_and_si512(_mm512_srli_epi16(_mm512_load_si512(w + 64 * c), 2 * sub), m3);
#pragma GCC unroll 8
                    for (int r = 0; r < MR; r++) {
                        __m512i b = _mm512_set1_epi32(ld32(rp[r] + 16 * t + 4 * sub));
#pragma GCC unroll 4
                        for (int c = 0; c < NR; c++) acc[r][c] = _mm512_dpbusd_epi32(acc[r][c], b, wv[c]);
                    }
                }
                w += 64 * NR;
            }
        }
    }
    epilogue(j, acc, m0, mvalid, n0, nvalid, MR, NR);
}

typedef void (*tile_fn)(const qb_qgemm_job *, const uint8_t *const *, const int8_t *, int64_t,
                        int64_t, int, int64_t, int);

#define TILE_FN(MR, NR, BITS)                                                                        \
    static void tile_##MR##_##NR##_##BITS(const qb_qgemm_job *j, const uint8_t *const *rows,         \
                                          const int8_t *wp, int64_t ahead, int64_t m0, int mvalid,   \
                                          int64_t n0, int nvalid)                                    \
    {                                                                                                \
        tile(j, rows, wp, ahead, m0, mvalid, n0, nvalid, MR, NR, BITS);                              \
    }
#define TILE_NR(NR, BITS) TILE_FN(1, NR, BITS) TILE_FN(2, NR, BITS) TILE_FN(4, NR, BITS) TILE_FN(6, NR, BITS)
#define TILE_ALL(BITS) TILE_NR(1, BITS) TILE_NR(2, BITS) TILE_NR(3, BITS) TILE_NR(4, BITS)
TILE_ALL(8)
TILE_ALL(2)

#define ROW_TILES(NR, BITS) {tile_1_##NR##_##BITS, tile_2_##NR##_##BITS, tile_4_##NR##_##BITS, tile_6_##NR##_##BITS}
/* [bits == 2][NR - 1][row tile index: 1, 2, 4, 6 rows] */
static const tile_fn tiles[2][4][4] = {
    {ROW_TILES(1, 8), ROW_TILES(2, 8), ROW_TILES(3, 8), ROW_TILES(4, 8)},
    {ROW_TILES(1, 2), ROW_TILES(2, 2), ROW_TILES(3, 2), ROW_TILES(4, 2)},
};

/* The smallest row tile holding mvalid rows: index and height. */
static int row_tile(int mvalid, int *mr)
{
    static const int heights[4] = {1, 2, 4, 6};
    for (int i = 0; i < 4; i++)
        if (heights[i] >= mvalid) {
            *mr = heights[i];
            return i;
        }
    *mr = 6;
    return 3;
}

void qb_qgemm_block_avx512(const qb_qgemm_job *j, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    const qb_qweights *w = j->w;
    const uint8_t *rows[QB_MAX_SEGS * MR_MAX];
    int64_t p0 = n0 / QB_PANEL, p1 = (n1 + QB_PANEL - 1) / QB_PANEL;
    int64_t panel_bytes = QB_PANEL * w->kp * w->bits / 8;
    int64_t per_block = BLOCK_BYTES / panel_bytes > 1 ? BLOCK_BYTES / panel_bytes : 1;
    /* distance to the next row tile's activations, for prefetching */
    int64_t ahead = j->conv ? MR_MAX * j->conv->stride_w * j->conv->in_c : MR_MAX * j->lda;
    for (int64_t pb = p0; pb < p1; pb += per_block) {
        int64_t pe = pb + per_block < p1 ? pb + per_block : p1;
        for (int64_t m = m0; m < m1; m += MR_MAX) {
            int mvalid = (int)(m1 - m < MR_MAX ? m1 - m : MR_MAX), mr;
            int ti = row_tile(mvalid, &mr);
            qb_job_rows(j, m, mr, mvalid, rows);
            for (int64_t p = pb; p < pe; p++) {
                int pw = qb_panel_width(w->n, p);
                int64_t nstart = p * QB_PANEL;
                int64_t nend = nstart + QB_PANEL < n1 ? nstart + QB_PANEL : n1;
                const int8_t *wp = (const int8_t *)w->data + qb_panel_offset(w, p);
                tiles[w->bits == 2][pw / 16 - 1][ti](j, rows, wp, ahead, m, mvalid, nstart,
                                                     (int)(nend - nstart));
            }
        }
    }
}
