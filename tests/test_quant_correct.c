/* The precision-protection math of quantizers/, each on a case whose effect
 * is known: Cholesky and the inverse factor GPTQ uses; GPTQ and AdaRound
 * lower a layer's reconstruction error against rounding to nearest (and
 * GPTQ equals it when inputs are uncorrelated); the bit allocation meets
 * its budgets as well as brute force does; bias correction removes a
 * planted mean shift; equalizing scales match the two ranges. */
#include "qb_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adaround.h"
#include "bitalloc.h"
#include "chanstats.h"
#include "gptq.h"
#include "layerwise.h"
#include "linalg.h"
#include "quant.h"
#include "rng.h"

/* A random symmetric positive definite matrix B B^T + n I. */
static double *random_spd(int64_t n, uint64_t seed)
{
    qb_rng r;
    qb_rng_seed(&r, seed);
    double *b = malloc((size_t)(n * n) * sizeof *b), *a = calloc((size_t)(n * n), sizeof *a);
    for (int64_t i = 0; i < n * n; i++) b[i] = qb_rng_normal(&r);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            for (int64_t k = 0; k < n; k++) a[i * n + j] += b[i * n + k] * b[j * n + k];
            if (i == j) a[i * n + j] += (double)n;
        }
    free(b);
    return a;
}

static void test_cholesky_and_inverse_factor(void **state)
{
    (void)state;
    const int64_t n = 17;
    double *a = random_spd(n, 3), *l = malloc((size_t)(n * n) * sizeof *l);
    memcpy(l, a, (size_t)(n * n) * sizeof *l);
    assert_int_equal(qb_cholesky(l, n), QB_OK);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t k = 0; k < n; k++) s += l[i * n + k] * l[j * n + k];
            assert_true(fabs(s - a[i * n + j]) < 1e-9 * n);
            if (j > i) assert_true(l[i * n + j] == 0.0);
        }
    /* U^T U = a^-1, so a U^T U = I */
    double *u = l;
    memcpy(u, a, (size_t)(n * n) * sizeof *u);
    assert_int_equal(qb_inverse_cholesky_upper(u, n), QB_OK);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t k = 0; k < n; k++) {
                double inv_kj = 0;
                for (int64_t p = 0; p < n; p++) inv_kj += u[p * n + k] * u[p * n + j];
                s += a[i * n + k] * inv_kj;
            }
            assert_true(fabs(s - (i == j)) < 1e-9);
            if (j < i) assert_true(u[i * n + j] == 0.0);
        }
    /* not positive definite: refused with the pivot named */
    double bad[4] = {1, 2, 2, 1};
    assert_int_equal(qb_cholesky(bad, 2), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "not positive definite (pivot 1"));
    free(a);
    free(l);
}

/* A layer problem: weights (rows, cols) and n inputs whose features are
 * correlated (x = z M with a random mixing M), so H is far from diagonal. */
typedef struct {
    int64_t rows, cols, n;
    float *w, *x;
    double *h;
} layer_case;

static layer_case make_case(int64_t rows, int64_t cols, int64_t n, int correlated, uint64_t seed)
{
    layer_case c = {rows, cols, n, NULL, NULL, NULL};
    qb_rng r;
    qb_rng_seed(&r, seed);
    c.w = malloc((size_t)(rows * cols) * sizeof *c.w);
    c.x = malloc((size_t)(n * cols) * sizeof *c.x);
    c.h = calloc((size_t)(cols * cols), sizeof *c.h);
    for (int64_t i = 0; i < rows * cols; i++) c.w[i] = 0.1f * qb_rng_normal(&r);
    float *z = malloc((size_t)(n * cols) * sizeof *z), *mix = malloc((size_t)(cols * cols) * sizeof *mix);
    for (int64_t i = 0; i < n * cols; i++) z[i] = qb_rng_normal(&r);
    for (int64_t i = 0; i < cols * cols; i++)
        mix[i] = correlated ? (i / cols == i % cols ? 1.0f : 0.0f) + 0.3f * qb_rng_normal(&r)
                            : (i / cols == i % cols ? 1.0f : 0.0f);
    qb_sgemm_ref(0, 0, n, cols, cols, 1.0f, z, cols, mix, cols, 0.0f, c.x, cols);
    qb_hessian_add_rows(c.h, cols, c.x, n, cols);
    free(z);
    free(mix);
    return c;
}

static void free_case(layer_case *c)
{
    free(c->w);
    free(c->x);
    free(c->h);
}

/* sum over inputs of ||(W - Q) x||^2 computed directly from the inputs */
static double output_error(const layer_case *c, const float *q)
{
    double e = 0;
    for (int64_t s = 0; s < c->n; s++)
        for (int64_t r = 0; r < c->rows; r++) {
            double d = 0;
            for (int64_t j = 0; j < c->cols; j++)
                d += ((double)c->w[r * c->cols + j] - q[r * c->cols + j]) * c->x[s * c->cols + j];
            e += d * d;
        }
    return e;
}

static void fit(qb_qparams *p, const char *scheme, int bits, const char *gran, const layer_case *c)
{
    qb_quant_config cfg;
    assert_int_equal(qb_quant_config_parse(&cfg, scheme, bits, gran, "minmax", NULL), QB_OK);
    int64_t shape[2] = {c->rows, c->cols};
    assert_int_equal(qb_qparams_fit(p, &cfg, c->w, 2, shape), QB_OK);
}

static void test_hessian_error_is_output_error(void **state)
{
    (void)state;
    layer_case c = make_case(6, 10, 40, 1, 5);
    qb_qparams p;
    fit(&p, "uniform-sym", 3, "channel", &c);
    float *q = malloc(60 * sizeof *q);
    assert_int_equal(qb_fake_quantize(&p, c.w, 60, q), QB_OK);
    double direct = output_error(&c, q), viah = qb_recon_error(c.w, q, 6, 10, c.h);
    assert_true(direct > 0);
    assert_true(fabs(direct - viah) < 1e-6 * direct);
    qb_qparams_free(&p);
    free(q);
    free_case(&c);
}

static void test_gptq_beats_nearest(void **state)
{
    (void)state;
    static const struct { const char *scheme; int bits; const char *gran; } cfgs[] = {
        {"uniform-sym", 3, "channel"}, {"uniform-asym", 4, "tensor"}, {"pow2", 4, "channel"},
        {"kmeans", 2, "channel"}, {"uniform-sym", 4, "group:16"},
    };
    layer_case c = make_case(24, 48, 400, 1, 11);
    int64_t n = c.rows * c.cols;
    float *near = malloc((size_t)n * sizeof *near), *y = malloc((size_t)n * sizeof *y);
    int32_t *codes = malloc((size_t)n * sizeof *codes);
    for (size_t k = 0; k < QB_ARRAY_LEN(cfgs); k++)
        for (int order = 0; order < 2; order++) {
            qb_qparams p;
            fit(&p, cfgs[k].scheme, cfgs[k].bits, cfgs[k].gran, &c);
            assert_int_equal(qb_fake_quantize(&p, c.w, n, near), QB_OK);
            qb_gptq_options o;
            qb_gptq_options_init(&o);
            o.act_order = order;
            assert_int_equal(qb_gptq(&p, c.w, c.rows, c.cols, c.h, &o, codes, y), QB_OK);
            double e_near = output_error(&c, near), e_gptq = output_error(&c, y);
            if (!(e_gptq < 0.8 * e_near))
                fail_msg("%s %d-bit %s act_order %d: GPTQ error %g vs nearest %g", cfgs[k].scheme,
                         cfgs[k].bits, cfgs[k].gran, order, e_gptq, e_near);
            /* the codes are valid and dequantize to y */
            float *back = near;
            assert_int_equal(qb_dequantize(&p, codes, n, back), QB_OK);
            assert_memory_equal(back, y, (size_t)n * sizeof *y);
            qb_qparams_free(&p);
        }
    free(near);
    free(y);
    free(codes);
    free_case(&c);
}

/* With uncorrelated inputs of equal power H is diagonal: nothing to
 * compensate, so GPTQ is rounding to nearest, bit for bit. */
static void test_gptq_diagonal_hessian_is_nearest(void **state)
{
    (void)state;
    layer_case c = make_case(8, 20, 10, 0, 2);
    memset(c.h, 0, 20 * 20 * sizeof *c.h);
    for (int j = 0; j < 20; j++) c.h[j * 20 + j] = 3.0;
    qb_qparams p;
    fit(&p, "uniform-sym", 4, "channel", &c);
    int32_t near[160], got[160];
    assert_int_equal(qb_quantize(&p, c.w, 160, near), QB_OK);
    assert_int_equal(qb_gptq(&p, c.w, 8, 20, c.h, NULL, got, NULL), QB_OK);
    assert_memory_equal(near, got, sizeof near);
    /* parameters made for another shape, and NaN weights, are refused */
    c.w[7] = NAN;
    assert_int_equal(qb_gptq(&p, c.w, 8, 20, c.h, NULL, got, NULL), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "weight (0, 7) is NaN"));
    assert_int_equal(qb_gptq(&p, c.w, 4, 40, c.h, NULL, got, NULL), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "another shape"));
    qb_qparams_free(&p);
    free_case(&c);
}

static void test_adaround_beats_nearest(void **state)
{
    (void)state;
    static const struct { const char *scheme; int bits; const char *gran; } cfgs[] = {
        {"uniform-sym", 3, "channel"}, {"uniform-asym", 4, "tensor"}, {"pow2", 4, "channel"},
    };
    layer_case c = make_case(16, 32, 300, 1, 23);
    int64_t n = c.rows * c.cols;
    float *near = malloc((size_t)n * sizeof *near), *y = malloc((size_t)n * sizeof *y);
    int32_t *codes = malloc((size_t)n * sizeof *codes);
    uint8_t *dir = malloc((size_t)n);
    for (size_t k = 0; k < QB_ARRAY_LEN(cfgs); k++) {
        qb_qparams p;
        fit(&p, cfgs[k].scheme, cfgs[k].bits, cfgs[k].gran, &c);
        assert_int_equal(qb_fake_quantize(&p, c.w, n, near), QB_OK);
        qb_adaround_options o;
        qb_adaround_options_init(&o);
        o.iters = 400;
        qb_adaround_stats st;
        assert_int_equal(qb_adaround(&p, c.w, c.rows, c.cols, c.h, &o, dir, &st), QB_OK);
        assert_int_equal(qb_quantize_directed(&p, c.w, n, dir, codes), QB_OK);
        assert_int_equal(qb_dequantize(&p, codes, n, y), QB_OK);
        double e_near = output_error(&c, near), e_ada = output_error(&c, y);
        if (!(e_ada < 0.8 * e_near))
            fail_msg("%s %d-bit %s: AdaRound error %g vs nearest %g", cfgs[k].scheme, cfgs[k].bits,
                     cfgs[k].gran, e_ada, e_near);
        assert_true(fabs(st.err_adaround - e_ada) < 1e-4 * e_near);
        assert_true(fabs(st.err_nearest - e_near) < 1e-4 * e_near);
        assert_true(st.frac_changed > 0 && st.frac_changed < 0.5);
        /* each weight stays on one of its two neighbouring levels */
        for (int64_t i = 0; i < n; i++) {
            qb_block b = qb_qparams_block(&p, qb_qparams_block_of(&p, i));
            float lo = p.scheme->dequantize(p.scheme->quantize(c.w[i], &b, QB_DIR_DOWN), &b);
            float hi = p.scheme->dequantize(p.scheme->quantize(c.w[i], &b, QB_DIR_UP), &b);
            assert_true(y[i] == lo || y[i] == hi);
        }
        qb_qparams_free(&p);
    }
    free(near);
    free(y);
    free(codes);
    free(dir);
    free_case(&c);
}

/* Every allocation of a small problem, by brute force. */
static void brute_force(const qb_bitalloc_layer *l, int n, uint64_t size_budget, double cost_budget,
                        double *best_cost, uint64_t *best_size)
{
    *best_cost = INFINITY;
    *best_size = UINT64_MAX;
    int idx[8] = {0};
    for (;;) {
        uint64_t s = 0;
        double c = 0;
        for (int i = 0; i < n; i++) {
            s += l[i].size[idx[i]];
            c += l[i].cost[idx[i]];
        }
        if (s <= size_budget && c < *best_cost) *best_cost = c;
        if (c <= cost_budget && s < *best_size) *best_size = s;
        int i = 0;
        while (i < n && ++idx[i] == l[i].n_options) idx[i++] = 0;
        if (i == n) break;
    }
}

static void test_bitalloc_meets_budgets(void **state)
{
    (void)state;
    enum { L = 6, K = 4 };
    static const int bits[K] = {2, 4, 6, 8};
    uint64_t size[L][K];
    double cost[L][K];
    qb_bitalloc_layer layers[L];
    qb_rng r;
    qb_rng_seed(&r, 8);
    uint64_t total8 = 0;
    for (int i = 0; i < L; i++) {
        uint64_t params = 100 + qb_rng_below(&r, 5000);
        double sens = qb_rng_uniform_d(&r) * 3;
        for (int k = 0; k < K; k++) {
            size[i][k] = (params * (uint64_t)bits[k] + 7) / 8 + 4;
            cost[i][k] = sens * pow(4.0, -bits[k]) * (1 + 0.3 * qb_rng_uniform_d(&r));
        }
        total8 += size[i][K - 1];
        layers[i] = (qb_bitalloc_layer){K, bits, size[i], cost[i]};
    }
    qb_bitalloc_frontier f;
    assert_int_equal(qb_bitalloc_frontier_build(layers, L, 1, &f), QB_OK);
    assert_true(f.n_points > 5);
    for (int p = 1; p < f.n_points; p++) {
        assert_true(f.points[p].size > f.points[p - 1].size);
        assert_true(f.points[p].cost < f.points[p - 1].cost);
    }
    for (int t = 1; t <= 10; t++) {
        uint64_t budget = total8 * (uint64_t)t / 10;
        double cb = cost[0][0] * t / 10;
        double bc;
        uint64_t bs;
        brute_force(layers, L, budget, cb, &bc, &bs);
        int pt;
        if (isinf(bc)) {
            assert_int_equal(qb_bitalloc_for_size(&f, budget, &pt), QB_ERR_ARG);
            assert_non_null(strstr(qb_last_error(), "the smallest takes"));
        } else {
            assert_int_equal(qb_bitalloc_for_size(&f, budget, &pt), QB_OK);
            assert_true(f.points[pt].size <= budget);
            assert_true(fabs(f.points[pt].cost - bc) < 1e-12);
            uint64_t s = 0;
            for (int i = 0; i < L; i++) s += size[i][f.points[pt].choice[i]];
            assert_true(s == f.points[pt].size);
        }
        assert_int_equal(qb_bitalloc_for_cost(&f, cb, &pt), QB_OK);
        assert_true(f.points[pt].cost <= cb);
        assert_true(f.points[pt].size == bs);
    }
    assert_int_equal(qb_bitalloc_for_cost(&f, -1, &(int){0}), QB_ERR_ARG);
    qb_bitalloc_frontier_free(&f);

    /* a coarse unit still never exceeds the budget it reports */
    assert_int_equal(qb_bitalloc_frontier_build(layers, L, 97, &f), QB_OK);
    int pt;
    assert_int_equal(qb_bitalloc_for_size(&f, total8 / 2, &pt), QB_OK);
    assert_true(f.points[pt].size <= total8 / 2);
    qb_bitalloc_frontier_free(&f);

    double nan_cost[K] = {NAN, 0, 0, 0};
    layers[2].cost = nan_cost;
    assert_int_equal(qb_bitalloc_frontier_build(layers, L, 1, &f), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "layer 2, 2 bits"));
}

/* y = W x + b over inputs with a non-zero mean; the "quantized" W' = W + D
 * has a planted per-row offset, which shifts each output's mean by D m.
 * Bias correction from the measured means removes exactly that shift. */
static void test_bias_correction_removes_planted_shift(void **state)
{
    (void)state;
    enum { OUT = 5, IN = 7, N = 200 };
    qb_rng r;
    qb_rng_seed(&r, 4);
    float w[OUT * IN], wq[OUT * IN], b[OUT], bq[OUT], x[N * IN], y[N * OUT], yq[N * OUT];
    for (int i = 0; i < OUT * IN; i++) w[i] = qb_rng_normal(&r);
    for (int o = 0; o < OUT; o++) {
        b[o] = bq[o] = qb_rng_normal(&r);
        for (int i = 0; i < IN; i++) wq[o * IN + i] = w[o * IN + i] + 0.05f * (float)(o + 1);
    }
    for (int s = 0; s < N * IN; s++) x[s] = 1.5f + qb_rng_normal(&r);
    double ref[OUT], q[OUT];
    for (int pass = 0; pass < 2; pass++) {
        qb_sgemm_ref(0, 1, N, OUT, IN, 1.0f, x, IN, w, IN, 0.0f, y, OUT);
        qb_sgemm_ref(0, 1, N, OUT, IN, 1.0f, x, IN, wq, IN, 0.0f, yq, OUT);
        for (int s = 0; s < N; s++)
            for (int o = 0; o < OUT; o++) {
                y[s * OUT + o] += b[o];
                yq[s * OUT + o] += bq[o];
            }
        memset(ref, 0, sizeof ref);
        memset(q, 0, sizeof q);
        /* (N, OUT) is NCHW with batch N, OUT channels, inner 1 */
        qb_channel_sums_add(ref, y, N, OUT, 1);
        qb_channel_sums_add(q, yq, N, OUT, 1);
        for (int o = 0; o < OUT; o++) {
            double shift = (q[o] - ref[o]) / N;
            double xm = 0;
            for (int s = 0; s < N; s++)
                for (int i = 0; i < IN; i++) xm += x[s * IN + i];
            double planted = 0.05 * (o + 1) * xm / N;
            if (pass == 0) assert_true(fabs(shift - planted) < 1e-3 * fabs(planted));
            else assert_true(fabs(shift) < 1e-4);
        }
        if (pass == 0) qb_bias_correct(bq, OUT, ref, q, N);
    }
}

static void test_equalize_scales(void **state)
{
    (void)state;
    float r1[4] = {8, 0.5f, 0, 3}, r2[4] = {2, 0.125f, 1, 0}, s[4];
    qb_equalize_scales(r1, r2, 4, s);
    for (int i = 0; i < 2; i++) {
        /* the first layer's range divided, the second's multiplied: equal */
        assert_true(fabsf(r1[i] / s[i] - r2[i] * s[i]) < 1e-6f);
        assert_true(fabsf(r1[i] / s[i] - sqrtf(r1[i] * r2[i])) < 1e-6f);
    }
    assert_true(s[2] == 1.0f && s[3] == 1.0f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cholesky_and_inverse_factor),
        cmocka_unit_test(test_hessian_error_is_output_error),
        cmocka_unit_test(test_gptq_beats_nearest),
        cmocka_unit_test(test_gptq_diagonal_hessian_is_nearest),
        cmocka_unit_test(test_adaround_beats_nearest),
        cmocka_unit_test(test_bitalloc_meets_budgets),
        cmocka_unit_test(test_bias_correction_removes_planted_shift),
        cmocka_unit_test(test_equalize_scales),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("quant_correct", tests, NULL, NULL);
}
