/* Fine-tuning a (folded) model with the trainer's pieces (train.h): SGD
 * with momentum and weight decay, random crop and flip, shuffles and
 * augmentations from one seed, a cosine learning rate per segment, on the
 * 59,000 training images (never the calibration or test images). The
 * quantization-aware methods plug in through hooks: fake quantization in
 * the forward pass (exec hooks), gradient surgery after the backward pass
 * (straight-through estimators, masks, learned step sizes), projections
 * after each step (frozen or shared weights), and a callback at the start
 * of each segment (progressive quantization's next share of weights).
 *
 * A run is `segments` segments of `epochs` epochs each (fractions allowed:
 * 0.5 is half the training images); step t always sees the same images
 * with the same augmentation, so a run resumed from its checkpoint (saved
 * after every epoch and at the end of every segment: parameters, momentum
 * and the hooks' state tensors) continues exactly. A finished checkpoint is
 * kept: a rerun with the same tag restores the result without training.
 * Error convention: common/status.h. */
#ifndef QB_FINETUNE_H
#define QB_FINETUNE_H

#include <stdio.h>
#include "archs.h"
#include "dataset.h"
#include "exec.h"
#include "model.h"
#include "pool.h"
#include "safetensors.h"

typedef struct {
    qb_train_recipe recipe; /* lr (peak of each segment's cosine), batch, momentum,
                             * weight_decay, crop_pad, flip; epochs and warm-up unused */
    double epochs;          /* per segment, > 0 */
    int segments;           /* >= 1 */
    uint64_t seed;
    const char *checkpoint; /* NULL: no checkpoint */
    const char *tag;        /* what the run is (method, config): a checkpoint with another
                             * tag is refused rather than resumed */
    const char *lever;      /* the method's name for messages ("qat", "inq"; NULL: "fine-tuning") */
    FILE *log;              /* a line per epoch and segment (NULL: quiet) */
    int64_t stop_after;     /* > 0: end the sitting after this many steps in total, saving the
                             * checkpoint (res->stopped); a rerun resumes */
    qb_pool *pool;
} qb_finetune_options;

typedef struct {
    void *ctx;
    qb_exec_hooks exec;                                  /* fake quantization in the forward */
    qb_status (*begin_segment)(void *ctx, int segment);  /* before segment k's first step */
    qb_status (*begin_step)(void *ctx);                  /* before each forward */
    qb_status (*after_backward)(void *ctx);              /* gradients are in the params' grad */
    qb_status (*after_step)(void *ctx, float lr);        /* after the SGD update */
    const qb_named_tensor *state;                        /* the hooks' state, checkpointed */
    int n_state;
} qb_finetune_hooks;

typedef struct {
    int64_t steps;          /* optimisation steps in the run */
    int64_t resumed_at;     /* step the run resumed from (0: fresh) */
    double final_loss;      /* mean training loss of the last epoch (or part) trained */
    int stopped;            /* stop_after ended the sitting early */
} qb_finetune_result;

/* Fine-tunes m in place (allocating its gradients). hooks may be NULL.
 * A run that diverges (a non-finite loss, parameter or hook state tensor
 * after a step) stops with QB_ERR_ARG naming the lever, the epoch and step,
 * and the learning rate to lower. */
qb_status qb_finetune(qb_model *m, const qb_fmnist *data, const qb_finetune_options *o,
                      const qb_finetune_hooks *hooks, qb_finetune_result *res);

#endif
