/* Error metrics between a reference x and its quantized version y. */
#ifndef QB_METRICS_H
#define QB_METRICS_H

#include <stdint.h>

typedef struct {
    double mse;         /* mean of (y - x)^2 */
    double max_abs;     /* max |y - x| */
    double sqnr_db;     /* 10 log10(sum x^2 / sum (y - x)^2); +inf when y == x */
    double cosine;      /* <x, y> / (|x| |y|); 1 when both are zero, 0 when one is */
    int64_t skipped;    /* pairs left out because x is +-Inf or NaN */
} qb_error_metrics;

/* Over the n pairs (doubles accumulate), leaving out pairs whose reference
 * x is not finite (an infinity saturates, so its error is meaningless). */
void qb_error_metrics_compute(const float *x, const float *y, int64_t n, qb_error_metrics *m);

#endif
