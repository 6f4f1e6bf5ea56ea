/* The float formats' array encoder (minifloat.h qb_minifloat_rne_encode,
 * the quantizer library's fast path for fp16, bf16, fp8) against the
 * per-value definition qb_minifloat_encode(..., QB_DIR_NEAREST): the same
 * code and value (sign of zero included) at every code's value, its fp32
 * neighbours, every midpoint between neighbouring codes and its
 * neighbours (the ties), beyond the largest value, and on random bit
 * patterns; and qb_quantize / qb_fake_quantize, which now take it, against
 * the per-value path (qb_quantize_directed with nearest directions). */
#include "qb_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"
#include "rng.h"
#include "scheme.h"
#include "uniform_kernels.h"

static const qb_minifloat *const formats[] = {&qb_fp16, &qb_bf16, &qb_fp8_e4m3, &qb_fp8_e5m2};

static uint32_t bits_of(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static void same(const qb_minifloat *f, const qb_minifloat_rne *r, float x)
{
    if (isnan(x)) return;
    float v;
    uint32_t got = qb_minifloat_rne_encode(r, x, &v), want = qb_minifloat_encode(f, x, QB_DIR_NEAREST);
    if (got != want || bits_of(v) != bits_of(qb_minifloat_decode(f, want)))
        fail_msg("%s: x = %a: code 0x%x value %a, the definition gives 0x%x value %a", f->name, (double)x, got,
                 (double)v, want, (double)qb_minifloat_decode(f, want));
}

static void test_every_code_tie_and_neighbour(void **state)
{
    (void)state;
    for (size_t i = 0; i < QB_ARRAY_LEN(formats); i++) {
        const qb_minifloat *f = formats[i];
        qb_minifloat_rne r;
        qb_minifloat_rne_init(f, &r);
        uint32_t ncodes = 1u << (1 + f->ebits + f->mbits);
        float prev = 0.0f;
        for (uint32_t c = 0; c < ncodes / 2; c++) { /* positive codes in increasing order */
            float v = qb_minifloat_decode(f, c);
            if (!isfinite(v)) break;
            float mid = (float)(((double)prev + v) / 2); /* exact: one more bit than the format */
            float xs[] = {v, nextafterf(v, INFINITY), nextafterf(v, 0.0f), mid, nextafterf(mid, INFINITY),
                          nextafterf(mid, 0.0f)};
            for (size_t k = 0; k < QB_ARRAY_LEN(xs); k++) {
                same(f, &r, xs[k]);
                same(f, &r, -xs[k]);
            }
            prev = v;
        }
        float big[] = {f->max, nextafterf(f->max, INFINITY), f->max * 1.03f, f->max * 1.1f, 3e38f, INFINITY};
        for (size_t k = 0; k < QB_ARRAY_LEN(big); k++) {
            same(f, &r, big[k]);
            same(f, &r, -big[k]);
        }
    }
}

static void test_random_bit_patterns(void **state)
{
    (void)state;
    qb_rng g;
    qb_rng_seed(&g, 77);
    for (size_t i = 0; i < QB_ARRAY_LEN(formats); i++) {
        qb_minifloat_rne r;
        qb_minifloat_rne_init(formats[i], &r);
        for (int k = 0; k < 300000; k++) {
            uint32_t u = (uint32_t)qb_rng_u64(&g);
            float x;
            memcpy(&x, &u, sizeof x);
            same(formats[i], &r, x);
            same(formats[i], &r, qb_rng_normal(&g) * formats[i]->max / 64); /* inside the range */
        }
    }
}

/* The AVX-512 run (where this CPU has it) lane for lane against the scalar
 * encoder, with a scale, NaNs and a partial last vector. */
static void test_avx512_run_matches_scalar(void **state)
{
    (void)state;
    if (!qb_uniform_kernels_usable(&qb_uniform_avx512)) {
        print_message("  no AVX-512 here: nothing to compare\n");
        return;
    }
    enum { N = 4099 };
    static float x[N], y[N];
    static uint32_t c4[N];
    static uint16_t c2[N];
    static uint8_t c1[N];
    qb_rng g;
    qb_rng_seed(&g, 9);
    for (size_t fi = 0; fi < QB_ARRAY_LEN(formats); fi++) {
        qb_minifloat_rne r;
        qb_minifloat_rne_init(formats[fi], &r);
        const float scales[] = {1.0f, 0.37f, 3e-3f};
        for (size_t si = 0; si < QB_ARRAY_LEN(scales); si++) {
            for (int i = 0; i < N; i++) {
                uint32_t u = (uint32_t)qb_rng_u64(&g);
                if (i % 3) memcpy(&x[i], &u, sizeof u); /* any pattern, NaN included */
                else x[i] = qb_rng_normal(&g) * formats[fi]->max * scales[si] / 16;
            }
            int nan = qb_minifloat_rne_run_avx512(&r, x, N, scales[si], c4, 4, y), want_nan = 0;
            qb_minifloat_rne_run_avx512(&r, x, N, scales[si], c2, 2, NULL);
            qb_minifloat_rne_run_avx512(&r, x, N, scales[si], c1, 1, NULL);
            for (int i = 0; i < N; i++) {
                float v = 0.0f;
                uint32_t c = 0;
                if (isnan(x[i])) want_nan = 1;
                else c = qb_minifloat_rne_encode(&r, x[i] / scales[si], &v);
                if (c4[i] != c || c2[i] != (uint16_t)c || c1[i] != (uint8_t)c || bits_of(y[i]) != bits_of(v * scales[si]))
                    fail_msg("%s: x = %a / %g: AVX-512 code 0x%x value %a, scalar 0x%x value %a", formats[fi]->name,
                             (double)x[i], (double)scales[si], c4[i], (double)y[i], c, (double)(v * scales[si]));
            }
            assert_int_equal(nan, want_nan);
        }
    }
}

/* qb_quantize and qb_fake_quantize (fast path) against the per-value path. */
static void test_library_paths_agree(void **state)
{
    (void)state;
    const char *schemes[] = {"fp8-e4m3", "fp8-e5m2", "fp16", "bf16"};
    enum { ROWS = 8, COLS = 999 };
    static float x[ROWS * COLS], y1[ROWS * COLS], y2[ROWS * COLS];
    static int32_t q1[ROWS * COLS], q2[ROWS * COLS];
    static uint8_t dir[ROWS * COLS]; /* all QB_DIR_NEAREST */
    qb_rng g;
    qb_rng_seed(&g, 5);
    for (int i = 0; i < ROWS * COLS; i++) x[i] = qb_rng_normal(&g) * (float)(1 + i / COLS) * (i % 7 ? 1.0f : 1e-4f);
    x[3] = -0.0f;
    for (size_t s = 0; s < QB_ARRAY_LEN(schemes); s++) {
        const char *grans[] = {"tensor", "channel"};
        for (int gi = 0; gi < 2; gi++) {
            qb_quant_config c;
            assert_int_equal(qb_quant_config_parse(&c, schemes[s], 0, grans[gi], "minmax", "nearest"), QB_OK);
            qb_qparams p;
            int64_t shape[2] = {ROWS, COLS};
            assert_int_equal(qb_qparams_fit(&p, &c, x, 2, shape), QB_OK);
            assert_int_equal(qb_quantize(&p, x, ROWS * COLS, q1), QB_OK);
            assert_int_equal(qb_quantize_directed(&p, x, ROWS * COLS, dir, q2), QB_OK);
            assert_memory_equal(q1, q2, sizeof q1);
            assert_int_equal(qb_fake_quantize(&p, x, ROWS * COLS, y1), QB_OK);
            assert_int_equal(qb_dequantize(&p, q2, ROWS * COLS, y2), QB_OK);
            assert_memory_equal(y1, y2, sizeof y1);
            qb_qparams_free(&p);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_tie_and_neighbour),
        cmocka_unit_test(test_random_bit_patterns),
        cmocka_unit_test(test_avx512_run_matches_scalar),
        cmocka_unit_test(test_library_paths_agree),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("minifloat_rne", tests, NULL, NULL);
}
