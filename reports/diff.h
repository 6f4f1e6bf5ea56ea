/* Two runs side by side: cells joined by cell id, and for each a verdict
 * (improved, regressed, unchanged, new, missing) from three questions:
 *  - did it stop (or start) finishing?  status ok in one run and not the other;
 *  - is it slower?  by the chosen metric, with a Mann-Whitney U test on the
 *    repetition samples; `speedup` compares each cell's speedup over fp32
 *    measured inside its own run (samples divided by that run's fp32
 *    median), which holds up on a noisy shared machine; `latency` compares
 *    times directly;
 *  - is it less accurate?  McNemar's mid-p test on the per-image outcomes
 *    (same test images in both runs) when outcomes.csv has the cell in both
 *    runs, else a z test from the drop intervals.
 * A change counts only when it is significant (p < alpha) and larger than
 * its threshold; when no test is possible (no samples, no outcomes and no
 * interval) the size of the change alone decides. Used by `qbench compare`
 * (a report) and `qbench check` (the CI gate). */
#ifndef QB_DIFF_H
#define QB_DIFF_H

#include <stddef.h>
#include "run.h"
#include "status.h"

typedef enum { QB_METRIC_SPEEDUP, QB_METRIC_LATENCY } qb_metric;

typedef struct {
    double max_slowdown;  /* fraction: 0.05 = 5% slower */
    double max_drop;      /* accuracy points (pp) */
    double alpha;         /* significance level of each test */
    qb_metric metric;
} qb_diff_opts;

/* 5%, 0.2 pp, alpha 0.01 and the given metric. */
void qb_diff_defaults(qb_diff_opts *o, qb_metric metric);
const char *qb_metric_name(qb_metric m);

typedef enum { QB_UNCHANGED, QB_IMPROVED, QB_REGRESSED, QB_NEW, QB_MISSING, QB_VERDICTS } qb_verdict;
const char *qb_verdict_name(qb_verdict v);

typedef struct {
    const qb_result *base, *cur;  /* NULL for a new (base) or missing (cur) cell */
    qb_verdict verdict;
    int status_change;     /* +1 stopped finishing, -1 finishes again, 0 */
    /* time */
    qb_metric metric;      /* as asked, or latency when a run has no speedup for the cell */
    double base_value, cur_value; /* speedup (x) or median latency (ms) */
    double ratio;          /* > 1: slower by that factor; NaN when not comparable */
    double p_time;         /* Mann-Whitney two-sided; NaN without samples */
    double latency_change; /* cur / base - 1 of the median latency */
    int time_change;       /* +1 slower, -1 faster, 0 */
    /* accuracy */
    double acc_change;     /* cur - base, pp (negative: less accurate) */
    double p_acc;          /* NaN when untested */
    const char *acc_test;  /* "McNemar mid-p", "z from drop CIs", "none" */
    long long lost, gained;/* images right only in base / only in cur (McNemar) */
    int acc_change_sign;   /* +1 less accurate, -1 more accurate, 0 */
    double severity;       /* how far past its threshold the worst change is */
} qb_cell_diff;

typedef struct {
    qb_cell_diff *cells;   /* base order, then new cells in cur order */
    size_t n;
    size_t count[QB_VERDICTS];
    size_t too_few_reps;   /* cells whose sample counts cannot reach p < alpha */
    double smallest_p;     /* the smallest p those counts allow */
    qb_diff_opts opts;
} qb_diff;

/* Refuses runs from different sweep specs (their spec_hash differs) unless
 * `allow_spec_change`: their cell sets are not meant to match. */
qb_status qb_diff_compatible(const qb_run *base, const qb_run *cur, int allow_spec_change);

/* Judges one pair: zero *c, set c->base and c->cur (either may be NULL);
 * the rest is filled in. */
void qb_diff_cell(qb_cell_diff *c, const qb_diff_opts *o);

qb_status qb_diff_runs(const qb_run *base, const qb_run *cur, const qb_diff_opts *o,
                       qb_diff *out);
void qb_diff_free(qb_diff *d);

/* The cells whose verdict is in `verdicts` (a mask of QB_BIT(verdict)),
 * worst first (severity), into `idx` (room for d->n); returns how many. */
#define QB_BIT(verdict) (1u << (verdict))
size_t qb_diff_select(const qb_diff *d, unsigned verdicts, size_t *idx);

/* One line about a cell for people: "mlp uniform-sym w4a8 @ core/latency:
 * 23.4% slower by speedup (2.39x -> 1.94x, p = 0.0079)". */
const char *qb_diff_describe(const qb_cell_diff *c, char *buf, size_t len);

#endif
