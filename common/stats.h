/* Descriptive statistics shared by the harness (timing summaries) and the
 * reports (comparisons). Inputs are not modified; functions that need order
 * copy and sort. Tests check them against published worked examples. */
#ifndef QB_STATS_H
#define QB_STATS_H

#include <stddef.h>

double qb_mean(const double *x, size_t n);
double qb_stddev(const double *x, size_t n);          /* sample (n-1) */
/* Linear-interpolated quantile (type 7, as R and NumPy default), q in [0,1]. */
double qb_quantile(const double *x, size_t n, double q);
double qb_median(const double *x, size_t n);
/* Median absolute deviation from the median (unscaled). */
double qb_mad(const double *x, size_t n);
/* Distribution-free confidence interval for the median from order
 * statistics (binomial): the widest-coverage pair (x(j), x(k)) with coverage
 * >= level; for n < 6 at 95% no such pair exists and the sample min/max are
 * returned. */
void qb_median_ci(const double *x, size_t n, double level, double *lo, double *hi);

/* Standard normal CDF and its inverse. */
double qb_norm_cdf(double z);
double qb_norm_quantile(double p);

#endif
