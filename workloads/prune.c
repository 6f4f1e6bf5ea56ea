/* Magnitude pruning and the sparse size (see prune.h). */
#include "prune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    float mag;
    int64_t idx;
} entry;

static int by_magnitude(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->mag != y->mag) return x->mag < y->mag ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

void qb_prune_masks_free(qb_prune_masks *pm)
{
    if (!pm || !pm->mask) return;
    for (int i = 0; i < pm->n_layers; i++) free(pm->mask[i]);
    free(pm->mask);
    memset(pm, 0, sizeof *pm);
}

qb_status qb_prune(qb_model *m, double pct, qb_prune_masks *out)
{
    memset(out, 0, sizeof *out);
    if (!(pct > 0 && pct < 100))
        return qb_error(QB_ERR_ARG, "pruning %g%%: the sparsity must be between 0 and 100", pct);
    out->n_layers = m->n_layers;
    out->mask = qb_calloc((size_t)m->n_layers, sizeof *out->mask);
    if (!out->mask) return QB_ERR_NOMEM;
    for (int i = 0; i < m->n_layers; i++) {
        qb_layer *l = &m->layers[i];
        if (!qb_layer_has_weights(l)) continue;
        qb_tensor *w = &l->params[QB_P_WEIGHT].value;
        int64_t n = qb_tensor_numel(w), k = (int64_t)floor((double)n * pct / 100.0);
        float *wd = w->data;
        entry *e = qb_malloc((size_t)n, sizeof *e);
        out->mask[i] = qb_malloc((size_t)n, sizeof(float));
        if (!e || !out->mask[i]) {
            free(e);
            qb_prune_masks_free(out);
            return QB_ERR_NOMEM;
        }
        for (int64_t j = 0; j < n; j++) e[j] = (entry){fabsf(wd[j]), j};
        qsort(e, (size_t)n, sizeof *e, by_magnitude);
        for (int64_t j = 0; j < n; j++) out->mask[i][j] = 1.0f;
        for (int64_t j = 0; j < k; j++) {
            out->mask[i][e[j].idx] = 0.0f;
            wd[e[j].idx] = 0.0f;
        }
        free(e);
    }
    return QB_OK;
}

void qb_prune_apply(const qb_prune_masks *pm, qb_model *m)
{
    if (!pm || !pm->mask) return;
    for (int i = 0; i < pm->n_layers && i < m->n_layers; i++) {
        if (!pm->mask[i]) continue;
        qb_tensor *w = &m->layers[i].params[QB_P_WEIGHT].value;
        float *wd = w->data;
        for (int64_t j = 0; j < qb_tensor_numel(w); j++) wd[j] *= pm->mask[i][j];
    }
}

uint64_t qb_sparse_size_bytes(const qb_qparams *p, int64_t n, int64_t nnz)
{
    uint64_t bitmap = (uint64_t)(n + 7) / 8;
    if (!p) return bitmap + (uint64_t)nnz * 4;
    return bitmap + ((uint64_t)nnz * (uint64_t)p->bits + 7) / 8 + qb_qparams_size_bytes(p, 0);
}
