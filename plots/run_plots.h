/* The plots of one run (for `qbench report` and `qbench plot`): accuracy
 * drop vs weight bits, accuracy vs latency and vs size with Pareto fronts,
 * speedup per placement, counters per configuration, per-layer
 * sensitivity. Each is a data file and a script in the plots folder,
 * rendered when gnuplot is installed. A plot with no data (no counters
 * counted, no layers.csv) is left out. */
#ifndef QB_RUN_PLOTS_H
#define QB_RUN_PLOTS_H

#include "run.h"
#include "status.h"

#define QB_MAX_PLOTS 16

typedef struct {
    char name[64];       /* file stem in the plots folder */
    char caption[400];
    int rendered;        /* NAME.png and NAME.svg were written */
    char problem[600];   /* why it was not rendered, or gnuplot's warning */
} qb_plot_info;

typedef struct {
    qb_plot_info item[QB_MAX_PLOTS];
    int n;
    int gnuplot_missing; /* scripts written, nothing rendered */
    int n_failed;        /* scripts gnuplot could not render */
} qb_plot_list;

/* Writes the run's plots into `dir` (usually RUN/plots) and renders them
 * when `render` is set. Fails only when the scripts cannot be written;
 * rendering problems are recorded in `out`. */
qb_status qb_run_plots(const qb_run *run, const char *dir, int render, qb_plot_list *out);

/* Adds an entry for a plot whose script was just written. */
qb_plot_info *qb_plot_list_add(qb_plot_list *l, const char *name, const char *caption);
/* Renders every listed plot, recording what went wrong per plot. */
void qb_plot_list_render(qb_plot_list *l, const char *dir);

/* Panel and block bookkeeping shared by the multi-panel templates: the
 * PANELS variable (quoted panel titles), BLOCKS (data blocks per panel),
 * COLORS (a line type per block, so that a series keeps its colour from
 * panel to panel) and the axis ranges XLO XHI YLO YHI (and XTICS on a log
 * x axis) per panel, computed
 * from the points so that a panel whose points share a value still gets a
 * range (gnuplot would warn "empty range"). */
typedef struct {
    char panels[2048];
    char blocks[512];
    char colors[2048];
    char xlo[1024], xhi[1024], ylo[1024], yhi[1024];
    char xtics[4096];        /* log x: "0.01,0.02,0.05" per panel (gnuplot puts
                              * none inside a range narrower than a decade) */
    int npanels;
    int xlog, ylog;          /* log scale, for the panels still to come */
    int yzero;               /* the y range includes 0 */
    double x0, x1, y0, y1;   /* the current panel's points so far */
    int nx, ny;
} qb_panels;

/* Starts the bookkeeping with the axes' scales. */
void qb_panels_init(qb_panels *p, int xlog, int ylog, int yzero);
/* A point of the current panel (NaN coordinates are ignored). */
void qb_panels_point(qb_panels *p, double x, double y);
/* Ends the current panel. */
void qb_panels_add(qb_panels *p, const char *title, int blocks);
/* Line type for the next data block. */
void qb_panels_color(qb_panels *p, int linetype);
/* Image width in pixels for a row of `npanels` panels. */
int qb_panels_width(int npanels);

#endif
