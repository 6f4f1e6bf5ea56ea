/* The history plot (see history_plot.h). */
#include "history_plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"
#include "report.h"

/* Cells to draw: confirmed steps first, then unconfirmed, then the rest,
 * each group in table order. */
static size_t pick(const qb_history *h, size_t *idx, size_t max)
{
    size_t n = 0;
    for (int pass = 0; pass < 3; pass++)
        for (size_t k = 0; k < h->n_cells && n < max; k++) {
            const qb_history_cell *c = &h->cells[k];
            int confirmed = 0;
            for (size_t j = 0; j < c->n_steps; j++) confirmed |= c->steps[j].confirmed;
            int group = confirmed ? 0 : c->n_steps ? 1 : 2;
            if (group == pass) idx[n++] = k;
        }
    return n;
}

qb_status qb_history_plot(const qb_history *h, const char *dir, qb_plot_list *out)
{
    memset(out, 0, sizeof *out);
    size_t max = h->opts.max_plotted > 0 ? (size_t)h->opts.max_plotted : 8;
    size_t *idx = qb_calloc(h->n_cells + 1, sizeof *idx);
    if (!idx) return QB_ERR_NOMEM;
    size_t n = pick(h, idx, max);
    qb_plot p;
    qb_status s = qb_plot_begin(&p, dir, "history", "history.gp");
    if (s != QB_OK) {
        free(idx);
        return s;
    }
    FILE *f = qb_plot_data(&p);
    qb_panels pan; /* one panel: only for its y range */
    qb_panels_init(&pan, 0, 0, 0);
    size_t nsteps = 0;
    for (size_t b = 0; b < n; b++) {
        const qb_history_cell *c = &h->cells[idx[b]];
        const qb_result *r = c->at[h->n_runs - 1];
        char label[320], cfg[128];
        snprintf(label, sizeof label, "%s %s @ %s", r->model, qb_result_config(r, cfg, sizeof cfg),
                 r->placement);
        if (b) fputs("\n\n", f);
        qb_plot_quote(f, label);
        fputc('\n', f);
        for (size_t i = 0; i < h->n_runs; i++) {
            double v = qb_history_value(h, c->at[i]);
            fprintf(f, "%zu ", i);
            if (isnan(v)) fputs("?", f);
            else fprintf(f, "%.6g", v);
            qb_panels_point(&pan, (double)i, v);
            fputc(' ', f);
            qb_plot_quote(f, qb_report_name(h->runs[i]->dir));
            fputc('\n', f);
        }
        nsteps += c->n_steps;
    }
    if (nsteps) {
        fputs("\n\n", f);
        for (size_t b = 0; b < n; b++) {
            const qb_history_cell *c = &h->cells[idx[b]];
            for (size_t j = 0; j < c->n_steps; j++)
                fprintf(f, "%zu %.6g\n", c->steps[j].run, qb_history_value(h, c->at[c->steps[j].run]));
        }
    }
    free(idx);
    static const char *const ylabels[] = {"speedup over fp32 (x)", "median latency (ms)",
                                          "top-1 accuracy (%)"};
    qb_panels_add(&pan, "", (int)n);
    qb_plot_set(&p, "YLO", "%s", pan.ylo);
    qb_plot_set(&p, "YHI", "%s", pan.yhi);
    qb_plot_set(&p, "NLINES", "%zu", n);
    qb_plot_set(&p, "NRUNS", "%zu", h->n_runs);
    qb_plot_set(&p, "YLABEL", "%s", ylabels[h->opts.metric]);
    qb_plot_set(&p, "TITLE", "%s across %zu runs", qb_hist_metric_name(h->opts.metric), h->n_runs);
    qb_plot_set(&p, "WIDTH", "1100");
    if (nsteps)
        qb_plot_set(&p, "STEPS", ", \"history.dat\" index %zu using 1:2 with points pt 6 ps 3 "
                    "lw 2 lc rgb \"#c0392b\" title \"step\"", n);
    else
        qb_plot_set(&p, "STEPS", "%s", "");
    if ((s = qb_plot_finish(&p)) == QB_OK)
        qb_plot_list_add(out, "history", "The metric across runs, oldest first, one line per cell "
                                         "(cells with steps first); circles mark the steps.");
    if (s == QB_OK) qb_plot_list_render(out, dir);
    return s;
}
