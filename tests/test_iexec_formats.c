/* The executor's paths for weights that are not uniform codes (pow2 on the
 * int8/ternary kernels; fp8, bf16 on the bf16 kernels; fp16 and kmeans in
 * fp32: iexec_float.h) against the simulated evaluation, on the ref
 * backend and the best this CPU runs:
 *   - the operands are exact: every fp8 value and every 8-bit activation
 *     code's operand is a bf16 value; pow2 levels are integer multiples of
 *     the smallest;
 *   - layer audit: every conv/dense layer's output, recomputed in double
 *     from the executor's own float input (fake-quantized as the simulation
 *     does) and the fake-quantized weights, is within (k + 8) 2^-24 of
 *     sum |x w| + |bias| (fp32 accumulation of exact products);
 *   - predictions on trained reference models equal the simulation's except
 *     for near ties (top-2 margin under 2% of the logit range), at most 2%;
 *   - the results column names what ran. */
#include "qb_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "dataset.h"
#include "iexec.h"
#include "iweights.h"
#include "modelfile.h"
#include "qeval.h"
#include "qeval_sim.h"
#include "qkernels.h"
#include "scheme.h"

static qb_fmnist data;

static int setup(void **state)
{
    (void)state;
    return qb_fmnist_load(qb_dataset_dir(NULL), &data) == QB_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    qb_fmnist_free(&data);
    return 0;
}

/* ---- exact operands ------------------------------------------------------- */

static void test_fp8_values_are_bf16_values(void **state)
{
    (void)state;
    const qb_minifloat *fmts[] = {&qb_fp8_e4m3, &qb_fp8_e5m2};
    for (size_t f = 0; f < QB_ARRAY_LEN(fmts); f++) {
        int finite = 0;
        for (uint32_t c = 0; c < 256; c++) {
            if (qb_minifloat_is_special(fmts[f], c)) continue;
            float v = qb_minifloat_decode(fmts[f], c);
            assert_true(qb_bf16_to_f32(qb_f32_to_bf16(v)) == v);
            finite++;
        }
        assert_int_equal(finite, f == 0 ? 254 : 248); /* e4m3fn: 2 NaNs; e5m2: +-Inf and 6 NaNs */
    }
}

/* qb_code_operands: operand * unit is the dequantized value of every code. */
static void test_code_operands(void **state)
{
    (void)state;
    const char *schemes[] = {"fp8-e4m3", "fp8-e5m2", "uniform-asym", "uniform-sym"};
    float data_in[5] = {-3.0f, -0.2f, 0.0f, 0.7f, 5.5f};
    for (size_t s = 0; s < QB_ARRAY_LEN(schemes); s++) {
        qb_quant_config c;
        assert_int_equal(qb_quant_config_parse(&c, schemes[s], 8, "tensor", "minmax", "nearest"), QB_OK);
        qb_qparams p;
        int64_t shape[1] = {5};
        assert_int_equal(qb_qparams_fit(&p, &c, data_in, 1, shape), QB_OK);
        float lut[256], unit;
        assert_int_equal(qb_code_operands(&p, lut, &unit), QB_OK);
        qb_dtype dt = qb_scheme_code_dtype(p.scheme, p.bits);
        for (int i = 0; i < 256; i++) {
            int32_t code = dt == QB_I8 ? (int8_t)i : i;
            if (code < p.qmin || code > p.qmax || (p.scheme->format && qb_minifloat_is_special(p.scheme->format, (uint32_t)code)))
                continue;
            float want;
            assert_int_equal(qb_dequantize(&p, &code, 1, &want), QB_OK);
            assert_true(fabsf(lut[i] * unit - want) <= 1e-6f * fabsf(want));
            assert_true(qb_bf16_to_f32(qb_f32_to_bf16(lut[i])) == lut[i]);
        }
        qb_qparams_free(&p);
    }
    qb_quant_config c;
    assert_int_equal(qb_quant_config_parse(&c, "fp16", 16, "tensor", "minmax", "nearest"), QB_OK);
    qb_qparams p;
    int64_t shape[1] = {5};
    assert_int_equal(qb_qparams_fit(&p, &c, data_in, 1, shape), QB_OK);
    float lut[256], unit;
    assert_int_equal(qb_code_operands(&p, lut, &unit), QB_ERR_UNSUPPORTED);
    qb_qparams_free(&p);
}

/* pow2 levels are integer codes times 2^(1-M) s, the integers within int8. */
static void test_pow2_int_codes(void **state)
{
    (void)state;
    for (int bits = 2; bits <= QB_POW2_INT8_MAX_BITS; bits++) {
        qb_block b;
        qb_block_init(&b, &qb_scheme_pow2, bits, 0);
        b.scale = 0.25f;
        int8_t codes[64];
        int n = 0;
        for (int32_t q = b.qmin; q <= b.qmax; q++) codes[n++] = (int8_t)q;
        float unit = qb_pow2_int_codes(codes, n, bits);
        for (int i = 0; i < n; i++) {
            float level = qb_scheme_pow2.dequantize(b.qmin + i, &b);
            assert_true((float)codes[i] * unit * b.scale == level);
            assert_true(abs(codes[i]) <= 64);
        }
        assert_int_equal(codes[n - 1], 1 << (b.qmax - 1));
    }
}

/* ---- models against the simulation ------------------------------------- */

/* The input floats of weighted layer li as the executor holds them (NHWC). */
static const float *layer_input(const qb_iexec *e, const qb_qmodel *q, int li, const float *x0)
{
    int in = q->model.layers[li].inputs[0];
    if (in < 0) return x0; /* 1-channel images: NCHW is NHWC */
    const float *f;
    qb_iexec_layer_output(e, in, &f, NULL, NULL, NULL);
    return f;
}

/* Largest |exec - exact| / ((k + 8) 2^-24 (sum |x w| + |bias|)) over layer li. */
static double audit_layer(const qb_iexec *e, const qb_qmodel *q, int li, const float *x0, int nb)
{
    const qb_layer *l = &q->model.layers[li];
    const float *xin = layer_input(e, q, li, x0);
    assert_non_null(xin);
    int64_t in_numel = qb_layer_in_numel(l), n_in = nb * in_numel;
    float *xq = malloc((size_t)n_in * sizeof(float));
    if (q->abits[li] != QB_FLOAT_BITS) assert_int_equal(qb_fake_quantize(&q->aq[li], xin, n_in, xq), QB_OK);
    else memcpy(xq, xin, (size_t)n_in * sizeof(float));
    const float *y;
    qb_iexec_layer_output(e, li, &y, NULL, NULL, NULL);
    assert_non_null(y);
    int relu = qb_iexec_relu_fused(e, li);
    int64_t k = l->kind == QB_LAYER_DENSE ? in_numel : (int64_t)l->in_c * l->kh * l->kw;
    int64_t n = (int64_t)nb * qb_layer_out_numel(l);
    double *x = malloc((size_t)n_in * sizeof(double)), *want = malloc((size_t)n * sizeof(double)),
           *mag = malloc((size_t)n * sizeof(double));
    for (int64_t i = 0; i < n_in; i++) x[i] = xq[i];
    qb_test_layer_double(&q->model, li, x, nb, want, mag);
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double s = relu && want[i] < 0 ? 0 : want[i];
        double r = fabs(y[i] - s) / ((double)(k + 8) * 0x1p-24 * mag[i] + 1e-30);
        if (r > worst) worst = r;
    }
    free(x), free(want), free(mag);
    free(xq);
    return worst;
}

/* scheme at wbits (activations: the scheme's default) on the trained
 * reference model `arch`, n_images test images, on backend be. */
static void check(const char *arch, const char *scheme, int wbits, const char *gran, const qb_backend *be,
                  const char *label, int n_images)
{
    char path[1024];
    qb_model_path(arch, path, sizeof path);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        print_message("  %s: no trained model at %s\n", arch, path);
        fail();
    }
    fclose(fp);
    qb_fmnist d = data;
    d.test = qb_images_head(&data.test, n_images);
    qb_qeval *ev;
    assert_int_equal(qb_qeval_open(&ev, path, &d, NULL), QB_OK);
    qb_qeval_config c;
    assert_int_equal(qb_qeval_config_parse(&c, scheme, wbits, wbits == 16 ? 16 : 8, gran, "minmax", NULL), QB_OK);
    qb_qmodel q;
    assert_int_equal(qb_qeval_quantize(ev, &c, &q), QB_OK);
    qb_iexec *e;
    if (qb_iexec_create(&e, &q, be, 64, NULL) != QB_OK) fail_msg("%s", qb_last_error());
    if (!strstr(qb_iexec_backend_label(e), label))
        fail_msg("%s %s: backend column '%s', expected it to contain '%s'", arch, scheme, qb_iexec_backend_label(e),
                 label);

    int64_t img = (int64_t)d.test.c * d.test.h * d.test.w;
    float *x = malloc((size_t)(64 * img) * sizeof(float));
    int nb = qb_iexec_sub_batch(e) < 2 ? qb_iexec_sub_batch(e) : 2;
    qb_images_batch(&d.test, NULL, nb, x, NULL);
    assert_int_equal(qb_iexec_forward(e, x, nb), QB_OK);
    double worst = 0;
    for (int li = 0; li < q.model.n_layers; li++) {
        /* integer layers (codes in, test_iexec.c audits them) are skipped */
        if (!qb_layer_has_weights(&q.model.layers[li]) || qb_iexec_input_codes(e, li, NULL)) continue;
        double r = audit_layer(e, &q, li, x, nb);
        worst = r > worst ? r : worst;
    }
    assert_true(worst <= 1.0);

    int differ = qb_test_prediction_differences(e, &q, &d.test, x);
    print_message("  %-6s %-8s w%-2d %-7s %-12s %-34s layers within %.2f of the fp32 bound; %d of %d "
                  "predictions differ\n", arch, scheme, wbits, gran, be->name, qb_iexec_backend_label(e), worst,
                  differ, d.test.n);
    assert_true(differ * 50 <= d.test.n);
    free(x);
    qb_iexec_free(e);
    qb_qmodel_free(&q);
    qb_qeval_close(ev);
}

/* The ref backend and the best one this CPU runs (the same here if only ref). */
static void on_backends(const char *arch, const char *scheme, int wbits, const char *gran, const char *label_best,
                        const char *label_ref, int n_images)
{
    const qb_backend *best = qb_backend_best(), *ref = qb_backend_find("ref");
    assert_non_null(ref);
    check(arch, scheme, wbits, gran, ref, label_ref, n_images);
    if (best != ref) check(arch, scheme, wbits, gran, best, label_best, n_images);
}

static const char *bf16_label(void)
{
    return strcmp(qb_backend_best()->name, "avx512-vnni") == 0 ? "avx512-bf16" : "-bf16";
}

static void test_fp8_on_bf16_kernels(void **state)
{
    (void)state;
    on_backends("mlp", "fp8-e4m3", 8, "channel", bf16_label(), "ref-bf16", 500);
    on_backends("lenet", "fp8-e5m2", 8, "tensor", bf16_label(), "ref-bf16", 128);
    on_backends("resnet", "fp8-e4m3", 8, "channel", bf16_label(), "ref-bf16", 32);
}

static void test_bf16_on_bf16_kernels(void **state)
{
    (void)state;
    on_backends("lenet", "bf16", 16, "channel", bf16_label(), "ref-bf16", 128);
}

static void test_fp16_fp32_compute(void **state)
{
    (void)state;
    on_backends("mlp", "fp16", 16, "channel", "fp16 storage", "fp16 storage", 500);
    on_backends("resnet", "fp16", 16, "channel", "fp16 storage", "fp16 storage", 32);
}

static void test_kmeans_decoded_fp32(void **state)
{
    (void)state;
    on_backends("mlp", "kmeans", 4, "channel", "decoded kmeans", "decoded kmeans", 500);
    on_backends("lenet", "kmeans", 2, "channel", "decoded kmeans", "decoded kmeans", 128);
}

/* pow2 runs on the integer kernels: bit-exact across backends. */
static void test_pow2_same_on_every_backend(void **state)
{
    (void)state;
    on_backends("lenet", "pow2", 4, "channel", qb_backend_best()->name, "ref", 128);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fp8_values_are_bf16_values),
        cmocka_unit_test(test_code_operands),
        cmocka_unit_test(test_pow2_int_codes),
        cmocka_unit_test(test_fp8_on_bf16_kernels),
        cmocka_unit_test(test_bf16_on_bf16_kernels),
        cmocka_unit_test(test_fp16_fp32_compute),
        cmocka_unit_test(test_kmeans_decoded_fp32),
        cmocka_unit_test(test_pow2_same_on_every_backend),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("iexec_formats", tests, setup, teardown);
}
