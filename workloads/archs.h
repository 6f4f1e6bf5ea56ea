/* The reference architectures, one table entry each: how to build the graph
 * and the training recipe `qbench train NAME` uses by default. Adding an
 * architecture is one builder function and one entry in archs.c. */
#ifndef QB_ARCHS_H
#define QB_ARCHS_H

#include "model.h"
#include "status.h"

typedef struct {
    int epochs, batch;
    float lr;           /* peak learning rate (cosine decay to 0 over the run) */
    int warmup_epochs;  /* linear warm-up from lr/10 */
    float momentum, weight_decay;
    int crop_pad;       /* random crop after zero padding by this many pixels (0: off) */
    int flip;           /* random horizontal flip */
} qb_train_recipe;

typedef struct {
    const char *name;     /* "mlp", "lenet", "resnet" */
    const char *summary;  /* one line for `qbench models` and --help */
    qb_status (*build)(qb_model *m, int in_c, int in_h, int in_w, int n_classes);
    qb_train_recipe recipe;
} qb_arch;

extern const qb_arch qb_archs[];
extern const int qb_n_archs;

/* The entry named `name`, or NULL with an error listing the known ones. */
const qb_arch *qb_arch_find(const char *name);

/* Builds architecture `name` for Fashion-MNIST-shaped input (1x28x28, 10
 * classes) or any other input shape; parameters are zero (see
 * qb_model_init_params). */
qb_status qb_arch_build(const char *name, int in_c, int in_h, int in_w, int n_classes,
                        qb_model *m);

#endif
