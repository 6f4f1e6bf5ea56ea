/* Scheme codes as exact kernel operands (see iweights.h). */
#include "iweights.h"

#include <math.h>
#include <string.h>

float qb_pow2_int_codes(int8_t *codes, int64_t n, int bits)
{
    int32_t m = (1 << (bits - 1)) - 1;
    for (int64_t i = 0; i < n; i++) {
        int c = codes[i], mag = c < 0 ? -c : c;
        int v = mag ? 1 << (mag - 1) : 0;
        codes[i] = (int8_t)(c < 0 ? -v : v);
    }
    return ldexpf(1.0f, 1 - m);
}

qb_status qb_code_operands(const qb_qparams *p, float lut[256], float *unit)
{
    const qb_scheme *s = p->scheme;
    if (p->bits > 8 || (!s->format && !s->affine) || p->gran.kind != QB_GRAN_TENSOR)
        return qb_error(QB_ERR_UNSUPPORTED, "%s codes at %d bits have no exact 8-bit operand table", s->name,
                        p->bits);
    qb_block b = qb_qparams_block(p, 0);
    int sgn = qb_scheme_code_dtype(s, p->bits) == QB_I8;
    for (int i = 0; i < 256; i++) {
        int32_t code = sgn ? (int8_t)i : i;
        if (code < b.qmin || code > b.qmax) lut[i] = 0.0f; /* never produced */
        else lut[i] = s->format ? qb_minifloat_decode(s->format, (uint32_t)code) : (float)(code - b.zero_point);
        if (!isfinite(lut[i])) lut[i] = 0.0f; /* NaN codes: quantization never yields them */
    }
    *unit = b.scale;
    return QB_OK;
}
