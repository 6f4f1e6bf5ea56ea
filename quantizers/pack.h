/* Packing codes at `bits` per value for storage and for the integer
 * kernels: each code is stored as its offset from the scheme's smallest
 * code, (q - qmin) / code_step, in `bits` bits, little-endian bit order
 * (value i starts at bit i * bits of the stream; a value may straddle a
 * byte). So signed int4 codes -8..7 are nibbles 0..15 (ggml's offset 8),
 * binary -1/+1 are bits 0/1 and ternary -1/0/+1 are 2-bit fields 0/1/2. */
#ifndef QB_PACK_H
#define QB_PACK_H

#include <stddef.h>
#include <stdint.h>
#include "quant.h"

/* Bytes that n codes of `bits` take packed. */
size_t qb_packed_bytes(int64_t n, int bits);
/* Packs n codes of p's scheme (codes must be valid: see qb_dequantize). */
void qb_pack_codes(const qb_qparams *p, const int32_t *q, int64_t n, uint8_t *out);
void qb_unpack_codes(const qb_qparams *p, const uint8_t *in, int64_t n, int32_t *q);

#endif
