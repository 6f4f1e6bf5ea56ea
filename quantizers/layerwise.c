/* Shared checks and the reconstruction error of layer-wise rounding (see
 * layerwise.h). */
#include "layerwise.h"

#include <math.h>
#include <stdlib.h>

qb_status qb_layerwise_check(const qb_qparams *p, const float *w, int64_t rows, int64_t cols,
                             const char *who)
{
    if (rows < 1 || cols < 1)
        return qb_error(QB_ERR_ARG, "%s: a %lld x %lld weight matrix is empty", who,
                        (long long)rows, (long long)cols);
    int fits = p->ndim == 2 && p->shape[0] == rows && p->shape[1] == cols;
    if (p->gran.kind == QB_GRAN_TENSOR) fits = 1;
    if (!fits)
        return qb_error(QB_ERR_ARG, "%s: the quantization parameters were made for another shape "
                        "than the (%lld, %lld) weight matrix; fit them to the matrix", who,
                        (long long)rows, (long long)cols);
    for (int64_t i = 0; i < rows * cols; i++)
        if (isnan(w[i]))
            return qb_error(QB_ERR_ARG, "%s: weight (%lld, %lld) is NaN", who, (long long)(i / cols),
                            (long long)(i % cols));
    return QB_OK;
}

double qb_recon_error(const float *w, const float *q, int64_t rows, int64_t cols, const double *h)
{
    double *d = malloc((size_t)cols * sizeof *d);
    if (!d) return NAN;
    double e = 0;
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t j = 0; j < cols; j++) d[j] = (double)w[r * cols + j] - q[r * cols + j];
        for (int64_t i = 0; i < cols; i++) {
            if (d[i] == 0) continue;
            const double *hi = h + i * cols;
            double s = 0;
            for (int64_t j = 0; j < cols; j++) s += hi[j] * d[j];
            e += d[i] * s;
        }
    }
    free(d);
    return e;
}
