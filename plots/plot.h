/* gnuplot plots. A plot is a template (plots/NAME.gp, compiled into qbench)
 * whose @KEY@ placeholders are filled in, behind a shared terminal preamble
 * (plots/terminal.gp), plus a data file the caller writes. Both are kept in
 * the output's plots/ folder so a user can restyle a plot and re-run
 *   gnuplot -e "fmt='svg'" NAME.gp
 * qbench renders every plot to PNG (pngcairo) and SVG by running gnuplot as
 * an external program; gnuplot's messages go to NAME.log. Errors follow
 * common/status.h. */
#ifndef QB_PLOT_H
#define QB_PLOT_H

#include <stdio.h>
#include "safefile.h"
#include "status.h"

typedef struct {
    const char *name;   /* "pareto.gp" */
    const char *text;
} qb_plot_template;

/* Generated from the templates in plots/ by scripts/embed-templates.sh. */
extern const qb_plot_template qb_plot_templates[];
extern const int qb_n_plot_templates;

#define QB_PLOT_MAX_VARS 16

typedef struct {
    char *dir;          /* output folder (…/plots) */
    char *name;         /* file stem: NAME.gp, NAME.dat, NAME.png, NAME.svg */
    const char *tmpl;   /* template text */
    qb_safefile data;   /* NAME.dat while it is written */
    int nvars;
    char *keys[QB_PLOT_MAX_VARS], *values[QB_PLOT_MAX_VARS];
} qb_plot;

/* Starts plot `name` in `dir` (created if missing) from template `tmpl`
 * ("pareto.gp"). Sets NAME, and WIDTH/HEIGHT defaults for the preamble. */
qb_status qb_plot_begin(qb_plot *p, const char *dir, const char *name, const char *tmpl);
/* Where the caller writes the data: gnuplot blocks, two blank lines apart. */
FILE *qb_plot_data(qb_plot *p);
/* Sets placeholder @KEY@ (a later call for the same key replaces it). */
qb_status qb_plot_set(qb_plot *p, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Commits NAME.dat and writes NAME.gp. Frees `p` either way. */
qb_status qb_plot_finish(qb_plot *p);
/* Drops the plot (nothing is written). */
void qb_plot_abort(qb_plot *p);

/* Writes `s` as a double-quoted gnuplot string (quotes and line breaks in
 * `s` become spaces: labels come from CSV fields). */
void qb_plot_quote(FILE *f, const char *s);
/* Copies `s` into buf without characters that would end a gnuplot string. */
const char *qb_plot_clean(const char *s, char *buf, size_t len);

/* Looks for gnuplot on PATH; 1 and its path in `path` when found. */
int qb_gnuplot_find(char *path, size_t len);

/* Renders DIR/NAME.gp to NAME.png and NAME.svg. QB_ERR_UNSUPPORTED when
 * gnuplot is not on PATH; QB_ERR_IO when it fails (the message has its
 * first complaint and the log's path). Warnings that did not stop gnuplot
 * are copied into `warning` ("" when none). Output files appear only when
 * rendered completely (written to a temporary name, then renamed). */
qb_status qb_plot_render(const char *dir, const char *name, char *warning, size_t wlen);

#endif
