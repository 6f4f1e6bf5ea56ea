/* Repetition timing (see timing.h). */
#include "timing.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "stats.h"

qb_status qb_time_reps(const qb_timing_opts *o, qb_rep_fn fn, void *ctx, const qb_timing_hooks *h,
                       qb_timing *out)
{
    memset(out, 0, sizeof *out);
    out->median_ms = out->mad_ms = out->ci_low_ms = out->ci_high_ms = NAN;
    if (o->min_reps < 1 || o->max_reps < o->min_reps || o->warmup < 0)
        return qb_error(QB_ERR_ARG, "timing: need 1 <= min_reps (%d) <= max_reps (%d), warmup >= 0",
                        o->min_reps, o->max_reps);
    int cap = o->min_reps > 64 ? o->min_reps : 64;
    out->ms = qb_malloc((size_t)cap, sizeof *out->ms);
    if (!out->ms) return QB_ERR_NOMEM;
    qb_status s = QB_OK;
    for (int i = 0; i < o->warmup && s == QB_OK; i++) s = fn(ctx);
    if (s == QB_OK && h && h->begin) s = h->begin(ctx);
    if (s != QB_OK) return s;
    while (out->n < o->max_reps && (out->n < o->min_reps || out->timed_seconds < o->min_seconds)) {
        if (out->n == cap) {
            int ncap = cap * 2 < o->max_reps ? cap * 2 : o->max_reps;
            double *m = realloc(out->ms, (size_t)ncap * sizeof *m);
            if (!m) {
                s = qb_error(QB_ERR_NOMEM, "timing: out of memory for %d samples", ncap);
                break;
            }
            out->ms = m;
            cap = ncap;
        }
        double t0 = qb_now();
        s = fn(ctx);
        double dt = qb_now() - t0;
        if (s != QB_OK) break;
        out->ms[out->n++] = dt * 1e3;
        out->timed_seconds += dt;
    }
    if (h && h->end) {
        qb_status e = h->end(ctx);
        if (s == QB_OK) s = e;
    }
    qb_timing_summarize(out);
    return s;
}

void qb_timing_summarize(qb_timing *t)
{
    if (t->n == 0) return;
    size_t n = (size_t)t->n;
    t->median_ms = qb_median(t->ms, n);
    t->mad_ms = qb_mad(t->ms, n);
    qb_median_ci(t->ms, n, 0.95, &t->ci_low_ms, &t->ci_high_ms);
}

void qb_timing_free(qb_timing *t)
{
    free(t->ms);
    memset(t, 0, sizeof *t);
}
