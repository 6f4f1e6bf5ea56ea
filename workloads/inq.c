/* Incremental network quantization (see qat.h). */
#include "qat.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ftshared.h"

#define INQ_STEPS 3 /* retraining steps: after 50%, 75%, 87.5% frozen */

typedef struct {
    qb_ft_base base;
    qb_model *m;
    int n;
    float **frozen; /* per quantized layer: 1 where frozen (float, so it checkpoints) */
    float **value;  /* the frozen weights' quantized values */
    float *tmp;     /* one layer's fake-quantized weights */
    qb_ft_state state;
} inq_ctx;

static float *weights(inq_ctx *c, int i) { return c->m->layers[i].params[QB_P_WEIGHT].value.data; }
static int64_t count(inq_ctx *c, int i) { return qb_tensor_numel(&c->m->layers[i].params[QB_P_WEIGHT].value); }

typedef struct {
    float mag;
    int64_t idx;
} entry;

static int by_mag_desc(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->mag != y->mag) return x->mag > y->mag ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Freezes the largest unfrozen weights of layer i until `share` of it is
 * frozen (share 1: all). */
static qb_status freeze_layer(inq_ctx *c, int i, double share)
{
    float *w = weights(c, i), *fr = c->frozen[i], *val = c->value[i];
    int64_t n = count(c, i), have = 0, m = 0;
    for (int64_t j = 0; j < n; j++) have += fr[j] != 0;
    int64_t want = (int64_t)ceil(share * (double)n);
    if (want <= have) return QB_OK;
    qb_status s = qb_fake_quantize(&c->base.q->wq[i], w, n, c->tmp);
    if (s != QB_OK) return s;
    entry *e = qb_malloc((size_t)(n - have), sizeof *e);
    if (!e) return QB_ERR_NOMEM;
    for (int64_t j = 0; j < n; j++)
        if (!fr[j]) e[m++] = (entry){fabsf(w[j]), j};
    qsort(e, (size_t)m, sizeof *e, by_mag_desc);
    for (int64_t k = 0; k < want - have && k < m; k++) {
        int64_t j = e[k].idx;
        fr[j] = 1.0f;
        val[j] = w[j] = c->tmp[j];
    }
    free(e);
    return QB_OK;
}

static qb_status inq_begin_segment(void *vc, int segment)
{
    inq_ctx *c = vc;
    double share = 1.0 - ldexp(1.0, -(segment + 1)); /* 0.5, 0.75, 0.875 */
    for (int i = 0; i < c->n; i++) {
        if (!c->frozen[i]) continue;
        qb_status s = freeze_layer(c, i, share);
        if (s != QB_OK) return qb_error_context(s, "INQ step %d of %s", segment + 1, c->m->layers[i].name);
    }
    return QB_OK;
}

static qb_status inq_after_backward(void *vc)
{
    inq_ctx *c = vc;
    for (int i = 0; i < c->n; i++) {
        if (!c->frozen[i]) continue;
        float *g = c->m->layers[i].params[QB_P_WEIGHT].grad.data;
        for (int64_t j = 0; j < count(c, i); j++)
            if (c->frozen[i][j] != 0) g[j] = 0.0f;
    }
    return QB_OK;
}

static qb_status inq_after_step(void *vc, float lr)
{
    (void)lr;
    inq_ctx *c = vc;
    for (int i = 0; i < c->n; i++) {
        if (!c->frozen[i]) continue;
        float *w = weights(c, i);
        for (int64_t j = 0; j < count(c, i); j++)
            if (c->frozen[i][j] != 0) w[j] = c->value[i][j]; /* undo weight decay's pull */
    }
    return QB_OK;
}

static void ctx_free(inq_ctx *c)
{
    for (int i = 0; i < c->n; i++) {
        if (c->frozen) free(c->frozen[i]);
        if (c->value) free(c->value[i]);
    }
    free(c->frozen);
    free(c->value);
    free(c->tmp);
    qb_ft_state_free(&c->state);
}

static qb_status ctx_init(inq_ctx *c, qb_model *m, qb_qmodel *q, const qb_prune_masks *masks)
{
    memset(c, 0, sizeof *c);
    c->base.q = q;
    c->m = m;
    c->n = m->n_layers;
    c->frozen = qb_calloc((size_t)c->n, sizeof *c->frozen);
    c->value = qb_calloc((size_t)c->n, sizeof *c->value);
    if (!c->frozen || !c->value || qb_ft_state_init(&c->state, c->n) != QB_OK) return QB_ERR_NOMEM;
    int64_t most = 1;
    for (int i = 0; i < c->n; i++) {
        if (!qb_layer_has_weights(&m->layers[i]) || q->wbits[i] == QB_FLOAT_BITS) continue;
        int64_t n = count(c, i);
        if (n > most) most = n;
        c->frozen[i] = qb_calloc((size_t)n, sizeof(float));
        c->value[i] = qb_calloc((size_t)n, sizeof(float));
        if (!c->frozen[i] || !c->value[i]) return QB_ERR_NOMEM;
        /* pruned weights are frozen at zero from the start */
        if (masks && masks->mask[i])
            for (int64_t j = 0; j < n; j++) c->frozen[i][j] = masks->mask[i][j] == 0.0f;
        const char *param = m->layers[i].params[QB_P_WEIGHT].name;
        qb_status s = qb_ft_state_add(&c->state, i, "inq", "frozen", param, c->frozen[i], n, 0);
        if (s == QB_OK) s = qb_ft_state_add(&c->state, i, "inq", "value", param, c->value[i], n, 0);
        if (s != QB_OK) return s;
    }
    c->tmp = qb_malloc((size_t)most, sizeof(float));
    return c->tmp ? QB_OK : QB_ERR_NOMEM;
}

qb_status qb_inq(qb_model *m, qb_qmodel *q, const qb_prune_masks *masks, const qb_fmnist *data,
                 const qb_finetune_options *o, qb_finetune_result *res)
{
    inq_ctx c;
    qb_status s = ctx_init(&c, m, q, masks);
    if (s != QB_OK) {
        ctx_free(&c);
        return s;
    }
    qb_finetune_options fo = *o;
    fo.segments = INQ_STEPS;
    qb_finetune_hooks h = {.ctx = &c,
                           .exec = {.ctx = &c, .input = qb_ft_input},
                           .begin_segment = inq_begin_segment,
                           .after_backward = inq_after_backward,
                           .after_step = inq_after_step,
                           .state = c.state.named,
                           .n_state = c.state.n};
    s = qb_finetune(m, data, &fo, &h, res);
    if (s == QB_OK) s = c.base.status;
    if (s == QB_OK && res->stopped) { /* not finished: q stays as it was */
        ctx_free(&c);
        return QB_OK;
    }
    for (int i = 0; s == QB_OK && i < c.n; i++)
        if (c.frozen[i]) s = freeze_layer(&c, i, 1.0); /* the last step: everything */
    if (s == QB_OK) s = qb_ft_refresh(q, m, NULL);
    ctx_free(&c);
    return s;
}
