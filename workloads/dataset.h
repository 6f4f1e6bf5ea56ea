/* Fashion-MNIST for qbench: 70,000 28x28 grey images of 10 clothing classes,
 * read from the IDX files Debian's `dataset-fashion-mnist` installs.
 *
 * The split is part of qbench's methodology and fixed here, once:
 *   train: training images 0..58,999  (the only images ever trained on)
 *   calib: training images 59,000..59,999 (held out: calibration of
 *          quantization ranges and correction methods; never trained on)
 *   test:  the 10,000 test images (evaluation only)
 *
 * Images are kept as bytes; qb_images_batch() turns a selection into the
 * normalised float NCHW input every model expects. */
#ifndef QB_DATASET_H
#define QB_DATASET_H

#include <stdint.h>
#include "status.h"
#include "tensor.h"

#define QB_FMNIST_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"
#define QB_FMNIST_NAME "fashion-mnist"
#define QB_FMNIST_CALIB 1000
#define QB_FMNIST_CLASSES 10
/* Per-pixel normalisation, x = (byte / 255 - mean) / std: the training
 * set's own mean and standard deviation. */
#define QB_FMNIST_MEAN 0.2860f
#define QB_FMNIST_STD 0.3530f

/* A view of n images (c x h x w bytes each) with their labels. */
typedef struct {
    int n, c, h, w;
    const uint8_t *pixels; /* (n, c, h, w) */
    const uint8_t *labels; /* (n,), each < n_classes */
    int n_classes;
} qb_images;

typedef struct {
    qb_images train, calib, test; /* views into the tensors below */
    qb_tensor train_pixels, train_labels, test_pixels, test_labels; /* owned */
    char dir[512];                /* where the files were read from */
} qb_fmnist;

/* The data folder: `flag` (--data) if given, else $QBENCH_DATA, else
 * QB_FMNIST_DEFAULT_DIR. */
const char *qb_dataset_dir(const char *flag);

/* Loads the four files from `dir` ("name.gz" or uncompressed "name").
 * A missing folder or file fails with QB_ERR_IO and says how to install the
 * data (make deps / apt-get install dataset-fashion-mnist / --data DIR);
 * bad files fail with QB_ERR_FORMAT naming the file and the problem. */
qb_status qb_fmnist_load(const char *dir, qb_fmnist *out);
void qb_fmnist_free(qb_fmnist *d);

/* Writes images idx[0..n) of `d` into out (n, c, h, w) as normalised floats,
 * and their labels into labels (when not NULL). idx NULL means 0..n-1. */
void qb_images_batch(const qb_images *d, const int *idx, int n, float *out, int *labels);

/* First n images of `d` as a view (n clipped to d->n). */
qb_images qb_images_head(const qb_images *d, int n);

#endif
