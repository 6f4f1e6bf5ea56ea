/* The simulation's logits for executor tests (see qeval_sim.h). */
#include "qeval_sim.h"

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
