/* int8 and ternary GEMM tiles for AVX-512 VNNI. A tile holds MR rows x NR
 * vectors of 16 channels in 24 or fewer zmm accumulators; each step
 * broadcasts 4 activation bytes per row and issues vpdpbusd against NR
 * weight vectors (u8 x s8 -> s32, 4 products per lane). Ternary weights are
 * unpacked from 2-bit codes on the fly. The epilogue requantizes in 64-bit
 * lanes (vpmuldq) with round-half-even, matching qb_requant_code exactly.
 * Compiled with the ISA_avx512 flags; only runs after the backend check. */
#include <immintrin.h>
#include <string.h>
#include "avx512_util.h"
#include "kernel_impl.h"

#define MR_MAX 6
/* Weight panels per block: a block's weights stay in L2 while the row
 * tiles stream past them. */
#define BLOCK_BYTES (384 * 1024)

QB_AI void prefetch_at(const uint8_t *p, int64_t ahead)
{
    _mm_prefetch((const char *)((uintptr_t)p + (uintptr_t)ahead), _MM_HINT_T0);
}

/* ---- epilogue ------------------------------------------------------------
 * After the k loop, each 16-channel column of the tile goes out through one
 * of four paths chosen once per tile, with only that path's constants live
 * (so the accumulators need not be spilled around them). */

enum { EPI_S32, EPI_F32, EPI_SMALL, EPI_DOUBLE, EPI_INT };

/* Scalars of the job copied into locals: the output stores go through byte
 * pointers that may alias anything, so fields read through j would be
 * reloaded after every store. */
typedef struct {
    int mode, relu, sat, u8;
    const int32_t *rowsum, *wzp;
    char *c;
    int64_t ldc;
    int32_t zp, lo, hi;
    const float *residual; /* F32: a fused Add, and its codes (requant.h) */
    uint8_t *codes;
} epi;

QB_AI epi epi_of(const qb_qgemm_job *j)
{
    const qb_requant *rq = j->rq;
    epi e = {EPI_S32, rq->relu, 0, rq->type == QB_OUT_U8, j->rowsum, j->rowsum ? j->w->zp : NULL,
             (char *)j->c, j->ldc, rq->zp, rq->lo, rq->hi, rq->residual, rq->codes};
    if (rq->type == QB_OUT_F32) e.mode = EPI_F32;
    else if (rq->type == QB_OUT_U8 || rq->type == QB_OUT_S8)
        e.mode = !j->dmult ? EPI_INT : j->dmult_small ? EPI_SMALL : EPI_DOUBLE;
    e.sat = (rq->type == QB_OUT_U8 && rq->hi == 255) || (rq->type == QB_OUT_S8 && rq->lo == -128 && rq->hi == 127);
    return e;
}


/* acc + bias/zero-point offsets, minus the weight zero point x row sum. */
QB_AI __m512i offset(const epi *e, __m512i acc, __m512i off, __m512i zpw, int64_t m)
{
    acc = _mm512_add_epi32(acc, off);
    if (e->rowsum) acc = _mm512_sub_epi32(acc, _mm512_mullo_epi32(zpw, _mm512_set1_epi32(e->rowsum[m])));
    return acc;
}

/* int32 -> doubles (two halves) times the per-channel multipliers. */
QB_AI void scaled(__m512i acc, __m512d dm_lo, __m512d dm_hi, __m512d *d0, __m512d *d1)
{
    *d0 = _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(acc)), dm_lo);
    *d1 = _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(acc, 1)), dm_hi);
}

QB_AI __m512i rounded(__m512d d0, __m512d d1)
{
    __m256i i0 = _mm512_cvt_roundpd_epi32(d0, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256i i1 = _mm512_cvt_roundpd_epi32(d1, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm512_inserti64x4(_mm512_zextsi256_si512(i0), i1, 1);
}

/* Codes (zero point added) clamped and stored as bytes. With multipliers up
 * to 1/2 nothing overflowed, so a full-range clamp is the saturating store. */
QB_AI void store_codes(const epi *e, __m512i r, int8_t *dst, __mmask16 km, int clamped)
{
    const __m512i lo = _mm512_set1_epi32(e->lo), hi = _mm512_set1_epi32(e->hi);
    if (!clamped && e->sat) {
        if (e->u8) _mm512_mask_cvtusepi32_storeu_epi8(dst, km, _mm512_max_epi32(r, lo));
        else _mm512_mask_cvtsepi32_storeu_epi8(dst, km, r);
        return;
    }
    if (!clamped) r = _mm512_min_epi32(_mm512_max_epi32(r, lo), hi);
    _mm512_mask_cvtepi32_storeu_epi8(dst, km, r);
}

/* round_half_even(acc * mult / 2^rshift), clamped to [lo, hi] - zp, in
 * 64-bit lanes: the definition itself (any shift). */
QB_AI __m512i requant_int(__m512i acc, __m512i mult, __m512i mult_o, __m512i sh_e, __m512i sh_o,
                          __m512i half_e, __m512i half_o, __m512i lo, __m512i hi)
{
    const __m512i one = _mm512_set1_epi64(1);
    __m512i pe = _mm512_mul_epi32(acc, mult);
    __m512i po = _mm512_mul_epi32(_mm512_srli_epi64(acc, 32), mult_o);
    pe = _mm512_srav_epi64(_mm512_add_epi64(_mm512_add_epi64(pe, half_e),
                                            _mm512_and_si512(_mm512_srav_epi64(pe, sh_e), one)), sh_e);
    po = _mm512_srav_epi64(_mm512_add_epi64(_mm512_add_epi64(po, half_o),
                                            _mm512_and_si512(_mm512_srav_epi64(po, sh_o), one)), sh_o);
    pe = _mm512_max_epi64(_mm512_min_epi64(pe, hi), lo);
    po = _mm512_max_epi64(_mm512_min_epi64(po, hi), lo);
    return _mm512_mask_blend_epi32(0xAAAA, pe, _mm512_slli_epi64(po, 32));
}

QB_AI void epilogue(const qb_qgemm_job *j, const int32_t *offs, __m512i (*acc)[4], int64_t m0, int mvalid,
                    int64_t n0, int nvalid, const int MR, const int NR)
{
    const epi e = epi_of(j);
    const qb_requant *rq = j->rq;
#pragma GCC unroll 4
    for (int c = 0; c < NR; c++) {
        int nv = nvalid - 16 * c;
        if (nv <= 0) break;
        int64_t nc = n0 + 16 * c;
        __mmask16 km = lanes(nv);
        __m512i off = _mm512_maskz_loadu_epi32(km, offs + nc);
        __m512i zpw = e.wzp ? _mm512_maskz_loadu_epi32(km, e.wzp + nc) : _mm512_setzero_si512();
        if (e.mode == EPI_S32) {
#pragma GCC unroll 16
            for (int r = 0; r < MR; r++)
                if (r < mvalid)
                    _mm512_mask_storeu_epi32((int32_t *)e.c + (m0 + r) * e.ldc + nc, km,
                                             offset(&e, acc[r][c], off, zpw, m0 + r));
        } else if (e.mode == EPI_F32) {
            __m512 scale = _mm512_maskz_loadu_ps(km, rq->scale + nc);
            __m512 bias = rq->fbias ? _mm512_maskz_loadu_ps(km, rq->fbias + nc) : _mm512_setzero_ps();
            const __m512 cscale = _mm512_set1_ps(e.codes ? rq->code_scale : 1.0f);
            const __m512 clo = _mm512_set1_ps((float)(rq->code_lo - rq->code_zp));
            const __m512 chi = _mm512_set1_ps((float)(rq->code_hi - rq->code_zp));
            const __m512i czp = _mm512_set1_epi32(rq->code_zp);
#pragma GCC unroll 16
            for (int r = 0; r < MR; r++)
                if (r < mvalid) {
                    int64_t at = (m0 + r) * e.ldc + nc;
                    __m512 y = _mm512_fmadd_ps(_mm512_cvtepi32_ps(offset(&e, acc[r][c], off, zpw, m0 + r)), scale, bias);
                    if (e.residual) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(km, e.residual + at));
                    if (e.relu) y = _mm512_max_ps(y, _mm512_setzero_ps()); /* -0 and NaN give +0, as the reference */
                    _mm512_mask_storeu_ps((float *)e.c + at, km, y);
                    if (e.codes) store_float_codes(y, cscale, clo, chi, czp, e.codes + at, km);
                }
        } else if (e.mode == EPI_SMALL || e.mode == EPI_DOUBLE) {
            __m512d dm_lo = _mm512_maskz_loadu_pd((__mmask8)km, j->dmult + nc);
            __m512d dm_hi = _mm512_maskz_loadu_pd((__mmask8)(km >> 8), j->dmult + nc + 8);
            const __m512d lo = _mm512_set1_pd(e.lo - e.zp), hi = _mm512_set1_pd(e.hi - e.zp);
            const __m512i zp = _mm512_set1_epi32(e.zp);
#pragma GCC unroll 16
            for (int r = 0; r < MR; r++)
                if (r < mvalid) {
                    __m512d d0, d1;
                    scaled(offset(&e, acc[r][c], off, zpw, m0 + r), dm_lo, dm_hi, &d0, &d1);
                    if (e.mode == EPI_DOUBLE) { /* multipliers above 1/2: clamp before converting */
                        d0 = _mm512_min_pd(_mm512_max_pd(d0, lo), hi);
                        d1 = _mm512_min_pd(_mm512_max_pd(d1, lo), hi);
                    }
                    store_codes(&e, _mm512_add_epi32(rounded(d0, d1), zp), (int8_t *)e.c + (m0 + r) * e.ldc + nc, km,
                                e.mode == EPI_DOUBLE);
                }
        } else {
            const __m512i one = _mm512_set1_epi64(1);
            __m512i mult = _mm512_maskz_loadu_epi32(km, rq->mult + nc);
            __m512i sh = _mm512_mask_loadu_epi32(_mm512_set1_epi32(1), km, rq->rshift + nc);
            __m512i mult_o = _mm512_srli_epi64(mult, 32);
            __m512i sh_e = _mm512_and_si512(sh, _mm512_set1_epi64(0xffffffff)), sh_o = _mm512_srli_epi64(sh, 32);
            __m512i half_e = _mm512_sub_epi64(_mm512_sllv_epi64(one, _mm512_sub_epi64(sh_e, one)), one);
            __m512i half_o = _mm512_sub_epi64(_mm512_sllv_epi64(one, _mm512_sub_epi64(sh_o, one)), one);
            const __m512i lo = _mm512_set1_epi64(e.lo - e.zp), hi = _mm512_set1_epi64(e.hi - e.zp);
            const __m512i zp = _mm512_set1_epi32(e.zp);
#pragma GCC unroll 16
            for (int r = 0; r < MR; r++)
                if (r < mvalid) {
                    __m512i v = requant_int(offset(&e, acc[r][c], off, zpw, m0 + r), mult, mult_o, sh_e, sh_o, half_e,
                                            half_o, lo, hi);
                    store_codes(&e, _mm512_add_epi32(v, zp), (int8_t *)e.c + (m0 + r) * e.ldc + nc, km, 1);
                }
        }
    }
}

/* Accumulator slot of row r, vector c, set `set`: extra sets sit in the
 * unused rows of a short tile, or in the unused vectors of a narrow one. */
#define SLOT(r, c, set) acc[ROWSETS ? (r) + (set) * MR : (r)][ROWSETS ? (c) : (c) + (set) * NR]

/* One k-group (4 k) of int8 codes for every row and vector, into set `set`. */
QB_AI void step8(__m512i acc[MR_MAX][4], const uint8_t *const *rp, const int8_t *w, int64_t koff, int set,
                 const int MR, const int NR, const int ROWSETS)
{
    __m512i wv[4];
#pragma GCC unroll 4
    for (int c = 0; c < NR; c++) wv[c] = _mm512_load_si512(w + 64 * c);
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
        __m512i b = _mm512_set1_epi32(qb_ld32(rp[r] + koff));
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++) SLOT(r, c, set) = _mm512_dpbusd_epi32(SLOT(r, c, set), b, wv[c]);
    }
}

/* One register tile over every segment of the rows. BITS 8: a step is 4 k
 * (one vpdpbusd per row and vector); BITS 2: a step is 16 k from one load
 * per vector, unpacked into 4 code vectors. Small tiles (1 or 2 rows, or one
 * vector) alternate KS accumulator sets over the k steps: a few dependent
 * chains would leave vpdpbusd waiting on its own latency. */
QB_AI void tile(const qb_qgemm_job *j, const uint8_t *const *rows, const int8_t *wp, int64_t ahead,
                int64_t m0, int mvalid, int64_t n0, int nvalid, const int MR, const int NR,
                const int BITS)
{
    const int ROWSETS = MR <= 2;
    const int KS = ROWSETS ? (MR == 1 ? 4 : 2) : NR == 1 ? 2 : 1;
    __m512i acc[MR_MAX][4];
#pragma GCC unroll 4
    for (int set = 0; set < KS; set++)
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
            for (int c = 0; c < NR; c++) SLOT(r, c, set) = _mm512_setzero_si512();
    const int8_t *w = wp;
    const int64_t kstep = BITS == 8 ? 4 : 16;
    const int64_t steps = j->seg_k / kstep;
    const __m512i m3 = _mm512_set1_epi8(3);
    for (int s = 0; s < j->nseg; s++) {
        const uint8_t *rp[MR_MAX];
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) rp[r] = rows[s * MR + r];
        int64_t t = 0;
        if (BITS == 8) {
            for (; t + KS <= steps; t += KS) {
                if ((t & 15) < KS) {
#pragma GCC unroll 8
                    for (int r = 0; r < MR; r++) prefetch_at(rp[r] + 4 * t, ahead);
                }
#pragma GCC unroll 4
                for (int set = 0; set < KS; set++)
                    step8(acc, rp, w + 64 * NR * set, 4 * (t + set), set, MR, NR, ROWSETS);
                w += 64 * NR * KS;
            }
            for (; t < steps; t++, w += 64 * NR) step8(acc, rp, w, 4 * t, 0, MR, NR, ROWSETS);
            continue;
        }
        for (; t < steps; t++) {
            if ((t & 3) == 0) {
#pragma GCC unroll 8
                for (int r = 0; r < MR; r++) prefetch_at(rp[r] + 16 * t, ahead);
            }
#pragma GCC unroll 4
            for (int sub = 0; sub < 4; sub++) {
                const int set = sub % KS;
                __m512i wv[4];
#pragma GCC unroll 4
                for (int c = 0; c < NR; c++)
                    wv[c] = _mm512_and_si512(_mm512_srli_epi16(_mm512_load_si512(w + 64 * c), 2 * sub), m3);
#pragma GCC unroll 8
                for (int r = 0; r < MR; r++) {
                    __m512i b = _mm512_set1_epi32(qb_ld32(rp[r] + 16 * t + 4 * sub));
#pragma GCC unroll 4
                    for (int c = 0; c < NR; c++) SLOT(r, c, set) = _mm512_dpbusd_epi32(SLOT(r, c, set), b, wv[c]);
                }
            }
            w += 64 * NR;
        }
    }
#pragma GCC unroll 4
    for (int set = 1; set < KS; set++)
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
            for (int c = 0; c < NR; c++) acc[r][c] = _mm512_add_epi32(acc[r][c], SLOT(r, c, set));
    epilogue(j, j->off, acc, m0, mvalid, n0, nvalid, MR, NR);
}
#undef SLOT

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

/* Rows [m, m + count) against panels [p0, p1), clipped to channels < n1,
 * with row pointer arrays (any rows, dense or conv, int8 or ternary). */
static void array_rows(const qb_qgemm_job *j, qb_row_cursor at, int64_t count, int64_t p0, int64_t p1,
                       int64_t n1, const uint8_t **rows)
{
    const qb_qweights *w = j->w;
    int64_t ahead = j->conv ? MR_MAX * j->conv->stride_w * j->conv->in_c : MR_MAX * j->lda;
    for (int64_t i = 0; i < count; i += MR_MAX, qb_row_cursor_advance(j, &at, MR_MAX)) {
        int mvalid = (int)(count - i < MR_MAX ? count - i : MR_MAX), mr;
        int ti = row_tile(mvalid, &mr);
        qb_job_rows_at(j, &at, mr, mvalid, rows);
        for (int64_t p = p0; p < p1; p++) {
            int64_t nstart = p * QB_PANEL;
            int64_t nend = nstart + QB_PANEL < n1 ? nstart + QB_PANEL : n1;
            const int8_t *wp = (const int8_t *)w->data + qb_panel_offset(w, p);
            tiles[w->bits == 2][qb_panel_width(w->n, p) / 16 - 1][ti](j, rows, wp, ahead, at.m, mvalid, nstart,
                                                                       (int)(nend - nstart));
        }
    }
}

/* ---- implicit conv along an output row --------------------------------
 * Neighbouring pixels of an output row have windows ps = stride_w * in_c
 * bytes apart, so a tile of MR of them needs no pointer array: row r of
 * kernel row s is at base + s * ky_step + r * ps. With one pointer per
 * kernel row the tile can be taller (16 rows of one vector), which
 * amortizes the epilogue's constants and the weight loads. Int8 only. */
#define RUN_MR_MAX 16

/* NR vectors of a panel WNR vectors wide (weights of a k step are 64 * WNR
 * bytes apart). */
/* acc + b (u8) . the s8 weights at p, read by the instruction itself: GCC
 * would keep a repeated load in a register, one more than a 7 x 4 tile has. */
QB_AI __m512i dpbusd_mem(__m512i acc, __m512i b, const int8_t *p)
{
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(b), "m"(*(const __m512i *)p));
    return acc;
}

QB_AI void run_tile(const qb_qgemm_job *j, const uint8_t *base, int64_t ky_step, int64_t ps, const int8_t *wp,
                    const qb_conv_rowskip *rs, int64_t m0, int64_t n0, int nvalid, const int MR, const int NR,
                    const int WNR)
{
    /* fewer than 10 accumulators: two sets over alternate k steps, so that
     * vpdpbusd does not wait on its own latency */
    const int KS = MR * NR < 10 ? 2 : 1;
    /* more than 24 accumulators: the last vector's weights are read from memory */
    const int MEMW = MR * NR > 24;
    __m512i acc[2][RUN_MR_MAX][4];
#pragma GCC unroll 2
    for (int set = 0; set < KS; set++)
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
            for (int c = 0; c < NR; c++) acc[set][r][c] = _mm512_setzero_si512();
    const int64_t steps = j->seg_k / 4, ps2 = 2 * ps;
    const int first = rs ? rs->first : 0, end = rs ? rs->end : j->nseg;
    const int32_t *offs = rs ? rs->off : j->off;
    const int8_t *w = wp + first * steps * 64 * WNR;
    for (int s = first; s < end; s++) {
        /* row r at q[r / 3] + (r % 3) * ps: a base and an index register
         * address three rows, so few registers hold them all (one per row
         * would leave too few for the loop) */
        const uint8_t *q[(RUN_MR_MAX + 2) / 3];
#pragma GCC unroll 6
        for (int g = 0; g < (MR + 2) / 3; g++) q[g] = base + s * ky_step + 3 * g * ps;
        int64_t t = 0;
        for (; t + KS <= steps; t += KS, w += 64 * WNR * KS) {
#pragma GCC unroll 2
            for (int set = 0; set < KS; set++) {
                __m512i wv[4];
#pragma GCC unroll 4
                for (int c = 0; c < NR - MEMW; c++) wv[c] = _mm512_load_si512(w + 64 * (WNR * set + c));
#pragma GCC unroll 16
                for (int r = 0; r < MR; r++) {
                    const uint8_t *g = q[r / 3] + 4 * set;
                    __m512i b = _mm512_set1_epi32(qb_ld32(r % 3 == 0 ? g : r % 3 == 1 ? g + ps : g + ps2));
#pragma GCC unroll 4
                    for (int c = 0; c < NR - MEMW; c++) acc[set][r][c] = _mm512_dpbusd_epi32(acc[set][r][c], b, wv[c]);
                    if (MEMW) acc[set][r][NR - 1] = dpbusd_mem(acc[set][r][NR - 1], b, w + 64 * (WNR * set + NR - 1));
                }
            }
#pragma GCC unroll 6
            for (int g = 0; g < (MR + 2) / 3; g++) q[g] += 4 * KS;
        }
        for (; t < steps; t++, w += 64 * WNR) {
            __m512i wv[4];
#pragma GCC unroll 4
            for (int c = 0; c < NR - MEMW; c++) wv[c] = _mm512_load_si512(w + 64 * c);
#pragma GCC unroll 16
            for (int r = 0; r < MR; r++) {
                const uint8_t *g = q[r / 3];
                __m512i b = _mm512_set1_epi32(qb_ld32(r % 3 == 0 ? g : r % 3 == 1 ? g + ps : g + ps2));
#pragma GCC unroll 4
                for (int c = 0; c < NR - MEMW; c++) acc[0][r][c] = _mm512_dpbusd_epi32(acc[0][r][c], b, wv[c]);
                if (MEMW) acc[0][r][NR - 1] = dpbusd_mem(acc[0][r][NR - 1], b, w + 64 * (NR - 1));
            }
#pragma GCC unroll 6
            for (int g = 0; g < (MR + 2) / 3; g++) q[g] += 4;
        }
    }
    if (KS == 2)
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
            for (int c = 0; c < NR; c++) acc[0][r][c] = _mm512_add_epi32(acc[0][r][c], acc[1][r][c]);
    epilogue(j, offs, acc[0], m0, MR, n0, nvalid, MR, NR);
}

typedef void (*run_fn)(const qb_qgemm_job *, const uint8_t *, int64_t, int64_t, const int8_t *,
                       const qb_conv_rowskip *, int64_t, int64_t, int);
#define RUN_FN(MR, NR, WNR)                                                                                   \
    static void run_##MR##_##NR##_##WNR(const qb_qgemm_job *j, const uint8_t *base, int64_t ky_step,          \
                                        int64_t ps, const int8_t *wp, const qb_conv_rowskip *rs, int64_t m0,  \
                                        int64_t n0, int nvalid)                                               \
    {                                                                                                         \
        run_tile(j, base, ky_step, ps, wp, rs, m0, n0, nvalid, MR, NR, WNR);                                  \
    }
/* Heights per panel width (WNR vectors), at most 24 accumulators; a tile
 * of NR < WNR vectors runs once per NR vectors of the panel (7 pixels of
 * a 64-channel panel: two passes of 2 vectors). */
#define RUN_HEIGHTS 4
RUN_FN(7, 1, 1) RUN_FN(8, 1, 1) RUN_FN(14, 1, 1) RUN_FN(16, 1, 1)
RUN_FN(4, 2, 2) RUN_FN(7, 2, 2) RUN_FN(8, 2, 2) RUN_FN(12, 2, 2)
RUN_FN(4, 3, 3) RUN_FN(6, 3, 3) RUN_FN(7, 3, 3) RUN_FN(8, 3, 3)
RUN_FN(4, 4, 4) RUN_FN(5, 4, 4) RUN_FN(6, 4, 4) RUN_FN(7, 4, 4)
static const struct {
    int h, nr;
    run_fn fn;
} runs[4][RUN_HEIGHTS] = {
    {{7, 1, run_7_1_1}, {8, 1, run_8_1_1}, {14, 1, run_14_1_1}, {16, 1, run_16_1_1}},
    {{4, 2, run_4_2_2}, {7, 2, run_7_2_2}, {8, 2, run_8_2_2}, {12, 2, run_12_2_2}},
    {{4, 3, run_4_3_3}, {6, 3, run_6_3_3}, {7, 3, run_7_3_3}, {8, 3, run_8_3_3}},
    {{4, 4, run_4_4_4}, {5, 4, run_5_4_4}, {6, 4, run_6_4_4}, {7, 4, run_7_4_4}},
};

/* One run tile of h pixels from `first` (row m of the job) over a panel
 * WNR vectors wide, in passes of the tile's width. */
static void run_panel(const qb_qgemm_job *j, int wnr, int i, const uint8_t *first, int64_t ky_step, int64_t ps,
                      const int8_t *wp, const qb_conv_rowskip *rs, int64_t m, int64_t nstart, int nvalid)
{
    for (int c0 = 0; c0 < wnr && nvalid > 16 * c0; c0 += runs[wnr - 1][i].nr)
        runs[wnr - 1][i].fn(j, first, ky_step, ps, wp + 64 * c0, rs, m, nstart + 16 * c0, nvalid - 16 * c0);
}

/* The run height for output rows of out_w pixels and NR vectors: the one
 * computing the fewest rows (the last tile of a row overlaps the one
 * before it), counting a tile's setup and epilogue as RUN_TILE_COST rows.
 * -1: none fits (rows shorter than the lowest tile). */
#define RUN_TILE_COST 3
static int run_height(int64_t out_w, int nr)
{
    int best = -1;
    int64_t best_cost = 0;
    for (int i = 0; i < RUN_HEIGHTS; i++) {
        int h = runs[nr - 1][i].h;
        if (!h || h > out_w) continue;
        int64_t cost = (out_w + h - 1) / h * (h + RUN_TILE_COST);
        if (best < 0 || cost < best_cost) best = i, best_cost = cost;
    }
    return best;
}

/* Int8 implicit conv: each output row's pixels in [m0, m1) as run tiles
 * per panel; rows of a panel no run fits go through array_rows. */
static void conv_rows(const qb_qgemm_job *j, int64_t m0, int64_t m1, int64_t p0, int64_t p1, int64_t n1,
                      const uint8_t **rows)
{
    const qb_conv_shape *s = j->conv;
    const qb_qweights *w = j->w;
    const int64_t ps = qb_conv_pixel_step(s), ky_step = s->dil_h * s->in_w * s->in_c;
    /* rewriting an overlapped row must give the same bytes: not so when
     * the output is added to a residual that might be the same memory */
    const int overlap = !j->rq->residual;
    int hi[4];
    for (int nr = 1; nr <= 4; nr++) hi[nr - 1] = run_height(s->out_w, nr);
    qb_row_cursor at = qb_row_cursor_at(j, m0);
    while (at.m < m1) {
        int64_t len = s->out_w - at.ox < m1 - at.m ? s->out_w - at.ox : m1 - at.m;
        const qb_conv_rowskip *rs = j->rowskip ? &j->rowskip[at.oy] : NULL;
        for (int64_t p = p0; p < p1; p++) {
            int nr = qb_panel_width(w->n, p) / 16;
            int64_t nstart = p * QB_PANEL;
            int nvalid = (int)((nstart + QB_PANEL < n1 ? nstart + QB_PANEL : n1) - nstart);
            const int8_t *wp = (const int8_t *)w->data + qb_panel_offset(w, p);
            int i = hi[nr - 1], h = i >= 0 ? runs[nr - 1][i].h : 0;
            int64_t done = 0;
            if (h && len >= h) {
                for (; done + h <= len; done += h)
                    run_panel(j, nr, i, at.px + done * ps, ky_step, ps, wp, rs, at.m + done, nstart, nvalid);
                if (done < len && overlap) {
                    run_panel(j, nr, i, at.px + (len - h) * ps, ky_step, ps, wp, rs, at.m + len - h, nstart, nvalid);
                    done = len;
                }
            }
            if (done < len) {
                qb_row_cursor rest = at;
                qb_row_cursor_advance(j, &rest, done);
                array_rows(j, rest, len - done, p, p + 1, n1, rows);
            }
        }
        qb_row_cursor_advance(j, &at, len);
    }
}

void qb_qgemm_block_avx512(const qb_qgemm_job *j, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    const qb_qweights *w = j->w;
    const uint8_t *rows[QB_MAX_SEGS * MR_MAX];
    int64_t p0 = n0 / QB_PANEL, p1 = (n1 + QB_PANEL - 1) / QB_PANEL;
    int64_t panel_bytes = QB_PANEL * w->kp * w->bits / 8;
    int64_t per_block = BLOCK_BYTES / panel_bytes > 1 ? BLOCK_BYTES / panel_bytes : 1;
    for (int64_t pb = p0; pb < p1; pb += per_block) {
        int64_t pe = pb + per_block < p1 ? pb + per_block : p1;
        if (j->conv && w->bits == 8) conv_rows(j, m0, m1, pb, pe, n1, rows);
        else array_rows(j, qb_row_cursor_at(j, m0), m1 - m0, pb, pe, n1, rows);
    }
}
