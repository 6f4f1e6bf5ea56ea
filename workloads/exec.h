/* The fp32 engine: runs a qb_model (model.h) forward, and backward, over a
 * batch of NCHW images, layer by layer, each layer split over images on a
 * common/pool.h pool.
 *
 * Two modes:
 *   QB_EXEC_INFER  BN uses its running statistics. The batch goes through
 *                  the network depth-first in sub-batches small enough for
 *                  activations to stay in L2; buffers are reused as soon as
 *                  no later layer reads them, and a ReLU that is a layer's
 *                  only reader is fused into it.
 *   QB_EXEC_TRAIN  BN uses batch statistics and updates its running ones;
 *                  every activation is kept for qb_exec_backward().
 *
 * Results do not depend on the number of threads: every reduction over the
 * batch (BN statistics, weight gradients) is done in QB_EXEC_CHUNKS fixed
 * image chunks, summed in chunk order.
 *
 * Hooks (all optional) let quantization and analysis see and change what
 * flows, without touching the engine. They run on the calling thread, once
 * per layer per forward with the whole batch in TRAIN mode, and once per
 * layer per sub-batch (in order) in INFER mode; `batch` says how many
 * images the pointer holds:
 *   input   before a conv/dense layer computes, on a private copy of its
 *           input (batch x in_numel floats) that it may change in place:
 *           fake-quantization of activations. Backward treats the change as
 *           the identity (straight-through estimator).
 *   weight  the weights a conv/dense layer should use instead of its own
 *           (a fake-quantized copy owned by the hook), or NULL. Gradients
 *           are still written to the layer's own parameters (straight
 *           through).
 *   output  after any layer computes, its output (batch x out_numel),
 *           read only: observers, per-layer error analysis. Disables ReLU
 *           fusion so every layer's own output is seen. */
#ifndef QB_EXEC_H
#define QB_EXEC_H

#include "model.h"
#include "pool.h"
#include "status.h"

#define QB_EXEC_CHUNKS 8

typedef enum { QB_EXEC_INFER, QB_EXEC_TRAIN } qb_exec_mode;

typedef struct {
    void *ctx;
    void (*input)(void *ctx, int layer, float *x, int batch);
    const float *(*weight)(void *ctx, int layer);
    void (*output)(void *ctx, int layer, const float *y, int batch);
} qb_exec_hooks;

typedef struct qb_exec qb_exec;

/* An executor for batches of up to max_batch images. `m` must outlive it;
 * TRAIN mode writes m's BN running statistics and parameter gradients
 * (allocated here). pool may be NULL (single thread). */
qb_status qb_exec_create(qb_exec **out, qb_model *m, int max_batch, qb_pool *pool,
                         qb_exec_mode mode);
void qb_exec_free(qb_exec *e);

/* NULL removes the hooks. The struct is copied. */
void qb_exec_set_hooks(qb_exec *e, const qb_exec_hooks *hooks);

/* Per-layer timing, off by default: with seconds set (n_layers entries),
 * every forward adds each layer's wall time (all sub-batches, hooks
 * included) to seconds[layer]. NULL turns it off. */
void qb_exec_set_profile(qb_exec *e, double *seconds);

/* x: (batch, in_c, in_h, in_w). */
qb_status qb_exec_forward(qb_exec *e, const float *x, int batch);

/* After a forward: the logits (batch, n_classes). */
const float *qb_exec_logits(const qb_exec *e);
/* A layer's output (batch, c, h, w): every layer in TRAIN mode; in INFER
 * mode only the last one (use the output hook for the others). */
const float *qb_exec_output(const qb_exec *e, int layer);

/* Backward through the last forward (TRAIN mode) of the mean softmax
 * cross-entropy against labels: sets every trainable parameter's grad to
 * d(loss)/d(param) for this batch. loss (mean) and correct (top-1 count)
 * may be NULL. */
qb_status qb_exec_backward(qb_exec *e, const int *labels, float *loss, int *correct);
/* The same from a given gradient of the logits (batch, n_classes). */
qb_status qb_exec_backward_from(qb_exec *e, const float *dlogits);
/* The gradient w.r.t. the model input after a backward (batch, in_c, in_h,
 * in_w), or NULL when qb_exec_want_input_grad was not set before it. */
const float *qb_exec_input_grad(const qb_exec *e);
void qb_exec_want_input_grad(qb_exec *e, int want);

#endif
