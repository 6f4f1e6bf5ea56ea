/* The report of one run (see report.h). */
#include "report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "fmt.h"
#include "view.h"

static const double budgets_pp[] = {0.5, 1, 2};

const char *qb_report_name(const char *path)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    const char *p = path + n;
    while (p > path && p[-1] != '/') p--;
    return p;
}

static void provenance(qb_doc *d, const qb_run *run)
{
    qb_doc_heading(d, 2, "Provenance");
    const char *head[] = {"key", "value"};
    qb_doc_table(d, 2, head, "ll");
    for (size_t i = 0; i < run->n_meta; i++) {
        if (strcmp(run->meta_key[i], "spec") == 0) continue; /* shown below as a block */
        char k[128], v[1024];
        const char *row[] = {qb_doc_cell(run->meta_key[i], k, sizeof k),
                             qb_doc_cell(run->meta_value[i], v, sizeof v)};
        qb_doc_row(d, row);
    }
    const char *spec = qb_run_meta(run, "spec");
    if (spec && *spec) {
        qb_doc_para(d, "The sweep spec (canonical form):");
        qb_doc_code(d, spec);
    }
}

static void summary(qb_doc *d, const qb_run *run, const qb_model_ref *m, size_t nm)
{
    size_t ok = 0;
    for (size_t i = 0; i < run->n_results; i++) ok += qb_result_ok(&run->results[i]);
    qb_doc_heading(d, 2, "Summary");
    qb_doc_bullet(d, "%zu cells, %zu finished, %zu did not (crashed, timed out, failed or "
                  "skipped; see the results tables).", run->n_results, ok, run->n_results - ok);
    for (size_t k = 0; k < nm; k++) {
        char acc[32], lat[32];
        if (!m[k].placement) {
            qb_doc_bullet(d, "`%s`: no cell finished.", m[k].model);
            continue;
        }
        const qb_result *f = m[k].fp32;
        char lat_text[48] = "not timed";
        if (f && !isnan(f->latency_ms_median))
            snprintf(lat_text, sizeof lat_text, "%s ms", qb_fmt(lat, sizeof lat, "%.4g", f->latency_ms_median));
        qb_doc_bullet(d, "`%s`: reference placement `%s`, scenario `%s`; fp32 accuracy %s%%, "
                      "latency %s.", m[k].model, m[k].placement, m[k].scenario,
                      qb_fmt(acc, sizeof acc, "%.2f", f ? f->accuracy : NAN), lat_text);
    }
    qb_doc_bullet(d, "Timing samples: %s; per-image outcomes: %s; per-layer analysis: %s.",
                  run->has_samples ? "samples.csv" : "none",
                  run->has_outcomes ? "outcomes.csv" : "none",
                  run->has_layers ? "layers.csv" : "none");
}

static void budgets(qb_doc *d, const qb_run *run, const qb_model_ref *m, size_t nm)
{
    qb_doc_heading(d, 2, "What to ship");
    qb_doc_para(d, "For each model, the fastest and the smallest quantized configuration whose "
                "accuracy drop against fp32 stays within each budget, on the model's reference "
                "placement. The drop's 95%% interval is paired over the same test images. "
                "Configurations whose latency intervals overlap the fastest one's count as "
                "equally fast; of those, the one with the smallest drop is shown.");
    for (size_t k = 0; k < nm; k++) {
        if (!m[k].placement) continue;
        qb_doc_heading(d, 3, "%s", m[k].model);
        const char *head[] = {"budget", "fastest", "drop pp [95% CI]", "latency ms", "speedup",
                              "smallest", "size", "compression"};
        qb_doc_table(d, 8, head, "llrrrlrr");
        for (size_t b = 0; b < QB_ARRAY_LEN(budgets_pp); b++) {
            const qb_result *fast, *small;
            qb_view_best_under(run, &m[k], budgets_pp[b], &fast, &small);
            char bud[32], c1[160], dr[96], lat[32], sp[32], c2[160], sz[32], cmp[32];
            snprintf(bud, sizeof bud, "%.1f pp", budgets_pp[b]);
            const char *none = "none within budget";
            const char *row[] = {
                bud,
                fast ? qb_result_config(fast, c1, sizeof c1) : none,
                fast ? qb_fmt_ci(dr, sizeof dr, "%.2f", fast->drop_pp, fast->drop_ci_low, fast->drop_ci_high) : "",
                fast ? qb_fmt(lat, sizeof lat, "%.4g", fast->latency_ms_median) : "",
                fast ? qb_fmt(sp, sizeof sp, "%.2fx", fast->speedup) : "",
                small ? qb_result_config(small, c2, sizeof c2) : none,
                small ? qb_fmt_bytes(sz, sizeof sz, small->size_bytes) : "",
                small ? qb_fmt(cmp, sizeof cmp, "%.1fx", small->compression) : "",
            };
            qb_doc_row(d, row);
        }
    }
}

void qb_report_plots(qb_doc *d, const qb_plot_list *plots)
{
    qb_doc_heading(d, 2, "Plots");
    if (plots->gnuplot_missing)
        qb_doc_para(d, "**Plots are missing: gnuplot is not installed** (not found on PATH). "
                    "The data and scripts are in `plots/`; install gnuplot "
                    "(`apt-get install gnuplot-nox`) and run this command again, or render a "
                    "script with `gnuplot NAME.gp` in that folder.");
    else if (plots->n_failed)
        qb_doc_para(d, "**%d plot%s could not be rendered**; the reasons are below each one.",
                    plots->n_failed, plots->n_failed == 1 ? "" : "s");
    qb_doc_para(d, "Each plot is also an SVG beside the PNG; its gnuplot script and data are in "
                "`plots/` to restyle and re-render (`gnuplot -e \"fmt='svg'\" NAME.gp`).");
    for (int i = 0; i < plots->n; i++) {
        const qb_plot_info *p = &plots->item[i];
        char rel[128];
        snprintf(rel, sizeof rel, "plots/%s.png", p->name);
        if (p->rendered) {
            qb_doc_image(d, rel, p->caption);
            if (p->problem[0]) qb_doc_para(d, "gnuplot warned: `%s`", p->problem);
        } else if (!plots->gnuplot_missing) {
            qb_doc_para(d, "**Missing plot `%s`**: %s", p->name, p->problem);
        } else {
            qb_doc_bullet(d, "`plots/%s.gp`: %s", p->name, p->caption);
        }
    }
}

/* Results of one model, sorted for reading. */
static void results_table(qb_doc *d, const qb_run *run, const char *model)
{
    const qb_result **rows = qb_calloc(run->n_results + 1, sizeof *rows);
    if (!rows) return;
    size_t n = 0;
    for (size_t i = 0; i < run->n_results; i++)
        if (strcmp(run->results[i].model, model) == 0) rows[n++] = &run->results[i];
    qb_view_sort(rows, n);
    const char *head[] = {"config", "backend", "placement", "scenario", "status",
                          "accuracy %", "drop pp [95% CI]", "agreement %", "KL", "size",
                          "compression", "latency ms [95% CI]", "speedup"};
    qb_doc_table(d, 13, head, "lllllrrrrrrrr");
    for (size_t i = 0; i < n; i++) {
        const qb_result *r = rows[i];
        char cfg[160], st[320], acc[32], drop[96], agr[32], kl[32], sz[32], cmp[32], lat[96], sp[32], pl[96];
        if (qb_result_ok(r)) snprintf(st, sizeof st, "ok");
        else {
            char detail[256];
            snprintf(st, sizeof st, "**%s**%s%s", r->status, *r->status_detail ? ": " : "",
                     qb_doc_cell(r->status_detail, detail, sizeof detail));
        }
        snprintf(pl, sizeof pl, "%s (%lld)", r->placement, r->threads);
        const char *row[] = {
            qb_result_config(r, cfg, sizeof cfg), r->backend, pl, r->scenario, st,
            qb_fmt(acc, sizeof acc, "%.2f", r->accuracy),
            qb_fmt_ci(drop, sizeof drop, "%.2f", r->drop_pp, r->drop_ci_low, r->drop_ci_high),
            qb_fmt(agr, sizeof agr, "%.2f", r->agreement), qb_fmt(kl, sizeof kl, "%.4f", r->kl),
            qb_fmt_bytes(sz, sizeof sz, r->size_bytes), qb_fmt(cmp, sizeof cmp, "%.1fx", r->compression),
            qb_fmt_ci(lat, sizeof lat, "%.4g", r->latency_ms_median, r->latency_ms_ci_low, r->latency_ms_ci_high),
            qb_fmt(sp, sizeof sp, "%.2fx", r->speedup),
        };
        qb_doc_row(d, row);
    }
    free(rows);
}

static void results(qb_doc *d, const qb_run *run, const qb_model_ref *m, size_t nm)
{
    qb_doc_heading(d, 2, "Results");
    qb_doc_para(d, "Every cell, grouped by model: fp32 first, then by scheme and bit width "
                "(wider first). Latency is the median time of one repetition with its 95%% "
                "interval; speedup is against fp32 on the same placement in this run.");
    for (size_t k = 0; k < nm; k++) {
        qb_doc_heading(d, 3, "%s", m[k].model);
        results_table(d, run, m[k].model);
    }
}

/* Counter columns with at least one value, and the reasons given for the
 * ones never counted. */
static void counters(qb_doc *d, const qb_run *run, const qb_model_ref *m, size_t nm)
{
    if (run->n_counters == 0) return;
    int shown[64], ns = qb_run_measured(run, 0, shown, 64);
    qb_doc_heading(d, 2, "Counters");
    const char *reason = NULL;
    for (size_t i = 0; i < run->n_results && !reason; i++)
        if (qb_result_ok(&run->results[i]) && *run->results[i].counter_status &&
            strcmp(run->results[i].counter_status, "ok") != 0)
            reason = run->results[i].counter_status;
    if (reason) {
        char buf[1024];
        qb_doc_para(d, "Not counted on this machine: %s.", qb_doc_cell(reason, buf, sizeof buf));
    }
    if (ns == 0) {
        qb_doc_para(d, "No counter has a value in this run.");
        return;
    }
    qb_doc_para(d, "On each model's reference placement; sums over the timed repetitions and "
                "the placement's threads, per inference (`/inf`), and what the harness derives "
                "from them (IPC, GFLOP/s, GB/s).");
    const char *head[66];
    char names[64][96];
    head[0] = "model";
    head[1] = "config";
    char align[68] = "ll";
    for (int c = 0; c < ns; c++) {
        head[2 + c] = qb_doc_cell(qb_run_column_name(run, shown[c]), names[c], sizeof names[c]);
        strcat(align, "r");
    }
    qb_doc_table(d, 2 + ns, head, align);
    for (size_t k = 0; k < nm; k++) {
        const qb_result **rows = qb_calloc(run->n_results + 1, sizeof *rows);
        if (!rows) return;
        size_t n = 0;
        for (size_t i = 0; i < run->n_results; i++)
            if (qb_view_on_ref(&m[k], &run->results[i])) rows[n++] = &run->results[i];
        qb_view_sort(rows, n);
        for (size_t i = 0; i < n; i++) {
            const char *row[66];
            char cfg[160], vals[64][32];
            row[0] = m[k].model;
            row[1] = qb_result_config(rows[i], cfg, sizeof cfg);
            for (int c = 0; c < ns; c++)
                row[2 + c] = qb_fmt(vals[c], sizeof vals[c], "%.6g", qb_run_value(run, rows[i], shown[c]));
            qb_doc_row(d, row);
        }
        free(rows);
    }
}

static void layers(qb_doc *d, const qb_run *run)
{
    if (!run->has_layers || run->n_layers == 0) return;
    qb_doc_heading(d, 2, "Per-layer sensitivity");
    qb_doc_para(d, "From layers.csv: signal-to-quantization-noise ratio of each layer's weights "
                "and activations, and the accuracy lost when only that layer is quantized.");
    const char *head[] = {"model", "config", "layer", "kind", "bits", "weight SQNR dB",
                          "activation SQNR dB", "sensitivity pp"};
    qb_doc_table(d, 8, head, "llllrrrr");
    for (size_t i = 0; i < run->n_layers; i++) {
        const qb_layer *l = &run->layers[i];
        uint64_t id;
        const qb_result *r = qb_cell_id_parse(l->cell_id, &id) == 0 ? qb_run_find(run, id) : NULL;
        char cfg[160], name[96], bits[32], w[32], a[32], s[32];
        snprintf(bits, sizeof bits, "w%lld a%lld", l->wbits, l->abits);
        const char *row[] = {
            l->model, r ? qb_result_config(r, cfg, sizeof cfg) : l->cell_id,
            qb_doc_cell(l->layer, name, sizeof name), l->kind, bits,
            qb_fmt(w, sizeof w, "%.1f", l->weight_sqnr_db), qb_fmt(a, sizeof a, "%.1f", l->act_sqnr_db),
            qb_fmt(s, sizeof s, "%.3f", l->sensitivity_pp),
        };
        qb_doc_row(d, row);
    }
}

qb_status qb_report_print(const qb_run *run, FILE *stream)
{
    qb_model_ref *m;
    size_t nm;
    qb_status s = qb_view_models(run, &m, &nm);
    if (s != QB_OK) return s;
    char title[512];
    snprintf(title, sizeof title, "qbench report: %s", qb_report_name(run->dir));
    qb_doc *d;
    if ((s = qb_doc_open_stream(&d, stream, run->dir, title)) == QB_OK) {
        summary(d, run, m, nm);
        budgets(d, run, m, nm);
        s = qb_doc_close(d);
    }
    free(m);
    return s;
}

qb_status qb_report_write(const qb_run *run, const char *dir, qb_plot_list *plots)
{
    char *plot_dir;
    if (asprintf(&plot_dir, "%s/plots", dir) < 0) return qb_error(QB_ERR_NOMEM, "out of memory");
    qb_status s = qb_run_plots(run, plot_dir, 1, plots);
    free(plot_dir);
    if (s != QB_OK) return s;
    qb_model_ref *m;
    size_t nm;
    if ((s = qb_view_models(run, &m, &nm)) != QB_OK) return s;
    char title[512];
    snprintf(title, sizeof title, "qbench report: %s", qb_report_name(run->dir));
    qb_doc *d;
    if ((s = qb_doc_open(&d, dir, "report", QB_DOC_MD | QB_DOC_HTML, title)) != QB_OK) {
        free(m);
        return s;
    }
    provenance(d, run);
    summary(d, run, m, nm);
    budgets(d, run, m, nm);
    qb_report_plots(d, plots);
    results(d, run, m, nm);
    counters(d, run, m, nm);
    layers(d, run);
    free(m);
    return qb_doc_close(d);
}
