/* Views of a run that several outputs share (report, plots, compare,
 * history): the models in order, each model's reference placement, a stable
 * order for results, Pareto fronts, and the best configuration under an
 * accuracy budget. */
#ifndef QB_VIEW_H
#define QB_VIEW_H

#include <stddef.h>
#include "run.h"

/* Latency-based views (Pareto front, budgets, counters) use one placement
 * and scenario per model, so that a configuration is one point: the
 * batch-1 `latency` scenario if the run has it, on the placement with the
 * fewest threads (the first such in the file on ties). */
typedef struct {
    const char *model;
    const char *placement, *scenario;   /* NULL when the model has no finished cell */
    const qb_result *fp32;              /* fp32 cell there, or NULL */
} qb_model_ref;

/* Every model, in order of first appearance in results.csv. Free *out. */
qb_status qb_view_models(const qb_run *run, qb_model_ref **out, size_t *n);
/* 1 when `r` is a finished cell of m's model on its reference placement. */
int qb_view_on_ref(const qb_model_ref *m, const qb_result *r);

/* Sorts result pointers for tables: model order as given by the caller is
 * kept; within a model fp32 first, then scheme, wider bits first,
 * granularity, calibration, correction, policy, fewer threads first,
 * placement, scenario. */
void qb_view_sort(const qb_result **rows, size_t n);

/* Pareto front of points (x smaller is better, y larger is better; NaN
 * points are skipped): writes the indices of the non-dominated points,
 * ordered by x, into `front` (room for n) and returns how many. */
size_t qb_pareto_front(const double *x, const double *y, size_t n, size_t *front);

/* Among m's finished quantized cells on the reference placement whose
 * accuracy drop is within `budget_pp`: the fastest and the smallest. The
 * fastest is, of the cells as fast as the lowest median latency (95%
 * latency intervals overlapping it), the one with the smallest drop (then
 * the smaller, then the first in the file), so that two configurations
 * running the same kernel are not told apart by timing noise. The
 * smallest has the fewest bytes (ties: smaller drop, lower latency, file
 * order). NULL when none qualifies. */
void qb_view_best_under(const qb_run *run, const qb_model_ref *m, double budget_pp,
                        const qb_result **fastest, const qb_result **smallest);

#endif
