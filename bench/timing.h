/* Repetition timing: warm-up, then timed repetitions until both a minimum
 * count and a minimum time are reached (capped by a maximum count), each
 * repetition measured on the monotonic clock. Summaries come from
 * common/stats.h: median, MAD and the order-statistic 95% interval of the
 * median. Hooks run just before the first and just after the last timed
 * repetition, so counters wrap exactly the timed region. */
#ifndef QB_TIMING_H
#define QB_TIMING_H

#include "clock.h"
#include "status.h"

typedef struct {
    int warmup;          /* untimed calls first */
    int min_reps;        /* at least this many timed calls ... */
    double min_seconds;  /* ... and at least this much timed time */
    int max_reps;        /* but never more than this */
} qb_timing_opts;

typedef qb_status (*qb_rep_fn)(void *ctx);

typedef struct {
    qb_status (*begin)(void *ctx); /* after warm-up; may be NULL */
    qb_status (*end)(void *ctx);   /* after the last repetition; may be NULL */
    void *ctx;
} qb_timing_hooks;

typedef struct {
    double *ms;          /* [n] milliseconds per repetition (malloc'ed) */
    int n;
    double median_ms, mad_ms, ci_low_ms, ci_high_ms;
    double timed_seconds; /* sum of the repetitions */
} qb_timing;


/* Runs fn per the options. A failing fn (or hook) stops the loop and its
 * status is returned; `out` then holds the repetitions done so far. */
qb_status qb_time_reps(const qb_timing_opts *o, qb_rep_fn fn, void *ctx, const qb_timing_hooks *h,
                       qb_timing *out);
/* Fills median/MAD/interval from ms[0..n). */
void qb_timing_summarize(qb_timing *t);
void qb_timing_free(qb_timing *t);

#endif
