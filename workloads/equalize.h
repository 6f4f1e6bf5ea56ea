/* Cross-layer equalization (Nagel et al., "Data-free quantization", 2019)
 * of a folded model (BatchNorm already in the convolutions): every
 * conv/dense layer A whose output reaches exactly one conv/dense layer B
 * through a chain of ReLU, max pooling, global average pooling and
 * flatten (each the only reader of the one before) is a pair; channel i of
 * A is divided by s_i and the inputs of B that read channel i multiplied
 * by s_i (quantizers/chanstats.h picks s_i), which leaves the float
 * network's function unchanged because each link is positively
 * homogeneous. Residual joins (add) end a chain: both branches would have
 * to agree. Error convention: common/status.h. */
#ifndef QB_EQUALIZE_H
#define QB_EQUALIZE_H

#include "model.h"

/* Equalizes every pair of m, sweeping over the pairs until the scales
 * settle (at most `max_rounds` sweeps). *pairs (may be NULL) gets the
 * number of pairs found. */
qb_status qb_equalize(qb_model *m, int max_rounds, int *pairs);

/* Layer b if conv/dense layer a forms a pair with it (see above), else -1. */
int qb_equalize_partner(const qb_model *m, int a);

#endif
