/* Quantization schemes as data: one const entry per scheme (ggml-style
 * traits) with its accepted bit widths, the parameters each block carries,
 * its code range and three functions: fit a block's parameters to data,
 * quantize one value, dequantize one code. Everything else (granularity,
 * calibration, rounding, fast kernels, sizes) is built on these, so adding
 * a scheme is one file and one line in the table (scheme.c).
 *
 * Codes are int32. Within a block they are ordered like the values they
 * stand for (a larger code never means a smaller value), except for the
 * float formats, whose codes are the format's bit patterns.
 *
 * Error convention: common/status.h. */
#ifndef QB_SCHEME_H
#define QB_SCHEME_H

#include <stddef.h>
#include <stdint.h>
#include "dist.h"
#include "minifloat.h"
#include "status.h"
#include "tensor.h"

typedef enum {
    QB_SCHEME_UNIFORM_ASYM,
    QB_SCHEME_UNIFORM_SYM,
    QB_SCHEME_POW2,
    QB_SCHEME_KMEANS,
    QB_SCHEME_BINARY,
    QB_SCHEME_TERNARY,
    QB_SCHEME_FP16,
    QB_SCHEME_BF16,
    QB_SCHEME_FP8_E4M3,
    QB_SCHEME_FP8_E5M2,
    QB_SCHEME_COUNT
} qb_scheme_id;

/* The parameters a scheme stores per block (bit set in qb_scheme.params). */
enum {
    QB_PARAM_SCALE = 1,      /* a float: step, top level, alpha or format scale */
    QB_PARAM_ZERO_POINT = 2, /* an integer code that stands for 0.0 */
    QB_PARAM_THRESHOLD = 4,  /* ternary's cut |x| > threshold (used to encode, not stored) */
    QB_PARAM_CODEBOOK = 8    /* 2^bits float levels */
};

/* One block's parameters (a tensor, a channel or a group), as the
 * per-value functions see them. */
typedef struct {
    int bits;
    int32_t qmin, qmax;    /* code range */
    float scale;           /* uniform: step; pow2: top level (a power of two);
                            * binary, ternary: alpha; fp8: x is divided by it
                            * before encoding; fp16, bf16: 1 */
    int32_t zero_point;    /* the code of 0.0 (uniform schemes); else 0 */
    float threshold;       /* ternary: |x| > threshold keeps its sign */
    const float *codebook; /* kmeans: 2^bits levels, strictly ascending */
} qb_block;

/* What a fit function gets besides the data. */
typedef struct {
    int bits;
    int narrow;     /* uniform-sym: codes from -(2^(b-1)-1) */
    float lo, hi;   /* the calibrated clipping range (finite, lo <= hi) */
    uint64_t seed;  /* kmeans: k-means++ seeding */
} qb_fit_args;

typedef struct qb_scheme {
    qb_scheme_id id;
    const char *name;
    const char *levels;        /* the level set in one line (qbench schemes, README) */
    uint32_t bits_mask;        /* bit b set: the scheme accepts b bits */
    int default_bits;
    unsigned params;           /* QB_PARAM_* */
    int calibrated;            /* the calibration range changes its parameters */
    int symmetric;             /* calibration picks a symmetric range [-t, t] */
    int narrow_ok;             /* accepts narrow_range */
    int signed_codes;          /* codes are signed integers (stored as int8/int16) */
    int code_step;             /* valid codes: qmin, qmin + step, ..., qmax */
    int affine;                /* x^ = (q - zero_point) * scale, ONNX QuantizeLinear:
                                * fast kernels, and a zero point per block (which
                                * stays 0 for uniform-sym unless a caller sets it) */
    const qb_minifloat *format; /* float formats: the encoding; NULL otherwise */
    void (*code_range)(int bits, int narrow, int32_t *qmin, int32_t *qmax);
    /* Fits b (and codebook[0..2^bits) for kmeans) to d clipped to [a->lo, a->hi].
     * b's code range is already set. */
    qb_status (*fit)(const qb_dist *d, const qb_fit_args *a, qb_block *b, float *codebook);
    /* x must not be NaN; +-Inf and values outside the levels saturate. */
    int32_t (*quantize)(float x, const qb_block *b, qb_round_dir dir);
    float (*dequantize)(int32_t q, const qb_block *b);
} qb_scheme;

/* The scheme called `name`, or NULL with the message
 * "unknown scheme 'foo' (known: uniform-asym, uniform-sym, ...)". */
const qb_scheme *qb_scheme_find(const char *name);
const qb_scheme *qb_scheme_get(qb_scheme_id id);
/* Iteration in table order, for listings. */
int qb_schemes_count(void);
const qb_scheme *qb_scheme_at(int i);

int qb_scheme_accepts_bits(const qb_scheme *s, int bits);
/* QB_ERR_ARG "scheme 'binary' does not take 4 bits (it takes 1)" unless accepted. */
qb_status qb_scheme_check_bits(const qb_scheme *s, int bits);
/* Accepted widths as "1-8", "2-6", "16" (or "2, 4, 8" for sparse sets). */
const char *qb_scheme_bits_str(const qb_scheme *s, char *buf, size_t len);
/* "scale, zero_point" (the parameters stored per block), or "none". */
const char *qb_scheme_params_str(const qb_scheme *s, char *buf, size_t len);
/* All scheme names, comma separated. */
const char *qb_scheme_names(char *buf, size_t len);

/* The integer dtype that holds one code unpacked (int8, uint8, uint16...). */
qb_dtype qb_scheme_code_dtype(const qb_scheme *s, int bits);
/* A block with the code range for (bits, narrow) and neutral parameters
 * (scale 1, zero point 0). */
void qb_block_init(qb_block *b, const qb_scheme *s, int bits, int narrow);

/* The table entries (defined next to their functions). */
extern const qb_scheme qb_scheme_uniform_asym, qb_scheme_uniform_sym, qb_scheme_pow2,
    qb_scheme_kmeans, qb_scheme_binary, qb_scheme_ternary, qb_scheme_fp16, qb_scheme_bf16,
    qb_scheme_fp8_e4m3, qb_scheme_fp8_e5m2;

#endif
