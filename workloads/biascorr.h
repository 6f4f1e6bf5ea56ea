/* Empirical bias correction of a quantized model: layer by layer, in
 * order, the per-channel mean of each conv/dense output on the calibration
 * images is measured in the float model `ref` and in q (the layers before
 * already corrected, inputs fake-quantized as at evaluation), and q's bias
 * moves by the difference (quantizers/chanstats.h). Layers without a bias
 * are left alone. Error convention: common/status.h. */
#ifndef QB_BIASCORR_H
#define QB_BIASCORR_H

#include "dataset.h"
#include "qeval.h"

/* *corrected (may be NULL) gets the number of layers whose bias moved. */
qb_status qb_bias_correct_model(qb_qmodel *q, qb_model *ref, const qb_images *calib,
                                qb_pool *pool, int *corrected);

#endif
