/* Local (per-layer) quantization: the mixed-precision search behind the
 * `mixed:size=S` and `mixed:drop=D` policies.
 *
 *  1. Sensitivity: for every conv/dense layer and every candidate width
 *     (the weight scheme's widths from 2 up to the config's wbits), only
 *     that layer's weights are quantized and the calibration images run:
 *     the mean KL divergence of the outputs from the float model's, and
 *     the accuracy drop, are recorded.
 *  2. Allocation: the per-layer KLs, taken as additive, and each layer's
 *     size at each width go to quantizers/bitalloc.h, which returns the
 *     Pareto frontier of total size against total KL.
 *  3. Choice: a size budget takes the least sensitive frontier point that
 *     fits; a drop budget measures frontier points on the calibration
 *     images (with activations quantized as configured), bisecting for the
 *     smallest whose drop from the float model is within the budget.
 *     Eight points spread along the frontier are measured as well, so the
 *     explored size-vs-accuracy curve is always reported; a drop budget
 *     takes the smallest of all measured points within it.
 * Only calibration images are used: the test set stays for evaluation.
 * Error convention: common/status.h. */
#ifndef QB_MIXEDPREC_H
#define QB_MIXEDPREC_H

#include <stdint.h>
#include <stdio.h>
#include "levers.h"
#include "qeval.h"

#define QB_MIXED_MAX_WIDTHS 16

/* One measured allocation. */
typedef struct {
    uint64_t size_bytes;    /* the whole quantized model (as qb_qmodel.size_bytes) */
    double predicted_kl;    /* the frontier's summed per-layer KL, nats */
    double calib_accuracy;  /* percent, calibration images, activations quantized */
    double calib_drop_pp;   /* float model's calibration accuracy minus that */
    int chosen;
    int *wbits;             /* per folded layer (QB_FLOAT_BITS for layers without weights) */
} qb_pareto_point;

typedef struct {
    int n_layers, n_widths;
    int widths[QB_MIXED_MAX_WIDTHS];
    double *sens_kl, *sens_pp; /* (n_layers, n_widths), NAN for layers without weights */
    int *wbits;                /* chosen, per folded layer */
    qb_pareto_point *curve;    /* ascending size */
    int n_curve;
    int budget_met;            /* the chosen point meets the budget (a drop budget that even
                                * the widest allocation misses picks that, with 0 here) */
    double calib_fp32_accuracy;
} qb_mixed_result;

void qb_mixed_result_free(qb_mixed_result *r);

/* m: ev's folded model (possibly equalized or pruned) and obs its input
 * observers; c the config (wbits the widest width); pol a mixed policy. */
qb_status qb_mixed_search(const qb_qeval *ev, qb_model *m, qb_observer *const *obs,
                          const qb_qeval_config *c, const qb_policy *pol, FILE *log,
                          qb_mixed_result *out);

#endif
