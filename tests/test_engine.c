/* Tests for the fp32 engine: every layer's backward against central finite
 * differences, convolution against a direct loop, thread-count independence,
 * BN folding, ReLU fusion and the hooks. */
#include "qb_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "gemm.h"
#include "layers.h"
#include "model.h"
#include "pool.h"
#include "rng.h"
#include "workcount.h"

#define BATCH 3

static void random_fill(float *x, int64_t n, qb_rng *r, float scale)
{
    for (int64_t i = 0; i < n; i++) x[i] = scale * qb_rng_normal(r);
}

/* Makes BN running statistics and biases non-trivial so folding and
 * inference are really exercised. */
static void perturb_params(qb_model *m, uint64_t seed)
{
    qb_rng r;
    qb_rng_seed(&r, seed);
    for (int i = 0; i < m->n_layers; i++) {
        qb_layer *l = &m->layers[i];
        for (int p = 1; p < l->n_params; p++) {
            qb_tensor *t = &l->params[p].value;
            if (!t->data) continue;
            float *v = t->data;
            for (int64_t j = 0; j < qb_tensor_numel(t); j++)
                v[j] = p == QB_P_RUNNING_VAR ? 0.5f + qb_rng_uniform(&r) : 0.3f * qb_rng_normal(&r);
        }
        if (l->kind == QB_LAYER_BN) {
            float *g = l->params[QB_P_WEIGHT].value.data;
            for (int c = 0; c < l->c; c++) g[c] = 0.5f + qb_rng_uniform(&r);
        }
    }
}

/* A residual net touching every layer kind: conv (3x3 pad 1, 3x3 stride 2,
 * 1x1), BN, ReLU, add, max pool, global average pool, flatten, dense. */
static void build_mixed(qb_model *m)
{
    assert_int_equal(qb_model_begin(m, "mixed", 2, 7, 7, 4), QB_OK);
    int x = qb_model_conv(m, "c1", QB_MODEL_INPUT, 3, 3, 1, 1, 1);
    x = qb_model_relu(m, "r1", qb_model_bn(m, "b1", x));
    int y = qb_model_bn(m, "b2", qb_model_conv(m, "c2", x, 3, 3, 1, 1, 0));
    x = qb_model_relu(m, "r2", qb_model_add(m, "add", y, x));
    int a = qb_model_conv(m, "c3", x, 4, 3, 2, 1, 1);
    int b = qb_model_conv(m, "c4", x, 4, 1, 2, 0, 0);
    x = qb_model_add(m, "add2", a, b);
    int p = qb_model_maxpool(m, "pool", x, 2, 1);
    int g = qb_model_flatten(m, "flat", qb_model_gap(m, "gap", p));
    x = qb_model_relu(m, "r3", qb_model_dense(m, "fc1", g, 5, 1));
    qb_model_dense(m, "fc2", x, 4, 0);
    assert_int_equal(qb_model_finish(m), QB_OK);
}

static void build_mlp_like(qb_model *m)
{
    assert_int_equal(qb_model_begin(m, "small-mlp", 1, 4, 4, 3), QB_OK);
    int x = qb_model_flatten(m, "flat", QB_MODEL_INPUT);
    x = qb_model_relu(m, "r", qb_model_dense(m, "fc1", x, 6, 1));
    qb_model_dense(m, "fc2", x, 3, 1);
    assert_int_equal(qb_model_finish(m), QB_OK);
}

/* A hash of the network's piecewise-linear choices for the last forward:
 * which ReLU inputs are positive and which element each max-pool window
 * picks. Finite differences are only meaningful when a step does not change
 * it (otherwise the step crosses a kink). */
static uint64_t kink_signature(const qb_exec *e, const qb_model *m)
{
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < m->n_layers; i++) {
        const qb_layer *l = &m->layers[i];
        const float *y = qb_exec_output(e, i);
        if (l->kind == QB_LAYER_RELU) {
            for (int64_t j = 0; j < BATCH * qb_layer_out_numel(l); j++)
                h = (h ^ (uint64_t)(y[j] > 0)) * 1099511628211ULL;
        } else if (l->kind == QB_LAYER_MAXPOOL) {
            int32_t *arg = malloc((size_t)qb_layer_out_numel(l) * sizeof *arg);
            float *tmp = malloc((size_t)qb_layer_out_numel(l) * sizeof *tmp);
            const float *x = qb_exec_output(e, l->inputs[0]);
            for (int b = 0; b < BATCH; b++) {
                qb_maxpool_forward_image(l, x + b * qb_layer_in_numel(l), tmp, arg);
                for (int64_t j = 0; j < qb_layer_out_numel(l); j++)
                    h = (h ^ (uint64_t)arg[j]) * 1099511628211ULL;
            }
            free(arg);
            free(tmp);
        }
    }
    return h;
}

static double loss_at(qb_exec *e, const qb_model *m, const float *x, const int *labels,
                      uint64_t *sig)
{
    assert_int_equal(qb_exec_forward(e, x, BATCH), QB_OK);
    *sig = kink_signature(e, m);
    return qb_softmax_xent(qb_exec_logits(e), labels, BATCH, m->n_classes, NULL, 0, NULL) / BATCH;
}

/* (loss(v + h) - loss(v - h)) / 2h for one value v of a parameter or the
 * input; *smooth is 0 when the step crosses a kink. */
static double central_difference(qb_exec *e, const qb_model *m, const float *x, const int *labels,
                                 float *v, int *smooth)
{
    const float h = 1e-3f;
    uint64_t s0, sp, sm;
    float keep = *v;
    loss_at(e, m, x, labels, &s0);
    *v = keep + h;
    double lp = loss_at(e, m, x, labels, &sp);
    *v = keep - h;
    double lm = loss_at(e, m, x, labels, &sm);
    *v = keep;
    *smooth = s0 == sp && s0 == sm;
    return (lp - lm) / (2.0 * h);
}

static int close_enough(double num, double ana)
{
    return fabs(num - ana) <= 1e-2 * fmax(fabs(num), fabs(ana)) + 1e-3;
}

static void compare(const char *what, int64_t j, double num, double ana, int smooth, int *checked,
                    int *skipped, int *bad)
{
    if (!smooth) {
        (*skipped)++;
        return;
    }
    (*checked)++;
    if (!close_enough(num, ana)) {
        (*bad)++;
        print_message("%s[%lld]: numeric %.6f analytic %.6f\n", what, (long long)j, num, ana);
    }
}

/* Central differences on every trainable parameter and on the input. */
static void check_gradients(qb_model *m, uint64_t seed)
{
    qb_rng r;
    qb_rng_seed(&r, seed);
    qb_model_init_params(m, seed);
    perturb_params(m, seed + 1);
    int64_t in_n = (int64_t)m->in_c * m->in_h * m->in_w;
    float *x = malloc((size_t)(BATCH * in_n) * sizeof *x);
    random_fill(x, BATCH * in_n, &r, 1.0f);
    int labels[BATCH];
    for (int i = 0; i < BATCH; i++) labels[i] = (int)qb_rng_below(&r, (uint64_t)m->n_classes);

    qb_exec *e;
    assert_int_equal(qb_exec_create(&e, m, BATCH, NULL, QB_EXEC_TRAIN), QB_OK);
    qb_exec_want_input_grad(e, 1);
    assert_int_equal(qb_exec_forward(e, x, BATCH), QB_OK);
    float loss;
    assert_int_equal(qb_exec_backward(e, labels, &loss, NULL), QB_OK);
    uint64_t sig;
    assert_true(fabs(loss - loss_at(e, m, x, labels, &sig)) < 1e-5);
    float *dx = malloc((size_t)(BATCH * in_n) * sizeof *dx);
    memcpy(dx, qb_exec_input_grad(e), (size_t)(BATCH * in_n) * sizeof *dx);

    int checked = 0, skipped = 0, bad = 0, smooth;
    for (int li = 0; li < m->n_layers; li++)
        for (int p = 0; p < m->layers[li].n_params; p++) {
            qb_param *q = &m->layers[li].params[p];
            if (!q->value.data || !q->trainable) continue;
            int64_t n = qb_tensor_numel(&q->value);
            float *ana = malloc((size_t)n * sizeof *ana);
            memcpy(ana, q->grad.data, (size_t)n * sizeof *ana);
            for (int64_t j = 0; j < n; j++) {
                double num = central_difference(e, m, x, labels, (float *)q->value.data + j, &smooth);
                compare(q->name, j, num, ana[j], smooth, &checked, &skipped, &bad);
            }
            free(ana);
        }
    for (int64_t j = 0; j < BATCH * in_n; j++) {
        double num = central_difference(e, m, x, labels, x + j, &smooth);
        compare("input", j, num, dx[j], smooth, &checked, &skipped, &bad);
    }
    print_message("%s: %d gradients checked, %d off, %d skipped (step crosses a ReLU/max kink)\n",
                  m->arch, checked, bad, skipped);
    assert_true(checked > 50);
    assert_true(skipped * 10 < checked); /* kinks are rare: most steps are smooth */
    assert_int_equal(bad, 0);
    free(dx);
    free(x);
    qb_exec_free(e);
}

static void test_gradients_every_layer_kind(void **state)
{
    (void)state;
    qb_model m;
    build_mixed(&m);
    check_gradients(&m, 11);
    qb_model_free(&m);
}

static void test_gradients_dense(void **state)
{
    (void)state;
    qb_model m;
    build_mlp_like(&m);
    check_gradients(&m, 5);
    qb_model_free(&m);
}

/* Direct 7-loop convolution as the reference for im2col + GEMM. */
static void conv_direct(const qb_layer *l, const float *w, const float *b, const float *x, float *y)
{
    for (int o = 0; o < l->c; o++)
        for (int oy = 0; oy < l->h; oy++)
            for (int ox = 0; ox < l->w; ox++) {
                double s = b ? b[o] : 0;
                for (int c = 0; c < l->in_c; c++)
                    for (int ky = 0; ky < l->kh; ky++)
                        for (int kx = 0; kx < l->kw; kx++) {
                            int iy = oy * l->stride - l->pad + ky, ix = ox * l->stride - l->pad + kx;
                            if (iy < 0 || iy >= l->in_h || ix < 0 || ix >= l->in_w) continue;
                            s += (double)w[((o * l->in_c + c) * l->kh + ky) * l->kw + kx] *
                                 x[(c * l->in_h + iy) * l->in_w + ix];
                        }
                y[(o * l->h + oy) * l->w + ox] = (float)s;
            }
}

static void test_conv_matches_direct_loop(void **state)
{
    (void)state;
    static const int cases[][6] = { /* in_c, hw, out_c, k, stride, pad */
        {3, 9, 5, 3, 1, 1}, {2, 10, 4, 3, 2, 1}, {4, 8, 3, 1, 1, 0}, {3, 9, 2, 5, 2, 2},
        {1, 7, 6, 5, 1, 0}, {2, 6, 3, 1, 2, 0}, {2, 5, 2, 3, 3, 2}, {3, 9, 2, 5, 1, 2},
        {2, 4, 3, 5, 1, 2}, {2, 3, 2, 7, 1, 3},
    };
    qb_rng r;
    qb_rng_seed(&r, 3);
    for (size_t t = 0; t < QB_ARRAY_LEN(cases); t++) {
        const int *cs = cases[t];
        qb_model m;
        assert_int_equal(qb_model_begin(&m, "conv", cs[0], cs[1], cs[1], 2), QB_OK);
        int c = qb_model_conv(&m, "c", QB_MODEL_INPUT, cs[2], cs[3], cs[4], cs[5], 1);
        assert_true(c == 0);
        const qb_layer *l = &m.layers[0];
        float *w = l->params[0].value.data, *b = l->params[1].value.data;
        random_fill(w, qb_tensor_numel(&l->params[0].value), &r, 1);
        random_fill(b, l->c, &r, 1);
        int64_t in_n = qb_layer_in_numel(l), out_n = qb_layer_out_numel(l);
        float *x = malloc((size_t)in_n * 4), *y = malloc((size_t)out_n * 4), *ref = malloc((size_t)out_n * 4);
        float *col = malloc((size_t)qb_conv_col_size(l) * 4);
        random_fill(x, in_n, &r, 1);
        long long macs0 = qb_work_read(QB_WORK_MACS);
        qb_conv_forward_image(l, w, b, x, y, col, 0);
        assert_true(qb_work_read(QB_WORK_MACS) - macs0 == qb_layer_macs(l));
        conv_direct(l, w, b, x, ref);
        for (int64_t j = 0; j < out_n; j++) assert_true(fabsf(y[j] - ref[j]) < 1e-4f * (1 + fabsf(ref[j])));
        free(x);
        free(y);
        free(ref);
        free(col);
        qb_model_free(&m);
    }
}

/* One TRAIN step's gradients and BN statistics must be bit-identical with
 * 1 and 2 threads, and on both GEMM libraries within rounding. */
static void test_results_independent_of_threads(void **state)
{
    (void)state;
    qb_model m1, m2;
    build_mixed(&m1);
    qb_model_init_params(&m1, 21);
    assert_int_equal(qb_model_clone(&m1, &m2), QB_OK);
    const int batch = 13;
    int64_t in_n = 2 * 7 * 7;
    float *x = malloc((size_t)(batch * in_n) * 4);
    int labels[13];
    qb_rng r;
    qb_rng_seed(&r, 9);
    random_fill(x, batch * in_n, &r, 1);
    for (int i = 0; i < batch; i++) labels[i] = i % 4;
    qb_pool *pool;
    assert_int_equal(qb_pool_create(&pool, 2, NULL, NULL), QB_OK);
    qb_exec *e1, *e2;
    assert_int_equal(qb_exec_create(&e1, &m1, batch, NULL, QB_EXEC_TRAIN), QB_OK);
    assert_int_equal(qb_exec_create(&e2, &m2, batch, pool, QB_EXEC_TRAIN), QB_OK);
    assert_int_equal(qb_exec_forward(e1, x, batch), QB_OK);
    assert_int_equal(qb_exec_forward(e2, x, batch), QB_OK);
    assert_int_equal(qb_exec_backward(e1, labels, NULL, NULL), QB_OK);
    assert_int_equal(qb_exec_backward(e2, labels, NULL, NULL), QB_OK);
    for (int i = 0; i < m1.n_layers; i++)
        for (int p = 0; p < m1.layers[i].n_params; p++) {
            qb_param *a = &m1.layers[i].params[p], *b = &m2.layers[i].params[p];
            if (!a->value.data) continue;
            assert_memory_equal(a->value.data, b->value.data, qb_tensor_bytes(&a->value));
            if (a->grad.data) assert_memory_equal(a->grad.data, b->grad.data, qb_tensor_bytes(&a->grad));
        }
    qb_exec_free(e1);
    qb_exec_free(e2);
    qb_pool_free(pool);
    free(x);
    qb_model_free(&m1);
    qb_model_free(&m2);
}

static void logits_of(qb_model *m, const float *x, int batch, const qb_exec_hooks *h, float *out)
{
    qb_exec *e;
    assert_int_equal(qb_exec_create(&e, m, batch, NULL, QB_EXEC_INFER), QB_OK);
    qb_exec_set_hooks(e, h);
    assert_int_equal(qb_exec_forward(e, x, batch), QB_OK);
    memcpy(out, qb_exec_logits(e), (size_t)(batch * m->n_classes) * sizeof *out);
    qb_exec_free(e);
}

struct seen {
    int outputs, inputs;
    double input_sum;
};

static void count_output(void *ctx, int layer, const float *y, int batch)
{
    (void)layer, (void)y, (void)batch;
    ((struct seen *)ctx)->outputs++;
}

static void zero_input(void *ctx, int layer, float *x, int batch)
{
    (void)layer;
    struct seen *s = ctx;
    s->inputs++;
    if (layer == 0) memset(x, 0, (size_t)batch * 2 * 7 * 7 * sizeof *x);
}

static void test_fold_bn_fusion_and_hooks(void **state)
{
    (void)state;
    qb_model m, folded;
    build_mixed(&m);
    qb_model_init_params(&m, 4);
    perturb_params(&m, 6);
    assert_int_equal(qb_model_fold_bn(&m, &folded), QB_OK);
    /* b1 follows c1 and b2 follows c2: both fold away */
    assert_int_equal(folded.n_layers, m.n_layers - 2);
    assert_int_equal(qb_model_find_layer(&folded, "b1"), -1);
    assert_true(folded.layers[qb_model_find_layer(&folded, "r1")].inputs[0] ==
                qb_model_find_layer(&folded, "c1"));
    assert_non_null(qb_model_find_param(&folded, "c2.bias"));
    const int batch = 5;
    float x[5 * 2 * 7 * 7], a[5 * 4], b[5 * 4], c[5 * 4], d[5 * 4];
    qb_rng r;
    qb_rng_seed(&r, 2);
    random_fill(x, QB_ARRAY_LEN(x), &r, 1);
    logits_of(&m, x, batch, NULL, a);
    logits_of(&folded, x, batch, NULL, b);
    for (int j = 0; j < batch * 4; j++) assert_true(fabsf(a[j] - b[j]) < 1e-4f * (1 + fabsf(a[j])));
    /* an output hook disables ReLU fusion and sees every layer; same logits */
    struct seen s = {0};
    qb_exec_hooks h = {.ctx = &s, .output = count_output};
    logits_of(&folded, x, batch, &h, c);
    assert_int_equal(s.outputs, folded.n_layers);
    assert_memory_equal(b, c, sizeof b);
    /* an input hook sees each weighted layer's input; zeroing the first
     * layer's input must give the logits of an all-zero image */
    qb_exec_hooks hz = {.ctx = &s, .input = zero_input};
    s.inputs = 0;
    logits_of(&folded, x, batch, &hz, c);
    assert_int_equal(s.inputs, 6);
    memset(x, 0, sizeof x);
    logits_of(&folded, x, batch, NULL, d);
    assert_memory_equal(c, d, sizeof c);
    qb_model_free(&m);
    qb_model_free(&folded);

    /* a conv whose output another layer also reads keeps its BN */
    assert_int_equal(qb_model_begin(&m, "shared", 2, 5, 5, 3), QB_OK);
    int conv = qb_model_conv(&m, "c", QB_MODEL_INPUT, 2, 3, 1, 1, 0);
    int sum = qb_model_add(&m, "add", qb_model_bn(&m, "b", conv), conv);
    qb_model_dense(&m, "fc", qb_model_flatten(&m, "f", sum), 3, 1);
    assert_int_equal(qb_model_finish(&m), QB_OK);
    assert_int_equal(qb_model_fold_bn(&m, &folded), QB_OK);
    assert_int_equal(folded.n_layers, m.n_layers);
    assert_int_not_equal(qb_model_find_layer(&folded, "b"), -1);
    qb_model_free(&m);
    qb_model_free(&folded);
}

/* TRAIN-mode forward with BN replaced by running stats is INFER: check that
 * a model without BN gives the same logits in both modes. */
static void test_train_and_infer_agree_without_bn(void **state)
{
    (void)state;
    qb_model m;
    build_mlp_like(&m);
    qb_model_init_params(&m, 8);
    float x[BATCH * 16], a[BATCH * 3];
    qb_rng r;
    qb_rng_seed(&r, 1);
    random_fill(x, QB_ARRAY_LEN(x), &r, 1);
    logits_of(&m, x, BATCH, NULL, a);
    qb_exec *e;
    assert_int_equal(qb_exec_create(&e, &m, BATCH, NULL, QB_EXEC_TRAIN), QB_OK);
    assert_int_equal(qb_exec_forward(e, x, BATCH), QB_OK);
    assert_memory_equal(a, qb_exec_logits(e), sizeof a);
    assert_int_equal(qb_exec_forward(e, x, BATCH + 1), QB_ERR_ARG);
    qb_exec_free(e);
    qb_model_free(&m);
}

/* INFER mode runs depth-first in sub-batches (here of one image: the conv
 * output is 200 KB) and splits them over threads: logits must match a
 * whole-batch TRAIN-mode forward and not depend on the thread count. */
static void test_infer_sub_batches_match_whole_batch(void **state)
{
    (void)state;
    qb_model m;
    assert_int_equal(qb_model_begin(&m, "wide", 1, 28, 28, 10), QB_OK);
    int x = qb_model_relu(&m, "r", qb_model_conv(&m, "c", QB_MODEL_INPUT, 64, 3, 1, 1, 1));
    x = qb_model_maxpool(&m, "p", x, 2, 2);
    qb_model_dense(&m, "fc", qb_model_flatten(&m, "f", qb_model_gap(&m, "g", x)), 10, 1);
    assert_int_equal(qb_model_finish(&m), QB_OK);
    qb_model_init_params(&m, 5);
    const int batch = 7;
    float *in = malloc(batch * 784 * sizeof *in), ref[7 * 10], one[7 * 10];
    qb_rng r;
    qb_rng_seed(&r, 4);
    random_fill(in, batch * 784, &r, 1);
    qb_exec *e;
    assert_int_equal(qb_exec_create(&e, &m, batch, NULL, QB_EXEC_TRAIN), QB_OK);
    assert_int_equal(qb_exec_forward(e, in, batch), QB_OK);
    memcpy(ref, qb_exec_logits(e), sizeof ref);
    qb_exec_free(e);
    logits_of(&m, in, batch, NULL, one);
    for (int j = 0; j < batch * 10; j++) assert_true(fabsf(one[j] - ref[j]) < 1e-5f * (1 + fabsf(ref[j])));
    qb_pool *pool;
    assert_int_equal(qb_pool_create(&pool, 2, NULL, NULL), QB_OK);
    assert_int_equal(qb_exec_create(&e, &m, batch, pool, QB_EXEC_INFER), QB_OK);
    assert_int_equal(qb_exec_forward(e, in, batch), QB_OK);
    assert_memory_equal(one, qb_exec_logits(e), sizeof one);
    assert_int_equal(qb_exec_forward(e, in + 784, batch - 1), QB_OK); /* a smaller batch */
    assert_memory_equal(one + 10, qb_exec_logits(e), (batch - 1) * 10 * sizeof(float));
    qb_exec_free(e);
    qb_pool_free(pool);
    free(in);
    qb_model_free(&m);
}

static void test_gemm_backends_agree(void **state)
{
    (void)state;
    const int M = 17, N = 23, K = 31;
    float a[17 * 31], b[31 * 23], c1[17 * 23], c2[17 * 23];
    qb_rng r;
    qb_rng_seed(&r, 12);
    random_fill(a, M * K, &r, 1);
    random_fill(b, K * N, &r, 1);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            /* the same buffers read as transposed: only the result shape matters */
            qb_sgemm_on(QB_GEMM_ONEDNN, ta, tb, M, N, K, 1, a, ta ? M : K, b, tb ? K : N, 0, c1, N);
            qb_sgemm_on(QB_GEMM_OPENBLAS, ta, tb, M, N, K, 1, a, ta ? M : K, b, tb ? K : N, 0, c2, N);
            for (int i = 0; i < M * N; i++) assert_true(fabsf(c1[i] - c2[i]) < 1e-4f * (1 + fabsf(c1[i])));
        }
    assert_non_null(strstr(qb_gemm_describe(QB_GEMM_ONEDNN), "oneDNN"));
    assert_non_null(strstr(qb_gemm_describe(QB_GEMM_OPENBLAS), "OpenBLAS"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradients_every_layer_kind),
        cmocka_unit_test(test_gradients_dense),
        cmocka_unit_test(test_conv_matches_direct_loop),
        cmocka_unit_test(test_results_independent_of_threads),
        cmocka_unit_test(test_fold_bn_fusion_and_hooks),
        cmocka_unit_test(test_train_and_infer_agree_without_bn),
        cmocka_unit_test(test_infer_sub_batches_match_whole_batch),
        cmocka_unit_test(test_gemm_backends_agree),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
