/* bf16 x bf16 -> fp32 GEMM: conversions, packing and the driver (see
 * qkernels.h). */
#include <stdlib.h>
#include <string.h>
#include "backend.h"
#include "kernel_impl.h"
#include "workcount.h"

uint16_t qb_f32_to_bf16(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

float qb_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

void qb_f32_to_bf16_rows(int64_t m, int64_t k, const float *x, int64_t ldx, uint16_t *out, int64_t ldo)
{
    for (int64_t r = 0; r < m; r++)
        for (int64_t j = 0; j < k; j++) out[r * ldo + j] = qb_f32_to_bf16(x[r * ldx + j]);
}

void qb_bf16weights_free(qb_bf16weights *w)
{
    if (!w) return;
    free(w->data);
    memset(w, 0, sizeof *w);
}

qb_status qb_bf16weights_pack(qb_bf16weights *out, int64_t n, int64_t k, const float *w,
                              int64_t stride_n, int64_t stride_k)
{
    memset(out, 0, sizeof *out);
    if (n < 1 || k < 1 || n > (1 << 24) || k > (1 << 24))
        return qb_error(QB_ERR_ARG, "bf16 weights (%lld, %lld): both dimensions must be in 1..2^24",
                        (long long)n, (long long)k);
    int64_t n16 = (n + 15) / 16 * 16;
    out->n = n;
    out->k = k;
    out->kp = (k + 1) / 2 * 2;
    out->bytes = (size_t)(n16 * out->kp) * sizeof(uint16_t);
    out->data = qb_aligned_alloc(out->bytes, 1);
    if (!out->data) return QB_ERR_NOMEM;
    memset(out->data, 0, out->bytes);
    for (int64_t i = 0; i < n; i++) {
        int64_t p = i / QB_PANEL, c = i % QB_PANEL;
        int pw = qb_panel_width(n, p);
        uint16_t *panel = out->data + p * QB_PANEL * out->kp;
        for (int64_t j = 0; j < k; j++)
            panel[((j / 2) * pw + c) * 2 + j % 2] = qb_f32_to_bf16(w[i * stride_n + j * stride_k]);
    }
    return QB_OK;
}

struct run_ctx {
    const qb_backend *be;
    const qb_bf16_job *job;
};

static void run_range(void *p, int tid, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    (void)tid;
    struct run_ctx *r = p;
    r->be->bf16gemm(r->job, m0, m1, n0, n1);
}

qb_status qb_bf16_gemm(const qb_backend *be, qb_pool *pool, int64_t m, const uint16_t *a,
                       int64_t lda, const qb_bf16weights *w, const float *bias, float *y,
                       int64_t ldy, qb_scratch *scratch)
{
    be = qb_backend_or_best(be);
    if (!w || !w->data) return qb_error(QB_ERR_ARG, "bf16 weights are not packed (use qb_bf16weights_pack)");
    if (m < 0 || (m > 0 && (!a || !y)) || lda < w->k || ldy < w->n)
        return qb_error(QB_ERR_ARG, "bf16 gemm: bad sizes m=%lld lda=%lld (k=%lld) ldy=%lld (n=%lld)",
                        (long long)m, (long long)lda, (long long)w->k, (long long)ldy, (long long)w->n);
    if (m == 0) return QB_OK;
    qb_scratch owned = {0};
    qb_bf16_job job = {a, lda, w, bias, y, ldy};
    if (w->kp != w->k) { /* rows are read in pairs: pad odd k with a zero */
        qb_scratch_plan plan = {0};
        qb_scratch_plan_add(&plan, (size_t)(m * w->kp) * sizeof(uint16_t));
        uint16_t *pa = (uint16_t *)qb_scratch_get(scratch, &owned, &plan);
        if (!pa) return QB_ERR_NOMEM;
        for (int64_t r = 0; r < m; r++) {
            memcpy(pa + r * w->kp, a + r * lda, (size_t)w->k * sizeof(uint16_t));
            pa[r * w->kp + w->k] = 0;
        }
        job.a = pa;
        job.lda = w->kp;
    }
    struct run_ctx r = {be, &job};
    qb_run_blocks(pool, m, w->n, be->row_block, QB_PANEL, m * w->n * w->k, run_range, &r);
    qb_work_add(QB_WORK_MACS, m * w->n * w->k);
    qb_work_add(QB_WORK_WEIGHT_BYTES, (long long)w->bytes);
    qb_scratch_free(&owned);
    return QB_OK;
}
