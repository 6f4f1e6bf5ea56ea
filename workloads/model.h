/* The model: a list of layers in execution (topological) order, each with
 * its kind, hyper-parameters, the layers it reads from, its output shape and
 * its named parameter tensors. This is the one representation every part of
 * qbench walks:
 *
 *   - the fp32 engine (exec.h) runs it forward and backward over a batch;
 *   - quantized evaluation fake-quantizes each conv/dense layer's weights (on
 *     a qb_model_clone) and its input activations (through the exec hooks);
 *   - the integer executor walks qb_model_fold_bn()'s result: conv and dense
 *     with bias, ReLU, max pool, global average pool, add, flatten;
 *   - correction methods read per-layer inputs/outputs through the hooks and
 *     train through exec.h's backward.
 *
 * Walking a model:
 *
 *     for (int i = 0; i < m->n_layers; i++) {
 *         const qb_layer *l = &m->layers[i];
 *         if (!qb_layer_has_weights(l)) continue;
 *         const qb_tensor *w = &l->params[QB_P_WEIGHT].value; // conv (out, in, kh, kw), dense (out, in)
 *         ...
 *     }
 *
 * Conventions: activations are NCHW float32; a layer's output shape is
 * (batch, c, h, w) with h = w = 1 for dense, flatten and global average
 * pooling outputs. inputs[k] is the index of a producing layer, or
 * QB_MODEL_INPUT for the model's input image. The last layer's output are
 * the logits. Parameter names follow PyTorch ("layer1.0.conv1.weight",
 * "bn1.running_mean"), so the .safetensors files read naturally elsewhere. */
#ifndef QB_MODEL_H
#define QB_MODEL_H

#include <stdint.h>
#include "status.h"
#include "tensor.h"

#define QB_MODEL_INPUT (-1)
#define QB_MODEL_BUILD_FAILED (-2) /* what a builder call returns after an error */
#define QB_NAME_LEN 48       /* layer names */
#define QB_PARAM_NAME_LEN 64 /* "<layer name>.<running_mean>" */
#define QB_LAYER_MAX_INPUTS 2
#define QB_LAYER_MAX_PARAMS 4

typedef enum {
    QB_LAYER_CONV,    /* Conv2d: params weight (out_ch, in_ch, kh, kw), optional bias (out_ch) */
    QB_LAYER_DENSE,   /* y = x W^T + b: weight (out, in), optional bias (out) */
    QB_LAYER_BN,      /* BatchNorm2d: weight=gamma, bias=beta, running_mean, running_var (c) */
    QB_LAYER_RELU,
    QB_LAYER_MAXPOOL, /* k x k window, stride, no padding */
    QB_LAYER_GAP,     /* global average pool: (c, h, w) -> (c, 1, 1) */
    QB_LAYER_ADD,     /* residual: inputs[0] + inputs[1], same shape */
    QB_LAYER_FLATTEN, /* (c, h, w) -> (c*h*w, 1, 1); data unchanged */
    QB_LAYER_KIND_COUNT
} qb_layer_kind;

/* Parameter slots: params[QB_P_WEIGHT] is a conv/dense weight or a BN gamma,
 * params[QB_P_BIAS] the bias or BN beta (absent: value.data == NULL). */
enum { QB_P_WEIGHT = 0, QB_P_BIAS = 1, QB_P_RUNNING_MEAN = 2, QB_P_RUNNING_VAR = 3 };

typedef struct {
    char name[QB_PARAM_NAME_LEN]; /* "layer1.0.conv1.weight" */
    qb_tensor value;        /* float32; data NULL when the slot is unused */
    qb_tensor grad;         /* same shape; allocated by qb_model_alloc_grads (else data NULL) */
    int trainable;          /* 0 for BN running statistics */
    int decay;              /* 1 when weight decay applies (conv and dense weights) */
} qb_param;

typedef struct {
    qb_layer_kind kind;
    char name[QB_NAME_LEN];             /* "layer1.0.conv1" */
    int inputs[QB_LAYER_MAX_INPUTS];    /* producing layers (or QB_MODEL_INPUT) */
    int n_inputs;                       /* 2 for ADD, else 1 */
    int in_c, in_h, in_w;               /* shape of inputs[0]'s output, per image */
    int c, h, w;                        /* output shape per image */
    int kh, kw, stride, pad;            /* conv; maxpool uses kh (= kw) and stride */
    float eps, momentum;                /* BN: variance epsilon, running-stat momentum (0.1) */
    qb_param params[QB_LAYER_MAX_PARAMS];
    int n_params;                       /* slots in use: conv/dense 2, BN 4, others 0 */
} qb_layer;

typedef struct {
    char arch[32];          /* "mlp", "lenet", "resnet" (how to rebuild the graph) */
    int in_c, in_h, in_w;   /* input image shape */
    int n_classes;
    qb_layer *layers;       /* n_layers, execution order; the last one gives the logits */
    int n_layers, cap_layers;
    qb_status build_status; /* first error met by the builder (sticky) */
} qb_model;

/* --- building (the architectures in archs.c use these) ------------------
 * Each add returns the new layer's index, or QB_MODEL_BUILD_FAILED after
 * recording an error in m->build_status (later adds then do nothing), so a
 * builder reads as a straight list and checks once with qb_model_finish(). Weights start as
 * zeros; qb_model_init_params() draws them. */
qb_status qb_model_begin(qb_model *m, const char *arch, int in_c, int in_h, int in_w,
                         int n_classes);
int qb_model_conv(qb_model *m, const char *name, int input, int out_ch, int k, int stride,
                  int pad, int bias);
int qb_model_dense(qb_model *m, const char *name, int input, int out, int bias);
int qb_model_bn(qb_model *m, const char *name, int input);
int qb_model_relu(qb_model *m, const char *name, int input);
int qb_model_maxpool(qb_model *m, const char *name, int input, int k, int stride);
int qb_model_gap(qb_model *m, const char *name, int input);
int qb_model_add(qb_model *m, const char *name, int a, int b);
int qb_model_flatten(qb_model *m, const char *name, int input);
/* Checks that the last layer yields n_classes logits; returns build_status. */
qb_status qb_model_finish(qb_model *m);

/* He-normal weights (std sqrt(2 / fan_in)), zero biases, BN gamma 1,
 * beta 0, running mean 0 and variance 1. Deterministic in `seed`. */
void qb_model_init_params(qb_model *m, uint64_t seed);

void qb_model_free(qb_model *m);
qb_status qb_model_clone(const qb_model *src, qb_model *dst); /* deep copy, grads not copied */

/* A copy for inference with every BN that directly follows a conv folded
 * into it (w' = w * g, b' = (b - mean) * g + beta, g = gamma / sqrt(var +
 * eps)); the BN layers disappear and indices are renumbered. */
qb_status qb_model_fold_bn(const qb_model *src, qb_model *dst);

/* Allocates (zeroed) gradient tensors for trainable parameters. */
qb_status qb_model_alloc_grads(qb_model *m);
void qb_model_zero_grads(qb_model *m);

/* --- queries ------------------------------------------------------------ */
const char *qb_layer_kind_name(qb_layer_kind k); /* "conv", "dense", "bn", ... */
/* Conv and dense: the layers that carry weights and do multiply-adds (the
 * ones quantization touches). */
int qb_layer_has_weights(const qb_layer *l);
int64_t qb_layer_out_numel(const qb_layer *l);   /* c*h*w per image */
int64_t qb_layer_in_numel(const qb_layer *l);    /* in_c*in_h*in_w per image */
int64_t qb_layer_macs(const qb_layer *l);        /* multiply-adds per image */
int64_t qb_model_macs(const qb_model *m);        /* per image */
int64_t qb_model_n_params(const qb_model *m);    /* float values, running stats included */
int qb_model_find_layer(const qb_model *m, const char *name); /* index or -1 */
/* The parameter named `name` ("fc.weight"), or NULL. */
qb_param *qb_model_find_param(qb_model *m, const char *name);
/* Indices of the weighted layers in order (array of up to n_layers). */
int qb_model_weighted_layers(const qb_model *m, int *out);

#endif
