/* Calibration passes with fake-quantized inputs and taps (see qforward.h). */
#include "qforward.h"

#include <stdlib.h>
#include <string.h>

#include "exec.h"

typedef struct {
    const int *abits;
    const qb_qparams *aq;
    const qb_model *m;
    const qb_taps *taps;
    qb_status status;
} pass_ctx;

static void on_input(void *vc, int layer, float *x, int batch)
{
    pass_ctx *c = vc;
    if (c->status != QB_OK) return;
    int64_t n = (int64_t)batch * qb_layer_in_numel(&c->m->layers[layer]);
    if (c->abits && c->abits[layer] != QB_FLOAT_BITS &&
        (c->status = qb_fake_quantize(&c->aq[layer], x, n, x)) != QB_OK)
        return;
    if (c->taps && c->taps->input) c->status = c->taps->input(c->taps->ctx, layer, x, batch);
}

static void on_output(void *vc, int layer, const float *y, int batch)
{
    pass_ctx *c = vc;
    if (c->status == QB_OK) c->status = c->taps->output(c->taps->ctx, layer, y, batch);
}

typedef struct {
    pass_ctx *pass;
    qb_batch_fn fn;
    void *ctx;
} batch_ctx;

static qb_status on_batch(void *vc, int first, int n, const float *logits)
{
    batch_ctx *b = vc;
    if (b->pass->status != QB_OK) return b->pass->status;
    return b->fn ? b->fn(b->ctx, first, n, logits) : QB_OK;
}

qb_status qb_forward_quantized(qb_model *m, const int *abits, const qb_qparams *aq,
                               const qb_images *images, qb_pool *pool, const qb_taps *taps,
                               qb_batch_fn fn, void *ctx)
{
    pass_ctx pc = {abits, aq, m, taps, QB_OK};
    qb_exec_hooks h = {.ctx = &pc, .input = on_input};
    if (taps && taps->output) h.output = on_output;
    batch_ctx bc = {&pc, fn, ctx};
    qb_status s = qb_images_forward(m, images, pool, &h, on_batch, &bc);
    return s != QB_OK ? s : pc.status;
}

qb_status qb_forward_qmodel(qb_qmodel *q, const qb_images *images, qb_pool *pool,
                            const qb_taps *taps, qb_batch_fn fn, void *ctx)
{
    return qb_forward_quantized(&q->model, q->abits, q->aq, images, pool, taps, fn, ctx);
}

typedef struct {
    float *logits;
    int k;
} keep_ctx;

static qb_status keep(void *vc, int first, int n, const float *z)
{
    keep_ctx *c = vc;
    memcpy(c->logits + (int64_t)first * c->k, z, (size_t)n * (size_t)c->k * sizeof *z);
    return QB_OK;
}

qb_status qb_forward_logits(qb_model *m, const qb_images *images, qb_pool *pool, float **logits)
{
    keep_ctx c = {qb_malloc((size_t)images->n * (size_t)m->n_classes, sizeof(float)), m->n_classes};
    if (!c.logits) return QB_ERR_NOMEM;
    qb_status s = qb_forward_quantized(m, NULL, NULL, images, pool, NULL, keep, &c);
    if (s != QB_OK) {
        free(c.logits);
        c.logits = NULL;
    }
    *logits = c.logits;
    return s;
}
