/* The simulated (fake-quantized) evaluation's logits, computed the way
 * workloads/qeval.c does (the fp32 engine with each quantized layer's input
 * fake-quantized through the input hook), for tests that compare an
 * executor with it. */
#ifndef QB_TEST_QEVAL_SIM_H
#define QB_TEST_QEVAL_SIM_H

#include "qeval.h"

/* out: (n, n_classes) logits of q on n images x (NCHW). Fails the test on error. */
void qb_test_sim_logits(qb_qmodel *q, const float *x, int n, float *out);

#endif
