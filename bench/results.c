/* Rows of results.csv, samples.csv and outcomes.csv (see results.h). */
#include "results.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const fixed_columns[] = {
    "cell_id", "model", "scheme", "granularity", "calib", "correction", "policy", "wbits", "abits",
    "backend", "placement", "threads", "cpuset", "scenario", "batch", "status", "status_detail",
    "accuracy", "fp32_accuracy", "drop_pp", "drop_ci_low", "drop_ci_high", "agreement", "kl",
    "size_bytes", "compression", "latency_ms_median", "latency_ms_mad", "latency_ms_ci_low",
    "latency_ms_ci_high", "reps", "throughput_ips", "speedup", "prep_seconds", "prep_peak_mb",
    "counter_status",
};

/* Derived metrics: formulas as data. Inputs are per-inference values. */
typedef struct {
    const qb_cell_result *r;
    const qb_strlist *events;
    double throughput;
} derive_ctx;

static double event_total(const derive_ctx *d, const char *name)
{
    for (int i = 0; i < d->events->n && i < d->r->n_events; i++)
        if (strcmp(d->events->items[i], name) == 0 && d->r->ctr_ok[i]) return (double)d->r->ctr[i];
    return NAN;
}

static double ratio(double a, double b) { return b > 0 && isfinite(a) ? a / b : NAN; }
static double per_work(double w) { return w > 0 ? w : NAN; }

static double d_ipc(const derive_ctx *d)
{
    return ratio(event_total(d, "PAPI_TOT_INS"), event_total(d, "PAPI_TOT_CYC"));
}
static double d_flop(const derive_ctx *d) { return per_work(d->r->flops_per_inf); }
static double d_gflops(const derive_ctx *d) { return per_work(d->r->flops_per_inf) * d->throughput / 1e9; }
static double d_byte(const derive_ctx *d) { return per_work(d->r->bytes_per_inf); }
static double d_gbytes(const derive_ctx *d) { return per_work(d->r->bytes_per_inf) * d->throughput / 1e9; }

static const struct {
    const char *name;
    double (*fn)(const derive_ctx *);
} derived[] = {
    {"ipc", d_ipc},              /* instructions per cycle */
    {"flop_per_inf", d_flop},    /* the workload's stated flops per inference */
    {"gflop_s", d_gflops},       /* flop_per_inf x throughput */
    {"byte_per_inf", d_byte},    /* the workload's stated bytes per inference */
    {"gbyte_s", d_gbytes},
};

void qb_cell_result_clear(qb_cell_result *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->status, sizeof r->status, "error");
    r->accuracy = r->fp32_accuracy = r->drop_pp = r->drop_ci_low = r->drop_ci_high = NAN;
    r->agreement = r->kl = r->compression = NAN;
    r->size_bytes = -1;
    r->prep_seconds = r->prep_peak_mb = NAN;
    r->median_ms = r->mad_ms = r->ci_low_ms = r->ci_high_ms = NAN;
    r->flops_per_inf = r->bytes_per_inf = NAN;
}

void qb_cell_result_set_eval(qb_cell_result *r, const qb_eval_result *e)
{
    r->have_eval = 1;
    r->accuracy = e->accuracy;
    r->fp32_accuracy = e->fp32_accuracy;
    r->drop_pp = e->drop_pp;
    r->drop_ci_low = e->drop_ci_low;
    r->drop_ci_high = e->drop_ci_high;
    r->agreement = e->agreement;
    r->kl = e->kl;
    r->size_bytes = e->size_bytes;
    r->compression = e->compression;
    r->n_images = e->correct ? e->n_images : 0;
}

void qb_results_header(qb_csv_line *l, const qb_strlist *events)
{
    qb_csv_line_reset(l);
    for (size_t i = 0; i < QB_ARRAY_LEN(fixed_columns); i++) qb_csv_str(l, fixed_columns[i]);
    char name[300];
    for (int i = 0; i < events->n; i++) {
        snprintf(name, sizeof name, "ctr:%s", events->items[i]);
        qb_csv_str(l, name);
        snprintf(name, sizeof name, "ctr:%s/inf", events->items[i]);
        qb_csv_str(l, name);
    }
    for (size_t i = 0; i < QB_ARRAY_LEN(derived); i++) qb_csv_str(l, derived[i].name);
    qb_csv_end(l);
}

double qb_throughput(int batch, double median_ms)
{
    return median_ms > 0 ? batch / (median_ms * 1e-3) : NAN;
}

double qb_speedup(double fp32_median_ms, double median_ms)
{
    return median_ms > 0 && fp32_median_ms > 0 ? fp32_median_ms / median_ms : NAN;
}

void qb_results_row(qb_csv_line *l, const qb_cell *c, const qb_cell_result *r,
                    const qb_strlist *events, double fp32_median_ms)
{
    const qb_qconfig *q = &c->q;
    qb_csv_line_reset(l);
    qb_csv_str(l, c->id);
    qb_csv_str(l, q->model);
    qb_csv_str(l, q->scheme);
    qb_csv_str(l, q->granularity);
    qb_csv_str(l, q->calib);
    qb_csv_str(l, q->correction);
    qb_csv_str(l, q->policy);
    qb_csv_int(l, q->wbits, 1);
    qb_csv_int(l, q->abits, 1);
    qb_csv_str(l, r->backend);
    qb_csv_str(l, c->placement);
    qb_csv_int(l, r->threads, r->threads > 0);
    qb_csv_str(l, r->cpuset);
    qb_csv_str(l, c->scenario);
    qb_csv_int(l, c->batch, 1);
    qb_csv_str(l, r->status);
    qb_csv_str(l, r->detail);
    qb_csv_num(l, r->accuracy);
    qb_csv_num(l, r->fp32_accuracy);
    qb_csv_num(l, r->drop_pp);
    qb_csv_num(l, r->drop_ci_low);
    qb_csv_num(l, r->drop_ci_high);
    qb_csv_num(l, r->agreement);
    qb_csv_num(l, r->kl);
    qb_csv_int(l, r->size_bytes, r->size_bytes >= 0);
    qb_csv_num(l, r->compression);
    qb_csv_num(l, r->median_ms);
    qb_csv_num(l, r->mad_ms);
    qb_csv_num(l, r->ci_low_ms);
    qb_csv_num(l, r->ci_high_ms);
    qb_csv_int(l, r->reps, r->reps > 0);
    double tput = qb_throughput(c->batch, r->median_ms);
    qb_csv_num(l, tput);
    qb_csv_num(l, strcmp(q->scheme, "fp32") == 0 && r->median_ms > 0 ? 1.0
                                                                       : qb_speedup(fp32_median_ms, r->median_ms));
    qb_csv_num(l, r->prep_seconds);
    qb_csv_num(l, r->prep_peak_mb);
    qb_csv_str(l, r->counter_status);
    double per = r->reps > 0 ? (double)r->reps * c->batch : 0;
    for (int i = 0; i < events->n; i++) {
        int ok = i < r->n_events && r->ctr_ok[i];
        qb_csv_int(l, ok ? r->ctr[i] : 0, ok);
        qb_csv_num(l, ok && per > 0 ? (double)r->ctr[i] / per : NAN);
    }
    derive_ctx d = {r, events, tput};
    for (size_t i = 0; i < QB_ARRAY_LEN(derived); i++) qb_csv_num(l, derived[i].fn(&d));
    qb_csv_end(l);
}

void qb_samples_header(qb_csv_line *l)
{
    qb_csv_line_reset(l);
    qb_csv_str(l, "cell_id");
    qb_csv_str(l, "rep");
    qb_csv_str(l, "latency_ms");
    qb_csv_end(l);
}

/* All of a cell's samples in one buffer, so they reach the file in one write. */
void qb_samples_rows(qb_csv_line *l, const char *cell_id, const double *ms, int n)
{
    qb_csv_line_reset(l);
    for (int i = 0; i < n; i++) {
        l->nfields = 0;
        qb_csv_str(l, cell_id);
        qb_csv_int(l, i, 1);
        qb_csv_num(l, ms[i]);
        qb_csv_end(l);
    }
}

void qb_outcomes_header(qb_csv_line *l)
{
    qb_csv_line_reset(l);
    qb_csv_str(l, "cell_id");
    qb_csv_str(l, "n");
    qb_csv_str(l, "correct_hex");
    qb_csv_end(l);
}

void qb_outcomes_row(qb_csv_line *l, const char *cell_id, const uint8_t *bits, int n_images)
{
    static const char hex[] = "0123456789abcdef";
    qb_csv_line_reset(l);
    qb_csv_str(l, cell_id);
    qb_csv_int(l, n_images, 1);
    size_t nb = ((size_t)n_images + 7) / 8;
    char *h = malloc(2 * nb + 1);
    if (!h) {
        l->failed = 1;
        return;
    }
    for (size_t i = 0; i < nb; i++) {
        h[2 * i] = hex[bits[i] >> 4];
        h[2 * i + 1] = hex[bits[i] & 15];
    }
    h[2 * nb] = '\0';
    qb_csv_str(l, h);
    free(h);
    qb_csv_end(l);
}
