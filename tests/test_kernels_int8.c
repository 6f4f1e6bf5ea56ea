/* int8 and ternary kernels: every backend this CPU supports against a naive
 * definition written from the ONNX formulas (no packing involved), on many
 * shapes, zero points, clamps and edge values; bit-exact. */
#include "qb_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "nhwc_ops.h"
#include "pool.h"
#include "qkernels.h"
#include "quant.h"
#include "rng.h"
#include "workcount.h"

/* ---- the naive definition ------------------------------------------- */

/* sum_k (a - za)(w - wz) + bias, in int64 (the test shapes cannot overflow int32). */
static int32_t naive_dot(const uint8_t *a, int32_t za, const int32_t *w, int32_t wz, int64_t k, int32_t bias)
{
    int64_t s = bias;
    for (int64_t i = 0; i < k; i++) s += (int64_t)(a[i] - za) * (w[i] - wz);
    return (int32_t)s;
}

/* Requantization written from the definition with exact long double
 * arithmetic: mult * 2^-rshift is exact, so is acc * real (62 bits). */
static int32_t naive_requant(int32_t acc, int32_t mult, int32_t rshift, int32_t zp, int32_t lo, int32_t hi)
{
    long double y = nearbyintl((long double)acc * mult / ldexpl(1.0L, rshift)) + zp;
    return (int32_t)(y < lo ? lo : y > hi ? hi : y);
}

typedef struct {
    qb_out_type type;
    int32_t *bias, *mult, *rshift;
    float *scale, *fbias;
    int32_t zp, lo, hi;
    int relu;
} outspec;

static void naive_store(const outspec *o, void *c, int64_t idx, int32_t acc, int64_t n)
{
    switch (o->type) {
    case QB_OUT_U8: ((uint8_t *)c)[idx] = (uint8_t)naive_requant(acc, o->mult[n], o->rshift[n], o->zp, o->lo, o->hi); break;
    case QB_OUT_S8: ((int8_t *)c)[idx] = (int8_t)naive_requant(acc, o->mult[n], o->rshift[n], o->zp, o->lo, o->hi); break;
    case QB_OUT_S32: ((int32_t *)c)[idx] = acc; break;
    case QB_OUT_F32: {
        float y = fmaf((float)acc, o->scale[n], o->fbias ? o->fbias[n] : 0.0f);
        ((float *)c)[idx] = o->relu && y <= 0 ? 0.0f : y;
        break;
    }
    }
}

static size_t out_size(qb_out_type t) { return t == QB_OUT_U8 || t == QB_OUT_S8 ? 1 : 4; }

/* A random output description for n channels. */
static void make_out(qb_rng *r, outspec *o, int64_t n, qb_out_type type, int with_bias)
{
    memset(o, 0, sizeof *o);
    o->type = type;
    o->bias = with_bias ? calloc((size_t)n, 4) : NULL;
    o->mult = calloc((size_t)n, 4);
    o->rshift = calloc((size_t)n, 4);
    o->scale = calloc((size_t)n, 4);
    o->fbias = qb_rng_below(r, 2) ? calloc((size_t)n, 4) : NULL;
    o->relu = (int)qb_rng_below(r, 2);
    int u8 = type == QB_OUT_U8;
    o->zp = u8 ? (int32_t)qb_rng_below(r, 256) : (int32_t)qb_rng_below(r, 256) - 128;
    o->lo = u8 ? 0 : -128;
    o->hi = u8 ? 255 : 127;
    if (qb_rng_below(r, 3) == 0) o->lo = o->zp; /* fused ReLU */
    /* half the cases keep every shift <= 43 (the double-precision epilogue),
     * the others reach 46 (the 64-bit integer one) */
    int spread = qb_rng_below(r, 2) ? 12 : 16;
    for (int64_t i = 0; i < n; i++) {
        if (o->bias) o->bias[i] = (int32_t)qb_rng_below(r, 20001) - 10000;
        /* multipliers from tiny (everything rounds to the zero point) to > 1 */
        double real = ldexp(0.5 + qb_rng_uniform_d(r), -(int)qb_rng_below(r, (uint64_t)spread));
        if (qb_rng_below(r, 8) == 0) real = 0.5; /* exact ties */
        assert_int_equal(qb_requant_multiplier(real, &o->mult[i], &o->rshift[i]), QB_OK);
        o->scale[i] = (float)(0.001 + qb_rng_uniform_d(r));
        if (o->fbias) o->fbias[i] = qb_rng_normal(r);
    }
}

static qb_requant requant_of(const outspec *o)
{
    qb_requant rq = {.type = o->type, .bias = o->bias, .mult = o->mult, .rshift = o->rshift, .zp = o->zp, .lo = o->lo,
                     .hi = o->hi, .scale = o->scale, .fbias = o->fbias, .relu = o->relu};
    return rq;
}

static void free_out(outspec *o)
{
    free(o->bias);
    free(o->mult);
    free(o->rshift);
    free(o->scale);
    free(o->fbias);
}

/* The backends this CPU runs (the reference always). */
static int supported_backends(const qb_backend **out)
{
    int n = 0;
    for (int i = 0; i < qb_backend_count(); i++)
        if (!qb_backend_missing_isa(qb_backend_at(i))) out[n++] = qb_backend_at(i);
    return n;
}

/* ---- requantization --------------------------------------------------- */

static void test_requant_multiplier_and_rounding(void **state)
{
    (void)state;
    int32_t m, s;
    assert_int_equal(qb_requant_multiplier(0.5, &m, &s), QB_OK);
    assert_int_equal(m, 1 << 30);
    assert_int_equal(s, 31);
    /* half to even, as ONNX: 1.5 -> 2, 2.5 -> 2, -1.5 -> -2, -2.5 -> -2, 0.5 -> 0 */
    assert_int_equal(qb_requant_scale(3, m, s), 2);
    assert_int_equal(qb_requant_scale(5, m, s), 2);
    assert_int_equal(qb_requant_scale(-3, m, s), -2);
    assert_int_equal(qb_requant_scale(-5, m, s), -2);
    assert_int_equal(qb_requant_scale(1, m, s), 0);
    assert_int_equal(qb_requant_scale(7, m, s), 4);
    assert_int_equal(qb_requant_code(1000, m, s, 10, 0, 255), 255);
    assert_int_equal(qb_requant_code(-1000, m, s, 10, 0, 255), 0);
    assert_int_equal(qb_requant_code(-1000, m, s, 10, 10, 255), 10);
    /* a multiplier above 1 */
    assert_int_equal(qb_requant_multiplier(3.0, &m, &s), QB_OK);
    assert_int_equal(qb_requant_scale(-7, m, s), -21);
    /* tiny multipliers give the zero point */
    assert_int_equal(qb_requant_multiplier(1e-12, &m, &s), QB_OK);
    assert_int_equal(qb_requant_scale(INT32_MAX, m, s), 0);
    assert_int_equal(qb_requant_multiplier(-1.0, &m, &s), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "must be positive"));
    assert_int_equal(qb_requant_multiplier(NAN, &m, &s), QB_ERR_ARG);
    assert_int_equal(qb_requant_multiplier(0x1p31, &m, &s), QB_ERR_ARG);
    /* against exact arithmetic on random values */
    qb_rng r;
    qb_rng_seed(&r, 7);
    for (int i = 0; i < 100000; i++) {
        double real = ldexp(0.5 + qb_rng_uniform_d(&r), (int)qb_rng_below(&r, 40) - 30);
        assert_int_equal(qb_requant_multiplier(real, &m, &s), QB_OK);
        int32_t acc = (int32_t)qb_rng_u64(&r);
        if (i % 3 == 0) acc >>= qb_rng_below(&r, 31);
        int32_t zp = (int32_t)qb_rng_below(&r, 256);
        assert_int_equal(qb_requant_code(acc, m, s, zp, 0, 255), naive_requant(acc, m, s, zp, 0, 255));
    }
}

/* ---- GEMM ------------------------------------------------------------- */

typedef struct {
    int64_t m, n, k;
    int32_t a_zp;
    int ternary, wzp, u8w, threads, bias;
    qb_out_type type;
    int extreme; /* activations and weights at their extremes */
} gemm_case;

static void run_gemm_case(const gemm_case *gc, qb_rng *r, qb_pool *pool)
{
    int64_t m = gc->m, n = gc->n, k = gc->k, lda = k + (int64_t)qb_rng_below(r, 3);
    uint8_t *a = malloc((size_t)(m * lda));
    int32_t *w = malloc((size_t)(n * k) * 4); /* logical weight codes */
    int8_t *w8 = malloc((size_t)(n * k));
    uint8_t *wu8 = malloc((size_t)(n * k));
    int32_t *wz = calloc((size_t)n, 4);
    for (int64_t i = 0; i < m * lda; i++) a[i] = gc->extreme ? 255 : (uint8_t)qb_rng_below(r, 256);
    for (int64_t i = 0; i < n * k; i++) {
        if (gc->ternary) w[i] = (int32_t)qb_rng_below(r, 3) - 1;
        else if (gc->u8w) w[i] = gc->extreme ? 0 : (int32_t)qb_rng_below(r, 256);
        else w[i] = gc->extreme ? -128 : (int32_t)qb_rng_below(r, 256) - 128;
        w8[i] = (int8_t)w[i];
        wu8[i] = (uint8_t)w[i];
    }
    if (gc->wzp)
        for (int64_t i = 0; i < n; i++)
            wz[i] = gc->u8w ? (int32_t)qb_rng_below(r, 256) : (int32_t)qb_rng_below(r, 256) - 128;
    if (gc->u8w && gc->extreme)
        for (int64_t i = 0; i < n; i++) wz[i] = 255;
    qb_qweights pw;
    qb_status st;
    if (gc->ternary) st = qb_qweights_pack_ternary(&pw, n, k, w8, k, 1);
    else if (gc->u8w) st = qb_qweights_pack_u8(&pw, n, k, wu8, k, 1, gc->wzp || gc->extreme ? wz : NULL);
    else st = qb_qweights_pack_s8(&pw, n, k, w8, k, 1, gc->wzp ? wz : NULL);
    assert_int_equal(st, QB_OK);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < k; j += 1 + k / 7) {
            int32_t code = qb_qweights_code(&pw, i, j);
            int32_t expect = gc->ternary ? w[i * k + j] + 1 : gc->u8w ? w[i * k + j] - 128 : w[i * k + j];
            assert_int_equal(code, expect);
        }

    outspec o;
    make_out(r, &o, n, gc->type, gc->bias);
    qb_requant rq = requant_of(&o);
    size_t es = out_size(gc->type);
    int64_t ldc = n + (int64_t)qb_rng_below(r, 2);
    char *expect = calloc((size_t)(m * ldc), es);
    char *got = malloc((size_t)(m * ldc) * es);
    int32_t effz = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            effz = gc->ternary ? 0 : wz[j];
            int32_t acc = naive_dot(a + i * lda, gc->a_zp, w + j * k, gc->wzp || (gc->u8w && gc->extreme) ? effz : 0, k,
                                    o.bias ? o.bias[j] : 0);
            naive_store(&o, expect, i * ldc + j, acc, j);
        }
    const qb_backend *bes[8];
    int nb = supported_backends(bes);
    for (int b = 0; b < nb; b++) {
        memset(got, 0, (size_t)(m * ldc) * es);
        qb_qgemm_args g = {m, a, lda, gc->a_zp, &pw, &rq, got, ldc, NULL};
        assert_int_equal(qb_qgemm(bes[b], gc->threads > 1 ? pool : NULL, &g), QB_OK);
        if (memcmp(expect, got, (size_t)(m * ldc) * es) != 0) {
            for (int64_t i = 0; i < m * ldc; i++)
                if (memcmp(expect + i * es, got + i * es, es)) {
                    int32_t e = 0, g = 0;
                    memcpy(&e, expect + i * es, es);
                    memcpy(&g, got + i * es, es);
                    fprintf(stderr, "backend %s m=%lld n=%lld k=%lld ternary=%d wzp=%d u8w=%d type=%d zp=%d: "
                            "first difference at row %lld col %lld: %#x, expected %#x\n",
                            bes[b]->name, (long long)m, (long long)n, (long long)k, gc->ternary, gc->wzp,
                            gc->u8w, gc->type, gc->a_zp, (long long)(i / ldc), (long long)(i % ldc), g, e);
                    break;
                }
            fail();
        }
    }
    free_out(&o);
    qb_qweights_free(&pw);
    free(a), free(w), free(w8), free(wu8), free(wz), free(expect), free(got);
}

static const int64_t dims_m[] = {1, 2, 3, 5, 6, 7, 12, 13, 31, 64};
static const int64_t dims_n[] = {1, 3, 10, 16, 17, 32, 48, 63, 64, 65, 100, 130};
static const int64_t dims_k[] = {1, 3, 4, 7, 15, 16, 17, 33, 64, 100, 257, 300};
static const int32_t zps[] = {0, 1, 128, 254, 255};

static void test_gemm_matches_definition(void **state)
{
    (void)state;
    qb_rng r;
    qb_rng_seed(&r, 1234);
    qb_pool *pool;
    assert_int_equal(qb_pool_create(&pool, 2, NULL, NULL), QB_OK);
    for (int it = 0; it < 220; it++) {
        gemm_case gc = {
            dims_m[qb_rng_below(&r, QB_ARRAY_LEN(dims_m))],
            dims_n[qb_rng_below(&r, QB_ARRAY_LEN(dims_n))],
            dims_k[qb_rng_below(&r, QB_ARRAY_LEN(dims_k))],
            zps[qb_rng_below(&r, QB_ARRAY_LEN(zps))],
            it % 4 == 3, /* ternary */
            it % 5 == 1, /* weight zero points */
            it % 7 == 2, /* uint8 weights */
            1 + (int)qb_rng_below(&r, 2),
            it % 3 != 0,
            (qb_out_type)qb_rng_below(&r, 4),
            0,
        };
        if (gc.ternary) gc.u8w = gc.wzp = 0;
        run_gemm_case(&gc, &r, pool);
    }
    qb_pool_free(pool);
}

static void test_gemm_large_and_threaded(void **state)
{
    (void)state;
    qb_rng r;
    qb_rng_seed(&r, 99);
    qb_pool *pool;
    assert_int_equal(qb_pool_create(&pool, 2, NULL, NULL), QB_OK);
    /* big enough to use the pool, row splits and channel splits, several weight blocks */
    gemm_case cases[] = {
        {97, 200, 576, 128, 0, 0, 0, 2, 1, QB_OUT_U8, 0},
        {1, 1000, 1024, 3, 0, 0, 0, 2, 1, QB_OUT_F32, 0},
        {5, 320, 2304, 77, 0, 1, 0, 2, 1, QB_OUT_S8, 0},
        {40, 96, 1600, 200, 1, 0, 0, 2, 1, QB_OUT_U8, 0},
        {130, 70, 48, 9, 0, 0, 0, 2, 0, QB_OUT_S32, 0},
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(cases); i++) run_gemm_case(&cases[i], &r, pool);
    qb_pool_free(pool);
}

static void test_gemm_extremes_saturate(void **state)
{
    (void)state;
    qb_rng r;
    qb_rng_seed(&r, 5);
    /* 255 x -128 everywhere with zero points 0 and 255: the largest sums,
     * and outputs that saturate at both ends of u8 and s8 */
    for (int zi = 0; zi < 2; zi++)
        for (int t = 0; t < 4; t++) {
            gemm_case gc = {7, 33, 1000, zi ? 255 : 0, 0, 0, 0, 1, 1, (qb_out_type)t, 1};
            run_gemm_case(&gc, &r, NULL);
            gc.u8w = 1;
            run_gemm_case(&gc, &r, NULL);
        }
    /* the s32 sums themselves: 255 * -128 * 1000 */
    uint8_t a[1000];
    int8_t w[1000];
    memset(a, 255, sizeof a);
    memset(w, 0x80, sizeof w);
    qb_qweights pw;
    assert_int_equal(qb_qweights_pack_s8(&pw, 1, 1000, w, 1000, 1, NULL), QB_OK);
    qb_requant rq = {.type = QB_OUT_S32};
    const qb_backend *bes[8];
    int nb = supported_backends(bes);
    for (int b = 0; b < nb; b++) {
        int32_t y = 0;
        qb_qgemm_args g = {1, a, 1000, 0, &pw, &rq, &y, 1, NULL};
        assert_int_equal(qb_qgemm(bes[b], NULL, &g), QB_OK);
        assert_int_equal(y, 255 * -128 * 1000);
    }
    qb_qweights_free(&pw);
}

/* ---- convolution ------------------------------------------------------ */

static void run_conv_case(qb_rng *r, const qb_conv_shape *s0, int ternary, qb_out_type type, qb_pool *pool)
{
    qb_conv_shape s = *s0;
    assert_int_equal(qb_conv_shape_init(&s), QB_OK);
    int64_t xn = s.batch * s.in_h * s.in_w * s.in_c, wn = s.out_c * s.in_c * s.k_h * s.k_w;
    int64_t yn = s.batch * s.out_h * s.out_w * s.out_c;
    uint8_t *x = malloc((size_t)xn);
    int8_t *w = malloc((size_t)wn);
    int32_t *wz = calloc((size_t)s.out_c, 4);
    for (int64_t i = 0; i < xn; i++) x[i] = (uint8_t)qb_rng_below(r, 256);
    for (int64_t i = 0; i < wn; i++) w[i] = ternary ? (int8_t)((int)qb_rng_below(r, 3) - 1) : (int8_t)(qb_rng_below(r, 256) - 128);
    int wzp = !ternary && qb_rng_below(r, 3) == 0;
    if (wzp)
        for (int64_t i = 0; i < s.out_c; i++) wz[i] = (int32_t)qb_rng_below(r, 256) - 128;
    int32_t xzp = zps[qb_rng_below(r, QB_ARRAY_LEN(zps))];
    qb_qweights pw;
    if (ternary) assert_int_equal(qb_qweights_pack_ternary_conv(&pw, s.out_c, s.in_c, s.k_h, s.k_w, w), QB_OK);
    else assert_int_equal(qb_qweights_pack_conv(&pw, s.out_c, s.in_c, s.k_h, s.k_w, w, 0, wzp ? wz : NULL), QB_OK);
    outspec o;
    make_out(r, &o, s.out_c, type, 1);
    qb_requant rq = requant_of(&o);
    size_t es = out_size(type);
    char *expect = calloc((size_t)yn, es), *got = calloc((size_t)yn, es);
    /* the textbook convolution: NHWC input, OIHW weights, zero-point padding */
    for (int64_t b = 0; b < s.batch; b++)
        for (int64_t oy = 0; oy < s.out_h; oy++)
            for (int64_t ox = 0; ox < s.out_w; ox++)
                for (int64_t oc = 0; oc < s.out_c; oc++) {
                    int64_t acc = o.bias[oc];
                    for (int64_t ic = 0; ic < s.in_c; ic++)
                        for (int64_t ky = 0; ky < s.k_h; ky++)
                            for (int64_t kx = 0; kx < s.k_w; kx++) {
                                int64_t iy = oy * s.stride_h - s.pad_top + ky * s.dil_h;
                                int64_t ix = ox * s.stride_w - s.pad_left + kx * s.dil_w;
                                int32_t xv = iy >= 0 && iy < s.in_h && ix >= 0 && ix < s.in_w
                                                 ? x[((b * s.in_h + iy) * s.in_w + ix) * s.in_c + ic]
                                                 : xzp;
                                int32_t wv = w[((oc * s.in_c + ic) * s.k_h + ky) * s.k_w + kx];
                                acc += (int64_t)(xv - xzp) * (wv - wz[oc]);
                            }
                    naive_store(&o, expect, ((b * s.out_h + oy) * s.out_w + ox) * s.out_c + oc, (int32_t)acc, oc);
                }
    const qb_backend *bes[8];
    int nb = supported_backends(bes);
    qb_scratch scratch = {0};
    for (int bi = 0; bi < nb; bi++) {
        memset(got, 0, (size_t)yn * es);
        assert_int_equal(qb_qconv(bes[bi], pool, &s, x, xzp, &pw, &rq, got, bi % 2 ? &scratch : NULL), QB_OK);
        if (memcmp(expect, got, (size_t)yn * es) != 0) {
            fprintf(stderr, "conv mismatch: backend %s ternary=%d type=%d in %lldx%lldx%lld c_out %lld k %lldx%lld "
                    "stride %lld pad %lld dil %lld\n", bes[bi]->name, ternary, type, (long long)s.in_h,
                    (long long)s.in_w, (long long)s.in_c, (long long)s.out_c, (long long)s.k_h,
                    (long long)s.k_w, (long long)s.stride_h, (long long)s.pad_top, (long long)s.dil_h);
            fail();
        }
    }
    qb_scratch_free(&scratch);
    free_out(&o);
    qb_qweights_free(&pw);
    free(x), free(w), free(wz), free(expect), free(got);
}

static void test_conv_matches_definition(void **state)
{
    (void)state;
    qb_rng r;
    qb_rng_seed(&r, 4321);
    qb_pool *pool;
    assert_int_equal(qb_pool_create(&pool, 2, NULL, NULL), QB_OK);
    static const int64_t cins[] = {1, 3, 4, 5, 8, 16, 32};
    for (int it = 0; it < 60; it++) {
        qb_conv_shape s = {0};
        s.batch = 1 + (int64_t)qb_rng_below(&r, 2);
        s.in_c = cins[qb_rng_below(&r, QB_ARRAY_LEN(cins))];
        s.in_h = 3 + (int64_t)qb_rng_below(&r, 9);
        s.in_w = 3 + (int64_t)qb_rng_below(&r, 9);
        s.out_c = 1 + (int64_t)qb_rng_below(&r, 70);
        s.k_h = s.k_w = 1 + 2 * (int64_t)qb_rng_below(&r, 3);
        if (it % 5 == 0) s.k_w = 1 + (int64_t)qb_rng_below(&r, 3);
        s.stride_h = 1 + (int64_t)qb_rng_below(&r, 2);
        s.stride_w = 1 + (int64_t)qb_rng_below(&r, 2);
        s.dil_h = s.dil_w = it % 7 == 0 ? 2 : 1;
        if (it % 11 == 5) s.dil_h = 2; /* dilated kernel rows, still implicit */
        s.pad_top = s.pad_bottom = (int64_t)qb_rng_below(&r, 3);
        s.pad_left = (int64_t)qb_rng_below(&r, 3);
        s.pad_right = (int64_t)qb_rng_below(&r, 3);
        int64_t eh = (s.k_h - 1) * s.dil_h + 1, ew = (s.k_w - 1) * s.dil_w + 1;
        if (eh > s.in_h + s.pad_top + s.pad_bottom || ew > s.in_w + s.pad_left + s.pad_right) continue;
        run_conv_case(&r, &s, it % 4 == 1, (qb_out_type)qb_rng_below(&r, 4), it % 2 ? pool : NULL);
    }
    /* shapes of the built-in models: LeNet-like 5x5 on 1 channel, ResNet-20 3x3 */
    qb_conv_shape lenet = {.batch = 2, .in_h = 28, .in_w = 28, .in_c = 1, .out_c = 6, .k_h = 5, .k_w = 5,
                           .stride_h = 1, .stride_w = 1, .dil_h = 1, .dil_w = 1, .pad_top = 2, .pad_left = 2,
                           .pad_bottom = 2, .pad_right = 2};
    run_conv_case(&r, &lenet, 0, QB_OUT_U8, pool);
    qb_conv_shape res = {.batch = 2, .in_h = 14, .in_w = 14, .in_c = 32, .out_c = 64, .k_h = 3, .k_w = 3,
                         .stride_h = 2, .stride_w = 2, .dil_h = 1, .dil_w = 1, .pad_top = 1, .pad_left = 1,
                         .pad_bottom = 1, .pad_right = 1};
    run_conv_case(&r, &res, 0, QB_OUT_U8, pool);
    run_conv_case(&r, &res, 1, QB_OUT_U8, pool);
    /* one image whose bordered copy (over 64 KiB) is shared by the threads row by row */
    qb_conv_shape big = {.batch = 1, .in_h = 40, .in_w = 40, .in_c = 64, .out_c = 16, .k_h = 3, .k_w = 3,
                         .stride_h = 1, .stride_w = 1, .dil_h = 1, .dil_w = 1, .pad_top = 1, .pad_left = 1,
                         .pad_bottom = 1, .pad_right = 1};
    run_conv_case(&r, &big, 0, QB_OUT_U8, pool);
    qb_pool_free(pool);
}

/* Output rows long enough for the int8 run tiles of every height
 * (qgemm_avx512.c): a row's last tile overlapping the one before, rows
 * split between threads mid-row, a row's rest too short for a tile, and
 * every panel width (16 to 64 channels, and a panel past the first). */
static void test_conv_long_output_rows(void **state)
{
    (void)state;
    qb_rng r;
    qb_rng_seed(&r, 777);
    qb_pool *pool;
    assert_int_equal(qb_pool_create(&pool, 2, NULL, NULL), QB_OK);
    static const int64_t widths[] = {5, 7, 9, 14, 16, 23, 28, 32};
    static const int64_t couts[] = {16, 32, 48, 64, 80, 13, 100};
    for (int it = 0; it < 14; it++) {
        qb_conv_shape s = {.batch = 1 + it % 2, .in_h = 3 + it % 3, .in_w = widths[it % 8],
                           .in_c = it % 3 ? 16 : 1, .out_c = couts[it % 7], .k_h = 3, .k_w = 3,
                           .stride_h = 1, .stride_w = it % 5 == 4 ? 2 : 1, .dil_h = 1, .dil_w = 1,
                           .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1};
        run_conv_case(&r, &s, 0, it % 4 == 3 ? QB_OUT_F32 : QB_OUT_U8, it % 2 ? pool : NULL);
    }
    qb_pool_free(pool);
}

/* A conv's float output with a residual Add, the Add's ReLU and the sum's
 * codes computed in the epilogue (requant.h): bit for bit the separate
 * steps (float conv, qb_nhwc_add, the quantizer library's qb_quantize_to),
 * on every backend, including clamped codes and signed ones. */
static void test_conv_fused_add_and_codes(void **state)
{
    (void)state;
    qb_rng r;
    qb_rng_seed(&r, 2718);
    qb_pool *pool;
    assert_int_equal(qb_pool_create(&pool, 2, NULL, NULL), QB_OK);
    static const int64_t cins[] = {1, 3, 16};
    const qb_backend *bes[8];
    int nbe = supported_backends(bes);
    for (int it = 0; it < 16; it++) {
        qb_conv_shape s = {.batch = 1 + (int64_t)qb_rng_below(&r, 2), .in_c = cins[it % 3],
                           .in_h = 5 + (int64_t)qb_rng_below(&r, 8), .in_w = 5 + (int64_t)qb_rng_below(&r, 8),
                           .out_c = 1 + (int64_t)qb_rng_below(&r, 40), .k_h = it % 4 ? 3 : 1, .k_w = it % 4 ? 3 : 1,
                           .stride_h = 1 + it % 2, .stride_w = 1 + it % 2, .dil_h = 1, .dil_w = 1};
        s.pad_top = s.pad_left = s.pad_bottom = s.pad_right = s.k_h / 2;
        assert_int_equal(qb_conv_shape_init(&s), QB_OK);
        int64_t xn = s.batch * s.in_h * s.in_w * s.in_c, wn = s.out_c * s.in_c * s.k_h * s.k_w;
        int64_t yn = s.batch * s.out_h * s.out_w * s.out_c;
        uint8_t *x = malloc((size_t)xn), *want_q = malloc((size_t)yn), *got_q = malloc((size_t)yn);
        int8_t *w = malloc((size_t)wn);
        float *res = malloc((size_t)yn * 4), *y = malloc((size_t)yn * 4), *want = malloc((size_t)yn * 4),
              *got = malloc((size_t)yn * 4);
        for (int64_t i = 0; i < xn; i++) x[i] = (uint8_t)qb_rng_below(&r, 256);
        for (int64_t i = 0; i < wn; i++) w[i] = (int8_t)(qb_rng_below(&r, 256) - 128);
        for (int64_t i = 0; i < yn; i++) res[i] = 30.0f * qb_rng_normal(&r);
        int32_t xzp = (int32_t)qb_rng_below(&r, 256);
        qb_qweights pw;
        assert_int_equal(qb_qweights_pack_conv(&pw, s.out_c, s.in_c, s.k_h, s.k_w, w, 0, NULL), QB_OK);
        outspec o;
        make_out(&r, &o, s.out_c, QB_OUT_F32, 0);
        for (int64_t i = 0; i < s.out_c; i++) o.scale[i] *= 0.01f;
        o.relu = 0;
        int relu = it % 2;
        /* the next layer's activation parameters (unsigned or signed codes) */
        qb_quant_config c;
        assert_int_equal(qb_quant_config_parse(&c, it % 3 ? "uniform-asym" : "uniform-sym", 4 + it % 5, "tensor",
                                               "minmax", NULL), QB_OK);
        qb_qparams p;
        int64_t shape[1] = {yn};
        assert_int_equal(qb_qparams_alloc(&p, &c, 1, shape), QB_OK);
        p.scale[0] = (float)(0.05 + 2 * qb_rng_uniform_d(&r));
        if (p.zero_point) p.zero_point[0] = p.qmin + (int32_t)qb_rng_below(&r, (uint64_t)(p.qmax - p.qmin + 1));
        qb_dtype dt = qb_scheme_code_dtype(p.scheme, p.bits);
        int off = dt == QB_I8 ? 128 : 0;
        /* the separate steps */
        qb_requant rq = requant_of(&o);
        assert_int_equal(qb_qconv(qb_backend_find("ref"), NULL, &s, x, xzp, &pw, &rq, y, NULL), QB_OK);
        qb_nhwc_add(y, res, want, yn, relu);
        assert_int_equal(qb_quantize_to(&p, want, yn, dt, want_q), QB_OK);
        for (int64_t i = 0; i < yn; i++) want_q[i] = (uint8_t)(want_q[i] + off);
        /* fused */
        qb_block b = qb_qparams_block(&p, 0);
        rq.relu = relu;
        rq.residual = res;
        rq.codes = got_q;
        rq.code_scale = b.scale;
        rq.code_zp = b.zero_point + off;
        rq.code_lo = p.qmin + off;
        rq.code_hi = p.qmax + off;
        int clamped = 0;
        for (int64_t i = 0; i < yn; i++) clamped += want_q[i] == rq.code_lo || want_q[i] == rq.code_hi;
        for (int bi = 0; bi < nbe; bi++) {
            memset(got, 0, (size_t)yn * 4);
            memset(got_q, 0, (size_t)yn);
            assert_int_equal(qb_qconv(bes[bi], it % 2 ? pool : NULL, &s, x, xzp, &pw, &rq, got, NULL), QB_OK);
            if (memcmp(want, got, (size_t)yn * 4) != 0 || memcmp(want_q, got_q, (size_t)yn) != 0)
                fail_msg("fused add/codes differ: backend %s, case %d (in_c %lld, out_c %lld, k %lld)", bes[bi]->name,
                         it, (long long)s.in_c, (long long)s.out_c, (long long)s.k_h);
        }
        assert_true(clamped > 0 && clamped < yn); /* both the clamp and the rounding were exercised */
        qb_qparams_free(&p);
        free_out(&o);
        qb_qweights_free(&pw);
        free(x), free(want_q), free(got_q), free(w), free(res), free(y), free(want), free(got);
    }
    /* a bad code range is refused */
    qb_requant bad = {.type = QB_OUT_F32, .scale = (float[]){1.0f}, .codes = (uint8_t[1]){0}, .code_scale = 0};
    assert_int_equal(qb_requant_check(&bad, 1), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "codes of a float output"));
    qb_pool_free(pool);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    int8_t w[12] = {0};
    qb_qweights pw;
    assert_int_equal(qb_qweights_pack_s8(&pw, 0, 4, w, 4, 1, NULL), QB_ERR_ARG);
    int32_t badzp = 300;
    assert_int_equal(qb_qweights_pack_u8(&pw, 1, 4, (const uint8_t *)w, 4, 1, &badzp), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "zero point 300"));
    int8_t t[4] = {0, 1, 2, -1};
    assert_int_equal(qb_qweights_pack_ternary(&pw, 1, 4, t, 4, 1), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "not -1, 0 or 1"));
    assert_int_equal(qb_qweights_pack_s8(&pw, 3, 4, w, 4, 1, NULL), QB_OK);
    uint8_t a[8] = {0};
    uint8_t c[8];
    int32_t mult[3] = {1 << 30, 1 << 30, 1 << 30}, sh[3] = {31, 31, 31};
    qb_requant rq = {.type = QB_OUT_U8, .mult = mult, .rshift = sh, .lo = 0, .hi = 255};
    qb_qgemm_args g = {1, a, 4, 0, &pw, &rq, c, 3, NULL};
    assert_int_equal(qb_qgemm(NULL, NULL, &g), QB_OK);
    g.lda = 3;
    assert_int_equal(qb_qgemm(NULL, NULL, &g), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "lda=3"));
    g.lda = 4;
    g.a_zp = 256;
    assert_int_equal(qb_qgemm(NULL, NULL, &g), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "zero point 256"));
    g.a_zp = 0;
    sh[1] = 0;
    assert_int_equal(qb_qgemm(NULL, NULL, &g), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "channel 1"));
    sh[1] = 31;
    rq.hi = 300;
    assert_int_equal(qb_qgemm(NULL, NULL, &g), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "clamp"));
    rq.hi = 255;
    qb_conv_shape s = {.batch = 1, .in_h = 2, .in_w = 2, .in_c = 4, .out_c = 3, .k_h = 3, .k_w = 3,
                       .stride_h = 1, .stride_w = 1, .dil_h = 1, .dil_w = 1};
    assert_int_equal(qb_conv_shape_init(&s), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "larger than the padded input"));
    s.k_h = s.k_w = 1;
    s.in_c = 8;
    assert_int_equal(qb_conv_shape_init(&s), QB_OK);
    assert_int_equal(qb_qconv(NULL, NULL, &s, a, 0, &pw, &rq, c, NULL), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "the shape needs (3, 8)"));
    qb_qweights_free(&pw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requant_multiplier_and_rounding),
        cmocka_unit_test(test_gemm_matches_definition),
        cmocka_unit_test(test_gemm_large_and_threaded),
        cmocka_unit_test(test_gemm_extremes_saturate),
        cmocka_unit_test(test_conv_matches_definition),
        cmocka_unit_test(test_conv_long_output_rows),
        cmocka_unit_test(test_conv_fused_add_and_codes),
        cmocka_unit_test(test_bad_arguments),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("kernels_int8", tests, NULL, NULL);
}
