/* The plots of `qbench compare`: both runs overlaid (accuracy against
 * latency, a panel per model) and every cell's change by the comparison's
 * metric, sorted and coloured by verdict. */
#ifndef QB_COMPARE_PLOTS_H
#define QB_COMPARE_PLOTS_H

#include "diff.h"
#include "run.h"
#include "run_plots.h"

/* Writes the scripts and data into `dir` and renders them; `out` receives
 * what happened to each. Fails only when files cannot be written. */
qb_status qb_compare_plots(const qb_run *base, const qb_run *cur, const qb_diff *d,
                           const char *dir, qb_plot_list *out);

#endif
