/* A metric across runs, with steps (see history.h). */
#include "history.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "csvread.h"
#include "doc.h"
#include "fmt.h"
#include "history_plot.h"
#include "report.h"
#include "safefile.h"
#include "view.h"

static const char *const metric_names[] = {"speedup", "latency", "accuracy"};

const char *qb_hist_metric_name(qb_hist_metric m) { return metric_names[m]; }

qb_status qb_hist_metric_parse(const char *what, const char *text, qb_hist_metric *out)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(text, metric_names[i]) == 0) {
            *out = (qb_hist_metric)i;
            return QB_OK;
        }
    return qb_error(QB_ERR_ARG, "%s: expected speedup, latency or accuracy, got '%s'", what, text);
}

double qb_history_value(const qb_history *h, const qb_result *r)
{
    if (!r || !qb_result_ok(r)) return NAN;
    switch (h->opts.metric) {
    case QB_HIST_SPEEDUP: return r->speedup;
    case QB_HIST_LATENCY: return r->latency_ms_median;
    case QB_HIST_ACCURACY: return r->accuracy;
    }
    return NAN;
}


static int by_date(const void *pa, const void *pb)
{
    const qb_run *a = *(const qb_run *const *)pa, *b = *(const qb_run *const *)pb;
    const char *da = qb_run_meta(a, "date"), *db = qb_run_meta(b, "date");
    int c = strcmp(da ? da : "", db ? db : "");
    return c ? c : (a > b) - (a < b); /* same date: command-line order */
}

static int passes(const qb_history_opts *o, const qb_result *r)
{
    if (o->metric == QB_HIST_SPEEDUP && qb_result_is_fp32(r)) return 0; /* always 1x */
    return (!o->model || strcmp(r->model, o->model) == 0) &&
           (!o->scheme || strcmp(r->scheme, o->scheme) == 0) &&
           (!o->placement || strcmp(r->placement, o->placement) == 0) &&
           (!o->cell || strncmp(r->cell_id, o->cell, strlen(o->cell)) == 0);
}

/* The change from a to b as `check` judges it: +1 worse, -1 better, 0. */
static int judged(const qb_history *h, const qb_result *a, const qb_result *b, qb_cell_diff *c)
{
    memset(c, 0, sizeof *c);
    c->base = a;
    c->cur = b;
    qb_diff_opts o = h->opts.diff;
    o.metric = h->opts.metric == QB_HIST_LATENCY ? QB_METRIC_LATENCY : QB_METRIC_SPEEDUP;
    qb_diff_cell(c, &o);
    if (c->status_change) return c->status_change;
    return h->opts.metric == QB_HIST_ACCURACY ? c->acc_change_sign : c->time_change;
}

/* Walks the runs keeping the last established level: a change that the
 * next run does not confirm is a one-run outlier and does not move it. */
static qb_status find_steps(const qb_history *h, qb_history_cell *cell)
{
    cell->steps = qb_calloc(h->n_runs + 1, sizeof *cell->steps);
    if (!cell->steps) return QB_ERR_NOMEM;
    const qb_result *level = NULL;
    for (size_t i = 0; i < h->n_runs; i++) {
        const qb_result *r = cell->at[i];
        if (!r) continue;
        qb_cell_diff c;
        int dir = level ? judged(h, level, r, &c) : 0;
        if (!dir) {
            level = r;
            continue;
        }
        const qb_result *next = NULL;
        for (size_t j = i + 1; j < h->n_runs && !next; j++) next = cell->at[j];
        qb_cell_diff cn;
        int confirmed = next && judged(h, level, next, &cn) == dir;
        if (next && !confirmed) continue; /* an outlier: the level stays */
        qb_step *s = &cell->steps[cell->n_steps++];
        s->run = i;
        s->worse = dir > 0;
        s->confirmed = confirmed;
        qb_diff_describe(&c, s->what, sizeof s->what);
        level = r;
    }
    return QB_OK;
}

qb_status qb_history_build(const qb_run *runs, size_t n, const qb_history_opts *o,
                           qb_history *out)
{
    memset(out, 0, sizeof *out);
    out->opts = *o;
    out->runs = qb_calloc(n + 1, sizeof *out->runs);
    if (!out->runs) return QB_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) out->runs[i] = &runs[i];
    out->n_runs = n;
    qsort(out->runs, n, sizeof *out->runs, by_date);
    const qb_run *last = out->runs[n - 1];
    const qb_result **rows = qb_calloc(last->n_results + 1, sizeof *rows);
    out->cells = qb_calloc(last->n_results + 1, sizeof *out->cells);
    if (!rows || !out->cells) {
        free(rows);
        return QB_ERR_NOMEM;
    }
    size_t nr = 0;
    for (size_t i = 0; i < last->n_results; i++)
        if (passes(o, &last->results[i])) rows[nr++] = &last->results[i];
    qb_view_sort(rows, nr);
    qb_status s = QB_OK;
    for (size_t k = 0; k < nr && s == QB_OK; k++) {
        qb_history_cell *c = &out->cells[out->n_cells++];
        c->at = qb_calloc(n + 1, sizeof *c->at);
        if (!c->at) {
            s = QB_ERR_NOMEM;
            break;
        }
        for (size_t i = 0; i < n; i++) c->at[i] = qb_run_find(out->runs[i], rows[k]->id);
        s = find_steps(out, c);
    }
    free(rows);
    if (s == QB_OK && out->n_cells == 0)
        s = qb_error(QB_ERR_ARG, "no cell of the latest run (%s) matches the filters",
                     last->dir);
    return s;
}

void qb_history_free(qb_history *h)
{
    for (size_t i = 0; i < h->n_cells; i++) {
        free(h->cells[i].at);
        free(h->cells[i].steps);
    }
    free(h->cells);
    free(h->runs);
    memset(h, 0, sizeof *h);
}

/* ---- outputs ---- */

static const qb_result *any_result(const qb_history *h, const qb_history_cell *c)
{
    return c->at[h->n_runs - 1];
}

static const char *value_fmt(const qb_history *h)
{
    return h->opts.metric == QB_HIST_SPEEDUP ? "%.3fx" : h->opts.metric == QB_HIST_LATENCY ? "%.4g" : "%.2f";
}

static const qb_step *step_at(const qb_history_cell *c, size_t run)
{
    for (size_t k = 0; k < c->n_steps; k++)
        if (c->steps[k].run == run) return &c->steps[k];
    return NULL;
}

static qb_status write_csv(const qb_history *h, const char *dir)
{
    qb_safefile sf;
    qb_status s = qb_doc_open_file(&sf, dir, "history.csv");
    if (s != QB_OK) return s;
    fprintf(sf.fp, "cell_id,model,config,placement,scenario,run,date,git_commit,%s,step\n",
            qb_hist_metric_name(h->opts.metric));
    for (size_t k = 0; k < h->n_cells; k++) {
        const qb_history_cell *c = &h->cells[k];
        const qb_result *r = any_result(h, c);
        char cfg[128], v[48];
        for (size_t i = 0; i < h->n_runs; i++) {
            const char *date = qb_run_meta(h->runs[i], "date"),
                       *commit = qb_run_meta(h->runs[i], "git_commit");
            const qb_step *st = step_at(c, i);
            double x = qb_history_value(h, c->at[i]);
            if (isnan(x)) v[0] = '\0';
            else snprintf(v, sizeof v, "%.9g", x);
            qb_csv_put(sf.fp, r->cell_id, 0);
            qb_csv_put(sf.fp, r->model, 0);
            qb_csv_put(sf.fp, qb_result_config(r, cfg, sizeof cfg), 0);
            qb_csv_put(sf.fp, r->placement, 0);
            qb_csv_put(sf.fp, r->scenario, 0);
            qb_csv_put(sf.fp, qb_report_name(h->runs[i]->dir), 0);
            qb_csv_put(sf.fp, date ? date : "", 0);
            qb_csv_put(sf.fp, commit ? commit : "", 0);
            qb_csv_put(sf.fp, v, 0);
            qb_csv_put(sf.fp, !st ? "" : st->confirmed ? (st->worse ? "worse" : "better")
                              : (st->worse ? "worse?" : "better?"), 1);
        }
    }
    return qb_safefile_commit(&sf);
}

static void runs_table(qb_doc *d, const qb_history *h)
{
    const char *head[] = {"#", "run", "date", "commit", "cells"};
    qb_doc_table(d, 5, head, "rlllr");
    for (size_t i = 0; i < h->n_runs; i++) {
        const qb_run *r = h->runs[i];
        char idx[24], n[32], name[256];
        const char *date = qb_run_meta(r, "date"), *commit = qb_run_meta(r, "git_commit");
        snprintf(idx, sizeof idx, "%zu", i + 1);
        snprintf(n, sizeof n, "%zu", r->n_results);
        const char *row[] = {idx, qb_doc_cell(qb_report_name(r->dir), name, sizeof name),
                             date ? date : "?", commit ? commit : "?", n};
        qb_doc_row(d, row);
    }
}

static void values_table(qb_doc *d, const qb_history *h)
{
    size_t ncols = 1 + h->n_runs;
    const char **head = qb_calloc(ncols, sizeof *head);
    const char **row = qb_calloc(ncols, sizeof *row);
    char *align = qb_calloc(ncols + 1, 1);
    char (*cells)[80] = qb_calloc(ncols, sizeof *cells);
    char (*heads)[24] = qb_calloc(ncols, sizeof *heads);
    if (head && row && align && cells && heads) {
        head[0] = "cell";
        align[0] = 'l';
        for (size_t i = 0; i < h->n_runs; i++) {
            snprintf(heads[i], sizeof heads[i], "#%zu", i + 1);
            head[1 + i] = heads[i];
            align[1 + i] = 'r';
        }
        qb_doc_table(d, (int)ncols, head, align);
        for (size_t k = 0; k < h->n_cells; k++) {
            const qb_history_cell *c = &h->cells[k];
            const qb_result *r = any_result(h, c);
            char label[320], cfg[128];
            snprintf(label, sizeof label, "%s %s @ %s/%s", r->model,
                     qb_result_config(r, cfg, sizeof cfg), r->placement, r->scenario);
            row[0] = label;
            for (size_t i = 0; i < h->n_runs; i++) {
                char v[40];
                const qb_step *st = step_at(c, i);
                qb_fmt(v, sizeof v, value_fmt(h), qb_history_value(h, c->at[i]));
                if (st) snprintf(cells[1 + i], sizeof cells[1 + i], "**%s %s%s**", v,
                                 st->worse ? "worse" : "better", st->confirmed ? "" : "?");
                else snprintf(cells[1 + i], sizeof cells[1 + i], "%s", v);
                row[1 + i] = cells[1 + i];
            }
            qb_doc_row(d, row);
        }
    }
    free(head);
    free(row);
    free(align);
    free(cells);
    free(heads);
}

qb_status qb_history_write(const qb_history *h, const char *dir, qb_plot_list *plots)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return qb_error(QB_ERR_IO, "%s: cannot create the output folder (%s)", dir, strerror(errno));
    char *plot_dir;
    if (asprintf(&plot_dir, "%s/plots", dir) < 0) return qb_error(QB_ERR_NOMEM, "out of memory");
    qb_status s = qb_history_plot(h, plot_dir, plots);
    free(plot_dir);
    if (s != QB_OK || (s = write_csv(h, dir)) != QB_OK) return s;
    char title[600];
    snprintf(title, sizeof title, "qbench history: %s over %zu runs",
             qb_hist_metric_name(h->opts.metric), h->n_runs);
    qb_doc *d;
    if ((s = qb_doc_open(&d, dir, "history", QB_DOC_MD | QB_DOC_HTML, title)) != QB_OK) return s;
    qb_doc_para(d, "A step at run *i* is a change from run *i-1* that `qbench check` would flag "
                "(p < %g and beyond %.1f%% for times, %.2f pp for accuracy), confirmed when the "
                "next run still differs from run *i-1* the same way; a step in the latest run "
                "is marked `?` until the next run confirms it.", h->opts.diff.alpha,
                100 * h->opts.diff.max_slowdown, h->opts.diff.max_drop);
    qb_doc_heading(d, 2, "Runs, oldest first");
    runs_table(d, h);
    qb_doc_heading(d, 2, "Steps");
    size_t nsteps = 0;
    for (size_t k = 0; k < h->n_cells; k++)
        for (size_t j = 0; j < h->cells[k].n_steps; j++) {
            const qb_step *st = &h->cells[k].steps[j];
            qb_doc_bullet(d, "run #%zu (%s): **%s%s** %s", st->run + 1,
                          qb_report_name(h->runs[st->run]->dir), st->worse ? "worse" : "better",
                          st->confirmed ? "" : ", not yet confirmed", st->what);
            nsteps++;
        }
    if (!nsteps) qb_doc_para(d, "No step in %zu cells.", h->n_cells);
    qb_report_plots(d, plots);
    qb_doc_heading(d, 2, "Values");
    values_table(d, h);
    return qb_doc_close(d);
}
