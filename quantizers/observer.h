/* Streaming calibration observers for activations: feed batches with
 * qb_observer_update, combine observers from different threads or shards
 * with qb_observer_merge, then ask for the range a calibration method
 * picks for a scheme and bit width. Memory is bounded (a fixed histogram,
 * about 128 KB) whatever the number of values seen, and one observer
 * answers every method (minmax, percentile, mse, kl), so a sweep can
 * calibrate once and try them all.
 *
 * The histogram has 8192 equal bins over [-R, R], R a power of two that
 * doubles (merging bin pairs, which is exact) when a larger |x| arrives;
 * so at least 2048 bins always cover [0, amax]. Besides the counts each
 * bin keeps the sum of its values, so bin means, mean |x| and the exact
 * min/max are available. NaN and +-Inf are not counted in the histogram;
 * qb_observer_nonfinite() says how many were seen.
 * Error convention: common/status.h. */
#ifndef QB_OBSERVER_H
#define QB_OBSERVER_H

#include <stddef.h>
#include <stdint.h>
#include "calib.h"
#include "dist.h"
#include "scheme.h"

#define QB_OBSERVER_BINS 8192

typedef struct qb_observer qb_observer;

qb_status qb_observer_create(qb_observer **out);
void qb_observer_free(qb_observer *o);
void qb_observer_reset(qb_observer *o);

void qb_observer_update(qb_observer *o, const float *x, int64_t n);
/* dst += src (src unchanged). Merging in any order gives the same counts as
 * one observer fed everything. */
void qb_observer_merge(qb_observer *dst, const qb_observer *src);

int64_t qb_observer_count(const qb_observer *o);     /* finite values seen */
int64_t qb_observer_nonfinite(const qb_observer *o); /* NaN and +-Inf seen */
float qb_observer_min(const qb_observer *o);         /* 0 when nothing seen */
float qb_observer_max(const qb_observer *o);
/* Half-width R of the histogram (0 when nothing seen). */
float qb_observer_half_range(const qb_observer *o);

/* The histogram as weighted points (bin means), for calibration and fits. */
qb_status qb_observer_dist(const qb_observer *o, qb_dist *d);
/* The clipping range calibration `c` picks for scheme s at `bits`. */
qb_status qb_observer_range(const qb_observer *o, const qb_calib *c, const qb_scheme *s,
                            int bits, int narrow, float *lo, float *hi);

#endif
