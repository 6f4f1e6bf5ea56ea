/* `qbench compare`: a report on two runs: provenance side by side with the
 * differences highlighted, every cell's verdict with the latency change and
 * its Mann-Whitney test and the accuracy change and its paired test, both
 * runs' plots overlaid; plus compare.csv with one row per cell for tools. */
#ifndef QB_COMPARE_H
#define QB_COMPARE_H

#include "diff.h"
#include "run.h"
#include "run_plots.h"

/* Writes DIR/compare.md, DIR/compare.html, DIR/compare.csv and the plots
 * in DIR/plots. Fails only when files cannot be written; `plots` says what
 * happened to each plot. */
qb_status qb_compare_write(const qb_run *base, const qb_run *cur, const qb_diff *d,
                           const char *dir, qb_plot_list *plots);

/* The table of how many cells got each verdict (also used by check.md). */
struct qb_doc;
void qb_compare_counts(struct qb_doc *doc, const qb_diff *d);

#endif
