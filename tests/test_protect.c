/* The precision-protection levers on real data and small models, each on a
 * case whose effect is known: the correction and policy parsers;
 * equalization keeps a network's function while equalizing its channel
 * ranges; bias correction removes a planted mean shift; GPTQ and AdaRound
 * lower every layer's reconstruction error; the mixed-precision search
 * meets its size and drop budgets; progressive quantization ends with
 * every weight a power of two; quantization-aware fine-tuning lowers a
 * quantized model's loss, resumes from its checkpoint exactly, and stops
 * with a clear error when it diverges; pruning
 * keeps its zeros and shrinks the model; `qbench eval` flags. */
#include "qb_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archs.h"
#include "biascorr.h"
#include "chanstats.h"
#include "dataset.h"
#include "equalize.h"
#include "exec.h"
#include "layers.h"
#include "levers.h"
#include "modelfile.h"
#include "protect.h"
#include "qforward.h"
#include "train.h"

static char *dir, model_path[512];
static qb_fmnist data;
static qb_pool *pool;
static qb_qeval *ev;

static int setup(void **state)
{
    (void)state;
    dir = qb_test_tmpdir();
    snprintf(model_path, sizeof model_path, "%s/mlp.safetensors", dir);
    if (qb_fmnist_load(qb_dataset_dir(NULL), &data) != QB_OK) return -1;
    if (qb_pool_create(&pool, 2, NULL, NULL) != QB_OK) return -1;
    qb_train_options o = {.arch = "mlp", .recipe = qb_arch_find("mlp")->recipe, .seed = 3,
                          .limit = 2048, .out_path = model_path, .pool = pool};
    o.recipe.epochs = 2;
    o.recipe.batch = 64;
    qb_train_result r;
    if (qb_train(&o, &data, &r) != QB_OK) return -1;
    /* small slices keep every pass short; the split stays the same */
    data.train.n = 2048;
    data.calib.n = 500;
    data.test.n = 1000;
    return qb_qeval_open(&ev, model_path, &data, pool) == QB_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    qb_qeval_close(ev);
    qb_pool_free(pool);
    qb_fmnist_free(&data);
    qb_test_rmtree(dir);
    free(dir);
    return 0;
}

#define assert_error_has(text) \
    do { if (!strstr(qb_last_error(), text)) fail_msg("'%s' lacks '%s'", qb_last_error(), text); } while (0)

static void config(qb_qeval_config *c, const char *scheme, int wbits, int abits, const char *gran)
{
    assert_int_equal(qb_qeval_config_parse(c, scheme, wbits, abits, gran, "minmax", NULL), QB_OK);
}

static void test_parsers(void **state)
{
    (void)state;
    qb_correction c;
    char buf[128];
    assert_int_equal(qb_correction_parse("--correction", "bias+adaround+cle", &c), QB_OK);
    assert_true(c.cle && c.bias && c.method == QB_ROUNDING_ADAROUND);
    assert_string_equal(qb_correction_str(&c, buf, sizeof buf), "cle+adaround+bias");
    assert_int_equal(qb_correction_parse("x", "prune:50+qat:0.5", &c), QB_OK);
    assert_true(c.prune_pct == 50 && c.method == QB_ROUNDING_QAT && c.epochs == 0.5);
    assert_true(qb_correction_trains(&c));
    assert_string_equal(qb_correction_str(&c, buf, sizeof buf), "prune:50+qat:0.5");
    assert_int_equal(qb_correction_parse("x", "none", &c), QB_OK);
    assert_string_equal(qb_correction_str(&c, buf, sizeof buf), "none");
    static const struct { const char *text, *msg; } bad[] = {
        {"gptq+adaround", "both decide the weights' levels"},
        {"foo", "unknown correction 'foo' (known: none, or cle"},
        {"bias+bias", "'bias' appears twice"},
        {"prune:100", "between 0 and 100"},
        {"qat:x", "the epochs must be a number"},
        {"cle++bias", "empty step"},
        {"none+bias", "'none' cannot be combined"},
        {"", "empty correction"},
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(bad); i++) {
        assert_int_equal(qb_correction_parse("spec.ini:3", bad[i].text, &c), QB_ERR_ARG);
        assert_error_has("spec.ini:3");
        assert_error_has(bad[i].msg);
    }
    qb_policy p;
    assert_int_equal(qb_policy_parse("x", "mixed:size=12.5%", &p), QB_OK);
    assert_true(p.kind == QB_POLICY_MIXED_SIZE && p.size_pct == 12.5);
    assert_string_equal(qb_policy_str(&p, buf, sizeof buf), "mixed:size=12.5%");
    assert_int_equal(qb_policy_parse("x", "mixed:size=250k", &p), QB_OK);
    assert_true(p.size_bytes == 250000);
    assert_int_equal(qb_policy_parse("x", "mixed:drop=0.5", &p), QB_OK);
    assert_true(p.kind == QB_POLICY_MIXED_DROP && p.drop_pp == 0.5);
    assert_int_equal(qb_policy_parse("x", "first-last:8", &p), QB_OK);
    assert_true(p.kind == QB_POLICY_FIRST_LAST && p.bits == 8);
    assert_int_equal(qb_policy_parse("x", "mixed:size=200%", &p), QB_ERR_ARG);
    assert_error_has("percentage of the fp32 model up to 100");
    assert_int_equal(qb_policy_parse("x", "mixed:4", &p), QB_ERR_ARG);
    assert_error_has("unknown policy 'mixed:4'");
    assert_int_equal(qb_policy_parse("x", "first-last:20", &p), QB_ERR_ARG);
}

/* Logits of a model on the first n test images. */
static float *logits_of(qb_model *m, int n)
{
    qb_images head = qb_images_head(&data.test, n);
    float *z = NULL;
    assert_int_equal(qb_forward_logits(m, &head, pool, &z), QB_OK);
    return z;
}

static void test_equalization_keeps_function(void **state)
{
    (void)state;
    qb_model m;
    assert_int_equal(qb_arch_build("lenet", 1, 28, 28, 10, &m), QB_OK);
    qb_model_init_params(&m, 5);
    /* unequal channel ranges: scale conv1's channels up and conv2's inputs
     * down by the same factors (the function stays the same) */
    int c1 = qb_model_find_layer(&m, "conv1"), c2 = qb_model_find_layer(&m, "conv2");
    assert_int_equal(qb_equalize_partner(&m, c1), c2);
    qb_layer *a = &m.layers[c1], *b = &m.layers[c2];
    int64_t ka = qb_tensor_numel(&a->params[QB_P_WEIGHT].value) / a->c;
    int64_t kb = qb_tensor_numel(&b->params[QB_P_WEIGHT].value) / b->c, per = kb / a->c;
    for (int ch = 0; ch < a->c; ch++) {
        float f = (float)(1 + ch % 5) * 3.0f;
        float *wa = a->params[QB_P_WEIGHT].value.data, *wb = b->params[QB_P_WEIGHT].value.data;
        for (int64_t j = 0; j < ka; j++) wa[ch * ka + j] *= f;
        for (int o = 0; o < b->c; o++)
            for (int64_t j = 0; j < per; j++) wb[o * kb + ch * per + j] /= f;
    }
    float *before = logits_of(&m, 64);
    int pairs;
    assert_int_equal(qb_equalize(&m, 50, &pairs), QB_OK);
    assert_int_equal(pairs, 3); /* conv1-conv2 (through max pooling), conv2-fc1 (through flatten), fc1-fc2 */
    float *after = logits_of(&m, 64);
    for (int i = 0; i < 64 * 10; i++) assert_true(fabsf(after[i] - before[i]) <= 1e-4f * (1 + fabsf(before[i])));
    /* every pair's ranges now match channel by channel */
    for (int i = 0; i < m.n_layers; i++) {
        int j = qb_equalize_partner(&m, i);
        if (j < 0) continue;
        qb_layer *la = &m.layers[i], *lb = &m.layers[j];
        int64_t na = qb_tensor_numel(&la->params[QB_P_WEIGHT].value) / la->c;
        int64_t nb = qb_tensor_numel(&lb->params[QB_P_WEIGHT].value) / lb->c, pb = nb / la->c;
        const float *wa = la->params[QB_P_WEIGHT].value.data, *wb = lb->params[QB_P_WEIGHT].value.data;
        for (int ch = 0; ch < la->c; ch++) {
            float r1 = 0, r2 = 0;
            for (int64_t k = 0; k < na; k++) r1 = fmaxf(r1, fabsf(wa[ch * na + k]));
            for (int o = 0; o < lb->c; o++)
                for (int64_t k = 0; k < pb; k++) r2 = fmaxf(r2, fabsf(wb[o * nb + ch * pb + k]));
            if (fabsf(r1 - r2) > 2e-3f * r1) fail_msg("pair %d-%d channel %d: ranges %g and %g", i, j, ch, r1, r2);
        }
    }
    free(before);
    free(after);
    qb_model_free(&m);
}

/* Per-channel output sums of layer `layer` of q over the calibration images. */
typedef struct {
    int layer;
    const qb_model *m;
    double *sum;
} sum_ctx;

static qb_status sum_output(void *vc, int layer, const float *y, int batch)
{
    sum_ctx *c = vc;
    if (layer == c->layer)
        qb_channel_sums_add(c->sum, y, batch, c->m->layers[layer].c, 1);
    return QB_OK;
}

static void channel_means(qb_qmodel *q, qb_model *ref, int layer, double *mean)
{
    qb_model *m = q ? &q->model : ref;
    sum_ctx c = {layer, m, mean};
    memset(mean, 0, (size_t)m->layers[layer].c * sizeof *mean);
    qb_taps taps = {.ctx = &c, .output = sum_output};
    if (q) assert_int_equal(qb_forward_qmodel(q, &data.calib, pool, &taps, NULL, NULL), QB_OK);
    else assert_int_equal(qb_forward_quantized(ref, NULL, NULL, &data.calib, pool, &taps, NULL, NULL), QB_OK);
    for (int i = 0; i < m->layers[layer].c; i++) mean[i] /= data.calib.n;
}

static void test_bias_correction_removes_planted_shift(void **state)
{
    (void)state;
    qb_qeval_config c;
    config(&c, "uniform-sym", 8, 32, "channel");
    qb_qmodel q;
    assert_int_equal(qb_qeval_quantize(ev, &c, &q), QB_OK);
    qb_model ref;
    assert_int_equal(qb_model_clone(qb_qeval_model(ev), &ref), QB_OK);
    int fc2 = qb_model_find_layer(&ref, "fc2");
    qb_tensor *w = &q.model.layers[fc2].params[QB_P_WEIGHT].value;
    int64_t out = w->shape[0], in = w->shape[1];
    float *wd = w->data;
    for (int64_t o = 0; o < out; o++)
        for (int64_t j = 0; j < in; j++) wd[o * in + j] += 0.002f * (float)(o % 7 + 1);
    double mr[256], mq[256];
    assert_true(out <= 256);
    channel_means(NULL, &ref, fc2, mr);
    channel_means(&q, NULL, fc2, mq);
    double before = 0;
    for (int64_t o = 0; o < out; o++) before = fmax(before, fabs(mq[o] - mr[o]));
    assert_true(before > 0.05); /* the planted shift shows */
    int corrected;
    assert_int_equal(qb_bias_correct_model(&q, &ref, &data.calib, pool, &corrected), QB_OK);
    assert_int_equal(corrected, 3);
    channel_means(&q, NULL, fc2, mq);
    for (int64_t o = 0; o < out; o++)
        if (fabs(mq[o] - mr[o]) > 1e-3 * before) fail_msg("channel %lld: mean off by %g after correction (%g before)",
                                                          (long long)o, mq[o] - mr[o], before);
    qb_model_free(&ref);
    qb_qmodel_free(&q);
}

static void test_layer_rounding_lowers_every_layer_error(void **state)
{
    (void)state;
    qb_qeval_config c;
    config(&c, "uniform-sym", 3, 8, "channel");
    for (int method = 0; method < 2; method++) {
        qb_protect_options o;
        qb_protect_options_init(&o);
        assert_int_equal(qb_protect_options_parse(&o, method ? "adaround" : "gptq", NULL), QB_OK);
        o.adaround_iters = 200;
        qb_protect_report rep;
        qb_qeval_result r;
        assert_int_equal(qb_protect_run(ev, &c, &o, &r, &rep), QB_OK);
        int layers = 0;
        for (int i = 0; i < rep.n_layers; i++) {
            if (isnan(rep.recon_nearest[i])) continue;
            layers++;
            if (!(rep.recon_corrected[i] < 0.8 * rep.recon_nearest[i]))
                fail_msg("%s layer %d: error %g vs nearest %g", method ? "adaround" : "gptq", i,
                         rep.recon_corrected[i], rep.recon_nearest[i]);
        }
        assert_int_equal(layers, 3);
        assert_true(r.prep_seconds > 0 && !isnan(r.prep_seconds) && r.prep_peak_mb >= 0);
        qb_qeval_result_free(&r);
        qb_protect_report_free(&rep);
    }
}

static void test_mixed_precision_meets_budgets(void **state)
{
    (void)state;
    qb_qeval_config c;
    config(&c, "uniform-sym", 8, 8, "channel");
    qb_protect_options o;
    qb_protect_options_init(&o);
    assert_int_equal(qb_protect_options_parse(&o, NULL, "mixed:size=12%"), QB_OK);
    qb_protect_report rep;
    qb_qmodel q;
    assert_int_equal(qb_protect_quantize(ev, &c, &o, &q, &rep), QB_OK);
    uint64_t budget = (uint64_t)(0.12 * (double)qb_qeval_fp32_size(ev));
    assert_true(q.size_bytes <= budget);
    assert_true(rep.mixed && rep.mix.budget_met);
    int lo = 99, hi = 0, chosen = 0;
    for (int i = 0; i < q.model.n_layers; i++)
        if (qb_layer_has_weights(&q.model.layers[i])) {
            assert_int_equal(q.wbits[i], rep.mix.wbits[i]);
            lo = q.wbits[i] < lo ? q.wbits[i] : lo;
            hi = q.wbits[i] > hi ? q.wbits[i] : hi;
        }
    assert_true(lo >= 2 && hi <= 8 && lo < hi); /* a real mix, not one width */
    for (int p = 0; p < rep.mix.n_curve; p++) {
        chosen += rep.mix.curve[p].chosen;
        if (rep.mix.curve[p].chosen) assert_int_equal(rep.mix.curve[p].size_bytes, q.size_bytes);
        if (p) assert_true(rep.mix.curve[p].size_bytes > rep.mix.curve[p - 1].size_bytes);
    }
    assert_int_equal(chosen, 1);
    assert_true(rep.mix.n_curve >= 5);
    qb_qmodel_free(&q);
    qb_protect_report_free(&rep);

    assert_int_equal(qb_protect_options_parse(&o, NULL, "mixed:drop=1"), QB_OK);
    assert_int_equal(qb_protect_quantize(ev, &c, &o, &q, &rep), QB_OK);
    assert_true(rep.mix.budget_met);
    for (int p = 0; p < rep.mix.n_curve; p++)
        if (rep.mix.curve[p].chosen) {
            assert_true(rep.mix.curve[p].calib_drop_pp <= 1.0);
            /* every smaller point measured misses the budget */
            for (int k = 0; k < p; k++) assert_true(rep.mix.curve[k].calib_drop_pp > 1.0);
        }
    qb_qmodel_free(&q);
    qb_protect_report_free(&rep);

    /* impossible budgets and single-width schemes are refused */
    assert_int_equal(qb_protect_options_parse(&o, NULL, "mixed:size=1k"), QB_OK);
    assert_int_equal(qb_protect_quantize(ev, &c, &o, &q, &rep), QB_ERR_ARG);
    assert_error_has("no allocation fits in 1000 bytes");
    config(&c, "binary", 1, 8, "channel");
    assert_int_equal(qb_protect_options_parse(&o, NULL, "mixed:drop=1"), QB_OK);
    assert_int_equal(qb_protect_quantize(ev, &c, &o, &q, &rep), QB_ERR_ARG);
    assert_error_has("several widths");
}

static int is_power_of_two_or_zero(float v)
{
    if (v == 0) return 1;
    int e;
    return fabsf(frexpf(v, &e)) == 0.5f;
}

static void test_inq_ends_with_powers_of_two(void **state)
{
    (void)state;
    qb_qeval_config c;
    config(&c, "pow2", 4, 8, "channel");
    qb_protect_options o;
    qb_protect_options_init(&o);
    assert_int_equal(qb_protect_options_parse(&o, "inq:0.25", NULL), QB_OK);
    qb_protect_report rep;
    qb_qmodel q;
    assert_int_equal(qb_protect_quantize(ev, &c, &o, &q, &rep), QB_OK);
    assert_int_equal(rep.finetune_steps, 3 * 4); /* 3 steps of a quarter of 16 batches of 128 */
    for (int i = 0; i < q.model.n_layers; i++) {
        if (!qb_layer_has_weights(&q.model.layers[i])) continue;
        const qb_tensor *w = &q.model.layers[i].params[QB_P_WEIGHT].value;
        const float *wd = w->data;
        int64_t n = qb_tensor_numel(w);
        float *fq = malloc((size_t)n * sizeof *fq);
        assert_int_equal(qb_fake_quantize(&q.wq[i], wd, n, fq), QB_OK);
        for (int64_t j = 0; j < n; j++) {
            if (!is_power_of_two_or_zero(wd[j])) fail_msg("layer %d weight %lld = %g", i, (long long)j, wd[j]);
            assert_true(fq[j] == wd[j]); /* on the scheme's own levels */
        }
        free(fq);
    }
    qb_qmodel_free(&q);
    qb_protect_report_free(&rep);
}

typedef struct {
    const qb_images *images;
    int k;
    double loss;
} loss_ctx;

static qb_status add_loss(void *vc, int first, int n, const float *logits)
{
    loss_ctx *c = vc;
    int labels[QB_QEVAL_BATCH];
    for (int i = 0; i < n; i++) labels[i] = c->images->labels[first + i];
    c->loss += qb_softmax_xent(logits, labels, n, c->k, NULL, 0, NULL);
    return QB_OK;
}

/* Mean cross-entropy of q on the test slice (inputs fake-quantized). */
static double test_loss(qb_qmodel *q)
{
    loss_ctx c = {&data.test, q->model.n_classes, 0};
    assert_int_equal(qb_forward_qmodel(q, &data.test, pool, NULL, add_loss, &c), QB_OK);
    return c.loss / data.test.n;
}

/* Binary and ternary QAT learn each channel's alpha: every weight of q is
 * 0 (ternary only) or +-alpha of its channel, as the integer path reads it. */
static void assert_alpha_levels(const qb_qmodel *q)
{
    for (int i = 0; i < q->model.n_layers; i++) {
        if (!qb_layer_has_weights(&q->model.layers[i]) || q->wbits[i] == QB_FLOAT_BITS) continue;
        const qb_qparams *p = &q->wq[i];
        const qb_tensor *w = &q->model.layers[i].params[QB_P_WEIGHT].value;
        const float *wd = w->data;
        for (int64_t j = 0; j < qb_tensor_numel(w); j++) {
            float a = p->scale[qb_qparams_block_of(p, j)];
            assert_true(a > 0);
            if (!(fabsf(wd[j]) == a || (p->threshold && wd[j] == 0.0f)))
                fail_msg("%s[%lld] = %g, alpha %g", q->model.layers[i].name, (long long)j, (double)wd[j], (double)a);
        }
    }
}

static void test_qat_lowers_quantized_loss(void **state)
{
    (void)state;
    static const struct { const char *scheme; int bits; } cfgs[] = {
        {"uniform-sym", 2}, {"binary", 1}, {"ternary", 2}, {"kmeans", 2}};
    for (size_t k = 0; k < QB_ARRAY_LEN(cfgs); k++) {
        qb_qeval_config c;
        config(&c, cfgs[k].scheme, cfgs[k].bits, 8, "channel");
        qb_qmodel q0, q1;
        assert_int_equal(qb_qeval_quantize(ev, &c, &q0), QB_OK);
        qb_protect_options o;
        qb_protect_options_init(&o);
        assert_int_equal(qb_protect_options_parse(&o, "qat:1", NULL), QB_OK);
        assert_int_equal(qb_protect_quantize(ev, &c, &o, &q1, NULL), QB_OK);
        double l0 = test_loss(&q0), l1 = test_loss(&q1);
        if (!(l1 < 0.95 * l0)) fail_msg("%s %d-bit: loss %g after QAT, %g before", cfgs[k].scheme, cfgs[k].bits, l1, l0);
        if (strcmp(cfgs[k].scheme, "binary") == 0 || strcmp(cfgs[k].scheme, "ternary") == 0) assert_alpha_levels(&q1);
        qb_qmodel_free(&q0);
        qb_qmodel_free(&q1);
    }
}

static void test_qat_resumes_exactly(void **state)
{
    (void)state;
    qb_qeval_config c;
    config(&c, "uniform-sym", 4, 8, "channel");
    char ck[600];
    snprintf(ck, sizeof ck, "%s/qat.ckpt", dir);
    qb_protect_options o;
    qb_protect_options_init(&o);
    assert_int_equal(qb_protect_options_parse(&o, "qat:0.5", NULL), QB_OK);
    qb_qmodel whole, resumed;
    assert_int_equal(qb_protect_quantize(ev, &c, &o, &whole, NULL), QB_OK);
    o.checkpoint = ck;
    o.stop_after = 5;
    assert_int_equal(qb_protect_quantize(ev, &c, &o, &resumed, NULL), QB_ERR_ARG);
    assert_error_has("stopped after 5 of 8 steps");
    o.stop_after = 0;
    assert_int_equal(qb_protect_quantize(ev, &c, &o, &resumed, NULL), QB_OK);
    for (int i = 0; i < whole.model.n_layers; i++)
        for (int p = 0; p < whole.model.layers[i].n_params; p++) {
            const qb_tensor *a = &whole.model.layers[i].params[p].value, *b = &resumed.model.layers[i].params[p].value;
            if (a->data) assert_memory_equal(a->data, b->data, qb_tensor_bytes(a));
        }
    for (int i = 0; i < whole.model.n_layers; i++)
        if (whole.wq[i].scale) assert_memory_equal(whole.wq[i].scale, resumed.wq[i].scale, (size_t)whole.wq[i].nblocks * sizeof(float));
    qb_qmodel_free(&resumed);
    /* another run's checkpoint is refused, not resumed */
    o.lr = 0.001f;
    assert_int_equal(qb_protect_quantize(ev, &c, &o, &resumed, NULL), QB_ERR_ARG);
    assert_error_has("a checkpoint of another fine-tuning run");
    qb_qmodel_free(&whole);
}

/* An absurd rate makes the loss fly apart within a few steps: the run stops
 * naming the lever, the step and the flag to change, not a quantizer's NaN. */
static void test_qat_divergence_stops_clearly(void **state)
{
    (void)state;
    static const char *schemes[] = {"uniform-sym", "ternary"};
    for (size_t k = 0; k < QB_ARRAY_LEN(schemes); k++) {
        qb_qeval_config c;
        config(&c, schemes[k], 4 - 2 * (int)k, 8, "channel");
        qb_protect_options o;
        qb_protect_options_init(&o);
        assert_int_equal(qb_protect_options_parse(&o, "qat:0.25", NULL), QB_OK);
        o.lr = 10;
        qb_qmodel q;
        assert_int_equal(qb_protect_quantize(ev, &c, &o, &q, NULL), QB_ERR_ARG);
        assert_error_has("qat of mlp diverged at epoch 1, step ");
        assert_error_has("(peak learning rate 10); rerun with a lower --lr, e.g. 1");
        if (strstr(qb_last_error(), "NaN")) fail_msg("%s", qb_last_error());
    }
}

static void test_prune_keeps_zeros_and_shrinks(void **state)
{
    (void)state;
    qb_qeval_config c;
    config(&c, "kmeans", 4, 8, "tensor");
    qb_qmodel plain, pruned;
    assert_int_equal(qb_qeval_quantize(ev, &c, &plain), QB_OK);
    qb_protect_options o;
    qb_protect_options_init(&o);
    assert_int_equal(qb_protect_options_parse(&o, "prune:75", NULL), QB_OK);
    qb_protect_report rep;
    assert_int_equal(qb_protect_quantize(ev, &c, &o, &pruned, &rep), QB_OK);
    assert_true(rep.nonzero <= rep.weights / 4 + 3);
    int64_t zeros = 0, total = 0;
    for (int i = 0; i < pruned.model.n_layers; i++) {
        if (!qb_layer_has_weights(&pruned.model.layers[i])) continue;
        const qb_tensor *w = &pruned.model.layers[i].params[QB_P_WEIGHT].value;
        for (int64_t j = 0; j < qb_tensor_numel(w); j++) zeros += ((const float *)w->data)[j] == 0.0f;
        total += qb_tensor_numel(w);
    }
    assert_int_equal(total, rep.weights);
    assert_int_equal(total - zeros, rep.nonzero);
    /* a bitmap bit plus 4-bit codes for a quarter: about 2 bits a weight, not 4 */
    assert_true(pruned.size_bytes < plain.size_bytes * 3 / 4);
    qb_qmodel_free(&plain);
    qb_qmodel_free(&pruned);
    qb_protect_report_free(&rep);
}

static void test_cli(void **state)
{
    (void)state;
    char *out = NULL;
    int rc = qb_test_run_qbench(&out, "eval --model %s --correction gptq+adaround 2>&1", model_path);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, "--correction: 'gptq' and 'adaround' both decide"));
    free(out);
    rc = qb_test_run_qbench(&out, "eval --model %s --pareto /tmp/x.csv 2>&1", model_path);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, "--pareto: only a mixed policy"));
    free(out);
    rc = qb_test_run_qbench(&out, "eval --model %s --correction bias --epochs 2 2>&1", model_path);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, "does not fine-tune"));
    free(out);
    rc = qb_test_run_qbench(&out, "eval --model %s --correction qat --lr 10 --epochs 0.02 2>&1", model_path);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, "qbench eval: qat of mlp diverged at epoch 1, step "));
    assert_non_null(strstr(out, "rerun with a lower --lr"));
    free(out);
    rc = qb_test_run_qbench(&out, "eval --model %s --keep-first-last 8 --policy first-last:8 2>&1", model_path);
    assert_int_equal(rc, 2);
    free(out);
    char layers[600], pareto[600];
    snprintf(layers, sizeof layers, "%s/layers.csv", dir);
    snprintf(pareto, sizeof pareto, "%s/pareto.csv", dir);
    rc = qb_test_run_qbench(&out, "eval --model %s --wbits 6 --correction cle+bias --policy mixed:size=15%% "
                            "--format csv --layers %s --pareto %s 2>/dev/null", model_path, layers, pareto);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, ",correction,policy,"));
    assert_non_null(strstr(out, "prep_seconds,prep_peak_mb\nmlp,uniform-sym,channel,minmax,cle+bias,mixed:size=15%,6,8,"));
    free(out);
    char *l = qb_test_read_file(layers, NULL), *p = qb_test_read_file(pareto, NULL);
    assert_non_null(l);
    assert_non_null(p);
    assert_non_null(strstr(l, "cell_id,model,layer_index,layer,kind,wbits,abits,weight_sqnr_db,act_sqnr_db,sensitivity_pp\n,mlp,1,fc1,dense,"));
    assert_non_null(strstr(p, "cell_id,model,point,size_bytes,compression,predicted_kl,calib_accuracy,calib_drop_pp,chosen,wbits\n,mlp,0,"));
    assert_non_null(strstr(p, ",1,")); /* a chosen point */
    free(l);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parsers),
        cmocka_unit_test(test_equalization_keeps_function),
        cmocka_unit_test(test_bias_correction_removes_planted_shift),
        cmocka_unit_test(test_layer_rounding_lowers_every_layer_error),
        cmocka_unit_test(test_mixed_precision_meets_budgets),
        cmocka_unit_test(test_inq_ends_with_powers_of_two),
        cmocka_unit_test(test_qat_lowers_quantized_loss),
        cmocka_unit_test(test_qat_resumes_exactly),
        cmocka_unit_test(test_qat_divergence_stops_clearly),
        cmocka_unit_test(test_prune_keeps_zeros_and_shrinks),
        cmocka_unit_test(test_cli),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("protect", tests, setup, teardown);
}
