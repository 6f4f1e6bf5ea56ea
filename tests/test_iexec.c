/* The integer executor against the simulated (fake-quantized) evaluation,
 * on the three built-in architectures and several schemes:
 *   - rounding audit: every conv/dense layer's output, recomputed in double
 *     precision from the very codes the executor fed it as the simulation
 *     would (dequantize, multiply, add the bias, quantize for the reader),
 *     differs from the executor's by at most one code unit, and rarely;
 *   - predictions on Fashion-MNIST test images equal the simulation's
 *     except for a few images, each a near tie in the simulation's own
 *     logits (top-2 margin under 1% of their range), where such one-unit
 *     steps can tip the balance;
 *   - the same on the trained reference models (workloads/models) and the
 *     whole test set;
 *   - bad configurations fail with a message naming the layer. */
#include "qb_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archs.h"
#include "backend.h"
#include "dataset.h"
#include "exec.h"
#include "iexec.h"
#include "modelfile.h"
#include "qeval.h"
#include "qeval_sim.h"
#include "rng.h"
#include "train.h"

static char *dir;
static qb_fmnist data, small; /* small: the first test images only */

static int setup(void **state)
{
    (void)state;
    dir = qb_test_tmpdir();
    if (qb_fmnist_load(qb_dataset_dir(NULL), &data) != QB_OK) return -1;
    small = data;
    small.test = qb_images_head(&data.test, 500);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    qb_fmnist_free(&data);
    qb_test_rmtree(dir);
    free(dir);
    return 0;
}

/* A model file for `arch`: the MLP trained for a moment, the CNNs with
 * random weights and random batch-norm statistics (so folding matters). */
static void make_model(const char *arch, char *path, size_t len)
{
    snprintf(path, len, "%s/%s.safetensors", dir, arch);
    FILE *f = fopen(path, "rb");
    if (f) {
        fclose(f);
        return;
    }
    if (strcmp(arch, "mlp") == 0) {
        qb_train_options o = {.arch = "mlp", .recipe = qb_arch_find("mlp")->recipe, .seed = 5, .limit = 2048,
                              .out_path = path};
        o.recipe.epochs = 1;
        o.recipe.batch = 64;
        qb_train_result r;
        assert_int_equal(qb_train(&o, &data, &r), QB_OK);
        return;
    }
    qb_model m;
    assert_int_equal(qb_arch_build(arch, 1, 28, 28, 10, &m), QB_OK);
    qb_model_init_params(&m, 11);
    qb_rng r;
    qb_rng_seed(&r, 12);
    for (int i = 0; i < m.n_layers; i++) {
        qb_layer *l = &m.layers[i];
        if (l->kind != QB_LAYER_BN) continue;
        for (int c = 0; c < l->c; c++) {
            ((float *)l->params[QB_P_WEIGHT].value.data)[c] = 0.5f + qb_rng_uniform(&r);
            ((float *)l->params[QB_P_BIAS].value.data)[c] = 0.2f * qb_rng_normal(&r);
            ((float *)l->params[QB_P_RUNNING_MEAN].value.data)[c] = 0.2f * qb_rng_normal(&r);
            ((float *)l->params[QB_P_RUNNING_VAR].value.data)[c] = 0.5f + qb_rng_uniform(&r);
        }
    }
    qb_meta meta = {0};
    assert_int_equal(qb_model_save(path, &m, &meta, NULL, 0), QB_OK);
    qb_meta_free(&meta);
    qb_model_free(&m);
}

/* ---- rounding audit -------------------------------------------------------- */

typedef struct {
    int64_t codes, off_by_one; /* requantized outputs compared, and how many differ (by exactly 1) */
    double max_rel;            /* float outputs: largest |exec - exact| / (|bias| + sum |x w|) */
} audit;

/* Layer li's output recomputed in double from the executor's input codes. */
static void audit_layer(const qb_iexec *e, const qb_qmodel *q, int li, int nb, audit *a)
{
    const qb_layer *l = &q->model.layers[li];
    int off;
    const uint8_t *in = qb_iexec_input_codes(e, li, &off);
    assert_non_null(in);
    qb_block ab = qb_qparams_block(&q->aq[li], 0);
    int64_t out_numel = qb_layer_out_numel(l), n = (int64_t)nb * out_numel, n_in = (int64_t)nb * qb_layer_in_numel(l);
    double *y = malloc((size_t)n * sizeof(double)), *mag = malloc((size_t)n * sizeof(double));
    double *x = malloc((size_t)n_in * sizeof(double));
    for (int64_t i = 0; i < n_in; i++) x[i] = ((int)in[i] - off - ab.zero_point) * (double)ab.scale;
    qb_test_layer_double(&q->model, li, x, nb, y, mag);
    free(x);
    const float *fy;
    const uint8_t *codes;
    int consumer, coff;
    qb_iexec_layer_output(e, li, &fy, &codes, &consumer, &coff);
    int add = qb_iexec_add_fused(e, li);
    if (add >= 0) { /* the executor's floats are the Add's: y plus the other input, then its ReLU */
        const qb_layer *al = &q->model.layers[add];
        const float *r;
        qb_iexec_layer_output(e, al->inputs[0] == li ? al->inputs[1] : al->inputs[0], &r, NULL, NULL, NULL);
        assert_non_null(r);
        for (int64_t i = 0; i < n; i++) {
            y[i] += r[i];
            mag[i] += fabs(r[i]);
        }
    }
    if (fy) {
        int relu = qb_iexec_relu_fused(e, add >= 0 ? add : li);
        for (int64_t i = 0; i < n; i++) {
            double want = relu && y[i] < 0 ? 0 : y[i], rel = fabs(fy[i] - want) / (mag[i] + 1e-30);
            if (rel > a->max_rel) a->max_rel = rel;
        }
    } else {
        assert_non_null(codes);
        /* the simulation: quantize (ReLU'd, when the executor folded a ReLU) for the reader */
        const qb_qparams *p = &q->aq[consumer];
        qb_dtype dt = qb_scheme_code_dtype(p->scheme, p->bits);
        float *yf = malloc((size_t)n * sizeof(float));
        int8_t *ref = malloc((size_t)n);
        for (int64_t i = 0; i < n; i++)
            yf[i] = qb_iexec_relu_fused(e, li) && y[i] < 0 ? 0.0f : (float)y[i];
        assert_int_equal(qb_quantize_to(p, yf, n, dt, ref), QB_OK);
        for (int64_t i = 0; i < n; i++) {
            int want = dt == QB_I8 ? ref[i] + 128 : (uint8_t)ref[i], got = codes[i];
            if (abs(got - want) > 1)
                fail_msg("layer %s output %lld: code %d, the simulation's rounding gives %d", l->name, (long long)i,
                         got - coff, want - coff);
            a->off_by_one += got != want;
        }
        a->codes += n;
        free(yf);
        free(ref);
    }
    free(y);
    free(mag);
}

/* ---- one architecture x config ------------------------------------------- */

static void check_file(const char *path, const char *arch, const char *scheme, int wbits, int abits,
                       const char *gran, const char *ascheme, int n_images);

static void check(const char *arch, const char *scheme, int wbits, int abits, const char *gran,
                  const char *ascheme, int n_images)
{
    char path[512];
    make_model(arch, path, sizeof path);
    check_file(path, arch, scheme, wbits, abits, gran, ascheme, n_images);
}

static void check_file(const char *path, const char *arch, const char *scheme, int wbits, int abits,
                       const char *gran, const char *ascheme, int n_images)
{
    qb_fmnist d = small;
    d.test = qb_images_head(&data.test, n_images);
    qb_qeval *ev;
    assert_int_equal(qb_qeval_open(&ev, path, &d, NULL), QB_OK);
    qb_qeval_config c;
    assert_int_equal(qb_qeval_config_parse(&c, scheme, wbits, abits, gran, "minmax", ascheme), QB_OK);
    qb_qmodel q;
    assert_int_equal(qb_qeval_quantize(ev, &c, &q), QB_OK);
    qb_iexec *e;
    assert_int_equal(qb_iexec_create(&e, &q, NULL, 64, NULL), QB_OK);

    /* rounding audit on a few images */
    int nb = qb_iexec_sub_batch(e) < 3 ? qb_iexec_sub_batch(e) : 3;
    int64_t img = (int64_t)d.test.c * d.test.h * d.test.w;
    float *x = malloc((size_t)(64 * img) * sizeof(float));
    qb_images_batch(&d.test, NULL, nb, x, NULL);
    assert_int_equal(qb_iexec_forward(e, x, nb), QB_OK);
    audit a = {0};
    for (int li = 0; li < q.model.n_layers; li++)
        if (qb_layer_has_weights(&q.model.layers[li])) audit_layer(e, &q, li, nb, &a);
    assert_true(a.max_rel < 1e-6); /* float rounding: a few units of 2^-24 */
    /* the bias rounded to the accumulator's unit (s_x s_w) moves a value by
     * up to half that unit: with coarse ternary scales about 1% of codes */
    assert_true(a.off_by_one * 100 <= 3 * a.codes + 100);

    /* predictions on the test images, 64 at a time */
    int differ = qb_test_prediction_differences(e, &q, &d.test, x);
    print_message("  %-6s %s w%d a%d %s: %d of %d predictions differ from the simulation; %lld of %lld "
                  "requantized codes off by one, float outputs within %.1e\n",
                  arch, scheme, wbits, abits, gran, differ, d.test.n, (long long)a.off_by_one, (long long)a.codes,
                  a.max_rel);
    assert_true(differ * 50 <= d.test.n); /* at most 2%, all near ties */
    free(x);
    qb_iexec_free(e);
    qb_qmodel_free(&q);
    qb_qeval_close(ev);
}

static void test_mlp(void **state)
{
    (void)state;
    check("mlp", "uniform-sym", 8, 8, "channel", NULL, 500);
    check("mlp", "uniform-asym", 8, 8, "tensor", NULL, 500);
    check("mlp", "uniform-sym", 4, 8, "channel", "uniform-sym", 500);
    check("mlp", "ternary", 2, 8, "channel", NULL, 500);
    check("mlp", "binary", 1, 8, "tensor", NULL, 500);
}

/* pow2 weights as exact int8 codes (3..4 bits) and ternary codes (2 bits) */
static void test_pow2(void **state)
{
    (void)state;
    check("mlp", "pow2", 4, 8, "channel", NULL, 500);
    check("mlp", "pow2", 2, 8, "channel", NULL, 500);
    check("lenet", "pow2", 3, 8, "channel", NULL, 128);
    check("resnet", "pow2", 4, 8, "channel", NULL, 64);
}

/* The backend label and per-layer description of lenet quantized with
 * scheme at wbits (activations 8 bits) on the reference backend. */
static void describe_lenet(const char *scheme, int wbits, const char *gran, char *label, size_t label_len,
                           char *text, size_t len)
{
    char path[512];
    make_model("lenet", path, sizeof path);
    qb_qeval *ev;
    assert_int_equal(qb_qeval_open(&ev, path, &small, NULL), QB_OK);
    qb_qeval_config c;
    assert_int_equal(qb_qeval_config_parse(&c, scheme, wbits, 8, gran, "minmax", NULL), QB_OK);
    qb_qmodel q;
    assert_int_equal(qb_qeval_quantize(ev, &c, &q), QB_OK);
    qb_iexec *e;
    assert_int_equal(qb_iexec_create(&e, &q, qb_backend_find("ref"), 4, NULL), QB_OK);
    snprintf(label, label_len, "%s", qb_iexec_backend_label(e));
    qb_iexec_describe(e, text, len);
    qb_iexec_free(e);
    qb_qmodel_free(&q);
    qb_qeval_close(ev);
}

/* Weight scales per group of 32 along k (W4A8 group:32, as the sweep's
 * granularity rows): the 4-bit group kernel, float outputs with the next
 * layer's codes; LeNet's dense layer reads a flattened tensor (its groups
 * run along (c, h, w), gathered by the kernel's conv path). */
static void test_group_scales(void **state)
{
    (void)state;
    check("mlp", "uniform-sym", 4, 8, "group:32", NULL, 500);
    check("mlp", "uniform-asym", 4, 8, "group:32", NULL, 500);
    check("lenet", "uniform-sym", 4, 8, "group:32", NULL, 128);
    check("lenet", "uniform-asym", 4, 8, "group:32", NULL, 128);
    check("mlp", "uniform-asym", 3, 8, "group:16", "uniform-sym", 128);
    check("resnet", "uniform-asym", 4, 8, "group:32", NULL, 32);

    /* what ran: the results column and the per-layer description */
    char label[64], text[4096];
    describe_lenet("uniform-sym", 4, "group:32", label, sizeof label, text, sizeof text);
    assert_string_equal(label, "ref-int4g");
    /* conv1's codes for conv2 straight from the epilogue, no floats */
    if (!strstr(text, "int4 group kernel, codes out") || !strstr(text, "int4 group kernel, float out"))
        fail_msg("describe:\n%s", text);
}

static void test_lenet(void **state)
{
    (void)state;
    check("lenet", "uniform-sym", 8, 8, "channel", NULL, 128);
    check("lenet", "uniform-asym", 4, 6, "channel", NULL, 128);
    check("lenet", "uniform-asym", 7, 8, "channel", NULL, 128);
}

/* Asymmetric weights up to 7 bits run as signed differences code - zp (no
 * per-row activation sums); at 8 bits the differences do not fit int8 and
 * the kernels sum each activation row. */
static void test_weight_zero_points_folded(void **state)
{
    (void)state;
    char label[64], text[4096];
    describe_lenet("uniform-asym", 4, "channel", label, sizeof label, text, sizeof text);
    if (strstr(text, "row sums") || !strstr(text, "int8 kernel, ")) fail_msg("describe:\n%s", text);
    describe_lenet("uniform-asym", 8, "channel", label, sizeof label, text, sizeof text);
    if (!strstr(text, "int8 kernel with activation row sums")) fail_msg("describe:\n%s", text);
}

static void test_resnet(void **state)
{
    (void)state;
    check("resnet", "uniform-sym", 8, 8, "channel", NULL, 128);
    check("resnet", "ternary", 2, 8, "channel", NULL, 64);
}

/* The trained reference models in workloads/models, on the whole test set. */
static void test_reference_models_whole_test_set(void **state)
{
    (void)state;
    static const char *const archs[] = {"mlp", "lenet", "resnet"};
    int found = 0;
    for (size_t i = 0; i < QB_ARRAY_LEN(archs); i++) {
        char path[1024];
        qb_model_path(archs[i], path, sizeof path);
        FILE *f = fopen(path, "rb");
        if (!f) {
            print_message("  %s: no trained model at %s yet\n", archs[i], path);
            continue;
        }
        fclose(f);
        found++;
        check_file(path, archs[i], "uniform-sym", 8, 8, "channel", NULL, data.test.n);
    }
    assert_true(found > 0);
}

/* qb_iexec_create refuses scheme/wbits/gran on the model of ev with
 * QB_ERR_UNSUPPORTED, its message holding each of `says` (NULL-ended). */
static void expect_unsupported(qb_qeval *ev, const char *scheme, int wbits, int abits, const char *gran,
                               const char *const *says)
{
    qb_qeval_config c;
    qb_qmodel q;
    qb_iexec *e;
    assert_int_equal(qb_qeval_config_parse(&c, scheme, wbits, abits, gran, "minmax", NULL), QB_OK);
    assert_int_equal(qb_qeval_quantize(ev, &c, &q), QB_OK);
    assert_int_equal(qb_iexec_create(&e, &q, NULL, 8, NULL), QB_ERR_UNSUPPORTED);
    for (; *says; says++)
        if (!strstr(qb_last_error(), *says)) fail_msg("%s w%d %s: '%s' is not in: %s", scheme, wbits, gran, *says,
                                                      qb_last_error());
    qb_qmodel_free(&q);
}

static void test_unsupported_configs(void **state)
{
    (void)state;
    char path[512];
    make_model("mlp", path, sizeof path);
    qb_qeval *ev;
    assert_int_equal(qb_qeval_open(&ev, path, &small, NULL), QB_OK);
    /* group scales run on the 4-bit group kernel: 2..4 bits, groups of a multiple of 8 */
    expect_unsupported(ev, "uniform-sym", 8, 8, "group:16", (const char *[]){"fc1", "at 8 bits with scales per group", NULL});
    expect_unsupported(ev, "uniform-asym", 4, 8, "group:12", (const char *[]){"groups of 12", "multiple of 8", NULL});
    expect_unsupported(ev, "ternary", 2, 8, "group:16", (const char *[]){"ternary weight scales per group", NULL});
    expect_unsupported(ev, "fp8-e4m3", 8, 8, "group:16", (const char *[]){"fc1", "per group", NULL});
    expect_unsupported(ev, "pow2", 5, 8, "channel", (const char *[]){"pow2 weights at 5 bits", NULL});
    expect_unsupported(ev, "uniform-sym", 32, 32, "channel", (const char *[]){NULL});
    qb_qeval_close(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mlp),
        cmocka_unit_test(test_pow2),
        cmocka_unit_test(test_group_scales),
        cmocka_unit_test(test_lenet),
        cmocka_unit_test(test_weight_zero_points_folded),
        cmocka_unit_test(test_resnet),
        cmocka_unit_test(test_reference_models_whole_test_set),
        cmocka_unit_test(test_unsupported_configs),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("iexec", tests, setup, teardown);
}
