/* bf16 GEMM. Tolerance: products of two bf16 values are exact in fp32, so
 * the only error of an fp32 accumulation of k products (in any order, with
 * any pairing, as vdpbf16ps may do) is the rounding of at most k + 1 sums:
 * |y - exact| <= (k + 1) * 2^-24 * sum_k |a w| (+ |bias| * 2^-24). Backends
 * that accumulate k in order with FMAs (ref, avx2) must agree bit for bit. */
#include "qb_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "pool.h"
#include "qkernels.h"
#include "rng.h"

static void test_bf16_conversion(void **state)
{
    (void)state;
    assert_int_equal(qb_f32_to_bf16(1.0f), 0x3f80);
    assert_int_equal(qb_f32_to_bf16(-2.0f), 0xc000);
    /* 1 + 2^-8 is halfway between two bf16: ties to even (down); 1 + 3 * 2^-8 rounds up */
    assert_int_equal(qb_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80);
    assert_int_equal(qb_f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82);
    assert_true(isnan(qb_bf16_to_f32(qb_f32_to_bf16(NAN))));
    assert_true(isinf(qb_bf16_to_f32(qb_f32_to_bf16(INFINITY))));
    assert_true(qb_bf16_to_f32(qb_f32_to_bf16(3.0e38f)) > 3.0e38f); /* rounds up, still finite */
    for (float x = -10; x < 10; x += 0.37f) {
        float y = qb_bf16_to_f32(qb_f32_to_bf16(x));
        assert_true(fabsf(y - x) <= fabsf(x) * 0x1p-8f);
    }
}

static void run_case(qb_rng *r, int64_t m, int64_t n, int64_t k, int with_bias, qb_pool *pool)
{
    float *x = malloc((size_t)(m * k) * 4), *w = malloc((size_t)(n * k) * 4), *bias = malloc((size_t)n * 4);
    for (int64_t i = 0; i < m * k; i++) x[i] = qb_rng_normal(r);
    for (int64_t i = 0; i < n * k; i++) w[i] = qb_rng_normal(r);
    for (int64_t i = 0; i < n; i++) bias[i] = qb_rng_normal(r);
    uint16_t *a = malloc((size_t)(m * k) * 2);
    qb_f32_to_bf16_rows(m, k, x, k, a, k);
    qb_bf16weights pw;
    assert_int_equal(qb_bf16weights_pack(&pw, n, k, w, k, 1), QB_OK);
    float *got = malloc((size_t)(m * n) * 4), *first = malloc((size_t)(m * n) * 4);
    const qb_backend *ordered = NULL;
    for (int b = 0; b < qb_backend_count(); b++) {
        const qb_backend *be = qb_backend_at(b);
        if (qb_backend_missing_isa(be)) continue;
        assert_int_equal(qb_bf16_gemm(be, pool, m, a, k, &pw, with_bias ? bias : NULL, got, n, NULL), QB_OK);
        for (int64_t i = 0; i < m; i++)
            for (int64_t c = 0; c < n; c++) {
                double exact = with_bias ? bias[c] : 0, mag = 0;
                for (int64_t j = 0; j < k; j++) {
                    double p = (double)qb_bf16_to_f32(a[i * k + j]) * qb_bf16_to_f32(qb_f32_to_bf16(w[c * k + j]));
                    exact += p;
                    mag += fabs(p);
                }
                double tol = (k + 1) * 0x1p-24 * mag + (with_bias ? fabs(bias[c]) * 0x1p-24 : 0) + 1e-30;
                if (fabs(got[i * n + c] - exact) > tol) {
                    fprintf(stderr, "bf16 %s m=%lld n=%lld k=%lld: y(%lld,%lld) = %.9g, exact %.9g, tol %.3g\n",
                            be->name, (long long)m, (long long)n, (long long)k, (long long)i, (long long)c,
                            got[i * n + c], exact, tol);
                    fail();
                }
            }
        if (strcmp(be->name, "ref") == 0 || strcmp(be->name, "avx2") == 0) {
            if (ordered) assert_memory_equal(first, got, (size_t)(m * n) * 4);
            else memcpy(first, got, (size_t)(m * n) * 4);
            ordered = be;
        }
    }
    qb_bf16weights_free(&pw);
    free(x), free(w), free(bias), free(a), free(got), free(first);
}

static void test_bf16_gemm_within_tolerance(void **state)
{
    (void)state;
    qb_rng r;
    qb_rng_seed(&r, 3);
    qb_pool *pool;
    assert_int_equal(qb_pool_create(&pool, 2, NULL, NULL), QB_OK);
    static const int64_t ms[] = {1, 2, 5, 6, 7, 20};
    static const int64_t ns[] = {1, 15, 16, 17, 64, 65, 130};
    static const int64_t ks[] = {1, 2, 3, 16, 33, 100, 301};
    for (int it = 0; it < 60; it++)
        run_case(&r, ms[qb_rng_below(&r, 6)], ns[qb_rng_below(&r, 7)], ks[qb_rng_below(&r, 7)], it % 2,
                 it % 3 ? NULL : pool);
    run_case(&r, 50, 200, 512, 1, pool);
    qb_pool_free(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bf16_conversion),
        cmocka_unit_test(test_bf16_gemm_within_tolerance),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("kernels_bf16", tests, NULL, NULL);
}
