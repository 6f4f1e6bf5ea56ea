/* Precision protection: the levers in order, with their cost (see
 * protect.h). */
#include "protect.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "archs.h"
#include "biascorr.h"
#include "equalize.h"
#include "layerround.h"
#include "procmem.h"
#include "prune.h"
#include "qat.h"
#include "qforward.h"

#define CLE_ROUNDS 50

void qb_protect_options_init(qb_protect_options *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
}

qb_status qb_protect_options_parse(qb_protect_options *o, const char *correction, const char *policy)
{
    qb_status s = QB_OK;
    if (correction) s = qb_correction_parse("--correction", correction, &o->correction);
    if (s == QB_OK && policy) s = qb_policy_parse("--policy", policy, &o->policy);
    return s;
}

/* Fine-tuning costs minutes, not hours, on two cores: a few epochs for the
 * small models, less for ResNet-20 (an epoch there is a few minutes).
 * QAT of schemes whose levels are refitted or whose alpha is learned
 * (binary, ternary, pow2, floats) has its own rate: their weights must
 * move further (lenet, binary: 2.9 pp drop at 0.4 of the recipe's rate,
 * 4.7 at 0.1), but ResNet-20, its batch norm folded away, diverges at 0.4
 * (ternary: NaN weights within 20 steps) and trains at 0.04, for three
 * epochs rather than one. */
static const struct {
    const char *arch;
    double qat_epochs, inq_epochs, lr_scale, lowbit_lr_scale, lowbit_epochs;
} ft_defaults[] = {
    {"mlp", 3, 1, 0.1, 0.4, 3},
    {"lenet", 3, 1, 0.1, 0.4, 3},
    {"resnet", 1, 0.5, 0.1, 0.04, 3},
};

void qb_protect_finetune_defaults(const char *arch, qb_weight_method method,
                                  const qb_scheme *scheme, double *epochs, float *lr, int *batch)
{
    double qat = 2, inq = 1, scale = 0.1, lowbit = 0.4, lowbit_epochs = 2;
    for (size_t i = 0; i < QB_ARRAY_LEN(ft_defaults); i++)
        if (strcmp(ft_defaults[i].arch, arch) == 0) {
            qat = ft_defaults[i].qat_epochs;
            inq = ft_defaults[i].inq_epochs;
            scale = ft_defaults[i].lr_scale;
            lowbit = ft_defaults[i].lowbit_lr_scale;
            lowbit_epochs = ft_defaults[i].lowbit_epochs;
        }
    const qb_arch *a = qb_arch_find(arch);
    qb_clear_error();
    *epochs = method == QB_ROUNDING_INQ ? inq : qat;
    if (method == QB_ROUNDING_QAT && scheme && !scheme->affine && scheme->id != QB_SCHEME_KMEANS) {
        scale = lowbit;
        *epochs = lowbit_epochs;
    }
    *lr = (float)((a ? a->recipe.lr : 0.05) * scale);
    *batch = a ? a->recipe.batch : 128;
}

double qb_protect_estimate_seconds(const qb_protect_options *o, const char *arch, double macs,
                                   int layers, double gmacs)
{
    const qb_correction *c = &o->correction;
    double pass = QB_FMNIST_CALIB * macs / (gmacs * 1e9); /* one calibration pass */
    double t = 0;
    if (c->cle || c->prune_pct > 0) t += pass;
    if (c->bias) t += (layers + 1) * pass;
    if (c->method == QB_ROUNDING_GPTQ) t += layers * pass;
    if (c->method == QB_ROUNDING_ADAROUND) t += layers * (pass + 2.0);
    if (qb_correction_trains(c)) {
        double epochs;
        float lr;
        int batch;
        qb_protect_finetune_defaults(arch, c->method, NULL, &epochs, &lr, &batch);
        if (c->epochs > 0) epochs = c->epochs;
        if (o->epochs > 0) epochs = o->epochs;
        /* forward and backward: about three forward passes per image */
        t += epochs * (c->method == QB_ROUNDING_INQ ? 3 : 1) * 59000.0 * 3 * macs / (gmacs * 1e9);
    }
    if (o->policy.kind == QB_POLICY_MIXED_SIZE || o->policy.kind == QB_POLICY_MIXED_DROP)
        t += (7.0 * layers + 16) * pass;
    return t;
}

void qb_protect_report_free(qb_protect_report *r)
{
    if (!r) return;
    free(r->wbits);
    free(r->abits);
    free(r->recon_nearest);
    free(r->recon_corrected);
    qb_mixed_result_free(&r->mix);
    memset(r, 0, sizeof *r);
}

/* --- observers on a changed float model ------------------------------------ */

typedef struct {
    qb_observer **obs;
    const qb_model *m;
} observe_ctx;

static qb_status observe_input(void *vc, int layer, const float *x, int batch)
{
    observe_ctx *c = vc;
    if (c->obs[layer])
        qb_observer_update(c->obs[layer], x, (int64_t)batch * qb_layer_in_numel(&c->m->layers[layer]));
    return QB_OK;
}

static void free_observers(qb_observer **obs, int n)
{
    if (!obs) return;
    for (int i = 0; i < n; i++) qb_observer_free(obs[i]);
    free(obs);
}

/* Input observers of m's conv/dense layers on the calibration images. */
static qb_status observe_model(const qb_qeval *ev, qb_model *m, qb_observer ***out)
{
    qb_observer **obs = qb_calloc((size_t)m->n_layers, sizeof *obs);
    if (!obs) return QB_ERR_NOMEM;
    qb_status s = QB_OK;
    for (int i = 0; i < m->n_layers && s == QB_OK; i++)
        if (qb_layer_has_weights(&m->layers[i])) s = qb_observer_create(&obs[i]);
    observe_ctx c = {obs, m};
    qb_taps taps = {.ctx = &c, .input = observe_input};
    if (s == QB_OK)
        s = qb_forward_quantized(m, NULL, NULL, &qb_qeval_data(ev)->calib, qb_qeval_pool(ev), &taps,
                                 NULL, NULL);
    if (s != QB_OK) {
        free_observers(obs, m->n_layers);
        return s;
    }
    *out = obs;
    return QB_OK;
}

/* --- the pipeline ------------------------------------------------------------ */

static qb_status finetune(const qb_qeval *ev, const qb_qeval_config *c, const qb_protect_options *o,
                          qb_model *m, qb_qmodel *q, const qb_prune_masks *masks,
                          qb_protect_report *rep)
{
    const qb_correction *corr = &o->correction;
    double epochs;
    float lr;
    int batch;
    qb_protect_finetune_defaults(m->arch, corr->method, c->weights.scheme, &epochs, &lr, &batch);
    if (corr->epochs > 0) epochs = corr->epochs;
    if (o->epochs > 0) epochs = o->epochs;
    if (o->lr > 0) lr = o->lr;
    if (o->batch > 0) batch = o->batch;
    const qb_arch *a = qb_arch_find(m->arch);
    if (!a) return QB_ERR_ARG;
    qb_finetune_options fo = {.recipe = a->recipe, .epochs = epochs, .segments = 1, .seed = o->seed,
                              .checkpoint = o->checkpoint, .log = o->log, .pool = qb_qeval_pool(ev),
                              .stop_after = o->stop_after};
    fo.recipe.lr = lr;
    fo.recipe.batch = batch;
    /* what the run is: a checkpoint of any other run is refused */
    char tag[512], cfg[160], cs[96], ps[64];
    qb_quant_config_str(&c->weights, cfg, sizeof cfg);
    qb_policy_str(&o->policy, ps, sizeof ps);
    snprintf(tag, sizeof tag, "%s | %s | w%d a%d | %s | %s | epochs %g lr %g batch %d seed %llu",
             m->arch, qb_correction_str(corr, cs, sizeof cs), c->wbits, c->abits, cfg, ps, epochs,
             (double)lr, batch, (unsigned long long)o->seed);
    fo.tag = tag;
    fo.lever = corr->method == QB_ROUNDING_INQ ? "inq" : "qat";
    qb_finetune_result fr;
    qb_status s = corr->method == QB_ROUNDING_INQ ? qb_inq(m, q, masks, qb_qeval_data(ev), &fo, &fr)
                                                  : qb_qat(m, q, masks, qb_qeval_data(ev), &fo, &fr);
    if (s == QB_OK && fr.stopped)
        return qb_error(QB_ERR_ARG, "fine-tuning stopped after %lld of %lld steps; run again with the "
                        "same checkpoint to go on", (long long)o->stop_after, (long long)fr.steps);
    if (s == QB_OK) {
        rep->finetune_steps = fr.steps;
        rep->finetune_loss = fr.final_loss;
    }
    return s;
}

/* Pruned weights back to zero, and the sparse format counted where it is
 * smaller. */
static void apply_sparsity(qb_qmodel *q, const qb_prune_masks *pm, qb_protect_report *rep)
{
    qb_prune_apply(pm, &q->model);
    for (int i = 0; i < q->model.n_layers; i++) {
        if (!pm->mask[i]) continue;
        const qb_tensor *w = &q->model.layers[i].params[QB_P_WEIGHT].value;
        const float *wd = w->data;
        int64_t n = qb_tensor_numel(w), nnz = 0;
        for (int64_t j = 0; j < n; j++) nnz += wd[j] != 0.0f;
        rep->weights += n;
        rep->nonzero += nnz;
        const qb_qparams *p = q->wbits[i] == QB_FLOAT_BITS ? NULL : &q->wq[i];
        uint64_t dense = p ? qb_qparams_size_bytes(p, n) : (uint64_t)n * 4;
        uint64_t sparse = qb_sparse_size_bytes(p, n, nnz);
        if (sparse < dense) q->size_bytes -= dense - sparse;
    }
}

static qb_status run_pipeline(const qb_qeval *ev, const qb_qeval_config *c,
                              const qb_protect_options *o, qb_qmodel *q, qb_protect_report *rep)
{
    const qb_correction *corr = &o->correction;
    const qb_fmnist *data = qb_qeval_data(ev);
    qb_pool *pool = qb_qeval_pool(ev);
    qb_model m = {0}, ref = {0};
    qb_prune_masks masks = {0};
    qb_observer **obs = NULL, **ev_obs = NULL;
    qb_qeval_config cfg = *c;
    memset(q, 0, sizeof *q);
    qb_status s = qb_model_clone(qb_qeval_model(ev), &m);
    if (s != QB_OK) return s;
    if (corr->cle && (s = qb_equalize(&m, CLE_ROUNDS, &rep->equalized_pairs)) != QB_OK) goto done;
    if (corr->bias && (s = qb_model_clone(&m, &ref)) != QB_OK) goto done;
    if (corr->prune_pct > 0 && (s = qb_prune(&m, corr->prune_pct, &masks)) != QB_OK) goto done;
    if ((corr->cle || corr->prune_pct > 0) && (s = observe_model(ev, &m, &obs)) != QB_OK) goto done;
    qb_observer *const *use_obs = obs;
    if (!obs) {
        /* the evaluation's own observers (recorded on the same float model) */
        ev_obs = qb_calloc((size_t)m.n_layers, sizeof *ev_obs);
        if (!ev_obs) {
            s = QB_ERR_NOMEM;
            goto done;
        }
        for (int i = 0; i < m.n_layers; i++) ev_obs[i] = (qb_observer *)qb_qeval_observer(ev, i);
        use_obs = ev_obs;
    }
    if (o->policy.kind == QB_POLICY_FIRST_LAST) cfg.keep_first_last = o->policy.bits;
    if (o->policy.kind == QB_POLICY_MIXED_SIZE || o->policy.kind == QB_POLICY_MIXED_DROP) {
        rep->mixed = 1;
        if ((s = qb_mixed_search(ev, &m, use_obs, &cfg, &o->policy, o->log, &rep->mix)) != QB_OK) goto done;
        cfg.layer_wbits = rep->mix.wbits;
    }
    if ((s = qb_qeval_quantize_from(ev, &m, use_obs, &cfg, q)) != QB_OK) goto done;
    if (corr->method == QB_ROUNDING_ADAROUND || corr->method == QB_ROUNDING_GPTQ) {
        rep->recon_nearest = qb_malloc((size_t)m.n_layers, sizeof(double));
        rep->recon_corrected = qb_malloc((size_t)m.n_layers, sizeof(double));
        if (!rep->recon_nearest || !rep->recon_corrected) s = QB_ERR_NOMEM;
        else
            s = qb_layer_rounding(q, &m, corr->method, o->adaround_iters, &data->calib, pool, o->log, rep->recon_nearest,
                                  rep->recon_corrected);
    } else if (qb_correction_trains(corr)) {
        s = finetune(ev, &cfg, o, &m, q, corr->prune_pct > 0 ? &masks : NULL, rep);
    }
    if (s == QB_OK && corr->prune_pct > 0) apply_sparsity(q, &masks, rep);
    if (s == QB_OK && corr->bias) s = qb_bias_correct_model(q, &ref, &data->calib, pool, &rep->bias_corrected);
done:
    free(ev_obs);
    if (s != QB_OK) qb_qmodel_free(q);
    free_observers(obs, m.n_layers);
    qb_prune_masks_free(&masks);
    qb_model_free(&ref);
    qb_model_free(&m);
    return s;
}

qb_status qb_protect_quantize(const qb_qeval *ev, const qb_qeval_config *c,
                              const qb_protect_options *o, qb_qmodel *q, qb_protect_report *rep)
{
    qb_protect_report local;
    if (!rep) rep = &local;
    memset(rep, 0, sizeof *rep);
    if (o->policy.kind == QB_POLICY_FIRST_LAST && c->keep_first_last)
        return qb_error(QB_ERR_ARG, "the first and last layers' bits are given twice (--keep-first-last "
                        "and --policy first-last:B); give one");
    if (o->correction.method != QB_ROUNDING_NEAREST && c->wbits == QB_FLOAT_BITS)
        return qb_error(QB_ERR_ARG, "the correction rounds or trains quantized weights, but the "
                        "weights stay float (wbits 32)");
    qb_cost_meter meter;
    qb_cost_start(&meter);
    qb_status s = run_pipeline(ev, c, o, q, rep);
    qb_cost_stop(&meter, &rep->prep_seconds, &rep->prep_peak_mb);
    if (s == QB_OK) {
        rep->n_layers = q->model.n_layers;
        rep->wbits = qb_malloc((size_t)rep->n_layers, sizeof *rep->wbits);
        rep->abits = qb_malloc((size_t)rep->n_layers, sizeof *rep->abits);
        if (!rep->wbits || !rep->abits) s = QB_ERR_NOMEM;
        else {
            memcpy(rep->wbits, q->wbits, (size_t)rep->n_layers * sizeof *rep->wbits);
            memcpy(rep->abits, q->abits, (size_t)rep->n_layers * sizeof *rep->abits);
        }
        if (s != QB_OK) qb_qmodel_free(q);
    }
    if (rep == &local || s != QB_OK) {
        double t = rep->prep_seconds, mb = rep->prep_peak_mb;
        qb_protect_report_free(rep);
        rep->prep_seconds = t;
        rep->prep_peak_mb = mb;
    }
    return s;
}

qb_status qb_protect_run(const qb_qeval *ev, const qb_qeval_config *c, const qb_protect_options *o,
                         qb_qeval_result *res, qb_protect_report *rep)
{
    qb_protect_report local;
    qb_protect_report *r = rep ? rep : &local;
    qb_qmodel q;
    qb_status s = qb_protect_quantize(ev, c, o, &q, r);
    if (s == QB_OK) {
        s = qb_qeval_evaluate(ev, &q, res);
        qb_qmodel_free(&q);
        if (s == QB_OK) {
            res->prep_seconds = r->prep_seconds;
            res->prep_peak_mb = r->prep_peak_mb;
        }
    }
    if (!rep) qb_protect_report_free(&local);
    return s;
}
