/* The comparison report (see compare.h). */
#include "compare.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "compare_plots.h"
#include "csvread.h"
#include "doc.h"
#include "fmt.h"
#include "report.h"
#include "safefile.h"

/* Keys whose change alters what the timings mean: called out first. */
static const char *const key_meta[] = {"git_commit", "qbench_version", "compiler", "cflags",
                                       "cpu_model", "cpu_flags", "kernel", "blas", "backend",
                                       "topology", "spec_hash"};

static int differs(const char *a, const char *b)
{
    return !a || !b || strcmp(a, b) != 0;
}

static void provenance(qb_doc *doc, const qb_run *base, const qb_run *cur)
{
    qb_doc_heading(doc, 2, "Provenance");
    char changed[1024] = "";
    for (size_t i = 0; i < QB_ARRAY_LEN(key_meta); i++)
        if (differs(qb_run_meta(base, key_meta[i]), qb_run_meta(cur, key_meta[i]))) {
            size_t n = strlen(changed);
            snprintf(changed + n, sizeof changed - n, "%s**%s**", n ? ", " : "", key_meta[i]);
        }
    if (*changed)
        qb_doc_para(doc, "Changed between the runs: %s. Timings from different builds or "
                    "machines are compared at your own risk; speedup ratios measured inside each "
                    "run travel better than absolute times.", changed);
    else
        qb_doc_para(doc, "Same commit, compiler, flags, CPU, kernel, libraries and spec.");
    const char *head[] = {"key", "baseline", "current"};
    qb_doc_table(doc, 3, head, "lll");
    /* base's keys in order, then keys only the current run has */
    const qb_run *runs[] = {base, cur};
    for (int side = 0; side < 2; side++)
        for (size_t i = 0; i < runs[side]->n_meta; i++) {
            const char *key = runs[side]->meta_key[i];
            if (strcmp(key, "spec") == 0 || (side == 1 && qb_run_meta(base, key))) continue;
            const char *a = qb_run_meta(base, key), *b = qb_run_meta(cur, key);
            char va[600], vb[600], ca[512], cb[512], k[160];
            int diff = differs(a, b);
            snprintf(va, sizeof va, diff ? "**%s**" : "%s", qb_doc_cell(a ? a : "(absent)", ca, sizeof ca));
            snprintf(vb, sizeof vb, diff ? "**%s**" : "%s", qb_doc_cell(b ? b : "(absent)", cb, sizeof cb));
            const char *row[] = {qb_doc_cell(key, k, sizeof k), va, vb};
            qb_doc_row(doc, row);
        }
}

static void summary(qb_doc *doc, const qb_diff *d)
{
    qb_doc_heading(doc, 2, "Summary");
    qb_doc_para(doc, "Cells are joined by id. A change counts when it is significant (p < %g) "
                "and larger than its threshold: %.1f%% by %s (Mann-Whitney U on the repetition "
                "samples), %.2f pp of accuracy (McNemar mid-p on the per-image outcomes when "
                "both runs have them, else a z test from the drop intervals).",
                d->opts.alpha, 100 * d->opts.max_slowdown, qb_metric_name(d->opts.metric),
                d->opts.max_drop);
    qb_compare_counts(doc, d);
}

void qb_compare_counts(qb_doc *doc, const qb_diff *d)
{
    const char *head[] = {"verdict", "cells"};
    qb_doc_table(doc, 2, head, "lr");
    for (int v = 0; v < QB_VERDICTS; v++) {
        char n[32];
        snprintf(n, sizeof n, "%zu", d->count[v]);
        const char *row[] = {qb_verdict_name((qb_verdict)v), n};
        qb_doc_row(doc, row);
    }
}

static void notable(qb_doc *doc, const qb_diff *d, qb_verdict v, const char *title)
{
    size_t *idx = qb_calloc(d->n + 1, sizeof *idx);
    if (!idx) return;
    size_t n = qb_diff_select(d, QB_BIT(v), idx);
    if (n) {
        qb_doc_heading(doc, 2, "%s", title);
        for (size_t i = 0; i < n; i++) {
            char line[1024];
            qb_doc_bullet(doc, "%s", qb_diff_describe(&d->cells[idx[i]], line, sizeof line));
        }
    }
    free(idx);
}

/* Beyond this many cells the table stops (a page that long helps nobody);
 * compare.csv always has every cell, and the lists above every change. */
#define MAX_TABLE_ROWS 5000

static void cells_table(qb_doc *doc, const qb_diff *d)
{
    qb_doc_heading(doc, 2, "Every cell");
    if (d->n > MAX_TABLE_ROWS)
        qb_doc_para(doc, "The first %d of %zu cells; `compare.csv` has every cell, and the "
                    "lists above every regressed, improved, missing and new one.",
                    MAX_TABLE_ROWS, d->n);
    const char *head[] = {"model", "config", "placement", "verdict", "latency ms base",
                          "latency ms cur", "change", "p (MW)", "speedup base -> cur",
                          "accuracy % base -> cur", "change pp", "paired test p"};
    qb_doc_table(doc, 12, head, "llllrrrrrrrr");
    for (size_t i = 0; i < d->n && i < MAX_TABLE_ROWS; i++) {
        const qb_cell_diff *c = &d->cells[i];
        const qb_result *r = c->cur ? c->cur : c->base, *b = c->base, *k = c->cur;
        char cfg[128], pl[160], verdict[32], lb[32], lc[32], ch[32], p[32], sp[96], s1[32], s2[32],
            acc[96], a1[32], a2[32], dacc[32], pa[32];
        snprintf(pl, sizeof pl, "%s/%s", r->placement, r->scenario);
        snprintf(verdict, sizeof verdict, c->verdict == QB_REGRESSED ? "**%s**" : "%s",
                 qb_verdict_name(c->verdict));
        snprintf(sp, sizeof sp, "%s -> %s", qb_fmt(s1, sizeof s1, "%.2fx", b ? b->speedup : NAN),
                 qb_fmt(s2, sizeof s2, "%.2fx", k ? k->speedup : NAN));
        snprintf(acc, sizeof acc, "%s -> %s", qb_fmt(a1, sizeof a1, "%.2f", b ? b->accuracy : NAN),
                 qb_fmt(a2, sizeof a2, "%.2f", k ? k->accuracy : NAN));
        const char *row[] = {
            r->model, qb_result_config(r, cfg, sizeof cfg), pl, verdict,
            qb_fmt(lb, sizeof lb, "%.4g", b ? b->latency_ms_median : NAN),
            qb_fmt(lc, sizeof lc, "%.4g", k ? k->latency_ms_median : NAN),
            qb_fmt_pct(ch, sizeof ch, c->latency_change), qb_fmt_p(p, sizeof p, c->p_time), sp, acc,
            qb_fmt(dacc, sizeof dacc, "%+.2f", c->acc_change), qb_fmt_p(pa, sizeof pa, c->p_acc),
        };
        qb_doc_row(doc, row);
    }
}

static void num(FILE *f, double v, int last)
{
    char buf[48];
    if (isnan(v)) buf[0] = '\0';
    else snprintf(buf, sizeof buf, "%.9g", v);
    qb_csv_put(f, buf, last);
}

/* compare.csv: one row per cell, empty when not measured. */
static qb_status write_csv(const qb_diff *d, const char *dir)
{
    qb_safefile sf;
    qb_status s = qb_doc_open_file(&sf, dir, "compare.csv");
    if (s != QB_OK) return s;
    FILE *f = sf.fp;
    fputs("cell_id,model,config,placement,scenario,verdict,metric,base_value,cur_value,ratio,"
          "p_time,latency_change,base_accuracy,cur_accuracy,acc_change,acc_test,p_acc,"
          "images_lost,images_gained\n", f);
    for (size_t i = 0; i < d->n; i++) {
        const qb_cell_diff *c = &d->cells[i];
        const qb_result *r = c->cur ? c->cur : c->base;
        char cfg[128];
        qb_csv_put(f, r->cell_id, 0);
        qb_csv_put(f, r->model, 0);
        qb_csv_put(f, qb_result_config(r, cfg, sizeof cfg), 0);
        qb_csv_put(f, r->placement, 0);
        qb_csv_put(f, r->scenario, 0);
        qb_csv_put(f, qb_verdict_name(c->verdict), 0);
        qb_csv_put(f, qb_metric_name(c->metric), 0);
        num(f, c->base_value, 0);
        num(f, c->cur_value, 0);
        num(f, c->ratio, 0);
        num(f, c->p_time, 0);
        num(f, c->latency_change, 0);
        num(f, c->base ? c->base->accuracy : NAN, 0);
        num(f, c->cur ? c->cur->accuracy : NAN, 0);
        num(f, c->acc_change, 0);
        qb_csv_put(f, c->acc_test, 0);
        num(f, c->p_acc, 0);
        int mc = strncmp(c->acc_test, "McNemar", 7) == 0;
        num(f, mc ? (double)c->lost : NAN, 0);
        num(f, mc ? (double)c->gained : NAN, 1);
    }
    return qb_safefile_commit(&sf);
}

qb_status qb_compare_write(const qb_run *base, const qb_run *cur, const qb_diff *d,
                           const char *dir, qb_plot_list *plots)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return qb_error(QB_ERR_IO, "%s: cannot create the output folder (%s)", dir, strerror(errno));
    char *plot_dir;
    if (asprintf(&plot_dir, "%s/plots", dir) < 0) return qb_error(QB_ERR_NOMEM, "out of memory");
    qb_status s = qb_compare_plots(base, cur, d, plot_dir, plots);
    free(plot_dir);
    if (s != QB_OK || (s = write_csv(d, dir)) != QB_OK) return s;
    char title[600];
    snprintf(title, sizeof title, "qbench compare: %s -> %s", qb_report_name(base->dir),
             qb_report_name(cur->dir));
    qb_doc *doc;
    if ((s = qb_doc_open(&doc, dir, "compare", QB_DOC_MD | QB_DOC_HTML, title)) != QB_OK) return s;
    qb_doc_para(doc, "Baseline `%s`, current `%s`.", base->dir, cur->dir);
    provenance(doc, base, cur);
    summary(doc, d);
    notable(doc, d, QB_REGRESSED, "Regressed, worst first");
    notable(doc, d, QB_MISSING, "Missing from the current run");
    notable(doc, d, QB_IMPROVED, "Improved");
    notable(doc, d, QB_NEW, "New in the current run");
    qb_report_plots(doc, plots);
    cells_table(doc, d);
    return qb_doc_close(doc);
}
