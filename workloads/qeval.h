/* Quantized evaluation: how much accuracy a model loses under a
 * quantization config, measured the way docs/ARCHITECTURE.md says:
 *
 *   1. the model is loaded and its BatchNorms folded into the convolutions
 *      (what an integer engine runs); the fp32 reference runs on the 10,000
 *      test images once;
 *   2. one observer per conv/dense layer records that layer's input
 *      activations on the 1,000-image calibration slice (held-out training
 *      images, never test images), once: an observer answers every
 *      calibration method;
 *   3. per config: each conv/dense weight is fake-quantized (as a 2-D
 *      (out, fan_in) matrix, so "channel" means output channel and group:N
 *      runs along the fan-in), each layer's input activations get a
 *      per-tensor range from its observer, and the test set runs again with
 *      the inputs fake-quantized through the engine's input hook;
 *   4. accuracy, the drop with a 95% paired interval, top-1 agreement, KL,
 *      model size, and the per-image correctness bits are returned.
 *
 * qb_qeval_quantize and qb_qeval_evaluate are separate so that correction
 * methods can change a quantized model (weights, biases, ranges) before it
 * is evaluated, and integer executors can read the exact parameters.
 * Error convention: common/status.h. */
#ifndef QB_QEVAL_H
#define QB_QEVAL_H

#include <stdint.h>
#include "dataset.h"
#include "exec.h"
#include "model.h"
#include "observer.h"
#include "pool.h"
#include "quant.h"

#define QB_FLOAT_BITS 32 /* wbits/abits value meaning "not quantized" */

typedef struct {
    qb_quant_config weights;     /* scheme, bits, granularity, calib, rounding for weights */
    qb_quant_config activations; /* per-tensor; scheme, bits, calib for layer inputs */
    int wbits, abits;            /* QB_FLOAT_BITS: keep float (the configs' bits are then unused) */
    int keep_first_last;         /* > 0: first and last conv/dense layers at this many bits
                                  * (same scheme if it takes them, else uniform-sym weights and
                                  * uniform-asym inputs); QB_FLOAT_BITS keeps them float */
    int only_layer;              /* -1: every conv/dense layer; else only this (folded) layer index */
    const int *layer_wbits;      /* NULL, or per (folded) layer: > 0 sets that layer's weight
                                  * bits in the weights' scheme (mixed precision), 0 keeps the
                                  * rule above; the caller owns the array */
} qb_qeval_config;

/* A config from the names the CLI and spec files use. ascheme NULL picks
 * the activation scheme for `scheme`: the same float format for fp16, bf16
 * and fp8-*, else uniform-asym (8-bit affine codes, as integer kernels
 * consume them). granularity applies to weights; calib to both, except that
 * kl (an activation method) calibrates weights by minmax. */
qb_status qb_qeval_config_parse(qb_qeval_config *c, const char *scheme, int wbits, int abits,
                                const char *granularity, const char *calib, const char *ascheme);

typedef struct qb_qeval qb_qeval;

/* Loads the model file, folds BN, runs the fp32 reference on data->test and
 * calibration observers on data->calib. Fails with QB_ERR_ARG when the
 * model's input shape does not match the data's. pool may be NULL. */
qb_status qb_qeval_open(qb_qeval **out, const char *model_path, const qb_fmnist *data,
                        qb_pool *pool);
void qb_qeval_close(qb_qeval *ev);
/* The pool later calls (qb_qeval_evaluate, qb_qeval_run) use; NULL for one
 * thread. The sweep opens an evaluator once and evaluates each config in a
 * forked child process, where the opening pool's threads do not exist. */
void qb_qeval_set_pool(qb_qeval *ev, qb_pool *pool);

const qb_model *qb_qeval_model(const qb_qeval *ev); /* folded fp32 model */
double qb_qeval_fp32_accuracy(const qb_qeval *ev);  /* percent */
uint64_t qb_qeval_fp32_size(const qb_qeval *ev);    /* bytes of float32 weights and biases */
/* The observer of layer i's input (conv/dense layers; NULL otherwise). */
const qb_observer *qb_qeval_observer(const qb_qeval *ev, int layer);
/* The data and pool it was opened with (corrections calibrate and train on
 * the same). */
const qb_fmnist *qb_qeval_data(const qb_qeval *ev);
qb_pool *qb_qeval_pool(const qb_qeval *ev);
/* Indices of the first and last conv/dense layers of the folded model. */
void qb_qeval_first_last(const qb_qeval *ev, int *first, int *last);

/* A quantized model: the folded model with fake-quantized weights, and per
 * layer the parameters used (index = layer index of the folded model). */
typedef struct {
    qb_model model;
    int *wbits, *abits;   /* per layer; QB_FLOAT_BITS where not quantized */
    qb_qparams *wq, *aq;  /* per layer; .scale == NULL where not quantized */
    uint64_t size_bytes;  /* weights (codes + parameters), biases as float32,
                           * activation parameters */
    int measure_inputs;   /* evaluation also sums each quantized input's signal
                           * and noise (act_signal, act_noise); costs a pass */
} qb_qmodel;

qb_status qb_qeval_quantize(const qb_qeval *ev, const qb_qeval_config *c, qb_qmodel *out);
/* The same for m, ev's folded model after a change that keeps its graph
 * (equalized, pruned, fine-tuned weights), with input observers obs (one
 * per layer, as qb_qeval_observer's) recorded on m. The result is still
 * evaluated against ev's own fp32 reference. */
qb_status qb_qeval_quantize_from(const qb_qeval *ev, const qb_model *m, qb_observer *const *obs,
                                 const qb_qeval_config *c, qb_qmodel *out);
void qb_qmodel_free(qb_qmodel *q);

typedef struct {
    int n;                          /* test images */
    double accuracy, fp32_accuracy; /* percent */
    double drop_pp;                 /* fp32_accuracy - accuracy */
    double drop_ci_low, drop_ci_high; /* 95% interval of the drop (Agresti-Min, paired) */
    long long fp32_only, quant_only; /* discordant pairs: right only in fp32 / only quantized */
    double mcnemar_p;               /* McNemar mid-p for "no change" */
    double agreement;               /* percent of images with the fp32 top-1 */
    double kl;                      /* mean KL(fp32 softmax || quantized softmax), nats */
    uint64_t size_bytes, fp32_size_bytes;
    uint8_t *correct;               /* n bits, bit i = image i right, little-endian
                                     * (docs/csv-schema.md outcomes.csv); malloc'ed */
    /* per layer (folded index), for conv/dense layers whose input was
     * quantized, when q->measure_inputs: sums over the test set of x^2 and
     * (fq(x) - x)^2 (zero otherwise) */
    double *act_signal, *act_noise;
    int n_layers;
    /* what preparing the quantized model cost (calibration passes,
     * corrections, fine-tuning; workloads/protect.h measures it): NAN when
     * not measured */
    double prep_seconds;
    double prep_peak_mb;            /* peak resident memory growth, MB */
} qb_qeval_result;

qb_status qb_qeval_evaluate(const qb_qeval *ev, const qb_qmodel *q, qb_qeval_result *res);
void qb_qeval_result_free(qb_qeval_result *r);

/* Runs m over `images` in batches of up to QB_QEVAL_BATCH, with hooks
 * (may be NULL), calling fn with each batch's first image index, size and
 * logits; stops at fn's first failure. */
#define QB_QEVAL_BATCH 250
typedef qb_status (*qb_batch_fn)(void *ctx, int first, int n, const float *logits);
qb_status qb_images_forward(qb_model *m, const qb_images *images, qb_pool *pool,
                            const qb_exec_hooks *hooks, qb_batch_fn fn, void *ctx);

/* quantize + evaluate. */
qb_status qb_qeval_run(const qb_qeval *ev, const qb_qeval_config *c, qb_qeval_result *res);

/* Per-layer analysis: one row per conv/dense layer, each from a run with
 * only that layer quantized (weights and input). */
typedef struct {
    int layer;            /* folded model index */
    char name[QB_NAME_LEN];
    qb_layer_kind kind;
    int wbits, abits;
    double weight_sqnr_db, act_sqnr_db; /* +inf when exact; NaN when not quantized */
    double sensitivity_pp;              /* accuracy drop with only this layer quantized */
} qb_layer_report;

/* rows: malloc'ed array of *n rows. */
qb_status qb_qeval_layers(const qb_qeval *ev, const qb_qeval_config *c, qb_layer_report **rows,
                          int *n);

/* The 95% interval of a paired difference of proportions (percentage
 * points) from the discordant counts b (right before only) and c (right
 * after only) among n pairs: Agresti and Min's (2005) adjusted Wald
 * interval, which adds 1/2 to each cell of the 2x2 table. */
void qb_paired_drop_ci(long long b, long long c, long long n, double *lo, double *hi);

/* Bit i of a packed little-endian bit array. */
static inline int qb_bit(const uint8_t *bits, int64_t i) { return bits[i >> 3] >> (i & 7) & 1; }

#endif
