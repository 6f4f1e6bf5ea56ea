/* `qbench history RUN...`: a metric of chosen cells across runs, steps
 * flagged. Prints one line per step; exit 0 (history informs, `check`
 * gates). */
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "cmd_runs.h"
#include "commands.h"
#include "history.h"
#include "report.h"

#define MAX_RUNS 4096

int qb_cmd_history(int argc, char **argv)
{
    static const char synopsis[] = "RUN... [flags]\n"
        "Follows a metric of the chosen cells across runs (ordered by their meta.csv date)\n"
        "and flags steps: a change from the previous run that `check` would flag and the\n"
        "next run confirms. Writes history.md, history.html, history.csv and a plot into\n"
        "DIR (default: the newest run).";
    qb_history_opts o = {0};
    qb_diff_defaults(&o.diff, QB_METRIC_SPEEDUP);
    o.max_plotted = 8;
    const char *metric = NULL, *slowdown = NULL, *out_dir = NULL;
    const qb_opt opts[] = {
        {"--metric", QB_OPT_STR, &metric, "M", "speedup (default), latency or accuracy"},
        {"--model", QB_OPT_STR, &o.model, "NAME", "only this model's cells"},
        {"--scheme", QB_OPT_STR, &o.scheme, "NAME", "only this scheme's cells"},
        {"--placement", QB_OPT_STR, &o.placement, "P", "only cells on this placement"},
        {"--cell", QB_OPT_STR, &o.cell, "ID", "only the cell whose id starts with ID"},
        {"--max-slowdown", QB_OPT_STR, &slowdown, "PCT", "smallest time step, percent (default 5%)"},
        {"--max-drop", QB_OPT_DOUBLE, &o.diff.max_drop, "PP", "smallest accuracy step (default 0.2)"},
        {"--alpha", QB_OPT_DOUBLE, &o.diff.alpha, "P", "significance level (default 0.01)"},
        {"--lines", QB_OPT_INT, &o.max_plotted, "N", "cells drawn in the plot (default 8)"},
        {"-o --out", QB_OPT_STR, &out_dir, "DIR", "where to write (default: the newest run)"},
    };
    static const char *pos[MAX_RUNS];
    int npos, rc = qb_cmd_parse("history", synopsis, argc, argv, opts, (int)QB_ARRAY_LEN(opts),
                                pos, 1, MAX_RUNS, &npos);
    if (rc >= 0) return rc;
    qb_status s = QB_OK;
    if (metric) s = qb_hist_metric_parse("qbench history --metric", metric, &o.metric);
    if (s == QB_OK && slowdown) s = qb_parse_percent("qbench history --max-slowdown", slowdown,
                                                     &o.diff.max_slowdown);
    if (s == QB_OK && !(o.diff.alpha > 0 && o.diff.alpha < 1))
        s = qb_error(QB_ERR_ARG, "qbench history --alpha: %g is not between 0 and 1", o.diff.alpha);
    if (s != QB_OK) return qb_cmd_fail("history", s);
    qb_run *runs = qb_calloc((size_t)npos, sizeof *runs);
    if (!runs) return qb_cmd_fail("history", QB_ERR_NOMEM);
    int loaded = 0;
    for (; loaded < npos; loaded++)
        if ((rc = qb_cmd_load_run("history", pos[loaded], &runs[loaded])) >= 0) break;
    qb_history h = {0};
    qb_plot_list plots = {0};
    if (loaded == npos) {
        s = qb_history_build(runs, (size_t)npos, &o, &h);
        if (s == QB_OK) {
            if (!out_dir) out_dir = h.runs[h.n_runs - 1]->dir;
            s = qb_history_write(&h, out_dir, &plots);
        }
        rc = s == QB_OK ? -1 : qb_cmd_fail("history", s);
    }
    if (rc < 0) {
        size_t steps = 0;
        for (size_t k = 0; k < h.n_cells; k++)
            for (size_t j = 0; j < h.cells[k].n_steps; j++, steps++) {
                const qb_step *st = &h.cells[k].steps[j];
                printf("STEP %s at run #%zu (%s)%s: %s\n", st->worse ? "worse" : "better",
                       st->run + 1, qb_report_name(h.runs[st->run]->dir),
                       st->confirmed ? "" : ", not yet confirmed", st->what);
            }
        printf("qbench history: %s of %zu cells over %zu runs, %zu step%s; see %s/history.md\n",
               qb_hist_metric_name(o.metric), h.n_cells, h.n_runs, steps, steps == 1 ? "" : "s",
               out_dir);
        rc = qb_cmd_plot_outcome("history", &plots);
    }
    qb_history_free(&h);
    for (int i = 0; i < loaded; i++) qb_run_free(&runs[i]);
    free(runs);
    return rc;
}
