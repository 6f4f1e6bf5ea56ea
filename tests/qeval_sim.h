/* The simulated (fake-quantized) evaluation's logits, computed the way
 * workloads/qeval.c does (the fp32 engine with each quantized layer's input
 * fake-quantized through the input hook), for tests that compare an
 * executor with it. */
#ifndef QB_TEST_QEVAL_SIM_H
#define QB_TEST_QEVAL_SIM_H

#include "dataset.h"
#include "iexec.h"
#include "qeval.h"

/* out: (n, n_classes) logits of q on n images x (NCHW). Fails the test on error. */
void qb_test_sim_logits(qb_qmodel *q, const float *x, int n, float *out);

/* Runs executor e and the simulation of q on every image of `test`, 64 at a
 * time (x: room for 64 images), and returns how many top-1 predictions
 * differ. Each difference must be a near tie in the simulation's own logits
 * (a margin of at most 2% of their range: the one-code roundings the
 * executor is allowed move logits by up to ~1.2% through ResNet-20's 20
 * requantized layers); otherwise the test fails, naming the image. */
int qb_test_prediction_differences(qb_iexec *e, qb_qmodel *q, const qb_images *test, float *x);

/* Conv or dense layer l of `model` in double on nb NHWC inputs x (as the
 * executor holds them; padding reads 0.0), with the model's own weights
 * and bias: y (nb, h, w, c) NHWC, and mag = |bias| + sum |x w| per output.
 * A dense layer reading a flattened tensor takes its (c, h, w) weight
 * columns from the NHWC input. Before any ReLU. */
void qb_test_layer_double(const qb_model *model, int li, const double *x, int nb, double *y, double *mag);

#endif
