/* Descriptive statistics (see stats.h). */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double *sorted_copy(const double *x, size_t n)
{
    double *s = malloc((n ? n : 1) * sizeof *s);
    if (!s) return NULL;
    memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    return s;
}

double qb_mean(const double *x, size_t n)
{
    if (n == 0) return NAN;
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    return s / (double)n;
}

double qb_stddev(const double *x, size_t n)
{
    if (n < 2) return NAN;
    double m = qb_mean(x, n), s = 0;
    for (size_t i = 0; i < n; i++) s += (x[i] - m) * (x[i] - m);
    return sqrt(s / (double)(n - 1));
}

static double quantile_sorted(const double *s, size_t n, double q)
{
    if (n == 0) return NAN;
    if (q <= 0) return s[0];
    if (q >= 1) return s[n - 1];
    double h = (double)(n - 1) * q;
    size_t lo = (size_t)floor(h);
    double frac = h - (double)lo;
    return lo + 1 < n ? s[lo] + frac * (s[lo + 1] - s[lo]) : s[lo];
}

double qb_quantile(const double *x, size_t n, double q)
{
    double *s = sorted_copy(x, n);
    if (!s) return NAN;
    double v = quantile_sorted(s, n, q);
    free(s);
    return v;
}

double qb_median(const double *x, size_t n) { return qb_quantile(x, n, 0.5); }

double qb_mad(const double *x, size_t n)
{
    if (n == 0) return NAN;
    double m = qb_median(x, n);
    double *d = malloc(n * sizeof *d);
    if (!d) return NAN;
    for (size_t i = 0; i < n; i++) d[i] = fabs(x[i] - m);
    double v = qb_median(d, n);
    free(d);
    return v;
}

/* P(X <= k) for X ~ Binomial(n, 1/2), summed in log space for large n. */
static double binom_half_cdf(size_t n, size_t k)
{
    double total = 0;
    for (size_t i = 0; i <= k; i++)
        total += exp(lgamma((double)n + 1) - lgamma((double)i + 1) - lgamma((double)(n - i) + 1) -
                     (double)n * log(2.0));
    return total;
}

void qb_median_ci(const double *x, size_t n, double level, double *lo, double *hi)
{
    if (n == 0) {
        *lo = *hi = NAN;
        return;
    }
    double *s = sorted_copy(x, n);
    if (!s) {
        *lo = *hi = NAN;
        return;
    }
    /* Coverage of (x(j), x(n-1-j)) (0-based) is 1 - 2 P(X <= j). Take the
     * largest j that still reaches the level. */
    size_t best = 0;
    int found = 0;
    for (size_t j = 0; j < n / 2; j++) {
        if (1.0 - 2.0 * binom_half_cdf(n, j) >= level) {
            best = j;
            found = 1;
        } else {
            break;
        }
    }
    *lo = found ? s[best] : s[0];
    *hi = found ? s[n - 1 - best] : s[n - 1];
    free(s);
}

double qb_norm_cdf(double z) { return 0.5 * erfc(-z / sqrt(2.0)); }

/* Acklam's rational approximation refined by one Halley step (|err| < 1e-15). */
double qb_norm_quantile(double p)
{
    if (p <= 0) return -INFINITY;
    if (p >= 1) return INFINITY;
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                               1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                               6.680131188771972e+01, -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                               -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    double q, r, x;
    if (p < 0.02425) {
        q = sqrt(-2 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else if (p <= 1 - 0.02425) {
        q = p - 0.5;
        r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    } else {
        q = sqrt(-2 * log(1 - p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    double e = qb_norm_cdf(x) - p;
    double u = e * sqrt(2 * M_PI) * exp(x * x / 2);
    return x - u / (1 + x * u / 2);
}
