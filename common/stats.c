/* Descriptive statistics and two-sample tests (see stats.h). */
#include "stats.h"
#include "status.h"

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

static double log_add(double a, double b)
{
    if (a == -INFINITY) return b;
    if (b == -INFINITY) return a;
    double m = a > b ? a : b;
    return m + log1p(exp(-fabs(a - b)));
}

/* Summed in log space (term by term ratio) so that n in the thousands
 * neither underflows nor costs a lgamma per term. */
double qb_binom_half_cdf(long long n, long long k)
{
    if (k < 0) return 0;
    if (k >= n) return 1;
    double term = -(double)n * log(2.0), total = term;
    for (long long i = 0; i < k; i++) {
        term += log((double)(n - i)) - log((double)(i + 1));
        total = log_add(total, term);
    }
    double p = exp(total);
    return p > 1 ? 1 : p;
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
        if (1.0 - 2.0 * qb_binom_half_cdf((long long)n, (long long)j) >= level) {
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

/* ---- two-sample tests ---- */

typedef struct {
    double v;
    int from_x;
} tagged;

static int cmp_tagged(const void *a, const void *b)
{
    double x = ((const tagged *)a)->v, y = ((const tagged *)b)->v;
    return (x > y) - (x < y);
}

/* Counts of each U value for samples of m and n without ties: the
 * coefficients of the Gaussian binomial [m+n choose m]_q, built one factor
 * (1 - q^(n+i)) / (1 - q^i) at a time. Returns m*n+1 doubles. */
static double *u_counts(size_t m, size_t n)
{
    size_t top = m * n;
    double *c = calloc(top + 1, sizeof *c);
    if (!c) return NULL;
    c[0] = 1;
    for (size_t i = 1; i <= m; i++) {
        size_t mul = n + i;
        for (size_t k = top; k >= mul; k--) c[k] -= c[k - mul];
        for (size_t k = i; k <= top; k++) c[k] += c[k - i];
    }
    return c;
}

/* P(U <= u) from the counts. */
static double u_cdf(const double *c, size_t top, double u)
{
    if (u < 0) return 0;
    double below = 0, total = 0;
    for (size_t k = 0; k <= top; k++) {
        total += c[k];
        if ((double)k <= u) below += c[k];
    }
    return below / total;
}

static int mw_exact(size_t nx, size_t ny, double u, qb_mann_whitney *out)
{
    double *c = u_counts(nx, ny);
    if (!c) return -1;
    size_t top = nx * ny;
    out->p_less = u_cdf(c, top, u);
    out->p_greater = 1 - u_cdf(c, top, u - 1);
    double p = u > (double)top / 2 ? out->p_greater : out->p_less;
    out->p_two_sided = fmin(1, 2 * p);
    out->exact = 1;
    free(c);
    return 0;
}

static void mw_normal(size_t nx, size_t ny, double u, double tie_sum, qb_mann_whitney *out)
{
    double n = (double)(nx + ny), nxy = (double)nx * (double)ny;
    double z = u - nxy / 2;
    double sigma = sqrt(nxy / 12 * ((n + 1) - tie_sum / (n * (n - 1))));
    out->exact = 0;
    if (!(sigma > 0)) {
        out->p_two_sided = out->p_greater = out->p_less = 1;
        return;
    }
    double corr_two = z > 0 ? 0.5 : (z < 0 ? -0.5 : 0);
    double zt = (z - corr_two) / sigma;
    out->p_two_sided = fmin(1, 2 * fmin(qb_norm_cdf(zt), qb_norm_cdf(-zt)));
    out->p_greater = qb_norm_cdf(-(z - 0.5) / sigma);
    out->p_less = qb_norm_cdf((z + 0.5) / sigma);
}

int qb_mann_whitney_test(const double *x, size_t nx, const double *y, size_t ny,
                         qb_mann_whitney *out)
{
    out->u = out->p_two_sided = out->p_greater = out->p_less = NAN;
    out->exact = 0;
    if (nx == 0 || ny == 0) return -1;
    size_t n = nx + ny;
    tagged *t = malloc(n * sizeof *t);
    if (!t) return -1;
    for (size_t i = 0; i < nx; i++) t[i] = (tagged){x[i], 1};
    for (size_t i = 0; i < ny; i++) t[nx + i] = (tagged){y[i], 0};
    qsort(t, n, sizeof *t, cmp_tagged);
    /* Mid-ranks for ties; sum of t^3 - t over tie groups for the variance. */
    double rank_sum_x = 0, tie_sum = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && t[j + 1].v == t[i].v) j++;
        double mid = (double)(i + j) / 2 + 1, len = (double)(j - i + 1);
        for (size_t k = i; k <= j; k++)
            if (t[k].from_x) rank_sum_x += mid;
        tie_sum += len * len * len - len;
        i = j + 1;
    }
    free(t);
    out->u = rank_sum_x - (double)nx * (double)(nx + 1) / 2;
    if (nx < 50 && ny < 50 && tie_sum == 0) return mw_exact(nx, ny, out->u, out);
    mw_normal(nx, ny, out->u, tie_sum, out);
    return 0;
}

double qb_hodges_lehmann(const double *x, size_t nx, const double *y, size_t ny)
{
    size_t n;
    if (nx == 0 || ny == 0 || qb_mul_overflow(nx, ny, &n)) return NAN;
    double *d = malloc(n * sizeof *d);
    if (!d) return NAN;
    for (size_t i = 0; i < nx; i++)
        for (size_t j = 0; j < ny; j++) d[i * ny + j] = x[i] - y[j];
    double m = qb_median(d, n);
    free(d);
    return m;
}

void qb_mcnemar_test(long long b, long long c, qb_mcnemar *out)
{
    long long n = b + c, lo = b < c ? b : c;
    if (n == 0) {
        out->p_exact = out->p_mid = out->p_asymptotic = 1;
        out->chi2 = 0;
        return;
    }
    double cdf = qb_binom_half_cdf(n, lo);
    double pmf = cdf - qb_binom_half_cdf(n, lo - 1);
    out->p_exact = fmin(1, 2 * cdf);
    out->p_mid = b == c ? 1 - pmf / 2 : 2 * cdf - pmf;
    out->chi2 = (double)(b - c) * (double)(b - c) / (double)n;
    out->p_asymptotic = erfc(sqrt(out->chi2 / 2));
}
