/* The simulation's logits for executor tests (see qeval_sim.h). */
#include "qeval_sim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "exec.h"
#include "qb_test.h"

typedef struct {
    const qb_qmodel *q;
    qb_status st;
} sim_ctx;

static void sim_input(void *ctx, int layer, float *x, int batch)
{
    sim_ctx *c = ctx;
    if (c->q->abits[layer] == QB_FLOAT_BITS) return;
    int64_t n = (int64_t)batch * qb_layer_in_numel(&c->q->model.layers[layer]);
    qb_status st = qb_fake_quantize(&c->q->aq[layer], x, n, x);
    if (st) c->st = st;
}

void qb_test_sim_logits(qb_qmodel *q, const float *x, int n, float *out)
{
    qb_exec *e;
    assert_int_equal(qb_exec_create(&e, &q->model, n, NULL, QB_EXEC_INFER), QB_OK);
    sim_ctx c = {q, QB_OK};
    qb_exec_hooks h = {&c, sim_input, NULL, NULL};
    qb_exec_set_hooks(e, &h);
    assert_int_equal(qb_exec_forward(e, x, n), QB_OK);
    assert_int_equal(c.st, QB_OK);
    memcpy(out, qb_exec_logits(e), (size_t)n * (size_t)q->model.n_classes * sizeof(float));
    qb_exec_free(e);
}

static int argmax(const float *z, int k)
{
    int b = 0;
    for (int j = 1; j < k; j++)
        if (z[j] > z[b]) b = j;
    return b;
}

int qb_test_prediction_differences(qb_iexec *e, qb_qmodel *q, const qb_images *test, float *x)
{
    int k = q->model.n_classes, differ = 0;
    float *zs = malloc((size_t)(64 * k) * sizeof(float));
    assert_non_null(zs);
    for (int b0 = 0; b0 < test->n; b0 += 64) {
        int n = test->n - b0 < 64 ? test->n - b0 : 64, idx[64];
        for (int i = 0; i < n; i++) idx[i] = b0 + i;
        qb_images_batch(test, idx, n, x, NULL);
        assert_int_equal(qb_iexec_forward(e, x, n), QB_OK);
        qb_test_sim_logits(q, x, n, zs);
        for (int i = 0; i < n; i++) {
            const float *zi = qb_iexec_logits(e) + i * k, *zq = zs + i * k;
            int top_i = argmax(zi, k), top_q = argmax(zq, k);
            if (top_i == top_q) continue;
            differ++;
            float mx = zq[0], mn = zq[0];
            for (int j = 1; j < k; j++) mx = zq[j] > mx ? zq[j] : mx, mn = zq[j] < mn ? zq[j] : mn;
            double margin = zq[top_q] - zq[top_i];
            if (margin > 0.02 * (mx - mn))
                fail_msg("image %d: top-1 %d (executor) vs %d (simulation), simulation margin %.3g of "
                         "range %.3g: not a near tie", b0 + i, top_i, top_q, margin, (double)(mx - mn));
        }
    }
    free(zs);
    return differ;
}

void qb_test_layer_double(const qb_model *model, int li, const double *x, int nb, double *y, double *mag)
{
    const qb_layer *l = &model->layers[li];
    const float *w = l->params[QB_P_WEIGHT].value.data, *bias = l->params[QB_P_BIAS].value.data;
    int fin = l->inputs[0], fc = 0, fhw = 0;
    if (fin >= 0 && model->layers[fin].kind == QB_LAYER_FLATTEN) {
        fc = model->layers[fin].in_c;
        fhw = model->layers[fin].in_h * model->layers[fin].in_w;
    }
    int64_t k = qb_layer_in_numel(l);
    for (int b = 0; b < nb; b++)
        for (int oy = 0; oy < l->h; oy++)
            for (int ox = 0; ox < l->w; ox++)
                for (int oc = 0; oc < l->c; oc++) {
                    double s = bias ? bias[oc] : 0, sm = fabs(s);
                    if (l->kind == QB_LAYER_DENSE) {
                        for (int64_t i = 0; i < k; i++) {
                            int64_t src = fc ? (i % fhw) * fc + i / fhw : i; /* (c, h, w) column -> NHWC */
                            double p = x[b * k + src] * w[oc * k + i];
                            s += p, sm += fabs(p);
                        }
                    } else {
                        for (int ic = 0; ic < l->in_c; ic++)
                            for (int ky = 0; ky < l->kh; ky++)
                                for (int kx = 0; kx < l->kw; kx++) {
                                    int iy = oy * l->stride - l->pad + ky, ix = ox * l->stride - l->pad + kx;
                                    if (iy < 0 || iy >= l->in_h || ix < 0 || ix >= l->in_w) continue;
                                    double p = x[((b * l->in_h + iy) * l->in_w + ix) * l->in_c + ic] *
                                               w[((oc * l->in_c + ic) * l->kh + ky) * l->kw + kx];
                                    s += p, sm += fabs(p);
                                }
                    }
                    int64_t at = ((b * l->h + oy) * l->w + ox) * l->c + oc;
                    y[at] = s;
                    mag[at] = sm;
                }
}
