/* Layer-wise rounding corrections over a quantized model: for each
 * quantized conv/dense layer in order, collect the reconstruction Hessian
 * H = sum of x x^T of the inputs it computes with on the calibration
 * images (conv inputs as im2col patches; the layers before it already
 * corrected and every input fake-quantized, as at evaluation), then choose
 * its weights' levels with GPTQ or AdaRound (quantizers/gptq.h,
 * adaround.h) from the float weights of `ref`.
 * Error convention: common/status.h. */
#ifndef QB_LAYERROUND_H
#define QB_LAYERROUND_H

#include <stdio.h>
#include "dataset.h"
#include "levers.h"
#include "qeval.h"

/* The Hessian of layer `layer`'s inputs over `images` in q (k x k doubles,
 * k its fan-in; malloc'ed into *h). */
qb_status qb_layer_hessian(qb_qmodel *q, int layer, const qb_images *images, qb_pool *pool,
                           double **h, int64_t *k);

/* method: QB_ROUNDING_ADAROUND or QB_ROUNDING_GPTQ; adaround_iters > 0
 * overrides AdaRound's step count. err_nearest and
 * err_corrected (may be NULL; n_layers entries, NAN where not corrected)
 * get each layer's reconstruction error before and after. */
qb_status qb_layer_rounding(qb_qmodel *q, const qb_model *ref, qb_weight_method method,
                            int adaround_iters, const qb_images *calib, qb_pool *pool, FILE *log,
                            double *err_nearest, double *err_corrected);

#endif
