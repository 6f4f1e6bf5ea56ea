/* The portable scalar reference backend: the definition every SIMD backend
 * is tested against. It reads the packed formats through their plain index
 * formulas and favours obviousness over speed. */
#include <math.h>
#include "kernel_impl.h"

void qb_qgemm_block_ref(const qb_qgemm_job *j, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    const uint8_t *rows[QB_MAX_SEGS];
    for (int64_t m = m0; m < m1; m++) {
        qb_job_rows(j, m, 1, 1, rows);
        for (int64_t n = n0; n < n1; n++) {
            uint32_t acc = 0; /* int32 lanes wrap; so does this */
            int64_t k = 0;
            for (int s = 0; s < j->nseg; s++)
                for (int64_t i = 0; i < j->seg_k; i++, k++)
                    acc += (uint32_t)(rows[s][i] * qb_qweights_code(j->w, n, k));
            acc += (uint32_t)j->off[n];
            if (j->rowsum) acc -= (uint32_t)j->w->zp[n] * (uint32_t)j->rowsum[m];
            qb_store_out(j->rq, j->c, m * j->ldc + n, (int32_t)acc, n);
        }
    }
}

/* Nibble of the 4-bit code of channel n at k and the zero point of its group. */
static int q4_code(const qb_q4weights *w, int64_t n, int64_t k)
{
    int64_t blk = n / QB_Q4_BLOCK, c = n % QB_Q4_BLOCK, g = k / w->group, kin = k % w->group;
    int64_t groups = w->kp / w->group;
    size_t gbytes = (size_t)w->group * QB_Q4_BLOCK / 2 + QB_Q4_BLOCK * sizeof(float);
    const uint8_t *gp = w->data + (size_t)(blk * groups + g) * gbytes;
    const uint8_t *byte = gp + (kin / 8) * 64 + c * 4 + kin % 4;
    return (kin % 8) < 4 ? *byte & 15 : *byte >> 4;
}

static float q4_scale(const qb_q4weights *w, int64_t n, int64_t g)
{
    int64_t blk = n / QB_Q4_BLOCK, c = n % QB_Q4_BLOCK, groups = w->kp / w->group;
    size_t gbytes = (size_t)w->group * QB_Q4_BLOCK / 2 + QB_Q4_BLOCK * sizeof(float);
    const float *s = (const float *)(w->data + (size_t)(blk * groups + g) * gbytes + (size_t)w->group * 8);
    return s[c];
}

static int q4_zp(const qb_q4weights *w, int64_t n, int64_t g)
{
    if (!w->zp) return 8;
    int64_t blk = n / QB_Q4_BLOCK, c = n % QB_Q4_BLOCK, groups = w->kp / w->group;
    return w->zp[(blk * groups + g) * QB_Q4_BLOCK + c];
}

/* Sum of code - zero code over group g of channel n. */
static int q4_csum(const qb_q4weights *w, int64_t n, int64_t g)
{
    int64_t blk = n / QB_Q4_BLOCK, c = n % QB_Q4_BLOCK, groups = w->kp / w->group;
    return w->csum[(blk * groups + g) * QB_Q4_BLOCK + c];
}

void qb_q4gemm_block_ref(const qb_q4_job *j, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    const qb_q4weights *w = j->w;
    int64_t groups = w->kp / w->group;
    for (int64_t m = m0; m < m1; m++) {
        const int8_t *a = j->a + m * j->lda;
        for (int64_t n = n0; n < n1; n++) {
            float acc = 0;
            for (int64_t g = 0; g < groups; g++) {
                int32_t dot = 0;
                for (int64_t i = 0; i < w->group; i++) {
                    int64_t k = g * w->group + i;
                    dot += a[k] * q4_code(w, n, k);
                }
                dot -= q4_zp(w, n, g) * j->a_gsum[m * groups + g];
                if (j->a_zp) dot -= j->a_zp * q4_csum(w, n, g);
                acc = fmaf((float)dot, q4_scale(w, n, g), acc);
            }
            if (j->rq) qb_store_f32(j->rq, j->y, m * j->ldy + n, acc, n);
            else j->y[m * j->ldy + n] = fmaf(acc, j->a_scale[m], j->bias ? j->bias[n] : 0.0f);
        }
    }
}

void qb_q4quant_rows_ref(const qb_q4_quant *c, int64_t m0, int64_t m1)
{
    int64_t groups = c->kp / c->group;
    for (int64_t m = m0; m < m1; m++) {
        const float *x = c->x + m * c->ldx;
        float amax = 0; /* NaN inputs are ignored here and become code 0 below */
        for (int64_t i = 0; i < c->k; i++) {
            float v = fabsf(x[i]);
            amax = v > amax ? v : amax;
        }
        float s = amax > 0 ? amax / 127.0f : 1.0f, inv = amax > 0 ? 127.0f / amax : 1.0f;
        int8_t *a = c->a + m * c->kp;
        for (int64_t i = 0; i < c->k; i++) {
            float q = qb_round_even_small(x[i] * inv);
            a[i] = (int8_t)(q >= -127 && q <= 127 ? q : q > 127 ? 127 : q < -127 ? -127 : 0);
        }
        for (int64_t i = c->k; i < c->kp; i++) a[i] = 0;
        c->scale[m] = s;
        for (int64_t g = 0; g < groups; g++) {
            int32_t sum = 0;
            for (int64_t i = 0; i < c->group; i++) sum += a[g * c->group + i];
            c->gsum[m * groups + g] = sum;
        }
    }
}

void qb_q4codes_rows_ref(const qb_q4_codes *c, int64_t m0, int64_t m1)
{
    int64_t groups = c->kp / c->group;
    for (int64_t m = m0; m < m1; m++) {
        const uint8_t *src = c->src + m * c->lds;
        int8_t *d = c->dst + m * c->kp;
        for (int64_t i = 0; i < c->kp; i++) d[i] = (int8_t)(i < c->k ? (src[c->perm ? c->perm[i] : i] ^ 0x80) : 0);
        if (c->raw) {
            for (int64_t i = 0; i < c->k; i++) d[i] = (int8_t)(d[i] ^ 0x80);
            continue;
        }
        for (int64_t g = 0; g < groups; g++) {
            int32_t sum = 0;
            for (int64_t i = 0; i < c->group; i++) sum += d[g * c->group + i];
            c->gsum[m * groups + g] = sum;
        }
    }
}

void qb_b1gemm_block_ref(const qb_b1_job *j, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    const qb_b1weights *w = j->w;
    for (int64_t m = m0; m < m1; m++) {
        const uint64_t *a = j->a + m * w->kw;
        for (int64_t n = n0; n < n1; n++) {
            const uint64_t *panel = w->data + (n / QB_B1_PANEL) * w->kw * QB_B1_PANEL;
            int64_t pop = 0;
            for (int64_t t = 0; t < w->kw; t++)
                pop += __builtin_popcountll(a[t] ^ panel[t * QB_B1_PANEL + n % QB_B1_PANEL]);
            int32_t dot = (int32_t)(w->k - 2 * pop);
            if (j->out == QB_OUT_S32)
                ((int32_t *)j->y)[m * j->ldy + n] = dot;
            else
                ((float *)j->y)[m * j->ldy + n] = fmaf((float)dot, j->scale[n], j->bias ? j->bias[n] : 0.0f);
        }
    }
}

void qb_bf16gemm_block_ref(const qb_bf16_job *j, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    const qb_bf16weights *w = j->w;
    for (int64_t m = m0; m < m1; m++) {
        const uint16_t *a = j->a + m * j->lda;
        for (int64_t n = n0; n < n1; n++) {
            int64_t p = n / QB_PANEL, c = n % QB_PANEL;
            int pw = qb_panel_width(w->n, p);
            const uint16_t *panel = w->data + p * QB_PANEL * w->kp;
            float acc = 0;
            for (int64_t k = 0; k < w->k; k++)
                acc += qb_bf16_to_f32(a[k]) * qb_bf16_to_f32(panel[((k / 2) * pw + c) * 2 + k % 2]);
            j->y[m * j->ldy + n] = acc + (j->bias ? j->bias[n] : 0.0f);
        }
    }
}
