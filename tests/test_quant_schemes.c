/* Properties every scheme in the table must have, at every bit width it
 * accepts, with parameters fitted to real-looking data (Gaussian with a
 * Laplace tail, fixed seed):
 *   - quantize(dequantize(q)) == q for every code;
 *   - inside the range, nearest rounding is off by at most half the gap
 *     between the two levels around x, up to the float rounding of x / scale
 *     (ternary: its TWN threshold rule),
 *     and down/up rounding give exactly those two levels;
 *   - values beyond the range (and +-Inf) saturate to the end levels;
 *   - order is preserved;
 *   - per-channel and per-group parameters equal per-tensor parameters
 *     fitted to each slice, and so do the quantized values;
 *   - k-means error does not grow with more bits;
 *   - stochastic rounding is unbiased: over N = 20000 draws (fixed seed)
 *     the mean is within 4 standard errors (gap / (2 sqrt N)) of x. */
#include "qb_test.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"
#include "rng.h"

typedef struct {
    float level;
    int32_t code;
} level;

static int cmp_level(const void *a, const void *b)
{
    float x = ((const level *)a)->level, y = ((const level *)b)->level;
    return (x > y) - (x < y);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static float *sample_data(int64_t n, uint64_t seed)
{
    qb_rng r;
    qb_rng_seed(&r, seed);
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++) {
        x[i] = qb_rng_normal(&r);
        if (i % 16 == 0) x[i] = (float)(-log(1.0 - qb_rng_uniform_d(&r)) * (i % 32 ? 1 : -1)); /* Laplace tail */
    }
    return x;
}

/* Parameters for scheme s at bits b fitted per tensor to the sample. */
static void fit_tensor(const qb_scheme *s, int bits, qb_qparams *p)
{
    qb_quant_config c;
    qb_quant_config_init(&c, s);
    c.bits = bits;
    int64_t n = 3000;
    float *x = sample_data(n, 7);
    if (qb_qparams_fit(p, &c, x, 1, &n) != QB_OK) fail_msg("%s b%d: %s", s->name, bits, qb_last_error());
    free(x);
}

/* The valid, finite codes of p with their levels, sorted by level. */
static level *levels_of(const qb_qparams *p, int *count)
{
    const qb_scheme *s = p->scheme;
    qb_block b = qb_qparams_block(p, 0);
    int n = 0;
    level *l = malloc(sizeof *l * (size_t)(p->qmax - p->qmin + 1));
    for (int32_t q = p->qmin; q <= p->qmax; q += s->code_step) {
        float v = s->dequantize(q, &b);
        if (!isfinite(v)) continue;
        l[n].level = v;
        l[n].code = q;
        n++;
    }
    qsort(l, (size_t)n, sizeof *l, cmp_level);
    *count = n;
    return l;
}

static void each_scheme_and_width(void (*check)(const qb_scheme *, int))
{
    for (int i = 0; i < qb_schemes_count(); i++) {
        const qb_scheme *s = qb_scheme_at(i);
        for (int b = 1; b <= 16; b++)
            if (qb_scheme_accepts_bits(s, b)) check(s, b);
    }
}

static void check_round_trip(const qb_scheme *s, int bits)
{
    qb_qparams p;
    fit_tensor(s, bits, &p);
    int n;
    level *l = levels_of(&p, &n);
    for (int i = 0; i < n; i++) {
        int32_t q;
        assert_int_equal(qb_quantize(&p, &l[i].level, 1, &q), QB_OK);
        if (q != l[i].code)
            fail_msg("%s b%d: level %g of code %d quantizes to %d", s->name, bits, l[i].level, l[i].code, q);
    }
    free(l);
    qb_qparams_free(&p);
}

static void test_quantize_dequantize_round_trip(void **state)
{
    (void)state;
    each_scheme_and_width(check_round_trip);
}

/* Index of the last level <= x (levels sorted, x inside). */
static int bracket(const level *l, int n, float x)
{
    int i = 0;
    while (i + 1 < n && l[i + 1].level <= x) i++;
    return i;
}

static void check_error_bound(const qb_scheme *s, int bits)
{
    qb_qparams p;
    fit_tensor(s, bits, &p);
    qb_block b = qb_qparams_block(&p, 0);
    int n;
    level *l = levels_of(&p, &n);
    qb_rng r;
    qb_rng_seed(&r, 11);
    float lo = l[0].level, hi = l[n - 1].level;
    for (int t = 0; t < 4000; t++) {
        /* Uniform over the range, plus exact midpoints between levels. */
        float x = lo + (hi - lo) * qb_rng_uniform(&r);
        if (t % 4 == 0) {
            int k = (int)qb_rng_below(&r, (uint64_t)(n - 1));
            x = l[k].level + (l[k + 1].level - l[k].level) * 0.5f;
        }
        int i = bracket(l, n, x);
        float below = l[i].level, above = i + 1 < n && below < x ? l[i + 1].level : below;
        float dn = s->dequantize(s->quantize(x, &b, QB_DIR_DOWN), &b);
        float up = s->dequantize(s->quantize(x, &b, QB_DIR_UP), &b);
        if (dn != below || up != above)
            fail_msg("%s b%d: x=%.9g: down/up give %.9g/%.9g, levels around are %.9g/%.9g",
                     s->name, bits, x, dn, up, below, above);
        float y;
        assert_int_equal(qb_fake_quantize(&p, &x, 1, &y), QB_OK);
        double err = fabs((double)y - x), gap = (double)above - below;
        double bound = s->id == QB_SCHEME_TERNARY ? fmax(b.threshold, b.scale - b.threshold) : gap / 2;
        /* x / scale is rounded to float before rounding to a level (as in
         * ONNX), which may cost a few float ulps of x beyond the bound. */
        if (err > bound + 0x1p-21 * (fabs(x) + fabs(y)) + 1e-30)
            fail_msg("%s b%d: x=%.9g -> %.9g, error %g > bound %g", s->name, bits, x, y, err, bound);
    }
    free(l);
    qb_qparams_free(&p);
}

static void test_error_within_half_step(void **state)
{
    (void)state;
    each_scheme_and_width(check_error_bound);
}

static void check_saturation_and_order(const qb_scheme *s, int bits)
{
    qb_qparams p;
    fit_tensor(s, bits, &p);
    int n;
    level *l = levels_of(&p, &n);
    float lo = l[0].level, hi = l[n - 1].level;
    float out[6] = {hi * 2 + 1, INFINITY, FLT_MAX, lo * 2 - 1, -INFINITY, -FLT_MAX};
    float y[6];
    assert_int_equal(qb_fake_quantize(&p, out, 6, y), QB_OK);
    for (int i = 0; i < 3; i++)
        if (y[i] != hi) fail_msg("%s b%d: %g -> %g, not the top level %g", s->name, bits, out[i], y[i], hi);
    for (int i = 3; i < 6; i++)
        if (y[i] != lo) fail_msg("%s b%d: %g -> %g, not the bottom level %g", s->name, bits, out[i], y[i], lo);

    /* Order: sorted inputs give non-decreasing outputs. */
    int64_t m = 2000;
    float *x = sample_data(m, 3), *z = malloc((size_t)m * sizeof *z);
    for (int64_t i = 0; i < m; i++) x[i] *= 1.5f;
    qsort(x, (size_t)m, sizeof *x, cmp_float);
    assert_int_equal(qb_fake_quantize(&p, x, m, z), QB_OK);
    for (int64_t i = 1; i < m; i++)
        if (z[i] < z[i - 1]) fail_msg("%s b%d: order broken at %g, %g", s->name, bits, x[i - 1], x[i]);
    free(x);
    free(z);
    free(l);
    qb_qparams_free(&p);
}

static void test_saturation_and_order(void **state)
{
    (void)state;
    each_scheme_and_width(check_saturation_and_order);
}

/* Copies x[:, c0:c1, :] of a (O, C, I) tensor. */
static float *slice(const float *x, int64_t O, int64_t C, int64_t I, int64_t c0, int64_t c1)
{
    float *s = malloc((size_t)(O * (c1 - c0) * I) * sizeof *s), *p = s;
    for (int64_t o = 0; o < O; o++)
        for (int64_t c = c0; c < c1; c++)
            for (int64_t i = 0; i < I; i++) *p++ = x[(o * C + c) * I + i];
    return s;
}

static void check_blocks_equal_slices(const qb_scheme *s, int bits)
{
    const int64_t O = 3, C = 5, I = 40, shape[3] = {O, C, I};
    float *x = sample_data(O * C * I, 5);
    qb_quant_config c;
    qb_quant_config_init(&c, s);
    c.bits = bits;
    c.gran.kind = QB_GRAN_CHANNEL;
    c.gran.axis = 1;
    qb_qparams pc;
    assert_int_equal(qb_qparams_fit(&pc, &c, x, 3, shape), QB_OK);
    assert_int_equal(pc.nblocks, C);
    float *yc = malloc((size_t)(O * C * I) * sizeof *yc);
    assert_int_equal(qb_fake_quantize(&pc, x, O * C * I, yc), QB_OK);
    const int k = 1 << bits;
    for (int64_t ch = 0; ch < C; ch++) {
        qb_quant_config t = c;
        t.gran.kind = QB_GRAN_TENSOR;
        float *xs = slice(x, O, C, I, ch, ch + 1), *ys = slice(yc, O, C, I, ch, ch + 1), *yt = malloc((size_t)(O * I) * sizeof *yt);
        int64_t ns = O * I;
        qb_qparams pt;
        assert_int_equal(qb_qparams_fit(&pt, &t, xs, 1, &ns), QB_OK);
        qb_block bc = qb_qparams_block(&pc, ch), bt = qb_qparams_block(&pt, 0);
        if (bc.scale != bt.scale || bc.zero_point != bt.zero_point || bc.threshold != bt.threshold)
            fail_msg("%s b%d channel %lld: block params differ from per-tensor on the slice", s->name,
                     bits, (long long)ch);
        if (bc.codebook) assert_memory_equal(bc.codebook, bt.codebook, (size_t)k * sizeof(float));
        assert_int_equal(qb_fake_quantize(&pt, xs, ns, yt), QB_OK);
        assert_memory_equal(ys, yt, (size_t)ns * sizeof *yt);
        free(xs);
        free(ys);
        free(yt);
        qb_qparams_free(&pt);
    }
    /* Groups of 2 along axis 1: block (o, g, i) equals per-tensor on x[o, 2g:2g+2, i]. */
    c.gran.kind = QB_GRAN_GROUP;
    c.gran.group = 2;
    qb_qparams pg;
    assert_int_equal(qb_qparams_fit(&pg, &c, x, 3, shape), QB_OK);
    assert_int_equal(pg.nblocks, O * 3 * I);
    for (int64_t o = 0; o < O; o += 2)
        for (int64_t g = 0; g < 3; g++)
            for (int64_t i = 0; i < I; i += 13) {
                float vals[2];
                int64_t nv = 0;
                for (int64_t ch = 2 * g; ch < C && ch < 2 * g + 2; ch++) vals[nv++] = x[(o * C + ch) * I + i];
                qb_quant_config t = c;
                t.gran.kind = QB_GRAN_TENSOR;
                qb_qparams pt;
                assert_int_equal(qb_qparams_fit(&pt, &t, vals, 1, &nv), QB_OK);
                qb_block bg = qb_qparams_block(&pg, (o * 3 + g) * I + i), bt = qb_qparams_block(&pt, 0);
                assert_true(bg.scale == bt.scale && bg.zero_point == bt.zero_point);
                if (bg.codebook) assert_memory_equal(bg.codebook, bt.codebook, (size_t)k * sizeof(float));
                assert_int_equal(qb_qparams_block_of(&pg, (o * C + 2 * g) * I + i), (o * 3 + g) * I + i);
                qb_qparams_free(&pt);
            }
    qb_qparams_free(&pg);
    qb_qparams_free(&pc);
    free(x);
    free(yc);
}

static void test_channel_and_group_equal_tensor_on_slices(void **state)
{
    (void)state;
    each_scheme_and_width(check_blocks_equal_slices);
}

static void test_kmeans_error_does_not_grow_with_bits(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 4; seed++) {
        int64_t n = 5000;
        float *x = sample_data(n, seed), *y = malloc((size_t)n * sizeof *y);
        double prev = INFINITY;
        for (int bits = 1; bits <= 8; bits++) {
            qb_quant_config c;
            qb_quant_config_init(&c, &qb_scheme_kmeans);
            c.bits = bits;
            c.seed = seed;
            qb_qparams p;
            assert_int_equal(qb_qparams_fit(&p, &c, x, 1, &n), QB_OK);
            assert_int_equal(qb_fake_quantize(&p, x, n, y), QB_OK);
            double mse = 0;
            for (int64_t i = 0; i < n; i++) mse += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
            mse /= (double)n;
            if (mse > prev) fail_msg("seed %llu: kmeans MSE grew from %g to %g at %d bits",
                                     (unsigned long long)seed, prev, mse, bits);
            if (bits == 1) assert_true(mse < 0.5);   /* two levels capture a Gaussian's sign */
            if (bits == 8) assert_true(mse < 1e-4);
            prev = mse;
            qb_qparams_free(&p);
        }
        free(x);
        free(y);
    }
    /* With no more distinct values than levels the codebook is exact. */
    float v[6] = {1, 1, 2, 3, 3, 3};
    int64_t n = 6;
    qb_quant_config c;
    qb_quant_config_init(&c, &qb_scheme_kmeans);
    c.bits = 2;
    qb_qparams p;
    float y[6];
    assert_int_equal(qb_qparams_fit(&p, &c, v, 1, &n), QB_OK);
    assert_int_equal(qb_fake_quantize(&p, v, n, y), QB_OK);
    assert_memory_equal(v, y, sizeof v);
    qb_qparams_free(&p);
}

static void check_stochastic_unbiased(const qb_scheme *s, int bits)
{
    qb_qparams p;
    fit_tensor(s, bits, &p);
    p.rounding.mode = QB_ROUND_STOCHASTIC;
    p.rounding.seed = 12345;
    int n;
    level *l = levels_of(&p, &n);
    enum { N = 20000 };
    static float x[N], y[N];
    for (int t = 0; t < 5; t++) {
        /* Points a third and two thirds of the way between levels near the middle and the top. */
        int k = t < 3 ? n / 2 + t : n - 2;
        if (k + 1 >= n) k = n - 2;
        float a = l[k].level, b = l[k + 1].level;
        if (!(b > a)) continue;
        float v = a + (b - a) * (t % 2 ? 0.3333f : 0.6667f);
        for (int i = 0; i < N; i++) x[i] = v;
        p.rounding.seed = 12345 + (uint64_t)t;
        assert_int_equal(qb_fake_quantize(&p, x, N, y), QB_OK);
        double mean = 0;
        for (int i = 0; i < N; i++) {
            if (y[i] != a && y[i] != b) fail_msg("%s b%d: %g rounded to %g, not %g or %g", s->name, bits, v, y[i], a, b);
            mean += y[i];
        }
        mean /= N;
        double se = ((double)b - a) / (2 * sqrt((double)N));
        if (fabs(mean - v) > 4 * se)
            fail_msg("%s b%d: stochastic mean %.9g for x=%.9g (bound %g)", s->name, bits, mean, v, 4 * se);
    }
    free(l);
    qb_qparams_free(&p);
}

static void test_stochastic_rounding_unbiased(void **state)
{
    (void)state;
    each_scheme_and_width(check_stochastic_unbiased);
}

/* ONNX QuantizeLinear: x / scale, round half to even, + zero point, saturate. */
static void test_uniform_onnx_rounding(void **state)
{
    (void)state;
    qb_quant_config c;
    qb_quant_config_init(&c, &qb_scheme_uniform_asym);
    qb_qparams p;
    assert_int_equal(qb_qparams_alloc(&p, &c, 0, NULL), QB_OK);
    p.scale[0] = 0.5f;
    p.zero_point[0] = 3;
    float x[8] = {1.25f, 1.75f, -1.25f, -0.25f, 0.25f, 200.0f, -3.0f, 126.0f};
    int32_t want[8] = {5, 7, 1, 3, 3, 255, 0, 255};
    int32_t q[8];
    assert_int_equal(qb_quantize(&p, x, 8, q), QB_OK);
    assert_memory_equal(q, want, sizeof want);
    qb_qparams_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantize_dequantize_round_trip),
        cmocka_unit_test(test_error_within_half_step),
        cmocka_unit_test(test_saturation_and_order),
        cmocka_unit_test(test_channel_and_group_equal_tensor_on_slices),
        cmocka_unit_test(test_kmeans_error_does_not_grow_with_bits),
        cmocka_unit_test(test_stochastic_rounding_unbiased),
        cmocka_unit_test(test_uniform_onnx_rounding),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("quant_schemes", tests, NULL, NULL);
}
