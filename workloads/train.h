/* Training a reference model on Fashion-MNIST: SGD with momentum and weight
 * decay, a cosine learning-rate schedule after a short linear warm-up,
 * mini-batches, random crop (with zero padding) and horizontal flip, all
 * randomness from one seed. Each epoch's shuffle and augmentation come from
 * (seed, epoch) and the engine's results do not depend on the thread count,
 * so a run is reproducible bit for bit on one machine and GEMM library, and
 * a resumed run continues exactly where the checkpoint left it.
 *
 * Trains on the 59,000 training images only (dataset.h); reports accuracy
 * on the 1,000 held-out calibration images per epoch and on the test set
 * once, at the end. */
#ifndef QB_TRAIN_H
#define QB_TRAIN_H

#include <stdint.h>
#include <stdio.h>
#include "archs.h"
#include "dataset.h"
#include "model.h"
#include "pool.h"
#include "rng.h"

typedef struct {
    const char *arch;       /* architecture name (archs.h) */
    qb_train_recipe recipe; /* usually the arch's default, epochs maybe changed */
    uint64_t seed;
    int limit;              /* train on the first `limit` training images (0: all) */
    const char *out_path;   /* final model file */
    const char *checkpoint_path; /* written after every epoch */
    int resume;             /* continue from checkpoint_path if it exists */
    int stop_after;         /* > 0: stop after this epoch, leaving only the checkpoint */
    int progress;           /* redraw a progress line on stderr */
    FILE *log;              /* one line per epoch (NULL: none) */
    qb_pool *pool;          /* NULL: single thread */
} qb_train_options;

typedef struct {
    int epochs;             /* epochs done in total */
    int stopped;            /* 1: stopped early (stop_after); no model file written */
    int resumed_from;       /* epoch the run resumed after (0: fresh) */
    double seconds;         /* training time summed over sittings */
    double test_accuracy;   /* percent, fp32, 10,000 test images */
    double calib_accuracy;  /* percent, 1,000 held-out images */
    double final_loss;      /* mean training loss of the last epoch */
} qb_train_result;

/* Trains, then writes the model file with its metadata (and removes the
 * checkpoint), unless stop_after ends the sitting first. */
qb_status qb_train(const qb_train_options *o, const qb_fmnist *data, qb_train_result *res);

/* Top-1 accuracy (percent) of m on `images`, BN with running statistics. */
qb_status qb_accuracy(qb_model *m, const qb_images *images, qb_pool *pool, double *accuracy);

/* One augmented training image: crop at offset (dy, dx) in [-pad, pad] of
 * the zero-padded image and optionally mirror; src and dst are normalised
 * (c, h, w) floats, `background` the normalised value of a black pixel. */
void qb_augment_image(const float *src, float *dst, int c, int h, int w, int dy, int dx, int flip,
                      float background);

/* --- the trainer's pieces, shared with fine-tuning (workloads/finetune.h) --- */

/* Learning rate at step t of `total`: linear warm-up from lr/10 over
 * `warmup` steps, then cosine to 0. */
float qb_train_lr(const qb_train_recipe *r, int64_t t, int64_t total, int64_t warmup);

/* SGD with momentum and weight decay (PyTorch's: v = momentum v + (g + wd w);
 * w -= lr v; decay only where qb_param.decay), over every trainable
 * parameter of a model, in model order. */
typedef struct {
    int n;
    qb_param **params;
    qb_tensor *velocity;  /* momentum per parameter, same shape */
    char **names;         /* "optimizer.momentum.<param>", for checkpoints */
} qb_sgd;

qb_status qb_sgd_init(qb_sgd *o, qb_model *m);
void qb_sgd_step(qb_sgd *o, const qb_train_recipe *r, float lr);
void qb_sgd_free(qb_sgd *o);

/* This epoch's image order (a seeded shuffle of 0..n-1) and the generator
 * its augmentations draw from. */
qb_rng qb_train_epoch_order(uint64_t seed, int epoch, int *order, int n);
/* Images order[b0 .. b0+n) as a normalised, augmented batch x (n, c, h, w)
 * with their labels (tmp: one image of scratch). Each image's crop and flip
 * come from its own stream of epoch_rng, so batching does not change them. */
void qb_train_batch(const qb_train_recipe *r, const qb_images *train, const int *order, int b0,
                    int n, const qb_rng *epoch_rng, float *x, float *tmp, int *labels);

#endif
