/* The simulation's logits for executor tests (see qeval_sim.h). */
#include "qeval_sim.h"

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
