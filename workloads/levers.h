/* The precision-protection levers as values: a `correction` (what is done
 * to keep accuracy when a model is quantized) and a `policy` (which layers
 * get which bit widths). These are the names `qbench eval --correction C
 * --policy P` and the sweep spec's `correction` and `policy` keys take;
 * this file is the one parser of both.
 *
 * correction: `none`, or steps joined by `+`, applied in this order
 * whatever order they are written in:
 *   cle         cross-layer equalization of conv/dense pairs joined by ReLU
 *               (and max pooling), before the weights are quantized
 *   prune:P     magnitude pruning of P% of each conv/dense layer's weights
 *               (0 < P < 100); sizes count the sparse format
 *   adaround    learned rounding per layer (calibration data)
 *   gptq        Hessian-compensated rounding per layer (calibration data)
 *   inq[:E]     progressive quantization: 50%, 75%, 87.5%, 100% of each
 *               layer's weights (largest first) frozen to levels, retraining
 *               the rest for E epochs between steps
 *   qat[:E]     quantization-aware fine-tuning for E epochs (fake
 *               quantization, straight-through gradients, learned step
 *               sizes; k-means codebooks are fine-tuned as shared weights)
 *   bias        empirical bias correction, last
 * At most one of adaround, gptq, inq, qat. E may be fractional (0.5: half
 * the training images); without it a default per model applies.
 *
 * policy: `uniform` (every conv/dense layer at wbits); `first-last:B` (the
 * first and last at B bits; 32 keeps them float); `mixed:size=S` (per-layer
 * weight bits from measured sensitivity, total weight size at most S:
 * bytes, with k/M suffix (1000s), or a percentage of the fp32 model,
 * `mixed:size=15%`); `mixed:drop=D` (the smallest allocation whose
 * accuracy drop on the calibration images is at most D points). Mixed
 * policies choose among the scheme's widths from 2 up to wbits.
 * Error convention: common/status.h. */
#ifndef QB_LEVERS_H
#define QB_LEVERS_H

#include <stddef.h>
#include "status.h"

typedef enum {
    QB_ROUNDING_NEAREST, /* plain quantization */
    QB_ROUNDING_ADAROUND,
    QB_ROUNDING_GPTQ,
    QB_ROUNDING_INQ,
    QB_ROUNDING_QAT
} qb_weight_method;

typedef struct {
    int cle;                 /* cross-layer equalization first */
    double prune_pct;        /* > 0: magnitude pruning to this sparsity, percent */
    qb_weight_method method; /* how weights reach their levels */
    double epochs;           /* inq/qat: epochs (inq: per step); 0: the model's default */
    int bias;                /* bias correction last */
} qb_correction;

/* Parses `text` (see above); `what` names the flag or spec key in errors. */
qb_status qb_correction_parse(const char *what, const char *text, qb_correction *out);
/* The canonical form ("cle+adaround+bias", "none"). */
const char *qb_correction_str(const qb_correction *c, char *buf, size_t len);
/* Whether the levers train the model (inq, qat). */
int qb_correction_trains(const qb_correction *c);

typedef enum {
    QB_POLICY_UNIFORM,
    QB_POLICY_FIRST_LAST,
    QB_POLICY_MIXED_SIZE,
    QB_POLICY_MIXED_DROP
} qb_policy_kind;

typedef struct {
    qb_policy_kind kind;
    int bits;           /* first-last: the kept layers' bits */
    double size_bytes;  /* mixed size: budget in bytes (when size_pct == 0) */
    double size_pct;    /* mixed size: budget in percent of the fp32 size */
    double drop_pp;     /* mixed drop: budget in accuracy points */
} qb_policy;

qb_status qb_policy_parse(const char *what, const char *text, qb_policy *out);
const char *qb_policy_str(const qb_policy *p, char *buf, size_t len);

#endif
