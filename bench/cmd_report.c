/* `qbench report RUN`: report.md, report.html and plots for one run. */
#include <stdio.h>

#include "cmd_runs.h"
#include "commands.h"
#include "report.h"

int qb_cmd_report(int argc, char **argv)
{
    static const char synopsis[] = "RUN [--quiet]\n"
        "Writes RUN/report.md and a self-contained RUN/report.html (plots inline), with the\n"
        "plots' gnuplot scripts and data in RUN/plots/, and prints the report's summary and\n"
        "\"What to ship\" tables.";
    int quiet = 0;
    const qb_opt opts[] = {{"--quiet", QB_OPT_FLAG, &quiet, NULL, "print only the files written"}};
    const char *pos[1];
    int npos, rc = qb_cmd_parse("report", synopsis, argc, argv, opts, 1, pos, 1, 1, &npos);
    qb_run run;
    if (rc >= 0 || (rc = qb_cmd_load_run("report", pos[0], &run)) >= 0) return rc;
    qb_plot_list plots;
    qb_status s = qb_report_write(&run, run.dir, &plots);
    if (s != QB_OK) {
        qb_run_free(&run);
        return qb_cmd_fail("report", s);
    }
    if (!quiet) {
        fflush(stdout);
        if ((s = qb_report_print(&run, stdout)) != QB_OK) {
            qb_run_free(&run);
            return qb_cmd_fail("report", s);
        }
        putchar('\n');
    }
    int rendered = 0;
    for (int i = 0; i < plots.n; i++) rendered += plots.item[i].rendered;
    printf("wrote %s/report.md and %s/report.html (%d of %d plots rendered in %s/plots)\n",
           run.dir, run.dir, rendered, plots.n, run.dir);
    qb_run_free(&run);
    return qb_cmd_plot_outcome("report", &plots);
}
