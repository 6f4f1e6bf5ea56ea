/* Backend selection (cpuid/XGETBV, QBENCH_BACKEND, the QBENCH_HIDE_ISA test
 * hook) and the bench-kernels command end to end. */
#include "qb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

static void test_select_by_name_and_best(void **state)
{
    (void)state;
    const qb_backend *b;
    unsetenv("QBENCH_BACKEND");
    assert_int_equal(qb_backend_select(NULL, &b), QB_OK);
    assert_ptr_equal(b, qb_backend_best());
    assert_null(qb_backend_missing_isa(b));
    /* the best has the highest score among the supported ones */
    for (int i = 0; i < qb_backend_count(); i++)
        if (!qb_backend_missing_isa(qb_backend_at(i))) assert_true(qb_backend_at(i)->score <= b->score);
    assert_int_equal(qb_backend_select("ref", &b), QB_OK);
    assert_string_equal(b->name, "ref");
    assert_null(qb_backend_missing_isa(b)); /* the reference runs anywhere */
    setenv("QBENCH_BACKEND", "ref", 1);
    assert_int_equal(qb_backend_select(NULL, &b), QB_OK);
    assert_string_equal(b->name, "ref");
    setenv("QBENCH_BACKEND", "sse9", 1);
    assert_int_equal(qb_backend_select(NULL, &b), QB_ERR_ARG);
    assert_null(b);
    assert_non_null(strstr(qb_last_error(), "QBENCH_BACKEND=sse9"));
    assert_non_null(strstr(qb_last_error(), "avx512-vnni, avx2, ref"));
    unsetenv("QBENCH_BACKEND");
    /* every backend lists what it needs; a missing one is named */
    for (int i = 0; i < qb_backend_count(); i++) {
        const qb_backend *x = qb_backend_at(i);
        const char *miss = qb_backend_missing_isa(x);
        if (miss) {
            assert_int_equal(qb_backend_select(x->name, &b), QB_ERR_UNSUPPORTED);
            assert_non_null(strstr(qb_last_error(), miss));
        }
    }
}

static void test_forced_backend_without_isa_exits_2(void **state)
{
    (void)state;
    char *out = NULL;
    /* pretend the CPU lacks VNNI: forcing the AVX-512 backend must fail
     * cleanly, naming the instruction set, instead of dying on SIGILL */
    setenv("QBENCH_HIDE_ISA", "AVX512_VNNI", 1);
    setenv("QBENCH_BACKEND", "avx512-vnni", 1);
    assert_int_equal(qb_test_run_qbench(&out, "bench-kernels --quick"), 2);
    assert_non_null(strstr(out, "AVX512_VNNI is missing"));
    free(out);
    assert_int_equal(qb_test_run_qbench(&out, "backends"), 2);
    assert_non_null(strstr(out, "unsupported: needs"));
    free(out);
    setenv("QBENCH_HIDE_ISA", "avx2", 1);
    setenv("QBENCH_BACKEND", "avx2", 1);
    assert_int_equal(qb_test_run_qbench(&out, "bench-kernels --quick"), 2);
    assert_non_null(strstr(out, "AVX2 is missing"));
    free(out);
    /* without the variable the best remaining backend is used */
    unsetenv("QBENCH_BACKEND");
    setenv("QBENCH_HIDE_ISA", "AVX512_VNNI,AVX2", 1);
    assert_int_equal(qb_test_run_qbench(&out, "backends"), 0);
    assert_non_null(strstr(out, "* ref"));
    free(out);
    unsetenv("QBENCH_HIDE_ISA");
    setenv("QBENCH_BACKEND", "nope", 1);
    assert_int_equal(qb_test_run_qbench(&out, "backends"), 2);
    assert_non_null(strstr(out, "no such backend"));
    free(out);
    unsetenv("QBENCH_BACKEND");
}

static void test_bench_kernels_csv(void **state)
{
    (void)state;
    char *out = NULL;
    unsetenv("QBENCH_BACKEND");
    assert_int_equal(qb_test_run_qbench(&out, "bench-kernels --quick --threads 1 --format csv"), 0);
    assert_non_null(out);
    assert_true(strncmp(out, "shape,source,kind,m,n,k,impl,dtype,threads,median_us,gops,vs_fp32,vs_onednn", 75) == 0);
    /* each implementation of the quick shapes has a row with a positive rate */
    static const char *const rows[] = {"mlp-fc1-b64,mlp,gemm,64,512,784,openblas-fp32,fp32,1,",
                                       "mlp-fc1-b64,mlp,gemm,64,512,784,onednn-int8,int8,1,",
                                       "mlp-fc1-b64,mlp,gemm,64,512,784,qbench-int8,int8,1,",
                                       "mlp-fc1-b64,mlp,gemm,64,512,784,qbench-int4,int4,1,",
                                       "mlp-fc1-b64,mlp,gemm,64,512,784,qbench-binary,binary,1,",
                                       "lenet-conv2-b64,lenet,conv,6400,64,800,qbench-int8,int8,1,"};
    for (size_t i = 0; i < QB_ARRAY_LEN(rows); i++) {
        const char *r = strstr(out, rows[i]);
        assert_non_null(r);
        double us = atof(r + strlen(rows[i]));
        assert_true(us > 0);
        int commas = 0;
        for (const char *p = r; *p && *p != '\n'; p++) commas += *p == ',';
        assert_int_equal(commas, 17);
    }
    /* int8 weights take a quarter of fp32's bytes (weight_vs_fp32 column) */
    const char *q = strstr(out, "qbench-int8,int8,1,");
    int col = 0;
    while (col < 8 && (q = strchr(q, ','))) q++, col++; /* impl .. weight_vs_fp32 */
    assert_non_null(q);
    assert_true(atof(q) > 0.24 && atof(q) < 0.26);
    free(out);
}

/* --layers: the per-layer table of an end-to-end model, fp32 engine and
 * int8 executor side by side, with what the executor does at each layer. */
static void test_bench_kernels_layers(void **state)
{
    (void)state;
    char *out = NULL;
    unsetenv("QBENCH_BACKEND");
    assert_int_equal(qb_test_run_qbench(&out, "bench-kernels --threads 1 --no-memory --shapes mlp --impls engine "
                                              "--model-batch 8 --min-time 0.02 --layers"), 0);
    const char *t = strstr(out, "per-layer time of mlp-e2e-b8, 1 thread");
    assert_non_null(t);
    static const char *const rows[] = {"(input)", "fc1 ", "relu1 ", "fc2 ", "fc3 ", "total "};
    for (size_t i = 0; i < QB_ARRAY_LEN(rows); i++) assert_non_null(strstr(t, rows[i]));
    assert_non_null(strstr(t, "fused into its producer"));   /* relu1 in fc1's clamp */
    assert_non_null(strstr(t, "int8 -> codes"));             /* fc1 requantized for fc2 */
    /* fc1's line: both engines took time, and a ratio */
    const char *fc1 = strstr(t, "\n  fc1 ");
    assert_non_null(fc1);
    double f32_us = 0, f32_share = 0, i8_us = 0;
    assert_int_equal(sscanf(fc1, " fc1 dense %lf %lf%% %lf", &f32_us, &f32_share, &i8_us), 3);
    assert_true(f32_us > 0 && i8_us > 0);
    free(out);
    assert_int_equal(qb_test_run_qbench(&out, "bench-kernels --layers --format csv"), 2);
    assert_non_null(strstr(out, "--layers"));
    free(out);
}

static void test_bench_kernels_bad_flags(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(qb_test_run_qbench(&out, "bench-kernels --format xml"), 2);
    assert_non_null(strstr(out, "--format"));
    free(out);
    assert_int_equal(qb_test_run_qbench(&out, "bench-kernels --threads -3"), 2);
    assert_non_null(strstr(out, "--threads"));
    free(out);
    assert_int_equal(qb_test_run_qbench(&out, "bench-kernels --min-time 0"), 2);
    assert_non_null(strstr(out, "--min-time"));
    free(out);
    assert_int_equal(qb_test_run_qbench(&out, "bench-kernels --backend sse9"), 2);
    assert_non_null(strstr(out, "no such backend"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select_by_name_and_best),
        cmocka_unit_test(test_forced_backend_without_isa_exits_2),
        cmocka_unit_test(test_bench_kernels_csv),
        cmocka_unit_test(test_bench_kernels_layers),
        cmocka_unit_test(test_bench_kernels_bad_flags),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("kernels_backend", tests, NULL, NULL);
}
