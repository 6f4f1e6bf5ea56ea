/* The hot loops of the uniform schemes (ONNX QuantizeLinear semantics):
 * fake-quantize y = clamp(rne(x / s), qmin - zp, qmax - zp) * s and
 * quantize q = clamp(rne(x / s), qmin - zp, qmax - zp) + zp, over a run of
 * values that share one block's parameters, or a run whose i-th value has
 * its own (s[i], zp[i]) (per-channel along the last axis, groups along an
 * inner axis). A scalar reference plus AVX2 and AVX-512 variants, each in
 * its own file; tests check every variant against the reference bit for
 * bit. Division (not a reciprocal) keeps the results exactly ONNX's.
 * The quantizing functions return 1 if some x[i] was NaN (the output is
 * then unspecified there), else 0. */
#ifndef QB_UNIFORM_KERNELS_H
#define QB_UNIFORM_KERNELS_H

#include <stdint.h>

typedef struct {
    const char *name; /* "ref", "avx2", "avx512" */
    int (*fake)(const float *x, float *y, int64_t n, float s, int32_t zp, int32_t qmin,
                int32_t qmax);
    int (*fake_vec)(const float *x, float *y, int64_t n, const float *s, const int32_t *zp,
                    int32_t qmin, int32_t qmax);
    int (*quant)(const float *x, int32_t *q, int64_t n, float s, int32_t zp, int32_t qmin,
                 int32_t qmax);
    int (*quant_vec)(const float *x, int32_t *q, int64_t n, const float *s, const int32_t *zp,
                     int32_t qmin, int32_t qmax);
    /* y = (q - zp) * s; these return 1 if some code is outside [qmin, qmax]. */
    int (*dequant)(const int32_t *q, float *y, int64_t n, float s, int32_t zp, int32_t qmin,
                   int32_t qmax);
    int (*dequant_vec)(const int32_t *q, float *y, int64_t n, const float *s, const int32_t *zp,
                       int32_t qmin, int32_t qmax);
    /* Optional (NULL: the caller stages int32 codes): the same with one-byte
     * codes, stored as their low byte (int8 and uint8 alike); dequant8 reads
     * them signed when is_signed. */
    int (*quant8)(const float *x, uint8_t *q, int64_t n, float s, int32_t zp, int32_t qmin,
                  int32_t qmax);
    int (*quant8_vec)(const float *x, uint8_t *q, int64_t n, const float *s, const int32_t *zp,
                      int32_t qmin, int32_t qmax);
    int (*dequant8)(const uint8_t *q, int is_signed, float *y, int64_t n, float s, int32_t zp,
                    int32_t qmin, int32_t qmax);
    int (*dequant8_vec)(const uint8_t *q, int is_signed, float *y, int64_t n, const float *s,
                        const int32_t *zp, int32_t qmin, int32_t qmax);
} qb_uniform_kernels;

extern const qb_uniform_kernels qb_uniform_ref, qb_uniform_avx2, qb_uniform_avx512;

/* Whether this CPU and OS can run a variant (cpuid and XGETBV, through
 * __builtin_cpu_supports). */
int qb_uniform_kernels_usable(const qb_uniform_kernels *k);
/* The best usable variant; $QBENCH_QUANT_KERNELS=ref|avx2|avx512 forces one
 * (ignored, with the best chosen instead, if this CPU cannot run it). */
const qb_uniform_kernels *qb_uniform_kernels_best(void);

#endif
