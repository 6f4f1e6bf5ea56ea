/* Error metrics (see metrics.h). */
#include "metrics.h"

#include <math.h>

void qb_error_metrics_compute(const float *x, const float *y, int64_t n, qb_error_metrics *m)
{
    double se = 0, sx = 0, sy = 0, sxy = 0, mx = 0;
    int64_t skipped = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(x[i])) {
            skipped++;
            continue;
        }
        double a = x[i], b = y[i], e = b - a;
        se += e * e;
        sx += a * a;
        sy += b * b;
        sxy += a * b;
        if (fabs(e) > mx) mx = fabs(e);
    }
    m->skipped = skipped;
    m->mse = n > skipped ? se / (double)(n - skipped) : 0.0;
    m->max_abs = mx;
    m->sqnr_db = se > 0 ? 10.0 * log10(sx / se) : INFINITY;
    if (sx == 0 && sy == 0) m->cosine = 1.0;
    else if (sx == 0 || sy == 0) m->cosine = 0.0;
    else m->cosine = sxy / (sqrt(sx) * sqrt(sy));
}
