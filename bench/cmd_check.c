/* `qbench check BASE CUR`: the CI regression gate. Exit 0 when nothing
 * regressed, 1 when something did (one line per regression, worst first),
 * 2 for unusable input. Writes CUR/check.md and CUR/check.xml (JUnit). */
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "cmd_runs.h"
#include "commands.h"

int qb_cmd_check(int argc, char **argv)
{
    static const char synopsis[] = "BASE CUR [flags]\n"
        "Compares run CUR against the baseline run BASE and fails (exit 1) when a cell\n"
        "regressed: stopped finishing, went missing, or changed significantly (p < alpha)\n"
        "by more than a threshold. Writes check.md and JUnit XML check.xml.";
    qb_cmd_pair p;
    int rc = qb_cmd_pair_setup("check", synopsis, QB_METRIC_SPEEDUP, argc, argv, &p);
    if (rc >= 0) return rc;
    qb_diff d;
    size_t *reg = NULL;
    qb_status s = qb_diff_runs(&p.base, &p.cur, &p.opts, &d);
    if (s == QB_OK) s = qb_check_write(&d, &p.base, &p.cur, p.out_dir);
    if (s == QB_OK && !(reg = qb_calloc(d.n + 1, sizeof *reg))) s = QB_ERR_NOMEM;
    if (s != QB_OK) {
        qb_diff_free(&d);
        qb_cmd_pair_free(&p);
        return qb_cmd_fail("check", s);
    }
    size_t nreg = qb_check_regressions(&d, reg);
    for (size_t i = 0; i < nreg; i++) {
        char line[1024];
        const qb_cell_diff *c = &d.cells[reg[i]];
        printf("%s %s\n", c->verdict == QB_MISSING ? "MISSING" : "REGRESSED",
               qb_diff_describe(c, line, sizeof line));
    }
    printf("qbench check: %s: %zu regression%s in %zu cells (%zu improved, %zu new; metric %s, "
           "max slowdown %.1f%%, max drop %.2f pp, alpha %g); see %s/check.md\n",
           nreg ? "FAILED" : "passed", nreg, nreg == 1 ? "" : "s", d.n, d.count[QB_IMPROVED],
           d.count[QB_NEW], qb_metric_name(d.opts.metric), 100 * d.opts.max_slowdown,
           d.opts.max_drop, d.opts.alpha, p.out_dir);
    if (d.too_few_reps)
        fprintf(stderr, "qbench check: warning: %zu cells have too few repetitions for alpha %g "
                "(the smallest p their samples allow is %.3g): raise the spec's repetitions or "
                "--alpha, or their slowdowns cannot be detected\n", d.too_few_reps, d.opts.alpha,
                d.smallest_p);
    free(reg);
    qb_diff_free(&d);
    qb_cmd_pair_free(&p);
    return nreg ? 1 : 0;
}
