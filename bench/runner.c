/* The sweep loop: cells in order, rows appended as each finishes, progress
 * on a terminal (see runner.h). */
#include "runner.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "meta.h"
#include "runfolder.h"
#include "timing.h"

/* Child start-up, pool creation, file writes: a cell's fixed cost here. */
#define CELL_OVERHEAD_S 0.05

static double cell_estimate(const qb_spec *spec, const qb_cell *c, const qb_workload *w, int with_eval)
{
    double prep = w && w->estimate_seconds ? w->estimate_seconds(&c->q, with_eval) : 1.0;
    double timing = qb_spec_double(spec, QB_SK_MIN_TIME) * 1.1 + 0.02;
    return CELL_OVERHEAD_S + prep + timing;
}

double qb_sweep_estimate_by_grid(const qb_spec *spec, const qb_grid *grid, const qb_workload_set *models,
                                 int shard_i, int shard_n, const qb_strset *done, double *per_grid)
{
    double total = 0;
    /* a config is evaluated by its first cell that runs */
    unsigned char *evaluated = calloc((size_t)grid->n_groups + 1, 1);
    for (int i = 0; i < grid->n; i++) {
        const qb_cell *c = &grid->cells[i];
        if (!qb_cell_in_shard(c, shard_i, shard_n) || (done && qb_strset_has(done, c->id))) continue;
        const qb_workload *w = NULL;
        qb_workload_find(models, c->q.model, &w);
        double t = cell_estimate(spec, c, w, !evaluated || !evaluated[c->group]);
        if (evaluated) evaluated[c->group] = 1;
        if (per_grid) per_grid[c->grid] += t;
        total += t;
    }
    free(evaluated);
    qb_clear_error();
    return total;
}

double qb_sweep_estimate(const qb_spec *spec, const qb_grid *grid, const qb_workload_set *models,
                         int shard_i, int shard_n, const qb_strset *done)
{
    return qb_sweep_estimate_by_grid(spec, grid, models, shard_i, shard_n, done, NULL);
}

/* Baseline latencies for the speedup: model x placement x scenario x batch. */
typedef struct {
    char key[200];
    double median_ms;
} baseline;

typedef struct {
    baseline *v;
    int n, cap;
} baselines;

static void baseline_key(char *key, size_t len, const char *model, const char *placement,
                         const char *scenario, const char *batch)
{
    snprintf(key, len, "%s|%s|%s|%s", model, placement, scenario, batch);
}

static double baseline_get(const baselines *b, const char *key)
{
    for (int i = 0; i < b->n; i++)
        if (strcmp(b->v[i].key, key) == 0) return b->v[i].median_ms;
    return NAN;
}

static void baseline_put(baselines *b, const char *key, double ms)
{
    if (!(ms > 0) || !isnan(baseline_get(b, key))) return;
    if (b->n == b->cap) {
        int cap = b->cap ? b->cap * 2 : 16;
        baseline *v = realloc(b->v, (size_t)cap * sizeof *v);
        if (!v) return; /* the speedup stays empty */
        b->v = v;
        b->cap = cap;
    }
    snprintf(b->v[b->n].key, sizeof b->v[b->n].key, "%s", key);
    b->v[b->n++].median_ms = ms;
}

static void cell_key(const qb_cell *c, char *key, size_t len)
{
    char batch[16];
    snprintf(batch, sizeof batch, "%d", c->batch);
    baseline_key(key, len, c->q.model, c->placement, c->scenario, batch);
}

static void fmt_duration(double s, char *buf, size_t len)
{
    if (!isfinite(s) || s < 0) s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, len, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else if (t >= 60) snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, len, "%lds", t);
}

static void cell_label(const qb_cell *c, char *buf, size_t len)
{
    if (strcmp(c->q.scheme, "fp32") == 0)
        snprintf(buf, len, "%s fp32 %s %s", c->q.model, c->placement, c->scenario);
    else
        snprintf(buf, len, "%s %s w%da%d %s %s %s %s %s", c->q.model, c->q.scheme, c->q.wbits, c->q.abits,
                 c->q.granularity, c->q.calib, c->q.correction, c->placement, c->scenario);
}

typedef struct {
    const qb_sweep_opts *o;
    int total, position;
    double est_total, est_done, started;
} progress;

static void progress_draw(progress *p, const qb_cell *c)
{
    if (!p->o->progress || p->o->verbosity < 1) return;
    char label[300], eta[32] = "?";
    cell_label(c, label, sizeof label);
    double elapsed = qb_now() - p->started;
    double scale = p->est_done > 0 ? elapsed / p->est_done : 1.0;
    fmt_duration((p->est_total - p->est_done) * scale, eta, sizeof eta);
    fprintf(p->o->log, "\r\033[K[%d/%d] %s  ETA %s", p->position, p->total, label, eta);
    fflush(p->o->log);
}

static void progress_done(progress *p, const qb_cell *c, const qb_cell_result *r)
{
    if (p->o->verbosity < 2) return;
    char label[300];
    cell_label(c, label, sizeof label);
    if (p->o->progress) fprintf(p->o->log, "\r\033[K");
    fprintf(p->o->log, "[%d/%d] %-8s %s", p->position, p->total, r->status, label);
    if (r->median_ms > 0) fprintf(p->o->log, "  %.4g ms", r->median_ms);
    if (isfinite(r->accuracy)) fprintf(p->o->log, "  acc %.2f%%", r->accuracy);
    if (r->detail[0]) fprintf(p->o->log, "  (%s)", r->detail);
    fprintf(p->o->log, "\n");
}

static void cache_group(qb_group_cache *g, const qb_cell_output *out)
{
    const qb_cell_result *r = &out->r;
    if (r->have_eval && !g->have_eval) {
        g->have_eval = 1;
        g->eval = *r;
        if (out->bits && r->n_images > 0) {
            size_t nb = ((size_t)r->n_images + 7) / 8;
            g->bits = malloc(nb);
            if (g->bits) memcpy(g->bits, out->bits, nb);
        }
        if (!g->bits) g->eval.n_images = 0;
    }
    if (r->timing_unsupported && strcmp(r->status, "ok") == 0 && !g->timing_unsupported) {
        g->timing_unsupported = 1;
        snprintf(g->note, sizeof g->note, "%s", r->detail);
    }
}

/* Appends a finished cell: samples and outcomes first, the results row
 * last (the commit point for --resume). */
static qb_status write_cell(qb_run *run, const qb_cell *c, const qb_cell_output *out,
                            const qb_strlist *events, double fp32_ms)
{
    qb_csv_line l = {0};
    qb_status s = QB_OK;
    if (out->r.reps > 0 && out->samples) {
        qb_samples_rows(&l, c->id, out->samples, out->r.reps);
        if ((s = qb_csv_line_status(&l)) == QB_OK) s = qb_run_append(run, QB_RUN_SAMPLES, l.buf, l.len);
    }
    if (s == QB_OK && out->bits && out->r.n_images > 0) {
        qb_outcomes_row(&l, c->id, out->bits, out->r.n_images);
        if ((s = qb_csv_line_status(&l)) == QB_OK) s = qb_run_append(run, QB_RUN_OUTCOMES, l.buf, l.len);
    }
    if (s == QB_OK) {
        qb_results_row(&l, c, &out->r, events, fp32_ms);
        if ((s = qb_csv_line_status(&l)) == QB_OK) s = qb_run_append(run, QB_RUN_RESULTS, l.buf, l.len);
    }
    qb_csv_line_free(&l);
    return s;
}

static void count_status(qb_sweep_summary *sum, const char *status)
{
    sum->ran++;
    if (strcmp(status, "ok") == 0) sum->ok++;
    else if (strcmp(status, "crashed") == 0) sum->crashed++;
    else if (strcmp(status, "timeout") == 0) sum->timeout++;
    else if (strcmp(status, "skipped") == 0) sum->skipped++;
    else sum->error++;
}

qb_status qb_sweep_run(const qb_sweep_opts *o, qb_sweep_summary *sum)
{
    memset(sum, 0, sizeof *sum);
    double t_start = qb_now();
    const qb_strlist *events = qb_spec_list(o->spec, QB_SK_EVENTS);
    char shard[32] = "", hash[17];
    if (o->shard_n > 1) snprintf(shard, sizeof shard, "%d/%d", o->shard_i, o->shard_n);
    qb_spec_hash(o->spec, hash);
    if (!qb_topo_is_this_system(o->topo))
        return qb_error(QB_ERR_ARG, "--topology: a sweep runs on this machine's topology; a "
                        "synthetic or XML topology is for planning (--dry-run, qbench topo)");

    /* a folder of another spec is refused before anything is loaded */
    if (o->resume_dir) {
        qb_status cs = qb_run_check(o->resume_dir, hash, shard);
        if (cs != QB_OK) return cs;
    }
    /* shared inputs first: a missing model fails before a folder is made */
    for (int g = 0; g < qb_spec_n_grids(o->spec); g++) {
        const qb_strlist *models = qb_spec_grid_list(o->spec, g, QB_SK_MODELS);
        for (int i = 0; i < models->n; i++) {
            const qb_workload *w;
            qb_status ps = qb_workload_find(o->models, models->items[i], &w);
            if (ps == QB_OK && w->preload) ps = w->preload(w);
            if (ps != QB_OK) return ps;
        }
    }

    qb_csv_line header = {0};
    qb_results_header(&header, events);
    qb_status s = qb_csv_line_status(&header);
    qb_run run;
    qb_csv_records done_rows = {0};
    qb_strset done = {0};
    baselines base = {0};
    qb_group_cache *groups = NULL;
    if (s != QB_OK) goto out;
    if (o->resume_dir) {
        s = qb_run_open(&run, o->resume_dir, hash, shard, header.buf, &done_rows);
    } else {
        qb_meta meta;
        s = qb_runmeta_collect(&meta, o->spec, shard, o->topo, o->models);
        if (s == QB_OK) s = qb_run_create(&run, o->out_parent, &meta, o->topo, header.buf);
        qb_meta_free(&meta);
    }
    if (s != QB_OK) goto out;
    snprintf(sum->run_dir, sizeof sum->run_dir, "%s", run.dir);

    /* What --resume found: finished cells and fp32 baselines. */
    int c_id = qb_csv_records_col(&done_rows, "cell_id"), c_scheme = qb_csv_records_col(&done_rows, "scheme"),
        c_model = qb_csv_records_col(&done_rows, "model"), c_pl = qb_csv_records_col(&done_rows, "placement"),
        c_sc = qb_csv_records_col(&done_rows, "scenario"), c_batch = qb_csv_records_col(&done_rows, "batch"),
        c_med = qb_csv_records_col(&done_rows, "latency_ms_median");
    for (int r = 1; r < done_rows.n && s == QB_OK; r++) {
        s = qb_strset_add(&done, qb_csv_records_get(&done_rows, r, c_id), NULL);
        if (strcmp(qb_csv_records_get(&done_rows, r, c_scheme), "fp32") == 0) {
            char key[200];
            baseline_key(key, sizeof key, qb_csv_records_get(&done_rows, r, c_model), qb_csv_records_get(&done_rows, r, c_pl),
                         qb_csv_records_get(&done_rows, r, c_sc), qb_csv_records_get(&done_rows, r, c_batch));
            baseline_put(&base, key, atof(qb_csv_records_get(&done_rows, r, c_med)));
        }
    }
    groups = qb_calloc((size_t)o->grid->n_groups + 1, sizeof *groups);
    if (!groups) s = QB_ERR_NOMEM;
    if (s != QB_OK) goto out;

    progress p = {o, 0, 0, 0, 0, qb_now()};
    for (int i = 0; i < o->grid->n; i++)
        if (qb_cell_in_shard(&o->grid->cells[i], o->shard_i, o->shard_n)) {
            p.total++;
            if (qb_strset_has(&done, o->grid->cells[i].id)) sum->already_done++;
        }
    sum->cells = p.total;
    p.est_total = qb_sweep_estimate(o->spec, o->grid, o->models, o->shard_i, o->shard_n, &done);
    double timeout = qb_spec_double(o->spec, QB_SK_TIMEOUT);

    for (int i = 0; i < o->grid->n && s == QB_OK; i++) {
        const qb_cell *c = &o->grid->cells[i];
        if (!qb_cell_in_shard(c, o->shard_i, o->shard_n)) continue;
        p.position++;
        if (qb_strset_has(&done, c->id)) continue;
        const qb_workload *w;
        s = qb_workload_find(o->models, c->q.model, &w);
        if (s != QB_OK) break;
        qb_group_cache *g = &groups[c->group];
        double est = cell_estimate(o->spec, c, w, !g->have_eval);
        progress_draw(&p, c);
        qb_cell_output out;
        s = qb_cell_run_isolated(c, w, o->spec, o->topo, g, timeout, &out);
        if (s != QB_OK) break;
        cache_group(g, &out);
        char key[200];
        cell_key(c, key, sizeof key);
        if (strcmp(c->q.scheme, "fp32") == 0 && strcmp(out.r.status, "ok") == 0)
            baseline_put(&base, key, out.r.median_ms);
        s = write_cell(&run, c, &out, events, baseline_get(&base, key));
        count_status(sum, out.r.status);
        progress_done(&p, c, &out.r);
        qb_cell_output_free(&out);
        p.est_done += est;
    }
    if (o->progress && o->verbosity >= 1) fprintf(o->log, "\r\033[K");
    qb_run_close(&run);
out:
    for (int i = 0; groups && i < o->grid->n_groups; i++) free(groups[i].bits);
    free(groups);
    free(base.v);
    qb_strset_free(&done);
    qb_csv_records_free(&done_rows);
    qb_csv_line_free(&header);
    sum->seconds = qb_now() - t_start;
    return s;
}
