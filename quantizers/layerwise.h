/* What the layer-wise rounding corrections (GPTQ, AdaRound) share: the
 * check that quantization parameters fit a (rows, cols) weight matrix, and
 * the reconstruction error they minimise,
 *
 *     E(Q) = sum over calibration inputs x of ||(W - Q) x||^2
 *          = trace((W - Q) H (W - Q)^T),   H = sum of x x^T,
 *
 * the squared output error of the layer (before its bias) that quantizing
 * its weights W to Q causes on the calibration data.
 * Error convention: common/status.h. */
#ifndef QB_LAYERWISE_H
#define QB_LAYERWISE_H

#include <stdint.h>
#include "quant.h"

/* QB_ERR_ARG unless p was made for a (rows, cols) tensor (a tensor-wide p
 * for any shape of rows * cols values) and w has no NaN. `who` names the
 * method in the message. */
qb_status qb_layerwise_check(const qb_qparams *p, const float *w, int64_t rows, int64_t cols,
                             const char *who);

/* E(Q) for w and q (rows, cols) and h (cols, cols). */
double qb_recon_error(const float *w, const float *q, int64_t rows, int64_t cols,
                      const double *h);

#endif
