/* Shared parts of the commands that read run folders (see cmd_runs.h). */
#include "cmd_runs.h"

#include <stdio.h>
#include <string.h>

#include "check.h"
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

int qb_cmd_pair_setup(const char *cmd, const char *synopsis, qb_metric default_metric,
                      int argc, char **argv, qb_cmd_pair *p)
{
    memset(p, 0, sizeof *p);
    qb_diff_defaults(&p->opts, default_metric);
    const char *slowdown = NULL, *metric = NULL;
    int allow = 0;
    char alpha_help[64], drop_help[64];
    snprintf(alpha_help, sizeof alpha_help, "significance level of each test (default %g)",
             p->opts.alpha);
    snprintf(drop_help, sizeof drop_help, "accuracy points a cell may lose (default %g)",
             p->opts.max_drop);
    const qb_opt opts[] = {
        {"--max-slowdown", QB_OPT_STR, &slowdown, "PCT", "slowdown allowed, in percent (default 5%)"},
        {"--max-drop", QB_OPT_DOUBLE, &p->opts.max_drop, "PP", drop_help},
        {"--alpha", QB_OPT_DOUBLE, &p->opts.alpha, "P", alpha_help},
        {"--metric", QB_OPT_STR, &metric, "M",
         default_metric == QB_METRIC_SPEEDUP ? "speedup (default: ratio to fp32 in each run) or latency"
                                             : "latency (default) or speedup (ratio to fp32 in each run)"},
        {"--allow-spec-change", QB_OPT_FLAG, &allow, NULL, "compare runs of different sweep specs"},
        {"-o --out", QB_OPT_STR, &p->out_dir, "DIR", "where to write the outputs (default: CUR)"},
    };
    const char *pos[2];
    int npos, rc = qb_cmd_parse(cmd, synopsis, argc, argv, opts, (int)QB_ARRAY_LEN(opts), pos, 2, 2,
                                &npos);
    if (rc >= 0) return rc;
    char what[64];
    qb_status s = QB_OK;
    snprintf(what, sizeof what, "qbench %s --max-slowdown", cmd);
    if (slowdown) s = qb_parse_percent(what, slowdown, &p->opts.max_slowdown);
    if (s == QB_OK && metric) {
        if (strcmp(metric, "speedup") == 0) p->opts.metric = QB_METRIC_SPEEDUP;
        else if (strcmp(metric, "latency") == 0) p->opts.metric = QB_METRIC_LATENCY;
        else s = qb_error(QB_ERR_ARG, "qbench %s --metric: expected speedup or latency, got '%s'",
                          cmd, metric);
    }
    if (s == QB_OK && !(p->opts.alpha > 0 && p->opts.alpha < 1))
        s = qb_error(QB_ERR_ARG, "qbench %s --alpha: %g is not between 0 and 1", cmd, p->opts.alpha);
    if (s == QB_OK && !(p->opts.max_drop >= 0))
        s = qb_error(QB_ERR_ARG, "qbench %s --max-drop: %g must be 0 or more (accuracy points)",
                     cmd, p->opts.max_drop);
    if (s != QB_OK) return qb_cmd_fail(cmd, s);
    if ((s = qb_run_load_pair(pos[0], &p->base, pos[1], &p->cur)) != QB_OK)
        return qb_cmd_fail(cmd, s);
    if (!p->out_dir) p->out_dir = p->cur.dir;
    if ((s = qb_diff_compatible(&p->base, &p->cur, allow)) != QB_OK) {
        qb_cmd_pair_free(p);
        return qb_cmd_fail(cmd, s);
    }
    return -1;
}

void qb_cmd_pair_free(qb_cmd_pair *p)
{
    qb_run_free(&p->base);
    qb_run_free(&p->cur);
}
