/* The cell-workload interface: what the sweep harness asks of a model.
 *
 * A workload is a vtable. For each cell the harness, inside the cell's own
 * child process: prepare()s the model under a quantization config (load,
 * calibrate, correct), evaluate()s its accuracy on the test set (once per
 * config; later cells of the same config reuse the numbers), setup_run()s
 * it for the timing pool (pack weights for the integer kernels), then calls
 * run() in a timed loop (one forward pass of `batch` inputs per call) on a
 * thread pool bound to the cell's placement, and finally release()s it. Work per inference (flops, bytes) feeds derived
 * metrics. Every function returns qb_status with qb_error() on failure (the
 * cell then gets status `error` and the message).
 *
 * The built-in models are listed in bench/workloads_builtin.c: plugging a new
 * evaluation or executor in is one entry there. Tests pass their own tables. */
#ifndef QB_WORKLOAD_H
#define QB_WORKLOAD_H

#include <stdint.h>
#include "pool.h"
#include "status.h"

/* The quantization config of a cell ("fp32" scheme = the float baseline). */
typedef struct {
    const char *model;
    const char *scheme;      /* "fp32", "uniform-sym", ... */
    const char *granularity; /* "tensor", "channel", "group:N"; "" for fp32 */
    const char *calib;       /* "minmax", "percentile:99.99", ...; "" for fp32 */
    const char *correction;  /* "none", "bias", ... */
    const char *policy;      /* "uniform", "first-last:8", ... */
    int wbits, abits;        /* 32 = float */
    const char *backend;     /* "auto" or a backend to force */
} qb_qconfig;

/* Accuracy numbers of one config; NAN (or -1 for size) = not measured. */
typedef struct {
    double accuracy;       /* top-1, percent */
    double fp32_accuracy;  /* percent */
    double drop_pp, drop_ci_low, drop_ci_high;
    double agreement;      /* percent of images whose top-1 equals fp32's */
    double kl;             /* nats */
    int64_t size_bytes;
    double compression;
    int n_images;          /* 0 when no per-image outcomes */
    const uint8_t *correct; /* n_images bits, little-endian packed (csv-schema.md
                             * outcomes.csv); owned by the workload state */
} qb_eval_result;

void qb_eval_result_clear(qb_eval_result *r); /* everything "not measured" */

typedef struct qb_workload {
    const char *name;        /* model name in the spec: "mlp" */
    const char *description;
    /* Rough seconds one cell of this config costs here (prepare + evaluate
     * when `with_eval`), for --dry-run and the ETA. */
    double (*estimate_seconds)(const qb_qconfig *cfg, int with_eval);
    /* Builds the model under cfg; `pool` may be used for calibration. */
    qb_status (*prepare)(const qb_qconfig *cfg, qb_pool *pool, void **state);
    /* Test-set accuracy; NULL when the workload has no accuracy. */
    qb_status (*evaluate)(void *state, qb_pool *pool, qb_eval_result *out);
    /* Readies run() for batches of up to max_batch on `pool` (packs weights,
     * allocates buffers), before and outside the timed region. A config
     * with no real execution path fails here with QB_ERR_UNSUPPORTED (the
     * cell keeps its accuracy; its latency stays empty). May be NULL. */
    qb_status (*setup_run)(void *state, qb_pool *pool, int max_batch);
    /* One forward pass of `batch` inputs on `pool` (the timed call). */
    qb_status (*run)(void *state, qb_pool *pool, int batch);
    /* Work per inference (one input), for derived metrics; 0 = unknown. */
    double (*flops_per_inference)(void *state);
    double (*bytes_per_inference)(void *state);
    /* Name of the backend that run() uses ("openblas", "avx512-vnni"...). */
    const char *(*backend_name)(void *state);
    void (*release)(void *state);
    /* Loads what every cell of this model reads (model file, dataset) once,
     * in the sweep's own process before the first cell: the cells' child
     * processes inherit it. Fails (e.g. no trained model) before any run
     * folder is made. May be NULL. */
    qb_status (*preload)(const struct qb_workload *self);
} qb_workload;

/* The models a sweep can use, plus machine-wide provenance for meta.csv. */
typedef struct {
    const qb_workload *const *items;
    int n;
    const char *(*blas)(void);    /* "OpenBLAS 0.3.21 (Haswell)"; may be NULL */
    const char *(*backend)(void); /* integer backend chosen here; may be NULL */
} qb_workload_set;

/* The built-in models (bench/workloads_builtin.c). */
const qb_workload_set *qb_builtin_workloads(void);

/* Finds a model by name; the error lists the known names. */
qb_status qb_workload_find(const qb_workload_set *set, const char *name, const qb_workload **out);

#endif
