/* The sweep runner: every cell of a grid (or of one shard) in its own child
 * process with a timeout, rows appended to the run folder as each cell
 * finishes.
 *
 * Inside the child (cell.c): resolve the placement, bind memory to its NUMA
 * nodes, prepare the model on an unbound pool of all cores, evaluate it
 * (once per config: later cells of the config reuse the accuracy), then
 * time run() on a pool whose threads are bound to the placement, with PAPI
 * counters around the timed repetitions. A child that dies is a row with
 * status `crashed` and the signal; one that outlives the spec's timeout is
 * killed and recorded as `timeout`; the sweep goes on. */
#ifndef QB_RUNNER_H
#define QB_RUNNER_H

#include <stdint.h>
#include <stdio.h>
#include "grid.h"
#include "results.h"
#include "spec.h"
#include "strset.h"
#include "topo.h"
#include "workload.h"

typedef struct {
    const qb_spec *spec;            /* resolved */
    const qb_grid *grid;
    const qb_workload_set *models;
    const qb_topo *topo;            /* this machine */
    int shard_i, shard_n;           /* 0 = whole grid */
    const char *out_parent;         /* a new run goes under this folder */
    const char *resume_dir;         /* or continue this run */
    int verbosity;                  /* 0 quiet, 1 normal, 2 a line per cell */
    int progress;                   /* draw the progress line (a terminal) */
    FILE *log;                      /* progress and messages; stderr */
} qb_sweep_opts;

typedef struct {
    char run_dir[4096];
    int cells;          /* in this shard */
    int already_done;   /* skipped because --resume found them */
    int ran, ok, crashed, timeout, error, skipped;
    double seconds;
} qb_sweep_summary;

qb_status qb_sweep_run(const qb_sweep_opts *o, qb_sweep_summary *sum);

/* Reuse of one config's accuracy across its cells. */
typedef struct {
    int have_eval;
    qb_cell_result eval;   /* only the accuracy fields matter */
    uint8_t *bits;         /* outcome bits, eval.n_images of them */
    int timing_unsupported;
    char note[1024];       /* why timing is unsupported */
} qb_group_cache;

/* What a child measured, with its variable-length parts. */
typedef struct {
    qb_cell_result r;
    double *samples;  /* r.reps values, ms */
    uint8_t *bits;    /* (r.n_images + 7) / 8 bytes, or NULL */
} qb_cell_output;

void qb_cell_output_free(qb_cell_output *o);

/* Runs one cell in this process (what the child does; tests call it too). */
void qb_cell_execute(const qb_cell *c, const qb_workload *w, const qb_spec *spec,
                     const qb_topo *topo, const qb_group_cache *cache, qb_cell_output *out);

/* Runs one cell in a child process and waits for it at most `timeout`
 * seconds. Never fails for what the cell does: crashes and timeouts become
 * statuses in out->r. Fails only if the child cannot be started. */
qb_status qb_cell_run_isolated(const qb_cell *c, const qb_workload *w, const qb_spec *spec,
                               const qb_topo *topo, const qb_group_cache *cache, double timeout,
                               qb_cell_output *out);

/* Estimated seconds for the cells of this shard not in `done` (may be NULL);
 * _by_grid adds each cell's share to per_grid[cell->grid]
 * (qb_spec_n_grids entries, zeroed by the caller) and returns the total. */
double qb_sweep_estimate(const qb_spec *spec, const qb_grid *grid, const qb_workload_set *models,
                         int shard_i, int shard_n, const qb_strset *done);
double qb_sweep_estimate_by_grid(const qb_spec *spec, const qb_grid *grid, const qb_workload_set *models,
                                 int shard_i, int shard_n, const qb_strset *done, double *per_grid);

#endif
