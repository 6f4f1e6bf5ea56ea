/* What quantization-aware fine-tuning (qat.c) and progressive quantization
 * (inq.c) share: the input hook that fake-quantizes activations as the
 * quantized model will, pruning masks, checkpointed state tensors for the
 * parameters they learn, and copying the result into the quantized model.
 * Internal to workloads/. Error convention: common/status.h. */
#ifndef QB_FTSHARED_H
#define QB_FTSHARED_H

#include "qeval.h"
#include "safetensors.h"

/* The first member of a method's hook context. */
typedef struct {
    qb_qmodel *q;      /* activation parameters and widths per layer */
    qb_status status;  /* the first failure inside a hook */
} qb_ft_base;

/* exec input hook: fake-quantizes layer `layer`'s input in place with
 * q->aq[layer] where q->abits[layer] is not float. */
void qb_ft_input(void *ctx, int layer, float *x, int batch);

/* v *= mask (mask NULL: nothing). */
void qb_ft_mask(float *v, const float *mask, int64_t n);

/* Named float arrays a checkpoint saves and restores in place. */
typedef struct {
    int n_layers, n, cap;
    float **momentum;        /* per layer, or NULL: momentum of its learned values */
    qb_tensor *tensors;      /* views (data not owned, except momentum arrays) */
    qb_named_tensor *named;  /* n entries pointing at tensors */
    char **names;
} qb_ft_state;

qb_status qb_ft_state_init(qb_ft_state *st, int n_layers);
/* Registers `values` (n floats, updated in place) of layer i as
 * "<prefix>.<what>.<param>"; with_momentum adds a zeroed momentum array
 * "<prefix>.<what>_momentum.<param>" (qb_ft_state_momentum). */
qb_status qb_ft_state_add(qb_ft_state *st, int layer, const char *prefix, const char *what,
                          const char *param, float *values, int64_t n, int with_momentum);
float *qb_ft_state_momentum(qb_ft_state *st, int layer);
void qb_ft_state_free(qb_ft_state *st);

/* q's model takes m's parameters: for quantized conv/dense layers the
 * weights come from weights[i] (when weights and weights[i] are not NULL)
 * and are stored as they are (already quantized values). */
qb_status qb_ft_refresh(qb_qmodel *q, const qb_model *m, float *const *weights);

#endif
