/* fp16, bf16, fp8 e4m3fn and e5m2 codes: published values (OCP FP8 spec,
 * IEEE 754), every code round-trips, nearest-even ties, saturation, and
 * directed rounding brackets the value. */
#include "qb_test.h"

#include <math.h>
#include <string.h>

#include "minifloat.h"
#include "rng.h"
#include "status.h"

static void test_known_values(void **state)
{
    (void)state;
    /* OCP 8-bit floating point spec, table 1. */
    assert_int_equal(qb_minifloat_encode(&qb_fp8_e4m3, 448.0f, QB_DIR_NEAREST), 0x7E);
    assert_true(isnan(qb_minifloat_decode(&qb_fp8_e4m3, 0x7F)));
    assert_true(qb_minifloat_decode(&qb_fp8_e4m3, 0x01) == 0x1p-9f);
    assert_true(qb_minifloat_decode(&qb_fp8_e4m3, 0x08) == 0x1p-6f);
    assert_int_equal(qb_minifloat_encode(&qb_fp8_e4m3, 1.0f, QB_DIR_NEAREST), 0x38);
    assert_int_equal(qb_minifloat_encode(&qb_fp8_e5m2, 57344.0f, QB_DIR_NEAREST), 0x7B);
    assert_true(isinf(qb_minifloat_decode(&qb_fp8_e5m2, 0x7C)));
    assert_true(qb_minifloat_decode(&qb_fp8_e5m2, 0x01) == 0x1p-16f);
    assert_int_equal(qb_minifloat_encode(&qb_fp8_e5m2, 1.0f, QB_DIR_NEAREST), 0x3C);
    /* IEEE half. */
    assert_int_equal(qb_minifloat_encode(&qb_fp16, 65504.0f, QB_DIR_NEAREST), 0x7BFF);
    assert_int_equal(qb_minifloat_encode(&qb_fp16, 1.0f, QB_DIR_NEAREST), 0x3C00);
    assert_int_equal(qb_minifloat_encode(&qb_fp16, 0x1p-24f, QB_DIR_NEAREST), 0x0001);
    assert_int_equal(qb_minifloat_encode(&qb_fp16, -2.0f, QB_DIR_NEAREST), 0xC000);
    assert_int_equal(qb_minifloat_encode(&qb_fp16, -0.0f, QB_DIR_NEAREST), 0x8000);
    /* bfloat16: the top half of a float. */
    assert_int_equal(qb_minifloat_encode(&qb_bf16, 1.0f, QB_DIR_NEAREST), 0x3F80);
    assert_int_equal(qb_minifloat_encode(&qb_bf16, -3.0f, QB_DIR_NEAREST), 0xC040);
}

static void test_ties_to_even_and_saturation(void **state)
{
    (void)state;
    /* e4m3 around 1: spacing 1/8. 1.0625 is halfway 1 | 1.125: even is 1. */
    assert_true(qb_minifloat_decode(&qb_fp8_e4m3, qb_minifloat_encode(&qb_fp8_e4m3, 1.0625f, QB_DIR_NEAREST)) == 1.0f);
    assert_true(qb_minifloat_decode(&qb_fp8_e4m3, qb_minifloat_encode(&qb_fp8_e4m3, 1.1875f, QB_DIR_NEAREST)) == 1.25f);
    /* fp16: 1 + 2^-11 is halfway 1 | 1 + 2^-10: even is 1. */
    assert_int_equal(qb_minifloat_encode(&qb_fp16, 1.0f + 0x1p-11f, QB_DIR_NEAREST), 0x3C00);
    assert_int_equal(qb_minifloat_encode(&qb_fp16, 1.0f + 3 * 0x1p-11f, QB_DIR_NEAREST), 0x3C02);
    /* Rounding up past the largest finite value saturates instead of Inf. */
    assert_int_equal(qb_minifloat_encode(&qb_fp16, 65520.0f, QB_DIR_NEAREST), 0x7BFF);
    assert_int_equal(qb_minifloat_encode(&qb_fp16, 1e30f, QB_DIR_UP), 0x7BFF);
    assert_int_equal(qb_minifloat_encode(&qb_fp16, -INFINITY, QB_DIR_NEAREST), 0xFBFF);
    assert_int_equal(qb_minifloat_encode(&qb_fp8_e4m3, 464.0f, QB_DIR_NEAREST), 0x7E);
    assert_int_equal(qb_minifloat_encode(&qb_fp8_e4m3, INFINITY, QB_DIR_NEAREST), 0x7E);
    assert_int_equal(qb_minifloat_encode(&qb_fp8_e5m2, -1e9f, QB_DIR_NEAREST), 0xFB);
    assert_int_equal(qb_minifloat_encode(&qb_bf16, INFINITY, QB_DIR_NEAREST), 0x7F7F);
    assert_true(isnan(qb_minifloat_decode(&qb_fp8_e4m3, qb_minifloat_encode(&qb_fp8_e4m3, NAN, QB_DIR_NEAREST))));
    assert_true(isnan(qb_minifloat_decode(&qb_fp16, qb_minifloat_encode(&qb_fp16, NAN, QB_DIR_NEAREST))));
}

static const qb_minifloat *const formats[] = {&qb_fp16, &qb_bf16, &qb_fp8_e4m3, &qb_fp8_e5m2};

/* Every finite code decodes to a value that encodes back to it. */
static void test_all_codes_round_trip(void **state)
{
    (void)state;
    for (size_t f = 0; f < QB_ARRAY_LEN(formats); f++) {
        const qb_minifloat *fmt = formats[f];
        uint32_t ncodes = 1u << (1 + fmt->ebits + fmt->mbits);
        for (uint32_t c = 0; c < ncodes; c++) {
            float v = qb_minifloat_decode(fmt, c);
            if (!isfinite(v)) continue;
            for (int dir = QB_DIR_NEAREST; dir <= QB_DIR_UP; dir++)
                if (qb_minifloat_encode(fmt, v, (qb_round_dir)dir) != c)
                    fail_msg("%s code 0x%x (%g) dir %d -> 0x%x", fmt->name, c, v, dir,
                             qb_minifloat_encode(fmt, v, (qb_round_dir)dir));
        }
    }
}

/* Random floats: DOWN <= x <= UP are adjacent levels, NEAREST is the closer
 * of the two, and bf16 matches the usual bit trick. */
static void test_random_values_bracketed(void **state)
{
    (void)state;
    qb_rng r;
    qb_rng_seed(&r, 42);
    for (size_t f = 0; f < QB_ARRAY_LEN(formats); f++) {
        const qb_minifloat *fmt = formats[f];
        for (int i = 0; i < 200000; i++) {
            /* Log-uniform magnitudes across the format's range. */
            float x = ldexpf(qb_rng_uniform(&r) + 0.5f, (int)qb_rng_below(&r, 40) - 30);
            if (fmt == &qb_bf16) x = ldexpf(qb_rng_uniform(&r) + 0.5f, (int)qb_rng_below(&r, 250) - 130);
            if (qb_rng_u64(&r) & 1) x = -x;
            if (fabsf(x) >= fmt->max) continue;
            float dn = qb_minifloat_decode(fmt, qb_minifloat_encode(fmt, x, QB_DIR_DOWN));
            float up = qb_minifloat_decode(fmt, qb_minifloat_encode(fmt, x, QB_DIR_UP));
            float ne = qb_minifloat_decode(fmt, qb_minifloat_encode(fmt, x, QB_DIR_NEAREST));
            if (!(dn <= x && x <= up)) fail_msg("%s: %g not in [%g, %g]", fmt->name, x, dn, up);
            if (dn != up) {
                /* Nothing representable strictly between dn and up. */
                float mid = qb_minifloat_decode(fmt, qb_minifloat_encode(fmt, dn + (up - dn) * 0.25f, QB_DIR_UP));
                assert_true(mid == up || mid == dn);
            }
            double e = fabs((double)ne - x);
            assert_true(e <= fabs((double)dn - x) && e <= fabs((double)up - x));
            if (fmt == &qb_bf16) {
                uint32_t u;
                memcpy(&u, &x, sizeof u);
                uint32_t want = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
                assert_int_equal(qb_minifloat_encode(fmt, x, QB_DIR_NEAREST), want);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_values),
        cmocka_unit_test(test_ties_to_even_and_saturation),
        cmocka_unit_test(test_all_codes_round_trip),
        cmocka_unit_test(test_random_values_bracketed),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("quant_floats", tests, NULL, NULL);
}
