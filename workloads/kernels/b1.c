/* Binary weights and activations (XNOR + popcount): packing and the driver
 * (see qkernels.h). A +-1 dot product over k bits is k - 2 popcount(a ^ w). */
#include <stdlib.h>
#include <string.h>
#include "backend.h"
#include "kernel_impl.h"
#include "workcount.h"

void qb_b1weights_free(qb_b1weights *w)
{
    if (!w) return;
    free(w->data);
    memset(w, 0, sizeof *w);
}

qb_status qb_b1weights_pack(qb_b1weights *out, int64_t n, int64_t k, const float *w,
                            int64_t stride_n, int64_t stride_k)
{
    memset(out, 0, sizeof *out);
    if (n < 1 || k < 1 || n > (1 << 24) || k > (1 << 30))
        return qb_error(QB_ERR_ARG, "binary weights (%lld, %lld): dimensions out of range",
                        (long long)n, (long long)k);
    int64_t panels = (n + QB_B1_PANEL - 1) / QB_B1_PANEL;
    out->n = n;
    out->k = k;
    out->kw = (k + 63) / 64;
    out->bytes = (size_t)(panels * out->kw * QB_B1_PANEL) * sizeof(uint64_t);
    out->data = qb_aligned_alloc(out->bytes, 1);
    if (!out->data) return QB_ERR_NOMEM;
    memset(out->data, 0, out->bytes);
    for (int64_t i = 0; i < n; i++) {
        uint64_t *panel = out->data + (i / QB_B1_PANEL) * out->kw * QB_B1_PANEL;
        for (int64_t j = 0; j < k; j++)
            if (w[i * stride_n + j * stride_k] < 0)
                panel[(j / 64) * QB_B1_PANEL + i % QB_B1_PANEL] |= (uint64_t)1 << (j % 64);
    }
    return QB_OK;
}

void qb_b1_pack_rows(int64_t m, int64_t k, const float *x, int64_t ldx, uint64_t *bits)
{
    int64_t kw = (k + 63) / 64;
    for (int64_t r = 0; r < m; r++) {
        uint64_t *row = bits + r * kw;
        memset(row, 0, (size_t)kw * sizeof(uint64_t));
        for (int64_t j = 0; j < k; j++)
            if (x[r * ldx + j] < 0) row[j / 64] |= (uint64_t)1 << (j % 64);
    }
}

struct run_ctx {
    const qb_backend *be;
    const qb_b1_job *job;
};

static void run_range(void *p, int tid, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    (void)tid;
    struct run_ctx *r = p;
    r->be->b1gemm(r->job, m0, m1, n0, n1);
}

qb_status qb_b1_gemm(const qb_backend *be, qb_pool *pool, int64_t m, const uint64_t *a,
                     const qb_b1weights *w, qb_out_type out, const float *scale, const float *bias,
                     void *y, int64_t ldy)
{
    be = qb_backend_or_best(be);
    if (!w || !w->data) return qb_error(QB_ERR_ARG, "binary weights are not packed (use qb_b1weights_pack)");
    if (out != QB_OUT_S32 && out != QB_OUT_F32)
        return qb_error(QB_ERR_ARG, "binary gemm: output must be int32 or float");
    if (out == QB_OUT_F32 && !scale) return qb_error(QB_ERR_ARG, "binary gemm: float output needs scales");
    if (m < 0 || (m > 0 && (!a || !y)) || ldy < w->n)
        return qb_error(QB_ERR_ARG, "binary gemm: bad sizes m=%lld ldy=%lld (n=%lld)", (long long)m,
                        (long long)ldy, (long long)w->n);
    if (m == 0) return QB_OK;
    qb_b1_job job = {a, w, out, scale, bias, y, ldy};
    struct run_ctx r = {be, &job};
    /* 64 binary MACs cost about one int8 MAC: scale the work estimate */
    qb_run_blocks(pool, m, w->n, be->row_block, QB_B1_PANEL, m * w->n * w->kw, run_range, &r);
    qb_work_add(QB_WORK_MACS, m * w->n * w->k);
    qb_work_add(QB_WORK_WEIGHT_BYTES, (long long)w->bytes);
    return QB_OK;
}
