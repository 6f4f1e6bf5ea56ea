/* The integer executor: runs a quantized model (qeval.h's qb_qmodel: the
 * BN-folded graph with its per-layer weight and activation parameters) on
 * the integer kernels, so that its speed is a deployment's and its
 * predictions are the simulated (fake-quantized) evaluation's.
 *
 * What it computes, layer by layer, on NHWC activations:
 *   - every conv/dense layer takes uint8 codes of its input, quantized with
 *     that layer's activation parameters exactly as the simulation does
 *     (the quantizer library's own rounding), and multiplies them with the
 *     integer weight codes (int8 kernels; ternary and binary weights on the
 *     2-bit kernel) into exact int32 sums;
 *   - where the simulation next quantizes the layer's output for another
 *     conv/dense layer, through ReLU, max pooling or flatten only, the sums
 *     are requantized straight to that layer's codes (fixed-point, ReLU as
 *     a clamp, pooling on codes: all commute with quantization);
 *   - elsewhere (residual adds, global average pooling, the logits) the
 *     output is float, (float)sum * s_x * s_w + bias, as in the simulation,
 *     and quantized again where a conv/dense layer reads it. A residual Add
 *     is computed in its later input's conv/dense epilogue (sum, plus the
 *     other input, then the Add's ReLU), and float outputs with a single
 *     reader's codes get them in the same epilogue: the same bits as the
 *     separate steps, in one pass.
 * Differences from the simulation are rounding steps of at most one code
 * unit each (see README.md, "Integer execution"): the simulation's fp32
 * sums of dequantized products vs exact integer sums; the bias rounded to
 * the accumulator's unit; the fixed-point multiplier (31 bits) vs a float
 * division. The tests count and bound them.
 *
 * Supported: conv, dense, ReLU, max pool, global average pool, add,
 * flatten; weights uniform-sym / uniform-asym (2..8 bits), pow2 (2..4
 * bits, as exact int8 codes: iweights.h), ternary or binary, per tensor or
 * per output channel; uniform-sym / uniform-asym weights of 2..4 bits with
 * scales per group of 8..1024 along the input (a multiple of 8) on the
 * 4-bit group kernel (qkernels.h, qb_q4a8_gemm: float output, the
 * activation scale and bias applied after the group sums, codes for the
 * next layer in the same epilogue); activations uniform-sym or
 * uniform-asym (2..8 bits) per tensor. fp8, bf16, fp16 and kmeans weights
 * take the float paths of iexec_float.h (bf16 kernels, fp32 sgemm), layer
 * by layer. Anything else fails with QB_ERR_UNSUPPORTED naming the layer
 * and what it needs.
 * Error convention: common/status.h. */
#ifndef QB_IEXEC_H
#define QB_IEXEC_H

#include "backend.h"
#include "pool.h"
#include "qeval.h"

typedef struct qb_iexec qb_iexec;

/* Prepares q for batches of up to max_batch images on backend be (NULL:
 * the best) with pool's threads (NULL: the calling thread): weights packed,
 * requantization constants computed, buffers allocated. q must outlive the
 * executor: every forward pass quantizes its inputs with q's activation
 * parameters. */
qb_status qb_iexec_create(qb_iexec **out, const qb_qmodel *q, const qb_backend *be, int max_batch,
                          qb_pool *pool);
void qb_iexec_free(qb_iexec *e);

/* x: (batch, in_c, in_h, in_w) float images, batch <= max_batch. This is the
 * call to time for one forward pass (latency: batch 1; throughput: larger). */
qb_status qb_iexec_forward(qb_iexec *e, const float *x, int batch);
/* After a forward: (batch, n_classes) logits. */
const float *qb_iexec_logits(const qb_iexec *e);

/* Inspection (tests, per-layer analysis), after a forward of a batch that
 * fits in one pass (qb_iexec_sub_batch), all NHWC:
 * the codes conv/dense `layer` read (stored as code + *offset, 128 for
 * signed codes); */
const uint8_t *qb_iexec_input_codes(const qb_iexec *e, int layer, int *offset);
/* a layer's output: *floats when it has a float form (else NULL), and
 * *codes when it has codes, for the parameters of conv/dense *consumer. */
void qb_iexec_layer_output(const qb_iexec *e, int layer, const float **floats, const uint8_t **codes,
                           int *consumer, int *offset);
/* 1 when a ReLU reading `layer` was folded into its requantization clamp. */
int qb_iexec_relu_fused(const qb_iexec *e, int layer);
/* For a conv/dense layer: the Add layer computed in its epilogue (its sums
 * plus the Add's other input, then the Add's ReLU), else -1. Such a layer's
 * floats (qb_iexec_layer_output) are the Add's output. */
int qb_iexec_add_fused(const qb_iexec *e, int layer);
/* Images per pass through the network (the batch is cut into these so
 * activations stay in cache). */
int qb_iexec_sub_batch(const qb_iexec *e);
/* Per-layer timing, off by default: with seconds set (n_layers + 1
 * entries), every forward adds each layer's wall time over all its
 * sub-batches to seconds[layer], and the input's layout change and
 * quantization to seconds[n_layers]. NULL turns it off. */
void qb_iexec_set_profile(qb_iexec *e, double *seconds);
/* What ran, for the results' backend column: the backend's name for the
 * integer kernels ("avx512-vnni"), "<backend>-int4g" for group-scaled
 * weights on the 4-bit group kernel, the float paths' labels otherwise
 * ("avx512-bf16", "onednn-fp32 (fp16 storage, F16C)", "onednn-fp32
 * (decoded kmeans)"; iexec_float.h), joined with '+' when layers differ. */
const char *qb_iexec_backend_label(const qb_iexec *e);
/* One line per layer: what runs and in which representation. */
void qb_iexec_describe(const qb_iexec *e, char *buf, size_t len);

#endif
