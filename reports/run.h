/* A run folder in memory (format: docs/csv-schema.md): provenance from
 * meta.csv, one qb_result per results.csv row, each with its timing samples
 * (samples.csv) and per-image correctness (outcomes.csv) when present, and
 * the per-layer rows of layers.csv. Only these files are read, so a run can
 * be reported on any machine. Errors follow common/status.h and name the
 * file and line. */
#ifndef QB_RUN_H
#define QB_RUN_H

#include <stddef.h>
#include <stdint.h>
#include "csvread.h"
#include "status.h"

/* The newest schema_version this reader understands. */
#define QB_SCHEMA_VERSION 1

typedef struct {
    uint64_t id;                 /* cell_id as a number */
    const char *cell_id;         /* 16 hex digits, as written */
    const char *model, *scheme, *granularity, *calib, *correction, *policy;
    const char *backend, *placement, *cpuset, *scenario;
    const char *status;          /* "ok", "crashed", "timeout", "error", "skipped" */
    const char *status_detail, *counter_status;
    long long wbits, abits;      /* 32 = float */
    long long threads, batch, reps; /* -1 when empty */
    double accuracy, fp32_accuracy, drop_pp, drop_ci_low, drop_ci_high; /* percent, pp */
    double agreement, kl;        /* percent; nats */
    double size_bytes, compression;
    double latency_ms_median, latency_ms_mad, latency_ms_ci_low, latency_ms_ci_high;
    double throughput_ips, speedup, prep_seconds, prep_peak_mb;
    double ipc, gflop_s, gbyte_s; /* derived by the harness from counters and throughput */
    /* every value above is NaN (or "") when the column is absent or empty */
    size_t line;                 /* line in results.csv */
    const double *samples;       /* n_samples latencies in ms, in rep order */
    size_t n_samples;
    const uint8_t *outcomes;     /* bit i: image i right; NULL if not recorded */
    long long n_outcomes;
} qb_result;

typedef struct {
    const char *cell_id, *model, *layer, *kind;
    long long layer_index, wbits, abits;
    double weight_sqnr_db, act_sqnr_db, sensitivity_pp;
} qb_layer;

typedef struct {
    char *dir;
    int schema_version;
    size_t n_meta;
    const char **meta_key, **meta_value;
    size_t n_results;
    qb_result *results;          /* in file order */
    int n_counters;
    const char **counter_names;  /* the ctr:... columns, header order, prefix kept */
    double *counters;            /* n_results x n_counters, NaN when empty */
    int has_samples, has_outcomes, has_layers;
    size_t n_layers;
    qb_layer *layers;
    /* private */
    qb_csv_table meta_t, results_t, samples_t, outcomes_t, layers_t;
    double *sample_store;
    uint8_t *outcome_store;
    uint32_t *index;             /* open addressing: result index + 1, 0 empty */
    size_t index_mask;
} qb_run;

/* Loads the run folder `dir`: meta.csv and results.csv must exist; the
 * other files are optional. Rejects a schema_version newer than
 * QB_SCHEMA_VERSION (QB_ERR_UNSUPPORTED). */
qb_status qb_run_load(const char *dir, qb_run *run);
void qb_run_free(qb_run *run);
/* Loads two run folders at once (two threads): on failure neither is
 * loaded and the message names the folder at fault (the first, if both are). */
qb_status qb_run_load_pair(const char *dir_a, qb_run *a, const char *dir_b, qb_run *b);

/* The meta.csv value for `key`, or NULL. */
const char *qb_run_meta(const qb_run *run, const char *key);
/* The result with this cell id, or NULL. */
const qb_result *qb_run_find(const qb_run *run, uint64_t id);
/* Counter column `k` of result `r` (NaN when empty). */
double qb_run_counter(const qb_run *run, const qb_result *r, int k);

/* Measured columns: the counters (index k >= 0 into counter_names) and
 * the metrics the harness derives from them (ipc, gflop_s, gbyte_s, coded
 * as -1, -2, -3) that have at least one value in the run. With
 * `prefer_per_inf`, a counter's total is left out when its per-inference
 * column (ctr:EVENT/inf) exists. Fills cols (room for max); returns how many. */
int qb_run_measured(const qb_run *run, int prefer_per_inf, int *cols, int max);
double qb_run_value(const qb_run *run, const qb_result *r, int col);
/* "sde:::qbench::macs/inf", "ipc" (no ctr: prefix). */
const char *qb_run_column_name(const qb_run *run, int col);

/* Parses a 16-hex-digit cell id; 0 on success, -1 if malformed. */
int qb_cell_id_parse(const char *s, uint64_t *out);

/* 1 when the cell finished (status ok). */
int qb_result_ok(const qb_result *r);
/* 1 for the float baseline (scheme fp32). */
int qb_result_is_fp32(const qb_result *r);
/* A short name for the quantization config: "fp32", "uniform-sym w8a8",
 * "pow2 w4a32"; fills buf. */
const char *qb_result_config(const qb_result *r, char *buf, size_t len);

#endif
