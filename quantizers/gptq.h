/* GPTQ-style rounding (Frantar et al., 2022, after Optimal Brain
 * Quantization): quantize a linear layer's weight matrix one input column
 * at a time and spread each column's rounding error over the columns not
 * yet quantized, weighted by the inverse of the reconstruction Hessian
 * H = sum of x x^T over calibration inputs x. This minimises the layer's
 * output error ||W X - Q X||^2 greedily, column by column, which plain
 * rounding to nearest (that looks at each weight alone) does not.
 *
 * The weight is a (rows, cols) matrix: a dense layer's (out, in), a conv's
 * (out, in * kh * kw) with inputs the im2col patches. The quantization
 * parameters p must have been made for that (rows, cols) shape (fitted to
 * the original weights); GPTQ only changes which level each weight gets.
 * Error convention: common/status.h. */
#ifndef QB_GPTQ_H
#define QB_GPTQ_H

#include <stdint.h>
#include "quant.h"

typedef struct {
    double damp;   /* added to H's diagonal, as a fraction of its mean (GPTQ: 0.01) */
    int act_order; /* quantize columns in decreasing H_jj (the most active inputs first) */
} qb_gptq_options;

void qb_gptq_options_init(qb_gptq_options *o);

/* w (rows, cols) float weights; h (cols, cols) the Hessian (not changed).
 * Writes the chosen codes (rows * cols, may be NULL) and the dequantized
 * weights y (rows * cols, may be NULL). Columns whose input was always
 * zero (H_jj = 0) are rounded to nearest and propagate nothing. */
qb_status qb_gptq(const qb_qparams *p, const float *w, int64_t rows, int64_t cols,
                  const double *h, const qb_gptq_options *o, int32_t *codes, float *y);

#endif
