/* 4-bit weights with group scales x int8 activations (W4A8): packing and
 * the drivers (see qkernels.h). qb_q4_gemm quantizes float activations per
 * row on the fly (symmetric int8, round half to even), which is what a
 * batch-1 dense layer of a 4-bit model does at inference; qb_q4a8_gemm and
 * qb_q4a8_conv take the integer executor's uint8 codes with a zero point.
 * Both hand the backends the same job: int8 rows and their group sums. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "backend.h"
#include "kernel_impl.h"
#include "workcount.h"

void qb_q4weights_free(qb_q4weights *w)
{
    if (!w) return;
    free(w->data);
    free(w->zp);
    free(w->csum);
    memset(w, 0, sizeof *w);
}

static size_t group_bytes(int64_t group)
{
    return (size_t)group * QB_Q4_BLOCK / 2 + QB_Q4_BLOCK * sizeof(float);
}

qb_status qb_q4weights_pack(qb_q4weights *out, int64_t n, int64_t k, int64_t group,
                            const uint8_t *codes, const float *scales, const uint8_t *zp)
{
    memset(out, 0, sizeof *out);
    if (n < 1 || k < 1 || n > (1 << 24) || k > (1 << 24))
        return qb_error(QB_ERR_ARG, "4-bit weights (%lld, %lld): both dimensions must be in 1..2^24",
                        (long long)n, (long long)k);
    if (group < 8 || group > 1024 || group % 8)
        return qb_error(QB_ERR_ARG, "4-bit group size %lld: must be a multiple of 8 in 8..1024",
                        (long long)group);
    int64_t groups = (k + group - 1) / group, blocks = (n + QB_Q4_BLOCK - 1) / QB_Q4_BLOCK;
    out->n = n;
    out->k = k;
    out->group = group;
    out->kp = groups * group;
    size_t data_bytes = (size_t)(blocks * groups) * group_bytes(group);
    out->data = qb_aligned_alloc(data_bytes, 1);
    if (!out->data) return QB_ERR_NOMEM;
    memset(out->data, 0, data_bytes);
    out->bytes = data_bytes;
    if (zp) {
        size_t zbytes = (size_t)(blocks * groups * QB_Q4_BLOCK);
        out->zp = qb_calloc(zbytes, 1);
        if (!out->zp) {
            qb_q4weights_free(out);
            return QB_ERR_NOMEM;
        }
        out->bytes += zbytes;
    }
    out->csum_bytes = (size_t)(blocks * groups * QB_Q4_BLOCK) * sizeof(int16_t);
    out->csum = qb_calloc(out->csum_bytes, 1);
    if (!out->csum) {
        qb_q4weights_free(out);
        return QB_ERR_NOMEM;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t blk = i / QB_Q4_BLOCK, c = i % QB_Q4_BLOCK;
        for (int64_t g = 0; g < groups; g++) {
            uint8_t *gp = out->data + (size_t)(blk * groups + g) * group_bytes(group);
            float s = scales[i * groups + g];
            if (!isfinite(s)) {
                qb_q4weights_free(out);
                return qb_error(QB_ERR_ARG, "4-bit scale of channel %lld, group %lld is not finite",
                                (long long)i, (long long)g);
            }
            memcpy(gp + group * 8 + c * (int64_t)sizeof(float), &s, sizeof s);
            int z = zp ? zp[i * groups + g] : 8;
            if (z > 15) {
                qb_q4weights_free(out);
                return qb_error(QB_ERR_ARG, "4-bit zero point %d of channel %lld is above 15", z, (long long)i);
            }
            if (zp) out->zp[(blk * groups + g) * QB_Q4_BLOCK + c] = (uint8_t)z;
            int32_t csum = 0;
            for (int64_t kin = 0; kin < group; kin++) {
                int64_t kk = g * group + kin;
                int q = kk < k ? codes[i * k + kk] : z; /* padding: code - zp = 0 */
                if (q > 15) {
                    qb_q4weights_free(out);
                    return qb_error(QB_ERR_ARG, "4-bit code %d at (%lld, %lld) is above 15", q,
                                    (long long)i, (long long)kk);
                }
                uint8_t *byte = gp + (kin / 8) * 64 + c * 4 + kin % 4;
                *byte = (uint8_t)(*byte | ((kin % 8) < 4 ? q : q << 4));
                csum += q - z;
            }
            out->csum[(blk * groups + g) * QB_Q4_BLOCK + c] = (int16_t)csum;
        }
    }
    return QB_OK;
}

/* Per-row symmetric int8 quantization of the activations, and the sum of
 * each group of codes (the zero-point correction needs it): the backend's
 * q4quant function on each thread's rows. */
struct quant_ctx {
    const qb_backend *be;
    qb_q4_quant q;
};

static void quantize_rows(void *p, int tid, int64_t m0, int64_t m1)
{
    struct quant_ctx *c = p;
    (void)tid;
    c->be->q4quant(&c->q, m0, m1);
}

struct run_ctx {
    const qb_backend *be;
    const qb_q4_job *job;
};

static void run_range(void *p, int tid, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    (void)tid;
    struct run_ctx *r = p;
    r->be->q4gemm(r->job, m0, m1, n0, n1);
}

/* Splits the job over the pool and counts its work. */
static void run_job(const qb_backend *be, qb_pool *pool, int64_t m, const qb_q4_job *job, size_t weight_bytes)
{
    const qb_q4weights *w = job->w;
    struct run_ctx r = {be, job};
    qb_run_blocks(pool, m, w->n, be->row_block, QB_Q4_BLOCK, m * w->n * w->k, run_range, &r);
    qb_work_add(QB_WORK_MACS, m * w->n * w->k);
    qb_work_add(QB_WORK_WEIGHT_BYTES, (long long)weight_bytes);
}

qb_status qb_q4_gemm(const qb_backend *be, qb_pool *pool, int64_t m, const float *x, int64_t ldx,
                     const qb_q4weights *w, const float *bias, float *y, int64_t ldy,
                     qb_scratch *scratch)
{
    be = qb_backend_or_best(be);
    if (!w || !w->data) return qb_error(QB_ERR_ARG, "4-bit weights are not packed (use qb_q4weights_pack)");
    if (m < 0 || (m > 0 && (!x || !y)) || ldx < w->k || ldy < w->n)
        return qb_error(QB_ERR_ARG, "q4 gemm: bad sizes m=%lld ldx=%lld (k=%lld) ldy=%lld (n=%lld)",
                        (long long)m, (long long)ldx, (long long)w->k, (long long)ldy, (long long)w->n);
    if (m == 0) return QB_OK;
    int64_t groups = w->kp / w->group;
    qb_scratch_plan plan = {0};
    qb_scratch_plan_add(&plan, (size_t)(m * w->kp));
    qb_scratch_plan_add(&plan, (size_t)m * sizeof(float));
    qb_scratch_plan_add(&plan, (size_t)(m * groups) * sizeof(int32_t));
    qb_scratch owned = {0};
    char *cur = qb_scratch_get(scratch, &owned, &plan);
    if (!cur) return QB_ERR_NOMEM;
    struct quant_ctx q = {be, {x, ldx, w->k, w->kp, w->group, NULL, NULL, NULL}};
    q.q.a = (int8_t *)qb_scratch_take(&cur, (size_t)(m * w->kp));
    q.q.scale = (float *)qb_scratch_take(&cur, (size_t)m * sizeof(float));
    q.q.gsum = (int32_t *)qb_scratch_take(&cur, (size_t)(m * groups) * sizeof(int32_t));
    qb_run_rows(pool, m, m * w->k * 8, quantize_rows, &q);

    qb_q4_job job = {.a = q.q.a, .lda = w->kp, .a_scale = q.q.scale, .a_gsum = q.q.gsum, .w = w, .bias = bias,
                     .y = y, .ldy = ldy};
    run_job(be, pool, m, &job, w->bytes);
    qb_scratch_free(&owned);
    return QB_OK;
}

/* ---- uint8 activation codes ------------------------------------------------ */

/* The row source of a qb_q4a8 call: dense rows, or a convolution's input. */
struct codes_src {
    const uint8_t *a;            /* dense rows, or NULL */
    int64_t lda;
    const qb_conv_shape *conv;   /* or a conv's NHWC input x */
    const uint8_t *x;
};

/* Rows per stretch of the fused pipeline: its im2col rows, int8 rows and
 * group sums in about this many bytes, so they stay in the core's L2 between
 * the passes instead of going out to memory and back. */
#define STRETCH_BYTES (192 * 1024)

/* One call's fused pipeline: each thread takes its share of rows (or all rows
 * and a share of the channels) a stretch at a time, through im2col, the
 * backend's int8 rows and the GEMM, in its own piece of scratch. */
struct codes_run {
    const qb_backend *be;
    const struct codes_src *src;
    const qb_conv_shape *gather;   /* a conv that needs im2col, or NULL */
    const int32_t *perm;           /* (k) conv: (kh, kw, c) rows to (c, kh, kw), or NULL */
    int64_t segp;                  /* fused gather (q4_u8 backends): the kernel row stride of perm's
                                    * im2col rows, a multiple of 64; 0: im2col then q4codes */
    uint8_t zp;
    int32_t a_zp;                  /* in int8 units: zp - 128 */
    const qb_q4weights *w;
    const qb_requant *rq;
    float *y;
    int64_t ldy, stretch;          /* rows per stretch */
    char *scratch;                 /* per thread: region bytes */
    size_t region;
};

static size_t im2col_bytes(const struct codes_run *r)
{
    if (r->segp) return (size_t)(r->gather->k_h * r->segp); /* one row at a time, those with padding */
    return r->gather ? (size_t)(r->stretch * r->w->k) : 0;
}

static void run_range_codes(void *p, int tid, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    const struct codes_run *r = p;
    const qb_q4weights *w = r->w;
    const int64_t groups = w->kp / w->group;
    char *cur = r->scratch + (size_t)tid * r->region;
    const int u8 = r->be->q4_u8;
    int8_t *rows = (int8_t *)qb_scratch_take(&cur, (size_t)(r->stretch * w->kp));
    int32_t *gsum = u8 ? NULL : (int32_t *)qb_scratch_take(&cur, (size_t)(r->stretch * groups) * sizeof(int32_t));
    uint8_t *col = r->gather ? (uint8_t *)qb_scratch_take(&cur, im2col_bytes(r)) : NULL;
    for (int64_t b0 = m0; b0 < m1; b0 += r->stretch) {
        int64_t mb = m1 - b0 < r->stretch ? m1 - b0 : r->stretch;
        qb_q4_codes q = {.perm = r->perm, .k = w->k, .kp = w->kp, .group = w->group, .dst = rows, .gsum = gsum,
                         .raw = u8};
        if (r->segp) {
            q.conv = r->gather;
            q.x = r->src->x;
            q.pad = r->zp;
            q.m_base = b0;
            q.segp = r->segp;
            q.col = col;
        } else if (r->gather) {
            qb_im2col_u8_at(r->gather, r->src->x, r->zp, b0, b0 + mb, col, w->k, r->gather->k_w * r->gather->in_c);
            q.src = col;
            q.lds = w->k;
        } else if (r->src->conv) { /* whole images */
            q.lds = r->src->conv->in_h * r->src->conv->in_w * r->src->conv->in_c;
            q.src = r->src->x + b0 * q.lds;
        } else {
            q.src = r->src->a + b0 * r->src->lda;
            q.lds = r->src->lda;
        }
        qb_q4_job job = {.a = rows, .lda = w->kp, .a_gsum = gsum, .a_zp = u8 ? r->zp : r->a_zp, .a_u8 = u8,
                         .w = w, .ldy = r->ldy};
        if (u8 && !r->perm && w->k == w->kp) { /* the codes as they are */
            job.a = (const int8_t *)q.src;
            job.lda = q.lds;
        } else {
            r->be->q4codes(&q, 0, mb);
        }
        qb_requant rq = *r->rq; /* the stretch's rows of the per-call outputs */
        if (rq.residual) rq.residual += b0 * r->ldy;
        if (rq.codes) rq.codes += b0 * r->ldy;
        job.rq = &rq;
        job.y = r->y ? r->y + b0 * r->ldy : NULL;
        r->be->q4gemm(&job, 0, mb, n0, n1);
    }
}

/* A convolution whose one window per image is the whole unpadded image (a
 * dense layer reading a flattened tensor): its rows are the images. */
static int whole_image(const qb_conv_shape *s)
{
    return s->k_h == s->in_h && s->k_w == s->in_w && s->pad_top + s->pad_left + s->pad_bottom + s->pad_right == 0 &&
           s->dil_h == 1 && s->dil_w == 1;
}

static qb_status run_codes(const qb_backend *be, qb_pool *pool, int64_t m, const struct codes_src *src, int32_t a_zp,
                           const qb_q4weights *w, const qb_requant *rq, float *y, int64_t ldy,
                           qb_scratch *scratch)
{
    be = qb_backend_or_best(be);
    if (a_zp < 0 || a_zp > 255)
        return qb_error(QB_ERR_ARG, "activation zero point %d is outside 0..255", a_zp);
    qb_status st = qb_requant_check(rq, w->n);
    if (st) return st;
    if (rq->type != QB_OUT_F32)
        return qb_error(QB_ERR_ARG, "4-bit group weights x uint8 codes: the output must be QB_OUT_F32 (the group "
                        "scales make it float; ask for rq->codes to feed an int8 layer)");
    if (m == 0) return QB_OK;
    const qb_conv_shape *cs = src->conv;
    int64_t groups = w->kp / w->group;
    struct codes_run r = {be, src, cs && !whole_image(cs) ? cs : NULL, NULL, 0, (uint8_t)a_zp, a_zp - 128, w, rq, y,
                          ldy, 0, NULL, 0};
    if (r.gather && be->q4_u8) r.segp = (r.gather->k_w * r.gather->in_c + 63) / 64 * 64;
    size_t row_bytes = (size_t)(w->kp + (be->q4_u8 ? 0 : groups * 4) + (r.gather && !r.segp ? w->k : 0));
    int64_t rb = be->row_block;
    r.stretch = (int64_t)(STRETCH_BYTES / row_bytes) / rb * rb;
    r.stretch = r.stretch < rb ? rb : r.stretch > m ? m : r.stretch;
    qb_scratch_plan region = {0};
    qb_scratch_plan_add(&region, (size_t)(r.stretch * w->kp));
    if (!be->q4_u8) qb_scratch_plan_add(&region, (size_t)(r.stretch * groups) * sizeof(int32_t));
    qb_scratch_plan_add(&region, im2col_bytes(&r));
    r.region = region.total;
    int threads = pool ? qb_pool_size(pool) : 1;
    qb_scratch_plan plan = {0};
    int permute = r.segp || (cs && cs->in_c > 1 && cs->k_h * cs->k_w > 1); /* else (kh, kw, c) is (c, kh, kw) */
    if (permute) qb_scratch_plan_add(&plan, (size_t)w->k * sizeof(int32_t));
    for (int t = 0; t < threads; t++) qb_scratch_plan_add(&plan, r.region);
    qb_scratch owned = {0};
    char *cur = qb_scratch_get(scratch, &owned, &plan);
    if (!cur) return QB_ERR_NOMEM;
    if (permute) { /* (kh, kw, c) rows (im2col, or NHWC images) to the weights' (c, kh, kw) order */
        int32_t *perm = (int32_t *)qb_scratch_take(&cur, (size_t)w->k * sizeof(int32_t));
        int64_t taps = cs->k_h * cs->k_w;
        for (int64_t c = 0; c < cs->in_c; c++)
            for (int64_t t = 0; t < taps; t++)
                perm[c * taps + t] = (int32_t)(r.segp ? t / cs->k_w * r.segp + t % cs->k_w * cs->in_c + c : t * cs->in_c + c);
        r.perm = perm;
    }
    r.scratch = cur;
    qb_run_blocks(pool, m, w->n, rb, QB_Q4_BLOCK, m * w->n * w->k, run_range_codes, &r);
    qb_work_add(QB_WORK_MACS, m * w->n * w->k);
    qb_work_add(QB_WORK_WEIGHT_BYTES, (long long)(w->bytes + w->csum_bytes));
    qb_scratch_free(&owned);
    return QB_OK;
}

static qb_status check_q4(const qb_q4weights *w)
{
    if (!w || !w->data || !w->csum)
        return qb_error(QB_ERR_ARG, "4-bit weights are not packed (use qb_q4weights_pack)");
    return QB_OK;
}

qb_status qb_q4a8_gemm(const qb_backend *be, qb_pool *pool, const qb_q4a8_args *g)
{
    const qb_q4weights *w = g->w;
    qb_status st = check_q4(w);
    if (st) return st;
    if (g->m < 0 || (g->m > 0 && (!g->a || (!g->y && !(g->rq && g->rq->codes)))) || g->lda < w->k || g->ldy < w->n)
        return qb_error(QB_ERR_ARG, "q4a8 gemm: bad sizes m=%lld lda=%lld (k=%lld) ldy=%lld (n=%lld)",
                        (long long)g->m, (long long)g->lda, (long long)w->k, (long long)g->ldy, (long long)w->n);
    struct codes_src src = {.a = g->a, .lda = g->lda};
    return run_codes(be, pool, g->m, &src, g->a_zp, w, g->rq, g->y, g->ldy, g->scratch);
}

qb_status qb_q4a8_conv(const qb_backend *be, qb_pool *pool, const qb_conv_shape *shape, const uint8_t *x,
                       int32_t x_zp, const qb_q4weights *w, const qb_requant *rq, float *y,
                       qb_scratch *scratch)
{
    qb_status st = check_q4(w);
    if (st) return st;
    qb_conv_shape s;
    if ((st = qb_conv_shape_checked(shape, &s))) return st;
    if (w->n != s.out_c || w->k != s.k_h * s.k_w * s.in_c)
        return qb_error(QB_ERR_ARG, "4-bit conv: weights are (%lld, %lld) but the shape needs (%lld, %lld)",
                        (long long)w->n, (long long)w->k, (long long)s.out_c, (long long)(s.k_h * s.k_w * s.in_c));
    if (!x || (!y && !(rq && rq->codes))) return qb_error(QB_ERR_ARG, "4-bit conv: missing input or output");
    struct codes_src src = {.conv = &s, .x = x};
    return run_codes(be, pool, s.batch * s.out_h * s.out_w, &src, x_zp, w, rq, y, s.out_c, scratch);
}
