/* Cross-layer equalization over conv/dense pairs (see equalize.h). */
#include "equalize.h"

#include <math.h>
#include <stdlib.h>

#include "chanstats.h"

/* The only layer reading layer i's output, or -1 (none, several, or the
 * logits). */
static int sole_reader(const qb_model *m, int i)
{
    int reader = -1;
    for (int j = 0; j < m->n_layers; j++)
        for (int k = 0; k < m->layers[j].n_inputs; k++)
            if (m->layers[j].inputs[k] == i) {
                if (reader >= 0) return -1;
                reader = j;
            }
    return reader;
}

int qb_equalize_partner(const qb_model *m, int a)
{
    if (a < 0 || a >= m->n_layers || !qb_layer_has_weights(&m->layers[a])) return -1;
    int cur = a;
    for (;;) {
        int next = sole_reader(m, cur);
        if (next < 0) return -1;
        const qb_layer *l = &m->layers[next];
        switch (l->kind) {
        case QB_LAYER_RELU:
        case QB_LAYER_MAXPOOL:
        case QB_LAYER_GAP:
        case QB_LAYER_FLATTEN:
            cur = next;
            continue;
        case QB_LAYER_CONV:
        case QB_LAYER_DENSE:
            /* B must see A's channels as whole blocks of its fan-in */
            return qb_layer_in_numel(l) % m->layers[a].c == 0 ? next : -1;
        default:
            return -1;
        }
    }
}

/* Equalizes one pair; returns the largest |log s_i| (how far from settled). */
static double equalize_pair(qb_layer *a, qb_layer *b, float *r1, float *r2, float *s)
{
    qb_tensor *wa = &a->params[QB_P_WEIGHT].value, *wb = &b->params[QB_P_WEIGHT].value;
    int64_t ch = a->c, ka = qb_tensor_numel(wa) / ch;
    int64_t out = wb->shape[0], kb = qb_tensor_numel(wb) / out, per = kb / ch;
    float *pa = wa->data, *pb = wb->data;
    for (int64_t i = 0; i < ch; i++) {
        float m1 = 0, m2 = 0;
        for (int64_t j = 0; j < ka; j++) m1 = fmaxf(m1, fabsf(pa[i * ka + j]));
        for (int64_t o = 0; o < out; o++)
            for (int64_t j = 0; j < per; j++) m2 = fmaxf(m2, fabsf(pb[o * kb + i * per + j]));
        r1[i] = m1;
        r2[i] = m2;
    }
    qb_equalize_scales(r1, r2, ch, s);
    double moved = 0;
    float *bias = a->params[QB_P_BIAS].value.data;
    for (int64_t i = 0; i < ch; i++) {
        float inv = 1.0f / s[i];
        for (int64_t j = 0; j < ka; j++) pa[i * ka + j] *= inv;
        if (bias) bias[i] *= inv;
        for (int64_t o = 0; o < out; o++)
            for (int64_t j = 0; j < per; j++) pb[o * kb + i * per + j] *= s[i];
        moved = fmax(moved, fabs(log((double)s[i])));
    }
    return moved;
}

qb_status qb_equalize(qb_model *m, int max_rounds, int *pairs)
{
    int np = 0, maxc = 1;
    for (int i = 0; i < m->n_layers; i++)
        if (qb_equalize_partner(m, i) >= 0) {
            np++;
            if (m->layers[i].c > maxc) maxc = m->layers[i].c;
        }
    if (pairs) *pairs = np;
    float *buf = qb_malloc((size_t)maxc * 3, sizeof *buf);
    if (!buf) return QB_ERR_NOMEM;
    for (int round = 0; round < max_rounds && np > 0; round++) {
        double moved = 0;
        for (int i = 0; i < m->n_layers; i++) {
            int b = qb_equalize_partner(m, i);
            if (b >= 0)
                moved = fmax(moved, equalize_pair(&m->layers[i], &m->layers[b], buf, buf + maxc,
                                                  buf + 2 * maxc));
        }
        if (moved < 1e-4) break;
    }
    free(buf);
    return QB_OK;
}
