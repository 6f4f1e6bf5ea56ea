/* Dense linear algebra for the layer-wise corrections (see linalg.h). */
#include "linalg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void qb_sgemm_ref(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                  int64_t ldc)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++) {
                float av = trans_a ? a[p * lda + i] : a[i * lda + p];
                float bv = trans_b ? b[j * ldb + p] : b[p * ldb + j];
                s += (double)av * bv;
            }
            float *cij = &c[i * ldc + j];
            *cij = (float)(alpha * s + (beta == 0.0f ? 0.0 : (double)beta * *cij));
        }
}

void qb_hessian_add_rows(double *h, int64_t k, const float *x, int64_t n, int64_t ld)
{
    for (int64_t r = 0; r < n; r++) {
        const float *xr = x + r * ld;
        for (int64_t i = 0; i < k; i++) {
            double xi = xr[i];
            if (xi == 0) continue;
            double *hi = h + i * k;
            for (int64_t j = 0; j < k; j++) hi[j] += xi * xr[j];
        }
    }
}

qb_status qb_cholesky(double *a, int64_t n)
{
    for (int64_t j = 0; j < n; j++) {
        double *aj = a + j * n;
        double d = aj[j];
        for (int64_t p = 0; p < j; p++) d -= aj[p] * aj[p];
        if (!(d > 0))
            return qb_error(QB_ERR_ARG, "matrix is not positive definite (pivot %lld of %lld is %g)",
                            (long long)j, (long long)n, d);
        double l = sqrt(d);
        aj[j] = l;
        for (int64_t i = j + 1; i < n; i++) {
            double *ai = a + i * n;
            double s = ai[j];
            for (int64_t p = 0; p < j; p++) s -= ai[p] * aj[p];
            ai[j] = s / l;
        }
        for (int64_t p = j + 1; p < n; p++) aj[p] = 0;
    }
    return QB_OK;
}

/* a^-1 = L^-T L^-1 from the Cholesky factor, then the Cholesky factor of
 * the inverse, transposed. */
qb_status qb_inverse_cholesky_upper(double *a, int64_t n)
{
    qb_status s = qb_cholesky(a, n);
    if (s != QB_OK) return s;
    double *inv = qb_calloc((size_t)n * (size_t)n, sizeof *inv);
    if (!inv) return QB_ERR_NOMEM;
    /* a holds L; M = L^-1 (lower) row by row: row i of L M = e_i gives
     * M[i] = (e_i - sum over p < i of L[i][p] M[p]) / L[i][i] (rows stay
     * contiguous in memory). */
    for (int64_t i = 0; i < n; i++) {
        double *mi = inv + i * n;
        mi[i] = 1.0;
        for (int64_t p = 0; p < i; p++) {
            double l = a[i * n + p];
            if (l == 0) continue;
            const double *mp = inv + p * n;
            for (int64_t j = 0; j <= p; j++) mi[j] -= l * mp[j];
        }
        double d = a[i * n + i];
        for (int64_t j = 0; j <= i; j++) mi[j] /= d;
    }
    /* a^-1 = M^T M: entry (i, j) = sum over p >= max(i, j) of M[p][i] M[p][j] */
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j <= i; j++) a[i * n + j] = 0;
    for (int64_t p = 0; p < n; p++) {
        const double *mp = inv + p * n;
        for (int64_t i = 0; i <= p; i++) {
            double v = mp[i];
            if (v == 0) continue;
            double *ai = a + i * n;
            for (int64_t j = 0; j <= i; j++) ai[j] += v * mp[j];
        }
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++) a[i * n + j] = a[j * n + i];
    free(inv);
    if ((s = qb_cholesky(a, n)) != QB_OK) return qb_error_context(s, "inverting");
    /* transpose L (of the inverse) into U */
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++) {
            a[i * n + j] = a[j * n + i];
            a[j * n + i] = 0;
        }
    return QB_OK;
}
