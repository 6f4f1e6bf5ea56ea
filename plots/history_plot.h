/* The plot of `qbench history`: the metric across runs, a line per cell
 * (cells with steps first, at most opts.max_plotted), steps circled. */
#ifndef QB_HISTORY_PLOT_H
#define QB_HISTORY_PLOT_H

#include "history.h"
#include "run_plots.h"

qb_status qb_history_plot(const qb_history *h, const char *dir, qb_plot_list *out);

#endif
