/* Private to workloads/kernels: the work descriptions the drivers (qgemm.c,
 * q4gemm.c, b1gemm.c, bf16gemm.c) hand to a backend's block functions, and
 * helpers every backend shares. A block function computes the outputs of
 * rows [m0, m1) and channels [n0, n1); n0 is a multiple of 64 (a panel
 * start), n1 is a multiple of 64 or n. Block functions never fail: the
 * drivers have checked everything. */
#ifndef QB_KERNEL_IMPL_H
#define QB_KERNEL_IMPL_H

#include <math.h>
#include <stdint.h>
#include <string.h>
#include "qkernels.h"

#define QB_PANEL 64        /* channels per weight panel (int8, ternary, bf16) */
#define QB_B1_PANEL 32     /* channels per binary panel */
#define QB_Q4_BLOCK 16     /* channels per 4-bit block */
#define QB_MAX_SEGS 256    /* conv taps (k_h * k_w) supported */

#define QB_AI static inline __attribute__((always_inline))

/* int8 / ternary: where activation rows come from and what to do with the
 * accumulators. A row of the GEMM is nseg segments of seg_k bytes; dense
 * rows are one segment, an implicit convolution has one per kernel tap. */
struct qb_qgemm_job {
    int64_t m;
    const uint8_t *a;          /* dense rows (user A or an im2col buffer), or NULL */
    int64_t lda;
    const qb_conv_shape *conv; /* implicit conv: rows are output pixels of x */
    const uint8_t *x;          /* NHWC input, every window inside (see qb_job_rows_at) */
    uint8_t a_zp;              /* activation zero point (im2col fills taps outside with it) */
    int nseg;                  /* segments per row: 1 (dense) or k_h (implicit conv) */
    int64_t seg_k;             /* bytes per segment, a multiple of 4 (16 for ternary) */
    const qb_qweights *w;
    const int32_t *off;        /* (n) bias - a_zp * colsum + k * a_zp * w_zp */
    const int32_t *rowsum;     /* (m) sum_k A(m, k), or NULL when no weight zero point */
    const qb_requant *rq;
    const double *dmult;       /* (n) mult * 2^-rshift when every rshift <= QB_DMULT_MAX_SHIFT, else NULL */
    int dmult_small;           /* every dmult <= 1/2: |acc * dmult| < 2^30, no clamp needed before int32 */
    const struct qb_conv_rowskip *rowskip; /* implicit int8 conv: (out_h), or NULL */
    void *c;
    int64_t ldc;
};
typedef struct qb_qgemm_job qb_qgemm_job;

/* Output row oy of an implicit int8 conv whose first or last kernel rows
 * read only padding (zero points): a kernel may run segments [first, end)
 * alone with offsets `off`, which add a_zp times the skipped kernel rows'
 * weight sums (qb_qweights.segsum): the same integers. Block functions
 * that run every segment use job->off. */
typedef struct qb_conv_rowskip {
    int first, end;
    const int32_t *off;
} qb_conv_rowskip;

/* Requantization in double precision, acc * (mult * 2^-rshift) rounded half
 * to even, then + zero point, gives exactly qb_requant_code when rshift <=
 * 43: the product's rounding error (< 2^-44 below 512) is smaller than the
 * distance from a non-tie to the nearest tie (>= 2^-rshift), and ties are
 * exact. (The zero point must be added after rounding: an odd one added
 * before would move ties to the other neighbour.) */
#define QB_DMULT_MAX_SHIFT 43

/* Where row m of a job is: for an implicit conv, output pixel (b, oy, ox),
 * whose window starts at px in the input. Block functions walk rows in
 * order, so they advance a cursor instead of dividing for every tile, and
 * step pointers instead of multiplying for every row. */
typedef struct {
    int64_t m, b, oy, ox;
    const uint8_t *px;
} qb_row_cursor;

/* Input bytes between the windows of neighbours in an output row. */
static inline int64_t qb_conv_pixel_step(const qb_conv_shape *s) { return s->stride_w * s->in_c; }

static inline const uint8_t *qb_conv_window(const qb_qgemm_job *j, int64_t b, int64_t oy, int64_t ox)
{
    const qb_conv_shape *s = j->conv;
    return j->x + ((b * s->in_h + oy * s->stride_h) * s->in_w + ox * s->stride_w) * s->in_c;
}

static inline qb_row_cursor qb_row_cursor_at(const qb_qgemm_job *j, int64_t m)
{
    qb_row_cursor c = {m, 0, 0, 0, NULL};
    if (j->conv) {
        const qb_conv_shape *s = j->conv;
        int64_t pix = s->out_h * s->out_w, rem = m % pix;
        c.b = m / pix;
        c.oy = rem / s->out_w;
        c.ox = rem % s->out_w;
        c.px = qb_conv_window(j, c.b, c.oy, c.ox);
    }
    return c;
}

/* Moves the cursor forward by n rows (no division: n is a tile height). */
static inline void qb_row_cursor_advance(const qb_qgemm_job *j, qb_row_cursor *c, int64_t n)
{
    c->m += n;
    if (!j->conv) return;
    const qb_conv_shape *s = j->conv;
    c->ox += n;
    if (c->ox < s->out_w) {
        c->px += n * qb_conv_pixel_step(s);
        return;
    }
    while (c->ox >= s->out_w) {
        c->ox -= s->out_w;
        if (++c->oy == s->out_h) {
            c->oy = 0;
            c->b++;
        }
    }
    c->px = qb_conv_window(j, c->b, c->oy, c->ox);
}

/* Pointers to segment s of rows m0 .. m0 + mr - 1 (m0 = at->m) into
 * rows[s * mr + r].
 * Rows past the valid count repeat the last valid row (their results are
 * computed and discarded), so a tile can always run full width.
 * Implicit conv rows are output pixels walked in order (no division per
 * row) with one segment per kernel row ky: the k_w taps of a kernel row are
 * contiguous in NHWC (k_w * in_c bytes, read as seg_k >= that: the weights
 * of the extra bytes are zero). qb_qconv makes every window, read that
 * way, lie inside the input: it copies a padded input into a buffer with a
 * border of zero points (and slack columns) first. */
static inline void qb_job_rows_at(const qb_qgemm_job *j, const qb_row_cursor *at, int mr, int mvalid,
                                  const uint8_t **rows)
{
    if (!j->conv) {
        for (int r = 0; r < mr; r++) rows[r] = j->a + (at->m + (r < mvalid ? r : mvalid - 1)) * j->lda;
        return;
    }
    const qb_conv_shape *s = j->conv;
    const int64_t ky_step = s->dil_h * s->in_w * s->in_c, step = qb_conv_pixel_step(s);
    const int64_t out_w = s->out_w, k_h = s->k_h;
    int64_t b = at->b, oy = at->oy, ox = at->ox;
    const uint8_t *p = at->px;
    for (int r = 0; r < mr; r++) {
        if (r > 0 && r < mvalid) {
            if (++ox < out_w) {
                p += step;
            } else { /* the next output row: multiply once per row, not per pixel */
                ox = 0;
                if (++oy == s->out_h) {
                    oy = 0;
                    b++;
                }
                p = qb_conv_window(j, b, oy, 0);
            }
        }
        for (int64_t ky = 0; ky < k_h; ky++) rows[ky * mr + r] = p + ky * ky_step;
    }
}

static inline void qb_job_rows(const qb_qgemm_job *j, int64_t m0, int mr, int mvalid, const uint8_t **rows)
{
    qb_row_cursor at = qb_row_cursor_at(j, m0);
    qb_job_rows_at(j, &at, mr, mvalid, rows);
}

/* Offset of panel p in bytes of packed data: all earlier panels are full. */
static inline int64_t qb_panel_offset(const qb_qweights *w, int64_t p)
{
    return p * QB_PANEL * w->kp * w->bits / 8;
}

/* Width of panel p in channels (16, 32, 48 or 64). */
static inline int qb_panel_width(int64_t n, int64_t p)
{
    int64_t n16 = (n + 15) / 16 * 16;
    int64_t left = n16 - p * QB_PANEL;
    return (int)(left < QB_PANEL ? left : QB_PANEL);
}

/* 4-bit x int8: activations already quantized per row (qb_q4_gemm), or
 * uint8 codes moved to int8 (code - 128) with their zero point (qb_q4a8_*).
 * Per group S = sum a code - zp(n, g) a_gsum - a_zp csum(n, g), exact; then
 * acc = fma(S, scale(n, g), acc) group by group and the epilogue:
 * rq NULL: y = fma(acc, a_scale[m], bias[n]); else qb_requant's F32 one
 * (y may then be NULL: rq->codes only). */
struct qb_q4_job {
    const int8_t *a;           /* (m, kp) int8; past k: 0 */
    int64_t lda;
    const float *a_scale;      /* (m), when rq is NULL */
    const int32_t *a_gsum;     /* (m, kp / group) sum of a over each group */
    int32_t a_zp;              /* activation zero point in a's units (code zp - 128), or 0 */
    int a_u8;                  /* a holds the uint8 codes themselves (q4_u8 backends): a_zp is
                                * their zero point, a_gsum unused, a's bytes past k any value */
    const qb_q4weights *w;
    const float *bias;         /* (n) or NULL, when rq is NULL */
    const qb_requant *rq;      /* QB_OUT_F32 epilogue, or NULL */
    float *y;
    int64_t ldy;
};
typedef struct qb_q4_job qb_q4_job;

/* Dynamic per-row int8 quantization of float activations for the 4-bit
 * kernels (definition in qkernels.h, qb_q4_gemm). */
struct qb_q4_quant {
    const float *x;
    int64_t ldx, k, kp, group;
    int8_t *a;                 /* (m, kp), zero past k */
    float *scale;              /* (m) */
    int32_t *gsum;             /* (m, kp / group) */
};
typedef struct qb_q4_quant qb_q4_quant;

/* uint8 activation codes into the 4-bit kernels' int8 rows (qb_q4a8_*):
 * row m of dst gets, for i < k, src[m * lds + perm[i]] ^ 0x80 (code - 128 as
 * int8; perm NULL: i), and 0 for k <= i < kp; gsum the sum of each group of
 * dst's row. perm puts a convolution's (kh, kw, c) im2col rows into the
 * weights' (c, kh, kw) order, where their groups run. */
struct qb_q4_codes {
    const uint8_t *src;
    int64_t lds;
    const int32_t *perm;       /* (k) source byte of each k, or NULL */
    int64_t k, kp, group;
    int8_t *dst;               /* (m, kp) */
    int32_t *gsum;             /* (m, kp / group) */
    int raw;                   /* dst gets the codes themselves (src[perm[i]], 0 past k) and no
                                * gsum: the rows of a job with a_u8 */
    /* q4_u8 backends, raw: a convolution's rows gathered from its NHWC input
     * instead of src: row m is output pixel m_base + m, and perm indexes its
     * im2col row laid out with kernel row ky at ky * segp (a multiple of 64;
     * col: k_h * segp bytes for the rows that need padding) */
    const qb_conv_shape *conv;
    const uint8_t *x;
    uint8_t pad;
    int64_t m_base, segp;
    uint8_t *col;
};
typedef struct qb_q4_codes qb_q4_codes;

/* Binary. */
struct qb_b1_job {
    const uint64_t *a;         /* (m, kw) */
    const qb_b1weights *w;
    qb_out_type out;           /* QB_OUT_S32 or QB_OUT_F32 */
    const float *scale, *bias; /* F32 only; bias may be NULL */
    void *y;
    int64_t ldy;
};
typedef struct qb_b1_job qb_b1_job;

/* bf16. */
struct qb_bf16_job {
    const uint16_t *a;         /* (m, lda) bf16, readable for kp columns, zero past k */
    int64_t lda;
    const qb_bf16weights *w;
    const float *bias;
    float *y;
    int64_t ldy;
};
typedef struct qb_bf16_job qb_bf16_job;

/* qb_requant's F32 epilogue of one element whose sum is acc (a float). */
static inline void qb_store_f32(const qb_requant *rq, float *c, int64_t idx, float acc, int64_t n)
{
    float y = fmaf(acc, rq->scale[n], rq->fbias ? rq->fbias[n] : 0.0f);
    if (rq->residual) y = y + rq->residual[idx];
    y = rq->relu && !(y > 0) ? 0.0f : y;
    if (c) c[idx] = y; /* NULL: codes only (qb_q4a8_gemm) */
    if (rq->codes) rq->codes[idx] = qb_float_code(y, rq->code_scale, rq->code_zp, rq->code_lo, rq->code_hi);
}

/* Per-element epilogue shared by the scalar paths: the accumulator with its
 * offsets becomes the stored value. */
static inline void qb_store_out(const qb_requant *rq, void *c, int64_t idx, int32_t acc, int64_t n)
{
    switch (rq->type) {
    case QB_OUT_U8:
        ((uint8_t *)c)[idx] = (uint8_t)qb_requant_code(acc, rq->mult[n], rq->rshift[n], rq->zp, rq->lo, rq->hi);
        break;
    case QB_OUT_S8:
        ((int8_t *)c)[idx] = (int8_t)qb_requant_code(acc, rq->mult[n], rq->rshift[n], rq->zp, rq->lo, rq->hi);
        break;
    case QB_OUT_S32: ((int32_t *)c)[idx] = acc; break;
    case QB_OUT_F32: qb_store_f32(rq, (float *)c, idx, (float)acc, n); break;
    }
}

/* round_half_even(v) for |v| <= 2^22 without a libm call: adding and
 * subtracting 1.5 * 2^23 leaves the nearest integer (default rounding;
 * without -ffast-math the compiler keeps both operations). */
static inline float qb_round_even_small(float v)
{
    return (v + 12582912.0f) - 12582912.0f;
}

/* Four bytes at any alignment as an int32 (a vpbroadcastd operand). */
static inline int32_t qb_ld32(const void *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Size in bytes of one output element of a requant type. */
static inline int64_t qb_out_size(qb_out_type t)
{
    return t == QB_OUT_U8 || t == QB_OUT_S8 ? 1 : 4;
}

/* Wrapping int32 arithmetic (as the SIMD lanes do) without signed-overflow UB. */
static inline int32_t qb_wrap_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static inline int32_t qb_wrap_mul(int32_t a, int32_t b) { return (int32_t)((uint32_t)a * (uint32_t)b); }


/* ---- driver helpers (kdriver.c) -------------------------------------- */

/* Work below this many multiply-accumulates runs on the calling thread: a
 * pool hand-off costs more than it saves. */
#define QB_PARALLEL_MIN_MACS (1 << 16)

typedef void (*qb_range_fn)(void *ctx, int tid, int64_t m0, int64_t m1, int64_t n0, int64_t n1);
typedef void (*qb_rows_fn)(void *ctx, int tid, int64_t m0, int64_t m1);

/* Splits rows x channels over the pool: rows in multiples of row_block
 * when there are enough of them, otherwise channels in multiples of
 * n_unit, and calls fn once per thread (tid) with its share (if not empty).
 * macs decides whether the pool is worth using. */
void qb_run_blocks(qb_pool *pool, int64_t m, int64_t n, int64_t row_block, int64_t n_unit,
                   int64_t macs, qb_range_fn fn, void *ctx);

/* Test hook: QBENCH_TEST_SLOWDOWN=F (a number above 1, at most 100) makes
 * every call of qb_run_blocks, hence every int8, ternary, 4-bit, binary
 * and bf16 GEMM and convolution, take F times as long: the calling thread
 * spins for (F - 1) times the call's time afterwards; results are
 * unchanged. It exists to check that `qbench check` catches a slowdown
 * (README, "qbench checks itself"). Unset, empty or unparsable: 1. */
double qb_kernel_test_slowdown(void);
/* Splits rows [0, m) over the pool (for per-row preparation passes). */
void qb_run_rows(qb_pool *pool, int64_t m, int64_t work, qb_rows_fn fn, void *ctx);

/* Carves 64-byte aligned pieces out of a scratch buffer. Reserve every
 * piece first (qb_scratch_plan), then qb_scratch_take them in the same order. */
typedef struct {
    size_t total;
} qb_scratch_plan;
void qb_scratch_plan_add(qb_scratch_plan *p, size_t bytes);
/* Grows s to the planned size (s may be NULL: then *owned is used and the
 * caller frees it with qb_scratch_free). Returns the base or NULL (NOMEM). */
char *qb_scratch_get(qb_scratch *s, qb_scratch *owned, const qb_scratch_plan *p);
static inline char *qb_scratch_take(char **cursor, size_t bytes)
{
    char *p = *cursor;
    *cursor += (bytes + 63) / 64 * 64;
    return p;
}

/* The backend to run on: be, or the best one when be is NULL. */
const qb_backend *qb_backend_or_best(const qb_backend *be);

#endif
