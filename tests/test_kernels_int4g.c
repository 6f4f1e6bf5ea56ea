/* 4-bit group-scaled weights x uint8 activation codes (qb_q4a8_gemm,
 * qb_q4a8_conv): every backend this CPU runs, with 1 and 2 threads, against
 * the definition in qkernels.h computed from unpacked codes, bit-exact,
 * including the F32 epilogue's bias, residual, ReLU and next-layer codes. */
#include "qb_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "pool.h"
#include "qkernels.h"
#include "rng.h"

static int supported_backends(const qb_backend **out)
{
    int n = 0;
    for (int i = 0; i < qb_backend_count(); i++)
        if (!qb_backend_missing_isa(qb_backend_at(i))) out[n++] = qb_backend_at(i);
    return n;
}

/* One problem: dense (conv NULL: a is (m, k) codes) or a convolution (x
 * NHWC codes, k = in_c * k_h * k_w in ONNX order). */
typedef struct {
    int64_t m, n, k, group;
    const qb_conv_shape *conv;
    const uint8_t *a;           /* dense rows or conv input */
    int32_t a_zp;
    const uint8_t *codes;       /* (n, k) 0..15 */
    const float *scales;        /* (n, groups) */
    const uint8_t *zp;          /* (n, groups) or NULL (8) */
} problem;

/* Activation code of row m at k: dense A(m, k), or the conv tap (zero
 * point outside the image). */
static int32_t act(const problem *p, int64_t m, int64_t k)
{
    if (!p->conv) return p->a[m * p->k + k];
    const qb_conv_shape *s = p->conv;
    int64_t pix = s->out_h * s->out_w, b = m / pix, oy = m % pix / s->out_w, ox = m % s->out_w;
    int64_t taps = s->k_h * s->k_w, c = k / taps, ky = k % taps / s->k_w, kx = k % s->k_w;
    int64_t iy = oy * s->stride_h - s->pad_top + ky * s->dil_h, ix = ox * s->stride_w - s->pad_left + kx * s->dil_w;
    if (iy < 0 || iy >= s->in_h || ix < 0 || ix >= s->in_w) return p->a_zp;
    return p->a[((b * s->in_h + iy) * s->in_w + ix) * s->in_c + c];
}

/* The definition (qkernels.h, qb_q4a8_gemm) and the F32 epilogue (requant.h). */
static void definition(const problem *p, const qb_requant *rq, float *y, uint8_t *codes)
{
    int64_t groups = (p->k + p->group - 1) / p->group;
    for (int64_t m = 0; m < p->m; m++)
        for (int64_t n = 0; n < p->n; n++) {
            float acc = 0;
            for (int64_t g = 0; g < groups; g++) {
                int32_t s = 0, z = p->zp ? p->zp[n * groups + g] : 8;
                for (int64_t k = g * p->group; k < p->k && k < (g + 1) * p->group; k++)
                    s += (act(p, m, k) - p->a_zp) * (p->codes[n * p->k + k] - z);
                acc = fmaf((float)s, p->scales[n * groups + g], acc);
            }
            int64_t i = m * p->n + n;
            float v = fmaf(acc, rq->scale[n], rq->fbias ? rq->fbias[n] : 0.0f);
            if (rq->residual) v += rq->residual[i];
            if (rq->relu && !(v > 0)) v = 0;
            y[i] = v;
            if (codes) codes[i] = qb_float_code(v, rq->code_scale, rq->code_zp, rq->code_lo, rq->code_hi);
        }
}

static void run_case(qb_rng *r, problem *p, int asym, qb_pool *pool)
{
    int64_t groups = (p->k + p->group - 1) / p->group, mn = p->m * p->n;
    int64_t a_len = p->conv ? p->conv->batch * p->conv->in_h * p->conv->in_w * p->conv->in_c : p->m * p->k;
    uint8_t *a = malloc((size_t)a_len), *codes = malloc((size_t)(p->n * p->k));
    uint8_t *zp = asym ? malloc((size_t)(p->n * groups)) : NULL;
    float *scales = malloc((size_t)(p->n * groups) * 4), *oscale = malloc((size_t)p->n * 4);
    float *fbias = malloc((size_t)p->n * 4), *residual = malloc((size_t)mn * 4);
    p->a_zp = (int32_t)qb_rng_below(r, 256);
    for (int64_t i = 0; i < a_len; i++) a[i] = (uint8_t)(i % 7 == 0 ? p->a_zp : (int32_t)qb_rng_below(r, 256));
    for (int64_t i = 0; i < p->n * p->k; i++) codes[i] = (uint8_t)qb_rng_below(r, 16);
    for (int64_t i = 0; i < p->n * groups; i++) {
        scales[i] = 0.001f + qb_rng_uniform(r) * 0.02f;
        if (zp) zp[i] = (uint8_t)qb_rng_below(r, 16);
    }
    float s_x = 0.01f + qb_rng_uniform(r) * 0.05f;
    for (int64_t i = 0; i < p->n; i++) {
        oscale[i] = s_x;
        fbias[i] = qb_rng_normal(r);
    }
    for (int64_t i = 0; i < mn; i++) residual[i] = qb_rng_normal(r) * 4;
    p->a = a, p->codes = codes, p->scales = scales, p->zp = zp;
    qb_q4weights w;
    assert_int_equal(qb_q4weights_pack(&w, p->n, p->k, p->group, codes, scales, zp), QB_OK);

    int opts = (int)qb_rng_below(r, 32); /* bias, residual, ReLU, codes, codes only (no floats) */
    qb_requant rq = {.type = QB_OUT_F32, .scale = oscale, .fbias = opts & 1 ? fbias : NULL,
                     .residual = opts & 2 ? residual : NULL, .relu = (opts & 4) != 0};
    uint8_t *want_codes = NULL, *got_codes = NULL;
    if (opts & 8) {
        want_codes = malloc((size_t)mn), got_codes = malloc((size_t)mn);
        rq.code_scale = 0.02f + qb_rng_uniform(r) * 0.1f;
        rq.code_lo = (int32_t)qb_rng_below(r, 3);
        rq.code_hi = 253 + (int32_t)qb_rng_below(r, 3);
        rq.code_zp = rq.code_lo + (int32_t)qb_rng_below(r, (uint64_t)(rq.code_hi - rq.code_lo + 1));
    }
    float *want = malloc((size_t)mn * 4), *got = malloc((size_t)mn * 4);
    definition(p, &rq, want, want_codes);

    const qb_backend *bes[8];
    int nb = supported_backends(bes);
    qb_scratch scratch = {0};
    int codes_only = (opts & 8) && (opts & 16);
    for (int b = 0; b < nb; b++) {
        memset(got, 0xff, (size_t)mn * 4);
        rq.codes = got_codes;
        float *y = codes_only ? NULL : got;
        if (got_codes) memset(got_codes, 0xee, (size_t)mn);
        qb_scratch *sc = b % 2 ? &scratch : NULL;
        if (p->conv) {
            assert_int_equal(qb_q4a8_conv(bes[b], pool, p->conv, a, p->a_zp, &w, &rq, y, sc), QB_OK);
        } else {
            qb_q4a8_args g = {p->m, a, p->k, p->a_zp, &w, &rq, y, p->n, sc};
            assert_int_equal(qb_q4a8_gemm(bes[b], pool, &g), QB_OK);
        }
        for (int64_t i = 0; i < mn; i++)
            if ((!codes_only && memcmp(&want[i], &got[i], 4) != 0) || (got_codes && got_codes[i] != want_codes[i])) {
                fprintf(stderr, "int4g %s %s m=%lld n=%lld k=%lld group=%lld asym=%d a_zp=%d opts=%d threads=%d: "
                        "y[%lld] = %.9g (code %d), expected %.9g (code %d)\n", bes[b]->name,
                        p->conv ? "conv" : "gemm", (long long)p->m, (long long)p->n, (long long)p->k,
                        (long long)p->group, asym, p->a_zp, opts, pool ? qb_pool_size(pool) : 1, (long long)i,
                        got[i], got_codes ? got_codes[i] : -1, want[i], want_codes ? want_codes[i] : -1);
                fail();
            }
    }
    qb_scratch_free(&scratch);
    qb_q4weights_free(&w);
    free(a), free(codes), free(zp), free(scales), free(oscale), free(fbias), free(residual);
    free(want), free(got), free(want_codes), free(got_codes);
}

static void test_gemm_matches_definition(void **state)
{
    (void)state;
    qb_rng r;
    qb_rng_seed(&r, 41);
    qb_pool *pool;
    assert_int_equal(qb_pool_create(&pool, 2, NULL, NULL), QB_OK);
    static const int64_t ms[] = {1, 2, 3, 5, 7, 9, 13, 23};
    static const int64_t ns[] = {1, 3, 10, 17, 33, 50, 71};
    static const int64_t ks[] = {1, 5, 31, 37, 100, 257, 401};
    static const int64_t gs[] = {8, 16, 24, 32, 40, 128};
    for (int it = 0; it < 60; it++) {
        problem p = {.m = ms[qb_rng_below(&r, 8)], .n = ns[qb_rng_below(&r, 7)], .k = ks[qb_rng_below(&r, 7)],
                     .group = gs[qb_rng_below(&r, 6)]};
        run_case(&r, &p, it % 2, it % 3 == 0 ? pool : NULL);
    }
    /* big enough that both threads work: batch 1 (the GEMV path) and a batch */
    problem one = {.m = 1, .n = 300, .k = 784, .group = 32};
    run_case(&r, &one, 1, pool);
    problem many = {.m = 37, .n = 129, .k = 250, .group = 32};
    run_case(&r, &many, 0, pool);
    qb_pool_free(pool);
}

static void test_conv_matches_definition(void **state)
{
    (void)state;
    qb_rng r;
    qb_rng_seed(&r, 43);
    qb_pool *pool;
    assert_int_equal(qb_pool_create(&pool, 2, NULL, NULL), QB_OK);
    static const int64_t cgs[] = {8, 16, 24, 32, 64, 128};
    for (int it = 0; it < 30; it++) {
        int64_t kk = 1 + 2 * (int64_t)qb_rng_below(&r, 3);
        qb_conv_shape s = {.batch = 1 + (int64_t)qb_rng_below(&r, 2), .in_h = kk + (int64_t)qb_rng_below(&r, 6),
                           .in_w = kk + (int64_t)qb_rng_below(&r, 6), .in_c = 1 + (int64_t)qb_rng_below(&r, 11),
                           .out_c = 1 + (int64_t)qb_rng_below(&r, 40), .k_h = kk, .k_w = kk,
                           .stride_h = 1 + (int64_t)qb_rng_below(&r, 2), .dil_h = 1, .dil_w = 1};
        s.stride_w = s.stride_h;
        s.pad_top = s.pad_left = s.pad_bottom = s.pad_right = (int64_t)qb_rng_below(&r, (uint64_t)(kk / 2 + 1));
        assert_int_equal(qb_conv_shape_init(&s), QB_OK);
        problem p = {.m = s.batch * s.out_h * s.out_w, .n = s.out_c, .k = s.in_c * s.k_h * s.k_w,
                     .group = cgs[qb_rng_below(&r, 6)], .conv = &s};
        run_case(&r, &p, it % 2, it % 2 ? pool : NULL);
    }
    /* LeNet's second conv and ResNet-20's middle stage at group 32 */
    qb_conv_shape lenet = {.batch = 2, .in_h = 12, .in_w = 12, .in_c = 6, .out_c = 16, .k_h = 5, .k_w = 5,
                           .stride_h = 1, .stride_w = 1, .dil_h = 1, .dil_w = 1};
    assert_int_equal(qb_conv_shape_init(&lenet), QB_OK);
    problem pl = {.m = 2 * 8 * 8, .n = 16, .k = 150, .group = 32, .conv = &lenet};
    run_case(&r, &pl, 1, pool);
    qb_conv_shape res = {.batch = 1, .in_h = 16, .in_w = 16, .in_c = 32, .out_c = 32, .k_h = 3, .k_w = 3,
                         .stride_h = 1, .stride_w = 1, .dil_h = 1, .dil_w = 1,
                         .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1};
    assert_int_equal(qb_conv_shape_init(&res), QB_OK);
    problem pr = {.m = 256, .n = 32, .k = 288, .group = 32, .conv = &res};
    run_case(&r, &pr, 0, pool);
    /* rows longer than the AVX-512 permutation tables hold (k = 1665) */
    qb_conv_shape wide = {.batch = 1, .in_h = 5, .in_w = 4, .in_c = 185, .out_c = 20, .k_h = 3, .k_w = 3,
                          .stride_h = 1, .stride_w = 1, .dil_h = 1, .dil_w = 1, .pad_top = 1, .pad_bottom = 1};
    assert_int_equal(qb_conv_shape_init(&wide), QB_OK);
    problem pw = {.m = 5 * 2, .n = 20, .k = 1665, .group = 40, .conv = &wide};
    run_case(&r, &pw, 1, pool);
    /* a window that is the whole unpadded image (a dense layer reading a
     * flattened NHWC tensor): read in place */
    qb_conv_shape flat = {.batch = 3, .in_h = 4, .in_w = 4, .in_c = 13, .out_c = 21, .k_h = 4, .k_w = 4,
                          .stride_h = 1, .stride_w = 1, .dil_h = 1, .dil_w = 1};
    assert_int_equal(qb_conv_shape_init(&flat), QB_OK);
    problem pf = {.m = 3, .n = 21, .k = 208, .group = 32, .conv = &flat};
    run_case(&r, &pf, 0, NULL);
    /* the AVX-512 gather's masks: dilated rows and columns (im2col), uneven
     * strides and pads, windows past every edge of a small image */
    static const int64_t dils[][2] = {{2, 2}, {2, 1}, {1, 1}};
    for (int d = 0; d < 3; d++) {
        qb_conv_shape u = {.batch = 2, .in_h = 6, .in_w = 5, .in_c = 3 + 20 * d, .out_c = 17, .k_h = 3, .k_w = 3,
                           .stride_h = 2, .stride_w = 1, .dil_h = dils[d][0], .dil_w = dils[d][1],
                           .pad_top = 2, .pad_left = 0, .pad_bottom = 1, .pad_right = 3};
        assert_int_equal(qb_conv_shape_init(&u), QB_OK);
        problem pu = {.m = 2 * u.out_h * u.out_w, .n = 17, .k = u.in_c * 9, .group = 16, .conv = &u};
        run_case(&r, &pu, d % 2, d == 1 ? pool : NULL);
    }
    qb_pool_free(pool);
}

static void test_bad_input(void **state)
{
    (void)state;
    uint8_t codes[16] = {0}, a[16] = {0};
    float scales[2] = {1, 1}, scale1 = 1, y[4];
    qb_q4weights w;
    assert_int_equal(qb_q4weights_pack(&w, 1, 16, 8, codes, scales, NULL), QB_OK);
    qb_requant rq = {.type = QB_OUT_F32, .scale = &scale1};
    qb_q4a8_args g = {1, a, 16, 300, &w, &rq, y, 1, NULL};
    assert_int_equal(qb_q4a8_gemm(NULL, NULL, &g), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "zero point 300"));
    g.a_zp = 3;
    qb_requant s32 = {.type = QB_OUT_S32};
    g.rq = &s32;
    assert_int_equal(qb_q4a8_gemm(NULL, NULL, &g), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "QB_OUT_F32"));
    g.rq = &rq;
    g.lda = 8;
    assert_int_equal(qb_q4a8_gemm(NULL, NULL, &g), QB_ERR_ARG);
    g.lda = 16;
    assert_int_equal(qb_q4a8_gemm(NULL, NULL, &g), QB_OK);
    assert_true(y[0] == 384.0f); /* (0 - 3)(0 - 8) x 16 */
    qb_conv_shape s = {.batch = 1, .in_h = 4, .in_w = 4, .in_c = 1, .out_c = 1, .k_h = 3, .k_w = 3,
                       .stride_h = 1, .stride_w = 1, .dil_h = 1, .dil_w = 1};
    assert_int_equal(qb_conv_shape_init(&s), QB_OK);
    assert_int_equal(qb_q4a8_conv(NULL, NULL, &s, a, 0, &w, &rq, y, NULL), QB_ERR_ARG); /* k 16 != 9 */
    assert_non_null(strstr(qb_last_error(), "weights are (1, 16)"));
    /* no float output needs codes */
    assert_int_equal(qb_q4a8_gemm(NULL, NULL, &(qb_q4a8_args){1, a, 16, 0, &w, &rq, NULL, 1, NULL}), QB_ERR_ARG);
    qb_q4weights_free(&w);
    qb_q4weights none = {0};
    assert_int_equal(qb_q4a8_gemm(NULL, NULL, &(qb_q4a8_args){1, a, 16, 0, &none, &rq, y, 1, NULL}), QB_ERR_ARG);

}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_matches_definition),
        cmocka_unit_test(test_conv_matches_definition),
        cmocka_unit_test(test_bad_input),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("kernels_int4g", tests, NULL, NULL);
}
