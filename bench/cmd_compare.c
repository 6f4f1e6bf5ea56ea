/* `qbench compare BASE CUR [-o DIR]`: a comparison report of two runs. */
#include <stdio.h>

#include "cmd_runs.h"
#include "commands.h"
#include "compare.h"

int qb_cmd_compare(int argc, char **argv)
{
    static const char synopsis[] = "BASE CUR [flags]\n"
        "Joins the cells of two runs by id and writes compare.md, a self-contained\n"
        "compare.html, compare.csv and plots (both runs overlaid) into DIR (default CUR):\n"
        "per cell the latency change with a Mann-Whitney U test, the accuracy change with\n"
        "a paired test, a verdict, and both runs' provenance side by side.";
    qb_cmd_pair p;
    int rc = qb_cmd_pair_setup("compare", synopsis, QB_METRIC_LATENCY, argc, argv, &p);
    if (rc >= 0) return rc;
    qb_diff d;
    qb_plot_list plots;
    qb_status s = qb_diff_runs(&p.base, &p.cur, &p.opts, &d);
    if (s == QB_OK) s = qb_compare_write(&p.base, &p.cur, &d, p.out_dir, &plots);
    if (s != QB_OK) {
        qb_diff_free(&d);
        qb_cmd_pair_free(&p);
        return qb_cmd_fail("compare", s);
    }
    printf("%zu cells: %zu regressed, %zu improved, %zu unchanged, %zu new, %zu missing; wrote "
           "%s/compare.md, compare.html and compare.csv\n", d.n, d.count[QB_REGRESSED],
           d.count[QB_IMPROVED], d.count[QB_UNCHANGED], d.count[QB_NEW], d.count[QB_MISSING],
           p.out_dir);
    qb_diff_free(&d);
    qb_cmd_pair_free(&p);
    return qb_cmd_plot_outcome("compare", &plots);
}
