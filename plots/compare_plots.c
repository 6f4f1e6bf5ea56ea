/* Plots of a comparison (see compare_plots.h). */
#include "compare_plots.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"
#include "report.h"
#include "view.h"

/* Beyond this many points a plot shows an even sample: more cannot be told
 * apart, and gnuplot's time grows with them. */
#define MAX_POINTS 2000

static int plotted(const qb_result *r, const qb_model_ref *m)
{
    return qb_result_ok(r) && strcmp(r->model, m->model) == 0 &&
           strcmp(r->placement, m->placement) == 0 && strcmp(r->scenario, m->scenario) == 0 &&
           !isnan(r->latency_ms_median) && !isnan(r->accuracy);
}

/* Points of `run` on the model's reference placement, as one data block;
 * sets *sampled when only every k-th point was written. */
static size_t write_points(FILE *f, const qb_run *run, const qb_model_ref *m, const char *title,
                           int *sampled, qb_panels *pan)
{
    size_t total = 0, n = 0, k = 0;
    for (size_t i = 0; i < run->n_results; i++) total += plotted(&run->results[i], m);
    size_t step = (total + MAX_POINTS - 1) / MAX_POINTS;
    if (step > 1) *sampled = 1;
    qb_plot_quote(f, title);
    fputc('\n', f);
    for (size_t i = 0; i < run->n_results; i++) {
        const qb_result *r = &run->results[i];
        if (!plotted(r, m) || k++ % (step ? step : 1)) continue;
        fprintf(f, "%.6g %.6g\n", r->latency_ms_median, r->accuracy);
        qb_panels_point(pan, r->latency_ms_median, r->accuracy);
        n++;
    }
    return n;
}

static qb_status overlay(const qb_run *base, const qb_run *cur, const char *dir,
                         qb_plot_list *out)
{
    qb_model_ref *m;
    size_t nm;
    qb_status s = qb_view_models(base, &m, &nm);
    if (s != QB_OK) return s;
    qb_plot p;
    if ((s = qb_plot_begin(&p, dir, "compare_pareto", "compare_pareto.gp")) != QB_OK) {
        free(m);
        return s;
    }
    FILE *f = qb_plot_data(&p);
    qb_panels pan;
    qb_panels_init(&pan, 1, 0, 0);
    int sampled = 0;
    char tb[300], tc[300];
    snprintf(tb, sizeof tb, "baseline %s", qb_report_name(base->dir));
    snprintf(tc, sizeof tc, "current %s", qb_report_name(cur->dir));
    for (size_t k = 0; k < nm; k++) {
        if (!m[k].placement) continue;
        /* Both blocks are written to a scratch buffer first: a panel needs
         * points from both runs, or it is left out. */
        char *buf = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&buf, &len);
        if (!mem) {
            s = qb_error(QB_ERR_NOMEM, "out of memory");
            break;
        }
        if (pan.npanels) fputs("\n\n", mem);
        size_t nb = write_points(mem, base, &m[k], tb, &sampled, &pan);
        fputs("\n\n", mem);
        size_t nc = write_points(mem, cur, &m[k], tc, &sampled, &pan);
        fclose(mem);
        if (nb && nc) {
            fwrite(buf, 1, len, f);
            char title[160];
            snprintf(title, sizeof title, "%s (%s, %s)", m[k].model, m[k].placement, m[k].scenario);
            qb_panels_add(&pan, title, 2);
        } else {
            pan.nx = pan.ny = 0; /* the panel is left out: forget its points */
        }
        free(buf);
    }
    free(m);
    if (s != QB_OK || !pan.npanels) {
        qb_plot_abort(&p);
        return s;
    }
    qb_plot_set(&p, "PANELS", "%s", pan.panels);
    qb_plot_set(&p, "XLO", "%s", pan.xlo);
    qb_plot_set(&p, "XHI", "%s", pan.xhi);
    qb_plot_set(&p, "YLO", "%s", pan.ylo);
    qb_plot_set(&p, "YHI", "%s", pan.yhi);
    qb_plot_set(&p, "XTICS", "%s", pan.xtics);
    qb_plot_set(&p, "TITLE", "Accuracy vs latency, both runs");
    qb_plot_set(&p, "WIDTH", "%d", qb_panels_width(pan.npanels));
    if ((s = qb_plot_finish(&p)) == QB_OK)
        qb_plot_list_add(out, "compare_pareto",
                         sampled ? "Both runs overlaid: accuracy against latency on each model's "
                                   "reference placement (baseline hollow grey, current filled "
                                   "red); an even sample of the cells, as there are many."
                                 : "Both runs overlaid: accuracy against latency on each model's "
                                   "reference placement (baseline hollow grey, current filled "
                                   "red).");
    return s;
}

typedef struct {
    double change;
    qb_verdict v;
} change_point;

static int by_change(const void *a, const void *b)
{
    double x = ((const change_point *)a)->change, y = ((const change_point *)b)->change;
    return (x > y) - (x < y);
}

static qb_status changes(const qb_diff *d, const char *dir, qb_plot_list *out)
{
    change_point *pts = qb_calloc(d->n + 1, sizeof *pts);
    if (!pts) return QB_ERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++)
        if (!isnan(d->cells[i].ratio))
            pts[n++] = (change_point){100 * (d->cells[i].ratio - 1), d->cells[i].verdict};
    qsort(pts, n, sizeof *pts, by_change);
    qb_plot p;
    qb_status s = n ? qb_plot_begin(&p, dir, "compare_change", "compare_change.gp") : QB_OK;
    if (s != QB_OK || !n) {
        free(pts);
        return s;
    }
    FILE *f = qb_plot_data(&p);
    /* Every changed cell is drawn; unchanged ones are sampled evenly when
     * there are too many to tell apart. */
    size_t changed = 0;
    for (size_t i = 0; i < n; i++) changed += pts[i].v != QB_UNCHANGED;
    size_t room = changed < MAX_POINTS ? 2 * MAX_POINTS - changed : MAX_POINTS;
    size_t step = (n - changed + room - 1) / room;
    if (step < 1) step = 1;
    static const qb_verdict order[] = {QB_REGRESSED, QB_IMPROVED, QB_UNCHANGED};
    static const char *const color[] = {"#c0392b", "#27ae60", "#95a5a6"};
    char series[64] = "", colors[128] = "";
    int block = 0;
    for (int v = 0; v < 3; v++) {
        size_t count = 0;
        for (size_t i = 0; i < n; i++) count += pts[i].v == order[v];
        if (!count) continue;
        if (block) fputs("\n\n", f);
        fprintf(f, "\"%s\"\n", qb_verdict_name(order[v]));
        size_t seen = 0;
        for (size_t i = 0; i < n; i++)
            if (pts[i].v == order[v] && (order[v] != QB_UNCHANGED || seen++ % step == 0))
                fprintf(f, "%zu %.6g\n", i + 1, pts[i].change);
        size_t ls = strlen(series), lc = strlen(colors);
        snprintf(series + ls, sizeof series - ls, "%s%d", ls ? " " : "", block);
        snprintf(colors + lc, sizeof colors - lc, "%s%s", lc ? " " : "", color[v]);
        block++;
    }
    free(pts);
    qb_plot_set(&p, "SERIES", "%s", series);
    qb_plot_set(&p, "COLORS", "%s", colors);
    qb_plot_set(&p, "NCELLS", "%zu", n);
    qb_plot_set(&p, "THRESH", "%.6g", 100 * d->opts.max_slowdown);
    qb_plot_set(&p, "TITLE", "Change per cell by %s", qb_metric_name(d->opts.metric));
    qb_plot_set(&p, "YLABEL", "%s", d->opts.metric == QB_METRIC_SPEEDUP
                                         ? "slowdown relative to fp32 in each run (%)"
                                         : "latency change (%)");
    if ((s = qb_plot_finish(&p)) == QB_OK)
        qb_plot_list_add(out, "compare_change",
                         step > 1 ? "Every compared cell's change by the metric, sorted (positive "
                                    "is slower), coloured by verdict (unchanged cells sampled "
                                    "evenly, as there are many); dashed lines are the threshold."
                                  : "Every compared cell's change by the metric, sorted (positive "
                                    "is slower), coloured by verdict; dashed lines are the "
                                    "threshold.");
    return s;
}

qb_status qb_compare_plots(const qb_run *base, const qb_run *cur, const qb_diff *d,
                           const char *dir, qb_plot_list *out)
{
    memset(out, 0, sizeof *out);
    qb_status s = overlay(base, cur, dir, out);
    if (s == QB_OK) s = changes(d, dir, out);
    if (s == QB_OK) qb_plot_list_render(out, dir);
    return s;
}
