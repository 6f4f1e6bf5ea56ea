/* Small floating-point formats (fp16, bf16, fp8 e4m3fn, fp8 e5m2) as codes:
 * float -> bit pattern with a chosen rounding direction, saturating at the
 * largest finite value, and back. One generic routine serves every format,
 * described by its exponent/mantissa widths, so adding a format is one
 * table entry. Every value of these formats is exactly a float, which is
 * what makes the conversions exact. */
#ifndef QB_MINIFLOAT_H
#define QB_MINIFLOAT_H

#include <stdint.h>

/* How to round a value that falls between two representable levels. */
typedef enum {
    QB_DIR_NEAREST, /* nearest level, ties to the even code (IEEE round-to-nearest-even) */
    QB_DIR_DOWN,    /* largest level <= x */
    QB_DIR_UP       /* smallest level >= x */
} qb_round_dir;

typedef struct {
    const char *name;
    int ebits, mbits;  /* exponent and mantissa field widths */
    int bias;
    int ieee_special;  /* 1: the top exponent holds Inf/NaN (fp16, bf16, e5m2);
                        * 0: only S.1111.111 is NaN (e4m3fn, no Inf) */
    float max;         /* largest finite value */
} qb_minifloat;

extern const qb_minifloat qb_fp16, qb_bf16, qb_fp8_e4m3, qb_fp8_e5m2;

/* The code for x. Finite values beyond max and +-Inf saturate to +-max;
 * NaN gives the format's canonical NaN; -0 keeps its sign. */
uint32_t qb_minifloat_encode(const qb_minifloat *f, float x, qb_round_dir dir);
float qb_minifloat_decode(const qb_minifloat *f, uint32_t code);
/* 1 if the code decodes to Inf or NaN. */
int qb_minifloat_is_special(const qb_minifloat *f, uint32_t code);

/* Nearest rounding without per-value library calls, for arrays (the
 * quantizer library's fast path for float formats; the integer executor's
 * activations): the same code as qb_minifloat_encode(f, x, QB_DIR_NEAREST)
 * for every x but NaN, and the code's value. Normal results round the fp32
 * bit pattern at the format's mantissa width (ties to even, the carry moving
 * into the exponent); subnormal ones are x divided by the format's quantum,
 * rounded to an integer with the 2^23 trick (exact: the scaling is by a
 * power of two and the quotient is below 2^mbits). */
typedef struct {
    float max, min_normal;   /* largest finite value, 2^emin (0 for bf16, see init) */
    float sub_scale, quantum;/* 2^(mbits - emin) and its inverse */
    uint32_t max_code, sign_bit;
    uint32_t rebias;         /* (127 - bias) << mbits */
    int shift;               /* 23 - mbits */
} qb_minifloat_rne;

void qb_minifloat_rne_init(const qb_minifloat *f, qb_minifloat_rne *r);

/* The same over a run of n values sharing scale s: codes of x[i] / s
 * (code_bytes 1, 2 or 4 of each; codes NULL: none) and their values times s
 * (y NULL: none), 16 lanes at a time with AVX-512 (the caller checked the
 * CPU). Returns 1 if some x[i] was NaN (code 0 and value 0 there). */
int qb_minifloat_rne_run_avx512(const qb_minifloat_rne *r, const float *x, int64_t n, float s, void *codes,
                                int code_bytes, float *y);

static inline uint32_t qb_minifloat_rne_encode(const qb_minifloat_rne *r, float x, float *value)
{
    union { float f; uint32_t u; } b = {x}, a = {x};
    uint32_t sign = b.u & 0x80000000u, code;
    a.u &= 0x7fffffffu;
    float v;
    if (a.f >= r->max) {
        code = r->max_code;
        v = r->max;
    } else if (a.f < r->min_normal) {
        float k = (a.f * r->sub_scale + 0x1p23f) - 0x1p23f;
        code = (uint32_t)k;
        v = k * r->quantum;
    } else {
        union { uint32_t u; float f; } ru;
        ru.u = (a.u + (1u << (r->shift - 1)) - 1 + ((a.u >> r->shift) & 1)) & ~((1u << r->shift) - 1);
        code = (ru.u >> r->shift) - r->rebias;
        v = ru.f;
        if (code > r->max_code) code = r->max_code, v = r->max;
    }
    *value = sign ? -v : v;
    return sign ? code | r->sign_bit : code;
}

#endif
