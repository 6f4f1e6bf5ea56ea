/* Shared pieces of qat.c and inq.c (see ftshared.h). */
#include "ftshared.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void qb_ft_input(void *ctx, int layer, float *x, int batch)
{
    qb_ft_base *b = ctx;
    if (b->status != QB_OK || b->q->abits[layer] == QB_FLOAT_BITS) return;
    int64_t n = (int64_t)batch * qb_layer_in_numel(&b->q->model.layers[layer]);
    b->status = qb_fake_quantize(&b->q->aq[layer], x, n, x);
}

void qb_ft_mask(float *v, const float *mask, int64_t n)
{
    if (!mask) return;
    for (int64_t j = 0; j < n; j++) v[j] *= mask[j];
}

qb_status qb_ft_state_init(qb_ft_state *st, int n_layers)
{
    memset(st, 0, sizeof *st);
    st->n_layers = n_layers;
    st->cap = 4 * n_layers + 4; /* fixed: named[] points into tensors[] */
    st->momentum = qb_calloc((size_t)n_layers, sizeof *st->momentum);
    st->tensors = qb_calloc((size_t)st->cap, sizeof *st->tensors);
    st->named = qb_calloc((size_t)st->cap, sizeof *st->named);
    st->names = qb_calloc((size_t)st->cap, sizeof *st->names);
    if (!st->momentum || !st->tensors || !st->named || !st->names) {
        qb_ft_state_free(st);
        return QB_ERR_NOMEM;
    }
    return QB_OK;
}

static qb_status add_view(qb_ft_state *st, char *name, float *values, int64_t n)
{
    if (!name) return qb_error(QB_ERR_NOMEM, "out of memory");
    if (st->n >= st->cap) {
        free(name);
        return qb_error(QB_ERR_INTERNAL, "fine-tuning state: more than %d tensors", st->cap);
    }
    qb_tensor *t = &st->tensors[st->n];
    memset(t, 0, sizeof *t);
    t->dtype = QB_F32;
    t->ndim = 1;
    t->shape[0] = n;
    t->data = values;
    st->names[st->n] = name;
    st->named[st->n] = (qb_named_tensor){name, t};
    st->n++;
    return QB_OK;
}

static char *fmt_name(const char *prefix, const char *what, const char *suffix, const char *param)
{
    char *s = NULL;
    if (asprintf(&s, "%s.%s%s.%s", prefix, what, suffix, param) < 0) return NULL;
    return s;
}

qb_status qb_ft_state_add(qb_ft_state *st, int layer, const char *prefix, const char *what,
                          const char *param, float *values, int64_t n, int with_momentum)
{
    qb_status s = add_view(st, fmt_name(prefix, what, "", param), values, n);
    if (s != QB_OK || !with_momentum) return s;
    st->momentum[layer] = qb_calloc((size_t)n, sizeof(float));
    if (!st->momentum[layer]) return QB_ERR_NOMEM;
    return add_view(st, fmt_name(prefix, what, "_momentum", param), st->momentum[layer], n);
}

float *qb_ft_state_momentum(qb_ft_state *st, int layer) { return st->momentum[layer]; }

void qb_ft_state_free(qb_ft_state *st)
{
    if (st->momentum)
        for (int i = 0; i < st->n_layers; i++) free(st->momentum[i]);
    if (st->names)
        for (int i = 0; i < st->n; i++) free(st->names[i]);
    free(st->momentum);
    free(st->tensors);
    free(st->named);
    free(st->names);
    memset(st, 0, sizeof *st);
}

qb_status qb_ft_refresh(qb_qmodel *q, const qb_model *m, float *const *weights)
{
    if (q->model.n_layers != m->n_layers)
        return qb_error(QB_ERR_INTERNAL, "refresh: %d layers vs %d", q->model.n_layers, m->n_layers);
    for (int i = 0; i < m->n_layers; i++)
        for (int p = 0; p < m->layers[i].n_params; p++) {
            const qb_tensor *src = &m->layers[i].params[p].value;
            qb_tensor *dst = &q->model.layers[i].params[p].value;
            if (!src->data) continue;
            const float *from = src->data;
            if (p == QB_P_WEIGHT && weights && weights[i] && q->wbits[i] != QB_FLOAT_BITS) from = weights[i];
            memcpy(dst->data, from, qb_tensor_bytes(src));
        }
    return QB_OK;
}
