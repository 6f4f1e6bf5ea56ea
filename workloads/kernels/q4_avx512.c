/* 4-bit weights x int8 activations for AVX-512 VNNI. A 64-byte load holds
 * 16 channels x 8 codes; masking and shifting the nibbles gives two vectors
 * of unsigned codes that vpdpbusd multiplies with 4 broadcast activation
 * bytes each. At the end of a group the zero-point term is removed, the
 * exact int32 sum is converted and FMA'd with the group scales, in the same
 * order as the reference (bit-exact). */
#include <immintrin.h>
#include <string.h>
#include "avx512_util.h"
#include "kernel_impl.h"

#define MR_MAX 8
#define BLOCK_BYTES (256 * 1024)

/* acc += dot(u8 a, s8 b) in place. GCC 12 turns the intrinsic into
 * register copies around every accumulation in this loop nest (the
 * accumulators are re-zeroed per group); the tied asm operand avoids them. */
QB_AI __m512i dpbusd(__m512i acc, __m512i a, __m512i b)
{
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
    return acc;
}

/* Codes of floats y for a next int8 layer (rq's code parameters). */
QB_AI void store_codes_of(__m512 y, const qb_requant *rq, uint8_t *dst, __mmask16 km)
{
    store_float_codes(y, _mm512_set1_ps(rq->code_scale), _mm512_set1_ps((float)(rq->code_lo - rq->code_zp)),
                      _mm512_set1_ps((float)(rq->code_hi - rq->code_zp)), _mm512_set1_epi32(rq->code_zp), dst, km);
}

/* The 16 outputs of row m from channel n0 (nv valid) from the group
 * accumulators: y = fma(acc, a_scale[m], bias), or qb_requant's F32 epilogue. */
QB_AI void store_row(const qb_q4_job *j, __m512 acc, int64_t m, int64_t n0, int nv)
{
    const __mmask16 km = lanes(nv);
    const int64_t at = m * j->ldy + n0;
    const qb_requant *rq = j->rq;
    if (!rq) {
        __m512 bias = j->bias ? _mm512_maskz_loadu_ps(km, j->bias + n0) : _mm512_setzero_ps();
        _mm512_mask_storeu_ps(j->y + at, km, _mm512_fmadd_ps(acc, _mm512_set1_ps(j->a_scale[m]), bias));
        return;
    }
    __m512 bias = rq->fbias ? _mm512_maskz_loadu_ps(km, rq->fbias + n0) : _mm512_setzero_ps();
    __m512 y = _mm512_fmadd_ps(acc, _mm512_maskz_loadu_ps(km, rq->scale + n0), bias);
    if (rq->residual) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(km, rq->residual + at));
    if (rq->relu) y = _mm512_max_ps(y, _mm512_setzero_ps()); /* -0 and NaN give +0, as the reference */
    if (j->y) _mm512_mask_storeu_ps(j->y + at, km, y);
    if (rq->codes) store_codes_of(y, rq, rq->codes + at, km);
}

/* a_zp x the group's sums of code - zero code: the activation zero point's term. */
QB_AI __m512i zp_term(const qb_q4_job *j, const int16_t *cs)
{
    if (!j->a_zp) return _mm512_setzero_si512();
    return _mm512_mullo_epi32(_mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)cs)), _mm512_set1_epi32(j->a_zp));
}

/* The nibbles of 16 channels x 8 k as the vpdpbusd operands: unsigned codes
 * (x int8 rows), or code - zero code as int8 (x uint8 code rows, U8), zb
 * the zero codes in every byte of each channel's lane. */
QB_AI void weight_pair(__m512i v, __m512i zb, const int U8, __m512i *lo, __m512i *hi)
{
    const __m512i m15 = _mm512_set1_epi8(15);
    *lo = _mm512_and_si512(v, m15);
    *hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m15);
    if (U8) {
        *lo = _mm512_sub_epi8(*lo, zb);
        *hi = _mm512_sub_epi8(*hi, zb);
    }
}

/* The group's zero codes of 16 channels in all 4 bytes of their lanes. */
QB_AI __m512i zero_bytes(const uint8_t *zp)
{
    if (!zp) return _mm512_set1_epi8(8);
    return _mm512_mullo_epi32(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)zp)), _mm512_set1_epi32(0x01010101));
}

/* acc += a row's 8 activations x one weight pair, in the mode's operand order. */
QB_AI void dot8(__m512i *ilo, __m512i *ihi, __m512i lo, __m512i hi, const int8_t *a, const int U8)
{
    __m512i al = _mm512_set1_epi32(qb_ld32(a)), ah = _mm512_set1_epi32(qb_ld32(a + 4));
    *ilo = U8 ? dpbusd(*ilo, al, lo) : dpbusd(*ilo, lo, al);
    *ihi = U8 ? dpbusd(*ihi, ah, hi) : dpbusd(*ihi, hi, ah);
}

/* The exact group sum of code products of 16 channels: with uint8 code rows
 * (U8) the weights carry their zero codes and only the activation zero
 * point's term is left; with int8 rows the weight zero codes x the row's
 * group sum gs come off too. */
QB_AI __m512i group_dot(__m512i ilo, __m512i ihi, __m512i zpv, int has_zp, int32_t gs, __m512i azp, const int U8)
{
    __m512i d = _mm512_sub_epi32(_mm512_add_epi32(ilo, ihi), azp);
    if (U8) return d;
    /* symmetric codes: the zero point 8 is the same for every lane */
    __m512i corr = has_zp ? _mm512_mullo_epi32(zpv, _mm512_set1_epi32(gs)) : _mm512_set1_epi32(8 * gs);
    return _mm512_sub_epi32(d, corr);
}

QB_AI void tile(const qb_q4_job *j, int64_t m0, int mvalid, int64_t blk, int nvalid, const int MR, const int U8)
{
    const qb_q4weights *w = j->w;
    const int64_t G = w->group, groups = w->kp / G;
    const size_t gbytes = (size_t)G * 8 + 64;
    const uint8_t *gp = w->data + (size_t)(blk * groups) * gbytes;
    const uint8_t *zp = w->zp ? w->zp + blk * groups * QB_Q4_BLOCK : NULL;
    const int16_t *cs = w->csum + blk * groups * QB_Q4_BLOCK;
    const int8_t *ar[MR_MAX];
    const int32_t *gs[MR_MAX];
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
        int64_t m = m0 + (r < mvalid ? r : mvalid - 1);
        ar[r] = j->a + m * j->lda;
        gs[r] = U8 ? NULL : j->a_gsum + m * groups;
    }
    __m512 facc[MR_MAX];
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) facc[r] = _mm512_setzero_ps();
    for (int64_t g = 0; g < groups; g++) {
        const __m512i zb = U8 ? zero_bytes(zp ? zp + g * QB_Q4_BLOCK : NULL) : _mm512_setzero_si512();
        /* low and high nibbles feed separate accumulators: twice the
         * independent vpdpbusd chains */
        __m512i ilo[MR_MAX], ihi[MR_MAX];
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) ilo[r] = ihi[r] = _mm512_setzero_si512();
        for (int64_t t = 0; t < G / 8; t++) {
            __m512i v = _mm512_load_si512(gp + 64 * t);
            _mm_prefetch((const char *)((uintptr_t)gp + 64 * (uintptr_t)t + 2048), _MM_HINT_T0);
            __m512i lo, hi;
            weight_pair(v, zb, U8, &lo, &hi);
#pragma GCC unroll 8
            for (int r = 0; r < MR; r++) dot8(&ilo[r], &ihi[r], lo, hi, ar[r] + g * G + 8 * t, U8);
        }
        __m512 scale = _mm512_load_ps((const float *)(gp + G * 8));
        __m512i zpv = zp && !U8 ? _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(zp + g * QB_Q4_BLOCK)))
                                : _mm512_setzero_si512();
        __m512i azp = zp_term(j, cs + g * QB_Q4_BLOCK);
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            __m512i d = group_dot(ilo[r], ihi[r], zpv, zp != NULL, U8 ? 0 : gs[r][g], azp, U8);
            facc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), scale, facc[r]);
        }
        gp += gbytes;
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++)
        if (r < mvalid) store_row(j, facc[r], m0 + r, blk * QB_Q4_BLOCK, nvalid);
}

typedef void (*tile_fn)(const qb_q4_job *, int64_t, int, int64_t, int);
#define TILE_FN(MR, U8) \
    static void tile_##MR##_##U8(const qb_q4_job *j, int64_t m0, int mv, int64_t blk, int nv) { tile(j, m0, mv, blk, nv, MR, U8); }
TILE_FN(1, 0)
TILE_FN(2, 0)
TILE_FN(4, 0)
TILE_FN(8, 0)
TILE_FN(1, 1)
TILE_FN(2, 1)
TILE_FN(4, 1)
TILE_FN(8, 1)

/* One row (a GEMV) against NB blocks of 16 channels at once: NB weight
 * streams in flight from DRAM instead of one, and each broadcast
 * activation word serves NB blocks. Same arithmetic order as tile(). */
#define NB 4
QB_AI void gemv_tile(const qb_q4_job *j, int64_t m, int64_t blk, int nblk, int64_t n1, const int U8)
{
    const qb_q4weights *w = j->w;
    const int64_t G = w->group, groups = w->kp / G;
    const size_t gbytes = (size_t)G * 8 + 64;
    const uint8_t *gp[NB];
    const uint8_t *zp[NB];
    const int16_t *cs[NB];
    for (int b = 0; b < NB; b++) {
        int64_t bb = blk + (b < nblk ? b : nblk - 1);
        gp[b] = w->data + (size_t)(bb * groups) * gbytes;
        zp[b] = w->zp ? w->zp + bb * groups * QB_Q4_BLOCK : NULL;
        cs[b] = w->csum + bb * groups * QB_Q4_BLOCK;
    }
    const int8_t *a = j->a + m * j->lda;
    const int32_t *gs = U8 ? NULL : j->a_gsum + m * groups;
    __m512 facc[NB];
#pragma GCC unroll 4
    for (int b = 0; b < NB; b++) facc[b] = _mm512_setzero_ps();
    for (int64_t g = 0; g < groups; g++) {
        __m512i ilo[NB], ihi[NB], zb[NB];
#pragma GCC unroll 4
        for (int b = 0; b < NB; b++) {
            ilo[b] = ihi[b] = _mm512_setzero_si512();
            zb[b] = U8 ? zero_bytes(zp[b] ? zp[b] + g * QB_Q4_BLOCK : NULL) : _mm512_setzero_si512();
        }
        for (int64_t t = 0; t < G / 8; t++) {
#pragma GCC unroll 4
            for (int b = 0; b < NB; b++) {
                __m512i v = _mm512_load_si512(gp[b] + 64 * t), lo, hi;
                _mm_prefetch((const char *)((uintptr_t)gp[b] + 64 * (uintptr_t)t + 1024), _MM_HINT_T0);
                weight_pair(v, zb[b], U8, &lo, &hi);
                dot8(&ilo[b], &ihi[b], lo, hi, a + g * G + 8 * t, U8);
            }
        }
#pragma GCC unroll 4
        for (int b = 0; b < NB; b++) {
            __m512 scale = _mm512_load_ps((const float *)(gp[b] + G * 8));
            __m512i zpv = zp[b] && !U8 ? _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(zp[b] + g * QB_Q4_BLOCK)))
                                       : _mm512_setzero_si512();
            __m512i d = group_dot(ilo[b], ihi[b], zpv, zp[b] != NULL, U8 ? 0 : gs[g], zp_term(j, cs[b] + g * QB_Q4_BLOCK), U8);
            facc[b] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), scale, facc[b]);
            gp[b] += gbytes;
        }
    }
    for (int b = 0; b < nblk; b++) {
        int64_t n0 = (blk + b) * QB_Q4_BLOCK;
        store_row(j, facc[b], m, n0, (int)(n1 - n0 < 16 ? n1 - n0 : 16));
    }
}

void qb_q4gemm_block_avx512(const qb_q4_job *j, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    if (m1 - m0 == 1) { /* batch 1: bandwidth bound, stream several blocks */
        int64_t b0 = n0 / QB_Q4_BLOCK, b1 = (n1 + QB_Q4_BLOCK - 1) / QB_Q4_BLOCK;
        for (int64_t b = b0; b < b1; b += NB) {
            int nblk = (int)(b1 - b < NB ? b1 - b : NB);
            if (j->a_u8)
                gemv_tile(j, m0, b, nblk, n1, 1);
            else
                gemv_tile(j, m0, b, nblk, n1, 0);
        }
        return;
    }
    const qb_q4weights *w = j->w;
    int64_t b0 = n0 / QB_Q4_BLOCK, b1 = (n1 + QB_Q4_BLOCK - 1) / QB_Q4_BLOCK;
    int64_t blk_bytes = (w->kp / w->group) * (w->group * 8 + 64);
    int64_t per = BLOCK_BYTES / blk_bytes > 1 ? BLOCK_BYTES / blk_bytes : 1;
    for (int64_t bb = b0; bb < b1; bb += per) {
        int64_t be = bb + per < b1 ? bb + per : b1;
        for (int64_t m = m0; m < m1; m += MR_MAX) {
            int mv = (int)(m1 - m < MR_MAX ? m1 - m : MR_MAX);
            tile_fn f = j->a_u8 ? (mv == 1 ? tile_1_1 : mv == 2 ? tile_2_1 : mv <= 4 ? tile_4_1 : tile_8_1)
                                : (mv == 1 ? tile_1_0 : mv == 2 ? tile_2_0 : mv <= 4 ? tile_4_0 : tile_8_0);
            for (int64_t b = bb; b < be; b++) {
                int64_t nend = (b + 1) * QB_Q4_BLOCK < n1 ? (b + 1) * QB_Q4_BLOCK : n1;
                f(j, m, mv, b, (int)(nend - b * QB_Q4_BLOCK));
            }
        }
    }
}

/* Dynamic int8 quantization of float rows (the same bits as
 * qb_q4quant_rows_ref: exact max, the same scalar scale, one multiply,
 * round half to even, NaN to 0) and the group sums of the codes. */
void qb_q4quant_rows_avx512(const qb_q4_quant *c, int64_t m0, int64_t m1)
{
    const int64_t groups = c->kp / c->group, G = c->group;
    const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
    for (int64_t m = m0; m < m1; m++) {
        const float *x = c->x + m * c->ldx;
        __m512 vmax = _mm512_setzero_ps();
        for (int64_t i = 0; i < c->k; i += 16) {
            __mmask16 km = c->k - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (c->k - i)) - 1);
            __m512 v = _mm512_abs_ps(_mm512_maskz_loadu_ps(km, x + i));
            vmax = _mm512_max_ps(v, vmax); /* a NaN in v keeps vmax */
        }
        float amax = _mm512_reduce_max_ps(vmax);
        float s = amax > 0 ? amax / 127.0f : 1.0f, inv = amax > 0 ? 127.0f / amax : 1.0f;
        const __m512 vinv = _mm512_set1_ps(inv);
        int8_t *a = c->a + m * c->kp;
        int32_t *gs = c->gsum + m * groups;
        __m512i gacc = _mm512_setzero_si512();
        for (int64_t i = 0; i < c->kp; i += 16) {
            int64_t left = c->k - i;
            __mmask16 kx = left >= 16 ? (__mmask16)0xffff : left > 0 ? (__mmask16)((1u << left) - 1) : 0;
            __mmask16 ka = c->kp - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (c->kp - i)) - 1);
            __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(kx, x + i), vinv);
            __m512i q = _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            q = _mm512_max_epi32(_mm512_min_epi32(q, hi), lo);
            q = _mm512_mask_mov_epi32(q, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), _mm512_setzero_si512());
            _mm512_mask_cvtepi32_storeu_epi8(a + i, ka, q);
            if (G % 16 == 0) {
                gacc = _mm512_add_epi32(gacc, q);
                if ((i + 16) % G == 0) {
                    gs[i / G] = _mm512_reduce_add_epi32(gacc);
                    gacc = _mm512_setzero_si512();
                }
            }
        }
        if (G % 16 != 0) {
            for (int64_t g = 0; g < groups; g++) {
                int32_t sum = 0;
                for (int64_t i = 0; i < G; i++) sum += a[g * G + i];
                gs[g] = sum;
            }
        }
        c->scale[m] = s;
    }
}

void qb_q4codes_rows_ref(const qb_q4_codes *c, int64_t m0, int64_t m1);

/* Group sums of one 64-byte chunk of codes u (padding 0x80) from the
 * 8-byte sums of vpsadbw, for groups that tile the chunk (8, 16 or 32):
 * neighbours added in registers, one sum per group stored, minus 128 per
 * byte. */
QB_AI void chunk_group_sums(__m512i u, int64_t G, int32_t *gs, int ngroups)
{
    __m512i s = _mm512_sad_epu8(u, _mm512_setzero_si512());
    if (G >= 16) s = _mm512_add_epi64(s, _mm512_shuffle_epi32(s, _MM_PERM_BADC));
    if (G >= 32) s = _mm512_add_epi64(s, _mm512_permutex_epi64(s, _MM_SHUFFLE(1, 0, 3, 2)));
    __mmask8 first = G == 8 ? 0xff : G == 16 ? 0x55 : 0x11;
    __m256i v = _mm512_cvtepi64_epi32(_mm512_maskz_compress_epi64(first, s));
    v = _mm256_sub_epi32(v, _mm256_set1_epi32((int)(128 * G)));
    _mm256_mask_storeu_epi32(gs, (__mmask8)((1u << ngroups) - 1), v);
}

/* uint8 codes into int8 rows (the same bytes and sums as
 * qb_q4codes_rows_ref). A conv's permutation of its im2col rows is a
 * vpermi2b per 64 output bytes and 128-byte source window, with tables
 * built once per call; rows too long for them take the reference. Group
 * sums come from vpsadbw over the codes with 0x80 in the padding (so every
 * group is its bytes + 128 each): per chunk for groups of 8, 16 or 32, per
 * run of chunks for multiples of 64, otherwise from 8-byte sums kept in a
 * buffer and added up once a stretch of the row is done (a vector store
 * read straight back by scalar loads stalls). */
#define PERM_PAIRS 192
#define LANE_CHUNKS 64 /* 64-byte chunks whose 8-byte sums are buffered */

/* One row of a conv's padded im2col layout into col, then the reference
 * permutation of it into row m of dst. */
static void conv_row_ref(const qb_q4_codes *c, int64_t m)
{
    const qb_conv_shape *s = c->conv;
    qb_im2col_u8_at(s, c->x, c->pad, c->m_base + m, c->m_base + m + 1, c->col, s->k_h * c->segp, c->segp);
    qb_q4_codes r = *c;
    r.conv = NULL;
    r.src = c->col;
    r.lds = s->k_h * c->segp;
    r.dst = c->dst + m * c->kp;
    qb_q4codes_rows_ref(&r, 0, 1);
}

/* The bytes [lo, hi) of a 64-byte piece (clamped to it) as a mask. */
static inline __mmask64 byte_range(int64_t lo, int64_t hi)
{
    lo = lo < 0 ? 0 : lo;
    hi = hi > 64 ? 64 : hi;
    if (hi <= lo) return 0;
    uint64_t below_hi = hi == 64 ? ~0ull : (1ull << hi) - 1;
    return below_hi & ~((1ull << lo) - 1);
}

/* conv_rows_avx512 for short rows (kp <= 64: a first convolution, k = 9 or
 * 25): neighbouring output pixels of one output row read overlapping bytes
 * of each kernel row, so one masked load per kernel row serves a run of
 * pixels, and each pixel's row is vpermi2b of kernel-row pairs with the
 * indices moved by its offset. */
#define SMALL_KH 8
static int small_rows(const qb_q4_codes *c)
{
    const qb_conv_shape *s = c->conv;
    return c->kp <= 64 && s->k_h <= SMALL_KH && s->dil_w == 1 &&
           (s->k_w + s->stride_w) * s->in_c <= 64; /* two pixels or more per load */
}

static void conv_rows_small(const qb_q4_codes *c, int64_t m0, int64_t m1)
{
    const qb_conv_shape *s = c->conv;
    const int64_t k = c->k, kp = c->kp, segp = c->segp, C = s->in_c, step = s->stride_w * C;
    const int64_t pmax = (64 / C - s->k_w) / s->stride_w + 1, pairs = (s->k_h + 1) / 2;
    _Alignas(64) uint8_t idx[SMALL_KH / 2][64];
    __mmask64 sel[SMALL_KH / 2];
    for (int64_t q = 0; q < pairs; q++) {
        uint64_t mask = 0;
        for (int b = 0; b < 64; b++) {
            int64_t ky = b < k ? c->perm[b] / segp : -1, off = b < k ? c->perm[b] % segp : 0;
            idx[q][b] = (uint8_t)((ky & 1) << 6 | off);
            if (ky >= 0 && ky / 2 == q) mask |= 1ull << b;
        }
        sel[q] = mask;
    }
    const __m512i padv = _mm512_set1_epi8((char)c->pad);
    const __mmask64 store = byte_range(0, kp);
    const int64_t pix = s->out_h * s->out_w;
    int64_t b = (c->m_base + m0) / pix, oy = (c->m_base + m0) % pix / s->out_w, ox = (c->m_base + m0) % s->out_w;
    for (int64_t m = m0; m < m1;) {
        int64_t np = pmax < s->out_w - ox ? pmax : s->out_w - ox;
        np = np < m1 - m ? np : m1 - m;
        int64_t iy0 = oy * s->stride_h - s->pad_top, ix0 = ox * s->stride_w - s->pad_left;
        __mmask64 cols = byte_range(-ix0 * C, (s->in_w - ix0) * C) & byte_range(0, ((np - 1) * s->stride_w + s->k_w) * C);
        __m512i row[SMALL_KH + 1];
        for (int64_t ky = 0; ky < pairs * 2; ky++) {
            int64_t iy = iy0 + ky * s->dil_h;
            row[ky] = ky >= s->k_h || iy < 0 || iy >= s->in_h
                          ? padv
                          : _mm512_mask_loadu_epi8(padv, cols,
                                                   (const void *)((uintptr_t)c->x +
                                                                  (uintptr_t)(((b * s->in_h + iy) * s->in_w + ix0) * C)));
        }
        for (int64_t j = 0; j < np; j++, m++) {
            const __m512i shift = _mm512_set1_epi8((char)(j * step));
            __m512i v = _mm512_setzero_si512();
            for (int64_t q = 0; q < pairs; q++) {
                __m512i ix = _mm512_add_epi8(_mm512_load_si512(idx[q]), shift);
                v = _mm512_mask_mov_epi8(v, sel[q], _mm512_permutex2var_epi8(row[2 * q], ix, row[2 * q + 1]));
            }
            _mm512_mask_storeu_epi8((uint8_t *)c->dst + m * kp, store, v);
        }
        ox += np;
        if (ox == s->out_w) {
            ox = 0;
            if (++oy == s->out_h) {
                oy = 0;
                b++;
            }
        }
    }
}

/* A conv's uint8 code rows (raw) gathered from its NHWC input: its padded
 * im2col row is k_h kernel rows of segp bytes, 64-byte pieces loaded
 * straight from the input through masks that keep the taps inside the
 * image (the others get the pad code; dilated rows go through im2col in
 * col). Each pair of pieces is a vpermi2b source whose bytes go to the
 * 64-byte output chunks that take them, by masked stores. */
static void conv_rows_avx512(const qb_q4_codes *c, int64_t m0, int64_t m1)
{
    const qb_conv_shape *s = c->conv;
    const int64_t k = c->k, kp = c->kp, segp = c->segp, run = s->k_w * s->in_c;
    const int64_t pieces = s->k_h * segp / 64, windows = (pieces + 1) / 2, chunks = (kp + 63) / 64;
    if (chunks * windows > PERM_PAIRS || pieces > 2 * PERM_PAIRS) {
        for (int64_t m = m0; m < m1; m++) conv_row_ref(c, m);
        return;
    }
    _Alignas(64) uint8_t idx[PERM_PAIRS][64];
    __mmask64 sel[PERM_PAIRS], pmask[2 * PERM_PAIRS], bmask[2 * PERM_PAIRS], cmask[2 * PERM_PAIRS];
    int64_t poff[2 * PERM_PAIRS], pchunk[PERM_PAIRS];
    int npair[PERM_PAIRS]; /* per window: its (chunk, table) pairs with any byte */
    int64_t np = 0;
    const int64_t rowstep = s->dil_h * s->in_w * s->in_c;
    for (int64_t p = 0; p < pieces; p++) {
        int64_t off = p % (segp / 64) * 64, len = run - off;
        pmask[p] = cmask[p] = byte_range(0, len);
        poff[p] = p / (segp / 64) * rowstep + off;
    }
    for (int64_t w = 0; w < windows; w++) {
        npair[w] = 0;
        for (int64_t j = 0; j < chunks; j++) {
            uint64_t mask = 0;
            for (int b = 0; b < 64; b++) {
                int64_t i = j * 64 + b, from = i < k ? c->perm[i] - w * 128 : -1;
                idx[np][b] = (uint8_t)(from & 127);
                if (from >= 0 && from < 128) mask |= 1ull << b;
            }
            if (!mask) continue;
            sel[np] = mask;
            pchunk[np++] = j;
            npair[w]++;
        }
    }
    const __m512i zero = _mm512_setzero_si512(), padv = _mm512_set1_epi8((char)c->pad);
    const int64_t pix = s->out_h * s->out_w;
    int64_t b = (c->m_base + m0) / pix, oy = (c->m_base + m0) % pix / s->out_w, ox = (c->m_base + m0) % s->out_w;
    for (int64_t m = m0; m < m1; m++) {
        uint8_t *dst = (uint8_t *)c->dst + m * kp;
        for (int64_t i = k / 64 * 64; i < kp; i += 64) { /* 0 past k */
            int64_t from = k - i > 0 ? k - i : 0, to = kp - i < 64 ? kp - i : 64;
            __mmask64 tail = (to == 64 ? ~0ull : (1ull << to) - 1) & ~((1ull << from) - 1);
            _mm512_mask_storeu_epi8(dst + i, tail, zero);
        }
        int64_t iy0 = oy * s->stride_h - s->pad_top, ix0 = ox * s->stride_w - s->pad_left;
        int inside = ix0 >= 0 && ix0 + s->k_w <= s->in_w && iy0 >= 0 && iy0 + (s->k_h - 1) * s->dil_h < s->in_h;
        /* the window's top-left tap (maybe outside the image: only read through masks) */
        uintptr_t base = (uintptr_t)c->x + (uintptr_t)(((b * s->in_h + iy0) * s->in_w + ix0) * s->in_c);
        const __mmask64 *mk = pmask;
        if (s->dil_w != 1) { /* taps apart along a row: im2col */
            qb_im2col_u8_at(s, c->x, c->pad, c->m_base + m, c->m_base + m + 1, c->col, s->k_h * segp, segp);
            base = (uintptr_t)c->col;
            mk = cmask;
        } else if (!inside) { /* the taps in the image; the others take the pad code */
            int64_t left = ix0 < 0 ? -ix0 : 0, right = ix0 + s->k_w > s->in_w ? ix0 + s->k_w - s->in_w : 0;
            for (int64_t p = 0; p < pieces; p++) {
                int64_t ky = p / (segp / 64), iy = iy0 + ky * s->dil_h, off = p % (segp / 64) * 64;
                bmask[p] = iy < 0 || iy >= s->in_h ? 0
                                                   : byte_range(left * s->in_c - off, run - right * s->in_c - off);
            }
            mk = bmask;
        }
        int64_t t = 0;
        for (int64_t w = 0; w < windows; w++) {
            int64_t p = 2 * w;
            uintptr_t plo = mk == cmask ? base + 64 * (uintptr_t)p : base + (uintptr_t)poff[p];
            __m512i lo = _mm512_mask_loadu_epi8(padv, mk[p], (const void *)plo), hi = zero;
            if (p + 1 < pieces)
                hi = _mm512_mask_loadu_epi8(padv, mk[p + 1], (const void *)(mk == cmask ? plo + 64 : base + (uintptr_t)poff[p + 1]));
            for (int q = 0; q < npair[w]; q++, t++) {
                __m512i v = _mm512_permutex2var_epi8(lo, _mm512_load_si512(idx[t]), hi);
                _mm512_mask_storeu_epi8(dst + 64 * pchunk[t], sel[t], v);
            }
        }
        if (++ox == s->out_w) {
            ox = 0;
            if (++oy == s->out_h) {
                oy = 0;
                b++;
            }
        }
    }
}

void qb_q4codes_rows_avx512(const qb_q4_codes *c, int64_t m0, int64_t m1)
{
    if (c->conv) {
        if (small_rows(c))
            conv_rows_small(c, m0, m1);
        else
            conv_rows_avx512(c, m0, m1);
        return;
    }
    const int64_t k = c->k, kp = c->kp, G = c->group, groups = kp / G;
    const int64_t chunks = (kp + 63) / 64, windows = c->perm ? (k + 127) / 128 : 0;
    if (c->perm && chunks * windows > PERM_PAIRS) {
        qb_q4codes_rows_ref(c, m0, m1);
        return;
    }
    _Alignas(64) uint8_t idx[c->perm ? PERM_PAIRS : 1][64];
    __mmask64 sel[c->perm ? PERM_PAIRS : 1], win_lo[c->perm ? PERM_PAIRS : 1], win_hi[c->perm ? PERM_PAIRS : 1];
    for (int64_t w = 0; w < windows; w++) {
        int64_t left = k - w * 128; /* source bytes from the window's start: no read past the row */
        win_lo[w] = left >= 64 ? ~0ull : (1ull << left) - 1;
        win_hi[w] = left >= 128 ? ~0ull : left > 64 ? (1ull << (left - 64)) - 1 : 0;
        for (int64_t j = 0; j < chunks; j++) {
            uint64_t mask = 0;
            for (int b = 0; b < 64; b++) {
                int64_t i = j * 64 + b, from = i < k ? c->perm[i] - w * 128 : -1;
                idx[j * windows + w][b] = (uint8_t)(from & 127);
                if (from >= 0 && from < 128) mask |= 1ull << b;
            }
            sel[j * windows + w] = mask;
        }
    }
    const int small = G <= 32 && 64 % G == 0, wide = G % 64 == 0, gshift = __builtin_ctzll((unsigned long long)G);
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    _Alignas(64) uint64_t lane[small || wide ? 1 : LANE_CHUNKS * 8];
    for (int64_t m = m0; m < m1; m++) {
        const uint8_t *src = c->src + m * c->lds;
        int8_t *dst = c->dst + m * kp;
        int32_t *gs = c->gsum + m * groups;
        int64_t g = 0, gl = 0; /* the group of the next 8-byte lane, and the lane's place in it */
        int64_t run = 0;       /* its sum so far */
        for (int64_t j0 = 0; j0 < chunks; j0 += LANE_CHUNKS) {
            int64_t j1 = j0 + LANE_CHUNKS < chunks ? j0 + LANE_CHUNKS : chunks;
            for (int64_t j = j0; j < j1; j++) {
                int64_t i0 = j * 64, nk = k - i0, np = kp - i0;
                __mmask64 valid = nk >= 64 ? ~0ull : nk > 0 ? (1ull << nk) - 1 : 0;
                __mmask64 inkp = np >= 64 ? ~0ull : (1ull << np) - 1;
                __m512i v;
                if (!c->perm) {
                    v = _mm512_maskz_loadu_epi8(valid, src + i0);
                } else {
                    v = _mm512_setzero_si512();
                    for (int64_t w = 0; w < windows; w++) {
                        __m512i lo = _mm512_maskz_loadu_epi8(win_lo[w], src + w * 128);
                        __m512i hi = _mm512_maskz_loadu_epi8(win_hi[w], src + w * 128 + 64);
                        __m512i r = _mm512_permutex2var_epi8(lo, _mm512_load_si512(idx[j * windows + w]), hi);
                        v = _mm512_mask_mov_epi8(v, sel[j * windows + w], r);
                    }
                }
                if (c->raw) { /* the codes themselves, 0 past k */
                    _mm512_mask_storeu_epi8(dst + i0, inkp, _mm512_maskz_mov_epi8(valid, v));
                    continue;
                }
                __m512i d = _mm512_maskz_mov_epi8(valid, _mm512_xor_si512(v, flip)); /* code - 128; 0 past k */
                _mm512_mask_storeu_epi8(dst + i0, inkp, d);
                __m512i u = _mm512_xor_si512(d, flip); /* the codes, 0x80 past k */
                if (small) { /* no division: G is 8, 16 or 32 */
                    chunk_group_sums(u, G, gs + (i0 >> gshift), (int)((np < 64 ? np : 64) >> gshift));
                } else if (wide) {
                    run += _mm512_reduce_add_epi64(_mm512_sad_epu8(u, _mm512_setzero_si512()));
                    if (++gl == G / 64) {
                        gs[g++] = (int32_t)(run - 128 * G);
                        run = 0;
                        gl = 0;
                    }
                } else {
                    _mm512_store_si512(lane + (j - j0) * 8, _mm512_sad_epu8(u, _mm512_setzero_si512()));
                }
            }
            if (small || wide || c->raw) continue;
            int64_t nl = (j1 - j0) * 8, left = kp / 8 - j0 * 8;
            for (int64_t l = 0; l < nl && l < left; l++) {
                run += (int64_t)lane[l];
                if (++gl == G / 8) {
                    gs[g++] = (int32_t)(run - 128 * G);
                    run = 0;
                    gl = 0;
                }
            }
        }
    }
}
