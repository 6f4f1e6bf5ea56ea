/* Empirical bias correction over a quantized model (see biascorr.h). */
#include "biascorr.h"

#include <stdlib.h>
#include <string.h>

#include "chanstats.h"
#include "qforward.h"

typedef struct {
    const qb_model *m;
    int only;       /* -1: every conv/dense layer */
    double **sum;   /* per layer: (c) channel sums */
} mean_ctx;

static qb_status add_outputs(void *vc, int layer, const float *y, int batch)
{
    mean_ctx *c = vc;
    if (!c->sum[layer] || (c->only >= 0 && layer != c->only)) return QB_OK;
    const qb_layer *l = &c->m->layers[layer];
    qb_channel_sums_add(c->sum[layer], y, batch, l->c, (int64_t)l->h * l->w);
    return QB_OK;
}

static int correctable(const qb_qmodel *q, int i)
{
    const qb_layer *l = &q->model.layers[i];
    return qb_layer_has_weights(l) && l->params[QB_P_BIAS].value.data &&
           (q->wbits[i] != QB_FLOAT_BITS || q->abits[i] != QB_FLOAT_BITS);
}

qb_status qb_bias_correct_model(qb_qmodel *q, qb_model *ref, const qb_images *calib,
                                qb_pool *pool, int *corrected)
{
    int n = q->model.n_layers, done = 0;
    double **ref_sum = qb_calloc((size_t)n, sizeof *ref_sum), **q_sum = qb_calloc((size_t)n, sizeof *q_sum);
    qb_status s = ref_sum && q_sum ? QB_OK : QB_ERR_NOMEM;
    for (int i = 0; s == QB_OK && i < n; i++)
        if (correctable(q, i)) {
            ref_sum[i] = qb_calloc((size_t)q->model.layers[i].c, sizeof(double));
            q_sum[i] = qb_calloc((size_t)q->model.layers[i].c, sizeof(double));
            if (!ref_sum[i] || !q_sum[i]) s = QB_ERR_NOMEM;
        }
    mean_ctx rc = {ref, -1, ref_sum};
    qb_taps taps = {.ctx = &rc, .output = add_outputs};
    if (s == QB_OK) s = qb_forward_quantized(ref, NULL, NULL, calib, pool, &taps, NULL, NULL);
    for (int i = 0; s == QB_OK && i < n; i++) {
        if (!q_sum[i]) continue;
        const qb_layer *l = &q->model.layers[i];
        mean_ctx qc = {&q->model, i, q_sum};
        taps.ctx = &qc;
        if ((s = qb_forward_qmodel(q, calib, pool, &taps, NULL, NULL)) != QB_OK) break;
        double count = (double)calib->n * l->h * l->w;
        qb_bias_correct(q->model.layers[i].params[QB_P_BIAS].value.data, l->c, ref_sum[i], q_sum[i],
                        count);
        done++;
    }
    for (int i = 0; i < n; i++) {
        if (ref_sum) free(ref_sum[i]);
        if (q_sum) free(q_sum[i]);
    }
    free(ref_sum);
    free(q_sum);
    if (corrected) *corrected = done;
    return s;
}
