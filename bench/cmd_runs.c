/* Shared parts of the commands that read run folders (see cmd_runs.h). */
#include "cmd_runs.h"

#include <stdio.h>

#include "commands.h"

int qb_cmd_parse(const char *cmd, const char *synopsis, int argc, char **argv,
                 const qb_opt *opts, int nopts, const char **pos, int min_pos, int max_pos,
                 int *npos)
{
    qb_args a = {pos, max_pos, 0, 0};
    qb_status s = qb_args_parse(cmd, argc, argv, opts, nopts, &a);
    if (s != QB_OK) return qb_cmd_fail(cmd, s);
    if (a.help) {
        qb_args_usage(stdout, cmd, synopsis, opts, nopts);
        return 0;
    }
    if (a.n_positional < min_pos) {
        qb_args_usage(stderr, cmd, synopsis, opts, nopts);
        return 2;
    }
    *npos = a.n_positional;
    return -1;
}

int qb_cmd_load_run(const char *cmd, const char *dir, qb_run *run)
{
    qb_status s = qb_run_load(dir, run);
    return s == QB_OK ? -1 : qb_cmd_fail(cmd, s);
}

int qb_cmd_plot_outcome(const char *cmd, const qb_plot_list *plots)
{
    if (plots->gnuplot_missing) {
        fprintf(stderr, "qbench %s: plots are missing: %s\n", cmd, plots->item[0].problem);
        return 2;
    }
    for (int i = 0; i < plots->n; i++)
        if (!plots->item[i].rendered)
            fprintf(stderr, "qbench %s: plot %s: %s\n", cmd, plots->item[i].name,
                    plots->item[i].problem);
    return plots->n_failed ? 3 : 0;
}
