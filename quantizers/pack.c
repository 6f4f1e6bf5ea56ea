/* Bit packing of codes (see pack.h). */
#include "pack.h"

#include <string.h>

size_t qb_packed_bytes(int64_t n, int bits) { return (size_t)(((uint64_t)n * (uint64_t)bits + 7) / 8); }

void qb_pack_codes(const qb_qparams *p, const int32_t *q, int64_t n, uint8_t *out)
{
    const int bits = p->bits, step = p->scheme->code_step;
    memset(out, 0, qb_packed_bytes(n, bits));
    uint64_t pos = 0;
    for (int64_t i = 0; i < n; i++, pos += (uint64_t)bits) {
        uint32_t field = (uint32_t)(q[i] - p->qmin) / (uint32_t)step;
        for (int b = 0; b < bits; b++)
            if (field >> b & 1u) out[(pos + (uint64_t)b) >> 3] |= (uint8_t)(1u << ((pos + (uint64_t)b) & 7));
    }
}

void qb_unpack_codes(const qb_qparams *p, const uint8_t *in, int64_t n, int32_t *q)
{
    const int bits = p->bits, step = p->scheme->code_step;
    uint64_t pos = 0;
    for (int64_t i = 0; i < n; i++, pos += (uint64_t)bits) {
        uint32_t field = 0;
        for (int b = 0; b < bits; b++)
            field |= (uint32_t)(in[(pos + (uint64_t)b) >> 3] >> ((pos + (uint64_t)b) & 7) & 1u) << b;
        q[i] = p->qmin + (int32_t)field * step;
    }
}
