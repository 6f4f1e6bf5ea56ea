/* The quantizer API: a config (scheme, bits, granularity, calibration,
 * rounding) parsed from the names users write, per-block parameters
 * (qb_qparams) fitted to a weight tensor or taken from an activation
 * observer, and the operations: quantize to int32 codes, dequantize, and a
 * fused fake-quantize (x -> dequantize(quantize(x)), bit-identical to the
 * two steps, fast for the uniform schemes).
 *
 * Blocks. A tensor of shape (d0, ..., dk) with axis A is seen as
 * (outer, C, inner), C = dA. Granularity picks the blocks that share
 * parameters:
 *   tensor    one block;
 *   channel   C blocks, one per index along A (per-tensor on each slice);
 *   group:N   along A, runs of N consecutive indices (the last may be
 *             shorter) for each position of the other axes:
 *             outer * ceil(C/N) * inner blocks.
 * The per-block arrays have shape pshape: () for tensor, (C,) for channel
 * (ONNX's per-axis layout), and the tensor's shape with dA replaced by
 * ceil(C/N) for groups (ONNX's blocked layout).
 *
 * NaN is refused: quantize, fake-quantize and fit fail with QB_ERR_ARG
 * naming the first NaN's index. +-Inf saturate to the end codes, and fits
 * ignore them (as observers do).
 *
 * Error convention: common/status.h. */
#ifndef QB_QUANT_H
#define QB_QUANT_H

#include <stddef.h>
#include <stdint.h>
#include "calib.h"
#include "observer.h"
#include "scheme.h"
#include "tensor.h"

/* ---- configuration ---- */

typedef enum { QB_GRAN_TENSOR, QB_GRAN_CHANNEL, QB_GRAN_GROUP } qb_gran_kind;

typedef struct {
    qb_gran_kind kind;
    int axis;      /* channel/group axis; negative counts from the end (-1: last) */
    int64_t group; /* QB_GRAN_GROUP: indices per group along the axis */
} qb_granularity;

/* "tensor", "channel" (axis 0: output channels of a weight), "group:N"
 * (axis -1: along the input dimension). Set .axis afterwards to change it. */
qb_status qb_granularity_parse(const char *text, qb_granularity *out);
/* "tensor", "channel", "group:32" (the axis is not part of the text). */
const char *qb_granularity_str(const qb_granularity *g, char *buf, size_t len);

typedef enum { QB_ROUND_NEAREST, QB_ROUND_STOCHASTIC } qb_round_mode;

typedef struct {
    qb_round_mode mode;
    uint64_t seed; /* QB_ROUND_STOCHASTIC: the same seed and input give the same codes */
} qb_rounding;

/* "nearest" (ties to even, as ONNX), "stochastic" (seed 1), "stochastic:SEED". */
qb_status qb_rounding_parse(const char *text, qb_rounding *out);
const char *qb_rounding_str(const qb_rounding *r, char *buf, size_t len);

typedef struct {
    const qb_scheme *scheme;
    int bits;
    int narrow_range;   /* uniform-sym only: codes from -(2^(b-1)-1) */
    qb_granularity gran;
    qb_calib calib;
    qb_rounding rounding;
    uint64_t seed;      /* kmeans: k-means++ seeding (the same for every block) */
} qb_quant_config;

/* Scheme s with its default bits, tensor granularity, minmax, nearest. */
void qb_quant_config_init(qb_quant_config *c, const qb_scheme *s);
/* A config from the names a spec file or flags give; NULL (or bits 0) keeps
 * the default. Every error names the bad value and what is accepted. */
qb_status qb_quant_config_parse(qb_quant_config *c, const char *scheme, int bits,
                                const char *granularity, const char *calib,
                                const char *rounding);
/* Checks bits against the scheme, narrow_range, the group size. */
qb_status qb_quant_config_check(const qb_quant_config *c);
/* "uniform-sym b8 channel(axis 0) minmax nearest", for logs and reports. */
const char *qb_quant_config_str(const qb_quant_config *c, char *buf, size_t len);

/* ---- per-block parameters ---- */

typedef struct {
    const qb_scheme *scheme;
    int bits, narrow;
    int32_t qmin, qmax;      /* code range */
    qb_granularity gran;     /* axis resolved (>= 0) */
    qb_rounding rounding;    /* used by qb_quantize and qb_fake_quantize */
    int ndim;                /* the shape the parameters were made for */
    int64_t shape[QB_MAX_DIMS];
    int64_t outer, channels, inner; /* that shape as (outer, C, inner) around the axis */
    int64_t groups;          /* QB_GRAN_GROUP: ceil(C / group) */
    int64_t nblocks;
    int pndim;               /* shape of the per-block arrays */
    int64_t pshape[QB_MAX_DIMS];
    float *scale;            /* (nblocks) */
    int32_t *zero_point;     /* (nblocks) for uniform schemes, else NULL */
    float *threshold;        /* (nblocks) for ternary, else NULL */
    float *codebook;         /* (nblocks, 2^bits) for kmeans, else NULL */
} qb_qparams;

/* Allocates neutral parameters (scale 1, zero point 0) for a tensor of
 * `shape` under config c: fill them yourself (e.g. from an ONNX model) or
 * let qb_qparams_fit do it. A tensor-granularity qparams applies to any
 * number of values, a channel one to any multiple of C * inner (so batch
 * sizes may vary), a group one only to the shape it was made for. */
qb_status qb_qparams_alloc(qb_qparams *p, const qb_quant_config *c, int ndim,
                           const int64_t *shape);
void qb_qparams_free(qb_qparams *p);

/* Weights: each block calibrated over its own values, then fitted. */
qb_status qb_qparams_fit(qb_qparams *p, const qb_quant_config *c, const float *x, int ndim,
                         const int64_t *shape);
/* Activations: one block (c's granularity must be tensor) from an observer. */
qb_status qb_qparams_from_observer(qb_qparams *p, const qb_quant_config *c,
                                   const qb_observer *o);

/* Block b's parameters (for kernels and rounding corrections). */
qb_block qb_qparams_block(const qb_qparams *p, int64_t b);
/* The block of flat element i (C order) of a tensor of p's shape. */
int64_t qb_qparams_block_of(const qb_qparams *p, int64_t i);

/* ---- operations (x, q, y are n values in C order) ---- */

qb_status qb_quantize(const qb_qparams *p, const float *x, int64_t n, int32_t *q);
/* dir[i] is the qb_round_dir for x[i]: AdaRound/GPTQ-style corrections
 * choose per value between the levels below (QB_DIR_DOWN) and above. */
qb_status qb_quantize_directed(const qb_qparams *p, const float *x, int64_t n,
                               const uint8_t *dir, int32_t *q);
/* Fails on a code outside the scheme's code set (naming its index). */
qb_status qb_dequantize(const qb_qparams *p, const int32_t *q, int64_t n, float *y);
/* The same with codes in an integer array of dtype dt (int8, uint8, int16,
 * uint16 or int32), as integer kernels consume them: uint8 for 8-bit
 * uniform-asym (ONNX QuantizeLinear), int8 for uniform-sym, ... (see
 * qb_scheme_code_dtype). Fails if dt cannot hold the scheme's code range. */
qb_status qb_quantize_to(const qb_qparams *p, const float *x, int64_t n, qb_dtype dt, void *codes);
qb_status qb_dequantize_from(const qb_qparams *p, qb_dtype dt, const void *codes, int64_t n,
                             float *y);
/* y = dequantize(quantize(x)); y may be x (in place). */
qb_status qb_fake_quantize(const qb_qparams *p, const float *x, int64_t n, float *y);

/* Bytes of n values stored quantized: codes packed at `bits` per value
 * (rounded up to whole bytes) plus per block: the scale (4 bytes; pow2: 1
 * byte, its exponent), the zero point (1 byte up to 8 bits, else 2), the
 * codebook (4 bytes per level). fp16/bf16 store no parameters. */
uint64_t qb_qparams_size_bytes(const qb_qparams *p, int64_t n);

/* Formats a flat index of a C-ordered shape as "(i, j, k)". */
const char *qb_index_str(int ndim, const int64_t *shape, int64_t flat, char *buf, size_t len);

#endif
