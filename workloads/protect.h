/* Precision protection: a quantized model prepared with the levers of
 * levers.h (a correction and a policy) and evaluated like any other
 * config, with what the preparation cost.
 *
 * The steps, on a copy of the evaluation's folded float model:
 *   cle       equalize conv/dense pairs (equalize.h); activation ranges are
 *             then observed again on the calibration images;
 *   prune:P   magnitude pruning (prune.h), masks kept to the end;
 *   policy    first-last:B, or the mixed-precision search (mixedprec.h)
 *             choosing each layer's weight width;
 *   quantize  qb_qeval_quantize_from;
 *   adaround / gptq   layer-wise rounding (layerround.h);
 *   inq / qat         fine-tuning (qat.h) on the training images;
 *   bias      empirical bias correction (biascorr.h) against the float
 *             model (after equalization, before pruning and training);
 * then pruned weights are zeroed again and sizes count the sparse format.
 * The time and peak-memory growth of all of this is the preparation cost
 * (results.csv's prep_seconds and prep_peak_mb).
 * Error convention: common/status.h. */
#ifndef QB_PROTECT_H
#define QB_PROTECT_H

#include <stdint.h>
#include <stdio.h>
#include "levers.h"
#include "mixedprec.h"
#include "qeval.h"

typedef struct {
    qb_correction correction;
    qb_policy policy;
    /* fine-tuning (inq, qat); 0 / NULL: the model's defaults */
    double epochs;          /* overrides the correction's epochs (inq: per step) */
    float lr;               /* peak learning rate of each cosine segment */
    int batch;
    uint64_t seed;          /* shuffles and augmentation (default 1) */
    const char *checkpoint; /* fine-tuning state after every epoch; a rerun resumes from it */
    FILE *log;              /* a line per slow step (NULL: quiet) */
    int adaround_iters;     /* 0: AdaRound's default step count */
    int64_t stop_after;     /* fine-tuning: end the sitting after this many steps (tests) */
} qb_protect_options;

/* No levers: correction none, policy uniform, defaults. */
void qb_protect_options_init(qb_protect_options *o);
/* From the names the CLI and spec use; `what` names the flag or key. */
qb_status qb_protect_options_parse(qb_protect_options *o, const char *correction,
                                   const char *policy);

/* The fine-tuning defaults for a model, method and weight scheme (epochs;
 * inq: per step), learning rate and batch, from its training recipe: a
 * tenth of the recipe's peak rate; for QAT of schemes refitted every step
 * or with a learned alpha (binary, ternary, pow2, floats), whose weights
 * must move further, 0.4 of it (0.04 on resnet, which diverges at 0.4). */
void qb_protect_finetune_defaults(const char *arch, qb_weight_method method,
                                  const qb_scheme *scheme, double *epochs, float *lr, int *batch);

/* Rough seconds the levers of o add to preparing a model of `arch` with
 * `macs` multiply-adds per image and `layers` conv/dense layers, at
 * `gmacs` billion multiply-adds a second (for sweep plans and ETAs). */
double qb_protect_estimate_seconds(const qb_protect_options *o, const char *arch, double macs,
                                   int layers, double gmacs);

typedef struct {
    int n_layers;
    int *wbits, *abits;           /* per folded layer, as quantized (QB_FLOAT_BITS: float) */
    double prep_seconds;          /* wall time of the preparation */
    double prep_peak_mb;          /* peak resident memory growth during it; NAN: unknown */
    int equalized_pairs;          /* cle */
    int bias_corrected;           /* bias: layers whose bias moved */
    double *recon_nearest, *recon_corrected; /* adaround/gptq: per layer, NAN elsewhere */
    int64_t weights, nonzero;     /* prune: weights in conv/dense layers, and non-zero */
    int64_t finetune_steps;       /* inq/qat */
    double finetune_loss;         /* mean training loss of the last epoch */
    int mixed;                    /* a mixed policy ran: mix holds its search */
    qb_mixed_result mix;
} qb_protect_report;

void qb_protect_report_free(qb_protect_report *r);

/* The quantized model ev's model becomes under c and o (q: free with
 * qb_qmodel_free). rep may be NULL. */
qb_status qb_protect_quantize(const qb_qeval *ev, const qb_qeval_config *c,
                              const qb_protect_options *o, qb_qmodel *q, qb_protect_report *rep);

/* qb_protect_quantize then qb_qeval_evaluate; res->prep_seconds and
 * prep_peak_mb are filled. rep may be NULL. */
qb_status qb_protect_run(const qb_qeval *ev, const qb_qeval_config *c, const qb_protect_options *o,
                         qb_qeval_result *res, qb_protect_report *rep);

#endif
