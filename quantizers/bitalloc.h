/* Mixed-precision bit allocation: given, for every layer, its candidate
 * bit widths with the bytes each costs and the sensitivity each causes
 * (any additive penalty: a measured accuracy drop, an output divergence),
 * find the per-layer choices that trade total size against total
 * sensitivity best.
 *
 * qb_bitalloc_frontier solves the multiple-choice knapsack exactly by
 * dynamic programming over sizes counted in units of `unit` bytes (each
 * option's size rounded up to whole units, so a chosen allocation never
 * exceeds the size the search believed; unit 1 is exact), and returns its
 * Pareto frontier: every allocation that no other beats in both size and
 * sensitivity. A size budget then picks the least sensitive point that
 * fits, a sensitivity budget the smallest point within it.
 * Error convention: common/status.h. */
#ifndef QB_BITALLOC_H
#define QB_BITALLOC_H

#include <stdint.h>
#include "status.h"

typedef struct {
    int n_options;        /* at least 1, at most 64 */
    const int *bits;      /* (n_options) the widths, for reporting */
    const uint64_t *size; /* (n_options) bytes of the layer at each width */
    const double *cost;   /* (n_options) sensitivity at each width, finite */
} qb_bitalloc_layer;

typedef struct {
    uint64_t size;        /* exact bytes of the allocation */
    double cost;          /* its summed sensitivity */
    int *choice;          /* (n_layers) option index per layer */
} qb_bitalloc_point;

typedef struct {
    int n_layers, n_points;
    qb_bitalloc_point *points; /* ascending size, strictly descending cost */
    int *choices;              /* storage of the points' choice arrays */
} qb_bitalloc_frontier;

/* unit: 0 picks the smallest unit that keeps the table under 2^20 sizes. */
qb_status qb_bitalloc_frontier_build(const qb_bitalloc_layer *layers, int n_layers, uint64_t unit,
                                     qb_bitalloc_frontier *f);
void qb_bitalloc_frontier_free(qb_bitalloc_frontier *f);

/* The least sensitive point of size <= budget; QB_ERR_ARG naming the
 * smallest reachable size when none fits. */
qb_status qb_bitalloc_for_size(const qb_bitalloc_frontier *f, uint64_t budget, int *point);
/* The smallest point whose sensitivity is <= budget; QB_ERR_ARG naming the
 * least reachable sensitivity when none is. */
qb_status qb_bitalloc_for_cost(const qb_bitalloc_frontier *f, double budget, int *point);

#endif
