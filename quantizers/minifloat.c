/* Generic float <-> small-float-format codes (see minifloat.h). Works on the
 * magnitude: finds the binade of |x| (clamped to the subnormal binade),
 * divides by that binade's quantum (exact: a power of two) and rounds the
 * quotient to an integer in the requested direction. */
#include "minifloat.h"

#include <math.h>

const qb_minifloat qb_fp16 = {"fp16", 5, 10, 15, 1, 65504.0f};
const qb_minifloat qb_bf16 = {"bf16", 8, 7, 127, 1, 0x1.FEp127f};
const qb_minifloat qb_fp8_e4m3 = {"fp8-e4m3", 4, 3, 7, 0, 448.0f};
const qb_minifloat qb_fp8_e5m2 = {"fp8-e5m2", 5, 2, 15, 1, 57344.0f};

static uint32_t exp_all_ones(const qb_minifloat *f) { return (1u << f->ebits) - 1; }
static uint32_t mant_all_ones(const qb_minifloat *f) { return (1u << f->mbits) - 1; }

/* Largest finite positive code. */
static uint32_t max_code(const qb_minifloat *f)
{
    if (f->ieee_special) return ((exp_all_ones(f) - 1) << f->mbits) | mant_all_ones(f);
    return (exp_all_ones(f) << f->mbits) | (mant_all_ones(f) - 1);
}

static uint32_t nan_code(const qb_minifloat *f)
{
    if (f->ieee_special) return (exp_all_ones(f) << f->mbits) | (1u << (f->mbits - 1));
    return (exp_all_ones(f) << f->mbits) | mant_all_ones(f);
}

uint32_t qb_minifloat_encode(const qb_minifloat *f, float x, qb_round_dir dir)
{
    const int nbits = 1 + f->ebits + f->mbits;
    if (isnan(x)) return nan_code(f);
    uint32_t sign = signbit(x) ? 1u << (nbits - 1) : 0;
    float a = fabsf(x);
    if (a >= f->max) return sign | max_code(f);
    /* Rounding the magnitude down is rounding a negative value up. */
    qb_round_dir mdir = dir;
    if (sign && dir != QB_DIR_NEAREST) mdir = dir == QB_DIR_DOWN ? QB_DIR_UP : QB_DIR_DOWN;

    const int emin = 1 - f->bias;
    int e2 = 0;
    frexpf(a, &e2);
    int E = a == 0.0f ? emin : e2 - 1;
    if (E < emin) E = emin;
    float m = a / ldexpf(1.0f, E - f->mbits); /* exact: in [0, 2^(mbits+1)) */
    float k = mdir == QB_DIR_NEAREST ? rintf(m) : mdir == QB_DIR_DOWN ? floorf(m) : ceilf(m);
    uint32_t ki = (uint32_t)k;
    if (ki == 0) return sign;
    const uint32_t implicit = 1u << f->mbits;
    if (ki >= 2 * implicit) { /* rounded up into the next binade */
        E += 1;
        ki >>= 1;
    }
    uint32_t code;
    if (ki < implicit) code = ki; /* subnormal (E == emin) */
    else code = ((uint32_t)(E + f->bias) << f->mbits) | (ki - implicit);
    if (code > max_code(f)) code = max_code(f);
    return sign | code;
}

float qb_minifloat_decode(const qb_minifloat *f, uint32_t code)
{
    const int nbits = 1 + f->ebits + f->mbits;
    int neg = (code >> (nbits - 1)) & 1;
    uint32_t ef = (code >> f->mbits) & exp_all_ones(f);
    uint32_t mf = code & mant_all_ones(f);
    float v;
    if (f->ieee_special && ef == exp_all_ones(f)) v = mf ? NAN : INFINITY;
    else if (!f->ieee_special && ef == exp_all_ones(f) && mf == mant_all_ones(f)) v = NAN;
    else if (ef == 0) v = ldexpf((float)mf, 1 - f->bias - f->mbits);
    else v = ldexpf((float)(mf | (1u << f->mbits)), (int)ef - f->bias - f->mbits);
    return neg ? -v : v;
}

int qb_minifloat_is_special(const qb_minifloat *f, uint32_t code)
{
    return !isfinite(qb_minifloat_decode(f, code));
}

void qb_minifloat_rne_init(const qb_minifloat *f, qb_minifloat_rne *r)
{
    const int emin = 1 - f->bias;
    r->max = f->max;
    r->min_normal = ldexpf(1.0f, emin);
    r->sub_scale = ldexpf(1.0f, f->mbits - emin);
    r->quantum = ldexpf(1.0f, emin - f->mbits);
    if (emin <= -126) /* bf16: fp32's own subnormals, which the bit rounding handles */
        r->min_normal = r->sub_scale = r->quantum = 0.0f;
    r->max_code = max_code(f);
    r->sign_bit = 1u << (f->ebits + f->mbits);
    r->rebias = (uint32_t)(127 - f->bias) << f->mbits;
    r->shift = 23 - f->mbits;
}
