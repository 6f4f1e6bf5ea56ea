/* `qbench eval`: accuracy of a model under one quantization config, against
 * its fp32 self on the same 10,000 test images (see workloads/qeval.h),
 * with the precision-protection levers (--correction, --policy; see
 * workloads/levers.h) and what preparing them cost. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "csvio.h"
#include "evalflags.h"
#include "layerscsv.h"
#include "metrics.h"
#include "protect.h"

typedef struct {
    const char *correction, *policy, *checkpoint, *layers, *pareto;
    double epochs, lr;
    int batch, seed, verbose;
    qb_protect_options po;
    const qb_evalflags *f;
} eval_flags;

#define EVAL_OWN_FLAGS 10

static qb_status check_flags(void *vc)
{
    eval_flags *x = vc;
    qb_protect_options_init(&x->po);
    qb_status s = qb_protect_options_parse(&x->po, x->correction, x->policy);
    if (s != QB_OK) return s;
    if (x->epochs < 0 || x->epochs > 1000) return qb_error(QB_ERR_ARG, "--epochs %g: expected 0 < E <= 1000", x->epochs);
    if (x->lr < 0 || x->lr > 10) return qb_error(QB_ERR_ARG, "--lr %g: expected 0 < LR <= 10", x->lr);
    if (x->batch < 0) return qb_error(QB_ERR_ARG, "--batch %d: must be positive", x->batch);
    if (x->seed < 0) return qb_error(QB_ERR_ARG, "--seed %d: must be >= 0", x->seed);
    int mixed = x->po.policy.kind == QB_POLICY_MIXED_SIZE || x->po.policy.kind == QB_POLICY_MIXED_DROP;
    if (x->pareto && !mixed)
        return qb_error(QB_ERR_ARG, "--pareto: only a mixed policy (--policy mixed:size=S or "
                        "mixed:drop=D) explores a size-vs-accuracy curve");
    if (x->po.policy.kind == QB_POLICY_FIRST_LAST && x->f->keep_first_last)
        return qb_error(QB_ERR_ARG, "--keep-first-last and --policy first-last:B say the same thing; "
                        "give one");
    int trains = qb_correction_trains(&x->po.correction);
    if (!trains && (x->epochs > 0 || x->lr > 0 || x->batch > 0 || x->checkpoint))
        return qb_error(QB_ERR_ARG, "--epochs, --lr, --batch and --checkpoint set fine-tuning; the "
                        "correction '%s' does not fine-tune (use qat or inq)", x->correction);
    x->po.epochs = x->epochs;
    x->po.lr = (float)x->lr;
    x->po.batch = x->batch;
    x->po.seed = (uint64_t)x->seed;
    x->po.checkpoint = x->checkpoint;
    return QB_OK;
}

static void policy_name(const qb_evalflags *f, const eval_flags *x, char *buf, size_t len)
{
    if (f->keep_first_last) snprintf(buf, len, "first-last:%d", f->keep_first_last);
    else qb_policy_str(&x->po.policy, buf, len);
}

static void print_csv(const qb_evalflags *f, const eval_flags *x, const qb_qeval_result *r,
                      const char *model)
{
    static const char *cols[] = {"model", "scheme", "granularity", "calib", "correction", "policy",
                                 "wbits", "abits", "accuracy", "fp32_accuracy", "drop_pp",
                                 "drop_ci_low", "drop_ci_high", "agreement", "kl", "size_bytes",
                                 "fp32_size_bytes", "compression", "mcnemar_p", "prep_seconds",
                                 "prep_peak_mb"};
    qb_csv_line l = {0};
    for (size_t i = 0; i < QB_ARRAY_LEN(cols); i++) qb_csv_str(&l, cols[i]);
    qb_csv_end(&l);
    fwrite(l.buf, 1, l.len, stdout);
    qb_csv_line_reset(&l);
    char policy[64], corr[96];
    policy_name(f, x, policy, sizeof policy);
    qb_csv_str(&l, model);
    qb_csv_str(&l, f->scheme);
    qb_csv_str(&l, f->granularity);
    qb_csv_str(&l, f->calib);
    qb_csv_str(&l, qb_correction_str(&x->po.correction, corr, sizeof corr));
    qb_csv_str(&l, policy);
    qb_csv_int(&l, f->wbits, 1);
    qb_csv_int(&l, f->abits, 1);
    qb_csv_num(&l, r->accuracy);
    qb_csv_num(&l, r->fp32_accuracy);
    qb_csv_num(&l, r->drop_pp);
    qb_csv_num(&l, r->drop_ci_low);
    qb_csv_num(&l, r->drop_ci_high);
    qb_csv_num(&l, r->agreement);
    qb_csv_num(&l, r->kl);
    qb_csv_int(&l, (long long)r->size_bytes, 1);
    qb_csv_int(&l, (long long)r->fp32_size_bytes, 1);
    qb_csv_num(&l, (double)r->fp32_size_bytes / (double)r->size_bytes);
    qb_csv_num(&l, r->mcnemar_p);
    qb_csv_num(&l, r->prep_seconds);
    qb_csv_num(&l, r->prep_peak_mb);
    qb_csv_end(&l);
    fwrite(l.buf, 1, l.len, stdout);
    qb_csv_line_free(&l);
}

static void print_levers(const qb_model *m, const eval_flags *x, const qb_protect_report *rep)
{
    const qb_correction *c = &x->po.correction;
    if (c->cle) printf("  equalized      %d conv/dense pairs\n", rep->equalized_pairs);
    if (c->prune_pct > 0)
        printf("  pruned         %lld of %lld weights are zero (%.1f%%)\n",
               (long long)(rep->weights - rep->nonzero), (long long)rep->weights,
               rep->weights ? 100.0 * (double)(rep->weights - rep->nonzero) / (double)rep->weights : 0.0);
    if (rep->recon_nearest) {
        double e0 = 0, e1 = 0;
        for (int i = 0; i < m->n_layers; i++)
            if (!isnan(rep->recon_nearest[i])) {
                e0 += rep->recon_nearest[i] / (rep->recon_nearest[i] > 0 ? rep->recon_nearest[i] : 1);
                e1 += rep->recon_corrected[i] / (rep->recon_nearest[i] > 0 ? rep->recon_nearest[i] : 1);
            }
        printf("  rounding       layer reconstruction error %.1f%% of rounding to nearest (mean over layers)\n",
               e0 > 0 ? 100.0 * e1 / e0 : 100.0);
    }
    if (rep->finetune_steps)
        printf("  fine-tuned     %lld steps, last training loss %.4f\n", (long long)rep->finetune_steps,
               rep->finetune_loss);
    if (c->bias) printf("  bias corrected %d layers\n", rep->bias_corrected);
    if (rep->mixed) {
        printf("  mixed widths   ");
        for (int i = 0; i < m->n_layers; i++)
            if (qb_layer_has_weights(&m->layers[i])) printf("%s:%d ", m->layers[i].name, rep->mix.wbits[i]);
        printf("\n  budget         %s on the calibration images (float %.2f%%)\n",
               rep->mix.budget_met ? "met" : "NOT met even at the widest widths", rep->mix.calib_fp32_accuracy);
        for (int p = 0; p < rep->mix.n_curve; p++) {
            const qb_pareto_point *pt = &rep->mix.curve[p];
            printf("    %10llu bytes  calibration drop %+6.2f pp  predicted KL %.4f%s\n",
                   (unsigned long long)pt->size_bytes, pt->calib_drop_pp, pt->predicted_kl,
                   pt->chosen ? "  <- chosen" : "");
        }
    }
}

static void print_text(const qb_evalflags *f, const eval_flags *x, const qb_qeval_result *r,
                       const qb_model *m, const qb_protect_report *rep)
{
    char d[256], policy[64], corr[96];
    policy_name(f, x, policy, sizeof policy);
    printf("%s: %s\n", m->arch, qb_evalflags_describe(f, d, sizeof d));
    if (f->keep_first_last) printf("first and last conv/dense layers at %d bits\n", f->keep_first_last);
    printf("correction %s, policy %s\n", qb_correction_str(&x->po.correction, corr, sizeof corr), policy);
    printf("  top-1          %6.2f%%   (fp32 %.2f%%, %d test images)\n", r->accuracy, r->fp32_accuracy, r->n);
    printf("  drop           %+6.2f pp  95%% interval [%+.2f, %+.2f] (paired; %lld images right only in "
           "fp32, %lld only quantized; McNemar mid-p %.3g)\n",
           r->drop_pp, r->drop_ci_low, r->drop_ci_high, r->fp32_only, r->quant_only, r->mcnemar_p);
    printf("  agreement      %6.2f%%   (same top-1 as fp32)\n", r->agreement);
    printf("  KL             %.3g nats (fp32 || quantized softmax, mean)\n", r->kl);
    printf("  size           %llu bytes (fp32 %llu, %.2fx smaller)\n", (unsigned long long)r->size_bytes,
           (unsigned long long)r->fp32_size_bytes, (double)r->fp32_size_bytes / (double)r->size_bytes);
    printf("  preparation    %.1f s, peak memory +%.1f MB (calibration, corrections, fine-tuning)\n",
           r->prep_seconds, r->prep_peak_mb);
    print_levers(m, x, rep);
}

static double sqnr_db(double signal, double noise)
{
    if (noise == 0) return signal == 0 ? NAN : INFINITY;
    return 10.0 * log10(signal / noise);
}

/* layers.csv rows of the evaluated model: widths, weight SQNR against the
 * float weights (not after equalization, which rescales them), input SQNR
 * on the test images, and for mixed policies the calibration drop with
 * only that layer at its chosen width. */
static qb_layer_report *layer_rows(const qb_qeval *ev, const qb_qmodel *q, const qb_qeval_result *r,
                                   const eval_flags *x, const qb_protect_report *rep, int *n)
{
    const qb_model *m = qb_qeval_model(ev);
    qb_layer_report *rows = qb_calloc((size_t)m->n_layers, sizeof *rows);
    if (!rows) return NULL;
    int k = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const qb_layer *l = &m->layers[i];
        if (!qb_layer_has_weights(l)) continue;
        qb_layer_report *row = &rows[k++];
        row->layer = i;
        snprintf(row->name, sizeof row->name, "%s", l->name);
        row->kind = l->kind;
        row->wbits = q->wbits[i];
        row->abits = q->abits[i];
        row->act_sqnr_db = q->abits[i] == QB_FLOAT_BITS ? NAN : sqnr_db(r->act_signal[i], r->act_noise[i]);
        row->weight_sqnr_db = NAN;
        if (q->wbits[i] != QB_FLOAT_BITS && !x->po.correction.cle) {
            qb_error_metrics em;
            const qb_tensor *w0 = &l->params[QB_P_WEIGHT].value;
            qb_error_metrics_compute(w0->data, q->model.layers[i].params[QB_P_WEIGHT].value.data,
                                     qb_tensor_numel(w0), &em);
            row->weight_sqnr_db = em.sqnr_db;
        }
        row->sensitivity_pp = NAN;
        if (rep->mixed)
            for (int w = 0; w < rep->mix.n_widths; w++)
                if (rep->mix.widths[w] == q->wbits[i])
                    row->sensitivity_pp = rep->mix.sens_pp[i * rep->mix.n_widths + w];
    }
    *n = k;
    return rows;
}

static qb_status write_files(const qb_qeval *ev, const qb_qmodel *q, const qb_qeval_result *r,
                             const eval_flags *x, const qb_protect_report *rep)
{
    const qb_model *m = qb_qeval_model(ev);
    qb_status s = QB_OK;
    if (x->layers) {
        int n = 0;
        qb_layer_report *rows = layer_rows(ev, q, r, x, rep, &n);
        s = rows ? qb_write_layers_csv(x->layers, NULL, m->arch, rows, n) : QB_ERR_NOMEM;
        free(rows);
    }
    if (s == QB_OK && x->pareto)
        s = qb_write_pareto_csv(x->pareto, NULL, m->arch, m, &rep->mix, qb_qeval_fp32_size(ev));
    return s;
}

int qb_cmd_eval(int argc, char **argv)
{
    qb_evalflags f;
    qb_opt opts[QB_EVALFLAGS_N + EVAL_OWN_FLAGS];
    qb_evalflags_init(&f, opts);
    eval_flags x = {.correction = "none", .policy = "uniform", .seed = 1, .f = &f};
    qb_opt own[EVAL_OWN_FLAGS] = {
        {"--correction", QB_OPT_STR, &x.correction, "C", "none, or cle, prune:P, adaround, gptq, inq[:E], qat[:E], bias joined by +"},
        {"--policy", QB_OPT_STR, &x.policy, "P", "uniform | first-last:B | mixed:size=BYTES|PCT% | mixed:drop=PP"},
        {"--epochs", QB_OPT_DOUBLE, &x.epochs, "E", "fine-tuning epochs (inq: per step; default per model)"},
        {"--lr", QB_OPT_DOUBLE, &x.lr, "LR", "fine-tuning peak learning rate (default: the recipe's / 10; binary/ternary/pow2 QAT: x4, on resnet x0.4)"},
        {"--batch", QB_OPT_INT, &x.batch, "N", "fine-tuning batch (default: the recipe's)"},
        {"--seed", QB_OPT_INT, &x.seed, "N", "fine-tuning shuffles and augmentation (default 1)"},
        {"--checkpoint", QB_OPT_STR, &x.checkpoint, "FILE", "fine-tuning state after every epoch; a rerun resumes"},
        {"--layers", QB_OPT_STR, &x.layers, "FILE", "write layers.csv (widths, SQNR, sensitivity per layer)"},
        {"--pareto", QB_OPT_STR, &x.pareto, "FILE", "mixed policies: write the explored size-vs-accuracy curve"},
        {"--verbose -v", QB_OPT_FLAG, &x.verbose, NULL, "a line per slow step on stderr (default when a terminal)"},
    };
    memcpy(opts + QB_EVALFLAGS_N, own, sizeof own);
    int nopts = QB_EVALFLAGS_N + EVAL_OWN_FLAGS;
    const char *synopsis = "--model M [--scheme S --wbits B --abits A --granularity G --calib C] "
                           "[--correction C] [--policy P] [--format text|csv]";
    qb_evalsetup setup;
    int rc = qb_evalflags_start_checked("eval", synopsis, argc, argv, opts, nopts, &f, &setup,
                                        check_flags, &x);
    if (rc >= 0) return rc;
    x.po.log = x.verbose || isatty(STDERR_FILENO) ? stderr : NULL;
    qb_protect_report rep;
    qb_qmodel q;
    qb_qeval_result r;
    qb_status s = qb_protect_quantize(setup.ev, &setup.config, &x.po, &q, &rep);
    if (s == QB_OK) {
        s = qb_qeval_evaluate(setup.ev, &q, &r);
        if (s == QB_OK) {
            r.prep_seconds = rep.prep_seconds;
            r.prep_peak_mb = rep.prep_peak_mb;
            s = write_files(setup.ev, &q, &r, &x, &rep);
            if (s == QB_OK) {
                if (strcmp(f.format, "csv") == 0) print_csv(&f, &x, &r, qb_qeval_model(setup.ev)->arch);
                else print_text(&f, &x, &r, qb_qeval_model(setup.ev), &rep);
            }
            qb_qeval_result_free(&r);
        }
        qb_qmodel_free(&q);
        qb_protect_report_free(&rep);
    }
    qb_evalsetup_close(&setup);
    return s == QB_OK ? 0 : qb_cmd_fail("eval", s);
}
