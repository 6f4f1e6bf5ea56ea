/* Magnitude pruning (the model simplification of Deep Compression): in
 * every conv/dense layer the given share of weights with the smallest |w|
 * becomes zero and stays zero (a mask), and the layer is then stored in a
 * sparse format: a bitmap of the non-zero positions plus the non-zero
 * weights' codes, whenever that is smaller than the dense codes.
 * Error convention: common/status.h. */
#ifndef QB_PRUNE_H
#define QB_PRUNE_H

#include <stdint.h>
#include "model.h"
#include "quant.h"

/* Per layer (index of m): NULL for layers without weights, else a mask of
 * the weight's shape, 1 kept and 0 pruned. */
typedef struct {
    int n_layers;
    float **mask;
} qb_prune_masks;

/* Zeroes pct percent (0 < pct < 100) of each conv/dense layer's weights,
 * the smallest in magnitude (ties broken by position), and records masks. */
qb_status qb_prune(qb_model *m, double pct, qb_prune_masks *out);
void qb_prune_masks_free(qb_prune_masks *pm);
/* w *= mask for every layer of m (re-applies the pruning). */
void qb_prune_apply(const qb_prune_masks *pm, qb_model *m);

/* Bytes of n weights of which nnz are non-zero, stored sparse: an n-bit
 * bitmap, the nnz codes at p's bits (float32 when p is NULL: a float
 * layer) and p's per-block parameters. */
uint64_t qb_sparse_size_bytes(const qb_qparams *p, int64_t n, int64_t nnz);

#endif
