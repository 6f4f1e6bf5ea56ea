/* Calibration passes for the corrections: run images through a model whose
 * conv/dense inputs are fake-quantized the way a qb_qmodel says (exactly
 * as qb_qeval_evaluate will), with taps that see each layer's input as it
 * computes with it and each layer's output. Bias correction measures
 * output means this way, GPTQ and AdaRound collect their Hessians, the
 * mixed-precision search scores allocations.
 * Error convention: common/status.h. */
#ifndef QB_QFORWARD_H
#define QB_QFORWARD_H

#include "dataset.h"
#include "model.h"
#include "pool.h"
#include "qeval.h"

typedef struct {
    void *ctx;
    /* the input conv/dense `layer` computes with (after fake-quantization),
     * (batch, in_numel); return non-OK to stop the pass */
    qb_status (*input)(void *ctx, int layer, const float *x, int batch);
    /* any layer's output (batch, out_numel) */
    qb_status (*output)(void *ctx, int layer, const float *y, int batch);
} qb_taps;

/* Runs `images` through m. Layer i's input is fake-quantized with aq[i]
 * where abits[i] != QB_FLOAT_BITS (abits NULL: every input float). taps
 * and fn (each batch's logits, as qb_images_forward) may be NULL. */
qb_status qb_forward_quantized(qb_model *m, const int *abits, const qb_qparams *aq,
                               const qb_images *images, qb_pool *pool, const qb_taps *taps,
                               qb_batch_fn fn, void *ctx);

/* The same with q's model and activation parameters. */
qb_status qb_forward_qmodel(qb_qmodel *q, const qb_images *images, qb_pool *pool,
                            const qb_taps *taps, qb_batch_fn fn, void *ctx);

/* Logits of m (float inputs) on `images`: (images->n, n_classes), malloc'ed. */
qb_status qb_forward_logits(qb_model *m, const qb_images *images, qb_pool *pool, float **logits);

#endif
