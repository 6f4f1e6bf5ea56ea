/* Drivers of the int8 and ternary GEMM and convolution (see qkernels.h):
 * check arguments, fold zero points and bias into per-channel offsets, lay
 * out activation rows (directly, as an implicit conv, or through a padded
 * copy / im2col), then split the work over the pool and call the backend's
 * block function. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include "backend.h"
#include "kernel_impl.h"
#include "workcount.h"

static qb_status check_weights(const qb_qweights *w)
{
    if (!w || !w->data || !w->colsum || (w->bits != 8 && w->bits != 2))
        return qb_error(QB_ERR_ARG, "weights are not packed (use qb_qweights_pack_*)");
    return QB_OK;
}

/* off[n] = bias - a_zp * colsum + k * a_zp * w_zp, in wrapping int32 like the lanes. */
static void fill_offsets(int32_t *off, const qb_qweights *w, const qb_requant *rq, int32_t a_zp)
{
    for (int64_t i = 0; i < w->n; i++) {
        int32_t o = rq->bias ? rq->bias[i] : 0;
        o = qb_wrap_add(o, qb_wrap_mul(-a_zp, w->colsum[i]));
        if (w->zp) o = qb_wrap_add(o, qb_wrap_mul(qb_wrap_mul((int32_t)w->k, a_zp), w->zp[i]));
        off[i] = o;
    }
}

/* Row preparation: rows that cannot be read in place are copied into a
 * buffer of kp-byte rows (dense rows whose k is not a multiple of the code
 * group, or im2col of a conv whose channels are not); and, with weight zero
 * points, each row's activation sum. */
struct prep_ctx {
    const qb_qgemm_job *src; /* where rows come from (dense or conv) */
    uint8_t *dst;            /* copy of the rows, kp bytes each, or NULL */
    int64_t k, kp;
    int32_t *rowsum;         /* or NULL */
    const uint32_t *pixsum;  /* implicit conv: each input pixel's sum of channels, or NULL */
    qb_qgemm_job *job;       /* the job the kernels will run (rows for the sums) */
};

/* Sum of len bytes (psadbw: 16 bytes per instruction in SSE2, which every
 * x86-64 has; this file is built without ISA flags). */
static uint32_t sum_bytes(const uint8_t *p, int64_t len)
{
    uint64_t sum = 0;
    int64_t i = 0;
#if defined(__SSE2__)
    __m128i acc = _mm_setzero_si128();
    for (; i + 16 <= len; i += 16) acc = _mm_add_epi64(acc, _mm_sad_epu8(_mm_loadu_si128((const __m128i *)(p + i)),
                                                                         _mm_setzero_si128()));
    uint64_t lanes[2];
    _mm_storeu_si128((__m128i *)lanes, acc);
    sum = lanes[0] + lanes[1];
#endif
    for (; i < len; i++) sum += p[i];
    return (uint32_t)sum;
}

/* Each input pixel's sum of its in_c channels, for image rows [r0, r1)
 * (image b, row y is b * in_h + y) of an implicit conv's input. */
struct pixsum_ctx {
    const qb_conv_shape *s;
    const uint8_t *x;
    uint32_t *out;
};

static void pixel_sums(void *p, int tid, int64_t r0, int64_t r1)
{
    (void)tid;
    struct pixsum_ctx *c = p;
    const int64_t in_c = c->s->in_c;
    for (int64_t i = r0 * c->s->in_w; i < r1 * c->s->in_w; i++) c->out[i] = sum_bytes(c->x + i * in_c, in_c);
}

/* Rows m0..m1-1's sums of real activations, for weight zero points: not a
 * padded kernel row's extra bytes (padded dense rows and im2col rows have
 * zeros there). Rows are walked with a cursor (no division per row). An
 * implicit conv's window (k_w whole pixels per kernel row: dil_w is 1 on
 * that path) adds k_h x k_w pixel sums instead of reading its bytes. */
static void row_sums(const qb_qgemm_job *j, const uint32_t *pixsum, int64_t m0, int64_t m1, int32_t *out)
{
    const uint8_t *rows[QB_MAX_SEGS];
    const int64_t len = j->conv ? j->w->seg : j->seg_k;
    qb_row_cursor at = qb_row_cursor_at(j, m0);
    for (int64_t m = m0; m < m1; m++, qb_row_cursor_advance(j, &at, 1)) {
        uint32_t sum = 0;
        if (pixsum) {
            const qb_conv_shape *s = j->conv;
            const uint32_t *p = pixsum + (at.b * s->in_h + at.oy * s->stride_h) * s->in_w + at.ox * s->stride_w;
            for (int64_t ky = 0; ky < s->k_h; ky++, p += s->dil_h * s->in_w)
                for (int64_t kx = 0; kx < s->k_w; kx++) sum += p[kx];
        } else {
            qb_job_rows_at(j, &at, 1, 1, rows);
            for (int s = 0; s < j->nseg; s++) sum += sum_bytes(rows[s], len);
        }
        out[m] = (int32_t)sum;
    }
}

static void prep_rows(void *p, int tid, int64_t m0, int64_t m1)
{
    (void)tid;
    struct prep_ctx *c = p;
    if (c->dst && c->src->conv) {
        qb_im2col_u8(c->src->conv, c->src->x, c->src->a_zp, m0, m1, c->dst, c->kp, c->src->seg_k);
    } else if (c->dst) {
        for (int64_t m = m0; m < m1; m++) {
            memcpy(c->dst + m * c->kp, c->src->a + m * c->src->lda, (size_t)c->k);
            memset(c->dst + m * c->kp + c->k, 0, (size_t)(c->kp - c->k));
        }
    }
    if (c->rowsum) row_sums(c->job, c->pixsum, m0, m1, c->rowsum);
}

struct run_ctx {
    const qb_backend *be;
    const qb_qgemm_job *job;
};

static void run_range(void *p, int tid, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    struct run_ctx *r = p;
    (void)tid;
    r->be->qgemm(r->job, m0, m1, n0, n1);
}

/* Copy of a conv input into a buffer with its padding (and any slack
 * columns) filled with the zero point: job->conv describes the bordered
 * geometry, src the original one. */
struct border_ctx {
    const qb_conv_shape *src, *dst;
    const uint8_t *x;
    uint8_t *xp, zp;
};

/* Bordered rows [r0, r1) of all images (image b, row y is b * in_h + y):
 * split by rows, not images, so that a batch of one is shared too. */
static void border_rows(void *p, int tid, int64_t r0, int64_t r1)
{
    (void)tid;
    struct border_ctx *c = p;
    const qb_conv_shape *s = c->src, *d = c->dst;
    int64_t row = s->in_w * s->in_c, prow = d->in_w * d->in_c, left = s->pad_left * s->in_c;
    for (int64_t r = r0; r < r1; r++) {
        int64_t b = r / d->in_h, y = r % d->in_h;
        uint8_t *o = c->xp + r * prow;
        int64_t iy = y - s->pad_top;
        if (iy < 0 || iy >= s->in_h) {
            memset(o, c->zp, (size_t)prow);
            continue;
        }
        memset(o, c->zp, (size_t)left);
        memcpy(o + left, c->x + (b * s->in_h + iy) * row, (size_t)row);
        memset(o + left + row, c->zp, (size_t)(prow - left - row));
    }
}

/* Kernel rows [first, end) of output row oy that read some of the input
 * (not only the padding of shape s). */
static void live_rows(const qb_conv_shape *s, int64_t oy, int *first, int *end)
{
    int f = 0, e = (int)s->k_h;
    while (f < e && oy * s->stride_h - s->pad_top + f * s->dil_h < 0) f++;
    while (e > f && oy * s->stride_h - s->pad_top + (e - 1) * s->dil_h >= s->in_h) e--;
    *first = f;
    *end = e;
}

/* Output rows of shape s that skip a padding-only kernel row. */
static int64_t skipping_rows(const qb_conv_shape *s)
{
    int64_t count = 0;
    for (int64_t oy = 0; oy < s->out_h; oy++) {
        int f, e;
        live_rows(s, oy, &f, &e);
        count += f > 0 || e < s->k_h;
    }
    return count;
}

/* rs[oy] for every output row: offsets plus a_zp x the skipped kernel
 * rows' weight sums, in `room` (n int32 per skipping row). */
static void fill_rowskip(qb_conv_rowskip *rs, int32_t *room, const qb_conv_shape *s, const qb_qweights *w,
                         const int32_t *off, int32_t a_zp)
{
    for (int64_t oy = 0; oy < s->out_h; oy++) {
        live_rows(s, oy, &rs[oy].first, &rs[oy].end);
        rs[oy].off = off;
        if (rs[oy].first == 0 && rs[oy].end == s->k_h) continue;
        for (int64_t i = 0; i < w->n; i++) {
            int32_t o = off[i];
            for (int64_t ky = 0; ky < s->k_h; ky++)
                if (ky < rs[oy].first || ky >= rs[oy].end) o = qb_wrap_add(o, qb_wrap_mul(a_zp, w->segsum[ky * w->n + i]));
            room[i] = o;
        }
        rs[oy].off = room;
        room += w->n;
    }
}

/* Runs a job whose row source is set: plans scratch, prepares rows, runs.
 * With `unpadded`, job->conv is a bordered copy's geometry (see qb_qconv)
 * and job->x, of geometry unpadded, is copied into it first. */
static qb_status run_job(const qb_backend *be, qb_pool *pool, qb_qgemm_job *job, int need_copy,
                         int32_t a_zp, qb_scratch *scratch, const qb_conv_shape *unpadded)
{
    const qb_qweights *w = job->w;
    int64_t m = job->m, n = w->n;
    int zp = qb_qweights_has_zp(w);
    int quant = job->rq->type == QB_OUT_U8 || job->rq->type == QB_OUT_S8, dmult = quant;
    for (int64_t i = 0; dmult && i < n; i++) dmult = job->rq->rshift[i] <= QB_DMULT_MAX_SHIFT;
    qb_scratch_plan plan = {0};
    qb_scratch_plan_add(&plan, (size_t)n * sizeof(int32_t));
    if (dmult) qb_scratch_plan_add(&plan, (size_t)n * sizeof(double));
    if (zp) qb_scratch_plan_add(&plan, (size_t)m * sizeof(int32_t));
    if (need_copy) qb_scratch_plan_add(&plan, (size_t)(m * w->kp));
    const qb_conv_shape *bs = job->conv;
    int64_t border_bytes = unpadded ? bs->batch * bs->in_h * bs->in_w * bs->in_c : 0;
    int64_t skipping = unpadded && w->bits == 8 && w->segsum ? skipping_rows(unpadded) : 0;
    if (skipping) {
        qb_scratch_plan_add(&plan, (size_t)unpadded->out_h * sizeof(qb_conv_rowskip));
        qb_scratch_plan_add(&plan, (size_t)(skipping * n) * sizeof(int32_t));
    }
    if (unpadded) qb_scratch_plan_add(&plan, (size_t)border_bytes);
    /* implicit conv rows' sums from per-pixel sums (job->conv: the bordered geometry) */
    int64_t pixels = zp && bs && !need_copy ? bs->batch * bs->in_h * bs->in_w : 0;
    if (pixels) qb_scratch_plan_add(&plan, (size_t)pixels * sizeof(uint32_t));
    qb_scratch owned = {0};
    char *cur = qb_scratch_get(scratch, &owned, &plan);
    if (!cur) return QB_ERR_NOMEM;

    int32_t *off = (int32_t *)qb_scratch_take(&cur, (size_t)n * sizeof(int32_t));
    fill_offsets(off, w, job->rq, a_zp);
    job->off = off;
    if (dmult) {
        double *dm = (double *)qb_scratch_take(&cur, (size_t)n * sizeof(double));
        job->dmult_small = 1;
        for (int64_t i = 0; i < n; i++) {
            dm[i] = ldexp((double)job->rq->mult[i], -job->rq->rshift[i]);
            job->dmult_small &= dm[i] <= 0.5;
        }
        job->dmult = dm;
    }
    qb_qgemm_job src = *job;
    struct prep_ctx prep = {&src, NULL, w->k, w->kp, NULL, NULL, job};
    if (zp) job->rowsum = prep.rowsum = (int32_t *)qb_scratch_take(&cur, (size_t)m * sizeof(int32_t));
    if (need_copy) {
        prep.dst = (uint8_t *)qb_scratch_take(&cur, (size_t)(m * w->kp));
        job->a = prep.dst;
        job->lda = w->kp;
        job->conv = NULL;
        job->nseg = 1;
        job->seg_k = w->kp;
    }
    if (skipping) {
        qb_conv_rowskip *rs = (qb_conv_rowskip *)qb_scratch_take(&cur, (size_t)unpadded->out_h * sizeof *rs);
        int32_t *room = (int32_t *)qb_scratch_take(&cur, (size_t)(skipping * n) * sizeof(int32_t));
        fill_rowskip(rs, room, unpadded, w, off, a_zp);
        job->rowskip = rs;
    }
    if (unpadded) {
        struct border_ctx bc = {unpadded, bs, job->x, (uint8_t *)qb_scratch_take(&cur, (size_t)border_bytes),
                                (uint8_t)a_zp};
        qb_run_rows(pool, bs->batch * bs->in_h, border_bytes, border_rows, &bc);
        job->x = src.x = bc.xp;
    }
    if (pixels) {
        struct pixsum_ctx pc = {job->conv, job->x, (uint32_t *)qb_scratch_take(&cur, (size_t)pixels * sizeof(uint32_t))};
        qb_run_rows(pool, job->conv->batch * job->conv->in_h, pixels * job->conv->in_c, pixel_sums, &pc);
        prep.pixsum = pc.out;
    }
    if (need_copy || zp) qb_run_rows(pool, m, m * w->k, prep_rows, &prep);

    struct run_ctx r = {be, job};
    /* an implicit conv splits at output rows: no thread starts or ends
     * mid-row, where a row's pixels are too few for a tall tile */
    int64_t row_block = job->conv ? job->conv->out_w : be->row_block;
    qb_run_blocks(pool, m, n, row_block, QB_PANEL, m * n * w->k, run_range, &r);

    qb_work_add(QB_WORK_MACS, m * n * w->k);
    qb_work_add(QB_WORK_WEIGHT_BYTES, (long long)w->bytes);
    if (quant) qb_work_add(QB_WORK_REQUANT, m * n);
    qb_scratch_free(&owned);
    return QB_OK;
}

qb_status qb_qgemm(const qb_backend *be, qb_pool *pool, const qb_qgemm_args *g)
{
    be = qb_backend_or_best(be);
    qb_status st = check_weights(g->w);
    if (st) return st;
    if ((st = qb_requant_check(g->rq, g->w->n))) return st;
    const qb_qweights *w = g->w;
    if (g->m < 0 || (g->m > 0 && (!g->a || !g->c)) || g->lda < w->k || g->ldc < w->n)
        return qb_error(QB_ERR_ARG, "qgemm: bad sizes m=%lld lda=%lld (k=%lld) ldc=%lld (n=%lld)",
                        (long long)g->m, (long long)g->lda, (long long)w->k, (long long)g->ldc,
                        (long long)w->n);
    if (g->a_zp < 0 || g->a_zp > 255)
        return qb_error(QB_ERR_ARG, "activation zero point %d is outside 0..255", g->a_zp);
    if (g->m == 0) return QB_OK;
    qb_qgemm_job job = {.m = g->m, .a = g->a, .lda = g->lda, .nseg = 1, .seg_k = w->kp, .w = w,
                        .rq = g->rq, .c = g->c, .ldc = g->ldc};
    /* rows are read kp bytes at a time; copy them when k is not a multiple */
    int need_copy = w->kp != w->k;
    if (need_copy) job.seg_k = w->k;
    return run_job(be, pool, &job, need_copy, g->a_zp, g->scratch, NULL);
}

qb_status qb_conv_shape_init(qb_conv_shape *s)
{
    if (s->batch < 1 || s->in_h < 1 || s->in_w < 1 || s->in_c < 1 || s->out_c < 1 || s->k_h < 1 ||
        s->k_w < 1 || s->stride_h < 1 || s->stride_w < 1 || s->dil_h < 1 || s->dil_w < 1 ||
        s->pad_top < 0 || s->pad_left < 0 || s->pad_bottom < 0 || s->pad_right < 0)
        return qb_error(QB_ERR_ARG, "conv shape: sizes, strides and dilations must be positive and padding non-negative");
    int64_t eh = (s->k_h - 1) * s->dil_h + 1, ew = (s->k_w - 1) * s->dil_w + 1;
    int64_t hp = s->in_h + s->pad_top + s->pad_bottom, wp = s->in_w + s->pad_left + s->pad_right;
    if (eh > hp || ew > wp)
        return qb_error(QB_ERR_ARG, "conv shape: kernel %lldx%lld (dilated) is larger than the padded input %lldx%lld",
                        (long long)eh, (long long)ew, (long long)hp, (long long)wp);
    if (s->k_h * s->k_w > QB_MAX_SEGS)
        return qb_error(QB_ERR_UNSUPPORTED, "conv shape: %lld kernel taps; at most %d are supported",
                        (long long)(s->k_h * s->k_w), QB_MAX_SEGS);
    s->out_h = (hp - eh) / s->stride_h + 1;
    s->out_w = (wp - ew) / s->stride_w + 1;
    return QB_OK;
}

qb_status qb_conv_shape_checked(const qb_conv_shape *shape, qb_conv_shape *out)
{
    *out = *shape;
    qb_status st = qb_conv_shape_init(out);
    if (st) return st;
    if (out->out_h != shape->out_h || out->out_w != shape->out_w)
        return qb_error(QB_ERR_ARG, "conv shape: call qb_conv_shape_init first");
    return QB_OK;
}

qb_status qb_qconv(const qb_backend *be, qb_pool *pool, const qb_conv_shape *shape, const uint8_t *x,
                   int32_t x_zp, const qb_qweights *w, const qb_requant *rq, void *y,
                   qb_scratch *scratch)
{
    be = qb_backend_or_best(be);
    qb_status st = check_weights(w);
    if (st) return st;
    qb_conv_shape s;
    if ((st = qb_conv_shape_checked(shape, &s))) return st;
    if (w->n != s.out_c || w->k != s.k_h * s.k_w * s.in_c || w->seg != s.k_w * s.in_c)
        return qb_error(QB_ERR_ARG, "conv: weights are (%lld, %lld) but the shape needs (%lld, %lld) "
                        "(pack them with qb_qweights_pack_conv)",
                        (long long)w->n, (long long)w->k, (long long)s.out_c,
                        (long long)(s.k_h * s.k_w * s.in_c));
    if ((st = qb_requant_check(rq, w->n))) return st;
    if (!x || !y) return qb_error(QB_ERR_ARG, "conv: missing input or output");
    if (x_zp < 0 || x_zp > 255)
        return qb_error(QB_ERR_ARG, "activation zero point %d is outside 0..255", x_zp);
    /* one implicit segment per kernel row, read as segp bytes */
    int64_t seg_k = w->segp;

    qb_qgemm_job job = {.m = s.batch * s.out_h * s.out_w, .conv = &s, .x = x, .a_zp = (uint8_t)x_zp,
                        .nseg = (int)s.k_h, .seg_k = seg_k, .w = w, .rq = rq, .c = y, .ldc = s.out_c};
    int pointwise = s.k_h == 1 && s.k_w == 1 && s.stride_h == 1 && s.stride_w == 1 &&
                    s.pad_top + s.pad_left + s.pad_bottom + s.pad_right == 0;
    int need_copy = s.dil_w != 1; /* dilated kernel columns are not contiguous: im2col */
    if (pointwise) { /* a plain GEMM over pixels */
        need_copy = w->kp != w->k;
        job.conv = NULL;
        job.a = x;
        job.lda = s.in_c;
        job.nseg = 1;
        job.seg_k = need_copy ? w->k : w->kp;
    }
    /* Padding and image edges: the input is copied once into a buffer with
     * a border of zero points (and slack columns so that the last window's
     * kernel rows can be read as whole segp bytes), so every window lies
     * inside (the block functions rely on it: qb_job_rows_at) and no row is
     * assembled tap by tap at the edges. The copy is a pass over
     * the input; the kernels read each input byte k_h * k_w times. */
    qb_conv_shape bordered = s;
    int border = 0;
    if (!pointwise && !need_copy) {
        int64_t slack_cols = (seg_k + s.in_c - 1) / s.in_c - s.k_w; /* segp past the taps, in columns */
        int64_t need_w = (s.out_w - 1) * s.stride_w + s.k_w + slack_cols;
        int64_t wp = s.in_w + s.pad_left + s.pad_right;
        if (need_w > wp) wp = need_w;
        border = s.pad_top + s.pad_left + s.pad_bottom + s.pad_right > 0 || wp > s.in_w;
        bordered.in_h = s.in_h + s.pad_top + s.pad_bottom;
        bordered.in_w = wp;
        bordered.pad_top = bordered.pad_left = bordered.pad_bottom = bordered.pad_right = 0;
        if (border) job.conv = &bordered; /* out_h, out_w stay those of s */
    }
    st = run_job(be, pool, &job, need_copy, x_zp, scratch, border ? &s : NULL);
    return st;
}
