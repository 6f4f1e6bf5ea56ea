/* Calibration: choosing the clipping range [lo, hi] a scheme quantizes
 * over, from a distribution of values (a weight block's own values, or an
 * activation observer's histogram; see dist.h and observer.h).
 *   minmax        the data's extremes;
 *   percentile:P  the P-th percentile of |x| for symmetric schemes, the
 *                 (100-P)-th and P-th percentiles otherwise (50 < P <= 100);
 *   mse           the range, shrunk from minmax by a searched factor, that
 *                 minimises the scheme's own quantization MSE on the data;
 *   kl            TensorRT's entropy calibration: the |x| threshold whose
 *                 quantized histogram is closest (KL divergence) to the
 *                 clipped one (2048 bins, 2^(b-1) levels; 2^b for
 *                 non-negative data in asymmetric schemes).
 * Error convention: common/status.h. */
#ifndef QB_CALIB_H
#define QB_CALIB_H

#include <stddef.h>
#include "dist.h"
#include "scheme.h"

typedef enum { QB_CALIB_MINMAX, QB_CALIB_PERCENTILE, QB_CALIB_MSE, QB_CALIB_KL } qb_calib_method;

typedef struct {
    qb_calib_method method;
    double percentile; /* QB_CALIB_PERCENTILE: P in (50, 100] */
} qb_calib;

/* Parses "minmax", "percentile:99.9", "mse", "kl"; errors name the text
 * and list the accepted forms. */
qb_status qb_calib_parse(const char *text, qb_calib *out);
/* Canonical text ("percentile:99.9"). */
const char *qb_calib_str(const qb_calib *c, char *buf, size_t len);

/* The range for quantizing d with scheme s at `bits`. d must be sorted for
 * every method but minmax. An empty d gives [0, 0]. */
qb_status qb_calib_range(const qb_calib *c, const qb_dist *d, const qb_scheme *s, int bits,
                         int narrow, uint64_t seed, float *lo, float *hi);

/* Fits one block: the range from `c` (minmax for uncalibrated schemes),
 * then the scheme's fit. b must come from qb_block_init. */
qb_status qb_fit_block(const qb_calib *c, const qb_dist *d, const qb_scheme *s, int bits,
                       int narrow, uint64_t seed, qb_block *b, float *codebook);

/* Sum over d of w * (dequantize(quantize(v)) - v)^2 with nearest rounding. */
double qb_dist_sq_error(const qb_dist *d, const qb_scheme *s, const qb_block *b);

#endif
