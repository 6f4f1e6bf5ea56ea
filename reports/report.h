/* `qbench report`: RUN/report.md and a self-contained RUN/report.html with
 * the provenance from meta.csv, the best configuration per model under
 * accuracy budgets of 0.5, 1 and 2 pp, the plots (scripts kept in
 * RUN/plots/), the full results grouped by model, counters and per-layer
 * sensitivity. When gnuplot is missing or fails the report is still
 * written and says which plots are missing and why. */
#ifndef QB_REPORT_H
#define QB_REPORT_H

#include <stdio.h>

#include "run.h"
#include "run_plots.h"
#include "status.h"

/* Writes the report for `run` into `dir` (normally run->dir); `plots`
 * receives what happened to each plot. Fails only when files cannot be
 * written. */
qb_status qb_report_write(const qb_run *run, const char *dir, qb_plot_list *plots);

/* The plots section shared by every document with plots: each rendered
 * plot with its caption, or why it is missing. */
/* The report's summary and "What to ship" tables as plain text on `stream`
 * (what `qbench report` prints on the terminal). */
qb_status qb_report_print(const qb_run *run, FILE *stream);

struct qb_doc;
void qb_report_plots(struct qb_doc *d, const qb_plot_list *plots);

/* The folder's last path component ("results/20261125-193532" ->
 * "20261125-193532"), for titles; points into `path`. */
const char *qb_report_name(const char *path);

#endif
