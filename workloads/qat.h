/* Quantization-aware fine-tuning and progressive quantization of a folded
 * model, on the fine-tuning loop (finetune.h). Both start from a quantized
 * model q (qb_qeval_quantize_from of the float model m): its per-layer
 * weight parameters, widths and activation parameters. Inputs of
 * quantized layers are fake-quantized in the forward pass with q's
 * activation parameters (straight through in the backward pass).
 *
 * qb_qat: the forward pass uses fake-quantized weights, the backward pass
 * updates m's float ("latent") weights straight through. Per scheme:
 *   affine (uniform-asym, uniform-sym): LSQ (Esser et al., 2020): each
 *       block's step size is learned with the weights (gradient scaled by
 *       1/sqrt(block size x positive levels)); weights beyond the range get
 *       no gradient;
 *   kmeans: weight sharing (Han et al., Deep Compression): each weight
 *       keeps its centroid, and each centroid moves by the summed gradient
 *       of its weights;
 *   binary, ternary: each block's alpha is learned (d w^/d alpha is the
 *       code; gradient scaled by 1/sqrt(block size) as LSQ's), the codes
 *       follow the latent weights (sign; ternary: |w| > TWN's threshold,
 *       0.7 mean |w| of the block, refitted every step); the latent weights
 *       stay within their block's starting max |w| and get no gradient
 *       beyond it (BinaryConnect's clip, XNOR-Net's hardtanh estimator);
 *   the others (pow2, floats): parameters refitted to the latent weights at
 *       every step, gradients straight through.
 *
 * qb_inq (Zhou et al., Incremental Network Quantization): 50%, then 75%,
 * 87.5% of each layer's weights, largest |w| first, are quantized with q's
 * parameters and frozen; the rest retrain between steps; the last step
 * quantizes everything.
 *
 * Both leave q ready to evaluate: q's weights are the final quantized
 * weights, q's other parameters (biases) m's trained ones, q's weight
 * parameters the trained or refitted ones. Pruning masks (may be NULL)
 * keep pruned weights at zero throughout. When o->stop_after ends the
 * sitting early (res->stopped), q is left as it was: rerun to resume.
 * Error convention: common/status.h. */
#ifndef QB_QAT_H
#define QB_QAT_H

#include "finetune.h"
#include "prune.h"
#include "qeval.h"

qb_status qb_qat(qb_model *m, qb_qmodel *q, const qb_prune_masks *masks, const qb_fmnist *data,
                 const qb_finetune_options *o, qb_finetune_result *res);

/* o->epochs is per retraining step (three steps: after 50%, 75%, 87.5%). */
qb_status qb_inq(qb_model *m, qb_qmodel *q, const qb_prune_masks *masks, const qb_fmnist *data,
                 const qb_finetune_options *o, qb_finetune_result *res);

#endif
