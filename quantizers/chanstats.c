/* Per-channel statistics for bias correction and equalization (see
 * chanstats.h). */
#include "chanstats.h"

#include <math.h>

void qb_channel_sums_add(double *sum, const float *y, int64_t batch, int64_t channels,
                         int64_t inner)
{
    for (int64_t b = 0; b < batch; b++)
        for (int64_t c = 0; c < channels; c++) {
            const float *p = y + (b * channels + c) * inner;
            double s = 0;
            for (int64_t j = 0; j < inner; j++) s += p[j];
            sum[c] += s;
        }
}

void qb_bias_correct(float *bias, int64_t channels, const double *ref_sum, const double *quant_sum,
                     double count)
{
    if (!(count > 0)) return;
    for (int64_t c = 0; c < channels; c++)
        bias[c] += (float)((ref_sum[c] - quant_sum[c]) / count);
}

void qb_equalize_scales(const float *r1, const float *r2, int64_t n, float *s)
{
    for (int64_t i = 0; i < n; i++)
        s[i] = r1[i] > 0 && r2[i] > 0 && isfinite(r1[i] / r2[i]) ? sqrtf(r1[i] / r2[i]) : 1.0f;
}
