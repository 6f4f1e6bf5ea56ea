/* Mixed-precision search: sensitivity, allocation, choice (see mixedprec.h). */
#include "mixedprec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bitalloc.h"
#include "layers.h"
#include "qforward.h"

#define CURVE_POINTS 8

void qb_mixed_result_free(qb_mixed_result *r)
{
    if (!r) return;
    free(r->sens_kl);
    free(r->sens_pp);
    free(r->wbits);
    for (int i = 0; i < r->n_curve; i++) free(r->curve[i].wbits);
    free(r->curve);
    memset(r, 0, sizeof *r);
}

/* Scores a model's calibration logits against the float model's. */
typedef struct {
    const float *ref;  /* (n, k) float logits */
    const qb_images *images;
    int k;
    long right;
    double kl;
} score_ctx;

static void softmax(const float *z, int k, double *p)
{
    double mx = z[qb_argmax(z, k)], sum = 0;
    for (int j = 0; j < k; j++) sum += p[j] = exp((double)z[j] - mx);
    for (int j = 0; j < k; j++) p[j] /= sum;
}

static qb_status score(void *vc, int first, int n, const float *logits)
{
    score_ctx *c = vc;
    double p[64], q[64];
    for (int i = 0; i < n; i++) {
        const float *z = logits + (int64_t)i * c->k;
        c->right += qb_argmax(z, c->k) == c->images->labels[first + i];
        softmax(c->ref + (int64_t)(first + i) * c->k, c->k, p);
        softmax(z, c->k, q);
        for (int j = 0; j < c->k; j++)
            if (p[j] > 0) c->kl += p[j] * (log(p[j]) - log(q[j] > 1e-300 ? q[j] : 1e-300));
    }
    return QB_OK;
}

typedef struct {
    const qb_qeval *ev;
    qb_model *m;
    qb_observer *const *obs;
    const qb_images *calib;
    qb_pool *pool;
    const float *ref_logits;
    double fp32_acc;
} search;

/* Quantizes m under cfg, runs the calibration images: accuracy (percent),
 * mean KL, and the qmodel's size; *q kept when keep != NULL. */
static qb_status measure(const search *sc, const qb_qeval_config *cfg, double *acc, double *kl,
                         uint64_t *size, qb_qmodel *keep)
{
    qb_qmodel q;
    qb_status s = qb_qeval_quantize_from(sc->ev, sc->m, sc->obs, cfg, &q);
    if (s != QB_OK) return s;
    score_ctx c = {sc->ref_logits, sc->calib, sc->m->n_classes, 0, 0};
    s = qb_forward_qmodel(&q, sc->calib, sc->pool, NULL, score, &c);
    if (s == QB_OK) {
        *acc = 100.0 * (double)c.right / sc->calib->n;
        *kl = c.kl / sc->calib->n;
        *size = q.size_bytes;
    }
    if (keep && s == QB_OK) *keep = q;
    else qb_qmodel_free(&q);
    return s;
}

static int widths_for(const qb_qeval_config *c, int *w)
{
    int n = 0;
    for (int b = 2; b <= c->wbits && b <= 16 && n < QB_MIXED_MAX_WIDTHS; b++)
        if (qb_scheme_accepts_bits(c->weights.scheme, b)) w[n++] = b;
    return n;
}

/* Per layer x width: KL and drop with only that layer's weights quantized,
 * and the layer's weight bytes. */
static qb_status sensitivity(const search *sc, const qb_qeval_config *c, qb_mixed_result *r,
                             uint64_t *wsize, FILE *log)
{
    for (int i = 0; i < r->n_layers; i++) {
        const qb_layer *l = &sc->m->layers[i];
        for (int k = 0; k < r->n_widths; k++) r->sens_kl[i * r->n_widths + k] = r->sens_pp[i * r->n_widths + k] = NAN;
        if (!qb_layer_has_weights(l)) continue;
        for (int k = 0; k < r->n_widths; k++) {
            qb_qeval_config one = *c;
            one.only_layer = i;
            one.wbits = r->widths[k];
            one.abits = QB_FLOAT_BITS;
            one.keep_first_last = 0;
            one.layer_wbits = NULL;
            qb_qmodel q;
            double acc, kl;
            uint64_t size;
            qb_status s = measure(sc, &one, &acc, &kl, &size, &q);
            if (s != QB_OK) return qb_error_context(s, "sensitivity of %s at %d bits", l->name, r->widths[k]);
            int64_t numel = qb_tensor_numel(&l->params[QB_P_WEIGHT].value);
            wsize[i * r->n_widths + k] = qb_qparams_size_bytes(&q.wq[i], numel);
            qb_qmodel_free(&q);
            r->sens_kl[i * r->n_widths + k] = kl;
            r->sens_pp[i * r->n_widths + k] = sc->fp32_acc - acc;
        }
        if (log) {
            fprintf(log, "sensitivity %s:", l->name);
            for (int k = 0; k < r->n_widths; k++)
                fprintf(log, " %db %.3g", r->widths[k], r->sens_kl[i * r->n_widths + k]);
            fprintf(log, " (KL, nats)\n");
            fflush(log);
        }
    }
    return QB_OK;
}

/* A frontier point as per-layer widths (weighted layers in order). */
static void point_bits(const qb_mixed_result *r, const qb_model *m, const qb_bitalloc_point *pt,
                       int *wbits)
{
    int j = 0;
    for (int i = 0; i < m->n_layers; i++)
        wbits[i] = qb_layer_has_weights(&m->layers[i]) ? r->widths[pt->choice[j++]] : QB_FLOAT_BITS;
}

typedef struct {
    const search *sc;
    const qb_qeval_config *c;
    qb_mixed_result *r;
    const qb_bitalloc_frontier *f;
    int *measured; /* per frontier point: index into r->curve + 1, or 0 */
} chooser;

/* Measures frontier point p (once) and returns its curve entry. */
static qb_status measure_point(chooser *ch, int p, qb_pareto_point **out)
{
    if (ch->measured[p]) {
        *out = &ch->r->curve[ch->measured[p] - 1];
        return QB_OK;
    }
    qb_mixed_result *r = ch->r;
    qb_pareto_point *pt = &r->curve[r->n_curve];
    memset(pt, 0, sizeof *pt);
    pt->wbits = qb_malloc((size_t)r->n_layers, sizeof *pt->wbits);
    if (!pt->wbits) return QB_ERR_NOMEM;
    r->n_curve++;
    point_bits(r, ch->sc->m, &ch->f->points[p], pt->wbits);
    qb_qeval_config cfg = *ch->c;
    cfg.keep_first_last = 0;
    cfg.layer_wbits = pt->wbits;
    double kl;
    qb_status s = measure(ch->sc, &cfg, &pt->calib_accuracy, &kl, &pt->size_bytes, NULL);
    if (s != QB_OK) return s;
    pt->predicted_kl = ch->f->points[p].cost;
    pt->calib_drop_pp = ch->sc->fp32_acc - pt->calib_accuracy;
    ch->measured[p] = r->n_curve;
    *out = pt;
    return QB_OK;
}

static int by_size(const void *a, const void *b)
{
    const qb_pareto_point *x = a, *y = b;
    return x->size_bytes < y->size_bytes ? -1 : x->size_bytes > y->size_bytes;
}

static qb_status choose(chooser *ch, const qb_policy *pol, uint64_t fixed, uint64_t fp32_size,
                        int *chosen)
{
    const qb_bitalloc_frontier *f = ch->f;
    qb_status s;
    qb_pareto_point *pt;
    if (pol->kind == QB_POLICY_MIXED_SIZE) {
        double budget = pol->size_pct > 0 ? pol->size_pct / 100.0 * (double)fp32_size : pol->size_bytes;
        uint64_t wb = budget > (double)fixed ? (uint64_t)(budget - (double)fixed) : 0;
        if ((s = qb_bitalloc_for_size(f, wb, chosen)) != QB_OK)
            return qb_error(QB_ERR_ARG, "mixed:size: no allocation fits in %.0f bytes (the smallest "
                            "takes %llu bytes with every layer at %d bits)", budget,
                            (unsigned long long)(f->points[0].size + fixed), ch->r->widths[0]);
        ch->r->budget_met = 1;
        return measure_point(ch, *chosen, &pt);
    }
    int lo = 0, hi = f->n_points - 1;
    if ((s = measure_point(ch, hi, &pt)) != QB_OK) return s;
    if (pt->calib_drop_pp > pol->drop_pp) {
        *chosen = hi;
        ch->r->budget_met = 0;
        return QB_OK;
    }
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if ((s = measure_point(ch, mid, &pt)) != QB_OK) return s;
        if (pt->calib_drop_pp <= pol->drop_pp) hi = mid;
        else lo = mid + 1;
    }
    *chosen = hi;
    ch->r->budget_met = 1;
    return QB_OK;
}

qb_status qb_mixed_search(const qb_qeval *ev, qb_model *m, qb_observer *const *obs,
                          const qb_qeval_config *c, const qb_policy *pol, FILE *log,
                          qb_mixed_result *r)
{
    memset(r, 0, sizeof *r);
    if (pol->kind != QB_POLICY_MIXED_SIZE && pol->kind != QB_POLICY_MIXED_DROP)
        return qb_error(QB_ERR_INTERNAL, "mixed search without a mixed policy");
    if (c->wbits == QB_FLOAT_BITS)
        return qb_error(QB_ERR_ARG, "mixed precision chooses weight bits up to --wbits; give a "
                        "width (e.g. --wbits 8), not 32");
    r->n_layers = m->n_layers;
    r->n_widths = widths_for(c, r->widths);
    if (r->n_widths < 2)
        return qb_error(QB_ERR_ARG, "mixed precision needs a scheme with several widths from 2 to "
                        "--wbits %d; %s has %d", c->wbits, c->weights.scheme->name, r->n_widths);
    const qb_fmnist *data = qb_qeval_data(ev);
    search sc = {ev, m, obs, &data->calib, qb_qeval_pool(ev), NULL, 0};
    float *ref = NULL, *orig = NULL;
    uint64_t *wsize = NULL;
    qb_bitalloc_layer *bl = NULL;
    qb_bitalloc_frontier f = {0};
    int *measured = NULL;
    size_t cells = (size_t)r->n_layers * (size_t)r->n_widths;
    r->sens_kl = qb_malloc(cells, sizeof(double));
    r->sens_pp = qb_malloc(cells, sizeof(double));
    r->wbits = qb_malloc((size_t)r->n_layers, sizeof(int));
    wsize = qb_calloc(cells, sizeof *wsize);
    bl = qb_calloc((size_t)r->n_layers, sizeof *bl);
    qb_status s = r->sens_kl && r->sens_pp && r->wbits && wsize && bl ? QB_OK : QB_ERR_NOMEM;
    if (s == QB_OK) s = qb_forward_logits(m, sc.calib, sc.pool, &ref);
    if (s == QB_OK) s = qb_forward_logits((qb_model *)qb_qeval_model(ev), sc.calib, sc.pool, &orig);
    if (s != QB_OK) goto done;
    long right = 0;
    for (int i = 0; i < sc.calib->n; i++)
        right += qb_argmax(orig + (int64_t)i * m->n_classes, m->n_classes) == sc.calib->labels[i];
    sc.fp32_acc = r->calib_fp32_accuracy = 100.0 * (double)right / sc.calib->n;
    sc.ref_logits = ref;
    if ((s = sensitivity(&sc, c, r, wsize, log)) != QB_OK) goto done;

    int nw = 0;
    uint64_t wide = 0;
    for (int i = 0; i < r->n_layers; i++) {
        if (!qb_layer_has_weights(&m->layers[i])) continue;
        bl[nw++] = (qb_bitalloc_layer){r->n_widths, r->widths, wsize + i * r->n_widths,
                                       r->sens_kl + i * r->n_widths};
        wide += wsize[i * r->n_widths + r->n_widths - 1];
    }
    if ((s = qb_bitalloc_frontier_build(bl, nw, 0, &f)) != QB_OK) goto done;
    /* the bytes that do not depend on the widths: biases, activation parameters */
    qb_qeval_config widest = *c;
    widest.keep_first_last = 0;
    widest.layer_wbits = NULL;
    widest.wbits = r->widths[r->n_widths - 1];
    widest.weights.bits = widest.wbits;
    double acc, kl;
    uint64_t wide_total;
    if ((s = measure(&sc, &widest, &acc, &kl, &wide_total, NULL)) != QB_OK) goto done;
    uint64_t fixed = wide_total > wide ? wide_total - wide : 0;

    measured = qb_calloc((size_t)f.n_points, sizeof *measured);
    r->curve = qb_calloc((size_t)f.n_points, sizeof *r->curve);
    if (!measured || !r->curve) {
        s = QB_ERR_NOMEM;
        goto done;
    }
    chooser ch = {&sc, c, r, &f, measured};
    int chosen;
    if ((s = choose(&ch, pol, fixed, qb_qeval_fp32_size(ev), &chosen)) != QB_OK) goto done;
    for (int j = 0; j < CURVE_POINTS && s == QB_OK; j++) {
        qb_pareto_point *pt;
        int p = f.n_points > 1 ? (int)lround((double)j * (f.n_points - 1) / (CURVE_POINTS - 1)) : 0;
        s = measure_point(&ch, p, &pt);
    }
    if (s != QB_OK) goto done;
    int pick = measured[chosen] - 1;
    if (pol->kind == QB_POLICY_MIXED_DROP && r->budget_met)
        /* bisection assumes the drop falls with size; of every point
         * measured, take the smallest within the budget */
        for (int j = 0; j < r->n_curve; j++)
            if (r->curve[j].calib_drop_pp <= pol->drop_pp && r->curve[j].size_bytes < r->curve[pick].size_bytes)
                pick = j;
    r->curve[pick].chosen = 1;
    memcpy(r->wbits, r->curve[pick].wbits, (size_t)r->n_layers * sizeof *r->wbits);
    qsort(r->curve, (size_t)r->n_curve, sizeof *r->curve, by_size);
    if (log) {
        for (int j = 0; j < r->n_curve; j++)
            fprintf(log, "mixed: %llu bytes, predicted KL %.4g, calibration drop %+.2f pp%s\n",
                    (unsigned long long)r->curve[j].size_bytes, r->curve[j].predicted_kl,
                    r->curve[j].calib_drop_pp, r->curve[j].chosen ? "  <- chosen" : "");
        fflush(log);
    }
done:
    free(ref);
    free(orig);
    free(wsize);
    free(bl);
    free(measured);
    qb_bitalloc_frontier_free(&f);
    if (s != QB_OK) qb_mixed_result_free(r);
    return s;
}
