/* Cells: the expansion of a resolved spec into model x quantization config x
 * backend x placement x scenario, each with a stable id.
 *
 * Order: grid by grid ([grid], then the sub-grids in file order); in each,
 * per model, the fp32 baseline cells first (so every quantized cell finds
 * its baseline for the speedup), then per config (scheme, wbits, abits,
 * granularity, calib, correction, policy, backend) its placements x
 * scenarios. A cell an earlier grid already has is not repeated. The id is
 * FNV-1a 64 of the canonical parameter string (docs/csv-schema.md), so it
 * is the same across runs and machines and whichever grid brings it. Cells
 * of one config share a `group` (their accuracy is evaluated once), across
 * grids too. */
#ifndef QB_GRID_H
#define QB_GRID_H

#include <stddef.h>
#include <stdint.h>
#include "spec.h"
#include "workload.h"

typedef struct {
    char id[17];
    int index;            /* position in the full grid */
    int group;            /* model + quantization config */
    int grid;             /* the first grid that has it (qb_spec_grid_name) */
    qb_qconfig q;         /* strings point into the spec */
    const char *placement;
    const char *scenario; /* "latency" or "throughput" */
    int batch;
} qb_cell;

typedef struct {
    qb_cell *cells;
    int n;
    int n_groups;
    uint64_t *group_key;  /* n_groups hashes of model + config */
} qb_grid;

/* Expands a resolved spec; the grid's strings point into `s`. */
qb_status qb_grid_expand(const qb_spec *s, qb_grid *out);
void qb_grid_free(qb_grid *g);

/* "model=mlp|scheme=uniform-sym|...|batch=1" */
void qb_cell_canonical(const qb_cell *c, char *buf, size_t len);

/* "i/N" with 1 <= i <= N; `what` names the flag in messages. */
qb_status qb_shard_parse(const char *what, const char *text, int *i, int *n);
/* Deterministic split: cell index k belongs to shard (k mod N) + 1. */
int qb_cell_in_shard(const qb_cell *c, int shard_i, int shard_n);

#endif
