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

#endif
