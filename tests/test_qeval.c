/* Tests for quantized evaluation (workloads/qeval.h) and `qbench eval` /
 * `qbench inspect`, on a small MLP trained here in a second. */
#include "qb_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archs.h"
#include "dataset.h"
#include "modelfile.h"
#include "qeval.h"
#include "train.h"

static char *dir, model_path[512];
static qb_fmnist data;

static int setup(void **state)
{
    (void)state;
    dir = qb_test_tmpdir();
    snprintf(model_path, sizeof model_path, "%s/mlp.safetensors", dir);
    if (qb_fmnist_load(qb_dataset_dir(NULL), &data) != QB_OK) return -1;
    qb_train_options o = {.arch = "mlp", .recipe = qb_arch_find("mlp")->recipe, .seed = 3,
                          .limit = 2048, .out_path = model_path};
    o.recipe.epochs = 2;
    o.recipe.batch = 64;
    qb_train_result r;
    return qb_train(&o, &data, &r) == QB_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    qb_fmnist_free(&data);
    qb_test_rmtree(dir);
    free(dir);
    return 0;
}

static void test_paired_interval(void **state)
{
    (void)state;
    double lo, hi;
    qb_paired_drop_ci(0, 0, 10000, &lo, &hi); /* no discordant pair: a narrow interval around 0 */
    assert_true(lo < 0 && hi > 0 && hi - lo < 0.05 && fabs(lo + hi) < 1e-12);
    /* b = 30, c = 10, n = 1000 by hand: p12 = 30.5/1002, p21 = 10.5/1002,
     * d = 0.0199601, se = sqrt((0.0409182 - d^2) / 1002) = 0.00635916,
     * d -+ 1.959964 se = [0.749636, 3.242380] pp */
    qb_paired_drop_ci(30, 10, 1000, &lo, &hi);
    assert_true(fabs(lo - 0.749636) < 1e-5);
    assert_true(fabs(hi - 3.242380) < 1e-5);
}

static void test_float_config_is_the_fp32_model(void **state)
{
    (void)state;
    qb_qeval *ev;
    assert_int_equal(qb_qeval_open(&ev, model_path, &data, NULL), QB_OK);
    qb_model m;
    assert_int_equal(qb_model_load(model_path, &m, NULL, NULL), QB_OK);
    double acc;
    assert_int_equal(qb_accuracy(&m, &data.test, NULL, &acc), QB_OK);
    assert_true(acc == qb_qeval_fp32_accuracy(ev));
    assert_true(acc > 70);
    qb_qeval_config c;
    assert_int_equal(qb_qeval_config_parse(&c, "uniform-sym", 32, 32, "channel", "minmax", NULL), QB_OK);
    qb_qeval_result r;
    assert_int_equal(qb_qeval_run(ev, &c, &r), QB_OK);
    assert_true(r.accuracy == acc && r.drop_pp == 0 && r.agreement == 100 && r.kl == 0);
    assert_int_equal(r.fp32_only + r.quant_only, 0);
    assert_int_equal(r.size_bytes, r.fp32_size_bytes);
    assert_int_equal(r.fp32_size_bytes, 4 * qb_model_n_params(&m));
    int right = 0;
    for (int i = 0; i < r.n; i++) right += qb_bit(r.correct, i);
    assert_int_equal(right, (int)lround(acc * r.n / 100));
    qb_qeval_result_free(&r);
    qb_model_free(&m);
    qb_qeval_close(ev);
}

static void test_bits_trade_accuracy_for_size(void **state)
{
    (void)state;
    qb_qeval *ev;
    assert_int_equal(qb_qeval_open(&ev, model_path, &data, NULL), QB_OK);
    qb_qeval_config c8, c1;
    qb_qeval_result r8, r1, rk;
    assert_int_equal(qb_qeval_config_parse(&c8, "uniform-sym", 8, 8, "channel", "minmax", NULL), QB_OK);
    assert_int_equal(qb_qeval_run(ev, &c8, &r8), QB_OK);
    assert_true(fabs(r8.drop_pp) < 1.0 && r8.agreement > 97 && r8.kl < 0.01);
    assert_true(r8.drop_ci_low <= r8.drop_pp && r8.drop_pp <= r8.drop_ci_high);
    /* int8 codes + one scale per row + biases and activation params in float */
    assert_true(r8.size_bytes > r8.fp32_size_bytes / 4 && r8.size_bytes < r8.fp32_size_bytes / 3);
    assert_int_equal(qb_qeval_config_parse(&c1, "binary", 1, 8, "channel", "minmax", NULL), QB_OK);
    assert_int_equal(qb_qeval_run(ev, &c1, &r1), QB_OK);
    assert_true(r1.drop_pp > r8.drop_pp + 1 && r1.size_bytes < r8.size_bytes / 6);
    assert_true(r1.kl > r8.kl);
    /* keeping the first and last layers at 8 bits recovers part of it */
    c1.keep_first_last = 8;
    assert_int_equal(qb_qeval_run(ev, &c1, &rk), QB_OK);
    assert_true(rk.accuracy > r1.accuracy && rk.size_bytes > r1.size_bytes);
    qb_qmodel q;
    assert_int_equal(qb_qeval_quantize(ev, &c1, &q), QB_OK);
    assert_int_equal(q.wbits[1], 8); /* fc1 */
    assert_int_equal(q.wbits[3], 1); /* fc2 */
    assert_int_equal(q.wbits[5], 8); /* fc3 */
    assert_string_equal(q.wq[1].scheme->name, "uniform-sym");
    const float *w = q.model.layers[3].params[QB_P_WEIGHT].value.data;
    for (int j = 1; j < 256; j++) assert_true(fabsf(w[j]) == fabsf(w[0])); /* +-alpha in row 0 */
    qb_qmodel_free(&q);
    qb_qeval_result_free(&r8);
    qb_qeval_result_free(&r1);
    qb_qeval_result_free(&rk);
    qb_qeval_close(ev);
}

static void test_layer_analysis(void **state)
{
    (void)state;
    qb_qeval *ev;
    assert_int_equal(qb_qeval_open(&ev, model_path, &data, NULL), QB_OK);
    qb_qeval_config c;
    assert_int_equal(qb_qeval_config_parse(&c, "uniform-sym", 4, 4, "channel", "minmax", NULL), QB_OK);
    qb_layer_report *rows;
    int n;
    assert_int_equal(qb_qeval_layers(ev, &c, &rows, &n), QB_OK);
    assert_int_equal(n, 3);
    assert_string_equal(rows[0].name, "fc1");
    assert_string_equal(rows[2].name, "fc3");
    for (int i = 0; i < n; i++) {
        /* 4-bit uniform: about 6 dB per bit, minus the clipping headroom */
        assert_true(rows[i].weight_sqnr_db > 10 && rows[i].weight_sqnr_db < 30);
        assert_true(rows[i].act_sqnr_db > 8 && rows[i].act_sqnr_db < 40);
        assert_true(isfinite(rows[i].sensitivity_pp));
    }
    free(rows);
    /* only one layer: the others keep their float weights */
    c.only_layer = 3;
    qb_qmodel q;
    assert_int_equal(qb_qeval_quantize(ev, &c, &q), QB_OK);
    assert_memory_equal(q.model.layers[1].params[0].value.data,
                        qb_qeval_model(ev)->layers[1].params[0].value.data,
                        qb_tensor_bytes(&q.model.layers[1].params[0].value));
    assert_int_equal(q.abits[1], QB_FLOAT_BITS);
    qb_qmodel_free(&q);
    c.only_layer = 2; /* a ReLU */
    assert_int_equal(qb_qeval_quantize(ev, &c, &q), QB_ERR_ARG);
    qb_qeval_close(ev);
}

static void test_bad_configs_and_shapes(void **state)
{
    (void)state;
    qb_qeval_config c;
    assert_int_equal(qb_qeval_config_parse(&c, "foo", 8, 8, "channel", "minmax", NULL), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "unknown scheme 'foo'"));
    assert_int_equal(qb_qeval_config_parse(&c, "binary", 4, 8, "channel", "minmax", NULL), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "binary"));
    assert_int_equal(qb_qeval_config_parse(&c, "uniform-sym", 8, 8, "rows", "minmax", NULL), QB_ERR_ARG);
    assert_int_equal(qb_qeval_config_parse(&c, "uniform-sym", 8, 8, "channel", "max", NULL), QB_ERR_ARG);
    qb_fmnist other = data;
    other.test.h = 14; /* a model for 28x28 images against 14x14 data */
    qb_qeval *ev;
    assert_int_equal(qb_qeval_open(&ev, model_path, &other, NULL), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "1x28x28"));
}

static void test_cli_eval_and_inspect(void **state)
{
    (void)state;
    char *out = NULL, csv[600];
    assert_int_equal(qb_test_run_qbench(&out, "eval --model %s --format csv", model_path), 0);
    assert_non_null(strstr(out, "model,scheme,granularity,calib,correction,policy,wbits,abits,accuracy,"
                                "fp32_accuracy,drop_pp,drop_ci_low,drop_ci_high,agreement,kl,size_bytes"));
    assert_non_null(strstr(out, "\nmlp,uniform-sym,channel,minmax,none,uniform,8,8,"));
    free(out);
    assert_int_equal(qb_test_run_qbench(&out, "eval --model %s --scheme ternary --wbits 2 "
                                              "--keep-first-last 8", model_path), 0);
    assert_non_null(strstr(out, "first and last conv/dense layers at 8 bits"));
    assert_non_null(strstr(out, "95% interval"));
    free(out);
    snprintf(csv, sizeof csv, "%s/layers.csv", dir);
    assert_int_equal(qb_test_run_qbench(&out, "inspect --model %s --wbits 4 --out %s", model_path, csv), 0);
    free(out);
    char *text = qb_test_read_file(csv, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "cell_id,model,layer_index,layer,kind,wbits,abits,weight_sqnr_db,"
                                 "act_sqnr_db,sensitivity_pp\n,mlp,1,fc1,dense,4,8,"));
    /* --format csv prints the same file */
    assert_int_equal(qb_test_run_qbench(&out, "inspect --model %s --wbits 4 --format csv", model_path), 0);
    assert_string_equal(out, text);
    free(out);
    free(text);
    static const char *bad[][2] = {
        {"eval --model %s --scheme foo", "unknown scheme 'foo'"},
        {"eval --model %s --scheme binary --wbits 3", "binary"},
        {"eval --model %s --wbits 40", "--wbits 40"},
        {"eval --model %s --format xml", "--format 'xml'"},
        {"eval --model %s --calib best", "best"},
        {"eval --model %s --data /nonexistent", "make deps"},
        {"inspect --model %s --granularity group:0", "group"},
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(bad); i++) {
        assert_int_equal(qb_test_run_qbench(&out, bad[i][0], model_path), 2);
        if (!strstr(out, bad[i][1])) fail_msg("'%s' said: %s", bad[i][0], out);
        free(out);
    }
    assert_int_equal(qb_test_run_qbench(&out, "eval --model %s/none.safetensors", dir), 2);
    assert_non_null(strstr(out, "qbench models"));
    free(out);
    assert_int_equal(qb_test_run_qbench(&out, "eval"), 2);
    assert_non_null(strstr(out, "--model is required"));
    free(out);
}

/* The benchmark runs on any model file (here the MLP: dense GEMMs only) and
 * names both libraries and the ratio. */
static void test_cli_bench_fp32(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(qb_test_run_qbench(&out, "bench-fp32 --model %s --batch 8 --seconds 0.05",
                                        model_path), 0);
    assert_non_null(strstr(out, "oneDNN"));
    assert_non_null(strstr(out, "OpenBLAS"));
    assert_non_null(strstr(out, "engine / GEMM-alone"));
    assert_non_null(strstr(out, "training time per model"));
    free(out);
    assert_int_equal(qb_test_run_qbench(&out, "bench-fp32 --model %s --batch 0", model_path), 2);
    assert_non_null(strstr(out, "--batch"));
    free(out);
    assert_int_equal(qb_test_run_qbench(&out, "bench-fp32 --model %s/none.safetensors", dir), 2);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paired_interval),
        cmocka_unit_test(test_float_config_is_the_fp32_model),
        cmocka_unit_test(test_bits_trade_accuracy_for_size),
        cmocka_unit_test(test_layer_analysis),
        cmocka_unit_test(test_bad_configs_and_shapes),
        cmocka_unit_test(test_cli_eval_and_inspect),
        cmocka_unit_test(test_cli_bench_fp32),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("qeval", tests, setup, teardown);
}
