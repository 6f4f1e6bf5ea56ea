/* `qbench history`: one metric of chosen cells across many runs (nightly
 * runs, typically), with steps flagged. Runs are put in date order
 * (meta.csv `date`) and cells joined by id. A step at run i is a change from
 * run i-1 that `qbench check` would flag (significant, and beyond the
 * threshold) and that run i+1 confirms (it still differs from run i-1 the
 * same way); a step in the latest run cannot be confirmed yet and says so.
 * A one-night spike is therefore not a step, and the level it is compared
 * with stays where it was. With the speedup metric, fp32 cells (always 1x)
 * are left out. */
#ifndef QB_HISTORY_H
#define QB_HISTORY_H

#include <stddef.h>
#include "diff.h"
#include "run.h"
#include "run_plots.h"

typedef enum { QB_HIST_SPEEDUP, QB_HIST_LATENCY, QB_HIST_ACCURACY } qb_hist_metric;

typedef struct {
    qb_hist_metric metric;
    qb_diff_opts diff;      /* thresholds and alpha for steps */
    const char *model, *scheme, *placement, *cell; /* filters; NULL: any */
    int max_plotted;        /* lines in the plot (cells with steps first) */
} qb_history_opts;

/* Parses "speedup", "latency" or "accuracy". */
qb_status qb_hist_metric_parse(const char *what, const char *text, qb_hist_metric *out);

typedef struct {
    size_t run;             /* position in date order where the level changed */
    int worse;              /* 1 slower / less accurate, 0 better */
    int confirmed;          /* the next run agrees; 0 for a step in the latest run */
    char what[640];         /* qb_diff_describe of run-1 -> run */
} qb_step;

typedef struct {
    const qb_result **at;   /* one per run in date order; NULL where the cell is absent */
    qb_step *steps;
    size_t n_steps;
} qb_history_cell;

typedef struct {
    const qb_run **runs;    /* in date order */
    size_t n_runs;
    qb_history_cell *cells; /* cells of the latest run that pass the filters, table order */
    size_t n_cells;
    qb_history_opts opts;
} qb_history;

/* Orders the runs and finds the steps. `runs` must outlive `out`. */
qb_status qb_history_build(const qb_run *runs, size_t n, const qb_history_opts *o,
                           qb_history *out);
void qb_history_free(qb_history *h);

/* The metric's value for a result (NaN when not measured). */
double qb_history_value(const qb_history *h, const qb_result *r);
const char *qb_hist_metric_name(qb_hist_metric m);

/* Writes DIR/history.md, history.html, history.csv and the plot. */
qb_status qb_history_write(const qb_history *h, const char *dir, qb_plot_list *plots);

#endif
