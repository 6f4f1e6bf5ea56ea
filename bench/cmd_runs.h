/* Helpers for the commands that read run folders (report, plot, compare,
 * check, history): loading the run named on the command line, and telling
 * the user what happened to the plots. */
#ifndef QB_CMD_RUNS_H
#define QB_CMD_RUNS_H

#include "args.h"
#include "diff.h"
#include "run.h"
#include "run_plots.h"

/* Parses `qbench CMD [flags] RUN...` with the flag table and loads nothing:
 * fills `pos` (room for max_pos). Returns -1 to go on, or the exit status
 * (0 after --help, 2 for bad usage, with the message printed). */
int qb_cmd_parse(const char *cmd, const char *synopsis, int argc, char **argv,
                 const qb_opt *opts, int nopts, const char **pos, int min_pos, int max_pos,
                 int *npos);

/* Loads one run folder; returns -1 on success or the exit status after
 * printing the error. */
int qb_cmd_load_run(const char *cmd, const char *dir, qb_run *run);

/* The two-run commands (compare, check): `qbench CMD BASE CUR` with
 * --max-slowdown, --max-drop, --alpha, --metric, --allow-spec-change and
 * -o DIR (default: CUR). Loads both runs and checks they can be compared.
 * Returns -1 to go on (free the runs), or the exit status. */
typedef struct {
    qb_run base, cur;
    qb_diff_opts opts;
    const char *out_dir;
} qb_cmd_pair;

int qb_cmd_pair_setup(const char *cmd, const char *synopsis, qb_metric default_metric,
                      int argc, char **argv, qb_cmd_pair *p);
void qb_cmd_pair_free(qb_cmd_pair *p);

/* Prints what went wrong with the plots and returns the exit status it
 * calls for: 2 when gnuplot is missing (the user can fix that; the report
 * was still written), 3 when gnuplot failed on a script qbench wrote (a
 * bug), 0 otherwise. */
int qb_cmd_plot_outcome(const char *cmd, const qb_plot_list *plots);

#endif
