/* The quantizer API around the schemes: names and their error messages,
 * block layouts, the fast kernels against the scalar reference, fused
 * fake-quantize against quantize + dequantize, NaN refusal, sizes, packing. */
#include "qb_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pack.h"
#include "quant.h"
#include "rng.h"
#include "uniform_kernels.h"

#define assert_error_has(text) \
    do { if (!strstr(qb_last_error(), text)) fail_msg("'%s' lacks '%s'", qb_last_error(), text); } while (0)

static void test_names_and_messages(void **state)
{
    (void)state;
    assert_ptr_equal(qb_scheme_find("uniform-sym"), &qb_scheme_uniform_sym);
    assert_null(qb_scheme_find("foo"));
    assert_string_equal(qb_last_error(), "unknown scheme 'foo' (known: uniform-asym, uniform-sym, pow2, "
                        "kmeans, binary, ternary, fp16, bf16, fp8-e4m3, fp8-e5m2)");
    assert_int_equal(qb_scheme_check_bits(&qb_scheme_binary, 4), QB_ERR_ARG);
    assert_string_equal(qb_last_error(), "scheme 'binary' does not take 4 bits (it takes 1)");
    assert_int_equal(qb_scheme_check_bits(&qb_scheme_uniform_sym, 1), QB_ERR_ARG);
    assert_error_has("(it takes 2-8)");
    assert_int_equal(qb_scheme_check_bits(&qb_scheme_fp8_e4m3, 8), QB_OK);
    for (int i = 0; i < qb_schemes_count(); i++) {
        const qb_scheme *s = qb_scheme_at(i);
        assert_ptr_equal(qb_scheme_find(s->name), s);
        assert_ptr_equal(qb_scheme_get(s->id), s);
        assert_true(qb_scheme_accepts_bits(s, s->default_bits));
    }

    qb_granularity g;
    assert_int_equal(qb_granularity_parse("group:32", &g), QB_OK);
    assert_int_equal(g.kind, QB_GRAN_GROUP);
    assert_int_equal(g.group, 32);
    assert_int_equal(g.axis, -1);
    assert_int_equal(qb_granularity_parse("channel", &g), QB_OK);
    assert_int_equal(g.axis, 0);
    const char *bad_gran[] = {"group", "group:0", "group:x", "row", ""};
    for (size_t i = 0; i < QB_ARRAY_LEN(bad_gran); i++) {
        assert_int_equal(qb_granularity_parse(bad_gran[i], &g), QB_ERR_ARG);
        assert_error_has("group:32");
    }

    qb_calib c;
    char buf[64];
    assert_int_equal(qb_calib_parse("percentile:99.9", &c), QB_OK);
    assert_true(c.method == QB_CALIB_PERCENTILE && c.percentile == 99.9);
    assert_string_equal(qb_calib_str(&c, buf, sizeof buf), "percentile:99.9");
    assert_int_equal(qb_calib_parse("percentile", &c), QB_ERR_ARG);
    assert_error_has("percentile:99.9");
    assert_int_equal(qb_calib_parse("percentile:40", &c), QB_ERR_ARG);
    assert_error_has("50 < P <= 100");
    assert_int_equal(qb_calib_parse("entropy", &c), QB_ERR_ARG);
    assert_error_has("unknown calibration 'entropy' (use minmax, percentile:P");

    qb_rounding r;
    assert_int_equal(qb_rounding_parse("stochastic:9", &r), QB_OK);
    assert_true(r.mode == QB_ROUND_STOCHASTIC && r.seed == 9);
    assert_int_equal(qb_rounding_parse("up", &r), QB_ERR_ARG);
    assert_error_has("nearest, stochastic");

    qb_quant_config cfg;
    assert_int_equal(qb_quant_config_parse(&cfg, "uniform-sym", 4, "group:16", "mse", "nearest"), QB_OK);
    assert_string_equal(qb_quant_config_str(&cfg, buf, sizeof buf),
                        "uniform-sym 4-bit, group:16 (axis -1), mse, nearest");
    assert_int_equal(qb_quant_config_parse(&cfg, "ternary", 3, NULL, NULL, NULL), QB_ERR_ARG);
    assert_error_has("does not take 3 bits (it takes 2)");
    assert_int_equal(qb_quant_config_parse(&cfg, "nope", 0, NULL, NULL, NULL), QB_ERR_ARG);
    assert_error_has("unknown scheme 'nope'");
    qb_quant_config_init(&cfg, &qb_scheme_uniform_asym);
    cfg.narrow_range = 1;
    assert_int_equal(qb_quant_config_check(&cfg), QB_ERR_ARG);
    assert_error_has("narrow range applies only to uniform-sym");
}

static void test_layouts(void **state)
{
    (void)state;
    qb_quant_config c;
    qb_quant_config_init(&c, &qb_scheme_uniform_sym);
    qb_qparams p;
    const int64_t shape[3] = {4, 6, 5};
    c.gran.kind = QB_GRAN_CHANNEL;
    c.gran.axis = -2;
    assert_int_equal(qb_qparams_alloc(&p, &c, 3, shape), QB_OK);
    assert_int_equal(p.gran.axis, 1);
    assert_true(p.outer == 4 && p.channels == 6 && p.inner == 5 && p.nblocks == 6);
    assert_true(p.pndim == 1 && p.pshape[0] == 6);
    assert_int_equal(qb_qparams_block_of(&p, (2 * 6 + 3) * 5 + 4), 3);
    qb_qparams_free(&p);

    c.gran.kind = QB_GRAN_GROUP;
    c.gran.group = 4;
    c.gran.axis = 1;
    assert_int_equal(qb_qparams_alloc(&p, &c, 3, shape), QB_OK);
    assert_true(p.groups == 2 && p.nblocks == 4 * 2 * 5);
    assert_true(p.pndim == 3 && p.pshape[0] == 4 && p.pshape[1] == 2 && p.pshape[2] == 5);
    assert_int_equal(qb_qparams_block_of(&p, (2 * 6 + 5) * 5 + 4), (2 * 2 + 1) * 5 + 4);
    qb_qparams_free(&p);

    c.gran.axis = 3;
    assert_int_equal(qb_qparams_alloc(&p, &c, 3, shape), QB_ERR_ARG);
    assert_error_has("axis 3 is out of range for shape (4, 6, 5)");
    c.gran.kind = QB_GRAN_CHANNEL;
    c.gran.axis = 0;
    assert_int_equal(qb_qparams_alloc(&p, &c, 0, NULL), QB_ERR_ARG);
    assert_error_has("scalar");
}

/* Every granularity/axis combination: qb_fake_quantize must use, for each
 * element, the block qb_qparams_block_of names (distinct random params). */
static void test_runs_match_block_of(void **state)
{
    (void)state;
    const int64_t shape[3] = {3, 7, 4};
    const int64_t n = 3 * 7 * 4;
    qb_rng r;
    qb_rng_seed(&r, 3);
    float x[3 * 7 * 4], y[3 * 7 * 4];
    for (int64_t i = 0; i < n; i++) x[i] = qb_rng_normal(&r) * 3;
    const qb_scheme *schemes[] = {&qb_scheme_uniform_asym, &qb_scheme_pow2, &qb_scheme_fp8_e4m3};
    const struct { qb_gran_kind k; int axis; int64_t group; } grans[] = {
        {QB_GRAN_TENSOR, 0, 0}, {QB_GRAN_CHANNEL, 0, 0}, {QB_GRAN_CHANNEL, 1, 0}, {QB_GRAN_CHANNEL, 2, 0},
        {QB_GRAN_GROUP, 0, 2}, {QB_GRAN_GROUP, 1, 3}, {QB_GRAN_GROUP, 2, 4}, {QB_GRAN_GROUP, 2, 3},
    };
    for (size_t si = 0; si < QB_ARRAY_LEN(schemes); si++)
        for (size_t gi = 0; gi < QB_ARRAY_LEN(grans); gi++) {
            qb_quant_config c;
            qb_quant_config_init(&c, schemes[si]);
            c.gran.kind = grans[gi].k;
            c.gran.axis = grans[gi].axis;
            c.gran.group = grans[gi].group;
            qb_qparams p;
            assert_int_equal(qb_qparams_alloc(&p, &c, 3, shape), QB_OK);
            for (int64_t b = 0; b < p.nblocks; b++) {
                p.scale[b] = schemes[si]->id == QB_SCHEME_POW2 ? ldexpf(1, (int)qb_rng_below(&r, 4)) : 0.01f + qb_rng_uniform(&r);
                if (p.zero_point) p.zero_point[b] = (int32_t)qb_rng_below(&r, 256);
            }
            assert_int_equal(qb_fake_quantize(&p, x, n, y), QB_OK);
            for (int64_t i = 0; i < n; i++) {
                qb_block b = qb_qparams_block(&p, qb_qparams_block_of(&p, i));
                float want = schemes[si]->dequantize(schemes[si]->quantize(x[i], &b, QB_DIR_NEAREST), &b);
                if (want != y[i]) fail_msg("%s gran %zu: element %lld", schemes[si]->name, gi, (long long)i);
            }
            qb_qparams_free(&p);
        }
}

/* Every kernel variant this CPU can run equals the reference bit for bit,
 * on ties, huge values, infinities and every tail length. */
static void test_kernels_match_reference(void **state)
{
    (void)state;
    const qb_uniform_kernels *variants[] = {&qb_uniform_avx2, &qb_uniform_avx512};
    enum { N = 203 };
    float x[N], s[N], y0[N], y1[N];
    int32_t zp[N], q0[N], q1[N];
    qb_rng r;
    qb_rng_seed(&r, 5);
    for (int i = 0; i < N; i++) {
        s[i] = 0.001f + qb_rng_uniform(&r);
        zp[i] = (int32_t)qb_rng_below(&r, 256) - 128;
        x[i] = qb_rng_normal(&r) * 100;
        if (i % 5 == 0) x[i] = ((float)(int)qb_rng_below(&r, 300) - 150 + 0.5f) * 0.25f; /* ties at s = 0.25 */
    }
    x[7] = INFINITY;
    x[8] = -INFINITY;
    x[9] = 1e30f;
    x[10] = -0.0f;
    int tested = 0;
    for (size_t v = 0; v < QB_ARRAY_LEN(variants); v++) {
        const qb_uniform_kernels *k = variants[v];
        if (!qb_uniform_kernels_usable(k)) continue;
        tested++;
        for (int n = 0; n <= N; n += n < 40 ? 1 : 37) {
            assert_int_equal(k->fake(x, y1, n, 0.25f, 3, 0, 255), qb_uniform_ref.fake(x, y0, n, 0.25f, 3, 0, 255));
            assert_memory_equal(y0, y1, (size_t)n * sizeof *y0);
            k->fake_vec(x, y1, n, s, zp, -128, 127);
            qb_uniform_ref.fake_vec(x, y0, n, s, zp, -128, 127);
            assert_memory_equal(y0, y1, (size_t)n * sizeof *y0);
            k->quant(x, q1, n, 0.25f, -7, -8, 7);
            qb_uniform_ref.quant(x, q0, n, 0.25f, -7, -8, 7);
            assert_memory_equal(q0, q1, (size_t)n * sizeof *q0);
            k->quant_vec(x, q1, n, s, zp, -128, 127);
            qb_uniform_ref.quant_vec(x, q0, n, s, zp, -128, 127);
            assert_memory_equal(q0, q1, (size_t)n * sizeof *q0);
            assert_int_equal(k->dequant(q0, y1, n, 0.3f, 5, -128, 127), 0);
            qb_uniform_ref.dequant(q0, y0, n, 0.3f, 5, -128, 127);
            assert_memory_equal(y0, y1, (size_t)n * sizeof *y0);
            assert_int_equal(k->dequant_vec(q0, y1, n, s, zp, -128, 127), 0);
            qb_uniform_ref.dequant_vec(q0, y0, n, s, zp, -128, 127);
            assert_memory_equal(y0, y1, (size_t)n * sizeof *y0);
            if (n > 0) { /* a code out of range is reported, wherever it sits */
                int32_t keep = q0[n - 1];
                q0[n - 1] = 128;
                assert_int_equal(k->dequant(q0, y1, n, 0.3f, 5, -128, 127), 1);
                assert_int_equal(k->dequant_vec(q0, y1, n, s, zp, -128, 127), 1);
                q0[n - 1] = keep;
            }
        }
        float nanx[20] = {0};
        nanx[17] = NAN;
        assert_int_equal(k->fake(nanx, y1, 20, 1.0f, 0, 0, 255), 1);
        assert_int_equal(k->quant_vec(nanx, q1, 20, s, zp, 0, 255), 1);
    }
    print_message("uniform kernels: best is %s, %d SIMD variant(s) checked\n",
                  qb_uniform_kernels_best()->name, tested);
}

/* Fake-quantize equals dequantize(quantize) bit for bit, for every scheme,
 * nearest and stochastic, per channel. */
static void test_fake_equals_two_steps(void **state)
{
    (void)state;
    const int64_t shape[2] = {6, 50}, n = 300;
    float x[300], y[300], z[300];
    int32_t q[300];
    qb_rng r;
    qb_rng_seed(&r, 8);
    for (int i = 0; i < n; i++) x[i] = qb_rng_normal(&r) * (1 + i / 50);
    for (int i = 0; i < qb_schemes_count(); i++) {
        for (int mode = 0; mode < 2; mode++) {
            qb_quant_config c;
            qb_quant_config_init(&c, qb_scheme_at(i));
            c.gran.kind = QB_GRAN_CHANNEL;
            c.rounding.mode = mode ? QB_ROUND_STOCHASTIC : QB_ROUND_NEAREST;
            c.rounding.seed = 4;
            qb_qparams p;
            assert_int_equal(qb_qparams_fit(&p, &c, x, 2, shape), QB_OK);
            assert_int_equal(qb_fake_quantize(&p, x, n, y), QB_OK);
            assert_int_equal(qb_quantize(&p, x, n, q), QB_OK);
            assert_int_equal(qb_dequantize(&p, q, n, z), QB_OK);
            if (memcmp(y, z, sizeof y) != 0) fail_msg("%s mode %d", qb_scheme_at(i)->name, mode);
            /* In place gives the same. */
            memcpy(z, x, sizeof z);
            assert_int_equal(qb_fake_quantize(&p, z, n, z), QB_OK);
            assert_memory_equal(y, z, sizeof y);
            qb_qparams_free(&p);
        }
    }
}

/* Narrow code arrays give the same codes and values as int32 ones, for
 * every scheme (affine ones go through the chunked fast path). */
static void test_codes_in_narrow_dtypes(void **state)
{
    (void)state;
    enum { N = 5000 };
    static float x[N], y0[N], y1[N];
    static int32_t q[N];
    static int16_t q16[N];
    static uint8_t q8[N];
    const int64_t shape[2] = {2, N / 2};
    qb_rng r;
    qb_rng_seed(&r, 12);
    for (int i = 0; i < N; i++) x[i] = qb_rng_normal(&r);
    for (int i = 0; i < qb_schemes_count(); i++) {
        const qb_scheme *s = qb_scheme_at(i);
        qb_quant_config c;
        qb_quant_config_init(&c, s);
        c.gran.kind = QB_GRAN_CHANNEL;
        qb_qparams p;
        assert_int_equal(qb_qparams_fit(&p, &c, x, 2, shape), QB_OK);
        qb_dtype dt = qb_scheme_code_dtype(s, c.bits);
        void *narrow = qb_dtype_size(dt) == 1 ? (void *)q8 : (void *)q16;
        assert_int_equal(qb_quantize(&p, x, N, q), QB_OK);
        assert_int_equal(qb_quantize_to(&p, x, N, dt, narrow), QB_OK);
        for (int j = 0; j < N; j++) {
            int32_t c8 = dt == QB_I8 ? (int8_t)q8[j] : dt == QB_U8 ? q8[j] : dt == QB_I16 ? q16[j] : (uint16_t)q16[j];
            if (c8 != q[j]) fail_msg("%s: code %d vs %d at %d", s->name, c8, q[j], j);
        }
        assert_int_equal(qb_dequantize(&p, q, N, y0), QB_OK);
        assert_int_equal(qb_dequantize_from(&p, dt, narrow, N, y1), QB_OK);
        assert_memory_equal(y0, y1, sizeof y0);
        qb_qparams_free(&p);
    }
    qb_quant_config c;
    assert_int_equal(qb_quant_config_parse(&c, "uniform-sym", 8, NULL, NULL, NULL), QB_OK);
    qb_qparams p;
    int64_t n = N;
    assert_int_equal(qb_qparams_fit(&p, &c, x, 1, &n), QB_OK);
    assert_int_equal(qb_quantize_to(&p, x, N, QB_U8, q8), QB_ERR_ARG);
    assert_error_has("uniform-sym 8-bit codes (-128..127) do not fit uint8; use int8");
    assert_int_equal(qb_quantize_to(&p, x, N, QB_F32, q8), QB_ERR_UNSUPPORTED);
    qb_qparams_free(&p);
}

static void test_nan_inf_and_bad_codes(void **state)
{
    (void)state;
    const int64_t shape[2] = {2, 3};
    float x[6] = {1, 2, 3, 4, NAN, 6}, y[6];
    int32_t q[6];
    qb_quant_config c;
    qb_quant_config_init(&c, &qb_scheme_uniform_sym);
    qb_qparams p;
    assert_int_equal(qb_qparams_fit(&p, &c, x, 2, shape), QB_ERR_ARG);
    assert_error_has("value 4 (1, 1) is NaN");
    x[4] = 5;
    assert_int_equal(qb_qparams_fit(&p, &c, x, 2, shape), QB_OK);
    x[4] = NAN;
    assert_int_equal(qb_fake_quantize(&p, x, 6, y), QB_ERR_ARG);
    assert_error_has("value 4 (1, 1) is NaN");
    assert_int_equal(qb_quantize(&p, x, 6, q), QB_ERR_ARG);
    /* Infinities are ignored by the fit and saturate. */
    x[4] = INFINITY;
    x[0] = -INFINITY;
    qb_qparams_free(&p);
    assert_int_equal(qb_qparams_fit(&p, &c, x, 2, shape), QB_OK);
    assert_true(p.scale[0] == 6.0f / 127);
    assert_int_equal(qb_quantize(&p, x, 6, q), QB_OK);
    assert_int_equal(q[4], 127);
    assert_int_equal(q[0], -128);
    q[2] = 300;
    assert_int_equal(qb_dequantize(&p, q, 6, y), QB_ERR_ARG);
    assert_error_has("code 300 at index 2 is not a uniform-sym 8-bit code (valid: -128..127)");
    qb_qparams_free(&p);

    qb_quant_config_init(&c, &qb_scheme_binary);
    assert_int_equal(qb_qparams_alloc(&p, &c, 2, shape), QB_OK);
    int32_t bq[6] = {1, -1, 0, 1, 1, 1};
    assert_int_equal(qb_dequantize(&p, bq, 6, y), QB_ERR_ARG);
    assert_error_has("in steps of 2");
    qb_qparams_free(&p);
}

/* Per-channel parameters apply to any batch of whole channels; group ones
 * only to their shape. */
static void test_batch_sizes(void **state)
{
    (void)state;
    const int64_t shape[2] = {1, 4};
    float x[12] = {1, -2, 3, -4, 0.5f, 1, 1.5f, 2, -1, -1, -1, -1}, y[12];
    qb_quant_config c;
    qb_quant_config_init(&c, &qb_scheme_uniform_sym);
    c.gran.kind = QB_GRAN_CHANNEL;
    c.gran.axis = 1;
    qb_qparams p;
    assert_int_equal(qb_qparams_fit(&p, &c, x, 2, shape), QB_OK);
    assert_int_equal(qb_fake_quantize(&p, x, 12, y), QB_OK);
    assert_true(y[0] == 1 && y[3] == -4);
    assert_int_equal(qb_fake_quantize(&p, x, 10, y), QB_ERR_ARG);
    assert_error_has("a multiple of 4 values");
    qb_qparams_free(&p);
    c.gran.kind = QB_GRAN_GROUP;
    c.gran.group = 2;
    assert_int_equal(qb_qparams_fit(&p, &c, x, 2, shape), QB_OK);
    assert_int_equal(qb_fake_quantize(&p, x, 8, y), QB_ERR_ARG);
    assert_error_has("do not match the group parameters made for shape (1, 4)");
    qb_qparams_free(&p);
}

/* ONNX DynamicQuantizeLinear's formulas, by hand. */
static void test_asym_minmax_fit(void **state)
{
    (void)state;
    float x[4] = {-1.0f, 0.5f, 2.0f, 0.25f};
    int64_t n = 4;
    qb_quant_config c;
    qb_quant_config_init(&c, &qb_scheme_uniform_asym);
    qb_qparams p;
    assert_int_equal(qb_qparams_fit(&p, &c, x, 1, &n), QB_OK);
    float scale = 3.0f / 255.0f;
    assert_true(p.scale[0] == scale);
    assert_int_equal(p.zero_point[0], (int32_t)rintf(0.0f - -1.0f / scale));
    qb_qparams_free(&p);
    /* Positive data still has 0 in range (zero point 0); all zeros gives scale 1. */
    float pos[3] = {1, 2, 4}, zeros[3] = {0, 0, 0};
    n = 3;
    assert_int_equal(qb_qparams_fit(&p, &c, pos, 1, &n), QB_OK);
    assert_int_equal(p.zero_point[0], 0);
    assert_true(p.scale[0] == 4.0f / 255.0f);
    qb_qparams_free(&p);
    assert_int_equal(qb_qparams_fit(&p, &c, zeros, 1, &n), QB_OK);
    assert_true(p.scale[0] == 1.0f && p.zero_point[0] == 0);
    qb_qparams_free(&p);
}

static void test_directed_rounding(void **state)
{
    (void)state;
    qb_quant_config c;
    qb_quant_config_init(&c, &qb_scheme_uniform_sym);
    qb_qparams p;
    assert_int_equal(qb_qparams_alloc(&p, &c, 0, NULL), QB_OK);
    p.scale[0] = 0.5f;
    float x[4] = {0.3f, 0.3f, -0.3f, 0.2f};
    uint8_t dir[4] = {QB_DIR_DOWN, QB_DIR_UP, QB_DIR_DOWN, QB_DIR_NEAREST};
    int32_t q[4];
    assert_int_equal(qb_quantize_directed(&p, x, 4, dir, q), QB_OK);
    assert_true(q[0] == 0 && q[1] == 1 && q[2] == -1 && q[3] == 0);
    dir[1] = 9;
    assert_int_equal(qb_quantize_directed(&p, x, 4, dir, q), QB_ERR_ARG);
    qb_qparams_free(&p);
}

static void test_size_bytes(void **state)
{
    (void)state;
    static const struct { const char *scheme; int bits; const char *gran; int64_t rows, cols; uint64_t want; } cases[] = {
        {"uniform-sym", 8, "channel", 16, 64, 16 * 64 + 16 * 4},
        {"uniform-asym", 4, "tensor", 1, 100, 50 + 4 + 1},
        {"uniform-asym", 4, "group:32", 2, 64, 64 + 4 * (4 + 1)},
        {"kmeans", 2, "channel", 4, 10, 10 + 4 * 4 * 4},
        {"pow2", 4, "tensor", 1, 10, 5 + 1},
        {"fp16", 16, "channel", 3, 10, 60},
        {"fp8-e5m2", 8, "channel", 3, 10, 30 + 12},
        {"binary", 1, "tensor", 1, 9, 2 + 4},
        {"ternary", 2, "channel", 2, 8, 4 + 8},
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(cases); i++) {
        qb_quant_config c;
        assert_int_equal(qb_quant_config_parse(&c, cases[i].scheme, cases[i].bits, cases[i].gran, NULL, NULL), QB_OK);
        qb_qparams p;
        int64_t shape[2] = {cases[i].rows, cases[i].cols};
        assert_int_equal(qb_qparams_alloc(&p, &c, 2, shape), QB_OK);
        if (qb_qparams_size_bytes(&p, shape[0] * shape[1]) != cases[i].want)
            fail_msg("%s %s: %llu bytes, want %llu", cases[i].scheme, cases[i].gran,
                     (unsigned long long)qb_qparams_size_bytes(&p, shape[0] * shape[1]),
                     (unsigned long long)cases[i].want);
        qb_qparams_free(&p);
    }
}

static void test_pack_round_trip(void **state)
{
    (void)state;
    enum { N = 37 };
    float x[N];
    int32_t q[N], u[N];
    uint8_t packed[N * 2];
    qb_rng r;
    qb_rng_seed(&r, 2);
    for (int i = 0; i < N; i++) x[i] = qb_rng_normal(&r);
    for (int i = 0; i < qb_schemes_count(); i++) {
        const qb_scheme *s = qb_scheme_at(i);
        for (int b = 1; b <= 16; b++) {
            if (!qb_scheme_accepts_bits(s, b)) continue;
            qb_quant_config c;
            qb_quant_config_init(&c, s);
            c.bits = b;
            qb_qparams p;
            int64_t n = N;
            assert_int_equal(qb_qparams_fit(&p, &c, x, 1, &n), QB_OK);
            assert_int_equal(qb_quantize(&p, x, N, q), QB_OK);
            memset(packed, 0xAB, sizeof packed);
            qb_pack_codes(&p, q, N, packed);
            qb_unpack_codes(&p, packed, N, u);
            assert_memory_equal(q, u, sizeof q);
            assert_int_equal(qb_packed_bytes(N, b), (N * b + 7) / 8);
            qb_qparams_free(&p);
        }
    }
    /* Layout: int4 codes -8..7 as offset nibbles, low nibble first. */
    qb_quant_config c;
    assert_int_equal(qb_quant_config_parse(&c, "uniform-sym", 4, NULL, NULL, NULL), QB_OK);
    qb_qparams p;
    assert_int_equal(qb_qparams_alloc(&p, &c, 0, NULL), QB_OK);
    int32_t codes[3] = {-8, 7, 1};
    qb_pack_codes(&p, codes, 3, packed);
    assert_int_equal(packed[0], 0xF0);
    assert_int_equal(packed[1], 0x09);
    qb_qparams_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_messages),
        cmocka_unit_test(test_layouts),
        cmocka_unit_test(test_runs_match_block_of),
        cmocka_unit_test(test_kernels_match_reference),
        cmocka_unit_test(test_fake_equals_two_steps),
        cmocka_unit_test(test_codes_in_narrow_dtypes),
        cmocka_unit_test(test_nan_inf_and_bad_codes),
        cmocka_unit_test(test_batch_sizes),
        cmocka_unit_test(test_asym_minmax_fit),
        cmocka_unit_test(test_directed_rounding),
        cmocka_unit_test(test_size_bytes),
        cmocka_unit_test(test_pack_round_trip),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("quant_api", tests, NULL, NULL);
}
