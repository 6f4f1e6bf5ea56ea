/* Fixed-point multipliers and requant checks (see requant.h). */
#include "requant.h"

#include <math.h>

qb_status qb_requant_multiplier(double real, int32_t *mult, int32_t *rshift)
{
    if (!(real > 0) || !isfinite(real) || real >= 0x1p30)
        return qb_error(QB_ERR_ARG,
                        "requantization multiplier %g (input scale x weight scale / output scale) "
                        "must be positive and below 2^30; check the scales",
                        real);
    int e;
    double f = frexp(real, &e); /* real = f * 2^e, f in [0.5, 1) */
    int64_t m = llround(f * 2147483648.0);
    if (m == ((int64_t)1 << 31)) {
        m >>= 1;
        e++;
    }
    int32_t shift = 31 - e;
    if (shift > 62) { /* |acc * real| < 0.5 for every int32 acc */
        *mult = 0;
        *rshift = 1;
        return QB_OK;
    }
    *mult = (int32_t)m;
    *rshift = shift;
    return QB_OK;
}

qb_status qb_requant_check(const qb_requant *rq, int64_t n)
{
    if (!rq) return qb_error(QB_ERR_ARG, "no requantization given");
    switch (rq->type) {
    case QB_OUT_U8:
    case QB_OUT_S8: {
        int32_t tmin = rq->type == QB_OUT_U8 ? 0 : -128, tmax = rq->type == QB_OUT_U8 ? 255 : 127;
        if (!rq->mult || !rq->rshift) return qb_error(QB_ERR_ARG, "requantization to 8 bits needs multipliers and shifts");
        if (rq->lo < tmin || rq->hi > tmax || rq->lo > rq->hi)
            return qb_error(QB_ERR_ARG, "output clamp [%d, %d] is not inside [%d, %d]", rq->lo, rq->hi, tmin, tmax);
        if (rq->zp < tmin || rq->zp > tmax)
            return qb_error(QB_ERR_ARG, "output zero point %d is outside [%d, %d]", rq->zp, tmin, tmax);
        for (int64_t i = 0; i < n; i++) {
            if (rq->rshift[i] < 1 || rq->rshift[i] > 62 || rq->mult[i] < 0 ||
                (rq->mult[i] != 0 && rq->mult[i] < (1 << 30)))
                return qb_error(QB_ERR_ARG,
                                "channel %lld: multiplier %d >> %d is not in fixed-point form "
                                "(use qb_requant_multiplier)",
                                (long long)i, rq->mult[i], rq->rshift[i]);
        }
        return QB_OK;
    }
    case QB_OUT_S32: return QB_OK;
    case QB_OUT_F32:
        if (!rq->scale) return qb_error(QB_ERR_ARG, "float output needs per-channel scales");
        if (rq->codes && (!(rq->code_scale > 0) || !isfinite(rq->code_scale) || rq->code_lo < 0 ||
                          rq->code_hi > 255 || rq->code_lo > rq->code_zp || rq->code_zp > rq->code_hi))
            return qb_error(QB_ERR_ARG, "codes of a float output: scale %g must be positive and finite, "
                            "0 <= lo %d <= zero point %d <= hi %d <= 255", (double)rq->code_scale, rq->code_lo,
                            rq->code_zp, rq->code_hi);
        return QB_OK;
    }
    return qb_error(QB_ERR_ARG, "unknown output type %d", (int)rq->type);
}
