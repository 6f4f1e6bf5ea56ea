/* Descriptive statistics and two-sample tests shared by the harness (timing
 * summaries) and the reports (comparisons). Inputs are not modified;
 * functions that need order copy and sort. Tests check them against
 * published worked examples. */
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

/* Two-sample tests and estimates used to compare runs. */

/* Mann-Whitney U (Wilcoxon rank-sum) test of x against y. `u` is the
 * statistic for x (R's W: rank sum of x minus nx(nx+1)/2; large when x tends
 * to be larger). p-values follow R's wilcox.test: the exact distribution when
 * both samples have fewer than 50 values and there are no ties, otherwise
 * the normal approximation with tie-corrected variance and a continuity
 * correction of 1/2. */
typedef struct {
    double u;              /* U of x */
    double p_two_sided;
    double p_greater;      /* alternative: x is stochastically larger than y */
    double p_less;         /* alternative: x is stochastically smaller than y */
    int exact;             /* 1 when the exact distribution was used */
} qb_mann_whitney;

/* Fails (returns -1, result all NaN) when a sample is empty or memory runs
 * out; NaN values in the inputs are not allowed. */
int qb_mann_whitney_test(const double *x, size_t nx, const double *y, size_t ny,
                         qb_mann_whitney *out);

/* Hodges-Lehmann estimate of the shift x - y: the median of all nx*ny
 * pairwise differences. NaN when a sample is empty. */
double qb_hodges_lehmann(const double *x, size_t nx, const double *y, size_t ny);

/* McNemar's test for paired binary outcomes from the two discordant counts:
 * b = pairs right before and wrong after, c = wrong before and right after.
 * Exact conditional (binomial) two-sided p, its mid-p version (recommended
 * by Fagerland, Lydersen & Laake 2013), and the asymptotic chi-square p
 * without continuity correction. All three are 1 when b = c = 0. */
typedef struct {
    double p_exact;
    double p_mid;
    double p_asymptotic;
    double chi2;
} qb_mcnemar;

void qb_mcnemar_test(long long b, long long c, qb_mcnemar *out);

/* P(X <= k) for X ~ Binomial(n, 1/2), accurate for large n. */
double qb_binom_half_cdf(long long n, long long k);

#endif
