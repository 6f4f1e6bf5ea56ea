/* `qbench plot RUN`: only the plots of a run, rendered into RUN/plots. */
#include <stdio.h>
#include <stdlib.h>

#include "cmd_runs.h"
#include "commands.h"

int qb_cmd_plot(int argc, char **argv)
{
    static const char synopsis[] = "RUN\n"
        "Renders the run's plots to PNG and SVG in RUN/plots/, next to their gnuplot\n"
        "scripts and data (edit a script and run gnuplot on it to restyle a plot).";
    const char *pos[1];
    int npos, rc = qb_cmd_parse("plot", synopsis, argc, argv, NULL, 0, pos, 1, 1, &npos);
    qb_run run;
    if (rc >= 0 || (rc = qb_cmd_load_run("plot", pos[0], &run)) >= 0) return rc;
    char *dir;
    if (asprintf(&dir, "%s/plots", run.dir) < 0) {
        qb_run_free(&run);
        return 3;
    }
    qb_plot_list plots;
    qb_status s = qb_run_plots(&run, dir, 1, &plots);
    qb_run_free(&run);
    if (s != QB_OK) {
        free(dir);
        return qb_cmd_fail("plot", s);
    }
    for (int i = 0; i < plots.n; i++)
        if (plots.item[i].rendered) printf("%s/%s.png and .svg\n", dir, plots.item[i].name);
    free(dir);
    return qb_cmd_plot_outcome("plot", &plots);
}
