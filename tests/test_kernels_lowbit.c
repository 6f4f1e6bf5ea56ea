/* 4-bit (group scales) and binary (XNOR-popcount) kernels: every backend
 * this CPU supports against naive definitions from unpacked codes,
 * bit-exact; plus the packed sizes (bits / 8 of fp32 plus scales). */
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

/* ---- 4-bit ------------------------------------------------------------ */

/* The definition in qkernels.h, from unpacked codes. */
static void naive_q4(int64_t m, int64_t n, int64_t k, int64_t group, const float *x, const uint8_t *codes,
                     const float *scales, const uint8_t *zp, const float *bias, float *y)
{
    int64_t groups = (k + group - 1) / group;
    int8_t *a = malloc((size_t)k);
    for (int64_t r = 0; r < m; r++) {
        float amax = 0;
        for (int64_t i = 0; i < k; i++) amax = fmaxf(amax, fabsf(x[r * k + i]));
        float s = amax > 0 ? amax / 127.0f : 1.0f, inv = amax > 0 ? 127.0f / amax : 1.0f;
        for (int64_t i = 0; i < k; i++) a[i] = (int8_t)nearbyintf(x[r * k + i] * inv);
        for (int64_t c = 0; c < n; c++) {
            float acc = 0;
            for (int64_t g = 0; g < groups; g++) {
                int32_t dot = 0;
                int z = zp ? zp[c * groups + g] : 8;
                for (int64_t i = g * group; i < k && i < (g + 1) * group; i++) dot += a[i] * (codes[c * k + i] - z);
                acc = fmaf((float)dot, scales[c * groups + g], acc);
            }
            y[r * n + c] = fmaf(acc, s, bias ? bias[c] : 0.0f);
        }
    }
    free(a);
}

static void run_q4_case(qb_rng *r, int64_t m, int64_t n, int64_t k, int64_t group, int asym, int with_bias,
                        qb_pool *pool)
{
    int64_t groups = (k + group - 1) / group;
    float *x = malloc((size_t)(m * k) * 4), *scales = malloc((size_t)(n * groups) * 4);
    float *bias = with_bias ? malloc((size_t)n * 4) : NULL;
    uint8_t *codes = malloc((size_t)(n * k)), *zp = asym ? malloc((size_t)(n * groups)) : NULL;
    for (int64_t i = 0; i < m * k; i++) x[i] = qb_rng_normal(r) * (i % 13 == 0 ? 8.0f : 1.0f);
    if (m > 1)
        for (int64_t i = 0; i < k; i++) x[k + i] = 0; /* an all-zero row */
    for (int64_t i = 0; i < n * k; i++) codes[i] = (uint8_t)qb_rng_below(r, 16);
    for (int64_t i = 0; i < n * groups; i++) {
        scales[i] = 0.01f + qb_rng_uniform(r) * 0.1f;
        if (zp) zp[i] = (uint8_t)qb_rng_below(r, 16);
    }
    for (int64_t i = 0; with_bias && i < n; i++) bias[i] = qb_rng_normal(r);
    qb_q4weights w;
    assert_int_equal(qb_q4weights_pack(&w, n, k, group, codes, scales, zp), QB_OK);
    /* packed size: 4 bits per weight plus one float scale (and zero point) per group */
    int64_t n16 = (n + 15) / 16 * 16, kp = groups * group;
    assert_true(w.bytes == (size_t)(n16 * kp / 2 + n16 * groups * 4 + (asym ? n16 * groups : 0)));
    float *expect = malloc((size_t)(m * n) * 4), *got = malloc((size_t)(m * n) * 4);
    naive_q4(m, n, k, group, x, codes, scales, zp, bias, expect);
    const qb_backend *bes[8];
    int nb = supported_backends(bes);
    qb_scratch scratch = {0};
    for (int b = 0; b < nb; b++) {
        memset(got, 0xff, (size_t)(m * n) * 4);
        assert_int_equal(qb_q4_gemm(bes[b], pool, m, x, k, &w, bias, got, n, &scratch), QB_OK);
        for (int64_t i = 0; i < m * n; i++)
            if (memcmp(&expect[i], &got[i], 4) != 0) {
                fprintf(stderr, "q4 %s m=%lld n=%lld k=%lld group=%lld asym=%d: y[%lld] = %.9g, expected %.9g\n",
                        bes[b]->name, (long long)m, (long long)n, (long long)k, (long long)group, asym,
                        (long long)i, got[i], expect[i]);
                fail();
            }
    }
    /* and the result is the float product with dequantized weights, up to
     * the activation rounding (half a step per element) */
    double amax = 0;
    for (int64_t i = 0; i < k; i++) amax = fmax(amax, fabs(x[i]));
    for (int64_t c = 0; c < n; c++) {
        double dot = bias ? bias[c] : 0, bound = 1e-5 * (1 + fabs(dot));
        for (int64_t i = 0; i < k; i++) {
            double wd = scales[c * groups + i / group] * (codes[c * k + i] - (zp ? zp[c * groups + i / group] : 8));
            dot += x[i] * wd;
            bound += (amax / 254 + 1e-5 * fabs(x[i])) * fabs(wd);
        }
        assert_true(fabs(dot - got[c]) <= bound);
    }
    qb_scratch_free(&scratch);
    qb_q4weights_free(&w);
    free(x), free(scales), free(bias), free(codes), free(zp), free(expect), free(got);
}

static void test_q4_matches_definition(void **state)
{
    (void)state;
    qb_rng r;
    qb_rng_seed(&r, 11);
    qb_pool *pool;
    assert_int_equal(qb_pool_create(&pool, 2, NULL, NULL), QB_OK);
    static const int64_t ms[] = {1, 2, 3, 5, 8, 9, 17};
    static const int64_t ns[] = {1, 7, 16, 17, 40, 64, 100};
    static const int64_t ks[] = {1, 8, 31, 64, 100, 256, 513};
    static const int64_t groups[] = {8, 16, 32, 64, 128};
    for (int it = 0; it < 80; it++)
        run_q4_case(&r, ms[qb_rng_below(&r, 7)], ns[qb_rng_below(&r, 7)], ks[qb_rng_below(&r, 7)],
                    groups[qb_rng_below(&r, 5)], it % 3 == 0, it % 2 == 0, it % 4 == 0 ? pool : NULL);
    /* a batch-1 layer big enough to use both threads */
    run_q4_case(&r, 1, 512, 1024, 32, 0, 1, pool);
    run_q4_case(&r, 12, 300, 700, 64, 1, 1, pool);
    qb_pool_free(pool);
}

static void test_q4_bad_input(void **state)
{
    (void)state;
    uint8_t codes[16] = {0};
    float scales[2] = {1, 1};
    qb_q4weights w;
    assert_int_equal(qb_q4weights_pack(&w, 1, 16, 12, codes, scales, NULL), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "group size 12"));
    codes[3] = 16;
    assert_int_equal(qb_q4weights_pack(&w, 1, 16, 8, codes, scales, NULL), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "code 16"));
    codes[3] = 0;
    scales[1] = INFINITY;
    assert_int_equal(qb_q4weights_pack(&w, 1, 16, 8, codes, scales, NULL), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "not finite"));
}

/* ---- binary ----------------------------------------------------------- */

static void run_b1_case(qb_rng *r, int64_t m, int64_t n, int64_t k, qb_out_type out, qb_pool *pool)
{
    float *x = malloc((size_t)(m * k) * 4), *w = malloc((size_t)(n * k) * 4);
    float *scale = malloc((size_t)n * 4), *bias = malloc((size_t)n * 4);
    for (int64_t i = 0; i < m * k; i++) x[i] = qb_rng_normal(r);
    for (int64_t i = 0; i < n * k; i++) w[i] = qb_rng_normal(r);
    for (int64_t i = 0; i < m * k; i += 17) x[i] = 0.0f; /* zero is +1 */
    for (int64_t i = 0; i < n; i++) {
        scale[i] = qb_rng_uniform(r);
        bias[i] = qb_rng_normal(r);
    }
    qb_b1weights pw;
    assert_int_equal(qb_b1weights_pack(&pw, n, k, w, k, 1), QB_OK);
    /* 1 bit per weight (panels of 32 channels, rows of whole 64-bit words) */
    assert_true(pw.bytes == (size_t)(((n + 31) / 32 * 32) * ((k + 63) / 64) * 8));
    int64_t kw = (k + 63) / 64;
    uint64_t *a = malloc((size_t)(m * kw) * 8);
    qb_b1_pack_rows(m, k, x, k, a);
    int use_bias = out == QB_OUT_F32 && qb_rng_below(r, 2);
    int32_t *expect = malloc((size_t)(m * n) * 4), *got = malloc((size_t)(m * n) * 4);
    for (int64_t i = 0; i < m; i++)
        for (int64_t c = 0; c < n; c++) {
            int32_t dot = 0;
            for (int64_t j = 0; j < k; j++) dot += (x[i * k + j] < 0 ? -1 : 1) * (w[c * k + j] < 0 ? -1 : 1);
            if (out == QB_OUT_S32) expect[i * n + c] = dot;
            else {
                float y = fmaf((float)dot, scale[c], use_bias ? bias[c] : 0.0f);
                memcpy(&expect[i * n + c], &y, 4);
            }
        }
    const qb_backend *bes[8];
    int nb = supported_backends(bes);
    for (int b = 0; b < nb; b++) {
        memset(got, 0, (size_t)(m * n) * 4);
        assert_int_equal(qb_b1_gemm(bes[b], pool, m, a, &pw, out, scale, use_bias ? bias : NULL, got, n), QB_OK);
        if (memcmp(expect, got, (size_t)(m * n) * 4) != 0) {
            fprintf(stderr, "binary %s m=%lld n=%lld k=%lld out=%d mismatch\n", bes[b]->name, (long long)m,
                    (long long)n, (long long)k, out);
            fail();
        }
    }
    qb_b1weights_free(&pw);
    free(x), free(w), free(scale), free(bias), free(a), free(expect), free(got);
}

static void test_binary_matches_definition(void **state)
{
    (void)state;
    qb_rng r;
    qb_rng_seed(&r, 21);
    qb_pool *pool;
    assert_int_equal(qb_pool_create(&pool, 2, NULL, NULL), QB_OK);
    static const int64_t ms[] = {1, 2, 5, 6, 7, 13};
    static const int64_t ns[] = {1, 8, 9, 31, 32, 33, 70};
    static const int64_t ks[] = {1, 63, 64, 65, 128, 200, 1000};
    for (int it = 0; it < 60; it++)
        run_b1_case(&r, ms[qb_rng_below(&r, 6)], ns[qb_rng_below(&r, 7)], ks[qb_rng_below(&r, 7)],
                    it % 2 ? QB_OUT_F32 : QB_OUT_S32, it % 3 == 0 ? pool : NULL);
    run_b1_case(&r, 64, 256, 2048, QB_OUT_S32, pool);
    qb_pool_free(pool);
}

static void test_binary_bad_input(void **state)
{
    (void)state;
    float w[4] = {1, -1, 1, -1};
    qb_b1weights pw;
    assert_int_equal(qb_b1weights_pack(&pw, 1, 4, w, 4, 1), QB_OK);
    uint64_t a = 0;
    int32_t y;
    assert_int_equal(qb_b1_gemm(NULL, NULL, 1, &a, &pw, QB_OUT_U8, NULL, NULL, &y, 1), QB_ERR_ARG);
    assert_int_equal(qb_b1_gemm(NULL, NULL, 1, &a, &pw, QB_OUT_F32, NULL, NULL, &y, 1), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "needs scales"));
    assert_int_equal(qb_b1_gemm(NULL, NULL, 1, &a, &pw, QB_OUT_S32, NULL, NULL, &y, 1), QB_OK);
    assert_int_equal(y, 0); /* (+1 +1 +1 +1) . (+1 -1 +1 -1) */
    qb_b1weights_free(&pw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_q4_matches_definition),
        cmocka_unit_test(test_q4_bad_input),
        cmocka_unit_test(test_binary_matches_definition),
        cmocka_unit_test(test_binary_bad_input),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("kernels_lowbit", tests, NULL, NULL);
}
