/* What one cell produced, and how it becomes rows of results.csv,
 * samples.csv and outcomes.csv (docs/csv-schema.md, schema_version 1).
 * The column list is a table in results.c; the `ctr:` columns follow the
 * spec's event list, then the derived metrics (also a table). */
#ifndef QB_RESULTS_H
#define QB_RESULTS_H

#include <stdint.h>
#include "csvio.h"
#include "grid.h"
#include "spec.h"
#include "workload.h"

#define QB_SCHEMA_VERSION 1
#define QB_MAX_EVENTS 64

/* A cell's outcome: status, accuracy, timing summary, counters. Fixed size
 * so a cell's child process can send it through a pipe as bytes; samples and
 * outcome bits travel after it. NAN / -1 = not measured. */
typedef struct {
    char status[16];         /* ok, crashed, timeout, error, skipped */
    char detail[1024];       /* signal, error message, or a note; "" */
    char backend[48];
    int threads;
    char cpuset[128];
    /* accuracy (qb_eval_result without the pointer) */
    int have_eval;
    double accuracy, fp32_accuracy, drop_pp, drop_ci_low, drop_ci_high, agreement, kl;
    int64_t size_bytes;
    double compression;
    int n_images;
    /* preparation */
    double prep_seconds, prep_peak_mb;
    /* timing */
    int timing_unsupported;  /* run() said QB_ERR_UNSUPPORTED: no real path */
    int reps;
    double median_ms, mad_ms, ci_low_ms, ci_high_ms;
    double flops_per_inf, bytes_per_inf;
    /* counters, in spec event order */
    int n_events;
    long long ctr[QB_MAX_EVENTS];
    int ctr_ok[QB_MAX_EVENTS];
    char counter_status[2048];
} qb_cell_result;

/* Everything "not measured", status "error". */
void qb_cell_result_clear(qb_cell_result *r);
void qb_cell_result_set_eval(qb_cell_result *r, const qb_eval_result *e);

/* results.csv header for an event list. */
void qb_results_header(qb_csv_line *l, const qb_strlist *events);
/* One results.csv row; `fp32_median_ms` is the baseline's median latency for
 * the speedup (NAN when unknown). */
void qb_results_row(qb_csv_line *l, const qb_cell *c, const qb_cell_result *r,
                    const qb_strlist *events, double fp32_median_ms);

void qb_samples_header(qb_csv_line *l);
void qb_samples_rows(qb_csv_line *l, const char *cell_id, const double *ms, int n);
void qb_outcomes_header(qb_csv_line *l);
void qb_outcomes_row(qb_csv_line *l, const char *cell_id, const uint8_t *bits, int n_images);

/* Throughput (images/s) and speedup from latencies (NAN when unknown). */
double qb_throughput(int batch, double median_ms);
double qb_speedup(double fp32_median_ms, double median_ms);

#endif
